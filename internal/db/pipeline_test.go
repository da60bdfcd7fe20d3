package db_test

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// TestDefer: an insert deferred inside a write (db.InTx.Defer) is seen by
// the write's later statements and commits with it; a deferred insert that
// fails fails the write, naming the insert, and nothing of the write
// stays; a write that fails after deferring leaves nothing. On PostgreSQL
// the insert is queued, so its error comes from the next statement.
func TestDefer(t *testing.T) {
	forEachTarget(t, func(t *testing.T, target dbtest.Target) {
		d := open(t, target.URL)
		ctx := context.Background()
		if _, err := d.W.ExecContext(ctx, "CREATE TABLE deferred (id INTEGER PRIMARY KEY, note TEXT NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		count := func() int {
			t.Helper()
			var n int
			if err := d.R.QueryRowContext(ctx, "SELECT count(*) FROM deferred").Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		insert := "INSERT INTO deferred (id, note) VALUES ($1, $2)"

		err := d.Write(ctx, func(tx *sql.Tx) error {
			q := d.In(tx)
			for i := range 2 {
				if err := q.Defer(ctx, "insert one", insert, i, "a"); err != nil {
					return err
				}
			}
			var n int
			if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM deferred").Scan(&n); err != nil {
				return err
			}
			if n != 2 {
				t.Errorf("the write's own read saw %d deferred rows, want 2", n)
			}
			return q.Defer(ctx, "insert one", insert, 2, "c")
		})
		if err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 3 {
			t.Fatalf("%d rows after the commit, want 3", n)
		}

		// A duplicate key: the write fails, naming the insert, and its
		// first insert is rolled back with it.
		err = d.Write(ctx, func(tx *sql.Tx) error {
			q := d.In(tx)
			if err := q.Defer(ctx, "insert four", insert, 4, "d"); err != nil {
				return err
			}
			if err := q.Defer(ctx, "insert a duplicate", insert, 0, "e"); err != nil {
				if target.Dialect == db.Postgres {
					t.Errorf("on PostgreSQL the insert was not queued: %v", err)
				}
				return err
			}
			if target.Dialect != db.Postgres {
				t.Error("on SQLite the duplicate insert did not fail at once")
			}
			var n int
			err := tx.QueryRowContext(ctx, "SELECT count(*) FROM deferred").Scan(&n)
			if err == nil {
				t.Error("the statement after a failing deferred insert succeeded")
			}
			return err
		})
		if err == nil || !strings.Contains(err.Error(), "insert a duplicate") {
			t.Fatalf("write with a duplicate deferred insert: %v, want an error naming the insert", err)
		}
		if n := count(); n != 3 {
			t.Fatalf("%d rows after the failed write, want 3", n)
		}

		// The duplicate as the write's last statement: the commit fails.
		err = d.Write(ctx, func(tx *sql.Tx) error {
			return d.In(tx).Defer(ctx, "insert a duplicate", insert, 1, "f")
		})
		if err == nil || !strings.Contains(err.Error(), "insert a duplicate") {
			t.Fatalf("write ending with a duplicate deferred insert: %v, want an error naming the insert", err)
		}

		// A write that fails after deferring: nothing stays.
		errWanted := errors.New("this write fails")
		err = d.Write(ctx, func(tx *sql.Tx) error {
			if err := d.In(tx).Defer(ctx, "insert five", insert, 5, "g"); err != nil {
				return err
			}
			return errWanted
		})
		if !errors.Is(err, errWanted) {
			t.Fatalf("failing write: %v", err)
		}
		if n := count(); n != 3 {
			t.Fatalf("%d rows after the failed writes, want 3", n)
		}

		// The connection is clean for the next write.
		if err := d.Write(ctx, func(tx *sql.Tx) error {
			return d.In(tx).Defer(ctx, "insert six", insert, 6, "h")
		}); err != nil {
			t.Fatal(err)
		}
		if n := count(); n != 4 {
			t.Fatalf("%d rows at the end, want 4", n)
		}
	})
}

// TestPipeline: statements of different kinds sent as one batch run in
// order, each seeing what the ones before it did (a deferred insert
// included), each row reaching its own Row, in one round trip on
// PostgreSQL with the deferred statements before it; a failing statement,
// deferred or not, fails the batch and the write.
func TestPipeline(t *testing.T) {
	forEachTarget(t, func(t *testing.T, target dbtest.Target) {
		d := open(t, target.URL)
		ctx := context.Background()
		if _, err := d.W.ExecContext(ctx, "CREATE TABLE piped (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)"); err != nil {
			t.Fatal(err)
		}
		var bumped, total, missing int
		var trips int64
		err := d.Write(ctx, func(tx *sql.Tx) error {
			q := d.In(tx)
			if err := q.Defer(ctx, "insert", "INSERT INTO piped (id, n) VALUES (1, 10), (2, 20)"); err != nil {
				return err
			}
			before := d.RoundTrips()
			err := q.Pipeline(ctx, []db.Query{
				{SQL: "UPDATE piped SET n = n + 1 WHERE id = $1 RETURNING n", Args: []any{1},
					Row: func(scan func(...any) error) error { return scan(&bumped) }},
				{SQL: "INSERT INTO piped (id, n) VALUES ($1, $2)", Args: []any{3, 30}},
				{SQL: "SELECT sum(n) FROM piped", Row: func(scan func(...any) error) error { return scan(&total) }},
				{SQL: "SELECT n FROM piped WHERE id = $1", Args: []any{99},
					Row: func(scan func(...any) error) error { missing++; return nil }},
			})
			trips = d.RoundTrips() - before
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if bumped != 11 || total != 61 || missing != 0 {
			t.Fatalf("bumped %d, total %d, %d rows of a missing id; want 11, 61, 0", bumped, total, missing)
		}
		if d.Dialect == db.Postgres && trips != 1 {
			t.Errorf("%d round trips, want 1: the deferred insert leads the pipeline's batch", trips)
		}
		err = d.Write(ctx, func(tx *sql.Tx) error {
			return d.In(tx).Pipeline(ctx, []db.Query{
				{SQL: "UPDATE piped SET n = 0"},
				{SQL: "INSERT INTO piped (id, n) VALUES ($1, $2)", Args: []any{1, 1}},
			})
		})
		if err == nil {
			t.Fatal("a duplicate key in a pipeline was accepted")
		}
		if err := d.R.QueryRowContext(ctx, "SELECT sum(n) FROM piped").Scan(&total); err != nil || total != 61 {
			t.Fatalf("after the failed pipeline the sum is %d (%v), want 61: nothing of it stays", total, err)
		}
		err = d.Write(ctx, func(tx *sql.Tx) error {
			q := d.In(tx)
			if err := q.Defer(ctx, "insert a duplicate", "INSERT INTO piped (id, n) VALUES ($1, $2)", 2, 2); err != nil {
				return err
			}
			return q.Pipeline(ctx, []db.Query{{SQL: "UPDATE piped SET n = 0"}})
		})
		if err == nil || !strings.Contains(err.Error(), "insert a duplicate") {
			t.Fatalf("a failing deferred insert before a pipeline: %v, want its error named", err)
		}
		if err := d.R.QueryRowContext(ctx, "SELECT sum(n) FROM piped").Scan(&total); err != nil || total != 61 {
			t.Fatalf("after the failed deferred insert the sum is %d (%v), want 61: nothing of it stays", total, err)
		}
	})
}
