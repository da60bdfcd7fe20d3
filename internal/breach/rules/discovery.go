package rules

import (
	"time"

	"github.com/wardhq/ward/internal/apperr"
)

// Discovery returns when a breach is treated as discovered, the instant
// every notice clock starts: the earlier of when it was known (knownAt) and
// when, by exercising reasonable diligence, it would have been known to a
// workforce member or agent other than the person committing it
// (shouldHaveKnownAt). 45 CFR 164.404(a)(2) for a covered entity,
// 164.410(a)(2) for a business associate. A zero time means that instant
// is not recorded; at least one must be.
func Discovery(knownAt, shouldHaveKnownAt time.Time) (time.Time, error) {
	switch {
	case knownAt.IsZero() && shouldHaveKnownAt.IsZero():
		return time.Time{}, apperr.Field("discovered_at", "the date the breach was known or would have been known with reasonable diligence is required (45 CFR 164.404(a)(2))")
	case knownAt.IsZero():
		return shouldHaveKnownAt, nil
	case shouldHaveKnownAt.IsZero(), knownAt.Before(shouldHaveKnownAt):
		return knownAt, nil
	}
	return shouldHaveKnownAt, nil
}
