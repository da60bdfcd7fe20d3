package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/smtp"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/clock"
)

// post sends raw JSON to path with optional headers and returns the status
// and body.
func (w *ward) post(path, body string, header map[string]string) (int, string) {
	w.t.Helper()
	req, err := http.NewRequest(http.MethodPost, w.url+path, strings.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		w.t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	return resp.StatusCode, string(raw)
}

type integrationKey struct {
	ID       string `json:"id"`
	Kind     string `json:"kind"`
	Hint     string `json:"hint"`
	Endpoint string `json:"endpoint"`
	Key      string `json:"key"`
}

type alertView struct {
	ID              string          `json:"id"`
	DedupKey        string          `json:"dedup_key"`
	IncidentID      string          `json:"incident_id"`
	IncidentNumber  string          `json:"incident_number"`
	Status          string          `json:"status"`
	Suppressed      bool            `json:"suppressed"`
	Severity        string          `json:"severity"`
	Count           int64           `json:"count"`
	Details         json.RawMessage `json:"details"`
	DetailsRedacted bool            `json:"details_redacted"`
}

// service makes a service and an integration of kind on it and returns the
// integration with its key.
func (w *ward) service(name string, phi bool, groupBy, kind string, mapping string) (string, integrationKey) {
	w.t.Helper()
	var svc struct {
		ID string `json:"id"`
	}
	w.must(201, "POST", "/api/v1/services", map[string]any{"name": name, "handles_phi": phi, "group_by": groupBy}, &svc)
	body := map[string]any{"kind": kind, "name": kind + " prod"}
	if mapping != "" {
		body["mapping"] = json.RawMessage(mapping)
	}
	var ig integrationKey
	w.must(201, "POST", "/api/v1/services/"+svc.ID+"/integrations", body, &ig)
	if len(ig.Key) != 32 || !strings.HasSuffix(ig.Key, ig.Hint) {
		w.t.Fatalf("integration key %q with hint %q", ig.Key, ig.Hint)
	}
	return svc.ID, ig
}

func (w *ward) alerts(query string) []alertView {
	w.t.Helper()
	var as []alertView
	w.must(200, "GET", "/api/v1/alerts?"+query, nil, &as)
	return as
}

// TestEventsV2 pages Ward the way a PagerDuty-integrated tool does and
// checks every answer is the one the Events API v2 gives.
func TestEventsV2(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		svcID, ig := w.service("payments-api", true, "alert", "events_v2", "")
		if ig.Endpoint != "/v2/enqueue" {
			t.Fatalf("endpoint %q", ig.Endpoint)
		}
		event := `{"routing_key":"` + ig.Key + `","event_action":"trigger","dedup_key":"disk-full-db1",
			"payload":{"summary":"Disk full on db1","source":"db1.prod","severity":"critical","component":"postgres",
			"custom_details":{"patient_mrn":"CANARY-MRN-7731"}},"links":[{"href":"https://grafana.example/d/1","text":"dash"}],
			"images":[{"src":"https://grafana.example/i.png"}]}`
		code, body := w.post("/v2/enqueue", event, nil)
		if code != 202 || body != `{"status":"success","message":"Event processed","dedup_key":"disk-full-db1"}`+"\n" {
			t.Fatalf("trigger: %d %q", code, body)
		}
		// The same trigger again is deduplicated into the open alert.
		if code, body := w.post("/v2/enqueue", event, nil); code != 202 {
			t.Fatalf("repeat: %d %s", code, body)
		}
		as := w.alerts("service=" + svcID)
		if len(as) != 1 || as[0].Count != 2 || as[0].Status != "triggered" || as[0].Severity != "critical" || as[0].IncidentNumber == "" {
			t.Fatalf("alerts after two triggers: %+v", as)
		}
		var inc struct {
			Severity     string `json:"severity"`
			PHISuspected bool   `json:"phi_suspected"`
			Title        string `json:"title"`
		}
		w.must(200, "GET", "/api/v1/incidents/"+as[0].IncidentID, nil, &inc)
		// A PHI service's alert asks a responder to classify the incident
		// (on its page) rather than presume a breach.
		if inc.Severity != "sev1" || inc.PHISuspected || inc.Title != "Disk full on db1" {
			t.Fatalf("incident from a critical alert on a PHI service: %+v", inc)
		}
		var bc struct{}
		if code, _ := w.do("GET", "/api/v1/incidents/"+as[0].IncidentID+"/breach-case", nil, &bc); code != http.StatusNotFound {
			t.Fatalf("a breach case for an alert on a PHI service: %d, want none", code)
		}
		var one alertView
		w.must(200, "GET", "/api/v1/alerts/"+as[0].ID, nil, &one)
		if !strings.Contains(string(one.Details), "CANARY-MRN-7731") {
			t.Fatalf("admin reads details: %s", one.Details)
		}

		// A trigger without a dedup key gets one, returned to the caller.
		code, body = w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger",
			"payload":{"summary":"CPU high","source":"web1","severity":"warning"}}`, nil)
		var rep struct {
			DedupKey string `json:"dedup_key"`
		}
		if code != 202 || json.Unmarshal([]byte(body), &rep) != nil || rep.DedupKey == "" {
			t.Fatalf("trigger without dedup_key: %d %s", code, body)
		}

		// Acknowledge then resolve close the first alert.
		for _, action := range []string{"acknowledge", "resolve"} {
			code, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"`+action+`","dedup_key":"disk-full-db1"}`, nil)
			if code != 202 || !strings.Contains(body, `"dedup_key":"disk-full-db1"`) {
				t.Fatalf("%s: %d %s", action, code, body)
			}
		}
		w.must(200, "GET", "/api/v1/alerts/"+as[0].ID, nil, &one)
		if one.Status != "resolved" {
			t.Fatalf("after resolve: %+v", one)
		}

		// Bad input is answered as the Events API answers it, naming the field.
		bad := map[string]string{
			`{"routing_key":"` + ig.Key + `","event_action":"trigger","payload":{"source":"x","severity":"critical"}}`:           "'payload.summary' is missing or blank",
			`{"routing_key":"` + ig.Key + `","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"loud"}}`: "payload.severity",
			`{"routing_key":"` + ig.Key + `","event_action":"explode","dedup_key":"k"}`:                                          "event_action",
			`{"routing_key":"` + ig.Key + `","event_action":"resolve"}`:                                                          "dedup_key",
			`{"routing_key":"0123456789abcdef0123456789abcdef","event_action":"resolve","dedup_key":"k"}`:                        "Invalid routing key",
			`{"event_action":`: "",
		}
		for ev, want := range bad {
			code, body := w.post("/v2/enqueue", ev, nil)
			if code != 400 || !strings.Contains(body, `"status":"invalid event","message":"Event object is invalid"`) || !strings.Contains(body, want) {
				t.Errorf("%s: %d %s, want 400 naming %q", ev, code, body, want)
			}
		}
		if n := len(w.alerts("service=" + svcID)); n != 2 {
			t.Fatalf("bad events wrote alerts: %d alerts", n)
		}

		// A revoked key pages nobody.
		w.must(204, "DELETE", "/api/v1/integrations/"+ig.ID, nil, nil)
		if code, body := w.post("/v2/enqueue", event, nil); code != 400 || !strings.Contains(body, "Invalid routing key") {
			t.Fatalf("revoked key: %d %s", code, body)
		}
		if strings.Contains(w.logs.String(), "CANARY-MRN-7731") || strings.Contains(w.logs.String(), ig.Key) {
			t.Fatal("the server log holds alert details or an integration key")
		}
	})
}

const alertmanagerBatch = `{"version":"4","groupKey":"{}:{alertname=\"HighLatency\"}","status":"firing","receiver":"ward",
"commonLabels":{"alertname":"HighLatency"},"externalURL":"http://am:9093",
"alerts":[
 {"status":"firing","labels":{"alertname":"HighLatency","instance":"api-1","severity":"critical"},"annotations":{"summary":"p99 over 2s on api-1"},"startsAt":"2026-11-28T01:00:00Z","fingerprint":"f1"},
 {"status":"firing","labels":{"alertname":"HighLatency","instance":"api-2","severity":"warning"},"annotations":{"summary":"p99 over 2s on api-2"},"startsAt":"2026-11-28T01:00:00Z","fingerprint":"f2"},
 {"status":"resolved","labels":{"alertname":"HighLatency","instance":"api-3"},"annotations":{},"startsAt":"2026-11-28T00:00:00Z","fingerprint":"f3"}
]}`

// TestAlertmanagerIntake sends an Alertmanager webhook batch: the firing
// alerts of one group open one incident.
func TestAlertmanagerIntake(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		svcID, ig := w.service("api-gateway", false, "source", "alertmanager", "")
		code, body := w.post("/intake/alertmanager/"+ig.Key, alertmanagerBatch, nil)
		var rep struct {
			Events, New, Ignored int
			Opened               []string `json:"incidents_opened"`
		}
		if code != 202 || json.Unmarshal([]byte(body), &rep) != nil || rep.Events != 3 || rep.New != 2 || rep.Ignored != 1 || len(rep.Opened) != 1 {
			t.Fatalf("batch: %d %s", code, body)
		}
		as := w.alerts("service=" + svcID)
		if len(as) != 2 || as[0].IncidentID != as[1].IncidentID {
			t.Fatalf("a group's alerts must share one incident: %+v", as)
		}
		var inc struct {
			Severity string `json:"severity"`
			Number   string `json:"number"`
		}
		w.must(200, "GET", "/api/v1/incidents/"+as[0].IncidentID, nil, &inc)
		if inc.Severity != "sev1" || inc.Number != rep.Opened[0] {
			t.Fatalf("incident %+v, opened %v", inc, rep.Opened)
		}
		// The same batch with the key as a bearer token deduplicates.
		code, body = w.post("/intake/alertmanager", alertmanagerBatch, map[string]string{"Authorization": "Bearer " + ig.Key})
		if code != 202 || !strings.Contains(body, `"deduplicated":2`) || !strings.Contains(body, `"incidents_opened":[]`) {
			t.Fatalf("bearer repeat: %d %s", code, body)
		}
		// Resolving both firing alerts closes them.
		resolved := strings.ReplaceAll(alertmanagerBatch, `"status":"firing"`, `"status":"resolved"`)
		if code, body := w.post("/intake/alertmanager/"+ig.Key, resolved, nil); code != 202 || !strings.Contains(body, `"resolved":2`) {
			t.Fatalf("resolve: %d %s", code, body)
		}
		if open := w.alerts("status=triggered&service=" + svcID); len(open) != 0 {
			t.Fatalf("still triggered: %+v", open)
		}
		// The key only works on its own kind's endpoint.
		if code, body := w.post("/intake/grafana/"+ig.Key, `{}`, nil); code != 400 || !strings.Contains(body, "/intake/alertmanager/{key}") {
			t.Fatalf("wrong kind: %d %s", code, body)
		}
		if code, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"resolve","dedup_key":"f1"}`, nil); code != 400 || !strings.Contains(body, "alertmanager") {
			t.Fatalf("alertmanager key on /v2/enqueue: %d %s", code, body)
		}
		if code, _ := w.post("/intake/alertmanager", alertmanagerBatch, nil); code != 401 {
			t.Fatalf("no key: %d", code)
		}
		if code, body := w.post("/intake/alertmanager/"+ig.Key, `{"alerts":[{"status":"firing"}]}`, nil); code != 400 || !strings.Contains(body, "alerts[0]") {
			t.Fatalf("alert without labels: %d %s", code, body)
		}
	})
}

// TestWebhookMappingAndMaintenance maps a custom JSON body with JSON
// pointers, and checks a maintenance window records alerts without
// opening incidents.
func TestWebhookMappingAndMaintenance(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		mapping := `{"dedup_key":"/check/id","summary":"/check/title","source":"/host","severity":"/level",
			"action":"/state","action_map":{"down":"trigger","up":"resolve"},"severity_map":{"red":"critical","amber":"warning"}}`
		svcID, ig := w.service("uptime", false, "alert", "webhook", mapping)
		down := `{"check":{"id":"c-9","title":"Portal down"},"host":"portal.example","level":"red","state":"down"}`
		if code, body := w.post("/intake/webhook/"+ig.Key, down, nil); code != 202 || !strings.Contains(body, `"new":1`) {
			t.Fatalf("mapped trigger: %d %s", code, body)
		}
		as := w.alerts("service=" + svcID)
		if len(as) != 1 || as[0].DedupKey != "c-9" || as[0].Severity != "critical" {
			t.Fatalf("mapped alert: %+v", as)
		}
		if code, body := w.post("/intake/webhook/"+ig.Key, strings.Replace(down, `"down"`, `"up"`, 1), nil); code != 202 || !strings.Contains(body, `"resolved":1`) {
			t.Fatalf("mapped resolve: %d %s", code, body)
		}
		if code, body := w.post("/intake/webhook/"+ig.Key, `{"check":{"id":"c-9"},"state":"down"}`, nil); code != 400 || !strings.Contains(body, "/check/title") {
			t.Fatalf("missing mapped field: %d %s", code, body)
		}
		// A mapping that is not valid is refused when the integration is made.
		code, raw := w.do("POST", "/api/v1/services/"+svcID+"/integrations",
			map[string]any{"kind": "webhook", "name": "bad", "mapping": json.RawMessage(`{"summary":"no-slash"}`)}, nil)
		if code != 422 && code != 400 || !bytes.Contains(raw, []byte("mapping")) {
			t.Fatalf("bad mapping: %d %s", code, raw)
		}

		var win struct {
			ID string `json:"id"`
		}
		w.must(201, "POST", "/api/v1/services/"+svcID+"/maintenance", map[string]any{
			"ends_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "reason": "upgrade"}, &win)
		quiet := strings.Replace(down, `"c-9"`, `"c-10"`, 1)
		if code, body := w.post("/intake/webhook/"+ig.Key, quiet, nil); code != 202 || !strings.Contains(body, `"suppressed":1`) || !strings.Contains(body, `"incidents_opened":[]`) {
			t.Fatalf("trigger in maintenance: %d %s", code, body)
		}
		as = w.alerts("service=" + svcID)
		if len(as) != 2 || as[0].DedupKey != "c-10" || !as[0].Suppressed || as[0].IncidentID != "" {
			t.Fatalf("suppressed alert: %+v", as)
		}
		w.must(204, "DELETE", "/api/v1/maintenance/"+win.ID, nil, nil)
		if code, body := w.post("/intake/webhook/"+ig.Key, strings.Replace(down, `"c-9"`, `"c-11"`, 1), nil); code != 202 || !strings.Contains(body, `"new":1`) || strings.Contains(body, `"incidents_opened":[]`) {
			t.Fatalf("trigger after maintenance: %d %s", code, body)
		}
		code, raw = w.do("POST", "/api/v1/services/"+svcID+"/maintenance", map[string]any{
			"starts_at": "2098-01-01T00:00:00Z", "ends_at": "2098-02-01T00:00:00Z", "reason": "too long"}, nil)
		if code != 422 && code != 400 || !bytes.Contains(raw, []byte("7 days")) {
			t.Fatalf("a 31-day window: %d %s", code, raw)
		}
	})
}

// TestHeartbeat: a job pings its heartbeat; silence past the interval
// raises an alert and opens an incident, and the next ping resolves it.
func TestHeartbeat(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, url string) {
		clk := clock.NewFake(time.Now())
		w := startWardAt(t, t.TempDir(), url, func(e *app.Env) {
			e.Clock = clk
			e.Args = append(e.Args, "--paging-poll", "50ms")
		})
		var svc struct{ ID string }
		w.must(201, "POST", "/api/v1/services", map[string]any{"name": "nightly-backup", "group_by": "alert"}, &svc)
		for body, field := range map[string]string{
			`{"kind":"heartbeat","name":"hb"}`:                            "interval_seconds",
			`{"kind":"heartbeat","name":"hb","interval_seconds":30}`:      "interval_seconds",
			`{"kind":"events_v2","name":"hb","interval_seconds":300}`:     "interval_seconds",
			`{"kind":"heartbeat","name":"hb","interval_seconds":9999999}`: "interval_seconds",
		} {
			if code, raw := w.do("POST", "/api/v1/services/"+svc.ID+"/integrations", body, nil); code != 422 || !strings.Contains(string(raw), field) {
				t.Errorf("%s: %d %s", body, code, raw)
			}
		}
		var hb integrationKey
		w.must(201, "POST", "/api/v1/services/"+svc.ID+"/integrations", `{"kind":"heartbeat","name":"backup job","interval_seconds":120}`, &hb)
		if hb.Endpoint != "/heartbeat/{key}" {
			t.Fatalf("endpoint %q", hb.Endpoint)
		}
		if code, body := w.get("/heartbeat/" + hb.Key); code != 200 || !strings.Contains(body, `"status":"ok"`) {
			t.Fatalf("ping: %d %s", code, body)
		}
		if code, _ := w.get("/heartbeat/0123456789abcdef0123456789abcdef"); code != 401 {
			t.Fatalf("unknown key: %d", code)
		}
		clk.Advance(119 * time.Second)
		awaitRounds(t, w, `ward_check_rounds_total{check="heartbeat_check"}`)
		if as := w.alerts("service=" + svc.ID); len(as) != 0 {
			t.Fatalf("raised before the interval passed: %+v", as)
		}
		clk.Advance(2 * time.Second)
		var as []alertView
		eventually(t, "the missed-heartbeat alert", func() bool {
			as = w.alerts("service=" + svc.ID)
			return len(as) == 1
		})
		if as[0].Status != "triggered" || as[0].IncidentNumber == "" || as[0].Severity != "error" {
			t.Fatalf("missed heartbeat: %+v", as[0])
		}
		var igs []struct {
			Heartbeat struct{ State string } `json:"heartbeat"`
		}
		w.must(200, "GET", "/api/v1/services/"+svc.ID+"/integrations", nil, &igs)
		if len(igs) != 1 || igs[0].Heartbeat.State != "down" {
			t.Fatalf("integration state: %+v", igs)
		}
		// Silence goes on: still one alert.
		clk.Advance(10 * time.Minute)
		awaitRounds(t, w, `ward_check_rounds_total{check="heartbeat_check"}`)
		if as := w.alerts("service=" + svc.ID); len(as) != 1 {
			t.Fatalf("a second alert for the same silence: %+v", as)
		}
		if code, body := w.post("/heartbeat/"+hb.Key, "", nil); code != 200 {
			t.Fatalf("ping after the miss: %d %s", code, body)
		}
		if as := w.alerts("service=" + svc.ID); len(as) != 1 || as[0].Status != "resolved" {
			t.Fatalf("the ping did not resolve the alert: %+v", as)
		}
	})
}

// TestEmailIntake sends alerts by email through Ward's SMTP listener, over
// STARTTLS: repeats of a subject deduplicate, "RESOLVED:" resolves, and an
// address that is not an email integration's is refused.
func TestEmailIntake(t *testing.T) {
	t.Parallel()
	eachDBURL(t, emailIntake)
}

func emailIntake(t *testing.T, dbURL string) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	w := startWardAt(t, t.TempDir(), dbURL, func(e *app.Env) {
		e.Args = append(e.Args, "--email-intake-listen", addr, "--email-intake-domain", "alerts.ward.test")
	})
	var svc struct{ ID string }
	w.must(201, "POST", "/api/v1/services", map[string]any{"name": "legacy-backup", "group_by": "alert"}, &svc)
	var ig integrationKey
	w.must(201, "POST", "/api/v1/services/"+svc.ID+"/integrations", map[string]any{"kind": "email", "name": "backup mailer"}, &ig)
	if ig.Endpoint != "mailto:{key}@alerts.ward.test" {
		t.Fatalf("endpoint %q", ig.Endpoint)
	}
	send := func(to, subject string) error {
		c, err := smtp.Dial(addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if err := c.StartTLS(&tls.Config{ServerName: "localhost", InsecureSkipVerify: true}); err != nil { // Ward's self-signed certificate
			return err
		}
		if err := c.Mail("backup@legacy.example"); err != nil {
			return err
		}
		if err := c.Rcpt(to); err != nil {
			return err
		}
		wc, err := c.Data()
		if err != nil {
			return err
		}
		fmt.Fprintf(wc, "From: backup@legacy.example\r\nSubject: %s\r\nContent-Type: text/plain\r\n\r\nJob 42 failed: disk quota.\r\n", subject)
		if err := wc.Close(); err != nil {
			return err
		}
		return c.Quit()
	}
	to := ig.Key + "@alerts.ward.test"
	for range 2 {
		if err := send(to, "Nightly backup FAILED"); err != nil {
			t.Fatal(err)
		}
	}
	as := w.alerts("service=" + svc.ID)
	if len(as) != 1 || as[0].Count != 2 || as[0].IncidentNumber == "" || as[0].Status != "triggered" {
		t.Fatalf("email alerts: %+v", as)
	}
	var one alertView
	w.must(200, "GET", "/api/v1/alerts/"+as[0].ID, nil, &one)
	if !strings.Contains(string(one.Details), "disk quota") {
		t.Fatalf("details: %s", one.Details)
	}
	if err := send(to, "RESOLVED: Nightly backup failed"); err != nil {
		t.Fatal(err)
	}
	if as := w.alerts("service=" + svc.ID); as[0].Status != "resolved" {
		t.Fatalf("after RESOLVED: %+v", as[0])
	}
	if err := send("0123456789abcdef0123456789abcdef@alerts.ward.test", "x"); err == nil || !strings.Contains(err.Error(), "550") {
		t.Fatalf("an unknown address: %v", err)
	}
	if err := send(ig.Key+"@elsewhere.test", "x"); err == nil || !strings.Contains(err.Error(), "550") {
		t.Fatalf("another domain: %v", err)
	}
}
