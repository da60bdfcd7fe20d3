package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/web/intake"
)

// slackCall is one call a fakeSlack took: the Web API method and its
// JSON arguments.
type slackCall struct {
	method string
	args   map[string]any
	raw    []byte
	ts     string // the ts answered
}

// fakeSlack is a local server speaking Slack's Web API methods Ward
// calls (chat.postMessage, chat.update, chat.postEphemeral): it checks
// the bot token, keeps every call and answers ok with a new ts.
type fakeSlack struct {
	*httptest.Server
	mu    sync.Mutex
	calls []slackCall
}

func startSlack(t *testing.T, token string) *fakeSlack {
	s := &fakeSlack{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Authorization") != "Bearer "+token {
			_, _ = io.WriteString(w, `{"ok":false,"error":"invalid_auth"}`)
			return
		}
		method, ok := strings.CutPrefix(r.URL.Path, "/api/")
		if !ok || (method != "chat.postMessage" && method != "chat.update" && method != "chat.postEphemeral") {
			_, _ = io.WriteString(w, `{"ok":false,"error":"unknown_method"}`)
			return
		}
		b, _ := io.ReadAll(r.Body)
		var args map[string]any
		if err := json.Unmarshal(b, &args); err != nil {
			_, _ = io.WriteString(w, `{"ok":false,"error":"invalid_json"}`)
			return
		}
		s.mu.Lock()
		ts := "1700000000." + strconv.Itoa(100001+len(s.calls))
		if method == "chat.update" {
			ts, _ = args["ts"].(string)
		}
		s.calls = append(s.calls, slackCall{method, args, b, ts})
		s.mu.Unlock()
		_, _ = io.WriteString(w, `{"ok":true,"ts":"`+ts+`","channel":"`+args["channel"].(string)+`"}`)
	}))
	t.Cleanup(s.Close)
	return s
}

// of lists the calls of method.
func (s *fakeSlack) of(method string) []slackCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []slackCall
	for _, c := range s.calls {
		if c.method == method {
			out = append(out, c)
		}
	}
	return out
}

// buttons lists the action_id and value of each button of a call's
// blocks.
func (c slackCall) buttons() map[string]string {
	out := map[string]string{}
	blocks, _ := c.args["blocks"].([]any)
	for _, b := range blocks {
		els, _ := b.(map[string]any)["elements"].([]any)
		for _, e := range els {
			m := e.(map[string]any)
			if m["type"] == "button" {
				v, _ := m["value"].(string)
				out[m["action_id"].(string)] = v
			}
		}
	}
	return out
}

// slackPress is the request Slack sends when member presses button
// action of the message ts in channel, carrying value.
func slackPress(member, channel, ts, action, value string) []byte {
	payload, _ := json.Marshal(map[string]any{"type": "block_actions", "user": map[string]string{"id": member},
		"channel": map[string]string{"id": channel}, "container": map[string]string{"message_ts": ts, "channel_id": channel},
		"actions": []map[string]string{{"action_id": action, "value": value}}})
	return []byte(url.Values{"payload": {string(payload)}}.Encode())
}

// postSlack posts body to Ward's interactivity endpoint with the given
// timestamp and signature headers (empty: left out).
func postSlack(t *testing.T, w *ward, body []byte, ts, sig string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, w.url+"/intake/slack/interactions", strings.NewReader(string(body)))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if ts != "" {
		req.Header.Set("X-Slack-Request-Timestamp", ts)
	}
	if sig != "" {
		req.Header.Set("X-Slack-Signature", sig)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	return resp.StatusCode
}

// TestSlackAppButtons: a page sent by the Slack bot carries Acknowledge,
// Resolve, Escalate and Open buttons and no PHI; a press signed as Slack
// signs acknowledges the page as the Ward person whose verified Slack
// contact method names the presser, and the message is rewritten to say
// who acted, without the spent button; the status change is a reply in
// the message's thread. Unsigned, wrongly signed, stale and replayed
// presses are refused and change nothing; a press from a Slack member
// Ward does not know, or from an auditor, is answered to them alone and
// changes nothing.
func TestSlackAppButtons(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, url string) {
		const token, secret = "xoxb-ward-test-token", "ward-test-signing-secret"
		slack := startSlack(t, token)
		data := t.TempDir()
		w := startWardAt(t, data, url, func(e *app.Env) {
			e.Args = append(e.Args, "--paging-poll", "50ms", "--slack-bot-token", token, "--slack-url", slack.URL,
				"--slack-signing-secret", secret)
		})
		newResponder(t, data, url, "alice")
		var cm struct{ ID string }
		w.must(201, "POST", "/api/v1/users/alice/contact-methods", map[string]any{"kind": "slack", "address": "U0ALICE01"}, &cm)
		eventually(t, "the verification code in a direct message", func() bool { return len(slack.of("chat.postMessage")) == 1 })
		verify := slack.of("chat.postMessage")[0]
		code := regexp.MustCompile(`verification code is ([0-9]{6})`).FindStringSubmatch(verify.args["text"].(string))
		if verify.args["channel"] != "U0ALICE01" || code == nil {
			t.Fatalf("verification message: %s", verify.raw)
		}
		w.must(200, "POST", "/api/v1/contact-methods/"+cm.ID+"/verify", map[string]any{"code": code[1]}, nil)
		// Carol, an auditor, is known to Ward by her Slack member ID too.
		if code, _, errs := runWardIn(t, data, url, "orange lantern over quiet harbour\n", "user", "create", "--username", "carol",
			"--name", "carol", "--email", "carol@example.org", "--role", "auditor", "--password-stdin"); code != 0 {
			t.Fatalf("user create carol: %s", errs)
		}
		w.must(201, "POST", "/api/v1/users/carol/contact-methods", map[string]any{"kind": "slack", "address": "U0CAROL01"}, &cm)
		eventually(t, "carol's code", func() bool { return len(slack.of("chat.postMessage")) == 2 })
		code = regexp.MustCompile(`verification code is ([0-9]{6})`).FindStringSubmatch(slack.of("chat.postMessage")[1].args["text"].(string))
		w.must(200, "POST", "/api/v1/contact-methods/"+cm.ID+"/verify", map[string]any{"code": code[1]}, nil)

		w.must(201, "POST", "/api/v1/escalation-policies", map[string]any{"name": "storefront",
			"steps": []map[string]any{{"delay_minutes": 5, "targets": []map[string]string{{"type": "user", "id": "alice"}}}}}, nil)
		var svc struct{ ID string }
		w.must(201, "POST", "/api/v1/services", map[string]any{"name": "storefront", "handles_phi": true, "escalation_policy": "storefront"}, &svc)
		var ig integrationKey
		w.must(201, "POST", "/api/v1/services/"+svc.ID+"/integrations", map[string]any{"kind": "events_v2", "name": "mon"}, &ig)
		if code, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger","dedup_key":"s1",
			"payload":{"summary":"Checkout down for `+canaryPHI+`","source":"web1","severity":"critical"}}`, nil); code != 202 {
			t.Fatalf("trigger: %d %s", code, body)
		}
		inc := w.alerts("service=" + svc.ID)[0].IncidentNumber
		eventually(t, "the page in Slack", func() bool { return len(slack.of("chat.postMessage")) == 3 })
		msg := slack.of("chat.postMessage")[2]
		if strings.Contains(string(msg.raw), canaryPHI) || !strings.Contains(string(msg.raw), inc) ||
			strings.Contains(string(msg.raw), "/a/") {
			t.Fatalf("the page message carries PHI, no incident number, or links that act: %s", msg.raw)
		}
		btn := msg.buttons()
		id := btn["ward_acknowledge"]
		if id == "" || btn["ward_resolve"] != id || btn["ward_escalate"] != id {
			t.Fatalf("buttons: %v", btn)
		}
		if _, ok := btn["ward_open"]; !ok {
			t.Fatalf("no Open button: %v", btn)
		}
		ts := msg.ts

		pageStatus := func() string {
			var pg struct{ Status string }
			w.must(200, "GET", "/api/v1/incidents/"+inc+"/page", nil, &pg)
			return pg.Status
		}
		now := func() string { return strconv.FormatInt(time.Now().Unix(), 10) }
		press := slackPress("U0ALICE01", "U0ALICE01", ts, "ward_acknowledge", id)
		// Unsigned, wrongly signed, signed with another secret, stale,
		// and signed over another body: refused.
		stale := strconv.FormatInt(time.Now().Add(-6*time.Minute).Unix(), 10)
		other := slackPress("U0ALICE01", "U0ALICE01", ts, "ward_resolve", id)
		for name, c := range map[string]struct{ ts, sig string }{
			"unsigned":       {"", ""},
			"no timestamp":   {"", intake.SlackSignature(secret, now(), press)},
			"wrong":          {now(), "v0=00"},
			"another secret": {now(), intake.SlackSignature("not-the-secret", now(), press)},
			"stale":          {stale, intake.SlackSignature(secret, stale, press)},
			"another body":   {now(), intake.SlackSignature(secret, now(), other)},
		} {
			if got := postSlack(t, w, press, c.ts, c.sig); got != http.StatusUnauthorized {
				t.Errorf("%s press: %d, want 401", name, got)
			}
		}
		// A member Ward does not know is told so, alone.
		bobTS := now()
		bob := slackPress("U0BOB0001", "U0ALICE01", ts, "ward_acknowledge", id)
		if got := postSlack(t, w, bob, bobTS, intake.SlackSignature(secret, bobTS, bob)); got != http.StatusOK {
			t.Fatalf("unknown member's press: %d", got)
		}
		eph := slack.of("chat.postEphemeral")
		if len(eph) != 1 || eph[0].args["user"] != "U0BOB0001" || !strings.Contains(eph[0].args["text"].(string), "does not know your Slack account") {
			t.Fatalf("ephemeral refusal: %v", eph)
		}
		if s := pageStatus(); s != "triggered" || len(slack.of("chat.update")) != 0 {
			t.Fatalf("refused presses changed something: page %s, %d updates", s, len(slack.of("chat.update")))
		}

		// Alice's press acknowledges, as her.
		aliceTS := now()
		sig := intake.SlackSignature(secret, aliceTS, press)
		if got := postSlack(t, w, press, aliceTS, sig); got != http.StatusOK {
			t.Fatalf("alice's press: %d", got)
		}
		var pg struct {
			Status         string `json:"status"`
			AcknowledgedBy string `json:"acknowledged_by"`
		}
		w.must(200, "GET", "/api/v1/incidents/"+inc+"/page", nil, &pg)
		if pg.Status != "acknowledged" || pg.AcknowledgedBy != "user:alice" {
			t.Fatalf("page: %+v", pg)
		}
		ups := slack.of("chat.update")
		if len(ups) != 1 || ups[0].args["channel"] != "U0ALICE01" || ups[0].args["ts"] != ts ||
			!strings.Contains(string(ups[0].raw), "Acknowledged by alice at ") || strings.Contains(string(ups[0].raw), canaryPHI) {
			t.Fatalf("update: %v", ups)
		}
		if b := ups[0].buttons(); b["ward_acknowledge"] != "" || b["ward_resolve"] != id {
			t.Fatalf("buttons after acknowledging: %v", b)
		}
		// The same request again is refused and changes nothing.
		if got := postSlack(t, w, press, aliceTS, sig); got != http.StatusConflict {
			t.Fatalf("replayed press: %d, want 409", got)
		}
		if len(slack.of("chat.update")) != 1 {
			t.Fatalf("a replay rewrote the message")
		}
		// The acknowledgement is a reply in the page message's thread.
		eventually(t, "the status reply", func() bool { return len(slack.of("chat.postMessage")) == 4 })
		if r := slack.of("chat.postMessage")[3]; r.args["thread_ts"] != ts ||
			!strings.Contains(r.args["text"].(string), "acknowledged by alice") {
			t.Fatalf("status reply: %s", r.raw)
		}
		var timeline struct{ Items []struct{ Kind, Note string } }
		w.must(200, "GET", "/api/v1/incidents/"+inc+"/timeline?limit=100", nil, &timeline)
		found := false
		for _, e := range timeline.Items {
			found = found || e.Kind == "paging" && strings.Contains(e.Note, "Page acknowledged by alice.")
		}
		if !found {
			t.Fatalf("no timeline note: %+v", timeline.Items)
		}
		// Carol, an auditor, may not change incidents: she is told so,
		// alone, and the page stays acknowledged.
		carolTS := now()
		carol := slackPress("U0CAROL01", "U0ALICE01", ts, "ward_resolve", id)
		if got := postSlack(t, w, carol, carolTS, intake.SlackSignature(secret, carolTS, carol)); got != http.StatusOK {
			t.Fatalf("carol's press: %d", got)
		}
		if eph := slack.of("chat.postEphemeral"); len(eph) != 2 || eph[1].args["user"] != "U0CAROL01" ||
			!strings.Contains(eph[1].args["text"].(string), "carol may not change incidents") {
			t.Fatalf("carol's refusal: %v", eph)
		}
		if s := pageStatus(); s != "acknowledged" || len(slack.of("chat.update")) != 1 {
			t.Fatalf("carol's press changed something: page %s, %d updates", s, len(slack.of("chat.update")))
		}
		// Resolving from Slack leaves no button but Open.
		resTS := now()
		res := slackPress("U0ALICE01", "U0ALICE01", ts, "ward_resolve", id)
		if got := postSlack(t, w, res, resTS, intake.SlackSignature(secret, resTS, res)); got != http.StatusOK {
			t.Fatalf("resolve press: %d", got)
		}
		ups = slack.of("chat.update")
		if len(ups) != 2 || pageStatus() != "resolved" || len(ups[1].buttons()) != 1 ||
			!strings.Contains(string(ups[1].raw), "Resolved by alice") {
			t.Fatalf("after resolving: %v", ups)
		}
	})
}
