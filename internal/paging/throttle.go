package paging

// throttle is one delivery round's view of the per-contact rate limits
// (RateLimits): for each contact method, how many messages it was sent,
// or is being sent, in the RateWindow before the round (seed), plus those
// the round has let through itself (allow). It does no I/O, so a burst
// claimed in one round is limited as surely as one spread over many.
type throttle struct {
	used map[string]int
}

func newThrottle() throttle { return throttle{used: map[string]int{}} }

// seeded reports whether contact's count before the round is known.
func (t throttle) seeded(contact string) bool {
	_, ok := t.used[contact]
	return ok
}

// seed records that contact was sent n messages in the window before the
// round.
func (t throttle) seed(contact string, n int) { t.used[contact] = max(n, 0) }

// allow reports whether one more message over channel fits contact's
// limit, and if it does counts it. A channel without a limit always fits.
func (t throttle) allow(contact string, channel ContactKind) bool {
	limit := RateLimits[channel]
	if limit <= 0 {
		return true
	}
	if t.used[contact] >= limit {
		return false
	}
	t.used[contact]++
	return true
}
