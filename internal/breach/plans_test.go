package breach

import (
	"context"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// TestBigCasePlans reads a page of a large case's individuals, and
// individuals by id, on both databases after 50,000 individuals arrived
// (on PostgreSQL without ANALYZE, under generic plans made while the
// table was empty): each reads the page in id order from an index and
// stops, never reading or sorting the whole case. The affected
// individuals page took 6-8 s, and the notices page, which names people
// by id, 4.5-5 s, for a case of 1,000,000 (issue #14).
func TestBigCasePlans(t *testing.T) {
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
			// Case a's 50,000 individuals sort before case b's ten.
			for _, q := range []string{
				`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 50000)
					INSERT INTO breach_individuals (id, case_id, dedupe_key, state, has_address, has_email, deceased,
						has_next_of_kin_address, consent_electronic, customer, record, created_at, updated_at)
					SELECT 'a-' || (100000 + n), 'case-a', 'k-' || n, 'CA', true, false, false, false, false, '', 'sealed', $1, $1 FROM g`,
				`WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < 10)
					INSERT INTO breach_individuals (id, case_id, dedupe_key, state, has_address, has_email, deceased,
						has_next_of_kin_address, consent_electronic, customer, record, created_at, updated_at)
					SELECT 'b-' || (100 + n), 'case-b', 'k-' || n, 'CA', true, false, false, false, false, '', 'sealed', $1, $1 FROM g`,
			} {
				if _, err := d.W.ExecContext(ctx, q, now); err != nil {
					t.Fatal(err)
				}
			}
		}
		const index = "breach_individuals_case_id"
		dbtest.PlansRead(t, d, []string{"breach_individuals"}, grow, []dbtest.Statement{
			{Name: "first page of the large case", SQL: individualsPageSQL, Args: []any{"case-a", "", 51}, Index: index},
			{Name: "a later page of the large case", SQL: individualsPageSQL, Args: []any{"case-a", "a-125000", 51}, Index: index},
			{Name: "first page of the small case", SQL: individualsPageSQL, Args: []any{"case-b", "", 51}, Index: index},
			{Name: "people by id", SQL: recipientsSQL + "$2, $3)", Args: []any{"case-a", "a-100007", "a-140000"}, Index: index},
		})
	})
}
