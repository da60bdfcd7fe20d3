package paging

import (
	"context"
	"database/sql"
	"fmt"
)

// NotifyOfficersTx queues a message to every active Security Officer on
// each of their verified contact methods, at once and regardless of their
// notification rules: emergency access to a restricted incident was
// granted (45 CFR 164.312(a)(2)(ii)). It implements
// incident.OfficerNotifier. The message names the incident and who broke
// the glass, never the reason given.
func (p *Pager) NotifyOfficersTx(ctx context.Context, tx *sql.Tx, incidentID, _ string) error {
	rows, err := tx.QueryContext(ctx, `SELECT c.user_id, c.id, c.kind FROM contact_methods c JOIN users u ON u.id = c.user_id
		WHERE u.role = 'security_officer' AND NOT u.disabled AND c.disabled_at IS NULL AND c.verified_at IS NOT NULL
		ORDER BY u.username, c.created_at`)
	if err != nil {
		return fmt.Errorf("find security officers: %w", err)
	}
	var qs []queued
	for rows.Next() {
		q := queued{kind: kindOfficer, incidentID: incidentID}
		if err := rows.Scan(&q.userID, &q.contactID, &q.channel); err != nil {
			rows.Close()
			return err
		}
		qs = append(qs, q)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if len(qs) == 0 {
		p.log.WarnContext(ctx, "break_glass_no_officer_reachable", "incident_id", incidentID)
	}
	now := p.clock.Now()
	for _, q := range qs {
		if err := p.queueTx(ctx, tx, q, now); err != nil {
			return err
		}
	}
	p.Wake()
	return nil
}
