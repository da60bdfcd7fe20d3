package e2e

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/authz"
)

// TestBreachCaseAPI opens a case, sets its facts, signs a determination
// as the Privacy Officer and records a notice, through the API on both
// databases.
func TestBreachCaseAPI(t *testing.T) {
	t.Parallel()
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
		if !keys["individuals:CA"] || !keys["individuals:OR"] || !keys["media:CA"] || keys["media:OR"] || !keys["hhs"] {
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
		w.must(200, "POST", base+"/obligations/met", map[string]any{"obligation": "individuals:CA", "reason": "letters mailed by the vendor, receipt 1"}, &met)
		if met.State != "met" {
			t.Fatalf("met: %+v", met)
		}
		var board []struct{ Key, State string }
		w.must(200, "GET", "/api/v1/breach-deadlines", nil, &board)
		for _, o := range board {
			if o.Key == "individuals:CA" {
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
	t.Parallel()
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
		// An alert from a service that handles PHI opens an incident that
		// asks a responder to classify it, not a presumed breach: no case
		// until someone answers "PHI involved" (TestUIPHIAlertAsksToClassify).
		_, ig := w.service("lab-results", true, "alert", "events_v2", "")
		if code, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger","dedup_key":"hl7-feed",
			"payload":{"summary":"HL7 feed misrouted","source":"lab1","severity":"critical"}}`, nil); code != 202 {
			t.Fatalf("alert: %d %s", code, body)
		}
		as := w.alerts("limit=1")
		if len(as) != 1 || as[0].IncidentID == "" {
			t.Fatalf("alerts: %+v", as)
		}
		if code, raw := w.do("GET", "/api/v1/incidents/"+as[0].IncidentID+"/breach-case", nil, nil); code != 404 {
			t.Fatalf("the PHI service's incident has a case before anyone classified it: %d %s", code, raw)
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

// TestBreachStateTable: an administrator replaces the State table with a
// version counsel confirmed, on both databases; a malformed one is refused
// naming the row and field, only admins may save one, and every case's
// obligations are recomputed with it, on its timeline.
func TestBreachStateTable(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		code, out, errs := w.run("token", "create", "--name", "privacy", "--role", "privacy_officer")
		if code != 0 {
			t.Fatalf("token: %s", errs)
		}
		privacy := strings.TrimSpace(out)
		type table struct {
			Shipped       bool             `json:"shipped"`
			Version       string           `json:"version"`
			Source        string           `json:"source"`
			Rules         []map[string]any `json:"rules"`
			Jurisdictions []map[string]any `json:"jurisdictions"`
			Counsel       struct {
				ToConfirm int `json:"to_confirm"`
				Rows      int `json:"rows"`
			} `json:"counsel"`
		}
		var shipped table
		w.must(200, "GET", "/api/v1/breach/state-rules", nil, &shipped)
		if !shipped.Shipped || len(shipped.Rules) == 0 || shipped.Counsel.ToConfirm != shipped.Counsel.Rows {
			t.Fatalf("the shipped table: %+v", shipped.Counsel)
		}

		var inc incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Stolen laptop", "category": "theft"}, &inc)
		base := "/api/v1/incidents/" + inc.ID + "/breach-case"
		w.must(201, "POST", base, nil, nil)
		w.must(200, "PUT", base+"/facts", map[string]any{"role": "covered_entity", "discovered_at": "2026-11-02T15:00:00Z",
			"should_have_known_at": "2026-11-02T15:00:00Z", "individuals": 40, "by_state": map[string]int{"CA": 40}}, nil)
		due := func() string {
			var obs []struct {
				Key string `json:"key"`
				Due string `json:"due"`
			}
			w.must(200, "GET", base+"/obligations", nil, &obs)
			for _, o := range obs {
				if o.Key == "individuals:CA" {
					return o.Due
				}
			}
			t.Fatalf("no obligation to California residents: %+v", obs)
			return ""
		}
		if got := due(); !strings.HasPrefix(got, "2026-12-02") {
			t.Fatalf("individuals due %s, want 30 days after discovery under the shipped CA rule", got)
		}

		// Counsel confirmed California at 15 days (both versions of its
		// rule, before and from 2026).
		edited := shipped
		for _, r := range edited.Rules {
			if r["id"] == "CA-individuals" {
				r["term"] = map[string]any{"amount": 15, "unit": "days"}
				r["counsel_to_confirm"] = false
			}
		}
		body := map[string]any{"version": "2026-11 counsel review", "source": "outside counsel memo 2026-11-20",
			"jurisdictions": edited.Jurisdictions, "rules": edited.Rules, "reason": "Counsel confirmed CA at 15 days"}
		if code, _ := w.doAs(privacy, "PUT", "/api/v1/breach/state-rules", body, nil); code != 403 {
			t.Fatalf("a privacy officer saving the State table: %d, want 403 (administrators only)", code)
		}
		bad := map[string]any{"version": "broken", "jurisdictions": shipped.Jurisdictions, "rules": []map[string]any{{"id": "CA-x", "state": "ZZ", "recipient": "individuals",
			"citation": "", "counsel_to_confirm": true, "min_residents": 1, "anchor": "discovery"}}, "reason": "test"}
		if code, raw := w.do("PUT", "/api/v1/breach/state-rules", bad, nil); code != 422 || !strings.Contains(string(raw), "rules[0]") {
			t.Fatalf("a malformed table: %d %s, want 422 naming the row", code, raw)
		}
		var saved struct {
			Table      table `json:"table"`
			Recomputed int   `json:"recomputed"`
		}
		w.must(200, "PUT", "/api/v1/breach/state-rules", body, &saved)
		if saved.Recomputed != 1 || saved.Table.Shipped || saved.Table.Counsel.ToConfirm != shipped.Counsel.ToConfirm-2 {
			t.Fatalf("saved: recomputed %d, %+v", saved.Recomputed, saved.Table.Counsel)
		}
		if got := due(); !strings.HasPrefix(got, "2026-11-17") {
			t.Fatalf("individuals due %s, want 15 days after discovery under the edited CA rule", got)
		}
		var inUse table
		w.must(200, "GET", "/api/v1/breach/state-rules", nil, &inUse)
		if inUse.Shipped || inUse.Version != "2026-11 counsel review" {
			t.Fatalf("the table in use: %+v", inUse)
		}
		var versions []table
		w.must(200, "GET", "/api/v1/breach/state-rules/versions", nil, &versions)
		if len(versions) != 1 {
			t.Fatalf("versions: %d", len(versions))
		}
		_, tl := w.do("GET", "/api/v1/incidents/"+inc.ID+"/timeline", nil, nil)
		if !strings.Contains(string(tl), "The State breach-notification table changed (version 2026-11 counsel review") {
			t.Fatalf("the timeline does not show the recomputation: %s", tl)
		}
		d := openStore(t, w)
		var n int
		if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'breach.state_table'`).Scan(&n); err != nil || n != 1 {
			t.Fatalf("audit entries breach.state_table: %d %v", n, err)
		}
	})
}

// TestUIBreachStateTable: the State rules page lists the rows in use with
// their citations and counsel flags; an administrator saves a version from
// it (a bad row comes back beside the rows), and others get no form.
func TestUIBreachStateTable(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		w := startWardAt(t, t.TempDir(), dbURL)
		admin := signInAs(t, w, authz.RoleAdmin, "ui-states-admin")
		privacy := signInAs(t, w, authz.RolePrivacyOfficer, "ui-states-privacy")
		code, page := privacy.send("GET", "/breach/state-rules", nil)
		if code != 200 || !strings.Contains(page, "<code>CA-individuals</code>") || !strings.Contains(page, "Cal. Civ. Code § 1798.82") ||
			!strings.Contains(page, `id="jurisdiction-AS"`) || !strings.Contains(page, "no breach-notification statute") ||
			!strings.Contains(page, "rows are defaults for counsel to confirm") || strings.Contains(page, `name="rules"`) {
			t.Fatalf("the State rules page for a privacy officer: %d %.3000s", code, page)
		}
		_, page = admin.send("GET", "/breach/state-rules", nil)
		m := regexp.MustCompile(`(?s)<textarea id="rules" name="rules"[^>]*>(.*?)</textarea>`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no rows form for the administrator: %.3000s", page)
		}
		rowsJSON := html.UnescapeString(m[1])
		j := regexp.MustCompile(`(?s)<textarea id="jurisdictions" name="jurisdictions"[^>]*>(.*?)</textarea>`).FindStringSubmatch(page)
		if j == nil {
			t.Fatalf("no jurisdictions in the form: %.3000s", page)
		}
		jurisJSON := html.UnescapeString(j[1])
		code, page = admin.send("POST", "/breach/state-rules", url.Values{"version": {"v2"}, "rules": {`[{"id":"X","state":"ZZ"}]`},
			"jurisdictions": {jurisJSON}, "reason": {"test"}})
		if code != 422 || !strings.Contains(page, `id="rules-error"`) {
			t.Fatalf("a bad row: %d, want 422 with the error beside the rows: %.3000s", code, page)
		}
		confirmed := strings.Replace(rowsJSON, `"counsel_to_confirm": true`, `"counsel_to_confirm": false`, 1)
		if code, loc := admin.send("POST", "/breach/state-rules", url.Values{"version": {"2026-11 review"}, "source": {"memo"},
			"rules": {confirmed}, "jurisdictions": {jurisJSON}, "reason": {"Counsel confirmed the first row"}}); code != http.StatusSeeOther ||
			!strings.HasPrefix(loc, "/breach/state-rules?msg=state_rules_saved") {
			t.Fatalf("save: %d %s", code, loc)
		}
		_, page = privacy.send("GET", "/breach/state-rules", nil)
		if !strings.Contains(page, "Version <strong>2026-11 review</strong>, saved by ui-states-admin") ||
			!strings.Contains(page, "Counsel confirmed the first row") || !strings.Contains(page, ">confirmed<") {
			t.Fatalf("the saved version is not shown: %.4000s", page)
		}
	})
}
