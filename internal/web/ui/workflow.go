package ui

import (
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/rules"
)

// ---- workflow rules ----

// actionSlots is how many action rows the rule form offers; a rule with
// more actions, made through the API, gets a row for each.
const actionSlots = 3

var actionTypes = []choice{
	{"", "None"},
	{rules.ActionSetSeverity, "Set the severity"},
	{rules.ActionAddTask, "Add a task"},
	{rules.ActionNotifyGroup, "Subscribe and notify a stakeholder group"},
	{rules.ActionStartBreach, "Open the breach case"},
}

// workflowView is a rule as the pages show it.
type workflowView struct {
	rules.Rule
	// Summary says in words what the rule does when it matches.
	Summary string
}

// subjectField is one value a dry run's expression saw.
type subjectField struct {
	Name  string
	Value string
}

// dryRunView is a dry run's outcome.
type dryRunView struct {
	Matched bool
	Saw     []subjectField
}

type workflowPage struct {
	Rules []workflowView
	Rule  *workflowView // on a rule's page
	Form  map[string]string
	// Slots are the action rows' indexes.
	Slots      []int
	Types      []choice
	Severities []choice
	Groups     []choice
	Errors     map[string]string
	// Dry is the dry-run form, DryErrors its errors and DryResult what it
	// found.
	Dry       map[string]string
	DryErrors map[string]string
	DryResult *dryRunView
}

// actionSummary says in words what a rule does, naming groups.
func actionSummary(as []rules.Action, groups map[string]string) string {
	parts := make([]string, 0, len(as))
	for _, a := range as {
		switch a.Type {
		case rules.ActionSetSeverity:
			parts = append(parts, "set the severity to "+a.Severity)
		case rules.ActionAddTask:
			parts = append(parts, "add the task “"+a.Title+"”")
		case rules.ActionNotifyGroup:
			name := groups[a.Group]
			if name == "" {
				name = a.Group
			}
			parts = append(parts, "subscribe and notify "+name)
		case rules.ActionStartBreach:
			parts = append(parts, "open the breach case")
		default:
			parts = append(parts, a.Type)
		}
	}
	return strings.Join(parts, "; ")
}

// workflowForm fills the rule form from a saved rule.
func workflowForm(r rules.Rule) map[string]string {
	f := map[string]string{"name": r.Name, "description": r.Description, "expression": r.Expression}
	if r.Enabled {
		f["enabled"] = "on"
	}
	for i, a := range r.Actions {
		f[actionKey(i, "type")], f[actionKey(i, "severity")] = a.Type, a.Severity
		f[actionKey(i, "title")], f[actionKey(i, "group")] = a.Title, a.Group
	}
	return f
}

func actionKey(i int, field string) string { return "action" + strconv.Itoa(i) + "_" + field }

// workflowPost is a submitted rule form.
type workflowPost struct {
	form map[string]string
	in   rules.Input
	// rowOf maps an action's index in the input to its row on the form,
	// since rows without a type are skipped.
	rowOf []int
	rows  int
}

// slots returns the indexes of n action rows.
func slots(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

func readWorkflow(r *http.Request) workflowPost {
	rows, _ := strconv.Atoi(r.PostFormValue("rows"))
	rows = min(max(rows, actionSlots), rules.MaxActions)
	names := []string{"name", "description", "expression", "enabled"}
	for i := range rows {
		for _, f := range []string{"type", "severity", "title", "group"} {
			names = append(names, actionKey(i, f))
		}
	}
	p := workflowPost{form: formValues(r, names...), rows: rows}
	p.in = rules.Input{Name: p.form["name"], Description: p.form["description"], Expression: p.form["expression"],
		Enabled: p.form["enabled"] == "on"}
	for i := range rows {
		t := p.form[actionKey(i, "type")]
		if t == "" {
			continue
		}
		a := rules.Action{Type: t}
		switch t {
		case rules.ActionSetSeverity:
			a.Severity = p.form[actionKey(i, "severity")]
		case rules.ActionAddTask:
			a.Title = p.form[actionKey(i, "title")]
		case rules.ActionNotifyGroup:
			a.Group = p.form[actionKey(i, "group")]
		}
		p.in.Actions = append(p.in.Actions, a)
		p.rowOf = append(p.rowOf, i)
	}
	return p
}

var workflowErrRe = regexp.MustCompile(`^actions\[(\d+)\]\.(type|severity|title|group)$`)

// errors places a rule error beside its control: actions[1].group
// beside the group of the second filled action row.
func (p workflowPost) errors(fe map[string]string) map[string]string {
	named := map[string]string{}
	for k, v := range fe {
		if m := workflowErrRe.FindStringSubmatch(k); m != nil {
			if i, err := strconv.Atoi(m[1]); err == nil && i < len(p.rowOf) {
				k = actionKey(p.rowOf[i], m[2])
			}
		}
		named[k] = v
	}
	return formErrors(named, func(k string) bool {
		switch k {
		case "name", "description", "expression", "actions":
			return true
		}
		return strings.HasPrefix(k, "action") && strings.Contains(k, "_")
	})
}

// workflowData reads what the rule pages show besides the forms.
func (u *UI) workflowData(r *http.Request) (workflowPage, map[string]string, error) {
	ctx := r.Context()
	rs, err := u.Rules.List(ctx)
	if err != nil {
		return workflowPage{}, nil, err
	}
	gs, err := u.Stakeholders.Groups(ctx)
	if err != nil {
		return workflowPage{}, nil, err
	}
	groups := map[string]string{}
	p := workflowPage{Form: map[string]string{"enabled": "on"}, Types: actionTypes, Dry: map[string]string{},
		Slots: slots(actionSlots), Severities: []choice{{"", "Choose…"}}, Groups: []choice{{"", "Choose…"}}}
	for _, s := range severityStrings {
		p.Severities = append(p.Severities, choice{s, s})
	}
	for _, g := range gs {
		groups[g.ID] = g.Name
		p.Groups = append(p.Groups, choice{g.ID, g.Name})
	}
	for _, x := range rs {
		p.Rules = append(p.Rules, workflowView{Rule: x, Summary: actionSummary(x.Actions, groups)})
	}
	return p, groups, nil
}

// workflowRuleData reads a rule's page, its forms filled from the saved
// rule.
func (u *UI) workflowRuleData(r *http.Request) (workflowPage, error) {
	x, err := u.Rules.Get(r.Context(), r.PathValue("rule"))
	if err != nil {
		return workflowPage{}, err
	}
	p, groups, err := u.workflowData(r)
	if err != nil {
		return workflowPage{}, err
	}
	p.Rule = &workflowView{Rule: x, Summary: actionSummary(x.Actions, groups)}
	p.Form, p.Slots = workflowForm(x), slots(max(actionSlots, len(x.Actions)))
	p.Dry = map[string]string{"dry_expression": x.Expression}
	return p, nil
}

func (u *UI) workflowList(w http.ResponseWriter, r *http.Request) {
	p, _, err := u.workflowData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "rules", "Rules", "rules", p)
}

func (u *UI) workflowShow(w http.ResponseWriter, r *http.Request) {
	p, err := u.workflowRuleData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "rule", p.Rule.Name, "rules", p)
}

// workflowFailed re-renders a rule form with its errors, or fails.
func (u *UI) workflowFailed(w http.ResponseWriter, r *http.Request, err error, post workflowPost, p workflowPage, page, title string) {
	fe, ok := fieldErrors(err)
	if !ok {
		u.fail(w, r, err)
		return
	}
	p.Form, p.Slots, p.Errors = post.form, slots(post.rows), post.errors(fe)
	u.render(w, r, http.StatusUnprocessableEntity, page, title, "rules", p)
}

func (u *UI) workflowCreate(w http.ResponseWriter, r *http.Request) {
	post := readWorkflow(r)
	x, err := u.Rules.Create(r.Context(), post.in)
	if err != nil {
		p, _, perr := u.workflowData(r)
		if perr != nil {
			u.fail(w, r, perr)
			return
		}
		u.workflowFailed(w, r, err, post, p, "rules", "Rules")
		return
	}
	redirect(w, r, "/rules/"+url.PathEscape(x.ID)+"?msg=workflow_created")
}

func (u *UI) workflowUpdate(w http.ResponseWriter, r *http.Request) {
	post := readWorkflow(r)
	x, err := u.Rules.Update(r.Context(), r.PathValue("rule"), post.in)
	if err != nil {
		p, perr := u.workflowRuleData(r)
		if perr != nil {
			u.fail(w, r, perr)
			return
		}
		u.workflowFailed(w, r, err, post, p, "rule", p.Rule.Name)
		return
	}
	redirect(w, r, "/rules/"+url.PathEscape(x.ID)+"?msg=workflow_saved")
}

// sawFields lists what a dry run's expression saw, in the order the help
// names them.
func sawFields(s rules.Subject) []subjectField {
	list := func(v []string) string {
		if len(v) == 0 {
			return "[]"
		}
		q := make([]string, len(v))
		for i, x := range v {
			q[i] = strconv.Quote(x)
		}
		return "[" + strings.Join(q, ", ") + "]"
	}
	return []subjectField{
		{"number", strconv.Quote(s.Number)},
		{"severity", strconv.Quote(s.Severity)},
		{"category", strconv.Quote(s.Category)},
		{"status", strconv.Quote(s.Status)},
		{"phi_suspected", strconv.FormatBool(s.PHISuspected)},
		{"restricted", strconv.FormatBool(s.Restricted)},
		{"commander", strconv.Quote(s.Commander)},
		{"customers", list(s.Customers)},
		{"services", list(s.Services)},
		{"alerts", strconv.Itoa(s.Alerts)},
	}
}

// workflowDryRun runs the dry-run form's expression, changing nothing,
// and shows the outcome on the list page or, under /rules/{rule}, on the
// rule's page.
func (u *UI) workflowDryRun(w http.ResponseWriter, r *http.Request) {
	var (
		p      workflowPage
		err    error
		page   = "rules"
		title  = "Rules"
		dry    = formValues(r, "dry_expression", "dry_incident")
		ref    = strings.TrimSpace(dry["dry_incident"])
		onRule = r.PathValue("rule") != ""
	)
	if onRule {
		p, err = u.workflowRuleData(r)
		if err == nil {
			page, title = "rule", p.Rule.Name
		}
	} else {
		p, _, err = u.workflowData(r)
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p.Dry = dry
	res, err := u.Rules.DryRun(r.Context(), dry["dry_expression"], ref, rules.Subject{})
	if err != nil {
		if apperr.CodeOf(err) == apperr.NotFound && ref != "" {
			err = apperr.Field("dry_incident", "%s", errMessage(err))
		}
		fe, ok := fieldErrors(renamed(err, "expression", "dry_expression"))
		if !ok {
			u.fail(w, r, err)
			return
		}
		p.DryErrors = formErrors(fe, func(k string) bool { return k == "dry_expression" || k == "dry_incident" })
		u.render(w, r, http.StatusUnprocessableEntity, page, title, "rules", p)
		return
	}
	p.DryResult = &dryRunView{Matched: res.Matched, Saw: sawFields(res.Subject)}
	u.render(w, r, http.StatusOK, page, title, "rules", p)
}

// errMessage is a service error's message for people.
func errMessage(err error) string {
	if e, ok := apperr.As(err); ok {
		return e.Message
	}
	return err.Error()
}
