package paging

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// A node is one Pager among the Ward nodes delivering from one database.
// It holds the messages it claims by its lease, a row of paging_nodes
// that it renews every NodeLease/5 while it is alive. Another node takes
// a message over (release) only once its claimer's lease has lapsed, and
// a node sends a message only while its own lease holds, stopping
// NodeLease/5 short of the lapse so that a clock a little ahead on
// another node does not make two senders. A node that dies costs its
// messages one NodeLease at most, not the message lease (Lease).
type node struct {
	id string

	mu    sync.Mutex
	until time.Time          // by Ward's clock: the lease as last renewed
	held  context.Context    // ends when the lease is found lapsed
	drop  context.CancelFunc // ends held
}

func newNode() *node {
	n := &node{id: newID()}
	n.held, n.drop = context.WithCancel(context.Background())
	return n
}

// margin is how long before its lease lapses a node stops sending.
func (p *Pager) margin() time.Duration { return p.opts.NodeLease / 5 }

// holding reports whether the lease holds at now, and if it does returns
// a context that ends when the lease is found lapsed (heartbeat).
func (p *Pager) holding(now time.Time) (context.Context, bool) {
	n := p.node
	n.mu.Lock()
	defer n.mu.Unlock()
	if !now.Before(n.until.Add(-p.margin())) {
		return nil, false
	}
	return n.held, true
}

// renewLease records that this node is alive for NodeLease from now.
func (p *Pager) renewLease(ctx context.Context) error {
	now := p.clock.Now()
	until := now.Add(p.opts.NodeLease)
	err := p.db.Write(ctx, func(tx *sql.Tx) error {
		res, err := p.db.In(tx).ExecContext(ctx, `UPDATE paging_nodes SET lease_until = $1 WHERE id = $2`, until, p.node.id)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n == 1 {
			return err
		}
		// A node's first lease (or one whose row was forgotten): nodes
		// that lapsed an hour ago are forgotten now.
		if _, err := tx.ExecContext(ctx, `DELETE FROM paging_nodes WHERE lease_until < $1`, now.Add(-time.Hour)); err != nil {
			return fmt.Errorf("forget lapsed paging nodes: %w", err)
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO paging_nodes (id, started_at, lease_until) VALUES ($1, $2, $3)`, p.node.id, now, until)
		return err
	})
	if err != nil {
		return fmt.Errorf("renew the paging lease: %w", err)
	}
	n := p.node
	n.mu.Lock()
	defer n.mu.Unlock()
	if until.After(n.until) {
		n.until = until
	}
	return nil
}

// ensureLease renews the lease when less than half of it is left, so a
// round claimed now can be sent under it.
func (p *Pager) ensureLease(ctx context.Context, now time.Time) error {
	if _, ok := p.holding(now.Add(p.opts.NodeLease / 2)); ok {
		return nil
	}
	return p.renewLease(ctx)
}

// heartbeat renews the lease every NodeLease/5 until ctx ends. When a
// renewal fails and the lease lapses, sends on their way are cut short
// (they go back to the queue): another node may be taking them over.
func (p *Pager) heartbeat(ctx context.Context) {
	t := time.NewTicker(p.opts.NodeLease / 5)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := p.renewLease(ctx); err != nil && ctx.Err() == nil {
			p.metrics.errors.WithLabelValues("lease").Inc()
			p.log.ErrorContext(ctx, "paging_lease_renew_failed", "error", err)
		}
		if _, ok := p.holding(p.clock.Now()); !ok {
			n := p.node
			n.mu.Lock()
			n.drop()
			n.held, n.drop = context.WithCancel(context.Background())
			n.mu.Unlock()
		}
	}
}

// leave ends this node's lease as it stops: whatever it still holds goes
// back to the queue, and its row goes, so other nodes take its work at
// once rather than when the lease would have lapsed.
func (p *Pager) leave(ctx context.Context) error {
	return p.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE notifications SET status = $1, lease_until = NULL WHERE status = $2 AND claimed_by = $3`,
			statusQueued, statusSending, p.node.id); err != nil {
			return fmt.Errorf("hand back notifications: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM paging_nodes WHERE id = $1`, p.node.id); err != nil {
			return fmt.Errorf("end the paging lease: %w", err)
		}
		return nil
	})
}

// reclaimSQL hands back to the queue messages whose sender can no longer
// be sending them: its lease has lapsed (it died, or lost the database),
// or the message's own lease ran out.
const reclaimSQL = `UPDATE notifications SET status = $1, lease_until = NULL WHERE status = $2
	AND (lease_until < $3 OR claimed_by IS NOT NULL AND NOT EXISTS (SELECT 1 FROM paging_nodes n
		WHERE n.id = notifications.claimed_by AND n.lease_until >= $3))`

// reclaim runs reclaimSQL in tx and counts what it handed back.
func (p *Pager) reclaim(ctx context.Context, tx *sql.Tx, now time.Time) error {
	res, err := tx.ExecContext(ctx, reclaimSQL, statusQueued, statusSending, now)
	if err != nil {
		return fmt.Errorf("reclaim notifications: %w", err)
	}
	if n, _ := res.RowsAffected(); n > 0 {
		p.log.WarnContext(ctx, "notifications_reclaimed", "count", n)
		p.metrics.reclaimed.Add(float64(n))
	}
	return nil
}
