package e2e

import (
	"context"
	"crypto/tls"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/notice"
)

// benchSize reads a size from the environment variable name, or def.
func benchSize(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		b.Fatalf("%s=%q: want a count", name, v)
	}
	return n
}

// BenchmarkUIPages times every main page of a seeded instance (issue
// #14: p95 < 100 ms) on SQLite, and on PostgreSQL too (in a fresh schema)
// when WARD_TEST_POSTGRES_URL is set: 100,000 incidents
// (WARD_BENCH_INCIDENTS) beside the accessibility test's instance, whose
// ransomware case gets 1,000,000 affected individuals
// (WARD_BENCH_INDIVIDUALS) through the import API and 1,000,000 notices
// to them (WARD_BENCH_NOTICES), written straight into the database as
// letters generation made and the vendor mailed, some returned. Each page
// is fetched by a signed-in Privacy Officer (or an administrator, for the
// set-up pages) with the whole session cookie, in turn, so that no page's
// latency hides another's; each sub-benchmark reports its page's p50 and
// p95.
func BenchmarkUIPages(b *testing.B) {
	for _, dialect := range benchDialects() {
		b.Run(dialect, func(b *testing.B) {
			data := b.TempDir()
			dbURL := benchDB(b, dialect)
			seedIncidentsIn(b, data, dbURL, benchSize(b, "WARD_BENCH_INCIDENTS", 100_000))
			w := startWardAt(b, data, dbURL)
			c := seedPlainInstance(b, w)
			importIndividuals(b, w, c.number, benchSize(b, "WARD_BENCH_INDIVIDUALS", 1_000_000))
			seedNotices(b, openBenchDB(b, data, dbURL), c.number, benchSize(b, "WARD_BENCH_NOTICES", 1_000_000))
			po := benchSignIn(b, w, authz.RolePrivacyOfficer, "bench-privacy")
			admin := benchSignIn(b, w, authz.RoleAdmin, "bench-admin")
			type page struct {
				path   string
				client *http.Client
			}
			var pages []page
			for _, p := range privacyOfficerPages(c) {
				pages = append(pages, page{p, po})
			}
			// The large case's notices of one status, a later page.
			pages = append(pages, page{"/incidents/" + c.number + "/notices?status=returned", po})
			for _, p := range adminPages {
				pages = append(pages, page{p, admin})
			}
			for _, p := range pages {
				b.Run(p.path, func(b *testing.B) {
					lat := make([]time.Duration, 0, 64)
					for b.Loop() {
						start := time.Now()
						code, body := benchGet(b, p.client, w.url+p.path)
						lat = append(lat, time.Since(start))
						if code != http.StatusOK {
							b.Fatalf("GET %s: %d %.300s", p.path, code, body)
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

// seedNotices writes n notices straight into d for the breach case of
// incident number, as letters generation made them, to its individuals in
// turn (several each when n is more than the case has): by the last digit
// of the individual's id, one in eight returned, one in eight still
// generated, the rest sent. It then folds the notices' counts
// (notice.FoldCounts, which the server runs every 10 s), so that the
// pages are timed as they are between changes.
func seedNotices(b *testing.B, d *db.DB, number string, n int) {
	b.Helper()
	if n == 0 {
		return
	}
	ctx := context.Background()
	var caseID string
	var people int
	if err := d.R.QueryRowContext(ctx, `SELECT c.id, (SELECT count(*) FROM breach_individuals b WHERE b.case_id = c.id)
		FROM breach_cases c JOIN incidents i ON i.id = c.incident_id WHERE i.number = $1`, number).Scan(&caseID, &people); err != nil {
		b.Fatal(err)
	}
	if people == 0 {
		b.Fatalf("the case of %s has no individuals to send notices to", number)
	}
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	err := d.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `WITH RECURSIVE g(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM g WHERE k < $2)
			INSERT INTO notices (id, case_id, run_id, kind, channel, individual_id, recipient, status, batch, page, pages, attempts,
				error, sent_at, sent_by, receipt, returned_at, return_reason, resent_of, created_at, updated_at)
			SELECT 'bench-' || g.k || '-' || b.id, b.case_id, 'bench-run', 'individual_letter', 'mail', b.id, '',
				CASE WHEN substr(b.id, length(b.id), 1) IN ('0', '1') THEN 'returned'
					WHEN substr(b.id, length(b.id), 1) IN ('2', '3') THEN 'generated' ELSE 'sent' END,
				1, 1, 1, 0, '', $3, 'bench', '', NULL, '', '', $3, $3
			FROM g CROSS JOIN breach_individuals b WHERE b.case_id = $1 LIMIT $4`, caseID, (n+people-1)/people, at, n)
		return err
	})
	if err != nil {
		b.Fatalf("seed %d notices: %v", n, err)
	}
	// The server's task folds too; two folds at once lose nothing.
	if err := notice.FoldCounts(ctx, d); err != nil {
		b.Fatalf("fold the notices' counts: %v", err)
	}
}

// importIndividuals adds n people to the breach case of incident number
// through the import API, the CSV streamed from a pipe as it is written.
func importIndividuals(b *testing.B, w *ward, number string, n int) {
	b.Helper()
	pr, pw := io.Pipe()
	go func() {
		states := []string{"CA", "TX", "NY", "FL", "OR", "WA", "IL", "MA"}
		_, err := io.WriteString(pw, "name,address1,city,state,zip\n")
		for i := 0; i < n && err == nil; i++ {
			_, err = fmt.Fprintf(pw, "Bench Person %07d,%d Elm St,Springfield,%s,%05d\n", i, i%9000+1, states[i%len(states)], 10000+i%80000)
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequest("POST", w.url+"/api/v1/incidents/"+number+"/breach-case/individuals/import", pr)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/csv")
	req.Header.Set("Authorization", "Bearer "+w.token)
	client := &http.Client{Timeout: 30 * time.Minute,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // self-signed
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("import %d people: %d %.500s", n, resp.StatusCode, raw)
	}
}
