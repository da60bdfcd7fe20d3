// Package jobs runs Ward's background work on River: durable jobs that
// survive restarts and, on PostgreSQL, are shared by every Ward node.
//
// Jobs are enqueued with Runner.InsertTx inside the same transaction as the
// change that causes them, so a change and its follow-up work commit or roll
// back together. A job is only a wake-up: its worker re-reads the domain
// tables, which are the truth, and must be idempotent.
//
// On SQLite River shares Ward's single write connection (db.DB.W), so its
// own queries queue behind Ward's writes, and Ward's writes behind River's,
// instead of failing with SQLITE_BUSY. A consequence: code that holds a
// write transaction must enqueue through InsertTx with that transaction;
// anything that needs a second connection while the transaction is open
// waits for it forever.
//
// River's tables live beside Ward's: on PostgreSQL in the first schema of
// the connection's search_path (River's Schema setting is left empty, so
// its queries name tables unqualified and its notification channels use
// current_schema()).
package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivertype"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/db"
)

// DefaultHousekeepingPeriod is how often housekeeping jobs run when
// Options.HousekeepingPeriod is zero.
const DefaultHousekeepingPeriod = 24 * time.Hour

// DefaultMaxWorkers is how many jobs run at once when Options.MaxWorkers is
// zero.
const DefaultMaxWorkers = 10

// stopCancelGrace is how long Stop waits for running jobs to return once it
// has cancelled them because its own context ended.
const stopCancelGrace = 5 * time.Second

// errNoPool means a PostgreSQL db.DB lacks the pgx pool River's driver needs.
var errNoPool = errors.New("jobs: PostgreSQL database has no pgx pool")

// Options configure a Runner. The zero value is ready to use.
type Options struct {
	// HousekeepingPeriod is how often the housekeeping jobs (audit_verify,
	// retention_purge) run; each also runs once when the runner starts. Zero means
	// DefaultHousekeepingPeriod.
	HousekeepingPeriod time.Duration

	// MaxWorkers is how many jobs run at once on this node. Zero means
	// DefaultMaxWorkers.
	MaxWorkers int

	// SkipStartJitter skips the random pause of up to a second with which
	// River starts each of its maintenance services, one after another, on
	// the leader (the periodic jobs come last, several seconds after Start).
	// For tests; in production the jitter spreads the nodes' work.
	SkipStartJitter bool

	// Register, when set, adds further workers (river.AddWorkerSafely) to
	// the registry beside the housekeeping ones. A job whose kind has no
	// worker cannot be inserted.
	Register func(*river.Workers) error

	// Retention, when set, is run by the retention_purge housekeeping job
	// every HousekeepingPeriod (and when the runner starts).
	Retention Purger

	// Evidence, when set, is run by the evidence_verify housekeeping job
	// every HousekeepingPeriod (not when the runner starts).
	Evidence EvidenceVerifier

	// ChainBroken, when set, is told of a break the audit_verify job
	// finds in the current segment of the audit chain (audit.Watcher's
	// Report), so that it is recorded in a new segment.
	ChainBroken func(audit.Break)
}

// Runner is Ward's River client on either database: it works the jobs of
// this node and enqueues new ones inside Ward's transactions.
type Runner struct {
	q queue
}

// queue is what Runner needs from a River client, whatever the client's
// transaction type.
type queue interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
	insertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

// New creates a Runner for d with the housekeeping workers and periodic
// jobs plus whatever opts.Register adds. River's tables must exist (see
// Migrate). New starts nothing: call Start.
func New(d *db.DB, log *slog.Logger, opts Options) (*Runner, error) {
	if log == nil {
		return nil, errors.New("jobs: logger is nil")
	}
	cfg, err := config(d, log, opts)
	if err != nil {
		return nil, err
	}
	switch d.Dialect {
	case db.SQLite:
		c, err := river.NewClient(riversqlite.New(d.W), cfg)
		if err != nil {
			return nil, fmt.Errorf("jobs: new client: %w", err)
		}
		return &Runner{q: sqliteQueue{c}}, nil
	case db.Postgres:
		if d.Pool == nil {
			return nil, errNoPool
		}
		c, err := river.NewClient(riverpgxv5.New(d.Pool), cfg)
		if err != nil {
			return nil, fmt.Errorf("jobs: new client: %w", err)
		}
		return &Runner{q: pgQueue{c}}, nil
	}
	return nil, fmt.Errorf("jobs: unsupported dialect %q", d.Dialect)
}

// config builds the River configuration shared by both drivers. River's
// maintenance services keep their defaults, among them the job cleaner that
// deletes finished jobs after a day (cancelled and completed) or a week
// (discarded).
func config(d *db.DB, log *slog.Logger, opts Options) (*river.Config, error) {
	period := opts.HousekeepingPeriod
	switch {
	case period < 0:
		return nil, fmt.Errorf("jobs: housekeeping period %s is negative", period)
	case period == 0:
		period = DefaultHousekeepingPeriod
	}
	maxWorkers := opts.MaxWorkers
	switch {
	case maxWorkers < 0:
		return nil, fmt.Errorf("jobs: max workers %d is negative", maxWorkers)
	case maxWorkers == 0:
		maxWorkers = DefaultMaxWorkers
	}
	workers := river.NewWorkers()
	if err := river.AddWorkerSafely(workers, &auditVerifyWorker{q: d.R, log: log, broken: opts.ChainBroken}); err != nil {
		return nil, fmt.Errorf("jobs: register audit_verify: %w", err)
	}
	periodic := housekeeping(period)
	if opts.Retention != nil {
		if err := river.AddWorkerSafely(workers, &retentionPurgeWorker{p: opts.Retention}); err != nil {
			return nil, fmt.Errorf("jobs: register retention_purge: %w", err)
		}
		periodic = append(periodic, retentionJob(period))
	}
	if opts.Evidence != nil {
		if err := river.AddWorkerSafely(workers, &evidenceVerifyWorker{v: opts.Evidence}); err != nil {
			return nil, fmt.Errorf("jobs: register evidence_verify: %w", err)
		}
		periodic = append(periodic, evidenceJob(period))
	}
	if opts.Register != nil {
		if err := opts.Register(workers); err != nil {
			return nil, fmt.Errorf("jobs: register workers: %w", err)
		}
	}
	return &river.Config{
		Logger:       log,
		Queues:       map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: maxWorkers}},
		Workers:      workers,
		PeriodicJobs: periodic,
		// TestOnly does nothing but skip the jitter in River v0.47.0.
		TestOnly: opts.SkipStartJitter,
	}, nil
}

// Start begins working jobs and, on the node elected leader, scheduling the
// periodic ones. Cancelling ctx later stops the runner at once, cancelling
// the running jobs' contexts; prefer Stop, which lets them finish first.
func (r *Runner) Start(ctx context.Context) error {
	if err := r.q.Start(ctx); err != nil {
		return fmt.Errorf("jobs: start: %w", err)
	}
	return nil
}

// Stop stops fetching jobs and waits for the running ones to finish. If ctx
// ends first, Stop cancels the running jobs' contexts and waits up to a few
// seconds more for them to return; a job cut short is retried later. Stop
// on a runner that was never started returns nil.
func (r *Runner) Stop(ctx context.Context) error {
	err := r.q.Stop(ctx)
	if err == nil || ctx.Err() == nil {
		return err
	}
	hard, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopCancelGrace)
	defer cancel()
	if err := r.q.StopAndCancel(hard); err != nil {
		return fmt.Errorf("jobs: stop: %w", err)
	}
	return nil
}

// InsertTx enqueues a job inside tx, a write transaction on the runner's
// database (from db.DB.Write or db.DB.W): the job exists, and can run, only
// if tx commits. opts may be nil. The kind of args must have a registered
// worker. The runner need not be started.
//
// On PostgreSQL the insert runs on tx's connection from inside one of tx's
// statements (see insertPgx), so tx must have no *sql.Rows open.
func (r *Runner) InsertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	res, err := r.q.insertTx(ctx, tx, args, opts)
	if err != nil {
		return nil, fmt.Errorf("jobs: insert %s: %w", args.Kind(), err)
	}
	return res, nil
}

// sqliteQueue is a River client on SQLite, where River's driver works on
// database/sql transactions directly.
type sqliteQueue struct {
	*river.Client[*sql.Tx]
}

func (q sqliteQueue) insertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return q.InsertTx(ctx, tx, args, opts)
}

// pgQueue is a River client on PostgreSQL. River's pgx driver works on
// pgx.Tx while Ward's transactions are *sql.Tx from pgx's database/sql
// adapter; see insertPgx for the bridge.
type pgQueue struct {
	*river.Client[pgx.Tx]
}

func (q pgQueue) insertTx(ctx context.Context, tx *sql.Tx, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return insertPgx(ctx, tx, func(ctx context.Context, ptx pgx.Tx) (*rivertype.JobInsertResult, error) {
		return q.InsertTx(ctx, ptx, args, opts)
	})
}
