package outbound

import "net/netip"

// class is a range of addresses Ward does not connect to unasked.
type class struct {
	prefix netip.Prefix
	reason string
}

// forbidden are the ranges refused by default (IANA IPv4 and IPv6
// Special-Purpose Address Registries, RFC 6890). Documentation ranges are
// not listed: nothing answers there, and refusing them would gain nothing.
var forbidden = func() []class {
	var out []class
	for _, c := range [][2]string{
		{"0.0.0.0/8", "unspecified (\"this network\")"}, // Linux connects 0.0.0.0 to the host itself
		{"10.0.0.0/8", "private (RFC 1918)"},
		{"100.64.0.0/10", "shared (carrier-grade NAT, RFC 6598)"},
		{"127.0.0.0/8", "loopback"},
		{"169.254.0.0/16", "link-local (cloud metadata service)"}, // 169.254.169.254
		{"172.16.0.0/12", "private (RFC 1918)"},
		{"192.0.0.0/24", "reserved (IETF protocol assignments)"},
		{"192.168.0.0/16", "private (RFC 1918)"},
		{"198.18.0.0/15", "reserved (benchmarking, RFC 2544)"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved (and broadcast)"},
		{"::/128", "unspecified"},
		{"::1/128", "loopback"},
		{"::/96", "reserved (IPv4-compatible IPv6)"},
		{"64:ff9b:1::/48", "private (local-use NAT64, RFC 8215)"},
		{"100::/64", "reserved (discard-only, RFC 6666)"},
		{"fc00::/7", "private (unique local, RFC 4193)"}, // fd00:ec2::254, AWS's metadata service over IPv6
		{"fe80::/10", "link-local"},
		{"fec0::/10", "private (site-local)"},
		{"ff00::/8", "multicast"},
	} {
		out = append(out, class{netip.MustParsePrefix(c[0]), c[1]})
	}
	return out
}()

// Forbidden returns what kind of forbidden address ip is, or "" when Ward
// may connect to it. IPv6 addresses that carry an IPv4 address (mapped
// ::ffff:a.b.c.d, NAT64 64:ff9b::/96 and 6to4 2002::/16) are judged by the
// IPv4 address too.
func Forbidden(ip netip.Addr) string {
	ip = ip.WithZone("").Unmap()
	if !ip.IsValid() {
		return "invalid"
	}
	for _, c := range forbidden {
		if c.prefix.Contains(ip) {
			return c.reason
		}
	}
	if v4, ok := embeddedIPv4(ip); ok {
		if r := Forbidden(v4); r != "" {
			return r + ", embedded in IPv6"
		}
	}
	return ""
}

var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96")
	sixTo4 = netip.MustParsePrefix("2002::/16")
)

// embeddedIPv4 is the IPv4 address a NAT64 (RFC 6052) or 6to4 (RFC 3056)
// address leads to.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixTo4.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}
