package e2e

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/keys"
)

// forgetSealedColumns removes the records of columns found free of
// plaintext (keys.SealPlaintext), which a Ward older than the sealing of
// those columns had not written: with them, the next start would not look
// at the columns again.
const forgetSealedColumns = "DELETE FROM counters WHERE name LIKE 'plaintext_sealed:%'"

// TestUpgradeSealsPlaintext: values an older Ward left in plaintext in
// columns sealed since (an incident's title, unindexed; a task's title; an
// alert's summary; a break-glass reason) are sealed when Ward next starts,
// before it serves, and read and searched as before.
func TestUpgradeSealsPlaintext(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		data := t.TempDir()
		w := startWardAt(t, data, dbURL)
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "placeholder"}, &inc)
		var task struct {
			ID string `json:"id"`
		}
		w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+inc.ID+"/tasks", map[string]any{"title": "placeholder"}, &task)
		_, ig := w.service("lab-interface", false, "alert", "events_v2", "")
		if code, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger","dedup_key":"d1",
			"payload":{"summary":"placeholder","source":"lab1","severity":"error"}}`, nil); code != 202 {
			t.Fatalf("alert: %d %s", code, body)
		}
		w.stop()

		// The rows as Ward left them before issue #15.
		d := openStore(t, w)
		for _, q := range []string{
			"UPDATE incidents SET title = 'Fax for " + canary + "', search_version = 0 WHERE id = '" + inc.ID + "'",
			"DELETE FROM incident_title_tokens WHERE incident_id = '" + inc.ID + "'",
			forgetSealedColumns,
			"UPDATE incident_tasks SET title = 'Call " + canary + "'",
			"UPDATE alerts SET summary = 'Result for " + canary + " rejected'",
		} {
			if _, err := d.W.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		d.Close()

		w = startWardAt(t, data, dbURL, debugLog)
		d = openStore(t, w)
		for _, c := range []keys.Column{keys.IncidentTitle, keys.IncidentTaskTitle, keys.AlertSummary} {
			rows, err := d.R.Query("SELECT " + c.Name + " FROM " + c.Table)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var v string
				if err := rows.Scan(&v); err != nil {
					t.Fatal(err)
				}
				if !keys.Sealed(v) || strings.Contains(v, "Quillfeather") {
					t.Errorf("%s holds %q after the start", c, v)
				}
			}
			rows.Close()
		}
		for _, p := range []string{"/api/v1/incidents?q=quillfeather", "/api/v1/incidents/" + inc.ID + "/tasks", "/api/v1/alerts"} {
			if raw := w.must(http.StatusOK, "GET", p, nil, nil); !bytes.Contains(raw, []byte(canary)) {
				t.Errorf("GET %s after the upgrade: %s", p, raw)
			}
		}
		if !strings.Contains(w.logs.String(), "incident_titles_indexed") {
			t.Errorf("the start did not say it indexed titles: %s", w.logs.String())
		}
	})
}
