package web

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// CertReloader serves the certificate and key in two PEM files and loads
// them again, without a restart, when either file's modification time or
// size changes. It looks with two stat calls at each handshake. A pair that
// fails to load (half written, mismatched, expired key...) is logged as
// tls_reload_failed and the previous certificate is kept; it is tried
// again at the next change of either file.
type CertReloader struct {
	certFile, keyFile string
	log               *slog.Logger

	mu    sync.Mutex
	cert  *tls.Certificate
	stamp filesStamp // of the pair last tried, loaded or not
}

// filesStamp is what a stat tells of the two files.
type filesStamp struct {
	certMod, keyMod   time.Time
	certSize, keySize int64
}

// NewCertReloader loads the pair, failing if it does not load.
func NewCertReloader(certFile, keyFile string, logger *slog.Logger) (*CertReloader, error) {
	stamp, err := statPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	cert, err := loadPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	return &CertReloader{certFile: certFile, keyFile: keyFile, log: logger, cert: &cert, stamp: stamp}, nil
}

// GetCertificate is for tls.Config.GetCertificate: the current certificate,
// reloaded first if either file changed since the last look.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	stamp, err := statPair(r.certFile, r.keyFile)
	if err != nil || stamp == r.stamp {
		// A file missing for a moment (being replaced) keeps the old pair.
		return r.cert, nil
	}
	r.stamp = stamp
	cert, err := loadPair(r.certFile, r.keyFile)
	if err != nil {
		// The error names the file and the problem, never key material.
		r.log.Error("tls_reload_failed", "cert_file", r.certFile, "key_file", r.keyFile, "error", err,
			"keeping", "the previous certificate")
		return r.cert, nil
	}
	r.cert = &cert
	r.log.Info("tls_certificate_reloaded", "cert_file", r.certFile, "subject", cert.Leaf.Subject.String(),
		"not_after", cert.Leaf.NotAfter.UTC())
	return r.cert, nil
}

// NotAfter is the expiry of the certificate being served.
func (r *CertReloader) NotAfter() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cert.Leaf.NotAfter
}

// loadPair loads the pair with its leaf parsed (GODEBUG x509keypairleaf=0
// would leave it out).
func loadPair(certFile, keyFile string) (tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return cert, fmt.Errorf("tls-cert/tls-key: %w", err)
	}
	if cert.Leaf == nil {
		if cert.Leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return cert, fmt.Errorf("tls-cert: %w", err)
		}
	}
	return cert, nil
}

func statPair(certFile, keyFile string) (filesStamp, error) {
	c, errC := os.Stat(certFile)
	k, errK := os.Stat(keyFile)
	if err := errors.Join(errC, errK); err != nil {
		return filesStamp{}, fmt.Errorf("tls-cert/tls-key: %w", err)
	}
	return filesStamp{certMod: c.ModTime(), keyMod: k.ModTime(), certSize: c.Size(), keySize: k.Size()}, nil
}
