package e2e

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
)

var templateLinkRe = regexp.MustCompile(`href="/notice-templates/([0-9a-z_-]+)">Letter to an affected individual<`)

// TestUINotices: the Privacy Officer previews a template with an element
// removed (the check names it), approves the seeded letter, and the
// case's notices page saves the settings and generates the letters, which
// an administrator downloads and a stakeholder may not.
func TestUINotices(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Stolen laptop", "category": "theft"}, &inc)
		w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+inc.ID+"/breach-case", nil, nil)
		if code, raw := w.postCSV(w.token, "/api/v1/incidents/"+inc.ID+"/breach-case/individuals/import",
			"name,address1,city,state,zip\nAda Lee,1 Oak St,Fresno,CA,93701\nBo Ray,2 Elm St,Salem,OR,97301\n"); code != 200 {
			t.Fatalf("import: %d %s", code, raw)
		}
		po := signInAs(t, w, authz.RolePrivacyOfficer, "n-po")
		code, page := po.send("GET", "/notice-templates", nil)
		m := templateLinkRe.FindStringSubmatch(page)
		if code != http.StatusOK || m == nil {
			t.Fatalf("templates page: %d %.1500s", code, page)
		}
		tpl := "/notice-templates/" + m[1]
		code, page = po.send("GET", tpl, nil)
		body := regexp.MustCompile(`(?s)<textarea id="body" name="body" rows="24">(.*?)</textarea>`).FindStringSubmatch(page)
		if code != http.StatusOK || body == nil || !strings.Contains(page, "Reading grade") || !strings.Contains(page, "Approve version 1") {
			t.Fatalf("template page: %d %.1500s", code, page)
		}
		src := strings.NewReplacer("&#39;", "'", "&lt;", "<", "&gt;", ">", "&amp;", "&", "&#34;", `"`).Replace(body[1])
		code, page = po.send("POST", tpl+"/preview", url.Values{"name": {"Letter"}, "subject": {"Notice"},
			"body": {strings.Replace(src, "{#entity_actions}", "", 1)}})
		if code != http.StatusOK || !strings.Contains(page, "Preview with sample data") || !strings.Contains(page, "Dear Jordan Example") ||
			!strings.Contains(page, "elements.entity_actions") {
			t.Fatalf("preview: %d %.3000s", code, page)
		}
		if code, _ := po.send("POST", tpl+"/approve", nil); code != http.StatusSeeOther {
			t.Fatalf("approve: %d", code)
		}
		if _, page := po.send("GET", tpl, nil); !strings.Contains(page, "Approved</span> <span class=\"muted\">by n-po,") {
			t.Fatalf("approved template: %.1500s", page)
		}

		admin := signInAs(t, w, authz.RoleAdmin, "n-admin")
		notices := "/incidents/" + inc.Number + "/notices"
		code, page = admin.send("POST", notices+"/generate", url.Values{"what": {"letters"}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, "entity_name") {
			t.Fatalf("letters without settings: %d %.1500s", code, page)
		}
		code, page = admin.send("POST", notices+"/settings", url.Values{"entity_name": {"Example Health"}, "signer_name": {"Pat"},
			"signer_title": {"Privacy Officer"}, "toll_free": {"1-800-555-0100"}, "email": {"p@example.org"}, "website": {"https://example.org"},
			"postal_address": {"1 Main St"}, "occurred_on": {"April 2, 2026"}, "what_happened": {"A laptop was stolen."},
			"phi_involved": {"your name"}, "steps_to_take": {"Watch your mail."}, "what_we_are_doing": {"We encrypt laptops now."}})
		if code != http.StatusSeeOther || !strings.HasPrefix(page, notices+"?msg=notice_settings") {
			t.Fatalf("settings: %d, want a redirect to the notices page: %.1500s", code, page)
		}
		if _, page := admin.send("GET", notices+"?msg=notice_settings", nil); !strings.Contains(page, "Notice settings saved.") {
			t.Fatalf("no flash after saving the settings: %.1500s", page)
		}
		code, loc := admin.send("POST", notices+"/generate", url.Values{"what": {"letters"}})
		if code != http.StatusSeeOther || !strings.HasPrefix(loc, notices+"?") {
			t.Fatalf("generate: %d, want a redirect to the notices page: %.3000s", code, loc)
		}
		_, page = admin.send("GET", loc, nil)
		file := regexp.MustCompile(`href="(/incidents/[^"]+/notices/files/[0-9a-f-]+)">letters-`).FindStringSubmatch(page)
		if !strings.Contains(page, "2 letters generated") || file == nil {
			t.Fatalf("after generating: %.3000s", page)
		}
		if code, pdf := admin.send("GET", file[1], nil); code != http.StatusOK || !strings.HasPrefix(pdf, "%PDF-") {
			t.Fatalf("download: %d %.100s", code, pdf)
		}
		viewer := signInAs(t, w, authz.RoleStakeholder, "n-viewer")
		if code, _ := viewer.send("GET", file[1], nil); code != http.StatusForbidden {
			t.Fatalf("a stakeholder downloading letters: %d", code)
		}
		if code, page := viewer.send("GET", notices, nil); code != http.StatusOK || strings.Contains(page, "/notices/files/") {
			t.Fatalf("notices page for a stakeholder: %d", code)
		}
	})
}
