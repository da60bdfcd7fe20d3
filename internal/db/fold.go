package db

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
)

// foldVacuumRows is how many rows a fold on PostgreSQL removes before it
// vacuums the table (Fold).
const foldVacuumRows = 10000

// Fold folds the rows of table, a table of counts kept by deltas (rows of
// keys and n that triggers append, +1 or -1, as what they count changes),
// into one row per value of keys summing n, dropping sums of 0, so that
// reading the counts stays cheap; periodic tasks call it
// (docs/ARCHITECTURE.md, "Counts kept by append-only deltas"). It writes
// nothing while the table holds no more rows than a fold would leave. On
// PostgreSQL the rows are deleted and their sums inserted by one
// statement, so a row another transaction commits meanwhile is either
// summed and deleted or left as it is, never lost, and a second fold
// running at once skips the rows the first deleted; a fold of many rows
// then vacuums the table. SQLite has one writer, so its fold reads the
// sums and writes them back in one transaction.
func (d *DB) Fold(ctx context.Context, table string, keys ...string) error {
	cols := strings.Join(keys, ", ")
	var rows, groups int
	if err := d.R.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT `+strings.Join(keys, " || ' ' || ")+`) FROM `+table).
		Scan(&rows, &groups); err != nil {
		return err
	}
	if rows <= groups {
		return nil
	}
	if d.Dialect == Postgres {
		if err := d.Write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `WITH gone AS (DELETE FROM `+table+` RETURNING `+cols+`, n)
				INSERT INTO `+table+` (`+cols+`, n) SELECT `+cols+`, sum(n) FROM gone GROUP BY `+cols+` HAVING sum(n) <> 0`)
			return err
		}); err != nil {
			return err
		}
		// The rows folded stay in the table and its index, dead, until
		// VACUUM: a read of a case's counts walks every one (after a
		// million notices were written, a million index entries and
		// 14,000 pages, 0.1-0.6 s a view, until autovacuum came). A fold
		// of many rows vacuums the table at once.
		if rows-groups >= foldVacuumRows {
			if _, err := d.W.ExecContext(ctx, "VACUUM (ANALYZE) "+table); err != nil {
				return err
			}
		}
		return nil
	}
	return d.Write(ctx, func(tx *sql.Tx) error {
		// SQLite has one writer: nothing changes between the statements.
		rows, err := tx.QueryContext(ctx, `SELECT `+cols+`, sum(n) FROM `+table+` GROUP BY `+cols+` HAVING sum(n) <> 0`)
		sums, err := Collect(rows, err, "sum", func(r *sql.Rows) ([]any, error) {
			key := make([]string, len(keys))
			var n int64
			dst := make([]any, 0, len(keys)+1)
			for i := range key {
				dst = append(dst, &key[i])
			}
			if err := r.Scan(append(dst, &n)...); err != nil {
				return nil, err
			}
			vals := make([]any, 0, len(keys)+1)
			for _, k := range key {
				vals = append(vals, k)
			}
			return append(vals, n), nil
		})
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM "+table); err != nil {
			return err
		}
		marks := make([]string, len(keys)+1)
		for i := range marks {
			marks[i] = "$" + strconv.Itoa(i+1)
		}
		insert := "INSERT INTO " + table + " (" + cols + ", n) VALUES (" + strings.Join(marks, ", ") + ")"
		for _, vals := range sums {
			if _, err := tx.ExecContext(ctx, insert, vals...); err != nil {
				return err
			}
		}
		return nil
	})
}
