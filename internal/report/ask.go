package report

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/labels"
)

// AskInterval is how often one person may ask the Privacy Officers to
// sign the determination of one case.
const AskInterval = 15 * time.Minute

// Asked is what AskToSign did: the messages queued (0 when no Privacy
// Officer can be reached), and when the caller may ask again.
type Asked struct {
	Messages int
	Again    time.Time
}

// AskedRecently is why AskToSign refused: the caller asked for the same
// case less than AskInterval ago, and may ask again from Again.
type AskedRecently struct{ Again time.Time }

func (e AskedRecently) Error() string {
	return "asked recently; again from " + e.Again.Format(time.RFC3339)
}

// AskToSign asks the Privacy Officers, who alone may sign a breach
// determination (164.530(a)), to sign the one of incident ref's breach
// case: a reminder on every verified contact method of each active
// Privacy Officer, in Ward's own words (the incident's number, nothing
// else). The request is written on the incident's timeline and in the
// audit trail, in the same transaction. It returns how many messages were
// queued: 0 when no Privacy Officer can be reached, which the timeline
// then says. One person may ask once per case every AskInterval; sooner
// is refused (apperr.TooSoon, wrapping AskedRecently), nothing sent.
func (s *Service) AskToSign(ctx context.Context, ref string) (Asked, error) {
	actor, err := authz.Check(ctx, authz.IncidentWrite)
	if err != nil {
		return Asked{}, err
	}
	now := s.clock.Now()
	n := 0
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		id, number, err := incident.VisibleRef(ctx, tx, ref, now)
		if err != nil {
			return err
		}
		var caseID string
		switch err := tx.QueryRowContext(ctx, `SELECT id FROM breach_cases WHERE incident_id = $1`, id).Scan(&caseID); {
		case errors.Is(err, sql.ErrNoRows):
			return apperr.New(apperr.NotFound, "incident %s has no breach case", number)
		case err != nil:
			return fmt.Errorf("read breach case: %w", err)
		}
		asker := string(actor.Kind) + ":" + actor.ID
		r, err := tx.ExecContext(ctx, `INSERT INTO breach_signature_requests (case_id, asker, asked_at) VALUES ($1, $2, $3)
			ON CONFLICT (case_id, asker) DO UPDATE SET asked_at = excluded.asked_at WHERE breach_signature_requests.asked_at <= $4`,
			caseID, asker, now.UTC(), now.UTC().Add(-AskInterval))
		if err != nil {
			return fmt.Errorf("save signature request: %w", err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			var last time.Time
			if err := tx.QueryRowContext(ctx, `SELECT asked_at FROM breach_signature_requests WHERE case_id = $1 AND asker = $2`,
				caseID, asker).Scan(&last); err != nil {
				return fmt.Errorf("read signature request: %w", err)
			}
			again := last.UTC().Add(AskInterval)
			return &apperr.Error{Code: apperr.TooSoon, Err: AskedRecently{Again: again}, Message: fmt.Sprintf(
				"you asked the Privacy Officers to sign the determination of %s at %s UTC; you may ask again from %s UTC",
				number, last.UTC().Format("15:04"), again.Format("15:04"))}
		}
		rows, err := tx.QueryContext(ctx, `SELECT id FROM users WHERE role = $1 AND NOT disabled ORDER BY username`, authz.RolePrivacyOfficer)
		if err != nil {
			return fmt.Errorf("read privacy officers: %w", err)
		}
		var officers []string
		for rows.Next() {
			var u string
			if err := rows.Scan(&u); err != nil {
				rows.Close()
				return err
			}
			officers = append(officers, u)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if n, err = s.notifier.NotifyTx(ctx, tx, "reminder", id, number+": a breach determination awaits your signature.", officers); err != nil {
			return err
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "breach_case.signature_requested", ObjectType: "incident", ObjectID: id,
			Change: map[string]any{"case_id": caseID, "officers": len(officers), "messages": n}}); err != nil {
			return err
		}
		note := fmt.Sprintf("%s asked the Privacy Officers to sign the breach determination (%s sent).", actor.Name,
			labels.Count(n, "message", "messages"))
		if n == 0 {
			note = fmt.Sprintf("%s asked the Privacy Officers to sign the breach determination, but no Privacy Officer has a verified contact method: nobody was reached.", actor.Name)
		}
		return s.incidents.RecordTx(ctx, tx, id, incident.EventBreach, note)
	})
	if err != nil {
		return Asked{}, err
	}
	return Asked{Messages: n, Again: now.UTC().Add(AskInterval)}, nil
}
