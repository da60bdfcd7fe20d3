package e2e

import (
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
)

// TestBreachTimeZone: a server started with an unknown --time-zone is
// refused naming the flag; one started with WARD_TIME_ZONE counts
// deadlines in it until the organisation sets its own; an unknown zone in
// the API is a 422 naming the field and changes nothing; setting Los
// Angeles moves the case's deadlines, which the API gives in UTC with the
// zone beside and the case page shows in Pacific time with UTC beside.
func TestBreachTimeZone(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		code, _, errs := runWard(t, t.TempDir(), dbURL, "serve", "--listen", "127.0.0.1:0", "--time-zone", "Mars/Olympus")
		if code == 0 || !strings.Contains(errs, "time-zone") {
			t.Fatalf("serve with an unknown zone: %d %s", code, errs)
		}
		w := startWardAt(t, t.TempDir(), dbURL, func(e *app.Env) {
			e.Getenv = func(k string) (string, bool) {
				if k == "WARD_TIME_ZONE" {
					return "America/New_York", true
				}
				return "", false
			}
		})
		type orgJSON struct {
			Role        string `json:"role"`
			TimeZone    string `json:"time_zone"`
			TimeZoneSet bool   `json:"time_zone_set"`
		}
		var org orgJSON
		w.must(200, "GET", "/api/v1/breach/organisation", nil, &org)
		if org.TimeZone != "America/New_York" || org.TimeZoneSet {
			t.Fatalf("the server's default zone: %+v", org)
		}

		var inc incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Stolen laptop"}, &inc)
		base := "/api/v1/incidents/" + inc.ID + "/breach-case"
		w.must(201, "POST", base, nil, nil)
		// Discovered at noon UTC yesterday: the same date in New York and
		// Los Angeles, so the two deadlines are three hours apart. At, say,
		// 05:00 UTC it is already tomorrow in New York but not yet in Los
		// Angeles, and the deadlines fall on different days, as they should.
		y := time.Now().UTC().AddDate(0, 0, -1)
		noon := time.Date(y.Year(), y.Month(), y.Day(), 12, 0, 0, 0, time.UTC)
		w.must(200, "PATCH", base+"/facts", map[string]any{"discovered_at": noon, "should_have_known_at": noon}, nil)
		type obligationJSON struct {
			Key      string    `json:"key"`
			Due      time.Time `json:"due"`
			TimeZone string    `json:"time_zone"`
			DueLocal string    `json:"due_local"`
		}
		individuals := func() obligationJSON {
			t.Helper()
			var obs []obligationJSON
			w.must(200, "GET", base+"/obligations", nil, &obs)
			for _, o := range obs {
				if o.Key == "individuals" {
					return o
				}
			}
			t.Fatalf("no individuals obligation: %+v", obs)
			return obligationJSON{}
		}
		ny := individuals()
		if ny.TimeZone != "America/New_York" || !strings.HasPrefix(ny.DueLocal[11:], "23:59:59") {
			t.Fatalf("counted in the server's default zone: %+v", ny)
		}

		code, raw := w.do("PUT", "/api/v1/breach/organisation", map[string]any{"role": "covered_entity", "time_zone": "America/Las_Vegas"}, nil)
		if code != http.StatusUnprocessableEntity || !strings.Contains(string(raw), "body.time_zone") {
			t.Fatalf("an unknown zone: %d %s", code, raw)
		}
		if again := individuals(); !again.Due.Equal(ny.Due) {
			t.Fatalf("a refused zone moved the deadline: %+v", again)
		}

		w.must(200, "PUT", "/api/v1/breach/organisation", map[string]any{"role": "covered_entity", "time_zone": "America/Los_Angeles"}, &org)
		if org.TimeZone != "America/Los_Angeles" || !org.TimeZoneSet {
			t.Fatalf("set Los Angeles: %+v", org)
		}
		la := individuals()
		if la.TimeZone != "America/Los_Angeles" || la.Due.Sub(ny.Due) != 3*time.Hour {
			t.Fatalf("the deadline in Los Angeles: %+v, in New York %+v", la, ny)
		}
		loc, err := time.LoadLocation("America/Los_Angeles")
		if err != nil {
			t.Fatal(err)
		}
		if local, err := time.Parse(time.RFC3339Nano, la.DueLocal); err != nil || !local.Equal(la.Due) ||
			local.Format("15:04") != "23:59" {
			t.Fatalf("due_local %q: %v", la.DueLocal, err)
		}

		admin := signInAs(t, w, authz.RoleAdmin, "tz-admin")
		code, page := admin.send("GET", "/incidents/"+inc.Number+"/breach", nil)
		want := html.EscapeString(breach.FormatDue(la.Due, loc))
		if code != http.StatusOK || !strings.Contains(page, want) || !strings.Contains(page, " UTC") {
			t.Fatalf("the case page does not show %q: %d", want, code)
		}
		if code, page := admin.send("GET", "/org-profile", nil); code != http.StatusOK || !strings.Contains(page, "America/Los_Angeles") ||
			!strings.Contains(page, `href="/breach/parties#organisation"`) {
			t.Fatalf("the organisation profile does not show the zone: %d", code)
		}
		code, page = admin.send("POST", "/breach/organisation", url.Values{"role": {"covered_entity"}, "time_zone": {"Pacific/Atlantis"}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="time_zone-error"`) {
			t.Fatalf("an unknown zone on the form: %d", code)
		}
	})
}
