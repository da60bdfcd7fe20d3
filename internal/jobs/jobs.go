// Package jobs runs Ward's periodic housekeeping tasks (audit_verify,
// retention_purge, evidence_verify) on Ward's own leased loops, the
// mechanism that also carries paging, the audit sequencer and the other
// background work (docs/ARCHITECTURE.md, "Background work").
//
// Each task is a row of periodic_tasks: when it is next due, by Ward's
// clock, and which node holds it until when. Every node looks for due
// tasks every Poll; a node runs a task only after claiming it with a
// conditional UPDATE, which succeeds for one node only, and renews its
// lease every Lease/3 while the task runs. A node that dies stops renewing,
// and another node claims the task once the lease has lapsed. A task that
// fails is tried again after a backoff (notify.Backoff); one that succeeds
// is due again a period after it started. A task must be idempotent: a
// node whose lease lapsed without its knowing may still be finishing a run
// that another node has started again.
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/notify"
)

// Defaults of Options.
const (
	// DefaultHousekeepingPeriod is how often housekeeping tasks run when
	// Options.HousekeepingPeriod is zero.
	DefaultHousekeepingPeriod = 24 * time.Hour
	// DefaultPoll is how often a node looks for due tasks.
	DefaultPoll = 5 * time.Second
	// DefaultLease is how long a claim holds without renewal: a task whose
	// node died is taken over within DefaultLease plus DefaultPoll.
	DefaultLease = 15 * time.Second
)

// DefaultRetry is the backoff before a failed task runs again; its Max is
// lowered to the task's period, so a failing task is tried at least as
// often as it would run anyway.
var DefaultRetry = notify.Backoff{First: 30 * time.Second, Max: time.Hour}

// defaultTimeout bounds a run of a task that names no Timeout.
const defaultTimeout = time.Hour

// stopCancelGrace is how long Stop waits for running tasks to return once
// it has cancelled them because its own context ended.
const stopCancelGrace = 5 * time.Second

// recordTimeout bounds writing a run's outcome, which is written even when
// the run was cancelled.
const recordTimeout = 10 * time.Second

// Task is one periodic task.
type Task struct {
	// Name identifies the task in periodic_tasks; unique.
	Name string
	// Run does the work once. It returns an error only when trying again
	// could help.
	Run func(ctx context.Context) error
	// Period is how long after a run starts the next is due; zero means
	// the runner's housekeeping period.
	Period time.Duration
	// Timeout bounds one run (one hour when zero).
	Timeout time.Duration
	// RunOnStart makes the task due when a cluster starts (see
	// firstNode) and when it is first recorded.
	RunOnStart bool
}

// Options configure a Runner. The zero value is ready to use.
type Options struct {
	// HousekeepingPeriod is how often the housekeeping tasks run; zero
	// means DefaultHousekeepingPeriod.
	HousekeepingPeriod time.Duration

	// Node names this node in the leases; required, unique among the
	// nodes on one database.
	Node string
	// Clock decides when tasks are due and leases lapse (clock.Real when
	// nil).
	Clock clock.Clock
	// Poll is how often the node looks for due tasks (DefaultPoll when
	// zero).
	Poll time.Duration
	// Lease is how long a claim holds without renewal (DefaultLease when
	// zero); the node renews it every Lease/3 while the task runs. The
	// node's presence lease (firstNode) is as long, renewed every Poll, so
	// Lease should be longer than Poll.
	Lease time.Duration
	// Retry is the backoff after a failed run (DefaultRetry when zero).
	Retry notify.Backoff

	// Retention, when set, is run by the retention_purge task every
	// HousekeepingPeriod (and when a cluster starts).
	Retention Purger

	// Evidence, when set, is run by the evidence_verify task every
	// HousekeepingPeriod (not at start).
	Evidence EvidenceVerifier

	// ChainBroken, when set, is told of a break the audit_verify task
	// finds in the current segment of the audit chain (audit.Watcher's
	// Report), so that it is recorded in a new segment.
	ChainBroken func(audit.Break)

	// Tasks are further tasks beside the housekeeping ones.
	Tasks []Task
}

// Runner runs the periodic tasks on this node.
type Runner struct {
	d     *db.DB
	log   *slog.Logger
	clock clock.Clock
	node  string
	poll  time.Duration
	lease time.Duration
	retry notify.Backoff
	tasks []Task

	mu      sync.Mutex
	running map[string]bool // tasks this node is running
	started bool
	stop    context.CancelFunc // ends the loop
	cancel  context.CancelFunc // ends the running tasks' contexts
	runCtx  context.Context
	loop    sync.WaitGroup
	runs    sync.WaitGroup
}

// New creates a Runner for d with the housekeeping tasks plus opts.Tasks.
// New starts nothing: call Start.
func New(d *db.DB, log *slog.Logger, opts Options) (*Runner, error) {
	if log == nil {
		return nil, errors.New("jobs: logger is nil")
	}
	period := opts.HousekeepingPeriod
	switch {
	case period < 0:
		return nil, fmt.Errorf("jobs: housekeeping period %s is negative", period)
	case period == 0:
		period = DefaultHousekeepingPeriod
	}
	r := &Runner{d: d, log: log, clock: opts.Clock, node: opts.Node, poll: opts.Poll, lease: opts.Lease, retry: opts.Retry,
		running: map[string]bool{}}
	switch {
	case r.poll < 0:
		return nil, fmt.Errorf("jobs: poll %s is negative", r.poll)
	case r.poll == 0:
		r.poll = DefaultPoll
	}
	switch {
	case r.lease < 0:
		return nil, fmt.Errorf("jobs: lease %s is negative", r.lease)
	case r.lease == 0:
		r.lease = DefaultLease
	}
	if r.retry == (notify.Backoff{}) {
		r.retry = DefaultRetry
	}
	if r.clock == nil {
		r.clock = clock.Real{}
	}
	if r.node == "" {
		return nil, errors.New("jobs: the node has no name")
	}
	r.tasks = append(r.tasks, auditVerifyTask(d.R, log, opts.ChainBroken))
	if opts.Retention != nil {
		r.tasks = append(r.tasks, retentionTask(opts.Retention))
	}
	if opts.Evidence != nil {
		r.tasks = append(r.tasks, evidenceTask(opts.Evidence))
	}
	r.tasks = append(r.tasks, opts.Tasks...)
	seen := map[string]bool{}
	for i := range r.tasks {
		t := &r.tasks[i]
		switch {
		case t.Name == "" || t.Run == nil:
			return nil, errors.New("jobs: a task needs a name and a function")
		case seen[t.Name]:
			return nil, fmt.Errorf("jobs: two tasks are called %q", t.Name)
		case t.Period < 0:
			return nil, fmt.Errorf("jobs: task %q: period %s is negative", t.Name, t.Period)
		case t.Period == 0:
			t.Period = period
		}
		if t.Timeout <= 0 {
			t.Timeout = defaultTimeout
		}
		seen[t.Name] = true
	}
	return r, nil
}

// Start records the tasks (a task seen for the first time is due at once
// if it runs on start, a period from now if not), makes the tasks that run
// on start due, claims and starts what is due, and then looks for due
// tasks every Poll. Cancelling ctx later stops the runner at once,
// cancelling the running tasks' contexts; prefer Stop, which lets them
// finish first.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.started {
		r.mu.Unlock()
		return errors.New("jobs: already started")
	}
	r.started = true
	r.runCtx, r.cancel = context.WithCancel(ctx)
	loopCtx, stop := context.WithCancel(ctx)
	r.stop = stop
	r.mu.Unlock()
	if err := r.register(ctx); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	r.log.InfoContext(ctx, "periodic_tasks_started", "node", r.node)
	if _, err := r.tick(ctx); err != nil {
		r.log.ErrorContext(ctx, "periodic_tasks_check_failed", "error", err)
	}
	r.loop.Go(func() {
		t := time.NewTicker(r.poll)
		defer t.Stop()
		for {
			select {
			case <-loopCtx.Done():
				return
			case <-t.C:
			}
			if err := r.present(loopCtx); err != nil && loopCtx.Err() == nil {
				r.log.ErrorContext(loopCtx, "periodic_tasks_presence_failed", "error", err)
			}
			if _, err := r.tick(loopCtx); err != nil && loopCtx.Err() == nil {
				r.log.ErrorContext(loopCtx, "periodic_tasks_check_failed", "error", err)
			}
		}
	})
	return nil
}

// register records every task and, when this node is the first of its
// cluster to start (firstNode), makes those that run on start due now; a
// task due later than a period from now (its period was shortened) is
// brought forward. A task recorded for the first time that runs on start
// is due at once whichever node records it.
func (r *Runner) register(ctx context.Context) error {
	now := r.clock.Now()
	return r.d.Write(ctx, func(tx *sql.Tx) error {
		first, err := r.firstNode(ctx, tx, now)
		if err != nil {
			return err
		}
		for _, t := range r.tasks {
			recorded, due := now.Add(t.Period), now.Add(t.Period)
			if t.RunOnStart {
				recorded = now
				if first {
					due = now
				}
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO periodic_tasks (name, next_run_at) VALUES ($1, $2)
				ON CONFLICT (name) DO NOTHING`, t.Name, recorded); err != nil {
				return fmt.Errorf("record task %s: %w", t.Name, err)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE periodic_tasks SET next_run_at = $1 WHERE name = $2 AND next_run_at > $1`,
				due, t.Name); err != nil {
				return fmt.Errorf("schedule task %s: %w", t.Name, err)
			}
		}
		return nil
	})
}

// firstNode records this node's presence and reports whether it is the
// only node of its cluster: on SQLite always (one node serves a database);
// on PostgreSQL when no other node's presence lease holds. So the start
// tasks run when a cluster starts, as a first node comes up, and not again
// as each further node joins. A node that was killed holds its lease for
// up to Lease more: restarted within that time it does not run them.
func (r *Runner) firstNode(ctx context.Context, tx *sql.Tx, now time.Time) (bool, error) {
	if r.d.Dialect != db.Postgres {
		return true, nil
	}
	// Nodes starting together take turns, so that one of them sees the
	// other.
	if _, err := tx.ExecContext(ctx, `LOCK TABLE periodic_task_nodes IN SHARE ROW EXCLUSIVE MODE`); err != nil {
		return false, fmt.Errorf("lock nodes: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM periodic_task_nodes WHERE lease_until < $1`, now); err != nil {
		return false, fmt.Errorf("forget lapsed nodes: %w", err)
	}
	var others int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM periodic_task_nodes WHERE node <> $1`, r.node).Scan(&others); err != nil {
		return false, fmt.Errorf("count nodes: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO periodic_task_nodes (node, lease_until) VALUES ($1, $2)
		ON CONFLICT (node) DO UPDATE SET lease_until = excluded.lease_until`, r.node, now.Add(r.lease)); err != nil {
		return false, fmt.Errorf("record node: %w", err)
	}
	return others == 0, nil
}

// present renews this node's presence lease on PostgreSQL (see firstNode).
func (r *Runner) present(ctx context.Context) error {
	if r.d.Dialect != db.Postgres {
		return nil
	}
	return r.d.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO periodic_task_nodes (node, lease_until) VALUES ($1, $2)
			ON CONFLICT (node) DO UPDATE SET lease_until = excluded.lease_until`, r.node, r.clock.Now().Add(r.lease))
		return err
	})
}

// leave ends this node's presence lease as it stops.
func (r *Runner) leave(ctx context.Context) error {
	if r.d.Dialect != db.Postgres {
		return nil
	}
	return r.d.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM periodic_task_nodes WHERE node = $1`, r.node)
		return err
	})
}

// tick claims every due task this node is not running yet and starts it;
// it returns the names of the tasks it started.
func (r *Runner) tick(ctx context.Context) ([]string, error) {
	now := r.clock.Now()
	rows, err := r.d.R.QueryContext(ctx, `SELECT name FROM periodic_tasks WHERE next_run_at <= $1
		AND (lease_until IS NULL OR lease_until < $1)`, now)
	if err != nil {
		return nil, fmt.Errorf("find due tasks: %w", err)
	}
	due := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return nil, fmt.Errorf("find due tasks: %w", err)
		}
		due[name] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("find due tasks: %w", err)
	}
	var started []string
	for _, t := range r.tasks {
		if !due[t.Name] || !r.mark(t.Name) {
			continue
		}
		ok, err := r.claim(ctx, t.Name, now)
		if err != nil || !ok {
			r.unmark(t.Name)
			if err != nil {
				return started, err
			}
			continue
		}
		started = append(started, t.Name)
		r.runs.Go(func() { r.run(t, now) })
	}
	return started, nil
}

// mark records that this node runs name, unless it already does.
func (r *Runner) mark(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.running[name] {
		return false
	}
	r.running[name] = true
	return true
}

func (r *Runner) unmark(name string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.running, name)
}

// claim takes the lease of a due task whose lease (if any) has lapsed;
// it reports whether this node got it.
func (r *Runner) claim(ctx context.Context, name string, now time.Time) (bool, error) {
	var n int64
	err := r.d.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE periodic_tasks SET lease_holder = $1, lease_until = $2
			WHERE name = $3 AND next_run_at <= $4 AND (lease_until IS NULL OR lease_until < $4)`,
			r.node, now.Add(r.lease), name, now)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("claim task %s: %w", name, err)
	}
	return n == 1, nil
}

// run runs t, claimed at started, renewing the lease while it runs, and
// records the outcome: on success the task is due a period after started,
// on failure after the retry backoff; a run cut short by Stop hands the
// task back, due at once for another node.
func (r *Runner) run(t Task, started time.Time) {
	defer r.unmark(t.Name)
	ctx, cancel := context.WithTimeout(r.runCtx, t.Timeout)
	defer cancel()
	var lost bool
	var renewing sync.WaitGroup
	renewDone := make(chan struct{})
	renewing.Go(func() {
		tk := time.NewTicker(r.lease / 3)
		defer tk.Stop()
		for {
			select {
			case <-renewDone:
				return
			case <-tk.C:
			}
			held, err := r.renew(ctx, t.Name)
			if err != nil {
				if ctx.Err() == nil {
					r.log.ErrorContext(ctx, "periodic_task_lease_renew_failed", "task", t.Name, "error", err)
				}
				continue
			}
			if !held {
				lost = true
				cancel()
				return
			}
		}
	})
	err := t.Run(ctx)
	close(renewDone)
	renewing.Wait()
	rec, recCancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer recCancel()
	var q string
	var args []any
	switch {
	case lost:
		r.log.WarnContext(rec, "periodic_task_lease_lost", "task", t.Name, "node", r.node)
		return
	case err == nil:
		q, args = `UPDATE periodic_tasks SET next_run_at = $1, lease_until = NULL, attempts = 0
			WHERE name = $2 AND lease_holder = $3`, []any{started.Add(t.Period), t.Name, r.node}
	case r.runCtx.Err() != nil:
		r.log.WarnContext(rec, "periodic_task_handed_back", "task", t.Name, "error", err)
		q, args = `UPDATE periodic_tasks SET lease_until = NULL WHERE name = $1 AND lease_holder = $2`, []any{t.Name, r.node}
	default:
		var attempts int
		if qerr := r.d.R.QueryRowContext(rec, `SELECT attempts FROM periodic_tasks WHERE name = $1`, t.Name).Scan(&attempts); qerr != nil {
			r.log.ErrorContext(rec, "periodic_task_record_failed", "task", t.Name, "error", qerr)
		}
		attempts++
		backoff := r.retry
		backoff.Max = min(backoff.Max, t.Period)
		delay := backoff.Delay(attempts, t.Name, err)
		r.log.ErrorContext(rec, "periodic_task_failed", "task", t.Name, "attempt", attempts, "retry_in", delay.String(), "error", err)
		q, args = `UPDATE periodic_tasks SET next_run_at = $1, lease_until = NULL, attempts = $2
			WHERE name = $3 AND lease_holder = $4`, []any{r.clock.Now().Add(delay), attempts, t.Name, r.node}
	}
	var n int64
	werr := r.d.Write(rec, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(rec, q, args...)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	switch {
	case werr != nil:
		r.log.ErrorContext(rec, "periodic_task_record_failed", "task", t.Name, "error", werr)
	case n == 0:
		r.log.WarnContext(rec, "periodic_task_lease_lost", "task", t.Name, "node", r.node)
	}
}

// renew extends this node's lease of name; it reports false when another
// node holds the task now.
func (r *Runner) renew(ctx context.Context, name string) (bool, error) {
	var n int64
	err := r.d.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE periodic_tasks SET lease_until = $1 WHERE name = $2 AND lease_holder = $3`,
			r.clock.Now().Add(r.lease), name, r.node)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return n == 1, err
}

// Stop stops looking for due tasks and waits for the running ones to
// finish. If ctx ends first, Stop cancels the running tasks' contexts and
// waits up to a few seconds more for them to return; a task cut short is
// handed back, due at once on another node. Then it ends the node's
// presence lease. Stop on a runner that was
// never started returns nil.
func (r *Runner) Stop(ctx context.Context) error {
	r.mu.Lock()
	if !r.started {
		r.mu.Unlock()
		return nil
	}
	stop, cancel := r.stop, r.cancel
	r.mu.Unlock()
	stop()
	r.loop.Wait()
	done := make(chan struct{})
	go func() {
		r.runs.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		cancel()
		select {
		case <-done:
		case <-time.After(stopCancelGrace):
			err = errors.New("jobs: stop: running tasks did not return after being cancelled")
		}
	}
	cancel()
	rec, recCancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer recCancel()
	if lerr := r.leave(rec); lerr != nil {
		err = errors.Join(err, fmt.Errorf("jobs: stop: end the presence lease: %w", lerr))
	}
	return err
}
