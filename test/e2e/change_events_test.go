package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/keys"
)

// TestChangeEvents: a deploy tool reports changes through the PagerDuty
// Change Events API with the service's Events API v2 key, answered as
// PagerDuty answers; the change opens no incident, is stored sealed, and is
// shown with the service's incidents detected within 4 hours after it (its
// text withheld from a stakeholder). Bad events are refused naming the
// field, and another kind's key is refused.
func TestChangeEvents(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		_, ig := w.service("portal", false, "alert", "events_v2", "")
		_, am := w.service("metrics", false, "alert", "alertmanager", "")
		ts := func(d time.Duration) string { return time.Now().UTC().Add(d).Format(time.RFC3339) }
		change := func(key, summary, at string) (int, string) {
			return w.post("/v2/change/enqueue", `{"routing_key":"`+key+`","payload":{"summary":"`+summary+`","timestamp":"`+at+
				`","source":"ci","custom_details":{"build":"42"}},"links":[{"href":"https://ci.example.org/42","text":"build 42"}]}`, nil)
		}
		for _, tc := range []struct{ body, want string }{
			{`{"routing_key":"` + ig.Key + `","payload":{"summary":" "}}`, "'payload.summary' is missing or blank"},
			{`{"routing_key":"` + ig.Key + `"}`, "'payload' is missing"},
			{`{"routing_key":"` + ig.Key + `","payload":{"summary":"x","timestamp":"yesterday"}}`, "'payload.timestamp' is not"},
			{`{"payload":{"summary":"x"}}`, "'routing_key' is missing or blank"},
			{`{"routing_key":"` + am.Key + `","payload":{"summary":"x"}}`, "send its alerts to /intake/alertmanager"},
		} {
			if code, body := w.post("/v2/change/enqueue", tc.body, nil); code != 400 || !strings.Contains(body, tc.want) ||
				!strings.Contains(body, `"status":"invalid event"`) {
				t.Errorf("%s: %d %s", tc.body, code, body)
			}
		}
		if code, body := change(ig.Key, "Deploy 42 for "+canary, ts(-time.Hour)); code != 202 ||
			!strings.Contains(body, `"status":"success"`) || !strings.Contains(body, `"message":"Change event processed"`) {
			t.Fatalf("a change: %d %s", code, body)
		}
		if code, body := change(ig.Key, "Deploy 41", ts(-10*time.Hour)); code != 202 {
			t.Fatalf("an older change: %d %s", code, body)
		}
		var list struct{ Items []incidentJSON }
		w.must(200, "GET", "/api/v1/incidents", nil, &list)
		if len(list.Items) != 0 {
			t.Fatalf("a change opened an incident: %+v", list.Items)
		}
		if code, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger","dedup_key":"5xx",
			"payload":{"summary":"5xx rate over budget","source":"lb","severity":"error"}}`, nil); code != 202 {
			t.Fatalf("trigger: %d %s", code, body)
		}
		raw := w.must(200, "GET", "/api/v1/incidents", nil, &list)
		if len(list.Items) != 1 {
			t.Fatalf("incidents: %s", raw)
		}
		incs := list.Items
		type changeJSON struct {
			Service         string `json:"service"`
			Summary         string `json:"summary"`
			Source          string `json:"source"`
			SummaryRedacted bool   `json:"summary_redacted"`
			Links           int    `json:"links"`
		}
		var cs []changeJSON
		w.must(200, "GET", "/api/v1/incidents/"+incs[0].Number+"/changes", nil, &cs)
		if len(cs) != 1 || cs[0].Summary != "Deploy 42 for "+canary || cs[0].Source != "ci" || cs[0].Service != "portal" ||
			cs[0].Links != 1 {
			t.Fatalf("the incident's changes: %+v", cs)
		}
		viewer := w.tokenWithRole("change-viewer", "stakeholder")
		cs = nil
		if code, raw := w.doAs(viewer, "GET", "/api/v1/incidents/"+incs[0].Number+"/changes", nil, &cs); code != 200 ||
			len(cs) != 1 || cs[0].Summary != "" || cs[0].Source != "" || !cs[0].SummaryRedacted {
			t.Fatalf("a stakeholder reads the changes: %d %s", code, raw)
		}
		d := openStore(t, w)
		rows, err := d.R.Query("SELECT summary, source FROM service_changes")
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		n := 0
		for rows.Next() {
			var summary, source string
			if err := rows.Scan(&summary, &source); err != nil {
				t.Fatal(err)
			}
			if !keys.Sealed(summary) || !keys.Sealed(source) {
				t.Fatalf("a change stored in clear: %q %q", summary, source)
			}
			n++
		}
		if n != 2 {
			t.Fatalf("%d changes stored, want 2", n)
		}
		var reads int
		if err := d.R.QueryRow("SELECT count(*) FROM audit_log WHERE action = 'service_change.phi_read'").Scan(&reads); err != nil || reads != 1 {
			t.Fatalf("%d reads of changes audited, want 1 (%v)", reads, err)
		}
	})
}
