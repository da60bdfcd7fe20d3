package siem_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/audit/siem"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/notify"
	"github.com/wardhq/ward/internal/outbound"
	"github.com/wardhq/ward/internal/testwait"
)

var start = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

// loopback allow-lists 127.0.0.1, as --outbound-allow 127.0.0.1 does.
var loopback = outbound.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, nil)

var secret = []byte("a SIEM webhook secret of 32 b...")

// appendN appends n entries numbered from from.
func appendN(t *testing.T, d *db.DB, from, n int) {
	t.Helper()
	ctx := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, Name: "alice", Role: authz.RoleResponder})
	for i := range n {
		err := d.Write(ctx, func(tx *sql.Tx) error {
			_, err := audit.Append(ctx, tx, start.Add(time.Duration(from+i)*time.Second),
				audit.Event{Action: "incident.update", ObjectType: "incident", ObjectID: fmt.Sprintf("inc-%d", from+i)})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// eventually waits up to 20s for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testwait.Until(t, what, 20*time.Second, cond)
}

// lag is the value of s's lag metric, its one destination's.
func lag(t *testing.T, s *siem.Streamer) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(s.Collector())
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 || len(mfs[0].GetMetric()) != 1 {
		t.Fatalf("gather: %v %v", mfs, err)
	}
	return mfs[0].GetMetric()[0].GetGauge().GetValue()
}

// run starts s and returns a function that stops it and waits.
func run(s *siem.Streamer) func() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	return func() { cancel(); <-done }
}

// selfSigned is a certificate for 127.0.0.1 and a pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "siem test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// collector is a syslog collector over TLS that parses octet-counted
// frames (RFC 6587).
type collector struct {
	mu     sync.Mutex
	frames []string
}

func (c *collector) serve(t *testing.T, cert tls.Certificate) string {
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go c.read(t, conn)
		}
	}()
	return ln.Addr().String()
}

func (c *collector) read(t *testing.T, conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	for {
		n, err := r.ReadString(' ')
		if err != nil {
			return
		}
		size, err := strconv.Atoi(strings.TrimSuffix(n, " "))
		if err != nil || size <= 0 || size > 64<<10 {
			t.Errorf("bad frame length %q", n)
			return
		}
		msg := make([]byte, size)
		if _, err := io.ReadFull(r, msg); err != nil {
			t.Errorf("short frame: %v", err)
			return
		}
		c.mu.Lock()
		c.frames = append(c.frames, string(msg))
		c.mu.Unlock()
	}
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.frames)
}

// syslogLine is an RFC 5424 message as Ward writes it.
var syslogLine = regexp.MustCompile(`^<110>1 (\S+) test-host ward - (\S+) \[ward@32473 seq="(\d+)" actor="([^"]*)" action="([^"]*)" ` +
	`object_type="[^"]*" object_id="[^"]*" request_id="[^"]*" source_ip="[^"]*" digest="[0-9a-f]{64}" prev_hash="[0-9a-f]{64}" hash="([0-9a-f]{64})"\] (\{.*\})$`)

func TestSyslogDeliversOverTLS(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		cert, roots := selfSigned(t)
		var c collector
		addr := c.serve(t, cert)
		appendN(t, d, 1, 5)
		dest, err := siem.NewSyslog(siem.SyslogConfig{Addr: addr, TLS: &tls.Config{RootCAs: roots}, Outbound: loopback, Hostname: "test-host"})
		if err != nil {
			t.Fatal(err)
		}
		s := siem.New(d, []siem.Destination{dest}, siem.Options{Batch: 2, Poll: 10 * time.Millisecond, MinBackoff: 10 * time.Millisecond})
		stop := run(s)
		defer stop()
		eventually(t, "5 frames", func() bool { return c.count() >= 5 })
		appendN(t, d, 6, 3) // entries that arrive while it runs follow
		eventually(t, "8 frames", func() bool { return c.count() >= 8 })
		stop()

		c.mu.Lock()
		defer c.mu.Unlock()
		for i, f := range c.frames {
			m := syslogLine.FindStringSubmatch(f)
			if m == nil {
				t.Fatalf("frame %d is not the expected RFC 5424 message: %s", i, f)
			}
			var e audit.Entry
			if err := json.Unmarshal([]byte(m[7]), &e); err != nil {
				t.Fatal(err)
			}
			if m[3] != strconv.Itoa(i+1) || e.Seq != int64(i+1) || m[2] != "incident.update" || m[4] != "user:alice" ||
				audit.Hash(e) != e.Hash || m[6] != e.Hash || m[1] != e.At.Format("2006-01-02T15:04:05.000000Z07:00") {
				t.Errorf("frame %d: %s", i, f)
			}
		}
		if n, err := s.Cursor(context.Background(), "syslog"); err != nil || n != 8 {
			t.Errorf("cursor %d %v, want 8", n, err)
		}
	})
}

func TestSyslogRefusedWithoutAllowList(t *testing.T) {
	cert, roots := selfSigned(t)
	var c collector
	addr := c.serve(t, cert)
	dest, err := siem.NewSyslog(siem.SyslogConfig{Addr: addr, TLS: &tls.Config{RootCAs: roots}})
	if err != nil {
		t.Fatal(err)
	}
	if err := dest.Send(context.Background(), []audit.Entry{{Seq: 1, At: start}}); !outbound.IsRefused(err) {
		t.Errorf("send to loopback without --outbound-allow: %v", err)
	}
	// A collector whose certificate is not trusted is refused too.
	dest, _ = siem.NewSyslog(siem.SyslogConfig{Addr: addr, Outbound: loopback})
	if err := dest.Send(context.Background(), []audit.Entry{{Seq: 1, At: start}}); err == nil || !strings.Contains(err.Error(), "TLS") {
		t.Errorf("send to an untrusted collector: %v", err)
	}
}

// receiver is a webhook receiver that checks signatures and records the
// sequence numbers it was sent; while failing it answers 503.
type receiver struct {
	mu       sync.Mutex
	seqs     []int64
	requests int
	failures int
	failing  bool
	t        *testing.T
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.requests++
	if err := notify.VerifySignature(secret, r.Header.Get(notify.HeaderTimestamp), r.Header.Get(notify.HeaderSignature), body,
		time.Now(), time.Minute); err != nil {
		rc.t.Errorf("signature: %v", err)
	}
	if rc.failing {
		rc.failures++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var b siem.WebhookBatch
	if err := json.Unmarshal(body, &b); err != nil {
		rc.t.Errorf("batch: %v", err)
	}
	for _, e := range b.Entries {
		if audit.Hash(e) != e.Hash {
			rc.t.Errorf("entry %d does not verify", e.Seq)
		}
		rc.seqs = append(rc.seqs, e.Seq)
	}
}

// distinct is how many different sequence numbers arrived and how many
// arrived more than once.
func (rc *receiver) distinct() (n, dups int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	seen := map[int64]bool{}
	for _, s := range rc.seqs {
		if seen[s] {
			dups++
		}
		seen[s] = true
	}
	return len(seen), dups
}

func webhook(t *testing.T, url string) *siem.Webhook {
	w, err := siem.NewWebhook(siem.WebhookConfig{URL: url, Secret: secret, Outbound: loopback})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestWebhookResumesAfterRestart stops the streamer part-way and starts a
// new one, as a restarted Ward does: it resumes from the stored cursor;
// nothing is lost, and at most one batch arrives twice.
func TestWebhookResumesAfterRestart(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		rc := &receiver{t: t}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		appendN(t, d, 1, 30)
		const batch = 4
		opts := siem.Options{Batch: batch, Poll: 10 * time.Millisecond, MinBackoff: 10 * time.Millisecond}
		s := siem.New(d, []siem.Destination{webhook(t, srv.URL)}, opts)
		stop := run(s)
		eventually(t, "a first part", func() bool { n, _ := rc.distinct(); return n >= 12 })
		stop()
		appendN(t, d, 31, 10) // entries made while it was down

		s2 := siem.New(d, []siem.Destination{webhook(t, srv.URL)}, opts)
		stop2 := run(s2)
		defer stop2()
		eventually(t, "all 40 entries", func() bool { n, _ := rc.distinct(); return n == 40 })
		if _, dups := rc.distinct(); dups > batch {
			t.Errorf("%d duplicates, want at most one batch (%d)", dups, batch)
		}
		eventually(t, "the cursor at 40", func() bool { n, _ := s2.Cursor(context.Background(), "webhook"); return n == 40 })
		if lag := lag(t, s2); lag != 0 {
			t.Errorf("lag %v, want 0", lag)
		}
	})
}

// TestWebhookReceiverFailsThenRecovers: while the receiver fails, the
// cursor stays and the batch is retried with backoff; once it recovers,
// everything arrives and the lag metric drops to 0.
func TestWebhookReceiverFailsThenRecovers(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		rc := &receiver{t: t, failing: true}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		appendN(t, d, 1, 9)
		s := siem.New(d, []siem.Destination{webhook(t, srv.URL)},
			siem.Options{Batch: 5, Poll: 10 * time.Millisecond, MinBackoff: 5 * time.Millisecond, MaxBackoff: 40 * time.Millisecond})
		stop := run(s)
		defer stop()
		eventually(t, "3 failed attempts", func() bool { rc.mu.Lock(); defer rc.mu.Unlock(); return rc.failures >= 3 })
		if n, _ := s.Cursor(context.Background(), "webhook"); n != 0 {
			t.Errorf("cursor moved to %d while the receiver failed", n)
		}
		if lag := lag(t, s); lag != 9 {
			t.Errorf("lag %v while failing, want 9", lag)
		}
		rc.mu.Lock()
		rc.failing = false
		rc.mu.Unlock()
		eventually(t, "all 9 entries", func() bool { n, _ := rc.distinct(); return n == 9 })
		if _, dups := rc.distinct(); dups != 0 {
			t.Errorf("%d duplicates: failed batches are not counted as delivered", dups)
		}
		eventually(t, "no lag", func() bool { return lag(t, s) == 0 })
	})
}

// TestOneNodeDeliversOnPostgres runs two streamers on one PostgreSQL
// database, as two nodes do: one delivers; when it stops, the other takes
// over from the cursor.
func TestOneNodeDeliversOnPostgres(t *testing.T) {
	url := dbtest.PostgresURL(t)
	if url == "" {
		t.Skip("PostgreSQL only: set " + dbtest.PostgresURLEnv)
	}
	d1, d2 := dbtest.Open(t, url), dbtest.Open(t, url)
	var mu sync.Mutex
	byNode := map[string]int{}
	rc := &receiver{t: t}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		byNode[r.URL.Query().Get("node")]++
		mu.Unlock()
		rc.ServeHTTP(w, r)
	}))
	defer srv.Close()
	appendN(t, d1, 1, 20)
	opts := siem.Options{Batch: 3, Poll: 10 * time.Millisecond, MinBackoff: 10 * time.Millisecond}
	stop1 := run(siem.New(d1, []siem.Destination{webhook(t, srv.URL+"?node=1")}, opts))
	eventually(t, "node 1 delivering", func() bool { n, _ := rc.distinct(); return n >= 3 })
	stop2 := run(siem.New(d2, []siem.Destination{webhook(t, srv.URL+"?node=2")}, opts))
	defer stop2()
	eventually(t, "the first 20", func() bool { n, _ := rc.distinct(); return n == 20 })
	mu.Lock()
	if byNode["2"] != 0 {
		t.Errorf("node 2 delivered %d batches while node 1 held the destination", byNode["2"])
	}
	mu.Unlock()
	stop1()
	appendN(t, d2, 21, 5)
	eventually(t, "node 2 taking over", func() bool { n, _ := rc.distinct(); return n == 25 })
	mu.Lock()
	defer mu.Unlock()
	if byNode["2"] == 0 {
		t.Error("node 2 never delivered")
	}
	if _, dups := rc.distinct(); dups > 3 {
		t.Errorf("%d duplicates, want at most one batch", dups)
	}
}
