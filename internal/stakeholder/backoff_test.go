package stakeholder

import (
	"fmt"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/wardhq/ward/internal/notify"
)

// TestMailBackoff: an external email that failed waits 1, 2, 4 ...
// minutes up to an hour, plus up to a fifth more spread by its id (the
// same for the same email), so that emails that failed together in a
// mail server's outage do not all come back in the same minute; a
// Retry-After longer than that is honoured up to an hour.
func TestMailBackoff(t *testing.T) {
	temp := &smtp.SMTPError{Code: 451, Message: "try later"}
	seen := map[time.Duration]bool{}
	for i := range 1000 {
		id := fmt.Sprintf("mail-%d", i)
		d := mailBackoff(1, id, temp)
		if d < time.Minute || d >= time.Minute+time.Minute/5 {
			t.Fatalf("first retry of %s after %v, want 1 min to 1 min 12 s", id, d)
		}
		if again := mailBackoff(1, id, temp); again != d {
			t.Fatalf("%s: %v then %v", id, d, again)
		}
		seen[d] = true
	}
	if len(seen) < 500 {
		t.Fatalf("1,000 emails that failed together come back at %d moments only", len(seen))
	}
	for n, want := range map[int]time.Duration{0: time.Minute, 2: 2 * time.Minute, 4: 8 * time.Minute, 7: time.Hour, 30: time.Hour} {
		if d := mailBackoff(n, "m", temp); d < want || d >= want+want/5 {
			t.Errorf("after %d failures: %v, want %v to %v", n, d, want, want+want/5)
		}
	}
	if d := mailBackoff(1, "m", &notify.HTTPError{StatusCode: 429, RetryAfter: 10 * time.Hour}); d != time.Hour {
		t.Errorf("a Retry-After of 10 hours: waits %v, want an hour", d)
	}
}
