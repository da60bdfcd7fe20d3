package integration

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
)

func TestParseEventsV2(t *testing.T) {
	ok := `{"routing_key":"k","event_action":"trigger","dedup_key":"d1","payload":{"summary":"disk full","source":"db1",
		"severity":"critical","component":"postgres","group":"prod","class":"disk","custom_details":{"free":"1%"}},
		"links":[{"href":"https://x","text":"x"}],"client":"mon"}`
	in, ev, err := ParseEventsV2([]byte(ok))
	if err != nil {
		t.Fatal(err)
	}
	if in.RoutingKey != "k" || ev.Action != alert.Trigger || ev.DedupKey != "d1" || ev.Summary != "disk full" ||
		ev.Source != "db1" || ev.Severity != alert.Critical || ev.Component != "postgres" || ev.Group != "prod" || ev.Class != "disk" {
		t.Fatalf("event = %+v", ev)
	}
	var det map[string]any
	if err := json.Unmarshal(ev.Details, &det); err != nil || det["custom_details"] == nil || det["links"] == nil || det["client"] != "mon" {
		t.Fatalf("details = %s (%v)", ev.Details, err)
	}
	if _, ev, err := ParseEventsV2([]byte(`{"routing_key":"k","event_action":"resolve","dedup_key":"d1"}`)); err != nil || ev.Action != alert.Resolve {
		t.Fatalf("resolve: %+v %v", ev, err)
	}

	bad := []struct{ body, want string }{
		{`not json`, "Event object is invalid"},
		{`{"event_action":"trigger"}`, "'routing_key' is missing or blank"},
		{`{"routing_key":"k"}`, "'event_action' is missing or blank"},
		{`{"routing_key":"k","event_action":"explode"}`, `'event_action' "explode" is not one of trigger, acknowledge, resolve`},
		{`{"routing_key":"k","event_action":"trigger"}`, "'payload' is missing"},
		{`{"routing_key":"k","event_action":"trigger","payload":{"source":"s","severity":"info"}}`, "'payload.summary' is missing or blank"},
		{`{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","severity":"info"}}`, "'payload.source' is missing or blank"},
		{`{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"s","severity":"bad"}}`, `'payload.severity' "bad" is not one of critical, error, warning, info`},
		{`{"routing_key":"k","event_action":"acknowledge"}`, "'dedup_key' is required to acknowledge an alert"},
		{`{"routing_key":"k","event_action":"trigger","payload":{"summary":"` + strings.Repeat("x", 1025) + `","source":"s","severity":"info"}}`, "'payload.summary' is 1025 characters long; the limit is 1024"},
	}
	for _, b := range bad {
		_, _, err := ParseEventsV2([]byte(b.body))
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.Invalid {
			t.Errorf("%s: err = %v, want invalid", b.body, err)
			continue
		}
		got := e.Message
		if len(e.Fields) > 0 {
			got = e.Fields[0].Message
		}
		if !strings.Contains(got, b.want) {
			t.Errorf("%.60s: message %q, want %q", b.body, got, b.want)
		}
	}
}

const amBody = `{"version":"4","groupKey":"{}:{alertname=\"HighLatency\"}","status":"firing","receiver":"ward",
	"groupLabels":{"alertname":"HighLatency"},"commonLabels":{},"commonAnnotations":{},"externalURL":"http://am:9093",
	"alerts":[
	 {"status":"firing","labels":{"alertname":"HighLatency","instance":"api-1","severity":"page","job":"api"},
	  "annotations":{"summary":"p99 above 2s"},"startsAt":"2026-01-01T00:00:00Z","fingerprint":"aaa"},
	 {"status":"resolved","labels":{"alertname":"HighLatency","instance":"api-2"},"annotations":{},"fingerprint":""}
	]}`

func TestParseAlertmanager(t *testing.T) {
	evs, err := ParseAlertmanager([]byte(amBody))
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 {
		t.Fatalf("%d events", len(evs))
	}
	a, b := evs[0], evs[1]
	if a.Action != alert.Trigger || a.DedupKey != "aaa" || a.Summary != "p99 above 2s" || a.Source != "api-1" ||
		a.Severity != alert.Critical || a.Class != "HighLatency" || a.Group != "api" || a.GroupKey != `{}:{alertname="HighLatency"}` {
		t.Fatalf("first = %+v", a)
	}
	if b.Action != alert.Resolve || len(b.DedupKey) != 32 || b.Summary != "HighLatency api-2" || b.Severity != alert.Error {
		t.Fatalf("second = %+v", b)
	}
	again, _ := ParseAlertmanager([]byte(amBody))
	if again[1].DedupKey != b.DedupKey {
		t.Fatal("label fingerprint is not stable")
	}
	for _, body := range []string{`{"alerts":[]}`, `{"alerts":[{"status":"weird"}]}`, `[1]`} {
		if _, err := ParseAlertmanager([]byte(body)); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("%s: err = %v, want invalid", body, err)
		}
	}
}

func TestParseGrafana(t *testing.T) {
	body := `{"receiver":"ward","status":"firing","orgId":1,"groupKey":"g","title":"[FIRING:1]","alerts":[{"status":"firing",
		"labels":{"alertname":"CPU","grafana_folder":"infra"},"annotations":{"summary":"CPU hot"},"fingerprint":"f1",
		"valueString":"[ var='A' value=97 ]","dashboardURL":"http://grafana/d/1","values":{"A":97}}]}`
	evs, err := ParseGrafana([]byte(body))
	if err != nil || len(evs) != 1 {
		t.Fatalf("%v %d", err, len(evs))
	}
	if evs[0].Summary != "CPU hot" || evs[0].DedupKey != "f1" || !strings.Contains(string(evs[0].Details), "dashboard_url") {
		t.Fatalf("%+v %s", evs[0], evs[0].Details)
	}
}

func TestParseSNS(t *testing.T) {
	alarm := func(state string) string {
		msg, _ := json.Marshal(map[string]any{"AlarmName": "db-cpu", "NewStateValue": state, "NewStateReason": "Threshold Crossed",
			"AlarmArn": "arn:aws:cloudwatch:us-east-1:1:alarm:db-cpu", "Region": "US East"})
		b, _ := json.Marshal(map[string]any{"Type": "Notification", "MessageId": "m1", "TopicArn": "arn:t", "Subject": "ALARM: db-cpu", "Message": string(msg)})
		return string(b)
	}
	cases := []struct {
		body   string
		action alert.Action
		n      int
	}{
		{alarm("ALARM"), alert.Trigger, 1},
		{alarm("OK"), alert.Resolve, 1},
		{alarm("INSUFFICIENT_DATA"), "", 0},
		{`{"Type":"Notification","MessageId":"m2","TopicArn":"arn:t","Message":"plain text"}`, alert.Trigger, 1},
		{`{"Type":"SubscriptionConfirmation","SubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription"}`, "", 0},
	}
	for _, c := range cases {
		_, evs, err := ParseSNS([]byte(c.body))
		if err != nil || len(evs) != c.n || (c.n == 1 && evs[0].Action != c.action) {
			t.Errorf("%.50s: %v %+v", c.body, err, evs)
		}
		if c.n == 1 {
			if err := evs[0].Validate(""); err != nil {
				t.Errorf("%.50s: invalid event: %v", c.body, err)
			}
		}
	}
	_, evs, _ := ParseSNS([]byte(alarm("ALARM")))
	if evs[0].DedupKey != "arn:aws:cloudwatch:us-east-1:1:alarm:db-cpu" {
		t.Errorf("dedup key %q", evs[0].DedupKey)
	}
	if _, _, err := ParseSNS([]byte(`{"Type":"Other"}`)); apperr.CodeOf(err) != apperr.Invalid {
		t.Errorf("unknown type: %v", err)
	}
	for u, ok := range map[string]bool{
		"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription": true,
		"http://sns.us-east-1.amazonaws.com/":                             false,
		"https://evil.example/amazonaws.com":                              false,
		"https://amazonaws.com.evil.example/":                             false,
	} {
		_, err := SNSConfirmURL(SNSMessage{SubscribeURL: u}, []string{".amazonaws.com"})
		if (err == nil) != ok {
			t.Errorf("%s: err = %v, want ok=%v", u, err, ok)
		}
	}
}

func TestWebhookMapping(t *testing.T) {
	m, err := ParseMapping(json.RawMessage(`{"items":"/events","action":"/state","action_map":{"open":"trigger","closed":"resolve"},
		"dedup_key":"/id","summary":"/title","source":"/host/name","severity":"/prio","severity_map":{"P0":"critical"},"class":"/a~1b"}`))
	if err != nil {
		t.Fatal(err)
	}
	body := `{"events":[{"state":"OPEN","id":7,"title":"login failures","host":{"name":"idp"},"prio":"p0","a/b":"auth"},
		{"state":"closed","id":"8","title":"x"},{"title":"y","prio":"high"}]}`
	evs, err := ParseWebhook(m, []byte(body))
	if err != nil || len(evs) != 3 {
		t.Fatalf("%v %d", err, len(evs))
	}
	if e := evs[0]; e.Action != alert.Trigger || e.DedupKey != "7" || e.Summary != "login failures" || e.Source != "idp" ||
		e.Severity != alert.Critical || e.Class != "auth" {
		t.Fatalf("first = %+v", e)
	}
	if e := evs[1]; e.Action != alert.Resolve || e.DedupKey != "8" || e.Source != "webhook" {
		t.Fatalf("second = %+v", e)
	}
	if e := evs[2]; e.Action != alert.Trigger || e.Severity != alert.Error {
		t.Fatalf("third = %+v", e)
	}
	def, _ := ParseMapping(nil)
	evs, err = ParseWebhook(def, []byte(`{"summary":"s","severity":"warning","dedup_key":"k"}`))
	if err != nil || evs[0].Summary != "s" || evs[0].Severity != alert.Warning || evs[0].DedupKey != "k" {
		t.Fatalf("default mapping: %v %+v", err, evs)
	}
	for raw, field := range map[string]string{
		`{"summary":"title"}`:                           "mapping.summary",
		`{"source":"/s"}`:                               "mapping.summary",
		`{"summary":"/t","action_map":{"x":"explode"}}`: "mapping.action_map",
		`{"summary":"/t","severity_map":{"x":"awful"}}`: "mapping.severity_map",
		`{"summary":"/t","unknown":"/x"}`:               "mapping",
	} {
		_, err := ParseMapping(json.RawMessage(raw))
		e, ok := apperr.As(err)
		if !ok || len(e.Fields) == 0 || e.Fields[0].Field != field {
			t.Errorf("%s: err = %v, want field %s", raw, err, field)
		}
	}
	if _, err := ParseWebhook(Mapping{Items: "/nope", Summary: "/t"}, []byte(`{}`)); apperr.CodeOf(err) != apperr.Invalid {
		t.Errorf("missing items: %v", err)
	}
}
