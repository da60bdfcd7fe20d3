package oncall_test

import (
	"testing"
	"time"

	"github.com/wardhq/ward/internal/oncall"
)

func load(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("LoadLocation(%q): %v", name, err)
	}
	return loc
}

// wall returns the instant at which clocks in loc show the given time; the
// tests only call it for times that exist exactly once.
func wall(loc *time.Location, y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, loc)
}

func TestShiftAt(t *testing.T) {
	ny := load(t, "America/New_York")
	london := load(t, "Europe/London")
	abc := []string{"a", "b", "c"}
	daily := oncall.Rotation{Name: "daily", Kind: oncall.Daily, ShiftLength: 1, Start: wall(ny, 2026, 1, 5, 9, 0), Participants: abc}
	threeDays := daily
	threeDays.ShiftLength = 3
	weekly := oncall.Rotation{Name: "weekly", Kind: oncall.Weekly, ShiftLength: 1, Start: wall(ny, 2026, 1, 5, 9, 0), Participants: abc}
	fortnightly := weekly
	fortnightly.ShiftLength = 2
	hourly := oncall.Rotation{Name: "hourly", Kind: oncall.Hourly, ShiftLength: 12, Start: wall(ny, 2026, 1, 5, 9, 0), Participants: []string{"a", "b"}}
	hourlyDST := hourly
	hourlyDST.Start = wall(ny, 2026, 3, 7, 9, 0)
	ended := daily
	ended.End = wall(ny, 2026, 1, 10, 12, 0)
	twice := daily
	twice.Participants = []string{"a", "a", "b"}
	springNY := oncall.Rotation{Name: "d", Kind: oncall.Daily, ShiftLength: 1, Start: wall(ny, 2026, 3, 1, 9, 0), Participants: []string{"a", "b"}}
	fallNY := springNY
	fallNY.Start = wall(ny, 2026, 10, 25, 9, 0)
	weeklyNY := oncall.Rotation{Name: "w", Kind: oncall.Weekly, ShiftLength: 1, Start: wall(ny, 2026, 3, 2, 9, 0), Participants: []string{"a", "b"}}
	springLondon := springNY
	springLondon.Start = wall(london, 2026, 3, 22, 9, 0)
	fallLondon := springNY
	fallLondon.Start = wall(london, 2026, 10, 18, 9, 0)
	gap := springNY
	gap.Start = wall(ny, 2026, 3, 1, 2, 30)
	fold := springNY
	fold.Start = wall(ny, 2026, 10, 25, 1, 30)
	utc := func(y int, m time.Month, d, h, min int) time.Time { return time.Date(y, m, d, h, min, 0, 0, time.UTC) }

	tests := []struct {
		name       string
		r          oncall.Rotation
		loc        *time.Location
		at         time.Time
		user       string
		start, end time.Time
		ok         bool
	}{
		{"first shift starts at Start", daily, ny, wall(ny, 2026, 1, 5, 9, 0), "a", wall(ny, 2026, 1, 5, 9, 0), wall(ny, 2026, 1, 6, 9, 0), true},
		{"end is exclusive", daily, ny, wall(ny, 2026, 1, 6, 9, 0).Add(-time.Nanosecond), "a", wall(ny, 2026, 1, 5, 9, 0), wall(ny, 2026, 1, 6, 9, 0), true},
		{"hand-off is inclusive", daily, ny, wall(ny, 2026, 1, 6, 9, 0), "b", wall(ny, 2026, 1, 6, 9, 0), wall(ny, 2026, 1, 7, 9, 0), true},
		{"wraps round the participants", daily, ny, wall(ny, 2026, 1, 8, 10, 0), "a", wall(ny, 2026, 1, 8, 9, 0), wall(ny, 2026, 1, 9, 9, 0), true},
		{"before the first hand-off of the day", daily, ny, wall(ny, 2026, 1, 8, 8, 0), "c", wall(ny, 2026, 1, 7, 9, 0), wall(ny, 2026, 1, 8, 9, 0), true},
		{"before Start", daily, ny, wall(ny, 2026, 1, 5, 8, 59), "", time.Time{}, time.Time{}, false},
		{"a century on", daily, ny, wall(ny, 2126, 1, 5, 10, 0), abc[36524%3], wall(ny, 2126, 1, 5, 9, 0), wall(ny, 2126, 1, 6, 9, 0), true},
		{"three-day shifts", threeDays, ny, wall(ny, 2026, 1, 8, 9, 0), "b", wall(ny, 2026, 1, 8, 9, 0), wall(ny, 2026, 1, 11, 9, 0), true},
		{"three-day shift, last evening", threeDays, ny, wall(ny, 2026, 1, 7, 23, 0), "a", wall(ny, 2026, 1, 5, 9, 0), wall(ny, 2026, 1, 8, 9, 0), true},
		{"weekly", weekly, ny, wall(ny, 2026, 1, 14, 3, 0), "b", wall(ny, 2026, 1, 12, 9, 0), wall(ny, 2026, 1, 19, 9, 0), true},
		{"fortnightly", fortnightly, ny, wall(ny, 2026, 1, 20, 3, 0), "b", wall(ny, 2026, 1, 19, 9, 0), wall(ny, 2026, 2, 2, 9, 0), true},
		{"hourly", hourly, ny, wall(ny, 2026, 1, 6, 8, 0), "b", wall(ny, 2026, 1, 5, 21, 0), wall(ny, 2026, 1, 6, 9, 0), true},
		{"hourly counts elapsed hours across DST", hourlyDST, ny, wall(ny, 2026, 3, 8, 11, 0), "a", wall(ny, 2026, 3, 8, 10, 0), wall(ny, 2026, 3, 8, 22, 0), true},
		{"hourly in another zone is the same", hourlyDST, london, wall(ny, 2026, 3, 8, 11, 0), "a", wall(ny, 2026, 3, 8, 10, 0), wall(ny, 2026, 3, 8, 22, 0), true},
		{"last shift is cut at End", ended, ny, wall(ny, 2026, 1, 10, 11, 0), "c", wall(ny, 2026, 1, 10, 9, 0), wall(ny, 2026, 1, 10, 12, 0), true},
		{"at End", ended, ny, wall(ny, 2026, 1, 10, 12, 0), "", time.Time{}, time.Time{}, false},
		{"after End", ended, ny, wall(ny, 2026, 2, 1, 0, 0), "", time.Time{}, time.Time{}, false},
		{"user listed twice takes both turns", twice, ny, wall(ny, 2026, 1, 6, 12, 0), "a", wall(ny, 2026, 1, 6, 9, 0), wall(ny, 2026, 1, 7, 9, 0), true},
		{"New York spring forward: 23h shift", springNY, ny, wall(ny, 2026, 3, 7, 12, 0), "a", wall(ny, 2026, 3, 7, 9, 0), wall(ny, 2026, 3, 8, 9, 0), true},
		{"New York after spring forward", springNY, ny, wall(ny, 2026, 3, 8, 9, 0), "b", wall(ny, 2026, 3, 8, 9, 0), wall(ny, 2026, 3, 9, 9, 0), true},
		{"New York fall back: 25h shift", fallNY, ny, wall(ny, 2026, 10, 31, 12, 0), "a", wall(ny, 2026, 10, 31, 9, 0), wall(ny, 2026, 11, 1, 9, 0), true},
		{"New York weekly across spring forward", weeklyNY, ny, wall(ny, 2026, 3, 8, 12, 0), "a", wall(ny, 2026, 3, 2, 9, 0), wall(ny, 2026, 3, 9, 9, 0), true},
		{"London spring forward: 23h shift", springLondon, london, wall(london, 2026, 3, 28, 12, 0), "a", wall(london, 2026, 3, 28, 9, 0), wall(london, 2026, 3, 29, 9, 0), true},
		{"London fall back: 25h shift", fallLondon, london, wall(london, 2026, 10, 24, 12, 0), "a", wall(london, 2026, 10, 24, 9, 0), wall(london, 2026, 10, 25, 9, 0), true},
		{"hand-off in the spring-forward gap moves an hour later", gap, ny, utc(2026, 3, 8, 12, 0), "b", utc(2026, 3, 8, 7, 30), wall(ny, 2026, 3, 9, 2, 30), true},
		{"shift before the gap ends at 03:30 EDT", gap, ny, utc(2026, 3, 8, 7, 0), "a", wall(ny, 2026, 3, 7, 2, 30), utc(2026, 3, 8, 7, 30), true},
		{"hand-off at a repeated time is the first 01:30", fold, ny, utc(2026, 11, 1, 6, 0), "b", utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30), true},
		{"same daily rotation read in London hands off at 14:00 there", daily, london, wall(london, 2026, 1, 6, 15, 0), "b", wall(london, 2026, 1, 6, 9, 0).Add(5 * time.Hour), wall(london, 2026, 1, 7, 9, 0).Add(5 * time.Hour), true},
		{"no participants", oncall.Rotation{Kind: oncall.Daily, ShiftLength: 1, Start: wall(ny, 2026, 1, 5, 9, 0)}, ny, wall(ny, 2026, 1, 6, 9, 0), "", time.Time{}, time.Time{}, false},
		{"unknown kind", oncall.Rotation{Kind: "monthly", ShiftLength: 1, Start: wall(ny, 2026, 1, 5, 9, 0), Participants: abc}, ny, wall(ny, 2026, 1, 6, 9, 0), "", time.Time{}, time.Time{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			user, start, end, ok := tc.r.ShiftAt(tc.at, tc.loc)
			if user != tc.user || !start.Equal(tc.start) || !end.Equal(tc.end) || ok != tc.ok {
				t.Fatalf("ShiftAt(%v) = %q [%v, %v) %v; want %q [%v, %v) %v",
					tc.at, user, start, end, ok, tc.user, tc.start, tc.end, tc.ok)
			}
		})
	}
}

func TestShiftAtDSTLengthsAndLocalHandoff(t *testing.T) {
	for _, tc := range []struct {
		zone  string
		start time.Time // a hand-off of a daily 09:00 rotation the day before the change
		want  time.Duration
	}{
		{"America/New_York", time.Date(2026, 3, 7, 9, 0, 0, 0, time.UTC), 23 * time.Hour},
		{"America/New_York", time.Date(2026, 10, 31, 9, 0, 0, 0, time.UTC), 25 * time.Hour},
		{"Europe/London", time.Date(2026, 3, 28, 9, 0, 0, 0, time.UTC), 23 * time.Hour},
		{"Europe/London", time.Date(2026, 10, 24, 9, 0, 0, 0, time.UTC), 25 * time.Hour},
	} {
		loc := load(t, tc.zone)
		first := time.Date(tc.start.Year(), tc.start.Month(), tc.start.Day()-10, 9, 0, 0, 0, loc)
		r := oncall.Rotation{Name: "d", Kind: oncall.Daily, ShiftLength: 1, Start: first, Participants: []string{"a"}}
		at := time.Date(tc.start.Year(), tc.start.Month(), tc.start.Day(), 12, 0, 0, 0, loc)
		_, start, end, ok := r.ShiftAt(at, loc)
		if !ok {
			t.Fatalf("%s %v: nobody on call", tc.zone, at)
		}
		if got := end.Sub(start); got != tc.want {
			t.Errorf("%s: shift [%v, %v) lasts %v, want %v", tc.zone, start, end, got, tc.want)
		}
		for _, h := range []time.Time{start, end} {
			if l := h.In(loc); l.Hour() != 9 || l.Minute() != 0 {
				t.Errorf("%s: hand-off at %v local, want 09:00", tc.zone, l)
			}
		}
	}
}

func TestNextHandoffs(t *testing.T) {
	ny := load(t, "America/New_York")
	daily := oncall.Rotation{Name: "d", Kind: oncall.Daily, ShiftLength: 1, Start: wall(ny, 2026, 3, 6, 9, 0), Participants: []string{"a", "b"}}
	ended := daily
	ended.End = wall(ny, 2026, 3, 8, 9, 0)
	hourly := oncall.Rotation{Name: "h", Kind: oncall.Hourly, ShiftLength: 8, Start: wall(ny, 2026, 3, 7, 16, 0), Participants: []string{"a"}}
	weekly := oncall.Rotation{Name: "w", Kind: oncall.Weekly, ShiftLength: 2, Start: wall(ny, 2026, 3, 2, 9, 0), Participants: []string{"a"}}

	tests := []struct {
		name  string
		r     oncall.Rotation
		after time.Time
		n     int
		want  []time.Time
	}{
		{"before Start gives Start first", daily, wall(ny, 2026, 1, 1, 0, 0), 3, []time.Time{wall(ny, 2026, 3, 6, 9, 0), wall(ny, 2026, 3, 7, 9, 0), wall(ny, 2026, 3, 8, 9, 0)}},
		{"strictly after a hand-off", daily, wall(ny, 2026, 3, 7, 9, 0), 2, []time.Time{wall(ny, 2026, 3, 8, 9, 0), wall(ny, 2026, 3, 9, 9, 0)}},
		{"mid-shift", daily, wall(ny, 2026, 3, 7, 20, 0), 1, []time.Time{wall(ny, 2026, 3, 8, 9, 0)}},
		{"stops before End", ended, wall(ny, 2026, 3, 1, 0, 0), 5, []time.Time{wall(ny, 2026, 3, 6, 9, 0), wall(ny, 2026, 3, 7, 9, 0)}},
		{"none after End", ended, wall(ny, 2026, 3, 9, 0, 0), 5, nil},
		{"n of zero", daily, wall(ny, 2026, 3, 7, 9, 0), 0, nil},
		{"hourly is elapsed time", hourly, wall(ny, 2026, 3, 7, 16, 0), 3, []time.Time{wall(ny, 2026, 3, 8, 0, 0), wall(ny, 2026, 3, 8, 9, 0), wall(ny, 2026, 3, 8, 17, 0)}},
		{"fortnightly keeps the weekday", weekly, wall(ny, 2026, 3, 2, 9, 0), 2, []time.Time{wall(ny, 2026, 3, 16, 9, 0), wall(ny, 2026, 3, 30, 9, 0)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.r.NextHandoffs(tc.after, ny, tc.n)
			if len(got) != len(tc.want) {
				t.Fatalf("NextHandoffs = %v, want %v", got, tc.want)
			}
			for i := range got {
				if !got[i].Equal(tc.want[i]) {
					t.Fatalf("NextHandoffs = %v, want %v", got, tc.want)
				}
			}
		})
	}
}
