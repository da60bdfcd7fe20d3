package jobs_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/riverqueue/river"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/jobs"
)

// wait bounds every wait in these tests.
const wait = 5 * time.Second

// probeArgs is a test-only job; its worker reports each run on a channel.
type probeArgs struct {
	Name  string `json:"name"`
	Block bool   `json:"block"` // run until the job's context is cancelled
	Then  string `json:"then"`  // enqueue a probe job of this name, as a domain job would
}

func (probeArgs) Kind() string { return "test_probe" }

// probeWorker reports the name of every job it starts on started and, for
// a blocking job, the context error it ended with on ended.
type probeWorker struct {
	river.WorkerDefaults[probeArgs]
	started chan string
	ended   chan error
	d       *db.DB
	r       *jobs.Runner // set once the runner exists
}

func (w *probeWorker) Work(ctx context.Context, job *river.Job[probeArgs]) error {
	w.started <- job.Args.Name
	if job.Args.Then != "" {
		return w.d.Write(ctx, func(tx *sql.Tx) error {
			_, err := w.r.InsertTx(ctx, tx, probeArgs{Name: job.Args.Then}, nil)
			return err
		})
	}
	if !job.Args.Block {
		return nil
	}
	<-ctx.Done()
	w.ended <- ctx.Err()
	return ctx.Err()
}

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

// waitFor waits until n logged lines contain every one of parts.
func (s *logSink) waitFor(t *testing.T, n int, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		out := s.buf.String()
		s.mu.Unlock()
		found := 0
		for line := range strings.SplitSeq(out, "\n") {
			if containsAll(line, parts) {
				found++
			}
		}
		if found >= n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t.Fatalf("fewer than %d log lines with %q within %s; log:\n%s", n, parts, wait, s.buf.String())
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// fixture is a migrated database with a started runner and a probe worker.
type fixture struct {
	d     *db.DB
	r     *jobs.Runner
	probe *probeWorker
	log   *logSink
}

func start(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	return startWith(t, d, jobs.Options{})
}

// startWith is start with opts, whose Register it overrides.
func startWith(t *testing.T, d *db.DB, opts jobs.Options) *fixture {
	t.Helper()
	ctx := context.Background()
	if err := jobs.Migrate(ctx, d); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	f := &fixture{
		d:     d,
		probe: &probeWorker{started: make(chan string, 64), ended: make(chan error, 16), d: d},
		log:   &logSink{},
	}
	logger := slog.New(slog.NewTextHandler(f.log, &slog.HandlerOptions{Level: slog.LevelInfo}))
	opts.SkipStartJitter = true
	opts.Register = func(w *river.Workers) error { return river.AddWorkerSafely(w, f.probe) }
	r, err := jobs.New(d, logger, opts)
	if err != nil {
		t.Fatalf("new runner: %v", err)
	}
	f.r = r
	f.probe.r = r
	runCtx, cancel := context.WithCancel(ctx)
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

// insert enqueues args in a write transaction that commits when fail is nil
// and rolls back with fail otherwise.
func (f *fixture) insert(t *testing.T, args river.JobArgs, fail error) {
	t.Helper()
	ctx := context.Background()
	err := f.d.Write(ctx, func(tx *sql.Tx) error {
		if _, err := f.r.InsertTx(ctx, tx, args, nil); err != nil {
			return err
		}
		return fail
	})
	if !errors.Is(err, fail) {
		t.Fatalf("write: got %v, want %v", err, fail)
	}
}

// waitStarted waits for the probe job called name to start.
func (f *fixture) waitStarted(t *testing.T, name string) {
	t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case got := <-f.probe.started:
			if got == name {
				return
			}
			t.Fatalf("probe job %q ran, want %q", got, name)
		case <-timeout:
			t.Fatalf("probe job %q did not run within %s", name, wait)
		}
	}
}

func TestMigrateTwice(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		for i := range 2 {
			if err := jobs.Migrate(ctx, d); err != nil {
				t.Fatalf("migrate #%d: %v", i+1, err)
			}
		}
		var n int
		if err := d.R.QueryRowContext(ctx, "SELECT count(*) FROM river_job").Scan(&n); err != nil {
			t.Fatalf("river_job: %v", err)
		}
		if n != 0 {
			t.Fatalf("river_job has %d rows after migrating, want 0", n)
		}
		if d.Dialect != db.Postgres {
			return
		}
		var one int
		err := d.R.QueryRowContext(ctx, `SELECT 1 FROM information_schema.tables
			WHERE table_name = 'river_job' AND table_schema = current_schema()`).Scan(&one)
		if err != nil {
			t.Fatalf("river_job is not in the search_path's schema: %v", err)
		}
	})
}

func TestMigrateThroughDBMigrate(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		migrate := func(ctx context.Context) error { return jobs.Migrate(ctx, d) }
		if _, err := d.Migrate(ctx, time.Now, migrate); err != nil {
			t.Fatalf("migrate: %v", err)
		}
		var n int
		if err := d.R.QueryRowContext(ctx, "SELECT count(*) FROM river_migration").Scan(&n); err != nil {
			t.Fatalf("river_migration: %v", err)
		}
		if n == 0 {
			t.Fatal("no River migration recorded")
		}
	})
}

func TestInsertTxCommittedJobRuns(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		f := start(t, d)
		f.insert(t, probeArgs{Name: "committed"}, nil)
		f.waitStarted(t, "committed")
	})
}

func TestInsertTxRolledBackJobNeverRuns(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		f := start(t, d)
		rollback := errors.New("roll back")
		f.insert(t, probeArgs{Name: "rolled back"}, rollback)
		f.insert(t, probeArgs{Name: "after"}, nil)
		// Jobs of one queue and priority are fetched in id order, so had the
		// rolled-back job survived it would have started first.
		f.waitStarted(t, "after")

		var n int
		err := d.R.QueryRowContext(context.Background(),
			"SELECT count(*) FROM river_job WHERE kind = $1", probeArgs{}.Kind()).Scan(&n)
		if err != nil {
			t.Fatalf("count jobs: %v", err)
		}
		if n != 1 {
			t.Fatalf("%d probe jobs stored, want 1 (the committed one)", n)
		}
	})
}

func TestJobEnqueuesFollowUp(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		f := start(t, d)
		f.insert(t, probeArgs{Name: "first", Then: "second"}, nil)
		f.waitStarted(t, "first")
		f.waitStarted(t, "second")
	})
}

// On SQLite concurrent writes share one connection and are group-committed,
// each in a savepoint of one transaction: a job enqueued by a write that
// fails must vanish with it while its batch-mates' jobs stay.
func TestConcurrentWritesEnqueueOnlyCommittedJobs(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		f := start(t, d)
		ctx := context.Background()
		const writers = 40
		rollback := errors.New("roll back")
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for i := range writers {
			wg.Go(func() {
				err := d.Write(ctx, func(tx *sql.Tx) error {
					name := fmt.Sprintf("job %d", i)
					if _, err := f.r.InsertTx(ctx, tx, probeArgs{Name: name}, nil); err != nil {
						return err
					}
					if i%2 == 1 {
						return rollback
					}
					return nil
				})
				if err != nil && !errors.Is(err, rollback) {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("write: %v", err)
		}
		seen := map[string]bool{}
		timeout := time.After(wait)
		for len(seen) < writers/2 {
			select {
			case name := <-f.probe.started:
				var i int
				if _, err := fmt.Sscanf(name, "job %d", &i); err != nil || i%2 == 1 {
					t.Fatalf("job %q ran", name)
				}
				seen[name] = true
			case <-timeout:
				t.Fatalf("%d of %d committed jobs ran within %s", len(seen), writers/2, wait)
			}
		}
		var n int
		if err := d.R.QueryRowContext(ctx, "SELECT count(*) FROM river_job WHERE kind = $1", probeArgs{}.Kind()).Scan(&n); err != nil {
			t.Fatalf("count jobs: %v", err)
		}
		if n != writers/2 {
			t.Fatalf("%d probe jobs stored, want %d", n, writers/2)
		}
	})
}

func TestInsertTxUniqueSkipsDuplicate(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		f := start(t, d)
		ctx := context.Background()
		opts := &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}, ScheduledAt: time.Now().Add(time.Hour)}
		var skipped []bool
		err := d.Write(ctx, func(tx *sql.Tx) error {
			for range 2 {
				res, err := f.r.InsertTx(ctx, tx, probeArgs{Name: "unique"}, opts)
				if err != nil {
					return err
				}
				skipped = append(skipped, res.UniqueSkippedAsDuplicate)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("write: %v", err)
		}
		if skipped[0] || !skipped[1] {
			t.Fatalf("skipped as duplicate: %v, want [false true]", skipped)
		}
	})
}

func TestInsertTxSharesCallersTransaction(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		f := start(t, d)
		ctx := context.Background()
		err := d.Write(ctx, func(tx *sql.Tx) error {
			res, err := f.r.InsertTx(ctx, tx, probeArgs{Name: "seen"}, &river.InsertOpts{ScheduledAt: time.Now().Add(time.Hour)})
			if err != nil {
				return err
			}
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM river_job WHERE id = $1", res.Job.ID).Scan(&n); err != nil {
				return err
			}
			if n != 1 {
				t.Errorf("the transaction sees %d rows for the job it inserted, want 1", n)
			}
			return nil
		})
		if err != nil {
			t.Fatalf("write: %v", err)
		}
	})
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
		f := start(t, d)
		f.log.waitFor(t, 1, "msg=audit_chain_verified", "entries=3", "ok=true")

		// Cut the chain's head loose from its last entry, then ask for a
		// verification now rather than in a day.
		if _, err := d.W.ExecContext(ctx, "UPDATE audit_head SET seq = seq + 1 WHERE id = 1"); err != nil {
			t.Fatalf("tamper: %v", err)
		}
		f.insert(t, jobs.AuditVerifyArgs{}, nil)
		f.log.waitFor(t, 1, "level=ERROR", "msg=audit_chain_broken", "bad_seq=4", "reason=")
	})
}

func TestAuditVerifyRepeatsEveryPeriod(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		f := startWith(t, d, jobs.Options{HousekeepingPeriod: 300 * time.Millisecond})
		f.log.waitFor(t, 3, "msg=audit_chain_verified", "entries=0", "ok=true")
	})
}

func TestStopCancelsRunningJobWhenContextEnds(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		f := start(t, d)
		f.insert(t, probeArgs{Name: "blocker", Block: true}, nil)
		f.waitStarted(t, "blocker")

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
		case err := <-f.probe.ended:
			if err == nil {
				t.Fatal("blocking job ended without its context being cancelled")
			}
		case <-time.After(wait):
			t.Fatal("blocking job still running after stop")
		}
	})
}

func TestStopIdleIsPrompt(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		f := start(t, d)
		f.insert(t, probeArgs{Name: "quick"}, nil)
		f.waitStarted(t, "quick")

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

func TestNewRejectsBadOptions(t *testing.T) {
	d := dbtest.Open(t, dbtest.Targets(t)[0].URL)
	log := slog.New(slog.DiscardHandler)
	for name, opts := range map[string]jobs.Options{
		"negative period":  {HousekeepingPeriod: -time.Second},
		"negative workers": {MaxWorkers: -1},
		"register fails":   {Register: func(*river.Workers) error { return errors.New("no") }},
	} {
		if _, err := jobs.New(d, log, opts); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := jobs.New(d, nil, jobs.Options{}); err == nil {
		t.Error("nil logger: New succeeded")
	}
}

func TestStopBeforeStart(t *testing.T) {
	d := dbtest.Open(t, dbtest.Targets(t)[0].URL)
	r, err := jobs.New(d, slog.New(slog.DiscardHandler), jobs.Options{})
	if err != nil {
		t.Fatalf("new: %v", err)
	}
	if err := r.Stop(context.Background()); err != nil {
		t.Fatalf("stop: %v", err)
	}
}

// purgeProbe counts the retention purges the runner starts.
type purgeProbe struct{ ran chan struct{} }

func (p purgeProbe) PurgeScheduled(context.Context) error {
	p.ran <- struct{}{}
	return nil
}

// TestRetentionPurgeRepeatsEveryPeriod: with a Purger the runner starts a
// purge when it starts and again every housekeeping period.
func TestRetentionPurgeRepeatsEveryPeriod(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		p := purgeProbe{ran: make(chan struct{}, 16)}
		startWith(t, d, jobs.Options{HousekeepingPeriod: 300 * time.Millisecond, Retention: p})
		for i := range 2 {
			select {
			case <-p.ran:
			case <-time.After(3 * wait):
				t.Fatalf("purge %d did not run", i+1)
			}
		}
	})
}
