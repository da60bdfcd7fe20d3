package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestValidateACME(t *testing.T) {
	ok := func(c *Config) {
		c.ACMEDomains = []string{"ward.example.org", "ward2.example.org"}
		c.ACMEEmail = "ops@example.org"
	}
	cases := []struct {
		name  string
		set   func(*Config)
		field string // "" when valid
	}{
		{"default has no ACME", func(*Config) {}, ""},
		{"domains and email", ok, ""},
		{"staging directory", func(c *Config) {
			ok(c)
			c.ACMEDirectory = "https://acme-staging-v02.api.letsencrypt.org/directory"
		}, ""},
		{"with tls-cert", func(c *Config) { ok(c); c.TLSCert, c.TLSKey = "c.pem", "k.pem" }, "acme-domain: cannot be combined with tls-cert"},
		{"with insecure-http", func(c *Config) { ok(c); c.InsecureHTTP = true }, "acme-domain: cannot be combined with insecure-http"},
		{"with a port", func(c *Config) { c.ACMEDomains = []string{"ward.example.org:443"} }, "acme-domain:"},
		{"a wildcard", func(c *Config) { c.ACMEDomains = []string{"*.example.org"} }, "acme-domain:"},
		{"an IP address", func(c *Config) { c.ACMEDomains = []string{"192.0.2.1"} }, "acme-domain:"},
		{"a single label", func(c *Config) { c.ACMEDomains = []string{"localhost"} }, "acme-domain:"},
		{"an empty label", func(c *Config) { c.ACMEDomains = []string{"ward..example.org"} }, "acme-domain:"},
		{"a URL", func(c *Config) { c.ACMEDomains = []string{"https://ward.example.org"} }, "acme-domain:"},
		{"a bad email", func(c *Config) { ok(c); c.ACMEEmail = "ops at example.org" }, "acme-email:"},
		{"email without domain", func(c *Config) { c.ACMEEmail = "ops@example.org" }, "acme-email: only with acme-domain"},
		{"plain http directory", func(c *Config) { ok(c); c.ACMEDirectory = "http://ca.example.org/dir" }, "acme-directory:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.set(&c)
			err := c.Validate(true)
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.field != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.field)):
				t.Fatalf("error %v, want one starting %q", err, tc.field)
			}
		})
	}
}

func TestACMEFlags(t *testing.T) {
	c := Default()
	if c.ACMEDirectory != LetsEncryptDirectory {
		t.Fatalf("default directory %q", c.ACMEDirectory)
	}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	BindServe(fs, &c)
	if err := fs.Parse([]string{"--acme-domain", "a.example.org,b.example.org", "--acme-email", "ops@example.org"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"WARD_ACME_DIRECTORY": "https://acme-staging-v02.api.letsencrypt.org/directory"}
	if err := ApplyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if len(c.ACMEDomains) != 2 || c.ACMEEmail != "ops@example.org" || c.ACMEDirectory != env["WARD_ACME_DIRECTORY"] {
		t.Fatalf("parsed %+v", c)
	}
}

func TestTimeZone(t *testing.T) {
	cases := []struct{ zone, err string }{
		{"UTC", ""},
		{"America/Los_Angeles", ""},
		{"Pacific/Guam", ""},
		{"America/Las_Vegas", "time-zone:"},
		{"Local", "time-zone:"},
		{"", "time-zone:"},
	}
	for _, tc := range cases {
		t.Run(tc.zone, func(t *testing.T) {
			c := Default()
			c.TimeZone = tc.zone
			err := c.Validate(true)
			switch {
			case tc.err == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.err != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.err)):
				t.Fatalf("error %v, want one starting %q", err, tc.err)
			}
		})
	}
	c := Default()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	BindServe(fs, &c)
	env := map[string]string{"WARD_TIME_ZONE": "America/New_York"}
	if err := ApplyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if loc, err := c.Zone(); err != nil || loc.String() != "America/New_York" {
		t.Fatalf("WARD_TIME_ZONE gave %v, %v", loc, err)
	}
}

// TestOutboundAllow: --outbound-allow and WARD_OUTBOUND_ALLOW take CIDR
// prefixes and single addresses, refuse anything else naming the setting,
// and the guard they make lets exactly those through.
func TestOutboundAllow(t *testing.T) {
	c := Default()
	fs := pflag.NewFlagSet("ward", pflag.ContinueOnError)
	BindStorage(fs, &c)
	env := map[string]string{"WARD_OUTBOUND_ALLOW": "10.20.0.0/16,127.0.0.1"}
	if err := ApplyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(false); err != nil {
		t.Fatal(err)
	}
	g, err := c.Outbound()
	if err != nil {
		t.Fatal(err)
	}
	for addr, allowed := range map[string]bool{"10.20.1.2": true, "127.0.0.1": true, "127.0.0.2": false, "169.254.169.254": false} {
		if err := g.Check(netip.MustParseAddr(addr)); (err == nil) != allowed {
			t.Errorf("%s with %s: %v, want allowed %v", addr, env["WARD_OUTBOUND_ALLOW"], err, allowed)
		}
	}
	c.OutboundAllow = []string{"10.20.0.0/40"}
	if err := c.Validate(false); err == nil || !strings.HasPrefix(err.Error(), "outbound-allow:") {
		t.Fatalf("a bad prefix: %v", err)
	}
}

func TestAuditCheckpointSettings(t *testing.T) {
	cases := []struct {
		name  string
		set   func(*Config)
		field string // "" when valid
	}{
		{"defaults", func(*Config) {}, ""},
		{"file and webhook outside the data folder", func(c *Config) {
			c.AuditCheckpointFile, c.AuditCheckpointWebhook = "/var/lib/ward-anchor/checkpoints.jsonl", "https://siem.example.org/ward?k=1"
		}, ""},
		{"no entries", func(c *Config) { c.AuditCheckpointEntries = 0 }, "audit-checkpoint-entries:"},
		{"too many entries", func(c *Config) { c.AuditCheckpointEntries = 1_000_001 }, "audit-checkpoint-entries:"},
		{"interval too short", func(c *Config) { c.AuditCheckpointInterval = time.Millisecond }, "audit-checkpoint-interval:"},
		{"interval too long", func(c *Config) { c.AuditCheckpointInterval = 25 * time.Hour }, "audit-checkpoint-interval:"},
		{"file in the data folder", func(c *Config) { c.AuditCheckpointFile = "./ward-data/sub/checkpoints.jsonl" }, "audit-checkpoint-file:"},
		{"webhook not http", func(c *Config) { c.AuditCheckpointWebhook = "ftp://example.org/x" }, "audit-checkpoint-webhook:"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := Default()
			tc.set(&c)
			err := c.Validate(true)
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.field != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.field)):
				t.Fatalf("error %v, want one starting %q", err, tc.field)
			}
		})
	}
}

func TestAuditSigningKeyPath(t *testing.T) {
	for _, tc := range []struct {
		name                    string
		dataDir, master, signer string
		want                    string
		besideData              bool
	}{
		{"given", "/srv/ward", "", "/etc/ward/sign.key", "/etc/ward/sign.key", false},
		{"given inside the data folder", "/srv/ward", "", "/srv/ward/sign.key", "/srv/ward/sign.key", true},
		{"beside a master key outside", "/srv/ward", "/etc/ward/master.key", "", "/etc/ward/audit-signing.key", false},
		{"master key inside the data folder", "/srv/ward", "/srv/ward/master.key", "", "/srv/ward/audit-signing.key", true},
		{"no master key file", "/srv/ward", "", "", "/srv/ward/audit-signing.key", true},
		{"a folder named like the data folder", "/srv/ward", "/srv/ward-keys/master.key", "", "/srv/ward-keys/audit-signing.key", false},
	} {
		c := Default()
		c.DataDir, c.MasterKeyFile, c.AuditSigningKeyFile = tc.dataDir, tc.master, tc.signer
		if got, beside := c.AuditSigningKeyPath(); got != tc.want || beside != tc.besideData {
			t.Errorf("%s: %s beside data %v, want %s %v", tc.name, got, beside, tc.want, tc.besideData)
		}
	}
}

// TestAuditWatchInterval: --audit-watch-interval defaults to 250ms and is
// refused outside 10ms to 1m, naming the flag.
func TestAuditWatchInterval(t *testing.T) {
	c := Default()
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	BindServe(fs, &c)
	if err := fs.Parse([]string{"--audit-watch-interval", "2s"}); err != nil || c.AuditWatch != 2*time.Second {
		t.Fatalf("parsed %v, %v", c.AuditWatch, err)
	}
	if err := c.Validate(true); err != nil {
		t.Fatalf("2s refused: %v", err)
	}
	if Default().AuditWatch != 250*time.Millisecond {
		t.Errorf("default %v", Default().AuditWatch)
	}
	for _, d := range []time.Duration{0, 5 * time.Millisecond, 2 * time.Minute} {
		c := Default()
		c.AuditWatch = d
		if err := c.Validate(true); err == nil || !strings.HasPrefix(err.Error(), "audit-watch-interval:") {
			t.Errorf("%v: %v", d, err)
		}
	}
}
