package paging_test

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/notify"
	"github.com/wardhq/ward/internal/paging"
	"github.com/wardhq/ward/internal/testwait"
)

// secondNode is another Ward node beside e's: a Pager on its own handle
// of the same database, on e's clock, sending through channels of its own.
func (e *env) secondNode(url string, opts ...func(*paging.Options)) (*paging.Pager, *fakeChannels) {
	e.t.Helper()
	d := dbtest.Open(e.t, url)
	kr := dbtest.Keyring(e.t, d, start)
	ch := &fakeChannels{fail: map[string]error{}}
	o := paging.Options{BaseURL: "https://ward.test"}
	for _, f := range opts {
		f(&o)
	}
	return paging.New(d, e.clk, kr, incident.NewService(d, e.clk, kr), ch, slog.New(slog.NewTextHandler(io.Discard, nil)), o), ch
}

// statuses counts the page messages by status.
func (e *env) statuses() map[string]int {
	e.t.Helper()
	rows, err := e.d.R.QueryContext(context.Background(), `SELECT status, count(*) FROM notifications WHERE kind = 'page' GROUP BY status`)
	if err != nil {
		e.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			e.t.Fatal(err)
		}
		out[s] = n
	}
	return out
}

// TestFailoverNoDuplicates: two nodes on one database. Node A claims three
// page messages and stops mid-send (its lease is not renewed: it died or
// lost the database). Once its lease lapses, seconds later, not after the
// two-minute message lease, node B takes the three over and sends them.
// A, when it comes back, sends none of the two it had not begun (its
// lease lapsed), and the one it had on its way when it stopped reaches
// the receiver as the same message: the same notification id, the same
// acknowledge and resolve links.
func TestFailoverNoDuplicates(t *testing.T) {
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			e := newEnv(t, dbtest.Open(t, target.URL), func(o *paging.Options) { o.Workers = 1 })
			nodeB, chB := e.secondNode(target.URL)
			alice := e.user("alice", authz.RoleResponder)
			e.verify(alice, paging.ContactEmail, "alice@example.org")
			ig := e.service("api", alert.GroupByAlert, "alice")
			for _, k := range []string{"k1", "k2", "k3"} {
				e.send(ig, alert.Trigger, k)
			}
			e.ch.hold, e.ch.entered = make(chan struct{}), make(chan struct{}, 1)
			aDone := make(chan error, 1)
			go func() { aDone <- e.pager.Tick(context.Background()) }()
			select {
			case <-e.ch.entered:
			case <-time.After(20 * time.Second):
				t.Fatal("node A never began to send")
			}
			if got := e.statuses(); got["sending"] != 3 {
				t.Fatalf("node A claimed %v", got)
			}
			// A is stuck in its first send and renews nothing; B looks
			// while A's lease holds, then once it has lapsed.
			e.clk.Advance(5 * time.Second)
			if err := nodeB.Tick(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := chB.take(); len(got) != 0 {
				t.Fatalf("node B took over messages of a node whose lease holds: %s", addresses(got))
			}
			e.clk.Advance(6 * time.Second)
			if err := nodeB.Tick(context.Background()); err != nil {
				t.Fatal(err)
			}
			byB := map[string]notify.Message{}
			for _, s := range chB.take() {
				byB[s.msg.ID] = s.msg
			}
			if len(byB) != 3 {
				t.Fatalf("node B sent %d distinct messages once node A's lease lapsed, want 3", len(byB))
			}
			close(e.ch.hold)
			select {
			case err := <-aDone:
				if err != nil {
					t.Fatalf("node A's round: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatal("node A's round never ended")
			}
			byA := e.ch.take()
			if len(byA) != 1 {
				t.Fatalf("node A sent %d messages, want only the one on its way when it stopped: %s", len(byA), addresses(byA))
			}
			dup, ok := byB[byA[0].msg.ID]
			if !ok || dup.AckURL != byA[0].msg.AckURL || dup.ResolveURL != byA[0].msg.ResolveURL || dup.AckURL == "" {
				t.Fatalf("the message sent by both nodes differs: A %+v, B %+v", byA[0].msg, dup)
			}
			if got := e.statuses(); got["sent"] != 3 || len(got) != 1 {
				t.Fatalf("after the failover: %v", got)
			}
			// Nothing more goes out from either node.
			e.ch.hold = nil
			e.clk.Advance(time.Minute)
			e.tick()
			if err := nodeB.Tick(context.Background()); err != nil {
				t.Fatal(err)
			}
			if a, b := e.ch.take(), chB.take(); len(a)+len(b) != 0 {
				t.Fatalf("sent again: A %s, B %s", addresses(a), addresses(b))
			}
		})
	}
}

// TestLeaseRenewedWhileAlive: a node that is alive renews its lease, so
// the messages it is sending stay its own however long the send takes;
// when it stops it gives the lease up.
func TestLeaseRenewedWhileAlive(t *testing.T) {
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			const lease = 500 * time.Millisecond
			e := newEnv(t, dbtest.Open(t, target.URL), func(o *paging.Options) { o.NodeLease = lease })
			nodeB, chB := e.secondNode(target.URL)
			alice := e.user("alice", authz.RoleResponder)
			e.verify(alice, paging.ContactEmail, "alice@example.org")
			ig := e.service("api", alert.GroupByAlert, "alice")
			e.send(ig, alert.Trigger, "k1")
			e.ch.hold, e.ch.entered = make(chan struct{}), make(chan struct{}, 1)
			stop, stopped := e.runUntilEntered()
			defer stop()
			// Let Ward's clock run past the lease A took when it claimed,
			// a step at a time, each once A has renewed its lease.
			for range 4 {
				renewed := e.clk.Now().Add(lease)
				waitFor(t, "node A renews its lease", func() bool {
					var n int
					err := e.d.R.QueryRowContext(context.Background(), `SELECT count(*) FROM paging_nodes WHERE lease_until >= $1`,
						renewed).Scan(&n)
					return err == nil && n == 1
				})
				e.clk.Advance(300 * time.Millisecond)
			}
			if err := nodeB.Tick(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := chB.take(); len(got) != 0 {
				t.Fatalf("node B took over a message of a node that is alive: %s", addresses(got))
			}
			close(e.ch.hold)
			stop()
			waitClosed(t, stopped, "node A stops")
			if _, status, attempts := e.notificationRow(); status != "sent" || attempts != 1 {
				t.Fatalf("node A's message: %s after %d attempts", status, attempts)
			}
			if got := e.ch.take(); len(got) != 1 {
				t.Fatalf("node A sent %s", addresses(got))
			}
			var n int
			if err := e.d.R.QueryRowContext(context.Background(), `SELECT count(*) FROM paging_nodes`).Scan(&n); err != nil || n != 1 {
				t.Fatalf("node A's lease is still there after it stopped (%d nodes, %v)", n, err)
			}
		})
	}
}

// waitFor waits up to 20 seconds for cond.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, what, 20*time.Second, cond)
}

// TestRetryKeepsLinks: a message tried again after a failure carries the
// same notification id, links and SMS reply code, so the person (or a
// receiver) sees one message, and the reply code of either works.
func TestRetryKeepsLinks(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		bob := e.user("bob", authz.RoleResponder)
		e.verify(bob, paging.ContactSMS, "+14155550103")
		ig := e.service("api", alert.GroupByAlert, "bob")
		e.send(ig, alert.Trigger, "k1")
		// The provider answers 503: the message is sent again later.
		e.ch.fail["+14155550103"] = &notify.HTTPError{Provider: "twilio", StatusCode: 503}
		e.tick()
		e.ch.fail = map[string]error{}
		e.clk.Advance(36 * time.Second) // the backoff and its spread (retryDelay)
		e.tick()
		e.ch.mu.Lock()
		tried := e.ch.tried
		e.ch.mu.Unlock()
		// The verification code, the failed attempt, the retry.
		if len(tried) != 3 || len(e.ch.take()) != 1 {
			t.Fatalf("attempts: %s", addresses(tried))
		}
		first, retry := tried[1].msg, tried[2].msg
		if id, _, attempts := e.notificationRow(); attempts != 2 || first.ID != id || retry.ID != id {
			t.Fatalf("notification %s after %d attempts; sent as %s then %s", id, attempts, first.ID, retry.ID)
		}
		if first.AckURL != retry.AckURL || first.ResolveURL != retry.ResolveURL || first.Code != retry.Code || len(first.Code) != 6 {
			t.Fatalf("the retry carries other links than the first attempt:\n%+v\n%+v", first, retry)
		}
		if _, err := e.pager.UseSMSReply(context.Background(), "+14155550103", first.Code); err != nil {
			t.Fatalf("the reply code of both attempts: %v", err)
		}
	})
}
