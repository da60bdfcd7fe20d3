package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
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

// EvidenceVerifyArgs is the evidence_verify housekeeping job, run on the
// elected leader only.
type EvidenceVerifyArgs struct{}

// Kind names the job.
func (EvidenceVerifyArgs) Kind() string { return "evidence_verify" }

type evidenceVerifyWorker struct {
	river.WorkerDefaults[EvidenceVerifyArgs]
	v EvidenceVerifier
}

// Timeout lets a large vault be read whole.
func (w *evidenceVerifyWorker) Timeout(*river.Job[EvidenceVerifyArgs]) time.Duration {
	return evidenceVerifyTimeout
}

// Work verifies every item.
func (w *evidenceVerifyWorker) Work(ctx context.Context, _ *river.Job[EvidenceVerifyArgs]) error {
	if err := w.v.VerifyScheduled(ctx); err != nil {
		return fmt.Errorf("evidence_verify: %w", err)
	}
	return nil
}

// evidenceJob is the periodic evidence_verify job. It does not run when
// the runner starts: reading every item again at each restart would cost
// as much as a day's run.
func evidenceJob(period time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(
		river.PeriodicInterval(period),
		func() (river.JobArgs, *river.InsertOpts) { return EvidenceVerifyArgs{}, nil },
		&river.PeriodicJobOpts{ID: EvidenceVerifyArgs{}.Kind()},
	)
}
