package backup

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// TestBackupKeepsPendingAuditEntries: an audit entry committed and not yet
// chained when a backup is taken is not lost. On PostgreSQL the backup
// chains it first, so the manifest's head covers it; on SQLite (where only
// a writer that bypassed Ward leaves one) the backup carries it pending.
// Either way the restored trail holds it, chained before the restore's
// own entry, and verifies.
func TestBackupKeepsPendingAuditEntries(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		if _, err := d.W.ExecContext(ctx, `INSERT INTO audit_pending (at, actor, action, object_type, object_id, request_id, source_ip, digest)
			VALUES ($1, 'system:ward', 'incident.note', 'incident', 'left-pending', '', '', '00')`, start); err != nil {
			t.Fatal(err)
		}
		key := testKey(t)
		file := filepath.Join(t.TempDir(), "ward.wbk")
		m, err := CreateFile(ctx, d, file, Options{Key: key, WardVersion: "test", Now: start})
		if err != nil {
			t.Fatal(err)
		}
		wantPending := int64(1)
		if d.Dialect == db.Postgres {
			wantPending = 0
		}
		if m.Tables["audit_pending"] != wantPending || m.AuditHead.Seq != 1-wantPending {
			t.Fatalf("manifest: %d pending, head %+v", m.Tables["audit_pending"], m.AuditHead)
		}
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		target := freshTarget(t, d.Dialect)
		if _, err := Restore(as(authz.RoleAdmin, "ada"), f, target, RestoreOptions{Key: key, Migrate: migrateAll}); err != nil {
			t.Fatal(err)
		}
		r, err := db.Open(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		es, err := audit.List(ctx, r.R, audit.Filter{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) != 2 || es[0].Action != ActionRestore || es[1].ObjectID != "left-pending" {
			t.Fatalf("restored trail, newest first: %+v", es)
		}
		var pending int
		if err := r.R.QueryRowContext(ctx, "SELECT count(*) FROM audit_pending").Scan(&pending); err != nil || pending != 0 {
			t.Fatalf("%d entries pending after the restore (%v)", pending, err)
		}
		if res, err := audit.Verify(ctx, r.R); err != nil || !res.OK || res.Entries != 2 {
			t.Fatalf("verify the restored trail: %+v %v", res, err)
		}
	})
}
