package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/incident"
)

// Member is a user named on an incident.
type Member struct {
	UserID      string    `json:"user_id"`
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	AddedBy     string    `json:"added_by"`
	AddedAt     time.Time `json:"added_at"`
}

func memberOut(m incident.Member) Member {
	return Member{UserID: m.UserID, Username: m.Username, DisplayName: m.DisplayName, AddedBy: m.AddedBy, AddedAt: m.AddedAt}
}

type listMembersOutput struct {
	Body struct {
		Items []Member `json:"items"`
	}
}

type addMemberInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		User string `json:"user" minLength:"1" maxLength:"200" doc:"The user's id or username."`
	}
}

type memberOutput struct {
	Body Member
}

type removeMemberInput struct {
	ID   string `path:"id" maxLength:"64"`
	User string `path:"user" maxLength:"200" doc:"The user's id or username."`
}

// Grant is emergency access to a restricted incident.
type Grant struct {
	ID             string     `json:"id"`
	IncidentID     string     `json:"incident_id"`
	IncidentNumber string     `json:"incident_number"`
	Holder         string     `json:"holder" doc:"The user or API token granted access, as the audit trail names it."`
	Reason         string     `json:"reason,omitempty" doc:"Shown only to roles with incident:restricted."`
	GrantedAt      time.Time  `json:"granted_at"`
	ExpiresAt      time.Time  `json:"expires_at"`
	RevokedAt      *time.Time `json:"revoked_at,omitempty" doc:"Set when an officer ended the grant early."`
}

func grantOut(g incident.Grant, reason bool) Grant {
	out := Grant{ID: g.ID, IncidentID: g.IncidentID, IncidentNumber: g.IncidentNumber, Holder: g.Actor,
		GrantedAt: g.GrantedAt, ExpiresAt: g.ExpiresAt, RevokedAt: g.RevokedAt}
	if reason {
		out.Reason = g.Reason
	}
	return out
}

type listGrantsOutput struct {
	Body struct {
		Items []Grant `json:"items"`
	}
}

type revokeGrantInput struct {
	ID      string `path:"id" maxLength:"64"`
	GrantID string `path:"grant_id" maxLength:"64"`
}

type breakGlassInput struct {
	ID   string `path:"id" maxLength:"64" doc:"Incident number (or id)."`
	Body struct {
		Reason string `json:"reason" minLength:"20" maxLength:"2000" doc:"Why emergency access is needed, in at least 20 characters. Stored unencrypted and shown to the Security Officer: no PHI."`
	}
}

type grantOutput struct {
	Body Grant
}

// OfficerAlert is something the Security Officer must be told at once.
type OfficerAlert struct {
	ID             string     `json:"id"`
	Kind           string     `json:"kind" enum:"break_glass,paging_failed" doc:"break_glass: emergency access was granted (actor and reason as given); paging_failed: the incident's page reached nobody or nobody acknowledged it (actor Ward, reason Ward's own sentence)."`
	IncidentID     string     `json:"incident_id"`
	IncidentNumber string     `json:"incident_number"`
	Actor          string     `json:"actor" doc:"Who caused it, as the audit trail names them."`
	Reason         string     `json:"reason"`
	CreatedAt      time.Time  `json:"created_at"`
	AcknowledgedAt *time.Time `json:"acknowledged_at,omitempty"`
	AcknowledgedBy string     `json:"acknowledged_by,omitempty"`
}

func officerAlertOut(a incident.OfficerAlert) OfficerAlert {
	return OfficerAlert{ID: a.ID, Kind: a.Kind, IncidentID: a.IncidentID, IncidentNumber: a.IncidentNumber, Actor: a.Actor,
		Reason: a.Reason, CreatedAt: a.CreatedAt, AcknowledgedAt: a.AcknowledgedAt, AcknowledgedBy: a.AcknowledgedBy}
}

type listOfficerAlertsInput struct {
	All bool `query:"all" doc:"Include acknowledged alerts; by default only those nobody has acknowledged."`
}

type listOfficerAlertsOutput struct {
	Body struct {
		Items []OfficerAlert `json:"items"`
	}
}

type officerAlertInput struct {
	ID string `path:"id" maxLength:"64" doc:"Officer alert id."`
}

type officerAlertOutput struct {
	Body OfficerAlert
}

func (h handler) registerRestricted(api huma.API) {
	huma.Register(api, op("list-members", http.MethodGet, "/incidents/{id}/members",
		"An incident's members: the users who may see it when it is restricted", http.StatusOK, authz.IncidentRead),
		func(ctx context.Context, in *idInput) (*listMembersOutput, error) {
			ms, err := h.Incidents.Members(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &listMembersOutput{}
			out.Body.Items = make([]Member, len(ms))
			for i, m := range ms {
				out.Body.Items[i] = memberOut(m)
			}
			return out, nil
		})

	huma.Register(api, op("add-member", http.MethodPost, "/incidents/{id}/members",
		"Name a user on an incident (audited, on the timeline)", http.StatusCreated, authz.IncidentWrite),
		func(ctx context.Context, in *addMemberInput) (*memberOutput, error) {
			m, err := h.Incidents.AddMember(ctx, in.ID, in.Body.User)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &memberOutput{Body: memberOut(m)}, nil
		})

	huma.Register(api, op("remove-member", http.MethodDelete, "/incidents/{id}/members/{user}",
		"Take a user off an incident (audited, on the timeline)", http.StatusNoContent, authz.IncidentWrite),
		func(ctx context.Context, in *removeMemberInput) (*struct{}, error) {
			if err := h.Incidents.RemoveMember(ctx, in.ID, in.User); err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{}{}, nil
		})

	bg := op("break-glass", http.MethodPost, "/incidents/{id}/break-glass",
		"Emergency access to a restricted incident the caller cannot see", http.StatusCreated, authz.BreakGlass)
	bg.Description = "The emergency access procedure of 45 CFR 164.312(a)(2)(ii). Access is granted at once, " +
		"for a limited time (60 minutes unless configured otherwise), recorded in the audit trail and on the incident's " +
		"timeline, and the Security Officer is alerted at once. 409 if the caller can already see the incident."
	huma.Register(api, bg, func(ctx context.Context, in *breakGlassInput) (*grantOutput, error) {
		g, err := h.Incidents.BreakGlass(ctx, in.ID, in.Body.Reason)
		if err != nil {
			return nil, h.fail(ctx, "body", err)
		}
		return &grantOutput{Body: grantOut(g, false)}, nil
	})

	huma.Register(api, op("list-grants", http.MethodGet, "/incidents/{id}/grants",
		"An incident's break-glass grants, newest first, ended ones included", http.StatusOK, authz.IncidentRestricted),
		func(ctx context.Context, in *idInput) (*listGrantsOutput, error) {
			gs, err := h.Incidents.Grants(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &listGrantsOutput{}
			out.Body.Items = make([]Grant, len(gs))
			for i, g := range gs {
				out.Body.Items[i] = grantOut(g, true)
			}
			return out, nil
		})

	huma.Register(api, op("revoke-grant", http.MethodPost, "/incidents/{id}/grants/{grant_id}/revoke",
		"End a break-glass grant before it expires (audited, on the timeline)", http.StatusOK, authz.RestrictedManage),
		func(ctx context.Context, in *revokeGrantInput) (*grantOutput, error) {
			g, err := h.Incidents.RevokeGrant(ctx, in.ID, in.GrantID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &grantOutput{Body: grantOut(g, true)}, nil
		})

	officer := func(o huma.Operation) huma.Operation {
		o.Tags = []string{"officer"}
		return o
	}
	huma.Register(api, officer(op("list-officer-alerts", http.MethodGet, "/officer-alerts",
		"What the Security Officer must know at once (emergency access), newest first", http.StatusOK, authz.IncidentRestricted)),
		func(ctx context.Context, in *listOfficerAlertsInput) (*listOfficerAlertsOutput, error) {
			as, err := h.Incidents.OfficerAlerts(ctx, !in.All)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out := &listOfficerAlertsOutput{}
			out.Body.Items = make([]OfficerAlert, len(as))
			for i, a := range as {
				out.Body.Items[i] = officerAlertOut(a)
			}
			return out, nil
		})

	huma.Register(api, officer(op("acknowledge-officer-alert", http.MethodPost, "/officer-alerts/{id}/acknowledge",
		"Record that an officer has seen an officer alert (audited)", http.StatusOK, authz.RestrictedManage)),
		func(ctx context.Context, in *officerAlertInput) (*officerAlertOutput, error) {
			a, err := h.Incidents.AcknowledgeOfficerAlert(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &officerAlertOutput{Body: officerAlertOut(a)}, nil
		})
}
