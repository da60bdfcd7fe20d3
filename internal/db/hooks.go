package db

import (
	"context"
	"database/sql"
	"sync"
)

// Hooks let package audit chain the entries a write transaction recorded
// without package db knowing the audit trail (docs/AUDIT.md): on
// PostgreSQL, AfterCommit chains them (or waits until another transaction
// has) once the transaction committed, so that no writer holds the chain
// head's row lock while it works. Done tells the hooks that a transaction
// ended either way. (On SQLite the committer's transactions chain their
// entries as they are appended: ChainsInline.)
type Hooks struct {
	AfterCommit func(ctx context.Context, d *DB, tx *sql.Tx)
	Done        func(tx *sql.Tx)
}

var hooks Hooks

// SetHooks installs the hooks; package audit does, once, as it loads.
func SetHooks(h Hooks) { hooks = h }

func afterCommit(ctx context.Context, d *DB, tx *sql.Tx) {
	if hooks.AfterCommit != nil {
		hooks.AfterCommit(ctx, d, tx)
	}
}

// inline holds the transactions the SQLite committer runs. SQLite has one
// writer, so an audit entry chained inside one of them, under the chain
// head, keeps no other writer waiting: package audit chains there at
// once rather than through audit_pending (ChainsInline).
var inline sync.Map // *sql.Tx → struct{}

// ChainsInline reports whether tx is a transaction of the SQLite
// committer, in which an audit entry is chained as it is appended.
func ChainsInline(tx *sql.Tx) bool {
	_, ok := inline.Load(tx)
	return ok
}

func done(tx *sql.Tx) {
	inline.Delete(tx)
	commits.Delete(tx)
	memos.Delete(tx)
	if hooks.Done != nil {
		hooks.Done(tx)
	}
}

// commits holds, per transaction of Write, what to run once it commits
// (OnCommit).
var commits sync.Map // *sql.Tx → *[]func()

// OnCommit runs fn once tx, a transaction of Write, has committed, and
// never if it rolls back; a write that shares an SQLite transaction and
// fails alone (its savepoint rolled back) drops what it registered. It is
// for what must count only what became durable, such as metrics.
func OnCommit(tx *sql.Tx, fn func()) {
	v, _ := commits.LoadOrStore(tx, new([]func()))
	fns := v.(*[]func())
	*fns = append(*fns, fn)
}

// registered is how many functions OnCommit holds for tx.
func registered(tx *sql.Tx) int {
	v, ok := commits.Load(tx)
	if !ok {
		return 0
	}
	return len(*v.(*[]func()))
}

// dropAfter forgets the functions registered for tx after the first n:
// the write that registered them was rolled back.
func dropAfter(tx *sql.Tx, n int) {
	if v, ok := commits.Load(tx); ok {
		fns := v.(*[]func())
		*fns = (*fns)[:n]
	}
}

// committed runs what OnCommit registered for tx, which has committed.
func committed(tx *sql.Tx) {
	v, ok := commits.LoadAndDelete(tx)
	if !ok {
		return
	}
	for _, fn := range *v.(*[]func()) {
		fn()
	}
}

// memos holds, per transaction of Write, values its statements read that
// later statements of it may reuse instead of reading again (Remember).
var memos sync.Map // *sql.Tx → *sync.Map

// Remember keeps v under key for the rest of tx, a transaction of Write,
// for Recall. A write that changes what v was read from calls Forget; a
// write that fails inside a shared SQLite transaction forgets every value
// of it.
func Remember(tx *sql.Tx, key, v any) {
	m, _ := memos.LoadOrStore(tx, new(sync.Map))
	m.(*sync.Map).Store(key, v)
}

// Recall returns what Remember kept under key in tx.
func Recall(tx *sql.Tx, key any) (any, bool) {
	m, ok := memos.Load(tx)
	if !ok {
		return nil, false
	}
	return m.(*sync.Map).Load(key)
}

// Forget drops what Remember kept under key in tx.
func Forget(tx *sql.Tx, key any) {
	if m, ok := memos.Load(tx); ok {
		m.(*sync.Map).Delete(key)
	}
}
