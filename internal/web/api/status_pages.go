package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/stakeholder"
)

// UpdateTemplate is a saved text for status updates to one audience.
type UpdateTemplate struct {
	ID            string    `json:"id"`
	Name          string    `json:"name"`
	Audience      string    `json:"audience" doc:"The audience it is written for: internal, executives, counsel, public, or customer: followed by a customer's id (list-audiences)."`
	AudienceLabel string    `json:"audience_label" doc:"The audience's plain name."`
	Body          string    `json:"body" doc:"The text, with placeholders: {incident}, {status}, {next update}, {organisation}."`
	Filled        string    `json:"filled,omitempty" doc:"The text with the placeholders filled in for the incident (list-incident-status-update-templates only)."`
	CreatedBy     string    `json:"created_by"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
	Version       int64     `json:"version"`
}

func updateTemplateOut(t stakeholder.Template) UpdateTemplate {
	return UpdateTemplate{ID: t.ID, Name: t.Name, Audience: t.Audience, AudienceLabel: t.AudienceLabel, Body: t.Body, Filled: t.Filled,
		CreatedBy: t.CreatedBy, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, Version: t.Version}
}

type updateTemplateBody struct {
	Name        string `json:"name" minLength:"1" maxLength:"100"`
	Audience    string `json:"audience" minLength:"1" maxLength:"200" doc:"internal, executives, counsel, public, or customer: followed by a customer's id (list-audiences)."`
	Body        string `json:"body" minLength:"1" maxLength:"5000" doc:"Read by stakeholders who may not see PHI: write none; a text that looks like it holds a Social Security number, a medical record number or a date of birth is refused (422). Placeholders: {incident} (the number), {status} (the phase in plain words), {next update} (when the audience's next update is due), {organisation}; any other is refused."`
	PHIOverride bool   `json:"phi_override,omitempty" doc:"Save a text the PHI check refuses (the Privacy Officer only; audited). An update written from it is checked again when posted."`
}

func (b updateTemplateBody) input() stakeholder.TemplateInput {
	return stakeholder.TemplateInput{Name: b.Name, Audience: b.Audience, Body: b.Body, PHIOverride: b.PHIOverride}
}

// PublicStatusPage says whether an incident's public status page is on.
type PublicStatusPage struct {
	Enabled   bool       `json:"enabled"`
	URL       string     `json:"url,omitempty" doc:"Its address, unguessable; it shows the PHI-checked updates written for the public, without a sign-in."`
	EnabledBy string     `json:"enabled_by,omitempty"`
	EnabledAt *time.Time `json:"enabled_at,omitempty"`
}

func publicPageOut(p stakeholder.PublicPage) PublicStatusPage {
	return PublicStatusPage{Enabled: p.Enabled, URL: p.URL, EnabledBy: p.EnabledBy, EnabledAt: p.EnabledAt}
}

// OrgStatusPage says whether the organisation's public status page is on.
type OrgStatusPage struct {
	Enabled   bool       `json:"enabled"`
	URL       string     `json:"url" doc:"Its address: while on, it lists without a sign-in the incidents whose own public status page is on, each with its PHI-checked public updates."`
	EnabledBy string     `json:"enabled_by,omitempty"`
	EnabledAt *time.Time `json:"enabled_at,omitempty"`
}

func orgPageOut(p stakeholder.OrgPage) OrgStatusPage {
	return OrgStatusPage{Enabled: p.Enabled, URL: p.URL, EnabledBy: p.EnabledBy, EnabledAt: p.EnabledAt}
}

func (h handler) registerStatusPages(api huma.API) {
	const tag = "stakeholders"
	huma.Register(api, tagged(op("list-status-update-templates", http.MethodGet, "/status-update-templates",
		"The status update templates, by audience and name", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []UpdateTemplate }, error) {
			ts, err := h.Stakeholders.Templates(ctx)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out := &struct{ Body []UpdateTemplate }{Body: make([]UpdateTemplate, len(ts))}
			for i, t := range ts {
				out.Body[i] = updateTemplateOut(t)
			}
			return out, nil
		})
	huma.Register(api, tagged(op("create-status-update-template", http.MethodPost, "/status-update-templates",
		"Save a status update template for an audience (audited)", http.StatusCreated, authz.StakeholderWrite), tag),
		func(ctx context.Context, in *struct{ Body updateTemplateBody }) (*struct{ Body UpdateTemplate }, error) {
			t, err := h.Stakeholders.CreateTemplate(ctx, in.Body.input())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body UpdateTemplate }{updateTemplateOut(t)}, nil
		})
	huma.Register(api, tagged(op("get-status-update-template", http.MethodGet, "/status-update-templates/{id}",
		"Get a status update template", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body UpdateTemplate }, error) {
			t, err := h.Stakeholders.GetTemplate(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body UpdateTemplate }{updateTemplateOut(t)}, nil
		})
	huma.Register(api, tagged(op("update-status-update-template", http.MethodPut, "/status-update-templates/{id}",
		"Replace a status update template (audited)", http.StatusOK, authz.StakeholderWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body updateTemplateBody
		}) (*struct{ Body UpdateTemplate }, error) {
			t, err := h.Stakeholders.UpdateTemplate(ctx, in.ID, in.Body.input())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body UpdateTemplate }{updateTemplateOut(t)}, nil
		})
	huma.Register(api, tagged(op("delete-status-update-template", http.MethodDelete, "/status-update-templates/{id}",
		"Remove a status update template; updates written from it keep their text (audited)", http.StatusNoContent, authz.StakeholderWrite), tag),
		func(ctx context.Context, in *idPath) (*struct{}, error) {
			if err := h.Stakeholders.DeleteTemplate(ctx, in.ID); err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{}{}, nil
		})
	huma.Register(api, tagged(op("list-incident-status-update-templates", http.MethodGet, "/incidents/{id}/status-update-templates",
		"The templates offered for a status update on an incident, with their placeholders filled in", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *struct {
			ID       string `path:"id" maxLength:"100"`
			Audience string `query:"audience" maxLength:"200" doc:"Only this audience's templates (default: every audience's)."`
		}) (*struct{ Body []UpdateTemplate }, error) {
			ts, err := h.Stakeholders.IncidentTemplates(ctx, in.ID, in.Audience)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out := &struct{ Body []UpdateTemplate }{Body: make([]UpdateTemplate, len(ts))}
			for i, t := range ts {
				out.Body[i] = updateTemplateOut(t)
			}
			return out, nil
		})
	huma.Register(api, tagged(op("get-public-status-page", http.MethodGet, "/incidents/{id}/public-status-page",
		"Whether an incident's public status page is on, and its address", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body PublicStatusPage }, error) {
			p, err := h.Stakeholders.PublicPageOf(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body PublicStatusPage }{publicPageOut(p)}, nil
		})
	huma.Register(api, tagged(op("set-public-status-page", http.MethodPut, "/incidents/{id}/public-status-page",
		"Turn an incident's public status page on (at a new unguessable address) or off (its address stops working); audited",
		http.StatusOK, authz.StakeholderWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body struct {
				Enabled bool `json:"enabled"`
			}
		}) (*struct{ Body PublicStatusPage }, error) {
			p, err := h.Stakeholders.SetPublicPage(ctx, in.ID, in.Body.Enabled)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body PublicStatusPage }{publicPageOut(p)}, nil
		})
	huma.Register(api, tagged(op("get-org-status-page", http.MethodGet, "/public-status-page",
		"Whether the organisation's public status page is on, and its address", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, _ *struct{}) (*struct{ Body OrgStatusPage }, error) {
			p, err := h.Stakeholders.OrgPageOf(ctx)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			return &struct{ Body OrgStatusPage }{orgPageOut(p)}, nil
		})
	huma.Register(api, tagged(op("set-org-status-page", http.MethodPut, "/public-status-page",
		"Turn the organisation's public status page on or off (off by default); audited", http.StatusOK, authz.StakeholderWrite), tag),
		func(ctx context.Context, in *struct {
			Body struct {
				Enabled bool `json:"enabled"`
			}
		}) (*struct{ Body OrgStatusPage }, error) {
			p, err := h.Stakeholders.SetOrgPage(ctx, in.Body.Enabled)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body OrgStatusPage }{orgPageOut(p)}, nil
		})
}
