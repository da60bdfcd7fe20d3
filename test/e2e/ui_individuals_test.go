package e2e

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
)

// upload posts file as the multipart form field "file", the CSRF token
// first, as the import form does; it returns the status and the redirect's
// address followed by the body.
func (b *browserless) upload(path string, file string) (int, string) {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf", b.csrf)
	fw, _ := mw.CreateFormFile("file", "list.csv")
	_, _ = io.WriteString(fw, file)
	_ = mw.Close()
	req, err := http.NewRequest(http.MethodPost, b.base+path, &body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location") + string(raw)
}

// TestUIBreachIndividuals uploads a list on the case's individuals page:
// the upload redirects to the page (a reload does not import again, and
// the form's address opened by itself leads to the page, not a 405),
// whose validation report lists the bad row by line and field, the counts
// and the substitute notice show, the administrator sees names and a
// stakeholder does not. The parties page adds a customer
// and sets the organisation's role. On both databases.
func TestUIBreachIndividuals(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Portal scraped"}, &inc)
		w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+inc.ID+"/breach-case", nil, nil)
		admin := signInAs(t, w, authz.RoleAdmin, "i-admin")
		page := "/incidents/" + inc.Number + "/breach/individuals"
		if code, body := admin.send("GET", page, nil); code != 200 || !strings.Contains(body, "No list imported yet") {
			t.Fatalf("empty page: %d %.500s", code, body)
		}
		list := "name,state,email\nZebediah Quillfeather,CA,zq@example.com\nAnn Lee,CA,\nBo Ray,Narnia,\n"
		code, loc := admin.upload(page+"/import", list)
		if code != http.StatusSeeOther || !strings.HasPrefix(loc, page+"?import=") {
			t.Fatalf("upload: %d, want a redirect to the page: %.3000s", code, loc)
		}
		var body string
		for range 2 { // the page, then a reload of it
			code, body = admin.send("GET", loc, nil)
			if code != 200 || !strings.Contains(body, "3 rows read, 2 new, 0 updated, 1 rejected") ||
				!strings.Contains(body, "<td>4</td><td>state</td>") {
				t.Fatalf("the page an upload leads to: %d %.3000s", code, body)
			}
		}
		var imports []struct{ ID string }
		w.must(200, "GET", "/api/v1/incidents/"+inc.ID+"/breach-case/individuals/imports", nil, &imports)
		if len(imports) != 1 {
			t.Fatalf("%d imports after an upload and a reload, want 1", len(imports))
		}
		req, err := http.NewRequest(http.MethodGet, admin.base+page+"/import", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "text/html")
		resp, err := admin.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != page {
			t.Fatalf("the upload's address opened by itself (Back): %d to %q, want the page", resp.StatusCode, resp.Header.Get("Location"))
		}
		// A value of its own, which a random token on the page cannot contain by chance.
		if strings.Contains(body, "Narnia") {
			t.Error("the report echoes a rejected value")
		}
		if !strings.Contains(body, "Zebediah Quillfeather") || !strings.Contains(body, "Alternative") || !strings.Contains(body, "Finished") {
			t.Fatalf("page after upload: %.3000s", body)
		}
		if code, _ := admin.upload(page+"/import", ""); code != http.StatusUnprocessableEntity {
			t.Fatalf("an empty file: %d", code)
		}

		viewer := signInAs(t, w, authz.RoleStakeholder, "i-viewer")
		if code, body := viewer.send("GET", page, nil); code != 200 || strings.Contains(body, "Quillfeather") || !strings.Contains(body, "withheld") {
			t.Fatalf("a stakeholder's page: %d %.3000s", code, body)
		}
		if code, _ := viewer.upload(page+"/import", list); code != http.StatusForbidden {
			t.Fatalf("a stakeholder uploading: %d", code)
		}

		if code, where := admin.send("POST", "/breach/organisation", url.Values{"role": {"both"}}); code != http.StatusSeeOther {
			t.Fatalf("organisation: %d %.500s", code, where)
		}
		code, body = admin.send("POST", "/breach/parties", url.Values{"kind": {"customer"}, "name": {"Acme Health"}, "amount": {"0"},
			"unit": {"days"}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="amount-error"`) {
			t.Fatalf("a zero term: %d %.3000s", code, body)
		}
		if code, where := admin.send("POST", "/breach/parties", url.Values{"kind": {"customer"}, "name": {"Acme Health"},
			"amount": {"72"}, "unit": {"hours"}, "channel": {"email"}, "contact_email": {"privacy@acme.example"},
			"checklist": {"nature of the incident\nPHI involved"}}); code != http.StatusSeeOther {
			t.Fatalf("add a customer: %d %.2000s", code, where)
		}
		code, body = admin.send("GET", "/breach/parties", nil)
		if code != 200 || !strings.Contains(body, "Acme Health") || !strings.Contains(body, "72 hours") || !strings.Contains(body, "☐ PHI involved") ||
			!strings.Contains(body, "<strong>Both</strong>") {
			t.Fatalf("parties page: %d %.3000s", code, body)
		}
	})
}
