// Package db opens Ward's database (embedded SQLite or PostgreSQL), runs
// its migrations and gives the rest of Ward transactions. The same SQL text
// runs on both: $n placeholders, no casts, no now() (times come from the
// clock), no dialect-only operators in shared queries.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite" // registers the "sqlite" driver
)

// Dialect names the database engine.
type Dialect string

// The supported dialects.
const (
	SQLite   Dialect = "sqlite"
	Postgres Dialect = "postgres"
)

// Querier is what stores run SQL on: a *sql.Tx or a *sql.DB.
type Querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// DB is an open Ward database.
//
// On SQLite, writes go through W, a pool of one connection, so writers queue
// in Go instead of sleeping on SQLITE_BUSY; reads use R, a pool of read-only
// connections that WAL lets run beside the writer. On PostgreSQL, W and R
// are the same pool and Pool is the pgx pool underneath (backups COPY on it).
type DB struct {
	Dialect Dialect
	W       *sql.DB
	R       *sql.DB
	Pool    *pgxpool.Pool

	trips   *tripCounter // PostgreSQL only: round trips (RoundTrips)
	commits *committer   // SQLite only: group commit of Write calls
	stmts   sync.Map     // SQLite only: query → *sql.Stmt prepared on the writer
	shared  sync.Map     // key → value (Shared)
}

// Shared returns the value kept under key for this database, making it
// with mk first if there is none: state that other packages keep per
// open database for as long as it is open (package audit's chainer).
func (d *DB) Shared(key any, mk func() any) any {
	if v, ok := d.shared.Load(key); ok {
		return v
	}
	v, _ := d.shared.LoadOrStore(key, mk())
	return v
}

// IsPostgres reports whether url names a PostgreSQL database.
func IsPostgres(url string) bool {
	return strings.HasPrefix(url, "postgres://") || strings.HasPrefix(url, "postgresql://")
}

// Options tune a PostgreSQL connection pool (docs/POSTGRESQL.md); SQLite
// ignores them. The zero value keeps pgx's defaults and sets no statement
// timeout.
type Options struct {
	// MaxConns caps the pool; 0 keeps pgx's default (the larger of 4
	// and the number of CPUs) or the URL's pool_max_conns.
	MaxConns int
	// MinConns is how many connections the pool keeps open when idle.
	MinConns int
	// StatementTimeout makes the server cancel a statement that runs
	// longer (the statement_timeout setting); 0 sets none.
	StatementTimeout time.Duration
}

// Open opens the database that url names: a postgres:// URL, or else the
// path of a SQLite file (a "sqlite://" prefix is allowed). The SQLite file's
// folder must exist.
func Open(ctx context.Context, url string) (*DB, error) {
	return OpenWith(ctx, url, Options{})
}

// OpenWith is Open with pool options.
func OpenWith(ctx context.Context, url string, opts Options) (*DB, error) {
	if IsPostgres(url) {
		return openPostgres(ctx, url, opts)
	}
	return openSQLite(ctx, strings.TrimPrefix(url, "sqlite://"))
}

func openPostgres(ctx context.Context, url string, opts Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("parse database url: %w", err)
	}
	if cfg.ConnConfig.RuntimeParams == nil {
		cfg.ConnConfig.RuntimeParams = map[string]string{}
	}
	cfg.ConnConfig.RuntimeParams["timezone"] = "UTC"
	if opts.StatementTimeout > 0 {
		cfg.ConnConfig.RuntimeParams["statement_timeout"] = strconv.FormatInt(opts.StatementTimeout.Milliseconds(), 10)
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = int32(opts.MaxConns)
	}
	if opts.MinConns > 0 {
		cfg.MinConns = int32(min(opts.MinConns, int(cfg.MaxConns)))
	}
	// Ward's statements each read a few index entries. Planned without
	// statistics (a table never analysed), such a statement can be costed
	// high enough for PostgreSQL to compile it with JIT first, which took
	// 240 ms for a count that ran in 0.4 ms (issue #14). It is turned off
	// with a SET as each connection opens, not a start-up parameter, which
	// PgBouncer would refuse; a jit setting in the URL wins.
	if _, ok := cfg.ConnConfig.RuntimeParams["jit"]; !ok {
		cfg.AfterConnect = func(ctx context.Context, c *pgx.Conn) error {
			_, err := c.Exec(ctx, "SET jit = off")
			return err
		}
	}
	trips := &tripCounter{}
	cfg.ConnConfig.Tracer = trips
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := pool.Ping(pingCtx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	sqldb := openPipelined(stdlib.GetPoolConnector(pool))
	return &DB{Dialect: Postgres, W: sqldb, R: sqldb, Pool: pool, trips: trips}, nil
}

// sqlitePragmas are applied to every connection. WAL lets readers run beside
// the writer; synchronous(FULL) fsyncs the WAL at every commit so that an
// acknowledged write survives a power cut, not only a process crash.
const sqlitePragmas = "_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)&_pragma=foreign_keys(1)" +
	"&_pragma=synchronous(FULL)&_time_format=sqlite"

// writerTempStore keeps the SQLite writer's statement journals in memory
// (temp_store MEMORY). Every write of a group-committed batch runs in a
// savepoint, and with foreign keys on most statements keep a statement
// journal too; on files, those journals spill to a temporary file past
// 64 KiB, and writing it was 11% of all CPU when every alert opened an
// incident (docs/BENCHMARKS.md). They exist only to roll back a savepoint
// or a failed statement, never for durability, which the write-ahead log
// gives; they hold what one transaction changes.
const writerTempStore = "_pragma=temp_store(MEMORY)"

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if path == "" {
		return nil, errors.New("database path is empty")
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("database path: %w", err)
	}
	if _, err := os.Stat(filepath.Dir(abs)); err != nil {
		return nil, fmt.Errorf("database folder: %w", err)
	}
	base := "file:" + abs + "?" + sqlitePragmas
	w, err := sql.Open("sqlite", base+"&_txlock=immediate&"+writerTempStore)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", abs, err)
	}
	// The database file is created by the writer above; restrict it.
	if err := os.Chmod(abs, 0o600); err != nil {
		w.Close()
		return nil, fmt.Errorf("restrict database file: %w", err)
	}
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	r.SetMaxOpenConns(8)
	// Keep every reader open: opening a SQLite connection (and running its
	// pragmas) costs more than most queries.
	r.SetMaxIdleConns(8)
	return &DB{Dialect: SQLite, W: w, R: r, commits: newCommitter(w)}, nil
}

// Close closes every pool.
func (d *DB) Close() error {
	if d.commits != nil {
		d.commits.close()
	}
	err := d.W.Close()
	if d.R != d.W {
		err = errors.Join(err, d.R.Close())
	}
	if d.Pool != nil {
		d.Pool.Close()
	}
	return err
}

// Ping checks that the database answers.
func (d *DB) Ping(ctx context.Context) error {
	var one int
	return d.R.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// Write runs fn in a write transaction and commits it if fn returns nil;
// when Write returns nil the change is durable. fn must not call Write.
//
// On SQLite, writes are group-committed (see committer): fn may share its
// transaction with other writers' functions, each inside its own savepoint,
// so fn's changes commit or roll back as a unit all the same. The
// transaction starts with BEGIN IMMEDIATE, so it holds the write lock from
// its first statement and cannot fail later on SQLITE_BUSY.
//
// The audit entries fn records are in the chain when Write returns (see
// Hooks): on SQLite they are chained in the transaction; on PostgreSQL
// after it commits, without holding a lock while fn runs. On PostgreSQL,
// the inserts fn queued with InTx.Defer are sent before the commit.
func (d *DB) Write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	if d.commits != nil {
		return d.commits.write(ctx, fn)
	}
	tx, err := d.W.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer done(tx)
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	afterCommit(ctx, d, tx)
	committed(tx)
	return nil
}

// InTx runs the statements of hot write paths inside tx, a transaction
// from Write: on SQLite each query is prepared once on the writer's one
// connection and reused, since parsing SQL costs more than running these
// statements; on PostgreSQL pgx caches prepared statements itself, so the
// query goes to tx as it is.
type InTx struct {
	d  *DB
	tx *sql.Tx
}

// In returns the hot-path statements of tx.
func (d *DB) In(tx *sql.Tx) InTx { return InTx{d: d, tx: tx} }

// Tx is the transaction.
func (t InTx) Tx() *sql.Tx { return t.tx }

// preparing marks a query whose statement is being prepared.
type preparing struct{}

// stmt returns query's cached statement bound to the transaction, or false
// when it is not prepared yet. The writer's one connection is the
// transaction's until it ends, so a statement cannot be prepared on it now:
// the first use starts preparing it in the background, where it waits for
// the connection, and runs the query unprepared meanwhile.
func (t InTx) stmt(ctx context.Context, query string) (*sql.Stmt, bool) {
	if v, ok := t.d.stmts.Load(query); ok {
		st, ready := v.(*sql.Stmt)
		if !ready {
			return nil, false
		}
		return t.tx.StmtContext(ctx, st), true
	}
	if _, loaded := t.d.stmts.LoadOrStore(query, preparing{}); !loaded {
		go func() {
			st, err := t.d.W.PrepareContext(context.Background(), query)
			if err != nil {
				t.d.stmts.Delete(query)
				return
			}
			t.d.stmts.Store(query, st)
		}()
	}
	return nil, false
}

// ExecContext is tx.ExecContext with the statement cached on SQLite.
func (t InTx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if t.d.Dialect != SQLite {
		return t.tx.ExecContext(ctx, query, args...)
	}
	if st, ok := t.stmt(ctx, query); ok {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

// QueryContext is tx.QueryContext with the statement cached on SQLite.
func (t InTx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if t.d.Dialect != SQLite {
		return t.tx.QueryContext(ctx, query, args...)
	}
	if st, ok := t.stmt(ctx, query); ok {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

// QueryRowContext is tx.QueryRowContext with the statement cached on
// SQLite.
func (t InTx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if t.d.Dialect != SQLite {
		return t.tx.QueryRowContext(ctx, query, args...)
	}
	if st, ok := t.stmt(ctx, query); ok {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

// Collect reads every row of a query with scan, then closes the rows: the
// loop every list read repeats. err is the query's own error, so a call
// can wrap the query directly; what names it is for its error message.
func Collect[T any](rows *sql.Rows, err error, what string, scan func(*sql.Rows) (T, error)) ([]T, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, v)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return out, nil
}
