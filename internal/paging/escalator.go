package paging

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/incident"
)

// maxDue caps the pages one Tick advances and the messages one delivery
// round claims.
const maxDue = 256

// Run works the escalator until ctx ends: on every wake-up (Wake) and at
// least every PollInterval it calls Tick.
func (p *Pager) Run(ctx context.Context) {
	t := time.NewTicker(p.opts.PollInterval)
	defer t.Stop()
	for {
		if err := p.Tick(ctx); err != nil && ctx.Err() == nil {
			p.log.ErrorContext(ctx, "paging_tick_failed", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-p.wake:
		}
	}
}

// Tick does everything due by Ward's clock: it moves each due page to its
// next step (or pages again after an acknowledgement timeout), releases
// scheduled messages whose time has come and abandoned leases, and sends
// every queued message.
func (p *Pager) Tick(ctx context.Context) error {
	ctx = authz.WithActor(ctx, authz.System)
	now := p.clock.Now()
	// One read finds the due pages (pages_due) and whether any message
	// waits: to be released, to have its lease ended, or to be sent
	// (notifications_queue). An idle round stops there, having written
	// nothing.
	rows, err := p.db.R.QueryContext(ctx, `SELECT id FROM (SELECT id FROM pages WHERE next_at IS NOT NULL AND next_at <= $1
		ORDER BY next_at LIMIT $2) d
		UNION ALL SELECT '' WHERE EXISTS (SELECT 1 FROM notifications WHERE status = $3 AND due_at <= $1)
			OR EXISTS (SELECT 1 FROM notifications WHERE status = $4 AND lease_until < $1)
			OR EXISTS (SELECT 1 FROM notifications WHERE status = $5)`, now, maxDue, statusScheduled, statusSending, statusQueued)
	if err != nil {
		return fmt.Errorf("find due pages: %w", err)
	}
	var due []string
	waiting := false
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		if id == "" {
			waiting = true
		} else {
			due = append(due, id)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(due) == 0 && !waiting {
		return nil
	}
	for _, id := range due {
		if err := p.advance(ctx, id, now); err != nil {
			return fmt.Errorf("page %s: %w", id, err)
		}
	}
	if err := p.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE notifications SET status = $1 WHERE status = $2 AND due_at <= $3`,
			statusQueued, statusScheduled, now); err != nil {
			return fmt.Errorf("release scheduled notifications: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE notifications SET status = $1, lease_until = NULL WHERE status = $2 AND lease_until < $3`,
			statusQueued, statusSending, now); err != nil {
			return fmt.Errorf("release leases: %w", err)
		}
		return nil
	}); err != nil {
		return err
	}
	return p.deliver(ctx)
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
			return p.runStep(ctx, tx, &pg, now, fmt.Sprintf("Acknowledged but not resolved within %d minutes: paging again. ",
				pol.AckTimeoutMinutes))
		case PageTriggered:
			pg.Step++
			if pg.Step >= len(pol.Steps) {
				pg.Step, pg.Round = 0, pg.Round+1
			}
			if pg.Round > pol.Repeat {
				pg.NextAt = nil
				pg.Step, pg.Round = len(pol.Steps)-1, pol.Repeat
				if err := savePage(ctx, tx, &pg); err != nil {
					return err
				}
				p.log.WarnContext(ctx, "page_unacknowledged", "page_id", pg.ID, "incident_id", pg.IncidentID)
				return p.incidents.RecordPagingTx(ctx, tx, pg.IncidentID,
					"NOBODY ACKNOWLEDGED: the escalation policy ran every step and repeat; no one else will be paged.")
			}
			return p.runStep(ctx, tx, &pg, now, "Not acknowledged: escalating. ")
		}
		pg.NextAt = nil
		return savePage(ctx, tx, &pg)
	})
}
