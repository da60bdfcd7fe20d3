package rules

import (
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/apperr"
)

// Unit is the unit a notice term is counted in.
type Unit string

// The units of a Term.
const (
	Hours Unit = "hours"
	Days  Unit = "days"
)

// Term is a notice period: Amount hours or days after a start. Business
// days skip Saturdays, Sundays and United States federal holidays (see
// IsBusinessDay); business hours are not supported, a contract that counts
// them is expressed in business days. Days are calendar days unless
// Business is set, as 164.404(b) counts them.
type Term struct {
	Amount   int  `json:"amount"`
	Unit     Unit `json:"unit"`
	Business bool `json:"business,omitempty"`
}

// Validate reports what is wrong with the term, naming field (the path of
// the term in its caller's input).
func (t Term) Validate(field string) error {
	switch {
	case t.Amount <= 0:
		return apperr.Field(field+".amount", "must be a positive number, got %d", t.Amount)
	case t.Unit != Hours && t.Unit != Days:
		return apperr.Field(field+".unit", "must be %q or %q, got %q", Hours, Days, t.Unit)
	case t.Unit == Hours && t.Business:
		return apperr.Field(field+".business", "business hours are not supported; express the term in business days")
	}
	return nil
}

// String renders the term for people, e.g. "72 hours" or "5 business days".
func (t Term) String() string {
	kind := "calendar "
	if t.Business {
		kind = "business "
	}
	if t.Unit == Hours {
		kind = ""
	}
	return fmt.Sprintf("%d %s%s", t.Amount, kind, t.Unit)
}

// DueFrom returns when a period of t that starts at start ends, reckoned in
// loc (nil means UTC). An hour term ends exactly Amount hours after start;
// a day term ends at the last instant of the Amount-th calendar or business
// day after the day of start (the day of start itself does not count).
func (t Term) DueFrom(start time.Time, loc *time.Location) time.Time {
	if t.Unit == Hours {
		return start.Add(time.Duration(t.Amount) * time.Hour)
	}
	if t.Business {
		return EndOfDay(AddBusinessDays(start, t.Amount, loc), loc)
	}
	return EndOfDay(start.In(zone(loc)).AddDate(0, 0, t.Amount), loc)
}

func zone(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// EndOfDay returns the last instant (23:59:59.999999) of t's calendar day
// in loc (nil means UTC). Ward keeps microseconds, so this is the latest
// time it can store on that day.
func EndOfDay(t time.Time, loc *time.Location) time.Time {
	t = t.In(zone(loc))
	y, m, d := t.Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, t.Location()).Add(-time.Microsecond)
}

// AddBusinessDays returns the day n business days after t's day in loc
// (nil means UTC), at t's time of day.
func AddBusinessDays(t time.Time, n int, loc *time.Location) time.Time {
	t = t.In(zone(loc))
	for n > 0 {
		t = t.AddDate(0, 0, 1)
		if IsBusinessDay(t) {
			n--
		}
	}
	return t
}

// IsBusinessDay reports whether t's calendar day (in t's location) is a
// weekday that is not a United States federal holiday as observed.
func IsBusinessDay(t time.Time) bool {
	switch t.Weekday() {
	case time.Saturday, time.Sunday:
		return false
	}
	y, m, d := t.Date()
	day := time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
	// A holiday on Saturday 1 January is observed on Friday 31 December
	// of the year before, so the next year's list is consulted too.
	for _, h := range append(FederalHolidays(y), FederalHolidays(y+1)...) {
		if h.Equal(day) {
			return false
		}
	}
	return true
}

// FederalHolidays returns the eleven legal public holidays of 5 U.S.C.
// 6103(a) for year, as observed by federal employees (5 U.S.C. 6103(b) and
// Executive Order 11582: a holiday on Saturday is observed the Friday
// before, on Sunday the Monday after), as midnight UTC dates. State and
// local holidays are not included; a contract that names other
// non-business days needs counsel's reading.
func FederalHolidays(year int) []time.Time {
	fixed := func(m time.Month, d int) time.Time {
		t := time.Date(year, m, d, 0, 0, 0, 0, time.UTC)
		switch t.Weekday() {
		case time.Saturday:
			return t.AddDate(0, 0, -1)
		case time.Sunday:
			return t.AddDate(0, 0, 1)
		}
		return t
	}
	// nth returns the n-th weekday wd of month m; n = -1 is the last one.
	nth := func(m time.Month, wd time.Weekday, n int) time.Time {
		if n < 0 {
			t := time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC)
			for t.Weekday() != wd {
				t = t.AddDate(0, 0, -1)
			}
			return t
		}
		t := time.Date(year, m, 1, 0, 0, 0, 0, time.UTC)
		for t.Weekday() != wd {
			t = t.AddDate(0, 0, 1)
		}
		return t.AddDate(0, 0, 7*(n-1))
	}
	return []time.Time{
		fixed(time.January, 1),               // New Year's Day
		nth(time.January, time.Monday, 3),    // Birthday of Martin Luther King, Jr.
		nth(time.February, time.Monday, 3),   // Washington's Birthday
		nth(time.May, time.Monday, -1),       // Memorial Day
		fixed(time.June, 19),                 // Juneteenth National Independence Day
		fixed(time.July, 4),                  // Independence Day
		nth(time.September, time.Monday, 1),  // Labor Day
		nth(time.October, time.Monday, 2),    // Columbus Day
		fixed(time.November, 11),             // Veterans Day
		nth(time.November, time.Thursday, 4), // Thanksgiving Day
		fixed(time.December, 25),             // Christmas Day
	}
}
