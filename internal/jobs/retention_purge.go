package jobs

import (
	"context"
	"fmt"
	"time"

	"github.com/riverqueue/river"
)

// retentionPurgeTimeout bounds one purge: it walks the audit chain first
// and may remove many records.
const retentionPurgeTimeout = 2 * time.Hour

// Purger is the retention purge (package retention) that the
// retention_purge job runs: remove what is past retention and not on
// legal hold. It returns an error only when retrying could help.
type Purger interface {
	PurgeScheduled(ctx context.Context) error
}

// RetentionPurgeArgs is the retention_purge housekeeping job. River
// schedules periodic jobs on the elected leader only, so on PostgreSQL one
// node at a time starts a purge.
type RetentionPurgeArgs struct{}

// Kind names the job.
func (RetentionPurgeArgs) Kind() string { return "retention_purge" }

// retentionPurgeWorker runs the purge.
type retentionPurgeWorker struct {
	river.WorkerDefaults[RetentionPurgeArgs]
	p Purger
}

// Timeout lets a large purge finish.
func (w *retentionPurgeWorker) Timeout(*river.Job[RetentionPurgeArgs]) time.Duration {
	return retentionPurgeTimeout
}

// Work runs one purge.
func (w *retentionPurgeWorker) Work(ctx context.Context, _ *river.Job[RetentionPurgeArgs]) error {
	if err := w.p.PurgeScheduled(ctx); err != nil {
		return fmt.Errorf("retention_purge: %w", err)
	}
	return nil
}

// retentionJob is the periodic retention_purge job.
func retentionJob(period time.Duration) *river.PeriodicJob {
	return river.NewPeriodicJob(
		river.PeriodicInterval(period),
		func() (river.JobArgs, *river.InsertOpts) { return RetentionPurgeArgs{}, nil },
		&river.PeriodicJobOpts{ID: RetentionPurgeArgs{}.Kind(), RunOnStart: true},
	)
}
