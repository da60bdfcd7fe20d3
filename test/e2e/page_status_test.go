package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/notify"
)

// chatReceiver is a local server speaking what Ward's webhook, Slack
// incoming-webhook and Teams Workflows channels expect back (200 "ok"),
// keeping every request. status, when set, is the answer instead; hold,
// when set, keeps each request until it is closed.
type chatReceiver struct {
	*httptest.Server
	mu     sync.Mutex
	reqs   []hookRequest
	status int
	hold   chan struct{}
}

func startChat(t *testing.T) *chatReceiver {
	c := &chatReceiver{}
	c.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.reqs = append(c.reqs, hookRequest{r.URL.Path, r.Header.Clone(), b})
		status, hold := c.status, c.hold
		c.mu.Unlock()
		if hold != nil {
			<-hold
		}
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(c.Close)
	return c
}

// to lists the bodies of the requests to path.
func (c *chatReceiver) to(path string) []hookRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []hookRequest
	for _, r := range c.reqs {
		if r.path == path {
			out = append(out, r)
		}
	}
	return out
}

func (c *chatReceiver) set(status int, hold chan struct{}) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.status, c.hold = status, hold
}

// newResponder makes user u, a responder, at the command line.
func newResponder(t *testing.T, data, url, u string) {
	t.Helper()
	if code, _, errs := runWardIn(t, data, url, "orange lantern over quiet harbour\n", "user", "create",
		"--username", u, "--name", u, "--email", u+"@example.org", "--role", "responder", "--password-stdin"); code != 0 {
		t.Fatalf("user create %s: %s", u, errs)
	}
}

// outboxDone waits until no message of incident inc is left to send
// (queued, scheduled or being sent) and returns its delivery history.
func outboxDone(t *testing.T, w *ward, inc string) []map[string]any {
	t.Helper()
	var ns []map[string]any
	eventually(t, "every message of "+inc+" recorded", func() bool {
		ns = nil
		w.must(200, "GET", "/api/v1/incidents/"+inc+"/notifications", nil, &ns)
		for _, n := range ns {
			if s := n["status"]; s == "queued" || s == "scheduled" || s == "sending" {
				return false
			}
		}
		return true
	})
	return ns
}

// TestPageStatusNotifications: when a page escalates, is acknowledged
// and is resolved, the people paged for it hear so on their webhook,
// Slack and Teams contact methods, each message with its own notification
// id, the incident number and no PHI; a method with status notifications
// turned off hears nothing but its page.
func TestPageStatusNotifications(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, url string) {
		chat := startChat(t)
		clk := clock.NewFake(time.Now())
		data := t.TempDir()
		w := startWardAt(t, data, url, func(e *app.Env) {
			e.Clock = clk
			e.Args = append(e.Args, "--paging-poll", "50ms")
		}, allowLoopback)
		for _, u := range []string{"alice", "bob", "carol"} {
			newResponder(t, data, url, u)
		}
		type cm struct {
			ID            string
			Verified      bool
			StatusUpdates bool `json:"status_updates"`
		}
		add := func(user string, body map[string]any) cm {
			var c cm
			w.must(201, "POST", "/api/v1/users/"+user+"/contact-methods", body, &c)
			return c
		}
		aliceHook := add("alice", map[string]any{"kind": "webhook", "address": chat.URL + "/alice"})
		aliceSlack := add("alice", map[string]any{"kind": "slack", "address": chat.URL + "/slack"})
		bobHook := add("bob", map[string]any{"kind": "webhook", "address": chat.URL + "/bob", "status_updates": false})
		carolTeams := add("carol", map[string]any{"kind": "teams", "address": chat.URL + "/teams"})
		if !aliceHook.StatusUpdates || !aliceSlack.StatusUpdates || bobHook.StatusUpdates || !carolTeams.StatusUpdates {
			t.Fatalf("status updates by default: %+v %+v %+v %+v", aliceHook, aliceSlack, bobHook, carolTeams)
		}
		// Email is off unless chosen; a missing or wrong value is a 422
		// naming the field.
		var email cm
		w.must(201, "POST", "/api/v1/users/carol/contact-methods", map[string]any{"kind": "email", "address": "carol@example.org"}, &email)
		if email.StatusUpdates {
			t.Fatalf("email has status updates by default: %+v", email)
		}
		if code, raw := w.do("PATCH", "/api/v1/contact-methods/"+email.ID, map[string]any{"status_updates": "yes"}, nil); code != 422 ||
			!strings.Contains(string(raw), "body.status_updates") {
			t.Fatalf("a bad status_updates: %d %s", code, raw)
		}
		w.must(200, "PATCH", "/api/v1/contact-methods/"+email.ID, map[string]any{"status_updates": true}, &email)
		if !email.StatusUpdates {
			t.Fatalf("turned on: %+v", email)
		}
		w.must(204, "DELETE", "/api/v1/contact-methods/"+email.ID, nil, nil)
		// Slack and Teams are verified with the code their test message
		// carries; webhooks verify themselves.
		for _, c := range []struct {
			id, path string
		}{{aliceSlack.ID, "/slack"}, {carolTeams.ID, "/teams"}} {
			eventually(t, "the code sent to "+c.path, func() bool { return len(chat.to(c.path)) == 1 })
			code := regexp.MustCompile(`verification code is ([0-9]{6})`).FindSubmatch(chat.to(c.path)[0].body)
			if code == nil {
				t.Fatalf("no code in %s", chat.to(c.path)[0].body)
			}
			w.must(200, "POST", "/api/v1/contact-methods/"+c.id+"/verify", map[string]any{"code": string(code[1])}, nil)
		}
		for _, u := range []string{"alice", "bob"} {
			eventually(t, u+"'s webhook verified", func() bool {
				var cs []cm
				w.must(200, "GET", "/api/v1/users/"+u+"/contact-methods", nil, &cs)
				for _, c := range cs {
					if !c.Verified {
						return false
					}
				}
				return true
			})
		}

		w.must(201, "POST", "/api/v1/escalation-policies", map[string]any{"name": "storefront",
			"steps": []map[string]any{
				{"delay_minutes": 5, "targets": []map[string]string{{"type": "user", "id": "alice"}, {"type": "user", "id": "bob"}}},
				{"delay_minutes": 5, "targets": []map[string]string{{"type": "user", "id": "carol"}}},
			}}, nil)
		var svc struct{ ID string }
		w.must(201, "POST", "/api/v1/services", map[string]any{"name": "storefront", "handles_phi": true, "escalation_policy": "storefront"}, &svc)
		var ig integrationKey
		w.must(201, "POST", "/api/v1/services/"+svc.ID+"/integrations", map[string]any{"kind": "events_v2", "name": "mon"}, &ig)
		if code, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger","dedup_key":"s1",
			"payload":{"summary":"Checkout down","source":"web1","severity":"critical","custom_details":{"mrn":"`+canaryPHI+`"}}}`, nil); code != 202 {
			t.Fatalf("trigger: %d %s", code, body)
		}
		inc := w.alerts("service=" + svc.ID)[0].IncidentNumber
		eventually(t, "step 1's pages", func() bool {
			return len(chat.to("/alice")) == 2 && len(chat.to("/slack")) == 2 && len(chat.to("/bob")) == 2
		})
		var page notify.WebhookPayload
		if err := json.Unmarshal(chat.to("/alice")[1].body, &page); err != nil || page.Kind != "page" {
			t.Fatalf("alice's page: %s %v", chat.to("/alice")[1].body, err)
		}

		// payload reads the webhook request r and checks what every status
		// message carries.
		payload := func(r hookRequest, status string) notify.WebhookPayload {
			t.Helper()
			var p notify.WebhookPayload
			if err := json.Unmarshal(r.body, &p); err != nil {
				t.Fatalf("status message: %s %v", r.body, err)
			}
			if p.Kind != "page_status" || p.Incident != inc || p.Service != "storefront" || p.Severity != "sev1" || p.Status != status ||
				p.AckURL != "" || p.ID == "" || r.header.Get(notify.HeaderNotificationID) != p.ID {
				t.Fatalf("status message %+v, want %q about %s", p, status, inc)
			}
			return p
		}

		// No acknowledgement in 5 minutes: step 2 pages Carol, and Alice's
		// webhook and Slack hear the page escalated; Bob's webhook, with
		// status updates off, does not.
		clk.Advance(5 * time.Minute)
		eventually(t, "the escalation", func() bool {
			return len(chat.to("/alice")) == 3 && len(chat.to("/slack")) == 3 && len(chat.to("/teams")) == 2
		})
		escalated := payload(chat.to("/alice")[2], "escalated to step 2 of 2")
		if s := string(chat.to("/slack")[2].body); !strings.Contains(s, inc) || !strings.Contains(s, "escalated to step 2 of 2") {
			t.Fatalf("slack escalation: %s", s)
		}

		// Alice acknowledges with the link her page carried.
		if c, b := w.post(strings.TrimPrefix(page.AckURL, w.url), "", nil); c != 200 {
			t.Fatalf("acknowledge: %d %s", c, b)
		}
		eventually(t, "the acknowledgement", func() bool {
			return len(chat.to("/alice")) == 4 && len(chat.to("/slack")) == 4 && len(chat.to("/teams")) == 3
		})
		acked := payload(chat.to("/alice")[3], "acknowledged by alice")
		if s := string(chat.to("/teams")[2].body); !strings.Contains(s, inc) || !strings.Contains(s, "acknowledged by alice") {
			t.Fatalf("teams acknowledgement: %s", s)
		}
		if acked.ID == escalated.ID || acked.ID == page.ID {
			t.Fatalf("notification ids repeat: page %s, escalated %s, acknowledged %s", page.ID, escalated.ID, acked.ID)
		}

		w.must(200, "POST", "/api/v1/incidents/"+inc+"/page/resolve", nil, nil)
		eventually(t, "the resolution", func() bool {
			return len(chat.to("/alice")) == 5 && len(chat.to("/slack")) == 5 && len(chat.to("/teams")) == 4
		})
		payload(chat.to("/alice")[4], "resolved by an API token")

		// Every message is recorded: Bob's webhook was sent its page and
		// nothing else.
		var hist []string
		for _, n := range outboxDone(t, w, inc) {
			hist = append(hist, n["username"].(string)+"/"+n["channel"].(string)+"/"+n["status"].(string))
		}
		// Messages queued together share a time: compare them unordered.
		slices.Sort(hist)
		want := "alice/slack/sent alice/slack/sent alice/slack/sent alice/slack/sent alice/webhook/sent alice/webhook/sent " +
			"alice/webhook/sent alice/webhook/sent bob/webhook/sent carol/teams/sent carol/teams/sent carol/teams/sent"
		if strings.Join(hist, " ") != want {
			t.Fatalf("delivery history:\n%s\nwant\n%s", strings.Join(hist, " "), want)
		}
		if n := len(chat.to("/bob")); n != 2 {
			t.Fatalf("bob's webhook got %d requests, want its test delivery and its page", n)
		}
		for _, r := range chat.all() {
			if bytes.Contains(r.body, []byte(canaryPHI)) || bytes.Contains(r.body, []byte("Checkout down")) {
				t.Fatalf("a message holds alert content: %s", r.body)
			}
		}
	})
}

func (c *chatReceiver) all() []hookRequest {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]hookRequest(nil), c.reqs...)
}

// metric reads the value of series (a name with its labels, as
// /metrics writes it), 0 when absent.
func metric(t *testing.T, w *ward, series string) float64 {
	t.Helper()
	raw := w.must(200, "GET", "/metrics", nil, nil)
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`).FindSubmatch(raw)
	if m == nil {
		return 0
	}
	v, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestPagingMetrics: /metrics follows paging: pages triggered,
// acknowledged and resolved, notifications sent and failed per channel,
// the backlog while a send hangs, and the first-page latency.
func TestPagingMetrics(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, url string) {
		chat := startChat(t)
		clk := clock.NewFake(time.Now())
		data := t.TempDir()
		w := startWardAt(t, data, url, func(e *app.Env) {
			e.Clock = clk
			e.Args = append(e.Args, "--paging-poll", "50ms")
		}, allowLoopback)
		newResponder(t, data, url, "dave")
		w.must(201, "POST", "/api/v1/users/dave/contact-methods", map[string]any{"kind": "webhook", "address": chat.URL + "/dave"}, nil)
		eventually(t, "the webhook verified", func() bool { return len(chat.to("/dave")) == 1 })
		w.must(201, "POST", "/api/v1/escalation-policies", map[string]any{"name": "ops",
			"steps": []map[string]any{{"delay_minutes": 5, "targets": []map[string]string{{"type": "user", "id": "dave"}}}}}, nil)
		var svc struct{ ID string }
		w.must(201, "POST", "/api/v1/services", map[string]any{"name": "ops", "escalation_policy": "ops"}, &svc)
		var ig integrationKey
		w.must(201, "POST", "/api/v1/services/"+svc.ID+"/integrations", map[string]any{"kind": "events_v2", "name": "mon"}, &ig)
		eventually(t, "the verification recorded", func() bool { return metric(t, w, `ward_notifications_pending`) == 0 })
		base := map[string]float64{}
		series := []string{`ward_pages_total{event="triggered"}`, `ward_pages_total{event="acknowledged"}`,
			`ward_pages_total{event="resolved"}`, `ward_notifications_total{channel="webhook",outcome="sent"}`,
			`ward_notifications_total{channel="webhook",outcome="failed"}`, `ward_first_page_latency_seconds_count`}
		for _, s := range series {
			base[s] = metric(t, w, s)
		}
		moved := func(s string) float64 { return metric(t, w, s) - base[s] }
		trigger := func(key string) string {
			t.Helper()
			if code, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger","dedup_key":"`+key+`",
				"payload":{"summary":"Disk full","source":"db1","severity":"critical"}}`, nil); code != 202 {
				t.Fatalf("trigger: %d %s", code, body)
			}
			for _, a := range w.alerts("service=" + svc.ID) {
				if a.DedupKey == key {
					return a.IncidentNumber
				}
			}
			t.Fatalf("no alert %s", key)
			return ""
		}

		// A page the receiver holds: it is pending, and ages with the clock.
		hold := make(chan struct{})
		chat.set(http.StatusBadRequest, hold)
		inc1 := trigger("m1")
		eventually(t, "the held page", func() bool { return len(chat.to("/dave")) == 2 })
		if n := metric(t, w, `ward_notifications_pending`); n != 1 {
			t.Fatalf("pending while the page is held: %v", n)
		}
		clk.Advance(time.Minute)
		if age := metric(t, w, `ward_notifications_pending_oldest_seconds`); age < 60 {
			t.Fatalf("oldest pending: %vs, want at least 60", age)
		}
		if n := moved(`ward_pages_total{event="triggered"}`); n != 1 {
			t.Fatalf("pages triggered: +%v", n)
		}
		// The receiver refuses it for good (400): failed, no latency.
		close(hold)
		outboxDone(t, w, inc1)
		eventually(t, "the failure counted", func() bool { return moved(`ward_notifications_total{channel="webhook",outcome="failed"}`) == 1 })
		if n := metric(t, w, `ward_notifications_pending`); n != 0 {
			t.Fatalf("pending once recorded: %v", n)
		}
		if n := moved(`ward_first_page_latency_seconds_count`); n != 0 {
			t.Fatalf("a failed page observed a first-page latency")
		}

		// A page that gets through: sent, and its latency observed once.
		chat.set(0, nil)
		inc2 := trigger("m2")
		outboxDone(t, w, inc2)
		eventually(t, "the send counted", func() bool {
			return moved(`ward_notifications_total{channel="webhook",outcome="sent"}`) == 1 && moved(`ward_first_page_latency_seconds_count`) == 1
		})
		w.must(200, "POST", "/api/v1/incidents/"+inc2+"/page/acknowledge", nil, nil)
		w.must(200, "POST", "/api/v1/incidents/"+inc2+"/page/resolve", nil, nil)
		if a, r := moved(`ward_pages_total{event="acknowledged"}`), moved(`ward_pages_total{event="resolved"}`); a != 1 || r != 1 {
			t.Fatalf("pages acknowledged +%v, resolved +%v", a, r)
		}
		if n := moved(`ward_pages_total{event="triggered"}`); n != 2 {
			t.Fatalf("pages triggered: +%v", n)
		}
		for _, s := range []string{"Disk full", "dave@example.org"} {
			if bytes.Contains(w.must(200, "GET", "/metrics", nil, nil), []byte(s)) {
				t.Fatalf("/metrics holds %q", s)
			}
		}
	})
}
