package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/retention"
)

// RetentionPolicy is how long each record type is kept after it was last
// in effect.
type RetentionPolicy struct {
	IncidentsYears     int `json:"incidents_years" doc:"Incidents with their alerts, tasks, timeline, pages and messages: years after closing or the last change; at least 6 (45 CFR 164.316(b)(2)(i))."`
	BreachCasesYears   int `json:"breach_cases_years" doc:"Breach cases with their determinations, obligations, individuals, notices and reports: years after last in effect; at least 6."`
	AlertsYears        int `json:"alerts_years" doc:"Alerts on no incident: years after resolution; at least 6."`
	MessagesYears      int `json:"messages_years" doc:"Paging messages about no incident: years after sending; at least 6."`
	SessionsYears      int `json:"sessions_years" doc:"Sign-in sessions: years after they ended; at least 6."`
	IndividualsPHIDays int `json:"individuals_phi_days" doc:"Early purge of affected individuals' names, addresses and contact details: days after the case's incident is closed and every notice done; 0 turns it off. Their counts per State stay."`
}

func retentionPolicyOut(p retention.Policy) RetentionPolicy {
	return RetentionPolicy{IncidentsYears: p.IncidentsYears, BreachCasesYears: p.BreachCasesYears, AlertsYears: p.AlertsYears,
		MessagesYears: p.MessagesYears, SessionsYears: p.SessionsYears, IndividualsPHIDays: p.IndividualsPHIDays}
}

func (p RetentionPolicy) in() retention.Policy {
	return retention.Policy{IncidentsYears: p.IncidentsYears, BreachCasesYears: p.BreachCasesYears, AlertsYears: p.AlertsYears,
		MessagesYears: p.MessagesYears, SessionsYears: p.SessionsYears, IndividualsPHIDays: p.IndividualsPHIDays}
}

type retentionOutput struct {
	Body struct {
		Policy            RetentionPolicy `json:"policy"`
		LegalMinimumYears int             `json:"legal_minimum_years"`
		Citation          string          `json:"citation"`
		CitationURL       string          `json:"citation_url"`
		Default           bool            `json:"default" doc:"True while no administrator has set a policy."`
		UpdatedBy         string          `json:"updated_by,omitempty"`
		UpdatedAt         *time.Time      `json:"updated_at,omitempty"`
	}
}

func settingsOut(s retention.Settings) *retentionOutput {
	out := &retentionOutput{}
	out.Body.Policy = retentionPolicyOut(s.Policy)
	out.Body.LegalMinimumYears, out.Body.Citation, out.Body.CitationURL = retention.LegalMinimumYears, retention.Citation, retention.CitationURL
	out.Body.Default, out.Body.UpdatedBy, out.Body.UpdatedAt = s.UpdatedAt == nil, s.UpdatedBy, s.UpdatedAt
	return out
}

type setRetentionInput struct {
	Body RetentionPolicy
}

// RetentionItem is one record past retention.
type RetentionItem struct {
	Type           string `json:"type" enum:"incident,breach_case,alert,message,session,individuals_phi"`
	ID             string `json:"id" doc:"The record's id: the incident's, the case's (breach_case and individuals_phi), the alert's, the message's or the session's."`
	IncidentNumber string `json:"incident_number,omitempty"`
}

func itemsOut(its []retention.Item) []RetentionItem {
	out := make([]RetentionItem, len(its))
	for i, it := range its {
		out[i] = RetentionItem{Type: string(it.Type), ID: it.ID, IncidentNumber: it.Label}
	}
	return out
}

type previewOutput struct {
	Body struct {
		At           time.Time       `json:"at"`
		ChainOK      bool            `json:"chain_ok" doc:"False when the audit trail fails verification or a break it records is not reviewed yet; a purge is then refused."`
		ChainProblem string          `json:"chain_problem,omitempty"`
		Counts       map[string]int  `json:"counts" doc:"Records that a purge now would remove, by type."`
		Items        []RetentionItem `json:"items"`
		Held         []RetentionItem `json:"held" doc:"Past retention, but kept by a legal hold."`
	}
}

// LegalHold is a legal hold on an incident or its breach case.
type LegalHold struct {
	ID             string     `json:"id"`
	IncidentID     string     `json:"incident_id"`
	IncidentNumber string     `json:"incident_number"`
	Scope          string     `json:"scope" enum:"incident,breach_case"`
	Active         bool       `json:"active"`
	Reason         string     `json:"reason,omitempty" doc:"Shown only to roles with retention:read; each read is audited."`
	PlacedBy       string     `json:"placed_by"`
	PlacedAt       time.Time  `json:"placed_at"`
	ReleasedBy     string     `json:"released_by,omitempty"`
	ReleasedAt     *time.Time `json:"released_at,omitempty"`
	ReleaseReason  string     `json:"release_reason,omitempty"`
}

func holdOut(h retention.Hold) LegalHold {
	return LegalHold{ID: h.ID, IncidentID: h.IncidentID, IncidentNumber: h.IncidentNumber, Scope: string(h.Scope), Active: h.Active(),
		Reason: h.Reason, PlacedBy: h.PlacedBy, PlacedAt: h.PlacedAt, ReleasedBy: h.ReleasedBy, ReleasedAt: h.ReleasedAt,
		ReleaseReason: h.ReleaseReason}
}

type holdInput struct {
	ID   string `path:"id" maxLength:"64" doc:"Incident id or number."`
	Body struct {
		Reason string `json:"reason" minLength:"1" maxLength:"2000" doc:"Why: the matter, who asked. Free text, sealed at rest."`
	}
}

type holdOutput struct {
	Body LegalHold
}

type listHoldsOutput struct {
	Body struct {
		Items []LegalHold `json:"items"`
	}
}

func (h handler) registerRetention(api huma.API) {
	retentionTag := func(o huma.Operation) huma.Operation {
		o.Tags = []string{"retention"}
		return o
	}
	huma.Register(api, retentionTag(op("get-retention", http.MethodGet, "/retention",
		"The retention policy in force", http.StatusOK, authz.RetentionRead)),
		func(ctx context.Context, _ *struct{}) (*retentionOutput, error) {
			s, err := h.Retention.Settings(ctx)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return settingsOut(s), nil
		})

	set := retentionTag(op("set-retention", http.MethodPut, "/retention",
		"Replace the retention policy (audited)", http.StatusOK, authz.RetentionWrite))
	set.Description = "Every period in years must be at least 6, the legal minimum for HIPAA documentation " +
		"(45 CFR 164.316(b)(2)(i)); a shorter, negative or over-long period is refused naming the field."
	huma.Register(api, set, func(ctx context.Context, in *setRetentionInput) (*retentionOutput, error) {
		s, err := h.Retention.SetPolicy(ctx, in.Body.in())
		if err != nil {
			return nil, h.fail(ctx, "body", err)
		}
		return settingsOut(s), nil
	})

	prev := retentionTag(op("preview-retention", http.MethodGet, "/retention/preview",
		"What a purge now would remove, and what legal holds keep; changes nothing", http.StatusOK, authz.RetentionRead))
	huma.Register(api, prev, func(ctx context.Context, _ *struct{}) (*previewOutput, error) {
		rep, err := h.Retention.Preview(ctx)
		if err != nil {
			return nil, h.fail(ctx, "query", err)
		}
		out := &previewOutput{}
		out.Body.At, out.Body.ChainOK, out.Body.ChainProblem = rep.At, rep.ChainOK, rep.ChainProblem
		out.Body.Counts = map[string]int{}
		for t, n := range rep.Counts() {
			out.Body.Counts[string(t)] = n
		}
		out.Body.Items, out.Body.Held = itemsOut(rep.Purged), itemsOut(rep.Held)
		return out, nil
	})

	huma.Register(api, retentionTag(op("list-legal-holds", http.MethodGet, "/incidents/{id}/legal-holds",
		"An incident's legal holds and its breach case's, in force and released, newest first", http.StatusOK, authz.IncidentRead)),
		func(ctx context.Context, in *idInput) (*listHoldsOutput, error) {
			hs, err := h.Retention.Holds(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &listHoldsOutput{}
			out.Body.Items = make([]LegalHold, len(hs))
			for i, x := range hs {
				out.Body.Items[i] = holdOut(x)
			}
			return out, nil
		})

	for _, sc := range []struct {
		scope      retention.Scope
		path, name string
	}{
		{retention.ScopeIncident, "/incidents/{id}/legal-hold", "incident"},
		{retention.ScopeBreachCase, "/incidents/{id}/breach-case/legal-hold", "breach-case"},
	} {
		place := retentionTag(op("place-"+sc.name+"-legal-hold", http.MethodPost, sc.path,
			"Place a legal hold: nothing of the "+sc.name+" is purged until it is released (audited)", http.StatusCreated, authz.LegalHold))
		place.Description = "409 if one is already in force. A hold on an incident or on its breach case keeps both."
		huma.Register(api, place, func(ctx context.Context, in *holdInput) (*holdOutput, error) {
			x, err := h.Retention.PlaceHold(ctx, sc.scope, in.ID, in.Body.Reason)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &holdOutput{Body: holdOut(x)}, nil
		})
		huma.Register(api, retentionTag(op("release-"+sc.name+"-legal-hold", http.MethodPost, sc.path+"/release",
			"Release the legal hold in force (audited); 404 if none is", http.StatusOK, authz.LegalHold)),
			func(ctx context.Context, in *holdInput) (*holdOutput, error) {
				x, err := h.Retention.ReleaseHold(ctx, sc.scope, in.ID, in.Body.Reason)
				if err != nil {
					return nil, h.fail(ctx, "body", err)
				}
				return &holdOutput{Body: holdOut(x)}, nil
			})
	}
}
