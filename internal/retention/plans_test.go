package retention

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// TestPreviewPlans runs the Retention page's searches for closed
// incidents and breach cases past retention on both databases after
// 100,000 incidents arrived, one in seven closed, none past retention (on
// PostgreSQL without ANALYZE, under generic plans made while the table
// was empty): each reads only the incidents, or the cases, changed before
// the cutoff, never every closed incident (issue #14: 159 ms a view).
func TestPreviewPlans(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		cutoff := now.AddDate(-6, 0, 0)
		grow := func() {
			for _, q := range []string{
				`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 100000)
					INSERT INTO incidents (id, number, title, description, severity, category, phi_suspected, detected_at,
						created_at, updated_at, status, resolution, commander, customers, not_applicable, created_by, version)
					SELECT 'inc-' || n, 'INC-2026-' || n, '', '', 'sev3', 'other', false, $1, $1, $1,
						CASE WHEN n % 7 = 0 THEN 'closed' ELSE 'detected' END, '', '', '[]', '[]', 'test', 1 FROM g`,
				`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 100)
					INSERT INTO breach_cases (id, incident_id, facts, outcome, opened_by, created_at, updated_at, version)
					SELECT 'case-' || n, 'inc-' || (7 * n), '{}', '', 'test', $1, $1, 1 FROM g`,
			} {
				if _, err := d.W.ExecContext(ctx, q, now); err != nil {
					t.Fatal(err)
				}
			}
		}
		var stmts []dbtest.Statement
		for _, cond := range []string{"NOT " + holdCond, holdCond} {
			stmts = append(stmts, dbtest.Statement{Name: "cases, " + cond, SQL: fmt.Sprintf(caseDueSQL, cond, ""),
				Args: []any{cutoff}, Index: "breach_cases_updated"})
		}
		for _, cond := range []string{"NOT " + incHoldCond, incHoldCond} {
			stmts = append(stmts, dbtest.Statement{Name: "incidents, " + cond, SQL: fmt.Sprintf(incidentDueSQL, cond, ""),
				Args: []any{cutoff}, Index: "incidents_status_updated"})
		}
		dbtest.PlansRead(t, d, []string{"incidents"}, grow, stmts)
	})
}
