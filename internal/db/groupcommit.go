package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("database is closed")

// maxBatch caps how many writes share one SQLite transaction.
const maxBatch = 128

// writeReq is one caller's write waiting for the committer.
type writeReq struct {
	ctx  context.Context
	fn   func(*sql.Tx) error
	done chan error
}

// committer runs SQLite writes with group commit. SQLite allows one writer
// at a time and, with synchronous(FULL), each commit costs an fsync, so
// committing every request on its own caps throughput at the disk's fsync
// rate. The committer instead takes every write waiting at that moment, runs
// each inside its own SAVEPOINT of one transaction (a failing write is
// rolled back to its savepoint and fails alone), commits once, and only
// then answers each caller. An answer still means the write is durable;
// a lone write is not delayed, since a batch is whatever queued while the
// previous one committed. Audit entries are chained as they are appended,
// inside the batch's transaction (ChainsInline).
type committer struct {
	db     *sql.DB
	reqs   chan *writeReq
	quit   chan struct{}
	wg     sync.WaitGroup
	closed sync.Once
}

func newCommitter(w *sql.DB) *committer {
	c := &committer{db: w, reqs: make(chan *writeReq), quit: make(chan struct{})}
	c.wg.Add(1)
	go c.loop()
	return c
}

func (c *committer) write(ctx context.Context, fn func(*sql.Tx) error) error {
	r := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case c.reqs <- r:
	case <-ctx.Done():
		return ctx.Err()
	case <-c.quit:
		return ErrClosed
	}
	// Once handed over the write may run, so wait for its outcome even if
	// ctx ends: the caller must not guess whether it committed.
	return <-r.done
}

func (c *committer) close() {
	c.closed.Do(func() { close(c.quit) })
	c.wg.Wait()
}

func (c *committer) loop() {
	defer c.wg.Done()
	batch := make([]*writeReq, 0, maxBatch)
	for {
		select {
		case r := <-c.reqs:
			batch = append(batch[:0], r)
		case <-c.quit:
			return
		}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-c.reqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		c.run(batch)
	}
}

// run executes one batch in one transaction and answers every request.
func (c *committer) run(batch []*writeReq) {
	if len(batch) == 1 {
		r := batch[0]
		r.done <- c.runAlone(r)
		return
	}
	results := make([]error, len(batch))
	tx, err := c.db.BeginTx(context.Background(), nil)
	if err != nil {
		for _, r := range batch {
			r.done <- fmt.Errorf("begin: %w", err)
		}
		return
	}
	inline.Store(tx, struct{}{})
	defer done(tx)
	for i, r := range batch {
		results[i] = runSavepoint(tx, r)
	}
	commitErr := tx.Commit()
	if commitErr == nil {
		committed(tx)
	}
	for i, r := range batch {
		if results[i] == nil && commitErr != nil {
			results[i] = fmt.Errorf("commit: %w", commitErr)
		}
		r.done <- results[i]
	}
}

// runAlone runs a request in a transaction of its own.
func (c *committer) runAlone(r *writeReq) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	tx, err := c.db.BeginTx(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	inline.Store(tx, struct{}{})
	defer done(tx)
	if err := call(tx, r); err != nil {
		_ = tx.Rollback()
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	committed(tx)
	return nil
}

// runSavepoint runs a request inside a savepoint of a shared transaction,
// rolling back to the savepoint if it fails.
func runSavepoint(tx *sql.Tx, r *writeReq) error {
	if err := r.ctx.Err(); err != nil {
		return err
	}
	bg := context.Background()
	if _, err := tx.ExecContext(bg, "SAVEPOINT ward_write"); err != nil {
		return fmt.Errorf("savepoint: %w", err)
	}
	n := registered(tx)
	err := call(tx, r)
	if err != nil {
		dropAfter(tx, n)
		memos.Delete(tx)
		if _, rbErr := tx.ExecContext(bg, "ROLLBACK TO ward_write"); rbErr != nil {
			err = errors.Join(err, rbErr)
		}
	}
	if _, relErr := tx.ExecContext(bg, "RELEASE ward_write"); relErr != nil && err == nil {
		err = fmt.Errorf("release savepoint: %w", relErr)
	}
	return err
}

// call runs the request's function, turning a panic into an error so that
// one bad write cannot take the committer down.
func call(tx *sql.Tx, r *writeReq) (err error) {
	defer func() {
		if v := recover(); v != nil {
			err = fmt.Errorf("write panicked: %v", v)
		}
	}()
	return r.fn(tx)
}
