package incident_test

import (
	"context"
	"database/sql"
	"errors"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// TestCreateDoesNotWaitForAnotherCreate: on PostgreSQL, a create whose
// transaction is still open must not hold back another create. Incident
// numbers came from a counters row that each create updated and held
// until it committed, so every create on every node queued behind the one
// before (issue #18). The second create runs under a short lock_timeout,
// so it fails at once, instead of hanging, if it waits on a lock.
func TestCreateDoesNotWaitForAnotherCreate(t *testing.T) {
	url := dbtest.PostgresURL(t)
	if url == "" {
		t.Skipf("needs PostgreSQL: set %s (CI does, and fails rather than skips)", dbtest.PostgresURLEnv)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d, err := db.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if _, err := d.Migrate(ctx, time.Now); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, d)
	e.ctx, cancel = context.WithTimeout(e.ctx, time.Minute)
	defer cancel()
	// The year's first create writes the year's base, once; the others
	// then only take numbers.
	first := e.create("Lost laptop")

	a, err := d.W.BeginTx(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Rollback() // a no-op after Commit
	incA, err := e.svc.CreateTx(e.ctx, a, incident.CreateInput{Title: "Phishing reported"})
	if err != nil {
		t.Fatalf("A: %v", err)
	}

	b, err := d.W.BeginTx(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Rollback()
	if _, err := b.ExecContext(e.ctx, "SET LOCAL lock_timeout = '300ms'"); err != nil {
		t.Fatal(err)
	}
	incB, err := e.svc.CreateTx(e.ctx, b, incident.CreateInput{Title: "Misdirected fax"})
	if err != nil {
		t.Fatalf("B, while A is open: %v (B waited on a lock A holds)", err)
	}
	if err := b.Commit(); err != nil {
		t.Fatal(err)
	}
	if err := a.Commit(); err != nil {
		t.Fatal(err)
	}
	if !(first.Number < incA.Number && incA.Number < incB.Number) {
		t.Errorf("numbers %s, %s, %s: want them increasing in the order they were taken", first.Number, incA.Number,
			incB.Number)
	}
}

// TestIncidentNumbersAfterRollback: a create that rolls back leaves no
// incident. On SQLite, with one writer, the next create takes its number
// (numbers stay gapless); on PostgreSQL its number stays unused, a gap
// (docs/ARCHITECTURE.md, "Incident numbers").
func TestIncidentNumbersAfterRollback(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		first := e.create("Lost laptop")
		if first.Number != "INC-2026-0001" {
			t.Fatalf("the year's first incident is %s, want INC-2026-0001", first.Number)
		}
		refused := errors.New("refused")
		var taken string
		err := d.Write(e.ctx, func(tx *sql.Tx) error {
			inc, err := e.svc.CreateTx(e.ctx, tx, incident.CreateInput{Title: "Phishing reported"})
			if err != nil {
				return err
			}
			taken = inc.Number
			return refused
		})
		if !errors.Is(err, refused) || taken != "INC-2026-0002" {
			t.Fatalf("the rolled-back create: %v, took %s", err, taken)
		}
		want := map[db.Dialect]string{db.SQLite: "INC-2026-0002", db.Postgres: "INC-2026-0003"}[d.Dialect]
		if next := e.create("Misdirected fax"); next.Number != want {
			t.Errorf("after a rolled-back create, the next incident is %s, want %s", next.Number, want)
		}
		var n int
		if err := d.R.QueryRowContext(e.ctx, "SELECT count(*) FROM incidents").Scan(&n); err != nil || n != 2 {
			t.Errorf("%d incidents, %v; want 2", n, err)
		}
	})
}
