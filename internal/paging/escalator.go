package paging

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
)

// maxDue caps the pages one Tick advances and the messages one delivery
// round claims.
const maxDue = 256

// Run works the escalator until ctx ends: on every wake-up (Wake) and at
// least every PollInterval it calls Tick.
func (p *Pager) Run(ctx context.Context) {
	if err := p.recoverSending(ctx); err != nil && ctx.Err() == nil {
		p.log.ErrorContext(ctx, "paging_recover_failed", "error", err)
	}
	// The lease is renewed until every send and record of the last round
	// is done, after ctx ends, and then given up.
	hbCtx, stopHeartbeat := context.WithCancel(context.WithoutCancel(ctx))
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		p.heartbeat(hbCtx)
	}()
	defer func() {
		stopHeartbeat()
		<-hbDone
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.opts.RecordTimeout)
		defer cancel()
		if err := p.leave(lctx); err != nil {
			p.log.ErrorContext(lctx, "paging_leave_failed", "error", err)
		}
	}()
	t := time.NewTicker(p.opts.PollInterval)
	defer t.Stop()
	for {
		if err := p.Tick(ctx); err != nil && ctx.Err() == nil {
			p.log.ErrorContext(ctx, "paging_tick_failed", "error", err)
		}
		p.metrics.rounds.Inc()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.wake:
		}
	}
}

// recoverSending hands back to the queue, on SQLite, every message left
// "sending" by a Ward that stopped without recording it (a crash): an
// SQLite database has one Ward, so nobody else is sending them, and they
// go out again now rather than when their lease runs out. The receiver
// tells a re-send by its notification id. On PostgreSQL another node may
// be sending them: the lease decides.
func (p *Pager) recoverSending(ctx context.Context) error {
	if p.db.Dialect != db.SQLite {
		return nil
	}
	return p.db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE notifications SET status = $1, lease_until = NULL WHERE status = $2`,
			statusQueued, statusSending)
		if err != nil {
			return fmt.Errorf("recover notifications left sending: %w", err)
		}
		if n, _ := res.RowsAffected(); n > 0 {
			p.log.WarnContext(ctx, "notifications_recovered", "count", n)
		}
		return nil
	})
}

// Tick does everything due by Ward's clock: it moves each due page to its
// next step (or pages again after an acknowledgement timeout), releases
// scheduled messages whose time has come and abandoned leases, and sends
// every queued message. Each stage goes on when another fails, and a page
// that cannot be moved on spares the others: its failure is logged and
// counted (ward_paging_errors_total), and it is tried again on the next
// Tick, as its next_at is still due. The error returned joins what failed.
func (p *Pager) Tick(ctx context.Context) error {
	ctx = authz.WithActor(ctx, authz.System)
	now := p.clock.Now()
	due, err := p.duePages(ctx, now)
	if err != nil {
		p.metrics.errors.WithLabelValues("advance").Inc()
	}
	errs := []error{err}
	failed := 0
	for _, id := range due {
		if err := p.advance(ctx, id, now); err != nil {
			if ctx.Err() != nil {
				return errors.Join(append(errs, err)...)
			}
			failed++
			p.metrics.errors.WithLabelValues("advance").Inc()
			p.log.ErrorContext(ctx, "page_advance_failed", "page_id", id, "error", err)
		}
	}
	if failed > 0 {
		errs = append(errs, fmt.Errorf("%d of %d due pages could not be moved on", failed, len(due)))
	}
	if err := p.release(ctx, now); err != nil {
		p.metrics.errors.WithLabelValues("release").Inc()
		errs = append(errs, err)
	}
	if err := p.deliver(ctx); err != nil {
		p.metrics.errors.WithLabelValues("deliver").Inc()
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// duePages lists the pages whose next step is due, oldest first.
func (p *Pager) duePages(ctx context.Context, now time.Time) ([]string, error) {
	rows, err := p.db.R.QueryContext(ctx, `SELECT id FROM pages WHERE next_at IS NOT NULL AND next_at <= $1
		ORDER BY next_at LIMIT $2`, now, maxDue)
	if err != nil {
		return nil, fmt.Errorf("find due pages: %w", err)
	}
	defer rows.Close()
	var due []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		due = append(due, id)
	}
	return due, rows.Err()
}

// release makes scheduled messages whose time has come, and messages
// whose sender's lease lapsed, ready to send.
func (p *Pager) release(ctx context.Context, now time.Time) error {
	// A read first: during a storm the escalator runs for every commit,
	// and a write that finds nothing to do would wait behind intake.
	var due bool
	if err := p.db.R.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM notifications WHERE status = $1 AND due_at <= $2)
		OR EXISTS (SELECT 1 FROM notifications WHERE status = $3 AND (lease_until < $2 OR claimed_by IS NOT NULL
			AND NOT EXISTS (SELECT 1 FROM paging_nodes n WHERE n.id = notifications.claimed_by AND n.lease_until >= $2)))`,
		statusScheduled, now, statusSending).Scan(&due); err != nil {
		return fmt.Errorf("find notifications to release: %w", err)
	}
	if !due {
		return nil
	}
	return p.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE notifications SET status = $1 WHERE status = $2 AND due_at <= $3`,
			statusQueued, statusScheduled, now); err != nil {
			return fmt.Errorf("release scheduled notifications: %w", err)
		}
		return p.reclaim(ctx, tx, now)
	})
}

// advance moves page id on, if it is still due: another node may have
// done it already.
func (p *Pager) advance(ctx context.Context, id string, now time.Time) error {
	return p.db.Write(ctx, func(tx *sql.Tx) error {
		pg, err := lockedPage(ctx, p.db, tx, "id", id)
		if errors.Is(err, sql.ErrNoRows) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read page: %w", err)
		}
		if pg.NextAt == nil || now.Before(*pg.NextAt) {
			return nil
		}
		var status string
		if err := tx.QueryRowContext(ctx, `SELECT status FROM incidents WHERE id = $1`, pg.IncidentID).Scan(&status); err != nil {
			return fmt.Errorf("read incident: %w", err)
		}
		if status == string(incident.Closed) {
			return p.resolveTx(ctx, tx, &pg, now, "ward", "The incident is closed: paging ended.")
		}
		pol, err := getPolicy(ctx, tx, pg.PolicyID)
		if err != nil {
			return err
		}
		switch pg.Status {
		case PageAcknowledged:
			pg.Status, pg.Step, pg.Round, pg.AcknowledgedAt, pg.AcknowledgedBy = PageTriggered, 0, 0, nil, ""
			clearAlarm(&pg)
			if _, err := setAlerts(ctx, tx, pg.IncidentID, alert.StatusTriggered, now); err != nil {
				return err
			}
			if err := p.retriggerTx(ctx, tx, &pg, now); err != nil {
				return err
			}
			return p.runStep(ctx, tx, &pg, now, fmt.Sprintf("Acknowledged but not resolved within %d minutes: paging again. ",
				pol.AckTimeoutMinutes))
		case PageTriggered:
			step, round, ok := NextStep(pol, pg.Step, pg.Round)
			if !ok {
				pg.NextAt = nil
				pg.Step, pg.Round = len(pol.Steps)-1, pol.Repeat
				if err := p.raiseTx(ctx, tx, &pg, AlarmUnacknowledged, unacknowledgedReason(pol), now); err != nil {
					return err
				}
				if err := savePage(ctx, p.db.In(tx), &pg); err != nil {
					return err
				}
				p.log.WarnContext(ctx, "page_unacknowledged", "page_id", pg.ID, "incident_id", pg.IncidentID)
				if err := p.pageStatusTx(ctx, tx, &pg, eventUnacknowledged,
					statusLine(eventUnacknowledged, "by anyone: the escalation policy ran out")); err != nil {
					return err
				}
				return p.incidents.RecordPagingTx(ctx, tx, pg.IncidentID,
					"NOBODY ACKNOWLEDGED: the escalation policy ran every step and repeat; no one else will be paged.")
			}
			pg.Step, pg.Round = step, round
			detail := fmt.Sprintf("to step %d of %d", pg.Step+1, len(pol.Steps))
			if pg.Round > 0 {
				detail += fmt.Sprintf(", repeat %d", pg.Round)
			}
			if err := p.pageStatusTx(ctx, tx, &pg, eventEscalated, statusLine(eventEscalated, detail)); err != nil {
				return err
			}
			return p.runStep(ctx, tx, &pg, now, "Not acknowledged: escalating. ")
		}
		pg.NextAt = nil
		return savePage(ctx, p.db.In(tx), &pg)
	})
}
