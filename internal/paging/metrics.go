package paging

import "github.com/prometheus/client_golang/prometheus"

// metrics are what a Pager counts for /metrics: no label holds an id or
// anything a person typed, only stages, channels and outcomes.
type metrics struct {
	errors        *prometheus.CounterVec
	notifications *prometheus.CounterVec
	reclaimed     prometheus.Counter
}

func newMetrics() metrics {
	return metrics{
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ward_paging_errors_total",
			Help: "Paging work that failed and is tried again on the next round, by stage (advance: moving one page on; release: releasing scheduled messages and expired leases; deliver: claiming or recording messages; lease: renewing this node's paging lease).",
		}, []string{"stage"}),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ward_notifications_total",
			Help: "Outcomes of notifications recorded, by channel and outcome (sent, retried, failed, rate_limited, cancelled, handed_back: cut short by a shutdown and queued again).",
		}, []string{"channel", "outcome"}),
		reclaimed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ward_notifications_reclaimed_total",
			Help: "Notifications taken over from a node whose lease lapsed (it died or lost the database) and queued again.",
		}),
	}
}

// Collectors returns the Pager's metrics, to register with a Prometheus
// registry.
func (p *Pager) Collectors() []prometheus.Collector {
	return []prometheus.Collector{p.metrics.errors, p.metrics.notifications, p.metrics.reclaimed}
}
