package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/breach"
)

// TestBreachImportCLI imports a list with `ward breach import` beside a
// running server, then again: the second run updates, creates nothing,
// and the case's counts show through the API, on both databases.
func TestBreachImportCLI(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Backup tape lost", "category": "loss"}, &inc)
		w.must(201, "POST", "/api/v1/incidents/"+inc.ID+"/breach-case", nil, nil)
		var b strings.Builder
		b.WriteString("name,state,address1,city,zip\n")
		for i := range 1200 {
			fmt.Fprintf(&b, "Person %d,%s,%d Elm St,Springfield,0%04d\n", i, []string{"CA", "OR", "WA"}[i%3], i, i)
		}
		b.WriteString("No State,ZZ,,,\n")
		file := filepath.Join(t.TempDir(), "list.csv")
		if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		if code, _, errs := w.run("breach", "import", file); code == 0 || !strings.Contains(errs, "--incident") {
			t.Fatalf("without --incident: %d %s", code, errs)
		}
		code, out, errs := w.run("breach", "import", "--incident", inc.Number, file)
		if code != 0 || !strings.Contains(out, "1201 rows read: 1200 new, 0 updated, 1 rejected") || !strings.Contains(out, "line 1202: state:") {
			t.Fatalf("import: %d %q %q", code, out, errs)
		}
		if !strings.Contains(errs, "importing") {
			t.Fatalf("no progress on stderr: %q", errs)
		}
		code, out, errs = w.run("breach", "import", "--incident", inc.Number, file)
		if code != 0 || !strings.Contains(out, "0 new, 1200 updated") {
			t.Fatalf("re-import: %d %q %q", code, out, errs)
		}
		var counts struct {
			Individuals int `json:"individuals"`
			ByState     []struct {
				State       string `json:"state"`
				Individuals int    `json:"individuals"`
			} `json:"by_state"`
		}
		w.must(200, "GET", "/api/v1/incidents/"+inc.ID+"/breach-case/individuals/counts", nil, &counts)
		if counts.Individuals != 1200 || len(counts.ByState) != 3 || counts.ByState[0].Individuals != 400 {
			t.Fatalf("counts: %+v", counts)
		}
		var recount struct {
			Individuals int `json:"individuals"`
		}
		w.must(200, "POST", "/api/v1/incidents/"+inc.ID+"/breach-case/individuals/recount", nil, &recount)
		if recount.Individuals != 1200 {
			t.Fatalf("recount: %+v", recount)
		}
		var imports []struct {
			Rows       int     `json:"rows"`
			FinishedAt *string `json:"finished_at"`
			SHA256     string  `json:"sha256"`
		}
		w.must(200, "GET", "/api/v1/incidents/"+inc.ID+"/breach-case/individuals/imports", nil, &imports)
		if len(imports) != 2 || imports[0].Rows != 1201 || imports[0].FinishedAt == nil || len(imports[0].SHA256) != 64 {
			t.Fatalf("imports: %+v", imports)
		}
	})
}

// brokenBody gives its bytes, then fails: an upload cut off.
type brokenBody struct{ r io.Reader }

func (b *brokenBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err == io.EOF {
		return n, errors.New("connection lost")
	}
	return n, err
}

// TestBreachImportResumeAPI: an upload cut off after the first batch
// committed resumes, with ?sha256=, after the last committed line; the
// counts cover the whole file once. On both databases.
func TestBreachImportResumeAPI(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Fax misdirected"}, &inc)
		base := "/api/v1/incidents/" + inc.ID + "/breach-case"
		w.must(201, "POST", base, nil, nil)
		var b strings.Builder
		b.WriteString("name,state\n")
		rows := breach.ImportBatchRows + 500
		for i := range rows {
			fmt.Fprintf(&b, "Person %d,TX\n", i)
		}
		file := b.String()
		sum := sha256.Sum256([]byte(file))
		path := base + "/individuals/import?sha256=" + hex.EncodeToString(sum[:])
		cut := strings.Index(file, fmt.Sprintf("Person %d,", breach.ImportBatchRows+100))
		req, err := http.NewRequest("POST", w.url+path, &brokenBody{strings.NewReader(file[:cut])})
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "text/csv")
		req.Header.Set("Authorization", "Bearer "+w.token)
		if resp, err := w.client.Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("a cut-off upload answered %d", resp.StatusCode)
		}
		var imports []struct {
			Rows int `json:"rows"`
		}
		eventually(t, "the first batch committed", func() bool {
			w.must(200, "GET", base+"/individuals/imports", nil, &imports)
			return len(imports) == 1 && imports[0].Rows == breach.ImportBatchRows
		})
		var res struct {
			Resumed bool `json:"resumed"`
			Rows    int  `json:"rows"`
			Created int  `json:"created"`
			Counts  struct {
				Individuals int `json:"individuals"`
			} `json:"counts"`
		}
		code, raw := w.postCSV(w.token, path, file)
		if code != 200 {
			t.Fatalf("resume: %d %s", code, raw)
		}
		if err := json.Unmarshal(raw, &res); err != nil {
			t.Fatal(err)
		}
		if !res.Resumed || res.Rows != rows || res.Created != rows || res.Counts.Individuals != rows {
			t.Fatalf("resumed import: %s", raw)
		}
	})
}
