package testwait

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"
)

// recorder is a testing.TB whose Fatalf records the failure instead of
// ending the test.
type recorder struct {
	testing.TB
	failed string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) { r.failed = fmt.Sprintf(format, args...) }

func TestUntilReturnsOnceTheConditionHolds(t *testing.T) {
	var calls atomic.Int32
	r := &recorder{TB: t}
	Until(r, "the third look", time.Minute, func() bool { return calls.Add(1) >= 3 })
	if r.failed != "" || calls.Load() != 3 {
		t.Fatalf("failed %q after %d looks, want success at the third", r.failed, calls.Load())
	}
}

func TestUntilFailsNamingWhatItWaitedFor(t *testing.T) {
	r := &recorder{TB: t}
	Until(r, "a condition that never holds", 30*time.Millisecond, func() bool { return false })
	if want := "timed out after 30ms waiting for a condition that never holds"; r.failed != want {
		t.Fatalf("failure %q, want %q", r.failed, want)
	}
}
