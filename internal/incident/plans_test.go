package incident

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/dbtest"
)

// TestLookupPlansDoNotRot reads and locks incidents by id and by number on
// PostgreSQL under generic plans made while the table was empty, after
// 200,000 incidents arrived without ANALYZE: each must read one row
// through an index. "WHERE id = $1 OR number = $1" scanned every incident
// (issue #18).
func TestLookupPlansDoNotRot(t *testing.T) {
	url := dbtest.PostgresURL(t)
	if url == "" {
		t.Skipf("needs PostgreSQL: set %s (CI does, and fails rather than skips)", dbtest.PostgresURLEnv)
	}
	d := dbtest.Open(t, url)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	grow := func() {
		if _, err := d.W.ExecContext(context.Background(), `INSERT INTO incidents (id, number, title, description, severity,
			category, phi_suspected, detected_at, created_at, updated_at, status, resolution, commander, customers, not_applicable,
			created_by, version, restricted)
			SELECT '0190a0b0-0000-7000-8000-' || lpad(g::text, 12, '0'), 'INC-2026-' || g, '', '', 'sev3', 'other', false,
				$1, $1, $1, 'triage', '', '', '[]', '[]', 'test', 1, g % 10 = 0
			FROM generate_series(1, 200000) g`, now); err != nil {
			t.Fatal(err)
		}
	}
	const id, number = "0190a0b0-0000-7000-8000-000000123456", "INC-2026-123456"
	var args []any
	visible := "SELECT i.id, i.number FROM incidents i WHERE i." + RefColumn(number) + " = $1 AND " +
		VisibleSQL(authz.Actor{Kind: authz.KindUser, ID: "u1", Name: "carol", Role: authz.RoleResponder}, now, "i",
			func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)+1) })
	dbtest.GenericPlansHold(t, d, []string{"incidents"}, grow, []dbtest.Statement{
		{Name: "get by id", SQL: incidentByRefSQL(id), Args: []any{id}},
		{Name: "get by number", SQL: incidentByRefSQL(number), Args: []any{number}},
		{Name: "lock by id", SQL: lockIncidentSQL(id), Args: []any{id}},
		{Name: "lock by number", SQL: lockIncidentSQL(number), Args: []any{number}},
		{Name: "visible by number", SQL: visible, Args: append([]any{number}, args...)},
	})
}
