package integration

import (
	"bytes"
	"encoding/json"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
)

// The fuzz targets below feed monitoring tools' payloads to the parsers.
// Beyond "does not panic" they check that a parser either refuses the
// input with an invalid-input error (a 4xx, never a 500) or returns events
// that are well formed: valid UTF-8, details that are JSON, text clipped
// to the limits, and the same events when parsed again. Run one longer
// with, e.g.:
//
//	go test -run='^$' -fuzz='^FuzzParseAlertmanager$' -fuzztime=10m ./internal/integration

// checkRefusal fails unless err is an invalid-input error.
func checkRefusal(t *testing.T, err error) {
	t.Helper()
	if apperr.CodeOf(err) != apperr.Invalid {
		t.Fatalf("refused with %v (code %v), want an invalid-input error", err, apperr.CodeOf(err))
	}
}

// checkEvent fails on an event no parser should produce: invalid UTF-8
// in any text, details that are not JSON, or an event that passes
// alert.Event.Validate while breaking its rules.
func checkEvent(t *testing.T, ev alert.Event) {
	t.Helper()
	for name, v := range map[string]string{"action": string(ev.Action), "dedup_key": ev.DedupKey, "group_key": ev.GroupKey,
		"summary": ev.Summary, "source": ev.Source, "severity": string(ev.Severity), "component": ev.Component,
		"group": ev.Group, "class": ev.Class} {
		if !utf8.ValidString(v) {
			t.Fatalf("%s %q is not valid UTF-8", name, v)
		}
	}
	if len(ev.Details) > 0 && !json.Valid(ev.Details) {
		t.Fatalf("details are not JSON: %q", ev.Details)
	}
	if ev.Validate("") != nil {
		return
	}
	if !slices.Contains(alert.Actions, ev.Action) {
		t.Fatalf("valid event with action %q", ev.Action)
	}
	if ev.Action == alert.Trigger && (strings.TrimSpace(ev.Summary) == "" || strings.TrimSpace(ev.Source) == "") {
		t.Fatalf("valid trigger without summary or source: %+v", ev)
	}
}

// checkClipped fails when a parser that clips the text it derives left a
// field over its limit.
func checkClipped(t *testing.T, ev alert.Event) {
	t.Helper()
	for name, c := range map[string]struct {
		v   string
		max int
	}{"summary": {ev.Summary, alert.MaxSummary}, "source": {ev.Source, alert.MaxField}, "component": {ev.Component, alert.MaxField},
		"group": {ev.Group, alert.MaxField}, "class": {ev.Class, alert.MaxField}} {
		if n := utf8.RuneCountInString(c.v); n > c.max {
			t.Fatalf("%s is %d characters, over the limit of %d", name, n, c.max)
		}
	}
}

// A PagerDuty Events API v2 trigger as PagerDuty documents it.
const pdTrigger = `{"payload":{"summary":"DISK at 99% on machine prod-datapipe03.example.com","timestamp":"2015-07-17T08:42:58.315+0000",
"severity":"critical","source":"prod-datapipe03.example.com","component":"mysql","group":"prod-datapipe","class":"disk",
"custom_details":{"free space":"1%","ping time":"1500ms","load avg":0.75}},"routing_key":"samplekeyhere",
"dedup_key":"samplekeyhere","images":[{"src":"https://www.pagerduty.com/wp-content/uploads/2016/05/pagerduty-logo-green.png",
"href":"https://example.com/","alt":"Example text"}],"links":[{"href":"https://example.com/","text":"Link text"}],
"event_action":"trigger","client":"Sample Monitoring Service","client_url":"https://monitoring.example.com"}`

func FuzzParseEventsV2(f *testing.F) {
	for _, s := range []string{
		pdTrigger,
		`{"routing_key":"samplekeyhere","dedup_key":"samplekeyhere","event_action":"acknowledge"}`,
		`{"routing_key":"samplekeyhere","dedup_key":"samplekeyhere","event_action":"resolve"}`,
		`{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"s","severity":"info"}}`,
		`{"routing_key":"k","event_action":"trigger","payload":{"summary":"` + strings.Repeat("x", 1025) + `","source":"s","severity":"info"}}`,
		`{"routing_key":"k","event_action":"trigger","payload":null}`,
		`{"routing_key":"k","event_action":"trigger","payload":{"summary":"\u00e9t\u00e9 \ud83d\ude00","source":"s","severity":"error"}}`,
		`{"routing_key":"k","event_action":"explode"}`,
		`{"routing_key":"k"}`,
		`[]`,
		`not json`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		in, ev, err := ParseEventsV2(body)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		// ParseEventsV2 validates: what it returns is valid.
		if err := ev.Validate(""); err != nil {
			t.Fatalf("returned an invalid event: %v", err)
		}
		checkEvent(t, ev)
		if strings.TrimSpace(in.RoutingKey) == "" || string(ev.Action) != in.EventAction || ev.DedupKey != in.DedupKey {
			t.Fatalf("event %+v does not match the request %+v", ev, in)
		}
		_, again, err := ParseEventsV2(body)
		if err != nil || !reflect.DeepEqual(again, ev) {
			t.Fatalf("parsing again gave %+v, %v; first %+v", again, err, ev)
		}
	})
}

// An Alertmanager webhook notification as Alertmanager sends it.
const amNotification = `{"receiver":"ward","status":"firing","alerts":[{"status":"firing","labels":{"alertname":"KubePodCrashLooping",
"container":"api","namespace":"prod","pod":"api-7d9f","severity":"warning","job":"kube-state-metrics","instance":"10.0.0.7:8080"},
"annotations":{"description":"Pod prod/api-7d9f (api) is in waiting state (reason: \"CrashLoopBackOff\").",
"runbook_url":"https://runbooks.prometheus-operator.dev/runbooks/kubernetes/kubepodcrashlooping","summary":"Pod is crash looping."},
"startsAt":"2026-03-01T10:00:00.000Z","endsAt":"0001-01-01T00:00:00Z",
"generatorURL":"http://prometheus:9090/graph?g0.expr=max_over_time%28kube_pod_container_status_waiting_reason%5B5m%5D%29+%3E%3D+1",
"fingerprint":"3a7c0f6e5d2b1a90"},{"status":"resolved","labels":{"alertname":"KubePodCrashLooping","pod":"api-1a2b"},
"annotations":{},"startsAt":"2026-03-01T09:00:00Z","endsAt":"2026-03-01T09:30:00Z","fingerprint":""}],
"groupLabels":{"alertname":"KubePodCrashLooping"},"commonLabels":{"alertname":"KubePodCrashLooping"},
"commonAnnotations":{},"externalURL":"http://alertmanager:9093","version":"4",
"groupKey":"{}/{severity=\"warning\"}:{alertname=\"KubePodCrashLooping\"}","truncatedAlerts":0}`

// A Grafana alerting webhook notification as Grafana sends it.
const grafanaNotification = `{"receiver":"ward","status":"firing","orgId":1,"alerts":[{"status":"firing",
"labels":{"alertname":"High CPU","grafana_folder":"Infrastructure","team":"platform"},"annotations":{"summary":"CPU above 90% on ehr-db"},
"startsAt":"2026-03-01T10:00:00Z","endsAt":"0001-01-01T00:00:00Z","generatorURL":"https://grafana.example.org/alerting/grafana/abc/view",
"fingerprint":"c6eadffa33fcdf37","silenceURL":"https://grafana.example.org/alerting/silence/new?matcher=alertname%3DHigh+CPU",
"dashboardURL":"https://grafana.example.org/d/x","panelURL":"https://grafana.example.org/d/x?viewPanel=2","values":{"B":93.4,"C":1},
"valueString":"[ var='B' labels={} value=93.4 ], [ var='C' labels={} value=1 ]"}],"groupLabels":{"alertname":"High CPU"},
"commonLabels":{"alertname":"High CPU"},"commonAnnotations":{},"externalURL":"https://grafana.example.org/","version":"1",
"groupKey":"{}:{alertname=\"High CPU\"}","truncatedAlerts":0,"title":"[FIRING:1] High CPU (Infrastructure platform)",
"state":"alerting","message":"**Firing**\n\nValue: B=93.4"}`

func notificationSeeds(f *testing.F) {
	for _, s := range []string{
		amNotification,
		grafanaNotification,
		amBody,
		`{"alerts":[{"status":"firing","labels":{"a":"b"}}]}`,
		`{"alerts":[{"status":"firing","labels":{"alertname":"","instance":" "},"annotations":{"summary":"  "}}]}`,
		`{"alerts":[{"status":"resolved","labels":{"x":"\u0000"},"fingerprint":"` + strings.Repeat("f", 300) + `"}]}`,
		`{"alerts":[]}`,
		`{"alerts":[{"status":"weird"}]}`,
		`{"alerts":[{"status":"firing"}]}`,
		`{"alerts":null,"orgId":"x"}`,
		`[1]`,
	} {
		f.Add([]byte(s))
	}
}

// checkNotification is what holds of the events of any notification.
func checkNotification(t *testing.T, body []byte, evs []alert.Event, parse func([]byte) ([]alert.Event, error)) {
	t.Helper()
	var n Notification
	if err := decode(body, &n); err != nil {
		t.Fatalf("accepted a body that does not decode: %v", err)
	}
	if len(evs) != len(n.Alerts) {
		t.Fatalf("%d alerts became %d events", len(n.Alerts), len(evs))
	}
	for i, ev := range evs {
		checkEvent(t, ev)
		checkClipped(t, ev)
		if ev.Action != alert.Trigger && ev.Action != alert.Resolve {
			t.Fatalf("alert %d: action %q", i, ev.Action)
		}
		if ev.DedupKey == "" || strings.TrimSpace(ev.Summary) == "" || strings.TrimSpace(ev.Source) == "" ||
			!slices.Contains(alert.Severities, ev.Severity) {
			t.Fatalf("alert %d: no dedup key, summary, source or severity: %+v", i, ev)
		}
	}
	again, err := parse(body)
	if err != nil || !reflect.DeepEqual(again, evs) {
		t.Fatalf("parsing again gave %+v, %v", again, err)
	}
}

func FuzzParseAlertmanager(f *testing.F) {
	notificationSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := ParseAlertmanager(body)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		checkNotification(t, body, evs, ParseAlertmanager)
	})
}

func FuzzParseGrafana(f *testing.F) {
	notificationSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		evs, err := ParseGrafana(body)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		checkNotification(t, body, evs, ParseGrafana)
	})
}

// An SNS notification carrying a CloudWatch alarm, as SNS delivers it.
const snsCloudWatch = `{"Type":"Notification","MessageId":"5f0b2c4e-6a1d-5b9e-8c3f-2d7e9a1b4c6d",
"TopicArn":"arn:aws:sns:us-east-1:123456789012:ward-alarms","Subject":"ALARM: \"ehr-db-cpu\" in US East (N. Virginia)",
"Message":"{\"AlarmName\":\"ehr-db-cpu\",\"AlarmDescription\":\"CPU of the EHR database\",\"AWSAccountId\":\"123456789012\",\"AlarmConfigurationUpdatedTimestamp\":\"2026-01-10T08:00:00.000+0000\",\"NewStateValue\":\"ALARM\",\"NewStateReason\":\"Threshold Crossed: 1 out of the last 1 datapoints [97.5 (01/03/26 10:00:00)] was greater than the threshold (90.0) (minimum 1 datapoint for OK -> ALARM transition).\",\"StateChangeTime\":\"2026-03-01T10:01:00.000+0000\",\"Region\":\"US East (N. Virginia)\",\"AlarmArn\":\"arn:aws:cloudwatch:us-east-1:123456789012:alarm:ehr-db-cpu\",\"OldStateValue\":\"OK\",\"Trigger\":{\"MetricName\":\"CPUUtilization\",\"Namespace\":\"AWS/RDS\",\"StatisticType\":\"Statistic\",\"Statistic\":\"AVERAGE\",\"Unit\":null,\"Dimensions\":[{\"value\":\"ehr-db\",\"name\":\"DBInstanceIdentifier\"}],\"Period\":300,\"EvaluationPeriods\":1,\"ComparisonOperator\":\"GreaterThanThreshold\",\"Threshold\":90.0}}",
"Timestamp":"2026-03-01T10:01:00.123Z","SignatureVersion":"1","Signature":"EXAMPLEpH+...",
"SigningCertURL":"https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000000000000000000000.pem",
"UnsubscribeURL":"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:123456789012:ward-alarms:0"}`

// An SNS subscription confirmation, as SNS sends it.
const snsConfirmation = `{"Type":"SubscriptionConfirmation","MessageId":"165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
"Token":"2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad02428b09ceece29417f1f02d609c582afbacc99c583a916b9981dd2728f4ae6fdb82efd087cc3b7849e05798d2d2785c03b0879594eeac82c01f235d0e717736",
"TopicArn":"arn:aws:sns:us-west-2:123456789012:MyTopic",
"Message":"You have chosen to subscribe to the topic arn:aws:sns:us-west-2:123456789012:MyTopic.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
"SubscribeURL":"https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=2336412f37",
"Timestamp":"2012-04-26T20:45:04.751Z","SignatureVersion":"1","Signature":"EXAMPLEpH+DcEwjAPg8O9mY8dReBSwksfg2S7WKQcikcNKWLQjwu6A4VbeS0QHVCkhRS7fUQvi2egU3N858fiTDN6bkkOxYDVrY0Ad8L10Hs3zH81mtnPk5uvvolIC1CXGu43obcgFxeL3khZl8IKvO61GWB6jI9b5+gLPoBc1Q=",
"SigningCertURL":"https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"}`

func FuzzParseSNS(f *testing.F) {
	for _, s := range []string{
		snsCloudWatch,
		strings.Replace(snsCloudWatch, `NewStateValue\":\"ALARM`, `NewStateValue\":\"OK`, 1),
		strings.Replace(snsCloudWatch, `NewStateValue\":\"ALARM`, `NewStateValue\":\"INSUFFICIENT_DATA`, 1),
		snsConfirmation,
		strings.Replace(snsConfirmation, "SubscriptionConfirmation", "UnsubscribeConfirmation", 1),
		`{"Type":"Notification","MessageId":"m2","TopicArn":"arn:t","Message":"plain text"}`,
		`{"Type":"Notification","Message":"{\"AlarmName\":\"a\",\"NewStateValue\":\"ALARM\"}"}`,
		`{"Type":"Notification"}`,
		`{"Type":"Other"}`,
		`{"Type":7}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		m, evs, err := ParseSNS(body)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		switch m.Type {
		case SNSNotification:
			if len(evs) > 1 {
				t.Fatalf("%d events from one notification", len(evs))
			}
		case SNSSubscriptionConfirmation, SNSUnsubscribeConfirmation:
			if len(evs) != 0 {
				t.Fatalf("a %s became events", m.Type)
			}
		default:
			t.Fatalf("accepted message type %q", m.Type)
		}
		for _, ev := range evs {
			checkEvent(t, ev)
			checkClipped(t, ev)
			if ev.Action != alert.Trigger && ev.Action != alert.Resolve {
				t.Fatalf("action %q", ev.Action)
			}
			if strings.TrimSpace(ev.Summary) == "" || strings.TrimSpace(ev.Source) == "" || ev.Severity != alert.Error {
				t.Fatalf("no summary or source, or severity %q: %+v", ev.Severity, ev)
			}
		}
		_, again, err := ParseSNS(body)
		if err != nil || !reflect.DeepEqual(again, evs) {
			t.Fatalf("parsing again gave %+v, %v", again, err)
		}
	})
}

// FuzzSNSConfirmURL: a subscription confirmation can only make Ward visit
// an https URL on an SNS host, whatever the SubscribeURL says.
func FuzzSNSConfirmURL(f *testing.F) {
	for _, s := range []string{
		"https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-west-2:123456789012:MyTopic&Token=2336412f37",
		"http://sns.us-east-1.amazonaws.com/",
		"https://evil.example/amazonaws.com",
		"https://amazonaws.com.evil.example/",
		"https://sns.us-east-1.amazonaws.com@evil.example/",
		"https://evil.example#.amazonaws.com",
		"https://evil.example\\.amazonaws.com/",
		"HTTPS://SNS.US-EAST-1.AMAZONAWS.COM:443/",
		"https://[::1]/.amazonaws.com",
		"//sns.us-east-1.amazonaws.com/",
		"",
	} {
		f.Add(s)
	}
	suffixes := []string{".amazonaws.com"}
	f.Fuzz(func(t *testing.T, raw string) {
		got, err := SNSConfirmURL(SNSMessage{SubscribeURL: raw}, suffixes)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Fatalf("returned %q, which does not parse: %v", got, err)
		}
		if u.Scheme != "https" || !strings.HasSuffix(strings.ToLower(u.Hostname()), ".amazonaws.com") {
			t.Fatalf("%q would make Ward visit %q (scheme %q, host %q)", raw, got, u.Scheme, u.Hostname())
		}
	})
}

// mappingSeed is the mapping of TestWebhookMapping.
const mappingSeed = `{"items":"/events","action":"/state","action_map":{"open":"trigger","closed":"resolve"},
"dedup_key":"/id","summary":"/title","source":"/host/name","severity":"/prio","severity_map":{"P0":"critical"},"class":"/a~1b"}`

func FuzzParseMapping(f *testing.F) {
	for _, s := range []string{
		mappingSeed,
		``,
		`null`,
		`{"summary":"/title"}`,
		`{"summary":"title"}`,
		`{"summary":"/t","action_map":{"x":"explode"}}`,
		`{"summary":"/t","severity_map":{"x":"awful"}}`,
		`{"summary":"/t","unknown":"/x"}`,
		`{"summary":"/t"} trailing`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := ParseMapping(raw)
		if err != nil {
			checkRefusal(t, err)
			if CheckMapping(raw) == nil {
				t.Fatal("CheckMapping accepts what ParseMapping refuses")
			}
			return
		}
		if m.Summary == "" || !strings.HasPrefix(m.Summary, "/") {
			t.Fatalf("accepted a mapping whose summary pointer is %q", m.Summary)
		}
		for word, a := range m.ActionMap {
			if !slices.Contains(alert.Actions, alert.Action(a)) {
				t.Fatalf("accepted action_map %q → %q", word, a)
			}
		}
		for word, s := range m.SeverityMap {
			if !slices.Contains(alert.Severities, alert.Severity(s)) {
				t.Fatalf("accepted severity_map %q → %q", word, s)
			}
		}
		// A mapping as stored (JSON) reads back the same.
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := ParseMapping(b)
		if err != nil {
			t.Fatalf("the stored mapping %s is refused: %v", b, err)
		}
		if b2, _ := json.Marshal(back); !bytes.Equal(b2, b) {
			t.Fatalf("the stored mapping %s reads back as %s", b, b2)
		}
	})
}

func FuzzParseWebhook(f *testing.F) {
	for _, s := range []struct{ mapping, body string }{
		{mappingSeed, `{"events":[{"state":"OPEN","id":7,"title":"login failures","host":{"name":"idp"},"prio":"p0","a/b":"auth"},
			{"state":"closed","id":"8","title":"x"},{"title":"y","prio":"high"}]}`},
		{``, `{"event_action":"trigger","dedup_key":"k","summary":"Backup job failed on ehr-db","source":"cron","severity":"warning"}`},
		{``, `{"event_action":"resolve","dedup_key":"k"}`},
		{``, `{"summary":"s","severity":"warning","dedup_key":"k"}`},
		{``, `{"summary":""}`},
		{`{"items":"/data/alerts","summary":"/msg","severity":"/level","dedup_key":"/id"}`,
			`{"data":{"alerts":[{"msg":"Failed logins spike","level":3,"id":1e3},{"msg":true,"level":null,"id":[1]}]}}`},
		{`{"items":"/nope","summary":"/t"}`, `{}`},
		{`{"items":"/a","summary":"/0"}`, `{"a":[["first"],["second"]]}`},
		{`{"summary":"/~0~1x/-"}`, `{"~/x":{"-":"weird pointer"}}`},
		{``, `not json`},
	} {
		f.Add([]byte(s.mapping), []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, rawMapping, body []byte) {
		m, err := ParseMapping(rawMapping)
		if err != nil {
			return // FuzzParseMapping covers refused mappings
		}
		evs, err := ParseWebhook(m, body)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		// An empty items array is zero events, answered "accepted,
		// events: 0"; a body without items is always one event.
		if (len(evs) == 0 && m.Items == "") || len(evs) > alert.MaxBatch {
			t.Fatalf("%d events", len(evs))
		}
		for _, ev := range evs {
			checkEvent(t, ev)
			checkClipped(t, ev)
			if ev.Action == alert.Trigger && strings.TrimSpace(ev.Summary) == "" {
				t.Fatalf("a trigger without a summary: %+v", ev)
			}
			if ev.Source == "" || !slices.Contains(alert.Severities, ev.Severity) {
				t.Fatalf("no source or an unknown severity: %+v", ev)
			}
		}
		again, err := ParseWebhook(m, body)
		if err != nil || !reflect.DeepEqual(again, evs) {
			t.Fatalf("parsing again gave %+v, %v", again, err)
		}
	})
}

// FuzzParseChangeEventV2: a change event is refused as invalid input or
// read into a change within the limits, with valid UTF-8.
func FuzzParseChangeEventV2(f *testing.F) {
	f.Add([]byte(`{"routing_key":"k","payload":{"summary":"Deploy 42 of the portal","timestamp":"2026-12-06T10:00:00Z",` +
		`"source":"ci","custom_details":{"build":"42"}},"links":[{"href":"https://ci.example.org/42","text":"build"}]}`))
	f.Add([]byte(`{"routing_key":"k","payload":{"summary":""}}`))
	f.Add([]byte(`{"routing_key":"k","payload":{"summary":"x","timestamp":"yesterday"}}`))
	f.Add([]byte(`{"routing_key":"k","payload":{"summary":"x"},"links":{}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		_, ch, err := ParseChangeEventV2(body)
		if err != nil {
			checkRefusal(t, err)
			return
		}
		if strings.TrimSpace(ch.Summary) == "" || utf8.RuneCountInString(ch.Summary) > alert.MaxChangeSummary ||
			utf8.RuneCountInString(ch.Source) > alert.MaxChangeSource || ch.Links < 0 {
			t.Fatalf("accepted a change outside the rules: %+v", ch)
		}
		if !utf8.ValidString(ch.Summary) || !utf8.ValidString(ch.Source) {
			t.Fatalf("invalid UTF-8 accepted: %+v", ch)
		}
	})
}
