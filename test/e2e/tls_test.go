package e2e

import (
	"crypto/tls"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/web"
)

// certPair is a self-signed certificate and key and the certificate's
// serial number.
type certPair struct {
	cert, key []byte
	serial    string
}

func newCertPair(t *testing.T) certPair {
	t.Helper()
	certFile, keyFile, _, err := web.EnsureSelfSigned(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	p := certPair{serial: c.Leaf.SerialNumber.String()}
	if p.cert, err = os.ReadFile(certFile); err != nil {
		t.Fatal(err)
	}
	if p.key, err = os.ReadFile(keyFile); err != nil {
		t.Fatal(err)
	}
	return p
}

// put writes p to certFile and keyFile, dated mod.
func (p certPair) put(t *testing.T, certFile, keyFile string, mod time.Time) {
	t.Helper()
	for name, b := range map[string][]byte{certFile: p.cert, keyFile: p.key} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(name, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
}

// handshake connects to w with serverName and returns the serial number of
// the certificate presented, or the handshake's error.
func handshake(t *testing.T, w *ward, serverName string) (string, error) {
	t.Helper()
	u, err := url.Parse(w.url)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", u.Host,
		&tls.Config{ServerName: serverName, InsecureSkipVerify: true}) // self-signed on purpose
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String(), nil
}

// TestServeReloadsCertificate starts `ward serve --tls-cert --tls-key`
// with pair A, replaces the files with pair B and sees new handshakes get
// B without a restart; a broken replacement keeps what was served.
func TestServeReloadsCertificate(t *testing.T) {
	t.Parallel()
	a, b := newCertPair(t), newCertPair(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	start := time.Now().Add(-time.Hour)
	a.put(t, certFile, keyFile, start)
	w := startWardAt(t, t.TempDir(), "", func(e *app.Env) {
		e.Args = append(e.Args, "--tls-cert", certFile, "--tls-key", keyFile)
	})
	if got, err := handshake(t, w, ""); err != nil || got != a.serial {
		t.Fatalf("serial %s (%v), want A's %s", got, err, a.serial)
	}
	if err := os.WriteFile(certFile, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := handshake(t, w, ""); err != nil || got != a.serial {
		t.Fatalf("after a broken certificate: serial %s (%v), want A's %s", got, err, a.serial)
	}
	if !strings.Contains(w.logs.String(), "tls_reload_failed") {
		t.Fatalf("no tls_reload_failed in the log: %s", w.logs.String())
	}
	b.put(t, certFile, keyFile, start.Add(time.Minute))
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := handshake(t, w, "")
		if err == nil && got == b.serial {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still serial %s (%v) 10s after the replacement, want B's %s", got, err, b.serial)
		}
		time.Sleep(50 * time.Millisecond)
	}
	w.must(200, "GET", "/api/v1/incidents?limit=1", nil, nil)
}

// TestServeACME starts `ward serve --acme-domain` against a CA nothing
// answers: it serves, refuses handshakes for other host names, and keeps
// its cache owner-only.
func TestServeACME(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	w := startWardAt(t, data, "", func(e *app.Env) {
		e.Args = append(e.Args, "--acme-domain", "ward.example.org", "--acme-directory", "https://127.0.0.1:1/directory")
	})
	if _, err := handshake(t, w, "evil.example.org"); err == nil {
		t.Fatal("a handshake for a host name not in --acme-domain succeeded")
	}
	st, err := os.Stat(filepath.Join(data, "acme"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Fatalf("acme cache mode %v, want 0700", st.Mode().Perm())
	}
}

// TestServeACMEConflicts checks that serve names the flags ACME cannot be
// combined with.
func TestServeACMEConflicts(t *testing.T) {
	t.Parallel()
	for _, extra := range [][]string{
		{"--tls-cert", "c.pem", "--tls-key", "k.pem"},
		{"--insecure-http"},
	} {
		args := append([]string{"serve", "--acme-domain", "ward.example.org"}, extra...)
		code, _, errs := runWard(t, t.TempDir(), "", args...)
		if code != app.ExitUsage || !strings.Contains(errs, "acme-domain: cannot be combined with "+strings.TrimPrefix(extra[0], "--")) {
			t.Errorf("%v: exit %d, %s", extra, code, errs)
		}
	}
}
