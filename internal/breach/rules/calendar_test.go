package rules

import (
	"testing"
	"time"
)

func TestDiscovery(t *testing.T) {
	cases := []struct {
		name, known, shouldHave, want string
	}{
		{"164.404(a)(2) known first", "2026-03-01T09:00", "2026-03-04T09:00", "2026-03-01T09:00"},
		{"164.404(a)(2) would have been known first with reasonable diligence", "2026-03-04T09:00", "2026-03-01T09:00", "2026-03-01T09:00"},
		{"164.404(a)(2) only known", "2026-03-04T09:00", "", "2026-03-04T09:00"},
		{"164.410(a)(2) only should-have-known", "", "2026-03-04T09:00", "2026-03-04T09:00"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var k, s time.Time
			if tc.known != "" {
				k = at(t, tc.known)
			}
			if tc.shouldHave != "" {
				s = at(t, tc.shouldHave)
			}
			got, err := Discovery(k, s)
			if err != nil || !got.Equal(at(t, tc.want)) {
				t.Errorf("Discovery = %v, %v; want %s", got, err, tc.want)
			}
		})
	}
	if _, err := Discovery(time.Time{}, time.Time{}); err == nil {
		t.Error("164.404(a)(2) Discovery accepted no date at all")
	}
}

func TestTermDueFrom(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Skipf("no time zone database: %v", err)
	}
	cases := []struct {
		name  string
		term  Term
		start time.Time
		loc   *time.Location
		want  time.Time
	}{
		{"164.404(b) 60 calendar days, the day of discovery not counted", Term{60, Days, false}, at(t, "2026-03-05T10:00"), nil, eod(t, "2026-05-04")},
		{"contract 72 hours is exact", Term{72, Hours, false}, at(t, "2026-03-06T17:30"), nil, at(t, "2026-03-09T17:30")},
		{"contract 1 business day from Friday is Monday", Term{1, Days, true}, at(t, "2026-03-06T10:00"), nil, eod(t, "2026-03-09")},
		{"contract 3 business days over Thanksgiving 2026", Term{3, Days, true}, at(t, "2026-11-25T10:00"), nil, eod(t, "2026-12-01")},
		{"calendar days reckoned in the entity's time zone", Term{1, Days, false}, at(t, "2026-03-06T02:00"), ny,
			EndOfDay(time.Date(2026, 3, 6, 0, 0, 0, 0, ny), ny)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.term.DueFrom(tc.start, tc.loc); !got.Equal(tc.want) {
				t.Errorf("%s from %v = %v, want %v", tc.term, tc.start, got, tc.want)
			}
		})
	}
}

func TestIsBusinessDay(t *testing.T) {
	cases := []struct {
		name, day string
		want      bool
	}{
		{"weekday", "2026-03-04", true},
		{"Saturday", "2026-03-07", false},
		{"Sunday", "2026-03-08", false},
		{"5 U.S.C. 6103 Independence Day on Saturday observed Friday 2026-07-03", "2026-07-03", false},
		{"5 U.S.C. 6103 New Year's Day 2022 on Saturday observed Friday 2021-12-31", "2021-12-31", false},
		{"5 U.S.C. 6103 Juneteenth 2027 on Saturday observed Friday", "2027-06-18", false},
		{"5 U.S.C. 6103 Christmas 2027 on Saturday: Monday 27th is a business day", "2027-12-27", true},
		{"5 U.S.C. 6103 Memorial Day 2026 is the last Monday of May", "2026-05-25", false},
		{"5 U.S.C. 6103 Thanksgiving 2026 is the fourth Thursday of November", "2026-11-26", false},
		{"5 U.S.C. 6103 Columbus Day 2026", "2026-10-12", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := IsBusinessDay(at(t, tc.day)); got != tc.want {
				t.Errorf("IsBusinessDay(%s) = %v, want %v", tc.day, got, tc.want)
			}
		})
	}
	if n := len(FederalHolidays(2026)); n != 11 {
		t.Errorf("5 U.S.C. 6103(a) lists 11 holidays, got %d", n)
	}
}

func TestTermValidate(t *testing.T) {
	cases := []struct {
		name  string
		term  Term
		field string
	}{
		{"zero amount", Term{0, Days, false}, "notice.amount"},
		{"unknown unit", Term{3, "weeks", false}, "notice.unit"},
		{"business hours unsupported", Term{48, Hours, true}, "notice.business"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e, ok := apperrOf(tc.term.Validate("notice"))
			if !ok || len(e) != 1 || e[0] != tc.field {
				t.Errorf("Validate fields = %v, want [%s]", e, tc.field)
			}
		})
	}
	if err := (Term{5, Days, true}).Validate("notice"); err != nil {
		t.Errorf("5 business days: %v", err)
	}
}
