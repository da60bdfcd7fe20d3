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

// BreachCase is a breach case as the API shows it.
type BreachCase struct {
	ID             string      `json:"id"`
	IncidentID     string      `json:"incident_id"`
	IncidentNumber string      `json:"incident_number"`
	Facts          rules.Facts `json:"facts" doc:"What the obligations depend on (docs/BREACH.md)."`
	Outcome        string      `json:"outcome" enum:"pending,not_breach_secured,not_breach_exception,notification_required,low_probability_of_compromise" doc:"The latest signed determination's; pending: breach is presumed (164.402(2))."`
	OpenedBy       string      `json:"opened_by"`
	CreatedAt      time.Time   `json:"created_at"`
	UpdatedAt      time.Time   `json:"updated_at"`
	Version        int64       `json:"version"`
}

func caseOut(c breach.Case) BreachCase {
	return BreachCase{ID: c.ID, IncidentID: c.IncidentID, IncidentNumber: c.IncidentNumber, Facts: c.Facts, Outcome: c.Outcome,
		OpenedBy: c.OpenedBy, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Version: c.Version}
}

// BreachDetermination is one signed version of a determination.
type BreachDetermination struct {
	Version  int                 `json:"version"`
	Body     rules.Determination `json:"determination"`
	Outcome  string              `json:"outcome"`
	Citation string              `json:"citation"`
	Why      string              `json:"why"`
	Reason   string              `json:"reason,omitempty"`
	SignedBy string              `json:"signed_by"`
	SignedAt time.Time           `json:"signed_at"`
}

func determinationOut(d breach.Determination) BreachDetermination {
	return BreachDetermination{Version: d.Version, Body: d.Body, Outcome: string(d.Result.Outcome), Citation: d.Result.Citation,
		Why: d.Result.Why, Reason: d.Reason, SignedBy: d.SignedBy, SignedAt: d.SignedAt}
}

// BreachObligation is one notice a case owes.
type BreachObligation struct {
	rules.Obligation
	IncidentNumber string     `json:"incident_number"`
	State          string     `json:"state" enum:"open,held,overdue,met"`
	MetAt          *time.Time `json:"met_at,omitempty"`
	MetBy          string     `json:"met_by,omitempty"`
}

func obligationsOut(obs []breach.Obligation) []BreachObligation {
	out := make([]BreachObligation, len(obs))
	for i, o := range obs {
		out[i] = BreachObligation{Obligation: o.Obligation, IncidentNumber: o.IncidentNumber, State: o.State, MetAt: o.MetAt, MetBy: o.MetBy}
	}
	return out
}

// factsBody is the case's facts as a client sends them; the
// determination's result is not among them.
type factsBody struct {
	Role               rules.Role                 `json:"role" enum:"covered_entity,business_associate,both,phr_vendor"`
	DiscoveredAt       time.Time                  `json:"discovered_at" doc:"When the breach was known to the workforce (164.404(a)(2))."`
	ShouldHaveKnownAt  time.Time                  `json:"should_have_known_at" doc:"When it would have been known with reasonable diligence; the clock starts at the earlier."`
	Individuals        int                        `json:"individuals,omitempty" doc:"Affected in total (an estimate until counted)."`
	ByState            map[string]int             `json:"by_state,omitempty" doc:"Residents per State or jurisdiction, by two-letter code."`
	Customers          []rules.Customer           `json:"customers,omitempty" doc:"Covered-entity customers to notify as their business associate, with each agreement's notice term."`
	Delay              *rules.LawEnforcementDelay `json:"law_enforcement_delay,omitempty" doc:"164.412: written (until a date) or oral (documented, at most 30 days)."`
	Tags               []string                   `json:"tags,omitempty"`
	IndividualNoticeAt *time.Time                 `json:"individual_notice_at,omitempty"`
	HHSNoticeAt        *time.Time                 `json:"hhs_notice_at,omitempty"`
}

func (b factsBody) facts() rules.Facts {
	f := rules.Facts{Role: b.Role, DiscoveredAt: b.DiscoveredAt, ShouldHaveKnownAt: b.ShouldHaveKnownAt, Individuals: b.Individuals,
		ByState: b.ByState, Customers: b.Customers, Delay: b.Delay, Tags: b.Tags}
	if b.IndividualNoticeAt != nil {
		f.IndividualNoticeAt = *b.IndividualNoticeAt
	}
	if b.HHSNoticeAt != nil {
		f.HHSNoticeAt = *b.HHSNoticeAt
	}
	return f
}

// determinationBody is a determination as the officer sends it; the
// signature is theirs, added by Ward.
type determinationBody struct {
	Secured                 *rules.Secured    `json:"secured,omitempty" doc:"The safe-harbor claim: encrypted (per HHS guidance, key not compromised) or destroyed."`
	Exception               *rules.Exception  `json:"exception,omitempty" doc:"A 164.402(1)(i)-(iii) exception claimed."`
	NotifyWithoutAssessment bool              `json:"notify_without_assessment,omitempty" doc:"Notify without a risk assessment: a valid, recorded choice."`
	Assessment              *rules.Assessment `json:"assessment,omitempty" doc:"The four-factor risk assessment of 164.402(2), a finding and rationale per factor."`
}

func (b determinationBody) determination() rules.Determination {
	return rules.Determination{Secured: b.Secured, Exception: b.Exception, NotifyWithoutAssessment: b.NotifyWithoutAssessment,
		Assessment: b.Assessment}
}

func (h handler) registerBreach(api huma.API) {
	const tag = "breach"
	type caseOutput struct{ Body BreachCase }
	huma.Register(api, tagged(op("open-breach-case", http.MethodPost, "/incidents/{id}/breach-case",
		"Open the incident's breach case; breach is presumed until a determination is signed", http.StatusCreated, authz.BreachWrite), tag),
		func(ctx context.Context, in *idPath) (*caseOutput, error) {
			c, err := h.Breach.Open(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &caseOutput{caseOut(c)}, nil
		})
	huma.Register(api, tagged(op("get-breach-case", http.MethodGet, "/incidents/{id}/breach-case", "The incident's breach case",
		http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*caseOutput, error) {
			c, err := h.Breach.Get(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &caseOutput{caseOut(c)}, nil
		})
	huma.Register(api, tagged(op("set-breach-facts", http.MethodPut, "/incidents/{id}/breach-case/facts",
		"Replace the case's facts; its obligations are recomputed", http.StatusOK, authz.BreachWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body factsBody
		}) (*caseOutput, error) {
			c, err := h.Breach.SetFacts(ctx, in.ID, in.Body.facts())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &caseOutput{caseOut(c)}, nil
		})
	huma.Register(api, tagged(op("list-breach-determinations", http.MethodGet, "/incidents/{id}/breach-case/determinations",
		"Every signed version of the case's determination", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body []BreachDetermination }, error) {
			ds, err := h.Breach.Determinations(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &struct{ Body []BreachDetermination }{Body: make([]BreachDetermination, len(ds))}
			for i, d := range ds {
				out.Body[i] = determinationOut(d)
			}
			return out, nil
		})
	huma.Register(api, tagged(op("sign-breach-determination", http.MethodPost, "/incidents/{id}/breach-case/determinations",
		"Sign a new version of the determination (the Privacy Officer); a signed version never changes", http.StatusCreated,
		authz.BreachSign), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body struct {
				Determination determinationBody `json:"determination" doc:"In the rule's order: secured, exception, or the four-factor assessment, or notify_without_assessment. The signature is the caller's."`
				Reason        string            `json:"reason,omitempty" maxLength:"2000" doc:"Why a new version: required after the first."`
			}
		}) (*struct{ Body BreachDetermination }, error) {
			d, err := h.Breach.Determine(ctx, in.ID, in.Body.Determination.determination(), in.Body.Reason)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body BreachDetermination }{determinationOut(d)}, nil
		})
	huma.Register(api, tagged(op("list-breach-obligations", http.MethodGet, "/incidents/{id}/breach-case/obligations",
		"The case's notice obligations, earliest due first, each with its citation and why it applies", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body []BreachObligation }, error) {
			obs, err := h.Breach.Obligations(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body []BreachObligation }{obligationsOut(obs)}, nil
		})
	huma.Register(api, tagged(op("meet-breach-obligation", http.MethodPost, "/incidents/{id}/breach-case/obligations/met",
		"Record that a notice obligation was met (the notice was made)", http.StatusOK, authz.BreachWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body struct {
				Obligation string    `json:"obligation" minLength:"1" maxLength:"200" doc:"Its key, such as individuals, hhs, media:CA."`
				MetAt      time.Time `json:"met_at,omitempty" doc:"When the notice was made; default now."`
			}
		}) (*struct{ Body BreachObligation }, error) {
			o, err := h.Breach.MarkMet(ctx, in.ID, in.Body.Obligation, in.Body.MetAt)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body BreachObligation }{obligationsOut([]breach.Obligation{o})[0]}, nil
		})
	huma.Register(api, tagged(op("breach-deadline-board", http.MethodGet, "/breach-deadlines",
		"Every unmet notice obligation of every case, earliest due first", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []BreachObligation }, error) {
			obs, err := h.Breach.Board(ctx)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			return &struct{ Body []BreachObligation }{obligationsOut(obs)}, nil
		})
}
