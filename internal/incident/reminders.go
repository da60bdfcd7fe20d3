package incident

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/authz"
)

// Notifier queues a message whose status line is line (Ward's own words,
// never text a person typed) about incident incidentID to each of users
// (user ids) on their verified contact methods, inside tx; it returns how
// many messages it queued. The pager's reminders are one.
type Notifier func(ctx context.Context, tx *sql.Tx, incidentID, line string, users []string) (int, error)

// ActionItemOverdueLine is the status line of the reminder an action
// item's owner gets once it is overdue.
const ActionItemOverdueLine = "action item overdue"

// maxRemindersPerRound bounds the overdue action items one round
// reminds; the rest wait for the next round, oldest due first.
const maxRemindersPerRound = 500

// RemindOverdueActionItems tells the owner of each open action item whose
// due time has passed that it is overdue, through notify: once per due
// time (moving the due time later arms it again), in the transaction that
// records the reminder on the incident's timeline and in the audit trail.
// An owner who is disabled, or who has no verified contact method, is not
// reached, and the timeline says so. It returns how many items it
// reminded of.
func (s *Service) RemindOverdueActionItems(ctx context.Context, notify Notifier) (int, error) {
	ctx = authz.WithActor(ctx, authz.System)
	now := s.clock.Now()
	type due struct {
		id, incidentID, owner string
		at                    time.Time
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, incident_id, owner, due_at FROM incident_action_items
		WHERE status = $1 AND due_at <= $2 AND (reminded_due_at IS NULL OR reminded_due_at <> due_at)
		ORDER BY due_at, id LIMIT $3`, ActionOpen, now, maxRemindersPerRound)
	if err != nil {
		return 0, fmt.Errorf("list overdue action items: %w", err)
	}
	var all []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.incidentID, &d.owner, &d.at); err != nil {
			rows.Close()
			return 0, fmt.Errorf("list overdue action items: %w", err)
		}
		all = append(all, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("list overdue action items: %w", err)
	}
	n := 0
	var errs []error
	for _, d := range all {
		// Ward acts here, on every incident, restricted ones too: the
		// change is made without the reader's visibility check of change.
		err := s.db.Write(ctx, func(tx *sql.Tx) error {
			_, _, err := s.changeTx(ctx, tx, d.incidentID, func(tx *sql.Tx, inc *Incident, now time.Time) (Event, string, error) {
				res, err := tx.ExecContext(ctx, `UPDATE incident_action_items SET reminded_due_at = due_at
				WHERE id = $1 AND status = $2 AND due_at = $3 AND (reminded_due_at IS NULL OR reminded_due_at <> due_at)`,
					d.id, ActionOpen, d.at)
				if err != nil {
					return Event{}, "", fmt.Errorf("mark action item reminded: %w", err)
				}
				switch k, err := res.RowsAffected(); {
				case err != nil:
					return Event{}, "", fmt.Errorf("mark action item reminded: %w", err)
				case k == 0:
					return Event{}, "", errNoChange // reminded by another node, or changed, since the list was read
				}
				var users []string
				var userID string
				switch err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE username = $1 AND NOT disabled`, d.owner).Scan(&userID); {
				case err == nil:
					users = []string{userID}
				case !errors.Is(err, sql.ErrNoRows):
					return Event{}, "", fmt.Errorf("read action item owner: %w", err)
				}
				sent := 0
				if len(users) > 0 {
					if sent, err = notify(ctx, tx, inc.ID, ActionItemOverdueLine, users); err != nil {
						return Event{}, "", err
					}
				}
				note := fmt.Sprintf("An action item owned by %s was due %s UTC and is still open: %s was reminded.", d.owner,
					d.at.UTC().Format("2006-01-02 15:04"), d.owner)
				if sent == 0 {
					note = fmt.Sprintf("An action item owned by %s was due %s UTC and is still open; %s could not be reminded "+
						"(no verified contact method, or the account is disabled).", d.owner, d.at.UTC().Format("2006-01-02 15:04"), d.owner)
				}
				return Event{Kind: EventActionItem, FromStatus: inc.Status, ToStatus: inc.Status, Note: note,
						Changes: []Change{{Field: "action_item", Old: d.id, New: d.id}}},
					"incident.action_item.remind", nil
			})
			return err
		})
		switch {
		case errors.Is(err, errNoChange):
		case err != nil:
			// One item that fails is tried again next round; it does not
			// hold back the others.
			errs = append(errs, fmt.Errorf("remind of action item %s: %w", d.id, err))
		default:
			n++
		}
	}
	return n, errors.Join(errs...)
}
