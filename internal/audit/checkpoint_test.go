package audit_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/audit"
)

func newKey(t testing.TB) audit.SigningKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return audit.NewSigningKey(priv)
}

func trust(t testing.TB, keys ...audit.SigningKey) audit.TrustedKeys {
	t.Helper()
	tk := audit.TrustedKeys{}
	for _, k := range keys {
		if err := tk.ParsePublicKeys("test key", []byte(k.PublicPEM())); err != nil {
			t.Fatal(err)
		}
	}
	return tk
}

func TestCheckpointSignature(t *testing.T) {
	key := newKey(t)
	cp := key.Sign(audit.Checkpoint{Seq: 1500, Hash: strings.Repeat("ab", 32), At: start, Node: "ward-1"})
	if cp.Version != audit.CheckpointVersion || cp.KeyID != key.ID() || !strings.HasPrefix(cp.KeyID, "ed25519-") || cp.Signature == "" {
		t.Fatalf("signed checkpoint = %+v", cp)
	}
	trusted := trust(t, key)
	if err := trusted.Check(cp); err != nil {
		t.Fatalf("own checkpoint refused: %v", err)
	}
	tampered := map[string]func(c *audit.Checkpoint){
		"seq":       func(c *audit.Checkpoint) { c.Seq++ },
		"hash":      func(c *audit.Checkpoint) { c.Hash = strings.Repeat("cd", 32) },
		"time":      func(c *audit.Checkpoint) { c.At = c.At.Add(time.Microsecond) },
		"node":      func(c *audit.Checkpoint) { c.Node = "ward-2" },
		"signature": func(c *audit.Checkpoint) { c.Signature = "AAAA" + c.Signature[4:] },
	}
	for name, tamper := range tampered {
		c := cp
		tamper(&c)
		if err := trusted.Check(c); err == nil || !strings.Contains(err.Error(), "was altered") {
			t.Errorf("%s altered: %v, want the checkpoint refused as altered", name, err)
		}
	}
	other := newKey(t)
	if err := trusted.Check(other.Sign(cp)); err == nil || !strings.Contains(err.Error(), "not a key you trust") {
		t.Errorf("checkpoint of another key: %v, want it refused as unknown", err)
	}
	renamed := cp
	renamed.KeyID = other.ID()
	if err := trust(t, key, other).Check(renamed); err == nil || !strings.Contains(err.Error(), "was altered") {
		t.Errorf("checkpoint claiming another trusted key: %v, want it refused", err)
	}
	future := cp
	future.Version = 2
	if err := trusted.Check(future); err == nil || !strings.Contains(err.Error(), "version 2") {
		t.Errorf("unknown version: %v", err)
	}
}

func TestSigningKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keys", "audit-signing.key")
	key, created, err := audit.LoadSigningKey(path)
	if err != nil || !created {
		t.Fatalf("first load: %v, created %v", err, created)
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file %v, mode %v; want 0600", err, st.Mode())
	}
	again, created, err := audit.LoadSigningKey(path)
	if err != nil || created || again.ID() != key.ID() {
		t.Fatalf("second load: %v, created %v, id %s want %s", err, created, again.ID(), key.ID())
	}
	tk := audit.TrustedKeys{}
	if err := tk.ParsePublicKeys("pub", []byte(key.PublicPEM())); err != nil || !bytes.Equal(tk[key.ID()], key.Public()) {
		t.Fatalf("public key round trip: %v", err)
	}
	if err := tk.ParsePublicKeys("pub", []byte("not a key")); err == nil || !strings.Contains(err.Error(), "no PEM PUBLIC KEY") {
		t.Errorf("garbage public key: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "bad.key")
	if err := os.WriteFile(bad, []byte(key.PublicPEM()), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := audit.LoadSigningKey(bad); err == nil || !strings.Contains(err.Error(), "no PEM PRIVATE KEY") {
		t.Errorf("public key as signing key: %v", err)
	}
}

func TestReadCheckpoints(t *testing.T) {
	key := newKey(t)
	a := key.Sign(audit.Checkpoint{Seq: 2, Hash: strings.Repeat("ab", 32), At: start, Node: "n"})
	b := key.Sign(audit.Checkpoint{Seq: 4, Hash: strings.Repeat("cd", 32), At: start.Add(time.Minute), Node: "n"})
	file := append(append(a.MarshalLine(), '\n'), b.MarshalLine()...)
	cps, next, err := audit.ReadCheckpoints(file)
	if err != nil || next != 0 || len(cps) != 2 || cps[0].Line != 1 || cps[1].Line != 3 || cps[1].Checkpoint != b {
		t.Fatalf("read file: %v next %d %+v", err, next, cps)
	}
	page := []byte(`{"checkpoints":[` + strings.TrimSpace(string(a.MarshalLine())) + `],"next_after_seq":2}`)
	if cps, next, err := audit.ReadCheckpoints(page); err != nil || next != 2 || len(cps) != 1 || cps[0].Checkpoint != a {
		t.Fatalf("read page: %v next %d %+v", err, next, cps)
	}
	for name, tc := range map[string]struct{ data, want string }{
		"not JSON":      {string(a.MarshalLine()) + "garbage\n", "line 2 is not a checkpoint"},
		"unknown field": {strings.Replace(string(a.MarshalLine()), `"node"`, `"extra":1,"node"`, 1), "line 1 is not a checkpoint"},
		"short hash":    {strings.Replace(string(a.MarshalLine()), a.Hash, "abc", 1), "line 1: hash"},
		"no seq":        {strings.Replace(string(a.MarshalLine()), `"seq":2`, `"seq":0`, 1), "line 1: seq 0"},
		"no signature":  {strings.Replace(string(a.MarshalLine()), a.Signature, "", 1), "line 1: key_id or signature"},
	} {
		if _, _, err := audit.ReadCheckpoints([]byte(tc.data)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
