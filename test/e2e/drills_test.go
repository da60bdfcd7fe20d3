package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
)

// TestDrillEndToEnd: on both databases, over HTTPS, a Security Officer
// starts a drill from a playbook through the API and another through the
// UI's Drills page; each is marked as a drill in the API, on its page
// (banner), in the incident list and in its investigation report PDF. A
// responder may not start one (403); the UI form names the field it
// refuses. The drill never gets a breach case, even marked PHI-suspected,
// and is in no breach log, annual log or deadline board, nor in the
// incident register, while a real incident recorded beside it is; it is
// listed under drill=true and on the Drills page, with the regulation
// cited. Drills are numbered DRILL-<year>-0001 on, apart from the real
// incidents, whose numbers they leave without gaps.
func TestDrillEndToEnd(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		officer := w.tokenWithRole("drill-officer", "security_officer")
		responder := w.tokenWithRole("drill-responder", "responder")
		if code, raw := w.doAs(responder, "POST", "/api/v1/drills", map[string]any{"playbook": "lost_device"}, nil); code != http.StatusForbidden {
			t.Fatalf("a responder starting a drill: %d %s, want 403", code, raw)
		}
		var realInc, drill incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Laptop stolen from a car", "category": "theft",
			"phi_suspected": true}, &realInc)
		var marked struct {
			Drill bool `json:"drill"`
		}
		code, raw := w.doAs(officer, "POST", "/api/v1/drills", map[string]any{"playbook": "lost_device",
			"scenario": "A nurse reports the ward laptop missing after a night shift."}, &drill)
		if code != http.StatusCreated {
			t.Fatalf("start a drill: %d %s", code, raw)
		}
		w.must(http.StatusOK, "GET", "/api/v1/incidents/"+drill.Number, nil, &marked)
		if !marked.Drill {
			t.Fatalf("the drill's API record does not say drill: %s", raw)
		}
		// Drills are numbered apart: the year's first drill is DRILL-…-0001
		// and takes no number of the real incidents.
		year, _, _ := strings.Cut(strings.TrimPrefix(realInc.Number, "INC-"), "-")
		if drill.Number != "DRILL-"+year+"-0001" {
			t.Errorf("the drill's number: %s, want DRILL-%s-0001", drill.Number, year)
		}
		w.must(http.StatusOK, "PATCH", "/api/v1/incidents/"+drill.ID, map[string]any{"phi_suspected": true}, nil)
		if code, raw := w.doAs(officer, "POST", "/api/v1/incidents/"+drill.ID+"/breach-case", nil, nil); code != http.StatusConflict ||
			!strings.Contains(string(raw), "drill") {
			t.Fatalf("opening the drill's breach case: %d %s, want 409 naming the drill", code, raw)
		}
		if code, _ := w.do("GET", "/api/v1/incidents/"+drill.ID+"/breach-case", nil, nil); code != http.StatusNotFound {
			t.Fatalf("the drill's breach case: %d, want 404 (none)", code)
		}
		for _, path := range []string{"/api/v1/breach-log", "/api/v1/breach-log.csv", "/api/v1/breach-reports/annual-log",
			"/api/v1/breach-deadlines", "/api/v1/incidents/register.csv"} {
			raw := w.must(http.StatusOK, "GET", path, nil, nil)
			if strings.Contains(string(raw), drill.Number) || strings.Contains(string(raw), drill.ID) {
				t.Errorf("%s names the drill %s: %s", path, drill.Number, raw)
			}
			if path != "/api/v1/breach-reports/annual-log" && !strings.Contains(string(raw), realInc.Number) &&
				!strings.Contains(string(raw), realInc.ID) {
				t.Errorf("%s lacks the real incident %s: %s", path, realInc.Number, raw)
			}
		}
		var list struct{ Items []incidentJSON }
		for q, want := range map[string]string{"true": drill.Number, "false": realInc.Number} {
			w.must(http.StatusOK, "GET", "/api/v1/incidents?drill="+q, nil, &list)
			if len(list.Items) != 1 || list.Items[0].Number != want {
				t.Errorf("incidents?drill=%s: %+v, want only %s", q, list.Items, want)
			}
		}
		pdf := w.must(http.StatusOK, "GET", "/api/v1/incidents/"+drill.ID+"/investigation-report.pdf", nil, nil)
		text, err := pdfText(pdf)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, "DRILL") || !strings.Contains(text, "164.308(a)(7)(ii)(D)") {
			t.Errorf("the drill's investigation report does not say DRILL: %q", text)
		}

		b := signInAs(t, w, authz.RoleSecurityOfficer, "drill-so")
		if code, body := b.send(http.MethodGet, "/drills", nil); code != http.StatusOK || !strings.Contains(body, drill.Number) ||
			!strings.Contains(body, "164.308(a)(7)(ii)(D)") || strings.Contains(body, realInc.Number) {
			t.Fatalf("the Drills page: %d %s", code, body)
		}
		if code, body := b.send(http.MethodPost, "/drills", url.Values{"playbook": {""}}); code != http.StatusUnprocessableEntity ||
			!strings.Contains(body, `id="playbook-error"`) {
			t.Fatalf("a drill with no playbook from the page: %d %s, want 422 beside the playbook", code, body)
		}
		code, body := b.send(http.MethodPost, "/drills", url.Values{"playbook": {"ransomware"}, "title": {"Tabletop: ransomware at night"}})
		page, _, _ := strings.Cut(body, "?")
		if code != http.StatusSeeOther || page != "/incidents/DRILL-"+year+"-0002" {
			t.Fatalf("a drill started from the page: %d %s, want 303 to its page", code, body)
		}
		code, body = b.send(http.MethodGet, page, nil)
		if code != http.StatusOK || !strings.Contains(body, "This is a drill, not a real incident") ||
			!strings.Contains(body, "Tabletop: ransomware at night") {
			t.Fatalf("a drill started from the page: %d %s", code, body)
		}
		var next incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Misdirected fax"}, &next)
		if next.Number != "INC-"+year+"-0002" {
			t.Errorf("the real incident after two drills: %s, want INC-%s-0002", next.Number, year)
		}
		if code, body := b.send(http.MethodGet, "/incidents?drill=yes", nil); code != http.StatusOK ||
			!strings.Contains(body, `class="tag drill"`) || strings.Contains(body, realInc.Number) {
			t.Fatalf("the incident list of drills: %d %s", code, body)
		}
		if code, body := b.send(http.MethodGet, "/incidents", nil); code != http.StatusOK ||
			strings.Contains(body, `class="tag drill"`) || strings.Contains(body, drill.Number+"<") ||
			!strings.Contains(body, realInc.Number) || !strings.Contains(body, `<option value="all"`) {
			t.Fatalf("the incident list by default: %d %s, want real incidents only and a way to show drills", code, body)
		}
		if code, body := b.send(http.MethodGet, "/incidents?drill=all", nil); code != http.StatusOK ||
			!strings.Contains(body, `class="tag drill"`) || !strings.Contains(body, realInc.Number) {
			t.Fatalf("the incident list of incidents and drills: %d %s", code, body)
		}
		// The home page counts real incidents and says apart how many
		// drills are in progress (migration 0066).
		if code, body := b.send(http.MethodGet, "/", nil); code != http.StatusOK ||
			!strings.Contains(body, `<a href="/incidents?drill=yes">`) || !strings.Contains(body, "in progress</a>") ||
			strings.Contains(body, drill.Number+"<") || !strings.Contains(body, realInc.Number) {
			t.Fatalf("the home page: %d %s, want the real incident listed and the drills counted apart", code, body)
		}
	})
}
