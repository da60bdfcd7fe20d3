package web

import (
	"bytes"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// pair is a certificate and key made by EnsureSelfSigned in a folder of
// its own, so that each pair has its own serial number.
type pair struct {
	cert, key []byte
	serial    string
	notAfter  time.Time
}

func newPair(t *testing.T) pair {
	t.Helper()
	certFile, keyFile, _, err := EnsureSelfSigned(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	p := pair{cert: readFile(t, certFile), key: readFile(t, keyFile)}
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	p.serial, p.notAfter = c.Leaf.SerialNumber.String(), c.Leaf.NotAfter
	return p
}

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// install writes cert and key to the served files, with a modification
// time of its own so that the change shows whatever the file system's
// time granularity.
func install(t *testing.T, certFile, keyFile string, cert, key []byte, mod time.Time) {
	t.Helper()
	for name, b := range map[string][]byte{certFile: cert, keyFile: key} {
		if err := os.WriteFile(name, b, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(name, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
}

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// serveHandshakes accepts TLS connections on 127.0.0.1 with config and
// completes their handshakes until the test ends.
func serveHandshakes(t *testing.T, config *tls.Config) string {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", config)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if err != nil {
				continue
			}
			wg.Go(func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(5 * time.Second))
				_ = c.(*tls.Conn).Handshake()
			})
		}
	})
	return ln.Addr().String()
}

// servedSerial makes a new connection and returns the serial number of the
// certificate the server presented.
func servedSerial(t *testing.T, addr string) string {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, &tls.Config{InsecureSkipVerify: true}) // self-signed on purpose
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer c.Close()
	return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
}

// awaitSerial polls new handshakes, for at most 5 seconds, until the
// server presents want.
func awaitSerial(t *testing.T, addr, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := servedSerial(t, addr)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server still presents serial %s, want %s", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestCertReloaderServesReplacedPairWithoutRestart(t *testing.T) {
	a, b := newPair(t), newPair(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	start := time.Now().Add(-time.Hour).Truncate(time.Second)
	install(t, certFile, keyFile, a.cert, a.key, start)
	var logs lockedBuffer
	r, err := NewCertReloader(certFile, keyFile, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	addr := serveHandshakes(t, TLSConfig(r.GetCertificate))
	if got := servedSerial(t, addr); got != a.serial {
		t.Fatalf("served serial %s, want A's %s", got, a.serial)
	}

	// A broken certificate file: A stays.
	install(t, certFile, keyFile, []byte("-----BEGIN CERTIFICATE-----\nnot base64\n"), a.key, start.Add(time.Minute))
	if got := servedSerial(t, addr); got != a.serial {
		t.Fatalf("after a broken certificate: serial %s, want A's %s", got, a.serial)
	}
	// B's certificate with A's key (a half-finished replacement): A stays.
	install(t, certFile, keyFile, b.cert, a.key, start.Add(2*time.Minute))
	if got := servedSerial(t, addr); got != a.serial {
		t.Fatalf("after a mismatched pair: serial %s, want A's %s", got, a.serial)
	}
	if n := strings.Count(logs.String(), "tls_reload_failed"); n != 2 {
		t.Fatalf("%d tls_reload_failed lines, want 2: %s", n, logs.String())
	}
	if strings.Contains(logs.String(), "PRIVATE KEY") || strings.Contains(logs.String(), string(a.key[40:80])) {
		t.Fatalf("the log holds key material: %s", logs.String())
	}

	// The whole of B: new handshakes get B.
	install(t, certFile, keyFile, b.cert, b.key, start.Add(3*time.Minute))
	awaitSerial(t, addr, b.serial)
	if !r.NotAfter().Equal(b.notAfter) {
		t.Fatalf("NotAfter %v, want B's %v", r.NotAfter(), b.notAfter)
	}
	if !strings.Contains(logs.String(), "tls_certificate_reloaded") ||
		!strings.Contains(logs.String(), "not_after="+b.notAfter.UTC().Format("2006-01-02T15:04:05")) {
		t.Fatalf("no tls_certificate_reloaded line with B's expiry: %s", logs.String())
	}

	// A file missing for a moment keeps B.
	if err := os.Remove(certFile); err != nil {
		t.Fatal(err)
	}
	if got := servedSerial(t, addr); got != b.serial {
		t.Fatalf("with the certificate file missing: serial %s, want B's %s", got, b.serial)
	}
}

func TestNewCertReloaderRefusesBadPair(t *testing.T) {
	a, b := newPair(t), newPair(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	install(t, certFile, keyFile, a.cert, b.key, time.Now())
	if _, err := NewCertReloader(certFile, keyFile, slog.New(slog.DiscardHandler)); err == nil ||
		!strings.Contains(err.Error(), "tls-cert/tls-key") {
		t.Fatalf("mismatched pair: %v, want a tls-cert/tls-key error", err)
	}
	if _, err := NewCertReloader(filepath.Join(dir, "none.pem"), keyFile, slog.New(slog.DiscardHandler)); err == nil {
		t.Fatal("a missing certificate file loaded")
	}
}
