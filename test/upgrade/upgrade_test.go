package upgrade_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/test/upgrade"
)

// dropped are the fields of API answers that a Ward since the fixtures was
// made removed on purpose, with the reason: an upgrade may lose them only
// where they held nothing (upgrade.Check).
var dropped = map[string]string{
	// Commit 301fcf8: the dates dependent State deadlines count from are
	// the met obligations' (breach_obligations.met_at), no longer facts
	// typed in. A case whose facts carried these dates keeps them in its
	// stored facts, but they no longer count.
	".facts.individual_notice_at": "breach facts: notice dates come from met obligations",
	".facts.hhs_notice_at":        "breach facts: notice dates come from met obligations",
}

// removedTables are the tables a Ward since the fixtures were made removed
// on purpose, with the reason: an upgrade must drop them, rows and all.
var removedTables = map[string]string{
	// Migration 0048 (issue #11): River's tables go with River; the
	// periodic tasks run on Ward's leased loops (package jobs).
	"river_client": "River removed", "river_client_queue": "River removed", "river_job": "River removed",
	"river_leader": "River removed", "river_migration": "River removed", "river_notification": "River removed",
	"river_queue": "River removed",
}

// fixture is one dialect's fixture, loaded into a database of the test's
// own, and its manifest.
type fixture struct {
	storage  upgrade.Storage
	manifest *upgrade.Manifest
}

// eachFixture runs fn on a fresh copy of every fixture under testdata (one
// directory per release that made one) in every dialect: SQLite always,
// PostgreSQL when the tests have a server (dbtest).
func eachFixture(t *testing.T, fn func(t *testing.T, f fixture)) {
	dirs, err := filepath.Glob(filepath.Join("testdata", "*", upgrade.ManifestFile("sqlite")))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("no fixtures under testdata (%v): make one with go run ./test/upgrade/fixturegen", err)
	}
	for _, m := range dirs {
		dir := filepath.Dir(m)
		t.Run(filepath.Base(dir), func(t *testing.T) { eachDialect(t, dir, fn) })
	}
}

func eachDialect(t *testing.T, testdata string, fn func(t *testing.T, f fixture)) {
	manifest := func(t *testing.T, dialect string) *upgrade.Manifest {
		t.Helper()
		m, err := upgrade.ReadManifest(filepath.Join(testdata, upgrade.ManifestFile(dialect)))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	t.Run("sqlite", func(t *testing.T) {
		data := t.TempDir()
		lite, err := upgrade.ReadGzip(filepath.Join(testdata, upgrade.SQLiteFile))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(data, "ward.db"), lite, 0o600); err != nil {
			t.Fatal(err)
		}
		fn(t, fixture{storage: upgrade.Storage{Data: data, Key: filepath.Join(testdata, upgrade.MasterKeyFile)}, manifest: manifest(t, "sqlite")})
	})
	t.Run("postgres", func(t *testing.T) {
		pg := dbtest.PostgresURL(t)
		if pg == "" {
			t.Skipf("no PostgreSQL server: set %s", dbtest.PostgresURLEnv)
		}
		u, err := url.Parse(pg)
		if err != nil {
			t.Fatal(err)
		}
		dump, err := upgrade.ReadGzip(filepath.Join(testdata, upgrade.PostgresFile))
		if err != nil {
			t.Fatal(err)
		}
		d := open(t, pg)
		if _, err := d.W.ExecContext(context.Background(), upgrade.PostgresDump(string(dump), u.Query().Get("search_path"))); err != nil {
			t.Fatalf("load the dump: %v", err)
		}
		d.Close()
		fn(t, fixture{storage: upgrade.Storage{Data: t.TempDir(), DB: pg, Key: filepath.Join(testdata, upgrade.MasterKeyFile)}, manifest: manifest(t, "postgres")})
	})
}

func open(t *testing.T, u string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// url is the database URL of f, for db.Open.
func (f fixture) url() string {
	if f.storage.DB != "" {
		return f.storage.DB
	}
	return filepath.Join(f.storage.Data, "ward.db")
}

// rowCounts returns the number of rows in every table of the database.
func rowCounts(t *testing.T, f fixture) map[string]int {
	t.Helper()
	ctx := context.Background()
	d := open(t, f.url())
	defer d.Close()
	q := "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
	if d.Dialect == db.Postgres {
		q = "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
	}
	rows, err := d.R.QueryContext(ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	rows.Close()
	counts := map[string]int{}
	for _, table := range tables {
		var n int
		if err := d.R.QueryRowContext(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		counts[table] = n
	}
	return counts
}

func schemaVersion(t *testing.T, f fixture) int {
	t.Helper()
	d := open(t, f.url())
	defer d.Close()
	v, err := d.SchemaVersion(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestUpgradeFromFixture takes the database an earlier Ward made and
// populated (testdata, made by fixturegen), migrates it with this Ward,
// and proves nothing was lost or altered: no table loses a row, the
// audit chain verifies with the same length, the users are there, and
// every API read recorded when the fixture was made (incidents, alerts,
// notes, tasks, timelines, the breach case with its determination,
// individuals, notices and HHS filing, each notice file's bytes) answers
// the same, sealed values decrypted under the fixture's master key.
func TestUpgradeFromFixture(t *testing.T) {
	eachFixture(t, func(t *testing.T, f fixture) {
		m := f.manifest
		if got := schemaVersion(t, f); got != m.Schema {
			t.Fatalf("the fixture is at schema %d, its manifest says %d", got, m.Schema)
		}
		ms, err := db.Migrations(db.Dialect(m.Dialect))
		if err != nil {
			t.Fatal(err)
		}
		before := rowCounts(t, f)

		code, out, errs := f.storage.Run("", "migrate")
		if want := fmt.Sprintf("applied %d migrations; schema is at version %d", len(ms)-m.Schema, len(ms)); code != 0 || !strings.Contains(out, want) {
			t.Fatalf("ward migrate on the fixture of Ward %s: exit %d, %q %s; want %q", m.Ward, code, out, errs, want)
		}
		// A migration may add rows (a backfill, a new default); none may go.
		after := rowCounts(t, f)
		for table, n := range before {
			if _, removed := removedTables[table]; removed {
				if _, ok := after[table]; ok {
					t.Errorf("table %s (%s) is still there after the upgrade", table, removedTables[table])
				}
				continue
			}
			if after[table] < n {
				t.Errorf("table %s had %d rows before the upgrade, %d after", table, n, after[table])
			}
		}
		if _, ok := before["river_job"]; !ok {
			t.Error("the fixture has no River tables: the test of their removal proves nothing")
		}
		if m.Dialect == string(db.Postgres) {
			d := open(t, f.url())
			var n int
			err := d.R.QueryRowContext(context.Background(), `SELECT count(*) FROM pg_type t JOIN pg_namespace s ON s.oid = t.typnamespace
				WHERE s.nspname = current_schema() AND t.typname = 'river_job_state'`).Scan(&n)
			d.Close()
			if err != nil || n != 0 {
				t.Errorf("River's type river_job_state after the upgrade: %d, %v; want none", n, err)
			}
		}

		if n, err := upgrade.AuditEntries(f.storage); err != nil || n != m.AuditEntries {
			t.Fatalf("audit verify after the upgrade: %d entries, %v; want %d intact", n, err, m.AuditEntries)
		}
		code, out, errs = f.storage.Run("", "user", "list")
		for _, u := range m.Users {
			if code != 0 || !strings.Contains(out, u) {
				t.Errorf("user list after the upgrade lacks %s: exit %d, %s %s", u, code, out, errs)
			}
		}

		// Read at the fixture's own time, so that clocks and deadlines
		// computed from "now" read as they did.
		srv, err := upgrade.Serve(f.storage, clock.NewFake(m.Now))
		if err != nil {
			t.Fatal(err)
		}
		problems := upgrade.Check(srv, m.Tokens, m.Reads, dropped)
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
		for _, p := range problems {
			t.Error(p)
		}
		if len(problems) == 0 && len(m.Reads) < 40 {
			t.Errorf("the manifest holds only %d reads", len(m.Reads))
		}
		// The reads of PHI were audited on the same chain, which still verifies.
		if n, err := upgrade.AuditEntries(f.storage); err != nil || n <= m.AuditEntries {
			t.Errorf("audit verify after the reads: %d entries, %v; want more than %d, intact", n, err, m.AuditEntries)
		}
	})
}

// TestRefusesNewerSchema gives this Ward the fixture as a newer Ward would
// leave it (a migration it does not know applied): ward migrate and ward
// serve both refuse with a message saying to upgrade Ward, and change
// nothing.
func TestRefusesNewerSchema(t *testing.T) {
	eachFixture(t, func(t *testing.T, f fixture) {
		ms, err := db.Migrations(db.Dialect(f.manifest.Dialect))
		if err != nil {
			t.Fatal(err)
		}
		if _, out, errs := f.storage.Run("", "migrate"); !strings.Contains(out, "schema is at version") {
			t.Fatalf("migrate: %s %s", out, errs)
		}
		future := len(ms) + 1
		d := open(t, f.url())
		if _, err := d.W.ExecContext(context.Background(), "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
			future, fmt.Sprintf("%04d_from_a_newer_ward.sql", future), time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
		d.Close()
		before := rowCounts(t, f)

		want := fmt.Sprintf("ward: database schema is newer than this Ward: database is at version %d, this Ward knows up to %d; upgrade Ward\n", future, len(ms))
		for _, cmd := range [][]string{{"migrate"}, {"serve", "--listen", "127.0.0.1:0"}, {"audit", "verify"}} {
			code, out, errs := f.storage.Run("", cmd...)
			if code != 1 || errs != want {
				t.Errorf("ward %s on a newer schema: exit %d, stdout %q, stderr %q; want exit 1 and %q", cmd[0], code, out, errs, want)
			}
		}
		if got := schemaVersion(t, f); got != future {
			t.Errorf("schema version after the refusals = %d, want %d", got, future)
		}
		after := rowCounts(t, f)
		for table, n := range before {
			if after[table] != n {
				t.Errorf("table %s: %d rows before the refusals, %d after", table, n, after[table])
			}
		}
	})
}
