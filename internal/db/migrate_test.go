package db_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// forEachTarget runs fn as a subtest on a fresh, unmigrated database of
// every configured dialect.
func forEachTarget(t *testing.T, fn func(t *testing.T, target dbtest.Target)) {
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) { fn(t, target) })
	}
}

func open(t *testing.T, url string) *db.DB {
	t.Helper()
	d, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func migrations(t *testing.T, d db.Dialect) []db.Migration {
	t.Helper()
	ms, err := db.Migrations(d)
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 {
		t.Fatalf("no %s migrations", d)
	}
	return ms
}

func appliedVersions(t *testing.T, d *db.DB) []int {
	t.Helper()
	rows, err := d.R.QueryContext(context.Background(), "SELECT version FROM schema_migrations ORDER BY version")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		out = append(out, v)
	}
	return out
}

func TestMigrationsMatchAcrossDialects(t *testing.T) {
	lite, pg := migrations(t, db.SQLite), migrations(t, db.Postgres)
	if len(lite) != len(pg) {
		t.Fatalf("%d SQLite migrations, %d PostgreSQL ones", len(lite), len(pg))
	}
	for i := range lite {
		if lite[i].Version != i+1 || pg[i].Version != i+1 || lite[i].Name != pg[i].Name {
			t.Errorf("migration %d: sqlite %d %s, postgres %d %s", i, lite[i].Version, lite[i].Name, pg[i].Version, pg[i].Name)
		}
		if strings.TrimSpace(lite[i].SQL) == "" || strings.TrimSpace(pg[i].SQL) == "" {
			t.Errorf("migration %s is empty", lite[i].Name)
		}
	}
}

func TestMigrate(t *testing.T) {
	forEachTarget(t, func(t *testing.T, target dbtest.Target) {
		ctx := context.Background()
		d := open(t, target.URL)
		if d.Dialect != target.Dialect {
			t.Fatalf("dialect = %s, want %s", d.Dialect, target.Dialect)
		}
		ms := migrations(t, d.Dialect)

		if v, err := d.SchemaVersion(ctx); err != nil || v != 0 {
			t.Fatalf("version of a new database = %d, %v; want 0", v, err)
		}
		err := d.CheckSchema(ctx)
		if err == nil {
			t.Fatal("CheckSchema passed on an empty database")
		}
		if errors.Is(err, db.ErrSchemaTooNew) {
			t.Errorf("CheckSchema on an empty database = %v, want a too-old error", err)
		}

		n, err := d.Migrate(ctx, time.Now)
		if err != nil {
			t.Fatalf("migrate: %v", err)
		}
		if n != len(ms) {
			t.Errorf("first migrate applied %d, want %d", n, len(ms))
		}
		if err := d.CheckSchema(ctx); err != nil {
			t.Errorf("CheckSchema after migrate: %v", err)
		}
		if v, err := d.SchemaVersion(ctx); err != nil || v != len(ms) {
			t.Errorf("version = %d, %v; want %d", v, err, len(ms))
		}

		n, err = d.Migrate(ctx, time.Now)
		if err != nil || n != 0 {
			t.Errorf("second migrate = %d, %v; want 0 applied", n, err)
		}
		want := make([]int, len(ms))
		for i := range want {
			want[i] = i + 1
		}
		if got := appliedVersions(t, d); !slices.Equal(got, want) {
			t.Errorf("schema_migrations = %v, want %v", got, want)
		}

		// The schema is usable: the audit head starts at genesis.
		var seq int64
		var hash string
		if err := d.R.QueryRowContext(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&seq, &hash); err != nil {
			t.Fatal(err)
		}
		if seq != 0 || hash != strings.Repeat("0", 64) {
			t.Errorf("audit head = %d %s", seq, hash)
		}
	})
}

func TestSchemaTooNew(t *testing.T) {
	forEachTarget(t, func(t *testing.T, target dbtest.Target) {
		ctx := context.Background()
		d := open(t, target.URL)
		if _, err := d.Migrate(ctx, time.Now); err != nil {
			t.Fatal(err)
		}
		before := appliedVersions(t, d)
		if _, err := d.W.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
			999, "0999_future.sql", time.Now().UTC()); err != nil {
			t.Fatal(err)
		}
		n, err := d.Migrate(ctx, time.Now)
		if !errors.Is(err, db.ErrSchemaTooNew) {
			t.Errorf("migrate on a newer schema = %v, want ErrSchemaTooNew", err)
		}
		if n != 0 {
			t.Errorf("migrate on a newer schema applied %d", n)
		}
		if err := d.CheckSchema(ctx); !errors.Is(err, db.ErrSchemaTooNew) {
			t.Errorf("CheckSchema on a newer schema = %v, want ErrSchemaTooNew", err)
		}
		if got := appliedVersions(t, d); len(got) != len(before)+1 {
			t.Errorf("schema_migrations = %v, want %v plus 999", got, before)
		}
		// A second Ward process sees the same.
		other := open(t, target.URL)
		if err := other.CheckSchema(ctx); !errors.Is(err, db.ErrSchemaTooNew) {
			t.Errorf("CheckSchema from another connection = %v, want ErrSchemaTooNew", err)
		}
	})
}

// TestConcurrentMigrate migrates one fresh database from two processes at
// once (two separate pools): both succeed and every migration is applied
// exactly once.
func TestConcurrentMigrate(t *testing.T) {
	forEachTarget(t, func(t *testing.T, target dbtest.Target) {
		ctx := context.Background()
		a, b := open(t, target.URL), open(t, target.URL)
		ms := migrations(t, a.Dialect)
		var wg sync.WaitGroup
		var applied [2]int
		var errs [2]error
		for i, d := range []*db.DB{a, b} {
			wg.Go(func() { applied[i], errs[i] = d.Migrate(ctx, time.Now) })
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("migrate %d: %v", i, err)
			}
		}
		if applied[0]+applied[1] != len(ms) {
			t.Errorf("the two migrations report %d and %d applied, want %d in all", applied[0], applied[1], len(ms))
		}
		for _, d := range []*db.DB{a, b} {
			if err := d.CheckSchema(ctx); err != nil {
				t.Errorf("CheckSchema: %v", err)
			}
		}
		if got := appliedVersions(t, a); len(got) != len(ms) {
			t.Errorf("schema_migrations = %v, want each of %d versions once", got, len(ms))
		}
		var heads int
		if err := a.R.QueryRowContext(ctx, "SELECT count(*) FROM audit_head").Scan(&heads); err != nil || heads != 1 {
			t.Errorf("audit_head has %d rows (%v), want 1", heads, err)
		}
	})
}
