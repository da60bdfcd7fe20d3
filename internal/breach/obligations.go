package breach

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
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
	MetReason      string // why it was marked met: a person's reason, or the record that met it
	// MetReasonRedacted says MetReason was withheld from a reader whose
	// role may not see PHI.
	MetReasonRedacted bool
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
		var id, body, reason string
		var met sql.NullTime
		if err := rows.Scan(&id, &o.CaseID, &o.IncidentNumber, &body, &met, &o.MetBy, &reason); err != nil {
			return nil, err
		}
		if o.MetReason, err = s.open(reason, keys.BreachObligationMetReason, id); err != nil {
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

const obligationSelect = `SELECT o.case_id || '/' || o.obligation, o.case_id, i.number, o.body, o.met_at, o.met_by, o.met_reason FROM breach_obligations o
	JOIN breach_cases c ON c.id = o.case_id JOIN incidents i ON i.id = c.incident_id`

// Obligations lists the case's obligations, earliest due first. Why each
// was met is withheld from a reader whose role may not see PHI
// (MetReasonRedacted); for any other, the read of a reason is audited
// before it returns (Get).
func (s *Service) Obligations(ctx context.Context, ref string) ([]Obligation, error) {
	actor, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return nil, err
	}
	c, err := s.caseOf(ctx, s.db.R, ref)
	if err != nil {
		return nil, err
	}
	obs, err := s.obligationsWhere(ctx, s.db.R, s.clock.Now(), ` WHERE o.case_id = $1 ORDER BY o.due_at, o.obligation`, c.ID)
	if err != nil {
		return nil, err
	}
	if !authz.Has(actor.Role, authz.IncidentReadPHI) {
		return withholdMetReasons(obs), nil
	}
	if slices.ContainsFunc(obs, func(o Obligation) bool { return o.MetReason != "" }) {
		if err := s.auditRead(ctx, c, "obligations.met_reason"); err != nil {
			return nil, err
		}
	}
	return obs, nil
}

// withholdMetReasons blanks why each of obs was met.
func withholdMetReasons(obs []Obligation) []Obligation {
	for i := range obs {
		if obs[i].MetReason != "" {
			obs[i].MetReason, obs[i].MetReasonRedacted = "", true
		}
	}
	return obs
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
	// Unmet obligations have no reason to show.
	return s.obligationsWhere(ctx, s.db.R, now, ` WHERE o.met_at IS NULL AND `+incident.VisibleSQL(actor, now, "i", arg)+
		` ORDER BY o.due_at, i.number, o.obligation LIMIT 1000`, args...)
}

// MinReasonLength is the shortest reason accepted for marking an
// obligation met or reopening it.
const MinReasonLength = 10

// Met is what marks an obligation met.
type Met struct {
	Key string
	// At is when the notice was made; zero means now.
	At time.Time
	// Reason is the evidence that the notice was made: a person's words
	// (at least MinReasonLength characters), or, from a path that meets it
	// from the record, what the record shows.
	Reason string
	// Hold is the official's leave to record the notice during a
	// law-enforcement hold (164.412).
	Hold *HoldOverride
	// HoldChecked says the caller has applied CheckHoldTx to this notice
	// already, so the hold is not checked (nor an override recorded) twice.
	HoldChecked bool
}

// MarkMet records that the case's obligation m.Key was met at m.At (when
// the notice was made), by the actor, for m.Reason; the timeline says
// whether it was on time. During a law-enforcement hold it is refused
// without m.Hold (CheckHoldTx).
func (s *Service) MarkMet(ctx context.Context, ref string, m Met) (Obligation, error) {
	var out Obligation
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = s.MarkMetTx(ctx, tx, ref, m)
		return err
	})
	if err != nil {
		return Obligation{}, err
	}
	return out, nil
}

// obligationTx reads the case's obligation key in tx.
func (s *Service) obligationTx(ctx context.Context, tx *sql.Tx, c Case, key string, now time.Time) (Obligation, error) {
	obs, err := s.obligationsWhere(ctx, tx, now, ` WHERE o.case_id = $1 AND o.obligation = $2`, c.ID, key)
	if err != nil {
		return Obligation{}, err
	}
	if len(obs) == 0 {
		return Obligation{}, apperr.New(apperr.NotFound, "case of %s has no obligation %q", c.IncidentNumber, key)
	}
	return obs[0], nil
}

// checkReason trims reason and refuses one shorter than MinReasonLength,
// naming field.
func checkReason(field, reason, what string) (string, error) {
	reason = strings.TrimSpace(reason)
	if n := len([]rune(reason)); n < MinReasonLength || n > 1000 {
		return "", apperr.Field(field, "%s, in %d to 1000 characters", what, MinReasonLength)
	}
	return reason, nil
}

// MarkMetTx is MarkMet inside the caller's transaction, for a change that
// meets an obligation (filing the HHS report meets hhs): both commit or
// neither. An obligation met already answers Conflict, and one not owed
// NotFound, before anything is written, so the caller may go on with its
// transaction; a caller that does so checks the hold itself first
// (CheckHoldTx, then m.HoldChecked), since a hold also answers Conflict.
func (s *Service) MarkMetTx(ctx context.Context, tx *sql.Tx, ref string, m Met) (Obligation, error) {
	actor, err := authz.Check(ctx, authz.BreachWrite)
	if err != nil {
		return Obligation{}, err
	}
	now := s.clock.Now()
	at := m.At
	if at.IsZero() {
		at = now
	}
	if at.After(now) {
		return Obligation{}, apperr.Field("met_at", "is in the future")
	}
	reason, err := checkReason("reason", m.Reason, "say what shows the notice was made (letters mailed on…, the filing's number…)")
	if err != nil {
		return Obligation{}, err
	}
	c, err := s.caseOf(ctx, tx, ref)
	if err != nil {
		return Obligation{}, err
	}
	out, err := s.obligationTx(ctx, tx, c, m.Key, now)
	if err != nil {
		return Obligation{}, err
	}
	if out.MetAt != nil {
		return Obligation{}, apperr.New(apperr.Conflict, "obligation %q was met already", m.Key)
	}
	if !m.HoldChecked {
		if err := s.CheckHoldTx(ctx, tx, c, "Recording the notice to "+Label(out.Obligation)+" as made", at, m.Hold); err != nil {
			return Obligation{}, err
		}
	}
	sealed, err := keys.BreachObligationMetReason.SealText(s.keys, reason, obligationID(c.ID, m.Key))
	if err != nil {
		return Obligation{}, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE breach_obligations SET met_at = $1, met_by = $2, met_reason = $3 WHERE case_id = $4 AND obligation = $5`,
		at, actor.String(), sealed, c.ID, m.Key); err != nil {
		return Obligation{}, fmt.Errorf("mark obligation met: %w", err)
	}
	out.MetAt, out.MetBy, out.MetReason, out.State = &at, actor.String(), reason, StateMet
	if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "breach_case.obligation_met", ObjectType: "incident", ObjectID: c.IncidentID,
		Change: map[string]any{"case_id": c.ID, "obligation": m.Key, "met_at": at, "due": out.Due, "reason": reason}}); err != nil {
		return Obligation{}, err
	}
	timing := "on time"
	if at.After(out.Due) {
		timing = "LATE: it was due " + FormatDue(out.Due, out.Zone)
	}
	if err := s.incidents.RecordTx(ctx, tx, c.IncidentID, incident.EventBreach, fmt.Sprintf("Notice obligation %s (%s) met by %s, %s. Evidence: %s",
		m.Key, out.Citation, actor.Name, timing, reason)); err != nil {
		return Obligation{}, err
	}
	return out, s.followNoticeTx(ctx, tx, c, now)
}

// Reopen undoes the marking of the case's obligation key as met, for
// reason (at least MinReasonLength characters): it is owed again, with its
// deadline. The audit trail and the timeline keep who met it and why.
func (s *Service) Reopen(ctx context.Context, ref, key, reason string) (Obligation, error) {
	actor, err := authz.Check(ctx, authz.BreachWrite)
	if err != nil {
		return Obligation{}, err
	}
	if reason, err = checkReason("reason", reason, "say why the obligation is owed again"); err != nil {
		return Obligation{}, err
	}
	now := s.clock.Now()
	var out Obligation
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		c, err := s.caseOf(ctx, tx, ref)
		if err != nil {
			return err
		}
		o, err := s.obligationTx(ctx, tx, c, key, now)
		if err != nil {
			return err
		}
		if o.MetAt == nil {
			return apperr.New(apperr.Conflict, "obligation %q is not met: there is nothing to undo", key)
		}
		if owed, err := s.owes(ctx, tx, c, key, now); err != nil || !owed {
			if err == nil {
				err = apperr.New(apperr.Conflict, "the case of %s no longer owes %q under its facts and determination: there is nothing to reopen",
					c.IncidentNumber, key)
			}
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE breach_obligations SET met_at = NULL, met_by = '', met_reason = '' WHERE case_id = $1
			AND obligation = $2`, c.ID, key); err != nil {
			return fmt.Errorf("reopen obligation: %w", err)
		}
		if err := incident.RecheckSLATx(ctx, tx, c.IncidentID, now); err != nil {
			return err
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "breach_case.obligation_reopened", ObjectType: "incident", ObjectID: c.IncidentID,
			Change: map[string]any{"case_id": c.ID, "obligation": key, "reason": reason, "was_met_at": o.MetAt, "was_met_by": o.MetBy,
				"was_met_reason": o.MetReason}}); err != nil {
			return err
		}
		if err := s.incidents.RecordTx(ctx, tx, c.IncidentID, incident.EventBreach, fmt.Sprintf(
			"Notice obligation %s (%s) reopened by %s: it is owed again, due %s. Reason: %s", Label(o.Obligation), o.Citation, actor.Name,
			FormatDue(o.Due, o.Zone), reason)); err != nil {
			return err
		}
		o.MetAt, o.MetBy, o.MetReason, o.State = nil, "", "", state(o.Obligation, nil, now)
		out = o
		return s.followNoticeTx(ctx, tx, c, now)
	})
	if err != nil {
		return Obligation{}, err
	}
	return out, nil
}

// owes reports whether case c's facts and outcome oblige notice key now.
func (s *Service) owes(ctx context.Context, tx *sql.Tx, c Case, key string, now time.Time) (bool, error) {
	rs, err := s.ruleSets(ctx, tx)
	if err != nil {
		return false, err
	}
	if c.Facts.Location, err = s.zone(ctx, tx); err != nil {
		return false, err
	}
	obs, err := rules.Obligations(c.Facts, rs, now)
	if err != nil {
		return false, err
	}
	for _, o := range obs {
		if o.Key == key {
			return true, nil
		}
	}
	return false, nil
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
