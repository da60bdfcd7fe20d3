// Package siem forwards the audit trail to a security information and
// event management system (SIEM), where a hospital keeps its logs: every
// entry, PHI-free (the entry's fields only; a change is in the trail only
// as its digest), to syslog over TLS (syslog.go) and to a webhook
// (webhook.go).
//
// Delivery is at least once. Each destination has a cursor, the sequence
// number of the last entry it took, kept in the database (the counters
// table), so it survives restarts: an entry is sent, then the cursor moves
// past it; a crash between the two sends it again. A failed send is
// retried, with exponential backoff, from the same cursor. On PostgreSQL
// only one node delivers to a destination at a time: it holds a session
// advisory lock for it on a connection of its own, which PostgreSQL
// releases when the node dies, so another node takes over.
package siem

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/db"
)

// Destination is where entries go.
type Destination interface {
	// Name is the destination's stable name: its cursor's key.
	Name() string
	// Send delivers entries, in order; nil means the receiver has them all.
	Send(ctx context.Context, entries []audit.Entry) error
	// Close releases the destination's connections.
	Close() error
}

// Options tune a Streamer; zero values take the defaults.
type Options struct {
	Batch      int           // entries per send; default 200
	Poll       time.Duration // how often to look for new entries; default 1s
	MinBackoff time.Duration // first wait after a failed send; default 1s
	MaxBackoff time.Duration // longest wait between retries; default 5m
	Log        *slog.Logger
}

// Streamer forwards new audit entries to its destinations.
type Streamer struct {
	db    *db.DB
	dests []Destination
	opt   Options
}

// New returns a Streamer of d's trail to dests.
func New(d *db.DB, dests []Destination, opt Options) *Streamer {
	if opt.Batch <= 0 {
		opt.Batch = 200
	}
	opt.Batch = min(opt.Batch, audit.MaxList)
	if opt.Poll <= 0 {
		opt.Poll = time.Second
	}
	if opt.MinBackoff <= 0 {
		opt.MinBackoff = time.Second
	}
	if opt.MaxBackoff < opt.MinBackoff {
		opt.MaxBackoff = max(5*time.Minute, opt.MinBackoff)
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	return &Streamer{db: d, dests: dests, opt: opt}
}

// cursorName is the counters row that holds a destination's cursor.
func cursorName(dest string) string { return "audit_siem_cursor:" + dest }

// lockKey is the PostgreSQL advisory lock of the destination named name,
// in a range of Ward's own (package db's migration lock is 7_310_457_001).
func lockKey(name string) int64 {
	var h int64
	for _, c := range name {
		h = h*31 + int64(c)
	}
	return 7_310_458_000 + h%1000
}

// Run forwards entries until ctx ends, one loop per destination, and
// closes the destinations.
func (s *Streamer) Run(ctx context.Context) {
	done := make(chan struct{}, len(s.dests))
	for _, d := range s.dests {
		go func() {
			defer func() { done <- struct{}{} }()
			s.run(ctx, d)
			_ = d.Close()
		}()
	}
	for range s.dests {
		<-done
	}
}

// Cursor is the sequence number of the last entry dest took.
func (s *Streamer) Cursor(ctx context.Context, dest string) (int64, error) {
	var seq int64
	err := s.db.R.QueryRowContext(ctx, "SELECT value FROM counters WHERE name = $1", cursorName(dest)).Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return seq, err
}

// run claims dest and delivers to it until ctx ends, claiming it again
// whenever the claim is lost.
func (s *Streamer) run(ctx context.Context, dest Destination) {
	log := s.opt.Log.With("destination", dest.Name())
	for ctx.Err() == nil {
		c, err := s.claim(ctx, dest.Name())
		if err != nil {
			if ctx.Err() == nil {
				log.ErrorContext(ctx, "audit_siem_claim_failed", "error", err)
				s.wait(ctx, s.opt.MinBackoff)
			}
			continue
		}
		if c == nil {
			s.wait(ctx, s.opt.Poll) // another node delivers
			continue
		}
		err = s.deliver(ctx, dest, c, log)
		c.release()
		if err != nil && ctx.Err() == nil {
			log.ErrorContext(ctx, "audit_siem_claim_lost", "error", err)
		}
	}
}

// claimed is a destination this node delivers to; write advances its
// cursor.
type claimed struct {
	name    string
	release func()
	write   func(ctx context.Context, fn func(q db.Querier) error) error
}

// claim makes sure dest's cursor exists and takes dest: on PostgreSQL by
// its advisory lock on a connection of its own (nil, nil when another node
// holds it); on SQLite, where one node runs, at once.
func (s *Streamer) claim(ctx context.Context, dest string) (*claimed, error) {
	name := cursorName(dest)
	if s.db.Dialect != db.Postgres {
		err := s.db.Write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, "INSERT INTO counters (name, value) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING", name)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("audit siem cursor: %w", err)
		}
		return &claimed{name: name, release: func() {}, write: func(ctx context.Context, fn func(db.Querier) error) error {
			return s.db.Write(ctx, func(tx *sql.Tx) error { return fn(tx) })
		}}, nil
	}
	conn, err := s.db.W.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("audit siem claim: %w", err)
	}
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock("+db.LockKey+")", lockKey(dest)).Scan(&got); err != nil || !got {
		conn.Close()
		if err != nil {
			return nil, fmt.Errorf("audit siem claim: %w", err)
		}
		return nil, nil
	}
	if _, err := conn.ExecContext(ctx, "INSERT INTO counters (name, value) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING", name); err != nil {
		conn.Close()
		return nil, fmt.Errorf("audit siem cursor: %w", err)
	}
	return &claimed{name: name,
		release: func() {
			// Closing the connection ends the session and so the lock;
			// unlocking first returns a healthy connection to the pool.
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_, _ = conn.ExecContext(ctx, "SELECT pg_advisory_unlock("+db.LockKey+")", lockKey(dest))
			conn.Close()
		},
		write: func(ctx context.Context, fn func(db.Querier) error) error { return fn(conn) },
	}, nil
}

// deliver sends what follows the cursor, batch by batch, until ctx ends
// or the claim's connection fails (the lock may then be another node's).
func (s *Streamer) deliver(ctx context.Context, dest Destination, c *claimed, log *slog.Logger) error {
	var cursor int64
	err := c.write(ctx, func(q db.Querier) error {
		return q.QueryRowContext(ctx, "SELECT value FROM counters WHERE name = $1", c.name).Scan(&cursor)
	})
	if err != nil {
		return fmt.Errorf("audit siem cursor: %w", err)
	}
	backoff := s.opt.MinBackoff
	for ctx.Err() == nil {
		batch, err := audit.ListForward(ctx, s.db.R, audit.Filter{AfterSeq: cursor, Limit: s.opt.Batch})
		if err != nil {
			if ctx.Err() == nil {
				log.ErrorContext(ctx, "audit_siem_read_failed", "error", err)
				s.wait(ctx, backoff)
			}
			continue
		}
		if len(batch) == 0 {
			s.wait(ctx, s.opt.Poll)
			continue
		}
		if err := dest.Send(ctx, batch); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			log.WarnContext(ctx, "audit_siem_send_failed", "first_seq", batch[0].Seq, "entries", len(batch),
				"retry_in", backoff.String(), "error", err)
			s.wait(ctx, backoff)
			backoff = min(2*backoff, s.opt.MaxBackoff)
			continue
		}
		backoff = s.opt.MinBackoff
		last := batch[len(batch)-1].Seq
		// Sent is sent: the cursor moves even if ctx ends meanwhile.
		wctx := context.WithoutCancel(ctx)
		err = c.write(wctx, func(q db.Querier) error {
			_, err := q.ExecContext(wctx, "UPDATE counters SET value = $1 WHERE name = $2 AND value < $1", last, c.name)
			return err
		})
		if err != nil {
			return fmt.Errorf("audit siem cursor: %w", err)
		}
		cursor = last
	}
	return nil
}

func (s *Streamer) wait(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// lagDesc describes the lag metric.
var lagDesc = prometheus.NewDesc("ward_audit_siem_lag_entries",
	"Audit entries not yet delivered to a SIEM destination.", []string{"destination"}, nil)

// Collector reports, on each scrape, how many entries each destination
// has yet to take.
func (s *Streamer) Collector() prometheus.Collector { return lagCollector{s} }

type lagCollector struct{ s *Streamer }

func (l lagCollector) Describe(ch chan<- *prometheus.Desc) { ch <- lagDesc }

func (l lagCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	var head int64
	if err := l.s.db.R.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM audit_log").Scan(&head); err != nil {
		ch <- prometheus.NewInvalidMetric(lagDesc, err)
		return
	}
	for _, d := range l.s.dests {
		cursor, err := l.s.Cursor(ctx, d.Name())
		if err != nil {
			ch <- prometheus.NewInvalidMetric(lagDesc, err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, float64(max(head-cursor, 0)), d.Name())
	}
}
