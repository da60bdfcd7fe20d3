package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/rules"
)

// RuleAction is one thing a workflow rule does.
type RuleAction struct {
	Type      string `json:"type" enum:"set_severity,set_category,set_commander,add_task,notify_group,apply_playbook,start_breach_case,page_policy,call_webhook" doc:"start_breach_case opens the incident's breach case if it has none; it takes no other field."`
	Severity  string `json:"severity,omitempty" doc:"set_severity: sev1 to sev4."`
	Title     string `json:"title,omitempty" doc:"add_task: the task's title."`
	Group     string `json:"group,omitempty" doc:"notify_group: a stakeholder group id (name accepted on input); it is subscribed and its members told."`
	Category  string `json:"category,omitempty" doc:"set_category: one of the incident categories (hacking_it_incident, theft, loss, ...)."`
	Commander string `json:"commander,omitempty" doc:"set_commander: the username of an active Ward user."`
	Playbook  string `json:"playbook,omitempty" doc:"apply_playbook: a playbook's key (GET /playbooks)."`
	Policy    string `json:"policy,omitempty" doc:"page_policy: an escalation policy id (name accepted on input), paged as an alert would page it."`
	URL       string `json:"url,omitempty" maxLength:"2000" doc:"call_webhook: the https address Ward posts a signed, PHI-free JSON document to. It may embed a token: sealed at rest and shown only to those with oncall:write (who manage rules); others see host."`
	Host      string `json:"host,omitempty" readOnly:"true" maxLength:"300" doc:"call_webhook: the host of url, shown to everyone who may read rules; ignored on input."`
}

// WorkflowRule is a workflow rule as the API shows it.
type WorkflowRule struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Expression  string       `json:"expression" doc:"CEL over incident: number, severity, category, status, phi_suspected, restricted, commander, customers, services, alerts."`
	Actions     []RuleAction `json:"actions"`
	Enabled     bool         `json:"enabled"`
	After       string       `json:"after,omitempty" doc:"A timed rule: checked this long after the incident's from time (4h, 90m), not when it changes."`
	From        string       `json:"from,omitempty" doc:"What a timed rule's after counts from: detected, created or acknowledged (its page first acknowledged)."`
	CreatedAt   time.Time    `json:"created_at"`
	UpdatedAt   time.Time    `json:"updated_at"`
	Version     int64        `json:"version"`
	// WebhookSecret is shown once.
	WebhookSecret string `json:"webhook_secret,omitempty" doc:"The secret that signs this rule's call_webhook requests (Ward-Signature: v1= and the hex HMAC-SHA256 of timestamp, '.', body). In the answer to the save that made it only: it is sealed at rest and never shown again."`
}

func ruleOutOf(r rules.Rule) WorkflowRule {
	out := WorkflowRule{From: r.From, ID: r.ID, Name: r.Name, Description: r.Description, Expression: r.Expression, Enabled: r.Enabled,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Version: r.Version, WebhookSecret: r.Secret, Actions: make([]RuleAction, len(r.Actions))}
	for i, a := range r.Actions {
		out.Actions[i] = RuleAction(a)
	}
	if r.After > 0 {
		out.After = rules.FormatAfter(r.After)
	}
	return out
}

type ruleBody struct {
	Name        string       `json:"name" minLength:"1" maxLength:"100"`
	Description string       `json:"description,omitempty" maxLength:"2000"`
	Expression  string       `json:"expression" minLength:"1" maxLength:"2000" example:"incident.severity == \"sev1\" && incident.phi_suspected"`
	Actions     []RuleAction `json:"actions" minItems:"1" maxItems:"10"`
	Enabled     *bool        `json:"enabled,omitempty" doc:"Default true; a disabled rule is kept but not run."`
	After       string       `json:"after,omitempty" maxLength:"20" pattern:"^([0-9]+[hms])+$" example:"4h" doc:"Makes a timed rule: checked once this long (1 minute to 90 days, such as 4h, 90m, 1h30m) has passed since the incident's from time, until it matches or the incident is closed; it acts at most once per incident."`
	From        string       `json:"from,omitempty" enum:"detected,created,acknowledged" doc:"What after counts from (default detected): when the incident was detected, recorded in Ward, or its page first acknowledged."`
}

func (b ruleBody) input() (rules.Input, error) {
	after, err := rules.ParseAfter(b.After)
	if err != nil {
		return rules.Input{}, err
	}
	in := rules.Input{Name: b.Name, Description: b.Description, Expression: b.Expression, Enabled: b.Enabled == nil || *b.Enabled,
		Actions: make([]rules.Action, len(b.Actions)), After: after, From: b.From}
	for i, a := range b.Actions {
		in.Actions[i] = rules.Action(a)
	}
	return in, nil
}

// RuleSubject is what a rule sees of an incident.
type RuleSubject struct {
	Number       string   `json:"number,omitempty"`
	Severity     string   `json:"severity,omitempty"`
	Category     string   `json:"category,omitempty"`
	Status       string   `json:"status,omitempty"`
	PHISuspected bool     `json:"phi_suspected,omitempty"`
	Restricted   bool     `json:"restricted,omitempty"`
	Commander    string   `json:"commander,omitempty"`
	Customers    []string `json:"customers,omitempty"`
	Services     []string `json:"services,omitempty"`
	Alerts       int      `json:"alerts,omitempty"`
}

func (h handler) registerRules(api huma.API) {
	const tag = "rules"
	huma.Register(api, tagged(op("list-rules", http.MethodGet, "/rules", "List workflow rules", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []WorkflowRule }, error) {
			rs, err := h.Rules.List(ctx)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out := &struct{ Body []WorkflowRule }{Body: make([]WorkflowRule, len(rs))}
			for i, r := range rs {
				out.Body[i] = ruleOutOf(r)
			}
			return out, nil
		})
	huma.Register(api, tagged(op("create-rule", http.MethodPost, "/rules", "Create a workflow rule; its expression is type-checked now",
		http.StatusCreated, authz.OnCallWrite), tag),
		func(ctx context.Context, in *struct{ Body ruleBody }) (*struct{ Body WorkflowRule }, error) {
			body, err := in.Body.input()
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			r, err := h.Rules.Create(ctx, body)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body WorkflowRule }{ruleOutOf(r)}, nil
		})
	huma.Register(api, tagged(op("get-rule", http.MethodGet, "/rules/{id}", "Get a workflow rule by id or name", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body WorkflowRule }, error) {
			r, err := h.Rules.Get(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body WorkflowRule }{ruleOutOf(r)}, nil
		})
	huma.Register(api, tagged(op("update-rule", http.MethodPut, "/rules/{id}", "Replace a workflow rule", http.StatusOK, authz.OnCallWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body ruleBody
		}) (*struct{ Body WorkflowRule }, error) {
			body, err := in.Body.input()
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			r, err := h.Rules.Update(ctx, in.ID, body)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body WorkflowRule }{ruleOutOf(r)}, nil
		})
	huma.Register(api, changesNothing(tagged(op("dry-run-rule", http.MethodPost, "/rules/dry-run",
		"Type-check an expression and run it against an incident or a sample, changing nothing", http.StatusOK, authz.IncidentRead), tag)),
		func(ctx context.Context, in *struct {
			Body struct {
				Expression string      `json:"expression" minLength:"1" maxLength:"2000"`
				Incident   string      `json:"incident,omitempty" maxLength:"100" doc:"An incident id or number to test against; else sample."`
				Sample     RuleSubject `json:"sample,omitempty"`
			}
		}) (*struct {
			Body struct {
				Matched bool        `json:"matched"`
				Subject RuleSubject `json:"subject" doc:"What the expression saw."`
			}
		}, error) {
			res, err := h.Rules.DryRun(ctx, in.Body.Expression, in.Body.Incident, rules.Subject(in.Body.Sample))
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			out := &struct {
				Body struct {
					Matched bool        `json:"matched"`
					Subject RuleSubject `json:"subject" doc:"What the expression saw."`
				}
			}{}
			out.Body.Matched, out.Body.Subject = res.Matched, RuleSubject(res.Subject)
			return out, nil
		})
}
