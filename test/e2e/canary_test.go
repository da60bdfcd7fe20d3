package e2e

import (
	"bytes"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// canary is fake PHI, distinctive enough that finding it anywhere means a leak.
const canary = "Zebediah Quillfeather MRN 99172-CANARY"

// canaryMarks are the parts of canary searched for in raw bytes: long
// enough that random ciphertext never spells them by chance.
var canaryMarks = [][]byte{[]byte("Zebediah"), []byte("Quillfeather")}

// leaks reports whether b holds canary PHI in plaintext.
func leaks(b []byte) bool {
	for _, m := range canaryMarks {
		if bytes.Contains(b, m) {
			return true
		}
	}
	return false
}

// debugLog makes the server log at debug level, the most it ever logs.
func debugLog(e *app.Env) {
	for i, a := range e.Args {
		if a == "--log-level" {
			e.Args[i+1] = "debug"
		}
	}
}

// TestCanaryPHINotStoredInPlaintext writes canary PHI into an incident's
// description, a note and a transition note through the API, proves that
// the API returns it to the caller, then looks for it in every byte Ward
// left behind: on SQLite the database file, its WAL and shared-memory files
// (copied while the server runs, as a file-level backup of a live database
// would be, and again after it stops), a copy of the database file, and the
// debug log; on PostgreSQL every row of every table read through SQL, and
// the log. It must be nowhere (45 CFR 164.312(a)(2)(iv)).
func TestCanaryPHINotStoredInPlaintext(t *testing.T) {
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			url := target.URL
			if target.Dialect == db.SQLite {
				url = ""
			}
			data := t.TempDir()
			w := startWardAt(t, data, url, debugLog)
			var inc incidentJSON
			w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Misdirected lab results",
				"description": "Results for " + canary + " sent to the wrong clinic", "phi_suspected": true}, &inc)
			path := "/api/v1/incidents/" + inc.ID
			w.must(http.StatusCreated, "POST", path+"/notes", map[string]any{"body": "Called " + canary}, nil)
			w.must(http.StatusOK, "POST", path+"/transitions", map[string]any{"to": "analysis"}, nil)
			w.must(http.StatusOK, "POST", path+"/transitions", map[string]any{"to": "containment", "note": "Recalled fax for " + canary}, nil)
			w.must(http.StatusOK, "PATCH", path, map[string]any{"description": canary + " (corrected)"}, nil)

			// The caller with PHI access gets the plaintext back.
			var got struct {
				Description string `json:"description"`
			}
			if w.must(http.StatusOK, "GET", path, nil, &got); got.Description != canary+" (corrected)" {
				t.Fatalf("GET returned description %q", got.Description)
			}
			if raw := w.must(http.StatusOK, "GET", "/api/v1/incidents", nil, nil); !bytes.Contains(raw, []byte(canary+" (corrected)")) {
				t.Fatalf("the list should return the description in plaintext: %s", raw)
			}
			if raw := w.must(http.StatusOK, "GET", path+"/timeline", nil, nil); bytes.Count(raw, []byte(canary)) != 2 {
				t.Fatalf("the timeline should return both notes in plaintext: %s", raw)
			}

			var live map[string][]byte
			if target.Dialect == db.SQLite {
				live = readDir(t, data)
				if len(live["ward.db-wal"]) == 0 {
					t.Fatalf("no WAL to search while the server runs: %v", slices.Sorted(maps.Keys(live)))
				}
			}
			w.stop()
			if leaks([]byte(w.logs.String())) {
				t.Error("canary PHI in the server log")
			}
			if !strings.Contains(w.logs.String(), `"level":"DEBUG"`) {
				t.Error("the log searched is not at debug level")
			}

			if target.Dialect == db.SQLite {
				raw, err := os.ReadFile(filepath.Join(data, "ward.db"))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(t.TempDir(), "backup.db"), raw, 0o600); err != nil {
					t.Fatal(err)
				}
				for name, b := range live {
					if leaks(b) {
						t.Errorf("canary PHI in plaintext in %s, copied while the server ran", name)
					}
				}
				for name, b := range readDir(t, data) {
					if leaks(b) {
						t.Errorf("canary PHI in plaintext in %s", name)
					}
				}
				if leaks(raw) {
					t.Error("canary PHI in plaintext in the backup copy")
				}
				return
			}
			assertNoCanaryInPostgres(t, target.URL)
		})
	}
}

// readDir returns the contents of every file in dir.
func readDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		out[e.Name()] = b
	}
	return out
}

// assertNoCanaryInPostgres reads every row of every table of the test's
// schema as text, as a dump would, and fails if any holds the canary. It
// also checks that the sealed columns do hold sealed values.
func assertNoCanaryInPostgres(t *testing.T, url string) {
	t.Helper()
	d, err := db.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	rows, err := d.R.Query("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Close(); err != nil || len(tables) < 10 {
		t.Fatalf("tables %v (%v)", tables, err)
	}
	for _, table := range tables {
		var n int
		// PostgreSQL only: a row cast to text is every column's value.
		q := `SELECT count(*) FROM "` + table + `" r WHERE r::text LIKE '%Zebediah%' OR r::text LIKE '%Quillfeather%'`
		if err := d.R.QueryRow(q).Scan(&n); err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		if n != 0 {
			t.Errorf("canary PHI in plaintext in %d rows of %s", n, table)
		}
	}
	// The description, the note, the containment note, and the timeline
	// entry of the breach case the incident opened (--breach-auto-open).
	var sealed int
	if err := d.R.QueryRow(`SELECT (SELECT count(*) FROM incidents WHERE description LIKE 'v1:%')
		+ (SELECT count(*) FROM incident_events WHERE note LIKE 'v1:%')`).Scan(&sealed); err != nil || sealed != 4 {
		t.Fatalf("sealed values in incidents.description and incident_events.note: %d, want 4 (%v)", sealed, err)
	}
}
