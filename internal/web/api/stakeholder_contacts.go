package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/stakeholder"
)

// ExternalContact is a person outside Ward kept informed of incidents.
type ExternalContact struct {
	ID           string           `json:"id"`
	Name         string           `json:"name"`
	Organisation string           `json:"organisation"`
	Title        string           `json:"title"`
	Email        string           `json:"email"`
	PartyID      string           `json:"party_id,omitempty" doc:"The party of the breach registry the contact speaks for, if linked."`
	PartyName    string           `json:"party_name,omitempty"`
	Rule         *StakeholderRule `json:"rule,omitempty" doc:"Subscribes the contact to every incident meeting all its conditions (asked by email to confirm each); absent: subscribed only by hand."`
	CreatedBy    string           `json:"created_by"`
	CreatedAt    time.Time        `json:"created_at"`
	UpdatedAt    time.Time        `json:"updated_at"`
	Version      int64            `json:"version"`
}

type externalContactBody struct {
	Name         string           `json:"name" maxLength:"100" doc:"The person's name."`
	Organisation string           `json:"organisation" maxLength:"100" doc:"The organisation they speak for: a customer, counsel, the insurer."`
	Title        string           `json:"title,omitempty" maxLength:"100" doc:"Their role or title."`
	Email        string           `json:"email" maxLength:"254"`
	PartyID      string           `json:"party_id,omitempty" maxLength:"100" doc:"Optional: the id of a party of the breach registry (a customer, a business associate) the contact speaks for."`
	Rule         *StakeholderRule `json:"rule,omitempty" doc:"services (ids or names), severities, categories, phi_suspected, customers (ids or names); every present condition must hold, {} matches every incident. The contact is subscribed to each incident it matches, once, and asked by email to confirm; a drill or need-to-know incident subscribes nobody. Omit to subscribe the contact only by hand."`
}

func (b externalContactBody) input() stakeholder.ContactInput {
	in := stakeholder.ContactInput{Name: b.Name, Organisation: b.Organisation, Title: b.Title, Email: b.Email, PartyID: b.PartyID}
	in.ByRule, in.Rule = stakeholderRuleIn(b.Rule)
	return in
}

func externalContactOut(c stakeholder.Contact) ExternalContact {
	return ExternalContact{ID: c.ID, Name: c.Name, Organisation: c.Organisation, Title: c.Title, Email: c.Email,
		PartyID: c.PartyID, PartyName: c.PartyName, Rule: stakeholderRuleOut(c.ByRule, c.Rule), CreatedBy: c.CreatedBy, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Version: c.Version}
}

func (h handler) registerStakeholderContacts(api huma.API) {
	const tag = "stakeholders"
	huma.Register(api, tagged(op("list-external-contacts", http.MethodGet, "/stakeholder-contacts",
		"List the external stakeholder contacts (audited)", http.StatusOK, authz.IncidentReadPHI), tag),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []ExternalContact }, error) {
			cs, err := h.Stakeholders.Contacts(ctx)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out := &struct{ Body []ExternalContact }{Body: make([]ExternalContact, len(cs))}
			for i, c := range cs {
				out.Body[i] = externalContactOut(c)
			}
			return out, nil
		})
	huma.Register(api, tagged(op("create-external-contact", http.MethodPost, "/stakeholder-contacts",
		"Record an external stakeholder contact", http.StatusCreated, authz.StakeholderWrite), tag),
		func(ctx context.Context, in *struct{ Body externalContactBody }) (*struct{ Body ExternalContact }, error) {
			c, err := h.Stakeholders.CreateContact(ctx, in.Body.input())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body ExternalContact }{externalContactOut(c)}, nil
		})
	huma.Register(api, tagged(op("get-external-contact", http.MethodGet, "/stakeholder-contacts/{id}",
		"Get an external stakeholder contact (audited)", http.StatusOK, authz.IncidentReadPHI), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body ExternalContact }, error) {
			c, err := h.Stakeholders.Contact(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body ExternalContact }{externalContactOut(c)}, nil
		})
	huma.Register(api, tagged(op("update-external-contact", http.MethodPut, "/stakeholder-contacts/{id}",
		"Replace an external stakeholder contact", http.StatusOK, authz.StakeholderWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body externalContactBody
		}) (*struct{ Body ExternalContact }, error) {
			c, err := h.Stakeholders.UpdateContact(ctx, in.ID, in.Body.input())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body ExternalContact }{externalContactOut(c)}, nil
		})
	huma.Register(api, tagged(op("delete-external-contact", http.MethodDelete, "/stakeholder-contacts/{id}",
		"Remove an external stakeholder contact", http.StatusNoContent, authz.StakeholderWrite), tag),
		func(ctx context.Context, in *idPath) (*struct{}, error) {
			if err := h.Stakeholders.DeleteContact(ctx, in.ID); err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{}{}, nil
		})
}

// ExternalSubscriber is an external contact's subscription to an incident.
type ExternalSubscriber struct {
	ID             string     `json:"id"`
	ContactID      string     `json:"contact_id"`
	Name           string     `json:"name"`
	Organisation   string     `json:"organisation"`
	Email          string     `json:"email"`
	Audience       string     `json:"audience" doc:"The audience whose status updates the subscriber is sent."`
	AudienceLabel  string     `json:"audience_label" doc:"The audience's plain name."`
	Status         string     `json:"status" enum:"pending,confirmed,unsubscribed,undeliverable" doc:"pending: asked by email to confirm, receives nothing else; confirmed: receives the status updates; unsubscribed: stopped them by the link in an email; undeliverable: the mail server refused an email to them for good (5xx), so nothing more is sent until they are subscribed again and confirm."`
	SubscribedBy   string     `json:"subscribed_by"`
	SubscribedAt   time.Time  `json:"subscribed_at"`
	ConfirmedAt    *time.Time `json:"confirmed_at,omitempty"`
	UnsubscribedAt *time.Time `json:"unsubscribed_at,omitempty"`
}

func subscriberOut(s stakeholder.Subscriber) ExternalSubscriber {
	return ExternalSubscriber{ID: s.ID, ContactID: s.ContactID, Name: s.Name, Organisation: s.Organisation, Email: s.Email, Status: s.Status,
		Audience: s.Audience, AudienceLabel: s.AudienceLabel, SubscribedBy: s.SubscribedBy, SubscribedAt: s.SubscribedAt, ConfirmedAt: s.ConfirmedAt, UnsubscribedAt: s.UnsubscribedAt}
}

// ExternalDelivery is one email to an external subscriber.
type ExternalDelivery struct {
	ID             string     `json:"id"`
	Kind           string     `json:"kind" enum:"confirm,update,code" doc:"confirm: the email asking to confirm; update: a status update; code: a one-time code that opens their status page."`
	StatusUpdateID string     `json:"status_update_id,omitempty"`
	SubscriptionID string     `json:"subscription_id"`
	ContactName    string     `json:"contact_name"`
	Organisation   string     `json:"organisation"`
	Status         string     `json:"status" enum:"queued,sent,failed,cancelled" doc:"cancelled: not sent, as the subscriber unsubscribed first."`
	Attempts       int        `json:"attempts"`
	Error          string     `json:"error,omitempty" doc:"The mail server's reply to the last failed attempt."`
	MessageID      string     `json:"message_id" doc:"The email's Message-ID without its domain, the same on every attempt."`
	CreatedAt      time.Time  `json:"created_at"`
	SentAt         *time.Time `json:"sent_at,omitempty"`
}

func (h handler) registerExternalSubscribers(api huma.API) {
	const tag = "stakeholders"
	huma.Register(api, tagged(op("list-external-subscribers", http.MethodGet, "/incidents/{id}/external-subscribers",
		"The external contacts subscribed to an incident, in every state (audited)", http.StatusOK, authz.IncidentReadPHI), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body []ExternalSubscriber }, error) {
			ss, err := h.Stakeholders.Subscribers(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &struct{ Body []ExternalSubscriber }{Body: make([]ExternalSubscriber, len(ss))}
			for i, s := range ss {
				out.Body[i] = subscriberOut(s)
			}
			return out, nil
		})
	huma.Register(api, tagged(op("subscribe-external-contact", http.MethodPost, "/incidents/{id}/external-subscribers",
		"Subscribe an external contact to an incident: they are emailed a link to confirm, and hear nothing else until they do (also needs incident:read_phi)",
		http.StatusCreated, authz.IncidentWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body struct {
				ContactID string `json:"contact_id" minLength:"1" maxLength:"100" doc:"The external contact's id."`
				Audience  string `json:"audience,omitempty" maxLength:"200" doc:"The audience whose status updates they are sent: internal, executives, counsel, public, or customer: followed by a customer's id (list-audiences). Default: the customer the contact speaks for, if any, else public."`
			}
		}) (*struct{ Body ExternalSubscriber }, error) {
			s, err := h.Stakeholders.SubscribeContact(ctx, in.ID, in.Body.ContactID, in.Body.Audience)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body ExternalSubscriber }{subscriberOut(s)}, nil
		})
	huma.Register(api, tagged(op("list-external-deliveries", http.MethodGet, "/incidents/{id}/external-deliveries",
		"Every email to an incident's external subscribers, newest first, with the errors (audited)", http.StatusOK, authz.IncidentReadPHI), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body []ExternalDelivery }, error) {
			ds, err := h.Stakeholders.Deliveries(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &struct{ Body []ExternalDelivery }{Body: make([]ExternalDelivery, len(ds))}
			for i, d := range ds {
				out.Body[i] = ExternalDelivery{ID: d.ID, Kind: d.Kind, StatusUpdateID: d.StatusUpdateID, SubscriptionID: d.SubscriptionID,
					ContactName: d.ContactName, Organisation: d.Organisation, Status: d.Status, Attempts: d.Attempts, Error: d.Error,
					MessageID: d.MessageID, CreatedAt: d.CreatedAt, SentAt: d.SentAt}
			}
			return out, nil
		})
}
