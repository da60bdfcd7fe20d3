package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
)

// TestUIRetention: an administrator places and releases a legal hold from
// the incident page (a missing reason shown beside its field), and the
// Retention page refuses a period below the legal minimum beside the
// field; the auditor reads the page without a form.
func TestUIRetention(t *testing.T) {
	t.Parallel()
	w := startWard(t, "")
	var inc struct {
		Number string `json:"number"`
	}
	w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Records request", "severity": "sev3"}, &inc)
	b := signInAs(t, w, authz.RoleAdmin, "ada-ui")
	page := "/incidents/" + inc.Number
	if code, body := b.send("GET", page, nil); code != http.StatusOK || !strings.Contains(body, "This incident:</strong> not on legal hold") {
		t.Fatalf("incident page: %d %.400s", code, body)
	}
	code, body := b.send("POST", page+"/legal-hold", url.Values{"hold_reason_incident": {" "}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="hold_reason_incident-error"`) {
		t.Fatalf("hold without a reason: %d", code)
	}
	if code, _ = b.send("POST", page+"/legal-hold", url.Values{"hold_reason_incident": {"Roe v. Clinic"}}); code != http.StatusSeeOther {
		t.Fatalf("placing: %d", code)
	}
	code, body = b.send("GET", page, nil)
	if code != http.StatusOK || !strings.Contains(body, "on legal hold</strong> since") || !strings.Contains(body, "Roe v. Clinic") {
		t.Fatalf("after placing: %d", code)
	}
	if code, _ = b.send("POST", page+"/legal-hold/release", url.Values{"hold_reason_incident": {"Settled"}}); code != http.StatusSeeOther {
		t.Fatalf("releasing: %d", code)
	}
	code, body = b.send("GET", page, nil)
	if code != http.StatusOK || !strings.Contains(body, "This incident:</strong> not on legal hold") {
		t.Fatalf("after releasing: %d", code)
	}

	if code, body := b.send("GET", "/admin/retention", nil); code != http.StatusOK || !strings.Contains(body, "Save retention policy") {
		t.Fatalf("retention page: %d", code)
	}
	form := url.Values{"incidents_years": {"3"}, "breach_cases_years": {"6"}, "alerts_years": {"6"}, "messages_years": {"6"},
		"sessions_years": {"6"}, "individuals_phi_days": {"0"}}
	code, body = b.send("POST", "/admin/retention", form)
	if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="incidents_years-error"`) || !strings.Contains(body, "legal minimum") {
		t.Fatalf("below the minimum: %d", code)
	}
	form.Set("incidents_years", "7")
	if code, _ = b.send("POST", "/admin/retention", form); code != http.StatusSeeOther {
		t.Fatalf("save: %d", code)
	}
	aud := signInAs(t, w, authz.RoleAuditor, "aud-ui")
	if code, body := aud.send("GET", "/admin/retention", nil); code != http.StatusOK || strings.Contains(body, "Save retention policy") ||
		!strings.Contains(body, "7 years") {
		t.Fatalf("auditor's retention page: %d", code)
	}
}
