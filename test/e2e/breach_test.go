package e2e

import (
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/app"
)

// TestBreachCaseAPI opens a case, sets its facts, signs a determination
// as the Privacy Officer and records a notice, through the API on both
// databases.
func TestBreachCaseAPI(t *testing.T) {
	eachDB(t, func(t *testing.T, w *ward) {
		code, out, errs := w.run("token", "create", "--name", "privacy", "--role", "privacy_officer")
		if code != 0 {
			t.Fatalf("token: %s", errs)
		}
		privacy := strings.TrimSpace(out)
		var inc incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Stolen laptop", "category": "theft"}, &inc)
		base := "/api/v1/incidents/" + inc.ID + "/breach-case"
		var c struct {
			Outcome string `json:"outcome"`
			Facts   struct {
				DiscoveredAt string `json:"discovered_at"`
			} `json:"facts"`
		}
		w.must(201, "POST", base, nil, &c)
		if c.Outcome != "pending" {
			t.Fatalf("case: %+v", c)
		}
		if code, raw := w.do("PUT", base+"/facts", map[string]any{"role": "covered_entity", "discovered_at": c.Facts.DiscoveredAt,
			"should_have_known_at": c.Facts.DiscoveredAt, "individuals": -3}, nil); code != 422 || !strings.Contains(string(raw), "individuals") {
			t.Fatalf("bad facts: %d %s", code, raw)
		}
		w.must(200, "PUT", base+"/facts", map[string]any{"role": "covered_entity", "discovered_at": c.Facts.DiscoveredAt,
			"should_have_known_at": c.Facts.DiscoveredAt, "individuals": 1200, "by_state": map[string]int{"CA": 700, "OR": 500}}, nil)
		var obs []struct {
			Key      string `json:"key"`
			Citation string `json:"citation"`
			State    string `json:"state"`
		}
		w.must(200, "GET", base+"/obligations", nil, &obs)
		keys := map[string]bool{}
		for _, o := range obs {
			keys[o.Key] = true
			if o.Citation == "" {
				t.Errorf("no citation: %+v", o)
			}
		}
		if !keys["individuals"] || !keys["media:CA"] || keys["media:OR"] || !keys["hhs"] {
			t.Fatalf("obligations for 700 in CA and exactly 500 in OR: %+v", obs)
		}
		det := map[string]any{"determination": map[string]any{"notify_without_assessment": true}}
		if code, _ := w.do("POST", base+"/determinations", det, nil); code != 403 {
			t.Fatalf("an admin signing: %d", code)
		}
		var signed struct {
			Version  int    `json:"version"`
			Outcome  string `json:"outcome"`
			SignedBy string `json:"signed_by"`
		}
		code, raw := w.doAs(privacy, "POST", base+"/determinations", det, &signed)
		if code != 201 || signed.Version != 1 || signed.Outcome != "notification_required" || !strings.HasPrefix(signed.SignedBy, "token:") {
			t.Fatalf("sign: %d %s", code, raw)
		}
		var met struct{ State string }
		w.must(200, "POST", base+"/obligations/met", map[string]any{"obligation": "individuals"}, &met)
		if met.State != "met" {
			t.Fatalf("met: %+v", met)
		}
		var board []struct{ Key, State string }
		w.must(200, "GET", "/api/v1/breach-deadlines", nil, &board)
		for _, o := range board {
			if o.Key == "individuals" {
				t.Fatal("a met obligation on the board")
			}
		}
		if len(board) == 0 {
			t.Fatal("an empty deadline board")
		}
	})
}

// TestBreachCaseOpensItself: an incident marked phi_suspected, when it is
// created or later, gets its breach case at once (breach is presumed,
// 164.402(2)), on both databases; --breach-auto-open=false leaves it to a
// person or a rule.
func TestBreachCaseOpensItself(t *testing.T) {
	eachDBURL(t, func(t *testing.T, dbURL string) {
		data := t.TempDir()
		w := startWardAt(t, data, dbURL)
		var created, later incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Misdirected fax", "category": "unauthorized_access_disclosure",
			"phi_suspected": true}, &created)
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Odd logins", "category": "other"}, &later)
		if code, _ := w.do("GET", "/api/v1/incidents/"+later.ID+"/breach-case", nil, nil); code != 404 {
			t.Fatalf("an incident with no PHI suspected has a case: %d", code)
		}
		w.must(200, "PATCH", "/api/v1/incidents/"+later.ID, map[string]any{"phi_suspected": true}, nil)
		for _, inc := range []incidentJSON{created, later} {
			var c struct {
				OpenedBy string `json:"opened_by"`
				Outcome  string `json:"outcome"`
			}
			w.must(200, "GET", "/api/v1/incidents/"+inc.ID+"/breach-case", nil, &c)
			if c.Outcome != "pending" || c.OpenedBy != "system:Ward (PHI suspected)" {
				t.Fatalf("incident %s's case: %+v", inc.Number, c)
			}
			if code, _ := w.do("POST", "/api/v1/incidents/"+inc.ID+"/breach-case", nil, nil); code != 409 {
				t.Fatalf("opening incident %s's case again: %d, want 409", inc.Number, code)
			}
		}
		// An alert from a service that handles PHI opens an incident with
		// its case.
		_, ig := w.service("lab-results", true, "alert", "events_v2", "")
		if code, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger","dedup_key":"hl7-feed",
			"payload":{"summary":"HL7 feed misrouted","source":"lab1","severity":"critical"}}`, nil); code != 202 {
			t.Fatalf("alert: %d %s", code, body)
		}
		as := w.alerts("limit=1")
		if len(as) != 1 || as[0].IncidentID == "" {
			t.Fatalf("alerts: %+v", as)
		}
		if code, raw := w.do("GET", "/api/v1/incidents/"+as[0].IncidentID+"/breach-case", nil, nil); code != 200 {
			t.Fatalf("the PHI service's incident has no case: %d %s", code, raw)
		}
		_, tl := w.do("GET", "/api/v1/incidents/"+created.ID+"/timeline", nil, nil)
		if !strings.Contains(string(tl), "Breach case opened by Ward (PHI suspected)") {
			t.Fatalf("the timeline does not say the case opened itself: %s", tl)
		}
		w.stop()

		off := startWardAt(t, data, dbURL, func(e *app.Env) { e.Args = append(e.Args, "--breach-auto-open=false") })
		var inc incidentJSON
		off.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Misdirected fax", "category": "unauthorized_access_disclosure",
			"phi_suspected": true}, &inc)
		if code, _ := off.do("GET", "/api/v1/incidents/"+inc.ID+"/breach-case", nil, nil); code != 404 {
			t.Fatalf("with --breach-auto-open=false the case opened anyway: %d", code)
		}
	})
}
