package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestIndividualsCSVStrict imports, through the API on each database,
// the lists issue #15 found read wrong: an unterminated quote is a problem
// on its line and the next line is still imported (it was "rows 1,
// created 1, rejected 0", the stored name the rest of the file); a NUL in
// a field, a 1 MiB name and a name of zero-width spaces are refused on
// their lines naming the field; a UTF-16 file is refused as UTF-16 (it was
// "no name column"); UTF-8 with and without a byte-order mark read alike.
func TestIndividualsCSVStrict(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Strict CSV"}, &inc)
		base := "/api/v1/incidents/" + inc.ID + "/breach-case"
		w.must(http.StatusCreated, "POST", base, nil, nil)
		type problem struct {
			Line   int    `json:"line"`
			Field  string `json:"field"`
			Reason string `json:"reason"`
		}
		var imp struct {
			Rows, Created, Rejected int
			Problems                []problem `json:"problems"`
		}
		upload := func(list string) {
			t.Helper()
			code, raw := w.postCSV(w.token, base+"/individuals/import", list)
			if code != http.StatusOK {
				t.Fatalf("import: %d %s", code, raw)
			}
			imp.Problems = nil
			if err := json.Unmarshal(raw, &imp); err != nil {
				t.Fatal(err)
			}
		}
		upload("name,state\n\"Ann Lee,CA\nBo Ray,OR\n")
		if imp.Created != 1 || imp.Rejected != 1 || len(imp.Problems) != 1 || imp.Problems[0].Line != 2 ||
			!strings.Contains(imp.Problems[0].Reason, "not closed") {
			t.Errorf("unterminated quote: %+v", imp)
		}
		upload("name,state,city\nCy Dee,CA,Fres\x00no\n" + strings.Repeat("x", 1<<20) + ",CA,Fresno\n\u200b\u200b,CA,Fresno\nDi Eve,CA,Fresno\n")
		want := []problem{{2, "city", "contains a NUL character"}, {3, "name", "is 1048576 characters long; the limit is 1000"},
			{4, "name", "must contain a visible character"}}
		if imp.Created != 1 || imp.Rejected != 3 || len(imp.Problems) != 3 {
			t.Fatalf("NUL, 1 MiB name, invisible name: %+v", imp)
		}
		for i, p := range want {
			if imp.Problems[i] != p {
				t.Errorf("problem %d: %+v, want %+v", i, imp.Problems[i], p)
			}
		}
		upload("\uFEFFname,state\nEd Fox,CA\n")
		bom := imp.Created
		upload("name,state\nFay Gus,CA\n")
		if bom != 1 || imp.Created != 1 {
			t.Errorf("UTF-8 with a BOM created %d, without %d", bom, imp.Created)
		}
		utf16 := "\xff\xfe"
		for _, r := range "name,state\nHal Ivy,CA\n" {
			utf16 += string([]byte{byte(r), 0})
		}
		if code, raw := w.postCSV(w.token, base+"/individuals/import", utf16); code != http.StatusUnprocessableEntity || !strings.Contains(string(raw), "UTF-16") {
			t.Errorf("UTF-16 list: %d %s", code, raw)
		}
		var counts struct {
			Individuals int `json:"individuals"`
		}
		w.must(http.StatusOK, "GET", base+"/individuals/counts", nil, &counts)
		if counts.Individuals != 4 {
			t.Errorf("individuals on the case: %d, want 4 (Bo Ray, Di Eve, Ed Fox, Fay Gus)", counts.Individuals)
		}
	})
}
