package paging

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are what a Pager counts for /metrics: no label holds an id or
// anything a person typed, only stages, channels, events and outcomes.
type metrics struct {
	errors        *prometheus.CounterVec
	notifications *prometheus.CounterVec
	reclaimed     prometheus.Counter
	pages         *prometheus.CounterVec
	firstPage     prometheus.Histogram
	rounds        prometheus.Counter
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
		pages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ward_pages_total",
			Help: "Page events committed on this node, by event (triggered: a page started, or started again after it was resolved or its acknowledgement timed out; acknowledged; escalated: moved to its next step; resolved).",
		}, []string{"event"}),
		firstPage: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "ward_first_page_latency_seconds",
			Help:    "From a page's trigger to the first successful send of a page message for it (a notification rule's delay included).",
			Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900},
		}),
		rounds: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ward_paging_rounds_total",
			Help: "Paging rounds (advance, release, deliver) completed on this node, failed or not.",
		}),
	}
}

// Collectors returns the Pager's metrics, to register with a Prometheus
// registry.
func (p *Pager) Collectors() []prometheus.Collector {
	return []prometheus.Collector{p.metrics.errors, p.metrics.notifications, p.metrics.reclaimed, p.metrics.pages,
		p.metrics.firstPage, p.metrics.rounds, backlog{p}}
}

var (
	backlogDesc = prometheus.NewDesc("ward_notifications_pending",
		"Notifications due and not yet recorded as sent or given up: queued, being sent, or scheduled with their time come (all nodes).",
		nil, nil)
	backlogAgeDesc = prometheus.NewDesc("ward_notifications_pending_oldest_seconds",
		"How long the oldest pending notification has been due (0 when none is pending).", nil, nil)
)

// backlog reads the outbox's backlog when /metrics is scraped.
type backlog struct{ p *Pager }

func (b backlog) Describe(ch chan<- *prometheus.Desc) { ch <- backlogDesc; ch <- backlogAgeDesc }

func (b backlog) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	now := b.p.clock.Now()
	// Two queries rather than MIN(due_at): an aggregate loses the
	// column's type on SQLite.
	const pending = `FROM notifications WHERE status IN ($1, $2) OR status = $3 AND due_at <= $4`
	args := []any{statusQueued, statusSending, statusScheduled, now}
	var n int64
	var oldest sql.NullTime
	err := b.p.db.R.QueryRowContext(ctx, `SELECT count(*) `+pending, args...).Scan(&n)
	if err == nil && n > 0 {
		err = b.p.db.R.QueryRowContext(ctx, `SELECT due_at `+pending+` ORDER BY due_at LIMIT 1`, args...).Scan(&oldest)
		if errors.Is(err, sql.ErrNoRows) { // sent since the count
			err = nil
		}
	}
	if err != nil {
		ch <- prometheus.NewInvalidMetric(backlogDesc, err)
		ch <- prometheus.NewInvalidMetric(backlogAgeDesc, err)
		return
	}
	age := 0.0
	if oldest.Valid {
		age = max(now.Sub(oldest.Time).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(backlogDesc, prometheus.GaugeValue, float64(n))
	ch <- prometheus.MustNewConstMetric(backlogAgeDesc, prometheus.GaugeValue, age)
}
