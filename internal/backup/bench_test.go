package backup

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// benchScale is the share of issue #13's data set (100,000 incidents,
// 1,000,000 affected individuals) the benchmark builds: WARD_BENCH_SCALE,
// default 1.
func benchScale(b *testing.B) float64 {
	s := 1.0
	if v := os.Getenv("WARD_BENCH_SCALE"); v != "" {
		var err error
		if s, err = strconv.ParseFloat(v, 64); err != nil || s <= 0 || s > 1 {
			b.Fatalf("WARD_BENCH_SCALE=%q: not a number in (0, 1]", v)
		}
	}
	return s
}

// BenchmarkBackupRestore builds the data set on each configured database
// (incidents with sealed titles and descriptions, each with its audit
// entries, and one breach case with its affected individuals, sealed),
// then times a backup and a restore, into an empty database of the same
// kind, with its verification (hashes, counts, the whole audit chain).
// Building is not timed.
func BenchmarkBackupRestore(b *testing.B) {
	for _, tg := range dbtest.Targets(b) {
		b.Run(string(tg.Dialect), func(b *testing.B) {
			target := func(dir string) string { return filepath.Join(dir, "ward.db") }
			if tg.Dialect == db.Postgres {
				target = func(string) string { return dbtest.PostgresURL(b) }
			}
			benchBackupRestore(b, tg.URL, target)
		})
	}
}

// benchBackupRestore is BenchmarkBackupRestore on the database at url,
// restoring each backup into target(an empty folder).
func benchBackupRestore(b *testing.B, url string, target func(dir string) string) {
	scale := benchScale(b)
	nInc, nPeople := int(100_000*scale), int(1_000_000*scale)
	dir := b.TempDir()
	d := dbtest.Open(b, url)
	clk := clock.NewFake(start)
	kr := dbtest.Keyring(b, d, start)
	incs := incident.NewService(d, clk, kr)
	sec := as(authz.RoleSecurityOfficer, "sam")
	built := time.Now()
	var wg sync.WaitGroup
	const writers = 16
	errs := make([]error, writers)
	for w := range writers {
		wg.Go(func() {
			for i := w; i < nInc; i += writers {
				if _, err := incs.Create(sec, incident.CreateInput{Title: fmt.Sprintf("Laptop stolen from car %d", i),
					Description: fmt.Sprintf("Unencrypted laptop with 40 patient charts, MRN %08d, left in car", i),
					Severity:    incident.Sev2, PHISuspected: i%10 == 0}); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			b.Fatal(err)
		}
	}
	cases, err := breach.New(d, clk, incs, kr, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	inc, err := incs.Create(sec, incident.CreateInput{Title: "Mailing vendor breach", Severity: incident.Sev1})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := cases.Open(sec, inc.Number); err != nil {
		b.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() {
		var sb strings.Builder
		sb.WriteString("name,address1,city,state,zip,email\n")
		for i := range nPeople {
			fmt.Fprintf(&sb, "Person %d Example,%d Elm St,Springfield,CA,%05d,p%d@example.com\n", i, i, i%100000, i)
			if sb.Len() > 1<<20 {
				io.WriteString(pw, sb.String())
				sb.Reset()
			}
		}
		io.WriteString(pw, sb.String())
		pw.Close()
	}()
	if _, err := cases.ImportIndividuals(sec, inc.Number, pr); err != nil {
		b.Fatal(err)
	}
	b.Logf("built %d incidents and %d individuals in %s", nInc, nPeople, time.Since(built).Round(time.Second))
	key := testKey(b)
	ctx := context.Background()
	var backupTime, restoreTime time.Duration
	runs := 0
	for b.Loop() {
		runs++
		file := filepath.Join(dir, fmt.Sprintf("b%d.wbk", runs))
		t0 := time.Now()
		m, err := CreateFile(ctx, d, file, Options{Key: key, Now: start})
		if err != nil {
			b.Fatal(err)
		}
		backupTime += time.Since(t0)
		into := filepath.Join(dir, fmt.Sprintf("r%d", runs))
		if err := os.Mkdir(into, 0o700); err != nil {
			b.Fatal(err)
		}
		f, err := os.Open(file)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		rep, err := Restore(as(authz.RoleAdmin, "ada"), f, target(into), RestoreOptions{Key: key, Migrate: migrateAll})
		restoreTime += time.Since(t1)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		fi, _ := os.Stat(file)
		b.Logf("backup %.1f MiB, %d audit entries, %d incidents, %d individuals", float64(fi.Size())/(1<<20), rep.Audit.Entries,
			m.Tables["incidents"], m.Tables["breach_individuals"])
		os.Remove(file)
		os.RemoveAll(into)
	}
	b.ReportMetric(backupTime.Seconds()/float64(runs), "backup-s")
	b.ReportMetric(restoreTime.Seconds()/float64(runs), "restore+verify-s")
}
