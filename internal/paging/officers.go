package paging

import (
	"context"
	"database/sql"
	"fmt"
	"slices"

	"github.com/wardhq/ward/internal/incident"
)

// NotifyOfficersTx queues a message to every active Security Officer on
// each of their verified contact methods, at once and regardless of their
// notification rules: emergency access to a restricted incident was
// granted (45 CFR 164.312(a)(2)(ii)). It implements
// incident.OfficerNotifier. The message names the incident and who broke
// the glass, never the reason given.
func (p *Pager) NotifyOfficersTx(ctx context.Context, tx *sql.Tx, incidentID, _ string) error {
	qs, err := officerContacts(ctx, tx, queued{kind: kindOfficer, incidentID: incidentID})
	if err != nil {
		return err
	}
	if len(qs) == 0 {
		p.log.WarnContext(ctx, "break_glass_no_officer_reachable", "incident_id", incidentID)
	}
	return p.queueAll(ctx, tx, qs)
}

// NotifyBackupFailedTx queues a message to every active Security Officer
// on each of their verified contact methods, at once: a scheduled backup
// failed. The message says only that, never why.
func (p *Pager) NotifyBackupFailedTx(ctx context.Context, tx *sql.Tx) error {
	qs, err := officerContacts(ctx, tx, queued{kind: kindBackupFailed})
	if err != nil {
		return err
	}
	if len(qs) == 0 {
		p.log.WarnContext(ctx, "backup_failed_no_officer_reachable")
	}
	return p.queueAll(ctx, tx, qs)
}

// NotifyAuditChainBrokenTx queues a message to every active Security
// Officer on each of their verified contact methods, at once: the audit
// trail was found altered and a new segment of it started. The message
// says only that.
func (p *Pager) NotifyAuditChainBrokenTx(ctx context.Context, tx *sql.Tx) error {
	qs, err := officerContacts(ctx, tx, queued{kind: kindAuditChainBroken})
	if err != nil {
		return err
	}
	if len(qs) == 0 {
		p.log.WarnContext(ctx, "audit_chain_broken_no_officer_reachable")
	}
	return p.queueAll(ctx, tx, qs)
}

// NotifyEvidenceAlteredTx queues a message to every active Security
// Officer on each of their verified contact methods, at once: an evidence
// item of incident incidentID failed its integrity check. The message
// names the incident, nothing of the item.
func (p *Pager) NotifyEvidenceAlteredTx(ctx context.Context, tx *sql.Tx, incidentID string) error {
	qs, err := officerContacts(ctx, tx, queued{kind: kindEvidenceAltered, incidentID: incidentID})
	if err != nil {
		return err
	}
	if len(qs) == 0 {
		p.log.WarnContext(ctx, "evidence_altered_no_officer_reachable", "incident_id", incidentID)
	}
	return p.queueAll(ctx, tx, qs)
}

// officerContacts is a copy of q for each verified contact method of each
// active Security Officer.
func officerContacts(ctx context.Context, tx *sql.Tx, q queued) ([]queued, error) {
	rows, err := tx.QueryContext(ctx, `SELECT c.user_id, c.id, c.kind FROM contact_methods c JOIN users u ON u.id = c.user_id
		WHERE u.role = 'security_officer' AND NOT u.disabled AND c.disabled_at IS NULL AND c.verified_at IS NOT NULL
		ORDER BY u.username, c.created_at`)
	if err != nil {
		return nil, fmt.Errorf("find security officers: %w", err)
	}
	defer rows.Close()
	var qs []queued
	for rows.Next() {
		if err := rows.Scan(&q.userID, &q.contactID, &q.channel); err != nil {
			return nil, err
		}
		qs = append(qs, q)
	}
	return qs, rows.Err()
}

// queueAll queues qs now and wakes the sender.
func (p *Pager) queueAll(ctx context.Context, tx *sql.Tx, qs []queued) error {
	now := p.clock.Now()
	for _, q := range qs {
		if err := p.queueTx(ctx, tx, q, now); err != nil {
			return err
		}
	}
	p.Wake()
	return nil
}

// NotifyTx queues a message of kind (KindStatusUpdate or KindReminder)
// about incidentID to each of users, at once, on every verified contact
// method they have; line is the message's status line, Ward's own words
// ("new status update", "status update overdue"), never text a person
// typed. It returns how many messages it queued. About a drill, only the
// drill's participants among users are told, and line starts with DRILL.
func (p *Pager) NotifyTx(ctx context.Context, tx *sql.Tx, kind, incidentID, line string, users []string) (int, error) {
	return p.notifyTx(ctx, tx, kind, incidentID, "", line, users)
}

// NotifyUpdateTx is NotifyTx for a status update, recording on each
// message the update it announces (statusUpdateID), the proof of who was
// told of it and how.
func (p *Pager) NotifyUpdateTx(ctx context.Context, tx *sql.Tx, incidentID, statusUpdateID, line string, users []string) (int, error) {
	return p.notifyTx(ctx, tx, KindStatusUpdate, incidentID, statusUpdateID, line, users)
}

func (p *Pager) notifyTx(ctx context.Context, tx *sql.Tx, kind, incidentID, statusUpdateID, line string, users []string) (int, error) {
	if kind != KindStatusUpdate && kind != KindReminder {
		return 0, fmt.Errorf("paging: NotifyTx: kind %q is not a status update or a reminder", kind)
	}
	// A message about a drill reaches only those of users who take part
	// in it, and says DRILL (docs/DRILLS.md).
	drill, participants, err := incident.DrillParticipants(ctx, tx, incidentID)
	if err != nil {
		return 0, err
	}
	if drill {
		line = incident.DrillLine(line)
		users = slices.DeleteFunc(slices.Clone(users), func(u string) bool { return !slices.Contains(participants, u) })
	}
	now := p.clock.Now()
	n := 0
	for _, u := range users {
		rows, err := tx.QueryContext(ctx, `SELECT c.id, c.kind FROM contact_methods c JOIN users us ON us.id = c.user_id
			WHERE c.user_id = $1 AND NOT us.disabled AND c.disabled_at IS NULL AND c.verified_at IS NOT NULL ORDER BY c.created_at`, u)
		if err != nil {
			return 0, fmt.Errorf("read contact methods: %w", err)
		}
		var qs []queued
		for rows.Next() {
			q := queued{kind: kind, incidentID: incidentID, statusUpdateID: statusUpdateID, userID: u, line: line}
			if err := rows.Scan(&q.contactID, &q.channel); err != nil {
				rows.Close()
				return 0, err
			}
			qs = append(qs, q)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return 0, err
		}
		for _, q := range qs {
			if err := p.queueTx(ctx, tx, q, now); err != nil {
				return 0, err
			}
			n++
		}
	}
	if n > 0 {
		p.Wake()
	}
	return n, nil
}
