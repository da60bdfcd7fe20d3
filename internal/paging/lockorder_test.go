package paging_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/paging"
)

// TestClaimAndResolveDoNotDeadlock pins a deadlock seen on PostgreSQL when
// an alert was resolved while its page was being delivered. The delivery
// round's claim locks the queued message, then writes the page's
// acknowledge and resolve links, whose foreign key share-locks the page
// row; the resolve locks the page row, then cancels the page's queued
// messages. When the resolve's page lock was FOR UPDATE it blocked the
// links' key-share lock, each transaction waited on the other, and
// PostgreSQL failed one of them. The resolve changes no key of the page,
// so its lock must leave the page's key to foreign keys: both commit here,
// whichever order they take the locks in.
func TestClaimAndResolveDoNotDeadlock(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.verify(e.user("alice", authz.RoleResponder), paging.ContactEmail, "alice@example.org")
		ig := e.service("db", "", "alice")
		pg, err := e.pager.PageOf(e.ctx, e.trigger(ig, "k1").Opened[0])
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(e.ctx, time.Minute)
		defer cancel()

		// R, the resolve, locks the page first.
		r, err := d.W.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Rollback() // a no-op after Commit
		if err := e.pager.LockPageForTest(ctx, r, pg.ID); err != nil {
			t.Fatalf("R: lock the page: %v", err)
		}

		// C, the claim, takes the queued page message and writes its links.
		claimed := make(chan int, 1)
		cDone := make(chan error, 1)
		go func() {
			cDone <- d.Write(ctx, func(tx *sql.Tx) error {
				n, err := e.pager.ClaimForTest(ctx, tx, start)
				claimed <- n
				return err
			})
		}()
		var cErr error
		cFinished := false
		if d.Dialect == db.Postgres {
			var rPID int
			if err := r.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&rPID); err != nil {
				t.Fatal(err)
			}
			cErr, cFinished = dbtest.WaitFinishedOrBlocked(t, ctx, d, rPID, cDone)
		}

		// R cancels the page's messages not yet sent, and commits.
		if err := paging.CancelPendingForTest(ctx, r, pg.ID); err != nil {
			t.Fatalf("R: cancel the page's messages: %v", err)
		}
		if err := r.Commit(); err != nil {
			t.Fatalf("R: commit: %v", err)
		}
		if !cFinished {
			cErr = <-cDone
		}
		if cErr != nil {
			t.Fatalf("C: %v", cErr)
		}
		// On PostgreSQL the claim ran while R held the page; on SQLite it
		// waited for R's commit, which had cancelled the message.
		want := 1
		if d.Dialect == db.SQLite {
			want = 0
		}
		if n := <-claimed; n != want {
			t.Fatalf("the claim took %d messages, want %d", n, want)
		}
	})
}
