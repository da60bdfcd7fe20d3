package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/wardhq/ward/internal/db"
)

// How entries get into the chain (docs/AUDIT.md, "Chaining"). Append
// inserts an entry, unchained, into audit_pending inside the caller's
// transaction: every change still commits with its audit record or not at
// all, and no writer takes a lock that another writer needs. A round then
// moves committed pending entries into audit_log, in id order, under the
// chain head's row lock: it numbers them on from the head, links and
// hashes them exactly as before, deletes them from audit_pending and moves
// the head, in one transaction. Rounds are serialised by the head's lock,
// so sequence numbers are contiguous and audit_log rows commit in order.
//
// Who runs rounds: on SQLite, none for the group committer's transactions,
// which chain each entry as Append writes it (db.ChainsInline: one writer,
// nothing waits); a round there only chains what a write outside the
// committer left. On PostgreSQL, the writer once its transaction
// committed, through its process's chainer (group rounds: the writers that
// committed while one round ran are served by the next, one round for
// all); a round takes the head's lock only with SKIP LOCKED, so it never
// queues in the database behind another, and tries again shortly when
// another round holds it. Write returns once the writer's entries are
// chained, as before. The Sequencer chains whatever
// a writer left (it died after its commit, or gave up waiting).

// Defaults of the chaining rounds.
const (
	// ChainBatch caps the entries one round chains.
	ChainBatch = 1000
	// SettleTimeout caps how long a writer, or Flush, waits for entries to
	// be chained.
	SettleTimeout = 10 * time.Second
)

// ErrNotChained is returned by Flush when entries stay unchained past
// SettleTimeout.
var ErrNotChained = errors.New("audit: entries recorded before this read are not in the chain yet")

// settleLog receives the warnings of writers whose entries were left to
// the Sequencer; the Sequencer of this process sets it.
var settleLog struct {
	sync.Mutex
	log *slog.Logger
}

func init() {
	db.SetHooks(db.Hooks{AfterCommit: afterCommit, Done: forget})
}

// unchained holds the transactions that inserted pending entries, to be
// chained once they commit (afterCommit).
var unchained sync.Map // *sql.Tx → struct{}

// noteUnchained notes that q, a transaction or one's statements, inserted
// a pending entry.
func noteUnchained(q db.Querier) {
	if tx := txOf(q); tx != nil {
		unchained.Store(tx, struct{}{})
	}
}

func forget(tx *sql.Tx) {
	unchained.Delete(tx)
}

// txOf is the transaction q is, or runs in; nil for neither.
func txOf(q db.Querier) *sql.Tx {
	switch t := q.(type) {
	case *sql.Tx:
		return t
	case interface{ Tx() *sql.Tx }:
		return t.Tx()
	}
	return nil
}

// afterCommit chains, on PostgreSQL, the entries of a transaction that
// committed: it joins the process's next group round (chainer), which,
// started after this commit, chains every entry committed before it. When
// it returns they are chained, or left to the Sequencer with a warning
// (the change is committed either way).
func afterCommit(ctx context.Context, d *db.DB, tx *sql.Tx) {
	if _, ok := unchained.LoadAndDelete(tx); !ok {
		return
	}
	ctx = context.WithoutCancel(ctx)
	if err := chainerOf(d).wait(ctx, d); err != nil {
		settleLog.Lock()
		log := settleLog.log
		settleLog.Unlock()
		if log != nil {
			log.WarnContext(ctx, "audit_entries_left_to_sequencer", "error", err)
		}
	}
}

// A chainer runs the rounds of one process's writers on PostgreSQL as a
// group commit does its commits: a writer that committed joins the next
// round and waits; one goroutine runs a round for all who joined while
// the one before ran. A round costs a transaction of its own (lock the
// head, take the pending entries, insert them, move the head, commit), so
// N writers committing together cost one round, not N rounds or N tries
// and re-checks of the head's lock.
type chainer struct {
	mu      sync.Mutex
	next    *groupRound // what writers join: the round after the running one
	running bool
}

// groupRound is one round of a chainer; done is closed once it ended,
// with err nil if every entry committed before it started is chained.
type groupRound struct {
	done chan struct{}
	err  error
}

// chainerKey keeps a database's chainer (db.DB.Shared).
type chainerKey struct{}

func chainerOf(d *db.DB) *chainer {
	return d.Shared(chainerKey{}, func() any { return &chainer{} }).(*chainer)
}

// wait joins the next round, starting the chainer if it is idle, and
// returns the round's outcome.
func (c *chainer) wait(ctx context.Context, d *db.DB) error {
	c.mu.Lock()
	if c.next == nil {
		c.next = &groupRound{done: make(chan struct{})}
	}
	r := c.next
	if !c.running {
		c.running = true
		go c.run(d)
	}
	c.mu.Unlock()
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// run runs rounds while writers wait for one.
func (c *chainer) run(d *db.DB) {
	for {
		c.mu.Lock()
		r := c.next
		c.next = nil
		if r == nil {
			c.running = false
			c.mu.Unlock()
			return
		}
		c.mu.Unlock()
		r.err = chainCommitted(d)
		close(r.done)
	}
}

// chainCommitted returns once every entry committed before it began is in
// the chain: it runs rounds until one, holding the head, chains less than
// a full batch. While another round holds the head (the sequencer, another
// node's writers, Flush), it tries again after a short growing pause (0.2
// to 5 ms); it fails with ErrNotChained after SettleTimeout.
func chainCommitted(d *db.DB) error {
	ctx, cancel := context.WithTimeout(context.Background(), SettleTimeout)
	defer cancel()
	pause := 200 * time.Microsecond
	for {
		n, locked, err := Round(ctx, d)
		switch {
		case err != nil && ctx.Err() != nil:
			return fmt.Errorf("%w after %s", ErrNotChained, SettleTimeout)
		case err != nil:
			return err
		case locked && n < ChainBatch:
			return nil
		case locked:
			continue
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w after %s", ErrNotChained, SettleTimeout)
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Millisecond)
	}
}

// Flush returns once every audit entry committed before the call is in
// the chain, running rounds itself when no other is running; it fails with
// ErrNotChained after SettleTimeout. Readers of the trail that must see
// every committed change call it (backups, checkpoints, verification).
func Flush(ctx context.Context, d *db.DB) error {
	var upto sql.NullInt64
	if err := d.R.QueryRowContext(ctx, "SELECT max(id) FROM audit_pending").Scan(&upto); err != nil {
		return fmt.Errorf("audit: read pending entries: %w", err)
	}
	if !upto.Valid {
		return nil
	}
	return settle(ctx, d, upto.Int64)
}

// settle returns once no pending entry numbered up to upto is left,
// running rounds while the head's lock is free and waiting while another
// round holds it.
func settle(ctx context.Context, d *db.DB, upto int64) error {
	deadline := time.Now().Add(SettleTimeout)
	pause := 200 * time.Microsecond
	for first := true; ; first = false {
		if !first {
			var left bool
			if err := d.R.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM audit_pending WHERE id <= $1)", upto).Scan(&left); err != nil {
				return fmt.Errorf("audit: read pending entries: %w", err)
			}
			if !left {
				return nil
			}
		}
		n, locked, err := Round(ctx, d)
		if err != nil {
			return err
		}
		if locked {
			// The round took every pending entry it could see, ours
			// among them, unless it stopped at a full batch.
			if n < ChainBatch {
				return nil
			}
			continue
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%w after %s: entry %d is still waiting", ErrNotChained, SettleTimeout, upto)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pause):
		}
		pause = min(2*pause, 5*time.Millisecond)
	}
}

// Round runs one chaining round in a transaction of its own: it chains up
// to ChainBatch committed pending entries and returns how many. On
// PostgreSQL it skips the round (locked false) when another holds the
// chain head's lock, instead of waiting for it.
func Round(ctx context.Context, d *db.DB) (n int, locked bool, err error) {
	err = d.Write(ctx, func(tx *sql.Tx) error {
		var err error
		n, locked, err = round(ctx, d.Dialect, tx, d.Dialect == db.Postgres)
		return err
	})
	return n, locked, err
}

// round chains up to ChainBatch pending entries inside tx. With skip (on
// PostgreSQL) it locks the head with SKIP LOCKED and does nothing when
// another transaction holds it.
func round(ctx context.Context, d db.Dialect, tx *sql.Tx, skip bool) (n int, locked bool, err error) {
	var headSeq int64
	var headHash string
	lock := ""
	if d == db.Postgres {
		lock = " FOR UPDATE"
		if skip {
			lock += " SKIP LOCKED"
		}
	}
	// The head is locked before the pending entries are read, so the read
	// sees what the round before this one left.
	err = tx.QueryRowContext(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1"+lock).Scan(&headSeq, &headHash)
	if errors.Is(err, sql.ErrNoRows) {
		var rows int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM audit_head").Scan(&rows); err != nil {
			return 0, false, fmt.Errorf("audit chain: read head: %w", err)
		}
		if rows == 0 {
			return 0, false, errors.New("audit chain: the chain head (the audit_head row) is missing: the trail was tampered with")
		}
		return 0, false, nil // another round holds it
	}
	if err != nil {
		return 0, false, fmt.Errorf("audit chain: lock head: %w", err)
	}
	// Taken out of the pending table in one statement, under the head's
	// lock: no other round can take them too.
	rows, err := tx.QueryContext(ctx, `DELETE FROM audit_pending WHERE id IN (SELECT id FROM audit_pending ORDER BY id LIMIT $1)
		RETURNING id, at, actor, action, object_type, object_id, request_id, source_ip, digest`, ChainBatch)
	if err != nil {
		return 0, true, fmt.Errorf("audit chain: take pending entries: %w", err)
	}
	type taken struct {
		id int64
		e  Entry
	}
	var ts []taken
	for rows.Next() {
		var t taken
		if err := rows.Scan(&t.id, &t.e.At, &t.e.Actor, &t.e.Action, &t.e.ObjectType, &t.e.ObjectID, &t.e.RequestID, &t.e.SourceIP, &t.e.Digest); err != nil {
			rows.Close()
			return 0, true, fmt.Errorf("audit chain: take pending entries: %w", err)
		}
		ts = append(ts, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, true, fmt.Errorf("audit chain: take pending entries: %w", err)
	}
	if len(ts) == 0 {
		return 0, true, nil
	}
	// RETURNING gives no order: the chain takes them in id order.
	sort.Slice(ts, func(i, j int) bool { return ts[i].id < ts[j].id })
	// Chunks of 100 rows keep the statements few and their text reused.
	const chunk = 100
	args := make([]any, 0, chunk*11)
	for lo := 0; lo < len(ts); lo += chunk {
		part := ts[lo:min(lo+chunk, len(ts))]
		args = args[:0]
		values := make([]string, len(part))
		for i := range part {
			e := &part[i].e
			headSeq++
			e.Seq, e.PrevHash = headSeq, headHash
			e.Hash = Hash(*e)
			headHash = e.Hash
			values[i] = placeholders(len(args), 11)
			args = append(args, e.Seq, e.At, e.Actor, e.Action, e.ObjectType, e.ObjectID, e.RequestID, e.SourceIP, e.Digest, e.PrevHash, e.Hash)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log
			(seq, at, actor, action, object_type, object_id, request_id, source_ip, digest, prev_hash, hash)
			VALUES `+strings.Join(values, ", "), args...); err != nil {
			return 0, true, fmt.Errorf("audit chain: insert: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", headSeq, headHash); err != nil {
		return 0, true, fmt.Errorf("audit chain: store head: %w", err)
	}
	return len(ts), true, nil
}

// placeholders is "($from+1, …, $from+n)".
func placeholders(from, n int) string {
	var b strings.Builder
	b.WriteByte('(')
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "$%d", from+i+1)
	}
	b.WriteByte(')')
	return b.String()
}
