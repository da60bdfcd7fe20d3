package audit_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/testwait"
)

// twoNodes opens the database of each configured dialect twice, as two
// Ward nodes sharing it would.
func twoNodes(t *testing.T, fn func(t *testing.T, a, b *db.DB)) {
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			fn(t, dbtest.Open(t, target.URL), dbtest.Open(t, target.URL))
		})
	}
}

// TestTwoNodesOneChain: writers on two nodes append concurrently, some
// rolling back; together they form one contiguous chain that verifies,
// with nothing left pending and nothing of the rolled-back writes.
func TestTwoNodesOneChain(t *testing.T) {
	const workers, perWorker = 6, 15
	boom := errors.New("boom")
	twoNodes(t, func(t *testing.T, a, b *db.DB) {
		var wg sync.WaitGroup
		for n, d := range []*db.DB{a, b} {
			for w := range workers {
				wg.Go(func() {
					ctx := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, Name: fmt.Sprintf("n%dw%d", n, w), Role: authz.RoleAdmin})
					for i := range perWorker {
						fail := i%5 == 4
						err := d.Write(ctx, func(tx *sql.Tx) error {
							_, err := audit.Append(ctx, tx, start.Add(time.Duration(i)*time.Millisecond), audit.Event{
								Action: "incident.note", ObjectType: "incident", ObjectID: fmt.Sprintf("%d-%d-%d", n, w, i)})
							if err == nil && fail {
								err = boom
							}
							return err
						})
						if fail != errors.Is(err, boom) || (!fail && err != nil) {
							t.Errorf("node %d worker %d append %d: %v", n, w, i, err)
						}
					}
				})
			}
		}
		wg.Wait()
		const total = 2 * workers * perWorker * 4 / 5
		wantOK(t, a, total)
		seen := map[string]bool{}
		for i, e := range readEntries(t, b) {
			var n, w, k int
			if _, err := fmt.Sscanf(e.ObjectID, "%d-%d-%d", &n, &w, &k); err != nil || k%5 == 4 || e.Seq != int64(i+1) {
				t.Errorf("entry %d: seq %d, object %s", i, e.Seq, e.ObjectID)
			}
			seen[e.ObjectID] = true
		}
		if len(seen) != total || pending(t, a.R) != 0 {
			t.Errorf("%d distinct entries, want %d; %d left pending", len(seen), total, pending(t, a.R))
		}
	})
}

// TestWriteDoesNotWaitForTheHead: on PostgreSQL, while another
// transaction holds the chain head's row lock (a round in progress), an
// audited write on another node still commits, change and entry, and its
// entry is chained once the lock is free. Before issue #18 every audited
// write queued on that lock before it could commit.
func TestWriteDoesNotWaitForTheHead(t *testing.T) {
	u := dbtest.PostgresURL(t)
	if u == "" {
		t.Skip("PostgreSQL only: SQLite has one writer, whose transaction excludes every other")
	}
	a, b := dbtest.Open(t, u), dbtest.Open(t, u)
	appendN(t, a, 2)
	ctx := actorCtx()
	holder, err := a.W.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.ExecContext(ctx, "SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	// The audited write on the other node, in a transaction of its own:
	// its Commit returning is the sign that it did not wait for the head
	// (before issue #18, Append itself queued on the lock, and the deadline
	// would end it). Its entry is then committed and pending.
	wctx, cancel := context.WithTimeout(ctx, audit.SettleTimeout)
	defer cancel()
	w, err := b.W.BeginTx(wctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Rollback() // a no-op after Commit
	if _, err := audit.Append(wctx, w, start.Add(time.Hour), audit.Event{Action: "incident.create", ObjectType: "incident", ObjectID: "while-locked"}); err != nil {
		t.Fatalf("the audited write waited for the chain head: %v", err)
	}
	if err := w.Commit(); err != nil {
		t.Fatalf("the audited write did not commit while the chain head was locked: %v", err)
	}
	if n := pending(t, a.R); n != 1 {
		t.Fatalf("%d entries pending after the write committed, want 1", n)
	}
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	// Once the lock is free, the round a writer runs after its commit
	// chains the entry.
	if err := audit.Flush(ctx, b); err != nil {
		t.Fatalf("chain after the lock: %v", err)
	}
	es := wantOK(t, a, 3)
	if got := readEntries(t, a)[2]; got.ObjectID != "while-locked" || got.Seq != 3 || es.Head != got.Hash || pending(t, a.R) != 0 {
		t.Errorf("entry 3 = %+v, %d pending", got, pending(t, a.R))
	}
}

// orphan inserts a pending entry the way a writer that died after its
// commit would leave it: committed, not chained, no one settling it.
func orphan(t *testing.T, d *db.DB, id string) {
	t.Helper()
	if _, err := d.W.ExecContext(context.Background(), `INSERT INTO audit_pending
		(at, actor, action, object_type, object_id, request_id, source_ip, digest)
		VALUES ($1, 'token:tester', 'incident.note', 'incident', $2, '', '', $3)`,
		start, id, "00"); err != nil {
		t.Fatal(err)
	}
}

// TestSequencerFailover: entries a writer left pending are chained by
// the node holding the sequencer's lease, not by the other; when the
// holder stops renewing, the other takes the lease over once it lapses
// and chains what waits, and nothing is lost. Entries waiting longer than
// Stuck make the node report the chain as not advancing.
func TestSequencerFailover(t *testing.T) {
	twoNodes(t, func(t *testing.T, a, b *db.DB) {
		ctx := context.Background()
		clk := clock.NewFake(start)
		s1 := audit.NewSequencer(a, clk, audit.SequencerOptions{Node: "ward-1", Lease: 5 * time.Second, Stuck: 30 * time.Second})
		s2 := audit.NewSequencer(b, clk, audit.SequencerOptions{Node: "ward-2", Lease: 5 * time.Second, Stuck: 30 * time.Second})
		lease := func(s *audit.Sequencer) bool {
			t.Helper()
			held, err := s.Lease(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return held
		}
		tick := func(s *audit.Sequencer) int {
			t.Helper()
			n, err := s.Tick(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		measure := func(s *audit.Sequencer) {
			t.Helper()
			if err := s.Measure(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if !lease(s1) || lease(s2) {
			t.Fatal("want ward-1 to take the lease and ward-2 to find it held")
		}
		appendN(t, a, 1)
		orphan(t, a, "left-1")
		orphan(t, b, "left-2")
		measure(s2)
		if metric(t, s2, "ward_audit_pending_entries") != 2 {
			t.Fatalf("pending entries = %v, want 2", metric(t, s2, "ward_audit_pending_entries"))
		}
		if n := tick(s2); n != 0 || pending(t, b.R) != 2 {
			t.Fatalf("the node without the lease chained %d", n)
		}
		if n := tick(s1); n != 2 || pending(t, a.R) != 0 {
			t.Fatalf("the holder chained %d, %d left", n, pending(t, a.R))
		}
		wantOK(t, a, 3)

		// ward-1 stops renewing (it died); what waits, waits for its
		// lease to lapse, then ward-2 takes over.
		orphan(t, b, "left-3")
		clk.Advance(4 * time.Second)
		if lease(s2) || tick(s2) != 0 {
			t.Fatal("ward-2 took a lease that had not lapsed")
		}
		clk.Advance(2 * time.Second)
		if !lease(s2) {
			t.Fatal("ward-2 did not take over the lapsed lease")
		}
		if n := tick(s1); n != 0 {
			t.Fatalf("ward-1 chained %d after its lease lapsed", n)
		}
		if n := tick(s2); n != 1 {
			t.Fatalf("ward-2 chained %d, want 1", n)
		}
		if lease(s1) {
			t.Fatal("ward-1 took the lease back from a live holder")
		}
		es := readEntries(t, a)
		if len(es) != 4 || es[1].ObjectID != "left-1" && es[1].ObjectID != "left-2" || es[3].ObjectID != "left-3" {
			t.Fatalf("entries %+v", es)
		}
		wantOK(t, a, 4)

		// Nobody chains for longer than Stuck: the node says so.
		orphan(t, a, "stuck")
		clk.Advance(31 * time.Second)
		measure(s1)
		if ok, reason := s1.Status(); ok || reason == "" || metric(t, s1, "ward_audit_pending_oldest_seconds") < 30 {
			t.Fatalf("status %v %q, oldest %v s", ok, reason, metric(t, s1, "ward_audit_pending_oldest_seconds"))
		}
		// ward-2 gives the lease up as it stops: ward-1 takes it at once.
		if err := s2.Release(ctx); err != nil {
			t.Fatal(err)
		}
		if !lease(s1) || tick(s1) != 1 {
			t.Fatal("ward-1 did not take over the released lease and chain the waiting entry")
		}
		measure(s1)
		if ok, _ := s1.Status(); !ok || metric(t, s1, "ward_audit_pending_entries") != 0 || metric(t, s1, "ward_audit_sequencer_chained_total") != 3 {
			t.Fatalf("after chaining: status %v, pending %v", ok, metric(t, s1, "ward_audit_pending_entries"))
		}
		wantOK(t, a, 5)
	})
}

// TestFlush: Flush chains every entry committed before it, whoever wrote
// it, without a sequencer running.
func TestFlush(t *testing.T) {
	twoNodes(t, func(t *testing.T, a, b *db.DB) {
		appendN(t, a, 1)
		for i := range audit.ChainBatch + 5 {
			orphan(t, b, fmt.Sprint("left-", i))
		}
		if err := audit.Flush(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		if n := pending(t, b.R); n != 0 {
			t.Fatalf("%d entries pending after Flush", n)
		}
		wantOK(t, b, audit.ChainBatch+6)
	})
}

// TestWriteReturnsChainedAfterAnotherRound: on PostgreSQL, an audited
// Write returns once its entry is in the chain, even when another round
// (another node's, here a held lock) has the chain head when the write
// commits: its process's chainer tries again until the head is free,
// instead of leaving the entry to the sequencer.
func TestWriteReturnsChainedAfterAnotherRound(t *testing.T) {
	u := dbtest.PostgresURL(t)
	if u == "" {
		t.Skip("PostgreSQL only: SQLite has one writer, whose transaction chains its entries itself")
	}
	a, b := dbtest.Open(t, u), dbtest.Open(t, u)
	appendN(t, a, 2)
	ctx := actorCtx()
	holder, err := a.W.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback()
	if _, err := holder.ExecContext(ctx, "SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE"); err != nil {
		t.Fatal(err)
	}
	const writers = 4
	done := make(chan error, writers)
	for i := range writers {
		go func() {
			done <- b.Write(ctx, func(tx *sql.Tx) error {
				_, err := audit.Append(ctx, b.In(tx), start.Add(time.Hour), audit.Event{Action: "incident.note",
					ObjectType: "incident", ObjectID: fmt.Sprintf("w%d", i)})
				return err
			})
		}()
	}
	// Every write has committed and waits for its entry to be chained.
	testwait.Until(t, "the writes to commit", 30*time.Second, func() bool { return pending(t, a.R) == writers })
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	for range writers {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := pending(t, a.R); n != 0 {
		t.Fatalf("%d entries still pending after every Write returned", n)
	}
	wantOK(t, a, 2+writers)
}
