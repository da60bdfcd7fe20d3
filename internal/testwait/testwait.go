// Package testwait lets a test wait for what Ward does on its own time (a
// background loop, another node, a server process): it polls a condition
// until it holds and fails the test when it does not within a limit. It
// never sleeps to show that something did not happen.
package testwait

import (
	"testing"
	"time"
)

// poll is how often Until looks at its condition.
const poll = 10 * time.Millisecond

// Until returns once cond holds, and fails t naming what when it still
// does not after limit.
func Until(t testing.TB, what string, limit time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	tick := time.NewTicker(poll)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline.C:
			if cond() {
				return
			}
			t.Fatalf("timed out after %s waiting for %s", limit, what)
			return
		case <-tick.C:
		}
	}
}
