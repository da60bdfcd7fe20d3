package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/db"
)

// sqlitePart is the name of a SQLite backup's one part: the database.
const sqlitePart = "ward.db"

// Options are what Create needs besides the database.
type Options struct {
	Key         Key
	WardVersion string
	Now         time.Time
}

// Create writes a backup of d to w: a consistent snapshot taken while
// Ward keeps running (SQLite: VACUUM INTO a file beside the database;
// PostgreSQL: every Ward table copied inside one REPEATABLE READ, READ
// ONLY transaction), sealed under opts.Key. It returns the manifest.
func Create(ctx context.Context, d *db.DB, w io.Writer, opts Options) (Manifest, error) {
	s, err := newSealer(w, opts.Key)
	if err != nil {
		return Manifest{}, err
	}
	a := newArchiveWriter(s)
	m := Manifest{Format: FormatVersion, BackupID: uuid.NewString(), WardVersion: opts.WardVersion,
		CreatedAt: opts.Now.UTC(), Dialect: d.Dialect, Tables: map[string]int64{}}
	if d.Dialect == db.Postgres {
		// Entries committed and not yet chained are copied too (the
		// audit_pending table) and chained on restore; chaining them first
		// puts them under the manifest's head.
		if err := audit.Flush(ctx, d); err != nil {
			return Manifest{}, fmt.Errorf("backup: %w", err)
		}
		err = snapshotPostgres(ctx, d, a, &m)
	} else {
		err = snapshotSQLite(ctx, d, a, &m)
	}
	if err != nil {
		return Manifest{}, err
	}
	body, err := m.encode()
	if err != nil {
		return Manifest{}, err
	}
	pw, err := a.begin(manifestName)
	if err != nil {
		return Manifest{}, err
	}
	if _, err := pw.Write(body); err != nil {
		return Manifest{}, err
	}
	if _, _, _, err := pw.finish(); err != nil {
		return Manifest{}, err
	}
	if err := a.close(); err != nil {
		return Manifest{}, err
	}
	return m, s.Close()
}

// CreateFile writes a backup to path, which must not exist: first to a
// temporary file beside it, synced to disk, then renamed, so that path
// holds a whole backup or nothing.
func CreateFile(ctx context.Context, d *db.DB, path string, opts Options) (Manifest, error) {
	if _, err := os.Lstat(path); err == nil {
		return Manifest{}, fmt.Errorf("out: %s already exists; choose a new file name", path)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.partial")
	if err != nil {
		return Manifest{}, fmt.Errorf("out: %w", err)
	}
	tmp := f.Name()
	m, err := Create(ctx, d, f, opts)
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return Manifest{}, err
	}
	return m, nil
}

// sqliteFile is the path of d's SQLite database file.
func sqliteFile(ctx context.Context, d *db.DB) (string, error) {
	var seq int
	var name, file string
	if err := d.R.QueryRowContext(ctx, "PRAGMA database_list").Scan(&seq, &name, &file); err != nil {
		return "", fmt.Errorf("backup: find the database file: %w", err)
	}
	return file, nil
}

// snapshotSQLite copies the database with VACUUM INTO, which reads it in
// one read transaction while writers go on (WAL), into a file beside it,
// then streams that file into the archive and removes it.
func snapshotSQLite(ctx context.Context, d *db.DB, a *archiveWriter, m *Manifest) error {
	file, err := sqliteFile(ctx, d)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".ward-backup-*.db")
	if err != nil {
		return fmt.Errorf("backup: snapshot file: %w", err)
	}
	snap := tmp.Name()
	tmp.Close()
	defer os.Remove(snap)
	// The readers are query_only and VACUUM INTO writes a file, so it
	// runs on a connection of its own.
	src, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	_, err = src.ExecContext(ctx, "VACUUM INTO $1", snap)
	err = errors.Join(err, src.Close())
	if err != nil {
		return fmt.Errorf("backup: snapshot the database: %w", err)
	}
	if err := describeSQLite(ctx, snap, m); err != nil {
		return err
	}
	f, err := os.Open(snap)
	if err != nil {
		return err
	}
	defer f.Close()
	pw, err := a.begin(sqlitePart)
	if err != nil {
		return err
	}
	if _, err := io.Copy(pw, f); err != nil {
		return fmt.Errorf("backup: write the snapshot: %w", err)
	}
	sum, size, _, err := pw.finish()
	if err != nil {
		return err
	}
	m.Parts = append(m.Parts, Part{Name: sqlitePart, SHA256: sum, Bytes: size})
	return nil
}

// describeSQLite fills in m's schema version, audit head and row counts
// from the SQLite file at path.
func describeSQLite(ctx context.Context, path string, m *Manifest) error {
	s, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer s.Close()
	return describe(ctx, s, m)
}

// describe fills in m's schema version, audit head and row counts from a
// SQLite database.
func describe(ctx context.Context, q db.Querier, m *Manifest) error {
	if err := q.QueryRowContext(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&m.SchemaVersion); err != nil {
		return fmt.Errorf("backup: read the schema version: %w", err)
	}
	var err error
	if m.AuditHead, err = readHead(func(query string) scanner { return q.QueryRowContext(ctx, query) }); err != nil {
		return err
	}
	rows, err := q.QueryContext(ctx, "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
	tables, err := db.Collect(rows, err, "backup: list tables", func(r *sql.Rows) (string, error) {
		var s string
		return s, r.Scan(&s)
	})
	if err != nil {
		return err
	}
	m.Tables, err = countRows(ctx, q, tables)
	return err
}

// countRows counts the rows of each table.
func countRows(ctx context.Context, q db.Querier, tables []string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, t := range tables {
		var n int64
		if err := q.QueryRowContext(ctx, "SELECT count(*) FROM "+quote(t)).Scan(&n); err != nil {
			return nil, fmt.Errorf("backup: count %s: %w", t, err)
		}
		out[t] = n
	}
	return out, nil
}

// quote quotes an identifier for either database.
func quote(name string) string { return `"` + strings.ReplaceAll(name, `"`, `""`) + `"` }

// pgTable is one table to copy, with its columns in order.
type pgTable struct {
	name    string
	columns []string
}

// snapshotPostgres copies every Ward table with COPY … TO STDOUT inside
// one REPEATABLE READ, READ ONLY transaction: the tables, the audit head
// and the counts all come from one snapshot, while Ward keeps writing.
// schema_migrations is left out: restore recreates it by migrating.
func snapshotPostgres(ctx context.Context, d *db.DB, a *archiveWriter, m *Manifest) error {
	conn, err := d.Pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer conn.Release()
	tx, err := conn.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return fmt.Errorf("backup: begin: %w", err)
	}
	// Read only: ending it undoes nothing.
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	q := pgxQuerier{tx}
	if err := q.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&m.SchemaVersion); err != nil {
		return fmt.Errorf("backup: read the schema version: %w", err)
	}
	if m.AuditHead, err = readHead(func(query string) scanner { return q.QueryRow(ctx, query) }); err != nil {
		return err
	}
	tables, err := pgTables(ctx, q)
	if err != nil {
		return err
	}
	for _, t := range tables {
		name := "tables/" + t.name + ".copy"
		pw, err := a.begin(name)
		if err != nil {
			return err
		}
		quoted := make([]string, len(t.columns))
		for i, c := range t.columns {
			quoted[i] = quote(c)
		}
		tag, err := conn.Conn().PgConn().CopyTo(ctx, pw,
			"COPY "+quote(t.name)+" ("+strings.Join(quoted, ", ")+") TO STDOUT")
		if err != nil {
			return fmt.Errorf("backup: copy %s: %w", t.name, err)
		}
		sum, size, lines, err := pw.finish()
		if err != nil {
			return err
		}
		if lines != tag.RowsAffected() {
			return fmt.Errorf("backup: copy %s: %d rows but %d lines", t.name, tag.RowsAffected(), lines)
		}
		m.Tables[t.name] = lines
		m.Parts = append(m.Parts, Part{Name: name, SHA256: sum, Bytes: size, Table: t.name, Columns: t.columns, Rows: lines})
	}
	return nil
}

// pgxQuerier runs queries in a pgx transaction.
type pgxQuerier struct{ tx pgx.Tx }

func (q pgxQuerier) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return q.tx.QueryRow(ctx, sql, args...)
}

func (q pgxQuerier) strings(ctx context.Context, sql string, args ...any) ([]string, error) {
	rows, err := q.tx.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// pgTables lists the Ward tables of the current schema, each before the
// tables whose foreign keys refer to it, so that a restore can load them
// in this order. incident_open_counts, notice_counts,
// notice_individual_counts and notice_returned_counts are left out: the
// triggers of migrations 0051, 0065 and 0069 rebuild them, exactly, as a
// restore loads the incidents and notices, so copying them too would count
// every open incident and every notice twice.
func pgTables(ctx context.Context, q pgxQuerier) ([]pgTable, error) {
	names, err := q.strings(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'
		AND table_name NOT IN ('schema_migrations', 'incident_open_counts', 'notice_counts', 'notice_individual_counts',
		'notice_returned_counts') ORDER BY table_name`)
	if err != nil {
		return nil, fmt.Errorf("backup: list tables: %w", err)
	}
	rows, err := q.tx.Query(ctx, `SELECT a.relname, b.relname FROM pg_constraint c
		JOIN pg_class a ON a.oid = c.conrelid JOIN pg_class b ON b.oid = c.confrelid
		JOIN pg_namespace n ON n.oid = a.relnamespace
		WHERE c.contype = 'f' AND n.nspname = current_schema()`)
	if err != nil {
		return nil, fmt.Errorf("backup: list foreign keys: %w", err)
	}
	deps := map[string][]string{}
	for rows.Next() {
		var from, to string
		if err := rows.Scan(&from, &to); err != nil {
			rows.Close()
			return nil, err
		}
		if from != to {
			deps[from] = append(deps[from], to)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("backup: list foreign keys: %w", err)
	}
	order, err := dependencyOrder(names, deps)
	if err != nil {
		return nil, err
	}
	out := make([]pgTable, 0, len(order))
	for _, t := range order {
		cols, err := q.strings(ctx, `SELECT column_name FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, t)
		if err != nil {
			return nil, fmt.Errorf("backup: list columns of %s: %w", t, err)
		}
		out = append(out, pgTable{name: t, columns: cols})
	}
	return out, nil
}

// dependencyOrder sorts names so that each comes after the tables it
// depends on (deps), alphabetically among equals.
func dependencyOrder(names []string, deps map[string][]string) ([]string, error) {
	known := map[string]bool{}
	for _, n := range names {
		known[n] = true
	}
	done := map[string]bool{}
	var out []string
	for len(out) < len(names) {
		var ready []string
		for _, n := range names {
			if done[n] {
				continue
			}
			ok := true
			for _, dep := range deps[n] {
				if known[dep] && !done[dep] {
					ok = false
				}
			}
			if ok {
				ready = append(ready, n)
			}
		}
		if len(ready) == 0 {
			return nil, errors.New("backup: the tables' foreign keys form a cycle")
		}
		sort.Strings(ready)
		for _, n := range ready {
			done[n] = true
		}
		out = append(out, ready...)
	}
	return out, nil
}
