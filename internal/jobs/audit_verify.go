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
	q      db.Querier
	log    *slog.Logger
	broken func(audit.Break) // told of a break in the current segment; may be nil
}

// Timeout lets a long chain finish.
func (w *auditVerifyWorker) Timeout(*river.Job[AuditVerifyArgs]) time.Duration {
	return auditVerifyTimeout
}

// Work verifies the chain. A break in the current segment is logged as an
// error and handed to the watcher, which records it in a new segment and
// alerts the Security Officers; the job still succeeds, since retrying
// cannot mend it. Breaks already recorded (closed segments) are logged as
// warnings. Only a failure to read the chain fails the job.
func (w *auditVerifyWorker) Work(ctx context.Context, _ *river.Job[AuditVerifyArgs]) error {
	res, err := audit.Verify(ctx, w.q)
	if err != nil {
		return fmt.Errorf("audit_verify: %w", err)
	}
	for _, sg := range res.RecordedBreaks() {
		w.log.WarnContext(ctx, "audit_chain_recorded_break", "segment", sg.Number, "first_seq", sg.FirstSeq, "last_seq", sg.LastSeq)
	}
	if !res.OK {
		w.log.ErrorContext(ctx, "audit_chain_broken",
			"entries", res.Entries, "bad_seq", res.BadSeq, "reason", res.Reason)
		if w.broken != nil {
			w.broken(audit.Break{BrokenAt: res.BadSeq, Found: "the periodic check of the whole trail found: " + res.Reason})
		}
		return nil
	}
	w.log.InfoContext(ctx, "audit_chain_verified", "entries", res.Entries, "ok", res.OK)
	return nil
}
