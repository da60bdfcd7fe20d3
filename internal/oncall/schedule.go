package oncall

import (
	"slices"
	"time"
)

// OnCallAt returns the ids of the users on call at t, each once: first the
// user from the topmost rotation that has someone on call at t (or whoever
// replaces that user by override), then the users added by overrides, in the
// order of Schedule.Overrides. It returns nil when nobody is on call.
// Intervals include their start and exclude their end, so at a hand-off the
// incoming user is on call.
func (s Schedule) OnCallAt(t time.Time) []string {
	var users []string
	for _, a := range s.at(t) {
		users = append(users, a.User)
	}
	return users
}

// Shifts returns the resolved shifts overlapping [from, to), cut to that
// period, ordered by start, with times in the schedule's zone. Consecutive periods in which the same user is
// on call from the same source (the same rotation, by override or not) make
// one shift, so a user who appears twice in a row in a rotation, or a
// single-participant rotation, gives one long shift. It returns nil when to
// is not after from. Its cost grows with the number of hand-offs, window
// edges and overrides in the period.
func (s Schedule) Shifts(from, to time.Time) []Shift {
	if !to.After(from) {
		return nil
	}
	loc := zone(s.TimeZone)
	from, to = from.In(loc), to.In(loc)
	cuts := []time.Time{from}
	add := func(ts ...time.Time) {
		for _, t := range ts {
			if !t.IsZero() && t.After(from) && t.Before(to) {
				cuts = append(cuts, t.In(loc))
			}
		}
	}
	for _, r := range s.Rotations {
		add(r.Start, r.End)
		add(r.handoffs(from, to, loc, 0)...)
		if len(r.Restrict) > 0 {
			add(r.windowEdges(from, to, loc)...)
		}
	}
	for _, o := range s.Overrides {
		add(o.Start, o.End)
	}
	slices.SortFunc(cuts, time.Time.Compare)
	cuts = slices.CompactFunc(cuts, time.Time.Equal)
	cuts = append(cuts, to)

	type source struct {
		user, rotation string
		override       bool
	}
	var out []Shift
	open := map[source]int{}
	for i := 0; i+1 < len(cuts); i++ {
		start, end := cuts[i], cuts[i+1]
		next := map[source]int{}
		for _, a := range s.at(start) {
			key := source{a.User, a.Rotation, a.Override}
			if j, ok := open[key]; ok {
				out[j].End = end
				next[key] = j
				continue
			}
			a.Start, a.End = start, end
			next[key] = len(out)
			out = append(out, a)
		}
		open = next
	}
	slices.SortStableFunc(out, func(a, b Shift) int { return a.Start.Compare(b.Start) })
	return out
}

// at returns who is on call at t, each user once, as shifts without times.
func (s Schedule) at(t time.Time) []Shift {
	loc := zone(s.TimeZone)
	var out []Shift
	for i := len(s.Rotations) - 1; i >= 0; i-- {
		r := s.Rotations[i]
		user, _, _, ok := r.ShiftAt(t, loc)
		if !ok || !r.covers(t, loc) {
			continue
		}
		a := Shift{User: user, Rotation: r.Name}
		for _, o := range s.Overrides {
			if o.Replaces != "" && o.Replaces == user && o.active(t) {
				a.User, a.Override = o.User, true
			}
		}
		out = append(out, a)
		break
	}
	for _, o := range s.Overrides {
		if o.Replaces != "" || !o.active(t) || o.User == "" {
			continue
		}
		if !slices.ContainsFunc(out, func(a Shift) bool { return a.User == o.User }) {
			out = append(out, Shift{User: o.User, Override: true})
		}
	}
	return out
}

func (o Override) active(t time.Time) bool {
	return !t.Before(o.Start) && t.Before(o.End)
}
