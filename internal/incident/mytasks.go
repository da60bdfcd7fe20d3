package incident

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/labels"
)

// MyTask is an open task on someone's list, with the number of its
// incident.
type MyTask struct {
	Task
	IncidentNumber string
}

// maxMyTasks bounds the list MyTasks returns, soonest due first.
const maxMyTasks = 500

// MyTasks lists the open tasks of the incidents the caller may see that
// are theirs: owned by them, or owned by nobody yet and assigned to their
// role. Soonest due first; tasks with no due time last. Titles are
// opened for roles that may see PHI, the read audited per incident (45
// CFR 164.312(b)); others get them withheld.
func (s *Service) MyTasks(ctx context.Context) ([]MyTask, error) {
	actor, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return nil, err
	}
	var args []any
	arg := binder(&args)
	cols := "t." + strings.ReplaceAll(taskColumns, ", ", ", t.")
	q := "SELECT " + cols + ", i.number FROM incident_tasks t JOIN incidents i ON i.id = t.incident_id WHERE NOT t.done AND (t.owner = " +
		arg(actor.Name) + " OR (t.owner = '' AND t.owner_role = " + arg(string(actor.Role)) + ")) AND " +
		VisibleSQL(actor, s.clock.Now(), "i", arg) + " ORDER BY (t.due_at IS NULL), t.due_at, t.created_at, t.id LIMIT " +
		arg(maxMyTasks)
	rows, err := s.db.R.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list my tasks: %w", err)
	}
	out := []MyTask{}
	for rows.Next() {
		var m MyTask
		var due, done sql.NullTime
		var after sql.NullInt64
		var playbook sql.NullString
		if err := rows.Scan(&m.ID, &m.IncidentID, &m.Title, &m.Owner, &due, &m.Done, &done, &m.CreatedAt, &m.UpdatedAt, &m.OwnerRole,
			&m.Phase, &after, &playbook, &m.IncidentNumber); err != nil {
			rows.Close()
			return nil, fmt.Errorf("list my tasks: %w", err)
		}
		m.DueAt, m.DoneAt, m.PlaybookID = timePtr(due), timePtr(done), playbook.String
		if after.Valid {
			d := time.Duration(after.Int64) * time.Second
			m.DueAfterPhaseStart = &d
		}
		out = append(out, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list my tasks: %w", err)
	}
	if len(out) == 0 {
		return out, nil
	}
	if !authz.Has(actor.Role, authz.IncidentReadPHI) {
		for i := range out {
			out[i].Title, out[i].TitleRedacted = "", true
		}
		return out, nil
	}
	read := map[string]bool{}
	for i := range out {
		if out[i].Title, err = s.open(out[i].Title, keys.IncidentTaskTitle, out[i].ID); err != nil {
			return nil, err
		}
		read[out[i].IncidentID] = true
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		for id := range read {
			if _, err := audit.Append(ctx, tx, s.clock.Now(), audit.Event{Action: "incident.phi_read", ObjectType: "incident",
				ObjectID: id, Change: []string{"tasks"}}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// TaskOverdueLine is the status line of the reminder a task's owner gets
// once it is overdue.
const TaskOverdueLine = "task overdue"

// RemindOverdueTasks tells the owner of each open task whose due time has
// passed that it is overdue, through notify: its owner, or, for a task
// nobody has taken on, every active user of its owner role. Once per due
// time (moving the due time later arms it again), in the transaction
// that records the reminder on the incident's timeline and in the audit
// trail. It returns how many tasks it reminded of.
func (s *Service) RemindOverdueTasks(ctx context.Context, notify Notifier) (int, error) {
	ctx = authz.WithActor(ctx, authz.System)
	now := s.clock.Now()
	type due struct {
		id, incidentID, owner, role string
		at                          time.Time
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, incident_id, owner, owner_role, due_at FROM incident_tasks
		WHERE NOT done AND due_at <= $1 AND (owner <> '' OR owner_role <> '')
		AND (reminded_due_at IS NULL OR reminded_due_at <> due_at)
		ORDER BY due_at, id LIMIT $2`, now, maxRemindersPerRound)
	if err != nil {
		return 0, fmt.Errorf("list overdue tasks: %w", err)
	}
	var all []due
	for rows.Next() {
		var d due
		if err := rows.Scan(&d.id, &d.incidentID, &d.owner, &d.role, &d.at); err != nil {
			rows.Close()
			return 0, fmt.Errorf("list overdue tasks: %w", err)
		}
		all = append(all, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("list overdue tasks: %w", err)
	}
	n := 0
	var errs []error
	for _, d := range all {
		// Ward acts here, on every incident, restricted ones too.
		err := s.db.Write(ctx, func(tx *sql.Tx) error {
			_, _, err := s.changeTx(ctx, tx, d.incidentID, func(tx *sql.Tx, inc *Incident, _ time.Time) (Event, string, error) {
				res, err := tx.ExecContext(ctx, `UPDATE incident_tasks SET reminded_due_at = due_at
				WHERE id = $1 AND NOT done AND due_at = $2 AND (reminded_due_at IS NULL OR reminded_due_at <> due_at)`, d.id, d.at)
				if err != nil {
					return Event{}, "", fmt.Errorf("mark task reminded: %w", err)
				}
				switch k, err := res.RowsAffected(); {
				case err != nil:
					return Event{}, "", fmt.Errorf("mark task reminded: %w", err)
				case k == 0:
					return Event{}, "", errNoChange
				}
				who, users, err := taskOwners(ctx, tx, inc, d.owner, d.role)
				if err != nil {
					return Event{}, "", err
				}
				sent := 0
				if len(users) > 0 {
					if sent, err = notify(ctx, tx, inc.ID, TaskOverdueLine, users); err != nil {
						return Event{}, "", err
					}
				}
				at := d.at.UTC().Format("2006-01-02 15:04")
				note := fmt.Sprintf("A task for %s was due %s UTC and is still open: %s reminded.", who, at, who)
				if sent == 0 {
					note = fmt.Sprintf("A task for %s was due %s UTC and is still open; nobody could be reminded "+
						"(no verified contact method, no active account, or, for a restricted incident, nobody of the role "+
						"who may see it).", who, at)
				}
				return Event{Kind: EventTaskUpdated, FromStatus: inc.Status, ToStatus: inc.Status, Note: note,
					Changes: []Change{{Field: "task", Old: d.id, New: d.id}}}, "incident.task.remind", nil
			})
			return err
		})
		switch {
		case errors.Is(err, errNoChange):
		case err != nil:
			errs = append(errs, fmt.Errorf("remind of task %s: %w", d.id, err))
		default:
			n++
		}
	}
	return n, errors.Join(errs...)
}

// taskOwners returns, in words, whom a task of inc is for, and the ids of
// the active users to remind: its owner, else the users of its owner role
// who may see inc. For a restricted incident that is every user of a role
// that sees restricted incidents, and otherwise only its members and its
// commander, so that nobody is told of a restricted incident they may not
// see (45 CFR 164.308(a)(4), 164.312(a)(1)).
func taskOwners(ctx context.Context, tx *sql.Tx, inc *Incident, owner, role string) (string, []string, error) {
	if owner != "" {
		q, args := `SELECT id FROM users WHERE username = $1 AND NOT disabled`, []any{owner}
		ids, err := userIDs(ctx, tx, q, args)
		return owner, ids, err
	}
	q, args := `SELECT id FROM users WHERE role = $1 AND NOT disabled ORDER BY id`, []any{role}
	if inc.Restricted && !authz.Has(authz.Role(role), authz.IncidentRestricted) {
		q, args = `SELECT id FROM users u WHERE role = $1 AND NOT disabled AND (username = $2
			OR EXISTS (SELECT 1 FROM incident_members m WHERE m.incident_id = $3 AND m.user_id = u.id)) ORDER BY id`,
			[]any{role, inc.Commander, inc.ID}
	}
	ids, err := userIDs(ctx, tx, q, args)
	return "the " + strings.ToLower(labels.Of(role)), ids, err
}

// userIDs returns the ids query q finds.
func userIDs(ctx context.Context, tx *sql.Tx, q string, args []any) ([]string, error) {
	rows, err := tx.QueryContext(ctx, q, args...)
	return db.Collect(rows, err, "read task owners", func(r *sql.Rows) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
}
