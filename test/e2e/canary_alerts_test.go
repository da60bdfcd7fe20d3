package e2e

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/keys"
)

// TestCanaryAlertFieldsNotStoredInPlaintext sends alerts through the
// Events API v2, an Alertmanager webhook and a generic JSON webhook whose
// dedup key, group key, source, component, group and class all hold canary
// PHI, repeats and resolves them by those keys (dedup and grouping still
// work), sets a maintenance window whose reason holds it, and has a webhook
// receiver refuse a page with it in its answer (the delivery error). A
// caller who may read PHI gets each back; a stakeholder gets none. Then no
// byte Ward left behind holds it: the SQLite database, its WAL and
// shared-memory files (copied while the server runs and after it stops)
// and the debug log; on PostgreSQL every row of every table.
func TestCanaryAlertFieldsNotStoredInPlaintext(t *testing.T) {
	t.Parallel()
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			url := target.URL
			if target.Dialect == db.SQLite {
				url = ""
			}
			data := t.TempDir()
			fast := func(e *app.Env) { e.Args = append(e.Args, "--paging-poll", "50ms") }
			w := startWardAt(t, data, url, debugLog, fast, allowLoopback)
			refusing := startRefusingHook(t)
			incs, hookSvc := canaryAlerts(t, w, data, url, refusing)
			stakeholder := w.tokenWithRole("canary-alert-viewer", "stakeholder")
			canaryAlertReads(t, w, stakeholder, incs, hookSvc)

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
			if target.Dialect == db.Postgres {
				assertNoCanaryInPostgres(t, target.URL, keys.AlertDedupKey, keys.AlertSource,
					keys.AlertComponent, keys.AlertGroup, keys.AlertClass, keys.MaintenanceReason, keys.NotificationLastError)
				return
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
			raw, err := os.ReadFile(filepath.Join(data, "ward.db"))
			if err != nil || len(raw) == 0 {
				t.Fatalf("ward.db: %d bytes, %v", len(raw), err)
			}
		})
	}
}

// refusingHook answers the first request (the contact method's test
// delivery) 200 and every later one 400 with canary PHI in its one-line
// body, which Ward keeps as the delivery error.
type refusingHook struct {
	*httptest.Server
	n atomic.Int64
}

func startRefusingHook(t *testing.T) *refusingHook {
	h := &refusingHook{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if h.n.Add(1) == 1 {
			return
		}
		rw.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(rw, "no chart for "+canary)
	}))
	t.Cleanup(h.Close)
	return h
}

// canaryAlerts sends the alerts and sets the window, checking that the
// tool's keys still deduplicate and group, and returns the numbers of the
// incidents the alerts opened and the id of the service with the window.
func canaryAlerts(t *testing.T, w *ward, data, dbURL string, hook *refusingHook) ([]string, string) {
	t.Helper()
	if code, _, errs := runWardIn(t, data, dbURL, "orange lantern over quiet harbour\n", "user", "create",
		"--username", "bob", "--name", "bob", "--email", "bob@example.org", "--role", "responder", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", errs)
	}
	w.must(201, "POST", "/api/v1/users/bob/contact-methods", map[string]any{"kind": "webhook", "address": hook.URL + "/page"}, nil)
	eventually(t, "the webhook test delivery", func() bool { return hook.n.Load() == 1 })
	w.must(201, "POST", "/api/v1/escalation-policies", map[string]any{"name": "lab",
		"steps": []map[string]any{{"delay_minutes": 5, "targets": []map[string]string{{"type": "user", "id": "bob"}}}}}, nil)

	// The paged service's alert is paged to bob, whose receiver refuses it.
	var paged struct{ ID string }
	w.must(201, "POST", "/api/v1/services", map[string]any{"name": "lab-paged", "escalation_policy": "lab"}, &paged)
	var pagedKey integrationKey
	w.must(201, "POST", "/api/v1/services/"+paged.ID+"/integrations", map[string]any{"kind": "events_v2", "name": "mon"}, &pagedKey)
	if code, body := w.post("/v2/enqueue", `{"routing_key":"`+pagedKey.Key+`","event_action":"trigger","dedup_key":"p1",
		"payload":{"summary":"interface down","source":"lab","severity":"critical"}}`, nil); code != 202 {
		t.Fatalf("paged alert: %d %s", code, body)
	}
	pagedInc := w.alerts("service=" + paged.ID)[0].IncidentNumber

	svc, v2 := w.service("lab-feed", false, "source", "events_v2", "")
	trigger := func(action, key string) string {
		return `{"routing_key":"` + v2.Key + `","event_action":"` + action + `","dedup_key":"mrn-` + key + ` ` + canary + `",
			"payload":{"summary":"HL7 feed rejected a result","source":"pacs ` + canary + `","severity":"critical",
			"component":"chart ` + canary + `","group":"ward ` + canary + `","class":"result ` + canary + `"}}`
	}
	for _, ev := range []string{trigger("trigger", "1"), trigger("trigger", "1"), trigger("trigger", "2"), trigger("resolve", "2")} {
		if code, body := w.post("/v2/enqueue", ev, nil); code != 202 {
			t.Fatalf("events v2: %d %s", code, body)
		}
	}
	as := w.alerts("service=" + svc)
	if len(as) != 2 || as[1].Count != 2 || as[1].Status != "triggered" || as[0].Status != "resolved" ||
		!strings.Contains(as[1].DedupKey, canary) {
		t.Fatalf("events v2 alerts, deduplicated and resolved by their sealed keys: %+v", as)
	}
	incs := []string{pagedInc, as[1].IncidentNumber}

	_, am := w.service("lab-metrics", false, "source", "alertmanager", "")
	amBody := func(status string) string {
		return fmt.Sprintf(`{"version":"4","groupKey":"{}:{ward=\"%s\"}","status":%q,"receiver":"ward","alerts":[
			{"status":%q,"labels":{"alertname":"Result %s","instance":"pacs %s","job":"lab %s","component":"chart %s","severity":"critical"},
			"annotations":{"summary":"result rejected"},"startsAt":"2026-11-28T00:00:00Z","fingerprint":"fp %s"},
			{"status":%q,"labels":{"alertname":"Result %s","instance":"ris %s","job":"lab %s","severity":"critical"},
			"annotations":{"summary":"result rejected"},"startsAt":"2026-11-28T00:00:00Z","fingerprint":"fp2 %s"}]}`,
			canary, status, status, canary, canary, canary, canary, canary, status, canary, canary, canary, canary)
	}
	for _, b := range []string{amBody("firing"), amBody("firing")} {
		if code, body := w.post("/intake/alertmanager/"+am.Key, b, nil); code != 202 {
			t.Fatalf("alertmanager: %d %s", code, body)
		}
	}
	ams := w.alerts("service=lab-metrics")
	if len(ams) != 2 || ams[0].Count != 2 || ams[1].Count != 2 || ams[0].IncidentNumber != ams[1].IncidentNumber {
		t.Fatalf("alertmanager alerts of one group, each repeated once: %+v", ams)
	}
	incs = append(incs, ams[0].IncidentNumber)

	hookSvc, wh := w.service("lab-hook", false, "source", "webhook", "")
	one := `{"event_action":"trigger","dedup_key":"hook ` + canary + `","group_key":"grp ` + canary + `","summary":"interface down",
		"source":"src ` + canary + `","severity":"error","component":"cmp ` + canary + `","group":"g ` + canary + `","class":"c ` + canary + `"}`
	for range 2 {
		if code, body := w.post("/intake/webhook/"+wh.Key, one, nil); code != 202 {
			t.Fatalf("webhook: %d %s", code, body)
		}
	}
	hs := w.alerts("service=" + hookSvc)
	if len(hs) != 1 || hs[0].Count != 2 {
		t.Fatalf("webhook alert repeated: %+v", hs)
	}
	incs = append(incs, hs[0].IncidentNumber)

	w.must(201, "POST", "/api/v1/services/"+hookSvc+"/maintenance", map[string]any{
		"ends_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "reason": "moving the chart of " + canary}, nil)

	// The page to bob is refused with the canary in the answer.
	var ns []struct {
		Status    string `json:"status"`
		LastError string `json:"last_error"`
	}
	eventually(t, "the refused page", func() bool {
		w.must(200, "GET", "/api/v1/incidents/"+incs[0]+"/notifications", nil, &ns)
		return len(ns) > 0 && strings.Contains(ns[0].LastError, canary)
	})
	return incs, hookSvc
}

// canaryAlertReads: the admin reads every canary back; the stakeholder
// reads none, and is told what was withheld.
func canaryAlertReads(t *testing.T, w *ward, stakeholder string, incs []string, hookSvc string) {
	t.Helper()
	as := w.alerts("")
	reads := []string{"/api/v1/alerts", "/api/v1/alerts/" + as[0].ID, "/api/v1/services/" + hookSvc + "/maintenance",
		"/api/v1/incidents/" + incs[0] + "/notifications"}
	for _, p := range reads {
		if raw := w.must(200, "GET", p, nil, nil); !bytes.Contains(raw, []byte(canary)) {
			t.Errorf("GET %s does not return the canary to a caller who may read PHI: %s", p, raw)
		}
	}
	for _, p := range reads {
		code, raw := w.doAs(stakeholder, "GET", p, nil, nil)
		if code != http.StatusOK || leaks(raw) {
			t.Errorf("stakeholder GET %s: %d %s", p, code, raw)
		}
	}
	for i, want := range []string{`"fields_redacted":true`, `"fields_redacted":true`, `"reason_redacted":true`, `"last_error_redacted":true`} {
		if _, raw := w.doAs(stakeholder, "GET", reads[i], nil, nil); !bytes.Contains(raw, []byte(want)) {
			t.Errorf("stakeholder GET %s does not say %s: %s", reads[i], want, raw)
		}
	}
}
