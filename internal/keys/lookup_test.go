package keys_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/keys"
)

// TestLookupHash: a value's lookup hash is the same across loads of the
// keyring and from concurrent callers, differs by domain, by scope and
// between databases (each has its own random key, stored sealed), and
// holds nothing of the value.
func TestLookupHash(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		kr := load(t, d, master(t, 1))
		h := kr.LookupHash(keys.LookupDedupKey, "svc-1", "mrn-Quillfeather")
		if h != load(t, d, master(t, 1)).LookupHash(keys.LookupDedupKey, "svc-1", "mrn-Quillfeather") {
			t.Error("the hash changed across loads")
		}
		if len(h) != 22 || strings.Contains(h, "Quillfeather") {
			t.Errorf("hash %q", h)
		}
		for _, other := range []string{
			kr.LookupHash(keys.LookupGroupKey, "svc-1", "mrn-Quillfeather"),
			kr.LookupHash(keys.LookupDedupKey, "svc-2", "mrn-Quillfeather"),
			kr.LookupHash(keys.LookupDedupKey, "svc-1", "mrn-quillfeather"),
		} {
			if other == h {
				t.Errorf("%q hashes alike across domain, scope or value", other)
			}
		}
		done := make(chan string, 8)
		for range 8 {
			go func() { done <- kr.LookupHash(keys.LookupDedupKey, "svc-1", "mrn-Quillfeather") }()
		}
		for range 8 {
			if got := <-done; got != h {
				t.Errorf("concurrent hash %q, want %q", got, h)
			}
		}
		var stored string
		if err := d.R.QueryRow("SELECT key FROM search_keys WHERE id = $1", keys.SearchAlertKeys).Scan(&stored); err != nil || !keys.Sealed(stored) {
			t.Errorf("alert lookup key stored as %q (%v)", stored, err)
		}
		elsewhere := dbtest.Open(t, filepath.Join(t.TempDir(), "other.db"))
		if load(t, elsewhere, master(t, 1)).LookupHash(keys.LookupDedupKey, "svc-1", "mrn-Quillfeather") == h {
			t.Error("two databases share a lookup key")
		}
	})
}

// BenchmarkAlertFieldCrypto is what sealing adds to intake for each new
// alert at most: two lookup hashes (dedup and group key) and five seals of
// short fields (go test ./internal/keys -run XXX -bench AlertFieldCrypto).
func BenchmarkAlertFieldCrypto(b *testing.B) {
	d := dbtest.Open(b, filepath.Join(b.TempDir(), "bench.db"))
	kr := dbtest.Keyring(b, d, now)
	b.ReportAllocs()
	for b.Loop() {
		kr.LookupHash(keys.LookupDedupKey, "01a24c61-4d8e-772b-b545-5f50e2dc774b", "a-12345")
		kr.LookupHash(keys.LookupGroupKey, "01a24c61-4d8e-772b-b545-5f50e2dc774b", "alert:a-12345")
		for _, c := range []keys.Column{keys.AlertDedupKey, keys.AlertSource, keys.AlertComponent,
			keys.AlertGroup, keys.AlertClass} {
			if _, err := kr.Seal([]byte("host-17.example.org"), c.Table, c.Name, "01a24c61-4d9a-798c-a6e4-f8122f070df7"); err != nil {
				b.Fatal(err)
			}
		}
	}
}
