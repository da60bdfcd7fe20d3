package rules_test

import (
	"testing"

	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/rules"
)

// TestRulesInForceOnEveryNode: each node keeps the enabled rules in
// memory, and a rule created, disabled or enabled again on one node is in
// force on the other from its commit on (two nodes on one database: two
// PostgreSQL nodes, or two handles on one SQLite file).
func TestRulesInForceOnEveryNode(t *testing.T) {
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			a, b := newEnv(t, dbtest.Open(t, target.URL)), newEnv(t, dbtest.Open(t, target.URL))
			tasks := func(e *env, number string) int {
				t.Helper()
				ts, err := e.incs.Tasks(e.ctx, number)
				if err != nil {
					t.Fatal(err)
				}
				return len(ts)
			}
			open := func(e *env) string {
				t.Helper()
				inc, err := e.incs.Create(e.ctx, incident.CreateInput{Title: "Lost laptop", Severity: incident.Sev3})
				if err != nil {
					t.Fatal(err)
				}
				return inc.Number
			}
			// Node a reads (and keeps) the rules: none yet.
			if n := open(a); tasks(a, n) != 0 {
				t.Fatal("a task with no rule")
			}
			in := rules.Input{Name: "sev3 checklist", Enabled: true, Expression: `incident.severity == "sev3"`,
				Actions: []rules.Action{{Type: "add_task", Title: "Check the asset register"}}}
			if _, err := b.eng.Create(b.ctx, in); err != nil {
				t.Fatal(err)
			}
			if n := open(a); tasks(a, n) != 1 {
				t.Fatal("node a did not run the rule node b created")
			}
			in.Enabled = false
			if _, err := b.eng.Update(b.ctx, in.Name, in); err != nil {
				t.Fatal(err)
			}
			if n := open(a); tasks(a, n) != 0 {
				t.Fatal("node a ran the rule node b disabled")
			}
			// A save that fails changes nothing in force.
			bad := in
			bad.Enabled, bad.Expression = true, `incident.severity ==`
			if _, err := b.eng.Update(b.ctx, in.Name, bad); err == nil {
				t.Fatal("an invalid expression was saved")
			}
			if n := open(a); tasks(a, n) != 0 {
				t.Fatal("node a ran a rule whose save failed")
			}
			in.Enabled = true
			if _, err := a.eng.Update(a.ctx, in.Name, in); err != nil {
				t.Fatal(err)
			}
			if n := open(b); tasks(b, n) != 1 {
				t.Fatal("node b did not run the rule node a enabled again")
			}
			if n := open(a); tasks(a, n) != 1 {
				t.Fatal("node a did not run the rule it enabled again")
			}
		})
	}
}
