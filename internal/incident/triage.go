package incident

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
)

// Triage is the question Ward asks of an incident that an alert of a
// service handling PHI opened or joined. Such an alert is most often an
// outage (a 5xx rate, a full disk), not an impermissible use or disclosure
// of PHI, so it does not presume a breach (45 CFR 164.402(2)); a responder
// says whether the incident is a security incident (164.304) and whether
// PHI is involved. AskedAt is kept as a candidate discovery date
// (164.404(a)(2)): a breach case opened from the answer starts its clock
// there.
type Triage struct {
	IncidentID string
	AskedAt    time.Time
	// Reason says why Ward asked: the service's name, never PHI.
	Reason string
	// AnsweredAt is nil while the question is open.
	AnsweredAt       *time.Time
	AnsweredBy       string
	SecurityIncident bool
	PHIInvolved      bool
}

// Open reports whether the question still awaits its answer.
func (t Triage) Open() bool { return t.AnsweredAt == nil }

// AskTriageTx asks a responder to classify incident id, inside the
// caller's transaction (alert intake's), saying why on the timeline. It
// does nothing if the incident was asked already or is marked
// phi_suspected (a person said so).
func (s *Service) AskTriageTx(ctx context.Context, tx *sql.Tx, id, reason string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM incident_triage WHERE incident_id = $1`, id).Scan(&n); err != nil {
		return fmt.Errorf("read incident triage: %w", err)
	}
	if n > 0 {
		return nil
	}
	_, _, err := s.changeTx(ctx, tx, id, func(tx *sql.Tx, inc *Incident, now time.Time) (Event, string, error) {
		if inc.PHISuspected {
			return Event{}, "", errNoChange
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO incident_triage (incident_id, asked_at, reason) VALUES ($1, $2, $3)`,
			inc.ID, now, reason); err != nil {
			return Event{}, "", fmt.Errorf("ask incident triage: %w", err)
		}
		return Event{Kind: EventTriage, Note: reason + " Is this a security incident, and is PHI involved? Until a responder " +
			"answers, no breach is presumed; the time of this question is kept as a candidate discovery date."}, "incident.triage_ask", nil
	})
	if errors.Is(err, errNoChange) {
		return nil
	}
	return err
}

// TriageOf returns the question asked of incident ref, if any, as the
// actor in ctx may see it.
func (s *Service) TriageOf(ctx context.Context, ref string) (*Triage, error) {
	inc, err := s.Meta(ctx, ref)
	if err != nil {
		return nil, err
	}
	t := Triage{IncidentID: inc.ID}
	var answered sql.NullTime
	var sec, phi sql.NullBool
	err = s.db.R.QueryRowContext(ctx, `SELECT asked_at, reason, answered_at, answered_by, security_incident, phi_involved
		FROM incident_triage WHERE incident_id = $1`, inc.ID).Scan(&t.AskedAt, &t.Reason, &answered, &t.AnsweredBy, &sec, &phi)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read incident triage: %w", err)
	}
	t.AskedAt = t.AskedAt.UTC()
	if answered.Valid {
		at := answered.Time.UTC()
		t.AnsweredAt = &at
	}
	t.SecurityIncident, t.PHIInvolved = sec.Bool, phi.Bool
	return &t, nil
}

// AnswerTriage records a responder's answer to incident ref's question.
// PHI involved marks the incident phi_suspected, which opens its breach
// case where Ward is set to (the case's discovery date is the time of the
// question). The answer is given once; a later change of mind is an edit
// of phi_suspected, recorded as any other.
func (s *Service) AnswerTriage(ctx context.Context, ref string, securityIncident, phiInvolved bool) (Incident, error) {
	actor, err := authz.Check(ctx, authz.IncidentWrite)
	if err != nil {
		return Incident{}, err
	}
	inc, _, err := s.change(ctx, ref, func(tx *sql.Tx, inc *Incident, now time.Time) (Event, string, error) {
		var answered sql.NullTime
		err := tx.QueryRowContext(ctx, `SELECT answered_at FROM incident_triage WHERE incident_id = $1`, inc.ID).Scan(&answered)
		if errors.Is(err, sql.ErrNoRows) {
			return Event{}, "", apperr.New(apperr.NotFound, "Ward asked nothing about incident %s", inc.Number)
		}
		if err != nil {
			return Event{}, "", fmt.Errorf("read incident triage: %w", err)
		}
		if answered.Valid {
			return Event{}, "", apperr.New(apperr.Conflict, "incident %s was classified already", inc.Number)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incident_triage SET answered_at = $1, answered_by = $2, security_incident = $3,
			phi_involved = $4 WHERE incident_id = $5`, now, actor.Name, securityIncident, phiInvolved, inc.ID); err != nil {
			return Event{}, "", fmt.Errorf("answer incident triage: %w", err)
		}
		note := fmt.Sprintf("Classified by %s: %s; %s.", actor.Name,
			map[bool]string{true: "a security incident", false: "not a security incident"}[securityIncident],
			map[bool]string{true: "PHI is involved", false: "no PHI is involved"}[phiInvolved])
		ev := Event{Kind: EventEdit, FromStatus: inc.Status, ToStatus: inc.Status, Note: note}
		if phiInvolved && !inc.PHISuspected {
			inc.PHISuspected = true
			ev.Changes = []Change{{Field: "phi_suspected", Old: false, New: true}}
		}
		return ev, "incident.triage_answer", nil
	})
	return inc, err
}
