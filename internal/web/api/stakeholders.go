package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/stakeholder"
)

// StakeholderRule subscribes a group, or an external contact, to every
// incident meeting all its present conditions.
type StakeholderRule struct {
	Services     []string `json:"services,omitempty" maxItems:"100" doc:"Service ids (names accepted on input): an alert of one of them fed the incident."`
	Severities   []string `json:"severities,omitempty" maxItems:"4"`
	Categories   []string `json:"categories,omitempty" maxItems:"50"`
	PHISuspected *bool    `json:"phi_suspected,omitempty"`
	Customers    []string `json:"customers,omitempty" maxItems:"100" doc:"Ids (names accepted on input) of customers of the breach registry: the incident affects one of them, naming it among its customers or owing it a notice through its breach case."`
}

func stakeholderRuleOut(byRule bool, r stakeholder.Rule) *StakeholderRule {
	if !byRule {
		return nil
	}
	return &StakeholderRule{Services: r.Services, Severities: r.Severities, Categories: r.Categories, PHISuspected: r.PHISuspected,
		Customers: r.Customers}
}

func stakeholderRuleIn(r *StakeholderRule) (bool, stakeholder.Rule) {
	if r == nil {
		return false, stakeholder.Rule{}
	}
	return true, stakeholder.Rule{Services: r.Services, Severities: r.Severities, Categories: r.Categories, PHISuspected: r.PHISuspected,
		Customers: r.Customers}
}

// StakeholderGroup is a stakeholder group as the API shows it.
type StakeholderGroup struct {
	ID            string           `json:"id"`
	Name          string           `json:"name"`
	Description   string           `json:"description"`
	Rule          *StakeholderRule `json:"rule,omitempty" doc:"Subscribes the group to every incident meeting all its conditions; absent: subscribed only by hand."`
	Members       []string         `json:"members" doc:"User ids."`
	Audience      string           `json:"audience" doc:"The audience whose status updates the group hears of: internal (the responders), executives, counsel, public, or customer: followed by the id of a customer of the breach registry (list-audiences)."`
	AudienceLabel string           `json:"audience_label" doc:"The audience's plain name, e.g. Executives or Customer Acme Health."`
	CreatedAt     time.Time        `json:"created_at"`
	UpdatedAt     time.Time        `json:"updated_at"`
	Version       int64            `json:"version"`
}

func groupOut(g stakeholder.Group) StakeholderGroup {
	out := StakeholderGroup{ID: g.ID, Name: g.Name, Description: g.Description, Members: g.Members, Audience: g.Audience,
		AudienceLabel: g.AudienceLabel, CreatedAt: g.CreatedAt,
		UpdatedAt: g.UpdatedAt, Version: g.Version}
	if out.Members == nil {
		out.Members = []string{}
	}
	out.Rule = stakeholderRuleOut(g.ByRule, g.Rule)
	return out
}

type groupBody struct {
	Name        string           `json:"name" minLength:"1" maxLength:"100"`
	Description string           `json:"description,omitempty" maxLength:"2000"`
	Rule        *StakeholderRule `json:"rule,omitempty" doc:"services (ids or names), severities, categories, phi_suspected, customers (ids or names); every present condition must hold, {} matches every incident. Omit to subscribe the group only by hand."`
	Members     []string         `json:"members,omitempty" maxItems:"200" doc:"User ids or usernames."`
	Audience    string           `json:"audience,omitempty" maxLength:"200" doc:"The audience whose status updates the group hears of (default internal): internal (the responders), executives, counsel, public, or customer: followed by the id of a customer of the breach registry (list-audiences)."`
}

func (b groupBody) input() stakeholder.GroupInput {
	in := stakeholder.GroupInput{Name: b.Name, Description: b.Description, Members: b.Members, Audience: b.Audience}
	in.ByRule, in.Rule = stakeholderRuleIn(b.Rule)
	return in
}

// StatusUpdate is a status update for stakeholders.
type StatusUpdate struct {
	ID            string       `json:"id"`
	Audience      string       `json:"audience" doc:"Who it was written for: internal (the responders), executives, counsel, public, or customer: followed by the id of a customer of the breach registry (list-audiences)."`
	AudienceLabel string       `json:"audience_label" doc:"The audience's plain name."`
	Body          string       `json:"body"`
	PostedBy      string       `json:"posted_by"`
	PostedAt      time.Time    `json:"posted_at"`
	PHIChecked    bool         `json:"phi_checked" doc:"The text passed the PHI check; false when the Privacy Officer posted it over the check, or it predates the check."`
	Notified      int          `json:"notified,omitempty" doc:"Messages that announced it (on posting only)."`
	Emails        UpdateEmails `json:"emails" doc:"What became of its emails to the incident's confirmed external subscribers; none for an update not PHI-checked, whose text is never emailed."`
}

// UpdateEmails counts a status update's emails to external subscribers.
type UpdateEmails struct {
	Recipients int `json:"recipients" doc:"Confirmed subscribers it was queued for."`
	Sent       int `json:"sent" doc:"Accepted by the mail server."`
	Failed     int `json:"failed" doc:"Refused, or out of attempts; see the incident's external deliveries."`
	Queued     int `json:"queued" doc:"Not sent yet, or to be tried again."`
}

func statusUpdateOut(u stakeholder.Update) StatusUpdate {
	return StatusUpdate{ID: u.ID, Audience: u.Audience, AudienceLabel: u.AudienceLabel, Body: u.Body, PostedBy: u.PostedBy, PostedAt: u.PostedAt, PHIChecked: u.PHIChecked, Notified: u.Notified,
		Emails: UpdateEmails{Recipients: u.Emails.Recipients, Sent: u.Emails.Sent, Failed: u.Emails.Failed, Queued: u.Emails.Queued}}
}

// SLAPolicy is the SLA of one severity, in minutes (0: no target).
type SLAPolicy struct {
	Severity              string    `json:"severity" enum:"sev1,sev2,sev3,sev4"`
	AckMinutes            int       `json:"ack_minutes"`
	FirstUpdateMinutes    int       `json:"first_update_minutes"`
	UpdateIntervalMinutes int       `json:"update_interval_minutes"`
	ContainMinutes        int       `json:"contain_minutes"`
	ResolveMinutes        int       `json:"resolve_minutes"`
	UpdatedAt             time.Time `json:"updated_at"`
	Version               int64     `json:"version"`
}

func slaPolicyOut(p stakeholder.Policy) SLAPolicy {
	return SLAPolicy{Severity: p.Severity, AckMinutes: p.AckMinutes, FirstUpdateMinutes: p.FirstUpdateMinutes,
		UpdateIntervalMinutes: p.UpdateIntervalMinutes, ContainMinutes: p.ContainMinutes, ResolveMinutes: p.ResolveMinutes,
		UpdatedAt: p.UpdatedAt, Version: p.Version}
}

// SLATarget is one SLA target of an incident.
type SLATarget struct {
	Name  string     `json:"name" enum:"acknowledge,first_update,contain,resolve"`
	DueAt *time.Time `json:"due_at,omitempty"`
	MetAt *time.Time `json:"met_at,omitempty"`
	State string     `json:"state" enum:"none,pending,at_risk,missed,met,met_late"`
}

// SLAStatus is an incident's SLA.
type SLAStatus struct {
	Severity        string       `json:"severity"`
	Targets         []SLATarget  `json:"targets"`
	LastUpdateAt    *time.Time   `json:"last_update_at,omitempty"`
	NextUpdateDueAt *time.Time   `json:"next_update_due_at,omitempty"`
	UpdateOverdue   bool         `json:"update_overdue"`
	Audiences       []SLACadence `json:"audiences" doc:"The update cadence of each audience of the incident: internal first (the fields above are its), then each other audience of a subscribed group or confirmed external subscriber. The commander is reminded when any is overdue."`
}

// SLACadence is the update cadence of one audience of an incident.
type SLACadence struct {
	Audience        string     `json:"audience"`
	AudienceLabel   string     `json:"audience_label"`
	LastUpdateAt    *time.Time `json:"last_update_at,omitempty"`
	NextUpdateDueAt *time.Time `json:"next_update_due_at,omitempty"`
	UpdateOverdue   bool       `json:"update_overdue"`
}

// UpdateDelivery is one message that carried or announced a status update.
type UpdateDelivery struct {
	StatusUpdateID string     `json:"status_update_id"`
	Audience       string     `json:"audience" doc:"The update's audience."`
	External       bool       `json:"external" doc:"true: an external contact, by email; false: a Ward user, by one of their contact methods (the message says only that there is a new update)."`
	Recipient      string     `json:"recipient" doc:"The Ward user's username, or the external contact's name."`
	RecipientID    string     `json:"recipient_id" doc:"The user's or the external contact's id."`
	Organisation   string     `json:"organisation,omitempty" doc:"The external contact's organisation."`
	Party          string     `json:"party,omitempty" doc:"The registry party the external contact speaks for."`
	Channel        string     `json:"channel" doc:"external_email for an external contact; the contact method's kind (email, sms, voice, slack, teams, webhook) for a Ward user."`
	Status         string     `json:"status" enum:"scheduled,queued,sending,sent,failed,cancelled,rate_limited"`
	Attempts       int        `json:"attempts"`
	Error          string     `json:"error,omitempty" doc:"Why the last attempt failed."`
	MessageID      string     `json:"message_id" doc:"The email's Message-ID, or the message's id in Ward's outbox."`
	QueuedAt       time.Time  `json:"queued_at"`
	SentAt         *time.Time `json:"sent_at,omitempty"`
}

// Audience is an audience a status update may be written for.
type Audience struct {
	Key   string `json:"key" doc:"internal (the responders), executives, counsel, public, or customer: followed by the id of a customer of the breach registry (list-audiences)."`
	Label string `json:"label" doc:"Its plain name."`
}

func (h handler) registerStakeholders(api huma.API) {
	const tag = "stakeholders"
	huma.Register(api, tagged(op("list-stakeholder-groups", http.MethodGet, "/stakeholder-groups", "List stakeholder groups",
		http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []StakeholderGroup }, error) {
			gs, err := h.Stakeholders.Groups(ctx)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out := &struct{ Body []StakeholderGroup }{Body: make([]StakeholderGroup, len(gs))}
			for i, g := range gs {
				out.Body[i] = groupOut(g)
			}
			return out, nil
		})
	huma.Register(api, tagged(op("create-stakeholder-group", http.MethodPost, "/stakeholder-groups", "Create a stakeholder group",
		http.StatusCreated, authz.StakeholderWrite), tag),
		func(ctx context.Context, in *struct{ Body groupBody }) (*struct{ Body StakeholderGroup }, error) {
			g, err := h.Stakeholders.CreateGroup(ctx, in.Body.input())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body StakeholderGroup }{groupOut(g)}, nil
		})
	huma.Register(api, tagged(op("get-stakeholder-group", http.MethodGet, "/stakeholder-groups/{id}", "Get a stakeholder group by id or name",
		http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body StakeholderGroup }, error) {
			g, err := h.Stakeholders.GetGroup(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body StakeholderGroup }{groupOut(g)}, nil
		})
	huma.Register(api, tagged(op("update-stakeholder-group", http.MethodPut, "/stakeholder-groups/{id}", "Replace a stakeholder group",
		http.StatusOK, authz.StakeholderWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body groupBody
		}) (*struct{ Body StakeholderGroup }, error) {
			g, err := h.Stakeholders.UpdateGroup(ctx, in.ID, in.Body.input())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body StakeholderGroup }{groupOut(g)}, nil
		})
	huma.Register(api, tagged(op("list-incident-stakeholders", http.MethodGet, "/incidents/{id}/stakeholders",
		"The stakeholder groups subscribed to an incident, by rule or by hand", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body []StakeholderGroup }, error) {
			gs, err := h.Stakeholders.Subscribed(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &struct{ Body []StakeholderGroup }{Body: make([]StakeholderGroup, len(gs))}
			for i, g := range gs {
				out.Body[i] = groupOut(g)
			}
			return out, nil
		})
	huma.Register(api, tagged(op("subscribe-stakeholders", http.MethodPost, "/incidents/{id}/stakeholders",
		"Subscribe a stakeholder group to an incident by hand", http.StatusNoContent, authz.IncidentWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body struct {
				Group string `json:"group" minLength:"1" maxLength:"100" doc:"Group id or name."`
			}
		}) (*struct{}, error) {
			if err := h.Stakeholders.Subscribe(ctx, in.ID, in.Body.Group); err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{}{}, nil
		})
	huma.Register(api, tagged(op("list-status-updates", http.MethodGet, "/incidents/{id}/status-updates", "An incident's status updates, newest first",
		http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body []StatusUpdate }, error) {
			us, err := h.Stakeholders.Updates(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &struct{ Body []StatusUpdate }{Body: make([]StatusUpdate, len(us))}
			for i, u := range us {
				out.Body[i] = statusUpdateOut(u)
			}
			return out, nil
		})
	huma.Register(api, tagged(op("post-status-update", http.MethodPost, "/incidents/{id}/status-updates",
		"Post a status update for an audience; each subscribed group of that audience is told it is there, and a PHI-checked text is emailed to the audience's confirmed external subscribers", http.StatusCreated, authz.IncidentWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body struct {
				Body        string `json:"body" minLength:"1" maxLength:"5000" doc:"Read by stakeholders who may not see PHI: write none. A text that looks like it holds a Social Security number, a medical record number or a date of birth is refused (422), naming the kind of pattern."`
				PHIOverride bool   `json:"phi_override,omitempty" doc:"Post the text although the PHI check refuses it (the Privacy Officer only; audited)."`
				Audience    string `json:"audience,omitempty" maxLength:"200" doc:"Who it is for (default internal): internal (the responders), executives, counsel, public, or customer: followed by the id of a customer of the breach registry (list-audiences). Only the groups and external subscribers of that audience hear of it."`
			}
		}) (*struct{ Body StatusUpdate }, error) {
			u, err := h.Stakeholders.PostUpdate(ctx, in.ID, stakeholder.UpdateInput{Body: in.Body.Body, PHIOverride: in.Body.PHIOverride,
				Audience: in.Body.Audience})
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body StatusUpdate }{statusUpdateOut(u)}, nil
		})
	huma.Register(api, tagged(op("list-audiences", http.MethodGet, "/stakeholder-audiences",
		"The audiences a status update may be written for: the fixed ones, then each customer of the breach registry", http.StatusOK,
		authz.IncidentRead), tag),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []Audience }, error) {
			as, err := h.Stakeholders.Audiences(ctx)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out := &struct{ Body []Audience }{Body: make([]Audience, len(as))}
			for i, a := range as {
				out.Body[i] = Audience{Key: a.Key, Label: a.Label}
			}
			return out, nil
		})
	huma.Register(api, tagged(op("list-status-update-deliveries", http.MethodGet, "/incidents/{id}/status-update-deliveries",
		"Proof of delivery: every message that carried or announced each status update, to whom, by which channel, when sent or why it failed (audited)",
		http.StatusOK, authz.IncidentReadPHI), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body []UpdateDelivery }, error) {
			byUpdate, err := h.Stakeholders.UpdateDeliveries(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			us, err := h.Stakeholders.Updates(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &struct{ Body []UpdateDelivery }{Body: []UpdateDelivery{}}
			for _, u := range us {
				for _, d := range byUpdate[u.ID] {
					out.Body = append(out.Body, UpdateDelivery{StatusUpdateID: d.StatusUpdateID, Audience: u.Audience, External: d.External,
						Recipient: d.Recipient, RecipientID: d.RecipientID, Organisation: d.Organisation, Party: d.PartyName, Channel: d.Channel,
						Status: d.Status, Attempts: d.Attempts, Error: d.Error, MessageID: d.MessageID, QueuedAt: d.QueuedAt, SentAt: d.SentAt})
				}
			}
			return out, nil
		})
	huma.Register(api, tagged(op("list-sla-policies", http.MethodGet, "/sla-policies", "The SLA policy of every severity",
		http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []SLAPolicy }, error) {
			ps, err := h.Stakeholders.SLAPolicies(ctx)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out := &struct{ Body []SLAPolicy }{Body: make([]SLAPolicy, len(ps))}
			for i, p := range ps {
				out.Body[i] = slaPolicyOut(p)
			}
			return out, nil
		})
	huma.Register(api, tagged(op("set-sla-policy", http.MethodPut, "/sla-policies/{id}", "Replace the SLA policy of a severity",
		http.StatusOK, authz.OnCallWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"10" doc:"The severity: sev1 to sev4."`
			Body struct {
				AckMinutes            int `json:"ack_minutes" minimum:"0"`
				FirstUpdateMinutes    int `json:"first_update_minutes" minimum:"0"`
				UpdateIntervalMinutes int `json:"update_interval_minutes" minimum:"0"`
				ContainMinutes        int `json:"contain_minutes" minimum:"0"`
				ResolveMinutes        int `json:"resolve_minutes" minimum:"0"`
			}
		}) (*struct{ Body SLAPolicy }, error) {
			p, err := h.Stakeholders.SetSLAPolicy(ctx, stakeholder.Policy{Severity: in.ID, AckMinutes: in.Body.AckMinutes,
				FirstUpdateMinutes: in.Body.FirstUpdateMinutes, UpdateIntervalMinutes: in.Body.UpdateIntervalMinutes,
				ContainMinutes: in.Body.ContainMinutes, ResolveMinutes: in.Body.ResolveMinutes})
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body SLAPolicy }{slaPolicyOut(p)}, nil
		})
	huma.Register(api, tagged(op("get-incident-sla", http.MethodGet, "/incidents/{id}/sla", "An incident's SLA targets and update cadence",
		http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body SLAStatus }, error) {
			st, err := h.Stakeholders.SLA(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := SLAStatus{Severity: st.Severity, LastUpdateAt: st.LastUpdateAt, NextUpdateDueAt: st.NextUpdateDueAt,
				UpdateOverdue: st.UpdateOverdue, Targets: make([]SLATarget, len(st.Targets))}
			for i, t := range st.Targets {
				out.Targets[i] = SLATarget{Name: t.Name, DueAt: t.DueAt, MetAt: t.MetAt, State: t.State}
			}
			out.Audiences = make([]SLACadence, len(st.Audiences))
			for i, c := range st.Audiences {
				out.Audiences[i] = SLACadence{Audience: c.Audience, AudienceLabel: c.AudienceLabel, LastUpdateAt: c.LastUpdateAt,
					NextUpdateDueAt: c.NextUpdateDueAt, UpdateOverdue: c.UpdateOverdue}
			}
			return &struct{ Body SLAStatus }{out}, nil
		})
}
