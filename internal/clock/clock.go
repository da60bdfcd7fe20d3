// Package clock gives Ward one source of time so that deadlines, expiries
// and tests agree. Production uses Real; tests use Fake and move it by hand.
package clock

import (
	"sync"
	"time"
)

// Clock tells the current time. Every time Ward stores is in UTC and
// truncated to microseconds, the precision both databases keep, so a value
// read back is identical to the one written (the audit chain hashes them).
type Clock interface {
	Now() time.Time
}

// Real is the system clock.
type Real struct{}

// Now returns the current time in UTC, truncated to microseconds.
func (Real) Now() time.Time { return Normalize(time.Now()) }

// Normalize returns t in UTC truncated to microseconds.
func Normalize(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// Fake is a clock that moves only when told to. It is safe for concurrent use.
type Fake struct {
	mu  sync.Mutex
	now time.Time
}

// NewFake returns a Fake clock set to t.
func NewFake(t time.Time) *Fake { return &Fake{now: Normalize(t)} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// Advance moves the fake time forward by d.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = Normalize(f.now.Add(d))
}

// Set moves the fake time to t.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.now = Normalize(t)
}
