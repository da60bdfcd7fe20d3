package jobs

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/db"
)

// auditVerifyTimeout bounds one walk of the audit chain, which grows for
// years (45 CFR 164.316(b)(2)(i): six years of retention).
const auditVerifyTimeout = time.Hour

// auditVerifyTask is the audit_verify housekeeping task: walk the whole
// audit chain on q and log whether it is intact (45 CFR 164.312(b) audit
// controls, 164.312(c)(1) integrity; 164.308(a)(1)(ii)(D) asks for a
// regular review of the audit logs, which starts with knowing they are
// whole). It runs when a cluster starts (see firstNode) and then every period. broken, when
// set, is told of a break in the current segment.
func auditVerifyTask(q db.Querier, log *slog.Logger, broken func(audit.Break)) Task {
	return Task{Name: "audit_verify", Timeout: auditVerifyTimeout, RunOnStart: true,
		Run: func(ctx context.Context) error { return auditVerify(ctx, q, log, broken) }}
}

// auditVerify verifies the chain. A break in the current segment is logged
// as an error and handed to broken (the watcher), which records it in a new
// segment and alerts the Security Officers; the run still succeeds, since
// retrying cannot mend it. Breaks already recorded (closed segments) are
// logged as warnings. Only a failure to read the chain fails the run.
func auditVerify(ctx context.Context, q db.Querier, log *slog.Logger, broken func(audit.Break)) error {
	res, err := audit.Verify(ctx, q)
	if err != nil {
		return fmt.Errorf("audit_verify: %w", err)
	}
	for _, sg := range res.RecordedBreaks() {
		log.WarnContext(ctx, "audit_chain_recorded_break", "segment", sg.Number, "first_seq", sg.FirstSeq, "last_seq", sg.LastSeq)
	}
	if !res.OK {
		log.ErrorContext(ctx, "audit_chain_broken",
			"entries", res.Entries, "bad_seq", res.BadSeq, "reason", res.Reason)
		if broken != nil {
			broken(audit.Break{BrokenAt: res.BadSeq, Found: "the periodic check of the whole trail found: " + res.Reason})
		}
		return nil
	}
	log.InfoContext(ctx, "audit_chain_verified", "entries", res.Entries, "ok", res.OK)
	return nil
}
