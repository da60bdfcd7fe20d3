package e2e

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wardhq/ward/internal/db"
)

// BenchmarkCreateIncident measures incidents created per second through
// the API over HTTPS with keep-alive from 16 clients, each with its
// timeline and audit entries committed before the 201: on SQLite, and on
// PostgreSQL too (postgres, in a fresh schema) when WARD_TEST_POSTGRES_URL
// is set. Run with -cpu to vary nothing: concurrency is the number of
// clients, set by b.SetParallelism.
func BenchmarkCreateIncident(b *testing.B) {
	for _, dialect := range benchDialects() {
		b.Run(dialect, func(b *testing.B) {
			w := startWard(b, benchDB(b, dialect))
			body := `{"title":"Suspicious login burst","severity":"sev2","category":"hacking_it_incident"}`
			// Warm the connection pool.
			w.must(http.StatusCreated, http.MethodPost, "/api/v1/incidents", body, nil)
			b.SetParallelism(16)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					code, raw := w.do(http.MethodPost, "/api/v1/incidents", body, nil)
					if code != http.StatusCreated {
						b.Errorf("status %d: %s", code, raw)
						return
					}
				}
			})
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "incidents/s")
		})
	}
}

// BenchmarkListFirstPage measures the latency of the first page (50) of a
// filtered incident list over 100,000 incidents on SQLite, through the API
// over HTTPS, and reports its p50 and p95.
func BenchmarkListFirstPage(b *testing.B) {
	data := b.TempDir()
	seedIncidents(b, data, 100_000)
	w := startWardAt(b, data, "")
	queries := []string{
		"/api/v1/incidents?limit=50",
		"/api/v1/incidents?limit=50&severity=sev1",
		"/api/v1/incidents?limit=50&status=containment&phi_suspected=true",
		"/api/v1/incidents?limit=50&q=ransomware",
		"/api/v1/incidents?limit=50&q=no-such-title", // matches nothing: reads every row
	}
	for _, q := range queries {
		b.Run(q[len("/api/v1/incidents?"):], func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				w.must(http.StatusOK, http.MethodGet, q, nil, nil)
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}

// seedIncidents writes n incidents straight into a migrated SQLite database
// in data, spread over a year, across severities, statuses and titles. The
// titles are in plaintext, as an older Ward wrote them: the server seals
// and indexes them when it starts.
func seedIncidents(b *testing.B, data string, n int) {
	b.Helper()
	seedIncidentsIn(b, data, "", n)
}

// seedIncidentsIn is seedIncidents into the database dbURL selects (""
// for SQLite in data), migrated first.
func seedIncidentsIn(b *testing.B, data, dbURL string, n int) {
	b.Helper()
	if code, _, errs := runWard(b, data, dbURL, "migrate"); code != 0 {
		b.Fatal(errs)
	}
	d := openBenchDB(b, data, dbURL)
	ctx := context.Background()
	start := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	titles := []string{"Phishing email reported", "Ransomware on file server", "Lost laptop", "Misdirected fax", "Brute-force login"}
	statuses := []string{"detected", "analysis", "containment", "eradication", "recovery", "post_incident", "closed"}
	err := d.Write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO incidents (id, number, title, description, severity, category,
			phi_suspected, detected_at, created_at, updated_at, status, resolution, commander, customers, not_applicable,
			created_by, version) VALUES ($1, $2, $3, '', $4, 'not_yet_known', $5, $6, $6, $6, $7, '', '', '[]', '[]', 'bench', 1)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i := range n {
			at := start.Add(time.Duration(i) * 5 * time.Minute)
			number, title := fmt.Sprintf("INC-BENCH-%07d", i), titles[i%len(titles)]
			if _, err := stmt.ExecContext(ctx, uuid.Must(uuid.NewV7()).String(), number, title, fmt.Sprintf("sev%d", 1+i%4),
				i%3 == 0, at, statuses[i%len(statuses)]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}

// openBenchDB opens the database dbURL selects ("" for SQLite in data),
// closed when b ends.
func openBenchDB(b *testing.B, data, dbURL string) *db.DB {
	b.Helper()
	target := dbURL
	if target == "" {
		target = filepath.Join(data, "ward.db")
	}
	d, err := db.Open(context.Background(), target)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { d.Close() })
	return d
}
