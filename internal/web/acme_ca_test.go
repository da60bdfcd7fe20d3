package web

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/acme"
)

// idPeACMEIdentifier is the TLS-ALPN-01 certificate extension (RFC 8737 3).
var idPeACMEIdentifier = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 1, 31}

// fakeCA is a small RFC 8555 server for one order of one host name. It
// does not check request signatures, but it does validate the challenge
// as a CA would: it connects to ward with "acme-tls/1" and checks the
// certificate's acmeIdentifier against the key authorization.
type fakeCA struct {
	t        *testing.T
	srv      *httptest.Server
	name     string // the host name it will certify
	ward     string // address to validate the challenge at
	cacheDir string // where Ward keeps its account key
	key      *ecdsa.PrivateKey
	root     *x509.Certificate

	mu         sync.Mutex
	authzValid bool
	orderState string
	issued     []byte
	validated  int
}

const fakeToken = "token-for-ward"

func newFakeCA(t *testing.T, name, cacheDir string) *fakeCA {
	t.Helper()
	ca := &fakeCA{t: t, name: name, cacheDir: cacheDir, orderState: "pending"}
	var err error
	if ca.key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "fake CA"}, IsCA: true,
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour),
		NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ca.key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	if ca.root, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	ca.srv = httptest.NewServer(http.HandlerFunc(ca.serve))
	t.Cleanup(ca.srv.Close)
	return ca
}

func (ca *fakeCA) url(p string) string { return ca.srv.URL + p }

func (ca *fakeCA) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Replay-Nonce", base64.RawURLEncoding.EncodeToString(big.NewInt(time.Now().UnixNano()).Bytes()))
	ca.mu.Lock()
	defer ca.mu.Unlock()
	reply := func(code int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(v)
	}
	order := func() map[string]any {
		o := map[string]any{"status": ca.orderState, "identifiers": []map[string]string{{"type": "dns", "value": ca.name}},
			"authorizations": []string{ca.url("/authz/1")}, "finalize": ca.url("/finalize/1")}
		if ca.issued != nil {
			o["certificate"] = ca.url("/cert/1")
		}
		return o
	}
	switch r.URL.Path {
	case "/directory":
		reply(http.StatusOK, map[string]any{"newNonce": ca.url("/nonce"), "newAccount": ca.url("/account"),
			"newOrder": ca.url("/order"), "revokeCert": ca.url("/revoke"), "keyChange": ca.url("/key-change"),
			"meta": map[string]any{"termsOfService": ca.url("/terms")}})
	case "/nonce":
		w.WriteHeader(http.StatusOK)
	case "/account":
		w.Header().Set("Location", ca.url("/account/1"))
		reply(http.StatusCreated, map[string]any{"status": "valid"})
	case "/order":
		w.Header().Set("Location", ca.url("/order/1"))
		reply(http.StatusCreated, order())
	case "/order/1":
		w.Header().Set("Location", ca.url("/order/1"))
		reply(http.StatusOK, order())
	case "/authz/1":
		status, chal := "pending", "pending"
		if ca.authzValid {
			status, chal = "valid", "valid"
		}
		reply(http.StatusOK, map[string]any{"status": status, "identifier": map[string]string{"type": "dns", "value": ca.name},
			"challenges": []map[string]string{
				{"type": "http-01", "url": ca.url("/chal/0"), "token": "unused", "status": "pending"},
				{"type": "tls-alpn-01", "url": ca.url("/chal/1"), "token": fakeToken, "status": chal},
			}})
	case "/chal/1":
		if err := ca.validate(); err != nil {
			reply(http.StatusBadRequest, map[string]any{"type": "urn:ietf:params:acme:error:unauthorized", "detail": err.Error()})
			return
		}
		ca.validated++
		ca.authzValid, ca.orderState = true, "ready"
		reply(http.StatusOK, map[string]any{"type": "tls-alpn-01", "url": ca.url("/chal/1"), "token": fakeToken, "status": "valid"})
	case "/finalize/1":
		if err := ca.finalize(r); err != nil {
			reply(http.StatusBadRequest, map[string]any{"type": "urn:ietf:params:acme:error:badCSR", "detail": err.Error()})
			return
		}
		w.Header().Set("Location", ca.url("/order/1"))
		reply(http.StatusOK, order())
	case "/cert/1":
		w.Header().Set("Content-Type", "application/pem-certificate-chain")
		_, _ = w.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.issued}))
		_, _ = w.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.root.Raw}))
	default:
		http.NotFound(w, r)
	}
}

// validations is how many challenges the CA found answered.
func (ca *fakeCA) validations() int {
	ca.mu.Lock()
	defer ca.mu.Unlock()
	return ca.validated
}

// validate connects to Ward as a CA's validator would (RFC 8737 3).
func (ca *fakeCA) validate() error {
	raw, err := os.ReadFile(filepath.Join(ca.cacheDir, "account-key.pem"))
	if err != nil {
		return err
	}
	b, _ := pem.Decode(raw)
	key, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return err
	}
	thumb, err := acme.JWKThumbprint(key.(*ecdsa.PrivateKey).Public())
	if err != nil {
		return err
	}
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ca.ward,
		&tls.Config{ServerName: ca.name, NextProtos: []string{acme.ALPNProto}, InsecureSkipVerify: true}) // self-signed by design
	if err != nil {
		return err
	}
	defer c.Close()
	st := c.ConnectionState()
	if st.NegotiatedProtocol != acme.ALPNProto {
		return fmt.Errorf("negotiated %q", st.NegotiatedProtocol)
	}
	leaf := st.PeerCertificates[0]
	sum := sha256.Sum256([]byte(fakeToken + "." + thumb))
	want, _ := asn1.Marshal(sum[:])
	for _, e := range leaf.Extensions {
		if e.Id.Equal(idPeACMEIdentifier) && e.Critical && string(e.Value) == string(want) &&
			slices.Equal(leaf.DNSNames, []string{ca.name}) {
			return nil
		}
	}
	return fmt.Errorf("no valid acmeIdentifier for %s", ca.name)
}

// finalize signs the order's CSR.
func (ca *fakeCA) finalize(r *http.Request) error {
	var jws struct{ Payload string }
	if err := json.NewDecoder(r.Body).Decode(&jws); err != nil {
		return err
	}
	payload, err := base64.RawURLEncoding.DecodeString(jws.Payload)
	if err != nil {
		return err
	}
	var req struct{ CSR string }
	if err := json.Unmarshal(payload, &req); err != nil {
		return err
	}
	der, err := base64.RawURLEncoding.DecodeString(req.CSR)
	if err != nil {
		return err
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return err
	}
	if ca.orderState != "ready" || !slices.Equal(csr.DNSNames, []string{ca.name}) {
		return fmt.Errorf("order %s, CSR for %v", ca.orderState, csr.DNSNames)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), DNSNames: csr.DNSNames,
		NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(90 * 24 * time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	if ca.issued, err = x509.CreateCertificate(rand.Reader, tmpl, ca.root, csr.PublicKey, ca.key); err != nil {
		return err
	}
	ca.orderState = "valid"
	return nil
}

// TestACMEOrdersCertificateWithTLSALPN01 runs a whole order against the
// fake CA: the first handshake for the name waits while Ward registers,
// answers the CA's TLS-ALPN-01 validation on the same listener, finalizes
// and gets the certificate, which it then serves and caches.
func TestACMEOrdersCertificateWithTLSALPN01(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "acme")
	ca := newFakeCA(t, "ward.example.org", dir)
	var logs lockedBuffer
	m, err := NewACME([]string{"ward.example.org"}, "ops@example.org", ca.url("/directory"), dir,
		slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ca.ward = serveHandshakes(t, m.TLSConfig())
	roots := x509.NewCertPool()
	roots.AddCert(ca.root)
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", ca.ward,
		&tls.Config{ServerName: "ward.example.org", RootCAs: roots})
	if err != nil {
		t.Fatalf("handshake: %v; log: %s", err, logs.String())
	}
	c.Close()
	if ca.validations() != 1 || !strings.Contains(logs.String(), "acme_certificate_obtained") {
		t.Fatalf("validated %d times; log: %s", ca.validations(), logs.String())
	}
	cached, err := loadCachedCert(filepath.Join(dir, "ward.example.org.pem"))
	if err != nil {
		t.Fatal(err)
	}
	if err := cached.Leaf.VerifyHostname("ward.example.org"); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(dir, "ward.example.org.pem")); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("cached certificate: %v %v, want mode 0600", st, err)
	}
	// A restart serves the cached certificate without a new order.
	m2, err := NewACME([]string{"ward.example.org"}, "", ca.url("/directory"), dir, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	got, err := m2.GetCertificate(&tls.ClientHelloInfo{ServerName: "ward.example.org"})
	if err != nil || got.Leaf.SerialNumber.Cmp(cached.Leaf.SerialNumber) != 0 || ca.validations() != 1 {
		t.Fatalf("after a restart: %v (%v), %d validations", got, err, ca.validations())
	}
}
