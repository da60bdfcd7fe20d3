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

// Defaults of WatchOptions.
const (
	DefaultWatchInterval = 250 * time.Millisecond
	DefaultWatchBatch    = 10_000
)

// WatchOptions configure a Watcher.
type WatchOptions struct {
	// Interval is how often the watcher looks for new entries
	// (DefaultWatchInterval when 0); it looks again at once while a look
	// fills a whole batch.
	Interval time.Duration
	// Batch caps the entries one look reads (DefaultWatchBatch when 0).
	Batch int
	// Node names this Ward instance in the segment records it writes.
	Node string
	// Alert tells the Security Officers that the chain broke, inside the
	// transaction that starts the new segment (or in one of its own when
	// the segment cannot be started). It must say nothing but that.
	Alert func(ctx context.Context, tx *sql.Tx) error
	Log   *slog.Logger
}

// Watcher verifies the audit chain continuously on one node (45 CFR
// 164.312(b) audit controls, 164.312(c)(1) integrity). It remembers the
// last entry it verified, its sequence number and hash, and checks each
// new entry as it arrives: numbered next, linked to the remembered hash,
// matching its own hash. A rewrite of the tail that also fixes the head
// shows at the next look: the remembered entry changed or went, or the
// next entry links to something else.
//
// On a break it starts a new segment at once (StartSegment) that records
// the break, with the officers' alert in the same transaction, so that
// no entry goes on silently onto the broken chain while intake and paging
// keep working (docs/AUDIT.md). Until the segment is started the node is
// not ready (Status).
type Watcher struct {
	d     *db.DB
	clock clock.Clock
	opt   WatchOptions

	// Owned by the goroutine calling Tick.
	begun   bool
	seq     int64  // the last entry verified
	hash    string // its hash
	pending *Break // a break found and not yet closed by a new segment
	alerted bool   // the officers were told of pending apart from a segment

	mu       sync.Mutex
	reason   string // why the chain is not intact; "" when it is
	reported *Break // a break another check found (Report), for Tick

	intact   prometheus.Gauge
	segment  prometheus.Gauge
	verified prometheus.Gauge
	breaks   prometheus.Counter
}

// NewWatcher returns a Watcher of d's audit chain.
func NewWatcher(d *db.DB, clk clock.Clock, opt WatchOptions) *Watcher {
	if opt.Interval <= 0 {
		opt.Interval = DefaultWatchInterval
	}
	if opt.Batch <= 0 {
		opt.Batch = DefaultWatchBatch
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	w := &Watcher{d: d, clock: clk, opt: opt, hash: Genesis,
		intact: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ward_audit_chain_intact",
			Help: "1 while the audit chain as this node verifies it is intact; 0 from finding a break until a new segment recording it is started."}),
		segment: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ward_audit_chain_segment",
			Help: "The audit chain segment new entries go into: 1 until a break is found, then one more for each recorded break."}),
		verified: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ward_audit_chain_verified_seq",
			Help: "The sequence number of the last audit entry this node verified as it arrived."}),
		breaks: prometheus.NewCounter(prometheus.CounterOpts{Name: "ward_audit_chain_breaks_total",
			Help: "Breaks of the audit chain this node found since it started."}),
	}
	w.intact.Set(1)
	w.segment.Set(1)
	return w
}

// Collectors returns the watcher's metrics, to register with a Prometheus
// registry.
func (w *Watcher) Collectors() []prometheus.Collector {
	return []prometheus.Collector{w.intact, w.segment, w.verified, w.breaks}
}

// Status reports whether this node may take writes: false, with the
// reason in plain words, from finding a break until a new segment records
// it.
func (w *Watcher) Status() (ok bool, reason string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.reason == "", w.reason
}

// Report hands the watcher a break that another check found (the
// periodic walk of the whole chain): the next Tick records it in a new
// segment like one of its own. Only BrokenAt and Found are used.
func (w *Watcher) Report(brk Break) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.reported = &brk
}

// Run looks every Interval until ctx ends, at once again while a look
// fills a whole batch. A failure is logged when it first happens or
// changes, not at every look.
func (w *Watcher) Run(ctx context.Context) {
	t := time.NewTicker(w.opt.Interval)
	defer t.Stop()
	var last string
	for {
		n, err := w.Tick(ctx)
		switch {
		case err != nil && ctx.Err() == nil && err.Error() != last:
			last = err.Error()
			w.opt.Log.ErrorContext(ctx, "audit_watch_failed", "error", err)
		case err == nil:
			last = ""
		}
		if err == nil && n >= w.opt.Batch {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick is one look: it verifies up to Batch new entries and returns how
// many. On a break, or while one is not yet recorded, it starts the new
// segment instead.
func (w *Watcher) Tick(ctx context.Context) (int, error) {
	w.mu.Lock()
	reported := w.reported
	w.reported = nil
	w.mu.Unlock()
	if reported != nil && w.pending == nil {
		reported.ExpectedSeq, reported.ExpectedHash = w.seq, w.hash
		w.found(ctx, *reported)
	}
	if w.pending == nil && !w.begun {
		if err := w.begin(ctx); err != nil {
			return 0, err
		}
	}
	if w.pending != nil {
		return 0, w.contain(ctx)
	}
	n, brk, err := w.look(ctx)
	if err != nil {
		return n, err
	}
	if brk != nil {
		w.found(ctx, *brk)
		return n, w.contain(ctx)
	}
	return n, nil
}

// begin finds where to start: the newest segment's first entry, or the
// newest stored checkpoint after it if the entry it covers still has its
// hash (a checkpoint the trail no longer matches is a break).
func (w *Watcher) begin(ctx context.Context) error {
	starts, err := validStarts(ctx, w.d.R)
	if err != nil {
		return err
	}
	w.seq, w.hash = 0, Genesis
	if n := len(starts); n > 0 {
		st := starts[n-1]
		w.seq, w.hash = st.StartSeq, st.Hash
		w.segment.Set(float64(st.Number))
	}
	cp, found, err := newestCheckpoint(ctx, w.d.R)
	if err != nil {
		return err
	}
	w.begun = true
	if found && cp.Seq > w.seq {
		var hash string
		err := w.d.R.QueryRowContext(ctx, "SELECT hash FROM audit_log WHERE seq = $1", cp.Seq).Scan(&hash)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			last, err := w.lastBelow(ctx, cp.Seq)
			if err != nil {
				return err
			}
			w.found(ctx, Break{BrokenAt: last + 1, ExpectedSeq: cp.Seq, ExpectedHash: cp.Hash,
				Found: fmt.Sprintf("the trail ends at entry %d, before the checkpoint signed on %s: it was rolled back or cut", last, cp.signedOn())})
			return nil
		case err != nil:
			return fmt.Errorf("audit watch: %w", err)
		case hash != cp.Hash:
			w.found(ctx, Break{BrokenAt: cp.Seq, ExpectedSeq: cp.Seq, ExpectedHash: cp.Hash,
				Found: fmt.Sprintf("entry %d has hash %s, not the one the checkpoint signed on %s covers", cp.Seq, hash, cp.signedOn())})
			return nil
		}
		w.seq, w.hash = cp.Seq, cp.Hash
	}
	w.verified.Set(float64(w.seq))
	return nil
}

// look reads the remembered entry and up to Batch after it, then the
// head, and checks them; brk is the break found, if any.
func (w *Watcher) look(ctx context.Context) (n int, brk *Break, err error) {
	limit := w.opt.Batch
	if w.seq > 0 {
		limit++ // the remembered entry, read again
	}
	rows, err := w.d.R.QueryContext(ctx, "SELECT "+entryColumns+" FROM audit_log WHERE seq >= $1 ORDER BY seq LIMIT $2",
		max(w.seq, 1), limit)
	if err != nil {
		return 0, nil, fmt.Errorf("audit watch: %w", err)
	}
	seen := w.seq == 0 // the remembered entry was read (there is none before the first)
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			rows.Close()
			return n, nil, fmt.Errorf("audit watch: %w", err)
		}
		if brk = w.check(e, &seen); brk != nil {
			break
		}
		if e.Seq > w.seq {
			if e.ObjectType == ObjectSegment {
				if sg, err := parseSegment(e); err == nil {
					w.segment.Set(float64(sg.Number))
				}
			}
			w.seq, w.hash = e.Seq, e.Hash
			n++
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return n, nil, fmt.Errorf("audit watch: %w", err)
	}
	w.verified.Set(float64(w.seq))
	if brk != nil {
		return n, brk, nil
	}
	if !seen {
		last, err := w.lastBelow(ctx, w.seq)
		if err != nil {
			return n, nil, err
		}
		return n, &Break{BrokenAt: last + 1, ExpectedSeq: w.seq, ExpectedHash: w.hash,
			Found: fmt.Sprintf("entry %d is gone; the entries before it end at entry %d", w.seq, last)}, nil
	}
	var headSeq int64
	var headHash string
	err = w.d.R.QueryRowContext(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&headSeq, &headHash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return n, &Break{BrokenAt: w.seq, ExpectedSeq: w.seq, ExpectedHash: w.hash, Found: "the chain head is gone"}, nil
	case err != nil:
		return n, nil, fmt.Errorf("audit watch: read head: %w", err)
	case headSeq < w.seq:
		return n, &Break{BrokenAt: headSeq + 1, ExpectedSeq: w.seq, ExpectedHash: w.hash,
			Found: fmt.Sprintf("the chain head was moved back to entry %d", headSeq)}, nil
	case headSeq == w.seq && headHash != w.hash:
		return n, &Break{BrokenAt: w.seq, ExpectedSeq: w.seq, ExpectedHash: w.hash,
			Found: fmt.Sprintf("the chain head names hash %s for that entry", headHash)}, nil
	}
	return n, nil, nil
}

// check checks entry e against what the watcher remembers; seen records
// that the remembered entry itself was read.
func (w *Watcher) check(e Entry, seen *bool) *Break {
	expect := func(found string) *Break {
		return &Break{BrokenAt: min(e.Seq, w.seq+1), ExpectedSeq: w.seq, ExpectedHash: w.hash, Found: found}
	}
	switch {
	case !*seen && e.Seq == w.seq:
		*seen = true
		if e.Hash != w.hash {
			return &Break{BrokenAt: w.seq, ExpectedSeq: w.seq, ExpectedHash: w.hash,
				Found: fmt.Sprintf("entry %d now has hash %s", e.Seq, e.Hash)}
		}
		return nil
	case !*seen:
		return nil // reported as gone once the batch is read
	case e.ObjectType == ObjectSegment && e.PrevHash == Genesis:
		// A segment that another node started on a break: explicit, recorded.
		if _, err := parseSegment(e); err != nil {
			return expect(err.Error())
		}
		if Hash(e) != e.Hash {
			return expect(fmt.Sprintf("entry %d does not match its hash", e.Seq))
		}
		return nil
	case e.Seq != w.seq+1:
		return expect(fmt.Sprintf("entry %d follows it, entry %d is missing", e.Seq, w.seq+1))
	case e.PrevHash != w.hash:
		return &Break{BrokenAt: w.seq, ExpectedSeq: w.seq, ExpectedHash: w.hash,
			Found: fmt.Sprintf("entry %d links to hash %s instead", e.Seq, e.PrevHash)}
	case Hash(e) != e.Hash:
		return expect(fmt.Sprintf("entry %d does not match its hash", e.Seq))
	}
	return nil
}

// lastBelow is the highest sequence number in the trail below seq.
func (w *Watcher) lastBelow(ctx context.Context, seq int64) (int64, error) {
	var last int64
	if err := w.d.R.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM audit_log WHERE seq < $1", seq).Scan(&last); err != nil {
		return 0, fmt.Errorf("audit watch: %w", err)
	}
	return last, nil
}

// found records a break: the node is not ready until a segment records it.
func (w *Watcher) found(ctx context.Context, brk Break) {
	w.pending, w.alerted = &brk, false
	w.breaks.Inc()
	w.intact.Set(0)
	w.mu.Lock()
	w.reason = fmt.Sprintf("the audit trail was found altered at or before entry %d and no new segment of it is started yet", brk.BrokenAt)
	w.mu.Unlock()
	w.opt.Log.ErrorContext(ctx, "audit_chain_broken", "broken_at", brk.BrokenAt, "expected_seq", brk.ExpectedSeq,
		"expected_hash", brk.ExpectedHash, "found", brk.Found)
}

// contain starts the segment that records the pending break. When it
// cannot, it tells the officers on their own, once, and the node stays
// not ready.
func (w *Watcher) contain(ctx context.Context) error {
	brk := *w.pending
	alert := w.opt.Alert
	if w.alerted {
		alert = nil
	}
	seg, adopted, err := StartSegment(ctx, w.d, w.clock.Now(), w.opt.Node, brk, alert)
	if err != nil {
		if !w.alerted && w.opt.Alert != nil {
			aerr := w.d.Write(ctx, func(tx *sql.Tx) error { return w.opt.Alert(ctx, tx) })
			w.alerted = aerr == nil
			err = errors.Join(err, aerr)
		}
		return fmt.Errorf("audit watch: the chain is broken and no new segment could be started: %w", err)
	}
	w.seq, w.hash, w.pending = seg.StartSeq, seg.Hash, nil
	w.intact.Set(1)
	w.segment.Set(float64(seg.Number))
	w.verified.Set(float64(w.seq))
	w.mu.Lock()
	w.reason = ""
	w.mu.Unlock()
	w.opt.Log.WarnContext(ctx, "audit_segment_started", "segment", seg.Number, "start_seq", seg.StartSeq,
		"broken_at", seg.BrokenAt, "adopted", adopted)
	return nil
}
