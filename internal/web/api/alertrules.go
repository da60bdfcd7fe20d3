package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/rules"
)

// AlertRuleAction is one thing an alert rule does to an alert as it
// arrives.
type AlertRuleAction struct {
	Type     string   `json:"type" enum:"route,suppress,set_severity,add_tags" doc:"route records the alert on service instead of its own; suppress records it, opens no incident and pages nobody (it stays visible, the rule named); each type at most once in a rule, and not both route and suppress."`
	Service  string   `json:"service,omitempty" maxLength:"100" doc:"route: a service id (name accepted on input)."`
	Severity string   `json:"severity,omitempty" doc:"set_severity: critical, error, warning or info; it replaces what the tool sent, and sets the severity of an incident the alert opens."`
	Tags     []string `json:"tags,omitempty" maxItems:"10" doc:"add_tags: 1 to 10 tags of at most 50 characters, added to the alert when it opens."`
}

// AlertRule is a rule on alerts at intake as the API shows it.
type AlertRule struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Expression  string            `json:"expression" doc:"CEL over alert: service, integration, kind, summary, source, severity, component, group, class, labels (a map; Alertmanager's labels)."`
	Actions     []AlertRuleAction `json:"actions"`
	Enabled     bool              `json:"enabled"`
	CreatedAt   time.Time         `json:"created_at"`
	UpdatedAt   time.Time         `json:"updated_at"`
	Version     int64             `json:"version"`
}

func alertRuleOut(r rules.AlertRule) AlertRule {
	out := AlertRule{ID: r.ID, Name: r.Name, Description: r.Description, Expression: r.Expression, Enabled: r.Enabled,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Version: r.Version, Actions: make([]AlertRuleAction, len(r.Actions))}
	for i, a := range r.Actions {
		out.Actions[i] = AlertRuleAction(a)
	}
	return out
}

type alertRuleBody struct {
	Name        string            `json:"name" minLength:"1" maxLength:"100"`
	Description string            `json:"description,omitempty" maxLength:"2000"`
	Expression  string            `json:"expression" minLength:"1" maxLength:"2000" example:"alert.service == \"web\" && alert.summary.contains(\"disk full\")"`
	Actions     []AlertRuleAction `json:"actions" minItems:"1" maxItems:"4"`
	Enabled     *bool             `json:"enabled,omitempty" doc:"Default true; a disabled rule is kept but not run."`
}

func (b alertRuleBody) input() rules.AlertRuleInput {
	in := rules.AlertRuleInput{Name: b.Name, Description: b.Description, Expression: b.Expression, Enabled: b.Enabled == nil || *b.Enabled,
		Actions: make([]rules.AlertAction, len(b.Actions))}
	for i, a := range b.Actions {
		in.Actions[i] = rules.AlertAction(a)
	}
	return in
}

func (h handler) registerAlertRules(api huma.API) {
	const tag = "rules"
	huma.Register(api, tagged(op("list-alert-rules", http.MethodGet, "/alert-rules", "List alert rules, in the order they run (by name)",
		http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []AlertRule }, error) {
			rs, err := h.Rules.ListAlertRules(ctx)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out := &struct{ Body []AlertRule }{Body: make([]AlertRule, len(rs))}
			for i, r := range rs {
				out.Body[i] = alertRuleOut(r)
			}
			return out, nil
		})
	huma.Register(api, tagged(op("create-alert-rule", http.MethodPost, "/alert-rules",
		"Create an alert rule, run on alerts as they arrive; its expression is type-checked now", http.StatusCreated, authz.OnCallWrite), tag),
		func(ctx context.Context, in *struct{ Body alertRuleBody }) (*struct{ Body AlertRule }, error) {
			r, err := h.Rules.CreateAlertRule(ctx, in.Body.input())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body AlertRule }{alertRuleOut(r)}, nil
		})
	huma.Register(api, tagged(op("get-alert-rule", http.MethodGet, "/alert-rules/{id}", "Get an alert rule by id or name",
		http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body AlertRule }, error) {
			r, err := h.Rules.GetAlertRule(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body AlertRule }{alertRuleOut(r)}, nil
		})
	huma.Register(api, tagged(op("update-alert-rule", http.MethodPut, "/alert-rules/{id}", "Replace an alert rule",
		http.StatusOK, authz.OnCallWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body alertRuleBody
		}) (*struct{ Body AlertRule }, error) {
			r, err := h.Rules.UpdateAlertRule(ctx, in.ID, in.Body.input())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body AlertRule }{alertRuleOut(r)}, nil
		})
	huma.Register(api, tagged(op("delete-alert-rule", http.MethodDelete, "/alert-rules/{id}",
		"Delete an alert rule by id or name; 409 when it has suppressed alerts, which keep its name (disable it instead)",
		http.StatusNoContent, authz.OnCallWrite), tag),
		func(ctx context.Context, in *idPath) (*struct{}, error) {
			if err := h.Rules.DeleteAlertRule(ctx, in.ID); err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{}{}, nil
		})
}
