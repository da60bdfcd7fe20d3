package backup

import (
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/evidence"
	"github.com/wardhq/ward/internal/incident"
)

// TestBackupHoldsEvidence: an evidence item's content (binary chunks) and
// its chain of custody survive a backup and restore on both databases,
// and download whole from the restored database.
func TestBackupHoldsEvidence(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		kr := dbtest.Keyring(t, d, start)
		incs := incident.NewService(d, clock.NewFake(start), kr)
		officer := as(authz.RoleSecurityOfficer, "sam")
		inc, err := incs.Create(officer, incident.CreateInput{Title: "Lost phone", Severity: incident.Sev3})
		if err != nil {
			t.Fatal(err)
		}
		content := make([]byte, 5<<20+7)
		if _, err := rand.Read(content); err != nil {
			t.Fatal(err)
		}
		content[0], content[1] = 0, '\\' // bytes COPY's text format escapes
		vault := evidence.New(d, clock.NewFake(start), incs, kr, evidence.Options{})
		it, err := vault.Add(officer, inc.Number, evidence.Upload{Description: "Phone image"}, bytes.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		key := testKey(t)
		file := filepath.Join(t.TempDir(), "ward.wbk")
		if _, err := CreateFile(ctx, d, file, Options{Key: key, WardVersion: "test", Now: start}); err != nil {
			t.Fatal(err)
		}
		target := freshTarget(t, d.Dialect)
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if _, err := Restore(as(authz.RoleAdmin, "ada"), f, target, RestoreOptions{Key: key, Migrate: migrateAll}); err != nil {
			t.Fatal(err)
		}
		r, err := db.Open(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		rkr := dbtest.Keyring(t, r, start)
		rincs := incident.NewService(r, clock.NewFake(start), rkr)
		restored := evidence.New(r, clock.NewFake(start), rincs, rkr, evidence.Options{})
		_, rd, err := restored.Download(officer, inc.Number, it.ID)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rd)
		if err != nil || !bytes.Equal(got, content) {
			t.Fatalf("restored content: %d bytes, %v", len(got), err)
		}
		_, custody, err := restored.Get(officer, inc.Number, it.ID)
		if err != nil || len(custody) != 2 || custody[0].Action != evidence.Collected || custody[1].Action != evidence.Accessed {
			t.Fatalf("restored custody: %+v %v", custody, err)
		}
	})
}
