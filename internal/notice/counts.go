package notice

import (
	"context"
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
		if err := d.Fold(ctx, t.name, t.keys...); err != nil {
			return fmt.Errorf("fold %s: %w", t.name, err)
		}
	}
	return nil
}
