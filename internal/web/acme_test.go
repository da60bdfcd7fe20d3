package web

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/acme"
)

// unreachableCA is a directory URL nothing answers, for tests that must
// not reach a CA.
const unreachableCA = "https://127.0.0.1:1/directory"

func TestACMETLSConfigOffersChallengeProtocolAndKeepsPolicy(t *testing.T) {
	m, err := NewACME([]string{"ward.example.org"}, "", unreachableCA, filepath.Join(t.TempDir(), "acme"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	c := m.TLSConfig()
	if !slices.Contains(c.NextProtos, acme.ALPNProto) || !slices.Contains(c.NextProtos, "http/1.1") {
		t.Fatalf("NextProtos %v, want acme-tls/1 and http/1.1", c.NextProtos)
	}
	if c.MinVersion != tls.VersionTLS12 || c.GetCertificate == nil || len(c.Certificates) != 0 {
		t.Fatalf("not Ward's TLS policy with GetCertificate: %+v", c)
	}
}

func TestACMERefusesOtherHostNames(t *testing.T) {
	m, err := NewACME([]string{"ward.example.org", "Ward.Example.NET"}, "", unreachableCA, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"evil.example.org", "example.org", "", "127.0.0.1", "www.ward.example.org"} {
		if _, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: name}); err == nil ||
			!strings.Contains(err.Error(), "not one of --acme-domain") {
			t.Errorf("%q: %v, want refused", name, err)
		}
		if _, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: name, SupportedProtos: []string{acme.ALPNProto}}); err == nil ||
			!strings.Contains(err.Error(), "not one of --acme-domain") {
			t.Errorf("%q challenge: %v, want refused", name, err)
		}
	}
	// An allowed name with no challenge under way gets no answer.
	if _, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: "ward.example.net", SupportedProtos: []string{acme.ALPNProto}}); err == nil ||
		!strings.Contains(err.Error(), "no pending challenge") {
		t.Errorf("challenge with none pending: %v", err)
	}
}

func TestACMECacheFolderIsOwnerOnly(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "acme")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := NewACME([]string{"ward.example.org"}, "", unreachableCA, dir, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o700 {
		t.Fatalf("cache folder mode %v, want 0700", st.Mode().Perm())
	}
	key, err := os.Stat(filepath.Join(dir, "account-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if key.Mode().Perm() != 0o600 {
		t.Fatalf("account key mode %v, want 0600", key.Mode().Perm())
	}
	// A second start keeps the account key.
	before, _ := os.ReadFile(filepath.Join(dir, "account-key.pem"))
	if _, err := NewACME([]string{"ward.example.org"}, "", unreachableCA, dir, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "account-key.pem"))
	if string(before) != string(after) {
		t.Fatal("the account key changed on a second start")
	}
}

// testCert is a self-signed certificate for name valid until notAfter.
func testCert(t *testing.T, name string, notAfter time.Time) *tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		DNSNames: []string{name}, NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := acmeCert([][]byte{der}, key, name)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestACMEServesCachedCertificateWithoutTheCA(t *testing.T) {
	dir := t.TempDir()
	cached := testCert(t, "ward.example.org", time.Now().Add(60*24*time.Hour))
	if err := saveCachedCert(filepath.Join(dir, "ward.example.org.pem"), cached); err != nil {
		t.Fatal(err)
	}
	m, err := NewACME([]string{"ward.example.org"}, "", unreachableCA, dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: "WARD.example.org."})
	if err != nil {
		t.Fatal(err)
	}
	if got.Leaf.SerialNumber.Cmp(cached.Leaf.SerialNumber) != 0 {
		t.Fatalf("served serial %v, want the cached %v", got.Leaf.SerialNumber, cached.Leaf.SerialNumber)
	}
}

func TestACMEFailedOrderIsNotRetriedAtOnce(t *testing.T) {
	var requests atomic.Int64
	ca := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.NotFound(w, r) // not a 5xx, which the client retries until the order times out
	}))
	t.Cleanup(ca.Close)
	var logs lockedBuffer
	m, err := NewACME([]string{"ward.example.org"}, "ops@example.org", ca.URL+"/directory", t.TempDir(),
		slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: "ward.example.org"}); err == nil {
		t.Fatal("a certificate without a CA")
	}
	first := requests.Load()
	if first == 0 || !strings.Contains(logs.String(), "acme_order_failed") {
		t.Fatalf("%d requests to the CA, log %s: want an attempt and acme_order_failed", first, logs.String())
	}
	if _, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: "ward.example.org"}); err == nil {
		t.Fatal("a certificate without a CA")
	}
	if n := requests.Load(); n != first {
		t.Fatalf("a second handshake reached the CA again (%d requests, then %d)", first, n)
	}
}

func TestACMEServesExpiringCertificateWhileRenewing(t *testing.T) {
	var requests atomic.Int64
	ca := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		http.NotFound(w, r)
	}))
	t.Cleanup(ca.Close)
	dir := t.TempDir()
	cached := testCert(t, "ward.example.org", time.Now().Add(10*24*time.Hour))
	if err := saveCachedCert(filepath.Join(dir, "ward.example.org.pem"), cached); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	m, err := NewACME([]string{"ward.example.org"}, "", ca.URL+"/directory", dir, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: "ward.example.org"})
	if err != nil || got.Leaf.SerialNumber.Cmp(cached.Leaf.SerialNumber) != 0 {
		t.Fatalf("got %v (%v), want the cached certificate while renewing", got, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "acme_order_failed") {
		if time.Now().After(deadline) {
			t.Fatalf("no renewal attempt within 10s (%d requests): %s", requests.Load(), logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: "ward.example.org"}); err != nil ||
		got.Leaf.SerialNumber.Cmp(cached.Leaf.SerialNumber) != 0 {
		t.Fatalf("after a failed renewal: %v (%v), want the cached certificate", got, err)
	}
}

func TestNewACMERefusesPathsAsHostNames(t *testing.T) {
	for _, d := range []string{"../evil", "a/b.example.org", ""} {
		if _, err := NewACME([]string{d}, "", unreachableCA, t.TempDir(), slog.New(slog.DiscardHandler)); err == nil ||
			!strings.Contains(err.Error(), "acme-domain") {
			t.Errorf("%q: %v, want refused", d, err)
		}
	}
}
