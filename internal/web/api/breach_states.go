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

// BreachStateTable is a version of the State breach-notification table.
type BreachStateTable struct {
	ID      string `json:"id,omitempty" doc:"Empty for the table Ward ships."`
	Shipped bool   `json:"shipped" doc:"Whether this is the table Ward ships (no administrator has saved one)."`
	Version string `json:"version"`
	Source  string `json:"source"`
	// Jurisdictions: one row per jurisdiction, each with its statute,
	// source and review date, how it treats HIPAA entities and what else
	// it requires.
	Jurisdictions []rules.Jurisdiction `json:"jurisdictions"`
	Rules         []rules.StateRule    `json:"rules"`
	Reason        string               `json:"reason,omitempty"`
	CreatedBy     string               `json:"created_by,omitempty"`
	CreatedAt     *time.Time           `json:"created_at,omitempty"`
	Counsel       BreachStateCounsel   `json:"counsel"`
}

// BreachStateCounsel counts the rows counsel is still to confirm.
type BreachStateCounsel struct {
	ToConfirm int `json:"to_confirm" doc:"Rows (jurisdictions and rules) marked counsel_to_confirm."`
	Rows      int `json:"rows" doc:"Jurisdictions and rules."`
}

func stateTableOut(t breach.StateTable) BreachStateTable {
	out := BreachStateTable{ID: t.ID, Shipped: t.ID == "", Version: t.Table.Version, Source: t.Table.Source,
		Jurisdictions: t.Table.Jurisdictions, Rules: t.Table.Rules, Reason: t.Reason, CreatedBy: t.CreatedBy,
		Counsel: BreachStateCounsel{Rows: len(t.Table.Jurisdictions) + len(t.Table.Rules)}}
	if out.Rules == nil {
		out.Rules = []rules.StateRule{}
	}
	if out.Jurisdictions == nil {
		out.Jurisdictions = []rules.Jurisdiction{}
	}
	for _, j := range t.Table.Jurisdictions {
		if j.CounselToConfirm {
			out.Counsel.ToConfirm++
		}
	}
	for _, r := range t.Table.Rules {
		if r.CounselToConfirm {
			out.Counsel.ToConfirm++
		}
	}
	if !t.CreatedAt.IsZero() {
		out.CreatedAt = &t.CreatedAt
	}
	return out
}

type stateTableSaved struct {
	Body struct {
		Table      BreachStateTable `json:"table"`
		Recomputed int              `json:"recomputed" doc:"Cases whose obligations were recomputed."`
	}
}

// BreachJurisdiction is a State or territory whose residents a case can
// count.
type BreachJurisdiction struct {
	Code string `json:"code" doc:"The two-letter code facts.by_state is keyed by."`
	Name string `json:"name"`
}

func (h handler) registerStateTable(api huma.API, tag string) {
	huma.Register(api, tagged(op("list-breach-jurisdictions", http.MethodGet, "/breach/jurisdictions",
		"The 56 jurisdictions Ward covers (the States, DC and the territories): the codes facts.by_state accepts",
		http.StatusOK, authz.IncidentRead), tag),
		func(context.Context, *struct{}) (*struct{ Body []BreachJurisdiction }, error) {
			codes := rules.JurisdictionCodes()
			out := make([]BreachJurisdiction, len(codes))
			for i, c := range codes {
				name, _ := rules.JurisdictionName(c)
				out[i] = BreachJurisdiction{Code: c, Name: name}
			}
			return &struct{ Body []BreachJurisdiction }{out}, nil
		})
	huma.Register(api, tagged(op("list-breach-case-tags", http.MethodGet, "/breach/case-tags",
		"The case tags facts.tags accepts and State rules' applies_to names, each with its label and citation",
		http.StatusOK, authz.IncidentRead), tag),
		func(context.Context, *struct{}) (*struct{ Body []rules.Tag }, error) {
			return &struct{ Body []rules.Tag }{rules.Tags()}, nil
		})
	type tableOutput struct{ Body BreachStateTable }
	huma.Register(api, tagged(op("get-breach-state-table", http.MethodGet, "/breach/state-rules",
		"The State breach-notification table in use: each jurisdiction's statute, source and treatment of HIPAA entities, and each rule's recipient, deadline, citation, effective date and whether counsel is to confirm it",
		http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, _ *struct{}) (*tableOutput, error) {
			t, err := h.Breach.StateTable(ctx)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &tableOutput{stateTableOut(t)}, nil
		})
	huma.Register(api, tagged(op("list-breach-state-tables", http.MethodGet, "/breach/state-rules/versions",
		"Every version of the State table administrators saved, newest first", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []BreachStateTable }, error) {
			ts, err := h.Breach.StateTables(ctx)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := make([]BreachStateTable, len(ts))
			for i, t := range ts {
				out[i] = stateTableOut(t)
			}
			return &struct{ Body []BreachStateTable }{out}, nil
		})
	huma.Register(api, tagged(op("set-breach-state-table", http.MethodPut, "/breach/state-rules",
		"Save a new version of the State table (the whole table, as GET returns it) and recompute every case's obligations with it",
		http.StatusOK, authz.OrgWrite), tag),
		func(ctx context.Context, in *struct {
			Body struct {
				Version       string               `json:"version" minLength:"1" maxLength:"100" doc:"Your name for this version, e.g. 2027-01 counsel review."`
				Source        string               `json:"source,omitempty" maxLength:"1000"`
				Jurisdictions []rules.Jurisdiction `json:"jurisdictions" maxItems:"100" doc:"Every jurisdiction's row: a table missing one is refused."`
				Rules         []rules.StateRule    `json:"rules" maxItems:"2000"`
				Reason        string               `json:"reason" maxLength:"2000" doc:"What changed and on whose advice."`
			}
		}) (*stateTableSaved, error) {
			b := in.Body
			t, n, err := h.Breach.SetStateTable(ctx, rules.StateTable{Version: b.Version, Source: b.Source, Jurisdictions: b.Jurisdictions,
				Rules: b.Rules}, b.Reason)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			out := &stateTableSaved{}
			out.Body.Table, out.Body.Recomputed = stateTableOut(t), n
			return out, nil
		})
}
