package outbound_test

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/outbound"
)

// TestForbidden classifies addresses of every kind, in IPv4, IPv6 and the
// IPv6 forms that carry an IPv4 address.
func TestForbidden(t *testing.T) {
	cases := []struct {
		addr      string
		forbidden bool
	}{
		{"127.0.0.1", true},
		{"127.8.9.10", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"0.0.0.0", true},
		{"0.1.2.3", true},
		{"::", true},
		{"169.254.169.254", true}, // AWS, GCP, Azure, OpenStack metadata
		{"::ffff:169.254.169.254", true},
		{"::ffff:a9fe:a9fe", true},
		{"fd00:ec2::254", true}, // AWS metadata over IPv6
		{"fe80::1", true},
		{"fe80::1%eth0", true},
		{"10.0.0.1", true},
		{"10.255.255.255", true},
		{"172.16.0.1", true},
		{"172.31.255.254", true},
		{"192.168.1.1", true},
		{"::ffff:192.168.1.1", true},
		{"::ffff:10.1.2.3", true},
		{"fc00::1", true},
		{"fdff:ffff::1", true},
		{"fec0::1", true},
		{"100.64.0.1", true},
		{"100.127.255.255", true},
		{"224.0.0.1", true},
		{"239.255.255.250", true},
		{"ff02::1", true},
		{"255.255.255.255", true},
		{"240.0.0.1", true},
		{"192.0.0.192", true},
		{"198.18.0.1", true},
		{"::7f00:1", true},           // IPv4-compatible ::127.0.0.1
		{"64:ff9b::a9fe:a9fe", true}, // NAT64 of 169.254.169.254
		{"64:ff9b::7f00:1", true},    // NAT64 of 127.0.0.1
		{"2002:c0a8:101::1", true},   // 6to4 of 192.168.1.1
		{"2002:7f00:1::1", true},     // 6to4 of 127.0.0.1
		{"64:ff9b:1::1", true},       // local-use NAT64
		{"93.184.215.14", false},     // public
		{"8.8.8.8", false},           // public
		{"172.32.0.1", false},        // just past 172.16.0.0/12
		{"172.15.255.255", false},    // just before it
		{"100.128.0.1", false},       // just past 100.64.0.0/10
		{"169.253.255.255", false},   // just before link-local
		{"11.0.0.1", false},          // just past 10.0.0.0/8
		{"203.0.113.10", false},      // documentation, not a private network
		{"::ffff:93.184.215.14", false},
		{"2606:4700:4700::1111", false}, // public IPv6
		{"2a00:1450:4001:80b::200e", false},
		{"64:ff9b::808:808", false}, // NAT64 of 8.8.8.8
		{"2002:808:808::1", false},  // 6to4 of 8.8.8.8
	}
	for _, c := range cases {
		ip := netip.MustParseAddr(c.addr)
		reason := outbound.Forbidden(ip)
		if (reason != "") != c.forbidden {
			t.Errorf("Forbidden(%s) = %q, want forbidden %v", c.addr, reason, c.forbidden)
		}
		err := outbound.New(nil, nil).Check(ip)
		if (err != nil) != c.forbidden || (err != nil && !outbound.IsRefused(err)) {
			t.Errorf("Check(%s) = %v, want refused %v", c.addr, err, c.forbidden)
		}
	}
	if r := outbound.Forbidden(netip.MustParseAddr("169.254.169.254")); !strings.Contains(r, "metadata") {
		t.Errorf("the metadata address is reported as %q", r)
	}
}

// TestAllowList: an allowed prefix lets its addresses through, mapped forms
// included, and nothing else; a nil Guard allows nothing forbidden.
func TestAllowList(t *testing.T) {
	allow, err := outbound.ParseAllow([]string{"127.0.0.1/32", " 10.20.0.0/16", "fd12::1"})
	if err != nil {
		t.Fatal(err)
	}
	g := outbound.New(allow, nil)
	for addr, ok := range map[string]bool{"127.0.0.1": true, "::ffff:127.0.0.1": true, "127.0.0.2": false,
		"10.20.3.4": true, "10.21.0.1": false, "fd12::1": true, "fd12::2": false, "169.254.169.254": false, "8.8.8.8": true} {
		if err := g.Check(netip.MustParseAddr(addr)); (err == nil) != ok {
			t.Errorf("Check(%s) with the allow-list = %v, want allowed %v", addr, err, ok)
		}
	}
	var none *outbound.Guard
	if err := none.Check(netip.MustParseAddr("127.0.0.1")); !outbound.IsRefused(err) {
		t.Errorf("a nil Guard allowed loopback: %v", err)
	}
	for _, bad := range []string{"10.0.0.0/33", "example.com", "fe80::1%eth0", "fe80::/10%eth0"} {
		if _, err := outbound.ParseAllow([]string{bad}); err == nil {
			t.Errorf("ParseAllow(%q) accepted it", bad)
		}
	}
}

// server is a local HTTP server counting the requests it gets.
func server(t *testing.T, h http.HandlerFunc) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		if h != nil {
			h(w, r)
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

func loopback(t *testing.T) []netip.Prefix {
	allow, err := outbound.ParseAllow([]string{"127.0.0.1/32"})
	if err != nil {
		t.Fatal(err)
	}
	return allow
}

// TestClientRefusesBeforeConnecting: a request to a loopback server that
// is not allow-listed fails with a refusal, and the server sees nothing;
// allow-listed, it goes through.
func TestClientRefusesBeforeConnecting(t *testing.T) {
	srv, hits := server(t, nil)
	if _, err := outbound.New(nil, nil).Client(5*time.Second, nil).Get(srv.URL); !outbound.IsRefused(err) {
		t.Fatalf("GET %s without an allow-list: %v, want a refusal", srv.URL, err)
	}
	// localhost resolves (from /etc/hosts) to loopback: refused after the
	// lookup, on the address being dialled.
	u, _ := url.Parse(srv.URL)
	if _, err := outbound.New(nil, nil).Client(5*time.Second, nil).Get("http://localhost:" + u.Port()); !outbound.IsRefused(err) {
		t.Fatalf("GET localhost without an allow-list: %v, want a refusal", err)
	}
	// Another loopback address, named in IPv4-mapped IPv6 form: refused
	// too. (Tests dial loopback only, so a broken guard could not send a
	// packet off this machine; the metadata address is the classifier's.)
	if _, err := outbound.New(nil, nil).Client(5*time.Second, nil).Get("http://[::ffff:127.0.0.2]:" + u.Port()); !outbound.IsRefused(err) {
		t.Fatalf("GET [::ffff:127.0.0.2]: %v, want a refusal", err)
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the server got %d requests through a guard that refused them", n)
	}
	resp, err := outbound.New(loopback(t), nil).Client(5*time.Second, nil).Get(srv.URL)
	if err != nil {
		t.Fatalf("GET %s with 127.0.0.1/32 allowed: %v", srv.URL, err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Fatalf("the allowed request did not arrive")
	}
}

// TestRedirectToForbiddenRefused: an allowed server that redirects to an
// address the allow-list does not hold gets no further. The targets are
// loopback addresses only, so a broken guard could not send a packet off
// this machine; that metadata and private addresses are refused is
// TestForbidden's.
func TestRedirectToForbiddenRefused(t *testing.T) {
	second, hits := server(t, nil)
	u, _ := url.Parse(second.URL)
	for _, target := range []string{"http://127.0.0.2:" + u.Port() + "/", "http://[::ffff:127.0.0.2]:" + u.Port() + "/"} {
		first, _ := server(t, func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, target, http.StatusFound) })
		_, err := outbound.New(loopback(t), nil).Client(5*time.Second, nil).Get(first.URL)
		if !outbound.IsRefused(err) {
			t.Errorf("a redirect to %s: %v, want a refusal", target, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Fatalf("the redirect target got %d requests", n)
	}
}

// fakeDNS answers A queries for every name with the next address of
// answers (the last one once they run out) and AAAA queries with nothing;
// it runs in memory, so no lookup leaves the process.
type fakeDNS struct {
	mu      sync.Mutex
	answers []netip.Addr
	asked   int
}

func (f *fakeDNS) resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(context.Context, string, string) (net.Conn, error) {
		client, srv := net.Pipe()
		go f.serve(srv)
		return client, nil
	}}
}

// serve answers DNS over a stream (two-byte length, then the message).
func (f *fakeDNS) serve(c net.Conn) {
	defer c.Close()
	for {
		var l [2]byte
		if _, err := io.ReadFull(c, l[:]); err != nil {
			return
		}
		q := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(c, q); err != nil {
			return
		}
		// The question: 12-byte header, the name's labels, type, class.
		end := 12
		for end < len(q) && q[end] != 0 {
			end += int(q[end]) + 1
		}
		end += 5
		qtype := binary.BigEndian.Uint16(q[end-4 : end-2])
		resp := append([]byte{q[0], q[1], 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0}, q[12:end]...)
		if qtype == 1 { // A
			f.mu.Lock()
			a := f.answers[min(f.asked, len(f.answers)-1)]
			f.asked++
			f.mu.Unlock()
			ip := a.As4()
			resp[7] = 1
			resp = append(resp, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4)
			resp = append(resp, ip[:]...)
		}
		out := binary.BigEndian.AppendUint16(nil, uint16(len(resp)))
		if _, err := c.Write(append(out, resp...)); err != nil {
			return
		}
	}
}

// TestDNSRebinding: a host name that resolves to a public address when it
// is checked and to a loopback one when it is dialled is refused at
// connect time; the same name allowed by the allow-list reaches the server.
func TestDNSRebinding(t *testing.T) {
	srv, hits := server(t, nil)
	u, _ := url.Parse(srv.URL)
	target := "http://hooks.rebind.test:" + u.Port() + "/hook"

	dns := &fakeDNS{answers: []netip.Addr{netip.MustParseAddr("93.184.215.14"), netip.MustParseAddr("127.0.0.1")}}
	g := outbound.New(nil, dns.resolver())
	if err := g.CheckURL(context.Background(), target); err != nil {
		t.Fatalf("the name resolving to a public address at save time: %v", err)
	}
	if _, err := g.Client(5*time.Second, nil).Get(target); !outbound.IsRefused(err) {
		t.Fatalf("the name rebound to 127.0.0.1: %v, want a refusal at connect time", err)
	}
	if err := g.CheckURL(context.Background(), target); !outbound.IsRefused(err) {
		t.Fatalf("CheckURL of the name now resolving to 127.0.0.1: %v, want a refusal", err)
	}
	var re *outbound.RefusedError
	if err := g.CheckURL(context.Background(), target); !errors.As(err, &re) || re.Addr != netip.MustParseAddr("127.0.0.1") ||
		!strings.Contains(err.Error(), outbound.Flag) {
		t.Fatalf("the refusal does not name the address and the flag: %v", err)
	}
	if hits.Load() != 0 {
		t.Fatal("the rebound request reached the server")
	}

	allowed := outbound.New(loopback(t), (&fakeDNS{answers: []netip.Addr{netip.MustParseAddr("127.0.0.1")}}).resolver())
	resp, err := allowed.Client(5*time.Second, nil).Get(target)
	if err != nil {
		t.Fatalf("the name resolving to an allowed address: %v", err)
	}
	resp.Body.Close()
	if hits.Load() != 1 {
		t.Fatal("the allowed request did not arrive")
	}
	if err := outbound.New(nil, nil).CheckURL(context.Background(), "https://[::1]:8443/x"); !outbound.IsRefused(err) {
		t.Fatalf("CheckURL of an IPv6 loopback literal: %v", err)
	}
}
