package stakeholder

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
)

// MaxSLAReportIncidents caps the incidents one SLA report reads; a period
// with more is refused, to be asked for in shorter periods.
const MaxSLAReportIncidents = 10000

// SLAReport measures SLA targets over the incidents created in a period,
// per severity, under the SLA policies in force now.
type SLAReport struct {
	From, To   time.Time
	Severities []SeverityReport
}

// SeverityReport is one severity's row of an SLA report.
type SeverityReport struct {
	Severity  string
	Incidents int
	Targets   []TargetReport
	// MTTA and MTTR are the mean times from an incident's creation to its
	// first acknowledgement and to its closing, over the incidents that
	// got there; nil when none did.
	MTTA, MTTR *time.Duration
}

// TargetReport counts one target's outcomes. Applicable counts the
// incidents the target applied to (a policy sets it; acknowledgement only
// where someone was paged); MetPercent is the share of the decided ones
// (met, late or missed) met in time, nil when none is decided yet.
type TargetReport struct {
	Name                       string
	Applicable                 int
	Met, MetLate, Missed, Open int
	MetPercent                 *float64
}

// SLAs reports on the incidents created in [from, to) that the actor may
// see, drills left out (docs/DRILLS.md); a zero to is now, a zero from 30
// days before to.
func (s *Service) SLAs(ctx context.Context, from, to time.Time) (SLAReport, error) {
	actor, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return SLAReport{}, err
	}
	now := s.clock.Now()
	if to.IsZero() {
		to = now
	}
	if from.IsZero() {
		from = to.AddDate(0, 0, -30)
	}
	if !from.Before(to) {
		return SLAReport{}, apperr.Field("to", "must be after from")
	}
	args := []any{from, to}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+factColumns+` FROM incidents i WHERE i.created_at >= $1 AND i.created_at < $2 AND NOT i.drill AND `+
		incident.VisibleSQL(actor, now, "i", arg)+fmt.Sprintf(` ORDER BY i.created_at LIMIT %d`, MaxSLAReportIncidents+1), args...)
	facts, err := db.Collect(rows, err, "list incidents", func(r *sql.Rows) (incidentFacts, error) { return scanFacts(r) })
	if err != nil {
		return SLAReport{}, err
	}
	if len(facts) > MaxSLAReportIncidents {
		return SLAReport{}, apperr.Field("from", "the period holds more than %d incidents: ask for a shorter one", MaxSLAReportIncidents)
	}
	pols, err := s.SLAPolicies(ctx)
	if err != nil {
		return SLAReport{}, err
	}
	out := SLAReport{From: from.UTC(), To: to.UTC()}
	for _, pol := range pols {
		row := SeverityReport{Severity: pol.Severity}
		var ack, res time.Duration
		var acks, ress int
		for _, f := range facts {
			if f.Severity != pol.Severity {
				continue
			}
			st, err := compute(ctx, s.db.R, f, pol, now)
			if err != nil {
				return SLAReport{}, err
			}
			row.Incidents++
			for _, t := range st.Targets {
				i := slices.IndexFunc(row.Targets, func(r TargetReport) bool { return r.Name == t.Name })
				if i < 0 {
					row.Targets = append(row.Targets, TargetReport{Name: t.Name})
					i = len(row.Targets) - 1
				}
				row.Targets[i].count(t.State)
				if t.MetAt == nil {
					continue
				}
				switch t.Name {
				case TargetAcknowledge:
					ack, acks = ack+t.MetAt.Sub(f.CreatedAt), acks+1
				case TargetResolve:
					res, ress = res+t.MetAt.Sub(f.CreatedAt), ress+1
				}
			}
		}
		row.MTTA, row.MTTR = mean(ack, acks), mean(res, ress)
		for i := range row.Targets {
			row.Targets[i].percent()
		}
		out.Severities = append(out.Severities, row)
	}
	return out, nil
}

func (t *TargetReport) count(state string) {
	switch state {
	case StateNone:
		return
	case StateMet:
		t.Met++
	case StateMetLate:
		t.MetLate++
	case StateMissed:
		t.Missed++
	default:
		t.Open++
	}
	t.Applicable++
}

func (t *TargetReport) percent() {
	if decided := t.Met + t.MetLate + t.Missed; decided > 0 {
		p := 100 * float64(t.Met) / float64(decided)
		t.MetPercent = &p
	}
}

func mean(total time.Duration, n int) *time.Duration {
	if n == 0 {
		return nil
	}
	m := total / time.Duration(n)
	return &m
}
