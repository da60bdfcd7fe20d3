package oncall_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/oncall"
)

func TestValidate(t *testing.T) {
	valid := func() oncall.Schedule {
		s, ny := testSchedule(t)
		s.Overrides = []oncall.Override{{Start: wall(ny, 2026, 1, 5, 12, 0), End: wall(ny, 2026, 1, 5, 14, 0), User: "z", Replaces: "a"}}
		return s
	}
	if err := valid().Validate(); err != nil {
		t.Fatalf("valid schedule: %v", err)
	}

	tests := []struct {
		name   string
		change func(s *oncall.Schedule)
		fields map[string]string // field: message
	}{
		{"no time zone", func(s *oncall.Schedule) { s.TimeZone = nil }, map[string]string{"time_zone": "must be set"}},
		{"empty participants", func(s *oncall.Schedule) { s.Rotations[1].Participants = nil },
			map[string]string{"rotations[1].participants": "must not be empty"}},
		{"empty participant id", func(s *oncall.Schedule) { s.Rotations[0].Participants = []string{"a", ""} },
			map[string]string{"rotations[0].participants[1]": "must not be empty"}},
		{"name missing and kind unknown", func(s *oncall.Schedule) { s.Rotations[0].Name, s.Rotations[0].Kind = "", "monthly" },
			map[string]string{"rotations[0].name": "must not be empty", "rotations[0].kind": `must be "hourly", "daily" or "weekly"`}},
		{"duplicate name", func(s *oncall.Schedule) { s.Rotations[1].Name = "primary" },
			map[string]string{"rotations[1].name": "duplicates rotations[0].name"}},
		{"shift length zero", func(s *oncall.Schedule) { s.Rotations[0].ShiftLength = 0 },
			map[string]string{"rotations[0].shift_length": "must be between 1 and 1000"}},
		{"shift length too long", func(s *oncall.Schedule) { s.Rotations[0].ShiftLength = 1001 },
			map[string]string{"rotations[0].shift_length": "must be between 1 and 1000"}},
		{"no start", func(s *oncall.Schedule) { s.Rotations[0].Start = time.Time{} },
			map[string]string{"rotations[0].start": "must be set"}},
		{"end before start", func(s *oncall.Schedule) { s.Rotations[0].End = s.Rotations[0].Start.Add(-time.Hour) },
			map[string]string{"rotations[0].end": "must be after start"}},
		{"end at start", func(s *oncall.Schedule) { s.Rotations[0].End = s.Rotations[0].Start },
			map[string]string{"rotations[0].end": "must be after start"}},
		{"bad window", func(s *oncall.Schedule) {
			s.Rotations[1].Restrict = append(s.Rotations[1].Restrict, oncall.Window{Days: []time.Weekday{time.Monday, 7, time.Monday}, Start: 24 * time.Hour, End: 25 * time.Hour})
		}, map[string]string{
			"rotations[1].restrict[1].days[1]": "must be a weekday from 0 (Sunday) to 6 (Saturday)",
			"rotations[1].restrict[1].days[2]": "repeats Monday",
			"rotations[1].restrict[1].start":   "must be a time of day from 00:00 to before 24:00",
			"rotations[1].restrict[1].end":     "must be a time of day after 00:00 and at most 24:00",
		}},
		{"empty window", func(s *oncall.Schedule) { s.Rotations[1].Restrict[0].End = 9 * time.Hour },
			map[string]string{"rotations[1].restrict[0].end": "must differ from start"}},
		{"window ending at midnight", func(s *oncall.Schedule) { s.Rotations[1].Restrict[0].End = 0 },
			map[string]string{"rotations[1].restrict[0].end": "must be a time of day after 00:00 and at most 24:00"}},
		{"override end at start", func(s *oncall.Schedule) { s.Overrides[0].End = s.Overrides[0].Start },
			map[string]string{"overrides[0].end": "must be after start"}},
		{"override without user or start", func(s *oncall.Schedule) { s.Overrides[0].User, s.Overrides[0].Start = "", time.Time{} },
			map[string]string{"overrides[0].user": "must not be empty", "overrides[0].start": "must be set"}},
		{"override replacing its own user", func(s *oncall.Schedule) { s.Overrides[0].Replaces = "z" },
			map[string]string{"overrides[0].replaces": "must differ from user"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := valid()
			s.Rotations = slices.Clone(s.Rotations)
			for i := range s.Rotations {
				s.Rotations[i].Restrict = slices.Clone(s.Rotations[i].Restrict)
			}
			tc.change(&s)
			err := s.Validate()
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Invalid {
				t.Fatalf("Validate() = %v, want an Invalid *apperr.Error", err)
			}
			got := map[string]string{}
			for _, f := range e.Fields {
				got[f.Field] = f.Message
				if !strings.Contains(e.Message, f.Field+": "+f.Message) {
					t.Errorf("message %q does not name %s", e.Message, f.Field)
				}
			}
			if len(got) != len(tc.fields) {
				t.Errorf("fields = %v, want %v", got, tc.fields)
			}
			for field, msg := range tc.fields {
				if got[field] != msg {
					t.Errorf("%s: got %q, want %q (all: %v)", field, got[field], msg, got)
				}
			}
		})
	}
}
