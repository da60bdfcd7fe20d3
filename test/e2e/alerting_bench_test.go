package e2e

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/dbtest"
)

// peakRSSMiB is this process's peak resident memory (VmHWM), in MiB. The
// server runs in the test process, so it counts the load generator too:
// an upper bound for the server alone.
func peakRSSMiB(b *testing.B) float64 {
	raw, err := os.ReadFile("/proc/self/status")
	if err != nil {
		b.Fatal(err)
	}
	for line := range strings.Lines(string(raw)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			if err != nil {
				b.Fatal(err)
			}
			return float64(kb) / 1024
		}
	}
	b.Fatal("no VmHWM in /proc/self/status")
	return 0
}

// BenchmarkAlertIntake measures durable alert intake over HTTPS: b.N
// distinct alerts (use -benchtime 100000x), each committed before its
// 202, sent as Alertmanager webhook batches of 100 and as single Events API
// v2 events. Grouped by source, each Alertmanager group (one per batch) is
// one incident; grouped by alert (…-incident-each), each alert opens its
// own. For Events v2 the sub-benchmark names the
// grouping, since an alert storm on one service (group_by service) joins
// one incident while group_by alert opens one incident per alert. It runs
// on SQLite, and on PostgreSQL too (sub-benchmarks named postgres/…), in a
// fresh schema each, when WARD_TEST_POSTGRES_URL is set.
func BenchmarkAlertIntake(b *testing.B) {
	for _, dialect := range benchDialects() {
		prefix := ""
		if dialect != "sqlite" {
			prefix = dialect + "/"
		}
		for _, group := range []string{"source", "alert"} {
			name := "alertmanager-batch100"
			if group == "alert" {
				name += "-incident-each"
			}
			b.Run(prefix+name, func(b *testing.B) {
				benchAlertmanager(b, dialect, group)
			})
		}
		for _, group := range []string{"service", "alert"} {
			b.Run(prefix+"eventsv2-single-groupby-"+group, func(b *testing.B) {
				w := startWard(b, benchDB(b, dialect))
				_, ig := w.service("bench-v2-"+group, false, group, "events_v2", "")
				sendEventsV2(b, w, ig.Key)
				b.ReportMetric(peakRSSMiB(b), "peak-RSS-MiB")
			})
		}
	}
}

// benchAlertmanager sends b.N distinct alerts as Alertmanager batches of
// 100 from 8 clients, to a service that groups by group: "source" makes
// each batch one incident, "alert" each alert its own.
func benchAlertmanager(b *testing.B, dialect, group string) {
	w := startWard(b, benchDB(b, dialect))
	_, ig := w.service("bench-am", false, group, "alertmanager", "")
	batches := (b.N + 99) / 100
	var next atomic.Int64
	var failed atomic.Int64
	b.ResetTimer()
	parallel(8, func() {
		for {
			i := int(next.Add(1)) - 1
			if i >= batches || failed.Load() > 0 {
				return
			}
			n := min(100, b.N-i*100)
			if code, body := w.post("/intake/alertmanager/"+ig.Key, amBatch(i, n), nil); code != 202 {
				failed.Add(1)
				b.Errorf("batch %d: %d %s", i, code, body)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
	b.ReportMetric(peakRSSMiB(b), "peak-RSS-MiB")
}

// benchDialects are the databases benchmarks run on: SQLite, and
// PostgreSQL when WARD_TEST_POSTGRES_URL is set.
func benchDialects() []string {
	if os.Getenv(dbtest.PostgresURLEnv) == "" {
		return []string{"sqlite"}
	}
	return []string{"sqlite", "postgres"}
}

// benchDB is the --db value of a fresh database of dialect: "" for SQLite
// in the data folder, else a new PostgreSQL schema dropped when b ends.
func benchDB(b *testing.B, dialect string) string {
	if dialect == "sqlite" {
		return ""
	}
	return dbtest.PostgresURL(b)
}

// amBatch is Alertmanager batch i of n distinct firing alerts, one group.
func amBatch(i, n int) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, `{"version":"4","groupKey":"{}:{batch=\"%d\"}","status":"firing","receiver":"ward","alerts":[`, i)
	for j := range n {
		if j > 0 {
			sb.WriteByte(',')
		}
		fmt.Fprintf(&sb, `{"status":"firing","labels":{"alertname":"HighLatency","instance":"host-%d-%d","severity":"warning"},`+
			`"annotations":{"summary":"p99 latency over budget"},"startsAt":%q,"fingerprint":"fp-%d-%d"}`,
			i, j, time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC).Format(time.RFC3339), i, j)
	}
	sb.WriteString("]}")
	return sb.String()
}

// sendEventsV2 times b.N distinct Events v2 triggers sent to the
// integration with routing key key from 32 clients, from 50 sources, and
// reports alerts/s.
func sendEventsV2(b *testing.B, w *ward, key string) {
	var next, failed atomic.Int64
	b.ResetTimer()
	parallel(32, func() {
		for {
			i := int(next.Add(1)) - 1
			if i >= b.N || failed.Load() > 0 {
				return
			}
			ev := fmt.Sprintf(`{"routing_key":%q,"event_action":"trigger","dedup_key":"a-%d",`+
				`"payload":{"summary":"latency over budget on host %d","source":"host-%d","severity":"error"}}`, key, i, i, i%50)
			if code, body := w.post("/v2/enqueue", ev, nil); code != 202 {
				failed.Add(1)
				b.Errorf("event %d: %d %s", i, code, body)
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "alerts/s")
}

// parallel runs fn on n goroutines and waits for them.
func parallel(n int, fn func()) {
	var wg sync.WaitGroup
	for range n {
		wg.Go(fn)
	}
	wg.Wait()
}

// BenchmarkAlertIntakeRules is the Events v2 single-event benchmark
// (grouped by service) with no alert rule, with 10 enabled alert rules of
// which none matches, and with those 10 and one more that matches every
// alert (and tags it): what alert rules cost intake (issue #16: within 10%).
func BenchmarkAlertIntakeRules(b *testing.B) {
	for _, dialect := range benchDialects() {
		prefix := ""
		if dialect != "sqlite" {
			prefix = dialect + "/"
		}
		for _, rules := range []string{"none", "10-none-match", "10-and-1-match"} {
			b.Run(prefix+"eventsv2-single-rules-"+rules, func(b *testing.B) {
				w := startWard(b, benchDB(b, dialect))
				_, ig := w.service("bench-rules", false, "service", "events_v2", "")
				if rules != "none" {
					for i := range 10 {
						w.must(201, "POST", "/api/v1/alert-rules", map[string]any{"name": fmt.Sprintf("never %d", i),
							"expression": fmt.Sprintf(`alert.source == "elsewhere-%d" && alert.summary.contains("disk")`, i),
							"actions":    []map[string]any{{"type": "add_tags", "tags": []string{"x"}}}}, nil)
					}
				}
				if rules == "10-and-1-match" {
					w.must(201, "POST", "/api/v1/alert-rules", map[string]any{"name": "always", "expression": `alert.severity == "error"`,
						"actions": []map[string]any{{"type": "add_tags", "tags": []string{"latency"}}}}, nil)
				}
				sendEventsV2(b, w, ig.Key)
			})
		}
	}
}
