package backup

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/testwait"
	"github.com/wardhq/ward/internal/user"
)

var start = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// canary is fake PHI: finding it in clear anywhere in a backup is a leak.
const canary = "Philomena Thistlewaite"

func as(role authz.Role, name string) context.Context {
	return authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: "u-" + name, Name: name, Role: role})
}

func testKey(t testing.TB) Key {
	t.Helper()
	path := filepath.Join(t.TempDir(), "backup.key")
	if err := NewKeyFile(path); err != nil {
		t.Fatal(err)
	}
	k, err := KeyFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func migrateAll(ctx context.Context, d *db.DB) error {
	_, err := d.Migrate(ctx, time.Now)
	return err
}

// dataset is what populate made.
type dataset struct {
	incs     *incident.Service
	cases    *breach.Service
	first    incident.Incident
	caseRef  string
	people   int
	incCount int
}

// populate makes a small, realistic data set: users, incidents with
// sealed descriptions, a breach case with affected individuals.
func populate(t *testing.T, d *db.DB, kr *keys.Keyring) dataset {
	t.Helper()
	clk := clock.NewFake(start)
	admin := as(authz.RoleAdmin, "ada")
	users := user.NewService(d, clk, user.Options{Argon2: user.Argon2Params{Time: 1, MemoryKiB: 64, Threads: 1, KeyLen: 32}})
	for _, u := range []user.NewUser{
		{Username: "sam", DisplayName: "Sam Officer", Email: "sam@example.org", Password: "correct horse battery staple", Role: authz.RoleSecurityOfficer},
		{Username: "pia", DisplayName: "Pia Privacy", Email: "pia@example.org", Password: "correct horse battery staple", Role: authz.RolePrivacyOfficer},
	} {
		if _, err := users.Create(admin, u); err != nil {
			t.Fatal(err)
		}
	}
	incs := incident.NewService(d, clk, kr)
	cases, err := breach.New(d, clk, incs, kr, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	sec := as(authz.RoleSecurityOfficer, "sam")
	ds := dataset{incs: incs, cases: cases}
	for i := range 12 {
		inc, err := incs.Create(sec, incident.CreateInput{Title: fmt.Sprintf("Laptop lost %d", i),
			Description: fmt.Sprintf("Laptop of %s with chart %d", canary, i), Severity: incident.Sev2, PHISuspected: i%3 == 0})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			ds.first = inc
		}
	}
	ds.incCount = 12
	if _, err := cases.Open(sec, ds.first.Number); err != nil {
		t.Fatal(err)
	}
	ds.caseRef = ds.first.Number
	var csv strings.Builder
	csv.WriteString("Full Name,Address1,City,State,ZIP\n")
	ds.people = 40
	for i := range ds.people {
		fmt.Fprintf(&csv, "%s %d,%d Main St,Reno,NV,89501\n", canary, i, i+1)
	}
	if _, err := cases.ImportIndividuals(sec, ds.caseRef, strings.NewReader(csv.String())); err != nil {
		t.Fatal(err)
	}
	// Letters to the individuals as a run mails them, ten of them come
	// back, so that the case's kept counts (migrations 0065 and 0069)
	// hold something for the restore to rebuild.
	if _, err := d.W.ExecContext(context.Background(), `INSERT INTO notices (id, case_id, run_id, kind, channel, individual_id,
		recipient, status, batch, page, pages, attempts, error, sent_at, sent_by, receipt, returned_at, return_reason, resent_of,
		created_at, updated_at) SELECT 'n-' || b.id, b.case_id, 'run', 'individual_letter', 'mail', b.id, '',
		CASE WHEN b.id IN (SELECT id FROM breach_individuals ORDER BY id LIMIT 10) THEN 'returned' ELSE 'sent' END,
		1, 1, 1, 0, '', NULL, '', '', NULL, '', '', $1, $1 FROM breach_individuals b`, start); err != nil {
		t.Fatal(err)
	}
	return ds
}

// TestRestoreDrill is the restore drill: a populated Ward is backed up
// while incidents keep being written, the backup verifies, restores into
// a fresh database, its audit chain verifies against the manifest's
// head, its counts match, its sealed values open with the master key (and
// not without it), and no PHI is in clear inside the archive.
func TestRestoreDrill(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		kr := dbtest.Keyring(t, d, start)
		ds := populate(t, d, kr)
		key := testKey(t)

		// Writes continue during the backup.
		stop := make(chan struct{})
		var written atomic.Int64
		var wg sync.WaitGroup
		var writeErr error
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := ds.incs.Create(as(authz.RoleResponder, "rae"), incident.CreateInput{Title: "Phishing reported",
					Description: "Mailbox of " + canary, Severity: incident.Sev3}); err != nil {
					writeErr = err
					return
				}
				written.Add(1)
			}
		})
		waitFor(t, func() bool { return written.Load() >= 3 })
		before := written.Load()
		file := filepath.Join(t.TempDir(), "ward.wbk")
		m, err := CreateFile(ctx, d, file, Options{Key: key, WardVersion: "test", Now: start})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return written.Load() >= before+3 })
		close(stop)
		wg.Wait()
		if writeErr != nil {
			t.Fatal(writeErr)
		}

		got := m.Tables["incidents"]
		if got < int64(ds.incCount)+before || got > int64(ds.incCount)+written.Load() {
			t.Fatalf("the snapshot holds %d incidents; %d existed before it began and %d after it ended",
				got, int64(ds.incCount)+before, int64(ds.incCount)+written.Load())
		}
		if m.Tables["breach_individuals"] != int64(ds.people) || m.AuditHead.Seq == 0 || m.Dialect != d.Dialect {
			t.Fatalf("manifest: %+v", m)
		}
		vm, err := verifyFile(file, key)
		if err != nil {
			t.Fatal(err)
		}
		if vm.BackupID != m.BackupID || vm.AuditHead != m.AuditHead {
			t.Fatalf("verify read %+v, create wrote %+v", vm, m)
		}
		assertNoClearPHI(t, file, key)

		target := freshTarget(t, d.Dialect)
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		rep, err := Restore(as(authz.RoleAdmin, "ada"), f, target, RestoreOptions{Key: key, Migrate: migrateAll})
		if err != nil {
			t.Fatal(err)
		}
		if !rep.Audit.OK || rep.Audit.Entries != m.AuditHead.Seq || rep.Audit.Head != m.AuditHead.Hash {
			t.Fatalf("audit after restore: %+v, manifest head %+v", rep.Audit, m.AuditHead)
		}

		r, err := db.Open(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if err := migrateAll(ctx, r); err != nil {
			t.Fatal(err)
		}
		var n int64
		if err := r.R.QueryRowContext(ctx, "SELECT count(*) FROM incidents").Scan(&n); err != nil || n != got {
			t.Fatalf("restored incidents: %d, %v; want %d", n, err, got)
		}
		// The home page's kept counts of open incidents (migration 0051)
		// match the restored incidents, not twice them.
		var kept, open int64
		if err := r.R.QueryRowContext(ctx, `SELECT (SELECT coalesce(sum(n), 0) FROM incident_open_counts),
			(SELECT count(*) FROM incidents WHERE status <> 'closed' AND NOT restricted)`).Scan(&kept, &open); err != nil ||
			kept != open || open == 0 {
			t.Fatalf("restored open counts: %d kept for %d open incidents, %v", kept, open, err)
		}
		// So do a case's kept counts of notices, of each individual's
		// returned and sent notices, and of individuals returned and
		// not sent since (migrations 0065 and 0069).
		var keptNotices, notices, keptReturned, keptSent, keptIndividuals, returned, sent int64
		if err := r.R.QueryRowContext(ctx, `SELECT (SELECT coalesce(sum(n), 0) FROM notice_counts), (SELECT count(*) FROM notices),
			(SELECT coalesce(sum(returned), 0) FROM notice_individual_counts), (SELECT coalesce(sum(sent), 0) FROM notice_individual_counts),
			(SELECT coalesce(sum(n), 0) FROM notice_returned_counts), (SELECT count(*) FROM notices WHERE status = 'returned'),
			(SELECT count(*) FROM notices WHERE status = 'sent')`).
			Scan(&keptNotices, &notices, &keptReturned, &keptSent, &keptIndividuals, &returned, &sent); err != nil ||
			keptNotices != notices || keptReturned != returned || keptSent != sent || keptIndividuals != returned || returned == 0 {
			t.Fatalf("restored notice counts: %d kept for %d notices, %d and %d kept for %d returned and %d sent, %d individuals kept "+
				"as returned and not sent since, %v", keptNotices, notices, keptReturned, keptSent, returned, sent, keptIndividuals, err)
		}
		var last string
		if err := r.R.QueryRowContext(ctx, "SELECT action FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&last); err != nil || last != "backup.restore" {
			t.Fatalf("the restore's own audit entry: %q, %v", last, err)
		}
		// The restored keyset opens with the same master key only.
		wrong, err := keys.LocalMasterKey(bytes.Repeat([]byte{7}, keys.MasterKeySize))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := keys.Load(ctx, r, wrong, start); !errors.Is(err, keys.ErrWrongMasterKey) {
			t.Fatalf("another master key opened the restored keyset: %v", err)
		}
		rkr := dbtest.Keyring(t, r, start)
		rincs := incident.NewService(r, clock.NewFake(start), rkr)
		inc, err := rincs.Get(as(authz.RoleSecurityOfficer, "sam"), ds.first.Number)
		if err != nil {
			t.Fatal(err)
		}
		if inc.Description != ds.first.Description || inc.Title != ds.first.Title {
			t.Fatalf("restored incident reads %q / %q", inc.Title, inc.Description)
		}
		// A new incident takes a number after every restored one (on
		// PostgreSQL the sequence that numbers them is not a table and is
		// moved on by the restore).
		var maxNumber string
		if err := r.R.QueryRowContext(ctx, "SELECT max(number) FROM incidents").Scan(&maxNumber); err != nil {
			t.Fatal(err)
		}
		next, err := rincs.Create(as(authz.RoleSecurityOfficer, "sam"), incident.CreateInput{Title: "After the restore"})
		if err != nil {
			t.Fatalf("create after the restore: %v", err)
		}
		if next.Number <= maxNumber {
			t.Fatalf("the first incident after the restore is %s; the restored ones reach %s", next.Number, maxNumber)
		}
		rcases, err := breach.New(r, clock.NewFake(start), rincs, rkr, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		people, _, err := rcases.Individuals(as(authz.RolePrivacyOfficer, "pia"), ds.caseRef, "", 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(people) != ds.people || people[0].Person == nil || !strings.HasPrefix(people[0].Person.Name, canary) {
			t.Fatalf("restored individuals: %d, first %+v", len(people), people[0])
		}
	})
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	testwait.Until(t, "the condition", 30*time.Second, cond)
}

func verifyFile(path string, k Key) (Manifest, error) {
	f, err := os.Open(path)
	if err != nil {
		return Manifest{}, err
	}
	defer f.Close()
	return Verify(f, k)
}

// assertNoClearPHI decrypts the backup and looks for the canary in every
// part: sealed columns stay sealed inside a backup.
func assertNoClearPHI(t *testing.T, path string, k Key) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(canary)) {
		t.Fatal("the canary is in clear in the backup file")
	}
	if _, err := walk(f, k, func(name string, part io.Reader) error {
		b, err := io.ReadAll(part)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(canary)) || bytes.Contains(b, []byte("Philomena")) {
			return fmt.Errorf("part %s holds the canary in clear", name)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// freshTarget is an empty database of the dialect.
func freshTarget(t *testing.T, dialect db.Dialect) string {
	t.Helper()
	if dialect == db.Postgres {
		return dbtest.PostgresURL(t)
	}
	dir := filepath.Join(t.TempDir(), "restored")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "ward.db")
}
