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
	"github.com/wardhq/ward/internal/keys"
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
// description, a note and a transition note, its title, a task's title, an
// alert's summary (which becomes the title of the incident it opens) and a
// break-glass reason through the API, proves that the API returns it to the
// caller and never to a stakeholder (canaryFreeText), then looks for it in every byte Ward
// left behind: on SQLite the database file, its WAL and shared-memory files
// (copied while the server runs, as a file-level backup of a live database
// would be, and again after it stops), a copy of the database file, and the
// debug log; on PostgreSQL every row of every table read through SQL, and
// the log. It must be nowhere (45 CFR 164.312(a)(2)(iv)).
func TestCanaryPHINotStoredInPlaintext(t *testing.T) {
	t.Parallel()
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
			canaryFreeText(t, w)

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
			assertNoCanaryInPostgres(t, target.URL, keys.IncidentDescription, keys.IncidentEventNote, keys.IncidentTitle,
				keys.IncidentTaskTitle, keys.AlertSummary, keys.BreakGlassReason, keys.OfficerAlertReason)
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

// postgresTables returns the tables of the test's PostgreSQL schema,
// failing when there are too few for a migrated Ward.
func postgresTables(t *testing.T, d *db.DB) []string {
	t.Helper()
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
	return tables
}

// assertNoCanaryInPostgres reads every row of every table of the test's
// schema as text, as a dump would, and fails if any holds the canary. It
// also checks that the sealed columns hold sealed values only, and that
// each of written holds some.
func assertNoCanaryInPostgres(t *testing.T, url string, written ...keys.Column) {
	t.Helper()
	d, err := db.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tables := postgresTables(t, d)
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
	for _, c := range keys.Columns() {
		var plain, sealed int
		if err := d.R.QueryRow(`SELECT count(*) FILTER (WHERE `+c.Name+` NOT LIKE 'v1:%'),
			count(*) FILTER (WHERE `+c.Name+` LIKE 'v1:%') FROM `+c.Table+` WHERE `+c.Name+` <> ''`).Scan(&plain, &sealed); err != nil {
			t.Fatalf("%s: %v", c, err)
		}
		if plain != 0 {
			t.Errorf("%s: %d values not sealed", c, plain)
		}
		if slices.Contains(written, c) && sealed == 0 {
			t.Errorf("%s: no sealed value", c)
		}
	}
}

// canaryFreeText writes the canary into every other free-text field that
// is sealed (issue #15): an incident's title (edited), a task's title, an
// alert's summary, which opens an incident titled with it, and the reason
// for emergency access to a restricted incident. A caller who may read PHI
// gets each back, and finds the incidents by a word of the canary; a
// stakeholder reads none of them through any of those reads or a search,
// and sees the line Ward writes instead.
func canaryFreeText(t *testing.T, w *ward) {
	t.Helper()
	var inc incidentJSON
	w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Fax misdirected"}, &inc)
	path := "/api/v1/incidents/" + inc.ID
	w.must(http.StatusOK, "PATCH", path, map[string]any{"title": "Fax for " + canary}, nil)
	var task struct {
		ID string `json:"id"`
	}
	w.must(http.StatusCreated, "POST", path+"/tasks", map[string]any{"title": "Call " + canary}, &task)
	w.must(http.StatusOK, "PATCH", path+"/tasks/"+task.ID, map[string]any{"title": "Call back " + canary}, nil)

	_, ig := w.service("lab-interface", true, "alert", "events_v2", "")
	if code, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger","dedup_key":"lab-1",
		"payload":{"summary":"HL7 feed rejected result for `+canary+`","source":"lab1","severity":"critical"}}`, nil); code != 202 {
		t.Fatalf("alert: %d %s", code, body)
	}

	officer := w.tokenWithRole("canary-officer", "security_officer")
	stakeholder := w.tokenWithRole("canary-viewer", "stakeholder")
	var restricted incidentJSON
	if code, raw := w.doAs(officer, "POST", "/api/v1/incidents", map[string]any{"title": "records snooping", "restricted": true},
		&restricted); code != http.StatusCreated {
		t.Fatalf("restricted incident: %d %s", code, raw)
	}
	w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+restricted.Number+"/break-glass",
		map[string]any{"reason": "Need the chart of " + canary + " for triage now"}, nil)

	// The caller who may read PHI gets it back, and searches it.
	reads := []string{path, path + "/tasks", "/api/v1/incidents?q=quillfeather", "/api/v1/alerts"}
	for _, p := range reads {
		if raw := w.must(http.StatusOK, "GET", p, nil, nil); !bytes.Contains(raw, []byte(canary)) {
			t.Errorf("GET %s does not return the canary to a caller who may read PHI: %s", p, raw)
		}
	}
	if code, raw := w.doAs(officer, "GET", "/api/v1/incidents/"+restricted.Number+"/grants", nil, nil); code != http.StatusOK ||
		!bytes.Contains(raw, []byte(canary)) {
		t.Errorf("grants: %d %s", code, raw)
	}

	// A stakeholder reads none of it.
	var alerts []struct {
		ID              string `json:"id"`
		Summary         string `json:"summary"`
		SummaryRedacted bool   `json:"summary_redacted"`
	}
	if code, raw := w.doAs(stakeholder, "GET", "/api/v1/alerts", nil, &alerts); code != http.StatusOK || len(alerts) != 1 ||
		!alerts[0].SummaryRedacted || alerts[0].Summary != "critical alert from lab-interface (INC-"+inc.Number[4:8]+"-0003)" {
		t.Errorf("stakeholder's alerts: %d %s", code, raw)
	}
	var list struct {
		Items []incidentJSON `json:"items"`
	}
	w.doAs(stakeholder, "GET", "/api/v1/incidents?q="+inc.Number, nil, &list)
	if len(list.Items) != 1 || list.Items[0].Title != inc.Number+": sev3 incident" {
		t.Errorf("stakeholder searching %s: %+v", inc.Number, list.Items)
	}
	for _, p := range append(reads, "/api/v1/incidents", "/api/v1/alerts/"+alerts[0].ID, "/api/v1/incidents?q=Zebediah") {
		code, raw := w.doAs(stakeholder, "GET", p, nil, nil)
		if code != http.StatusOK || leaks(raw) {
			t.Errorf("stakeholder GET %s: %d %s", p, code, raw)
		}
	}
}

// tokenWithRole makes an API token of role and returns its secret.
func (w *ward) tokenWithRole(name, role string) string {
	w.t.Helper()
	code, out, errs := w.run("token", "create", "--name", name, "--role", role)
	if code != 0 {
		w.t.Fatalf("token create %s: %s", role, errs)
	}
	return strings.TrimSpace(out)
}
