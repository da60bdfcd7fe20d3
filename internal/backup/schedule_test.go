package backup

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

func backupFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

func auditActions(t *testing.T, d *db.DB, action string) int {
	t.Helper()
	var n int
	if err := d.R.QueryRowContext(context.Background(), "SELECT count(*) FROM audit_log WHERE action = $1", action).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func counterValue(t *testing.T, c prometheus.Collector) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	return mfs[0].GetMetric()[0].GetCounter().GetValue()
}

// TestSchedule: scheduled backups come every period, are audited, keep the
// newest sets, are made by one node of several, and a failure is audited,
// alerts the officers, counts in the metric and is retried an hour later.
func TestSchedule(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := clock.NewFake(start)
		dir := t.TempDir()
		alerts := 0
		node := func() *Schedule {
			return &Schedule{DB: d, Clock: clk, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Dir: dir, Every: 24 * time.Hour,
				Keep: 2, Key: testKey(t), Version: "test", Metrics: NewMetrics(),
				Alert: func(context.Context, *sql.Tx) error { alerts++; return nil }}
		}
		a, b := node(), node()
		for i := range 3 {
			name, err := a.RunOnce(ctx)
			if err != nil || name == "" {
				t.Fatalf("backup %d: %q, %v", i, name, err)
			}
			if again, err := b.RunOnce(ctx); err != nil || again != "" {
				t.Fatalf("a second node backed up again right after: %q, %v", again, err)
			}
			clk.Advance(24 * time.Hour)
		}
		if files := backupFiles(t, dir); !slices.Equal(files, []string{"ward-backup-20260303T090000Z.wbk", "ward-backup-20260304T090000Z.wbk"}) {
			t.Fatalf("kept %v, want the newest two", files)
		}
		if n := auditActions(t, d, ActionScheduled); n != 3 {
			t.Fatalf("%d scheduled backups audited, want 3", n)
		}
		if _, err := verifyFile(filepath.Join(dir, "ward-backup-20260303T090000Z.wbk"), a.Key); err != nil {
			t.Fatal(err)
		}

		// Due now, but another node holds the lock (PostgreSQL only: one node on SQLite).
		if d.Dialect == db.Postgres {
			conn, err := d.W.Conn(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_lock("+db.LockKey+")", ScheduleLockKey); err != nil {
				t.Fatal(err)
			}
			if name, err := b.RunOnce(ctx); err != nil || name != "" {
				t.Fatalf("backed up while another node held the lock: %q, %v", name, err)
			}
			if _, err := conn.ExecContext(ctx, "SELECT pg_advisory_unlock("+db.LockKey+")", ScheduleLockKey); err != nil {
				t.Fatal(err)
			}
			conn.Close()
		}

		// A failure: the backup folder is gone.
		b.Dir = filepath.Join(dir, "gone")
		if name, err := b.RunOnce(ctx); err == nil || name != "" {
			t.Fatalf("a backup into a missing folder: %q, %v", name, err)
		}
		if auditActions(t, d, ActionFailed) != 1 || alerts != 1 || counterValue(t, b.Metrics.Failures) != 1 {
			t.Fatalf("the failure: %d audited, %d alerts, metric %v", auditActions(t, d, ActionFailed), alerts, counterValue(t, b.Metrics.Failures))
		}
		clk.Advance(30 * time.Minute)
		if name, err := a.RunOnce(ctx); err != nil || name != "" {
			t.Fatalf("retried within the hour: %q, %v", name, err)
		}
		clk.Advance(31 * time.Minute)
		name, err := a.RunOnce(ctx)
		if err != nil || name == "" {
			t.Fatalf("retry after the hour: %q, %v", name, err)
		}
		if files := backupFiles(t, dir); len(files) != 2 || files[1] != name {
			t.Fatalf("files after the retry: %v", files)
		}
	})
}
