package breach_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// TestOrganisationTimeZone: the 60 days of 164.404(b) end at midnight in
// the organisation's time zone, not UTC. Setting the zone recomputes every
// case in the same change, audited and on each timeline; an unknown zone
// is refused naming the field; a server started with another default
// zone recomputes the cases of an organisation that set none; and a
// notice made after midnight in Los Angeles is late, though it was still
// the 60th day in UTC.
func TestOrganisationTimeZone(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		svc, incs, clk, inc, c := openCase(t, d, "Stolen laptop")
		sec := as(authz.RoleSecurityOfficer, "sam")
		// 03:00 UTC on 6 March is 7 PM on 5 March in Los Angeles and
		// 10 PM in New York: the day of discovery differs.
		f := c.Facts
		f.DiscoveredAt = time.Date(2026, 3, 6, 3, 0, 0, 0, time.UTC)
		f.ShouldHaveKnownAt = f.DiscoveredAt
		f.Individuals = 10
		if _, err := svc.SetFacts(sec, inc.Number, f); err != nil {
			t.Fatal(err)
		}
		due := func(want time.Time, zone string) {
			t.Helper()
			obs, err := svc.Obligations(sec, inc.Number)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range obs {
				if o.Key != "individuals" {
					continue
				}
				if !o.Due.Equal(want) || o.Zone.String() != zone {
					t.Fatalf("individuals due %s in %s, want %s in %s", o.Due, o.Zone, want, zone)
				}
				return
			}
			t.Fatalf("no individuals obligation in %s", keysOf(obs))
		}
		utcDue := time.Date(2026, 5, 5, 23, 59, 59, 999999000, time.UTC)
		laDue := time.Date(2026, 5, 5, 6, 59, 59, 999999000, time.UTC) // 11:59 PM PDT on 4 May
		nyDue := time.Date(2026, 5, 5, 3, 59, 59, 999999000, time.UTC) // 11:59 PM EDT on 4 May
		due(utcDue, "UTC")

		if _, err := svc.SetOrganisation(as(authz.RoleResponder, "rae"),
			breach.OrganisationInput{Role: rules.CoveredEntity, TimeZone: "America/Los_Angeles"}); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("a responder setting the zone: %v", err)
		}
		_, err := svc.SetOrganisation(sec, breach.OrganisationInput{Role: rules.CoveredEntity, TimeZone: "America/Las_Vegas"})
		if e, ok := apperr.As(err); !ok || e.Code != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "time_zone" {
			t.Fatalf("an unknown zone: %v", err)
		}
		due(utcDue, "UTC")

		org, err := svc.SetOrganisation(sec, breach.OrganisationInput{Role: rules.CoveredEntity, TimeZone: "America/Los_Angeles"})
		if err != nil || org.Zone.String() != "America/Los_Angeles" {
			t.Fatalf("set the zone: %+v %v", org, err)
		}
		due(laDue, "America/Los_Angeles")
		if !timelineHas(t, incs, sec, inc.Number, "time zone was changed to America/Los_Angeles by sam") {
			t.Error("no timeline entry for the new zone")
		}
		entries, err := audit.List(context.Background(), d.R, audit.Filter{Action: "breach_organisation.time_zone", Limit: 10})
		if err != nil || len(entries) != 1 || entries[0].Actor != "user:sam" {
			t.Fatalf("audit of the zone: %+v %v", entries, err)
		}

		// Another server default changes nothing while the organisation
		// has its own zone; once it follows the default, the server
		// started with New York's recomputes the cases, once.
		ny, err := time.LoadLocation("America/New_York")
		if err != nil {
			t.Fatal(err)
		}
		svc2, err := breach.New(d, clk, incs, dbtest.Keyring(t, d, start), slog.New(slog.NewTextHandler(io.Discard, nil)), breach.WithTimeZone(ny))
		if err != nil {
			t.Fatal(err)
		}
		if n, err := svc2.ReconcileZone(context.Background()); err != nil || n != 0 {
			t.Fatalf("reconcile with the organisation's own zone: %d %v", n, err)
		}
		if _, err := svc.SetOrganisation(sec, breach.OrganisationInput{Role: rules.CoveredEntity}); err != nil {
			t.Fatal(err)
		}
		due(utcDue, "UTC")
		if n, err := svc2.ReconcileZone(context.Background()); err != nil || n != 1 {
			t.Fatalf("reconcile with a new default zone: %d %v", n, err)
		}
		due(nyDue, "America/New_York")
		if n, err := svc2.ReconcileZone(context.Background()); err != nil || n != 0 {
			t.Fatalf("reconcile again: %d %v", n, err)
		}

		// Noon UTC on 5 May is still the 60th day in UTC, but the day
		// ended in Los Angeles: the notice is late.
		if _, err := svc2.SetOrganisation(sec, breach.OrganisationInput{Role: rules.CoveredEntity, TimeZone: "America/Los_Angeles"}); err != nil {
			t.Fatal(err)
		}
		clk.Set(time.Date(2026, 5, 5, 12, 0, 0, 0, time.UTC))
		if _, err := svc2.MarkMet(sec, inc.Number, breach.Met{Key: "individuals", Reason: "letters mailed by the vendor, receipt 7"}); err != nil {
			t.Fatal(err)
		}
		if !timelineHas(t, incs, sec, inc.Number, "LATE: it was due Mon 4 May 2026, 11:59 PM PDT (06:59 UTC, 5 May)") {
			t.Error("the late notice's timeline entry does not give the deadline in the organisation's zone")
		}
	})
}

func timelineHas(t *testing.T, incs *incident.Service, ctx context.Context, ref, text string) bool {
	t.Helper()
	tl, err := incs.Timeline(ctx, ref, incident.EventBreach, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range tl {
		if strings.Contains(e.Note, text) {
			return true
		}
	}
	return false
}

func TestFormatDue(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	guam, err := time.LoadLocation("Pacific/Guam")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		at   time.Time
		loc  *time.Location
		want string
	}{
		{rules.EndOfDay(time.Date(2026, 5, 2, 12, 0, 0, 0, la), la), la, "Sat 2 May 2026, 11:59 PM PDT (06:59 UTC, 3 May)"},
		{time.Date(2026, 5, 2, 18, 0, 0, 0, time.UTC), la, "Sat 2 May 2026, 11:00 AM PDT (18:00 UTC)"},
		{rules.EndOfDay(time.Date(2026, 12, 31, 12, 0, 0, 0, la), la), la, "Thu 31 Dec 2026, 11:59 PM PST (07:59 UTC, 1 Jan 2027)"},
		{rules.EndOfDay(time.Date(2026, 5, 2, 12, 0, 0, 0, guam), guam), guam, "Sat 2 May 2026, 11:59 PM ChST (13:59 UTC)"},
		{rules.EndOfDay(time.Date(2026, 5, 2, 12, 0, 0, 0, time.UTC), nil), nil, "Sat 2 May 2026, 11:59 PM UTC"},
	}
	for _, tc := range cases {
		if got := breach.FormatDue(tc.at, tc.loc); got != tc.want {
			t.Errorf("FormatDue(%s, %s) = %q, want %q", tc.at, tc.loc, got, tc.want)
		}
	}
}
