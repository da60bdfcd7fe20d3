package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"mime/quotedprintable"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/notify"
	"github.com/wardhq/ward/internal/testwait"
)

// mailbox is a real SMTP server (go-smtp) on 127.0.0.1 that offers
// STARTTLS with a certificate the test makes, and keeps every message.
type mailbox struct {
	addr   string
	caFile string
	mu     sync.Mutex
	msgs   []string
	plain  int // messages that arrived without TLS
	// rcptErr, when set before Ward sends, is the answer to every
	// recipient: a server that refuses them.
	rcptErr error
	// refused are addresses the server refuses (550) while they are in
	// it; set under mu.
	refused map[string]error
}

// refuse makes the server refuse the address to with err, or accept it
// again when err is nil.
func (m *mailbox) refuse(to string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.refused == nil {
		m.refused = map[string]error{}
	}
	m.refused[to] = err
}

func (m *mailbox) all() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.msgs...)
}

type mailSession struct {
	m    *mailbox
	conn *smtp.Conn
}

func (s *mailSession) Mail(string, *smtp.MailOptions) error { return nil }
func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	if err := s.m.refused[to]; err != nil {
		return err
	}
	return s.m.rcptErr
}
func (s *mailSession) Reset()        {}
func (s *mailSession) Logout() error { return nil }
func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, secure := s.conn.TLSConnectionState()
	// Keep the headers and the decoded body, as a mail client shows them.
	head, body, _ := bytes.Cut(b, []byte("\r\n\r\n"))
	decoded, err := io.ReadAll(quotedprintable.NewReader(bytes.NewReader(body)))
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.m.msgs = append(s.m.msgs, string(head)+"\r\n\r\n"+string(decoded))
	if !secure {
		s.m.plain++
	}
	return nil
}

type quietLog struct{}

func (quietLog) Printf(string, ...any) {}
func (quietLog) Println(...any)        {}

func startMailbox(t testing.TB) *mailbox {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "mail.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	m := &mailbox{caFile: filepath.Join(t.TempDir(), "mail-ca.pem")}
	if err := os.WriteFile(m.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) { return &mailSession{m: m, conn: c}, nil }))
	s.Domain, s.ReadTimeout, s.WriteTimeout, s.ErrorLog = "mail.test", 10*time.Second, 10*time.Second, quietLog{}
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m.addr = l.Addr().String()
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	return m
}

// hookRequest is one request a webhook receiver got.
type hookRequest struct {
	path   string
	header http.Header
	body   []byte
}

type hookReceiver struct {
	*httptest.Server
	mu   sync.Mutex
	reqs []hookRequest
}

func (h *hookReceiver) all() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]hookRequest(nil), h.reqs...)
}

// allowLoopback is the administrator allow-listing the local receivers'
// address (--outbound-allow 127.0.0.1/32); without it Ward refuses them.
func allowLoopback(e *app.Env) { e.Args = append(e.Args, "--outbound-allow", "127.0.0.1/32") }

func startHook(t *testing.T) *hookReceiver {
	h := &hookReceiver{}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		h.reqs = append(h.reqs, hookRequest{r.URL.Path, r.Header.Clone(), b})
		h.mu.Unlock()
	}))
	t.Cleanup(h.Close)
	return h
}

// eventually waits for cond for up to 30s: the whole-Ward tests run
// under -race on a busy two-core machine in CI.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, what, 30*time.Second, cond)
}

// awaitRounds waits until the background loop that series counts (a
// /metrics series such as ward_paging_rounds_total) has completed a whole
// round that began after the call: what a test waits for before asserting
// that a change made the loop do nothing.
func awaitRounds(t *testing.T, w *ward, series string) {
	t.Helper()
	from := metric(t, w, series)
	eventually(t, "two more rounds of "+series, func() bool { return metric(t, w, series) >= from+2 })
}

var (
	codeRE = regexp.MustCompile(`verification code is ([0-9]{6})`)
	linkRE = regexp.MustCompile(`https://127\.0\.0\.1:[0-9]+/a/[A-Za-z0-9_-]+`)
)

const canaryPHI = "CANARY-PAGING-MRN-55021"

// TestPagingEndToEnd pages through a real SMTP server and a signed
// webhook with a fake clock: a trigger pages step 1 by email, no
// acknowledgement escalates to the schedule's webhook, the emailed link
// acknowledges, a restart loses and repeats nothing, the acknowledgement
// timeout pages again, resolving ends it, and no outbound byte holds the
// alert's PHI.
func TestPagingEndToEnd(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, url string) {
		mail, hook := startMailbox(t), startHook(t)
		clk := clock.NewFake(time.Now())
		data := t.TempDir()
		opts := func(e *app.Env) {
			e.Clock = clk
			e.Args = append(e.Args, "--smtp-server", mail.addr, "--smtp-from", "ward@example.org",
				"--smtp-ca-file", mail.caFile, "--paging-poll", "50ms")
		}
		w := startWardAt(t, data, url, opts, allowLoopback)
		for _, u := range []string{"alice", "bob"} {
			if code, _, errs := runWardIn(t, data, url, "orange lantern over quiet harbour\n", "user", "create",
				"--username", u, "--name", u, "--email", u+"@example.org", "--role", "responder", "--password-stdin"); code != 0 {
				t.Fatalf("user create %s: %s", u, errs)
			}
		}

		// Alice's email is verified with the code it is sent.
		var email struct{ ID string }
		w.must(201, "POST", "/api/v1/users/alice/contact-methods", map[string]any{"kind": "email", "address": "alice@example.org"}, &email)
		eventually(t, "the verification email", func() bool { return len(mail.all()) == 1 })
		code := codeRE.FindStringSubmatch(mail.all()[0])
		if code == nil {
			t.Fatalf("no code in %q", mail.all()[0])
		}
		if c, raw := w.do("POST", "/api/v1/contact-methods/"+email.ID+"/verify", map[string]any{"code": "999999"}, nil); c != 422 {
			t.Fatalf("a wrong code: %d %s", c, raw)
		}
		w.must(200, "POST", "/api/v1/contact-methods/"+email.ID+"/verify", map[string]any{"code": code[1]}, nil)
		// Bob's webhook is verified by a signed test delivery.
		var hookCM struct {
			ID, Secret string
			Verified   bool
		}
		w.must(201, "POST", "/api/v1/users/bob/contact-methods", map[string]any{"kind": "webhook", "address": hook.URL + "/page"}, &hookCM)
		if len(hookCM.Secret) != 64 || hookCM.Verified {
			t.Fatalf("webhook contact: %+v", hookCM)
		}
		eventually(t, "the webhook test delivery", func() bool {
			var cs []struct{ Verified bool }
			w.must(200, "GET", "/api/v1/users/bob/contact-methods", nil, &cs)
			return len(cs) == 1 && cs[0].Verified
		})

		w.must(201, "POST", "/api/v1/schedules", map[string]any{"name": "primary", "time_zone": "America/New_York",
			"rotations": []map[string]any{{"name": "weekly", "kind": "weekly", "shift_length": 1,
				"start": clk.Now().Add(-time.Hour).Format(time.RFC3339), "participants": []string{"bob"}}}}, nil)
		var onCall struct{ Users []string }
		w.must(200, "GET", "/api/v1/schedules/primary/on-call", nil, &onCall)
		if len(onCall.Users) != 1 {
			t.Fatalf("on call now: %+v", onCall)
		}
		w.must(201, "POST", "/api/v1/escalation-policies", map[string]any{"name": "payments", "ack_timeout_minutes": 30,
			"steps": []map[string]any{
				{"delay_minutes": 5, "targets": []map[string]string{{"type": "user", "id": "alice"}}},
				{"delay_minutes": 10, "targets": []map[string]string{{"type": "schedule", "id": "primary"}}},
			}}, nil)
		var svc struct{ ID string }
		w.must(201, "POST", "/api/v1/services", map[string]any{"name": "payments", "handles_phi": true, "escalation_policy": "payments"}, &svc)
		var ig integrationKey
		w.must(201, "POST", "/api/v1/services/"+svc.ID+"/integrations", map[string]any{"kind": "events_v2", "name": "mon"}, &ig)

		mailBefore := len(mail.all())
		code2, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger","dedup_key":"db1",
				"payload":{"summary":"Database unreachable","source":"db1","severity":"critical","custom_details":{"mrn":"`+canaryPHI+`"}}}`, nil)
		if code2 != 202 {
			t.Fatalf("trigger: %d %s", code2, body)
		}
		as := w.alerts("service=" + svc.ID)
		inc := as[0].IncidentNumber
		eventually(t, "the page email", func() bool { return len(mail.all()) == mailBefore+1 })
		page := mail.all()[mailBefore]
		if !strings.Contains(page, "Subject: Ward "+inc+" SEV1 payments: triggered") || !strings.Contains(page, "/incidents/"+inc) {
			t.Fatalf("page email: %s", page)
		}
		links := linkRE.FindAllString(page, -1)
		if len(links) != 3 {
			t.Fatalf("acknowledge, resolve and escalate links: %q", links)
		}
		if c, b := w.get(strings.TrimPrefix(links[2], w.url)); c != 200 || !strings.Contains(b, "Escalate "+inc+" as alice") {
			t.Fatalf("the escalate link's page: %d %s", c, b)
		}
		if n := len(hook.all()); n != 1 {
			t.Fatalf("the webhook was paged before step 2: %d", n)
		}

		// No acknowledgement within 5 minutes: the schedule's webhook.
		clk.Advance(5 * time.Minute)
		eventually(t, "the webhook page", func() bool { return len(hook.all()) == 2 })
		req := hook.all()[1]
		if err := notify.VerifySignature([]byte(hookCM.Secret), req.header.Get(notify.HeaderTimestamp),
			req.header.Get(notify.HeaderSignature), req.body, clk.Now(), 5*time.Minute); err != nil {
			t.Fatalf("webhook signature: %v", err)
		}
		var payload notify.WebhookPayload
		if err := json.Unmarshal(req.body, &payload); err != nil || payload.Incident != inc || payload.Kind != "page" ||
			!strings.Contains(payload.AckURL, "/a/") || !strings.Contains(payload.EscalateURL, "/a/") {
			t.Fatalf("webhook payload: %s %v", req.body, err)
		}

		// The emailed link acknowledges, as Alice, once.
		ackURL := strings.TrimPrefix(links[0], w.url)
		getCode, getBody := w.get(ackURL)
		if getCode != 200 || !strings.Contains(getBody, "Acknowledge "+inc) {
			t.Fatalf("link page: %d %s", getCode, getBody)
		}
		if c, b := w.post(ackURL, "", nil); c != 200 || !strings.Contains(b, inc+" acknowledged") {
			t.Fatalf("use link: %d %s", c, b)
		}
		if c, _ := w.post(ackURL, "", nil); c != 404 {
			t.Fatalf("a used link: %d", c)
		}
		var pg struct {
			Status         string `json:"status"`
			AcknowledgedBy string `json:"acknowledged_by"`
		}
		w.must(200, "GET", "/api/v1/incidents/"+inc+"/page", nil, &pg)
		if pg.Status != "acknowledged" || pg.AcknowledgedBy != "user:alice" {
			t.Fatalf("page: %+v", pg)
		}
		// Bob's webhook, paged at step 2, hears of it (status updates are on
		// for webhooks); Alice's email, off by default, does not.
		eventually(t, "the acknowledgement's status message", func() bool { return len(hook.all()) == 3 })
		var status notify.WebhookPayload
		if err := json.Unmarshal(hook.all()[2].body, &status); err != nil || status.Kind != "page_status" ||
			status.Status != "acknowledged by alice" || status.Incident != inc || status.ID == payload.ID {
			t.Fatalf("status message: %s %v", hook.all()[2].body, err)
		}

		// Restart mid-escalation: nothing lost, nothing sent twice.
		w.stop()
		mailAt, hookAt := len(mail.all()), len(hook.all())
		w = startWardAt(t, data, url, opts, allowLoopback)
		clk.Advance(29 * time.Minute)
		awaitRounds(t, w, "ward_paging_rounds_total")
		if len(mail.all()) != mailAt || len(hook.all()) != hookAt {
			t.Fatalf("sent again after the restart: %d emails, %d webhooks", len(mail.all())-mailAt, len(hook.all())-hookAt)
		}
		clk.Advance(time.Minute)
		eventually(t, "the re-page after the acknowledgement timeout", func() bool { return len(mail.all()) == mailAt+1 })

		w.must(200, "POST", "/api/v1/incidents/"+inc+"/page/resolve", nil, nil)
		clk.Advance(2 * time.Hour)
		var ns []struct {
			Username   string `json:"username"`
			Channel    string `json:"channel"`
			Status     string `json:"status"`
			ProviderID string `json:"provider_id"`
		}
		eventually(t, "nothing left to send", func() bool {
			var raw []map[string]any
			w.must(200, "GET", "/api/v1/incidents/"+inc+"/notifications", nil, &raw)
			for _, n := range raw {
				if s := n["status"]; s == "queued" || s == "scheduled" || s == "sending" {
					return false
				}
			}
			return true
		})
		w.must(200, "GET", "/api/v1/incidents/"+inc+"/notifications", nil, &ns)
		var hist []string
		for _, n := range ns {
			hist = append(hist, n.Username+"/"+n.Channel+"/"+n.Status)
			if n.Channel == "email" && n.ProviderID == "" {
				t.Errorf("no receipt for %+v", n)
			}
		}
		// Bob was not paged since the page started again, so the resolve
		// is not sent to him.
		if strings.Join(hist, " ") != "alice/email/sent bob/webhook/sent bob/webhook/sent alice/email/sent" {
			t.Fatalf("delivery history: %v", hist)
		}
		awaitRounds(t, w, "ward_paging_rounds_total")
		if len(mail.all()) != mailAt+1 || len(hook.all()) != hookAt {
			t.Fatalf("sent after resolve: %d emails, %d webhooks", len(mail.all())-mailAt-1, len(hook.all())-hookAt)
		}

		var timeline struct{ Items []struct{ Kind, Note string } }
		w.must(200, "GET", "/api/v1/incidents/"+inc+"/timeline?limit=100", nil, &timeline)
		var notes []string
		for _, e := range timeline.Items {
			if e.Kind == "paging" {
				notes = append(notes, e.Note)
			}
		}
		if len(notes) != 5 || !strings.Contains(notes[2], "acknowledged by alice") {
			t.Fatalf("paging timeline: %q", notes)
		}

		// No outbound byte holds the PHI; nothing went out in clear.
		for _, m := range mail.all() {
			if strings.Contains(m, canaryPHI) || strings.Contains(m, "Database unreachable") {
				t.Fatalf("an email holds alert content: %s", m)
			}
		}
		for _, r := range hook.all() {
			if bytes.Contains(r.body, []byte(canaryPHI)) {
				t.Fatalf("a webhook holds PHI: %s", r.body)
			}
		}
		if mail.plain != 0 {
			t.Fatalf("%d emails arrived without TLS", mail.plain)
		}
		if strings.Contains(w.logs.String(), canaryPHI) {
			t.Fatal("the log holds PHI")
		}
	})
}

// get fetches path without a token and returns the status and body.
func (w *ward) get(path string) (int, string) {
	w.t.Helper()
	resp, err := w.client.Get(w.url + path)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
