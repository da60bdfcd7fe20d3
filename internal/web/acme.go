package web

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/acme"
)

// ACMERenewBefore is how long before expiry a certificate is renewed.
const ACMERenewBefore = 30 * 24 * time.Hour

// acmeRetryAfter is how long after a failed order the next may start, so
// that handshakes do not hammer the CA (whose rate limits are strict).
const acmeRetryAfter = 10 * time.Minute

// acmeOrderTimeout bounds one certificate order, challenge included.
const acmeOrderTimeout = 3 * time.Minute

// ACME gets and renews certificates for a fixed set of host names from an
// ACME CA (Let's Encrypt by default), answering the CA's TLS-ALPN-01
// challenge (RFC 8737, protocol "acme-tls/1") on Ward's own listener: the
// CA must reach the host on port 443. Handshakes for any other host name
// are refused. The account key and the certificates (with their keys) are
// kept in a cache folder readable by its owner only. Creating it accepts
// the CA's terms of service.
type ACME struct {
	client   *acme.Client
	domains  map[string]bool
	email    string
	cacheDir string
	log      *slog.Logger

	mu         sync.Mutex
	registered bool
	certs      map[string]*tls.Certificate // by host name
	challenges map[string]*tls.Certificate // TLS-ALPN-01 answers, by host name
	orders     map[string]chan struct{}    // closed when the order for a host name ends
	failed     map[string]time.Time        // when the last order for a host name failed
}

// NewACME prepares certificates for domains from the CA at directoryURL,
// with email (may be empty) as the account's contact, cached in cacheDir.
// It loads the account key and any cached certificates; it does not reach
// the CA until a handshake needs a certificate.
func NewACME(domains []string, email, directoryURL, cacheDir string, logger *slog.Logger) (*ACME, error) {
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("acme cache: %w", err)
	}
	if err := os.Chmod(cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("acme cache: %w", err)
	}
	key, err := accountKey(filepath.Join(cacheDir, "account-key.pem"))
	if err != nil {
		return nil, err
	}
	m := &ACME{client: &acme.Client{Key: key, DirectoryURL: directoryURL}, domains: map[string]bool{}, email: email,
		cacheDir: cacheDir, log: logger, certs: map[string]*tls.Certificate{}, challenges: map[string]*tls.Certificate{},
		orders: map[string]chan struct{}{}, failed: map[string]time.Time{}}
	for _, d := range domains {
		name := strings.ToLower(d)
		if name == "" || strings.HasPrefix(name, ".") || strings.ContainsAny(name, `/\`) {
			return nil, fmt.Errorf("acme-domain: %q is not a host name", d)
		}
		m.domains[name] = true
		cert, err := loadCachedCert(filepath.Join(cacheDir, name+".pem"))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			logger.Warn("acme_cache_unreadable", "domain", name, "error", err)
			continue
		}
		m.certs[name] = cert
	}
	return m, nil
}

// TLSConfig is Ward's TLS policy with m's certificates, offering
// "acme-tls/1" beside HTTP/1.1 for the CA's challenge.
func (m *ACME) TLSConfig() *tls.Config {
	c := TLSConfig(m.GetCertificate)
	c.NextProtos = []string{"http/1.1", acme.ALPNProto}
	return c
}

// GetCertificate is for tls.Config.GetCertificate: the challenge answer
// when the CA asks for one, else the host name's certificate, ordered now
// if there is none valid, renewed in the background when it nears expiry.
func (m *ACME) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if !m.domains[name] {
		return nil, fmt.Errorf("acme: host name %q is not one of --acme-domain", hello.ServerName)
	}
	m.mu.Lock()
	if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == acme.ALPNProto {
		defer m.mu.Unlock()
		if c := m.challenges[name]; c != nil {
			return c, nil
		}
		return nil, fmt.Errorf("acme: no pending challenge for %q", name)
	}
	cert := m.certs[name]
	m.mu.Unlock()
	now := time.Now()
	switch {
	case cert != nil && now.Before(cert.Leaf.NotAfter.Add(-ACMERenewBefore)):
		return cert, nil
	case cert != nil && now.Before(cert.Leaf.NotAfter):
		m.start(name) // renew in the background
		return cert, nil
	}
	if done := m.start(name); done != nil {
		ctx := hello.Context()
		if ctx == nil { // a ClientHelloInfo not made by crypto/tls
			ctx = context.Background()
		}
		select {
		case <-done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return m.current(name)
}

// start begins an order for name unless one is under way, and returns the
// channel closed when the running order ends; nil within acmeRetryAfter of
// a failed order, when it starts none.
func (m *ACME) start(name string) chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if done, running := m.orders[name]; running {
		return done
	}
	if at, failed := m.failed[name]; failed && time.Since(at) < acmeRetryAfter {
		return nil
	}
	done := make(chan struct{})
	m.orders[name] = done
	go m.obtain(name, done)
	return done
}

// current is name's certificate if it is still valid.
func (m *ACME) current(name string) (*tls.Certificate, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := m.certs[name]; c != nil && time.Now().Before(c.Leaf.NotAfter) {
		return c, nil
	}
	return nil, fmt.Errorf("acme: no certificate for %q yet; see acme_order_failed in the log", name)
}

// obtain runs one order for name and closes done.
func (m *ACME) obtain(name string, done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), acmeOrderTimeout)
	defer cancel()
	cert, err := m.orderCert(ctx, name)
	m.mu.Lock()
	if err == nil {
		m.certs[name] = cert
		delete(m.failed, name)
	} else {
		m.failed[name] = time.Now()
	}
	delete(m.challenges, name)
	delete(m.orders, name)
	m.mu.Unlock()
	if err != nil {
		m.log.Error("acme_order_failed", "domain", name, "error", err)
	} else {
		m.log.Info("acme_certificate_obtained", "domain", name, "not_after", cert.Leaf.NotAfter.UTC())
	}
	close(done)
}

// orderCert registers the account if needed, proves control of name with
// TLS-ALPN-01 and has the CA sign a new key's request (RFC 8555 7.4).
func (m *ACME) orderCert(ctx context.Context, name string) (*tls.Certificate, error) {
	if err := m.register(ctx); err != nil {
		return nil, err
	}
	o, err := m.client.AuthorizeOrder(ctx, acme.DomainIDs(name))
	if err != nil {
		return nil, fmt.Errorf("new order: %w", err)
	}
	for _, u := range o.AuthzURLs {
		if err := m.authorize(ctx, name, u); err != nil {
			return nil, err
		}
	}
	if o, err = m.client.WaitOrder(ctx, o.URI); err != nil {
		return nil, fmt.Errorf("order: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{DNSNames: []string{name}}, key)
	if err != nil {
		return nil, err
	}
	chain, _, err := m.client.CreateOrderCert(ctx, o.FinalizeURL, csr, true)
	if err != nil {
		return nil, fmt.Errorf("finalize: %w", err)
	}
	cert, err := acmeCert(chain, key, name)
	if err != nil {
		return nil, err
	}
	if err := saveCachedCert(filepath.Join(m.cacheDir, name+".pem"), cert); err != nil {
		m.log.Warn("acme_cache_write_failed", "domain", name, "error", err)
	}
	return cert, nil
}

// register creates the CA account once; an existing one is fine.
func (m *ACME) register(ctx context.Context) error {
	m.mu.Lock()
	done := m.registered
	m.mu.Unlock()
	if done {
		return nil
	}
	acct := &acme.Account{}
	if m.email != "" {
		acct.Contact = []string{"mailto:" + m.email}
	}
	if _, err := m.client.Register(ctx, acct, acme.AcceptTOS); err != nil && !errors.Is(err, acme.ErrAccountAlreadyExists) {
		return fmt.Errorf("register account: %w", err)
	}
	m.mu.Lock()
	m.registered = true
	m.mu.Unlock()
	return nil
}

// authorize answers the TLS-ALPN-01 challenge of one pending authorization.
func (m *ACME) authorize(ctx context.Context, name, url string) error {
	z, err := m.client.GetAuthorization(ctx, url)
	if err != nil {
		return fmt.Errorf("authorization: %w", err)
	}
	if z.Status != acme.StatusPending {
		return nil
	}
	var chal *acme.Challenge
	for _, c := range z.Challenges {
		if c.Type == "tls-alpn-01" {
			chal = c
		}
	}
	if chal == nil {
		return fmt.Errorf("authorization for %q offers no tls-alpn-01 challenge", name)
	}
	answer, err := m.client.TLSALPN01ChallengeCert(chal.Token, name)
	if err != nil {
		return err
	}
	m.mu.Lock()
	m.challenges[name] = &answer
	m.mu.Unlock()
	if _, err := m.client.Accept(ctx, chal); err != nil {
		return fmt.Errorf("accept challenge: %w", err)
	}
	if _, err := m.client.WaitAuthorization(ctx, z.URI); err != nil {
		return fmt.Errorf("challenge: %w", err)
	}
	return nil
}

// acmeCert checks that chain, signed for key, is valid now for name.
func acmeCert(chain [][]byte, key crypto.Signer, name string) (*tls.Certificate, error) {
	if len(chain) == 0 {
		return nil, errors.New("the CA returned no certificate")
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	if err := leaf.VerifyHostname(name); err != nil {
		return nil, fmt.Errorf("certificate: %w", err)
	}
	if now := time.Now(); now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("certificate for %q is not valid now", name)
	}
	return &tls.Certificate{Certificate: chain, PrivateKey: key, Leaf: leaf}, nil
}

// accountKey loads the ACME account key in file, making it on first use.
func accountKey(file string) (crypto.Signer, error) {
	raw, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return nil, err
		}
		if err := writePrivate(file, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
			return nil, fmt.Errorf("acme account key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("acme account key: %w", err)
	}
	b, _ := pem.Decode(raw)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("acme account key: %s holds no PEM private key", file)
	}
	key, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("acme account key: %w", err)
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("acme account key: %s holds no signing key", file)
	}
	return signer, nil
}

// loadCachedCert reads a key and chain saved by saveCachedCert.
func loadCachedCert(file string) (*tls.Certificate, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	cert, err := tls.X509KeyPair(raw, raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
	}
	return &cert, nil
}

// saveCachedCert writes cert's key and chain to file, owner-only.
func saveCachedCert(file string, cert *tls.Certificate) error {
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		return err
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	for _, c := range cert.Certificate {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c})...)
	}
	return writePrivate(file, out)
}

// writePrivate replaces file with b, readable by its owner only.
func writePrivate(file string, b []byte) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}
