package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/testwait"
)

// BenchmarkIdleCommits measures the transactions an idle Ward commits a
// second on PostgreSQL (pg_stat_database.xact_commit, reads included)
// while it holds 10,000 open incidents, with the default paging poll (SLA
// checks and breach reminders every 10 s). Ward runs on a database of its
// own, so nothing else's commits count; the incidents are created through
// the API, and once the SLA checker has looked at each (none is due any
// more) Ward is left alone for the 30 s that are measured. Run with
// -benchtime 1x; the goal (#18) is under 20 a second.
func BenchmarkIdleCommits(b *testing.B) {
	base := os.Getenv(dbtest.PostgresURLEnv)
	if base == "" {
		b.Skipf("needs PostgreSQL: set %s", dbtest.PostgresURLEnv)
	}
	ctx := context.Background()
	name, dbURL := freshDatabase(b, base)
	w := startWard(b, dbURL)
	const open = 10000
	body := `{"title":"Suspicious login burst","severity":"sev3","category":"hacking_it_incident"}`
	var next, failed atomic.Int64
	parallel(16, func() {
		for next.Add(1) <= open && failed.Load() == 0 {
			if code, raw := w.do(http.MethodPost, "/api/v1/incidents", body, nil); code != http.StatusCreated {
				failed.Add(1)
				b.Errorf("create incident: %d %s", code, raw)
			}
		}
	})
	if failed.Load() > 0 {
		return
	}
	stats, err := db.Open(ctx, base)
	if err != nil {
		b.Fatal(err)
	}
	defer stats.Close()
	commits := func() int64 {
		var n int64
		if _, err := stats.W.ExecContext(ctx, "SELECT pg_stat_clear_snapshot()"); err != nil {
			b.Fatal(err)
		}
		if err := stats.W.QueryRowContext(ctx, "SELECT xact_commit FROM pg_stat_database WHERE datname = $1", name).Scan(&n); err != nil {
			b.Fatal(err)
		}
		return n
	}
	// Settle: each incident's first SLA check, after which none is due
	// before its first target turns at risk (hours away at sev3).
	ward, err := db.Open(ctx, dbURL)
	if err != nil {
		b.Fatal(err)
	}
	defer ward.Close()
	testwait.Until(b, "every incident's first SLA check", 10*time.Minute, func() bool {
		var due int
		if err := ward.R.QueryRowContext(ctx, "SELECT count(*) FROM incidents WHERE sla_check_at <= $1", time.Now()).Scan(&due); err != nil {
			b.Fatal(err)
		}
		return due == 0
	})
	b.ResetTimer()
	before, start := commits(), time.Now()
	// The measurement itself: the commits of 30 idle seconds.
	time.Sleep(30 * time.Second)
	after, took := commits(), time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(after-before)/took.Seconds(), "commits/s")
	b.ReportMetric(loadAverage(b), "load1")
}

// freshDatabase creates an empty database on the server of base, dropped
// when b ends, and returns its name and URL.
func freshDatabase(b *testing.B, base string) (string, string) {
	ctx := context.Background()
	admin, err := db.Open(ctx, base)
	if err != nil {
		b.Fatal(err)
	}
	r := make([]byte, 6)
	_, _ = rand.Read(r)
	name := "ward_bench_" + hex.EncodeToString(r)
	if _, err := admin.W.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		admin.Close()
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if _, err := admin.W.ExecContext(context.Background(), "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			b.Errorf("drop database %s: %v", name, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		b.Fatal(err)
	}
	u.Path = "/" + name
	return name, u.String()
}

// loadAverage is the machine's one-minute load average.
func loadAverage(b *testing.B) float64 {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		b.Fatal(err)
	}
	v, err := strconv.ParseFloat(strings.Fields(string(raw))[0], 64)
	if err != nil {
		b.Fatal(err)
	}
	return v
}
