package db

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// Deferred inserts (issue #18). On PostgreSQL every statement of a write
// transaction used to be its own round trip to the server, in series: an
// alert that opened an incident cost twelve. Most of them are inserts
// whose answer nobody reads: they only have to be in the transaction
// before its next statement and before it commits. InTx.Defer queues such
// an insert on the connection, and the connection sends the queue as one
// pipelined batch (pgx.Batch, one round trip) just before the next
// statement of any kind on it, the commit included. So a later read in the
// transaction sees the rows as before, the transaction commits all of them
// or none, and a failing insert fails the statement after it (its error
// names the insert) and with it the transaction, as PostgreSQL aborts a
// transaction at its first error anyway. On SQLite, which has no round
// trips, Defer runs the insert at once.

// deferKey marks a context whose ExecContext may be queued.
type deferKey struct{}

// Defer runs query, an insert or update whose result the caller does not
// read, in the transaction: on PostgreSQL queued and sent with the next
// statement of the transaction or its commit, on SQLite at once. An error
// may therefore come from a later statement of the transaction or from its
// commit instead; what names the statement in that error.
func (t InTx) Defer(ctx context.Context, what, query string, args ...any) error {
	if t.d.Dialect == Postgres {
		ctx = context.WithValue(ctx, deferKey{}, what)
	}
	if _, err := t.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Exec runs query on q: deferred (InTx.Defer) when q is a transaction's
// hot-path statements, else at once. For inserts whose result is not read.
func Exec(ctx context.Context, q Querier, what, query string, args ...any) error {
	if t, ok := q.(InTx); ok {
		return t.Defer(ctx, what, query, args...)
	}
	if _, err := q.ExecContext(ctx, query, args...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// connFnKey marks a context that carries work for the pgx connection
// underneath a transaction (InTx.Rows).
type connFnKey struct{}

// Query is one statement of a pipelined batch (InTx.Pipeline): its SQL,
// its arguments, and Row, called with each row it returns (nil when its
// rows, if any, are not read).
type Query struct {
	SQL  string
	Args []any
	Row  func(scan func(dest ...any) error) error
}

// Pipeline runs qs in the transaction, in order, and calls each one's Row
// for every row it returns: on PostgreSQL all of them in one pipelined
// batch, one round trip, led by the statements deferred since the last
// one sent (InTx.Defer); on SQLite one after another. The server runs the
// statements one after another as they were queued, so a batch reads and
// locks exactly what the same statements sent one at a time would; only
// no statement's arguments may depend on an earlier one's answer.
func (t InTx) Pipeline(ctx context.Context, qs []Query) error {
	if len(qs) == 0 {
		return nil
	}
	if t.d.Dialect != Postgres {
		for _, q := range qs {
			rows, err := t.QueryContext(ctx, q.SQL, q.Args...)
			if err != nil {
				return err
			}
			if err := readRows(rows, func() { _ = rows.Close() }, q.Row); err != nil {
				return err
			}
		}
		return nil
	}
	fn := func(conn *pgx.Conn, pending []queued) error {
		b := &pgx.Batch{}
		for _, s := range pending {
			b.Queue(s.query, s.args...)
		}
		for _, q := range qs {
			b.Queue(q.SQL, q.Args...)
		}
		res := conn.SendBatch(ctx, b)
		defer res.Close()
		for _, s := range pending {
			if _, err := res.Exec(); err != nil {
				return fmt.Errorf("%s: %w", s.what, err)
			}
		}
		for _, q := range qs {
			rows, err := res.Query()
			if err != nil {
				return err
			}
			if err := readRows(rows, rows.Close, q.Row); err != nil {
				return err
			}
		}
		return res.Close()
	}
	_, err := t.tx.ExecContext(context.WithValue(ctx, connFnKey{}, fn), "-- pipelined batch")
	return err
}

// Rows runs query in the transaction once for each set of args and calls
// row for every row of every result, as one Pipeline.
func (t InTx) Rows(ctx context.Context, query string, argSets [][]any, row func(scan func(dest ...any) error) error) error {
	qs := make([]Query, len(argSets))
	for i, args := range argSets {
		qs[i] = Query{SQL: query, Args: args, Row: row}
	}
	return t.Pipeline(ctx, qs)
}

// rowReader is what readRows needs of *sql.Rows and pgx.Rows alike.
type rowReader interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// readRows calls row (if any) for each row of rows, then closes them
// with closeRows.
func readRows(rows rowReader, closeRows func(), row func(scan func(dest ...any) error) error) error {
	defer closeRows()
	for rows.Next() {
		if row == nil {
			continue
		}
		if err := row(rows.Scan); err != nil {
			return err
		}
	}
	closeRows()
	return rows.Err()
}

// tripCounter counts what Ward's connections send to PostgreSQL: every
// statement, and every pipelined batch as one (pgx's tracer hooks).
type tripCounter struct{ n atomic.Int64 }

func (c *tripCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *tripCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (c *tripCounter) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	c.n.Add(1)
	return ctx
}

func (c *tripCounter) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (c *tripCounter) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// RoundTrips is how many statements and pipelined batches the database's
// connections have sent to PostgreSQL, each one round trip; 0 on SQLite.
// Tests hold a hot path to a number of round trips that does not grow
// with its batch (issue #18).
func (d *DB) RoundTrips() int64 {
	if d.trips == nil {
		return 0
	}
	return d.trips.n.Load()
}

// pipeConnector hands out pipeConns over the pgx pool's connections.
type pipeConnector struct{ driver.Connector }

func (c pipeConnector) Connect(ctx context.Context) (driver.Conn, error) {
	dc, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	sc, ok := dc.(*stdlib.Conn)
	if !ok {
		_ = dc.Close()
		return nil, fmt.Errorf("postgres driver: unexpected connection type %T", dc)
	}
	return &pipeConn{Conn: sc}, nil
}

// queued is a deferred statement.
type queued struct {
	what, query string
	args        []any
}

// pipeConn is a pgx stdlib connection that queues deferred statements
// while a transaction is open and sends them, as one batch, before
// anything else it sends. database/sql uses a connection from one
// goroutine at a time, so it needs no lock.
type pipeConn struct {
	*stdlib.Conn
	inTx  bool
	queue []queued
}

// flush sends the queued statements in one round trip.
func (c *pipeConn) flush(ctx context.Context) error {
	if len(c.queue) == 0 {
		return nil
	}
	q := c.queue
	c.queue = nil
	b := &pgx.Batch{}
	for _, s := range q {
		b.Queue(s.query, s.args...)
	}
	res := c.Conn.Conn().SendBatch(ctx, b)
	for _, s := range q {
		if _, err := res.Exec(); err != nil {
			_ = res.Close()
			return fmt.Errorf("%s: %w", s.what, err)
		}
	}
	return res.Close()
}

func (c *pipeConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if what, ok := ctx.Value(deferKey{}).(string); ok && c.inTx {
		vals := make([]any, len(args))
		for i, a := range args {
			vals[i] = a.Value
		}
		c.queue = append(c.queue, queued{what: what, query: query, args: vals})
		return driver.RowsAffected(0), nil
	}
	if fn, ok := ctx.Value(connFnKey{}).(func(*pgx.Conn, []queued) error); ok {
		pending := c.queue
		c.queue = nil
		return driver.RowsAffected(0), fn(c.Conn.Conn(), pending)
	}
	if err := c.flush(ctx); err != nil {
		return nil, err
	}
	return c.Conn.ExecContext(ctx, query, args)
}

func (c *pipeConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if err := c.flush(ctx); err != nil {
		return nil, err
	}
	return c.Conn.QueryContext(ctx, query, args)
}

func (c *pipeConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	if err := c.flush(ctx); err != nil {
		return nil, err
	}
	return c.Conn.PrepareContext(ctx, query)
}

func (c *pipeConn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

func (c *pipeConn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

func (c *pipeConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.Conn.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.inTx, c.queue = true, nil
	return &pipeTx{Tx: tx, c: c, ctx: ctx}, nil
}

// pipeTx sends the queued statements before it commits.
type pipeTx struct {
	driver.Tx
	c   *pipeConn
	ctx context.Context
}

func (t *pipeTx) Commit() error {
	t.c.inTx = false
	if err := t.c.flush(t.ctx); err != nil {
		_ = t.Tx.Rollback()
		return err
	}
	return t.Tx.Commit()
}

func (t *pipeTx) Rollback() error {
	t.c.inTx, t.c.queue = false, nil
	return t.Tx.Rollback()
}

// openPipelined is stdlib.OpenDBFromPool with deferred statements.
func openPipelined(c driver.Connector) *sql.DB {
	d := sql.OpenDB(pipeConnector{c})
	d.SetMaxIdleConns(0)
	return d
}
