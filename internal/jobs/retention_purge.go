package jobs

import (
	"context"
	"fmt"
	"time"
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

// retentionTask is the retention_purge housekeeping task: one node at a
// time starts a purge, when a cluster starts and then every period.
func retentionTask(p Purger) Task {
	return Task{Name: "retention_purge", Timeout: retentionPurgeTimeout, RunOnStart: true,
		Run: func(ctx context.Context) error {
			if err := p.PurgeScheduled(ctx); err != nil {
				return fmt.Errorf("retention_purge: %w", err)
			}
			return nil
		}}
}
