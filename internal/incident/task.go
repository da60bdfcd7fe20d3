package incident

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
)

// TaskInput is a new task.
type TaskInput struct {
	Title string
	Owner string
	DueAt *time.Time
	// OwnerRole, Phase and PlaybookID are set for a task a playbook
	// makes (see Task).
	OwnerRole  authz.Role
	Phase      Status
	PlaybookID string
	// DueAfter, when DueAt is nil, makes the task due this long after the
	// incident's detection, or, with FromPhaseStart, after the start of
	// Phase: at once if the phase has started, else when it starts.
	DueAfter       *time.Duration
	FromPhaseStart bool
}

// TaskUpdate holds the task fields to change; nil leaves a field as it is.
type TaskUpdate struct {
	Title *string
	Owner *string
	DueAt *time.Time
	Done  *bool
}

func checkTask(t *Task) error {
	if err := checkTitle("title", t.Title, 1, MaxTitle); err != nil {
		return err
	}
	if t.OwnerRole != "" && !authz.ValidRole(t.OwnerRole) {
		return apperr.Field("owner_role", "must be one of %s", authz.RoleNames())
	}
	if t.Phase != "" && (!t.Phase.Valid() || t.Phase == Closed) {
		return apperr.Field("phase", "must be a phase before closed")
	}
	return checkText("owner", t.Owner, 0, MaxName)
}

// phaseStart returns when incident inc last entered phase p, if it has:
// its detection for the detected phase, else its last move into p. A
// phase skipped or not yet reached has no start.
func phaseStart(ctx context.Context, tx *sql.Tx, inc *Incident, p Status) (*time.Time, error) {
	if p == Detected {
		return &inc.DetectedAt, nil
	}
	if p.order() > inc.Status.order() {
		return nil, nil
	}
	var at time.Time
	err := tx.QueryRowContext(ctx, `SELECT at FROM incident_events WHERE incident_id = $1 AND kind = $2 AND to_status = $3
		ORDER BY seq DESC LIMIT 1`, inc.ID, EventTransition, p).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read phase start: %w", err)
	}
	at = clock.Normalize(at)
	return &at, nil
}

// startPhaseTasksTx gives the tasks of phase p that wait for its start
// their due time, now plus their offset: inc has just entered p.
func startPhaseTasksTx(ctx context.Context, tx *sql.Tx, incidentID string, p Status, now time.Time) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, due_after_phase_start FROM incident_tasks
		WHERE incident_id = $1 AND phase = $2 AND due_after_phase_start IS NOT NULL AND due_at IS NULL`, incidentID, p)
	if err != nil {
		return fmt.Errorf("list tasks of phase: %w", err)
	}
	type pending struct {
		id    string
		after int64
	}
	var all []pending
	for rows.Next() {
		var t pending
		if err := rows.Scan(&t.id, &t.after); err != nil {
			rows.Close()
			return fmt.Errorf("list tasks of phase: %w", err)
		}
		all = append(all, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list tasks of phase: %w", err)
	}
	for _, t := range all {
		if _, err := tx.ExecContext(ctx, `UPDATE incident_tasks SET due_at = $1, due_after_phase_start = NULL, updated_at = $2
			WHERE id = $3`, now.Add(time.Duration(t.after)*time.Second), now, t.id); err != nil {
			return fmt.Errorf("set task due time: %w", err)
		}
	}
	return nil
}

// CreateTask adds a task to an incident; the timeline records it.
func (s *Service) CreateTask(ctx context.Context, ref string, in TaskInput) (Task, error) {
	var t Task
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = s.CreateTaskTx(ctx, tx, ref, in)
		return err
	})
	if err != nil {
		return Task{}, err
	}
	return t, nil
}

// CreateTaskTx is CreateTask inside the caller's transaction.
func (s *Service) CreateTaskTx(ctx context.Context, tx *sql.Tx, ref string, in TaskInput) (Task, error) {
	if _, err := authz.Check(ctx, authz.IncidentWrite); err != nil {
		return Task{}, err
	}
	t := Task{ID: newID(), Title: in.Title, Owner: in.Owner, DueAt: normPtr(in.DueAt), OwnerRole: in.OwnerRole, Phase: in.Phase,
		PlaybookID: in.PlaybookID}
	if in.FromPhaseStart && t.Phase == "" {
		return Task{}, apperr.Field("phase", "is required for a task due after its phase starts")
	}
	if err := checkTask(&t); err != nil {
		return Task{}, err
	}
	if err := checkUser(ctx, s.db.In(tx), "owner", t.Owner); err != nil {
		return Task{}, err
	}
	_, _, err := s.changeTx(ctx, tx, ref, func(tx *sql.Tx, inc *Incident, now time.Time) (Event, string, error) {
		t.IncidentID, t.CreatedAt, t.UpdatedAt = inc.ID, now, now
		if t.DueAt == nil && in.DueAfter != nil {
			from := &inc.DetectedAt
			if in.FromPhaseStart {
				var err error
				if from, err = phaseStart(ctx, tx, inc, t.Phase); err != nil {
					return Event{}, "", err
				}
			}
			if from == nil {
				d := *in.DueAfter
				t.DueAfterPhaseStart = &d
			} else {
				due := clock.Normalize(from.Add(*in.DueAfter))
				t.DueAt = &due
			}
		}
		row, err := s.storedTask(&t)
		if err != nil {
			return Event{}, "", err
		}
		if err := insertTask(ctx, tx, row); err != nil {
			return Event{}, "", err
		}
		// The title may hold PHI: the timeline records only that it was set.
		changes := []Change{{Field: "task", New: t.ID}, {Field: "title", Redacted: true}}
		if t.Owner != "" {
			changes = append(changes, Change{Field: "owner", New: t.Owner})
		}
		if t.OwnerRole != "" {
			changes = append(changes, Change{Field: "owner_role", New: t.OwnerRole})
		}
		if t.DueAt != nil {
			changes = append(changes, Change{Field: "due_at", New: *t.DueAt})
		}
		return Event{Kind: EventTaskCreated, FromStatus: inc.Status, ToStatus: inc.Status, Changes: changes},
			"incident.task.create", nil
	})
	if err != nil {
		return Task{}, err
	}
	return t, nil
}

// UpdateTask edits a task; the timeline records each change old → new.
func (s *Service) UpdateTask(ctx context.Context, ref, taskID string, in TaskUpdate) (Task, error) {
	if _, err := authz.Check(ctx, authz.IncidentWrite); err != nil {
		return Task{}, err
	}
	var t Task
	_, _, err := s.change(ctx, ref, func(tx *sql.Tx, inc *Incident, now time.Time) (Event, string, error) {
		var err error
		if t, err = s.getTask(ctx, s.db.In(tx), inc.ID, taskID); err != nil {
			return Event{}, "", err
		}
		changes := []Change{{Field: "task", Old: t.ID, New: t.ID}}
		if in.Title != nil && *in.Title != t.Title {
			changes = append(changes, Change{Field: "title", Redacted: true})
			t.Title = *in.Title
		}
		ownerChanged := in.Owner != nil && *in.Owner != t.Owner
		if ownerChanged {
			changes = append(changes, Change{Field: "owner", Old: t.Owner, New: *in.Owner})
			t.Owner = *in.Owner
		}
		if in.DueAt != nil {
			due := clock.Normalize(*in.DueAt)
			if t.DueAt == nil || !t.DueAt.Equal(due) {
				var old any
				if t.DueAt != nil {
					old = *t.DueAt
				}
				changes = append(changes, Change{Field: "due_at", Old: old, New: due})
				t.DueAt, t.DueAfterPhaseStart = &due, nil
			}
		}
		if in.Done != nil && *in.Done != t.Done {
			changes = append(changes, Change{Field: "done", Old: t.Done, New: *in.Done})
			t.Done = *in.Done
			t.DoneAt = nil
			if t.Done {
				t.DoneAt = &now
			}
		}
		if len(changes) == 1 {
			return Event{}, "", errNoChange
		}
		if err := checkTask(&t); err != nil {
			return Event{}, "", err
		}
		if ownerChanged {
			if err := checkUser(ctx, s.db.In(tx), "owner", t.Owner); err != nil {
				return Event{}, "", err
			}
		}
		t.UpdatedAt = now
		row, err := s.storedTask(&t)
		if err != nil {
			return Event{}, "", err
		}
		if err := updateTask(ctx, tx, row); err != nil {
			return Event{}, "", err
		}
		return Event{Kind: EventTaskUpdated, FromStatus: inc.Status, ToStatus: inc.Status, Changes: changes},
			"incident.task.update", nil
	})
	if err != nil {
		return Task{}, err
	}
	return t, nil
}

// Tasks lists an incident's tasks, oldest first. Their titles may hold
// PHI: a reader whose role may see PHI gets them, and the read is audited
// before they are returned (45 CFR 164.312(b)); anyone else gets each
// title withheld (TitleRedacted).
func (s *Service) Tasks(ctx context.Context, ref string) ([]Task, error) {
	actor, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return nil, err
	}
	v := s.viewer(ctx)
	inc, err := getIncident(ctx, s.db.R, ref, &v)
	if err != nil {
		return nil, err
	}
	ts, err := listTasks(ctx, s.db.R, inc.ID)
	if err != nil || len(ts) == 0 {
		return ts, err
	}
	if !authz.Has(actor.Role, authz.IncidentReadPHI) {
		for i := range ts {
			ts[i].Title, ts[i].TitleRedacted = "", true
		}
		return ts, nil
	}
	for i := range ts {
		if ts[i].Title, err = s.open(ts[i].Title, keys.IncidentTaskTitle, ts[i].ID); err != nil {
			return nil, err
		}
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, s.clock.Now(), audit.Event{Action: "incident.phi_read", ObjectType: "incident",
			ObjectID: inc.ID, Change: []string{"tasks"}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return ts, nil
}

// storedTask returns t as it is written: its title sealed.
func (s *Service) storedTask(t *Task) (*Task, error) {
	c := *t
	var err error
	c.Title, err = keys.IncidentTaskTitle.SealText(s.keys, t.Title, t.ID)
	return &c, err
}

// getTask reads a task with its title opened, for changes.
func (s *Service) getTask(ctx context.Context, q db.Querier, incidentID, taskID string) (Task, error) {
	t, err := getTask(ctx, q, incidentID, taskID)
	if err != nil {
		return Task{}, err
	}
	t.Title, err = s.open(t.Title, keys.IncidentTaskTitle, t.ID)
	return t, err
}
