package notify

import (
	"errors"
	"hash/fnv"
	"time"
)

// Backoff is how long an outbox waits before trying a message again: First
// after the first failure, doubling to at most Max, plus up to a fifth
// more, spread by the message's id so that messages that failed together
// (a provider's outage) do not all come back at the same moment; and never
// sooner than the provider's Retry-After (an HTTPError's), up to
// MaxRetryAfter. Paging's outbox and the external subscribers' email share
// it.
type Backoff struct {
	First, Max, MaxRetryAfter time.Duration
}

// Delay is the wait before attempt n+1 of message id after n failed, the
// last with err.
func (b Backoff) Delay(n int, id string, err error) time.Duration {
	d := b.First
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	d = min(d, b.Max)
	h := fnv.New32a()
	_, _ = h.Write([]byte(id))
	d += d * time.Duration(h.Sum32()%1000) / 5000
	if he, ok := errors.AsType[*HTTPError](err); ok && he.RetryAfter > d {
		d = min(he.RetryAfter, b.MaxRetryAfter)
	}
	return d
}
