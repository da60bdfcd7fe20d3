package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// postCSV posts body as text/csv with token and returns the status and
// response.
func (w *ward) postCSV(token, path, body string) (int, []byte) {
	w.t.Helper()
	req, err := http.NewRequest("POST", w.url+path, strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := w.client.Do(req)
	if err != nil {
		w.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	return resp.StatusCode, raw
}

// TestBreachIndividualsAPI imports a list of affected individuals as CSV,
// reads the validation report (no PHI in it), the counts and the facts
// they updated, re-imports idempotently, and lists the individuals with
// PHI for the admin and redacted for a stakeholder, on both databases.
func TestBreachIndividualsAPI(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		code, out, errs := w.run("token", "create", "--name", "viewer", "--role", "stakeholder")
		if code != 0 {
			t.Fatalf("token: %s", errs)
		}
		viewer := strings.TrimSpace(out)
		var inc incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Mailing list exposed", "category": "unauthorized_access_disclosure"}, &inc)
		base := "/api/v1/incidents/" + inc.ID + "/breach-case"
		w.must(201, "POST", base, nil, nil)

		list := "\uFEFFName,State,Address1,City,ZIP,Email,Consent_Electronic,DOB\r\n" +
			"\"Quillfeather, Zebediah\",CA,1 Main St,Fresno,=\"09301\",zq@example.com,yes,1970-01-02\r\n" +
			"Ann Lee,CA,,,,,,\r\n" +
			"Bo Ray,OR,2 Elm St,Salem,97301,,,\r\n" +
			"Cy Dee,XX,,,,secret-not-an-email,,\r\n"
		if code, _ := w.postCSV(viewer, base+"/individuals/import", list); code != http.StatusForbidden {
			t.Fatalf("a stakeholder importing: %d", code)
		}
		var imp struct {
			Rows, Created, Updated, Rejected int
			Problems                         []struct {
				Line  int    `json:"line"`
				Field string `json:"field"`
			} `json:"problems"`
			Counts struct {
				Individuals         int `json:"individuals"`
				InsufficientContact int `json:"insufficient_contact"`
				Substitute          struct {
					Kind string `json:"kind"`
				} `json:"substitute"`
			} `json:"counts"`
		}
		code, raw := w.postCSV(w.token, base+"/individuals/import", list)
		if code != 200 {
			t.Fatalf("import: %d %s", code, raw)
		}
		if err := json.Unmarshal(raw, &imp); err != nil {
			t.Fatal(err)
		}
		if imp.Rows != 4 || imp.Created != 3 || imp.Rejected != 1 || len(imp.Problems) != 2 || imp.Problems[0].Line != 5 ||
			imp.Counts.Individuals != 3 || imp.Counts.InsufficientContact != 1 || imp.Counts.Substitute.Kind != "alternative" {
			t.Fatalf("import: %s", raw)
		}
		if bytes.Contains(raw, []byte("secret-not-an-email")) || bytes.Contains(raw, []byte("Cy Dee")) || bytes.Contains(raw, []byte("XX")) {
			t.Fatalf("the report echoes PHI: %s", raw)
		}
		code, raw = w.postCSV(w.token, base+"/individuals/import", list)
		if err := json.Unmarshal(raw, &imp); code != 200 || err != nil || imp.Created != 0 || imp.Updated != 3 || imp.Counts.Individuals != 3 {
			t.Fatalf("re-import: %d %s", code, raw)
		}

		var c struct {
			Facts struct {
				Individuals int            `json:"individuals"`
				ByState     map[string]int `json:"by_state"`
			} `json:"facts"`
		}
		w.must(200, "GET", base, nil, &c)
		if c.Facts.Individuals != 3 || c.Facts.ByState["CA"] != 2 || c.Facts.ByState["OR"] != 1 {
			t.Fatalf("facts: %+v", c.Facts)
		}
		var counts struct {
			ByState []struct {
				State       string `json:"state"`
				Individuals int    `json:"individuals"`
			} `json:"by_state"`
		}
		if code, raw := w.doAs(viewer, "GET", base+"/individuals/counts", nil, &counts); code != 200 || len(counts.ByState) != 2 {
			t.Fatalf("counts for a stakeholder: %d %s", code, raw)
		}

		type page struct {
			Individuals []struct {
				State  string `json:"state"`
				Person *struct {
					Name       string `json:"name"`
					PostalCode string `json:"postal_code"`
				} `json:"person"`
				Redacted bool `json:"phi_redacted"`
			} `json:"individuals"`
			Next string `json:"next"`
		}
		var p page
		w.must(200, "GET", base+"/individuals?limit=2", nil, &p)
		if len(p.Individuals) != 2 || p.Next == "" {
			t.Fatalf("first page: %+v", p)
		}
		seen := len(p.Individuals)
		found := false
		for _, x := range p.Individuals {
			found = found || (x.Person != nil && x.Person.Name == "Quillfeather, Zebediah" && x.Person.PostalCode == "09301")
		}
		w.must(200, "GET", base+"/individuals?limit=2&after="+p.Next, nil, &p)
		for _, x := range p.Individuals {
			found = found || (x.Person != nil && x.Person.Name == "Quillfeather, Zebediah")
		}
		if seen+len(p.Individuals) != 3 || p.Next != "" || !found {
			t.Fatalf("pages: %d+%d, next %q, canary found %v", seen, len(p.Individuals), p.Next, found)
		}
		code, raw = w.doAs(viewer, "GET", base+"/individuals", nil, &p)
		if code != 200 || len(p.Individuals) != 3 || p.Individuals[0].Person != nil || !p.Individuals[0].Redacted ||
			bytes.Contains(raw, []byte("Quillfeather")) {
			t.Fatalf("a stakeholder's list: %d %s", code, raw)
		}
		if code, out, _ := w.run("audit", "verify"); code != 0 || !strings.Contains(out, "intact") {
			t.Fatalf("audit verify: %d %s", code, out)
		}
	})
}
