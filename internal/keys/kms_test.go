package keys_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/keys/kmsfake"
	"github.com/wardhq/ward/internal/outbound"
)

const (
	awsARN  = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	gcpName = "projects/p/locations/global/keyRings/ward/cryptoKeys/master"
)

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// kmsCase is one KMS: a fake server, the key URI, the options that reach
// it, and options whose credentials the KMS refuses.
type kmsCase struct {
	name      string
	uri       string
	good, bad keys.KMSOptions
	refused   string // what the refusal says
	calls     func() (enc, dec int64)
}

// loopbackAllowed is the guard of a Ward whose administrator allow-lists
// the fake KMSes' loopback address (--outbound-allow 127.0.0.1/32).
func loopbackAllowed(t *testing.T) *outbound.Guard {
	allow, err := outbound.ParseAllow([]string{"127.0.0.1/32"})
	if err != nil {
		t.Fatal(err)
	}
	return outbound.New(allow, nil)
}

func kmsCases(t *testing.T) []kmsCase {
	v := kmsfake.Vault(t, "ward", "s.good")
	a := kmsfake.AWS(t, awsARN, "AKIDGOOD")
	g := kmsfake.GCPKMS(t, gcpName)
	creds := g.Credentials(t, t.TempDir())
	local := loopbackAllowed(t)
	return []kmsCase{
		{name: "vault", uri: "hcvault://vault.invalid:8200/transit/keys/ward",
			good:    keys.KMSOptions{Endpoint: v.URL, Outbound: local, Getenv: envOf(map[string]string{"VAULT_TOKEN": "s.good"})},
			bad:     keys.KMSOptions{Endpoint: v.URL, Outbound: local, Getenv: envOf(map[string]string{"VAULT_TOKEN": "s.wrong"})},
			refused: "Vault answered 403 Forbidden: permission denied",
			calls:   func() (int64, int64) { return v.Encrypts.Load(), v.Decrypts.Load() }},
		{name: "aws", uri: "aws-kms://" + awsARN,
			good: keys.KMSOptions{Endpoint: a.URL, Outbound: local, Getenv: envOf(map[string]string{"AWS_ACCESS_KEY_ID": "AKIDGOOD",
				"AWS_SECRET_ACCESS_KEY": "secret"})},
			bad: keys.KMSOptions{Endpoint: a.URL, Outbound: local, Getenv: envOf(map[string]string{"AWS_ACCESS_KEY_ID": "AKIDWRONG",
				"AWS_SECRET_ACCESS_KEY": "secret"})},
			refused: "UnrecognizedClientException",
			calls:   func() (int64, int64) { return a.Encrypts.Load(), a.Decrypts.Load() }},
		{name: "gcp", uri: "gcp-kms://" + gcpName,
			good: keys.KMSOptions{Endpoint: g.URL, Outbound: local, Getenv: envOf(map[string]string{"GOOGLE_APPLICATION_CREDENTIALS": creds})},
			bad: keys.KMSOptions{Endpoint: g.URL + "/nokms", Outbound: local, Getenv: envOf(map[string]string{
				"GOOGLE_APPLICATION_CREDENTIALS": creds})},
			refused: "Cloud KMS answered 404",
			calls:   func() (int64, int64) { return g.Encrypts.Load(), g.Decrypts.Load() }},
	}
}

// TestKMSMasterKeys: each KMS's master key wraps and opens a keyset through
// the KMS's API, binds the associated data, and a KMS that refuses says so
// in the error instead of blaming the key.
func TestKMSMasterKeys(t *testing.T) {
	ctx := context.Background()
	for _, c := range kmsCases(t) {
		t.Run(c.name, func(t *testing.T) {
			m, err := keys.KMSMasterKey(ctx, c.uri, c.good)
			if err != nil {
				t.Fatal(err)
			}
			if keys.KMSURI(m) != c.uri {
				t.Fatalf("KMSURI %q", keys.KMSURI(m))
			}
			ct, err := m.Encrypt([]byte("keyset"), []byte("ad"))
			if err != nil {
				t.Fatal(err)
			}
			if pt, err := m.Decrypt(ct, []byte("ad")); err != nil || string(pt) != "keyset" {
				t.Fatalf("decrypt: %q %v", pt, err)
			}
			if _, err := m.Decrypt(ct, []byte("other")); err == nil {
				t.Fatal("opened with other associated data")
			}
			bad, err := keys.KMSMasterKey(ctx, c.uri, c.bad)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bad.Decrypt(ct, []byte("ad")); err == nil || !strings.Contains(err.Error(), c.refused) {
				t.Fatalf("refused: %v, want %q", err, c.refused)
			}
		})
	}
}

// TestKMSOutboundGuard: a KMS on a loopback address that is not
// allow-listed is refused before Ward connects to it, its credentials
// never sent.
func TestKMSOutboundGuard(t *testing.T) {
	ctx := context.Background()
	for _, c := range kmsCases(t) {
		t.Run(c.name, func(t *testing.T) {
			o := c.good
			o.Outbound = nil
			m, err := keys.KMSMasterKey(ctx, c.uri, o)
			if err != nil {
				t.Fatal(err)
			}
			// The AWS SDK's errors do not unwrap: the refusal is read
			// from the message.
			if _, err := m.Encrypt([]byte("keyset"), []byte("ad")); err == nil ||
				!strings.Contains(err.Error(), "outbound: refusing to connect to 127.0.0.1, a loopback address") {
				t.Fatalf("a KMS on 127.0.0.1 without --outbound-allow: %v, want a refusal", err)
			}
			if enc, dec := c.calls(); enc+dec != 0 {
				t.Fatalf("the KMS got %d calls through a guard that refused them", enc+dec)
			}
		})
	}
}

func TestKMSURIs(t *testing.T) {
	ctx := context.Background()
	o := keys.KMSOptions{Getenv: envOf(map[string]string{"VAULT_TOKEN": "t"})}
	for uri, want := range map[string]string{
		"kms://x":                                     "must start with aws-kms://",
		"hcvault://vault:8200/transit/ward":           "must be hcvault://HOST:PORT/MOUNT/keys/NAME",
		"aws-kms://arn:aws:s3:::bucket":               "must be aws-kms://arn:aws:kms:REGION",
		"gcp-kms://projects/p/keyRings/r":             "must be gcp-kms://projects/PROJECT/locations",
		"hcvault:///transit/keys/ward":                "no Vault address",
		"hcvault://vault:8200/transit/keys/ward?x=1#": "",
	} {
		_, err := keys.KMSMasterKey(ctx, uri, o)
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: %v, want %q", uri, err, want)
		}
	}
	plain := keys.KMSOptions{Endpoint: "http://10.0.0.1:8200", Getenv: o.Getenv}
	if _, err := keys.KMSMasterKey(ctx, "hcvault://v/transit/keys/w", plain); err == nil ||
		!strings.Contains(err.Error(), "http:// only to a loopback address") {
		t.Errorf("plain http to a remote endpoint: %v", err)
	}
}

// TestChangeMaster moves a keyset from a local master key to each KMS and
// back: sealed values open throughout, the old master no longer opens the
// keyset, a refusing KMS fails with its reason, a reload opens the keyset
// with one call to the KMS, and sealing and opening make none.
func TestChangeMaster(t *testing.T) {
	ctx := context.Background()
	cases := kmsCases(t)
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		local := master(t, 7)
		kr := load(t, d, local)
		ct, err := kr.Seal([]byte("Jane Roe"), "incidents", "description", "r1")
		if err != nil {
			t.Fatal(err)
		}
		from := local
		for _, c := range cases {
			m, err := keys.KMSMasterKey(ctx, c.uri, c.good)
			if err != nil {
				t.Fatal(err)
			}
			if err := kr.ChangeMaster(ctx, m, keys.MasterKeyChange{From: "local", To: c.uri}, now); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if _, err := keys.Load(ctx, d, from, now); !errors.Is(err, keys.ErrWrongMasterKey) {
				t.Fatalf("%s: the old master still opens the keyset: %v", c.name, err)
			}
			enc, dec := c.calls()
			again, err := keys.Load(ctx, d, m, now)
			if err != nil {
				t.Fatalf("%s: reload: %v", c.name, err)
			}
			for range 5 {
				if pt, err := again.Open(ct, "incidents", "description", "r1"); err != nil || string(pt) != "Jane Roe" {
					t.Fatalf("%s: open after change: %q %v", c.name, pt, err)
				}
				if _, err := again.Seal([]byte("x"), "incidents", "description", "r2"); err != nil {
					t.Fatal(err)
				}
			}
			if e, dd := c.calls(); e != enc || dd != dec+1 {
				t.Fatalf("%s: KMS calls for a load and 10 seals and opens: %d encrypts, %d decrypts", c.name, e-enc, dd-dec)
			}
			bad, err := keys.KMSMasterKey(ctx, c.uri, c.bad)
			if err != nil {
				t.Fatal(err)
			}
			_, err = keys.Load(ctx, d, bad, now)
			if !errors.Is(err, keys.ErrWrongMasterKey) || !strings.Contains(err.Error(), c.refused) ||
				!strings.Contains(err.Error(), c.uri) {
				t.Fatalf("%s: with refused credentials: %v", c.name, err)
			}
			from = m
		}
		// And back to a new local key.
		if err := kr.ChangeMaster(ctx, master(t, 8), keys.MasterKeyChange{From: "kms", To: "local"}, now); err != nil {
			t.Fatal(err)
		}
		if pt, err := load(t, d, master(t, 8)).Open(ct, "incidents", "description", "r1"); err != nil || string(pt) != "Jane Roe" {
			t.Fatalf("back to a local key: %q %v", pt, err)
		}
		var n int
		if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'keys.master_key_changed'`).Scan(&n); err != nil ||
			n != len(cases)+1 {
			t.Fatalf("audit entries: %d %v", n, err)
		}
	})
}

// TestChangeMasterRefusesAKeyThatCannotDecrypt: a new master key that
// encrypts but cannot decrypt leaves the keyset as it was.
func TestChangeMasterRefusesAKeyThatCannotDecrypt(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		kr := load(t, d, master(t, 1))
		err := kr.ChangeMaster(context.Background(), encryptOnly{master(t, 2)}, keys.MasterKeyChange{}, now)
		if err == nil || !strings.Contains(err.Error(), "cannot decrypt") {
			t.Fatalf("change to an encrypt-only key: %v", err)
		}
		load(t, d, master(t, 1))
	})
}

type encryptOnly struct{ keys.MasterKey }

func (encryptOnly) Decrypt([]byte, []byte) ([]byte, error) {
	return nil, errors.New("no decrypt permission")
}

// TestRefusedKeysetIsNotRetriedPerRequest: a server whose KMS master key no
// longer opens the keyset (another process changed the master key, then
// rotated) keeps failing to open values under the new data key, but asks
// the KMS once, not once per value.
func TestRefusedKeysetIsNotRetriedPerRequest(t *testing.T) {
	ctx := context.Background()
	v := kmsfake.Vault(t, "ward", "s.good")
	local := loopbackAllowed(t)
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		m, err := keys.KMSMasterKey(ctx, "hcvault://v/transit/keys/ward",
			keys.KMSOptions{Endpoint: v.URL, Outbound: local, Getenv: envOf(map[string]string{"VAULT_TOKEN": "s.good"})})
		if err != nil {
			t.Fatal(err)
		}
		server := load(t, d, m)
		other := load(t, d, m)
		if err := other.ChangeMaster(ctx, master(t, 3), keys.MasterKeyChange{From: "vault", To: "local"}, now); err != nil {
			t.Fatal(err)
		}
		if _, err := other.Rotate(ctx, keys.RotateOptions{Now: func() time.Time { return now }}); err != nil {
			t.Fatal(err)
		}
		ct, err := other.Seal([]byte("x"), "incidents", "description", "r")
		if err != nil {
			t.Fatal(err)
		}
		before := v.Decrypts.Load()
		for range 5 {
			if _, err := server.Open(ct, "incidents", "description", "r"); !errors.Is(err, keys.ErrWrongMasterKey) {
				t.Fatalf("open under a keyset this master cannot open: %v", err)
			}
		}
		if n := v.Decrypts.Load() - before; n != 1 {
			t.Fatalf("the KMS was asked %d times for 5 opens, want once", n)
		}
	})
}
