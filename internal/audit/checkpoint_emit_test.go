package audit_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/backup"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/outbound"
)

// tick runs one round of cp and returns the checkpoint it signed, if any.
func tick(t testing.TB, cp *audit.Checkpointer) *audit.Checkpoint {
	t.Helper()
	c, err := cp.Tick(context.Background())
	if err != nil {
		t.Fatalf("tick: %v", err)
	}
	return c
}

// storedSeqs lists the sequence numbers of the stored checkpoints.
func storedSeqs(t testing.TB, d *db.DB) []int64 {
	t.Helper()
	rows, err := d.R.QueryContext(context.Background(), "SELECT seq FROM audit_checkpoints ORDER BY seq")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// appendMore appends n more entries after those already in d, continuing
// appendN's pattern so that the same calls give the same chain anywhere.
func appendMore(t testing.TB, d *db.DB, n int) {
	t.Helper()
	seq, _ := head(t, d)
	ctx := actorCtx()
	for i := int(seq); i < int(seq)+n; i++ {
		appendOne(t, ctx, d, start.Add(time.Duration(i)*time.Second), audit.Event{
			Action: "incident.update", ObjectType: "incident", ObjectID: "inc-" + strconv.Itoa(i),
			Change: map[string]any{"field": "title", "new": "title " + strconv.Itoa(i)},
		})
	}
}

func TestCheckpointCadence(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		clk := clock.NewFake(start)
		key := newKey(t)
		cp := audit.NewCheckpointer(d, clk, key, audit.CheckpointOptions{Entries: 5, Interval: time.Minute, Node: "node-a"})
		if c := tick(t, cp); c != nil {
			t.Fatalf("checkpoint of an empty trail: %+v", c)
		}
		appendMore(t, d, 1)
		c := tick(t, cp)
		_, h1 := head(t, d)
		if c == nil || c.Seq != 1 || c.Hash != h1 || c.Node != "node-a" || !c.At.Equal(start) {
			t.Fatalf("first checkpoint = %+v, want entry 1 at once", c)
		}
		if err := trust(t, key).Check(*c); err != nil {
			t.Fatal(err)
		}
		appendMore(t, d, 3)
		if c := tick(t, cp); c != nil {
			t.Fatalf("checkpoint after 3 entries and no time: %+v", c)
		}
		clk.Advance(time.Minute)
		if c := tick(t, cp); c == nil || c.Seq != 4 {
			t.Fatalf("checkpoint after the interval = %+v, want entry 4", c)
		}
		clk.Advance(2 * time.Minute)
		if c := tick(t, cp); c != nil {
			t.Fatalf("checkpoint of an unmoved head: %+v", c)
		}
		appendMore(t, d, 5)
		if c := tick(t, cp); c == nil || c.Seq != 9 {
			t.Fatalf("checkpoint after 5 entries = %+v, want entry 9", c)
		}
		if got := storedSeqs(t, d); len(got) != 3 || got[0] != 1 || got[1] != 4 || got[2] != 9 {
			t.Fatalf("stored checkpoints %v, want 1 4 9", got)
		}
		ctx := roleCtx(authz.RoleAuditor)
		list, err := cp.ListCheckpoints(ctx, 1, 0)
		if err != nil || len(list) != 2 || list[0].Seq != 4 || list[1].Seq != 9 || trust(t, key).Check(list[1]) != nil {
			t.Fatalf("list after 1: %v %+v", err, list)
		}
		if _, err := cp.ListCheckpoints(context.Background(), 0, 0); err == nil {
			t.Fatal("list without an actor succeeded")
		}
	})
}

// TestCheckpointRefusesBrokenChain: a checkpoint never anchors a tail that
// does not chain from the previous checkpoint.
func TestCheckpointRefusesBrokenChain(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		clk := clock.NewFake(start)
		cp := audit.NewCheckpointer(d, clk, newKey(t), audit.CheckpointOptions{Entries: 2})
		appendMore(t, d, 2)
		tick(t, cp)
		appendMore(t, d, 2)
		dropTriggers(t, d)
		exec(t, d, "UPDATE audit_log SET actor = 'token:mallory' WHERE seq = 3")
		if c, err := cp.Tick(context.Background()); err == nil || c != nil || !strings.Contains(err.Error(), "entry 3 does not match its hash") {
			t.Fatalf("tick over a broken chain: %+v %v", c, err)
		}
		exec(t, d, "DELETE FROM audit_log WHERE seq > 2")
		exec(t, d, "UPDATE audit_head SET seq = 1")
		if _, err := cp.Tick(context.Background()); err == nil || !strings.Contains(err.Error(), "restored from an older copy") {
			t.Fatalf("tick behind the newest checkpoint: %v", err)
		}
		if got := storedSeqs(t, d); len(got) != 1 {
			t.Fatalf("stored checkpoints %v, want only the first", got)
		}
	})
}

// TestCheckpointOnePerInterval: nodes ticking at once store one checkpoint
// per head; on PostgreSQL a node that does not hold the lock does nothing.
func TestCheckpointOnePerInterval(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		clk := clock.NewFake(start)
		key := newKey(t)
		nodes := make([]*audit.Checkpointer, 4)
		for i := range nodes {
			nodes[i] = audit.NewCheckpointer(d, clk, key, audit.CheckpointOptions{Entries: 1, Node: "node-" + strconv.Itoa(i)})
		}
		appendMore(t, d, 3)
		var wg sync.WaitGroup
		for _, n := range nodes {
			wg.Go(func() {
				if _, err := n.Tick(context.Background()); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if got := storedSeqs(t, d); len(got) != 1 || got[0] != 3 {
			t.Fatalf("stored checkpoints %v, want one, of entry 3", got)
		}
		if d.Dialect != db.Postgres {
			return
		}
		conn, err := d.W.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var held bool
		if err := conn.QueryRowContext(context.Background(), "SELECT pg_try_advisory_lock("+db.LockKey+")", audit.CheckpointLockKey).Scan(&held); err != nil || !held {
			t.Fatalf("take the checkpoint lock: %v %v", held, err)
		}
		appendMore(t, d, 1)
		if c := tick(t, nodes[0]); c != nil {
			t.Fatalf("a node without the lock signed %+v", c)
		}
		if _, err := conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock("+db.LockKey+")", audit.CheckpointLockKey); err != nil {
			t.Fatal(err)
		}
		if c := tick(t, nodes[1]); c == nil || c.Seq != 4 {
			t.Fatalf("after the lock was released: %+v, want entry 4", c)
		}
	})
}

// TestCheckpointLockIsItsOwn: the checkpoint round's advisory lock is not
// the scheduled backup's. They once shared a key, so on PostgreSQL no node
// signed a checkpoint while a backup was being made, and a checkpoint round
// made a backup wait.
func TestCheckpointLockIsItsOwn(t *testing.T) {
	if audit.CheckpointLockKey == backup.ScheduleLockKey {
		t.Fatalf("the checkpoint lock and the scheduled backup's lock are both %d", audit.CheckpointLockKey)
	}
}

// webhookSink is a local receiver of checkpoints that fails while down.
type webhookSink struct {
	mu    sync.Mutex
	down  bool
	got   []string
	types []string
}

func (s *webhookSink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.down {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	s.got = append(s.got, string(body))
	s.types = append(s.types, r.Header.Get("Content-Type"))
}

func (s *webhookSink) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.got...)
}

func TestCheckpointPublish(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		sink := &webhookSink{down: true}
		srv := httptest.NewServer(sink)
		defer srv.Close()
		guard := outbound.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, nil)
		file := filepath.Join(t.TempDir(), "published", "checkpoints.jsonl")
		clk := clock.NewFake(start)
		key := newKey(t)
		webhook := audit.WebhookPublisher{URL: srv.URL + "/hook?secret=s3cr3t", Client: guard.Client(5*time.Second, nil)}
		cp := audit.NewCheckpointer(d, clk, key, audit.CheckpointOptions{Entries: 2, Node: "n",
			Publishers: []audit.Publisher{audit.FilePublisher{Path: file}, webhook}})
		appendMore(t, d, 2)
		c, err := cp.Tick(context.Background())
		if c == nil || err == nil || !strings.Contains(err.Error(), "503") || strings.Contains(err.Error(), "s3cr3t") {
			t.Fatalf("tick with the webhook down: %+v %v; want the checkpoint, and the failure without the URL's secret", c, err)
		}
		appendMore(t, d, 2)
		tick(t, cp) // the webhook waits out its pause; the file gets the second
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		fromFile, _, err := audit.ReadCheckpoints(data)
		if err != nil || len(fromFile) != 2 || fromFile[0].Seq != 2 || fromFile[1].Seq != 4 {
			t.Fatalf("file: %v %+v", err, fromFile)
		}
		for _, p := range fromFile {
			if err := trust(t, key).Check(p.Checkpoint); err != nil {
				t.Fatal(err)
			}
		}
		if st, _ := os.Stat(file); st.Mode().Perm() != 0o600 {
			t.Errorf("checkpoints file mode %v, want 0600", st.Mode())
		}
		if got := sink.received(); len(got) != 0 {
			t.Fatalf("webhook got %v while down", got)
		}
		sink.mu.Lock()
		sink.down = false
		sink.mu.Unlock()
		clk.Advance(2 * time.Second)
		tick(t, cp)
		got := sink.received()
		if len(got) != 2 || got[0] != string(fromFile[0].MarshalLine()) || got[1] != string(fromFile[1].MarshalLine()) ||
			sink.types[0] != "application/json" {
			t.Fatalf("webhook got %q, want both checkpoints in order", got)
		}
		tick(t, cp)
		if n := len(sink.received()); n != 2 {
			t.Fatalf("webhook got %d deliveries, want each checkpoint once while it answers", n)
		}
		data, _ = os.ReadFile(file)
		if n := strings.Count(string(data), "\n"); n != 2 {
			t.Fatalf("file has %d lines, want 2", n)
		}
	})
}

// TestCheckpointWebhookGuarded: the webhook goes through the outbound
// guard, which refuses loopback unless it is allow-listed.
func TestCheckpointWebhookGuarded(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		sink := &webhookSink{}
		srv := httptest.NewServer(sink)
		defer srv.Close()
		cp := audit.NewCheckpointer(d, clock.NewFake(start), newKey(t), audit.CheckpointOptions{Entries: 1,
			Publishers: []audit.Publisher{audit.WebhookPublisher{URL: srv.URL, Client: outbound.New(nil, nil).Client(5*time.Second, nil)}}})
		appendMore(t, d, 1)
		if _, err := cp.Tick(context.Background()); err == nil || !strings.Contains(err.Error(), "--outbound-allow") {
			t.Fatalf("tick to a loopback webhook: %v, want the guard's refusal", err)
		}
		if got := sink.received(); len(got) != 0 {
			t.Fatalf("the guarded webhook was reached: %v", got)
		}
	})
}
