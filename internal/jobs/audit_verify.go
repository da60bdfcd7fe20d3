package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/db"
)

// auditVerifyTimeout bounds one walk of the audit chain, which grows for
// years (45 CFR 164.316(b)(2)(i): six years of retention); River's default
// of one minute is too short for a large trail.
const auditVerifyTimeout = time.Hour

// AuditVerifyArgs is the audit_verify housekeeping job: walk the whole
// audit chain and log whether it is intact (45 CFR 164.312(b) audit
// controls, 164.312(c)(1) integrity; 164.308(a)(1)(ii)(D) asks for a
// regular review of the audit logs, which starts with knowing they are
// whole).
type AuditVerifyArgs struct{}

// Kind names the job.
func (AuditVerifyArgs) Kind() string { return "audit_verify" }

// housekeeping returns the periodic jobs: each runs when the leader starts
// and then every period.
func housekeeping(period time.Duration) []*river.PeriodicJob {
	return []*river.PeriodicJob{
		river.NewPeriodicJob(
			river.PeriodicInterval(period),
			func() (river.JobArgs, *river.InsertOpts) { return AuditVerifyArgs{}, nil },
			&river.PeriodicJobOpts{ID: AuditVerifyArgs{}.Kind(), RunOnStart: true},
		),
	}
}

// auditVerifyWorker verifies the audit chain on a read connection.
type auditVerifyWorker struct {
	river.WorkerDefaults[AuditVerifyArgs]
	q   db.Querier
	log *slog.Logger
}

// Timeout lets a long chain finish.
func (w *auditVerifyWorker) Timeout(*river.Job[AuditVerifyArgs]) time.Duration {
	return auditVerifyTimeout
}

// Work verifies the chain. A broken chain is logged as an error and the job
// still succeeds: it is a finding for the Security Officer, and retrying
// cannot mend it. Only a failure to read the chain fails the job.
func (w *auditVerifyWorker) Work(ctx context.Context, _ *river.Job[AuditVerifyArgs]) error {
	res, err := audit.Verify(ctx, w.q)
	if err != nil {
		return fmt.Errorf("audit_verify: %w", err)
	}
	if !res.OK {
		w.log.ErrorContext(ctx, "audit_chain_broken",
			"entries", res.Entries, "bad_seq", res.BadSeq, "reason", res.Reason)
		return nil
	}
	w.log.InfoContext(ctx, "audit_chain_verified", "entries", res.Entries, "ok", res.OK)
	return nil
}
