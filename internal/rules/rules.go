// Package rules runs workflow rules: a CEL expression over an incident,
// such as `incident.severity == "sev1" && incident.phi_suspected`, and the
// actions to take the first time it matches (set the severity, category or
// commander, add a task, subscribe and notify a stakeholder group, apply a
// playbook, open the breach case, page an escalation policy, call a signed
// webhook). Expressions are parsed and
// type-checked when a rule is saved and run with a cost limit, so a rule
// can neither fail to compile at run time nor run away. A rule sees only
// what holds no PHI: never an incident's title or description.
package rules

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/ext"
	"github.com/google/uuid"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/paging"
)

// Subject is what an expression sees as `incident`.
type Subject struct {
	Number       string   `json:"number" cel:"number"`
	Severity     string   `json:"severity" cel:"severity"`
	Category     string   `json:"category" cel:"category"`
	Status       string   `json:"status" cel:"status"`
	PHISuspected bool     `json:"phi_suspected" cel:"phi_suspected"`
	Restricted   bool     `json:"restricted" cel:"restricted"`
	Commander    string   `json:"commander" cel:"commander"`
	Customers    []string `json:"customers" cel:"customers"`
	Services     []string `json:"services" cel:"services"` // names of the services whose alerts fed it
	Alerts       int      `json:"alerts" cel:"alerts"`     // how many alerts fed it
}

// Limits.
const (
	MaxExpression = 2000
	MaxActions    = 10
	// CostLimit bounds one evaluation (CEL's cost units); a rule that
	// exceeds it does not match, and the failure is logged.
	CostLimit = 10_000
	// maxDepth stops rules whose actions change the incident from
	// triggering each other without end.
	maxDepth = 3
)

// The action types.
const (
	ActionSetSeverity = "set_severity" // severity
	ActionAddTask     = "add_task"     // title
	ActionNotifyGroup = "notify_group" // group: subscribe it to the incident and tell its members
	ActionStartBreach = "start_breach_case"
	ActionSetCategory = "set_category"   // category
	ActionCommander   = "set_commander"  // commander: a username
	ActionPlaybook    = "apply_playbook" // playbook: a playbook's key
	ActionPagePolicy  = "page_policy"    // policy: an escalation policy
	ActionWebhook     = "call_webhook"   // url: signed with the rule's secret
)

// ActionTypes lists every action type, in the order the docs name them.
var ActionTypes = []string{ActionSetSeverity, ActionSetCategory, ActionCommander, ActionAddTask, ActionNotifyGroup,
	ActionPlaybook, ActionStartBreach, ActionPagePolicy, ActionWebhook}

// Playbooks applies playbooks for the apply_playbook action (package
// playbook).
type Playbooks interface {
	// NameOf returns playbook key's name; ok is false when there is none.
	NameOf(ctx context.Context, q db.Querier, key string) (name string, ok bool, err error)
	// ApplyTx applies playbook key to incident id; Conflict if it was
	// applied already.
	ApplyTx(ctx context.Context, tx *sql.Tx, id, key, why string) error
}

// ApplyPlaybooksWith lets the apply_playbook action apply playbooks
// through p. Call it before serving.
func (e *Engine) ApplyPlaybooksWith(p Playbooks) { e.playbooks = p }

// CaseOpener opens breach cases (package breach).
type CaseOpener interface {
	OpenTx(ctx context.Context, tx *sql.Tx, incidentID string) (breach.Case, error)
}

// OpenCasesWith lets the start_breach_case action open cases through o.
// Call it before serving.
func (e *Engine) OpenCasesWith(o CaseOpener) { e.cases = o }

// AutoOpenCases makes the engine open a breach case, through the
// CaseOpener, for every incident marked phi_suspected that has none, in
// the transaction that marks it, with no rule needed. A suspected
// impermissible use or disclosure of PHI is presumed a breach until a
// risk assessment shows otherwise (45 CFR 164.402(2)), so its clock and
// deadlines should be on the board from the start. Call it before serving.
func (e *Engine) AutoOpenCases() { e.autoOpen = true }

// Action is one thing a rule does.
type Action struct {
	Type      string `json:"type"`
	Severity  string `json:"severity,omitempty"`
	Title     string `json:"title,omitempty"`
	Group     string `json:"group,omitempty"`
	Category  string `json:"category,omitempty"`
	Commander string `json:"commander,omitempty"`
	Playbook  string `json:"playbook,omitempty"`
	Policy    string `json:"policy,omitempty"`
	// URL is where call_webhook posts. It may embed a token, so it is
	// sealed at rest (keys.RuleWebhookURLs) and shown only to those who
	// may manage rules (authz.OnCallWrite); others see Host.
	URL  string `json:"url,omitempty"`
	Host string `json:"host,omitempty"`
}

// Rule is a workflow rule.
type Rule struct {
	ID          string
	Name        string
	Description string
	Expression  string
	Actions     []Action
	Enabled     bool
	// After, when set, makes the rule a timed rule: it is checked by
	// RunTimers once After has passed since the incident's From time,
	// not when the incident changes.
	After     time.Duration
	From      string
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64
	// Secret is the secret that signs the rule's webhook calls, in the
	// answer to the save that made it only: it is sealed at rest and never
	// shown again (nor audited).
	Secret string `json:"-"`
	// sealedURLs is webhook_urls as stored (keys.RuleWebhookURLs).
	sealedURLs string
}

// Input is a new rule or the whole of an edited one.
type Input struct {
	Name        string
	Description string
	Expression  string
	Actions     []Action
	Enabled     bool
	// After and From make a timed rule (see Rule); From defaults to
	// FromDetected.
	After time.Duration
	From  string
}

// The times a timed rule counts from.
const (
	FromDetected     = "detected"     // when the incident was detected
	FromCreated      = "created"      // when it was recorded in Ward
	FromAcknowledged = "acknowledged" // when its page was first acknowledged
)

// Froms lists the times a timed rule counts from.
var Froms = []string{FromDetected, FromCreated, FromAcknowledged}

// The bounds of a timed rule's delay.
const (
	MinAfter = time.Minute
	MaxAfter = 90 * 24 * time.Hour
)

// Engine stores rules and runs them.
type Engine struct {
	db        *db.DB
	clock     clock.Clock
	incidents *incident.Service
	pager     *paging.Pager
	log       *slog.Logger
	env       *cel.Env

	cases     CaseOpener
	autoOpen  bool
	playbooks Playbooks
	hooks     *webhooks

	mu       sync.Mutex
	programs map[string]compiled // by rule id
	enabled  ruleSet             // the enabled rules, as last read
	alerts   alertSet            // the enabled alert rules, as last read
	// timerFrom is, by timed rule id, how many of the incidents due for
	// it that did not match RunTimers passes over on its next run, so
	// that every run goes on past the last one's batch.
	timerFrom map[string]int
}

// ruleSet is the enabled rules as read at a generation of the rules.
type ruleSet struct {
	loaded     bool
	generation int64
	rules      []Rule
}

type compiled struct {
	version int64
	prg     cel.Program
}

// New returns an Engine.
func New(d *db.DB, c clock.Clock, incidents *incident.Service, pager *paging.Pager, log *slog.Logger) (*Engine, error) {
	env, err := cel.NewEnv(
		ext.NativeTypes(ext.ParseStructTags(true), reflect.TypeFor[Subject]()),
		cel.Variable("incident", cel.ObjectType("rules.Subject")),
	)
	if err != nil {
		return nil, fmt.Errorf("rules: CEL environment: %w", err)
	}
	if _, err := alertEnv(); err != nil {
		return nil, fmt.Errorf("rules: CEL environment for alerts: %w", err)
	}
	return &Engine{db: d, clock: c, incidents: incidents, pager: pager, log: log, env: env, programs: map[string]compiled{}}, nil
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// compile parses and type-checks expr, which must be a bool.
func (e *Engine) compile(expr string) (cel.Program, error) {
	if strings.TrimSpace(expr) == "" {
		return nil, apperr.Field("expression", "is required")
	}
	if len(expr) > MaxExpression {
		return nil, apperr.Field("expression", "is %d characters long; the limit is %d", len(expr), MaxExpression)
	}
	ast, iss := e.env.Compile(expr)
	if iss.Err() != nil {
		return nil, apperr.Field("expression", "%s", iss.Err())
	}
	if ast.OutputType() != cel.BoolType {
		return nil, apperr.Field("expression", "must be true or false, not %s", ast.OutputType())
	}
	prg, err := e.env.Program(ast, cel.CostLimit(CostLimit), cel.InterruptCheckFrequency(100))
	if err != nil {
		return nil, apperr.Field("expression", "%s", err)
	}
	return prg, nil
}

// eval runs prg against s.
func eval(ctx context.Context, prg cel.Program, s Subject) (bool, error) {
	out, _, err := prg.ContextEval(ctx, map[string]any{"incident": s})
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("the expression gave %v, not true or false", out.Value())
	}
	return b, nil
}

func (e *Engine) validate(ctx context.Context, q db.Querier, in *Input) error {
	in.Name = strings.TrimSpace(in.Name)
	switch n := len([]rune(in.Name)); {
	case n == 0:
		return apperr.Field("name", "is required")
	case n > 100:
		return apperr.Field("name", "is %d characters long; the limit is 100", n)
	}
	if n := len([]rune(in.Description)); n > 2000 {
		return apperr.Field("description", "is %d characters long; the limit is 2000", n)
	}
	if _, err := e.compile(in.Expression); err != nil {
		return err
	}
	switch {
	case in.After == 0:
		if in.From != "" {
			return apperr.Field("from", "is only for a timed rule: set after too")
		}
	case in.After < MinAfter || in.After > MaxAfter:
		return apperr.Field("after", "must be between 1 minute and 90 days, not %s", in.After)
	case in.From == "":
		in.From = FromDetected
	case !slices.Contains(Froms, in.From):
		return apperr.Field("from", "%q is not one of %s", in.From, strings.Join(Froms, ", "))
	}
	if len(in.Actions) == 0 || len(in.Actions) > MaxActions {
		return apperr.Field("actions", "must have 1 to %d actions, not %d", MaxActions, len(in.Actions))
	}
	for i := range in.Actions {
		a := &in.Actions[i]
		p := "actions[" + strconv.Itoa(i) + "]"
		switch a.Type {
		case ActionSetSeverity:
			if !slices.Contains(incident.Severities, incident.Severity(a.Severity)) {
				return apperr.Field(p+".severity", "%q is not one of sev1, sev2, sev3, sev4", a.Severity)
			}
		case ActionAddTask:
			if a.Title = strings.TrimSpace(a.Title); a.Title == "" || len([]rune(a.Title)) > 200 {
				return apperr.Field(p+".title", "must be 1 to 200 characters")
			}
		case ActionNotifyGroup:
			err := q.QueryRowContext(ctx, `SELECT id FROM stakeholder_groups WHERE id = $1 OR name = $1`, a.Group).Scan(&a.Group)
			if errors.Is(err, sql.ErrNoRows) {
				return apperr.Field(p+".group", "no stakeholder group %q", a.Group)
			}
			if err != nil {
				return fmt.Errorf("read stakeholder group: %w", err)
			}
		case ActionStartBreach:
		case ActionSetCategory:
			if !slices.Contains(incident.Categories, incident.Category(a.Category)) {
				return apperr.Field(p+".category", "%q is not one of the incident categories", a.Category)
			}
		case ActionCommander:
			err := q.QueryRowContext(ctx, `SELECT username FROM users WHERE username = $1 AND NOT disabled`,
				strings.TrimSpace(a.Commander)).Scan(&a.Commander)
			if errors.Is(err, sql.ErrNoRows) {
				return apperr.Field(p+".commander", "%q is not an active Ward user", a.Commander)
			}
			if err != nil {
				return fmt.Errorf("read user: %w", err)
			}
		case ActionPlaybook:
			if e.playbooks == nil {
				return apperr.Field(p+".type", "playbooks are not set up on this server")
			}
			_, ok, err := e.playbooks.NameOf(ctx, q, a.Playbook)
			if err != nil {
				return err
			}
			if !ok {
				return apperr.Field(p+".playbook", "no playbook %q", a.Playbook)
			}
		case ActionPagePolicy:
			err := q.QueryRowContext(ctx, `SELECT id FROM escalation_policies WHERE id = $1 OR name = $1`, a.Policy).Scan(&a.Policy)
			if errors.Is(err, sql.ErrNoRows) {
				return apperr.Field(p+".policy", "no escalation policy %q", a.Policy)
			}
			if err != nil {
				return fmt.Errorf("read escalation policy: %w", err)
			}
		case ActionWebhook:
			// The address was checked before the transaction (checkHooks).
		default:
			return apperr.Field(p+".type", "%q is not one of %s", a.Type, strings.Join(ActionTypes, ", "))
		}
	}
	return nil
}

const ruleColumns = "id, name, description, expression, actions, enabled, created_at, updated_at, version, after_seconds, after_from, webhook_urls"

func scanRule(r interface{ Scan(...any) error }) (Rule, error) {
	var x Rule
	var actions string
	var after int64
	if err := r.Scan(&x.ID, &x.Name, &x.Description, &x.Expression, &actions, &x.Enabled, &x.CreatedAt, &x.UpdatedAt, &x.Version,
		&after, &x.From, &x.sealedURLs); err != nil {
		return Rule{}, err
	}
	x.After = time.Duration(after) * time.Second
	x.CreatedAt, x.UpdatedAt = x.CreatedAt.UTC(), x.UpdatedAt.UTC()
	if err := json.Unmarshal([]byte(actions), &x.Actions); err != nil {
		return Rule{}, fmt.Errorf("rule %s: actions: %w", x.ID, err)
	}
	return x, nil
}

// Create records a new rule.
func (e *Engine) Create(ctx context.Context, in Input) (Rule, error) { return e.save(ctx, "", in) }

// Update replaces rule ref (id or name). A rule that has already acted on
// an incident does not act on it again.
func (e *Engine) Update(ctx context.Context, ref string, in Input) (Rule, error) {
	return e.save(ctx, ref, in)
}

func (e *Engine) save(ctx context.Context, ref string, in Input) (Rule, error) {
	if _, err := authz.Check(ctx, authz.OnCallWrite); err != nil {
		return Rule{}, err
	}
	// Host names are looked up here, outside the write transaction.
	if err := e.checkHooks(ctx, in.Actions); err != nil {
		return Rule{}, err
	}
	now := e.clock.Now()
	var out Rule
	err := e.db.Write(ctx, func(tx *sql.Tx) error {
		if err := e.validate(ctx, tx, &in); err != nil {
			return err
		}
		action := "rule.create"
		var old *Rule
		if ref == "" {
			out = Rule{ID: newID(), CreatedAt: now, Version: 1}
		} else {
			prev, err := getRule(ctx, tx, ref)
			if err != nil {
				return err
			}
			old, out, action = &prev, prev, "rule.update"
			out.Version++
		}
		out.Name, out.Description, out.Expression, out.Actions, out.Enabled, out.UpdatedAt, out.After, out.From =
			in.Name, in.Description, in.Expression, in.Actions, in.Enabled, now, in.After.Truncate(time.Second), in.From
		actions, sealedURLs, err := e.sealURLs(out.ID, out.Actions)
		if err != nil {
			return err
		}
		if old == nil {
			_, err = tx.ExecContext(ctx, `INSERT INTO rules (`+ruleColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
				out.ID, out.Name, out.Description, out.Expression, actions, out.Enabled, out.CreatedAt, out.UpdatedAt, out.Version,
				int64(out.After/time.Second), out.From, sealedURLs)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE rules SET name = $1, description = $2, expression = $3, actions = $4, enabled = $5,
				updated_at = $6, version = $7, after_seconds = $8, after_from = $9, webhook_urls = $10 WHERE id = $11`,
				out.Name, out.Description, out.Expression, actions, out.Enabled, out.UpdatedAt, out.Version,
				int64(out.After/time.Second), out.From, sealedURLs, out.ID)
		}
		if db.IsUniqueViolation(err) {
			return apperr.Field("name", "a rule named %q exists already", out.Name)
		}
		if err != nil {
			return fmt.Errorf("save rule: %w", err)
		}
		if err := e.keepSecret(ctx, tx, &out); err != nil {
			return err
		}
		if err := newGeneration(ctx, tx); err != nil {
			return err
		}
		// The trail names each webhook's host, never its address.
		var was *Rule
		if old != nil {
			w := withholdURLs(*old)
			was = &w
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: action, ObjectType: "rule", ObjectID: out.ID,
			Change: map[string]any{"old": was, "new": withholdURLs(out)}})
		return err
	})
	if err != nil {
		return Rule{}, err
	}
	return out, nil
}

func getRule(ctx context.Context, q db.Querier, ref string) (Rule, error) {
	r, err := scanRule(q.QueryRowContext(ctx, `SELECT `+ruleColumns+` FROM rules WHERE id = $1 OR name = $1`, ref))
	if errors.Is(err, sql.ErrNoRows) {
		return Rule{}, apperr.New(apperr.NotFound, "no rule %q", ref)
	}
	if err != nil {
		return Rule{}, fmt.Errorf("read rule: %w", err)
	}
	return r, nil
}

// Get returns rule ref (id or name). A webhook's address is shown only to
// those who may manage rules (authz.OnCallWrite); others see its host.
func (e *Engine) Get(ctx context.Context, ref string) (Rule, error) {
	a, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return Rule{}, err
	}
	r, err := getRule(ctx, e.db.R, ref)
	if err != nil || !authz.Has(a.Role, authz.OnCallWrite) {
		return r, err
	}
	return r, e.openURLs(&r)
}

// List lists every rule by name, a webhook's address shown only to those
// who may manage rules, as Get.
func (e *Engine) List(ctx context.Context) ([]Rule, error) {
	a, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return nil, err
	}
	return e.rules(ctx, e.db.R, false, authz.Has(a.Role, authz.OnCallWrite))
}

// rules reads the rules, the enabled ones only if enabledOnly, with their
// webhooks' addresses opened if open.
func (e *Engine) rules(ctx context.Context, q db.Querier, enabledOnly, open bool) ([]Rule, error) {
	query := `SELECT ` + ruleColumns + ` FROM rules`
	if enabledOnly {
		query += ` WHERE enabled`
	}
	rows, err := q.QueryContext(ctx, query+` ORDER BY name`)
	rs, err := db.Collect(rows, err, "list rules", func(r *sql.Rows) (Rule, error) { return scanRule(r) })
	if err != nil || !open {
		return rs, err
	}
	for i := range rs {
		if err := e.openURLs(&rs[i]); err != nil {
			return nil, err
		}
	}
	return rs, nil
}

// generationCounter names the row of counters that changes, to a new
// random value, in the transaction of every change to the rules. Each node
// keeps the enabled rules in memory with the generation it read them at,
// and reads that one row, not the rules, in every transaction that runs
// them; so a rule saved on one node is in force on every node from its
// commit on. The value is random rather than counted so that a change
// rolled back (and the rules another write saw inside it, in SQLite's
// shared group-commit transaction) can never share a generation with a
// change that commits.
const generationCounter = "rules:generation"

// newGeneration marks the rules changed, inside the transaction that
// changes them.
func newGeneration(ctx context.Context, tx *sql.Tx) error {
	var b [8]byte
	_, _ = rand.Read(b[:])
	g := int64(binary.BigEndian.Uint64(b[:]) >> 1)
	if _, err := tx.ExecContext(ctx, `INSERT INTO counters (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, generationCounter, g); err != nil {
		return fmt.Errorf("mark the rules changed: %w", err)
	}
	db.Forget(tx, generationMemo{})
	return nil
}

// generationMemo keeps the generation a transaction read (db.Remember):
// intake asks for the enabled rules twice for every alert that opens an
// incident, and a round trip each on PostgreSQL. Within one transaction
// the rules are those in force at its first look, as for a write that
// started a moment earlier.
type generationMemo struct{}

// enabledRules returns the enabled rules in force in tx: those kept in
// memory when the generation that tx reads is the one they were read at,
// else the rules read again. (No generation row: no rule saved since the
// row was introduced; the rules are read once and kept under 0.)
func (e *Engine) enabledRules(ctx context.Context, tx *sql.Tx) ([]Rule, error) {
	q := e.db.In(tx)
	var g int64
	if v, ok := db.Recall(tx, generationMemo{}); ok {
		g = v.(int64)
	} else {
		err := q.QueryRowContext(ctx, `SELECT value FROM counters WHERE name = $1`, generationCounter).Scan(&g)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("read the rules' generation: %w", err)
		}
		db.Remember(tx, generationMemo{}, g)
	}
	e.mu.Lock()
	kept := e.enabled
	e.mu.Unlock()
	if kept.loaded && kept.generation == g {
		return kept.rules, nil
	}
	rs, err := e.rules(ctx, q, true, true)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	e.enabled = ruleSet{loaded: true, generation: g, rules: rs}
	e.mu.Unlock()
	return rs, nil
}
