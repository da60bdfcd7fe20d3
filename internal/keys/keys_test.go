package keys_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/keys"
)

func TestSealOpenAndBinding(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		master := bytes.Repeat([]byte{1}, keys.MasterKeySize)
		kr, err := keys.Load(ctx, d, master, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		ct, err := kr.Seal([]byte("Jane Roe MRN 123"), "incidents", "description", "row-1")
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(ct, "Jane") {
			t.Fatalf("plaintext in ciphertext %q", ct)
		}
		// A second Load with the same master key opens the same keyset.
		again, err := keys.Load(ctx, d, master, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		pt, err := again.Open(ct, "incidents", "description", "row-1")
		if err != nil || string(pt) != "Jane Roe MRN 123" {
			t.Fatalf("open: %q %v", pt, err)
		}
		for _, where := range [][3]string{{"incidents", "description", "row-2"}, {"incidents", "title", "row-1"}, {"users", "description", "row-1"}} {
			if _, err := kr.Open(ct, where[0], where[1], where[2]); err == nil {
				t.Fatalf("ciphertext moved to %v opened", where)
			}
		}
		if _, err := keys.Load(ctx, d, bytes.Repeat([]byte{2}, keys.MasterKeySize), time.Now()); err == nil ||
			!strings.Contains(err.Error(), "does not open") {
			t.Fatalf("wrong master key: %v", err)
		}
	})
}

func TestMasterKeySources(t *testing.T) {
	dir := t.TempDir()
	k1, src, err := keys.MasterKey("", "", dir)
	if err != nil || src != keys.FromGenerated || len(k1) != keys.MasterKeySize {
		t.Fatalf("generate: %v %v", src, err)
	}
	if st, err := os.Stat(filepath.Join(dir, keys.MasterKeyFile)); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	k2, src, err := keys.MasterKey("", "", dir)
	if err != nil || src != keys.FromDataDir || !bytes.Equal(k1, k2) {
		t.Fatalf("reload: %v %v", src, err)
	}
	if _, _, err := keys.MasterKey("not base64!", "", dir); err == nil || !strings.Contains(err.Error(), "WARD_MASTER_KEY") {
		t.Fatalf("bad env key: %v", err)
	}
	if _, _, err := keys.MasterKey("", filepath.Join(dir, "missing"), dir); err == nil {
		t.Fatal("a missing --master-key-file must be an error, not a new key")
	}
}
