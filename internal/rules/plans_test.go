package rules

import (
	"context"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// TestSuppressedCountPlan counts the alerts an alert rule suppressed, as
// deleting the rule does, on both databases after 50,000 alerts arrived,
// one in a hundred suppressed by one rule (on PostgreSQL without ANALYZE,
// under a generic plan made while the table was empty): the count reads
// the partial index alerts_suppressed_by, never every alert (issue #16,
// migration 0067).
func TestSuppressedCountPlan(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
		for _, q := range []string{
			`INSERT INTO services (id, name, description, handles_phi, group_by, created_at, updated_at, version)
				VALUES ('svc', 'EHR', '', false, 'source', $1, $1, 1)`,
			`INSERT INTO integration_keys (id, service_id, kind, name, key_hash, hint, mapping, created_at, created_by)
				VALUES ('ik', 'svc', 'events_v2', 'Datadog', 'h', 'abcd', '', $1, 'test')`,
			`INSERT INTO alert_rules (id, name, description, expression, actions, route_service_id, enabled, created_at, updated_at, version)
				VALUES ('quiet', 'Quiet', '', 'true', '[{"type":"suppress"}]', NULL, true, $1, $1, 1),
				('other', 'Other', '', 'true', '[{"type":"suppress"}]', NULL, true, $1, $1, 1)`,
		} {
			if _, err := d.W.ExecContext(ctx, q, now); err != nil {
				t.Fatal(err)
			}
		}
		grow := func() {
			if _, err := d.W.ExecContext(ctx, `WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 50000)
				INSERT INTO alerts (id, service_id, integration_id, dedup_key, status, suppressed, summary, source, severity, component,
					grp, class, details, count, first_at, last_at, suppressed_by)
				SELECT 'a-' || (100000 + n), 'svc', 'ik', 'k-' || n, 'triggered', n % 100 = 0, '', '', 'info', '', '', '', '', 1, $1, $1,
					CASE WHEN n % 100 = 0 THEN 'quiet' END FROM g`, now); err != nil {
				t.Fatal(err)
			}
		}
		dbtest.PlansRead(t, d, []string{"alerts"}, grow, []dbtest.Statement{
			{Name: "a rule that suppressed 500", SQL: suppressedCountSQL, Args: []any{"quiet"}, Index: "alerts_suppressed_by"},
			{Name: "a rule that suppressed none", SQL: suppressedCountSQL, Args: []any{"other"}, Index: "alerts_suppressed_by"},
		})
		var n int
		if err := d.R.QueryRowContext(ctx, suppressedCountSQL, "quiet").Scan(&n); err != nil || n != 500 {
			t.Errorf("count = %d, %v; want 500", n, err)
		}
	})
}
