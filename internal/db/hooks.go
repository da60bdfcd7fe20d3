package db

import (
	"context"
	"database/sql"
)

// Hooks let package audit chain the entries a write transaction recorded
// without package db knowing the audit trail (docs/AUDIT.md): on SQLite,
// BeforeCommit chains them inside the transaction, once per group-commit
// batch; on PostgreSQL, AfterCommit chains them (or waits until another
// transaction has) once the transaction committed, so that no writer holds
// the chain head's row lock while it works. Done tells the hooks that a
// transaction ended either way.
type Hooks struct {
	BeforeCommit func(ctx context.Context, d Dialect, tx *sql.Tx) error
	AfterCommit  func(ctx context.Context, d *DB, tx *sql.Tx)
	Done         func(tx *sql.Tx)
}

var hooks Hooks

// SetHooks installs the hooks; package audit does, once, as it loads.
func SetHooks(h Hooks) { hooks = h }

func beforeCommit(ctx context.Context, d Dialect, tx *sql.Tx) error {
	if hooks.BeforeCommit == nil {
		return nil
	}
	return hooks.BeforeCommit(ctx, d, tx)
}

func afterCommit(ctx context.Context, d *DB, tx *sql.Tx) {
	if hooks.AfterCommit != nil {
		hooks.AfterCommit(ctx, d, tx)
	}
}

func done(tx *sql.Tx) {
	if hooks.Done != nil {
		hooks.Done(tx)
	}
}
