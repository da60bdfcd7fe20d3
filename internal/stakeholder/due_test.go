package stakeholder_test

import (
	"context"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// TestSLAChecksFollowDueTimes: the checker looks at an incident when
// something about it may fall due, and at no other: after a round every
// check time is in the future, so the next round reads nothing and
// writes nothing however many incidents are open (issue #18); a change of
// severity brings the incident's check forward.
func TestSLAChecksFollowDueTimes(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.person("carol", authz.RoleResponder)
		low, err := e.incs.Create(e.admin, incident.CreateInput{Title: "Odd login", Severity: incident.Sev4, Commander: "carol"})
		if err != nil {
			t.Fatal(err)
		}
		high, err := e.incs.Create(e.admin, incident.CreateInput{Title: "Ransomware", Severity: incident.Sev1, Commander: "carol"})
		if err != nil {
			t.Fatal(err)
		}
		checkAt := func(inc incident.Incident) time.Time {
			t.Helper()
			var at time.Time
			if err := d.R.QueryRowContext(context.Background(), `SELECT sla_check_at FROM incidents WHERE id = $1`, inc.ID).Scan(&at); err != nil {
				t.Fatal(err)
			}
			return at.UTC()
		}
		due := func() int {
			t.Helper()
			var n int
			if err := d.R.QueryRowContext(context.Background(), `SELECT count(*) FROM incidents WHERE sla_check_at <= $1`,
				e.clk.Now()).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if due() != 2 {
			t.Fatal("a new incident is due for its first check")
		}
		if n := e.check(); n != 0 {
			t.Fatalf("nothing is due yet: %d", n)
		}
		// sev4: acknowledge in 240 minutes, at risk at 80%; sev1: in 5.
		if got, want := checkAt(low), start.Add(192*time.Minute); !got.Equal(want) {
			t.Fatalf("sev4 next check %s, want %s", got, want)
		}
		if got, want := checkAt(high), start.Add(4*time.Minute); !got.Equal(want) {
			t.Fatalf("sev1 next check %s, want %s", got, want)
		}
		if due() != 0 {
			t.Fatal("after a round nothing is due: the next round reads nothing")
		}

		e.clk.Advance(10 * time.Minute)
		sev1 := incident.Sev1
		if _, err := e.incs.Update(e.admin, low.Number, incident.UpdateInput{Severity: &sev1}); err != nil {
			t.Fatal(err)
		}
		if got := checkAt(low); !got.Equal(e.clk.Now()) {
			t.Fatalf("a change brings the check forward to now: %s", got)
		}
		if n := e.check(); n != 0 {
			t.Fatalf("nobody was paged, and the first update is not at risk yet: %d", n)
		}
		for _, inc := range []incident.Incident{low, high} {
			// The first update is due 30 minutes after creation: at risk at 24.
			if got, want := checkAt(inc), start.Add(24*time.Minute); !got.Equal(want) {
				t.Fatalf("%s next check %s, want %s", inc.Number, got, want)
			}
		}
		e.clk.Set(start.Add(25 * time.Minute))
		if n := e.check(); n != 2 {
			t.Fatalf("both first updates at risk: %d", n)
		}
		if got, want := checkAt(high), start.Add(30*time.Minute); !got.Equal(want) {
			t.Fatalf("next check at the first update's due time: %s, want %s", got, want)
		}
	})
}
