package backup

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// backupBytes backs up a populated SQLite database into memory.
func backupBytes(t *testing.T, k Key) ([]byte, Manifest) {
	t.Helper()
	d := dbtest.Open(t, filepath.Join(t.TempDir(), "ward.db"))
	populate(t, d, dbtest.Keyring(t, d, start))
	var buf bytes.Buffer
	m, err := Create(context.Background(), d, &buf, Options{Key: k, WardVersion: "test", Now: start})
	if err != nil {
		t.Fatal(err)
	}
	if buf.Len() < 3*chunkSize {
		t.Fatalf("the backup is %d bytes; the test needs several chunks", buf.Len())
	}
	return buf.Bytes(), m
}

// TestVerifyRefuses: a truncated, tampered, wrong-key, foreign or
// extended backup fails verification with the reason; a whole one passes.
func TestVerifyRefuses(t *testing.T) {
	k := testKey(t)
	good, m := backupBytes(t, k)
	if got, err := Verify(bytes.NewReader(good), k); err != nil || got.BackupID != m.BackupID {
		t.Fatalf("a whole backup: %v", err)
	}
	pass, err := KeyFromPassphrase("a long enough passphrase for tests")
	if err != nil {
		t.Fatal(err)
	}
	flip := func(at int) []byte {
		b := bytes.Clone(good)
		b[at] ^= 0x40
		return b
	}
	record := headerSize + 4 + chunkSize + 16 // the first chunk's record
	for _, c := range []struct {
		name string
		data []byte
		key  Key
		want error
		says string
	}{
		{"wrong key", good, testKey(t), ErrWrongKey, "does not open"},
		{"passphrase for a key-file backup", good, pass, ErrWrongKey, "made with a backup key file"},
		{"empty file", nil, k, ErrNotBackup, "too short"},
		{"not a backup", []byte(strings.Repeat("SQLite format 3\x00", 100)), k, ErrNotBackup, "marker"},
		{"header cut", good[:20], k, ErrTruncated, "header"},
		{"cut after the header", good[:headerSize], k, ErrTruncated, "without its final chunk"},
		{"cut inside a chunk", good[:headerSize+1000], k, ErrTruncated, "cut short"},
		{"cut at a chunk boundary", good[:record], k, ErrTruncated, "ends after chunk 1"},
		{"cut at the second boundary", good[:2*record-headerSize], k, ErrTruncated, "ends after chunk 2"},
		{"byte flipped in a chunk", flip(record + 100), k, ErrDamaged, "chunk 2 fails authentication"},
		{"byte flipped in the salt", flip(30), k, ErrWrongKey, "header was altered"},
		{"byte flipped in the last chunk", flip(len(good) - 5), k, ErrDamaged, "fails authentication"},
		{"data appended", append(bytes.Clone(good), good[headerSize:record]...), k, ErrDamaged, ""},
		{"chunks swapped", swapChunks(good, record), k, ErrDamaged, "chunk 1 fails authentication"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Verify(bytes.NewReader(c.data), c.key)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("got %v, want %v saying %q", err, c.want, c.says)
			}
		})
	}
}

// swapChunks swaps the first two chunk records (both full size).
func swapChunks(good []byte, record int) []byte {
	b := bytes.Clone(good)
	first, second := good[headerSize:record], good[record:2*record-headerSize]
	copy(b[headerSize:], second)
	copy(b[headerSize+len(second):], first)
	return b
}

// TestPassphraseBackup: a passphrase-sealed backup opens with the same
// passphrase only, and not as a key-file backup.
func TestPassphraseBackup(t *testing.T) {
	d := dbtest.Open(t, filepath.Join(t.TempDir(), "ward.db"))
	k, err := KeyFromPassphrase("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := Create(context.Background(), d, &buf, Options{Key: k, Now: start}); err != nil {
		t.Fatal(err)
	}
	if _, err := Verify(bytes.NewReader(buf.Bytes()), k); err != nil {
		t.Fatal(err)
	}
	other, _ := KeyFromPassphrase("correct horse battery stapler")
	if _, err := Verify(bytes.NewReader(buf.Bytes()), other); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("another passphrase: %v", err)
	}
	if _, err := Verify(bytes.NewReader(buf.Bytes()), testKey(t)); !errors.Is(err, ErrWrongKey) ||
		!strings.Contains(err.Error(), "made with a passphrase") {
		t.Fatalf("a key file: %v", err)
	}
	if _, err := KeyFromPassphrase("short"); err == nil || !strings.Contains(err.Error(), "WARD_BACKUP_PASSPHRASE") {
		t.Fatalf("a short passphrase: %v", err)
	}
}

// TestRestoreRefusesNonEmpty: restore leaves a target that holds data
// alone, on both databases, and says why.
func TestRestoreRefusesNonEmpty(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		ctx := as(authz.RoleAdmin, "ada")
		k := testKey(t)
		populate(t, d, dbtest.Keyring(t, d, start))
		file := filepath.Join(t.TempDir(), "ward.wbk")
		if _, err := CreateFile(ctx, d, file, Options{Key: k, Now: start}); err != nil {
			t.Fatal(err)
		}
		target := freshTarget(t, d.Dialect)
		// A target with data: a populated Ward of the same dialect.
		full := dbtest.Open(t, target)
		populate(t, full, dbtest.Keyring(t, full, start))
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		_, err = Restore(ctx, f, target, RestoreOptions{Key: k, Migrate: migrateAll})
		if !errors.Is(err, ErrTargetNotEmpty) {
			t.Fatalf("restore into a database with data: %v", err)
		}
		var n int
		if err := full.R.QueryRowContext(ctx, "SELECT count(*) FROM incidents").Scan(&n); err != nil || n != 12 {
			t.Fatalf("the target changed: %d incidents, %v", n, err)
		}
		if _, err := f.Seek(0, 0); err != nil {
			t.Fatal(err)
		}
		other := "postgres://127.0.0.1:1/none"
		if d.Dialect == db.Postgres {
			other = filepath.Join(t.TempDir(), "ward.db")
		}
		if _, err := Restore(ctx, f, other, RestoreOptions{Key: k, Migrate: migrateAll}); err == nil ||
			!strings.Contains(err.Error(), "same kind of database") {
			t.Fatalf("cross-dialect restore: %v", err)
		}
	})
}

// TestRestoreChecksAuditChain: a backup of a database whose audit trail
// was altered restores, but the restore fails naming the broken entry.
func TestRestoreChecksAuditChain(t *testing.T) {
	ctx := as(authz.RoleAdmin, "ada")
	d := dbtest.Open(t, filepath.Join(t.TempDir(), "ward.db"))
	populate(t, d, dbtest.Keyring(t, d, start))
	for _, q := range []string{"DROP TRIGGER audit_log_no_update", "UPDATE audit_log SET actor = 'mallory' WHERE seq = 5"} {
		if _, err := d.W.ExecContext(ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	k := testKey(t)
	file := filepath.Join(t.TempDir(), "ward.wbk")
	if _, err := CreateFile(ctx, d, file, Options{Key: k, Now: start}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	target := freshTarget(t, db.SQLite)
	rep, err := Restore(ctx, f, target, RestoreOptions{Key: k})
	if err == nil || !strings.Contains(err.Error(), "broken at sequence 5") || rep.Audit.OK {
		t.Fatalf("restore of an altered trail: %v", err)
	}
	if _, statErr := os.Stat(target); statErr != nil {
		t.Fatalf("the restored data was not left for inspection: %v", statErr)
	}
}
