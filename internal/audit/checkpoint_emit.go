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

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
)

// Defaults of CheckpointOptions.
const (
	DefaultCheckpointEntries  = 1000
	DefaultCheckpointInterval = 5 * time.Minute
	// maxCheckpointPoll caps how long the head goes unread between ticks.
	maxCheckpointPoll = 5 * time.Second
	// deliveryBatch caps the checkpoints one destination is sent per tick.
	deliveryBatch = 100
	// maxDeliveryBackoff caps the wait before a failing destination is
	// tried again.
	maxDeliveryBackoff = 5 * time.Minute
)

// CheckpointLockKey is the PostgreSQL advisory lock the node emitting
// checkpoints holds, so that one node signs and publishes per interval.
// It must differ from every other lock of Ward's (package db's migration
// lock is 7_310_457_001, package backup's ScheduleLockKey 7_310_457_013).
const CheckpointLockKey = 7_310_457_014

// CheckpointOptions configure a Checkpointer.
type CheckpointOptions struct {
	// Entries is how many new entries call for a checkpoint
	// (DefaultCheckpointEntries when 0).
	Entries int64
	// Interval is the longest a new entry waits for a checkpoint
	// (DefaultCheckpointInterval when 0).
	Interval time.Duration
	// Node names this Ward instance in the checkpoints it signs.
	Node string
	// Publishers receive every checkpoint, in order, at least once.
	Publishers []Publisher
	Log        *slog.Logger
}

// Checkpointer signs the chain head every Entries entries or Interval,
// stores the checkpoint and publishes it outside the database.
type Checkpointer struct {
	d     *db.DB
	clock clock.Clock
	key   SigningKey
	opt   CheckpointOptions

	mu    sync.Mutex
	retry map[string]backoff // destination → when to try again

	failures prometheus.Counter
}

type backoff struct {
	after time.Time
	wait  time.Duration
}

// NewCheckpointer returns a Checkpointer signing with key.
func NewCheckpointer(d *db.DB, clk clock.Clock, key SigningKey, opt CheckpointOptions) *Checkpointer {
	if opt.Entries <= 0 {
		opt.Entries = DefaultCheckpointEntries
	}
	if opt.Interval <= 0 {
		opt.Interval = DefaultCheckpointInterval
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	return &Checkpointer{d: d, clock: clk, key: key, opt: opt, retry: map[string]backoff{},
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "ward_audit_checkpoint_failures_total",
			Help: "Rounds in which a checkpoint was due and none was signed: the chain did not verify from the newest checkpoint to the head, or the database failed."}),
	}
}

// Collectors returns the Checkpointer's metrics, to register with a
// Prometheus registry.
func (c *Checkpointer) Collectors() []prometheus.Collector {
	return []prometheus.Collector{c.failures}
}

// Key is the signing key.
func (c *Checkpointer) Key() SigningKey { return c.key }

// Run ticks until ctx ends, reading the head every Interval or five
// seconds, whichever is shorter.
func (c *Checkpointer) Run(ctx context.Context) {
	t := time.NewTicker(min(c.opt.Interval, maxCheckpointPoll))
	defer t.Stop()
	for {
		if _, err := c.Tick(ctx); err != nil && ctx.Err() == nil {
			c.opt.Log.ErrorContext(ctx, "audit_checkpoint_failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Tick signs a checkpoint if one is due (returning it) and delivers the
// checkpoints each publisher has not had yet. On PostgreSQL only the node
// holding the checkpoint lock does either; the others return at once.
func (c *Checkpointer) Tick(ctx context.Context) (*Checkpoint, error) {
	release, ok, err := c.claim(ctx)
	if err != nil || !ok {
		return nil, err
	}
	defer release()
	cp, err := c.emit(ctx)
	if err != nil && ctx.Err() == nil {
		c.failures.Inc()
	}
	return cp, errors.Join(err, c.deliver(ctx))
}

// claim takes the checkpoint lock on PostgreSQL; on SQLite one process
// owns the database, so there is nothing to take.
func (c *Checkpointer) claim(ctx context.Context) (func(), bool, error) {
	if c.d.Dialect != db.Postgres {
		return func() {}, true, nil
	}
	conn, err := c.d.W.Conn(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("audit checkpoint lock: %w", err)
	}
	var got bool
	if err := conn.QueryRowContext(ctx, "SELECT pg_try_advisory_lock("+db.LockKey+")", CheckpointLockKey).Scan(&got); err != nil || !got {
		conn.Close()
		if err != nil {
			return nil, false, fmt.Errorf("audit checkpoint lock: %w", err)
		}
		return nil, false, nil
	}
	return func() {
		_, _ = conn.ExecContext(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock("+db.LockKey+")", CheckpointLockKey)
		conn.Close()
	}, true, nil
}

// emit signs and stores the head when it has moved on by Entries entries,
// or at all and Interval has passed, since the newest checkpoint. It never
// signs a head that does not chain from that checkpoint.
func (c *Checkpointer) emit(ctx context.Context) (*Checkpoint, error) {
	last, found, err := newestCheckpoint(ctx, c.d.R)
	if err != nil {
		return nil, err
	}
	seq, hash, err := chainHead(ctx, c.d.R)
	if err != nil {
		return nil, err
	}
	now := c.clock.Now()
	if seq < last.Seq {
		return nil, fmt.Errorf("audit checkpoint: the trail ends at entry %d but the newest checkpoint covers entry %d: "+
			"the database was restored from an older copy or entries were removed; no checkpoint signed", seq, last.Seq)
	}
	if seq == last.Seq || (found && seq-last.Seq < c.opt.Entries && now.Sub(last.At) < c.opt.Interval) {
		return nil, nil
	}
	fromSeq, from := last.Seq, Genesis
	if found {
		from = last.Hash
	}
	// A segment started after the newest checkpoint is checked from its
	// first entry, which links to Genesis, not to the broken chain.
	starts, err := validStarts(ctx, c.d.R)
	if err != nil {
		return nil, err
	}
	if n := len(starts); n > 0 && starts[n-1].StartSeq > last.Seq {
		fromSeq, from = starts[n-1].StartSeq-1, Genesis
	}
	if err := checkLinks(ctx, c.d.R, fromSeq, from, seq, hash); err != nil {
		return nil, fmt.Errorf("audit checkpoint: no checkpoint signed: %w", err)
	}
	cp := c.key.Sign(Checkpoint{Seq: seq, Hash: hash, At: now, Node: c.opt.Node})
	err = c.d.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_checkpoints (seq, hash, at, node, key_id, signature)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (seq) DO NOTHING`, cp.Seq, cp.Hash, cp.At, cp.Node, cp.KeyID, cp.Signature)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("audit checkpoint: store: %w", err)
	}
	c.opt.Log.InfoContext(ctx, "audit_checkpoint_signed", "seq", cp.Seq, "key_id", cp.KeyID)
	return &cp, nil
}

// chainHead reads the chain head: the last entry's sequence number and
// hash. It is the one place checkpoints read it.
func chainHead(ctx context.Context, q db.Querier) (int64, string, error) {
	var seq int64
	var hash string
	err := q.QueryRowContext(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&seq, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, "", errors.New("audit: the chain head (the audit_head row) is missing: the trail was tampered with")
	}
	if err != nil {
		return 0, "", fmt.Errorf("audit: read head: %w", err)
	}
	return seq, hash, nil
}

// checkLinks checks that the entries fromSeq < seq <= toSeq are there, in
// order, each matching its hash and linked to the one before, the first
// to fromHash, and that the last has toHash.
func checkLinks(ctx context.Context, q db.Querier, fromSeq int64, fromHash string, toSeq int64, toHash string) error {
	rows, err := q.QueryContext(ctx, `SELECT seq, at, actor, action, object_type, object_id, request_id, source_ip, digest, prev_hash, hash
		FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq`, fromSeq, toSeq)
	if err != nil {
		return fmt.Errorf("audit: read entries: %w", err)
	}
	defer rows.Close()
	want, prev := fromSeq+1, fromHash
	for rows.Next() {
		var e Entry
		if err := rows.Scan(&e.Seq, &e.At, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &e.RequestID, &e.SourceIP,
			&e.Digest, &e.PrevHash, &e.Hash); err != nil {
			return fmt.Errorf("audit: read entries: %w", err)
		}
		switch {
		case e.Seq != want:
			return fmt.Errorf("entry %d is missing", want)
		case e.PrevHash != prev:
			return fmt.Errorf("entry %d does not link to the entry before it", e.Seq)
		case Hash(e) != e.Hash:
			return fmt.Errorf("entry %d does not match its hash", e.Seq)
		}
		want, prev = want+1, e.Hash
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit: read entries: %w", err)
	}
	if want <= toSeq {
		return fmt.Errorf("entry %d is missing", want)
	}
	if prev != toHash {
		return fmt.Errorf("entry %d does not match the chain head", toSeq)
	}
	return nil
}

const checkpointColumns = "seq, hash, at, node, key_id, signature"

func scanCheckpoint(row interface{ Scan(...any) error }) (Checkpoint, error) {
	cp := Checkpoint{Version: CheckpointVersion}
	err := row.Scan(&cp.Seq, &cp.Hash, &cp.At, &cp.Node, &cp.KeyID, &cp.Signature)
	cp.At = cp.At.UTC()
	return cp, err
}

// newestCheckpoint is the stored checkpoint of the highest sequence
// number; found is false when there is none.
func newestCheckpoint(ctx context.Context, q db.Querier) (Checkpoint, bool, error) {
	cp, err := scanCheckpoint(q.QueryRowContext(ctx, "SELECT "+checkpointColumns+" FROM audit_checkpoints ORDER BY seq DESC LIMIT 1"))
	if errors.Is(err, sql.ErrNoRows) {
		return Checkpoint{}, false, nil
	}
	if err != nil {
		return Checkpoint{}, false, fmt.Errorf("audit checkpoint: read newest: %w", err)
	}
	return cp, true, nil
}

// storedCheckpoints returns up to limit stored checkpoints after sequence
// number after, oldest first.
func storedCheckpoints(ctx context.Context, q db.Querier, after int64, limit int) ([]Checkpoint, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+checkpointColumns+" FROM audit_checkpoints WHERE seq > $1 ORDER BY seq LIMIT $2",
		after, limit)
	return db.Collect(rows, err, "audit checkpoints", func(r *sql.Rows) (Checkpoint, error) { return scanCheckpoint(r) })
}

// MaxCheckpointList caps one page of ListCheckpoints.
const MaxCheckpointList = 10000

// ListCheckpoints returns up to limit (1000 when 0, at most
// MaxCheckpointList) checkpoints after sequence number after, oldest
// first, for a caller holding authz.AuditRead.
func (c *Checkpointer) ListCheckpoints(ctx context.Context, after int64, limit int) ([]Checkpoint, error) {
	if _, err := authz.Check(ctx, authz.AuditRead); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxCheckpointList {
		limit = 1000
	}
	return storedCheckpoints(ctx, c.d.R, max(after, 0), limit)
}

// deliver sends each publisher the stored checkpoints it has not had,
// oldest first, recording its progress after each; a failing publisher is
// tried again after a growing pause and does not hold up the others.
func (c *Checkpointer) deliver(ctx context.Context) error {
	var errs []error
	for _, p := range c.opt.Publishers {
		dest := p.Destination()
		if !c.due(dest) {
			continue
		}
		err := c.deliverTo(ctx, p, dest)
		c.settle(dest, err)
		if err != nil {
			errs = append(errs, fmt.Errorf("audit checkpoint: publish to %s: %w", dest, err))
		}
	}
	return errors.Join(errs...)
}

func (c *Checkpointer) deliverTo(ctx context.Context, p Publisher, dest string) error {
	var done int64
	err := c.d.R.QueryRowContext(ctx, "SELECT seq FROM audit_checkpoint_deliveries WHERE destination = $1", dest).Scan(&done)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	cps, err := storedCheckpoints(ctx, c.d.R, done, deliveryBatch)
	if err != nil {
		return err
	}
	for _, cp := range cps {
		if err := p.Publish(ctx, cp); err != nil {
			return err
		}
		err := c.d.Write(ctx, func(tx *sql.Tx) error {
			_, err := tx.ExecContext(ctx, `INSERT INTO audit_checkpoint_deliveries (destination, seq) VALUES ($1, $2)
				ON CONFLICT (destination) DO UPDATE SET seq = excluded.seq`, dest, cp.Seq)
			return err
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// due reports whether dest may be tried now.
func (c *Checkpointer) due(dest string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.clock.Now().Before(c.retry[dest].after)
}

// settle clears dest's pause after a success, or doubles it after a failure.
func (c *Checkpointer) settle(dest string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err == nil {
		delete(c.retry, dest)
		return
	}
	b := c.retry[dest]
	b.wait = min(max(2*b.wait, time.Second), maxDeliveryBackoff)
	b.after = c.clock.Now().Add(b.wait)
	c.retry[dest] = b
}
