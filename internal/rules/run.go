package rules

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/paging"
)

type depthKey struct{}

// program returns r's compiled expression, compiling it once per version.
func (e *Engine) program(r Rule) (compiled, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if c, ok := e.programs[r.ID]; ok && c.version == r.Version {
		return c, nil
	}
	prg, err := e.compile(r.Expression)
	if err != nil {
		return compiled{}, err
	}
	c := compiled{version: r.Version, prg: prg}
	e.programs[r.ID] = c
	return c, nil
}

// subject is what rules see of incident id.
func subject(ctx context.Context, q db.Querier, inc incident.Incident) (Subject, error) {
	s := Subject{Number: inc.Number, Severity: string(inc.Severity), Category: string(inc.Category), Status: string(inc.Status),
		PHISuspected: inc.PHISuspected, Restricted: inc.Restricted, Commander: inc.Commander, Customers: inc.Customers,
		Services: []string{}}
	if s.Customers == nil {
		s.Customers = []string{}
	}
	rows, err := q.QueryContext(ctx, `SELECT s.name, count(*) FROM alerts a JOIN services s ON s.id = a.service_id
		WHERE a.incident_id = $1 GROUP BY s.name ORDER BY s.name`, inc.ID)
	if err != nil {
		return Subject{}, fmt.Errorf("read the incident's services: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var n int
		if err := rows.Scan(&name, &n); err != nil {
			return Subject{}, err
		}
		s.Services = append(s.Services, name)
		s.Alerts += n
	}
	return s, rows.Err()
}

// IncidentChangedTx runs every enabled rule against an incident that was
// just created or changed, and acts on those that match it for the first
// time, inside the same transaction. A rule that fails to evaluate (over
// its cost limit, say) is logged and skipped: it never blocks the change.
// It implements incident.Watcher.
func (e *Engine) IncidentChangedTx(ctx context.Context, tx *sql.Tx, inc incident.Incident, _ incident.Event) error {
	depth, _ := ctx.Value(depthKey{}).(int)
	if depth >= maxDepth {
		return nil
	}
	ctx = context.WithValue(ctx, depthKey{}, depth+1)
	if e.autoOpen && inc.PHISuspected && e.cases != nil {
		if err := e.autoOpenTx(ctx, tx, inc.ID); err != nil {
			return err
		}
	}
	rs, err := e.enabledRules(ctx, tx)
	if err != nil || len(rs) == 0 {
		return err
	}
	subj, err := subject(ctx, e.db.In(tx), inc)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.After > 0 { // a timed rule: RunTimers checks it
			continue
		}
		c, err := e.program(r)
		if err != nil {
			e.log.WarnContext(ctx, "rule_invalid", "rule_id", r.ID, "error", err)
			continue
		}
		ok, err := eval(ctx, c.prg, subj)
		if err != nil {
			e.log.WarnContext(ctx, "rule_failed", "rule_id", r.ID, "incident_id", inc.ID, "error", err)
			continue
		}
		if !ok {
			continue
		}
		res, err := tx.ExecContext(ctx, `INSERT INTO rule_firings (rule_id, incident_id, fired_at) VALUES ($1, $2, $3)
			ON CONFLICT (rule_id, incident_id) DO NOTHING`, r.ID, inc.ID, e.clock.Now())
		if err != nil {
			return fmt.Errorf("record rule firing: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			continue
		}
		if err := e.act(ctx, tx, r, inc.ID); err != nil {
			return fmt.Errorf("rule %s: %w", r.Name, err)
		}
	}
	return nil
}

// AlertsJoinedTx runs the rules again once an incident's new alerts are
// recorded, so that rules on its services and alert count see them. It
// implements alert.Watcher.
//
// With no rule enabled, only the breach case's automatic opening can act,
// and only on an incident marked phi_suspected: then the incident is not
// read at all, or only that mark of it, and not even that when this
// transaction opened or changed the incident (incident.PHISuspectedTx).
func (e *Engine) AlertsJoinedTx(ctx context.Context, tx *sql.Tx, incidentID string) error {
	rs, err := e.enabledRules(ctx, tx)
	if err != nil {
		return err
	}
	if len(rs) == 0 {
		if !e.autoOpen || e.cases == nil {
			return nil
		}
		phi, known := incident.PHISuspectedTx(tx, incidentID)
		if !known {
			if err := e.db.In(tx).QueryRowContext(ctx, `SELECT phi_suspected FROM incidents WHERE id = $1`, incidentID).Scan(&phi); err != nil {
				return fmt.Errorf("read the incident: %w", err)
			}
		}
		if !phi {
			return nil
		}
	}
	inc, err := e.incidents.GetTx(ctx, tx, incidentID)
	if err != nil {
		return err
	}
	return e.IncidentChangedTx(ctx, tx, inc, incident.Event{})
}

// autoOpenTx opens incident id's breach case if it has none (AutoOpenCases).
func (e *Engine) autoOpenTx(ctx context.Context, tx *sql.Tx, id string) error {
	var open int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM breach_cases WHERE incident_id = $1`, id).Scan(&open); err != nil {
		return fmt.Errorf("read breach cases: %w", err)
	}
	if open > 0 {
		return nil
	}
	ctx = authz.WithActor(ctx, authz.Actor{Kind: authz.KindSystem, ID: "ward", Name: "Ward (PHI suspected)",
		Role: authz.RoleAdmin})
	_, err := e.cases.OpenTx(ctx, tx, id)
	if apperr.CodeOf(err) == apperr.Conflict {
		return nil
	}
	return err
}

// outward are the actions that reach people or systems outside Ward, or
// open a breach case: a drill skips them.
// The value says, on the timeline, what was not done.
var outward = map[string]string{ActionNotifyGroup: "notifying a stakeholder group", ActionPagePolicy: "paging",
	ActionWebhook: "calling its webhook", ActionStartBreach: "opening a breach case"}

// act does what rule r says to incident incidentID, as the rule.
func (e *Engine) act(ctx context.Context, tx *sql.Tx, r Rule, incidentID string) error {
	ctx = authz.WithActor(ctx, authz.Actor{Kind: authz.KindSystem, ID: r.ID, Name: "rule " + r.Name, Role: authz.RoleAdmin})
	why := "Rule " + r.Name + " matched."
	if r.After > 0 {
		why = "Rule " + r.Name + " matched, " + FormatAfter(r.After) + " or more after the incident was " + r.From + "."
	}
	// A drill reaches nobody outside it: a rule's pages, notices to
	// stakeholder groups, webhooks and breach case are skipped and the
	// timeline says so (docs/DRILLS.md).
	var drill bool
	if err := tx.QueryRowContext(ctx, `SELECT drill FROM incidents WHERE id = $1`, incidentID).Scan(&drill); err != nil {
		return fmt.Errorf("read the incident: %w", err)
	}
	var did []string
	for _, a := range r.Actions {
		if skip, ok := outward[a.Type]; ok && drill {
			did = append(did, "skipped "+skip+": the incident is a drill")
			continue
		}
		switch a.Type {
		case ActionSetSeverity:
			if err := e.incidents.SetSeverityTx(ctx, tx, incidentID, incident.Severity(a.Severity), why); err != nil {
				return err
			}
			did = append(did, "set the severity to "+a.Severity)
		case ActionAddTask:
			if _, err := e.incidents.CreateTaskTx(ctx, tx, incidentID, incident.TaskInput{Title: a.Title}); err != nil {
				return err
			}
			did = append(did, "added the task "+a.Title)
		case ActionNotifyGroup:
			name, members, err := groupMembers(ctx, tx, a.Group)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO incident_stakeholders (incident_id, group_id, added_by, added_at)
				VALUES ($1, $2, $3, $4) ON CONFLICT (incident_id, group_id) DO NOTHING`, incidentID, a.Group, "rule:"+r.Name, e.clock.Now()); err != nil {
				return fmt.Errorf("subscribe group: %w", err)
			}
			line := "rule: " + r.Name
			if len(line) > 64 {
				line = strings.ToValidUTF8(line[:64], "")
			}
			if _, err := e.pager.NotifyTx(ctx, tx, paging.KindReminder, incidentID, line, members); err != nil {
				return err
			}
			did = append(did, "subscribed and notified "+name)
		case ActionSetCategory:
			if err := e.incidents.SetCategoryTx(ctx, tx, incidentID, incident.Category(a.Category), why); err != nil {
				return err
			}
			did = append(did, "set the category to "+a.Category)
		case ActionCommander:
			err := e.incidents.SetCommanderTx(ctx, tx, incidentID, a.Commander, why)
			switch {
			case apperr.CodeOf(err) == apperr.Invalid:
				// Disabled since the rule was saved: the change goes ahead.
				did = append(did, "could not make "+a.Commander+" the commander: not an active Ward user")
			case err != nil:
				return err
			default:
				did = append(did, "made "+a.Commander+" the commander")
			}
		case ActionPlaybook:
			if e.playbooks == nil {
				return fmt.Errorf("playbooks are not wired")
			}
			err := e.playbooks.ApplyTx(ctx, tx, incidentID, a.Playbook, why)
			switch {
			case apperr.CodeOf(err) == apperr.Conflict:
				did = append(did, "found the playbook "+a.Playbook+" applied already")
			case apperr.CodeOf(err) == apperr.Invalid:
				did = append(did, "could not apply the playbook "+a.Playbook+": Ward has no such playbook now")
			case err != nil:
				return err
			default:
				did = append(did, "applied the playbook "+a.Playbook)
			}
		case ActionPagePolicy:
			what, err := e.pager.PagePolicyTx(ctx, tx, incidentID, a.Policy, why)
			switch {
			case apperr.CodeOf(err) == apperr.NotFound:
				did = append(did, "could not page: the escalation policy was deleted")
			case err != nil:
				return err
			default:
				did = append(did, what)
			}
		case ActionWebhook:
			if e.hooks == nil {
				return fmt.Errorf("webhooks are not wired")
			}
			if err := e.queueHookTx(ctx, tx, r, incidentID, a.URL); err != nil {
				return err
			}
			host := a.URL
			if u, err := url.Parse(a.URL); err == nil {
				host = u.Host
			}
			did = append(did, "queued a call to its webhook at "+host)
		case ActionStartBreach:
			if e.cases == nil {
				return fmt.Errorf("breach cases are not wired")
			}
			_, err := e.cases.OpenTx(ctx, tx, incidentID)
			switch {
			case apperr.CodeOf(err) == apperr.Conflict:
				did = append(did, "found a breach case open already")
			case err != nil:
				return err
			default:
				did = append(did, "opened a breach case")
			}
		}
	}
	return e.incidents.RecordTx(ctx, tx, incidentID, incident.EventRule, why+" It "+strings.Join(did, "; ")+".")
}

func groupMembers(ctx context.Context, tx *sql.Tx, groupID string) (string, []string, error) {
	var name string
	if err := tx.QueryRowContext(ctx, `SELECT name FROM stakeholder_groups WHERE id = $1`, groupID).Scan(&name); err != nil {
		return "", nil, fmt.Errorf("read stakeholder group: %w", err)
	}
	rows, err := tx.QueryContext(ctx, `SELECT user_id FROM stakeholder_members WHERE group_id = $1 ORDER BY user_id`, groupID)
	if err != nil {
		return "", nil, fmt.Errorf("read members: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return "", nil, err
		}
		out = append(out, id)
	}
	return name, out, rows.Err()
}

// DryRunResult is what a dry run found.
type DryRunResult struct {
	Matched bool
	Subject Subject
}

// DryRun type-checks expr and runs it against a sample: the incident ref
// (id or number) when given, else sample. Nothing is changed or recorded.
func (e *Engine) DryRun(ctx context.Context, expr, ref string, sample Subject) (DryRunResult, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return DryRunResult{}, err
	}
	prg, err := e.compile(expr)
	if err != nil {
		return DryRunResult{}, err
	}
	subj := sample
	if ref != "" {
		inc, err := e.incidents.Meta(ctx, ref)
		if err != nil {
			return DryRunResult{}, err
		}
		if subj, err = subject(ctx, e.db.R, inc); err != nil {
			return DryRunResult{}, err
		}
	}
	if subj.Customers == nil {
		subj.Customers = []string{}
	}
	if subj.Services == nil {
		subj.Services = []string{}
	}
	ok, err := eval(ctx, prg, subj)
	if err != nil {
		return DryRunResult{}, apperr.Field("expression", "%s", err)
	}
	return DryRunResult{Matched: ok, Subject: subj}, nil
}
