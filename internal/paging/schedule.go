package paging

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/oncall"
)

// RotationSpec is a rotation as stored and as the API shows it (package
// oncall has the semantics).
type RotationSpec struct {
	Name         string       `json:"name"`
	Kind         string       `json:"kind"` // hourly, daily or weekly
	ShiftLength  int          `json:"shift_length"`
	Start        time.Time    `json:"start"`
	End          *time.Time   `json:"end,omitempty"`
	Participants []string     `json:"participants"`
	Restrict     []WindowSpec `json:"restrict,omitempty"`
}

// WindowSpec limits a rotation to part of the week: on Days (mon … sun;
// empty: every day) from Start to End, local times "09:00" and "17:00"
// (End "24:00" is midnight; an End before Start runs past midnight).
type WindowSpec struct {
	Days  []string `json:"days,omitempty"`
	Start string   `json:"start"`
	End   string   `json:"end"`
}

// Schedule is an on-call schedule.
type Schedule struct {
	ID          string
	Name        string
	Description string
	TimeZone    string
	Rotations   []RotationSpec
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Version     int64
}

// ScheduleInput is a new schedule or the whole of an edited one.
// Participants may be user ids or usernames; they are stored as ids.
type ScheduleInput struct {
	Name        string
	Description string
	TimeZone    string
	Rotations   []RotationSpec
}

// Override puts User on call from Start to End instead of Replaces, or
// beside whoever is on call when Replaces is empty (a temporary shift).
type Override struct {
	ID         string
	ScheduleID string
	User       string
	Replaces   string
	Start      time.Time
	End        time.Time
	CreatedBy  string
	CreatedAt  time.Time
}

var weekdays = map[string]time.Weekday{"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday}

// clockTime parses "HH:MM" (00:00 to 24:00).
func clockTime(s string) (time.Duration, bool) {
	h, m, ok := strings.Cut(s, ":")
	if !ok || len(h) != 2 || len(m) != 2 {
		return 0, false
	}
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if err1 != nil || err2 != nil || hh < 0 || hh > 24 || mm < 0 || mm > 59 || hh == 24 && mm != 0 {
		return 0, false
	}
	return time.Duration(hh)*time.Hour + time.Duration(mm)*time.Minute, true
}

// model turns stored rotations into package oncall's, checking what only
// the stored form can get wrong.
func model(specs []RotationSpec) ([]oncall.Rotation, error) {
	out := make([]oncall.Rotation, len(specs))
	for i, r := range specs {
		p := "rotations[" + strconv.Itoa(i) + "]"
		rot := oncall.Rotation{Name: r.Name, Kind: oncall.RotationKind(r.Kind), ShiftLength: r.ShiftLength,
			Start: r.Start, Participants: r.Participants}
		if r.End != nil {
			rot.End = *r.End
		}
		for j, w := range r.Restrict {
			wp := p + ".restrict[" + strconv.Itoa(j) + "]"
			var win oncall.Window
			for k, d := range w.Days {
				wd, ok := weekdays[strings.ToLower(d)]
				if !ok {
					return nil, apperr.Field(wp+".days["+strconv.Itoa(k)+"]", "%q is not one of mon, tue, wed, thu, fri, sat, sun", d)
				}
				win.Days = append(win.Days, wd)
			}
			var ok bool
			if win.Start, ok = clockTime(w.Start); !ok {
				return nil, apperr.Field(wp+".start", "%q is not a time of day like 09:00", w.Start)
			}
			if win.End, ok = clockTime(w.End); !ok {
				return nil, apperr.Field(wp+".end", "%q is not a time of day like 17:00", w.End)
			}
			rot.Restrict = append(rot.Restrict, win)
		}
		out[i] = rot
	}
	return out, nil
}

// resolveUser returns the id of the active user ref (id or username).
func resolveUser(ctx context.Context, q db.Querier, field, ref string) (string, error) {
	var id string
	var disabled bool
	err := q.QueryRowContext(ctx, `SELECT id, disabled FROM users WHERE id = $1 OR username = $1`, ref).Scan(&id, &disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return "", apperr.Field(field, "no user %q", ref)
	}
	if err != nil {
		return "", fmt.Errorf("read user: %w", err)
	}
	if disabled {
		return "", apperr.Field(field, "user %q is disabled", ref)
	}
	return id, nil
}

func (in *ScheduleInput) validate(ctx context.Context, q db.Querier) error {
	in.Name = strings.TrimSpace(in.Name)
	switch n := len([]rune(in.Name)); {
	case n == 0:
		return apperr.Field("name", "is required")
	case n > MaxName:
		return apperr.Field("name", "is %d characters long; the limit is %d", n, MaxName)
	}
	if n := len([]rune(in.Description)); n > MaxDescription {
		return apperr.Field("description", "is %d characters long; the limit is %d", n, MaxDescription)
	}
	loc, err := time.LoadLocation(in.TimeZone)
	if err != nil || in.TimeZone == "" || strings.EqualFold(in.TimeZone, "local") {
		return apperr.Field("time_zone", "%q is not an IANA time zone such as America/New_York", in.TimeZone)
	}
	if len(in.Rotations) == 0 {
		return apperr.Field("rotations", "must have at least one rotation")
	}
	for i := range in.Rotations {
		for j, u := range in.Rotations[i].Participants {
			id, err := resolveUser(ctx, q, "rotations["+strconv.Itoa(i)+"].participants["+strconv.Itoa(j)+"]", u)
			if err != nil {
				return err
			}
			in.Rotations[i].Participants[j] = id
		}
	}
	rots, err := model(in.Rotations)
	if err != nil {
		return err
	}
	return oncall.Schedule{TimeZone: loc, Rotations: rots}.Validate()
}

const scheduleColumns = "id, name, description, time_zone, rotations, created_at, updated_at, version"

func scanSchedule(r scanner) (Schedule, error) {
	var s Schedule
	var rots string
	if err := r.Scan(&s.ID, &s.Name, &s.Description, &s.TimeZone, &rots, &s.CreatedAt, &s.UpdatedAt, &s.Version); err != nil {
		return Schedule{}, err
	}
	s.CreatedAt, s.UpdatedAt = s.CreatedAt.UTC(), s.UpdatedAt.UTC()
	if err := json.Unmarshal([]byte(rots), &s.Rotations); err != nil {
		return Schedule{}, fmt.Errorf("schedule %s: rotations: %w", s.ID, err)
	}
	return s, nil
}

func getSchedule(ctx context.Context, q db.Querier, ref string) (Schedule, error) {
	s, err := scanSchedule(q.QueryRowContext(ctx, `SELECT `+scheduleColumns+` FROM schedules WHERE id = $1 OR name = $1`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return Schedule{}, apperr.New(apperr.NotFound, "no schedule %q", ref)
	}
	if err != nil {
		return Schedule{}, fmt.Errorf("read schedule: %w", err)
	}
	return s, nil
}

// CreateSchedule records a new schedule.
func (p *Pager) CreateSchedule(ctx context.Context, in ScheduleInput) (Schedule, error) {
	return p.saveSchedule(ctx, "", in)
}

// UpdateSchedule replaces the schedule ref (id or name); its overrides
// stay.
func (p *Pager) UpdateSchedule(ctx context.Context, ref string, in ScheduleInput) (Schedule, error) {
	return p.saveSchedule(ctx, ref, in)
}

func (p *Pager) saveSchedule(ctx context.Context, ref string, in ScheduleInput) (Schedule, error) {
	var out Schedule
	err := p.db.Write(ctx, func(tx *sql.Tx) (err error) {
		out, err = SaveScheduleTx(ctx, tx, p.clock.Now(), ref, in)
		return err
	})
	return out, err
}

// SaveScheduleTx creates a schedule (ref empty) or replaces the schedule
// ref (id or name) in tx, with the same checks and audit entry as
// CreateSchedule and UpdateSchedule.
func SaveScheduleTx(ctx context.Context, tx *sql.Tx, now time.Time, ref string, in ScheduleInput) (Schedule, error) {
	if _, err := authz.Check(ctx, authz.OnCallWrite); err != nil {
		return Schedule{}, err
	}
	if err := in.validate(ctx, tx); err != nil {
		return Schedule{}, err
	}
	rots, err := json.Marshal(in.Rotations)
	if err != nil {
		return Schedule{}, err
	}
	action := "schedule.create"
	var old *Schedule
	var out Schedule
	if ref == "" {
		out = Schedule{ID: newID(), CreatedAt: now, Version: 1}
	} else {
		prev, err := getSchedule(ctx, tx, ref)
		if err != nil {
			return Schedule{}, err
		}
		old, out, action = &prev, prev, "schedule.update"
		out.Version++
	}
	out.Name, out.Description, out.TimeZone, out.Rotations, out.UpdatedAt = in.Name, in.Description, in.TimeZone, in.Rotations, now
	if old == nil {
		_, err = tx.ExecContext(ctx, `INSERT INTO schedules (`+scheduleColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			out.ID, out.Name, out.Description, out.TimeZone, string(rots), out.CreatedAt, out.UpdatedAt, out.Version)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE schedules SET name = $1, description = $2, time_zone = $3, rotations = $4,
			updated_at = $5, version = $6 WHERE id = $7`,
			out.Name, out.Description, out.TimeZone, string(rots), out.UpdatedAt, out.Version, out.ID)
	}
	if db.IsUniqueViolation(err) {
		return Schedule{}, apperr.Field("name", "a schedule named %q exists already", out.Name)
	}
	if err != nil {
		return Schedule{}, fmt.Errorf("save schedule: %w", err)
	}
	_, err = audit.Append(ctx, tx, now, audit.Event{Action: action, ObjectType: "schedule", ObjectID: out.ID,
		Change: map[string]any{"old": old, "new": out}})
	return out, err
}

// DeleteScheduleTx deletes the schedule ref (id or name) in tx, audited.
// A schedule that overrides still point to is refused; escalation
// policies name schedules inside their steps, so the caller checks those.
func DeleteScheduleTx(ctx context.Context, tx *sql.Tx, now time.Time, ref string) error {
	if _, err := authz.Check(ctx, authz.OnCallWrite); err != nil {
		return err
	}
	old, err := getSchedule(ctx, tx, ref)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM schedules WHERE id = $1`, old.ID)
	if db.IsForeignKeyViolation(err) {
		return apperr.New(apperr.Conflict, "schedule %q still has overrides or on-call records; it is kept", old.Name)
	}
	if err != nil {
		return fmt.Errorf("delete schedule %q: %w", old.Name, err)
	}
	_, err = audit.Append(ctx, tx, now, audit.Event{Action: "schedule.delete", ObjectType: "schedule", ObjectID: old.ID,
		Change: map[string]any{"old": old}})
	return err
}

// GetSchedule returns the schedule ref (id or name).
func (p *Pager) GetSchedule(ctx context.Context, ref string) (Schedule, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return Schedule{}, err
	}
	return getSchedule(ctx, p.db.R, ref)
}

// Schedules lists every schedule by name.
func (p *Pager) Schedules(ctx context.Context) ([]Schedule, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	rows, err := p.db.R.QueryContext(ctx, `SELECT `+scheduleColumns+` FROM schedules ORDER BY name`)
	return db.Collect(rows, err, "list schedules", func(r *sql.Rows) (Schedule, error) { return scanSchedule(r) })
}

// MaxOverride is the longest override.
const MaxOverride = 90 * 24 * time.Hour

// CreateOverride puts a user on call in schedule ref for a while.
func (p *Pager) CreateOverride(ctx context.Context, ref string, in Override) (Override, error) {
	actor, err := authz.Check(ctx, authz.OnCallWrite)
	if err != nil {
		return Override{}, err
	}
	if in.Start.IsZero() {
		return Override{}, apperr.Field("start", "is required")
	}
	if !in.End.After(in.Start) {
		return Override{}, apperr.Field("end", "must be after start")
	}
	if in.End.Sub(in.Start) > MaxOverride {
		return Override{}, apperr.Field("end", "makes the override longer than the limit of %d days", int(MaxOverride.Hours()/24))
	}
	now := p.clock.Now()
	out := Override{ID: newID(), Start: in.Start.UTC(), End: in.End.UTC(), CreatedBy: actor.String(), CreatedAt: now}
	err = p.db.Write(ctx, func(tx *sql.Tx) error {
		s, err := getSchedule(ctx, tx, ref)
		if err != nil {
			return err
		}
		out.ScheduleID = s.ID
		if out.User, err = resolveUser(ctx, tx, "user", in.User); err != nil {
			return err
		}
		if in.Replaces != "" {
			if out.Replaces, err = resolveUser(ctx, tx, "replaces", in.Replaces); err != nil {
				return err
			}
			if out.Replaces == out.User {
				return apperr.Field("replaces", "must differ from user")
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO schedule_overrides (id, schedule_id, user_id, replaces, starts_at, ends_at,
			created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			out.ID, out.ScheduleID, out.User, out.Replaces, out.Start, out.End, out.CreatedBy, out.CreatedAt); err != nil {
			return fmt.Errorf("insert override: %w", err)
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "schedule.override_create", ObjectType: "schedule", ObjectID: s.ID, Change: out})
		return err
	})
	if err != nil {
		return Override{}, err
	}
	return out, nil
}

// DeleteOverride removes an override.
func (p *Pager) DeleteOverride(ctx context.Context, id string) error {
	if _, err := authz.Check(ctx, authz.OnCallWrite); err != nil {
		return err
	}
	now := p.clock.Now()
	return p.db.Write(ctx, func(tx *sql.Tx) error {
		var scheduleID string
		err := tx.QueryRowContext(ctx, `DELETE FROM schedule_overrides WHERE id = $1 RETURNING schedule_id`, id).Scan(&scheduleID)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.NotFound, "no override %q", id)
		}
		if err != nil {
			return fmt.Errorf("delete override: %w", err)
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "schedule.override_delete", ObjectType: "schedule", ObjectID: scheduleID,
			Change: map[string]string{"override_id": id}})
		return err
	})
}

// overrides returns schedule id's overrides that overlap [from, to).
func overrides(ctx context.Context, q db.Querier, id string, from, to time.Time) ([]Override, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, schedule_id, user_id, replaces, starts_at, ends_at, created_by, created_at
		FROM schedule_overrides WHERE schedule_id = $1 AND ends_at > $2 AND starts_at < $3 ORDER BY created_at, id`, id, from, to)
	if err != nil {
		return nil, fmt.Errorf("read overrides: %w", err)
	}
	defer rows.Close()
	var out []Override
	for rows.Next() {
		var o Override
		if err := rows.Scan(&o.ID, &o.ScheduleID, &o.User, &o.Replaces, &o.Start, &o.End, &o.CreatedBy, &o.CreatedAt); err != nil {
			return nil, err
		}
		o.Start, o.End, o.CreatedAt = o.Start.UTC(), o.End.UTC(), o.CreatedAt.UTC()
		out = append(out, o)
	}
	return out, rows.Err()
}

// Overrides lists schedule ref's overrides that overlap [from, to).
func (p *Pager) Overrides(ctx context.Context, ref string, from, to time.Time) ([]Override, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	s, err := getSchedule(ctx, p.db.R, ref)
	if err != nil {
		return nil, err
	}
	return overrides(ctx, p.db.R, s.ID, from, to)
}

// resolved is schedule s with its overrides in [from, to), ready to ask.
func resolved(ctx context.Context, q db.Querier, s Schedule, from, to time.Time) (oncall.Schedule, error) {
	loc, err := time.LoadLocation(s.TimeZone)
	if err != nil {
		return oncall.Schedule{}, fmt.Errorf("schedule %s: time zone: %w", s.ID, err)
	}
	rots, err := model(s.Rotations)
	if err != nil {
		return oncall.Schedule{}, fmt.Errorf("schedule %s: %w", s.ID, err)
	}
	ovs, err := overrides(ctx, q, s.ID, from, to)
	if err != nil {
		return oncall.Schedule{}, err
	}
	out := oncall.Schedule{TimeZone: loc, Rotations: rots}
	for _, o := range ovs {
		out.Overrides = append(out.Overrides, oncall.Override{Start: o.Start, End: o.End, User: o.User, Replaces: o.Replaces})
	}
	return out, nil
}

// onCall returns the ids of the users on call in schedule id at t.
func onCall(ctx context.Context, q db.Querier, id string, t time.Time) ([]string, error) {
	s, err := getSchedule(ctx, q, id)
	if err != nil {
		return nil, err
	}
	m, err := resolved(ctx, q, s, t, t.Add(time.Nanosecond))
	if err != nil {
		return nil, err
	}
	return m.OnCallAt(t), nil
}

// OnCall returns the ids of the users on call in schedule ref at t.
func (p *Pager) OnCall(ctx context.Context, ref string, t time.Time) ([]string, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	return onCall(ctx, p.db.R, ref, t)
}

// MaxShiftsRange is the longest range Shifts answers for.
const MaxShiftsRange = 366 * 24 * time.Hour

// Shifts returns schedule ref's resolved shifts in [from, to), for the
// calendar.
func (p *Pager) Shifts(ctx context.Context, ref string, from, to time.Time) ([]oncall.Shift, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	if !to.After(from) || to.Sub(from) > MaxShiftsRange {
		return nil, apperr.Field("to", "must be after from and at most %d days later", int(MaxShiftsRange.Hours()/24))
	}
	s, err := getSchedule(ctx, p.db.R, ref)
	if err != nil {
		return nil, err
	}
	m, err := resolved(ctx, p.db.R, s, from, to)
	if err != nil {
		return nil, err
	}
	return m.Shifts(from, to), nil
}

// UserCalendar is user ref's shifts in every schedule from 30 days ago to
// 90 days ahead, as an iCalendar feed (RFC 5545).
func (p *Pager) UserCalendar(ctx context.Context, ref, uidDomain string) ([]byte, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	userID, err := resolveUser(ctx, p.db.R, "user", ref)
	if err != nil {
		return nil, err
	}
	now := p.clock.Now()
	from, to := now.Add(-30*24*time.Hour), now.Add(90*24*time.Hour)
	scheds, err := p.Schedules(ctx)
	if err != nil {
		return nil, err
	}
	var shifts []oncall.Shift
	for _, s := range scheds {
		m, err := resolved(ctx, p.db.R, s, from, to)
		if err != nil {
			return nil, err
		}
		for _, sh := range m.Shifts(from, to) {
			sh.Rotation = s.Name + " / " + sh.Rotation
			shifts = append(shifts, sh)
		}
	}
	return oncall.ICalendar("Ward on-call", shifts, userID, now, uidDomain), nil
}
