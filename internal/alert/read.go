package alert

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
)

// Filter selects alerts, newest first.
type Filter struct {
	Service  string // id or name
	Incident string // id
	Status   Status
	Limit    int    // default 50, at most 200
	Before   string // an alert id: list those older than it
}

const alertColumns = `a.id, a.service_id, a.integration_id, a.dedup_key, COALESCE(a.incident_id, ''),
	COALESCE(i.number, ''), a.status, a.suppressed, a.summary, a.source, a.severity, a.component, a.grp, a.class,
	a.details, a.count, a.first_at, a.last_at, a.acknowledged_at, a.resolved_at, v.name,
	COALESCE(a.suppressed_by, ''), COALESCE(ar.name, ''), a.tags`

const alertFrom = ` FROM alerts a JOIN services v ON v.id = a.service_id LEFT JOIN incidents i ON i.id = a.incident_id
	LEFT JOIN alert_rules ar ON ar.id = a.suppressed_by`

func scanAlert(r scanner) (Alert, string, error) {
	var a Alert
	var details, tags string
	var ack, res sql.NullTime
	err := r.Scan(&a.ID, &a.ServiceID, &a.IntegrationID, &a.DedupKey, &a.IncidentID, &a.IncidentNumber,
		&a.Status, &a.Suppressed, &a.Summary, &a.Source, &a.Severity, &a.Component, &a.Group, &a.Class, &details,
		&a.Count, &a.FirstAt, &a.LastAt, &ack, &res, &a.ServiceName, &a.SuppressedBy, &a.SuppressedByName, &tags)
	if err == nil && tags != "" {
		err = json.Unmarshal([]byte(tags), &a.Tags)
	}
	a.FirstAt, a.LastAt = a.FirstAt.UTC(), a.LastAt.UTC()
	a.AcknowledgedAt, a.ResolvedAt = utcPtr(ack), utcPtr(res)
	return a, details, err
}

func utcPtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// visible is the condition that keeps the alerts the actor may see: those
// without an incident, and those whose incident the actor may see (a
// restricted incident's alerts are as hidden as it is; see
// incident.VisibleSQL).
func (s *Intake) visible(actor authz.Actor, args *[]any) string {
	arg := func(v any) string {
		*args = append(*args, v)
		return fmt.Sprintf("$%d", len(*args))
	}
	return "(a.incident_id IS NULL OR " + incident.VisibleSQL(actor, s.clock.Now(), "i", arg) + ")"
}

// Alerts lists alerts without their details (which may hold PHI; Alert
// returns them). Their summaries, dedup keys, sources, components, groups
// and classes may hold PHI too: see reveal.
func (s *Intake) Alerts(ctx context.Context, f Filter) ([]Alert, error) {
	actor, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return nil, err
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	if f.Limit > 200 {
		return nil, apperr.Field("limit", "is %d; the limit is 200", f.Limit)
	}
	var args []any
	where := []string{s.visible(actor, &args)}
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Service != "" {
		svc, err := getService(ctx, s.db.R, f.Service)
		if err != nil {
			return nil, err
		}
		add("a.service_id = $%d", svc.ID)
	}
	if f.Incident != "" {
		add("a.incident_id = (SELECT id FROM incidents WHERE "+incident.RefColumn(f.Incident)+" = $%d)", f.Incident)
	}
	if f.Status != "" {
		if f.Status != StatusTriggered && f.Status != StatusAcknowledged && f.Status != StatusResolved {
			return nil, apperr.Field("status", "%q is not one of triggered, acknowledged, resolved", f.Status)
		}
		add("a.status = $%d", f.Status)
	}
	if f.Before != "" {
		var first time.Time
		err := s.db.R.QueryRowContext(ctx, `SELECT first_at FROM alerts WHERE id = $1`, f.Before).Scan(&first)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, apperr.Field("before", "no alert %q", f.Before)
		}
		if err != nil {
			return nil, fmt.Errorf("read cursor alert: %w", err)
		}
		args = append(args, first, f.Before)
		where = append(where, fmt.Sprintf("(a.first_at < $%d OR (a.first_at = $%d AND a.id < $%d))", len(args)-1, len(args)-1, len(args)))
	}
	q := `SELECT ` + alertColumns + alertFrom + " WHERE " + strings.Join(where, " AND ")
	args = append(args, f.Limit)
	q += fmt.Sprintf(" ORDER BY a.first_at DESC, a.id DESC LIMIT $%d", len(args))
	rows, err := s.db.R.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	defer rows.Close()
	out := []Alert{}
	for rows.Next() {
		a, _, err := scanAlert(rows)
		if err != nil {
			return nil, fmt.Errorf("list alerts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list alerts: %w", err)
	}
	shown := make([]*Alert, len(out))
	for i := range out {
		shown[i] = &out[i]
	}
	return out, s.reveal(ctx, shown, nil)
}

// SafeSummary is the line shown instead of an alert's summary to a reader
// whose role may not see PHI (45 CFR 164.502(b)): its severity, service
// and incident; never what the tool wrote.
func SafeSummary(a *Alert) string {
	line := string(a.Severity) + " alert from " + a.ServiceName
	if a.IncidentNumber != "" {
		line += " (" + a.IncidentNumber + ")"
	}
	return line
}

// reveal opens the summaries, dedup keys, sources, components, groups and
// classes of as (and the details, when details is not nil: sealed details
// by alert id) for a reader whose role may see PHI, recording the read in
// the audit trail before they are returned (45 CFR 164.312(b)); anyone
// else gets SafeSummary and SummaryRedacted, the other fields empty and
// FieldsRedacted, and nothing is decrypted.
func (s *Intake) reveal(ctx context.Context, as []*Alert, details map[string]string) error {
	if _, err := authz.Check(ctx, authz.IncidentReadPHI); err != nil {
		for _, a := range as {
			a.Summary, a.SummaryRedacted = SafeSummary(a), true
			a.DedupKey, a.Source, a.Component, a.Group, a.Class, a.FieldsRedacted = "", "", "", "", "", true
		}
		return nil
	}
	var read []string               // alert ids, in order
	fields := map[string][]string{} // alert id → fields shown
	for _, a := range as {
		for _, f := range []struct {
			c    keys.Column
			name string
			v    *string
		}{{keys.AlertSummary, "summary", &a.Summary}, {keys.AlertDedupKey, "dedup_key", &a.DedupKey},
			{keys.AlertSource, "source", &a.Source}, {keys.AlertComponent, "component", &a.Component},
			{keys.AlertGroup, "group", &a.Group}, {keys.AlertClass, "class", &a.Class}} {
			if *f.v == "" {
				continue
			}
			plain, err := s.keys.Open(*f.v, f.c.Table, f.c.Name, a.ID)
			if err != nil {
				return fmt.Errorf("alert %s: %w", f.name, err)
			}
			*f.v = string(plain)
			fields[a.ID] = append(fields[a.ID], f.name)
		}
		if d := details[a.ID]; d != "" {
			plain, err := s.keys.Open(d, keys.AlertDetails.Table, keys.AlertDetails.Name, a.ID)
			if err != nil {
				return fmt.Errorf("alert details: %w", err)
			}
			a.Details = json.RawMessage(plain)
			fields[a.ID] = append(fields[a.ID], "details")
		}
		if len(fields[a.ID]) > 0 {
			read = append(read, a.ID)
		}
	}
	if len(read) == 0 {
		return nil
	}
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		now := s.clock.Now()
		for _, id := range read {
			if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "alert.phi_read", ObjectType: "alert", ObjectID: id,
				Change: fields[id]}); err != nil {
				return err
			}
		}
		return nil
	})
}

// Alert returns one alert. Its summary and details may hold PHI: a reader
// whose role may see PHI gets them, and the read is audited before they
// are returned (45 CFR 164.312(b)); anyone else gets the details withheld
// (the boolean result) and the summary replaced (see reveal).
//
// An alert of a restricted incident the caller may not see does not exist.
func (s *Intake) Alert(ctx context.Context, id string) (Alert, bool, error) {
	actor, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return Alert{}, false, err
	}
	args := []any{id}
	a, sealed, err := scanAlert(s.db.R.QueryRowContext(ctx,
		`SELECT `+alertColumns+alertFrom+` WHERE a.id = $1 AND `+s.visible(actor, &args), args...))
	if errors.Is(err, sql.ErrNoRows) {
		return Alert{}, false, apperr.New(apperr.NotFound, "no alert %q", id)
	}
	if err != nil {
		return Alert{}, false, fmt.Errorf("read alert: %w", err)
	}
	redacted := sealed != "" && !authz.Has(actor.Role, authz.IncidentReadPHI)
	if err := s.reveal(ctx, []*Alert{&a}, map[string]string{a.ID: sealed}); err != nil {
		return Alert{}, false, err
	}
	return a, redacted, nil
}
