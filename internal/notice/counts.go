package notice

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/wardhq/ward/internal/db"
)

// countsSQL counts a case's notices by kind, channel and status from
// notice_counts, which triggers keep (migration 0065): the case's rows
// since the last fold (FoldCounts), read in group order from the index
// notice_counts_case, however many notices the case has. The rows not yet
// folded are summed here, so the counts are exact as of the read.
const countsSQL = `SELECT kind, channel, status, CAST(sum(n) AS BIGINT) FROM notice_counts WHERE case_id = $1
	GROUP BY kind, channel, status HAVING sum(n) <> 0 ORDER BY kind, channel, status`

// FoldCounts folds the rows of notice_counts, which triggers append as
// notices are created, change status and are deleted, into one row per
// case, kind, channel and status, and those of notice_returned_counts
// (migration 0069) into one per case, so that counting a case's notices
// stays cheap; a periodic task runs it. It writes nothing to a table that
// holds no more rows than a fold would leave. On PostgreSQL a table's rows
// are deleted and their sums inserted by one statement, so a row another
// transaction commits meanwhile is either summed and deleted or left as it
// is, never lost; a second fold running at once skips the rows the first
// deleted. A fold of many rows on PostgreSQL then vacuums the table.
func (s *Service) FoldCounts(ctx context.Context) error { return FoldCounts(ctx, s.db) }

// foldedTables are the tables of counts FoldCounts folds, each with the
// columns it sums n by.
var foldedTables = []struct {
	name string
	keys []string
}{
	{"notice_counts", []string{"case_id", "kind", "channel", "status"}},
	{"notice_returned_counts", []string{"case_id"}},
}

// FoldCounts is Service.FoldCounts on d, for a caller with the database
// alone (a benchmark that seeds notices and folds before it times).
func FoldCounts(ctx context.Context, d *db.DB) error {
	for _, t := range foldedTables {
		if err := foldTable(ctx, d, t.name, t.keys); err != nil {
			return fmt.Errorf("fold %s: %w", t.name, err)
		}
	}
	return nil
}

// foldVacuumRows is how many rows a fold on PostgreSQL removes before it
// vacuums the table (foldTable).
const foldVacuumRows = 10000

// foldTable folds table's rows into one per value of keys, summing n.
func foldTable(ctx context.Context, d *db.DB, table string, keys []string) error {
	cols := strings.Join(keys, ", ")
	var rows, groups int
	if err := d.R.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT `+strings.Join(keys, " || ' ' || ")+`) FROM `+table).
		Scan(&rows, &groups); err != nil {
		return err
	}
	if rows <= groups {
		return nil
	}
	if d.Dialect == db.Postgres {
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
		sums, err := db.Collect(rows, err, "sum", func(r *sql.Rows) ([]any, error) {
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
