package notice

import (
	"context"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// TestNoticesPagePlans reads pages of a large case's notices, all and of
// one status, on both databases after 50,000 notices arrived (on
// PostgreSQL without ANALYZE, under generic plans made while the table
// was empty): each reads its page in id order from an index and stops,
// never sorting the case's notices (issue #14).
func TestNoticesPagePlans(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		for _, q := range []string{
			`INSERT INTO incidents (id, number, title, description, severity, category, phi_suspected, detected_at, created_at,
				updated_at, status, resolution, commander, customers, not_applicable, created_by, version)
				VALUES ('inc-a', 'INC-2026-1', '', '', 'sev1', 'other', false, $1, $1, $1, 'detected', '', '', '[]', '[]', 'test', 1)`,
			`INSERT INTO breach_cases (id, incident_id, facts, outcome, opened_by, created_at, updated_at, version)
				VALUES ('case-a', 'inc-a', '{}', '', 'test', $1, $1, 1)`,
		} {
			if _, err := d.W.ExecContext(ctx, q, now); err != nil {
				t.Fatal(err)
			}
		}
		grow := func() {
			// Letters by mail: one in ten returned, the rest sent.
			if _, err := d.W.ExecContext(ctx, `WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 50000)
				INSERT INTO notices (id, case_id, run_id, kind, channel, individual_id, recipient, status, batch, page, pages, attempts,
					error, sent_at, sent_by, receipt, returned_at, return_reason, resent_of, created_at, updated_at)
				SELECT 'n-' || (100000 + n), 'case-a', 'run', 'individual_letter', 'mail', 'i-' || n, '',
					CASE WHEN n % 10 = 0 THEN 'returned' ELSE 'sent' END, 1, n, 1, 0, '', NULL, '', '', NULL, '', '', $1, $1 FROM g`,
				now); err != nil {
				t.Fatal(err)
			}
		}
		dbtest.PlansRead(t, d, []string{"notices"}, grow, []dbtest.Statement{
			{Name: "first page", SQL: noticesPageSQL, Args: []any{"case-a", "", 101}, Index: "notices_case_id"},
			{Name: "a later page", SQL: noticesPageSQL, Args: []any{"case-a", "n-125000", 101}, Index: "notices_case_id"},
			{Name: "first page of the returned", SQL: noticesOfStatusPageSQL, Args: []any{"case-a", StatusReturned, "", 101},
				Index: "notices_case_status_id"},
			{Name: "a status none has", SQL: noticesOfStatusPageSQL, Args: []any{"case-a", StatusPending, "", 101},
				Index: "notices_case_status_id"},
		})
	})
}

// TestNoticeCountsPlan reads a large case's counts of notices by kind,
// channel and status on both databases (on PostgreSQL without ANALYZE,
// under a generic plan made while the table was empty): 50,000 notices of
// the case and 20,000 of another, folded as the periodic task folds them,
// then 360 notices changed since the fold. The count reads the case's rows
// of notice_counts from its index, never the notices nor another case's
// counts, and sums what was not folded yet, so it stays exact (issue #14,
// migration 0065); so does the substitute notice's count of individuals
// returned and not sent since (migration 0069). On PostgreSQL the fold,
// having folded many rows, vacuums the table it folded.
func TestNoticeCountsPlan(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		for _, q := range []string{
			`INSERT INTO incidents (id, number, title, description, severity, category, phi_suspected, detected_at, created_at,
				updated_at, status, resolution, commander, customers, not_applicable, created_by, version)
				VALUES ('inc-a', 'INC-2026-1', '', '', 'sev1', 'other', false, $1, $1, $1, 'detected', '', '', '[]', '[]', 'test', 1),
				('inc-b', 'INC-2026-2', '', '', 'sev1', 'other', false, $1, $1, $1, 'detected', '', '', '[]', '[]', 'test', 1)`,
			`INSERT INTO breach_cases (id, incident_id, facts, outcome, opened_by, created_at, updated_at, version)
				VALUES ('case-a', 'inc-a', '{}', '', 'test', $1, $1, 1), ('case-b', 'inc-b', '{}', '', 'test', $1, $1, 1)`,
		} {
			if _, err := d.W.ExecContext(ctx, q, now); err != nil {
				t.Fatal(err)
			}
		}
		grow := func() {
			for _, q := range []string{
				// Letters by mail: one in ten returned, the rest sent.
				`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 50000)
				INSERT INTO notices (id, case_id, run_id, kind, channel, individual_id, recipient, status, batch, page, pages, attempts,
					error, sent_at, sent_by, receipt, returned_at, return_reason, resent_of, created_at, updated_at)
				SELECT 'n-' || (100000 + n), 'case-a', 'run', 'individual_letter', 'mail', 'i-' || n, '',
					CASE WHEN n % 10 = 0 THEN 'returned' ELSE 'sent' END, 1, n, 1, 0, '', NULL, '', '', NULL, '', '', $1, $1 FROM g`,
				// Another case's emails, one in seven failed.
				`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 20000)
				INSERT INTO notices (id, case_id, run_id, kind, channel, individual_id, recipient, status, batch, page, pages, attempts,
					error, sent_at, sent_by, receipt, returned_at, return_reason, resent_of, created_at, updated_at)
				SELECT 'm-' || (100000 + n), 'case-b', 'run', 'individual_email', 'email', 'j-' || n, '',
					CASE WHEN n % 7 = 0 THEN 'failed' ELSE 'sent' END, 0, 0, 0, 1, '', NULL, '', '', NULL, '', '', $1, $1 FROM g`,
			} {
				if _, err := d.W.ExecContext(ctx, q, now); err != nil {
					t.Fatal(err)
				}
			}
			if err := (&Service{db: d}).FoldCounts(ctx); err != nil {
				t.Fatal(err)
			}
			// Changed since the fold: 360 letters returned (40 of the 400
			// were already), two rows each.
			if _, err := d.W.ExecContext(ctx, `UPDATE notices SET status = 'returned' WHERE case_id = 'case-a'
				AND id > 'n-120000' AND id <= 'n-120400'`); err != nil {
				t.Fatal(err)
			}
		}
		stmts := []dbtest.Statement{
			{Name: "the counts by kind, channel and status", SQL: countsSQL, Args: []any{"case-a"}, Index: "notice_counts_case"},
			{Name: "the counts of a case with none", SQL: countsSQL, Args: []any{"case-c"}, Index: "notice_counts_case"},
			// The substitute notice's count of individuals returned and
			// not sent since reads the case's kept rows (migration 0069),
			// never the notices.
			{Name: "the returned not sent since", SQL: returnedNotSentSQL, Args: []any{"case-a"},
				Index: "notice_returned_counts_case"},
			{Name: "the returned not sent since, a case with none", SQL: returnedNotSentSQL, Args: []any{"case-c"},
				Index: "notice_returned_counts_case"},
		}
		dbtest.PlansRead(t, d, []string{"notices", "notice_counts", "notice_returned_counts", "notice_individual_counts"}, grow, stmts)
		var returned int
		if err := d.R.QueryRowContext(ctx, `SELECT CAST(sum(n) AS BIGINT) FROM notice_counts
			WHERE case_id = 'case-a' AND status = 'returned'`).Scan(&returned); err != nil || returned != 5360 {
			t.Fatalf("returned letters counted: %d, %v; want 5,360", returned, err)
		}
		if err := d.R.QueryRowContext(ctx, returnedNotSentSQL, "case-a").Scan(&returned); err != nil || returned != 5360 {
			t.Fatalf("individuals returned and not sent since: %d, %v; want 5,360", returned, err)
		}
		if d.Dialect != db.Postgres {
			return
		}
		// The fold of 70,000 rows vacuumed the table: the rows it folded
		// left no dead entries in notice_counts_case for the count to
		// walk (a Bitmap Heap Scan of 14,000 pages after a million
		// notices, the rows invisible to the plan's row counts).
		var vacuums int
		if err := d.R.QueryRowContext(ctx, `SELECT vacuum_count FROM pg_stat_user_tables WHERE relid = 'notice_counts'::regclass`).
			Scan(&vacuums); err != nil || vacuums == 0 {
			t.Fatalf("notice_counts vacuumed %d times after a fold of 70,000 rows, %v", vacuums, err)
		}
	})
}
