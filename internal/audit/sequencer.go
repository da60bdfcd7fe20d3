package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
)

// Defaults of SequencerOptions.
const (
	DefaultSequencerLease = 5 * time.Second
	DefaultSequencerPoll  = 100 * time.Millisecond
	DefaultSequencerStuck = 30 * time.Second
)

// SequencerOptions configure a Sequencer.
type SequencerOptions struct {
	// Node names this Ward instance in the lease.
	Node string
	// Lease is how long the lease holds without renewal
	// (DefaultSequencerLease when 0); the holder renews it every Lease/3
	// and another node takes it over once it lapses.
	Lease time.Duration
	// Poll is how often the holder looks for entries left pending
	// (DefaultSequencerPoll when 0).
	Poll time.Duration
	// Stuck is how old the oldest pending entry may get before the node
	// reports the chain as not advancing (DefaultSequencerStuck when 0).
	Stuck time.Duration
	Log   *slog.Logger
}

// Sequencer chains what writers left pending: a writer that died between
// its commit and its round, or gave up waiting (chain.go). One node at a
// time does, the holder of the audit_sequencer lease, a row it renews
// while it is alive and another node takes over once it lapses: no
// session-level lock, so it works behind a connection pooler in
// transaction mode. Two holders at once (clocks apart) would cost nothing
// but skipped rounds, since every round takes the chain head's lock. On
// every node it measures the pending entries, and reports the chain as not
// advancing (Status, metrics) when the oldest waits longer than Stuck.
type Sequencer struct {
	d     *db.DB
	clock clock.Clock
	opt   SequencerOptions

	mu     sync.Mutex
	until  time.Time // the lease as last renewed, by Ward's clock
	reason string    // why the chain is not advancing; "" when it is

	pending prometheus.Gauge
	oldest  prometheus.Gauge
	holder  prometheus.Gauge
	chained prometheus.Counter
}

// NewSequencer returns the Sequencer of d's audit chain. Its Log also
// receives the warnings of writers that left their entries to it.
func NewSequencer(d *db.DB, clk clock.Clock, opt SequencerOptions) *Sequencer {
	if opt.Lease <= 0 {
		opt.Lease = DefaultSequencerLease
	}
	if opt.Poll <= 0 {
		opt.Poll = DefaultSequencerPoll
	}
	if opt.Stuck <= 0 {
		opt.Stuck = DefaultSequencerStuck
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	settleLog.Lock()
	settleLog.log = opt.Log
	settleLog.Unlock()
	return &Sequencer{d: d, clock: clk, opt: opt,
		pending: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ward_audit_pending_entries",
			Help: "Audit entries committed and not yet chained, as this node last counted them."}),
		oldest: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ward_audit_pending_oldest_seconds",
			Help: "Age of the oldest audit entry committed and not yet chained; 0 when none waits."}),
		holder: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ward_audit_sequencer_leader",
			Help: "1 while this node holds the audit sequencer's lease."}),
		chained: prometheus.NewCounter(prometheus.CounterOpts{Name: "ward_audit_sequencer_chained_total",
			Help: "Audit entries this node's sequencer chained because their writer had not."}),
	}
}

// Collectors returns the Sequencer's metrics.
func (s *Sequencer) Collectors() []prometheus.Collector {
	return []prometheus.Collector{s.pending, s.oldest, s.holder, s.chained}
}

// Status reports whether the chain is advancing: false, with the reason
// in plain words, while an entry has waited longer than Stuck.
func (s *Sequencer) Status() (ok bool, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reason == "", s.reason
}

// Holds reports whether this node holds the lease at now.
func (s *Sequencer) Holds(now time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return now.Before(s.until)
}

// Run keeps the lease (or tries to take it) every Lease/3, measures the
// pending entries as often, and while holding the lease chains what is
// left every Poll, until ctx ends; then it gives the lease up, so that
// another node takes over at once.
func (s *Sequencer) Run(ctx context.Context) {
	renew := time.NewTicker(s.opt.Lease / 3)
	defer renew.Stop()
	poll := time.NewTicker(s.opt.Poll)
	defer poll.Stop()
	s.keep(ctx)
	for {
		select {
		case <-ctx.Done():
			if err := s.Release(context.WithoutCancel(ctx)); err != nil {
				s.opt.Log.WarnContext(ctx, "audit_sequencer_release_failed", "error", err)
			}
			return
		case <-renew.C:
			s.keep(ctx)
		case <-poll.C:
			if _, err := s.Tick(ctx); err != nil && ctx.Err() == nil {
				s.opt.Log.ErrorContext(ctx, "audit_sequencer_round_failed", "error", err)
			}
		}
	}
}

// keep renews or takes the lease and measures the pending entries.
func (s *Sequencer) keep(ctx context.Context) {
	if _, err := s.Lease(ctx); err != nil && ctx.Err() == nil {
		s.opt.Log.ErrorContext(ctx, "audit_sequencer_lease_failed", "error", err)
	}
	if err := s.Measure(ctx); err != nil && ctx.Err() == nil {
		s.opt.Log.ErrorContext(ctx, "audit_pending_measure_failed", "error", err)
	}
}

// Lease renews this node's lease, or takes it when it lapsed, and reports
// whether this node holds it now.
func (s *Sequencer) Lease(ctx context.Context) (bool, error) {
	now := s.clock.Now()
	until := now.Add(s.opt.Lease)
	var n int64
	err := s.d.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE audit_sequencer SET node = $1, lease_until = $2
			WHERE id = 1 AND (node = $1 OR lease_until < $3)`, s.opt.Node, until, now)
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	if err != nil {
		return false, fmt.Errorf("audit sequencer: lease: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	was := now.Before(s.until)
	if n == 1 {
		// Stop a fifth of the lease short, so that a clock a little ahead
		// on another node rarely makes two holders.
		s.until = until.Add(-s.opt.Lease / 5)
	}
	holds := now.Before(s.until)
	if holds != was {
		s.opt.Log.InfoContext(ctx, "audit_sequencer_lease", "node", s.opt.Node, "holds", holds)
	}
	s.holder.Set(map[bool]float64{true: 1, false: 0}[holds])
	return holds, nil
}

// Release gives the lease up, if this node holds it.
func (s *Sequencer) Release(ctx context.Context) error {
	s.mu.Lock()
	s.until = time.Time{}
	s.mu.Unlock()
	s.holder.Set(0)
	return s.d.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE audit_sequencer SET lease_until = $1 WHERE id = 1 AND node = $2`,
			time.Unix(0, 0).UTC(), s.opt.Node)
		return err
	})
}

// Tick chains, while this node holds the lease, every pending entry,
// round after round, and returns how many it chained.
func (s *Sequencer) Tick(ctx context.Context) (int, error) {
	if !s.Holds(s.clock.Now()) {
		return 0, nil
	}
	var left bool
	if err := s.d.R.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM audit_pending)").Scan(&left); err != nil || !left {
		return 0, err
	}
	total := 0
	for {
		n, _, err := Round(ctx, s.d)
		total += n
		s.chained.Add(float64(n))
		if err != nil || n < ChainBatch {
			return total, err
		}
	}
}

// Measure counts the pending entries and the age of the oldest, and
// reports the chain as not advancing when it is older than Stuck.
func (s *Sequencer) Measure(ctx context.Context) error {
	var n int64
	if err := s.d.R.QueryRowContext(ctx, "SELECT count(*) FROM audit_pending").Scan(&n); err != nil {
		return fmt.Errorf("audit sequencer: measure pending entries: %w", err)
	}
	age := time.Duration(0)
	var oldest time.Time
	err := s.d.R.QueryRowContext(ctx, "SELECT at FROM audit_pending ORDER BY id LIMIT 1").Scan(&oldest)
	switch {
	case err == nil:
		age = max(s.clock.Now().Sub(oldest), 0)
	case !errors.Is(err, sql.ErrNoRows):
		return fmt.Errorf("audit sequencer: measure pending entries: %w", err)
	}
	s.pending.Set(float64(n))
	s.oldest.Set(age.Seconds())
	reason := ""
	if age > s.opt.Stuck {
		reason = fmt.Sprintf("%d audit entries are not in the chain yet, the oldest for %s: no node is chaining them", n, age.Round(time.Second))
	}
	s.mu.Lock()
	changed := reason != s.reason
	s.reason = reason
	s.mu.Unlock()
	switch {
	case changed && reason != "":
		s.opt.Log.ErrorContext(ctx, "audit_chain_not_advancing", "pending", n, "oldest_seconds", int64(age.Seconds()))
	case changed:
		s.opt.Log.InfoContext(ctx, "audit_chain_advancing")
	}
	return nil
}
