package e2e

import (
	"bytes"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// canary is fake PHI, distinctive enough that finding it anywhere means a leak.
const canary = "Zebediah Quillfeather MRN 99172-CANARY"

// TestCanaryPHINotStoredInPlaintext writes canary PHI into an incident's
// description, a note and a transition note, then looks for it in every
// byte Ward left on disk (database, WAL, shared memory, a backup copy) and
// in its debug log: it must be nowhere, while the API still returns it.
func TestCanaryPHINotStoredInPlaintext(t *testing.T) {
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			url := target.URL
			if target.Dialect == db.SQLite {
				url = ""
			}
			data := t.TempDir()
			w := startWardAt(t, data, url, func(e *app.Env) {
				for i, a := range e.Args {
					if a == "warn" {
						e.Args[i] = "debug"
					}
				}
			})
			var inc incidentJSON
			w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Misdirected lab results",
				"description": "Results for " + canary + " sent to the wrong clinic", "phi_suspected": true}, &inc)
			path := "/api/v1/incidents/" + inc.ID
			w.must(http.StatusCreated, "POST", path+"/notes", map[string]any{"body": "Called " + canary}, nil)
			w.must(http.StatusOK, "POST", path+"/transitions", map[string]any{"to": "analysis"}, nil)
			w.must(http.StatusOK, "POST", path+"/transitions", map[string]any{"to": "containment", "note": "Recalled fax for " + canary}, nil)
			w.must(http.StatusOK, "PATCH", path, map[string]any{"description": canary + " (corrected)"}, nil)
			if raw := w.must(http.StatusOK, "GET", path+"/timeline", nil, nil); bytes.Count(raw, []byte(canary)) != 2 {
				t.Fatalf("the API should return both notes in plaintext: %s", raw)
			}
			w.stop()

			if strings.Contains(w.logs.String(), "Zebediah") {
				t.Fatal("canary PHI in the server log")
			}
			if target.Dialect == db.SQLite {
				dbFile := filepath.Join(data, "ward.db")
				raw, err := os.ReadFile(dbFile)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(data, "backup.db"), raw, 0o600); err != nil {
					t.Fatal(err)
				}
				files, _ := filepath.Glob(filepath.Join(data, "*"))
				scanned := 0
				for _, f := range files {
					b, err := os.ReadFile(f)
					if err != nil {
						continue // folders
					}
					scanned++
					if bytes.Contains(b, []byte("Zebediah")) {
						t.Errorf("canary PHI in plaintext in %s", filepath.Base(f))
					}
				}
				if scanned < 3 {
					t.Fatalf("scanned only %d files: %v", scanned, files)
				}
				return
			}
			d, err := db.Open(t.Context(), target.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			var n int
			if err := d.R.QueryRow(`SELECT (SELECT count(*) FROM incidents WHERE description LIKE '%Zebediah%')
				+ (SELECT count(*) FROM incident_events WHERE note LIKE '%Zebediah%')`).Scan(&n); err != nil || n != 0 {
				t.Fatalf("canary PHI in plaintext columns: %d rows (%v)", n, err)
			}
		})
	}
}
