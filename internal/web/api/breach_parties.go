package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
)

// BreachOrganisation is what the organisation running Ward is under HIPAA,
// and the time zone its deadlines are counted in.
type BreachOrganisation struct {
	Role        string     `json:"role" doc:"covered_entity, business_associate or both; empty until set (new cases then start as covered_entity)."`
	TimeZone    string     `json:"time_zone" example:"America/Los_Angeles" doc:"The IANA time zone breach deadlines are counted in (calendar days, business days, end of day): the organisation's, else the server's --time-zone."`
	TimeZoneSet bool       `json:"time_zone_set" doc:"Whether the organisation set time_zone; false: it follows the server's --time-zone."`
	UpdatedBy   string     `json:"updated_by,omitempty"`
	UpdatedAt   *time.Time `json:"updated_at,omitempty"`
}

func organisationOut(o breach.Organisation) BreachOrganisation {
	out := BreachOrganisation{Role: string(o.Role), TimeZone: o.Zone.String(), TimeZoneSet: o.TimeZone != "", UpdatedBy: o.UpdatedBy}
	if !o.UpdatedAt.IsZero() {
		out.UpdatedAt = &o.UpdatedAt
	}
	return out
}

// BreachPartyContact is who to notify and where.
type BreachPartyContact struct {
	Name    string `json:"name,omitempty" maxLength:"200"`
	Email   string `json:"email,omitempty" maxLength:"320"`
	Address string `json:"address,omitempty" maxLength:"1000"`
}

// BreachPartyBody is a party as created or replaced.
type BreachPartyBody struct {
	Kind      string             `json:"kind" enum:"customer,business_associate" doc:"customer: a covered entity we are the business associate of (164.410); business_associate: our vendor."`
	Name      string             `json:"name" minLength:"1" maxLength:"200"`
	Agreement string             `json:"agreement,omitempty" maxLength:"500" doc:"The BAA or MSA and its clause, e.g. \"BAA 2024-03 section 4.2\"."`
	Notice    *rules.Term        `json:"notice,omitempty" doc:"The agreement's notice deadline from discovery: amount, unit (hours or days), business (business days). Absent: 164.410(b)'s 60 days."`
	Contact   BreachPartyContact `json:"contact,omitempty"`
	Channel   string             `json:"channel,omitempty" enum:"email,mail,phone,portal," doc:"How the notice must be given."`
	Contents  string             `json:"contents,omitempty" maxLength:"10000" doc:"What the agreement says the notice must contain."`
	Checklist []string           `json:"checklist,omitempty" maxItems:"100" doc:"The notice's required elements, to tick off."`
}

func (b BreachPartyBody) input() breach.PartyInput {
	return breach.PartyInput{Kind: b.Kind, Name: b.Name, Agreement: b.Agreement, Notice: b.Notice,
		Contact: breach.PartyContact(b.Contact), Channel: b.Channel, Contents: b.Contents, Checklist: b.Checklist}
}

// BreachParty is a customer or business associate of the registry.
type BreachParty struct {
	ID string `json:"id"`
	BreachPartyBody
	CreatedAt  time.Time  `json:"created_at"`
	UpdatedAt  time.Time  `json:"updated_at"`
	ArchivedAt *time.Time `json:"archived_at,omitempty"`
}

func partyOut(p breach.Party) BreachParty {
	if p.Checklist == nil {
		p.Checklist = []string{}
	}
	return BreachParty{ID: p.ID, BreachPartyBody: BreachPartyBody{Kind: p.Kind, Name: p.Name, Agreement: p.Agreement, Notice: p.Notice,
		Contact: BreachPartyContact(p.Contact), Channel: p.Channel, Contents: p.Contents, Checklist: p.Checklist},
		CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, ArchivedAt: p.ArchivedAt}
}

type partyPath struct {
	ID string `path:"party_id" maxLength:"100"`
}

func (h handler) registerParties(api huma.API, tag string) {
	type orgOutput struct{ Body BreachOrganisation }
	type partyOutput struct{ Body BreachParty }
	huma.Register(api, tagged(op("get-breach-organisation", http.MethodGet, "/breach/organisation",
		"What the organisation running Ward is under HIPAA: covered entity, business associate or both", http.StatusOK,
		authz.IncidentRead), tag),
		func(ctx context.Context, _ *struct{}) (*orgOutput, error) {
			o, err := h.Breach.Organisation(ctx)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &orgOutput{organisationOut(o)}, nil
		})
	huma.Register(api, tagged(op("set-breach-organisation", http.MethodPut, "/breach/organisation",
		"Set the organisation's role (new breach cases start with it) and time zone (a change recomputes every case's deadlines in it)",
		http.StatusOK, authz.BreachWrite), tag),
		func(ctx context.Context, in *struct {
			Body struct {
				Role     string `json:"role" enum:"covered_entity,business_associate,both"`
				TimeZone string `json:"time_zone,omitempty" maxLength:"64" example:"America/Los_Angeles" doc:"An IANA time zone; empty or absent: the server's --time-zone."`
			}
		}) (*orgOutput, error) {
			o, err := h.Breach.SetOrganisation(ctx, breach.OrganisationInput{Role: rules.Role(in.Body.Role), TimeZone: in.Body.TimeZone})
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &orgOutput{organisationOut(o)}, nil
		})
	huma.Register(api, tagged(op("list-breach-parties", http.MethodGet, "/breach/parties",
		"The registry of customers (covered entities we are the business associate of) and business associates, with their notice terms",
		http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *struct {
			Kind     string `query:"kind" enum:"customer,business_associate," doc:"Only parties of this kind."`
			Archived bool   `query:"archived" doc:"Include archived parties."`
		}) (*struct{ Body []BreachParty }, error) {
			ps, err := h.Breach.Parties(ctx, in.Kind, in.Archived)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out := &struct{ Body []BreachParty }{Body: make([]BreachParty, len(ps))}
			for i, p := range ps {
				out.Body[i] = partyOut(p)
			}
			return out, nil
		})
	huma.Register(api, tagged(op("create-breach-party", http.MethodPost, "/breach/parties",
		"Add a customer or business associate with its agreement's notice terms", http.StatusCreated, authz.BreachWrite), tag),
		func(ctx context.Context, in *struct{ Body BreachPartyBody }) (*partyOutput, error) {
			p, err := h.Breach.CreateParty(ctx, in.Body.input())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &partyOutput{partyOut(p)}, nil
		})
	huma.Register(api, tagged(op("get-breach-party", http.MethodGet, "/breach/parties/{party_id}", "One party of the registry",
		http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *partyPath) (*partyOutput, error) {
			p, err := h.Breach.Party(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &partyOutput{partyOut(p)}, nil
		})
	huma.Register(api, tagged(op("update-breach-party", http.MethodPut, "/breach/parties/{party_id}",
		"Replace a party's name and terms; cases naming it take them when their facts are next saved", http.StatusOK,
		authz.BreachWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"party_id" maxLength:"100"`
			Body BreachPartyBody
		}) (*partyOutput, error) {
			p, err := h.Breach.UpdateParty(ctx, in.ID, in.Body.input())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &partyOutput{partyOut(p)}, nil
		})
	huma.Register(api, tagged(op("archive-breach-party", http.MethodDelete, "/breach/parties/{party_id}",
		"Archive a party: it leaves the registry's lists, cases naming it keep it", http.StatusOK, authz.BreachWrite), tag),
		func(ctx context.Context, in *partyPath) (*partyOutput, error) {
			p, err := h.Breach.ArchiveParty(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &partyOutput{partyOut(p)}, nil
		})
}
