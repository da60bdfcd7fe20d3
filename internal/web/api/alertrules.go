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
	huma.Register(api, changesNothing(tagged(op("dry-run-alert-rule", http.MethodPost, "/alert-rules/dry-run",
		"Run an alert rule's expression over the last 7 days' alerts (at most the newest 1000), changing nothing: how many it would "+
			"have matched, with up to 5 of them. For a role without PHI access the expression sees no summary, source, component, "+
			"group or class (empty), and the examples show the line that stands for the summary", http.StatusOK, authz.IncidentRead), tag)),
		func(ctx context.Context, in *struct{ Body alertRuleDryRunBody }) (*struct{ Body AlertRuleDryRun }, error) {
			res, err := h.Rules.DryRunAlertRule(ctx, h.Alerts, in.Body.Expression)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			out := AlertRuleDryRun{Since: res.Since, Days: rules.DryRunDays, Checked: res.Checked, Total: res.Total,
				Matched: res.Matched, Capped: res.Capped, PHIHidden: res.PHIHidden, Examples: []AlertRuleDryRunExample{}}
			for _, a := range res.Examples {
				out.Examples = append(out.Examples, AlertRuleDryRunExample{ID: a.ID, Service: a.ServiceName, Severity: string(a.Severity),
					Summary: a.Summary, SummaryRedacted: a.SummaryRedacted, Incident: a.IncidentNumber, FirstAt: a.FirstAt})
			}
			return &struct{ Body AlertRuleDryRun }{out}, nil
		})
}

type alertRuleDryRunBody struct {
	Expression string `json:"expression" minLength:"1" maxLength:"2000" doc:"The rule's expression, as in an alert rule."`
}

// AlertRuleDryRun is what an alert rule's expression would have matched.
type AlertRuleDryRun struct {
	Since     time.Time                `json:"since" doc:"The alerts first seen from then on were checked."`
	Days      int                      `json:"days"`
	Checked   int                      `json:"checked" doc:"How many alerts were checked: the newest, at most 1000."`
	Total     int                      `json:"total" doc:"How many alerts were first seen since then."`
	Capped    bool                     `json:"capped" doc:"More alerts than were checked: only the newest 1000 were."`
	Matched   int                      `json:"matched" doc:"How many of those checked the expression matched."`
	PHIHidden bool                     `json:"phi_hidden" doc:"The caller may not see PHI: the expression saw no summary, source, component, group or class."`
	Examples  []AlertRuleDryRunExample `json:"examples" doc:"Up to 5 of the alerts matched, newest first."`
}

// AlertRuleDryRunExample is an alert a dry run matched.
type AlertRuleDryRunExample struct {
	ID              string    `json:"id"`
	Service         string    `json:"service"`
	Severity        string    `json:"severity"`
	Summary         string    `json:"summary" doc:"What the tool wrote, for a role with PHI access (the read is audited); otherwise a line naming its severity, service and incident."`
	SummaryRedacted bool      `json:"summary_redacted"`
	Incident        string    `json:"incident,omitempty" doc:"The number of the incident it fed."`
	FirstAt         time.Time `json:"first_at"`
}
