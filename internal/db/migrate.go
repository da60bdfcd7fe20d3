package db

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrationFS embed.FS

// Migration is one forward-only schema step.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// migrationLockKey is the PostgreSQL advisory lock that serialises
// migrations when several Ward nodes start at once.
const migrationLockKey = 7_310_457_001

// LockKey is the SQL of the PostgreSQL advisory lock whose Ward key is the
// statement's first argument: the key made the schema's own, since
// advisory locks are shared by the whole database. Two Wards in different
// schemas of one database (or the tests, each in a schema of its own) then
// never wait on each other's migrations, backups or checkpoints, or skip
// theirs because the other holds the lock; the nodes of one Ward share
// their schema and so each lock.
const LockKey = "$1::bigint # hashtextextended(current_schema(), 0)"

// Migrations returns the dialect's migrations in version order.
func Migrations(d Dialect) ([]Migration, error) {
	dir := "migrations/" + string(d)
	entries, err := fs.ReadDir(migrationFS, dir)
	if err != nil {
		return nil, fmt.Errorf("read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and _", name)
		}
		body, err := fs.ReadFile(migrationFS, dir+"/"+name)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.Name, i+1)
		}
	}
	return out, nil
}

// ErrSchemaTooNew means the database was migrated by a newer Ward.
var ErrSchemaTooNew = errors.New("database schema is newer than this Ward")

// SchemaVersion returns the highest applied migration, 0 for a new database.
func (d *DB) SchemaVersion(ctx context.Context) (int, error) {
	var exists bool
	q := "SELECT count(*) > 0 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
	if d.Dialect == Postgres {
		q = "SELECT to_regclass('schema_migrations') IS NOT NULL"
	}
	if err := d.R.QueryRowContext(ctx, q).Scan(&exists); err != nil {
		return 0, fmt.Errorf("look for schema_migrations: %w", err)
	}
	if !exists {
		return 0, nil
	}
	var v sql.NullInt64
	if err := d.R.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return int(v.Int64), nil
}

// CheckSchema returns an error unless the database is at exactly the
// version this Ward knows.
func (d *DB) CheckSchema(ctx context.Context) error {
	ms, err := Migrations(d.Dialect)
	if err != nil {
		return err
	}
	v, err := d.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	switch {
	case v > len(ms):
		return fmt.Errorf("%w: database is at version %d, this Ward knows up to %d; upgrade Ward", ErrSchemaTooNew, v, len(ms))
	case v < len(ms):
		return fmt.Errorf("database schema is at version %d of %d: run `ward migrate`", v, len(ms))
	}
	return nil
}

// Migrate applies every pending migration, each in its own transaction,
// under the migration lock. It refuses a schema newer than it knows.
// It returns how many migrations it applied.
func (d *DB) Migrate(ctx context.Context, now func() time.Time) (int, error) {
	ms, err := Migrations(d.Dialect)
	if err != nil {
		return 0, err
	}
	unlock, err := d.lockMigrations(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()

	if _, err := d.W.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		applied_at TIMESTAMP NOT NULL)`); err != nil {
		return 0, fmt.Errorf("create schema_migrations: %w", err)
	}
	current, err := d.SchemaVersion(ctx)
	if err != nil {
		return 0, err
	}
	if current > len(ms) {
		return 0, fmt.Errorf("%w: database is at version %d, this Ward knows up to %d; upgrade Ward", ErrSchemaTooNew, current, len(ms))
	}
	applied := 0
	for _, m := range ms[current:] {
		ran := false
		err := d.Write(ctx, func(tx *sql.Tx) error {
			// Another SQLite process may have applied it since we looked.
			var v sql.NullInt64
			if err := tx.QueryRowContext(ctx, "SELECT max(version) FROM schema_migrations").Scan(&v); err != nil {
				return err
			}
			if int(v.Int64) >= m.Version {
				return nil
			}
			if d.Dialect == Postgres {
				// A migration may rebuild a large table or index: the
				// statement timeout (Options) is for serving, not this.
				if _, err := tx.ExecContext(ctx, "SET LOCAL statement_timeout = 0"); err != nil {
					return err
				}
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
				m.Version, m.Name, now())
			ran = err == nil
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("migration %s: %w", m.Name, err)
		}
		if ran {
			applied++
		}
	}
	return applied, nil
}

// lockMigrations takes the migration lock of the schema on PostgreSQL. On
// SQLite each migration's BEGIN IMMEDIATE already excludes other writers.
func (d *DB) lockMigrations(ctx context.Context) (func(), error) {
	if d.Dialect != Postgres {
		return func() {}, nil
	}
	conn, err := d.W.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	// Another node's migrations may take longer than the statement
	// timeout: wait for them without one, on this connection only.
	if _, err := conn.ExecContext(ctx, "SET statement_timeout = 0"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock("+LockKey+")", migrationLockKey); err != nil {
		_, _ = conn.ExecContext(context.Background(), "RESET statement_timeout")
		conn.Close()
		return nil, fmt.Errorf("migration lock: %w", err)
	}
	return func() {
		_, _ = conn.ExecContext(context.Background(), "SELECT pg_advisory_unlock("+LockKey+")", migrationLockKey)
		_, _ = conn.ExecContext(context.Background(), "RESET statement_timeout")
		conn.Close()
	}, nil
}
