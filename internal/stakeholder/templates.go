package stakeholder

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
)

// Templates: saved texts for status updates to one audience, offered when
// an update for that audience is written. A template's body may carry
// placeholders that Ward fills in from the incident's facts; none of them
// is free text of the incident, so none can bring PHI in. The body itself
// passes the PHI check when saved, and is sealed like an update's.

// Placeholders are the merge fields a template's body may hold, each with
// what it becomes, in the order the forms list them.
var Placeholders = []struct{ Name, Means string }{
	{"{incident}", "the incident's number, e.g. INC-2026-0042"},
	{"{status}", "the incident's current phase in plain words, e.g. \"we are containing it\""},
	{"{next update}", "when the audience's next update is due, e.g. 7 December 2026 15:00 UTC, or \"when there is news\""},
	{"{organisation}", "the organisation's name, from its profile"},
}

var placeholderRe = regexp.MustCompile(`\{[^{}\n]{0,40}\}`)

// Template is a saved text for status updates to one audience.
type Template struct {
	ID            string
	Name          string
	Audience      string
	AudienceLabel string
	Body          string
	CreatedBy     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
	Version       int64
	// Filled is Body with the placeholders filled in for one incident
	// (IncidentTemplates only).
	Filled string
}

// TemplateInput is a template to save.
type TemplateInput struct {
	Name     string
	Audience string
	Body     string
	// PHIOverride saves a body the PHI check refuses; only the Privacy
	// Officer may, and the override is audited. An update written from
	// it is checked again when posted.
	PHIOverride bool
}

// checkTemplate checks in's name and body, naming the field at fault, and
// returns the kinds of PHI pattern a body saved over the check matched.
func checkTemplate(actor authz.Actor, in *TemplateInput) ([]string, error) {
	if in.PHIOverride && actor.Role != authz.RolePrivacyOfficer {
		return nil, apperr.New(apperr.Forbidden, "only the Privacy Officer may override the PHI check of a status update template")
	}
	kinds, err := checkTemplateText(in)
	if err != nil {
		return nil, err
	}
	if len(kinds) > 0 && !in.PHIOverride {
		return nil, apperr.Field("body", "%s", phiRefusal(kinds))
	}
	return kinds, nil
}

func checkTemplateText(in *TemplateInput) ([]string, error) {
	in.Name, in.Body = strings.TrimSpace(in.Name), strings.TrimSpace(in.Body)
	switch n := len([]rune(in.Name)); {
	case n == 0:
		return nil, apperr.Field("name", "is required")
	case n > MaxName:
		return nil, apperr.Field("name", "is %d characters long; the limit is %d", n, MaxName)
	case strings.ContainsAny(in.Name, "\r\n"):
		return nil, apperr.Field("name", "must be one line")
	}
	switch n := len([]rune(in.Body)); {
	case n == 0:
		return nil, apperr.Field("body", "is required")
	case n > MaxUpdateBody:
		return nil, apperr.Field("body", "is %d characters long; the limit is %d", n, MaxUpdateBody)
	}
	for _, p := range placeholderRe.FindAllString(in.Body, -1) {
		if !slices.ContainsFunc(Placeholders, func(q struct{ Name, Means string }) bool { return q.Name == p }) {
			return nil, apperr.Field("body", "has the placeholder %s, which Ward does not know: it knows {incident}, {status}, {next update} and {organisation}", p)
		}
	}
	return phiKinds(in.Body), nil
}

const templateColumns = `id, name, audience, body, created_by, created_at, updated_at, version`

func (s *Service) scanTemplate(r interface{ Scan(...any) error }) (Template, error) {
	var t Template
	var sealed string
	if err := r.Scan(&t.ID, &t.Name, &t.Audience, &sealed, &t.CreatedBy, &t.CreatedAt, &t.UpdatedAt, &t.Version); err != nil {
		return Template{}, err
	}
	body, err := keys.StatusUpdateTemplateBody.OpenText(s.keys, sealed, t.ID)
	if err != nil {
		return Template{}, err
	}
	t.Body, t.CreatedAt, t.UpdatedAt = body, t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	return t, nil
}

// templates reads every template, or audience's only, by audience and name.
func (s *Service) templates(ctx context.Context, q db.Querier, audience string) ([]Template, error) {
	query, args := `SELECT `+templateColumns+` FROM status_update_templates ORDER BY audience, name, id`, []any{}
	if audience != "" {
		query, args = `SELECT `+templateColumns+` FROM status_update_templates WHERE audience = $1 ORDER BY name, id`, []any{audience}
	}
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list status update templates: %w", err)
	}
	out := []Template{}
	for rows.Next() {
		t, err := s.scanTemplate(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, t)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var audiences []string
	for _, t := range out {
		audiences = append(audiences, t.Audience)
	}
	labels, err := audienceLabels(ctx, q, audiences)
	if err != nil {
		return nil, err
	}
	for i := range out {
		out[i].AudienceLabel = labels[out[i].Audience]
	}
	return out, nil
}

// Templates lists the status update templates, by audience and name.
// Every role that may read status updates may read them.
func (s *Service) Templates(ctx context.Context) ([]Template, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	return s.templates(ctx, s.db.R, "")
}

// GetTemplate reads template id.
func (s *Service) GetTemplate(ctx context.Context, id string) (Template, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return Template{}, err
	}
	return s.getTemplate(ctx, s.db.R, id)
}

func (s *Service) getTemplate(ctx context.Context, q db.Querier, id string) (Template, error) {
	t, err := s.scanTemplate(q.QueryRowContext(ctx, `SELECT `+templateColumns+` FROM status_update_templates WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Template{}, apperr.New(apperr.NotFound, "no such status update template")
	}
	if err != nil {
		return Template{}, fmt.Errorf("read status update template: %w", err)
	}
	labels, err := audienceLabels(ctx, q, []string{t.Audience})
	if err != nil {
		return Template{}, err
	}
	t.AudienceLabel = labels[t.Audience]
	return t, nil
}

// nameTaken reports whether another template than id has name for audience.
func nameTaken(ctx context.Context, tx *sql.Tx, audience, name, id string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM status_update_templates WHERE audience = $1 AND name = $2 AND id <> $3`,
		audience, name, id).Scan(&n); err != nil {
		return fmt.Errorf("read status update templates: %w", err)
	}
	if n > 0 {
		return apperr.Field("name", "is the name of another template for this audience")
	}
	return nil
}

// CreateTemplate saves a new template (stakeholder:write); audited.
func (s *Service) CreateTemplate(ctx context.Context, in TemplateInput) (Template, error) {
	actor, err := authz.Check(ctx, authz.StakeholderWrite)
	if err != nil {
		return Template{}, err
	}
	kinds, err := checkTemplate(actor, &in)
	if err != nil {
		return Template{}, err
	}
	now := s.clock.Now()
	t := Template{ID: newID(), Name: in.Name, Body: in.Body, CreatedBy: actor.String(), CreatedAt: now, UpdatedAt: now, Version: 1}
	sealed, err := keys.StatusUpdateTemplateBody.SealText(s.keys, in.Body, t.ID)
	if err != nil {
		return Template{}, err
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		a, err := resolveAudience(ctx, tx, "audience", in.Audience, "")
		if err != nil {
			return err
		}
		t.Audience, t.AudienceLabel = a.Key, a.Label
		if err := nameTaken(ctx, tx, a.Key, in.Name, t.ID); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO status_update_templates (`+templateColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $6, 1)`,
			t.ID, t.Name, t.Audience, sealed, t.CreatedBy, now); err != nil {
			return fmt.Errorf("insert status update template: %w", err)
		}
		change := map[string]any{"name": t.Name, "audience": t.Audience}
		if len(kinds) > 0 {
			change["phi_override"], change["phi_patterns"] = true, kinds
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "status_update_template.create", ObjectType: "status_update_template",
			ObjectID: t.ID, Change: change})
		return err
	})
	if err != nil {
		return Template{}, err
	}
	return t, nil
}

// UpdateTemplate replaces template id (stakeholder:write); audited.
func (s *Service) UpdateTemplate(ctx context.Context, id string, in TemplateInput) (Template, error) {
	actor, err := authz.Check(ctx, authz.StakeholderWrite)
	if err != nil {
		return Template{}, err
	}
	kinds, err := checkTemplate(actor, &in)
	if err != nil {
		return Template{}, err
	}
	now := s.clock.Now()
	sealed, err := keys.StatusUpdateTemplateBody.SealText(s.keys, in.Body, id)
	if err != nil {
		return Template{}, err
	}
	var t Template
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		old, err := s.getTemplate(ctx, tx, id)
		if err != nil {
			return err
		}
		a, err := resolveAudience(ctx, tx, "audience", in.Audience, "")
		if err != nil {
			return err
		}
		if err := nameTaken(ctx, tx, a.Key, in.Name, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE status_update_templates SET name = $1, audience = $2, body = $3, updated_at = $4,
			version = version + 1 WHERE id = $5`, in.Name, a.Key, sealed, now, id); err != nil {
			return fmt.Errorf("update status update template: %w", err)
		}
		t = old
		t.Name, t.Audience, t.AudienceLabel, t.Body, t.UpdatedAt, t.Version = in.Name, a.Key, a.Label, in.Body, now, old.Version+1
		change := map[string]any{"name": t.Name, "audience": t.Audience, "body_changed": old.Body != t.Body}
		if len(kinds) > 0 {
			change["phi_override"], change["phi_patterns"] = true, kinds
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "status_update_template.update", ObjectType: "status_update_template",
			ObjectID: id, Change: change})
		return err
	})
	if err != nil {
		return Template{}, err
	}
	return t, nil
}

// DeleteTemplate removes template id (stakeholder:write); audited. The
// updates written from it keep their text.
func (s *Service) DeleteTemplate(ctx context.Context, id string) error {
	if _, err := authz.Check(ctx, authz.StakeholderWrite); err != nil {
		return err
	}
	now := s.clock.Now()
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		t, err := s.getTemplate(ctx, tx, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM status_update_templates WHERE id = $1`, id); err != nil {
			return fmt.Errorf("delete status update template: %w", err)
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "status_update_template.delete", ObjectType: "status_update_template",
			ObjectID: id, Change: map[string]any{"name": t.Name, "audience": t.Audience}})
		return err
	})
}

// IncidentTemplates offers the templates for writing an update on
// incident ref: those of audience (every audience when empty), each with
// its placeholders filled in from the incident (Filled).
func (s *Service) IncidentTemplates(ctx context.Context, ref, audience string) ([]Template, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	now := s.clock.Now()
	f, err := visible(ctx, s.db.R, ref, now)
	if err != nil {
		return nil, err
	}
	if audience != "" {
		a, err := resolveAudience(ctx, s.db.R, "audience", audience, "")
		if err != nil {
			return nil, err
		}
		audience = a.Key
	}
	ts, err := s.templates(ctx, s.db.R, audience)
	if err != nil || len(ts) == 0 {
		return ts, err
	}
	pol, err := getPolicy(ctx, s.db.R, f.Severity)
	if err != nil {
		return nil, err
	}
	st, err := compute(ctx, s.db.R, f, pol, now)
	if err != nil {
		return nil, err
	}
	org := ""
	if s.mail.Organisation != nil {
		if org, err = s.mail.Organisation(ctx); err != nil {
			return nil, err
		}
	}
	for i := range ts {
		ts[i].Filled = fill(ts[i].Body, f, nextDue(st, ts[i].Audience), org)
	}
	return ts, nil
}

// nextDue is when audience's next update is due in st, if it has a cadence.
func nextDue(st Status, audience string) *time.Time {
	for _, c := range st.Audiences {
		if c.Audience == audience {
			return c.NextUpdateDueAt
		}
	}
	return nil
}

// fill fills in body's placeholders from the incident's facts.
func fill(body string, f incidentFacts, next *time.Time, org string) string {
	nextText := "when there is news"
	if next != nil {
		nextText = next.UTC().Format("2 January 2006 15:04 MST")
	}
	if org == "" {
		org = "our organisation"
	}
	return strings.NewReplacer("{incident}", f.Number, "{status}", PhaseText(f.Status), "{next update}", nextText,
		"{organisation}", org).Replace(body)
}

// PhaseText is an incident's phase in plain words for people outside the
// response.
func PhaseText(status string) string {
	switch status {
	case "detected":
		return "we are looking into it"
	case "analysis":
		return "we are investigating it"
	case "containment":
		return "we are containing it"
	case "eradication":
		return "we are removing its cause"
	case "recovery":
		return "we are recovering from it"
	case "post_incident":
		return "it is resolved and we are reviewing it"
	case "closed":
		return "it is closed"
	}
	return "we are working on it"
}
