package alert

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
)

// The limits of a change event's text, as the PagerDuty Change Events API
// sets them (summary) or as Ward does (source).
const (
	MaxChangeSummary = 1024
	MaxChangeSource  = 255
)

// ChangeWindow is how long before an incident was detected a change on
// one of its services is shown with it: recent deploys and configuration
// changes are the usual first suspects.
const ChangeWindow = 4 * time.Hour

// maxIncidentChanges caps the changes shown with one incident.
const maxIncidentChanges = 50

// Change is a change a deploy or configuration tool reported on a
// service. It opens no incident. Summary and Source may hold anything a
// tool wrote, so they are sealed and shown only to roles that may read
// PHI (SummaryRedacted otherwise).
type Change struct {
	ID              string
	ServiceID       string
	ServiceName     string
	Summary         string
	Source          string
	SummaryRedacted bool
	Links           int // how many links the tool sent (not kept)
	At              time.Time
	ReceivedAt      time.Time
}

// RecordChange stores ch, reported through integration ig (an Events API
// v2 key), with its audit entry in ig's name; a change without a time
// happened when it was received.
func (s *Intake) RecordChange(ctx context.Context, ig Integration, ch Change) (Change, error) {
	if ig.Kind != KindEventsV2 {
		return Change{}, apperr.New(apperr.Invalid, "change events are sent with an Events API v2 routing key")
	}
	now := clock.Normalize(s.clock.Now())
	ch.ID, ch.ServiceID, ch.ServiceName, ch.ReceivedAt = newID(), ig.ServiceID, ig.ServiceName, now
	if ch.At.IsZero() {
		ch.At = now
	}
	ch.At = clock.Normalize(ch.At)
	summary, err := keys.ServiceChangeSummary.SealText(s.keys, ch.Summary, ch.ID)
	if err != nil {
		return Change{}, fmt.Errorf("change summary: %w", err)
	}
	source, err := keys.ServiceChangeSource.SealText(s.keys, ch.Source, ch.ID)
	if err != nil {
		return Change{}, fmt.Errorf("change source: %w", err)
	}
	ctx = authz.WithActor(ctx, ig.Actor())
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO service_changes (id, service_id, integration_id, summary, source, links,
			changed_at, received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			ch.ID, ch.ServiceID, ig.ID, summary, source, ch.Links, ch.At, now); err != nil {
			return fmt.Errorf("record change: %w", err)
		}
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "service.change", ObjectType: "service", ObjectID: ch.ServiceID,
			Change: map[string]any{"change_id": ch.ID, "integration_id": ig.ID, "changed_at": ch.At, "links": ch.Links}})
		return err
	})
	if err != nil {
		return Change{}, err
	}
	return ch, nil
}

// IncidentChanges returns the changes on incident ref's services (those
// its alerts came from) from ChangeWindow before it was detected until
// now, newest first, at most 50. Their text is opened, and the read
// audited, only for a role that may read PHI.
func (s *Intake) IncidentChanges(ctx context.Context, ref string) ([]Change, error) {
	actor, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return nil, err
	}
	args := []any{ref}
	arg := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	var id string
	var detected time.Time
	err = s.db.R.QueryRowContext(ctx, `SELECT i.id, i.detected_at FROM incidents i WHERE i.`+incident.RefColumn(ref)+` = $1 AND `+
		incident.VisibleSQL(actor, s.clock.Now(), "i", arg), args...).Scan(&id, &detected)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, apperr.New(apperr.NotFound, "no incident %q", ref)
	}
	if err != nil {
		return nil, fmt.Errorf("read incident: %w", err)
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT c.id, c.service_id, v.name, c.summary, c.source, c.links, c.changed_at, c.received_at
		FROM service_changes c JOIN services v ON v.id = c.service_id
		WHERE c.service_id IN (SELECT DISTINCT service_id FROM alerts WHERE incident_id = $1) AND c.changed_at >= $2
		ORDER BY c.changed_at DESC, c.id DESC LIMIT $3`, id, detected.Add(-ChangeWindow), maxIncidentChanges)
	if err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	defer rows.Close()
	out := []Change{}
	for rows.Next() {
		var c Change
		if err := rows.Scan(&c.ID, &c.ServiceID, &c.ServiceName, &c.Summary, &c.Source, &c.Links, &c.At, &c.ReceivedAt); err != nil {
			return nil, fmt.Errorf("read changes: %w", err)
		}
		c.At, c.ReceivedAt = c.At.UTC(), c.ReceivedAt.UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read changes: %w", err)
	}
	return out, s.revealChanges(ctx, id, out)
}

// revealChanges opens the changes' text for a reader whose role may see
// PHI, recording the read with the incident (45 CFR 164.312(b)); anyone
// else gets the text withheld and nothing is decrypted.
func (s *Intake) revealChanges(ctx context.Context, incidentID string, cs []Change) error {
	if _, err := authz.Check(ctx, authz.IncidentReadPHI); err != nil {
		for i := range cs {
			cs[i].Summary, cs[i].Source, cs[i].SummaryRedacted = "", "", true
		}
		return nil
	}
	if len(cs) == 0 {
		return nil
	}
	ids := make([]string, len(cs))
	for i := range cs {
		var err error
		if cs[i].Summary, err = keys.ServiceChangeSummary.OpenText(s.keys, cs[i].Summary, cs[i].ID); err != nil {
			return fmt.Errorf("change summary: %w", err)
		}
		if cs[i].Source, err = keys.ServiceChangeSource.OpenText(s.keys, cs[i].Source, cs[i].ID); err != nil {
			return fmt.Errorf("change source: %w", err)
		}
		ids[i] = cs[i].ID
	}
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, s.clock.Now(), audit.Event{Action: "service_change.phi_read", ObjectType: "incident",
			ObjectID: incidentID, Change: ids})
		return err
	})
}
