package alert

import (
	"context"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// TestIntakePlansDoNotRot runs intake's hot statements on PostgreSQL under
// generic plans made while the tables were empty, after 200,000 incidents
// and 100,000 alerts (50,000 open) arrived without ANALYZE: each must still
// be answered from an index (issue #18: the open-alert count read every
// open alert's index entry through alerts_open, 34,000 per call).
func TestIntakePlansDoNotRot(t *testing.T) {
	url := dbtest.PostgresURL(t)
	if url == "" {
		t.Skipf("needs PostgreSQL: set %s (CI does, and fails rather than skips)", dbtest.PostgresURLEnv)
	}
	d := dbtest.Open(t, url)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	if _, err := d.W.ExecContext(ctx, `INSERT INTO services (id, name, description, handles_phi, group_by, created_at, updated_at, version)
		VALUES ('svc', 'svc', '', false, 'alert', $1, $1, 1)`, now); err != nil {
		t.Fatal(err)
	}
	if _, err := d.W.ExecContext(ctx, `INSERT INTO integration_keys (id, service_id, kind, name, key_hash, hint, mapping, created_at, created_by)
		VALUES ('ik', 'svc', 'events_v2', 'k', 'h', 'hint', '', $1, 'test')`, now); err != nil {
		t.Fatal(err)
	}
	grow := func() {
		for _, q := range []string{
			`INSERT INTO incidents (id, number, title, description, severity, category, phi_suspected, detected_at, created_at,
				updated_at, status, resolution, commander, customers, not_applicable, created_by, version)
				SELECT 'inc-' || g, 'INC-2026-' || g, '', '', 'sev3', 'other', false, $1, $1, $1,
					CASE WHEN g % 4 = 0 THEN 'triage' ELSE 'closed' END, '', '', '[]', '[]', 'test', 1
				FROM generate_series(1, 200000) g`,
			// Two alerts per incident of the first 50,000; the even ones open.
			`INSERT INTO alerts (id, service_id, integration_id, dedup_key, dedup_hash, incident_id, status, suppressed, summary,
				source, severity, component, grp, class, details, count, first_at, last_at, resolved_at)
				SELECT 'a-' || g, 'svc', 'ik', '', 'k-' || g, 'inc-' || (g / 2 + 1), 'triggered', false, '', '', 'error',
					'', '', '', '', 1, $1, $1, CASE WHEN g % 2 = 0 THEN NULL ELSE $1::timestamptz END
				FROM generate_series(1, 100000) g`,
			`INSERT INTO alert_groups (service_id, group_hash, incident_id)
				SELECT 'svc', 'alert:k-' || g, 'inc-' || (g / 2 + 1) FROM generate_series(1, 100000, 2) g
				WHERE $1::timestamptz IS NOT NULL`,
		} {
			if _, err := d.W.ExecContext(ctx, q, now); err != nil {
				t.Fatal(err)
			}
		}
	}
	dbtest.GenericPlansHold(t, d, []string{"incidents", "alerts", "alert_groups"}, grow, []dbtest.Statement{
		{Name: "open alert", SQL: openAlertSQL, Args: []any{"svc", "k-40000"}},
		{Name: "acknowledge", SQL: ackAlertSQL, Args: []any{StatusAcknowledged, now, "svc", "k-40000", StatusTriggered}},
		{Name: "resolve", SQL: resolveAlertSQL, Args: []any{StatusResolved, now, "svc", "k-40000"}},
		{Name: "open alerts of incident", SQL: openAlertsOfIncidentSQL, Args: []any{"inc-20001"}},
		{Name: "group incident", SQL: groupIncidentSQL, Args: []any{"svc", "alert:k-40001", string(incident.Closed)}},
	})
}
