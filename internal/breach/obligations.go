package breach

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
)

// The states of an obligation when read.
const (
	StateOpen    = "open"    // due later
	StateHeld    = "held"    // a law-enforcement delay holds it now (164.412)
	StateOverdue = "overdue" // its deadline passed and it is not met
	StateMet     = "met"     // the notice was made
)

// Obligation is one notice a case owes, as computed, with whether and
// when it was met.
type Obligation struct {
	rules.Obligation
	CaseID         string
	IncidentNumber string
	State          string
	MetAt          *time.Time
	MetBy          string
	// Zone is the organisation's time zone its days were counted in, to
	// show Due in (FormatDue).
	Zone *time.Location
}

func state(o rules.Obligation, met *time.Time, now time.Time) string {
	switch {
	case met != nil:
		return StateMet
	case o.Hold != nil && !now.Before(o.Hold.From) && now.Before(o.Hold.Until):
		return StateHeld
	case now.After(o.Due):
		return StateOverdue
	}
	return StateOpen
}

// obligationsWhere reads the obligations the query after obligationSelect
// selects, as seen at now, each with the organisation's time zone.
func (s *Service) obligationsWhere(ctx context.Context, q db.Querier, now time.Time, where string, args ...any) ([]Obligation, error) {
	zone, err := s.zone(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, obligationSelect+where, args...)
	if err != nil {
		return nil, fmt.Errorf("list obligations: %w", err)
	}
	defer rows.Close()
	var out []Obligation
	for rows.Next() {
		var o Obligation
		var body string
		var met sql.NullTime
		if err := rows.Scan(&o.CaseID, &o.IncidentNumber, &body, &met, &o.MetBy); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(body), &o.Obligation); err != nil {
			return nil, fmt.Errorf("obligation: %w", err)
		}
		if met.Valid {
			t := met.Time.UTC()
			o.MetAt = &t
		}
		o.State, o.Zone = state(o.Obligation, o.MetAt, now), zone
		out = append(out, o)
	}
	return out, rows.Err()
}

const obligationSelect = `SELECT o.case_id, i.number, o.body, o.met_at, o.met_by FROM breach_obligations o
	JOIN breach_cases c ON c.id = o.case_id JOIN incidents i ON i.id = c.incident_id`

// Obligations lists the case's obligations, earliest due first.
func (s *Service) Obligations(ctx context.Context, ref string) ([]Obligation, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	c, err := s.caseOf(ctx, s.db.R, ref)
	if err != nil {
		return nil, err
	}
	return s.obligationsWhere(ctx, s.db.R, s.clock.Now(), ` WHERE o.case_id = $1 ORDER BY o.due_at, o.obligation`, c.ID)
}

// Board lists every unmet obligation of every case the actor may see,
// earliest due first: the deadline board.
func (s *Service) Board(ctx context.Context) ([]Obligation, error) {
	actor, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	return s.obligationsWhere(ctx, s.db.R, now, ` WHERE o.met_at IS NULL AND `+incident.VisibleSQL(actor, now, "i", arg)+
		` ORDER BY o.due_at, i.number, o.obligation LIMIT 1000`, args...)
}

// MarkMet records that the case's obligation key was met at at (when the
// notice was made), by the actor; the timeline says whether it was on
// time.
func (s *Service) MarkMet(ctx context.Context, ref, key string, at time.Time) (Obligation, error) {
	var out Obligation
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.MarkMetTx(ctx, tx, ref, key, at)
		return err
	})
	if err != nil {
		return Obligation{}, err
	}
	return out, nil
}

// MarkMetTx is MarkMet inside the caller's transaction, for a change that
// meets an obligation (filing the HHS report meets hhs): both commit or
// neither. An obligation met already answers Conflict, and one not owed
// NotFound, before anything is written, so the caller may go on with its
// transaction.
func (s *Service) MarkMetTx(ctx context.Context, tx *sql.Tx, ref, key string, at time.Time) (Obligation, error) {
	actor, err := authz.Check(ctx, authz.BreachWrite)
	if err != nil {
		return Obligation{}, err
	}
	now := s.clock.Now()
	if at.IsZero() {
		at = now
	}
	if at.After(now) {
		return Obligation{}, apperr.Field("met_at", "is in the future")
	}
	c, err := s.caseOf(ctx, tx, ref)
	if err != nil {
		return Obligation{}, err
	}
	obs, err := s.obligationsWhere(ctx, tx, now, ` WHERE o.case_id = $1 AND o.obligation = $2`, c.ID, key)
	if err != nil {
		return Obligation{}, err
	}
	if len(obs) == 0 {
		return Obligation{}, apperr.New(apperr.NotFound, "case of %s has no obligation %q", c.IncidentNumber, key)
	}
	out := obs[0]
	if out.MetAt != nil {
		return Obligation{}, apperr.New(apperr.Conflict, "obligation %q was met already", key)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE breach_obligations SET met_at = $1, met_by = $2 WHERE case_id = $3 AND obligation = $4`,
		at, actor.String(), c.ID, key); err != nil {
		return Obligation{}, fmt.Errorf("mark obligation met: %w", err)
	}
	out.MetAt, out.MetBy, out.State = &at, actor.String(), StateMet
	if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "breach_case.obligation_met", ObjectType: "incident", ObjectID: c.IncidentID,
		Change: map[string]any{"case_id": c.ID, "obligation": key, "met_at": at, "due": out.Due}}); err != nil {
		return Obligation{}, err
	}
	timing := "on time"
	if at.After(out.Due) {
		timing = "LATE: it was due " + FormatDue(out.Due, out.Zone)
	}
	if err := s.incidents.RecordTx(ctx, tx, c.IncidentID, incident.EventBreach, fmt.Sprintf("Notice obligation %s (%s) met by %s, %s.",
		key, out.Citation, actor.Name, timing)); err != nil {
		return Obligation{}, err
	}
	return out, s.followNoticeTx(ctx, tx, c, now)
}

// followNoticeTx recomputes case c's obligations after a notice was made,
// so that the deadlines counted from it (a State regulator's "within N
// days of notifying residents", New York's "within 5 business days of
// notifying HHS") count from the day it was made, and says on the timeline
// which deadlines moved.
func (s *Service) followNoticeTx(ctx context.Context, tx *sql.Tx, c Case, now time.Time) error {
	before, err := s.unmetDues(ctx, tx, c.ID)
	if err != nil {
		return err
	}
	if _, err := s.recompute(ctx, tx, c, now); err != nil {
		return err
	}
	after, err := s.obligationsWhere(ctx, tx, now, ` WHERE o.case_id = $1 AND o.met_at IS NULL ORDER BY o.due_at, o.obligation`, c.ID)
	if err != nil {
		return err
	}
	var moved []string
	for _, o := range after {
		if was, ok := before[o.Key]; ok && !was.Equal(o.Due) {
			moved = append(moved, fmt.Sprintf("%s is now due %s (%s, counted from %s; it was due %s)", Label(o.Obligation),
				FormatDue(o.Due, o.Zone), o.Citation, o.Deadlines[0].From, FormatDue(was, o.Zone)))
		}
	}
	if len(moved) == 0 {
		return nil
	}
	return s.incidents.RecordTx(ctx, tx, c.IncidentID, incident.EventBreach,
		"Deadlines counted from the notice just made moved: "+strings.Join(moved, "; ")+".")
}

// unmetDues returns the due time of each unmet obligation of case caseID.
func (s *Service) unmetDues(ctx context.Context, q db.Querier, caseID string) (map[string]time.Time, error) {
	rows, err := q.QueryContext(ctx, `SELECT obligation, due_at FROM breach_obligations WHERE case_id = $1 AND met_at IS NULL`, caseID)
	dues, err := db.Collect(rows, err, "read obligations", func(r *sql.Rows) (metAt, error) {
		var m metAt
		err := r.Scan(&m.key, &m.at)
		return m, err
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Time, len(dues))
	for _, d := range dues {
		out[d.key] = d.at
	}
	return out, nil
}

// Label names an obligation for people: "Individuals in California",
// "HHS (the Secretary)", "New York Attorney General".
func Label(o rules.Obligation) string {
	juris := func() string {
		n, _ := rules.JurisdictionName(o.Jurisdiction)
		return n
	}
	switch o.Recipient {
	case rules.ToIndividuals:
		if o.Jurisdiction == "" {
			return "Individuals whose State is not known"
		}
		return "Individuals in " + juris()
	case rules.ToMedia:
		return "Media in " + juris()
	case rules.ToHHS:
		return "HHS (the Secretary)"
	case rules.ToFTC:
		return "Federal Trade Commission"
	case rules.ToRegulator:
		return o.Authority
	case rules.ToCRA:
		return "Consumer reporting agencies (" + juris() + ")"
	case rules.ToCoveredEntity:
		return "Covered entity " + o.CustomerName
	}
	return o.Key
}
