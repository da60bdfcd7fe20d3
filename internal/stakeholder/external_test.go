package stakeholder_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"mime/quotedprintable"
	"net"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/notify"
	"github.com/wardhq/ward/internal/stakeholder"
)

// flakyMail is an SMTP server on 127.0.0.1 (STARTTLS) that answers the
// end of each message with the next reply of fail (nil: accepted), and
// keeps every message it was sent, accepted or not.
type flakyMail struct {
	mu   sync.Mutex
	fail []error
	seen []string
	kept []string
}

type flakySession struct{ m *flakyMail }

func (s flakySession) Mail(string, *smtp.MailOptions) error { return nil }
func (s flakySession) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s flakySession) Reset()                               {}
func (s flakySession) Logout() error                        { return nil }
func (s flakySession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.m.mu.Lock()
	defer s.m.mu.Unlock()
	s.m.seen = append(s.m.seen, string(b))
	if len(s.m.fail) > 0 {
		err, s.m.fail = s.m.fail[0], s.m.fail[1:]
		if err != nil {
			return err
		}
	}
	s.m.kept = append(s.m.kept, string(b))
	return nil
}

func (m *flakyMail) snapshot() (seen, kept []string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.seen...), append([]string(nil), m.kept...)
}

// withMail sends e's external mail through a local SMTP server that
// keeps what it is given (startFlakyMail), in the name of org.
func (e *env) withMail(t *testing.T, org string) *flakyMail {
	t.Helper()
	mail, sender := startFlakyMail(t)
	e.svc.SetMail(stakeholder.MailOptions{Email: sender, BaseURL: "https://ward.test",
		Organisation: func(context.Context) (string, error) { return org, nil }})
	return mail
}

// deliverExternal runs a round of the external outbox.
func (e *env) deliverExternal(t *testing.T) {
	t.Helper()
	if _, err := e.svc.DeliverExternal(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func startFlakyMail(t *testing.T, fail ...error) (*flakyMail, *notify.Email) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "mail.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	m := &flakyMail{fail: fail}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return flakySession{m}, nil }))
	s.Domain, s.ReadTimeout, s.WriteTimeout = "mail.test", 5*time.Second, 5*time.Second
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(l) }()
	t.Cleanup(func() { _ = s.Close() })
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	e, err := notify.NewEmail(notify.EmailConfig{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, From: "Ward <ward@example.org>",
		TLSMode: notify.TLSModeStartTLS, TLS: &tls.Config{RootCAs: pool}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return m, e
}

var (
	messageIDRE = regexp.MustCompile(`\r\nMessage-ID: (<[^>]+>)\r\n`)
	confirmRE   = regexp.MustCompile(`https://ward\.test/s/([A-Za-z0-9_-]+)`)
	codeRE      = regexp.MustCompile(`is:\r?\n\r?\n(\d{6})\r?\n`)
)

// TestExternalMailRetries: with a fake clock and a real SMTP server that
// answers the first try of the confirmation with 451 (temporary) after
// receiving it: the email stays queued with its error kept sealed, is not
// sent again before its backoff has passed, and then goes with the same
// Message-ID; a status update accepted while the subscriber is confirmed
// is in the outbox before anyone sends it and is sent by a new Service on
// the same database (a restart); an update posted over the PHI check is
// not queued at all; a 550 fails the email at once. A contact subscribed
// again after unsubscribing confirms only by the new email's link.
func TestExternalMailRetries(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		mail, sender := startFlakyMail(t, &smtp.SMTPError{Code: 451, EnhancedCode: smtp.EnhancedCode{4, 3, 0}, Message: "try later"})
		org := func(context.Context) (string, error) { return "Acme Clinic", nil }
		e.svc.SetMail(stakeholder.MailOptions{Email: sender, BaseURL: "https://ward.test", Organisation: org})
		inc, err := e.incs.Create(e.admin, incident.CreateInput{Title: "Backup tape lost", Severity: incident.Sev2})
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.svc.CreateContact(e.admin, stakeholder.ContactInput{Name: "Dana Reyes", Organisation: "Mercy Clinic", Email: "dana@mercy.example"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SubscribeContact(e.admin, inc.Number, c.ID, ""); err != nil {
			t.Fatal(err)
		}
		// links returns the tokens of the links in msg's body, in order.
		links := func(msg string) []string {
			t.Helper()
			_, body, _ := strings.Cut(msg, "\r\n\r\n")
			text, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, m := range confirmRE.FindAllStringSubmatch(string(text), -1) {
				out = append(out, m[1])
			}
			if len(out) < 2 {
				t.Fatalf("no links in:\n%s", text)
			}
			return out
		}
		deliver := func(svc *stakeholder.Service) int {
			t.Helper()
			n, err := svc.DeliverExternal(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		if n := deliver(e.svc); n != 0 {
			t.Fatalf("sent %d on a 451", n)
		}
		ds, err := e.svc.Deliveries(e.admin, inc.Number)
		if err != nil || len(ds) != 1 || ds[0].Status != stakeholder.MailQueued || ds[0].Attempts != 1 || !strings.Contains(ds[0].Error, "451") {
			t.Fatalf("after a 451: %+v %v", ds, err)
		}
		var plain int
		if err := d.R.QueryRowContext(ctx, `SELECT count(*) FROM external_mail WHERE error LIKE '%451%'`).Scan(&plain); err != nil || plain != 0 {
			t.Fatalf("the error is stored in plaintext (%d rows) %v", plain, err)
		}
		if n := deliver(e.svc); n != 0 {
			t.Fatal("sent again before the backoff passed")
		}
		e.clk.Advance(time.Minute + time.Minute/5) // the backoff and its spread
		if n := deliver(e.svc); n != 1 {
			t.Fatalf("after the backoff: %d sent", n)
		}
		seen, kept := mail.snapshot()
		if len(seen) != 2 || len(kept) != 1 {
			t.Fatalf("the server saw %d and kept %d messages", len(seen), len(kept))
		}
		first, second := messageIDRE.FindStringSubmatch(seen[0]), messageIDRE.FindStringSubmatch(seen[1])
		if first == nil || second == nil || first[1] != second[1] {
			t.Fatalf("the Message-IDs of the two attempts: %v %v", first, second)
		}
		if !strings.Contains(kept[0], "List-Unsubscribe-Post: List-Unsubscribe=One-Click") || strings.Contains(kept[0], "Backup tape") {
			t.Fatalf("the confirmation:\n%s", kept[0])
		}
		m := links(kept[0])
		if _, err := e.svc.UseExternalLink(ctx, m[0]); err != nil {
			t.Fatal(err)
		}

		// Accepted means durable: queued in the update's transaction, sent
		// by another Service on the same database.
		u, err := e.svc.PostUpdate(e.admin, inc.Number, stakeholder.UpdateInput{Body: "The tape was found in the vault.", Audience: stakeholder.AudiencePublic})
		if err != nil || u.Emails.Recipients != 1 {
			t.Fatalf("post: %+v %v", u, err)
		}
		restarted := stakeholder.New(d, e.clk, dbtest.Keyring(t, d, start), e.incs, e.pager, slog.New(slog.NewTextHandler(io.Discard, nil)))
		restarted.SetMail(stakeholder.MailOptions{Email: sender, BaseURL: "https://ward.test", Organisation: org})
		if n := deliver(restarted); n != 1 {
			t.Fatalf("the restarted service sent %d", n)
		}
		if _, kept = mail.snapshot(); len(kept) != 2 || !strings.Contains(kept[1], "The tape was found in the vault.") {
			t.Fatalf("the update email: %q", kept)
		}

		// Over the PHI check: never queued.
		po := e.person("pat", "privacy_officer")
		u, err = e.svc.PostUpdate(po, inc.Number, stakeholder.UpdateInput{Body: "MRN: 12345678 restored.", PHIOverride: true, Audience: stakeholder.AudiencePublic})
		if err != nil || u.Emails.Recipients != 0 {
			t.Fatalf("an update over the PHI check: %+v %v", u, err)
		}

		// A refusal fails the email at once.
		mail.mu.Lock()
		mail.fail = []error{&smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1}, Message: "no such mailbox"}}
		mail.mu.Unlock()
		if _, err := e.svc.PostUpdate(e.admin, inc.Number, stakeholder.UpdateInput{Body: "Closed.", Audience: stakeholder.AudiencePublic}); err != nil {
			t.Fatal(err)
		}
		deliver(e.svc)
		ups, err := e.svc.Updates(e.admin, inc.Number)
		if err != nil || len(ups) != 3 || ups[0].Emails != (stakeholder.MailCounts{Recipients: 1, Failed: 1}) ||
			ups[1].Emails != (stakeholder.MailCounts{}) || ups[2].Emails != (stakeholder.MailCounts{Recipients: 1, Sent: 1}) {
			t.Fatalf("the updates' emails: %+v %v", ups, err)
		}

		// Subscribed again after unsubscribing, a contact confirms only by
		// the new email's link.
		bo, err := e.svc.CreateContact(e.admin, stakeholder.ContactInput{Name: "Bo Lin", Organisation: "Mercy Clinic", Email: "bo@mercy.example"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SubscribeContact(e.admin, inc.Number, bo.ID, ""); err != nil {
			t.Fatal(err)
		}
		deliver(e.svc)
		_, kept = mail.snapshot()
		old := links(kept[len(kept)-1])
		if li, err := e.svc.UseExternalLink(ctx, old[1]); err != nil || li.Purpose != "unsubscribe" {
			t.Fatalf("unsubscribe: %+v %v", li, err)
		}
		if _, err := e.svc.SubscribeContact(e.admin, inc.Number, bo.ID, ""); err != nil {
			t.Fatalf("subscribe again: %v", err)
		}
		deliver(e.svc)
		_, kept = mail.snapshot()
		renewed := links(kept[len(kept)-1])
		if _, err := e.svc.UseExternalLink(ctx, old[0]); err == nil {
			t.Fatal("the confirm link of before the unsubscribe still confirms")
		}
		if li, err := e.svc.UseExternalLink(ctx, renewed[0]); err != nil || li.Purpose != "confirm" {
			t.Fatalf("the new confirm link: %+v %v", li, err)
		}
	})
}

// TestBounceMarksUndeliverable: a subscriber whose email the real SMTP
// server refuses with 550 is marked undeliverable (audited once), is
// sent nothing more, not even a one-time code, and hears again only
// once subscribed again and confirmed; a 451 marks nothing.
func TestBounceMarksUndeliverable(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		mail := e.withMail(t, "Acme Clinic")
		inc, err := e.incs.Create(e.admin, incident.CreateInput{Title: "Backup tape lost", Severity: incident.Sev2})
		if err != nil {
			t.Fatal(err)
		}
		deliver := func() { e.deliverExternal(t) }
		lastLink := func() string {
			t.Helper()
			_, kept := mail.snapshot()
			_, body, _ := strings.Cut(kept[len(kept)-1], "\r\n\r\n")
			b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
			if err != nil {
				t.Fatal(err)
			}
			m := confirmRE.FindStringSubmatch(string(b))
			if m == nil {
				t.Fatalf("no link in %q", kept[len(kept)-1])
			}
			return m[1]
		}
		status := func() string {
			t.Helper()
			subs, err := e.svc.Subscribers(e.admin, inc.Number)
			if err != nil || len(subs) != 1 {
				t.Fatalf("subscribers: %+v %v", subs, err)
			}
			return subs[0].Status
		}
		refuse := func(code int) {
			mail.mu.Lock()
			mail.fail = []error{&smtp.SMTPError{Code: code, EnhancedCode: smtp.EnhancedCode{code / 100, 1, 1}, Message: "no such mailbox"}}
			mail.mu.Unlock()
		}
		post := func(body string) {
			t.Helper()
			if _, err := e.svc.PostUpdate(e.admin, inc.Number, stakeholder.UpdateInput{Body: body, Audience: stakeholder.AudiencePublic}); err != nil {
				t.Fatal(err)
			}
		}
		c, err := e.svc.CreateContact(e.admin, stakeholder.ContactInput{Name: "Dana Reyes", Organisation: "Mercy Clinic", Email: "dana@mercy.example"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SubscribeContact(e.admin, inc.Number, c.ID, ""); err != nil {
			t.Fatal(err)
		}
		deliver()
		if _, err := e.svc.UseExternalLink(ctx, lastLink()); err != nil {
			t.Fatal(err)
		}
		post("We are restoring from a second copy.")
		deliver()
		page := lastLink()

		// A temporary refusal marks nothing.
		refuse(451)
		post("Restored.")
		deliver()
		if got := status(); got != stakeholder.SubscriptionConfirmed {
			t.Fatalf("after a 451 the subscriber is %s", got)
		}
		// A 550 at send marks the subscriber undeliverable, audited once.
		e.clk.Advance(time.Hour)
		deliver()
		refuse(550)
		post("Closed.")
		deliver()
		if got := status(); got != stakeholder.SubscriptionUndeliverable {
			t.Fatalf("after a 550 the subscriber is %s", got)
		}
		if n := auditCount(t, d, "external_subscription.undeliverable"); n != 1 {
			t.Fatalf("external_subscription.undeliverable audited %d times", n)
		}
		// Nothing more goes to them: no update, no code.
		seen, _ := mail.snapshot()
		post("Follow-up.")
		if _, err := e.svc.SendStatusCode(ctx, page); err == nil {
			deliver()
		}
		deliver()
		if now, _ := mail.snapshot(); len(now) != len(seen) {
			t.Fatalf("%d emails sent to an undeliverable subscriber", len(now)-len(seen))
		}
		// Subscribed again, they confirm and hear again.
		if _, err := e.svc.SubscribeContact(e.admin, inc.Number, c.ID, ""); err != nil {
			t.Fatalf("subscribe an undeliverable contact again: %v", err)
		}
		deliver()
		if got := status(); got != stakeholder.SubscriptionPending {
			t.Fatalf("subscribed again, the subscriber is %s", got)
		}
		if _, err := e.svc.UseExternalLink(ctx, lastLink()); err != nil {
			t.Fatal(err)
		}
		post("All clear.")
		deliver()
		if _, kept := mail.snapshot(); !strings.Contains(kept[len(kept)-1], "All clear.") || status() != stakeholder.SubscriptionConfirmed {
			t.Fatalf("the confirmed subscriber did not get the next update: %q", kept[len(kept)-1])
		}
	})
}
