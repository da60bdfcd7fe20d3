package backup

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/db"
)

// ErrTargetNotEmpty means the restore target already holds data.
var ErrTargetNotEmpty = errors.New("the restore target is not empty")

// RestoreOptions are what Restore needs besides the backup and target.
type RestoreOptions struct {
	Key Key
	// Migrate brings a new PostgreSQL database to this Ward's schema
	// (Ward's migrations and the job queue's).
	Migrate func(ctx context.Context, d *db.DB) error
	Now     func() time.Time
	// Trusted, when set, are the keys checkpoints are trusted from: the
	// restored trail is then proved against Checkpoints (the published
	// ones) or, when none are given, those the restored database holds.
	Trusted     audit.TrustedKeys
	Checkpoints []audit.PinnedCheckpoint
}

// Report is what a restore found.
type Report struct {
	Manifest Manifest
	Audit    audit.Result // the chain as verified after loading, before the restore's own entry
	// Checkpoints is the trail proved against the checkpoints (nil when
	// none were checked); Rollback the segment started because the backup
	// predates some of them (nil when it predates none).
	Checkpoints *audit.CheckpointReport
	Rollback    *audit.SegmentStart
}

// Restore restores the backup in src into the empty database at target (a
// SQLite path or a postgres:// URL of the same dialect as the backup):
// it verifies the whole backup first, loads it (SQLite: the database file,
// renamed into place only once whole; PostgreSQL: every table in one
// transaction), checks every table's row count against the manifest, and
// verifies the audit chain and that it ends at the manifest's head. Last
// it records the restore in the restored audit trail, as the actor in ctx.
//
// An error before loading leaves the target as it was. An error after
// loading (the counts or the chain do not match) leaves the restored data
// in place, for inspection.
func Restore(ctx context.Context, src io.ReadSeeker, target string, opts RestoreOptions) (Report, error) {
	m, err := Verify(src, opts.Key)
	if err != nil {
		return Report{}, fmt.Errorf("the backup fails verification: %w", err)
	}
	dialect := db.SQLite
	if db.IsPostgres(target) {
		dialect = db.Postgres
	}
	if dialect != m.Dialect {
		return Report{}, fmt.Errorf("the backup is of a %s database and the target is %s: restore into the same kind of database", m.Dialect, dialect)
	}
	ms, err := db.Migrations(dialect)
	if err != nil {
		return Report{}, err
	}
	switch {
	case m.SchemaVersion > len(ms):
		return Report{}, fmt.Errorf("the backup's schema (version %d) is newer than this Ward's (%d): restore with Ward %s or later",
			m.SchemaVersion, len(ms), m.WardVersion)
	case dialect == db.Postgres && m.SchemaVersion != len(ms):
		return Report{}, fmt.Errorf("the backup's schema is version %d and this Ward's is %d: restore with Ward %s, then upgrade",
			m.SchemaVersion, len(ms), m.WardVersion)
	}
	if _, err := src.Seek(0, io.SeekStart); err != nil {
		return Report{}, err
	}
	var d *db.DB
	if dialect == db.Postgres {
		d, err = restorePostgres(ctx, src, target, m, opts)
	} else {
		d, err = restoreSQLite(ctx, src, target, m, opts)
	}
	if err != nil {
		return Report{}, err
	}
	defer d.Close()
	rep := Report{Manifest: m}
	if err := checkRestored(ctx, d, m, &rep); err != nil {
		return rep, fmt.Errorf("the data was restored but fails its check, and is left in place for inspection: %w", err)
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	if err := checkCheckpoints(ctx, d, opts, now(), &rep); err != nil {
		return rep, fmt.Errorf("the data was restored but fails its check, and is left in place for inspection: %w", err)
	}
	// Entries the backup caught committed but not yet chained go into the
	// chain now, before the restore's own.
	if err := audit.Flush(ctx, d); err != nil {
		return rep, fmt.Errorf("the data was restored but its last audit entries could not be chained: %w", err)
	}
	err = d.Write(ctx, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, now(), audit.Event{Action: ActionRestore, ObjectType: "backup", ObjectID: m.BackupID,
			Change: map[string]any{"created_at": m.CreatedAt, "ward_version": m.WardVersion, "audit_head": m.AuditHead}})
		return err
	})
	return rep, err
}

// checkRestored compares the restored tables' row counts with the
// manifest and verifies the audit chain against its head.
func checkRestored(ctx context.Context, d *db.DB, m Manifest, rep *Report) error {
	tables := make([]string, 0, len(m.Tables))
	for t := range m.Tables {
		tables = append(tables, t)
	}
	got, err := countRows(ctx, d.R, tables)
	if err != nil {
		return err
	}
	for _, t := range tables {
		if got[t] != m.Tables[t] {
			return fmt.Errorf("table %s holds %d rows, the manifest says %d", t, got[t], m.Tables[t])
		}
	}
	res, err := audit.Verify(ctx, d.R)
	if err != nil {
		return err
	}
	rep.Audit = res
	switch {
	case !res.OK:
		return fmt.Errorf("the audit trail is broken at sequence %d: %s", res.BadSeq, res.Reason)
	case res.Entries != m.AuditHead.Seq || res.Head != m.AuditHead.Hash:
		return fmt.Errorf("the audit trail ends at sequence %d, hash %s; the manifest's head is sequence %d, hash %s",
			res.Entries, res.Head, m.AuditHead.Seq, m.AuditHead.Hash)
	}
	return nil
}

// checkCheckpoints proves the restored trail against the checkpoints
// (45 CFR 164.312(c)(1), integrity): one it reaches and does not match
// fails the restore. A backup older than some checkpoints is what
// restoring an older backup means: the entries after its end are lost,
// and a new audit segment records that rollback, numbered past the
// newest checkpoint, so that no entry written from now on reuses a
// number a published checkpoint covers.
func checkCheckpoints(ctx context.Context, d *db.DB, opts RestoreOptions, now time.Time, rep *Report) error {
	if opts.Trusted == nil {
		return nil
	}
	pinned := opts.Checkpoints
	if len(pinned) == 0 {
		var err error
		if pinned, err = audit.StoredCheckpoints(ctx, d.R); err != nil || len(pinned) == 0 {
			return err
		}
	}
	cr, err := audit.VerifyCheckpoints(ctx, d.R, pinned, opts.Trusted)
	if err != nil {
		return err
	}
	rep.Checkpoints = &cr
	if cr.OK {
		return nil
	}
	if !cr.RolledBackOnly() {
		return fmt.Errorf("the audit trail does not match the checkpoints: first divergence at entry %d: %s", cr.DivergedAt, cr.Divergence)
	}
	newest := cr.Predates[len(cr.Predates)-1]
	seg, _, err := audit.StartSegment(ctx, d, now, "restore", audit.Break{BrokenAt: cr.LastSeq + 1, ExpectedSeq: newest.Seq,
		ExpectedHash: newest.Hash, Found: fmt.Sprintf("a backup ending at entry %d was restored; %d checkpoints cover later entries, "+
			"up to entry %d, which the restore lost", cr.LastSeq, len(cr.Predates), newest.Seq)}, nil)
	if err != nil {
		return err
	}
	rep.Rollback = &seg
	return nil
}

// restoreSQLite writes the database file beside path, then renames it to
// path once it is whole and matches the manifest.
func restoreSQLite(ctx context.Context, src io.Reader, path string, m Manifest, opts RestoreOptions) (*db.DB, error) {
	path = strings.TrimPrefix(path, "sqlite://")
	for _, p := range []string{path, path + "-wal"} {
		if fi, err := os.Stat(p); err == nil && fi.Size() > 0 {
			return nil, fmt.Errorf("%w: %s exists; restore into an empty data folder (or move the file away first)", ErrTargetNotEmpty, p)
		}
	}
	tmp := path + ".restoring"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("restore: %w (a restore may be running, or an interrupted one left it: remove it)", err)
	}
	m2, err := walk(src, opts.Key, func(name string, part io.Reader) error {
		if name != sqlitePart {
			return fmt.Errorf("%w: unexpected part %s", ErrDamaged, name)
		}
		_, err := io.Copy(f, part)
		return err
	})
	if err == nil && !reflect.DeepEqual(m2.Parts, m.Parts) {
		err = fmt.Errorf("%w: the backup changed while it was restored", ErrDamaged)
	}
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return nil, fmt.Errorf("restore: %w", err)
	}
	return db.Open(ctx, path)
}

// restorePostgres migrates the empty database to this Ward's schema,
// then, in one transaction, clears what the migrations seeded and copies
// every table in.
func restorePostgres(ctx context.Context, src io.Reader, url string, m Manifest, opts RestoreOptions) (*db.DB, error) {
	d, err := db.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	if err := checkEmptyPostgres(ctx, d); err != nil {
		d.Close()
		return nil, err
	}
	if err := opts.Migrate(ctx, d); err != nil {
		d.Close()
		return nil, fmt.Errorf("restore: migrate: %w", err)
	}
	if err := loadPostgres(ctx, d, src, m, opts.Key); err != nil {
		d.Close()
		return nil, fmt.Errorf("restore: %w", err)
	}
	return d, nil
}

// checkEmptyPostgres refuses a schema that holds tables, unless they are
// Ward's own, freshly migrated, with nothing in the audit trail: every
// change is audited, so nothing was ever recorded there.
func checkEmptyPostgres(ctx context.Context, d *db.DB) error {
	var tables int
	var schema string
	if err := d.R.QueryRowContext(ctx, `SELECT current_schema(), (SELECT count(*) FROM information_schema.tables
		WHERE table_schema = current_schema())`).Scan(&schema, &tables); err != nil {
		return fmt.Errorf("restore: look at the target: %w", err)
	}
	if tables == 0 {
		return nil
	}
	var ward bool
	if err := d.R.QueryRowContext(ctx, `SELECT count(*) = 2 FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_name IN ('audit_head', 'schema_migrations')`).Scan(&ward); err != nil {
		return err
	}
	if ward {
		var seq int64
		var logged bool
		if err := d.R.QueryRowContext(ctx, "SELECT seq, EXISTS (SELECT 1 FROM audit_log) FROM audit_head WHERE id = 1").Scan(&seq, &logged); err == nil &&
			seq == 0 && !logged {
			return nil
		}
	}
	return fmt.Errorf("%w: schema %s holds %d tables with data; restore into an empty database or schema", ErrTargetNotEmpty, schema, tables)
}

// loadPostgres copies the backup's tables into d in one transaction.
func loadPostgres(ctx context.Context, d *db.DB, src io.Reader, m Manifest, k Key) error {
	conn, err := d.Pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback(context.WithoutCancel(ctx)) }()
	parts := map[string]Part{}
	for i := len(m.Parts) - 1; i >= 0; i-- {
		p := m.Parts[i]
		parts[p.Name] = p
		var seeded bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM "+quote(p.Table)+")").Scan(&seeded); err != nil {
			return fmt.Errorf("table %s: %w", p.Table, err)
		}
		if seeded {
			if _, err := tx.Exec(ctx, "DELETE FROM "+quote(p.Table)); err != nil {
				return fmt.Errorf("clear table %s: %w", p.Table, err)
			}
		}
	}
	m2, err := walk(src, k, func(name string, part io.Reader) error {
		p, ok := parts[name]
		if !ok {
			return fmt.Errorf("%w: unexpected part %s", ErrDamaged, name)
		}
		cols := make([]string, len(p.Columns))
		for i, c := range p.Columns {
			cols[i] = quote(c)
		}
		if _, err := conn.Conn().PgConn().CopyFrom(ctx, part,
			"COPY "+quote(p.Table)+" ("+strings.Join(cols, ", ")+") FROM STDIN"); err != nil {
			return fmt.Errorf("load table %s: %w", p.Table, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !reflect.DeepEqual(m2.Parts, m.Parts) {
		return fmt.Errorf("%w: the backup changed while it was restored", ErrDamaged)
	}
	if _, err := tx.Exec(ctx, resumeIncidentNumbers); err != nil {
		return fmt.Errorf("resume incident numbers: %w", err)
	}
	return tx.Commit(ctx)
}

// resumeIncidentNumbers moves the sequence that numbers incidents
// (migration 0055) past every number the restored incidents hold: a
// sequence is not a table, and COPY leaves it where the migrations of the
// empty database left it. A year's number is the sequence's value less
// the year's base (the counters row 'incident_base:<year>'), and every
// base is a value the sequence gave out.
const resumeIncidentNumbers = `SELECT setval('incident_numbers', GREATEST(1,
	(SELECT max(value) FROM counters WHERE name LIKE 'incident_base:%'),
	(SELECT max(c.value + n.last) FROM counters c
		JOIN (SELECT split_part(number, '-', 2) AS year, max(split_part(number, '-', 3)::bigint) AS last
			FROM incidents GROUP BY 1) n ON c.name = 'incident_base:' || n.year)))`
