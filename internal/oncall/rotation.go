package oncall

import "time"

const day = 24 * time.Hour

// ShiftAt reports the rotation's shift running at t, with hand-offs read in
// loc (nil means UTC): the user on call, and the shift's start (inclusive)
// and end (exclusive, cut short at End), in loc. ok is false before Start, at or
// after End, and for a rotation that fails validation. ShiftAt ignores
// Restrict: it reports the turn, not whether the restriction windows leave
// the user on call at t. Its cost does not depend on how far t is from Start.
func (r Rotation) ShiftAt(t time.Time, loc *time.Location) (user string, start, end time.Time, ok bool) {
	k, ok := r.index(t, loc)
	if !ok {
		return "", time.Time{}, time.Time{}, false
	}
	start, end = r.handoff(k, loc), r.handoff(k+1, loc)
	if !r.End.IsZero() && r.End.Before(end) {
		end = r.End.In(zone(loc))
	}
	return r.Participants[k%int64(len(r.Participants))], start, end, true
}

// NextHandoffs returns the first n hand-offs strictly after after, read in
// and expressed in loc (nil means UTC), stopping before End. Start is the first hand-off. It
// returns nil for a rotation that fails validation or when n < 1.
func (r Rotation) NextHandoffs(after time.Time, loc *time.Location, n int) []time.Time {
	if n < 1 {
		return nil
	}
	return r.handoffs(after, r.End, loc, n)
}

// handoffs returns up to limit hand-offs strictly after after and before
// before (zero means unbounded), read in loc; limit < 1 means no limit.
func (r Rotation) handoffs(after, before time.Time, loc *time.Location, limit int) []time.Time {
	if !r.usable() {
		return nil
	}
	if !r.End.IsZero() && (before.IsZero() || r.End.Before(before)) {
		before = r.End
	}
	var k int64
	if !after.Before(r.Start) {
		i, ok := r.index(after, loc)
		if !ok {
			return nil
		}
		k = i + 1
	}
	var out []time.Time
	for ; limit < 1 || len(out) < limit; k++ {
		h := r.handoff(k, loc)
		if !before.IsZero() && !h.Before(before) {
			break
		}
		out = append(out, h)
	}
	return out
}

// usable reports whether the rotation's arithmetic is defined.
func (r Rotation) usable() bool {
	switch r.Kind {
	case Hourly, Daily, Weekly:
	default:
		return false
	}
	return r.ShiftLength >= 1 && r.ShiftLength <= MaxShiftLength && !r.Start.IsZero() && len(r.Participants) > 0
}

// index returns the number of the shift running at t: 0 is the shift
// starting at Start.
func (r Rotation) index(t time.Time, loc *time.Location) (int64, bool) {
	if !r.usable() || t.Before(r.Start) || (!r.End.IsZero() && !t.Before(r.End)) {
		return 0, false
	}
	var k int64
	if r.Kind == Hourly {
		k = (t.Unix() - r.Start.Unix()) / (int64(r.ShiftLength) * 3600)
	} else {
		loc = zone(loc)
		elapsed := dateOf(t.In(loc)).days() - dateOf(r.Start.In(loc)).days()
		k = max(elapsed/r.periodDays(), 0)
	}
	// The estimate is off by at most one shift where a shift is shorter than
	// a day's worth of clock change; these loops settle it.
	for k > 0 && t.Before(r.handoff(k, loc)) {
		k--
	}
	for !t.Before(r.handoff(k+1, loc)) {
		k++
	}
	return k, true
}

func (r Rotation) periodDays() int64 {
	if r.Kind == Weekly {
		return 7 * int64(r.ShiftLength)
	}
	return int64(r.ShiftLength)
}

// handoff returns the start of shift k.
func (r Rotation) handoff(k int64, loc *time.Location) time.Time {
	loc = zone(loc)
	if k == 0 {
		return r.Start.In(loc)
	}
	if r.Kind == Hourly {
		return time.Unix(r.Start.Unix()+k*int64(r.ShiftLength)*3600, int64(r.Start.Nanosecond())).In(loc)
	}
	s := r.Start.In(loc)
	return wallTime(dateOf(s).addDays(k*r.periodDays()), clockOf(s), loc)
}

// covers reports whether the restriction windows leave the rotation on call
// at t.
func (r Rotation) covers(t time.Time, loc *time.Location) bool {
	if len(r.Restrict) == 0 {
		return true
	}
	loc = zone(loc)
	d := dateOf(t.In(loc))
	for _, dd := range []date{d.addDays(-1), d} {
		for _, w := range r.Restrict {
			if !w.opensOn(dd.weekday()) {
				continue
			}
			open, end := w.on(dd, loc)
			if !t.Before(open) && t.Before(end) {
				return true
			}
		}
	}
	return false
}

// windowEdges returns the instants in [from, to) at which the rotation's
// restriction windows open or close.
func (r Rotation) windowEdges(from, to time.Time, loc *time.Location) []time.Time {
	loc = zone(loc)
	var out []time.Time
	last := dateOf(to.In(loc))
	for d := dateOf(from.In(loc)).addDays(-1); d.days() <= last.days(); d = d.addDays(1) {
		for _, w := range r.Restrict {
			if !w.opensOn(d.weekday()) {
				continue
			}
			open, end := w.on(d, loc)
			for _, e := range []time.Time{open, end} {
				if !e.Before(from) && e.Before(to) {
					out = append(out, e)
				}
			}
		}
	}
	return out
}

func (w Window) opensOn(wd time.Weekday) bool {
	if len(w.Days) == 0 {
		return true
	}
	for _, d := range w.Days {
		if d == wd {
			return true
		}
	}
	return false
}

// on returns the window's opening and closing instants for the window that
// opens on d.
func (w Window) on(d date, loc *time.Location) (open, end time.Time) {
	e := w.End
	if e <= w.Start {
		e += day
	}
	return wallTime(d, w.Start, loc), wallTime(d, e, loc)
}

func zone(loc *time.Location) *time.Location {
	if loc == nil {
		return time.UTC
	}
	return loc
}

// date is a day of the proleptic Gregorian calendar.
type date struct {
	y int
	m time.Month
	d int
}

func dateOf(t time.Time) date {
	y, m, d := t.Date()
	return date{y, m, d}
}

func (d date) midnightUTC() time.Time { return time.Date(d.y, d.m, d.d, 0, 0, 0, 0, time.UTC) }

// days numbers the date: consecutive dates have consecutive numbers.
func (d date) days() int64 { return d.midnightUTC().Unix() / 86400 }

func (d date) addDays(n int64) date {
	return dateOf(time.Unix((d.days()+n)*86400, 0).UTC())
}

func (d date) weekday() time.Weekday { return d.midnightUTC().Weekday() }

// clockOf returns the wall-clock time of day of t.
func clockOf(t time.Time) time.Duration {
	h, m, s := t.Clock()
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second + time.Duration(t.Nanosecond())
}

// wallTime returns the instant at which clocks in loc show the time c after
// the midnight starting d (c may reach past the end of d). A time that
// occurs twice is its first occurrence; a time skipped by a spring-forward
// gap is read with the UTC offset in force before the gap (RFC 5545 section
// 3.3.5), which moves it later by the length of the gap.
func wallTime(d date, c time.Duration, loc *time.Location) time.Time {
	naive := d.midnightUTC().Add(c)
	offsetAt := func(t time.Time) time.Duration {
		_, off := t.In(loc).Zone()
		return time.Duration(off) * time.Second
	}
	best, found := naive.Add(-offsetAt(naive.Add(-day))), false
	for _, near := range []time.Time{naive.Add(-day), naive, naive.Add(day)} {
		cand := naive.Add(-offsetAt(near))
		if naiveOf(cand.In(loc)).Equal(naive) && (!found || cand.Before(best)) {
			best, found = cand, true
		}
	}
	return best.In(loc)
}

// naiveOf returns t's wall clock reading as if it were UTC.
func naiveOf(t time.Time) time.Time {
	return dateOf(t).midnightUTC().Add(clockOf(t))
}
