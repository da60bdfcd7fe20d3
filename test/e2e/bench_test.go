package e2e

import (
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
)

// BenchmarkCreateIncident measures incidents created per second through
// the API over HTTPS with keep-alive, on SQLite, each with its timeline
// and audit entries committed before the 201. Run with -cpu to vary
// nothing: concurrency is the number of clients, set by b.SetParallelism.
func BenchmarkCreateIncident(b *testing.B) {
	w := startWard(b, "")
	body := `{"title":"Suspicious login burst","severity":"sev2","category":"hacking_it_incident"}`
	// Warm the connection pool.
	w.must(http.StatusCreated, http.MethodPost, "/api/v1/incidents", body, nil)
	var failed atomic.Int64
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			code, raw := w.do(http.MethodPost, "/api/v1/incidents", body, nil)
			if code != http.StatusCreated {
				failed.Add(1)
				b.Error(fmt.Sprintf("status %d: %s", code, raw))
				return
			}
		}
	})
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "incidents/s")
}
