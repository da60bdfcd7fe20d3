package jobs

import (
	"context"
	"fmt"
	"time"
)

// evidenceVerifyTimeout bounds one verification of every evidence item:
// it reads all of their content, which may be many gigabytes.
const evidenceVerifyTimeout = 12 * time.Hour

// EvidenceVerifier re-hashes every evidence item (package evidence) and
// records what it found; a failed item is recorded loudly there, not
// returned as an error. It returns an error only when retrying could help.
type EvidenceVerifier interface {
	VerifyScheduled(ctx context.Context) error
}

// evidenceTask is the evidence_verify housekeeping task, run by one node
// at a time every period. It does not run at start: reading every
// item again at each restart would cost as much as a day's run.
func evidenceTask(v EvidenceVerifier) Task {
	return Task{Name: "evidence_verify", Timeout: evidenceVerifyTimeout,
		Run: func(ctx context.Context) error {
			if err := v.VerifyScheduled(ctx); err != nil {
				return fmt.Errorf("evidence_verify: %w", err)
			}
			return nil
		}}
}
