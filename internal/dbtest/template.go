package dbtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/db"
)

// A test's SQLite database starts as a copy of one migrated once per set
// of migrations, not with every migration run again: under -race, which
// CI uses, the SQLite driver took about 4 s of CPU to run them all, more
// than most tests' own work (docs/TESTING.md).

// migrationsDigest names a set of migrations: the template is kept under
// it, so that a tree with other migrations (another branch) never copies
// a template made by this one.
func migrationsDigest(t testing.TB) string {
	t.Helper()
	ms, err := db.Migrations(db.SQLite)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	for _, m := range ms {
		fmt.Fprintf(h, "%d %s %d\n%s", m.Version, m.Name, len(m.SQL), m.SQL)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

var sqliteTemplate struct {
	sync.Mutex
	path string
}

// CopyMigratedSQLite writes a SQLite database at this Ward's schema to
// dst, which must not exist: a copy of the template that lives in the
// system's temporary folder under its migrations' digest, made once and
// shared by the test processes.
func CopyMigratedSQLite(t testing.TB, dst string) {
	t.Helper()
	sqliteTemplate.Lock()
	defer sqliteTemplate.Unlock()
	if sqliteTemplate.path == "" {
		path := filepath.Join(os.TempDir(), "ward-dbtest-"+migrationsDigest(t)+".db")
		if _, err := os.Stat(path); err != nil {
			buildSQLiteTemplate(t, path)
		}
		sqliteTemplate.path = path
	}
	if err := copyFile(sqliteTemplate.path, dst); err != nil {
		t.Fatalf("copy the migrated SQLite template: %v", err)
	}
}

// buildSQLiteTemplate migrates a database in a folder of its own and
// writes it whole (VACUUM INTO, with nothing left in a write-ahead log)
// to a temporary name, then renames it to path: another process making
// the same template at once renames an equal file over it.
func buildSQLiteTemplate(t testing.TB, path string) {
	t.Helper()
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "ward-dbtest-build-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	d, err := db.Open(ctx, filepath.Join(dir, "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Migrate(ctx, time.Now); err != nil {
		t.Fatalf("migrate the SQLite template: %v", err)
	}
	whole := filepath.Join(dir, "whole.db")
	if _, err := d.W.ExecContext(ctx, "VACUUM INTO ?", whole); err != nil {
		t.Fatalf("write the SQLite template: %v", err)
	}
	if err := os.Rename(whole, path); err != nil {
		t.Fatalf("keep the SQLite template: %v", err)
	}
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
