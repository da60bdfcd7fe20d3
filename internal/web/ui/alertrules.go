package ui

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/labels"
	"github.com/wardhq/ward/internal/rules"
)

// ---- alert rules ----

// alertRuleFields are the alert rule form's controls.
var alertRuleFields = []string{"name", "description", "expression", "route", "suppress", "severity", "tags", "enabled"}

// alertRulePage is the alert rule page: the rule, its edit form and the
// choices the form offers.
type alertRulePage struct {
	Rule       *alertRuleView
	Form       map[string]string
	Errors     map[string]string
	Services   []choice
	Severities []choice
	// Try is what the form's expression would have matched.
	Try *alertDryRunView
}

// alertRuleChoices fills the choices of the alert rule form.
func (u *UI) alertRuleChoices(r *http.Request) ([]choice, []choice, error) {
	svcs, err := u.Alerts.Services(r.Context())
	if err != nil {
		return nil, nil, err
	}
	services := []choice{{"", "Its own service"}}
	for _, s := range svcs {
		services = append(services, choice{s.ID, s.Name})
	}
	sevs := []choice{{"", "As the tool sent it"}}
	for _, s := range []string{"critical", "error", "warning", "info"} {
		sevs = append(sevs, choice{s, labels.Of(s)})
	}
	return services, sevs, nil
}

// alertRuleForm fills the alert rule form from a saved rule.
func alertRuleForm(x rules.AlertRule) map[string]string {
	f := map[string]string{"name": x.Name, "description": x.Description, "expression": x.Expression}
	if x.Enabled {
		f["enabled"] = "on"
	}
	for _, a := range x.Actions {
		switch a.Type {
		case rules.AlertRoute:
			f["route"] = a.Service
		case rules.AlertSuppress:
			f["suppress"] = "on"
		case rules.AlertSetSeverity:
			f["severity"] = a.Severity
		case rules.AlertAddTags:
			f["tags"] = strings.Join(a.Tags, ", ")
		}
	}
	return f
}

// alertRulePost is a submitted alert rule form and the actions it names,
// each action's control by its index in the input.
type alertRulePost struct {
	form      map[string]string
	in        rules.AlertRuleInput
	controlOf []string
}

func readAlertRule(r *http.Request) alertRulePost {
	p := alertRulePost{form: formValues(r, alertRuleFields...)}
	p.in = rules.AlertRuleInput{Name: p.form["name"], Description: p.form["description"], Expression: p.form["expression"],
		Enabled: p.form["enabled"] == "on"}
	add := func(control string, a rules.AlertAction) {
		p.in.Actions = append(p.in.Actions, a)
		p.controlOf = append(p.controlOf, control)
	}
	if s := strings.TrimSpace(p.form["route"]); s != "" {
		add("route", rules.AlertAction{Type: rules.AlertRoute, Service: s})
	}
	if p.form["suppress"] == "on" {
		add("suppress", rules.AlertAction{Type: rules.AlertSuppress})
	}
	if s := p.form["severity"]; s != "" {
		add("severity", rules.AlertAction{Type: rules.AlertSetSeverity, Severity: s})
	}
	if s := strings.TrimSpace(p.form["tags"]); s != "" {
		var tags []string
		for t := range strings.SplitSeq(s, ",") {
			tags = append(tags, strings.TrimSpace(t))
		}
		add("tags", rules.AlertAction{Type: rules.AlertAddTags, Tags: tags})
	}
	return p
}

var alertRuleErrRe = regexp.MustCompile(`^actions\[(\d+)\]`)

// errors places an alert rule error beside its control: actions[0].service
// beside the service to send alerts to, when the first action is the route.
func (p alertRulePost) errors(fe map[string]string) map[string]string {
	named := map[string]string{}
	for k, v := range fe {
		if m := alertRuleErrRe.FindStringSubmatch(k); m != nil {
			if i, err := strconv.Atoi(m[1]); err == nil && i < len(p.controlOf) {
				k = p.controlOf[i]
			}
		}
		if k == "actions" && len(p.in.Actions) == 0 {
			v = "choose at least one thing for the rule to do"
		}
		if prev, ok := named[k]; ok {
			v = prev + "; " + v
		}
		named[k] = v
	}
	return formErrors(named, func(k string) bool {
		switch k {
		case "name", "description", "expression", "route", "suppress", "severity", "tags", "actions":
			return true
		}
		return false
	})
}

// alertRuleFailed re-renders the form that failed beside its errors: on
// the rules page for a new rule, on the rule's page for an edit.
func (u *UI) alertRuleFailed(w http.ResponseWriter, r *http.Request, err error, post alertRulePost) {
	fe, ok := fieldErrors(err)
	if !ok {
		u.fail(w, r, err)
		return
	}
	errs := post.errors(fe)
	if r.PathValue("alert_rule") == "" {
		p, _, perr := u.workflowData(r)
		if perr != nil {
			u.fail(w, r, perr)
			return
		}
		p.AlertForm, p.AlertErrors = post.form, errs
		u.render(w, r, http.StatusUnprocessableEntity, "rules", "Rules", "rules", p)
		return
	}
	p, perr := u.alertRuleData(r)
	if perr != nil {
		u.fail(w, r, perr)
		return
	}
	p.Form, p.Errors = post.form, errs
	u.render(w, r, http.StatusUnprocessableEntity, "alert-rule", p.Rule.Name, "rules", p)
}

func (u *UI) alertRuleData(r *http.Request) (alertRulePage, error) {
	x, err := u.Rules.GetAlertRule(r.Context(), r.PathValue("alert_rule"))
	if err != nil {
		return alertRulePage{}, err
	}
	services, sevs, err := u.alertRuleChoices(r)
	if err != nil {
		return alertRulePage{}, err
	}
	v := alertRuleViewOf(x, choiceNames(services))
	return alertRulePage{Rule: &v, Form: alertRuleForm(x), Services: services, Severities: sevs}, nil
}

// choiceNames maps the values of choices to their labels.
func choiceNames(cs []choice) map[string]string {
	out := make(map[string]string, len(cs))
	for _, c := range cs {
		out[c.Value] = c.Label
	}
	return out
}

func (u *UI) alertRuleShow(w http.ResponseWriter, r *http.Request) {
	p, err := u.alertRuleData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "alert-rule", p.Rule.Name, "rules", p)
}

func (u *UI) alertRuleCreate(w http.ResponseWriter, r *http.Request) {
	post := readAlertRule(r)
	x, err := u.Rules.CreateAlertRule(r.Context(), post.in)
	if err != nil {
		u.alertRuleFailed(w, r, err, post)
		return
	}
	redirect(w, r, "/alert-rules/"+url.PathEscape(x.ID)+"?msg=alert_rule_created")
}

func (u *UI) alertRuleUpdate(w http.ResponseWriter, r *http.Request) {
	post := readAlertRule(r)
	x, err := u.Rules.UpdateAlertRule(r.Context(), r.PathValue("alert_rule"), post.in)
	if err != nil {
		u.alertRuleFailed(w, r, err, post)
		return
	}
	redirect(w, r, "/alert-rules/"+url.PathEscape(x.ID)+"?msg=alert_rule_saved")
}

// alertRuleEnable turns a rule on or off, as its one field says, leaving
// the rest of it as it is.
func (u *UI) alertRuleEnable(w http.ResponseWriter, r *http.Request) {
	x, err := u.Rules.GetAlertRule(r.Context(), r.PathValue("alert_rule"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	on := r.PostFormValue("enabled") == "on"
	if _, err := u.Rules.UpdateAlertRule(r.Context(), x.ID, rules.AlertRuleInput{Name: x.Name, Description: x.Description,
		Expression: x.Expression, Actions: x.Actions, Enabled: on}); err != nil {
		u.fail(w, r, err)
		return
	}
	msg := "alert_rule_disabled"
	if on {
		msg = "alert_rule_enabled"
	}
	redirect(w, r, "/alert-rules/"+url.PathEscape(x.ID)+"?msg="+msg)
}

func (u *UI) alertRuleDelete(w http.ResponseWriter, r *http.Request) {
	if err := u.Rules.DeleteAlertRule(r.Context(), r.PathValue("alert_rule")); err != nil {
		u.fail(w, r, err)
		return
	}
	redirect(w, r, "/rules?msg=alert_rule_deleted#alert-rules-h")
}

// alertDryRunView is what an alert rule's "Try it" found, said in words.
type alertDryRunView struct {
	Text     string
	Notes    []string
	Examples []alertExample
}

// alertExample is an alert a dry run matched, as the page shows it.
type alertExample struct {
	ID, Summary, Service, Severity, Incident string
	At                                       time.Time
}

func alertDryRunOf(res rules.AlertDryRun) *alertDryRunView {
	v := &alertDryRunView{Text: fmt.Sprintf("It would have matched %d of the last %d alerts, in the last %d days.",
		res.Matched, res.Checked, rules.DryRunDays)}
	if res.Checked == 0 {
		v.Text = fmt.Sprintf("There were no alerts in the last %d days to try it on.", rules.DryRunDays)
	}
	if res.Capped {
		v.Notes = append(v.Notes, fmt.Sprintf("There were %d alerts; only the newest %d were checked.", res.Total, res.Checked))
	}
	if res.PHIHidden {
		v.Notes = append(v.Notes, "Your role may not see what alerts say, so the expression saw no summary, source, component, "+
			"group or class: it matches only by service, integration, kind and severity here.")
	}
	for _, a := range res.Examples {
		v.Examples = append(v.Examples, alertExample{ID: a.ID, Summary: a.Summary, Service: a.ServiceName,
			Severity: labels.Of(string(a.Severity)), Incident: a.IncidentNumber, At: a.FirstAt})
	}
	return v
}

// alertRuleTry runs the expression of the alert rule form over recent
// alerts, changing nothing, and shows the form again, as typed, with what
// it found: on the rules page for a new rule, on the rule's page for an
// edit.
func (u *UI) alertRuleTry(w http.ResponseWriter, r *http.Request) {
	post := readAlertRule(r)
	res, err := u.Rules.DryRunAlertRule(r.Context(), u.Alerts, post.in.Expression)
	if err != nil {
		u.alertRuleFailed(w, r, err, post)
		return
	}
	if r.PathValue("alert_rule") == "" {
		p, _, err := u.workflowData(r)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		p.AlertForm, p.AlertTry = post.form, alertDryRunOf(res)
		u.render(w, r, http.StatusOK, "rules", "Rules", "rules", p)
		return
	}
	p, err := u.alertRuleData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p.Form, p.Try = post.form, alertDryRunOf(res)
	u.render(w, r, http.StatusOK, "alert-rule", p.Rule.Name, "rules", p)
}
