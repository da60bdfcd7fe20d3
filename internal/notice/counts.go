package notice

import (
	"context"
	"database/sql"
	"fmt"

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
// case, kind, channel and status, so that counting a case's notices stays
// cheap; a periodic task runs it. It writes nothing while the table holds
// no more rows than a fold would leave. On PostgreSQL the rows are deleted
// and their sums inserted by one statement, so a row another transaction
// commits meanwhile is either summed and deleted or left as it is, never
// lost; a second fold running at once skips the rows the first deleted.
func (s *Service) FoldCounts(ctx context.Context) error { return FoldCounts(ctx, s.db) }

// FoldCounts is Service.FoldCounts on d, for a caller with the database
// alone (a benchmark that seeds notices and folds before it times).
func FoldCounts(ctx context.Context, d *db.DB) error {
	var rows, groups int
	if err := d.R.QueryRowContext(ctx, `SELECT count(*),
		count(DISTINCT case_id || ' ' || kind || ' ' || channel || ' ' || status) FROM notice_counts`).
		Scan(&rows, &groups); err != nil {
		return fmt.Errorf("fold notice counts: %w", err)
	}
	if rows <= groups {
		return nil
	}
	return d.Write(ctx, func(tx *sql.Tx) error {
		if d.Dialect == db.Postgres {
			_, err := tx.ExecContext(ctx, `WITH gone AS (DELETE FROM notice_counts RETURNING case_id, kind, channel, status, n)
				INSERT INTO notice_counts (case_id, kind, channel, status, n)
				SELECT case_id, kind, channel, status, sum(n) FROM gone GROUP BY case_id, kind, channel, status HAVING sum(n) <> 0`)
			if err != nil {
				return fmt.Errorf("fold notice counts: %w", err)
			}
			return nil
		}
		// SQLite has one writer: nothing changes between the statements.
		rows, err := tx.QueryContext(ctx, `SELECT case_id, kind, channel, status, sum(n) FROM notice_counts
			GROUP BY case_id, kind, channel, status HAVING sum(n) <> 0`)
		sums, err := db.Collect(rows, err, "fold notice counts", func(r *sql.Rows) (foldedCount, error) {
			var c foldedCount
			return c, r.Scan(&c.caseID, &c.kind, &c.channel, &c.status, &c.n)
		})
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM notice_counts"); err != nil {
			return fmt.Errorf("fold notice counts: %w", err)
		}
		for _, c := range sums {
			if _, err := tx.ExecContext(ctx, "INSERT INTO notice_counts (case_id, kind, channel, status, n) VALUES ($1, $2, $3, $4, $5)",
				c.caseID, c.kind, c.channel, c.status, c.n); err != nil {
				return fmt.Errorf("fold notice counts: %w", err)
			}
		}
		return nil
	})
}

// foldedCount is one group's sum in a fold on SQLite.
type foldedCount struct {
	caseID, kind, channel, status string
	n                             int64
}
