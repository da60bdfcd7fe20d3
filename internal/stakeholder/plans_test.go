package stakeholder

import (
	"context"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/dbtest"
)

// TestSLADuePlanDoesNotRot: the SLA checker's round reads the incidents due
// for a check through incidents_sla_check on PostgreSQL, under a generic
// plan made while the table was empty, once it holds 200,000 incidents
// (10,000 open, checked until later) that were never analysed.
func TestSLADuePlanDoesNotRot(t *testing.T) {
	url := dbtest.PostgresURL(t)
	if url == "" {
		t.Skipf("needs PostgreSQL: set %s (CI does, and fails rather than skips)", dbtest.PostgresURLEnv)
	}
	d := dbtest.Open(t, url)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	grow := func() {
		if _, err := d.W.ExecContext(context.Background(), `INSERT INTO incidents (id, number, title, description, severity,
			category, phi_suspected, detected_at, created_at, updated_at, status, resolution, commander, customers, not_applicable,
			created_by, version, sla_check_at)
			SELECT 'inc-' || g, 'INC-2026-' || g, '', '', 'sev3', 'other', false, $1, $1, $1,
				CASE WHEN g % 20 = 0 THEN 'triage' ELSE 'closed' END, '', '', '[]', '[]', 'test', 1,
				CASE WHEN g % 20 = 0 THEN $1::timestamptz + interval '1 hour' END
			FROM generate_series(1, 200000) g`, now); err != nil {
			t.Fatal(err)
		}
	}
	dbtest.GenericPlansHold(t, d, []string{"incidents"}, grow, []dbtest.Statement{
		{Name: "due for an SLA check", SQL: dueForSLACheckSQL, Args: []any{now, maxSLAChecks}},
	})
}
