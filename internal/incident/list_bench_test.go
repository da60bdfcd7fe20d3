package incident_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// benchIncidents is how many incidents BenchmarkListSealed lists:
// WARD_BENCH_INCIDENTS, or the 100,000 of issue #15.
func benchIncidents(b *testing.B) int {
	n := 100_000
	if v := os.Getenv("WARD_BENCH_INCIDENTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("WARD_BENCH_INCIDENTS=%q: not a positive number", v)
		}
	}
	return n
}

var (
	benchTitles = []string{"Ransomware on file server", "Phishing email reported", "Lost laptop", "Misdirected fax",
		"Brute-force login"}
	benchHosts = 200
)

// seedPlaintext writes n incidents as an older Ward left them (titles in
// plaintext, not indexed), spread over a year, across severities and
// statuses; each title names one of 200 hosts and a number of its own.
func seedPlaintext(b *testing.B, d *db.DB, n int) {
	b.Helper()
	ctx := context.Background()
	first := time.Date(2025, 11, 1, 0, 0, 0, 0, time.UTC)
	statuses := []string{"detected", "analysis", "containment", "eradication", "recovery", "post_incident", "closed"}
	for lo := 0; lo < n; lo += 10_000 {
		err := d.Write(ctx, func(tx *sql.Tx) error {
			stmt, err := tx.PrepareContext(ctx, `INSERT INTO incidents (id, number, title, description, severity, category,
				phi_suspected, detected_at, created_at, updated_at, status, resolution, commander, customers, not_applicable,
				created_by, version, restricted) VALUES ($1, $2, $3, '', $4, 'not_yet_known', $5, $6, $6, $6, $7, '', '',
				'[]', '[]', 'bench', 1, false)`)
			if err != nil {
				return err
			}
			defer stmt.Close()
			for i := lo; i < min(n, lo+10_000); i++ {
				title := fmt.Sprintf("%s on host db%d, ticket %d", benchTitles[i%len(benchTitles)], i%benchHosts, i)
				if _, err := stmt.ExecContext(ctx, uuid.Must(uuid.NewV7()).String(), fmt.Sprintf("INC-BENCH-%07d", i), title,
					fmt.Sprintf("sev%d", 1+i%4), i%3 == 0, first.Add(time.Duration(i)*5*time.Minute), statuses[i%len(statuses)]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkListSealed lists and searches 100,000 incidents whose titles
// are sealed, through the service (no HTTP): the first page (50) for a
// role that may read PHI (which opens 50 titles and audits the read) and
// for a stakeholder, and text searches through the blind index. It
// reports each query's p50 and p95, and how long sealing and indexing the
// plaintext titles took (what the first start after the upgrade does).
// Run: go test ./internal/incident -run XXX -bench ListSealed -benchtime 200x
func BenchmarkListSealed(b *testing.B) {
	n := benchIncidents(b)
	for _, target := range dbtest.Targets(b) {
		b.Run(string(target.Dialect), func(b *testing.B) {
			d := dbtest.Open(b, target.URL)
			clk := clock.NewFake(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
			svc := incident.NewService(d, clk, dbtest.Keyring(b, d, clk.Now()))
			seedPlaintext(b, d, n)
			began := time.Now()
			indexed, err := svc.IndexTitles(context.Background(), 500)
			if err != nil || indexed != int64(n) {
				b.Fatalf("IndexTitles = %d, %v", indexed, err)
			}
			sealFor := time.Since(began)
			admin := authz.WithActor(context.Background(), tester)
			stake := authz.WithActor(context.Background(), stakeholder)
			runs := []struct {
				name string
				ctx  context.Context
				f    incident.Filter
				min  int
			}{
				{"first-page", admin, incident.Filter{Limit: 50}, 50},
				{"first-page-stakeholder", stake, incident.Filter{Limit: 50}, 50},
				{"first-page-sev1", admin, incident.Filter{Limit: 50, Severity: incident.Sev1}, 50},
				{"q=ransomware(20%)", admin, incident.Filter{Limit: 50, Text: "ransomware"}, 50},
				{"q=ransomware_db15(0.5%)", admin, incident.Filter{Limit: 50, Text: "ransomware db15"}, 50},
				{"q=ticket_number(1)", admin, incident.Filter{Limit: 50, Text: strconv.Itoa(n / 2)}, 1},
				{"q=number", admin, incident.Filter{Limit: 50, Text: fmt.Sprintf("INC-BENCH-%07d", n/3)}, 1},
				{"q=nothing", admin, incident.Filter{Limit: 50, Text: "nosuchword"}, 0},
			}
			for _, r := range runs {
				b.Run(r.name, func(b *testing.B) {
					lat := make([]time.Duration, 0, b.N)
					for b.Loop() {
						start := time.Now()
						p, err := svc.List(r.ctx, r.f)
						lat = append(lat, time.Since(start))
						if err != nil || len(p.Items) < r.min || (r.min == 0 && len(p.Items) != 0) {
							b.Fatalf("%d items, want at least %d: %v", len(p.Items), r.min, err)
						}
					}
					slices.Sort(lat)
					b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
					b.ReportMetric(sealFor.Seconds(), "seal-index-s")
				})
			}
		})
	}
}

// BenchmarkOpen times the home page's query (Open: exact counts of every
// open incident and the 50 most urgent) over 100,000 incidents, six in
// seven of them open, for an administrator and a responder, once the kept
// counts are folded.
// Run: go test ./internal/incident -run XXX -bench BenchmarkOpen -benchtime 100x
func BenchmarkOpen(b *testing.B) {
	n := benchIncidents(b)
	for _, target := range dbtest.Targets(b) {
		b.Run(string(target.Dialect), func(b *testing.B) {
			d := dbtest.Open(b, target.URL)
			clk := clock.NewFake(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC))
			svc := incident.NewService(d, clk, dbtest.Keyring(b, d, clk.Now()))
			seedPlaintext(b, d, n)
			if _, err := svc.IndexTitles(context.Background(), 500); err != nil {
				b.Fatal(err)
			}
			// As the periodic task does within 10 s of the seeding.
			if err := svc.FoldOpenCounts(context.Background()); err != nil {
				b.Fatal(err)
			}
			for _, who := range []authz.Actor{tester, responder} {
				b.Run(string(who.Role), func(b *testing.B) {
					ctx := authz.WithActor(context.Background(), who)
					lat := make([]time.Duration, 0, b.N)
					for b.Loop() {
						start := time.Now()
						v, err := svc.Open(ctx, 50)
						lat = append(lat, time.Since(start))
						if err != nil || len(v.Urgent) != 50 || v.Total < n/2 {
							b.Fatalf("Open = %d urgent of %d, %v", len(v.Urgent), v.Total, err)
						}
					}
					slices.Sort(lat)
					b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
					b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
				})
			}
		})
	}
}
