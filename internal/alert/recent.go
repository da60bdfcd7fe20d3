package alert

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/keys"
)

// Recent is an alert as an alert rule's dry run sees it: the alert as
// stored (its free-text fields still sealed) and the facts a rule's
// expression sees.
type Recent struct {
	Alert Alert
	Facts Facts
}

// RecentAlerts returns the newest limit alerts first seen at or after
// since that the caller may see, newest first, and how many there are in
// all. Their facts are as the alert was recorded: the service it is on,
// the integration that sent it, its severity; its summary, source,
// component, group and class are opened in memory only for a caller whose
// role may see PHI, and left empty for anyone else, so that an expression
// cannot be used to learn what they say. Labels are empty: Ward keeps
// Alertmanager's labels only within the sealed details.
func (s *Intake) RecentAlerts(ctx context.Context, since time.Time, limit int) ([]Recent, int, error) {
	actor, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return nil, 0, err
	}
	_, phiErr := authz.Check(ctx, authz.IncidentReadPHI)
	args := []any{since}
	vis := s.visible(actor, &args)
	var total int
	if err := s.db.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM alerts a LEFT JOIN incidents i ON i.id = a.incident_id
		WHERE a.first_at >= $1 AND `+vis, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count recent alerts: %w", err)
	}
	args = append(args, limit)
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+alertColumns+`, COALESCE(k.name, ''), COALESCE(k.kind, '')`+alertFrom+`
		LEFT JOIN integration_keys k ON k.id = a.integration_id
		WHERE a.first_at >= $1 AND `+vis+fmt.Sprintf(` ORDER BY a.first_at DESC, a.id DESC LIMIT $%d`, len(args)), args...)
	if err != nil {
		return nil, 0, fmt.Errorf("read recent alerts: %w", err)
	}
	defer rows.Close()
	var out []Recent
	for rows.Next() {
		var r Recent
		var details, tags string
		var ack, res sql.NullTime
		a := &r.Alert
		if err := rows.Scan(&a.ID, &a.ServiceID, &a.IntegrationID, &a.DedupKey, &a.IncidentID, &a.IncidentNumber,
			&a.Status, &a.Suppressed, &a.Summary, &a.Source, &a.Severity, &a.Component, &a.Group, &a.Class, &details,
			&a.Count, &a.FirstAt, &a.LastAt, &ack, &res, &a.ServiceName, &a.SuppressedBy, &a.SuppressedByName, &tags,
			&r.Facts.Integration, &r.Facts.Kind); err != nil {
			return nil, 0, fmt.Errorf("read recent alerts: %w", err)
		}
		a.FirstAt, a.LastAt = a.FirstAt.UTC(), a.LastAt.UTC()
		r.Facts.Service, r.Facts.Severity = a.ServiceName, a.Severity
		if phiErr == nil {
			for _, f := range []struct {
				c   keys.Column
				in  string
				out *string
			}{{keys.AlertSummary, a.Summary, &r.Facts.Summary}, {keys.AlertSource, a.Source, &r.Facts.Source},
				{keys.AlertComponent, a.Component, &r.Facts.Component}, {keys.AlertGroup, a.Group, &r.Facts.Group},
				{keys.AlertClass, a.Class, &r.Facts.Class}} {
				if f.in == "" {
					continue
				}
				plain, err := s.keys.Open(f.in, f.c.Table, f.c.Name, a.ID)
				if err != nil {
					return nil, 0, fmt.Errorf("alert %s: %w", f.c.Name, err)
				}
				*f.out = string(plain)
			}
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("read recent alerts: %w", err)
	}
	return out, total, nil
}

// Reveal readies alerts read by RecentAlerts to be shown: their free-text
// fields opened, and the read audited, for a reader whose role may see
// PHI; SafeSummary for anyone else (see reveal).
func (s *Intake) Reveal(ctx context.Context, as []*Alert) error { return s.reveal(ctx, as, nil) }
