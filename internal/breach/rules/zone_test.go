package rules

import (
	"testing"
	"time"
)

func loadZone(t *testing.T, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatalf("time zone %s: %v", name, err)
	}
	return loc
}

// lastInstant is the last instant Ward stores of day y-m-d in loc.
func lastInstant(y int, m time.Month, d int, loc *time.Location) time.Time {
	return time.Date(y, m, d, 23, 59, 59, 999999000, loc)
}

// TestDueFromInZone: days are counted in the organisation's zone, across
// the changes to and from daylight saving time (the 60th day still ends
// at 11:59 PM on the wall clock, 60 x 24 hours or not), with business days
// skipping the federal holidays of 5 U.S.C. 6103(a), and end of day in
// zones without daylight saving time on either side of UTC.
func TestDueFromInZone(t *testing.T) {
	la, ny := loadZone(t, "America/Los_Angeles"), loadZone(t, "America/New_York")
	guam, pr := loadZone(t, "Pacific/Guam"), loadZone(t, "America/Puerto_Rico")
	sixty := Term{60, Days, false}
	cases := []struct {
		name  string
		term  Term
		start time.Time
		loc   *time.Location
		want  time.Time
	}{
		// Daylight saving time begins at 2 AM on Sunday 8 March 2026 and
		// ends at 2 AM on Sunday 1 November 2026 (15 U.S.C. 260a).
		{"164.404(b) Los Angeles, discovered 11:30 PM the night before DST begins", sixty,
			time.Date(2026, 3, 7, 23, 30, 0, 0, la), la, lastInstant(2026, 5, 6, la)},
		{"164.404(b) Los Angeles, discovered 11:30 PM the night before DST ends", sixty,
			time.Date(2026, 10, 31, 23, 30, 0, 0, la), la, lastInstant(2026, 12, 30, la)},
		{"164.404(b) New York, discovered 11:30 PM the night before DST begins", sixty,
			time.Date(2026, 3, 7, 23, 30, 0, 0, ny), ny, lastInstant(2026, 5, 6, ny)},
		{"164.404(b) New York, discovered 11:30 PM the night before DST ends", sixty,
			time.Date(2026, 10, 31, 23, 30, 0, 0, ny), ny, lastInstant(2026, 12, 30, ny)},
		{"164.404(b) New York, discovered at 1:30 AM in the hour DST ends repeats", sixty,
			time.Date(2026, 11, 1, 5, 30, 0, 0, time.UTC), ny, lastInstant(2026, 12, 31, ny)},
		// Tuesday 24 November 2026, 8 PM in Los Angeles, is Wednesday in
		// UTC: counted in Los Angeles, Wednesday is the first business
		// day and Thanksgiving (5 U.S.C. 6103(a)) is skipped.
		{"5 U.S.C. 6103 3 business days over Thanksgiving from Tuesday evening in Los Angeles", Term{3, Days, true},
			time.Date(2026, 11, 24, 20, 0, 0, 0, la), la, lastInstant(2026, 11, 30, la)},
		{"5 U.S.C. 6103 the same instant counted in UTC starts on Wednesday", Term{3, Days, true},
			time.Date(2026, 11, 24, 20, 0, 0, 0, la), nil, lastInstant(2026, 12, 1, time.UTC)},
		{"5 U.S.C. 6103 5 business days over Thanksgiving in New York", Term{5, Days, true},
			time.Date(2026, 11, 25, 9, 0, 0, 0, ny), ny, lastInstant(2026, 12, 3, ny)},
		// Guam (UTC+10) and Puerto Rico (UTC-4) keep no daylight saving
		// time: the day ends at 13:59 and 03:59 UTC.
		{"164.404(b) Guam, discovered 6 AM local, the evening before in UTC", sixty,
			time.Date(2026, 3, 5, 20, 0, 0, 0, time.UTC), guam, time.Date(2026, 5, 5, 13, 59, 59, 999999000, time.UTC)},
		{"164.404(b) Puerto Rico, discovered 10 PM local, the next day in UTC", sixty,
			time.Date(2026, 3, 6, 2, 0, 0, 0, time.UTC), pr, time.Date(2026, 5, 5, 3, 59, 59, 999999000, time.UTC)},
		{"contract 72 hours is exact across DST", Term{72, Hours, false},
			time.Date(2026, 3, 7, 12, 0, 0, 0, la), la, time.Date(2026, 3, 10, 13, 0, 0, 0, la)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.term.DueFrom(tc.start, tc.loc); !got.Equal(tc.want) {
				t.Errorf("%s from %v in %v = %v, want %v", tc.term, tc.start, tc.loc, got.In(tc.want.Location()), tc.want)
			}
		})
	}
}

func TestEndOfDayInZone(t *testing.T) {
	guam, pr := loadZone(t, "Pacific/Guam"), loadZone(t, "America/Puerto_Rico")
	noon := time.Date(2026, 5, 2, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		loc  *time.Location
		want time.Time
	}{
		{"Guam: noon UTC is 10 PM on 2 May, which ends at 13:59 UTC", guam, time.Date(2026, 5, 2, 13, 59, 59, 999999000, time.UTC)},
		{"Puerto Rico: noon UTC is 8 AM on 2 May, which ends at 03:59 UTC on 3 May", pr, time.Date(2026, 5, 3, 3, 59, 59, 999999000, time.UTC)},
		{"UTC", nil, time.Date(2026, 5, 2, 23, 59, 59, 999999000, time.UTC)},
	}
	for _, tc := range cases {
		if got := EndOfDay(noon, tc.loc); !got.Equal(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got.UTC(), tc.want)
		}
	}
	// 14:30 UTC is already 3 May in Guam.
	if got, want := EndOfDay(time.Date(2026, 5, 2, 14, 30, 0, 0, time.UTC), guam), time.Date(2026, 5, 3, 13, 59, 59, 999999000, time.UTC); !got.Equal(want) {
		t.Errorf("Guam after 14:00 UTC: %v, want %v", got.UTC(), want)
	}
}

// TestComputeInZone: Compute counts every deadline in Facts.Location.
func TestComputeInZone(t *testing.T) {
	la := loadZone(t, "America/Los_Angeles")
	f := Facts{Role: CoveredEntity, NotificationRequired: true, Individuals: 10,
		DiscoveredAt: time.Date(2026, 3, 7, 23, 30, 0, 0, la), ShouldHaveKnownAt: time.Date(2026, 3, 7, 23, 30, 0, 0, la)}
	asOf := time.Date(2026, 3, 9, 0, 0, 0, 0, time.UTC)
	if got := find(t, Compute(f, rulesets(t), asOf), "individuals").Due; !got.Equal(eod(t, "2026-05-07")) {
		t.Fatalf("counted in UTC: %v", got)
	}
	f.Location = la
	if got, want := find(t, Compute(f, rulesets(t), asOf), "individuals").Due, lastInstant(2026, 5, 6, la); !got.Equal(want) {
		t.Fatalf("counted in Los Angeles: %v, want %v (164.404(b))", got.In(la), want)
	}
}
