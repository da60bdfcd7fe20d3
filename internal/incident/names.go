package incident

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
)

// An incident's commander and a task's owner name a Ward user: each is the
// username of an existing user who is not disabled, or empty. They are
// stored in clear (Ward checks access with the commander's username), so
// they must not be free text, which may hold PHI (issue #15). The refusal
// does not repeat the value, which may be PHI.

// notAUser is the message of the refusal of a commander or owner that
// names no Ward user.
const notAUser = "must be the username of a Ward user"

// checkUser refuses a non-empty name that is not the username of an
// active Ward user, naming field.
func checkUser(ctx context.Context, q db.Querier, field, name string) error {
	if name == "" {
		return nil
	}
	var one int
	err := q.QueryRowContext(ctx, "SELECT 1 FROM users WHERE username = $1 AND NOT disabled", name).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.Field(field, notAUser)
	}
	if err != nil {
		return fmt.Errorf("check %s: %w", field, err)
	}
	return nil
}

// namesMarker names the counters row recording that MoveUnknownNames has
// run to the end: no commander or task owner is free text.
const namesMarker = "names_are_users"

// MoveUnknownNames moves out of the clear the commanders and task owners
// written before Ward required them to name a Ward user: for each
// incident whose commander, one of whose tasks' owners, or one of whose
// timeline changes of either holds text that is no Ward user's username
// (disabled users included), it clears that column or change and appends
// to the incident's timeline a note, sealed like every note, saying what
// was recorded, so that readers of PHI still see it; the change is
// audited. Each incident is its own transaction, so an interrupted start
// leaves nothing half-done and the next one finishes; once a pass has
// reached the end it records so (namesMarker), and later starts cost one
// query. Ward runs it at start, before serving, once the titles are
// sealed; it returns how many incidents it changed.
func (s *Service) MoveUnknownNames(ctx context.Context) (int, error) {
	var v int64
	err := s.db.R.QueryRowContext(ctx, "SELECT value FROM counters WHERE name = $1", namesMarker).Scan(&v)
	if err == nil {
		return 0, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("read %s: %w", namesMarker, err)
	}
	users, err := usernames(ctx, s.db.R)
	if err != nil {
		return 0, err
	}
	ids, err := incidentsWithUnknownNames(ctx, s.db.R, users)
	if err != nil {
		return 0, err
	}
	ctx = authz.WithActor(ctx, authz.System)
	moved := 0
	for _, id := range ids {
		err := s.db.Write(ctx, func(tx *sql.Tx) error {
			_, _, err := s.changeTx(ctx, tx, id, func(tx *sql.Tx, inc *Incident, _ time.Time) (Event, string, error) {
				return s.moveUnknownNames(ctx, tx, inc, users)
			})
			return err
		})
		if errors.Is(err, errNoChange) {
			continue
		}
		if err != nil {
			return moved, err
		}
		moved++
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "INSERT INTO counters (name, value) VALUES ($1, 1) ON CONFLICT (name) DO NOTHING", namesMarker)
		return err
	})
	if err != nil {
		return moved, fmt.Errorf("record %s: %w", namesMarker, err)
	}
	return moved, nil
}

// usernames reads every user's username.
func usernames(ctx context.Context, q db.Querier) (map[string]bool, error) {
	rows, err := q.QueryContext(ctx, "SELECT username FROM users")
	if err != nil {
		return nil, fmt.Errorf("read usernames: %w", err)
	}
	defer rows.Close()
	out := map[string]bool{}
	for rows.Next() {
		var u string
		if err := rows.Scan(&u); err != nil {
			return nil, fmt.Errorf("read usernames: %w", err)
		}
		out[u] = true
	}
	return out, rows.Err()
}

// nameChangesSQL finds the timeline events that record a change of a
// commander or of a task's owner.
const nameChangesSQL = `(changes LIKE '%"field":"commander"%' OR changes LIKE '%"field":"owner"%')`

// incidentsWithUnknownNames returns the ids of the incidents that hold a
// commander or owner that is not in users, in their row, their tasks or
// their timeline.
func incidentsWithUnknownNames(ctx context.Context, q db.Querier, users map[string]bool) ([]string, error) {
	found := map[string]bool{}
	for _, query := range []string{
		"SELECT id, commander FROM incidents WHERE commander <> ''",
		"SELECT incident_id, owner FROM incident_tasks WHERE owner <> ''",
	} {
		rows, err := q.QueryContext(ctx, query)
		if err != nil {
			return nil, fmt.Errorf("read commanders and owners: %w", err)
		}
		for rows.Next() {
			var id, name string
			if err := rows.Scan(&id, &name); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read commanders and owners: %w", err)
			}
			if !users[name] {
				found[id] = true
			}
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("read commanders and owners: %w", err)
		}
	}
	rows, err := q.QueryContext(ctx, "SELECT incident_id, changes FROM incident_events WHERE "+nameChangesSQL)
	if err != nil {
		return nil, fmt.Errorf("read timeline changes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, raw string
		if err := rows.Scan(&id, &raw); err != nil {
			return nil, fmt.Errorf("read timeline changes: %w", err)
		}
		var cs []Change
		if err := json.Unmarshal([]byte(raw), &cs); err != nil {
			return nil, fmt.Errorf("read timeline changes: %w", err)
		}
		if _, changed := redactUnknownNames(cs, users); changed {
			found[id] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read timeline changes: %w", err)
	}
	return slices.Sorted(func(yield func(string) bool) {
		for id := range found {
			if !yield(id) {
				return
			}
		}
	}), nil
}

// redactUnknownNames marks redacted, in place, each change of a commander
// or an owner whose old or new value is text that is not in users, and
// returns those values.
func redactUnknownNames(cs []Change, users map[string]bool) ([]string, bool) {
	var names []string
	changed := false
	for i, c := range cs {
		if c.Field != "commander" && c.Field != "owner" || c.Redacted {
			continue
		}
		unknown := false
		for _, v := range []any{c.Old, c.New} {
			if name, ok := v.(string); ok && name != "" && !users[name] {
				names = append(names, name)
				unknown = true
			}
		}
		if unknown {
			cs[i] = Change{Field: c.Field, Redacted: true}
			changed = true
		}
	}
	return names, changed
}

// moveUnknownNames is MoveUnknownNames's change to one incident, in tx.
func (s *Service) moveUnknownNames(ctx context.Context, tx *sql.Tx, inc *Incident, users map[string]bool) (Event, string, error) {
	var lines []string
	var changes []Change
	if inc.Commander != "" && !users[inc.Commander] {
		lines = append(lines, fmt.Sprintf("commander: %q", inc.Commander))
		changes = append(changes, Change{Field: "commander", Redacted: true})
		inc.Commander = ""
	}
	tasks, err := listTasks(ctx, tx, inc.ID)
	if err != nil {
		return Event{}, "", err
	}
	for _, t := range tasks {
		if t.Owner == "" || users[t.Owner] {
			continue
		}
		title, err := s.open(t.Title, keys.IncidentTaskTitle, t.ID)
		if err != nil {
			return Event{}, "", err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE incident_tasks SET owner = '' WHERE id = $1", t.ID); err != nil {
			return Event{}, "", fmt.Errorf("clear task owner: %w", err)
		}
		lines = append(lines, fmt.Sprintf("owner of the task %q: %q", title, t.Owner))
		changes = append(changes, Change{Field: "task", Old: t.ID, New: t.ID}, Change{Field: "owner", Redacted: true})
	}
	rows, err := tx.QueryContext(ctx, "SELECT id, changes FROM incident_events WHERE incident_id = $1 AND "+nameChangesSQL+
		" ORDER BY seq", inc.ID)
	if err != nil {
		return Event{}, "", fmt.Errorf("read timeline changes: %w", err)
	}
	type event struct{ id, changes string }
	var events []event
	for rows.Next() {
		var e event
		if err := rows.Scan(&e.id, &e.changes); err != nil {
			rows.Close()
			return Event{}, "", fmt.Errorf("read timeline changes: %w", err)
		}
		events = append(events, e)
	}
	if err := rows.Close(); err != nil {
		return Event{}, "", fmt.Errorf("read timeline changes: %w", err)
	}
	var earlier []string
	for _, e := range events {
		var cs []Change
		if err := json.Unmarshal([]byte(e.changes), &cs); err != nil {
			return Event{}, "", fmt.Errorf("read timeline changes: %w", err)
		}
		names, changed := redactUnknownNames(cs, users)
		if !changed {
			continue
		}
		for _, n := range names {
			if !slices.Contains(earlier, n) {
				earlier = append(earlier, n)
			}
		}
		raw, err := json.Marshal(cs)
		if err != nil {
			return Event{}, "", err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE incident_events SET changes = $1 WHERE id = $2", string(raw), e.id); err != nil {
			return Event{}, "", fmt.Errorf("redact timeline change: %w", err)
		}
	}
	if len(earlier) > 0 {
		quoted := make([]string, len(earlier))
		for i, n := range earlier {
			quoted[i] = fmt.Sprintf("%q", n)
		}
		lines = append(lines, "in changes of the timeline: "+strings.Join(quoted, ", "))
	}
	if len(lines) == 0 {
		return Event{}, "", errNoChange
	}
	note := "Before Ward required the commander and task owners to be Ward users, this incident recorded names " +
		"that are no Ward user's username. They are kept here, sealed, and were cleared where they were: " +
		strings.Join(lines, "; ") + "."
	return Event{Kind: EventNote, FromStatus: inc.Status, ToStatus: inc.Status, Note: note, Changes: changes},
		"incident.names_moved", nil
}
