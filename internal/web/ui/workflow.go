package ui

import (
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/labels"
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
	{rules.ActionSetCategory, "Set the category"},
	{rules.ActionCommander, "Make someone the commander"},
	{rules.ActionPlaybook, "Apply a playbook"},
	{rules.ActionPagePolicy, "Page an escalation policy"},
	{rules.ActionWebhook, "Call a signed webhook"},
}

// fromChoices are the times a timed rule counts from.
var fromChoices = []choice{
	{rules.FromDetected, "When the incident was detected"},
	{rules.FromCreated, "When the incident was recorded in Ward"},
	{rules.FromAcknowledged, "When its page was first acknowledged"},
}

// ruleActionFields are the fields of an action row, as the form names them.
var ruleActionFields = []string{"type", "severity", "title", "group", "category", "commander", "playbook", "policy", "url"}

// workflowView is a rule as the pages show it.
type workflowView struct {
	rules.Rule
	// Summary says in words what the rule does when it matches.
	Summary string
	// AfterText says in words when a timed rule is checked.
	AfterText string
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
	// AlertRules are the rules on alerts at intake; AlertForm, AlertErrors,
	// AlertServices and AlertSeverities are the form that adds one.
	AlertRules      []alertRuleView
	AlertForm       map[string]string
	AlertErrors     map[string]string
	AlertServices   []choice
	AlertSeverities []choice
	// AlertTry is what the add form's expression would have matched.
	AlertTry *alertDryRunView
	Rule     *workflowView // on a rule's page
	Form     map[string]string
	// Slots are the action rows' indexes.
	Slots      []int
	Types      []choice
	Severities []choice
	Groups     []choice
	Categories []choice
	Froms      []choice
	Playbooks  []choice
	Policies   []choice
	Errors     map[string]string
	// Secret is a new webhook signing secret, shown once.
	Secret string
	// Dry is the dry-run form, DryErrors its errors and DryResult what it
	// found.
	Dry       map[string]string
	DryErrors map[string]string
	DryResult *dryRunView
}

// names maps the ids a rule's actions hold to the names people read.
type names struct{ groups, playbooks, policies map[string]string }

func nameOr(m map[string]string, id string) string {
	if n := m[id]; n != "" {
		return n
	}
	return id
}

// actionSummary says in words what a rule does, naming groups, playbooks
// and policies.
func actionSummary(as []rules.Action, n names) string {
	parts := make([]string, 0, len(as))
	for _, a := range as {
		switch a.Type {
		case rules.ActionSetSeverity:
			parts = append(parts, "set the severity to "+a.Severity)
		case rules.ActionAddTask:
			parts = append(parts, "add the task “"+a.Title+"”")
		case rules.ActionNotifyGroup:
			parts = append(parts, "subscribe and notify "+nameOr(n.groups, a.Group))
		case rules.ActionStartBreach:
			parts = append(parts, "open the breach case")
		case rules.ActionSetCategory:
			parts = append(parts, "set the category to "+labels.Of(a.Category))
		case rules.ActionCommander:
			parts = append(parts, "make "+a.Commander+" the commander")
		case rules.ActionPlaybook:
			parts = append(parts, "apply the playbook "+nameOr(n.playbooks, a.Playbook))
		case rules.ActionPagePolicy:
			parts = append(parts, "page "+nameOr(n.policies, a.Policy))
		case rules.ActionWebhook:
			parts = append(parts, "call the signed webhook at "+a.Host)
		default:
			parts = append(parts, a.Type)
		}
	}
	return strings.Join(parts, "; ")
}

// viewOf is rule x as the pages show it.
func viewOf(x rules.Rule, n names) workflowView {
	v := workflowView{Rule: x, Summary: actionSummary(x.Actions, n)}
	if x.After > 0 {
		from := map[string]string{rules.FromDetected: "was detected", rules.FromCreated: "was recorded in Ward",
			rules.FromAcknowledged: "was first acknowledged"}[x.From]
		v.AfterText = rules.FormatAfter(x.After) + " after the incident " + from + ", until it matches or the incident is closed"
	}
	return v
}

// workflowForm fills the rule form from a saved rule.
func workflowForm(r rules.Rule) map[string]string {
	f := map[string]string{"name": r.Name, "description": r.Description, "expression": r.Expression, "from": r.From}
	if r.After > 0 {
		f["after"] = rules.FormatAfter(r.After)
	}
	if r.Enabled {
		f["enabled"] = "on"
	}
	for i, a := range r.Actions {
		f[actionKey(i, "type")], f[actionKey(i, "severity")] = a.Type, a.Severity
		f[actionKey(i, "title")], f[actionKey(i, "group")] = a.Title, a.Group
		f[actionKey(i, "category")], f[actionKey(i, "commander")] = a.Category, a.Commander
		f[actionKey(i, "playbook")], f[actionKey(i, "policy")], f[actionKey(i, "url")] = a.Playbook, a.Policy, a.URL
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
	// err is a field the form itself could not read (after).
	err error
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
	names := []string{"name", "description", "expression", "enabled", "after", "from"}
	for i := range rows {
		for _, f := range ruleActionFields {
			names = append(names, actionKey(i, f))
		}
	}
	p := workflowPost{form: formValues(r, names...), rows: rows}
	p.in = rules.Input{Name: p.form["name"], Description: p.form["description"], Expression: p.form["expression"],
		Enabled: p.form["enabled"] == "on", From: p.form["from"]}
	p.in.After, p.err = rules.ParseAfter(strings.TrimSpace(p.form["after"]))
	if p.in.After == 0 && p.err == nil {
		p.in.From = ""
	}
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
		case rules.ActionSetCategory:
			a.Category = p.form[actionKey(i, "category")]
		case rules.ActionCommander:
			a.Commander = p.form[actionKey(i, "commander")]
		case rules.ActionPlaybook:
			a.Playbook = p.form[actionKey(i, "playbook")]
		case rules.ActionPagePolicy:
			a.Policy = p.form[actionKey(i, "policy")]
		case rules.ActionWebhook:
			a.URL = p.form[actionKey(i, "url")]
		}
		p.in.Actions = append(p.in.Actions, a)
		p.rowOf = append(p.rowOf, i)
	}
	return p
}

var workflowErrRe = regexp.MustCompile(`^actions\[(\d+)\]\.(` + strings.Join(ruleActionFields, "|") + `)$`)

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
		case "name", "description", "expression", "actions", "after", "from":
			return true
		}
		return strings.HasPrefix(k, "action") && strings.Contains(k, "_")
	})
}

// workflowData reads what the rule pages show besides the forms.
func (u *UI) workflowData(r *http.Request) (workflowPage, names, error) {
	ctx := r.Context()
	rs, err := u.Rules.List(ctx)
	if err != nil {
		return workflowPage{}, names{}, err
	}
	gs, err := u.Stakeholders.Groups(ctx)
	if err != nil {
		return workflowPage{}, names{}, err
	}
	pbs, err := u.Playbooks.List(ctx)
	if err != nil {
		return workflowPage{}, names{}, err
	}
	pols, err := u.Pager.Policies(ctx)
	if err != nil {
		return workflowPage{}, names{}, err
	}
	n := names{groups: map[string]string{}, playbooks: map[string]string{}, policies: map[string]string{}}
	choose := []choice{{"", "Choose…"}}
	p := workflowPage{Form: map[string]string{"enabled": "on"}, AlertForm: map[string]string{"enabled": "on"}, Types: actionTypes, Dry: map[string]string{}, Froms: fromChoices,
		Slots: slots(actionSlots), Severities: slices.Clone(choose), Groups: slices.Clone(choose),
		Categories: slices.Clone(choose), Playbooks: slices.Clone(choose), Policies: slices.Clone(choose)}
	for _, s := range severityStrings {
		p.Severities = append(p.Severities, choice{s, s})
	}
	for _, c := range categoryStrings {
		p.Categories = append(p.Categories, choice{c, labels.Of(c)})
	}
	for _, g := range gs {
		n.groups[g.ID] = g.Name
		p.Groups = append(p.Groups, choice{g.ID, g.Name})
	}
	for _, b := range pbs {
		n.playbooks[b.Key] = b.Name
		p.Playbooks = append(p.Playbooks, choice{b.Key, b.Name})
	}
	for _, pol := range pols {
		n.policies[pol.ID] = pol.Name
		p.Policies = append(p.Policies, choice{pol.ID, pol.Name})
	}
	for _, x := range rs {
		p.Rules = append(p.Rules, viewOf(x, n))
	}
	if err := u.alertRuleViews(r, &p); err != nil {
		return workflowPage{}, names{}, err
	}
	return p, n, nil
}

// alertRuleView is an alert rule as the pages show it.
type alertRuleView struct {
	rules.AlertRule
	// Summary says in words what the rule does.
	Summary string
}

// alertRuleViewOf is alert rule x as the pages show it, the services it
// routes to named.
func alertRuleViewOf(x rules.AlertRule, services map[string]string) alertRuleView {
	var parts []string
	for _, a := range x.Actions {
		switch a.Type {
		case rules.AlertRoute:
			parts = append(parts, "send it to the service "+nameOr(services, a.Service))
		case rules.AlertSuppress:
			parts = append(parts, "suppress it: keep it, open no incident and page nobody")
		case rules.AlertSetSeverity:
			parts = append(parts, "set its severity to "+labels.Of(a.Severity))
		case rules.AlertAddTags:
			parts = append(parts, "tag it "+strings.Join(a.Tags, ", "))
		}
	}
	return alertRuleView{AlertRule: x, Summary: strings.Join(parts, "; ")}
}

// alertRuleViews lists the alert rules and fills the choices of the form
// that adds one.
func (u *UI) alertRuleViews(r *http.Request, p *workflowPage) error {
	rs, err := u.Rules.ListAlertRules(r.Context())
	if err != nil {
		return err
	}
	if p.AlertServices, p.AlertSeverities, err = u.alertRuleChoices(r); err != nil {
		return err
	}
	services := choiceNames(p.AlertServices)
	for _, x := range rs {
		p.AlertRules = append(p.AlertRules, alertRuleViewOf(x, services))
	}
	return nil
}

// workflowRuleData reads a rule's page, its forms filled from the saved
// rule.
func (u *UI) workflowRuleData(r *http.Request) (workflowPage, error) {
	x, err := u.Rules.Get(r.Context(), r.PathValue("rule"))
	if err != nil {
		return workflowPage{}, err
	}
	p, n, err := u.workflowData(r)
	if err != nil {
		return workflowPage{}, err
	}
	v := viewOf(x, n)
	p.Rule = &v
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
	x, err := rules.Rule{}, post.err
	if err == nil {
		x, err = u.Rules.Create(r.Context(), post.in)
	}
	if err != nil {
		p, _, perr := u.workflowData(r)
		if perr != nil {
			u.fail(w, r, perr)
			return
		}
		u.workflowFailed(w, r, err, post, p, "rules", "Rules")
		return
	}
	u.workflowSaved(w, r, x, "workflow_created")
}

// workflowSaved sends the browser to the saved rule's page, or, when the
// save made a webhook signing secret, shows the page with the secret
// there and then: it is never shown again.
func (u *UI) workflowSaved(w http.ResponseWriter, r *http.Request, x rules.Rule, msg string) {
	if x.Secret == "" {
		redirect(w, r, "/rules/"+url.PathEscape(x.ID)+"?msg="+msg)
		return
	}
	r.SetPathValue("rule", x.ID)
	p, err := u.workflowRuleData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p.Secret = x.Secret
	w.Header().Set("Cache-Control", "no-store")
	u.render(w, r, http.StatusOK, "rule", p.Rule.Name, "rules", p)
}

func (u *UI) workflowUpdate(w http.ResponseWriter, r *http.Request) {
	post := readWorkflow(r)
	x, err := rules.Rule{}, post.err
	if err == nil {
		x, err = u.Rules.Update(r.Context(), r.PathValue("rule"), post.in)
	}
	if err != nil {
		p, perr := u.workflowRuleData(r)
		if perr != nil {
			u.fail(w, r, perr)
			return
		}
		u.workflowFailed(w, r, err, post, p, "rule", p.Rule.Name)
		return
	}
	u.workflowSaved(w, r, x, "workflow_saved")
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
