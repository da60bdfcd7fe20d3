package notify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// testCert is a self-signed certificate for 127.0.0.1 and a pool that
// trusts it.
func testCert(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ward-test-smtp"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, pool
}

// received is one message an smtpServer accepted.
type received struct {
	from string
	to   []string
	data []byte
	tls  bool
	user string
}

// smtpServer is a go-smtp server on 127.0.0.1 that keeps what it receives.
type smtpServer struct {
	port    int
	rcptErr error // returned by RCPT when set

	mu    sync.Mutex
	msgs  []received
	mails int // MAIL commands seen
}

func (s *smtpServer) messages() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]received(nil), s.msgs...)
}

func (s *smtpServer) mailCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.mails
}

type smtpSession struct {
	srv  *smtpServer
	conn *smtp.Conn
	user string
	from string
	to   []string
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, username, password string) error {
		if username != "ward" || password != "s3cret" {
			return errors.New("invalid credentials")
		}
		s.user = username
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	s.srv.mu.Lock()
	s.srv.mails++
	s.srv.mu.Unlock()
	s.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	if s.srv.rcptErr != nil {
		return s.srv.rcptErr
	}
	s.to = append(s.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, isTLS := s.conn.TLSConnectionState()
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	s.srv.msgs = append(s.srv.msgs, received{from: s.from, to: s.to, data: data, tls: isTLS, user: s.user})
	return nil
}

func (s *smtpSession) Reset()        { s.from, s.to = "", nil }
func (s *smtpSession) Logout() error { return nil }

// startSMTP starts a server. mode is "starttls" (STARTTLS offered), "tls"
// (implicit TLS listener) or "plain" (no TLS at all).
func startSMTP(t *testing.T, mode string, cert tls.Certificate, rcptErr error) *smtpServer {
	t.Helper()
	srv := &smtpServer{rcptErr: rcptErr}
	s := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{srv: srv, conn: c}, nil
	}))
	s.Domain = "localhost"
	s.ReadTimeout = 5 * time.Second
	s.WriteTimeout = 5 * time.Second
	s.ErrorLog = discardLogger{}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	switch mode {
	case "starttls":
		s.TLSConfig = tc
	case "tls":
		l = tls.NewListener(l, tc)
	}
	srv.port = l.Addr().(*net.TCPAddr).Port
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	return srv
}

type discardLogger struct{}

func (discardLogger) Printf(string, ...any) {}
func (discardLogger) Println(...any)        {}

func testMessage() Message {
	return Message{
		Kind:       KindPage,
		Incident:   "INC-42",
		Severity:   "sev1",
		Service:    "checkout",
		Status:     "triggered",
		URL:        "https://ward.example.org/incidents/INC-42",
		AckURL:     "https://ward.example.org/a/tok-ack",
		ResolveURL: "https://ward.example.org/r/tok-resolve",
		// EscalateURL is set by the tests that want it.
	}
}

func newTestEmail(t *testing.T, port int, mode string, pool *x509.CertPool) *Email {
	t.Helper()
	e, err := NewEmail(EmailConfig{
		Host: "127.0.0.1", Port: port, Username: "ward", Password: "s3cret",
		From: "Ward <ward@example.org>", TLSMode: mode, TLS: &tls.Config{RootCAs: pool},
		Timeout: 5 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestEmailDeliversOverTLS(t *testing.T) {
	cert, pool := testCert(t)
	for _, mode := range []string{TLSModeStartTLS, TLSModeImplicit} {
		t.Run(mode, func(t *testing.T) {
			srv := startSMTP(t, mode, cert, nil)
			e := newTestEmail(t, srv.port, mode, pool)
			m := testMessage()
			m.ID = "019a2b3c-4d5e-7f00-8123-456789abcdef"
			rec, err := e.Send(context.Background(), "oncall@example.com", m)
			if err != nil {
				t.Fatalf("Send: %v", err)
			}
			msgs := srv.messages()
			if len(msgs) != 1 {
				t.Fatalf("server received %d messages, want 1", len(msgs))
			}
			got := msgs[0]
			if !got.tls || got.user != "ward" {
				t.Errorf("delivered with tls=%v user=%q, want TLS and user ward", got.tls, got.user)
			}
			if got.from != "ward@example.org" || len(got.to) != 1 || got.to[0] != "oncall@example.com" {
				t.Errorf("envelope from=%q to=%q", got.from, got.to)
			}
			msg, err := mail.ReadMessage(bytes.NewReader(got.data))
			if err != nil {
				t.Fatalf("parsing received message: %v", err)
			}
			if from := msg.Header.Get("From"); from != `"Ward" <ward@example.org>` {
				t.Errorf("From = %q", from)
			}
			if to := msg.Header.Get("To"); to != "<oncall@example.com>" {
				t.Errorf("To = %q", to)
			}
			subject, err := new(mime.WordDecoder).DecodeHeader(msg.Header.Get("Subject"))
			if err != nil {
				t.Fatal(err)
			}
			if subject != "Ward INC-42 SEV1 checkout: triggered" {
				t.Errorf("Subject = %q", subject)
			}
			if rec.Provider != "smtp" || rec.ID == "" || msg.Header.Get("Message-ID") != rec.ID {
				t.Errorf("receipt %+v, Message-ID header %q", rec, msg.Header.Get("Message-ID"))
			}
			if id := msg.Header.Get(HeaderNotificationID); id != m.ID {
				t.Errorf("%s = %q, want %q", HeaderNotificationID, id, m.ID)
			}
			if !strings.HasSuffix(rec.ID, "@example.org>") {
				t.Errorf("Message-ID %q is not in the sender's domain", rec.ID)
			}
			body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"Open: https://ward.example.org/incidents/INC-42", "Acknowledge: https://ward.example.org/a/tok-ack",
				"Ref: 89abcdef"} {
				if !strings.Contains(string(body), want) {
					t.Errorf("body lacks %q:\n%s", want, body)
				}
			}
		})
	}
}

func TestEmailRefusesServerWithoutTLS(t *testing.T) {
	cert, pool := testCert(t)
	for _, mode := range []string{TLSModeStartTLS, TLSModeImplicit} {
		t.Run(mode, func(t *testing.T) {
			srv := startSMTP(t, "plain", cert, nil)
			e := newTestEmail(t, srv.port, mode, pool)
			_, err := e.Send(context.Background(), "oncall@example.com", testMessage())
			if err == nil {
				t.Fatal("Send to a server without TLS succeeded")
			}
			if IsTransient(err) {
				t.Errorf("missing TLS is classified transient: %v", err)
			}
			if mode == TLSModeStartTLS && !strings.Contains(err.Error(), "doesn't support STARTTLS") {
				t.Errorf("error %q does not say STARTTLS is missing", err)
			}
			if n := srv.mailCount(); n != 0 || len(srv.messages()) != 0 {
				t.Errorf("server saw %d MAIL commands and %d messages, want none", n, len(srv.messages()))
			}
		})
	}
}

func TestEmailRejectsUntrustedCertificate(t *testing.T) {
	cert, _ := testCert(t)
	_, otherPool := testCert(t)
	srv := startSMTP(t, "starttls", cert, nil)
	e := newTestEmail(t, srv.port, TLSModeStartTLS, otherPool)
	_, err := e.Send(context.Background(), "oncall@example.com", testMessage())
	if _, ok := errors.AsType[*tls.CertificateVerificationError](err); !ok {
		t.Fatalf("Send with a certificate outside RootCAs: %v, want a certificate verification error", err)
	}
	if IsTransient(err) {
		t.Errorf("an untrusted certificate is classified transient: %v", err)
	}
	if srv.mailCount() != 0 {
		t.Error("server saw MAIL over an unverified connection")
	}
}

func TestEmailRcptErrors(t *testing.T) {
	cert, pool := testCert(t)
	cases := []struct {
		name      string
		code      int
		transient bool
	}{
		{"mailbox unavailable 550", 550, false},
		{"try later 451", 451, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := startSMTP(t, "starttls", cert, &smtp.SMTPError{Code: c.code, EnhancedCode: smtp.EnhancedCodeNotSet, Message: "no"})
			e := newTestEmail(t, srv.port, TLSModeStartTLS, pool)
			_, err := e.Send(context.Background(), "oncall@example.com", testMessage())
			if err == nil {
				t.Fatal("Send succeeded despite the RCPT error")
			}
			if IsTransient(err) != c.transient {
				t.Errorf("IsTransient(%v) = %v, want %v", err, IsTransient(err), c.transient)
			}
			// A permanent refusal of the recipient is a bounce.
			if IsBounce(err) != !c.transient {
				t.Errorf("IsBounce(%v) = %v, want %v", err, IsBounce(err), !c.transient)
			}
			if len(srv.messages()) != 0 {
				t.Error("a message was delivered")
			}
		})
	}
}

func TestEmailBadRecipientIsPermanent(t *testing.T) {
	cert, pool := testCert(t)
	srv := startSMTP(t, "starttls", cert, nil)
	e := newTestEmail(t, srv.port, TLSModeStartTLS, pool)
	_, err := e.Send(context.Background(), "not an address", testMessage())
	if err == nil || IsTransient(err) {
		t.Fatalf("Send to a bad address: %v, want a permanent error", err)
	}
	if srv.mailCount() != 0 {
		t.Error("server was contacted for a bad address")
	}
}

func TestEmailConnectionRefusedIsTransient(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	e := newTestEmail(t, port, TLSModeImplicit, nil)
	_, err = e.Send(context.Background(), "oncall@example.com", testMessage())
	if err == nil || !IsTransient(err) {
		t.Fatalf("Send to a closed port: %v, want a transient error", err)
	}
}

func TestNewEmailChecksConfig(t *testing.T) {
	good := EmailConfig{Host: "smtp.example.org", Port: 587, From: "ward@example.org", TLSMode: TLSModeStartTLS}
	if _, err := NewEmail(good); err != nil {
		t.Fatalf("NewEmail(%+v): %v", good, err)
	}
	cases := map[string]func(*EmailConfig){
		"tls mode": func(c *EmailConfig) { c.TLSMode = "none" },
		"host":     func(c *EmailConfig) { c.Host = "" },
		"port":     func(c *EmailConfig) { c.Port = 0 },
		"from":     func(c *EmailConfig) { c.From = "nobody" },
		"password": func(c *EmailConfig) { c.Username = "ward" },
	}
	for field, mutate := range cases {
		cfg := good
		mutate(&cfg)
		_, err := NewEmail(cfg)
		if err == nil || !strings.Contains(err.Error(), field) {
			t.Errorf("NewEmail with bad %s: %v, want an error naming it", field, err)
		}
	}
}
