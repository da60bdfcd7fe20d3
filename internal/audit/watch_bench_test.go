package audit_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// BenchmarkWatch measures the continuous verification of new entries: a
// Watcher catching up with a chain of 100,000 entries, in its batches of
// 10,000, on each database. The goal (issue #13) is to keep up with 10,000
// entries a second.
func BenchmarkWatch(b *testing.B) {
	const n = 100_000
	for _, target := range dbtest.Targets(b) {
		b.Run(string(target.Dialect), func(b *testing.B) {
			// A fresh database each time the benchmark runs this function.
			url := filepath.Join(b.TempDir(), "ward.db")
			if target.Dialect == db.Postgres {
				url = dbtest.PostgresURL(b)
			}
			d := dbtest.Open(b, url)
			bulkChain(b, d, n)
			ctx := context.Background()
			for b.Loop() {
				w := audit.NewWatcher(d, clock.NewFake(start), audit.WatchOptions{Node: "bench"})
				total := 0
				for {
					got, err := w.Tick(ctx)
					if err != nil {
						b.Fatal(err)
					}
					if got == 0 {
						break
					}
					total += got
				}
				if ok, reason := w.Status(); total != n || !ok {
					b.Fatalf("verified %d of %d: %s", total, n, reason)
				}
			}
			perOp := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(n)/perOp.Seconds(), "entries/s")
		})
	}
}
