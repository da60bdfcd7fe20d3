package rules

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/input"
)

// AlertSubject is what an alert rule's expression sees as `alert`: an
// alert as it arrives, before it is grouped. Its summary, source and the
// other fields the tool sent may quote PHI: they are matched in memory at
// intake, where they are in clear anyway, and never logged or stored by
// the rules.
type AlertSubject struct {
	Service     string            `cel:"service"`     // the name of the service it came to
	Integration string            `cel:"integration"` // the name of the integration that sent it
	Kind        string            `cel:"kind"`        // the integration's kind: events_v2, alertmanager, ...
	Summary     string            `cel:"summary"`
	Source      string            `cel:"source"`
	Severity    string            `cel:"severity"` // critical, error, warning, info
	Component   string            `cel:"component"`
	Group       string            `cel:"group"`
	Class       string            `cel:"class"`
	Labels      map[string]string `cel:"labels"` // Alertmanager's labels; empty for other tools
}

// The alert rule action types.
const (
	AlertRoute       = "route"        // service: record the alert on that service instead
	AlertSuppress    = "suppress"     // record it, open no incident, page nobody
	AlertSetSeverity = "set_severity" // severity: critical, error, warning or info
	AlertAddTags     = "add_tags"     // tags
)

// AlertActionTypes lists every alert rule action type.
var AlertActionTypes = []string{AlertRoute, AlertSuppress, AlertSetSeverity, AlertAddTags}

// Limits on tags.
const (
	MaxTags   = 10
	MaxTagLen = 50
)

// AlertAction is one thing an alert rule does.
type AlertAction struct {
	Type     string   `json:"type"`
	Service  string   `json:"service,omitempty"`  // route: a service id (name accepted on input)
	Severity string   `json:"severity,omitempty"` // set_severity
	Tags     []string `json:"tags,omitempty"`     // add_tags
}

// AlertRule is a rule on alerts at intake.
type AlertRule struct {
	ID          string
	Name        string
	Description string
	Expression  string
	Actions     []AlertAction
	Enabled     bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	Version     int64
}

// AlertRuleInput is a new alert rule or the whole of an edited one.
type AlertRuleInput struct {
	Name        string
	Description string
	Expression  string
	Actions     []AlertAction
	Enabled     bool
}

// alertEnv is the CEL environment of alert rules' expressions, made once:
// the engine and configuration as code (SaveAlertRuleTx) check
// expressions alike.
var alertEnv = sync.OnceValues(func() (*cel.Env, error) {
	return cel.NewEnv(
		ext.NativeTypes(ext.ParseStructTags(true), reflect.TypeFor[AlertSubject]()),
		cel.Variable("alert", cel.ObjectType("rules.AlertSubject")),
	)
})

// compileAlert parses and type-checks an alert rule's expression.
func compileAlert(expr string) (cel.Program, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, apperr.Field("expression", "is required")
	}
	if len(expr) > MaxExpression {
		return nil, apperr.Field("expression", "is %d characters long; the limit is %d", len(expr), MaxExpression)
	}
	env, err := alertEnv()
	if err != nil {
		return nil, fmt.Errorf("rules: CEL environment for alerts: %w", err)
	}
	ast, iss := env.Compile(expr)
	if iss.Err() != nil {
		return nil, apperr.Field("expression", "%s", iss.Err())
	}
	if ast.OutputType() != cel.BoolType {
		return nil, apperr.Field("expression", "must be true or false, not %s", ast.OutputType())
	}
	prg, err := env.Program(ast, cel.CostLimit(CostLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, apperr.Field("expression", "%s", err)
	}
	return prg, nil
}

func validateAlertRule(ctx context.Context, q db.Querier, in *AlertRuleInput) (route sql.NullString, err error) {
	in.Name = strings.TrimSpace(in.Name)
	switch n := len([]rune(in.Name)); {
	case n == 0:
		return route, apperr.Field("name", "is required")
	case n > 100:
		return route, apperr.Field("name", "is %d characters long; the limit is 100", n)
	}
	if n := len([]rune(in.Description)); n > 2000 {
		return route, apperr.Field("description", "is %d characters long; the limit is 2000", n)
	}
	if _, err := compileAlert(in.Expression); err != nil {
		return route, err
	}
	if len(in.Actions) == 0 || len(in.Actions) > MaxActions {
		return route, apperr.Field("actions", "must have 1 to %d actions, not %d", MaxActions, len(in.Actions))
	}
	seen := map[string]bool{}
	for i := range in.Actions {
		a := &in.Actions[i]
		p := "actions[" + strconv.Itoa(i) + "]"
		if seen[a.Type] {
			return route, apperr.Field(p+".type", "%q is named twice; a rule takes each action once", a.Type)
		}
		seen[a.Type] = true
		switch a.Type {
		case AlertRoute:
			err := q.QueryRowContext(ctx, `SELECT id FROM services WHERE id = $1 OR name = $1`, strings.TrimSpace(a.Service)).Scan(&a.Service)
			if errors.Is(err, sql.ErrNoRows) {
				return route, apperr.Field(p+".service", "no service %q", a.Service)
			}
			if err != nil {
				return route, fmt.Errorf("read service: %w", err)
			}
			route = sql.NullString{String: a.Service, Valid: true}
		case AlertSuppress:
		case AlertSetSeverity:
			if !slices.Contains(alert.Severities, alert.Severity(a.Severity)) {
				return route, apperr.Field(p+".severity", "%q is not one of critical, error, warning, info", a.Severity)
			}
		case AlertAddTags:
			if len(a.Tags) == 0 || len(a.Tags) > MaxTags {
				return route, apperr.Field(p+".tags", "must have 1 to %d tags, not %d", MaxTags, len(a.Tags))
			}
			for j, t := range a.Tags {
				t = strings.TrimSpace(t)
				f := p + ".tags[" + strconv.Itoa(j) + "]"
				if reason := input.Text(t); reason != "" {
					return route, apperr.Field(f, "%s", reason)
				}
				if n := utf8.RuneCountInString(t); n == 0 || n > MaxTagLen || strings.ContainsAny(t, "\r\n\t") {
					return route, apperr.Field(f, "must be 1 to %d characters on one line", MaxTagLen)
				}
				a.Tags[j] = t
			}
		default:
			return route, apperr.Field(p+".type", "%q is not one of %s", a.Type, strings.Join(AlertActionTypes, ", "))
		}
		if a.Type != AlertRoute {
			a.Service = ""
		}
		if a.Type != AlertSetSeverity {
			a.Severity = ""
		}
		if a.Type != AlertAddTags {
			a.Tags = nil
		}
	}
	if seen[AlertSuppress] && seen[AlertRoute] {
		return route, apperr.Field("actions", "a rule that suppresses an alert cannot route it too")
	}
	return route, nil
}

const alertRuleColumns = "id, name, description, expression, actions, enabled, created_at, updated_at, version"

func scanAlertRule(r interface{ Scan(...any) error }) (AlertRule, error) {
	var x AlertRule
	var actions string
	if err := r.Scan(&x.ID, &x.Name, &x.Description, &x.Expression, &actions, &x.Enabled, &x.CreatedAt, &x.UpdatedAt, &x.Version); err != nil {
		return AlertRule{}, err
	}
	x.CreatedAt, x.UpdatedAt = x.CreatedAt.UTC(), x.UpdatedAt.UTC()
	if err := json.Unmarshal([]byte(actions), &x.Actions); err != nil {
		return AlertRule{}, fmt.Errorf("alert rule %s: actions: %w", x.ID, err)
	}
	return x, nil
}

// CreateAlertRule records a new alert rule.
func (e *Engine) CreateAlertRule(ctx context.Context, in AlertRuleInput) (AlertRule, error) {
	return e.saveAlertRule(ctx, "", in)
}

// UpdateAlertRule replaces alert rule ref (id or name). Alerts recorded
// already keep what the rule did to them.
func (e *Engine) UpdateAlertRule(ctx context.Context, ref string, in AlertRuleInput) (AlertRule, error) {
	return e.saveAlertRule(ctx, ref, in)
}

func (e *Engine) saveAlertRule(ctx context.Context, ref string, in AlertRuleInput) (AlertRule, error) {
	if _, err := authz.Check(ctx, authz.OnCallWrite); err != nil {
		return AlertRule{}, err
	}
	var out AlertRule
	err := e.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		out, err = SaveAlertRuleTx(ctx, tx, e.clock.Now(), ref, in)
		return err
	})
	if err != nil {
		return AlertRule{}, err
	}
	return out, nil
}

// SaveAlertRuleTx creates (ref empty) or replaces alert rule ref (id or
// name) inside tx, with every check the API makes, a new generation of
// the rules and the audit entry (alert_rule.create or alert_rule.update),
// for callers that change more in the same transaction (configuration as
// code). The caller checks permissions. A route action may name its
// service by id or by name.
func SaveAlertRuleTx(ctx context.Context, tx *sql.Tx, now time.Time, ref string, in AlertRuleInput) (AlertRule, error) {
	route, err := validateAlertRule(ctx, tx, &in)
	if err != nil {
		return AlertRule{}, err
	}
	actions, err := json.Marshal(in.Actions)
	if err != nil {
		return AlertRule{}, err
	}
	action := "alert_rule.create"
	var old *AlertRule
	var out AlertRule
	if ref == "" {
		out = AlertRule{ID: newID(), CreatedAt: now, Version: 1}
	} else {
		prev, err := getAlertRule(ctx, tx, ref)
		if err != nil {
			return AlertRule{}, err
		}
		old, out, action = &prev, prev, "alert_rule.update"
		out.Version++
	}
	out.Name, out.Description, out.Expression, out.Actions, out.Enabled, out.UpdatedAt =
		in.Name, in.Description, in.Expression, in.Actions, in.Enabled, now
	if old == nil {
		_, err = tx.ExecContext(ctx, `INSERT INTO alert_rules (`+alertRuleColumns+`, route_service_id)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
			out.ID, out.Name, out.Description, out.Expression, string(actions), out.Enabled, out.CreatedAt, out.UpdatedAt, out.Version, route)
	} else {
		_, err = tx.ExecContext(ctx, `UPDATE alert_rules SET name = $1, description = $2, expression = $3, actions = $4,
			enabled = $5, updated_at = $6, version = $7, route_service_id = $8 WHERE id = $9`,
			out.Name, out.Description, out.Expression, string(actions), out.Enabled, out.UpdatedAt, out.Version, route, out.ID)
	}
	if db.IsUniqueViolation(err) {
		return AlertRule{}, apperr.Field("name", "an alert rule named %q exists already", out.Name)
	}
	if err != nil {
		return AlertRule{}, fmt.Errorf("save alert rule: %w", err)
	}
	if err := newGeneration(ctx, tx); err != nil {
		return AlertRule{}, err
	}
	if _, err := audit.Append(ctx, tx, now, audit.Event{Action: action, ObjectType: "alert_rule", ObjectID: out.ID,
		Change: map[string]any{"old": old, "new": out}}); err != nil {
		return AlertRule{}, err
	}
	return out, nil
}

// AlertRulesIn lists every alert rule in q, by name, for configuration as
// code; the caller checks permissions.
func AlertRulesIn(ctx context.Context, q db.Querier) ([]AlertRule, error) {
	return alertRules(ctx, q, false)
}

func getAlertRule(ctx context.Context, q db.Querier, ref string) (AlertRule, error) {
	r, err := scanAlertRule(q.QueryRowContext(ctx, `SELECT `+alertRuleColumns+` FROM alert_rules WHERE id = $1 OR name = $1`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return AlertRule{}, apperr.New(apperr.NotFound, "no alert rule %q", ref)
	}
	if err != nil {
		return AlertRule{}, fmt.Errorf("read alert rule: %w", err)
	}
	return r, nil
}

// GetAlertRule returns alert rule ref (id or name).
func (e *Engine) GetAlertRule(ctx context.Context, ref string) (AlertRule, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return AlertRule{}, err
	}
	return getAlertRule(ctx, e.db.R, ref)
}

// ListAlertRules lists every alert rule by name, the order they run in.
func (e *Engine) ListAlertRules(ctx context.Context) ([]AlertRule, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	return alertRules(ctx, e.db.R, false)
}

func alertRules(ctx context.Context, q db.Querier, enabledOnly bool) ([]AlertRule, error) {
	query := `SELECT ` + alertRuleColumns + ` FROM alert_rules`
	if enabledOnly {
		query += ` WHERE enabled`
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY name`)
	return db.Collect(rows, err, "list alert rules", func(r *sql.Rows) (AlertRule, error) { return scanAlertRule(r) })
}

// alertSet is the enabled alert rules, compiled, as read at a generation
// of the rules; matcher is nil when there are none.
type alertSet struct {
	loaded     bool
	generation int64
	matcher    *alertMatcher
}

// AlertRulesTx implements alert.Orchestrator: the generation row the
// workflow rules use (generationCounter) says whether the alert rules
// kept in memory are still those in force, and its read goes with
// intake's first statements, so that intake pays no round trip for the
// rules; with no alert rule enabled it does nothing more.
func (e *Engine) AlertRulesTx(ctx context.Context, tx *sql.Tx) (*db.Query, func() (alert.Matcher, error)) {
	if v, ok := db.Recall(tx, generationMemo{}); ok {
		return nil, func() (alert.Matcher, error) { return e.alertMatcherAt(ctx, tx, v.(int64)) }
	}
	g := new(int64)
	q := &db.Query{SQL: `SELECT value FROM counters WHERE name = $1`, Args: []any{generationCounter},
		Row: func(scan func(...any) error) error { return scan(g) }}
	return q, func() (alert.Matcher, error) {
		db.Remember(tx, generationMemo{}, *g)
		return e.alertMatcherAt(ctx, tx, *g)
	}
}

// alertMatcherAt returns the enabled alert rules at generation g, read
// again only when g is not the generation kept; nil when there are none.
func (e *Engine) alertMatcherAt(ctx context.Context, tx *sql.Tx, g int64) (alert.Matcher, error) {
	e.mu.Lock()
	kept := e.alerts
	e.mu.Unlock()
	if !kept.loaded || kept.generation != g {
		rs, err := alertRules(ctx, e.db.In(tx), true)
		if err != nil {
			return nil, err
		}
		kept = alertSet{loaded: true, generation: g}
		if len(rs) > 0 {
			m := &alertMatcher{log: e}
			for _, r := range rs {
				prg, err := compileAlert(r.Expression)
				if err != nil {
					// Saved under an older Ward that accepted it: it
					// never matches, and says so once per load.
					e.log.WarnContext(ctx, "alert_rule_failed", "rule_id", r.ID, "error", "does not compile")
					continue
				}
				m.rules = append(m.rules, compiledAlertRule{rule: r, prg: prg})
			}
			kept.matcher = m
		}
		e.mu.Lock()
		e.alerts = kept
		e.mu.Unlock()
	}
	if kept.matcher == nil {
		return nil, nil
	}
	return kept.matcher, nil
}

type compiledAlertRule struct {
	rule AlertRule
	prg  cel.Program
}

// alertMatcher runs the enabled alert rules, in name order.
type alertMatcher struct {
	log   *Engine
	rules []compiledAlertRule
}

// Match runs every rule on f. Every rule that matches acts: the first to
// route or set the severity decides it, the first to suppress is named,
// and tags add up. A rule that fails does not match; the failure is logged
// with the rule's id and never with the alert, which may quote PHI.
func (m *alertMatcher) Match(ctx context.Context, f alert.Facts) alert.Verdict {
	subj := AlertSubject{Service: f.Service, Integration: f.Integration, Kind: string(f.Kind), Summary: f.Summary, Source: f.Source,
		Severity: string(f.Severity), Component: f.Component, Group: f.Group, Class: f.Class, Labels: f.Labels}
	if subj.Labels == nil {
		subj.Labels = map[string]string{}
	}
	vars := map[string]any{"alert": subj}
	var v alert.Verdict
	for _, c := range m.rules {
		out, _, err := c.prg.ContextEval(ctx, vars)
		if err != nil {
			m.log.log.WarnContext(ctx, "alert_rule_failed", "rule_id", c.rule.ID, "error", "evaluation failed or exceeded its cost limit")
			continue
		}
		if b, ok := out.Value().(bool); !ok || !b {
			continue
		}
		v.Rules = append(v.Rules, c.rule.ID)
		for _, a := range c.rule.Actions {
			switch a.Type {
			case AlertRoute:
				if v.Route == "" {
					v.Route = a.Service
				}
			case AlertSuppress:
				if v.SuppressedBy == "" {
					v.SuppressedBy = c.rule.ID
				}
			case AlertSetSeverity:
				if v.Severity == "" {
					v.Severity = alert.Severity(a.Severity)
				}
			case AlertAddTags:
				for _, t := range a.Tags {
					if !slices.Contains(v.Tags, t) {
						v.Tags = append(v.Tags, t)
					}
				}
			}
		}
	}
	return v
}

// DeleteAlertRule deletes alert rule ref (id or name). A rule that has
// suppressed alerts is kept, so that those alerts still name it: it can be
// disabled instead.
func (e *Engine) DeleteAlertRule(ctx context.Context, ref string) error {
	if _, err := authz.Check(ctx, authz.OnCallWrite); err != nil {
		return err
	}
	return e.db.Write(ctx, func(tx *sql.Tx) error { return DeleteAlertRuleTx(ctx, tx, e.clock.Now(), ref) })
}

// suppressedCountSQL counts the alerts rule $1 suppressed, from the
// partial index alerts_suppressed_by (migration 0067).
const suppressedCountSQL = `SELECT COUNT(*) FROM alerts WHERE suppressed_by = $1`

// DeleteAlertRuleTx deletes alert rule ref (id or name) inside tx, as
// DeleteAlertRule does, refused the same way; the caller checks
// permissions.
func DeleteAlertRuleTx(ctx context.Context, tx *sql.Tx, now time.Time, ref string) error {
	old, err := getAlertRule(ctx, tx, ref)
	if err != nil {
		return err
	}
	var n int
	if err := tx.QueryRowContext(ctx, suppressedCountSQL, old.ID).Scan(&n); err != nil {
		return fmt.Errorf("count the alerts the rule suppressed: %w", err)
	}
	if n > 0 {
		return apperr.New(apperr.Conflict, "the alert rule %q suppressed %d alerts, which keep its name: disable it instead", old.Name, n)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM alert_rules WHERE id = $1`, old.ID); err != nil {
		return fmt.Errorf("delete alert rule: %w", err)
	}
	if err := newGeneration(ctx, tx); err != nil {
		return err
	}
	_, err = audit.Append(ctx, tx, now, audit.Event{Action: "alert_rule.delete", ObjectType: "alert_rule", ObjectID: old.ID,
		Change: map[string]any{"old": old}})
	return err
}
