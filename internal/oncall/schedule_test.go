package oncall_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/oncall"
)

var weekdays = []time.Weekday{time.Monday, time.Tuesday, time.Wednesday, time.Thursday, time.Friday}

// Monday 2026-01-05 is the first hand-off of the test schedules.
func testSchedule(t testing.TB) (oncall.Schedule, *time.Location) {
	ny := load(t, "America/New_York")
	return oncall.Schedule{
		TimeZone: ny,
		Rotations: []oncall.Rotation{
			{Name: "primary", Kind: oncall.Weekly, ShiftLength: 1, Start: wall(ny, 2026, 1, 5, 9, 0), Participants: []string{"a", "b"}},
			{Name: "business", Kind: oncall.Daily, ShiftLength: 1, Start: wall(ny, 2026, 1, 5, 0, 0), Participants: []string{"x", "y"},
				Restrict: []oncall.Window{{Days: weekdays, Start: 9 * time.Hour, End: 17 * time.Hour}}},
		},
	}, ny
}

func TestOnCallAt(t *testing.T) {
	base, ny := testSchedule(t)
	ended := base
	ended.Rotations = slices.Clone(base.Rotations)
	ended.Rotations[1].End = wall(ny, 2026, 1, 7, 0, 0)
	overnight := base
	overnight.Rotations = []oncall.Rotation{{Name: "nights", Kind: oncall.Daily, ShiftLength: 1, Start: wall(ny, 2026, 1, 5, 0, 0), Participants: []string{"n"},
		Restrict: []oncall.Window{{Days: []time.Weekday{time.Friday}, Start: 22 * time.Hour, End: 6 * time.Hour}}}}
	replaced := base
	replaced.Overrides = []oncall.Override{
		{Start: wall(ny, 2026, 1, 10, 12, 0), End: wall(ny, 2026, 1, 10, 14, 0), User: "z", Replaces: "a"},
		{Start: wall(ny, 2026, 1, 5, 12, 0), End: wall(ny, 2026, 1, 5, 14, 0), User: "w", Replaces: "x"},
		{Start: wall(ny, 2026, 1, 5, 13, 0), End: wall(ny, 2026, 1, 5, 14, 0), User: "v", Replaces: "x"},
	}
	added := base
	added.Overrides = []oncall.Override{
		{Start: wall(ny, 2026, 1, 10, 12, 0), End: wall(ny, 2026, 1, 10, 14, 0), User: "t"},
		{Start: wall(ny, 2026, 1, 10, 12, 0), End: wall(ny, 2026, 1, 10, 14, 0), User: "a"},
		{Start: wall(ny, 2026, 1, 10, 13, 0), End: wall(ny, 2026, 1, 10, 15, 0), User: "s"},
	}

	tests := []struct {
		name string
		s    oncall.Schedule
		at   time.Time
		want []string
	}{
		{"nobody before any rotation starts", base, wall(ny, 2026, 1, 4, 12, 0), nil},
		{"top layer restricted off before its first window", base, wall(ny, 2026, 1, 5, 9, 0).Add(-time.Minute), nil},
		{"top layer wins in business hours", base, wall(ny, 2026, 1, 5, 9, 0), []string{"x"}},
		{"top layer next day", base, wall(ny, 2026, 1, 6, 16, 59), []string{"y"}},
		{"window end is exclusive", base, wall(ny, 2026, 1, 6, 17, 0), []string{"a"}},
		{"falls through outside business hours", base, wall(ny, 2026, 1, 6, 20, 0), []string{"a"}},
		{"falls through at the weekend", base, wall(ny, 2026, 1, 10, 12, 0), []string{"a"}},
		{"before the weekly hand-off", base, wall(ny, 2026, 1, 12, 8, 59), []string{"a"}},
		{"after the weekly hand-off", base, wall(ny, 2026, 1, 12, 18, 0), []string{"b"}},
		{"falls through after the top layer ends", ended, wall(ny, 2026, 1, 7, 12, 0), []string{"a"}},
		{"top layer before its end", ended, wall(ny, 2026, 1, 6, 12, 0), []string{"y"}},
		{"overnight window opens Friday", overnight, wall(ny, 2026, 1, 9, 22, 0), []string{"n"}},
		{"overnight window runs into Saturday", overnight, wall(ny, 2026, 1, 10, 5, 59), []string{"n"}},
		{"overnight window closes Saturday", overnight, wall(ny, 2026, 1, 10, 6, 0), nil},
		{"overnight window does not open Saturday", overnight, wall(ny, 2026, 1, 10, 23, 0), nil},
		{"override replaces the user on call", replaced, wall(ny, 2026, 1, 10, 12, 0), []string{"z"}},
		{"replacement ends at its end", replaced, wall(ny, 2026, 1, 10, 14, 0), []string{"a"}},
		{"replacement of someone not on call does nothing", replaced, wall(ny, 2026, 1, 5, 20, 0), []string{"a"}},
		{"replacement in the top layer", replaced, wall(ny, 2026, 1, 5, 12, 30), []string{"w"}},
		{"later overlapping replacement wins", replaced, wall(ny, 2026, 1, 5, 13, 30), []string{"v"}},
		{"added shifts follow the rotation user, once each", added, wall(ny, 2026, 1, 10, 13, 0), []string{"a", "t", "s"}},
		{"added shift starts inclusive", added, wall(ny, 2026, 1, 10, 14, 0), []string{"a", "s"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.OnCallAt(tc.at); !slices.Equal(got, tc.want) {
				t.Fatalf("OnCallAt(%v) = %q, want %q", tc.at, got, tc.want)
			}
		})
	}
}

// shiftsString renders shifts compactly in loc for comparison.
func shiftsString(shifts []oncall.Shift, loc *time.Location) string {
	var b strings.Builder
	for _, s := range shifts {
		src := s.Rotation
		if s.Override {
			src += "+override"
		}
		fmt.Fprintf(&b, "%s %s-%s %s\n", s.User, s.Start.In(loc).Format("01-02 15:04"), s.End.In(loc).Format("01-02 15:04"), src)
	}
	return b.String()
}

func TestShifts(t *testing.T) {
	base, ny := testSchedule(t)
	twice := oncall.Schedule{TimeZone: ny, Rotations: []oncall.Rotation{
		{Name: "r", Kind: oncall.Daily, ShiftLength: 1, Start: wall(ny, 2026, 1, 5, 9, 0), Participants: []string{"a", "a", "b"}},
	}}
	overridden := twice
	overridden.Overrides = []oncall.Override{
		{Start: wall(ny, 2026, 1, 5, 12, 0), End: wall(ny, 2026, 1, 5, 14, 0), User: "z", Replaces: "a"},
		{Start: wall(ny, 2026, 1, 6, 8, 0), End: wall(ny, 2026, 1, 6, 10, 0), User: "t"},
		{Start: wall(ny, 2026, 1, 6, 10, 0), End: wall(ny, 2026, 1, 6, 11, 0), User: "t"},
	}
	dst := oncall.Schedule{TimeZone: ny, Rotations: []oncall.Rotation{
		{Name: "r", Kind: oncall.Daily, ShiftLength: 1, Start: wall(ny, 2026, 3, 1, 9, 0), Participants: []string{"a", "b"}},
	}}

	tests := []struct {
		name     string
		s        oncall.Schedule
		from, to time.Time
		want     string
	}{
		{"layers and restrictions over two days", base, wall(ny, 2026, 1, 5, 0, 0), wall(ny, 2026, 1, 7, 0, 0), "" +
			"x 01-05 09:00-01-05 17:00 business\n" +
			"a 01-05 17:00-01-06 09:00 primary\n" +
			"y 01-06 09:00-01-06 17:00 business\n" +
			"a 01-06 17:00-01-07 00:00 primary\n"},
		{"same user on consecutive turns merges, cut to the period", twice, wall(ny, 2026, 1, 5, 12, 0), wall(ny, 2026, 1, 8, 12, 0), "" +
			"a 01-05 12:00-01-07 09:00 r\n" +
			"b 01-07 09:00-01-08 09:00 r\n" +
			"a 01-08 09:00-01-08 12:00 r\n"},
		{"overrides split and add shifts", overridden, wall(ny, 2026, 1, 5, 9, 0), wall(ny, 2026, 1, 6, 12, 0), "" +
			"a 01-05 09:00-01-05 12:00 r\n" +
			"z 01-05 12:00-01-05 14:00 r+override\n" +
			"a 01-05 14:00-01-06 12:00 r\n" +
			"t 01-06 08:00-01-06 11:00 +override\n"},
		{"DST shifts keep 09:00 local", dst, wall(ny, 2026, 3, 7, 0, 0), wall(ny, 2026, 3, 9, 0, 0), "" +
			"b 03-07 00:00-03-07 09:00 r\n" +
			"a 03-07 09:00-03-08 09:00 r\n" +
			"b 03-08 09:00-03-09 00:00 r\n"},
		{"nothing before the start", twice, wall(ny, 2026, 1, 1, 0, 0), wall(ny, 2026, 1, 5, 9, 0), ""},
		{"empty period", twice, wall(ny, 2026, 1, 6, 0, 0), wall(ny, 2026, 1, 6, 0, 0), ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.s.Shifts(tc.from.UTC(), tc.to.UTC())
			for _, sh := range got {
				if sh.Start.Location() != ny || sh.End.Location() != ny {
					t.Errorf("shift %v not in the schedule's zone", sh)
				}
			}
			if s := shiftsString(got, ny); s != tc.want {
				t.Fatalf("Shifts:\n%s\nwant:\n%s", s, tc.want)
			}
		})
	}
}

// TestShiftsAgreeWithOnCallAt checks Shifts against OnCallAt every quarter
// hour over a week spanning the spring-forward change.
func TestShiftsAgreeWithOnCallAt(t *testing.T) {
	s, ny := testSchedule(t)
	s.Rotations = append(s.Rotations, oncall.Rotation{Name: "hourly", Kind: oncall.Hourly, ShiftLength: 7, Start: wall(ny, 2026, 3, 6, 1, 0),
		Participants: []string{"h1", "h2"}, Restrict: []oncall.Window{{Days: []time.Weekday{time.Sunday}, Start: 1 * time.Hour, End: 4 * time.Hour}}})
	s.Overrides = []oncall.Override{
		{Start: wall(ny, 2026, 3, 8, 1, 15), End: wall(ny, 2026, 3, 8, 5, 0), User: "o", Replaces: "h2"},
		{Start: wall(ny, 2026, 3, 9, 16, 0), End: wall(ny, 2026, 3, 10, 10, 0), User: "extra"},
	}
	from, to := wall(ny, 2026, 3, 5, 0, 0), wall(ny, 2026, 3, 12, 0, 0)
	shifts := s.Shifts(from, to)
	for at := from; at.Before(to); at = at.Add(15 * time.Minute) {
		var got []string
		for _, sh := range shifts {
			if !at.Before(sh.Start) && at.Before(sh.End) {
				got = append(got, sh.User)
			}
		}
		want := s.OnCallAt(at)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("at %v: shifts give %q, OnCallAt %q", at.In(ny), got, want)
		}
	}
}
