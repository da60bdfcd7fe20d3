package paging

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/notify"
)

// TestRetryDelay: a failed message waits the doubling backoff plus up to
// a fifth more, the same for the same message and spread across
// messages, and never less than the provider's Retry-After (capped).
func TestRetryDelay(t *testing.T) {
	transient := &notify.HTTPError{Provider: "webhook", StatusCode: 503}
	seen := map[time.Duration]bool{}
	for i := range 1000 {
		id := fmt.Sprintf("message-%d", i)
		d := retryDelay(1, id, transient)
		if d < 30*time.Second || d >= 36*time.Second {
			t.Fatalf("first retry of %s after %v, want 30 s to 36 s", id, d)
		}
		if again := retryDelay(1, id, transient); again != d {
			t.Fatalf("%s: %v then %v", id, d, again)
		}
		seen[d] = true
	}
	if len(seen) < 500 {
		t.Fatalf("1,000 messages that failed together come back at %d moments only", len(seen))
	}
	for n, want := range map[int]time.Duration{2: time.Minute, 4: 4 * time.Minute, 6: 15 * time.Minute, 20: 15 * time.Minute} {
		if d := retryDelay(n, "m", transient); d < want || d >= want+want/5 {
			t.Errorf("after %d failures: %v, want %v to %v", n, d, want, want+want/5)
		}
	}
	for _, c := range []struct {
		after, want time.Duration
	}{{2 * time.Minute, 2 * time.Minute}, {10 * time.Hour, MaxRetryAfter}} {
		err := fmt.Errorf("send: %w", &notify.HTTPError{Provider: "twilio", StatusCode: 429, RetryAfter: c.after})
		if d := retryDelay(1, "m", err); d != c.want {
			t.Errorf("Retry-After %v: waits %v, want %v", c.after, d, c.want)
		}
	}
	if d := retryDelay(1, "m", &notify.HTTPError{StatusCode: 429, RetryAfter: 5 * time.Second}); d < 30*time.Second {
		t.Errorf("a Retry-After shorter than the backoff: waits %v", d)
	}
	if d := retryDelay(1, "m", errors.New("connection refused")); d < 30*time.Second || d >= 36*time.Second {
		t.Errorf("an error without Retry-After: waits %v", d)
	}
}
