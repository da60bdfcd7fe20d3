package e2e

import (
	"crypto/tls"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/smtp"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/integration"
	"github.com/wardhq/ward/internal/web/intake"
)

// intakeEnv is what the intake routes need besides the server: the email
// intake's address and domain, the Twilio auth token SMS replies are
// signed with, and an HTTPS server on 127.0.0.1 that a subscription
// confirmation points at.
type intakeEnv struct {
	emailAddr, emailDomain, twilioToken string
	sns                                 *httptest.Server
	// slackSecret is the Slack app's signing secret button presses are
	// signed with; slack, the Slack Web API they are answered through.
	slackSecret string
	slack       *fakeSlack
}

// Reasons an intake field is not filled with a canary.
const (
	isKey  = "the integration key, which authenticates the request (Ward keeps its hash)"
	isTime = "a date and time the parser checks"
)

// intakeCustom is what a tool may send as free-form JSON (custom details,
// links, images, values, a CloudWatch trigger): each gets a canary in a
// name and a value, in a nested object and in a list.
func intakeCustom(c *apiCanaries, op, field string) map[string]any {
	return map[string]any{"note": c.next(op, field), "nested": map[string]any{"list": []string{c.next(op, field+" (nested)")}}}
}

// intakeFields lists the JSON paths of the string fields of the request
// type t, dotted as the API test's fill takes them: a string field (true:
// the test fills it), or a map of strings or raw JSON (false: the body
// must already hold a canary there, as the test cannot guess its shape).
func intakeFields(t reflect.Type, prefix string, out map[string]bool) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch {
	case t == reflect.TypeFor[json.RawMessage]():
		out[prefix] = false
	case t == reflect.TypeFor[json.Number]():
		// a number
	case t.Kind() == reflect.Pointer:
		intakeFields(t.Elem(), prefix, out)
	case t.Kind() == reflect.String:
		out[prefix] = true
	case t.Kind() == reflect.Map && t.Elem().Kind() == reflect.String:
		out[prefix] = false
	case t.Kind() == reflect.Slice:
		intakeFields(t.Elem(), prefix+"[]", out)
	case t.Kind() == reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name != "" && name != "-" {
				intakeFields(f.Type, join(name), out)
			}
		}
	}
}

// intakeBody fills body, the request a tool sends to op, from the tool's
// request type: a canary in every string field not listed in plain (after
// any value the body gives it), and checks that every map and raw JSON
// field already holds one. It returns the body as JSON.
func intakeBody(t *testing.T, c *apiCanaries, op string, typ reflect.Type, body map[string]any, plain map[string]string) string {
	t.Helper()
	fields := map[string]bool{}
	intakeFields(typ, "", fields)
	for f := range plain {
		if _, ok := fields[f]; !ok {
			t.Errorf("%s: the test classifies %s, which %s does not have", op, f, typ)
		}
	}
	for _, f := range slices.Sorted(func(yield func(string) bool) {
		for f := range fields {
			if !yield(f) {
				return
			}
		}
	}) {
		if _, ok := plain[f]; ok {
			continue
		}
		if !fields[f] {
			if raw, _ := json.Marshal(valueAt(body, f)); !strings.Contains(string(raw), apiCanaryMark) {
				t.Errorf("%s: %s (a map or free-form JSON) holds no canary in the test's body; give it one", op, f)
			}
			continue
		}
		if err := fill(body, f, c.next(op, f)); err != nil {
			t.Fatalf("%s: %s: %v", op, f, err)
		}
	}
	raw, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return string(raw)
}

// valueAt returns what body holds at the dotted path ("[]" taking every
// element of a list).
func valueAt(v any, path string) any {
	if path == "" {
		return v
	}
	seg, rest, _ := strings.Cut(path, ".")
	key, array := strings.CutSuffix(seg, "[]")
	var x any
	switch m := v.(type) {
	case map[string]any:
		x = m[key]
	default:
		return nil
	}
	if !array {
		return valueAt(x, rest)
	}
	var out []any
	switch l := x.(type) {
	case []map[string]any:
		for _, e := range l {
			out = append(out, valueAt(e, rest))
		}
	case []any:
		for _, e := range l {
			out = append(out, valueAt(e, rest))
		}
	}
	return out
}

// intakeOwnRoute is the route of each integration kind that has one of
// its own; the other kinds post to /intake/{kind}/{key} (or
// /intake/{kind} with the key as a bearer token).
var intakeOwnRoute = map[alert.Kind]string{alert.KindEventsV2: "POST /v2/enqueue", alert.KindHeartbeat: "POST /heartbeat/{key}",
	alert.KindEmail: "email"}

// driveIntakeCanaries sends a canary in every field every intake route
// takes: the Events API v2 (trigger, acknowledge and resolve) and its
// change events, Alertmanager, Grafana (by key in the path and as a
// bearer token), SNS (a subscription confirmation, a CloudWatch alarm and
// another notification), the generic webhook through a mapping that reads
// every field, heartbeats (GET and POST), email and SMS replies. The
// string fields of the JSON routes come from the parsers' request types,
// so a field added to one is filled automatically; a route intake.Register
// serves or an integration kind the test does not drive fails it.
func driveIntakeCanaries(t *testing.T, w *ward, c *apiCanaries, env intakeEnv) {
	t.Helper()
	written := len(c.written)
	driven := map[string]bool{} // route, or "route kind" for /intake/{kind}
	kinds := map[alert.Kind]bool{}
	send := func(route string, kind alert.Kind, path, body string, header map[string]string, want int) string {
		t.Helper()
		code, raw := w.post(path, body, header)
		if code != want {
			t.Fatalf("%s (%s): %d, want %d: %s", route, kind, code, want, raw)
		}
		driven[route] = true
		kinds[kind] = true
		return raw
	}
	svc, ig := w.service("canary-intake", true, "source", "events_v2", "")

	// The Events API v2: a trigger, then an acknowledgement and a resolve
	// of it, each with the whole body (the API ignores the payload of the
	// last two).
	v2 := reflect.TypeFor[integration.EventsV2]()
	v2Plain := map[string]string{"routing_key": isKey, "event_action": isVocab, "payload.severity": isVocab}
	dedup := ""
	for _, action := range []string{"trigger", "acknowledge", "resolve"} {
		op := "POST /v2/enqueue " + action
		body := map[string]any{"routing_key": ig.Key, "event_action": action,
			"payload": map[string]any{"severity": "critical", "custom_details": intakeCustom(c, op, "payload.custom_details")},
			"links":   []any{map[string]any{"href": "https://example.org/" + c.token(op, "links[].href"), "text": c.next(op, "links[].text")}},
			"images": []any{map[string]any{"src": "https://example.org/i.png", "href": "https://example.org/",
				"alt": c.next(op, "images[].alt")}}}
		plain := maps.Clone(v2Plain)
		if action != "trigger" {
			body["dedup_key"] = dedup
			plain["dedup_key"] = "the trigger's dedup key (a canary), which the acknowledgement names"
		}
		s := intakeBody(t, c, op, v2, body, plain)
		if action == "trigger" {
			dedup, _ = body["dedup_key"].(string)
		}
		send("POST /v2/enqueue", alert.KindEventsV2, "/v2/enqueue", s, nil, http.StatusAccepted)
	}
	if as := w.alerts("service=" + svc); len(as) != 1 || as[0].Status != "resolved" {
		t.Fatalf("the Events API v2 alert, acknowledged and resolved by its canary key: %+v", as)
	}

	// A change event on the same key.
	op := "POST /v2/change/enqueue"
	send(op, alert.KindEventsV2, "/v2/change/enqueue", intakeBody(t, c, op, reflect.TypeFor[integration.ChangeEventV2](),
		map[string]any{"routing_key": ig.Key, "payload": map[string]any{"custom_details": intakeCustom(c, op, "payload.custom_details")},
			"links": []any{map[string]any{"href": "https://ci.example.org/42", "text": c.next(op, "links[].text")}}},
		map[string]string{"routing_key": isKey, "payload.timestamp": isTime}), nil, http.StatusAccepted)

	// Alertmanager and Grafana: every label and annotation a canary, in
	// the alert and in the notification's common and group labels.
	notification := reflect.TypeFor[integration.Notification]()
	notificationPlain := map[string]string{"version": isVocab, "status": isVocab, "alerts[].status": isVocab,
		"alerts[].startsAt": isTime, "alerts[].endsAt": isTime, "state": isVocab}
	for i, k := range []struct {
		kind   alert.Kind
		bearer bool
	}{{alert.KindAlertmanager, false}, {alert.KindGrafana, false}, {alert.KindGrafana, true}} {
		route := "POST /intake/{kind}/{key}"
		if k.bearer {
			route = "POST /intake/{kind}"
		}
		op := route + " " + string(k.kind)
		labels := func(what string) map[string]any {
			out := map[string]any{"severity": "critical"}
			for _, l := range []string{"alertname", "instance", "job", "component", "service"} {
				out[l] = c.next(op, what+"."+l)
			}
			return out
		}
		annotations := func(what string) map[string]any {
			return map[string]any{"summary": c.next(op, what+".summary"), "title": c.next(op, what+".title"),
				"description": c.next(op, what+".description")}
		}
		body := map[string]any{"version": "4", "status": "firing", "groupLabels": labels("groupLabels"),
			"commonLabels": labels("commonLabels"), "commonAnnotations": annotations("commonAnnotations"),
			"alerts": []any{map[string]any{"status": "firing", "startsAt": "2026-11-28T00:00:00Z", "labels": labels("alerts[].labels"),
				"annotations": annotations("alerts[].annotations"), "values": intakeCustom(c, op, "alerts[].values")}}}
		_, key := w.service("canary-notification-"+strconv.Itoa(i), true, "source", string(k.kind), "")
		path, header := "/intake/"+string(k.kind)+"/"+key.Key, map[string]string(nil)
		if k.bearer {
			path, header = "/intake/"+string(k.kind), map[string]string{"Authorization": "Bearer " + key.Key}
		}
		send(route, k.kind, path, intakeBody(t, c, op, notification, body, notificationPlain), header, http.StatusAccepted)
		driven[route+" "+string(k.kind)] = true
	}

	// SNS: a subscription confirmation (to a server whose certificate
	// Ward does not trust, so refused after the visit: its text has been
	// read all the same), a CloudWatch alarm and another notification.
	_, sns := w.service("canary-sns", true, "source", string(alert.KindSNS), "")
	snsType := reflect.TypeFor[integration.SNSMessage]()
	op = "POST /intake/{kind}/{key} sns SubscriptionConfirmation"
	confirm := map[string]any{"Type": integration.SNSSubscriptionConfirmation, "SubscribeURL": env.sns.URL + "/confirm?Token=" +
		c.token(op, "SubscribeURL query")}
	body := intakeBody(t, c, op, snsType, confirm, map[string]string{"Type": isVocab, "SubscribeURL": "the URL Ward visits; its query holds a canary"})
	if raw := send("POST /intake/{kind}/{key}", alert.KindSNS, "/intake/sns/"+sns.Key, body, nil, http.StatusBadRequest); !strings.Contains(raw,
		"could not confirm the SNS subscription") {
		t.Fatalf("SNS confirmation: %s", raw)
	}
	op = "POST /intake/{kind}/{key} sns CloudWatch alarm"
	alarm := map[string]any{"NewStateValue": "ALARM", "OldStateValue": "OK", "Trigger": intakeCustom(c, op, "Message.Trigger")}
	for _, f := range []string{"AlarmName", "AlarmDescription", "AWSAccountId", "NewStateReason", "StateChangeTime", "Region", "AlarmArn"} {
		alarm[f] = c.next(op, "Message."+f)
	}
	message, _ := json.Marshal(alarm)
	body = intakeBody(t, c, op, snsType, map[string]any{"Type": integration.SNSNotification, "Message": string(message)},
		map[string]string{"Type": isVocab, "Message": "the alarm, as JSON, each of its fields a canary"})
	send("POST /intake/{kind}/{key}", alert.KindSNS, "/intake/sns/"+sns.Key, body, nil, http.StatusAccepted)
	op = "POST /intake/{kind}/{key} sns Notification"
	body = intakeBody(t, c, op, snsType, map[string]any{"Type": integration.SNSNotification}, map[string]string{"Type": isVocab})
	send("POST /intake/{kind}/{key}", alert.KindSNS, "/intake/sns/"+sns.Key, body, nil, http.StatusAccepted)
	driven["POST /intake/{kind}/{key} sns"] = true

	// The generic webhook, through a mapping that reads every field of
	// Mapping from a list of items, each pointed-at value a canary.
	mapping := map[string]any{"items": "/checks", "action_map": map[string]string{"down": "trigger"},
		"severity_map": map[string]string{"red": "critical"}}
	item := map[string]any{}
	mt := reflect.TypeFor[integration.Mapping]()
	for i := range mt.NumField() {
		f := mt.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case f.Type.Kind() != reflect.String || name == "items":
		case name == "action":
			mapping[name], item[name] = "/"+name, "DOWN"
		case name == "severity":
			mapping[name], item[name] = "/"+name, "red"
		default:
			mapping[name] = "/" + name
			item[name] = c.next("POST /intake/{kind}/{key} webhook", "checks[]."+name)
		}
	}
	item["other"] = intakeCustom(c, "POST /intake/{kind}/{key} webhook", "checks[].other")
	raw, _ := json.Marshal(mapping)
	_, hook := w.service("canary-webhook", true, "source", string(alert.KindWebhook), string(raw))
	raw, _ = json.Marshal(map[string]any{"checks": []any{item}, "sent_by": c.next("POST /intake/{kind}/{key} webhook", "sent_by")})
	send("POST /intake/{kind}/{key}", alert.KindWebhook, "/intake/webhook/"+hook.Key, string(raw), nil, http.StatusAccepted)
	driven["POST /intake/{kind}/{key} webhook"] = true

	// Heartbeats take no text, but a job may send some: in the query
	// string and the body.
	var hbSvc struct{ ID string }
	w.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "canary-heartbeat"}, &hbSvc)
	var hb integrationKey
	w.must(http.StatusCreated, "POST", "/api/v1/services/"+hbSvc.ID+"/integrations",
		map[string]any{"kind": "heartbeat", "name": "job", "interval_seconds": 3600}, &hb)
	send("POST /heartbeat/{key}", alert.KindHeartbeat, "/heartbeat/"+hb.Key+"?note="+c.token("POST /heartbeat/{key}", "query"),
		`{"message":"`+c.next("POST /heartbeat/{key}", "body")+`"}`, nil, http.StatusOK)
	if code, raw := w.do("GET", "/heartbeat/"+hb.Key+"?note="+c.token("GET /heartbeat/{key}", "query"), nil, nil); code != http.StatusOK {
		t.Fatalf("heartbeat GET: %d %s", code, raw)
	}
	driven["GET /heartbeat/{key}"] = true

	// Email: the sender (which becomes the alert's source), the subject,
	// the headers and the text.
	var emSvc struct{ ID string }
	w.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "canary-email"}, &emSvc)
	var em integrationKey
	w.must(http.StatusCreated, "POST", "/api/v1/services/"+emSvc.ID+"/integrations", map[string]any{"kind": "email", "name": "mailer"}, &em)
	if err := sendIntakeEmail(env.emailAddr, c.addr("email", "envelope sender"), em.Key+"@"+env.emailDomain,
		fmt.Sprintf("From: %s <backup@legacy.example>\r\nSubject: %s\r\nMessage-Id: <%s>\r\nDate: %s\r\nX-Job: %s\r\nContent-Type: text/plain\r\n\r\n%s\r\n",
			c.next("email", "From"), c.next("email", "Subject"), c.next("email", "Message-Id"), c.next("email", "Date"),
			c.next("email", "X-Job"), c.next("email", "text"))); err != nil {
		t.Fatalf("email intake: %v", err)
	}
	driven["email"], kinds[alert.KindEmail] = true, true

	// An SMS reply to a page, which is only ever a code: any other text is
	// answered and dropped.
	form := url.Values{"From": {"+14155550123"}, "To": {"+15005550006"}, "Body": {c.next("POST /intake/twilio/sms", "Body")}}
	req, _ := http.NewRequest(http.MethodPost, w.url+"/intake/twilio/sms", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Twilio-Signature", signTwilio(env.twilioToken, w.url+"/intake/twilio/sms", form))
	resp, err := w.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("SMS reply: %d", resp.StatusCode)
	}
	driven["POST /intake/twilio/sms"] = true

	// A press of a Slack button, by a member Ward does not know, who is
	// told so alone and nothing else.
	press := slackPress(c.token("POST /intake/slack/interactions", "user.id"), c.token("POST /intake/slack/interactions", "channel.id"),
		"1700000000.000100", "ward_acknowledge", c.token("POST /intake/slack/interactions", "actions.value"))
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	if code := postSlack(t, w, press, ts, intake.SlackSignature(env.slackSecret, ts, press)); code != http.StatusOK {
		t.Fatalf("Slack press: %d", code)
	}
	if eph := env.slack.of("chat.postEphemeral"); len(eph) != 1 || strings.Contains(eph[0].args["text"].(string), "zebulon") {
		t.Fatalf("the answer to an unknown Slack member: %v", eph)
	}
	driven["POST /intake/slack/interactions"] = true

	t.Logf("intake: %d routes and %d integration kinds driven, %d fields written with a canary", len(intake.Patterns()),
		len(kinds), len(c.written)-written)
	for _, p := range intake.Patterns() {
		if p != "POST /intake/{kind}/{key}" && !driven[p] {
			t.Errorf("the intake route %s is not driven by the canary test", p)
		}
	}
	for _, k := range alert.Kinds {
		if !kinds[k] {
			t.Errorf("integration kind %s is not driven by the canary test", k)
		}
		if _, own := intakeOwnRoute[k]; !own && !driven["POST /intake/{kind}/{key} "+string(k)] {
			t.Errorf("POST /intake/%s/{key} is not driven by the canary test", k)
		}
	}
}

// sendIntakeEmail sends msg from from to to through the email intake at
// addr, over STARTTLS (Ward's self-signed certificate).
func sendIntakeEmail(addr, from, to, msg string) error {
	c, err := smtp.Dial(addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.StartTLS(&tls.Config{ServerName: "localhost", InsecureSkipVerify: true}); err != nil {
		return err
	}
	if err := c.Mail(from); err != nil {
		return err
	}
	if err := c.Rcpt(to); err != nil {
		return err
	}
	wc, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := wc.Write([]byte(msg)); err != nil {
		return err
	}
	if err := wc.Close(); err != nil {
		return err
	}
	return c.Quit()
}

// freeAddr returns a loopback address no one listens on, for a listener
// the server opens.
func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
