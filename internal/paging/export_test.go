package paging

import (
	"context"
	"database/sql"
	"time"
)

// Internals that a test drives one statement group at a time, to put two
// transactions' locks in a chosen order.

// LockPageForTest is AlertsResolvedTx's first step: page pageID read for
// change.
func (p *Pager) LockPageForTest(ctx context.Context, tx *sql.Tx, pageID string) error {
	_, err := lockedPage(ctx, p.db, tx, "id", pageID)
	return err
}

// CancelPendingForTest is resolveTx's first step.
func CancelPendingForTest(ctx context.Context, tx *sql.Tx, pageID string) error {
	return cancelPending(ctx, tx, pageID)
}

// ClaimForTest is a delivery round's claim, returning how many messages
// it took.
func (p *Pager) ClaimForTest(ctx context.Context, tx *sql.Tx, now time.Time) (int, error) {
	ds, err := p.claim(ctx, tx, now)
	return len(ds), err
}
