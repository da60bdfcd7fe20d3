package incident

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/db"
)

// The store holds the SQL; it checks nothing and audits nothing.

const incidentColumns = `id, number, title, description, severity, category, phi_suspected, occurred_at, detected_at,
	created_at, updated_at, closed_at, status, resolution, commander, customers, not_applicable, created_by, version,
	restricted, drill`

type scanner interface{ Scan(dest ...any) error }

func scanIncident(s scanner) (Incident, error) {
	var inc Incident
	var occurred, closed sql.NullTime
	var customers, na string
	err := s.Scan(&inc.ID, &inc.Number, &inc.Title, &inc.Description, &inc.Severity, &inc.Category, &inc.PHISuspected,
		&occurred, &inc.DetectedAt, &inc.CreatedAt, &inc.UpdatedAt, &closed, &inc.Status, &inc.Resolution,
		&inc.Commander, &customers, &na, &inc.CreatedBy, &inc.Version, &inc.Restricted, &inc.Drill)
	if err != nil {
		return Incident{}, err
	}
	inc.OccurredAt = timePtr(occurred)
	inc.ClosedAt = timePtr(closed)
	inc.DetectedAt, inc.CreatedAt, inc.UpdatedAt = inc.DetectedAt.UTC(), inc.CreatedAt.UTC(), inc.UpdatedAt.UTC()
	if err := json.Unmarshal([]byte(customers), &inc.Customers); err != nil {
		return Incident{}, fmt.Errorf("decode customers: %w", err)
	}
	if err := json.Unmarshal([]byte(na), &inc.NotApplicable); err != nil {
		return Incident{}, fmt.Errorf("decode not_applicable: %w", err)
	}
	return inc, nil
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

func nullTime(t *time.Time) sql.NullTime {
	if t == nil {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: *t, Valid: true}
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("incident: encode %T: %v", v, err)) // only slices of strings reach here
	}
	return string(b)
}

// nextNumber takes the next incident number for year, e.g. INC-2026-0042
// (docs/ARCHITECTURE.md, "Incident numbers").
//
// On SQLite, the one writer takes it from the counters row
// 'incident:<year>', so numbers are gapless. On PostgreSQL, a row updated
// by every create would be held by each until it commits, and every other
// create on every node would queue behind it (issue #18); the number is
// nextval of the sequence incident_numbers, which waits on no
// transaction, less the year's base (the counters row
// 'incident_base:<year>'). Numbers stay unique and increase in the order
// they are taken; a create that rolls back leaves its number unused.
//
// A drill (docs/DRILLS.md) is numbered apart, DRILL-2026-0001, from the
// counters row 'drill:<year>' on both databases: drills are few and
// started by hand, so the row held until commit keeps hardly anyone
// waiting, and their numbers are gapless and leave none in the incidents'.
func nextNumber(ctx context.Context, d *db.DB, tx db.Querier, year int, drill bool) (string, error) {
	var n int64
	var err error
	if drill {
		if err := tx.QueryRowContext(ctx, `INSERT INTO counters (name, value) VALUES ($1, 1)
			ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value`, "drill:"+strconv.Itoa(year)).Scan(&n); err != nil {
			return "", fmt.Errorf("next drill number: %w", err)
		}
		return fmt.Sprintf("DRILL-%d-%04d", year, n), nil
	}
	if n, ok := reserved(tx, year); ok {
		return fmt.Sprintf("INC-%d-%04d", year, n), nil
	}
	if d.Dialect == db.Postgres {
		n, err = nextPostgresNumber(ctx, tx, year)
	} else {
		// One upsert, so that a year's first incident inserts the row.
		err = tx.QueryRowContext(ctx, `INSERT INTO counters (name, value) VALUES ($1, 1)
			ON CONFLICT (name) DO UPDATE SET value = counters.value + 1 RETURNING value`,
			"incident:"+strconv.Itoa(year)).Scan(&n)
	}
	if err != nil {
		return "", fmt.Errorf("next incident number: %w", err)
	}
	return fmt.Sprintf("INC-%d-%04d", year, n), nil
}

// numberPool holds the numbers of year that ReserveNumbers took for a
// transaction, in the order its creates will use them.
type numberPool struct {
	year int
	next []int64
}

// poolMemo is the key of a transaction's numberPool (db.Remember).
type poolMemo struct{}

// reserveNumbers takes n numbers of year in one round trip for the
// creates of tx (Service.ReserveNumbers). The year's base is written by
// its first create (nextPostgresNumber); before it there is no row, and
// nothing is taken.
func reserveNumbers(ctx context.Context, tx db.InTx, year, n int) error {
	pool := &numberPool{year: year}
	err := tx.Rows(ctx, `SELECT nextval('incident_numbers') - c.value FROM counters c, generate_series(1, $2) WHERE c.name = $1`,
		[][]any{{"incident_base:" + strconv.Itoa(year), n}}, func(scan func(...any) error) error {
			var v int64
			if err := scan(&v); err != nil {
				return err
			}
			// A value taken before the year's base maps to no number of
			// the year (nextPostgresNumber); skip it.
			if v > 0 {
				pool.next = append(pool.next, v)
			}
			return nil
		})
	if err != nil {
		return fmt.Errorf("reserve incident numbers: %w", err)
	}
	slices.Sort(pool.next)
	db.Remember(tx.Tx(), poolMemo{}, pool)
	return nil
}

// reserved returns the next number of year that ReserveNumbers took for
// q's transaction, if one is left.
func reserved(q db.Querier, year int) (int64, bool) {
	t, ok := q.(db.InTx)
	if !ok {
		return 0, false
	}
	v, ok := db.Recall(t.Tx(), poolMemo{})
	if !ok {
		return 0, false
	}
	pool := v.(*numberPool)
	if pool.year != year || len(pool.next) == 0 {
		return 0, false
	}
	n := pool.next[0]
	pool.next = pool.next[1:]
	return n, true
}

// nextPostgresNumber takes year's next number from the sequence. The
// year's first create also writes the year's base, one less than the
// sequence value it took, so the year starts at 1. Creates that race to
// be first queue on that row until the first commits (or rolls back, when
// the next one writes it), once a year; each then numbers its own value
// against the base written, or, if it took its value before the base
// (a value no number of the year maps to), takes another.
func nextPostgresNumber(ctx context.Context, tx db.Querier, year int) (int64, error) {
	name := "incident_base:" + strconv.Itoa(year)
	var n int64
	err := tx.QueryRowContext(ctx, `SELECT nextval('incident_numbers') - value FROM counters WHERE name = $1`,
		name).Scan(&n)
	if !errors.Is(err, sql.ErrNoRows) {
		return n, err
	}
	var v, base int64
	if err := tx.QueryRowContext(ctx, `SELECT nextval('incident_numbers')`).Scan(&v); err != nil {
		return 0, err
	}
	if err := tx.QueryRowContext(ctx, `INSERT INTO counters (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = counters.value RETURNING value`, name, v-1).Scan(&base); err != nil {
		return 0, err
	}
	if v > base {
		return v - base, nil
	}
	err = tx.QueryRowContext(ctx, `SELECT nextval('incident_numbers') - value FROM counters WHERE name = $1`,
		name).Scan(&n)
	return n, err
}

func insertIncident(ctx context.Context, tx db.Querier, inc *Incident) error {
	return db.Exec(ctx, tx, "insert incident", `INSERT INTO incidents (`+incidentColumns+`, search_version, sla_check_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $10)`,
		inc.ID, inc.Number, inc.Title, inc.Description, inc.Severity, inc.Category, inc.PHISuspected,
		nullTime(inc.OccurredAt), inc.DetectedAt, inc.CreatedAt, inc.UpdatedAt, nullTime(inc.ClosedAt), inc.Status,
		inc.Resolution, inc.Commander, jsonText(inc.Customers), jsonText(inc.NotApplicable), inc.CreatedBy, inc.Version,
		inc.Restricted, inc.Drill, searchVersion)
}

// updateIncident writes inc, deferred (db.InTx.Defer): the caller holds
// the row's lock (or created the row) in tx and read it under that lock,
// so the row is still as read and nothing can refuse the write. A change
// of severity or status brings the SLA checker's next look (sla_check_at)
// forward to now: it may move what falls due.
func updateIncident(ctx context.Context, tx db.InTx, inc *Incident) error {
	return tx.Defer(ctx, "update incident", `UPDATE incidents SET title = $1, description = $2, severity = $3, category = $4,
		phi_suspected = $5, occurred_at = $6, detected_at = $7, updated_at = $8, closed_at = $9, status = $10,
		resolution = $11, commander = $12, customers = $13, not_applicable = $14, version = $15,
		restricted = $16, sla_check_at = CASE WHEN severity <> $3 OR status <> $10 THEN $8 ELSE sla_check_at END
		WHERE id = $17`,
		inc.Title, inc.Description, inc.Severity, inc.Category, inc.PHISuspected, nullTime(inc.OccurredAt),
		inc.DetectedAt, inc.UpdatedAt, nullTime(inc.ClosedAt), inc.Status, inc.Resolution, inc.Commander,
		jsonText(inc.Customers), jsonText(inc.NotApplicable), inc.Version, inc.Restricted, inc.ID)
}

// RefColumn is the column an incident reference names: id when ref is a
// UUID, else number (INC-2026-0042). Resolving the reference before the
// query leaves one equality on one unique column, which every plan answers
// from that column's index. A query on "id = $1 OR number = $1" instead
// kept, as a generic prepared-statement plan made while the table was
// small, a sequential scan of every incident (issue #18).
func RefColumn(ref string) string {
	if _, err := uuid.Parse(ref); err == nil {
		return "id"
	}
	return "number"
}

// incidentByRefSQL reads the incident that ref names, $1.
func incidentByRefSQL(ref string) string {
	return "SELECT " + incidentColumns + " FROM incidents WHERE " + RefColumn(ref) + " = $1"
}

// lockIncidentSQL locks the incident that ref names, $1.
func lockIncidentSQL(ref string) string {
	return "UPDATE incidents SET version = version WHERE " + RefColumn(ref) + " = $1"
}

// lockIncident takes the incident's row lock until the transaction ends, so
// concurrent changes to one incident queue instead of failing (PostgreSQL;
// SQLite's write transaction already excludes other writers). An audited
// write takes no other shared lock (the audit entry is chained after the
// commit, package audit), so this lock cannot deadlock with the chain's.
func lockIncident(ctx context.Context, tx db.Querier, ref string) error {
	if _, err := tx.ExecContext(ctx, lockIncidentSQL(ref), ref); err != nil {
		return fmt.Errorf("lock incident: %w", err)
	}
	return nil
}

// getIncident finds an incident by id or by number among those v may see;
// a nil v sees every incident (Ward's own changes, such as alert intake).
func getIncident(ctx context.Context, q db.Querier, ref string, v *viewer) (Incident, error) {
	args := []any{ref}
	query := incidentByRefSQL(ref)
	if v != nil {
		query += " AND " + v.cond("incidents", binder(&args))
	}
	inc, err := scanIncident(q.QueryRowContext(ctx, query, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return Incident{}, apperr.New(apperr.NotFound, "incident not found")
	}
	if err != nil {
		return Incident{}, fmt.Errorf("get incident: %w", err)
	}
	return inc, nil
}

// Filter selects incidents for List. Empty fields do not filter.
type Filter struct {
	Status       Status
	Severity     Severity
	Category     Category
	PHISuspected *bool
	// Drill, when set, lists only drills (true) or only real incidents
	// (false); nil lists both.
	Drill *bool
	// Text matches an incident whose number it is, or whose title holds
	// every word of it (keys.Words: whole words, any case), through the
	// blind index; a reader who may not see PHI matches numbers only.
	Text          string
	CreatedAfter  *time.Time
	CreatedBefore *time.Time
	Limit         int
	After         *Cursor // the last item of the previous page
	// OmitPHI leaves descriptions out, for views that do not show them
	// (so that they are not read, nor recorded as read; titles are).
	OmitPHI bool
}

// Cursor marks a position in the list, newest first.
type Cursor struct {
	CreatedAt time.Time
	ID        string
}

// binder returns a function that appends a value to args and returns its
// placeholder.
func binder(args *[]any) func(any) string {
	return func(v any) string {
		*args = append(*args, v)
		return "$" + strconv.Itoa(len(*args))
	}
}

// listIncidents lists the incidents v may see that match f; tokens are the
// blind index tokens of f.Text's words, none to match numbers only. A text
// that is an incident's number finds that incident; any other walks the
// index rows of the first word newest first, checking the others by
// their whole key (word, time, incident), so that a page stops as soon
// as it is full however common the word.
func listIncidents(ctx context.Context, q db.Querier, f Filter, tokens []string, v viewer) ([]Incident, error) {
	var args []any
	arg := binder(&args)
	from, at, id := "incidents", "created_at", "id"
	where := []string{v.cond("incidents", arg)}
	if f.Text != "" {
		number := strings.ToUpper(strings.TrimSpace(f.Text))
		var n int
		if err := q.QueryRowContext(ctx, "SELECT count(*) FROM incidents WHERE number = $1", number).Scan(&n); err != nil {
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		switch {
		case n > 0 || len(tokens) == 0:
			where = append(where, "number = "+arg(number))
		default:
			from, at, id = "incidents JOIN incident_title_tokens t ON t.incident_id = incidents.id", "t.incident_created_at", "t.incident_id"
			where = append(where, "t.token = "+arg(tokens[0]))
			for _, tok := range tokens[1:] {
				where = append(where, "EXISTS (SELECT 1 FROM incident_title_tokens o WHERE o.token = "+arg(tok)+
					" AND o.incident_created_at = t.incident_created_at AND o.incident_id = t.incident_id)")
			}
		}
	}
	if f.Status != "" {
		where = append(where, "status = "+arg(f.Status))
	}
	if f.Severity != "" {
		where = append(where, "severity = "+arg(f.Severity))
	}
	if f.Category != "" {
		where = append(where, "category = "+arg(f.Category))
	}
	if f.PHISuspected != nil {
		where = append(where, "phi_suspected = "+arg(*f.PHISuspected))
	}
	if f.Drill != nil {
		where = append(where, "drill = "+arg(*f.Drill))
	}
	// Times are bound in UTC, as they are stored: SQLite compares them as text.
	if f.CreatedAfter != nil {
		where = append(where, at+" >= "+arg(f.CreatedAfter.UTC()))
	}
	if f.CreatedBefore != nil {
		where = append(where, at+" < "+arg(f.CreatedBefore.UTC()))
	}
	if f.After != nil {
		where = append(where, "("+at+", "+id+") < ("+arg(f.After.CreatedAt.UTC())+", "+arg(f.After.ID)+")")
	}
	query := "SELECT " + incidentColumns + " FROM " + from + " WHERE " + strings.Join(where, " AND ")
	query += " ORDER BY " + at + " DESC, " + id + " DESC LIMIT " + arg(f.Limit)
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list incidents: %w", err)
	}
	defer rows.Close()
	out := []Incident{}
	for rows.Next() {
		inc, err := scanIncident(rows)
		if err != nil {
			return nil, fmt.Errorf("list incidents: %w", err)
		}
		out = append(out, inc)
	}
	return out, rows.Err()
}

func insertEvent(ctx context.Context, tx db.Querier, e *Event) error {
	changes := e.Changes
	if changes == nil {
		changes = []Change{}
	}
	return db.Exec(ctx, tx, "insert timeline event", `INSERT INTO incident_events
		(incident_id, seq, id, at, actor, kind, from_status, to_status, note, changes)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		e.IncidentID, e.Seq, e.ID, e.At, e.Actor, e.Kind, e.FromStatus, e.ToStatus, e.Note, jsonText(changes))
}

func listEvents(ctx context.Context, q db.Querier, incidentID string, kind EventKind, afterSeq int64, limit int) ([]Event, error) {
	query := `SELECT incident_id, seq, id, at, actor, kind, from_status, to_status, note, changes
		FROM incident_events WHERE incident_id = $1 AND seq > $2`
	args := []any{incidentID, afterSeq}
	if kind != "" {
		query += " AND kind = $4"
		args = append(args, limit, kind)
	} else {
		args = append(args, limit)
	}
	query += " ORDER BY seq LIMIT $3"
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list timeline: %w", err)
	}
	defer rows.Close()
	out := []Event{}
	for rows.Next() {
		var e Event
		var changes string
		if err := rows.Scan(&e.IncidentID, &e.Seq, &e.ID, &e.At, &e.Actor, &e.Kind, &e.FromStatus, &e.ToStatus,
			&e.Note, &changes); err != nil {
			return nil, fmt.Errorf("list timeline: %w", err)
		}
		e.At = e.At.UTC()
		if err := json.Unmarshal([]byte(changes), &e.Changes); err != nil {
			return nil, fmt.Errorf("decode changes: %w", err)
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

const taskColumns = "id, incident_id, title, owner, due_at, done, done_at, created_at, updated_at, owner_role, phase, " +
	"due_after_phase_start, playbook_id"

func scanTask(s scanner) (Task, error) {
	var t Task
	var due, done sql.NullTime
	var after sql.NullInt64
	var playbook sql.NullString
	if err := s.Scan(&t.ID, &t.IncidentID, &t.Title, &t.Owner, &due, &t.Done, &done, &t.CreatedAt, &t.UpdatedAt, &t.OwnerRole,
		&t.Phase, &after, &playbook); err != nil {
		return Task{}, err
	}
	t.DueAt, t.DoneAt = timePtr(due), timePtr(done)
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	if after.Valid {
		d := time.Duration(after.Int64) * time.Second
		t.DueAfterPhaseStart = &d
	}
	t.PlaybookID = playbook.String
	return t, nil
}

func nullSeconds(d *time.Duration) sql.NullInt64 {
	if d == nil {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: int64(*d / time.Second), Valid: true}
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func insertTask(ctx context.Context, tx db.Querier, t *Task) error {
	_, err := tx.ExecContext(ctx, "INSERT INTO incident_tasks ("+taskColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
		$11, $12, $13)`,
		t.ID, t.IncidentID, t.Title, t.Owner, nullTime(t.DueAt), t.Done, nullTime(t.DoneAt), t.CreatedAt, t.UpdatedAt, t.OwnerRole,
		t.Phase, nullSeconds(t.DueAfterPhaseStart), nullString(t.PlaybookID))
	if err != nil {
		return fmt.Errorf("insert task: %w", err)
	}
	return nil
}

func updateTask(ctx context.Context, tx db.Querier, t *Task) error {
	_, err := tx.ExecContext(ctx, `UPDATE incident_tasks SET title = $1, owner = $2, due_at = $3, done = $4, done_at = $5,
		updated_at = $6, due_after_phase_start = $7 WHERE id = $8`, t.Title, t.Owner, nullTime(t.DueAt), t.Done, nullTime(t.DoneAt),
		t.UpdatedAt, nullSeconds(t.DueAfterPhaseStart), t.ID)
	if err != nil {
		return fmt.Errorf("update task: %w", err)
	}
	return nil
}

func getTask(ctx context.Context, q db.Querier, incidentID, taskID string) (Task, error) {
	t, err := scanTask(q.QueryRowContext(ctx, "SELECT "+taskColumns+" FROM incident_tasks WHERE incident_id = $1 AND id = $2",
		incidentID, taskID))
	if errors.Is(err, sql.ErrNoRows) {
		return Task{}, apperr.New(apperr.NotFound, "task not found")
	}
	if err != nil {
		return Task{}, fmt.Errorf("get task: %w", err)
	}
	return t, nil
}

func listTasks(ctx context.Context, q db.Querier, incidentID string) ([]Task, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+taskColumns+" FROM incident_tasks WHERE incident_id = $1 ORDER BY created_at, id",
		incidentID)
	if err != nil {
		return nil, fmt.Errorf("list tasks: %w", err)
	}
	defer rows.Close()
	out := []Task{}
	for rows.Next() {
		t, err := scanTask(rows)
		if err != nil {
			return nil, fmt.Errorf("list tasks: %w", err)
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RecheckSLATx makes the SLA checker look at incident id again from at
// (sla_check_at): what it owes may have changed, as when its breach case's
// notice obligations do.
func RecheckSLATx(ctx context.Context, q db.Querier, id string, at time.Time) error {
	if _, err := q.ExecContext(ctx, `UPDATE incidents SET sla_check_at = $1 WHERE id = $2
		AND (sla_check_at IS NULL OR sla_check_at > $1)`, at, id); err != nil {
		return fmt.Errorf("schedule SLA check: %w", err)
	}
	return nil
}
