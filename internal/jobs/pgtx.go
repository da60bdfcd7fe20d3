package jobs

import (
	"context"
	"database/sql"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/riverqueue/river/rivertype"
)

// River's database/sql driver for PostgreSQL (riverdatabasesql) is not
// published at the River version Ward pins, so on PostgreSQL Ward runs
// River's pgx driver, whose inserts take a pgx.Tx. Ward's transactions are
// *sql.Tx over pgx's database/sql adapter on the same pool, and
// database/sql does not hand out a transaction's connection. pgx does,
// through a documented hook: a pgx.QueryRewriter passed as the first
// argument of a statement is called with the *pgx.Conn that runs it, before
// the statement is sent. insertPgx runs the insert from inside that call, so
// it happens on the transaction's own connection while database/sql holds
// that connection for the statement.

// errNotPgx means the *sql.Tx does not run on pgx, so the bridge never ran.
var errNotPgx = errors.New("transaction is not on a pgx connection")

// insertPgx calls insert with a pgx.Tx that runs on tx's connection, inside
// tx, and returns what insert returned.
func insertPgx(ctx context.Context, tx *sql.Tx,
	insert func(context.Context, pgx.Tx) (*rivertype.JobInsertResult, error),
) (*rivertype.JobInsertResult, error) {
	b := &pgxBridge{insert: insert}
	_, err := tx.ExecContext(ctx, "SELECT 1", b)
	switch {
	case b.err != nil:
		return nil, b.err
	case err != nil:
		return nil, err
	case !b.called:
		return nil, errNotPgx
	}
	return b.res, nil
}

// pgxBridge is the pgx.QueryRewriter that runs the insert.
type pgxBridge struct {
	insert func(context.Context, pgx.Tx) (*rivertype.JobInsertResult, error)
	called bool
	res    *rivertype.JobInsertResult
	err    error
}

// RewriteQuery runs the insert on conn and leaves the statement as it is.
func (b *pgxBridge) RewriteQuery(ctx context.Context, conn *pgx.Conn, sql string, _ []any) (string, []any, error) {
	b.called = true
	b.res, b.err = b.insert(ctx, connTx{conn: conn})
	return sql, nil, b.err
}

// errForeignTx is returned by the transaction control methods of connTx.
var errForeignTx = errors.New("the transaction belongs to database/sql: commit or roll back the *sql.Tx")

// connTx presents a connection that is inside a transaction opened through
// database/sql as a pgx.Tx. Statements run on the connection, hence in the
// transaction; the transaction itself stays the *sql.Tx's to end, so
// Begin, Commit and Rollback fail and LargeObjects is not offered.
type connTx struct {
	conn *pgx.Conn
}

// Begin fails: savepoints belong to the *sql.Tx's owner.
func (t connTx) Begin(context.Context) (pgx.Tx, error) { return nil, errForeignTx }

// Commit fails: only the *sql.Tx commits.
func (t connTx) Commit(context.Context) error { return errForeignTx }

// Rollback fails: only the *sql.Tx rolls back.
func (t connTx) Rollback(context.Context) error { return errForeignTx }

// CopyFrom runs COPY FROM on the connection.
func (t connTx) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	return t.conn.CopyFrom(ctx, table, columns, src)
}

// SendBatch sends a batch on the connection.
func (t connTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return t.conn.SendBatch(ctx, b)
}

// LargeObjects returns an unusable value: large objects need a pgx-owned
// transaction, and neither River nor Ward uses them.
func (t connTx) LargeObjects() pgx.LargeObjects { return pgx.LargeObjects{} }

// Prepare prepares a statement on the connection.
func (t connTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	return t.conn.Prepare(ctx, name, sql)
}

// Exec runs a statement on the connection.
func (t connTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return t.conn.Exec(ctx, sql, args...)
}

// Query runs a query on the connection.
func (t connTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return t.conn.Query(ctx, sql, args...)
}

// QueryRow runs a single-row query on the connection.
func (t connTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return t.conn.QueryRow(ctx, sql, args...)
}

// Conn returns the connection.
func (t connTx) Conn() *pgx.Conn { return t.conn }
