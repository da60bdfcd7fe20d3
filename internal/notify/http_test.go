package notify

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/outbound"
)

// loopback is the guard of a Ward whose administrator allow-lists the test
// servers' address (--outbound-allow 127.0.0.1/32).
var loopback = outbound.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, nil)

// captured is one request a recorder received.
type captured struct {
	method, path string
	header       http.Header
	body         []byte
}

// recorder is an httptest server on 127.0.0.1 that keeps every request
// and answers with a fixed status, headers and body.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []captured
}

func newRecorder(t *testing.T, status int, header map[string]string, body string) *recorder {
	t.Helper()
	r := &recorder{}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.reqs = append(r.reqs, captured{method: req.Method, path: req.URL.Path, header: req.Header.Clone(), body: b})
		r.mu.Unlock()
		for k, v := range header {
			w.Header().Set(k, v)
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, body)
	}))
	t.Cleanup(r.Close)
	return r
}

// only returns the single request received, failing the test otherwise.
func (r *recorder) only(t *testing.T) captured {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.reqs) != 1 {
		t.Fatalf("server received %d requests, want 1", len(r.reqs))
	}
	return r.reqs[0]
}

func (r *recorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.reqs)
}

func assertRequest(t *testing.T, got captured, path, contentType string) {
	t.Helper()
	if got.method != http.MethodPost || got.path != path {
		t.Errorf("request %s %s, want POST %s", got.method, got.path, path)
	}
	if ct := got.header.Get("Content-Type"); !strings.HasPrefix(ct, contentType) {
		t.Errorf("Content-Type = %q, want %s", ct, contentType)
	}
}

func twilioConfig(base string) TwilioConfig {
	return TwilioConfig{BaseURL: base, AccountSID: "AC123", AuthToken: "tok", From: "+15005550006", Timeout: 5 * time.Second}
}

func TestTwilioSMS(t *testing.T) {
	srv := newRecorder(t, http.StatusCreated, nil, `{"sid":"SM0123","status":"queued"}`)
	s, err := NewTwilioSMS(twilioConfig(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.Send(context.Background(), "+15551234567", testMessage())
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if rec != (Receipt{Provider: "twilio", ID: "SM0123", Status: "queued"}) {
		t.Errorf("receipt = %+v", rec)
	}
	got := srv.only(t)
	assertRequest(t, got, "/2010-04-01/Accounts/AC123/Messages.json", "application/x-www-form-urlencoded")
	if user, pass, ok := (&http.Request{Header: got.header}).BasicAuth(); !ok || user != "AC123" || pass != "tok" {
		t.Errorf("basic auth = %q:%q (%v)", user, pass, ok)
	}
	form, err := url.ParseQuery(string(got.body))
	if err != nil {
		t.Fatal(err)
	}
	if form.Get("To") != "+15551234567" || form.Get("From") != "+15005550006" {
		t.Errorf("To=%q From=%q", form.Get("To"), form.Get("From"))
	}
	_, text := Render(testMessage())
	if form.Get("Body") != strings.TrimSpace(text) {
		t.Errorf("Body = %q, want Render's text %q", form.Get("Body"), text)
	}
}

func TestTwilioVoice(t *testing.T) {
	srv := newRecorder(t, http.StatusCreated, nil, `{"sid":"CA0123","status":"queued"}`)
	v, err := NewTwilioVoice(twilioConfig(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	m := testMessage()
	m.Service = "billing & claims <east>"
	rec, err := v.Send(context.Background(), "+15551234567", m)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if rec.ID != "CA0123" {
		t.Errorf("receipt = %+v", rec)
	}
	got := srv.only(t)
	assertRequest(t, got, "/2010-04-01/Accounts/AC123/Calls.json", "application/x-www-form-urlencoded")
	form, _ := url.ParseQuery(string(got.body))
	var doc struct {
		XMLName xml.Name `xml:"Response"`
		Say     struct {
			Loop string `xml:"loop,attr"`
			Text string `xml:",chardata"`
		} `xml:"Say"`
	}
	if err := xml.Unmarshal([]byte(form.Get("Twiml")), &doc); err != nil {
		t.Fatalf("Twiml %q is not XML: %v", form.Get("Twiml"), err)
	}
	if !strings.Contains(doc.Say.Text, "INC 42") || !strings.Contains(doc.Say.Text, "billing & claims <east>") {
		t.Errorf("Say = %q", doc.Say.Text)
	}
	if strings.Contains(doc.Say.Text, "https://") {
		t.Errorf("Say reads a link aloud: %q", doc.Say.Text)
	}
}

func TestTwilioVerifyCallSpellsCode(t *testing.T) {
	got := twiml(Message{Kind: KindVerify, Code: "482913"})
	if !strings.Contains(got, "4 8 2 9 1 3") {
		t.Errorf("twiml = %q, want the code digit by digit", got)
	}
}

func TestTwilioErrors(t *testing.T) {
	cases := []struct {
		name      string
		status    int
		body      string
		transient bool
		code      string
	}{
		{"invalid number", http.StatusBadRequest, `{"code":21211,"message":"The 'To' number is not a valid phone number.","status":400}`, false, "21211"},
		{"rate limited", http.StatusTooManyRequests, `{"code":20429,"message":"Too Many Requests","status":429}`, true, "20429"},
		{"unavailable", http.StatusServiceUnavailable, `<html>down</html>`, true, ""},
		{"unauthorized", http.StatusUnauthorized, `{"code":20003,"message":"Authenticate","status":401}`, false, "20003"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := newRecorder(t, c.status, nil, c.body)
			s, err := NewTwilioSMS(twilioConfig(srv.URL))
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Send(context.Background(), "+15551234567", testMessage())
			he, ok := errors.AsType[*HTTPError](err)
			if !ok {
				t.Fatalf("Send: %v, want an *HTTPError", err)
			}
			if he.StatusCode != c.status || he.Code != c.code {
				t.Errorf("error %+v, want status %d code %q", he, c.status, c.code)
			}
			if IsTransient(err) != c.transient {
				t.Errorf("IsTransient(%v) = %v, want %v", err, IsTransient(err), c.transient)
			}
			if strings.Contains(err.Error(), "ward.example.org") || strings.Contains(err.Error(), "<html>") {
				t.Errorf("error %q carries a body", err)
			}
		})
	}
}

func TestTwilioBadNumberIsPermanent(t *testing.T) {
	srv := newRecorder(t, http.StatusCreated, nil, `{"sid":"SM1"}`)
	s, err := NewTwilioSMS(twilioConfig(srv.URL))
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Send(context.Background(), "555-1234", testMessage())
	if err == nil || IsTransient(err) {
		t.Fatalf("Send to a non-E.164 number: %v, want a permanent error", err)
	}
	if srv.count() != 0 {
		t.Error("Twilio was called for a bad number")
	}
}

func TestSlackWebhook(t *testing.T) {
	srv := newRecorder(t, http.StatusOK, nil, "ok")
	s, err := NewSlackWebhook(SlackWebhookConfig{Outbound: loopback, URL: srv.URL + "/services/T0/B0/secret", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.Send(context.Background(), "", testMessage())
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if rec.Provider != "slack" {
		t.Errorf("receipt = %+v", rec)
	}
	got := srv.only(t)
	assertRequest(t, got, "/services/T0/B0/secret", "application/json")
	var body map[string]string
	if err := json.Unmarshal(got.body, &body); err != nil {
		t.Fatal(err)
	}
	if len(body) != 1 || !strings.HasPrefix(body["text"], "*Ward INC-42 SEV1 checkout: triggered*\n") ||
		!strings.Contains(body["text"], "Open: https://ward.example.org/incidents/INC-42") {
		t.Errorf("body = %q", body)
	}
}

func TestSlackWebhookErrors(t *testing.T) {
	cases := []struct {
		status    int
		body      string
		transient bool
	}{
		{http.StatusBadRequest, "invalid_payload", false},
		{http.StatusNotFound, "channel_not_found", false},
		{http.StatusTooManyRequests, "rate_limited", true},
		{http.StatusInternalServerError, "", true},
	}
	for _, c := range cases {
		srv := newRecorder(t, c.status, map[string]string{"Retry-After": "30"}, c.body)
		s, err := NewSlackWebhook(SlackWebhookConfig{Outbound: loopback, URL: srv.URL, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Send(context.Background(), "", testMessage())
		he, ok := errors.AsType[*HTTPError](err)
		if !ok || he.Message != c.body || he.RetryAfter != 30*time.Second {
			t.Errorf("status %d: error %#v, want an HTTPError with message %q and RetryAfter 30s", c.status, err, c.body)
		}
		if IsTransient(err) != c.transient {
			t.Errorf("status %d: IsTransient(%v) = %v, want %v", c.status, err, IsTransient(err), c.transient)
		}
	}
}

func TestSlackBot(t *testing.T) {
	srv := newRecorder(t, http.StatusOK, nil, `{"ok":true,"channel":"C0123","ts":"1700000000.000100"}`)
	s, err := NewSlackBot(SlackBotConfig{BaseURL: srv.URL, Token: "xoxb-test", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := s.Send(context.Background(), "C0123", testMessage())
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if rec != (Receipt{Provider: "slack", ID: "1700000000.000100"}) {
		t.Errorf("receipt = %+v", rec)
	}
	got := srv.only(t)
	assertRequest(t, got, "/api/chat.postMessage", "application/json")
	if auth := got.header.Get("Authorization"); auth != "Bearer xoxb-test" {
		t.Errorf("Authorization = %q", auth)
	}
	var body struct {
		Channel, Text string
		Thread        string `json:"thread_ts"`
		Blocks        []slackBlock
	}
	if err := json.Unmarshal(got.body, &body); err != nil {
		t.Fatal(err)
	}
	if body.Channel != "C0123" || body.Text != slackText(testMessage()) || body.Thread != "" {
		t.Errorf("body = %s", got.body)
	}
	// Without interactivity every button opens its link.
	m := testMessage()
	want := map[string]string{SlackActionAcknowledge: m.AckURL, SlackActionResolve: m.ResolveURL, SlackActionOpen: m.URL}
	if m.EscalateURL != "" {
		want[SlackActionEscalate] = m.EscalateURL
	}
	if b := buttons(body.Blocks); !maps.Equal(b, want) {
		t.Errorf("buttons = %v, want %v", b, want)
	}
}

// slackBlock is what tests read of a Block Kit block.
type slackBlock struct {
	Type     string
	Elements []struct {
		Type     string
		ActionID string `json:"action_id"`
		Value    string
		URL      string
	}
}

// buttons maps each button's action_id to its value, or its url.
func buttons(blocks []slackBlock) map[string]string {
	out := map[string]string{}
	for _, b := range blocks {
		for _, e := range b.Elements {
			if e.Type == "button" {
				out[e.ActionID] = e.Value + e.URL
			}
		}
	}
	return out
}

// TestSlackBotInteractive: with interactivity a page's buttons carry the
// message's id for Slack to send back and its text no link that acts; a
// reply goes into its thread; Update rewrites a message with a note and
// only the buttons left; Ephemeral speaks to one member.
func TestSlackBotInteractive(t *testing.T) {
	srv := newRecorder(t, http.StatusOK, nil, `{"ok":true,"channel":"C0123","ts":"1700000000.000100"}`)
	s, err := NewSlackBot(SlackBotConfig{BaseURL: srv.URL, Token: "xoxb-test", Timeout: 5 * time.Second, Interactive: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m := testMessage()
	m.ID, m.EscalateURL = "0190c2a4-notification", "https://ward.example.org/a/escalate-token"
	if _, err := s.Send(ctx, "C0123", m); err != nil {
		t.Fatal(err)
	}
	reply := Message{Kind: KindPageStatus, Incident: m.Incident, Status: "acknowledged by alice", URL: m.URL, Thread: "1700000000.000100"}
	if _, err := s.Send(ctx, "C0123", reply); err != nil {
		t.Fatal(err)
	}
	if err := s.Update(ctx, "C0123", "1700000000.000100", m, []string{SlackActionResolve}, "Acknowledged by alice <now>."); err != nil {
		t.Fatal(err)
	}
	if err := s.Ephemeral(ctx, "C0123", "U0BOB", "Ward does not know you."); err != nil {
		t.Fatal(err)
	}
	srv.mu.Lock()
	reqs := slices.Clone(srv.reqs)
	srv.mu.Unlock()
	if len(reqs) != 4 {
		t.Fatalf("%d requests, want 4", len(reqs))
	}
	type call struct {
		Channel, Text, TS, User string
		Thread                  string `json:"thread_ts"`
		Blocks                  []slackBlock
	}
	var c [4]call
	for i, path := range []string{"/api/chat.postMessage", "/api/chat.postMessage", "/api/chat.update", "/api/chat.postEphemeral"} {
		assertRequest(t, reqs[i], path, "application/json")
		if err := json.Unmarshal(reqs[i].body, &c[i]); err != nil {
			t.Fatal(err)
		}
	}
	if b := buttons(c[0].Blocks); !maps.Equal(b, map[string]string{SlackActionAcknowledge: m.ID, SlackActionResolve: m.ID,
		SlackActionEscalate: m.ID, SlackActionOpen: m.URL}) {
		t.Errorf("page buttons = %v", b)
	}
	if strings.Contains(string(reqs[0].body), "/a/") || !strings.Contains(c[0].Text, m.Incident) {
		t.Errorf("page text carries a link that acts, or no incident: %s", reqs[0].body)
	}
	if c[1].Thread != "1700000000.000100" || c[1].Blocks != nil {
		t.Errorf("reply: %s", reqs[1].body)
	}
	if c[2].TS != "1700000000.000100" || c[2].Channel != "C0123" || !strings.Contains(string(reqs[2].body), "Acknowledged by alice &lt;now&gt;.") {
		t.Errorf("update: %s", reqs[2].body)
	}
	if b := buttons(c[2].Blocks); !maps.Equal(b, map[string]string{SlackActionResolve: m.ID, SlackActionOpen: m.URL}) {
		t.Errorf("update buttons = %v", b)
	}
	if c[3].User != "U0BOB" || c[3].Channel != "C0123" || c[3].Text != "Ward does not know you." {
		t.Errorf("ephemeral: %s", reqs[3].body)
	}
}

func TestSlackBotErrors(t *testing.T) {
	cases := []struct {
		status    int
		body      string
		code      string
		transient bool
	}{
		{http.StatusOK, `{"ok":false,"error":"channel_not_found"}`, "channel_not_found", false},
		{http.StatusOK, `{"ok":false,"error":"invalid_auth"}`, "invalid_auth", false},
		{http.StatusOK, `{"ok":false,"error":"ratelimited"}`, "ratelimited", true},
		{http.StatusTooManyRequests, ``, "", true},
		{http.StatusBadRequest, ``, "", false},
	}
	for _, c := range cases {
		srv := newRecorder(t, c.status, nil, c.body)
		s, err := NewSlackBot(SlackBotConfig{BaseURL: srv.URL, Token: "xoxb-test", Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Send(context.Background(), "C0123", testMessage())
		he, ok := errors.AsType[*HTTPError](err)
		if !ok || he.Code != c.code {
			t.Errorf("%d %s: error %v, want an HTTPError with code %q", c.status, c.body, err, c.code)
		}
		if IsTransient(err) != c.transient {
			t.Errorf("%d %s: IsTransient(%v) = %v, want %v", c.status, c.body, err, IsTransient(err), c.transient)
		}
	}
}

func TestTeams(t *testing.T) {
	srv := newRecorder(t, http.StatusAccepted, nil, "")
	s, err := NewTeams(TeamsConfig{Outbound: loopback, URL: srv.URL + "/workflows/abc", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m := testMessage()
	m.EscalateURL = "https://ward.example.org/a/tok-escalate"
	rec, err := s.Send(context.Background(), "", m)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if rec.Provider != "teams" {
		t.Errorf("receipt = %+v", rec)
	}
	got := srv.only(t)
	assertRequest(t, got, "/workflows/abc", "application/json")
	var msg struct {
		Type        string `json:"type"`
		Attachments []struct {
			ContentType string `json:"contentType"`
			Content     struct {
				Type    string `json:"type"`
				Version string `json:"version"`
				Body    []struct{ Type, Text string }
				Actions []struct{ Type, Title, URL string }
			} `json:"content"`
		} `json:"attachments"`
	}
	if err := json.Unmarshal(got.body, &msg); err != nil {
		t.Fatal(err)
	}
	if msg.Type != "message" || len(msg.Attachments) != 1 || msg.Attachments[0].ContentType != "application/vnd.microsoft.card.adaptive" {
		t.Fatalf("envelope = %+v", msg)
	}
	card := msg.Attachments[0].Content
	if card.Type != "AdaptiveCard" || card.Version != "1.4" {
		t.Errorf("card type %q version %q", card.Type, card.Version)
	}
	var texts []string
	for _, b := range card.Body {
		if b.Type != "TextBlock" {
			t.Errorf("body element of type %q", b.Type)
		}
		texts = append(texts, b.Text)
	}
	wantTexts := []string{"Ward INC-42 SEV1 checkout: triggered", "Incident: INC-42", "Severity: SEV1", "Service: checkout", "Status: triggered"}
	if strings.Join(texts, "|") != strings.Join(wantTexts, "|") {
		t.Errorf("text blocks = %q, want %q", texts, wantTexts)
	}
	wantActions := map[string]string{"Open in Ward": m.URL, "Acknowledge": m.AckURL, "Resolve": m.ResolveURL,
		"Escalate now": m.EscalateURL}
	if len(card.Actions) != len(wantActions) {
		t.Errorf("actions = %+v", card.Actions)
	}
	for _, a := range card.Actions {
		if a.Type != "Action.OpenUrl" || wantActions[a.Title] != a.URL {
			t.Errorf("action %+v", a)
		}
	}
}

func TestTeamsErrors(t *testing.T) {
	for status, transient := range map[int]bool{http.StatusBadRequest: false, http.StatusNotFound: false, http.StatusTooManyRequests: true, http.StatusBadGateway: true} {
		srv := newRecorder(t, status, nil, "")
		s, err := NewTeams(TeamsConfig{Outbound: loopback, URL: srv.URL, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Send(context.Background(), "", testMessage())
		if err == nil || IsTransient(err) != transient {
			t.Errorf("status %d: %v, want an error with IsTransient %v", status, err, transient)
		}
	}
}

var webhookSecret = []byte("0123456789abcdef0123456789abcdef")

func TestWebhookSignedPayload(t *testing.T) {
	srv := newRecorder(t, http.StatusNoContent, nil, "")
	sentAt := time.Date(2026, 11, 28, 1, 2, 3, 0, time.UTC)
	s, err := NewWebhook(WebhookConfig{Outbound: loopback, URL: srv.URL + "/hooks/ward", Secret: webhookSecret, Timeout: 5 * time.Second, Clock: clock.NewFake(sentAt)})
	if err != nil {
		t.Fatal(err)
	}
	m := testMessage()
	m.ID = "019a2b3c-4d5e-7f00-8123-456789abcdef"
	m.EscalateURL = "https://ward.example.org/a/tok-escalate"
	rec, err := s.Send(context.Background(), "", m)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if rec.Provider != "webhook" {
		t.Errorf("receipt = %+v", rec)
	}
	got := srv.only(t)
	assertRequest(t, got, "/hooks/ward", "application/json")
	var p WebhookPayload
	if err := json.Unmarshal(got.body, &p); err != nil {
		t.Fatal(err)
	}
	want := WebhookPayload{ID: m.ID, Kind: m.Kind, Incident: m.Incident, Severity: m.Severity, Service: m.Service, Status: m.Status,
		URL: m.URL, AckURL: m.AckURL, ResolveURL: m.ResolveURL, EscalateURL: m.EscalateURL, SentAt: "2026-11-28T01:02:03Z"}
	if p != want {
		t.Errorf("payload = %+v, want %+v", p, want)
	}
	if id := got.header.Get(HeaderNotificationID); id != m.ID {
		t.Errorf("%s = %q, want %q", HeaderNotificationID, id, m.ID)
	}
	ts, sig := got.header.Get(HeaderTimestamp), got.header.Get(HeaderSignature)
	if ts != "1795827723" || !strings.HasPrefix(sig, "v1=") {
		t.Fatalf("headers %s=%q %s=%q", HeaderTimestamp, ts, HeaderSignature, sig)
	}
	if err := VerifySignature(webhookSecret, ts, sig, got.body, sentAt.Add(time.Minute), 5*time.Minute); err != nil {
		t.Errorf("VerifySignature on the received request: %v", err)
	}

	tampered := []byte(strings.Replace(string(got.body), "sev1", "sev4", 1))
	if err := VerifySignature(webhookSecret, ts, sig, tampered, sentAt, 5*time.Minute); err == nil {
		t.Error("VerifySignature accepted a tampered body")
	}
	if err := VerifySignature([]byte("another secret of 32 bytes......"), ts, sig, got.body, sentAt, 5*time.Minute); err == nil {
		t.Error("VerifySignature accepted the wrong secret")
	}
	if err := VerifySignature(webhookSecret, ts, sig, got.body, sentAt.Add(10*time.Minute), 5*time.Minute); err == nil {
		t.Error("VerifySignature accepted a replay 10 minutes old")
	}
	if err := VerifySignature(webhookSecret, "1795827724", sig, got.body, sentAt, 5*time.Minute); err == nil {
		t.Error("VerifySignature accepted a changed timestamp")
	}
	if err := VerifySignature(webhookSecret, ts, "v0=abc, "+sig, got.body, sentAt, 5*time.Minute); err != nil {
		t.Errorf("VerifySignature with a second, unknown entry: %v", err)
	}
}

func TestWebhookErrors(t *testing.T) {
	for status, transient := range map[int]bool{http.StatusBadRequest: false, http.StatusRequestTimeout: true, http.StatusInternalServerError: true} {
		srv := newRecorder(t, status, nil, "")
		s, err := NewWebhook(WebhookConfig{Outbound: loopback, URL: srv.URL, Secret: webhookSecret, Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Send(context.Background(), "", testMessage())
		if err == nil || IsTransient(err) != transient {
			t.Errorf("status %d: %v, want an error with IsTransient %v", status, err, transient)
		}
	}
}

func TestWebhookRefusesVerificationCodes(t *testing.T) {
	srv := newRecorder(t, http.StatusOK, nil, "")
	s, err := NewWebhook(WebhookConfig{Outbound: loopback, URL: srv.URL, Secret: webhookSecret})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Send(context.Background(), "", Message{Kind: KindVerify, Code: "123456"})
	if err == nil || IsTransient(err) || srv.count() != 0 {
		t.Errorf("Send of a verify message: %v, %d requests; want a permanent error and none", err, srv.count())
	}
}

func TestHTTPTimeoutIsTransient(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	s, err := NewSlackWebhook(SlackWebhookConfig{Outbound: loopback, URL: srv.URL, Timeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Send(context.Background(), "", testMessage())
	if err == nil || !IsTransient(err) {
		t.Fatalf("Send to a server that never answers: %v, want a transient error", err)
	}
}

func TestHTTPURLsMustUseTLS(t *testing.T) {
	for _, u := range []string{"http://hooks.example.com/x", "ftp://hooks.example.com/x", "hooks.example.com/x", ""} {
		if _, err := NewSlackWebhook(SlackWebhookConfig{Outbound: loopback, URL: u}); err == nil {
			t.Errorf("NewSlackWebhook(%q) accepted it", u)
		}
	}
	for _, u := range []string{"https://hooks.example.com/x", "http://127.0.0.1:8080/x", "http://[::1]/x", "http://localhost/x"} {
		if _, err := NewTeams(TeamsConfig{Outbound: loopback, URL: u}); err != nil {
			t.Errorf("NewTeams(%q): %v", u, err)
		}
	}
	if _, err := NewTwilioSMS(TwilioConfig{BaseURL: "http://api.twilio.com", AccountSID: "AC1", AuthToken: "t", From: "+15005550006"}); err == nil {
		t.Error("NewTwilioSMS accepted a plain-http base URL")
	}
	if _, err := NewWebhook(WebhookConfig{Outbound: loopback, URL: "https://hooks.example.com", Secret: []byte("short")}); err == nil || !strings.Contains(err.Error(), "secret") {
		t.Errorf("NewWebhook with a short secret: %v", err)
	}
}

// TestGuardedChannelsRefuseForbiddenAddresses: the channels whose URL a
// person types refuse, before connecting and for good, a loopback server
// that is not allow-listed, a name resolving to one, the metadata service
// and its IPv6 and IPv4-mapped forms; they do not follow a redirect.
func TestGuardedChannelsRefuseForbiddenAddresses(t *testing.T) {
	srv := newRecorder(t, http.StatusOK, nil, "ok")
	u, _ := url.Parse(srv.URL)
	senders := map[string]func(target string, g *outbound.Guard) (Sender, error){
		"webhook": func(target string, g *outbound.Guard) (Sender, error) {
			return NewWebhook(WebhookConfig{URL: target, Secret: webhookSecret, Outbound: g})
		},
		"slack": func(target string, g *outbound.Guard) (Sender, error) {
			return NewSlackWebhook(SlackWebhookConfig{URL: target, Outbound: g})
		},
		"teams": func(target string, g *outbound.Guard) (Sender, error) {
			return NewTeams(TeamsConfig{URL: target, Outbound: g})
		},
	}
	for name, build := range senders {
		// Only loopback targets: were the guard ever broken, a test must
		// not send a packet off this machine. That the metadata, private
		// and link-local addresses are refused is the classifier's test
		// (internal/outbound), and the dial goes through the same check.
		for _, target := range []string{srv.URL + "/hook", "http://localhost:" + u.Port() + "/hook",
			"http://[::ffff:127.0.0.1]:" + u.Port() + "/hook"} {
			s, err := build(target, nil)
			if err != nil {
				t.Fatal(err)
			}
			_, err = s.Send(context.Background(), "", testMessage())
			if !outbound.IsRefused(err) || IsTransient(err) {
				t.Errorf("%s to %s without an allow-list: %v, want a permanent refusal", name, target, err)
			}
		}
		// Allow-listing 127.0.0.1 opens no other address.
		s, err := build("http://127.0.0.2:"+u.Port()+"/hook", loopback)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Send(context.Background(), "", testMessage()); !outbound.IsRefused(err) {
			t.Errorf("%s to 127.0.0.2 with 127.0.0.1/32 allowed: %v, want a refusal", name, err)
		}
	}
	if n := srv.count(); n != 0 {
		t.Fatalf("the loopback server got %d requests through guards that refused them", n)
	}

	// A receiver that redirects elsewhere: the redirect is not followed.
	redirect := httptest.NewServer(http.RedirectHandler("http://127.0.0.2:"+u.Port()+"/hook", http.StatusFound))
	defer redirect.Close()
	s, err := NewWebhook(WebhookConfig{URL: redirect.URL, Secret: webhookSecret, Outbound: loopback})
	if err != nil {
		t.Fatal(err)
	}
	var he *HTTPError
	if _, err := s.Send(context.Background(), "", testMessage()); !errors.As(err, &he) || he.StatusCode != http.StatusFound {
		t.Fatalf("a webhook that redirects: %v, want its 302 as the answer", err)
	}
}
