package incident_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// TestAuditBeforeIncidentLockDoesNotDeadlock pins the failure behind a
// rare 500 on recording an HHS filing on PostgreSQL: that transaction
// appends its audit entry before it writes the incident's timeline, while a
// breach reminder, like every incident change, locks the incident first and
// appends its audit entry after. When each held the lock the other wanted,
// PostgreSQL broke the deadlock by failing one of them. Both must commit
// here, whichever order they take the locks in.
func TestAuditBeforeIncidentLockDoesNotDeadlock(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		inc := e.create("Ransomware on the imaging server")
		ctx, cancel := context.WithTimeout(e.ctx, time.Minute)
		defer cancel()

		// Transaction A appends its audit entry first, as the filing does.
		a, err := d.W.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Rollback() // a no-op after Commit
		if _, err := audit.Append(ctx, a, start, audit.Event{Action: "report.hhs_filing", ObjectType: "incident", ObjectID: inc.ID}); err != nil {
			t.Fatalf("A: audit first: %v", err)
		}

		// Transaction B writes the incident's timeline (lock, then audit),
		// as the reminder does.
		bDone := make(chan error, 1)
		go func() {
			bDone <- d.Write(ctx, func(tx *sql.Tx) error {
				return e.svc.RecordTx(ctx, tx, inc.ID, incident.EventBreach, "Reminder: the HHS notice is due in 10 days.")
			})
		}()
		var bErr error
		bFinished := false
		if d.Dialect == db.Postgres {
			// Wait until B holds the incident's lock: it has finished or
			// waits on a lock A holds. (On SQLite B queues behind A's
			// connection, the only writer.)
			var aPID int
			if err := a.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&aPID); err != nil {
				t.Fatal(err)
			}
			bErr, bFinished = dbtest.WaitFinishedOrBlocked(t, ctx, d, aPID, bDone)
		}

		// A now writes the same incident's timeline and commits.
		if err := e.svc.RecordTx(ctx, a, inc.ID, incident.EventBreach, "HHS breach report filed."); err != nil {
			t.Fatalf("A: timeline after audit: %v", err)
		}
		if err := a.Commit(); err != nil {
			t.Fatalf("A: commit: %v", err)
		}
		if !bFinished {
			bErr = <-bDone
		}
		if bErr != nil {
			t.Fatalf("B: %v", bErr)
		}
		e.verifyAudit()
	})
}
