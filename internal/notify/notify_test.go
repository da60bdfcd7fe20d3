package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/mail"
	"net/url"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/wardhq/ward/internal/clock"
)

func TestRenderPage(t *testing.T) {
	subject, text := Render(testMessage())
	if subject != "Ward INC-42 SEV1 checkout: triggered" {
		t.Errorf("subject = %q", subject)
	}
	want := "Incident: INC-42\nSeverity: SEV1\nService: checkout\nStatus: triggered\n" +
		"Open: https://ward.example.org/incidents/INC-42\n" +
		"Acknowledge: https://ward.example.org/a/tok-ack\nResolve: https://ward.example.org/r/tok-resolve\n"
	if text != want {
		t.Errorf("text = %q, want %q", text, want)
	}
}

// TestRenderNotificationRef: a message with an id ends with a short
// reference to it, the same on every re-send.
func TestRenderNotificationRef(t *testing.T) {
	m := testMessage()
	m.ID = "019a2b3c-4d5e-7f00-8123-456789abcdef"
	if _, text := Render(m); !strings.HasSuffix(text, "Resolve: https://ward.example.org/r/tok-resolve\nRef: 89abcdef\n") {
		t.Errorf("text = %q", text)
	}
	m.ID = "bad id"
	if err := m.Validate(); err == nil {
		t.Error("an id with a space is valid")
	}
}

func TestRenderOmitsEmptyFields(t *testing.T) {
	subject, text := Render(Message{Kind: KindReminder, Incident: "INC-7", Status: "update overdue", URL: "https://w/i/7", Code: "7"})
	if subject != "Ward INC-7: update overdue" {
		t.Errorf("subject = %q", subject)
	}
	if text != "Incident: INC-7\nStatus: update overdue\nOpen: https://w/i/7\nReply code: 7\n" {
		t.Errorf("text = %q", text)
	}
}

func TestRenderVerifyAndTest(t *testing.T) {
	subject, text := Render(Message{Kind: KindVerify, Code: "482913"})
	if subject != "Ward verification code" || !strings.HasPrefix(text, "Your Ward verification code is 482913\n") {
		t.Errorf("verify: %q, %q", subject, text)
	}
	subject, text = Render(Message{Kind: KindTest, URL: "https://w/settings"})
	if subject != "Ward test notification" || !strings.Contains(text, "Open: https://w/settings") {
		t.Errorf("test: %q, %q", subject, text)
	}
}

func TestRenderPageReplyCode(t *testing.T) {
	m := testMessage()
	m.Code = "482913"
	m.EscalateURL = "https://ward.example.org/a/tok-escalate"
	if _, text := Render(m); !strings.HasSuffix(text, "Escalate now: https://ward.example.org/a/tok-escalate\n"+
		"Reply 482913 to acknowledge, 482913R to resolve or 482913E to escalate now\n") {
		t.Errorf("text = %q", text)
	}
}

func TestRenderEmergencyAccess(t *testing.T) {
	m := Message{Kind: KindEmergencyAccess, Incident: "INC-9", Severity: "sev2", Status: "break-glass by user:alice", URL: "https://w/incidents/INC-9"}
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	subject, text := Render(m)
	if subject != "Ward EMERGENCY ACCESS to INC-9" || !strings.HasPrefix(text, "Emergency (break-glass) access") ||
		!strings.Contains(text, "Status: break-glass by user:alice\nOpen: https://w/incidents/INC-9\n") {
		t.Errorf("emergency access: %q, %q", subject, text)
	}
}

func TestValidate(t *testing.T) {
	if err := testMessage().Validate(); err != nil {
		t.Fatalf("valid message: %v", err)
	}
	cases := map[string]func(*Message){
		"kind":         func(m *Message) { m.Kind = "email" },
		"incident":     func(m *Message) { m.Incident = "" },
		"severity":     func(m *Message) { m.Severity = "critical" },
		"status":       func(m *Message) { m.Status = "ok\r\nBcc: attacker@example.com" },
		"service":      func(m *Message) { m.Service = strings.Repeat("s", 201) },
		"url":          func(m *Message) { m.URL = "" },
		"ack_url":      func(m *Message) { m.AckURL = "javascript:alert(1)" },
		"code":         func(m *Message) { m.Code = "12 34" },
		"resolve_url":  func(m *Message) { m.ResolveURL = "https://w/\nx" },
		"escalate_url": func(m *Message) { m.EscalateURL = "ftp://w/x" },
	}
	for field, mutate := range cases {
		m := testMessage()
		mutate(&m)
		err := m.Validate()
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("bad %s: %v, want an error naming it", field, err)
		}
	}
	if err := (Message{Kind: KindVerify}).Validate(); err == nil || !strings.Contains(err.Error(), "code") {
		t.Errorf("verify without code: %v", err)
	}
}

func TestSendersRefuseInvalidMessages(t *testing.T) {
	srv := newRecorder(t, http.StatusOK, nil, "ok")
	s, err := NewSlackWebhook(SlackWebhookConfig{Outbound: loopback, URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Send(context.Background(), "", Message{Kind: KindPage, Incident: "INC-1", URL: "https://w/1", Status: "a\nb"})
	if err == nil || IsTransient(err) || srv.count() != 0 {
		t.Errorf("Send of an invalid message: %v, %d requests; want a permanent error and none", err, srv.count())
	}
}

func TestIsTransient(t *testing.T) {
	netErr := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	cases := []struct {
		err  error
		want bool
	}{
		{nil, false},
		{errors.New("unknown"), false},
		{netErr, true},
		{fmt.Errorf("wrapped: %w", netErr), true},
		{Permanent(netErr), false},
		{context.DeadlineExceeded, true},
		{io.ErrUnexpectedEOF, true},
		{&HTTPError{StatusCode: 400}, false},
		{&HTTPError{StatusCode: 404}, false},
		{&HTTPError{StatusCode: 408}, true},
		{&HTTPError{StatusCode: 429}, true},
		{&HTTPError{StatusCode: 500}, true},
		{&HTTPError{StatusCode: 200, Code: "ratelimited", Transient: true}, true},
		{&smtp.SMTPError{Code: 421}, true},
		{&smtp.SMTPError{Code: 554}, false},
	}
	for _, c := range cases {
		if got := IsTransient(c.err); got != c.want {
			t.Errorf("IsTransient(%#v) = %v, want %v", c.err, got, c.want)
		}
	}
	if Permanent(nil) != nil {
		t.Error("Permanent(nil) is not nil")
	}
}

// TestCanaryEveryChannel sends one Message through every channel to local
// servers and checks the bytes each received: the incident number and the
// links arrived, and no word did that is not a field of the Message, one of
// Render's labels or the channel's fixed framing (JSON keys, Adaptive Card
// and TwiML names). A field added to any payload fails it until reviewed.
func TestCanaryEveryChannel(t *testing.T) {
	m := Message{
		Kind:     KindPage,
		Incident: "INC-9137",
		Severity: "sev2",
		Service:  "lab-results",
		Status:   "triggered",
		URL:      "https://ward.example.org/incidents/INC-9137",
		AckURL:   "https://ward.example.org/a/canary-ack",
	}
	sentAt := time.Date(2026, 11, 28, 1, 2, 3, 0, time.UTC)
	ctx := context.Background()

	cert, pool := testCert(t)
	smtpSrv := startSMTP(t, "starttls", cert, nil)
	email := newTestEmail(t, smtpSrv.port, TLSModeStartTLS, pool)
	if _, err := email.Send(ctx, "oncall@example.com", m); err != nil {
		t.Fatalf("email: %v", err)
	}
	msgs := smtpSrv.messages()
	if len(msgs) != 1 {
		t.Fatalf("email: %d messages received", len(msgs))
	}
	parsed, err := mail.ReadMessage(strings.NewReader(string(msgs[0].data)))
	if err != nil {
		t.Fatal(err)
	}
	emailBody, err := io.ReadAll(quotedprintable.NewReader(parsed.Body))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(msgs[0].data), m.Incident) {
		t.Errorf("email: raw message lacks the incident number:\n%s", msgs[0].data)
	}
	received := map[string]string{"email": string(emailBody)}

	post := func(name string, status int, answer string, send func(base string) error, decode func([]byte) string) {
		srv := newRecorder(t, status, nil, answer)
		if err := send(srv.URL); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		received[name] = decode(srv.only(t).body)
	}
	raw := func(b []byte) string {
		var v any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("body %q is not JSON: %v", b, err)
		}
		return flatten(v)
	}
	form := func(b []byte) string {
		v, err := url.ParseQuery(string(b))
		if err != nil {
			t.Fatal(err)
		}
		if v.Has("Body") && !strings.Contains(string(b), url.QueryEscape(m.URL)) {
			t.Errorf("SMS form %q lacks the encoded link", b)
		}
		return v.Get("Body") + v.Get("Twiml")
	}
	post("sms", 201, `{"sid":"SM1"}`, func(base string) error {
		s, err := NewTwilioSMS(twilioConfig(base))
		if err == nil {
			_, err = s.Send(ctx, "+15551234567", m)
		}
		return err
	}, form)
	post("voice", 201, `{"sid":"CA1"}`, func(base string) error {
		s, err := NewTwilioVoice(twilioConfig(base))
		if err == nil {
			_, err = s.Send(ctx, "+15551234567", m)
		}
		return err
	}, form)
	post("slack webhook", 200, "ok", func(base string) error {
		s, err := NewSlackWebhook(SlackWebhookConfig{Outbound: loopback, URL: base})
		if err == nil {
			_, err = s.Send(ctx, "", m)
		}
		return err
	}, raw)
	post("slack bot", 200, `{"ok":true,"ts":"1.2"}`, func(base string) error {
		s, err := NewSlackBot(SlackBotConfig{BaseURL: base, Token: "xoxb-canary"})
		if err == nil {
			_, err = s.Send(ctx, "C0123", m)
		}
		return err
	}, raw)
	post("teams", 202, "", func(base string) error {
		s, err := NewTeams(TeamsConfig{Outbound: loopback, URL: base})
		if err == nil {
			_, err = s.Send(ctx, "", m)
		}
		return err
	}, raw)
	post("webhook", 200, "", func(base string) error {
		s, err := NewWebhook(WebhookConfig{Outbound: loopback, URL: base, Secret: webhookSecret, Clock: clock.NewFake(sentAt)})
		if err == nil {
			_, err = s.Send(ctx, "", m)
		}
		return err
	}, raw)

	for _, name := range []string{"email", "sms", "slack webhook", "slack bot", "teams", "webhook"} {
		got := received[name]
		if !strings.Contains(got, m.Incident) || !strings.Contains(got, m.URL) || !strings.Contains(got, m.AckURL) {
			t.Errorf("%s: received bytes lack the incident number or a link:\n%s", name, got)
		}
	}
	// A call reads the subject only: the number, spoken, and no link.
	if voice := received["voice"]; !strings.Contains(voice, "INC 9137") || strings.Contains(voice, "https://") {
		t.Errorf("voice: script %q, want the spoken incident number and no link", voice)
	}

	subject, text := Render(m)
	allowed := map[string]bool{}
	for _, w := range words(strings.Join([]string{
		subject, text, m.Kind, m.Incident, m.Severity, m.Service, m.Status, m.URL, m.AckURL,
		"text channel C0123 blocks type section mrkdwn context elements actions button action_id ward_acknowledge ward_resolve " +
			"ward_escalate ward_open plain_text Acknowledge Resolve Escalate now Open in Ward style primary", // Slack
		"Open Ward to respond severity", // TwiML
		"Response Say loop 2",           // TwiML
		"type message attachments contentType contentUrl application vnd microsoft card adaptive content schema http adaptivecards io schemas " +
			"json AdaptiveCard version 1.4 body TextBlock wrap true weight Bolder size Medium actions Action OpenUrl title url Open in Ward", // Teams
		"kind incident severity service status url ack_url resolve_url sent_at " + sentAt.Format(time.RFC3339), // webhook
	}, " ")) {
		allowed[w] = true
	}
	for name, got := range received {
		for _, w := range words(got) {
			if !allowed[w] {
				t.Errorf("%s: unexpected word %q in what was sent:\n%s", name, w, got)
			}
		}
	}
}

// flatten lists a decoded JSON value's keys and strings, one a line.
func flatten(v any) string {
	var b strings.Builder
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				b.WriteString(k + "\n")
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case string:
			b.WriteString(v + "\n")
		case bool, float64:
			fmt.Fprintf(&b, "%v\n", v)
		}
	}
	walk(v)
	return b.String()
}

// words splits s into runs of letters, digits and underscores.
func words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_')
	})
}
