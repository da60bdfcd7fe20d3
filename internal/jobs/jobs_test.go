package jobs_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/jobs"
	"github.com/wardhq/ward/internal/notify"
	"github.com/wardhq/ward/internal/testwait"
)

// wait bounds every wait in these tests.
const wait = 5 * time.Second

// day is the housekeeping period of these tests; the fake clock moves by it.
const day = 24 * time.Hour

// logSink collects a logger's output for tests to wait on.
type logSink struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *logSink) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

// count is how many logged lines contain every one of parts.
func (s *logSink) count(parts ...string) int {
	s.mu.Lock()
	out := s.buf.String()
	s.mu.Unlock()
	found := 0
	for line := range strings.SplitSeq(out, "\n") {
		if containsAll(line, parts) {
			found++
		}
	}
	return found
}

// want fails the test unless exactly n logged lines contain every one of
// parts.
func (s *logSink) want(t *testing.T, n int, parts ...string) {
	t.Helper()
	if got := s.count(parts...); got != n {
		s.mu.Lock()
		defer s.mu.Unlock()
		t.Fatalf("%d log lines with %q, want %d; log:\n%s", got, parts, n, s.buf.String())
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// fixture is a started runner on a migrated database, on a fake clock.
type fixture struct {
	d     *db.DB
	r     *jobs.Runner
	clock *clock.Fake
	log   *logSink
}

// startWith starts a runner called node on d with opts. Its loop polls
// once an hour, so the tests decide when due tasks are looked for (Tick);
// Start itself looks once.
func startWith(t *testing.T, d *db.DB, clk *clock.Fake, node string, opts jobs.Options) *fixture {
	t.Helper()
	f := &fixture{d: d, clock: clk, log: &logSink{}}
	opts.Node, opts.Clock, opts.Poll = node, clk, time.Hour
	if opts.HousekeepingPeriod == 0 {
		opts.HousekeepingPeriod = day
	}
	logger := slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r, err := jobs.New(d, logger, opts)
	if err != nil {
		t.Fatalf("new runner: %v", err)
	}
	f.r = r
	runCtx, cancel := context.WithCancel(context.Background())
	if err := r.Start(runCtx); err != nil {
		cancel()
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		stopCtx, stopCancel := context.WithTimeout(context.Background(), wait)
		defer stopCancel()
		if err := r.Stop(stopCtx); err != nil {
			t.Errorf("stop: %v", err)
		}
		cancel()
	})
	return f
}

func newClock() *clock.Fake { return clock.NewFake(time.Now()) }

// tick runs one look for due tasks and waits for what it started.
func (f *fixture) tick(t *testing.T) []string {
	t.Helper()
	started, err := f.r.Tick(context.Background())
	if err != nil {
		t.Fatalf("tick: %v", err)
	}
	f.r.WaitIdle()
	return started
}

// task is a row of periodic_tasks.
type task struct {
	next     time.Time
	holder   sql.NullString
	until    sql.NullTime
	attempts int
}

func readTask(t *testing.T, d *db.DB, name string) task {
	t.Helper()
	var k task
	if err := d.R.QueryRowContext(context.Background(), `SELECT next_run_at, lease_holder, lease_until, attempts
		FROM periodic_tasks WHERE name = $1`, name).Scan(&k.next, &k.holder, &k.until, &k.attempts); err != nil {
		t.Fatalf("read task %s: %v", name, err)
	}
	return k
}

func TestAuditVerifyRunsOnStart(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		err := d.Write(ctx, func(tx *sql.Tx) error {
			for range 3 {
				if _, err := audit.Append(ctx, tx, time.Now().UTC().Truncate(time.Microsecond),
					audit.Event{Action: "test.append", ObjectType: "test", ObjectID: "1"}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("append: %v", err)
		}
		f := startWith(t, d, newClock(), "a", jobs.Options{})
		f.r.WaitIdle()
		f.log.want(t, 1, "msg=audit_chain_verified", "entries=3", "ok=true")

		// Cut the chain's head loose from its last entry, then let a day
		// pass.
		if _, err := d.W.ExecContext(ctx, "UPDATE audit_head SET seq = seq + 1 WHERE id = 1"); err != nil {
			t.Fatalf("tamper: %v", err)
		}
		f.clock.Advance(day)
		f.tick(t)
		f.log.want(t, 1, "level=ERROR", "msg=audit_chain_broken", "bad_seq=4", "reason=")
	})
}

func TestAuditVerifyRepeatsEveryPeriod(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		f := startWith(t, d, newClock(), "a", jobs.Options{HousekeepingPeriod: time.Hour})
		f.r.WaitIdle()
		// Not due again before the period is over.
		f.clock.Advance(time.Hour - time.Microsecond)
		f.tick(t)
		f.log.want(t, 1, "msg=audit_chain_verified", "entries=0", "ok=true")
		for range 2 {
			f.clock.Advance(time.Hour)
			f.tick(t)
		}
		f.log.want(t, 3, "msg=audit_chain_verified", "entries=0", "ok=true")
	})
}

func TestNewRejectsBadOptions(t *testing.T) {
	d := dbtest.Open(t, dbtest.Targets(t)[0].URL)
	log := slog.New(slog.DiscardHandler)
	run := func(context.Context) error { return nil }
	for name, opts := range map[string]jobs.Options{
		"negative period":  {Node: "a", HousekeepingPeriod: -time.Second},
		"negative poll":    {Node: "a", Poll: -1},
		"negative lease":   {Node: "a", Lease: -1},
		"no node":          {},
		"unnamed task":     {Node: "a", Tasks: []jobs.Task{{Run: run}}},
		"task without run": {Node: "a", Tasks: []jobs.Task{{Name: "x"}}},
		"duplicate task":   {Node: "a", Tasks: []jobs.Task{{Name: "audit_verify", Run: run}}},
	} {
		if _, err := jobs.New(d, log, opts); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := jobs.New(d, nil, jobs.Options{Node: "a"}); err == nil {
		t.Error("nil logger: New succeeded")
	}
}

func TestStopBeforeStart(t *testing.T) {
	d := dbtest.Open(t, dbtest.Targets(t)[0].URL)
	r, err := jobs.New(d, slog.New(slog.DiscardHandler), jobs.Options{Node: "a"})
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// purgeProbe counts the retention purges the runner starts.
type purgeProbe struct{ ran *atomic.Int32 }

func (p purgeProbe) PurgeScheduled(context.Context) error {
	p.ran.Add(1)
	return nil
}

// TestRetentionPurgeRepeatsEveryPeriod: with a Purger the runner starts a
// purge when it starts and again every housekeeping period.
func TestRetentionPurgeRepeatsEveryPeriod(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		p := purgeProbe{ran: &atomic.Int32{}}
		f := startWith(t, d, newClock(), "a", jobs.Options{Retention: p})
		f.r.WaitIdle()
		if n := p.ran.Load(); n != 1 {
			t.Fatalf("%d purges at start, want 1", n)
		}
		f.clock.Advance(day)
		f.tick(t)
		if n := p.ran.Load(); n != 2 {
			t.Fatalf("%d purges after a period, want 2", n)
		}
	})
}

// verifyProbe counts the evidence verifications the runner starts.
type verifyProbe struct{ ran *atomic.Int32 }

func (p verifyProbe) VerifyScheduled(context.Context) error {
	p.ran.Add(1)
	return nil
}

// TestEvidenceVerifyRunsEveryPeriodNotAtStart: reading every item at each
// restart would cost as much as a day's run.
func TestEvidenceVerifyRunsEveryPeriodNotAtStart(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		v := verifyProbe{ran: &atomic.Int32{}}
		f := startWith(t, d, newClock(), "a", jobs.Options{Evidence: v})
		f.r.WaitIdle()
		if n := v.ran.Load(); n != 0 {
			t.Fatalf("%d verifications at start, want 0", n)
		}
		f.clock.Advance(day)
		f.tick(t)
		if n := v.ran.Load(); n != 1 {
			t.Fatalf("%d verifications after a period, want 1", n)
		}
	})
}

// counter is a task that counts its runs.
func counter(name string, runs *atomic.Int32) jobs.Task {
	return jobs.Task{Name: name, RunOnStart: true, Run: func(context.Context) error {
		runs.Add(1)
		return nil
	}}
}

// pair opens the database of target twice, as two nodes do: on
// PostgreSQL two pools; on SQLite, where Ward runs as one node, one
// database shared by both runners.
func pair(t *testing.T, target dbtest.Target) (*db.DB, *db.DB) {
	d1 := dbtest.Open(t, target.URL)
	if target.Dialect != db.Postgres {
		return d1, d1
	}
	return d1, dbtest.Open(t, target.URL)
}

// TestTwoRunnersRunDueTaskOnce: two nodes that look for due tasks at the
// same moment run each due task once between them.
func TestTwoRunnersRunDueTaskOnce(t *testing.T) {
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			d1, d2 := pair(t, target)
			clk := newClock()
			var runs atomic.Int32
			opts := jobs.Options{Tasks: []jobs.Task{counter("count", &runs)}}
			var a, b *fixture
			var wg sync.WaitGroup
			wg.Go(func() { a = startWith(t, d1, clk, "a", opts) })
			wg.Go(func() { b = startWith(t, d2, clk, "b", opts) })
			wg.Wait()
			a.r.WaitIdle()
			b.r.WaitIdle()
			if n := runs.Load(); n != 1 {
				t.Fatalf("two nodes starting together ran the task %d times, want 1", n)
			}
			for round := range 20 {
				clk.Advance(day)
				var started [2][]string
				wg.Go(func() { started[0] = a.tick(t) })
				wg.Go(func() { started[1] = b.tick(t) })
				wg.Wait()
				if n := runs.Load(); n != int32(round+2) {
					t.Fatalf("round %d: the task ran %d times in all, want %d (started: a %v, b %v)",
						round+1, n, round+2, started[0], started[1])
				}
			}
		})
	}
}

// TestDeadNodesTaskIsTakenOver: a node that claimed a task and died (it
// renews its lease no more) holds the task until the lease lapses; then
// another node runs it, and the dead node's late outcome changes nothing.
func TestDeadNodesTaskIsTakenOver(t *testing.T) {
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			d1, d2 := pair(t, target)
			clk := newClock()
			const lease = time.Hour // renewed every 20 minutes of real time: never in this test
			release := make(chan struct{})
			started := make(chan struct{})
			stuck := jobs.Task{Name: "count", RunOnStart: true, Run: func(ctx context.Context) error {
				close(started)
				<-release
				return nil
			}}
			a := startWith(t, d1, clk, "a", jobs.Options{Lease: lease, Tasks: []jobs.Task{stuck}})
			<-started
			defer close(release)
			// Node a's own start-up run of audit_verify must be over too,
			// or its lease lapses with count's below and b takes it as
			// well (seen on a loaded machine).
			testwait.Until(t, "node a's audit_verify run to end", time.Minute, func() bool {
				var holder sql.NullString
				var until sql.NullTime
				err := d1.R.QueryRowContext(context.Background(), `SELECT lease_holder, lease_until FROM periodic_tasks
					WHERE name = 'audit_verify'`).Scan(&holder, &until)
				if err != nil && !errors.Is(err, sql.ErrNoRows) {
					t.Fatal(err)
				}
				return holder.String == "a" && !until.Valid
			})

			var runs atomic.Int32
			b := startWith(t, d2, clk, "b", jobs.Options{Lease: lease, Tasks: []jobs.Task{counter("count", &runs)}})
			b.r.WaitIdle()
			if n := runs.Load(); n != 0 {
				t.Fatalf("node b ran a task node a holds %d times", n)
			}
			clk.Advance(lease - time.Microsecond)
			if got := b.tick(t); len(got) != 0 {
				t.Fatalf("node b started %v before node a's lease lapsed", got)
			}
			clk.Advance(2 * time.Microsecond)
			if got := b.tick(t); !slices.Equal(got, []string{"count"}) {
				t.Fatalf("node b started %v once node a's lease lapsed, want [count]", got)
			}
			if n := runs.Load(); n != 1 {
				t.Fatalf("node b ran the task %d times, want 1", n)
			}
			after := readTask(t, d1, "count")
			if after.holder.String != "b" || after.until.Valid || !after.next.Equal(clk.Now().Add(day)) {
				t.Fatalf("after node b's run: %+v, want held last by b, no lease, due a day on", after)
			}

			// Node a comes back to life and finishes: b's record stands.
			release <- struct{}{}
			a.r.WaitIdle()
			if got := readTask(t, d1, "count"); got != after {
				t.Fatalf("node a's late finish changed the task to %+v from %+v", got, after)
			}
			a.log.want(t, 1, "msg=periodic_task_lease_lost", "task=count", "node=a")
		})
	}
}

// TestFailedTaskIsRetriedWithBackoff: a run that fails is tried again
// after the retry backoff, not before; a success resets the attempts.
func TestFailedTaskIsRetriedWithBackoff(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		retry := notify.Backoff{First: time.Minute, Max: time.Hour}
		failure := errors.New("the disk is not mounted")
		var runs atomic.Int32
		flaky := jobs.Task{Name: "flaky", RunOnStart: true, Run: func(context.Context) error {
			if runs.Add(1) <= 2 {
				return failure
			}
			return nil
		}}
		f := startWith(t, d, newClock(), "a", jobs.Options{Retry: retry, Tasks: []jobs.Task{flaky}})
		f.r.WaitIdle()
		for attempt := 1; attempt <= 2; attempt++ {
			if got := readTask(t, d, "flaky").attempts; got != attempt {
				t.Fatalf("attempts %d, want %d", got, attempt)
			}
			delay := retry.Delay(attempt, "flaky", failure)
			f.clock.Advance(delay - time.Microsecond)
			if got := f.tick(t); len(got) != 0 {
				t.Fatalf("attempt %d: retried %s early", attempt+1, time.Microsecond)
			}
			f.clock.Advance(time.Microsecond)
			if got := f.tick(t); len(got) != 1 {
				t.Fatalf("attempt %d: not retried after %s", attempt+1, delay)
			}
		}
		f.log.want(t, 2, "level=ERROR", "msg=periodic_task_failed", "task=flaky", "the disk is not mounted")
		if n := runs.Load(); n != 3 {
			t.Fatalf("%d runs, want 3", n)
		}
		k := readTask(t, d, "flaky")
		if k.attempts != 0 || !k.next.Equal(f.clock.Now().Add(day)) {
			t.Fatalf("after the success: %+v, want no attempts, due a day on", k)
		}
	})
}

// TestStopCancelsRunningTaskWhenContextEnds: a task still running when
// Stop's context ends is cancelled and handed back, due at once.
func TestStopCancelsRunningTaskWhenContextEnds(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		ended := make(chan error, 1)
		started := make(chan struct{})
		blocker := jobs.Task{Name: "blocker", RunOnStart: true, Run: func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			ended <- ctx.Err()
			return ctx.Err()
		}}
		f := startWith(t, d, newClock(), "a", jobs.Options{Tasks: []jobs.Task{blocker}})
		<-started
		due := readTask(t, d, "blocker").next

		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		began := time.Now()
		if err := f.r.Stop(ctx); err != nil {
			t.Fatalf("stop: %v", err)
		}
		if took := time.Since(began); took > 2*time.Second {
			t.Fatalf("stop took %s", took)
		}
		select {
		case err := <-ended:
			if err == nil {
				t.Fatal("blocking task ended without its context being cancelled")
			}
		default:
			t.Fatal("blocking task still running after stop")
		}
		k := readTask(t, d, "blocker")
		if k.until.Valid || !k.next.Equal(due) || k.attempts != 0 {
			t.Fatalf("after stop: %+v, want handed back, still due at %s", k, due)
		}
	})
}

func TestStopIdleIsPrompt(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		f := startWith(t, d, newClock(), "a", jobs.Options{})
		f.r.WaitIdle()

		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		began := time.Now()
		if err := f.r.Stop(ctx); err != nil {
			t.Fatalf("stop: %v", err)
		}
		if took := time.Since(began); took > 2*time.Second {
			t.Fatalf("stop took %s", took)
		}
	})
}

// TestStartTasksRunWhenTheClusterStarts: the start tasks run when the
// first node of a cluster starts, not again as a second joins it (on
// PostgreSQL; on SQLite one node serves), and again once every node has
// stopped and one starts.
func TestStartTasksRunWhenTheClusterStarts(t *testing.T) {
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			d1, d2 := pair(t, target)
			clk := newClock()
			var runs atomic.Int32
			// The nodes' loops renew nothing in this test: a lease of an hour
			// holds throughout.
			opts := jobs.Options{Lease: time.Hour, Tasks: []jobs.Task{counter("count", &runs)}}
			a := startWith(t, d1, clk, "a", opts)
			a.r.WaitIdle()
			if n := runs.Load(); n != 1 {
				t.Fatalf("the first node ran the start task %d times, want 1", n)
			}
			stopNow := func(f *fixture) {
				t.Helper()
				if err := f.r.Stop(context.Background()); err != nil {
					t.Fatalf("stop: %v", err)
				}
			}
			if target.Dialect == db.Postgres {
				clk.Advance(time.Minute)
				b := startWith(t, d2, clk, "b", opts)
				b.r.WaitIdle()
				if n := runs.Load(); n != 1 {
					t.Fatalf("a second node joining ran the start task again: %d runs, want 1", n)
				}
				stopNow(b)
			}
			stopNow(a)
			clk.Advance(time.Minute)
			c := startWith(t, d2, clk, "c", opts)
			c.r.WaitIdle()
			if n := runs.Load(); n != 2 {
				t.Fatalf("a node starting alone ran the start task %d times in all, want 2", n)
			}
		})
	}
}
