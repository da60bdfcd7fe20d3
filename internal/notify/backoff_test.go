package notify

import (
	"fmt"
	"testing"
	"time"
)

// TestBackoff: the delay doubles from First to Max, adds up to a fifth
// spread by the id, and yields to a longer Retry-After up to its cap.
func TestBackoff(t *testing.T) {
	b := Backoff{First: 10 * time.Second, Max: 80 * time.Second, MaxRetryAfter: time.Minute}
	for n, want := range map[int]time.Duration{-1: 10 * time.Second, 1: 10 * time.Second, 2: 20 * time.Second,
		4: 80 * time.Second, 100: 80 * time.Second} {
		if d := b.Delay(n, "x", nil); d < want || d >= want+want/5 {
			t.Errorf("n=%d: %v, want %v to %v", n, d, want, want+want/5)
		}
	}
	spread := map[time.Duration]bool{}
	for i := range 200 {
		spread[b.Delay(1, fmt.Sprint(i), nil)] = true
	}
	if len(spread) < 100 {
		t.Errorf("200 ids share %d delays", len(spread))
	}
	for _, c := range []struct{ after, want time.Duration }{{45 * time.Second, 45 * time.Second}, {time.Hour, time.Minute}} {
		if d := b.Delay(1, "x", fmt.Errorf("send: %w", &HTTPError{StatusCode: 429, RetryAfter: c.after})); d != c.want {
			t.Errorf("Retry-After %v: %v, want %v", c.after, d, c.want)
		}
	}
}
