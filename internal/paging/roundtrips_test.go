package paging_test

import (
	"strconv"
	"testing"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/paging"
)

// TestPagedIntakeRoundTrips: on PostgreSQL, an intake batch whose every
// alert opens an incident and pages someone costs at most one round trip
// more per paged alert (reading the paged person's contact methods, sent
// with the statements deferred before it): the page, its timeline entry
// and its messages add none (issue #11). Before, each paged alert cost
// eight, one statement after another. Every alert is still paged.
func TestPagedIntakeRoundTrips(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.verify(e.user("alice", authz.RoleResponder), paging.ContactEmail, "alice@example.org")
		ig := e.service("db", alert.GroupByAlert, "alice")
		batch := func(n int) int64 {
			evs := make([]alert.Event, n)
			for i := range evs {
				evs[i] = alert.Event{Action: alert.Trigger, DedupKey: "k" + strconv.Itoa(n) + "-" + strconv.Itoa(i), Summary: "Disk full",
					Source: "db1", Severity: alert.Critical}
			}
			before := d.RoundTrips()
			r, err := e.in.Ingest(e.ctx, ig, evs)
			if err != nil {
				t.Fatal(err)
			}
			trips := d.RoundTrips() - before
			if len(r.Opened) != n {
				t.Fatalf("a batch of %d opened %d incidents", n, len(r.Opened))
			}
			return trips
		}
		small, large := batch(3), batch(40)
		if extra := large - small; extra > 40-3 {
			t.Errorf("a batch paging 40 incidents took %d round trips, one paging 3 took %d: %d more, want at most one per paged alert (37)",
				large, small, extra)
		}
		if d.Dialect == db.Postgres && small == 0 {
			t.Error("no round trip counted on PostgreSQL")
		}
		var pages, messages int
		if err := d.R.QueryRowContext(e.ctx, `SELECT (SELECT count(*) FROM pages), (SELECT count(*) FROM notifications WHERE kind = 'page')`).
			Scan(&pages, &messages); err != nil {
			t.Fatal(err)
		}
		if pages != 43 || messages != 43 {
			t.Errorf("%d pages and %d page messages queued, want 43 of each", pages, messages)
		}
	})
}
