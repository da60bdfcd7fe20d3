package notice

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/emersion/go-smtp"

	"github.com/wardhq/ward/internal/notify"
)

// sink is an SMTP session that counts the messages it is given.
type sink struct{ n *atomic.Int64 }

func (s sink) Mail(string, *smtp.MailOptions) error { return nil }
func (s sink) Rcpt(string, *smtp.RcptOptions) error { return nil }
func (s sink) Reset()                               {}
func (s sink) Logout() error                        { return nil }
func (s sink) Data(r io.Reader) error {
	if _, err := io.Copy(io.Discard, r); err != nil {
		return err
	}
	s.n.Add(1)
	return nil
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}
func (quiet) Println(...any)        {}

// startSMTP runs a local go-smtp server offering STARTTLS and returns an
// Email sender trusting it and the count of messages received.
func startSMTP(tb testing.TB) (*notify.Email, *atomic.Int64) {
	tb.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		tb.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	n := &atomic.Int64{}
	s := smtp.NewServer(smtp.BackendFunc(func(*smtp.Conn) (smtp.Session, error) { return sink{n}, nil }))
	s.Domain, s.ErrorLog = "127.0.0.1", quiet{}
	s.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go func() { _ = s.Serve(l) }()
	tb.Cleanup(func() { _ = s.Close() })
	port := l.Addr().(*net.TCPAddr).Port
	e, err := notify.NewEmail(notify.EmailConfig{Host: "127.0.0.1", Port: port, From: "privacy@example.org",
		TLSMode: notify.TLSModeStartTLS, TLS: &tls.Config{RootCAs: pool}})
	if err != nil {
		tb.Fatal(err)
	}
	return e, n
}

func emails(n int) []Email {
	t := Template{Subject: Defaults()[1].Subject, Body: Defaults()[1].Body}
	out := make([]Email, n)
	for i := range out {
		d := sample()
		d.Individual.Name = fmt.Sprintf("Person %d", i)
		d.Individual.Email = fmt.Sprintf("p%d@example.com", i)
		m, err := RenderEmail(t, d)
		if err != nil {
			panic(err)
		}
		out[i] = m
	}
	return out
}

// TestSendAll: every message arrives, over TLS sessions that each carry
// many messages, and a refused recipient fails alone.
func TestSendAll(t *testing.T) {
	e, n := startSMTP(t)
	msgs := emails(50)
	msgs[7].To = "not an address"
	res := SendAll(context.Background(), e, msgs, 4)
	for i, r := range res {
		if (r.Err != nil) != (i == 7) {
			t.Fatalf("message %d: %v", i, r.Err)
		}
		if i != 7 && (r.Receipt.ID == "" || r.Receipt.Status == "") {
			t.Fatalf("receipt %d: %+v", i, r.Receipt)
		}
	}
	if n.Load() != 49 {
		t.Fatalf("%d messages arrived", n.Load())
	}
}

// BenchmarkRenderLetters renders individual letters (merge, Markdown,
// PDF) in batches of 1,000 into one PDF each: the goal is at least 300
// letters a second.
func BenchmarkRenderLetters(b *testing.B) {
	body := Defaults()[0].Body
	const batch = 1000
	b.ResetTimer()
	total := 0
	for b.Loop() {
		letters := make([]Letter, batch)
		for i := range letters {
			d := sample()
			d.Individual.Name = fmt.Sprintf("Person %d Ñandú", i)
			merged, err := Merge("body", body, d)
			if err != nil {
				b.Fatal(err)
			}
			letters[i] = Letter{Data: d, Markdown: merged}
		}
		if _, err := WriteLetters(io.Discard, letters, time.Unix(0, 0)); err != nil {
			b.Fatal(err)
		}
		total += batch
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "letters/s")
}

// BenchmarkSendEmails renders and sends email notices to a local SMTP
// server over STARTTLS, 8 sessions at once, each delivering many
// messages: the goal is at least 2,000 a second.
func BenchmarkSendEmails(b *testing.B) {
	e, n := startSMTP(b)
	const count = 5000
	msgs := emails(count)
	b.ResetTimer()
	total := 0
	for b.Loop() {
		for _, r := range SendAll(context.Background(), e, msgs, 8) {
			if r.Err != nil {
				b.Fatal(r.Err)
			}
		}
		total += count
	}
	if n.Load() < int64(total) {
		b.Fatalf("%d of %d arrived", n.Load(), total)
	}
	b.ReportMetric(float64(total)/b.Elapsed().Seconds(), "emails/s")
}

// TestSendAllServerDown: with no server, every email fails as transient
// (so it stays pending), and after a few sessions fail to open the rest
// are not tried.
func TestSendAllServerDown(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	e, err := notify.NewEmail(notify.EmailConfig{Host: "127.0.0.1", Port: port, From: "privacy@example.org", TLSMode: notify.TLSModeStartTLS})
	if err != nil {
		t.Fatal(err)
	}
	res := SendAll(context.Background(), e, emails(40), 4)
	tried := 0
	for i, r := range res {
		if !notify.IsTransient(r.Err) {
			t.Fatalf("message %d: %v, want a transient error", i, r.Err)
		}
		if !strings.Contains(r.Err.Error(), "not tried") {
			tried++
		}
	}
	if tried > 6 {
		t.Fatalf("%d sessions tried against a server that is down", tried)
	}
}
