// Package dbtest runs a store test on every configured database: SQLite
// always, and PostgreSQL when WARD_TEST_POSTGRES_URL is set, each test in a
// schema of its own that is dropped afterwards.
package dbtest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
)

// PostgresURLEnv names the variable that enables PostgreSQL tests.
const PostgresURLEnv = "WARD_TEST_POSTGRES_URL"

// RequirePostgresEnv, when "1", makes a missing PostgreSQL URL a failure
// instead of a SQLite-only run; CI sets it.
const RequirePostgresEnv = "WARD_TEST_REQUIRE_POSTGRES"

// Target is one database a test can run on: a URL that db.Open accepts.
type Target struct {
	Dialect db.Dialect
	URL     string
}

// Targets returns a fresh, empty database per configured dialect. Each is
// removed when t ends.
func Targets(t testing.TB) []Target {
	t.Helper()
	out := []Target{{Dialect: db.SQLite, URL: filepath.Join(t.TempDir(), "ward.db")}}
	if u := PostgresURL(t); u != "" {
		out = append(out, Target{Dialect: db.Postgres, URL: u})
	}
	return out
}

// PostgresURL returns the URL of a new empty schema on the test PostgreSQL
// server, dropped when t ends; "" when no server is configured.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresURLEnv)
	if base == "" {
		if os.Getenv(RequirePostgresEnv) == "1" {
			t.Fatalf("%s is not set but %s=1", PostgresURLEnv, RequirePostgresEnv)
		}
		return ""
	}
	ctx := context.Background()
	admin, err := db.Open(ctx, base)
	if err != nil {
		t.Fatalf("connect to test postgres: %v", err)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "wardtest_" + hex.EncodeToString(b)
	if _, err := admin.W.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := admin.W.ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresURLEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// ForEachDialect runs fn as a subtest on a migrated database of every
// configured dialect.
func ForEachDialect(t *testing.T, fn func(t *testing.T, d *db.DB)) {
	t.Helper()
	for _, target := range Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			fn(t, Open(t, target.URL))
		})
	}
}

// Open opens and migrates the database at url, closing it when t ends. A
// SQLite database that does not exist yet starts as a copy of the
// migrated template (CopyMigratedSQLite).
func Open(t testing.TB, url string) *db.DB {
	t.Helper()
	ctx := context.Background()
	if !db.IsPostgres(url) {
		path := strings.TrimPrefix(url, "sqlite://")
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			CopyMigratedSQLite(t, path)
		}
	}
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { d.Close() })
	if _, err := d.Migrate(ctx, time.Now); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	return d
}

// Keyring loads the keyring of d (making one the first time) under a
// fixed test master key, for tests of services that seal columns.
func Keyring(t testing.TB, d *db.DB, now time.Time) *keys.Keyring {
	t.Helper()
	master, err := keys.LocalMasterKey(bytes.Repeat([]byte{9}, keys.MasterKeySize))
	if err != nil {
		t.Fatal(err)
	}
	kr, err := keys.Load(context.Background(), d, master, now)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}
