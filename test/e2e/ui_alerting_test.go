package e2e

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
)

var (
	serviceLocRe = regexp.MustCompile(`^/services/([0-9a-f-]{36})\?msg=service_created`)
	keyRe        = regexp.MustCompile(`<input id="key" class="secret" type="text" value="([0-9a-f]{32})"`)
)

// TestUIAlerting drives the alerting pages as a browser would, without
// one: an administrator creates a service and an Events API v2 key through
// the forms, a monitoring tool sends an event with that key, and the alert
// shows on the alerts list, on its own page and on its incident's page. A
// maintenance window is scheduled and ended, and the key revoked, through
// the service page; form errors come back beside their controls, and a
// responder may read services but not create one.
func TestUIAlerting(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		admin := signInAs(t, w, authz.RoleAdmin, "ui-admin")

		code, page := admin.send("POST", "/services", url.Values{"name": {""}, "group_by": {"source"}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, `<p class="field-error" id="name-error">is required</p>`) ||
			!strings.Contains(page, `aria-invalid="true" aria-describedby="name-error"`) {
			t.Fatalf("blank service name: %d, want 422 with the field error beside the name: %.2000s", code, page)
		}

		code, loc := admin.send("POST", "/services", url.Values{"name": {"Billing API"}, "group_by": {"alert"},
			"handles_phi": {"on"}, "description": {"invoices and claims"}})
		m := serviceLocRe.FindStringSubmatch(loc)
		if code != http.StatusSeeOther || m == nil {
			t.Fatalf("create service: %d %.300s", code, loc)
		}
		svcPath := "/services/" + m[1]
		if code, page := admin.send("GET", "/services", nil); code != http.StatusOK || !strings.Contains(page, `<a href="`+svcPath+`">Billing API</a>`) ||
			!strings.Contains(page, "Handles PHI") {
			t.Fatalf("services list: %d %.2000s", code, page)
		}

		code, page = admin.send("POST", svcPath+"/integrations", url.Values{"ig_kind": {"events_v2"}, "ig_name": {""}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, `<p class="field-error" id="ig_name-error">is required</p>`) {
			t.Fatalf("blank key name: %d, want 422 with the field error: %.2000s", code, page)
		}
		code, page = admin.send("POST", svcPath+"/integrations", url.Values{"ig_kind": {"webhook"}, "ig_name": {"hook"},
			"ig_mapping": {`{"summary": "no-slash"}`}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, `<p class="field-error" id="ig_mapping-error">summary: `) {
			t.Fatalf("bad webhook mapping: %d, want 422 with the error beside the mapping: %.3000s", code, page)
		}
		code, loc = admin.send("POST", svcPath+"/integrations", url.Values{"ig_kind": {"events_v2"}, "ig_name": {"prometheus"}})
		if code != http.StatusSeeOther || !strings.HasPrefix(loc, svcPath+"/integrations/") {
			t.Fatalf("create integration: %d, want a redirect to the key's page: %.2000s", code, loc)
		}
		code, page = admin.send("GET", loc, nil)
		km := keyRe.FindStringSubmatch(page)
		if code != http.StatusOK || km == nil {
			t.Fatalf("the new key's page: %d %.2000s", code, page)
		}
		key := km[1]
		if !strings.Contains(page, "you will not see it again") || !strings.Contains(page, w.url+"/v2/enqueue") ||
			!strings.Contains(page, `&#34;routing_key&#34;: &#34;`+key+`&#34;`) {
			t.Fatalf("key page lacks the warning, the URL or the example: %.3000s", page)
		}
		code, page = admin.send("GET", svcPath, nil)
		if code != http.StatusOK || strings.Contains(page, key) || !strings.Contains(page, "…"+key[len(key)-4:]) {
			t.Fatalf("service page must show the key's hint and never the key: %d %.3000s", code, page)
		}

		w.must(http.StatusAccepted, "POST", "/v2/enqueue", map[string]any{"routing_key": key, "event_action": "trigger",
			"dedup_key": "disk-db7", "payload": map[string]any{"summary": "Disk full on db-7", "source": "db-7",
				"severity": "critical", "custom_details": map[string]any{"patient_ref": "MRN-4471"}}}, nil)
		var alerts []struct {
			ID             string `json:"id"`
			IncidentNumber string `json:"incident_number"`
		}
		w.must(http.StatusOK, "GET", "/api/v1/alerts?service=Billing%20API", nil, &alerts)
		if len(alerts) != 1 || alerts[0].IncidentNumber == "" {
			t.Fatalf("alerts of the service: %+v, want one with an incident", alerts)
		}
		a := alerts[0]

		code, page = admin.send("GET", "/alerts", nil)
		if code != http.StatusOK || !strings.Contains(page, `<a href="/alerts/`+a.ID+`">Disk full on db-7</a>`) ||
			!strings.Contains(page, `<a href="/incidents/`+a.IncidentNumber+`">`+a.IncidentNumber+`</a>`) {
			t.Fatalf("alerts list: %d %.3000s", code, page)
		}
		if code, page = admin.send("GET", "/alerts?status=resolved", nil); code != http.StatusOK || strings.Contains(page, "Disk full on db-7") {
			t.Fatalf("alerts filtered to resolved must not list the triggered alert: %d %.3000s", code, page)
		}
		if code, page = admin.send("GET", "/alerts?status=bogus", nil); code != http.StatusUnprocessableEntity || !strings.Contains(page, `<p class="field-error" role="alert">`) || strings.Contains(page, "status: ") {
			t.Fatalf("a bad status filter: %d, want 422 naming status: %.2000s", code, page)
		}

		code, page = admin.send("GET", "/incidents/"+a.IncidentNumber, nil)
		if code != http.StatusOK || !strings.Contains(page, `<a href="/alerts/`+a.ID+`">Disk full on db-7</a>`) ||
			strings.Contains(page, `<span class="tag phi">PHI suspected</span>`) || !strings.Contains(page, "Classify this incident") {
			t.Fatalf("incident page must list its alert and ask to classify it, not presume PHI: %d %.3000s", code, page)
		}

		code, page = admin.send("GET", "/alerts/"+a.ID, nil)
		if code != http.StatusOK || !strings.Contains(html.UnescapeString(page), `"patient_ref": "MRN-4471"`) {
			t.Fatalf("admin (may read PHI) must see the alert's details: %d %.3000s", code, page)
		}
		viewer := signInAs(t, w, authz.RoleStakeholder, "ui-stakeholder")
		code, page = viewer.send("GET", "/alerts/"+a.ID, nil)
		if code != http.StatusOK || strings.Contains(page, "MRN-4471") || !strings.Contains(page, "Hidden: may contain PHI") {
			t.Fatalf("stakeholder (no PHI) must get the alert without its details: %d %.3000s", code, page)
		}

		ends := time.Now().UTC().Add(time.Hour).Format("2006-01-02T15:04")
		if code, loc := admin.send("POST", svcPath+"/maintenance", url.Values{"ends_at": {ends}, "reason": {"db upgrade"}}); code != http.StatusSeeOther ||
			!strings.Contains(loc, "msg=window_created") {
			t.Fatalf("schedule maintenance: %d %.500s", code, loc)
		}
		_, page = admin.send("GET", svcPath, nil)
		wm := regexp.MustCompile(`action="(` + svcPath + `/maintenance/[0-9a-f-]{36}/end)"`).FindStringSubmatch(page)
		if wm == nil || !strings.Contains(page, "db upgrade") || !strings.Contains(page, "End now") {
			t.Fatalf("service page must list the window with an end button: %.3000s", page)
		}
		if code, _ := admin.send("POST", wm[1], nil); code != http.StatusSeeOther {
			t.Fatalf("end maintenance: %d", code)
		}
		if _, page = admin.send("GET", svcPath, nil); strings.Contains(page, "db upgrade") {
			t.Fatalf("an ended window is still listed: %.3000s", page)
		}
		rm := regexp.MustCompile(`action="(` + svcPath + `/integrations/[0-9a-f-]{36}/revoke)"`).FindStringSubmatch(page)
		if rm == nil {
			t.Fatalf("service page has no revoke button: %.3000s", page)
		}
		if code, _ := admin.send("POST", rm[1], nil); code != http.StatusSeeOther {
			t.Fatalf("revoke key: %d", code)
		}
		if code, _ := w.do("POST", "/v2/enqueue", map[string]any{"routing_key": key, "event_action": "trigger",
			"payload": map[string]any{"summary": "after revoke", "source": "db-7", "severity": "info"}}, nil); code != http.StatusBadRequest {
			t.Fatalf("event with a revoked key: %d, want 400", code)
		}
		if _, page = admin.send("GET", svcPath, nil); !strings.Contains(page, "Revoked <time") {
			t.Fatalf("service page must show the key revoked: %.3000s", page)
		}

		responder := signInAs(t, w, authz.RoleResponder, "ui-responder")
		if code, page := responder.send("GET", "/services", nil); code != http.StatusOK || strings.Contains(page, "Add a service") {
			t.Fatalf("responder services page: %d, want 200 without the create form: %.2000s", code, page)
		}
		if code, page := responder.send("POST", "/services", url.Values{"name": {"Shadow"}}); code != http.StatusForbidden {
			t.Fatalf("responder creating a service: %d, want 403: %.500s", code, page)
		}
		if code, page := admin.send("GET", "/services", nil); strings.Contains(page, "Shadow") {
			t.Fatalf("the refused service exists: %d %.2000s", code, page)
		}
	})
}
