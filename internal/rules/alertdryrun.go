package rules

import (
	"context"
	"database/sql"
	"time"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
)

// The bounds of an alert rule's dry run: the alerts of the last
// DryRunDays days, at most DryRunCap of them (the newest), and up to
// DryRunExamples of those it matched shown.
const (
	DryRunDays     = 7
	DryRunCap      = 1000
	DryRunExamples = 5
)

// RecentAlerts is where a dry run reads recent alerts (alert.Intake).
type RecentAlerts interface {
	RecentAlerts(ctx context.Context, since time.Time, limit int) ([]alert.Recent, int, error)
	Reveal(ctx context.Context, as []*alert.Alert) error
}

// AlertDryRun is what an alert rule's expression would have matched.
type AlertDryRun struct {
	Since time.Time
	// Checked alerts were matched, of Total first seen since Since; Capped
	// says Total is more than DryRunCap, and only the newest were checked.
	Checked, Total, Matched int
	Capped                  bool
	// PHIHidden says the summaries, sources, components, groups and
	// classes were not seen by the expression (empty), since the caller's
	// role may not see PHI.
	PHIHidden bool
	// Examples are the newest alerts it matched, shown as the caller may
	// see them (see alert.SafeSummary).
	Examples []alert.Alert
}

// DryRunAlertRule runs expression expr over the alerts of the last
// DryRunDays days, changing nothing. For a caller whose role may see PHI
// the alerts' free-text fields are opened to be matched, and the dry run
// is audited (alert_rule.dry_run, with the expression and the counts).
func (e *Engine) DryRunAlertRule(ctx context.Context, src RecentAlerts, expr string) (AlertDryRun, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return AlertDryRun{}, err
	}
	prg, err := compileAlert(expr)
	if err != nil {
		return AlertDryRun{}, err
	}
	_, phiErr := authz.Check(ctx, authz.IncidentReadPHI)
	out := AlertDryRun{Since: e.clock.Now().Add(-DryRunDays * 24 * time.Hour), PHIHidden: phiErr != nil}
	recent, total, err := src.RecentAlerts(ctx, out.Since, DryRunCap)
	if err != nil {
		return AlertDryRun{}, err
	}
	out.Checked, out.Total, out.Capped = len(recent), total, total > len(recent)
	var examples []*alert.Alert
	for i := range recent {
		f := recent[i].Facts
		subj := AlertSubject{Service: f.Service, Integration: f.Integration, Kind: string(f.Kind), Summary: f.Summary,
			Source: f.Source, Severity: string(f.Severity), Component: f.Component, Group: f.Group, Class: f.Class,
			Labels: map[string]string{}}
		v, _, err := prg.ContextEval(ctx, map[string]any{"alert": subj})
		if err != nil {
			continue
		}
		if b, ok := v.Value().(bool); ok && b {
			out.Matched++
			if len(examples) < DryRunExamples {
				examples = append(examples, &recent[i].Alert)
			}
		}
	}
	if !out.PHIHidden && out.Checked > 0 {
		err := e.db.Write(ctx, func(tx *sql.Tx) error {
			_, err := audit.Append(ctx, tx, e.clock.Now(), audit.Event{Action: "alert_rule.dry_run", ObjectType: "alert_rule",
				Change: map[string]any{"expression": expr, "checked": out.Checked, "matched": out.Matched}})
			return err
		})
		if err != nil {
			return AlertDryRun{}, err
		}
	}
	if err := src.Reveal(ctx, examples); err != nil {
		return AlertDryRun{}, err
	}
	for _, a := range examples {
		out.Examples = append(out.Examples, *a)
	}
	return out, nil
}
