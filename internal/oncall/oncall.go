// Package oncall is the database-free logic of on-call schedules: who is on
// call at an instant, the resolved shifts of a period for a calendar view,
// and an iCalendar feed of one user's shifts.
//
// A Schedule stacks Rotations as layers, the way PagerDuty does: where a
// later layer has someone on call, that person is on call; where it has
// nobody (before its start, after its end, or outside its restriction
// windows) the layers below show through. Overrides sit above all layers.
//
// Daily and weekly hand-offs are wall-clock times in the schedule's time
// zone, so a rotation handing off at 09:00 in America/New_York hands off at
// 09:00 local time on both sides of a daylight-saving change, and the shift
// spanning the change lasts 23 or 25 hours. Hourly rotations hand off every
// so many elapsed hours, whatever the clocks say.
//
// Local times that do not exist or exist twice are resolved as RFC 5545
// section 3.3.5 resolves them: a time inside a spring-forward gap is read
// with the UTC offset in force before the gap, so 02:30 on the night New
// York skips from 02:00 to 03:00 is 03:30 EDT; a time that occurs twice at a
// fall-back is its first occurrence, so 01:30 on the night New York repeats
// 01:00-02:00 is 01:30 EDT.
package oncall

import (
	"fmt"
	"strings"
	"time"

	// The zone database is embedded so that schedules resolve on hosts
	// without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/wardhq/ward/internal/apperr"
)

// MaxShiftLength bounds Rotation.ShiftLength.
const MaxShiftLength = 1000

// RotationKind is the unit in which a rotation's shifts are measured.
type RotationKind string

// The rotation kinds.
const (
	// Hourly shifts last ShiftLength elapsed hours each, counted from
	// Rotation.Start; daylight-saving changes do not move them.
	Hourly RotationKind = "hourly"
	// Daily shifts last ShiftLength calendar days each and hand off at the
	// wall-clock time of day of Rotation.Start.
	Daily RotationKind = "daily"
	// Weekly shifts last ShiftLength weeks each and hand off on the weekday
	// and at the wall-clock time of day of Rotation.Start.
	Weekly RotationKind = "weekly"
)

// Schedule is an on-call schedule. Its zero value has nobody on call. Only
// Validate checks it: elsewhere a rotation that fails validation has nobody
// on call, and an override whose end is not after its start never applies.
type Schedule struct {
	// TimeZone is the zone in which daily and weekly hand-offs and
	// restriction windows are read. Validate requires it; the other methods
	// treat nil as UTC.
	TimeZone *time.Location
	// Rotations are the layers, lowest first: at any instant the last
	// rotation that has someone on call decides who that is.
	Rotations []Rotation
	// Overrides win over every rotation.
	Overrides []Override
}

// Rotation is one layer of a schedule: Participants take turns, one shift
// each, in order, starting with Participants[0] at Start.
type Rotation struct {
	// Name identifies the rotation in resolved shifts; it must be unique
	// within its schedule.
	Name string
	// Kind is the unit of ShiftLength.
	Kind RotationKind
	// ShiftLength is the number of Kind units in one shift: Weekly with 2 is
	// a fortnightly rotation, Hourly with 12 hands off twice a day.
	ShiftLength int
	// Start is the first hand-off. For Daily and Weekly rotations its
	// wall-clock time of day (and, for Weekly, its weekday) in the schedule's
	// zone anchors every later hand-off; a Schedule passes its TimeZone to
	// ShiftAt and NextHandoffs as loc.
	Start time.Time
	// End, when set, ends the rotation: nobody is on call from it at or after
	// End, and the shift running at End is cut short there.
	End time.Time
	// Participants are user ids in rotation order; a user may appear more
	// than once.
	Participants []string
	// Restrict, when not empty, limits the rotation to these windows: outside
	// all of them the rotation has nobody on call, and the layers below show
	// through. Restrictions hide parts of shifts; they do not move hand-offs.
	Restrict []Window
}

// Window is a recurring period of local wall-clock time, such as weekdays
// from 09:00 to 17:00.
type Window struct {
	// Days are the weekdays on which the window opens; empty means every day.
	Days []time.Weekday
	// Start is the local time of day at which the window opens, as the time
	// since midnight: 9*time.Hour is 09:00. It must be in [0, 24h).
	Start time.Duration
	// End is the local time of day at which the window closes, in (0, 24h];
	// 24*time.Hour is the midnight ending the day. An End before Start
	// closes the window on the following day, so Start 22h and End 6h is
	// overnight. End must differ from Start. Times skipped or repeated by a
	// daylight-saving change resolve as the package documentation says.
	End time.Duration
}

// Override puts User on call from Start until End.
type Override struct {
	Start time.Time
	End   time.Time
	// User is the user put on call.
	User string
	// Replaces, when empty, adds User to whoever else is on call. Otherwise
	// User takes the place of Replaces wherever the rotations have Replaces
	// on call during the override, and the override has no effect elsewhere.
	// Where several replacing overrides for the same user overlap, the last
	// one in Schedule.Overrides wins.
	Replaces string
}

// Shift is a period during which one user is on call.
type Shift struct {
	User  string
	Start time.Time
	End   time.Time
	// Rotation is the name of the rotation the shift comes from: for an
	// override replacing a user, the rotation of the replaced user; empty
	// for an override that adds a user.
	Rotation string
	// Override reports whether the shift comes from an override.
	Override bool
}

// Validate checks the schedule and reports every problem, each naming its
// field, in one *apperr.Error with code Invalid.
func (s Schedule) Validate() error {
	var v validator
	if s.TimeZone == nil {
		v.add("time_zone", "must be set")
	}
	names := map[string]int{}
	for i, r := range s.Rotations {
		p := fmt.Sprintf("rotations[%d]", i)
		r.validate(&v, p)
		if j, dup := names[r.Name]; dup && r.Name != "" {
			v.add(p+".name", "duplicates rotations[%d].name", j)
		} else {
			names[r.Name] = i
		}
	}
	for i, o := range s.Overrides {
		p := fmt.Sprintf("overrides[%d]", i)
		if o.User == "" {
			v.add(p+".user", "must not be empty")
		}
		if o.Replaces != "" && o.Replaces == o.User {
			v.add(p+".replaces", "must differ from user")
		}
		if o.Start.IsZero() {
			v.add(p+".start", "must be set")
		}
		if !o.End.After(o.Start) {
			v.add(p+".end", "must be after start")
		}
	}
	return v.err()
}

func (r Rotation) validate(v *validator, p string) {
	if r.Name == "" {
		v.add(p+".name", "must not be empty")
	}
	switch r.Kind {
	case Hourly, Daily, Weekly:
	default:
		v.add(p+".kind", "must be %q, %q or %q", Hourly, Daily, Weekly)
	}
	if r.ShiftLength < 1 || r.ShiftLength > MaxShiftLength {
		v.add(p+".shift_length", "must be between 1 and %d", MaxShiftLength)
	}
	if r.Start.IsZero() {
		v.add(p+".start", "must be set")
	}
	if !r.End.IsZero() && !r.End.After(r.Start) {
		v.add(p+".end", "must be after start")
	}
	if len(r.Participants) == 0 {
		v.add(p+".participants", "must not be empty")
	}
	for j, u := range r.Participants {
		if u == "" {
			v.add(fmt.Sprintf("%s.participants[%d]", p, j), "must not be empty")
		}
	}
	for j, w := range r.Restrict {
		wp := fmt.Sprintf("%s.restrict[%d]", p, j)
		seen := map[time.Weekday]bool{}
		for k, d := range w.Days {
			switch {
			case d < time.Sunday || d > time.Saturday:
				v.add(fmt.Sprintf("%s.days[%d]", wp, k), "must be a weekday from 0 (Sunday) to 6 (Saturday)")
			case seen[d]:
				v.add(fmt.Sprintf("%s.days[%d]", wp, k), "repeats %s", d)
			}
			seen[d] = true
		}
		if w.Start < 0 || w.Start >= 24*time.Hour {
			v.add(wp+".start", "must be a time of day from 00:00 to before 24:00")
		}
		if w.End <= 0 || w.End > 24*time.Hour {
			v.add(wp+".end", "must be a time of day after 00:00 and at most 24:00")
		} else if w.End == w.Start {
			v.add(wp+".end", "must differ from start")
		}
	}
}

type validator struct{ fields []apperr.FieldError }

func (v *validator) add(field, format string, args ...any) {
	v.fields = append(v.fields, apperr.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (v *validator) err() error {
	if len(v.fields) == 0 {
		return nil
	}
	msgs := make([]string, len(v.fields))
	for i, f := range v.fields {
		msgs[i] = f.Field + ": " + f.Message
	}
	return &apperr.Error{Code: apperr.Invalid, Message: strings.Join(msgs, "; "), Fields: v.fields}
}
