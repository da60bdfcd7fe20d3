// Command fixturegen makes an upgrade fixture with this version of Ward, in
// test/upgrade/testdata/VERSION: a SQLite database and a pg_dump of a
// PostgreSQL schema, each populated through the API (upgrade.Populate),
// their manifests of what must read back after an upgrade, and the test-only
// master key that seals both. The release procedure runs it on each release
// (docs/RELEASING.md):
//
//	go run ./test/upgrade/fixturegen -version v1.2.0 -postgres 'postgres://postgres@127.0.0.1:5432/test?sslmode=disable'
//
// Without -version the fixture is named after the schema version
// (schema-0018) and its manifest records the version as buildinfo reads it.
//
// The PostgreSQL fixture is made in the schema ward_upgrade_fixture, which it
// drops first; pg_dump must be on the PATH.
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/buildinfo"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/test/upgrade"
)

func main() {
	version := flag.String("version", "", "the release the fixture is made by, and the name of its directory")
	out := flag.String("out", "", "directory to write the fixture to (default test/upgrade/testdata/VERSION)")
	pg := flag.String("postgres", "", "a PostgreSQL server URL; without it only the SQLite fixture is made")
	flag.Parse()
	ms, err := db.Migrations(db.SQLite)
	if err != nil {
		fmt.Fprintln(os.Stderr, "fixturegen:", err)
		os.Exit(1)
	}
	name := *version
	if name == "" {
		name = fmt.Sprintf("schema-%04d", len(ms))
		*version = buildinfo.Read("").Version
	}
	if *out == "" {
		*out = filepath.Join("test", "upgrade", "testdata", name)
	}
	if err := run(*out, *pg, *version); err != nil {
		fmt.Fprintln(os.Stderr, "fixturegen:", err)
		os.Exit(1)
	}
}

func run(out, pg, version string) error {
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	key, err := masterKey(filepath.Join(out, upgrade.MasterKeyFile))
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "fixturegen")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	s := upgrade.Storage{Data: filepath.Join(tmp, "sqlite"), Key: key}
	if err := populate(s, "sqlite", out, version); err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	// VACUUM INTO writes one compact file with the WAL folded in.
	dst := filepath.Join(tmp, "fixture.db")
	ctx := context.Background()
	sdb, err := db.Open(ctx, filepath.Join(s.Data, "ward.db"))
	if err != nil {
		return err
	}
	defer sdb.Close()
	if _, err := sdb.W.ExecContext(ctx, "VACUUM INTO $1", dst); err != nil {
		return fmt.Errorf("sqlite: vacuum into %s: %w", dst, err)
	}
	lite, err := os.ReadFile(dst)
	if err != nil {
		return err
	}
	if err := upgrade.WriteGzip(filepath.Join(out, upgrade.SQLiteFile), lite); err != nil {
		return err
	}
	if pg == "" {
		fmt.Println("no -postgres URL: the PostgreSQL fixture was left as it was")
		return nil
	}

	admin, err := db.Open(ctx, pg)
	if err != nil {
		return err
	}
	defer admin.Close()
	for _, q := range []string{"DROP SCHEMA IF EXISTS " + upgrade.FixtureSchema + " CASCADE", "CREATE SCHEMA " + upgrade.FixtureSchema} {
		if _, err := admin.W.ExecContext(ctx, q); err != nil {
			return fmt.Errorf("postgres: %s: %w", q, err)
		}
	}
	u, err := url.Parse(pg)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("search_path", upgrade.FixtureSchema)
	u.RawQuery = q.Encode()
	if err := populate(upgrade.Storage{Data: filepath.Join(tmp, "postgres"), DB: u.String(), Key: key}, "postgres", out, version); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	var dump, stderr bytes.Buffer
	cmd := exec.Command("pg_dump", "--dbname", pg, "--schema", upgrade.FixtureSchema, "--inserts", "--no-owner", "--no-privileges", "--no-comments")
	cmd.Stdout, cmd.Stderr = &dump, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pg_dump: %w: %s", err, stderr.String())
	}
	if err := upgrade.WriteGzip(filepath.Join(out, upgrade.PostgresFile), dump.Bytes()); err != nil {
		return err
	}
	_, err = admin.W.ExecContext(ctx, "DROP SCHEMA "+upgrade.FixtureSchema+" CASCADE")
	return err
}

// masterKey returns the fixture's master key file, made the first time.
// Every fixture is sealed under this one test-only key.
func masterKey(path string) (string, error) {
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return path, os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(b)+"\n"), 0o600)
}

// populate migrates a new database at s, makes tokens and users, populates it
// through the API and writes its manifest.
func populate(s upgrade.Storage, dialect, out, version string) error {
	if err := os.MkdirAll(s.Data, 0o700); err != nil {
		return err
	}
	if code, _, errs := s.Run("", "migrate"); code != 0 {
		return fmt.Errorf("migrate: %s", errs)
	}
	m := upgrade.Manifest{Ward: version, Dialect: dialect, Tokens: map[string]string{}}
	ms, err := db.Migrations(db.Dialect(dialect))
	if err != nil {
		return err
	}
	m.Schema = len(ms)
	for _, role := range []string{upgrade.RoleAdmin, upgrade.RolePrivacy} {
		code, tok, errs := s.Run("", "token", "create", "--name", "fixture-"+role, "--role", role)
		if code != 0 {
			return fmt.Errorf("token create: %s", errs)
		}
		m.Tokens[role] = strings.TrimSpace(tok)
	}
	for _, u := range []struct{ name, role string }{{"pat.morgan", "privacy_officer"}, {"sam.lee", "responder"}} {
		if code, _, errs := s.Run("Quartz lantern fixture "+strings.ToUpper(u.role[:3])+" 2026\n", "user", "create", "--username", u.name, "--role", u.role, "--password-stdin"); code != 0 {
			return fmt.Errorf("user create %s: %s", u.name, errs)
		}
		m.Users = append(m.Users, u.name)
	}
	clk := clock.NewFake(time.Now().UTC().Truncate(time.Second))
	srv, err := upgrade.Serve(s, clk)
	if err != nil {
		return err
	}
	reads, err := upgrade.Populate(srv, clk, m.Tokens)
	if stopErr := srv.Stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return err
	}
	m.Now = clk.Now()
	// Let the background checks (breach reminders, SLAs, heartbeats) catch
	// up with the last write, so that a server started at m.Now later
	// finds nothing left to do: with a 100ms poll each runs at least once
	// a second, so an audit trail unchanged for three seconds is settled.
	srv, err = upgrade.Serve(s, clk, "--paging-poll", "100ms")
	if err != nil {
		return err
	}
	if err := settle(s); err != nil {
		srv.Stop()
		return err
	}
	m.Reads, err = upgrade.Record(srv, m.Tokens, reads)
	if stopErr := srv.Stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return err
	}
	if m.AuditEntries, err = upgrade.AuditEntries(s); err != nil {
		return err
	}
	raw, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	fmt.Printf("%s: %s: schema %d, %d reads, %d audit entries\n", out, dialect, m.Schema, len(m.Reads), m.AuditEntries)
	return upgrade.WriteGzip(filepath.Join(out, upgrade.ManifestFile(dialect)), append(raw, '\n'))
}

// settle waits until the audit trail of s has not grown for three seconds.
func settle(s upgrade.Storage) error {
	last, still := -1, 0
	for still < 3 {
		n, err := upgrade.AuditEntries(s)
		if err != nil {
			return err
		}
		if n == last {
			still++
		} else {
			last, still = n, 0
		}
		time.Sleep(time.Second)
	}
	return nil
}
