package alert

import (
	"context"
	"database/sql"
	"encoding/json"

	"github.com/wardhq/ward/internal/db"
)

// Facts is what alert rules see of a trigger as it arrives: what the tool
// sent, in clear and in memory only (never logged, never stored by the
// rules), with the names of the service and integration it came to.
type Facts struct {
	Service     string
	Integration string
	Kind        Kind
	Summary     string
	Source      string
	Severity    Severity
	Component   string
	Group       string
	Class       string
	Labels      map[string]string
}

// Verdict is what the alert rules that matched a trigger do with it.
type Verdict struct {
	// Route is the id of the service to record the alert on instead; empty
	// keeps it on its own service.
	Route string
	// SuppressedBy is the id of the rule that suppressed the alert: it is
	// recorded, with the rule named, but opens no incident and pages
	// nobody.
	SuppressedBy string
	// Severity, when set, replaces the severity the tool sent.
	Severity Severity
	// Tags are added to the alert when it opens.
	Tags []string
	// Rules are the ids of the rules that matched, for the audit trail.
	Rules []string
}

// Matcher runs the alert rules in force on a trigger.
type Matcher interface {
	Match(ctx context.Context, f Facts) Verdict
}

// Orchestrator provides the alert rules in force in an intake transaction.
type Orchestrator interface {
	// AlertRulesTx returns a read to send with intake's first statements
	// (nil when tx read it already) and a function that, once it has run,
	// returns the rules in force: nil when no alert rule is enabled, so
	// that intake then does nothing more.
	AlertRulesTx(ctx context.Context, tx *sql.Tx) (*db.Query, func() (Matcher, error))
}

// SetOrchestrator makes o's alert rules act on triggers from now on. Call
// it before serving.
func (s *Intake) SetOrchestrator(o Orchestrator) { s.orchestrator = o }

// verdicts holds, by event, what the alert rules do with the triggers of
// one write.
type verdicts map[*Event]Verdict

// judge runs m on every trigger of reqs, which came to service svc through
// integration ig.
func judge(ctx context.Context, m Matcher, svc Service, ig Integration, reqs []*ingestReq) verdicts {
	out := verdicts{}
	for _, req := range reqs {
		for i := range req.evs {
			ev := &req.evs[i]
			if ev.Action != Trigger {
				continue
			}
			v := m.Match(ctx, Facts{Service: svc.Name, Integration: ig.Name, Kind: ig.Kind, Summary: ev.Summary, Source: ev.Source,
				Severity: ev.Severity, Component: ev.Component, Group: ev.Group, Class: ev.Class, Labels: ev.Labels})
			if v.Route == svc.ID {
				v.Route = ""
			}
			if len(v.Rules) > 0 {
				out[ev] = v
			}
		}
	}
	return out
}

// tagsJSON is how alerts.tags stores tags.
func tagsJSON(tags []string) string {
	if len(tags) == 0 {
		return ""
	}
	b, _ := json.Marshal(tags)
	return string(b)
}
