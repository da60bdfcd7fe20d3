package e2e

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/keys"
)

// TestUpgradeSealsAlertFields: alerts, alert groups and maintenance
// windows as a Ward before migration 0028 left them (every field in
// plaintext, no dedup hash, group keys in clear) are sealed and hashed when
// Ward next starts, before it serves: the alert reads as before, a repeat
// of its dedup key deduplicates into it, a new alert of its group joins its
// incident, and the window's reason reads as before.
func TestUpgradeSealsAlertFields(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		data := t.TempDir()
		w := startWardAt(t, data, dbURL)
		svcID, ig := w.service("lab-interface", false, "source", "events_v2", "")
		trigger := func(dedup string) string {
			return `{"routing_key":"` + ig.Key + `","event_action":"trigger","dedup_key":"` + dedup + `",
				"payload":{"summary":"placeholder","source":"lab1","severity":"error","group":"g"}}`
		}
		if code, body := w.post("/v2/enqueue", trigger("d1"), nil); code != 202 {
			t.Fatalf("alert: %d %s", code, body)
		}
		w.must(http.StatusCreated, "POST", "/api/v1/services/"+svcID+"/maintenance", map[string]any{
			"starts_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339),
			"ends_at":   time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339), "reason": "placeholder"}, nil)
		inc := w.alerts("")[0].IncidentNumber
		w.stop()

		// The rows as Ward left them before migration 0028.
		d := openStore(t, w)
		old := "mrn " + canary
		for _, q := range []string{
			"UPDATE alerts SET dedup_hash = NULL, dedup_key = '" + old + "', source = 'pacs " + canary +
				"', component = '', grp = 'ward " + canary + "', class = ''",
			"UPDATE alert_groups SET group_hash = 'unhashed:alert:" + old + "'",
			forgetSealedColumns,
			"UPDATE maintenance_windows SET reason = 'chart of " + canary + "'",
		} {
			if _, err := d.W.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		d.Close()

		w = startWardAt(t, data, dbURL, debugLog)
		d = openStore(t, w)
		for _, c := range []keys.Column{keys.AlertDedupKey, keys.AlertSource, keys.AlertGroup, keys.MaintenanceReason} {
			var v string
			if err := d.R.QueryRow("SELECT " + c.Name + " FROM " + c.Table).Scan(&v); err != nil {
				t.Fatal(err)
			}
			if !keys.Sealed(v) || strings.Contains(v, "Quillfeather") {
				t.Errorf("%s holds %q after the start", c, v)
			}
		}
		var unhashed int
		if err := d.R.QueryRow(`SELECT (SELECT count(*) FROM alerts WHERE dedup_hash IS NULL) +
			(SELECT count(*) FROM alert_groups WHERE group_hash LIKE '%Quillfeather%')`).Scan(&unhashed); err != nil || unhashed != 0 {
			t.Errorf("%d rows left unhashed (%v)", unhashed, err)
		}
		if !strings.Contains(w.logs.String(), "alert_fields_sealed") {
			t.Errorf("the start did not say it sealed alert fields: %s", w.logs.String())
		}
		if code, body := w.post("/v2/enqueue", trigger(old), nil); code != 202 {
			t.Fatalf("repeat: %d %s", code, body)
		}
		as := w.alerts("")
		if len(as) != 1 || as[0].Count != 2 || as[0].DedupKey != old || as[0].IncidentNumber != inc {
			t.Fatalf("the old alert's repeat: %+v", as)
		}
		for _, p := range []string{"/api/v1/alerts", "/api/v1/services/" + svcID + "/maintenance"} {
			if raw := w.must(http.StatusOK, "GET", p, nil, nil); !bytes.Contains(raw, []byte(canary)) {
				t.Errorf("GET %s after the upgrade: %s", p, raw)
			}
		}
	})
}
