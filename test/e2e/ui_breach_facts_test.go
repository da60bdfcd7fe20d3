package e2e

import (
	"html"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
)

// formValue returns the value attribute of the input named name on page.
func formValue(t *testing.T, page, name string) string {
	t.Helper()
	m := regexp.MustCompile(`name="` + regexp.QuoteMeta(name) + `"[^>]*value="([^"]*)"`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no %s on the form: %.3000s", name, page)
	}
	return html.UnescapeString(m[1])
}

// TestUIBreachFactsKeepImport: on both databases, the facts form rendered
// before an import of individuals, saved after it with only a case tag
// checked, keeps the import's per-State counts and total (the form sends
// only what it changed); the page then shows the imported counts apart,
// the tags as labelled checkboxes, and refuses typing over an imported
// State's count.
func TestUIBreachFactsKeepImport(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Mailing list exposed", "category": "unauthorized_access_disclosure"}, &inc)
		admin := signInAs(t, w, authz.RoleAdmin, "f-admin")
		casePath := "/incidents/" + inc.Number + "/breach"
		if code, _ := admin.send("POST", casePath+"/open", nil); code != http.StatusSeeOther {
			t.Fatalf("open: %d", code)
		}
		_, page := admin.send("GET", casePath, nil)
		if !strings.Contains(page, `name="tags" value="ca_licensed_health_facility"`) ||
			!strings.Contains(page, "California licensed clinic, health facility, home health agency or hospice") {
			t.Fatalf("the case tags are not offered as labelled checkboxes: %.5000s", page)
		}
		// The form as rendered, before the import.
		form := url.Values{"facts_rendered": {formValue(t, page, "facts_rendered")}, "role": {"covered_entity"},
			"discovered_at": {formValue(t, page, "discovered_at")}, "should_have_known_at": {formValue(t, page, "should_have_known_at")},
			"individuals": {formValue(t, page, "individuals")}, "by_state": {formValue(t, page, "by_state")}, "customers[0]_id": {""},
			"customers[0]_unit": {"days"}, "tags": {"ca_licensed_health_facility"}}

		base := "/api/v1/incidents/" + inc.ID + "/breach-case"
		list := "name,state,address1,city,zip\r\nAnn Lee,CA,1 Elm St,Fresno,93650\r\nBo Ray,CA,2 Elm St,Fresno,93650\r\nCy Dee,OR,3 Elm St,Salem,97301\r\n"
		if code, raw := w.postCSV(w.token, base+"/individuals/import", list); code != 200 {
			t.Fatalf("import: %d %s", code, raw)
		}
		if code, where := admin.send("POST", casePath+"/facts", form); code != http.StatusSeeOther {
			t.Fatalf("save the facts: %d %.3000s", code, where)
		}
		var c factsCase
		w.must(200, "GET", base, nil, &c)
		if want := map[string]int{"CA": 2, "OR": 1}; !maps.Equal(c.Facts.ByState, want) || c.Facts.Individuals != 3 ||
			!slices.Equal(c.Facts.Tags, []string{"ca_licensed_health_facility"}) {
			t.Fatalf("saving a form rendered before the import lost its counts: %+v, want by_state %v, 3 individuals, the tag", c.Facts, want)
		}

		_, page = admin.send("GET", casePath, nil)
		if !strings.Contains(page, "California 2, Oregon 1") || !strings.Contains(page, `value="ca_licensed_health_facility" checked`) {
			t.Errorf("the page does not show the imported counts or the checked tag: %.6000s", page)
		}
		if got := formValue(t, page, "by_state"); got != "" {
			t.Errorf("the imported counts are in the typed field: %q", got)
		}
		// Typing over an imported State's count is refused, naming it.
		form.Set("facts_rendered", formValue(t, page, "facts_rendered"))
		form.Set("individuals", "3")
		form.Set("by_state", "CA=9, WA=0")
		code, page := admin.send("POST", casePath+"/facts", form)
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="by_state-error">CA: 2 residents of California are on the imported list`) {
			t.Fatalf("typing over California's imported count: %d %.4000s", code, page)
		}
		// A misspelt tag, as a crafted form might send, is refused.
		form.Set("by_state", "")
		form.Set("tags", "ca_licenced_health_facility")
		if code, page := admin.send("POST", casePath+"/facts", form); code != http.StatusUnprocessableEntity || !strings.Contains(page, `not a case tag Ward knows`) {
			t.Fatalf("a misspelt tag: %d %.4000s", code, page)
		}
	})
}
