package confcode

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/paging"
	"github.com/wardhq/ward/internal/rules"
	"github.com/wardhq/ward/internal/stakeholder"
)

// Config exports, plans and applies configuration as code.
type Config struct {
	db    *db.DB
	clock clock.Clock
}

// New returns the configuration service.
func New(d *db.DB, c clock.Clock) *Config { return &Config{db: d, clock: c} }

// check is the permissions every operation needs: those of each part of
// what the files hold (services; escalation policies, schedules and
// rules; stakeholder groups).
func check(ctx context.Context) error {
	for _, p := range []authz.Permission{authz.ServiceWrite, authz.OnCallWrite, authz.StakeholderWrite} {
		if _, err := authz.Check(ctx, p); err != nil {
			return err
		}
	}
	return nil
}

// Export returns the running configuration, audited as config.export.
func (c *Config) Export(ctx context.Context) (Bundle, error) {
	if err := check(ctx); err != nil {
		return Bundle{}, err
	}
	var b Bundle
	err := c.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		if b, err = current(ctx, tx); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, c.clock.Now(), audit.Event{Action: "config.export", ObjectType: "config",
			Change: map[string]int{"services": len(b.Services), "escalation_policies": len(b.EscalationPolicies), "schedules": len(b.Schedules),
				"sla_policies": len(b.SLAPolicies), "alert_rules": len(b.AlertRules),
				"stakeholder_groups": len(b.StakeholderGroups)}})
		return err
	})
	return b, err
}

// Change is one change a plan makes.
type Change struct {
	Op     string        `json:"op" enum:"create,update,delete"`
	Kind   string        `json:"kind" enum:"service,escalation_policy,schedule,sla_policy,stakeholder_group,alert_rule"`
	Name   string        `json:"name"`
	Fields []FieldChange `json:"fields,omitempty" doc:"For an update: each field that changes."`
}

// FieldChange is one field of an update, old and new as JSON.
type FieldChange struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

func (ch Change) String() string {
	what := strings.ReplaceAll(ch.Kind, "_", " ") + " " + fmt.Sprintf("%q", ch.Name)
	switch ch.Op {
	case "create":
		return "+ create " + what
	case "delete":
		return "- delete " + what
	}
	parts := make([]string, len(ch.Fields))
	for i, f := range ch.Fields {
		parts[i] = fmt.Sprintf("    %s: %s → %s", f.Field, f.From, f.To)
	}
	return "~ update " + what + "\n" + strings.Join(parts, "\n")
}

// Plan returns the changes applying src would make; with prune, it also
// deletes what src no longer names. It changes nothing: it makes the
// changes, with every check Apply makes, in a transaction it then rolls
// back.
func (c *Config) Plan(ctx context.Context, src *Source, prune bool) ([]Change, error) {
	changes, err := c.run(ctx, src, prune, false)
	if errors.Is(err, errPlanOnly) {
		return changes, nil
	}
	if err == nil {
		return nil, errors.New("plan: the transaction was not rolled back")
	}
	return nil, err
}

// Apply makes src the running configuration in one transaction, each
// change through the services' own checks and audited as they audit it;
// with prune it also deletes what src no longer names. Nothing is applied
// when anything is refused.
func (c *Config) Apply(ctx context.Context, src *Source, prune bool) ([]Change, error) {
	return c.run(ctx, src, prune, true)
}

// errPlanOnly rolls back a plan's transaction.
var errPlanOnly = errors.New("plan only: rolled back")

func (c *Config) run(ctx context.Context, src *Source, prune, commit bool) ([]Change, error) {
	if err := check(ctx); err != nil {
		return nil, err
	}
	var changes []Change
	err := c.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		if changes, err = plan(ctx, tx, src, prune); err != nil {
			return err
		}
		now := c.clock.Now()
		for _, kind := range []string{KindSchedule, KindPolicy, KindService, KindSLA, KindGroup, KindAlertRule} {
			for _, ch := range changes {
				if ch.Kind != kind || ch.Op == "delete" {
					continue
				}
				if err := save(ctx, tx, now, src, ch); err != nil {
					return err
				}
			}
		}
		for _, kind := range []string{KindAlertRule, KindService, KindPolicy, KindSchedule} {
			for _, ch := range changes {
				if ch.Kind == kind && ch.Op == "delete" {
					if err := remove(ctx, tx, now, ch); err != nil {
						return err
					}
				}
			}
		}
		if !commit {
			return errPlanOnly
		}
		return nil
	})
	if err != nil && !errors.Is(err, errPlanOnly) {
		return nil, err
	}
	return changes, err
}

// save creates or updates the object ch names, as src has it.
func save(ctx context.Context, tx *sql.Tx, now time.Time, src *Source, ch Change) error {
	ref := ""
	if ch.Op == "update" {
		ref = ch.Name
	}
	var err error
	switch ch.Kind {
	case KindSchedule:
		_, err = paging.SaveScheduleTx(ctx, tx, now, ref, scheduleInput(find(src.Bundle.Schedules, ch.Name)))
	case KindPolicy:
		_, err = paging.SavePolicyTx(ctx, tx, now, ref, policyInput(find(src.Bundle.EscalationPolicies, ch.Name)))
	case KindSLA:
		p := find(src.Bundle.SLAPolicies, ch.Name)
		_, err = stakeholder.SetSLAPolicyTx(ctx, tx, now, stakeholder.Policy{Severity: p.Severity, AckMinutes: p.AckMinutes,
			FirstUpdateMinutes: p.FirstUpdateMinutes, UpdateIntervalMinutes: p.UpdateIntervalMinutes, ContainMinutes: p.ContainMinutes,
			ResolveMinutes: p.ResolveMinutes})
	case KindAlertRule:
		_, err = rules.SaveAlertRuleTx(ctx, tx, now, ref, alertRuleInput(find(src.Bundle.AlertRules, ch.Name)))
	case KindGroup:
		var in stakeholder.GroupInput
		if in, err = groupInput(ctx, tx, find(src.Bundle.StakeholderGroups, ch.Name)); err == nil {
			_, err = stakeholder.SaveGroupTx(ctx, tx, now, ref, in)
		}
	default:
		s := find(src.Bundle.Services, ch.Name)
		_, err = alert.SaveServiceTx(ctx, tx, now, ref, alert.ServiceInput{Name: s.Name, Description: s.Description,
			HandlesPHI: s.HandlesPHI, GroupBy: alert.GroupBy(s.GroupBy), EscalationPolicy: s.EscalationPolicy})
	}
	if e, ok := apperr.As(err); ok && len(e.Fields) > 0 {
		field := e.Fields[0].Field
		if ch.Kind == KindGroup {
			// The files write a group's rule as subscribe.
			if rest, ok := strings.CutPrefix(field, "rule."); ok {
				field = "subscribe." + rest
			}
		}
		return Problems{src.problem(ch.Kind, ch.Name, field, "%s %q: %s", strings.ReplaceAll(ch.Kind, "_", " "), ch.Name, e.Fields[0].Message)}
	}
	return err
}

func remove(ctx context.Context, tx *sql.Tx, now time.Time, ch Change) error {
	switch ch.Kind {
	case KindSchedule:
		return paging.DeleteScheduleTx(ctx, tx, now, ch.Name)
	case KindPolicy:
		return paging.DeletePolicyTx(ctx, tx, now, ch.Name)
	case KindAlertRule:
		return rules.DeleteAlertRuleTx(ctx, tx, now, ch.Name)
	}
	return alert.DeleteServiceTx(ctx, tx, now, ch.Name)
}

// named is a configuration object.
type named interface {
	Service | Policy | Schedule | SLAPolicy | AlertRule | Group
}

func nameOf[T named](v T) string {
	switch x := any(v).(type) {
	case Service:
		return x.Name
	case Policy:
		return x.Name
	case Schedule:
		return x.Name
	case SLAPolicy:
		return x.Severity
	case AlertRule:
		return x.Name
	case Group:
		return x.Name
	}
	return ""
}

func find[T named](list []T, name string) T {
	for _, v := range list {
		if nameOf(v) == name {
			return v
		}
	}
	var zero T
	return zero
}

func scheduleInput(s Schedule) paging.ScheduleInput {
	in := paging.ScheduleInput{Name: s.Name, Description: s.Description, TimeZone: s.TimeZone}
	for _, r := range s.Rotations {
		start, _ := time.Parse(time.RFC3339, r.Start)
		spec := paging.RotationSpec{Name: r.Name, Kind: r.Kind, ShiftLength: r.ShiftLength, Start: start,
			Participants: append([]string(nil), r.Participants...)}
		if r.End != "" {
			end, _ := time.Parse(time.RFC3339, r.End)
			spec.End = &end
		}
		for _, w := range r.Restrict {
			spec.Restrict = append(spec.Restrict, paging.WindowSpec{Days: w.Days, Start: w.Start, End: w.End})
		}
		in.Rotations = append(in.Rotations, spec)
	}
	return in
}

func alertRuleInput(r AlertRule) rules.AlertRuleInput {
	in := rules.AlertRuleInput{Name: r.Name, Description: r.Description, Expression: r.Expression, Enabled: r.Enabled}
	for _, a := range r.Actions {
		in.Actions = append(in.Actions, rules.AlertAction{Type: a.Type, Service: a.Service, Severity: a.Severity,
			Tags: append([]string(nil), a.Tags...)})
	}
	return in
}

// groupInput is g as the stakeholder service takes it: a customer's
// audience named by the customer's name in the files is named by its id.
func groupInput(ctx context.Context, q db.Querier, g Group) (stakeholder.GroupInput, error) {
	in := stakeholder.GroupInput{Name: g.Name, Description: g.Description, Audience: g.Audience,
		Members: append([]string(nil), g.Members...)}
	if name, ok := strings.CutPrefix(g.Audience, stakeholder.AudienceCustomer); ok {
		var id string
		err := q.QueryRowContext(ctx, `SELECT id FROM breach_parties WHERE name = $1 AND kind = 'customer' AND archived_at IS NULL
			ORDER BY id LIMIT 1`, strings.TrimSpace(name)).Scan(&id)
		switch {
		case err == nil:
			in.Audience = stakeholder.AudienceCustomer + id
		case !errors.Is(err, sql.ErrNoRows):
			return in, fmt.Errorf("read customer: %w", err)
		}
	}
	if g.Subscribe != nil {
		in.ByRule = true
		in.Rule = stakeholder.Rule{Services: append([]string(nil), g.Subscribe.Services...), Severities: g.Subscribe.Severities,
			Categories: g.Subscribe.Categories, PHISuspected: g.Subscribe.PHISuspected}
	}
	return in, nil
}

func policyInput(p Policy) paging.PolicyInput {
	in := paging.PolicyInput{Name: p.Name, Description: p.Description, Repeat: p.Repeat, AckTimeoutMinutes: p.AckTimeoutMinutes}
	for _, st := range p.Steps {
		step := paging.Step{DelayMinutes: st.DelayMinutes}
		for _, t := range st.Targets {
			if t.Schedule != "" {
				step.Targets = append(step.Targets, paging.Target{Type: paging.TargetSchedule, ID: t.Schedule})
			} else {
				step.Targets = append(step.Targets, paging.Target{Type: paging.TargetUser, ID: t.User})
			}
		}
		in.Steps = append(in.Steps, step)
	}
	return in
}

// plan checks src's references against itself and q's database and
// returns the changes, kind by kind, each by name.
func plan(ctx context.Context, q db.Querier, src *Source, prune bool) ([]Change, error) {
	cur, err := current(ctx, q)
	if err != nil {
		return nil, err
	}
	users, err := usernames(ctx, q)
	if err != nil {
		return nil, err
	}
	if probs := references(src, cur, users, prune); len(probs) > 0 {
		return nil, probs
	}
	var out []Change
	out = append(out, diff(KindSchedule, cur.Schedules, src.Bundle.Schedules, prune)...)
	out = append(out, diff(KindPolicy, cur.EscalationPolicies, src.Bundle.EscalationPolicies, prune)...)
	out = append(out, diff(KindService, cur.Services, src.Bundle.Services, prune)...)
	// Every severity has its SLA policy: files change them, never delete.
	out = append(out, diff(KindSLA, cur.SLAPolicies, src.Bundle.SLAPolicies, false)...)
	// Ward does not delete stakeholder groups: files create and change them.
	out = append(out, diff(KindGroup, cur.StakeholderGroups, src.Bundle.StakeholderGroups, false)...)
	out = append(out, diff(KindAlertRule, cur.AlertRules, src.Bundle.AlertRules, prune)...)
	return out, nil
}

// references finds names src uses that neither src nor the database (when
// not pruning) holds, and values that must be normal to compare.
func references(src *Source, cur Bundle, users map[string]bool, prune bool) Problems {
	has := func(fromFiles []string, fromDB []string, name string) bool {
		for _, n := range fromFiles {
			if n == name {
				return true
			}
		}
		if prune {
			return false
		}
		for _, n := range fromDB {
			if n == name {
				return true
			}
		}
		return false
	}
	var probs Problems
	policies, dbPolicies := names(src.Bundle.EscalationPolicies), names(cur.EscalationPolicies)
	schedules, dbSchedules := names(src.Bundle.Schedules), names(cur.Schedules)
	for _, s := range src.Bundle.Services {
		if s.EscalationPolicy != "" && !has(policies, dbPolicies, s.EscalationPolicy) {
			probs = append(probs, src.problem(KindService, s.Name, "escalation_policy", "no escalation policy %q in the files%s", s.EscalationPolicy, orDB(prune)))
		}
	}
	for _, p := range src.Bundle.EscalationPolicies {
		for i, st := range p.Steps {
			for j, t := range st.Targets {
				at := fmt.Sprintf("steps[%d].targets[%d]", i, j)
				switch {
				case (t.User == "") == (t.Schedule == ""):
					probs = append(probs, src.problem(KindPolicy, p.Name, at, "must name exactly one of user, schedule"))
				case t.User != "" && !users[t.User]:
					probs = append(probs, src.problem(KindPolicy, p.Name, at+".user", "no user %q in Ward", t.User))
				case t.Schedule != "" && !has(schedules, dbSchedules, t.Schedule):
					probs = append(probs, src.problem(KindPolicy, p.Name, at+".schedule", "no schedule %q in the files%s", t.Schedule, orDB(prune)))
				}
			}
		}
	}
	services, dbServices := names(src.Bundle.Services), names(cur.Services)
	for _, r := range src.Bundle.AlertRules {
		if _, ok := src.pos[KindAlertRule+"\x00"+r.Name+"\x00enabled"]; !ok {
			probs = append(probs, src.problem(KindAlertRule, r.Name, "enabled", "alert rule %q: enabled is required: true, or false to keep the rule without running it", r.Name))
		}
		for i, a := range r.Actions {
			if a.Type == rules.AlertRoute && !has(services, dbServices, a.Service) {
				probs = append(probs, src.problem(KindAlertRule, r.Name, fmt.Sprintf("actions[%d].service", i), "alert rule %q: no service %q in the files%s", r.Name, a.Service, orDB(prune)))
			}
		}
	}
	for _, g := range src.Bundle.StakeholderGroups {
		for i, u := range g.Members {
			if !users[u] {
				probs = append(probs, src.problem(KindGroup, g.Name, fmt.Sprintf("members[%d]", i), "stakeholder group %q: no user %q in Ward", g.Name, u))
			}
		}
		if g.Subscribe != nil {
			for i, sv := range g.Subscribe.Services {
				if !has(services, dbServices, sv) {
					probs = append(probs, src.problem(KindGroup, g.Name, fmt.Sprintf("subscribe.services[%d]", i), "stakeholder group %q: no service %q in the files%s", g.Name, sv, orDB(prune)))
				}
			}
		}
	}
	for _, s := range src.Bundle.Schedules {
		for i, r := range s.Rotations {
			for j, u := range r.Participants {
				if !users[u] {
					probs = append(probs, src.problem(KindSchedule, s.Name, fmt.Sprintf("rotations[%d].participants[%d]", i, j), "no user %q in Ward", u))
				}
			}
			for _, f := range []struct{ field, v string }{{"start", r.Start}, {"end", r.End}} {
				if f.v == "" && f.field == "end" {
					continue
				}
				if _, err := time.Parse(time.RFC3339, f.v); err != nil {
					probs = append(probs, src.problem(KindSchedule, s.Name, fmt.Sprintf("rotations[%d].%s", i, f.field), "%q is not a time like 2026-01-05T09:00:00-05:00", f.v))
				}
			}
		}
	}
	return probs
}

func orDB(prune bool) string {
	if prune {
		return " (with --prune, only the files count)"
	}
	return " or in Ward"
}

func names[T named](list []T) []string {
	out := make([]string, len(list))
	for i, v := range list {
		out[i] = nameOf(v)
	}
	return out
}

// diff compares the running objects with the wanted ones, by name.
func diff[T named](kind string, running, wanted []T, prune bool) []Change {
	var out []Change
	for _, w := range wanted {
		name := nameOf(w)
		r, ok := lookup(running, name)
		if !ok {
			out = append(out, Change{Op: "create", Kind: kind, Name: name})
			continue
		}
		if fields := fieldChanges(normal(r), normal(w)); len(fields) > 0 {
			out = append(out, Change{Op: "update", Kind: kind, Name: name, Fields: fields})
		}
	}
	if prune {
		for _, r := range running {
			if _, ok := lookup(wanted, nameOf(r)); !ok {
				out = append(out, Change{Op: "delete", Kind: kind, Name: nameOf(r)})
			}
		}
	}
	return out
}

func lookup[T named](list []T, name string) (T, bool) {
	for _, v := range list {
		if nameOf(v) == name {
			return v, true
		}
	}
	var zero T
	return zero, false
}

// normal is v as applying it stores it: defaults filled, times in the
// form Ward writes them, integrations (which apply leaves alone) out.
func normal[T named](v T) any {
	switch x := any(v).(type) {
	case Service:
		if x.GroupBy == "" {
			x.GroupBy = string(alert.GroupBySource)
		}
		x.Name = strings.TrimSpace(x.Name)
		x.Integrations = nil
		return x
	case Schedule:
		x.Name = strings.TrimSpace(x.Name)
		rots := make([]Rotation, len(x.Rotations))
		for i, r := range x.Rotations {
			r.Start, r.End = rfc3339(r.Start), rfc3339(r.End)
			if r.Participants == nil {
				r.Participants = []string{}
			}
			rots[i] = r
		}
		x.Rotations = rots
		return x
	case Policy:
		x.Name = strings.TrimSpace(x.Name)
		return x
	case Group:
		// As stakeholder.SaveGroupTx stores it: members a set, the
		// audience internal by default.
		x.Name = strings.TrimSpace(x.Name)
		x.Audience = strings.TrimSpace(x.Audience)
		if x.Audience == "" {
			x.Audience = stakeholder.AudienceInternal
		}
		members := slices.Clone(x.Members)
		slices.Sort(members)
		x.Members = slices.Compact(members)
		if len(x.Members) == 0 {
			x.Members = nil
		}
		return x
	case AlertRule:
		// As rules.SaveAlertRuleTx stores it: each action keeps only its
		// own field.
		x.Name = strings.TrimSpace(x.Name)
		acts := make([]AlertAction, len(x.Actions))
		for i, a := range x.Actions {
			n := AlertAction{Type: a.Type}
			switch a.Type {
			case rules.AlertRoute:
				n.Service = strings.TrimSpace(a.Service)
			case rules.AlertSetSeverity:
				n.Severity = a.Severity
			case rules.AlertAddTags:
				for _, t := range a.Tags {
					n.Tags = append(n.Tags, strings.TrimSpace(t))
				}
			}
			acts[i] = n
		}
		x.Actions = acts
		return x
	}
	return v
}

func rfc3339(s string) string {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return s
	}
	return t.Format(time.RFC3339)
}

// fieldChanges lists the top-level fields that differ, each as JSON.
func fieldChanges(running, wanted any) []FieldChange {
	var out []FieldChange
	a, b := reflect.ValueOf(running), reflect.ValueOf(wanted)
	for i := range a.NumField() {
		tag, _, _ := strings.Cut(a.Type().Field(i).Tag.Get("json"), ",")
		from, _ := json.Marshal(a.Field(i).Interface())
		to, _ := json.Marshal(b.Field(i).Interface())
		if string(from) != string(to) {
			out = append(out, FieldChange{Field: tag, From: string(from), To: string(to)})
		}
	}
	return out
}

// usernames are every user's username.
func usernames(ctx context.Context, q db.Querier) (map[string]bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT username FROM users`)
	list, err := db.Collect(rows, err, "list users", func(r *sql.Rows) (string, error) {
		var s string
		return s, r.Scan(&s)
	})
	out := map[string]bool{}
	for _, u := range list {
		out[u] = true
	}
	return out, err
}

// current reads the running configuration, ids turned into names.
func current(ctx context.Context, q db.Querier) (Bundle, error) {
	var b Bundle
	userName, err := idNames(ctx, q, `SELECT id, username FROM users`)
	if err != nil {
		return b, err
	}
	scheduleName, err := idNames(ctx, q, `SELECT id, name FROM schedules`)
	if err != nil {
		return b, err
	}
	policyName, err := idNames(ctx, q, `SELECT id, name FROM escalation_policies`)
	if err != nil {
		return b, err
	}
	nameOrID := func(m map[string]string, id string) string {
		if n, ok := m[id]; ok {
			return n
		}
		return id
	}
	rows, err := q.QueryContext(ctx, `SELECT name, description, time_zone, rotations FROM schedules`)
	b.Schedules, err = db.Collect(rows, err, "list schedules", func(r *sql.Rows) (Schedule, error) {
		var s Schedule
		var raw string
		if err := r.Scan(&s.Name, &s.Description, &s.TimeZone, &raw); err != nil {
			return s, err
		}
		var specs []paging.RotationSpec
		if err := json.Unmarshal([]byte(raw), &specs); err != nil {
			return s, fmt.Errorf("schedule %q: rotations: %w", s.Name, err)
		}
		for _, spec := range specs {
			rot := Rotation{Name: spec.Name, Kind: spec.Kind, ShiftLength: spec.ShiftLength, Start: spec.Start.Format(time.RFC3339),
				Participants: []string{}}
			if spec.End != nil {
				rot.End = spec.End.Format(time.RFC3339)
			}
			for _, p := range spec.Participants {
				rot.Participants = append(rot.Participants, nameOrID(userName, p))
			}
			for _, w := range spec.Restrict {
				rot.Restrict = append(rot.Restrict, Window{Days: w.Days, Start: w.Start, End: w.End})
			}
			s.Rotations = append(s.Rotations, rot)
		}
		return s, nil
	})
	if err != nil {
		return b, err
	}
	rows, err = q.QueryContext(ctx, `SELECT name, description, steps, repeat, ack_timeout_minutes FROM escalation_policies`)
	b.EscalationPolicies, err = db.Collect(rows, err, "list escalation policies", func(r *sql.Rows) (Policy, error) {
		var p Policy
		var raw string
		if err := r.Scan(&p.Name, &p.Description, &raw, &p.Repeat, &p.AckTimeoutMinutes); err != nil {
			return p, err
		}
		var steps []paging.Step
		if err := json.Unmarshal([]byte(raw), &steps); err != nil {
			return p, fmt.Errorf("escalation policy %q: steps: %w", p.Name, err)
		}
		for _, st := range steps {
			step := Step{DelayMinutes: st.DelayMinutes}
			for _, t := range st.Targets {
				if t.Type == paging.TargetSchedule {
					step.Targets = append(step.Targets, Target{Schedule: nameOrID(scheduleName, t.ID)})
				} else {
					step.Targets = append(step.Targets, Target{User: nameOrID(userName, t.ID)})
				}
			}
			p.Steps = append(p.Steps, step)
		}
		return p, nil
	})
	if err != nil {
		return b, err
	}
	type igRow struct{ service, kind, name string }
	rows, err = q.QueryContext(ctx, `SELECT service_id, kind, name FROM integration_keys WHERE revoked_at IS NULL`)
	igs, err := db.Collect(rows, err, "list integrations", func(r *sql.Rows) (igRow, error) {
		var x igRow
		return x, r.Scan(&x.service, &x.kind, &x.name)
	})
	if err != nil {
		return b, err
	}
	serviceName, err := idNames(ctx, q, `SELECT id, name FROM services`)
	if err != nil {
		return b, err
	}
	groups, err := stakeholder.GroupsIn(ctx, q)
	if err != nil {
		return b, err
	}
	customerName, err := idNames(ctx, q, `SELECT id, name FROM breach_parties WHERE kind = 'customer'`)
	if err != nil {
		return b, err
	}
	for _, g := range groups {
		x := Group{Name: g.Name, Description: g.Description, Audience: g.Audience}
		if id, ok := strings.CutPrefix(g.Audience, stakeholder.AudienceCustomer); ok {
			x.Audience = stakeholder.AudienceCustomer + nameOrID(customerName, id)
		}
		for _, m := range g.Members {
			x.Members = append(x.Members, nameOrID(userName, m))
		}
		slices.Sort(x.Members)
		if g.ByRule {
			x.Subscribe = &Match{Severities: g.Rule.Severities, Categories: g.Rule.Categories, PHISuspected: g.Rule.PHISuspected}
			for _, sv := range g.Rule.Services {
				x.Subscribe.Services = append(x.Subscribe.Services, nameOrID(serviceName, sv))
			}
		}
		b.StakeholderGroups = append(b.StakeholderGroups, x)
	}
	ars, err := rules.AlertRulesIn(ctx, q)
	if err != nil {
		return b, err
	}
	for _, r := range ars {
		x := AlertRule{Name: r.Name, Description: r.Description, Expression: r.Expression, Enabled: r.Enabled}
		for _, a := range r.Actions {
			if a.Service != "" {
				a.Service = nameOrID(serviceName, a.Service)
			}
			x.Actions = append(x.Actions, AlertAction{Type: a.Type, Service: a.Service, Severity: a.Severity, Tags: a.Tags})
		}
		b.AlertRules = append(b.AlertRules, x)
	}
	rows, err = q.QueryContext(ctx, `SELECT id, name, description, handles_phi, group_by, escalation_policy_id FROM services`)
	b.Services, err = db.Collect(rows, err, "list services", func(r *sql.Rows) (Service, error) {
		var s Service
		var id string
		var policy sql.NullString
		if err := r.Scan(&id, &s.Name, &s.Description, &s.HandlesPHI, &s.GroupBy, &policy); err != nil {
			return s, err
		}
		if policy.Valid {
			s.EscalationPolicy = nameOrID(policyName, policy.String)
		}
		for _, ig := range igs {
			if ig.service == id {
				s.Integrations = append(s.Integrations, Integration{Kind: ig.kind, Name: ig.name})
			}
		}
		return s, nil
	})
	if err != nil {
		return b, err
	}
	rows, err = q.QueryContext(ctx, `SELECT severity, ack_minutes, first_update_minutes, update_interval_minutes, contain_minutes,
		resolve_minutes FROM sla_policies`)
	b.SLAPolicies, err = db.Collect(rows, err, "list SLA policies", func(r *sql.Rows) (SLAPolicy, error) {
		var p SLAPolicy
		return p, r.Scan(&p.Severity, &p.AckMinutes, &p.FirstUpdateMinutes, &p.UpdateIntervalMinutes, &p.ContainMinutes, &p.ResolveMinutes)
	})
	if err != nil {
		return b, err
	}
	sortBundle(&b)
	return b, nil
}

func idNames(ctx context.Context, q db.Querier, query string) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, query)
	type pair struct{ id, name string }
	list, err := db.Collect(rows, err, "list names", func(r *sql.Rows) (pair, error) {
		var p pair
		return p, r.Scan(&p.id, &p.name)
	})
	out := make(map[string]string, len(list))
	for _, p := range list {
		out[p.id] = p.name
	}
	return out, err
}

// IsProblems reports whether err is a refusal of the files (Problems).
func IsProblems(err error) (Problems, bool) {
	var ps Problems
	ok := errors.As(err, &ps)
	return ps, ok
}
