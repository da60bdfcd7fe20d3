// Package outbound guards the connections Ward makes to addresses that
// people type or that arrive from outside (webhook, Slack and Teams
// contact methods, an SNS subscription confirmation) and to a KMS: no
// server-side request forgery. A Guard refuses loopback, link-local
// (169.254.169.254 and fd00:ec2::254, the cloud metadata services,
// included), private (RFC 1918, RFC 4193), shared (100.64.0.0/10),
// unspecified, multicast and reserved addresses, in IPv4, IPv6 and the
// IPv6 forms that embed an IPv4 address, unless an administrator
// allow-lists them (--outbound-allow).
//
// The check runs at connect time, in the dialer's Control function, on the
// address actually being connected to: a host name that resolves to a
// public address when it is saved and to a private one later (DNS
// rebinding) is refused, and so is every hop of a redirect, since each
// goes through the same dialer. The check at save time (CheckURL) only
// gives an early, clear answer; it is not what keeps Ward safe.
package outbound

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Flag is the setting that allow-lists addresses, named in refusals.
const Flag = "--outbound-allow"

// RefusedError is a connection the Guard would not make.
type RefusedError struct {
	Addr   netip.Addr
	Reason string // what the address is, e.g. "loopback", "private (RFC 1918)"
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("outbound: refusing to connect to %s, a %s address (an administrator may allow it with %s)", e.Addr, e.Reason, Flag)
}

// IsRefused reports whether err is, or wraps, a refusal by a Guard.
func IsRefused(err error) bool {
	_, ok := errors.AsType[*RefusedError](err)
	return ok
}

// Guard decides which addresses Ward may connect to. A nil *Guard is a
// Guard with an empty allow-list, so a caller that forgets to pass one is
// guarded, not open.
type Guard struct {
	allow    []netip.Prefix
	resolver *net.Resolver
	// shared is Transport(nil): one connection pool for every sender
	// made per message.
	shared *http.Transport
}

// New returns a Guard that lets through the addresses in allow despite
// their class. resolver looks host names up (nil: net.DefaultResolver).
func New(allow []netip.Prefix, resolver *net.Resolver) *Guard {
	if resolver == nil {
		resolver = net.DefaultResolver
	}
	g := &Guard{allow: allow, resolver: resolver}
	g.shared = g.newTransport(nil)
	return g
}

// ParseAllow parses the --outbound-allow list: CIDR prefixes, or single
// addresses (a /32 or /128).
func ParseAllow(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			if p.Addr().Zone() != "" {
				return nil, fmt.Errorf("%q: a prefix has no zone", s)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil || a.Zone() != "" {
			return nil, fmt.Errorf("%q is not an address or CIDR prefix such as 10.20.0.0/16", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Check returns a *RefusedError when ip is of a forbidden class and no
// allowed prefix holds it. An IPv4-mapped IPv6 address is judged as the
// IPv4 address it is.
func (g *Guard) Check(ip netip.Addr) error {
	ip = ip.WithZone("").Unmap()
	reason := Forbidden(ip)
	if reason == "" {
		return nil
	}
	if g != nil {
		for _, p := range g.allow {
			if p.Contains(ip) {
				return nil
			}
		}
	}
	return &RefusedError{Addr: ip, Reason: reason}
}

// control is the dialer's Control function: address is the IP address
// and port about to be connected to, after any name resolution.
func (g *Guard) control(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("outbound: refusing to connect to %q, not an IP address and port", address)
	}
	return g.Check(ap.Addr())
}

// Dialer returns a net.Dialer that refuses forbidden addresses before it
// connects.
func (g *Guard) Dialer() *net.Dialer {
	var r *net.Resolver
	if g != nil {
		r = g.resolver
	}
	return &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Resolver: r, Control: g.control}
}

// Transport returns an HTTP transport whose every connection goes through
// Dialer. It uses no proxy: a proxy would connect on Ward's behalf to an
// address this Guard never sees. With a nil tlsConfig (the system roots)
// it is the Guard's one shared transport, whose connections are reused;
// callers must not change it.
func (g *Guard) Transport(tlsConfig *tls.Config) *http.Transport {
	if g != nil && tlsConfig == nil {
		return g.shared
	}
	return g.newTransport(tlsConfig)
}

func (g *Guard) newTransport(tlsConfig *tls.Config) *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.Proxy = nil
	t.DialContext = g.Dialer().DialContext
	if tlsConfig != nil {
		t.TLSClientConfig = tlsConfig
	}
	return t
}

// Client returns an HTTP client on Transport with the given timeout.
// Redirects are followed as usual, each through the guarded dialer.
func (g *Guard) Client(timeout time.Duration, tlsConfig *tls.Config) *http.Client {
	return &http.Client{Timeout: timeout, Transport: g.Transport(tlsConfig)}
}

// CheckURL looks up raw's host (an IP literal is not looked up) and
// returns a *RefusedError when any of its addresses is refused, so that a
// forbidden destination is turned down when it is saved. A host that does
// not resolve is an error too. It is an early answer only: the dialer
// checks again on every connection.
func (g *Guard) CheckURL(ctx context.Context, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Hostname() == "" {
		return fmt.Errorf("outbound: %q is not an absolute URL", raw)
	}
	host := u.Hostname()
	if ip, err := netip.ParseAddr(host); err == nil {
		return g.Check(ip)
	}
	r := net.DefaultResolver
	if g != nil {
		r = g.resolver
	}
	ips, err := r.LookupNetIP(ctx, "ip", host)
	if err != nil || len(ips) == 0 {
		return fmt.Errorf("outbound: host %s does not resolve", host)
	}
	for _, ip := range ips {
		if err := g.Check(ip); err != nil {
			return err
		}
	}
	return nil
}
