package ui

import (
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/evidence"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/paging"
	"github.com/wardhq/ward/internal/playbook"
	"github.com/wardhq/ward/internal/retention"
)

// statusStrings, severityStrings and categoryStrings feed the form controls.
var (
	statusStrings   = strs(incident.Statuses)
	severityStrings = strs(incident.Severities)
	categoryStrings = strs(incident.Categories)
	resolutionStrs  = strs(incident.Resolutions)
)

func strs[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

type dashboardPage struct {
	// Cases are the breach cases the viewer may see that owe a notice,
	// overdue first, then by their next deadline: a Privacy Officer's
	// work, at the top of their home page.
	Cases      []caseDeadline
	BySeverity []countRow
	ByPhase    []countRow
	Open       []incident.Incident
	Now        time.Time
	// Total counts every open incident the viewer may see; Open holds
	// the most urgent of them.
	Total int
	// Alarms are the paging alarms of Open, by incident id.
	Alarms map[string]paging.Alarm
	// Drills counts the open drills, which Total and Open leave out.
	Drills int
}

type countRow struct {
	Name  string
	Count int
}

// dashboardLimit is how many of the most urgent open incidents the home
// page lists; its counts cover them all.
const dashboardLimit = 50

func (u *UI) dashboard(w http.ResponseWriter, r *http.Request) {
	open, err := u.Incidents.Open(r.Context(), dashboardLimit)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p := dashboardPage{Open: open.Urgent, Now: u.Clock.Now(), Total: open.Total, Drills: open.Drills}
	ids := make([]string, len(open.Urgent))
	for i, inc := range open.Urgent {
		ids[i] = inc.ID
	}
	if p.Alarms, err = u.Pager.Alarms(r.Context(), ids); err != nil {
		u.fail(w, r, err)
		return
	}
	obs, err := u.Breach.Board(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p.Cases = caseDeadlines(obs, p.Now)
	for _, sev := range incident.Severities {
		p.BySeverity = append(p.BySeverity, countRow{string(sev), open.BySeverity[sev]})
	}
	for _, st := range incident.Statuses[:len(incident.Statuses)-1] {
		p.ByPhase = append(p.ByPhase, countRow{string(st), open.ByStatus[st]})
	}
	u.render(w, r, http.StatusOK, "dashboard", "Open incidents", "dashboard", p)
}

type listPage struct {
	Items      []incident.Incident
	Query      url.Values
	NextCursor template.URL
	Statuses   []string
	Severities []string
	Categories []string
	Errors     map[string]string
}

func (u *UI) incidentList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := incident.Filter{
		Status: incident.Status(q.Get("status")), Severity: incident.Severity(q.Get("severity")),
		Category: incident.Category(q.Get("category")), Text: q.Get("q"), Limit: 50, OmitPHI: true,
	}
	switch q.Get("phi") {
	case "yes", "no":
		v := q.Get("phi") == "yes"
		f.PHISuspected = &v
	}
	// Drills are left out unless asked for (drill=all or drill=yes): the
	// list is first of all the real incidents (docs/DRILLS.md).
	switch q.Get("drill") {
	case "all":
	case "yes":
		v := true
		f.Drill = &v
	default:
		v := false
		f.Drill = &v
	}
	p := listPage{Query: q, Statuses: statusStrings, Severities: severityStrings, Categories: categoryStrings}
	if c := q.Get("cursor"); c != "" {
		cur, err := incident.DecodeCursor(c)
		if err != nil {
			p.Errors = map[string]string{"cursor": "this page link is no longer valid"}
		}
		f.After = cur
	}
	page, err := u.Incidents.List(r.Context(), f)
	if err != nil {
		fe, ok := fieldErrors(err)
		if !ok {
			u.fail(w, r, err)
			return
		}
		p.Errors = fe
		u.render(w, r, http.StatusUnprocessableEntity, "incidents", "Incidents", "incidents", p)
		return
	}
	p.Items = page.Items
	if page.Next != nil {
		p.NextCursor = nextPageLink("/incidents", q, "cursor", incident.EncodeCursor(page.Next))
	}
	u.render(w, r, http.StatusOK, "incidents", "Incidents", "incidents", p)
}

// formPage is the create and edit form.
type formPage struct {
	Incident   incident.Incident
	Form       map[string]string
	Errors     map[string]string
	Severities []string
	Categories []string
	Edit       bool
	// CanRestrict shows the restricted control: to the incident's creator
	// (anyone recording one) and to roles with incident:restricted.
	CanRestrict bool
}

// canRestrict reports whether the viewer may change inc's restricted flag
// (the service enforces it).
func canRestrict(r *http.Request, inc incident.Incident) bool {
	a, _ := authz.ActorFrom(r.Context())
	return authz.Has(a.Role, authz.IncidentRestricted) || inc.CreatedBy == a.String()
}

func (u *UI) incidentNew(w http.ResponseWriter, r *http.Request) {
	u.render(w, r, http.StatusOK, "incident_form", "Record an incident", "new", formPage{
		Form: map[string]string{"severity": "sev3", "category": "not_yet_known"}, Severities: severityStrings,
		Categories: categoryStrings, CanRestrict: true,
	})
}

// formTime parses a datetime-local control's value, which the browser sends
// in the viewer's local time without a zone; the form says it is UTC.
func formTime(field, v string) (*time.Time, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	t, err := time.Parse("2006-01-02T15:04", v)
	if err != nil {
		return nil, apperr.Field(field, "is not a date and time")
	}
	return &t, nil
}

func formValues(r *http.Request, names ...string) map[string]string {
	out := map[string]string{}
	for _, n := range names {
		out[n] = r.PostFormValue(n)
	}
	return out
}

func customers(v string) []string {
	out := []string{}
	for _, c := range strings.Split(v, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out = append(out, c)
		}
	}
	return out
}

var incidentFields = []string{"title", "description", "severity", "category", "phi_suspected", "occurred_at", "detected_at",
	"commander", "customers", "restricted", "restricted_shown"}

func (u *UI) incidentCreate(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, incidentFields...)
	page := formPage{Form: form, Severities: severityStrings, Categories: categoryStrings, CanRestrict: true}
	in := incident.CreateInput{
		Title: form["title"], Description: form["description"], Severity: incident.Severity(form["severity"]),
		Category: incident.Category(form["category"]), PHISuspected: form["phi_suspected"] == "on",
		Commander: form["commander"], Customers: customers(form["customers"]), Restricted: form["restricted"] == "on",
	}
	var err error
	if in.OccurredAt, err = formTime("occurred_at", form["occurred_at"]); err == nil {
		in.DetectedAt, err = formTime("detected_at", form["detected_at"])
	}
	var inc incident.Incident
	if err == nil {
		inc, err = u.Incidents.Create(r.Context(), in)
	}
	if err != nil {
		if fe, ok := fieldErrors(err); ok {
			page.Errors = fe
			u.render(w, r, http.StatusUnprocessableEntity, "incident_form", "Record an incident", "new", page)
			return
		}
		u.fail(w, r, err)
		return
	}
	redirect(w, r, "/incidents/"+inc.Number+"?msg=created")
}

// phase is one step of the phase bar.
type phase struct {
	Name  string
	State string // done, current, na, future
}

type showPage struct {
	Incident incident.Incident
	Phases   []phase
	Timeline []incident.Event
	Tasks    []incident.Task
	// TaskNumbers number the tasks as the list shows them, by id, so the
	// timeline names a task by its place in the list, never its id.
	TaskNumbers map[string]int
	Alerts      []alert.Alert
	// Changes are what deploy and configuration tools reported on the
	// incident's services shortly before it was detected, and since.
	Changes  []alert.Change
	Members  []incident.Member
	Grants   []incident.Grant  // for roles with incident:restricted
	Services map[string]string // service id to name, for the alerts
	Paging   *pagingView       // nil when the incident was never paged
	Stake    *stakeView
	Breach   *breachSummary // nil when the incident has no breach case
	// LastPaging is the newest paging entry of the timeline: who was
	// paged, and who was not reached and why.
	LastPaging string
	// Triage is the classification Ward asked for (an alert of a service
	// that handles PHI), nil when it asked none.
	Triage *incident.Triage
	// Evidence is the incident's evidence, nil for roles that may not see
	// it.
	Evidence []evidence.Item
	Review   reviewView
	// Applied are the playbooks applied to the incident; Playbooks those
	// that may still be.
	Applied     []appliedView
	Playbooks   []playbook.Playbook
	Holds       []retention.Hold // newest first, released ones included
	HoldOn      *retention.Hold  // the incident's hold in force
	CaseHoldOn  *retention.Hold  // its breach case's hold in force
	Next        []string
	Resolutions []string
	Skippable   []string
	Errors      map[string]string
	Form        map[string]string
}

func phases(inc incident.Incident) []phase {
	out := make([]phase, 0, len(incident.Statuses))
	reached := true
	for _, s := range incident.Statuses {
		p := phase{Name: string(s), State: "future"}
		switch {
		case s == inc.Status:
			p.State, reached = "current", false
		case slices.Contains(inc.NotApplicable, s):
			p.State = "na"
		case reached:
			p.State = "done"
		}
		out = append(out, p)
	}
	return out
}

// incidentAlertsLimit caps the alerts the incident page lists (newest
// first); the alerts page lists the rest.
const incidentAlertsLimit = 50

func (u *UI) showData(r *http.Request, ref string) (showPage, error) {
	inc, err := u.Incidents.Get(r.Context(), ref)
	if err != nil {
		return showPage{}, err
	}
	tl, err := u.Incidents.Timeline(r.Context(), inc.ID, "", 0, 0)
	if err != nil {
		return showPage{}, err
	}
	tasks, err := u.Incidents.Tasks(r.Context(), inc.ID)
	if err != nil {
		return showPage{}, err
	}
	as, err := u.Alerts.Alerts(r.Context(), alert.Filter{Incident: inc.ID, Limit: incidentAlertsLimit})
	if err != nil {
		return showPage{}, err
	}
	var changes []alert.Change
	if len(as) > 0 {
		if changes, err = u.Alerts.IncidentChanges(r.Context(), inc.ID); err != nil {
			return showPage{}, err
		}
	}
	members, err := u.Incidents.Members(r.Context(), inc.ID)
	if err != nil {
		return showPage{}, err
	}
	var grants []incident.Grant
	if a, _ := authz.ActorFrom(r.Context()); authz.Has(a.Role, authz.IncidentRestricted) {
		if grants, err = u.Incidents.Grants(r.Context(), inc.ID); err != nil {
			return showPage{}, err
		}
	}
	var names map[string]string
	if len(as) > 0 {
		svcs, err := u.Alerts.Services(r.Context())
		if err != nil {
			return showPage{}, err
		}
		names = serviceNames(svcs)
	}
	pv, err := u.pagingOf(r, inc.ID)
	if err != nil {
		return showPage{}, err
	}
	sv, err := u.stakeOf(r, inc.ID)
	if err != nil {
		return showPage{}, err
	}
	bv, err := u.breachOf(r, inc.ID)
	if err != nil {
		return showPage{}, err
	}
	tr, err := u.Incidents.TriageOf(r.Context(), inc.ID)
	if err != nil {
		return showPage{}, err
	}
	var holds []retention.Hold
	if u.Retention != nil {
		if holds, err = u.Retention.Holds(r.Context(), inc.ID); err != nil {
			return showPage{}, err
		}
	}
	ev, err := u.evidenceOf(r, inc.ID)
	if err != nil {
		return showPage{}, err
	}
	rv, err := u.reviewOf(r, inc)
	if err != nil {
		return showPage{}, err
	}
	applied, open, err := u.playbooksOf(r, inc.ID)
	if err != nil {
		return showPage{}, err
	}
	rv.offer(tl)
	slices.Reverse(tl) // newest first
	var lastPaging string
	for _, e := range tl {
		if e.Kind == incident.EventPaging {
			lastPaging = e.Note
			break
		}
	}
	p := showPage{Applied: applied, Playbooks: open, Review: rv, Evidence: ev, LastPaging: lastPaging, Triage: tr, Holds: holds, HoldOn: activeHold(holds, retention.ScopeIncident), CaseHoldOn: activeHold(holds, retention.ScopeBreachCase), Paging: pv, Stake: sv, Breach: bv, Incident: inc, Phases: phases(inc), Timeline: tl, Tasks: tasks, Alerts: as, Changes: changes, Members: members, Grants: grants, Services: names,
		Next: strs(incident.NextMoves(inc.Status)), Resolutions: resolutionStrs, TaskNumbers: make(map[string]int, len(tasks))}
	for i, t := range tasks {
		p.TaskNumbers[t.ID] = i + 1
	}
	for _, s := range incident.Statuses {
		if s != incident.Closed && slices.Index(incident.Statuses, s) > slices.Index(incident.Statuses, inc.Status) {
			p.Skippable = append(p.Skippable, string(s))
		}
	}
	return p, nil
}

func (u *UI) incidentShow(w http.ResponseWriter, r *http.Request) {
	p, err := u.showData(r, r.PathValue("id"))
	if apperr.CodeOf(err) == apperr.NotFound {
		// Someone who typed the exact number of a restricted incident they
		// may not see is offered emergency access; anyone else is told
		// only that there is no such incident.
		if hidden, herr := u.Incidents.HiddenRestricted(r.Context(), r.PathValue("id")); herr != nil {
			err = herr
		} else if hidden {
			u.breakGlassPage(w, r, http.StatusForbidden, nil, "")
			return
		}
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	// A template chosen for the update form fills it in.
	if id := r.URL.Query().Get("update_template"); id != "" && p.Stake != nil {
		for _, t := range p.Stake.Templates {
			if t.ID == id {
				p.Form = map[string]string{"update_body": t.Filled, "update_audience": t.Audience, "update_template": t.ID}
			}
		}
	}
	u.render(w, r, http.StatusOK, "incident", p.Incident.Number+" "+p.Incident.Title, "incidents", p)
}

// showWithErrors re-renders the incident page with a form's errors.
func (u *UI) showWithErrors(w http.ResponseWriter, r *http.Request, err error, form map[string]string) {
	fe, ok := fieldErrors(err)
	if e, isApp := apperr.As(err); !ok && isApp && e.Code == apperr.Conflict {
		fe, ok = map[string]string{"_": e.Message}, true
	}
	if !ok {
		u.fail(w, r, err)
		return
	}
	p, gerr := u.showData(r, r.PathValue("id"))
	if gerr != nil {
		u.fail(w, r, gerr)
		return
	}
	p.Errors, p.Form = fe, form
	u.render(w, r, http.StatusUnprocessableEntity, "incident", p.Incident.Number+" "+p.Incident.Title, "incidents", p)
}

func (u *UI) incidentEdit(w http.ResponseWriter, r *http.Request) {
	inc, err := u.Incidents.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	form := map[string]string{
		"title": inc.Title, "description": inc.Description, "severity": string(inc.Severity),
		"category": string(inc.Category), "commander": inc.Commander, "customers": strings.Join(inc.Customers, ", "),
		"occurred_at": dtlocal(inc.OccurredAt), "detected_at": dtlocal(&inc.DetectedAt),
	}
	if inc.PHISuspected {
		form["phi_suspected"] = "on"
	}
	if inc.Restricted {
		form["restricted"] = "on"
	}
	u.render(w, r, http.StatusOK, "incident_form", "Edit "+inc.Number, "incidents", formPage{
		Incident: inc, Form: form, Severities: severityStrings, Categories: categoryStrings, Edit: true,
		CanRestrict: canRestrict(r, inc),
	})
}

func dtlocal(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format("2006-01-02T15:04")
}

func (u *UI) incidentUpdate(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, incidentFields...)
	ref := r.PathValue("id")
	sev, cat, phi := incident.Severity(form["severity"]), incident.Category(form["category"]), form["phi_suspected"] == "on"
	title, desc, cmd, cust := form["title"], form["description"], form["commander"], customers(form["customers"])
	in := incident.UpdateInput{Title: &title, Description: &desc, Severity: &sev, Category: &cat, PHISuspected: &phi,
		Commander: &cmd, Customers: &cust}
	if form["restricted_shown"] == "1" { // the form showed the control
		restricted := form["restricted"] == "on"
		in.Restricted = &restricted
	}
	var err error
	if in.OccurredAt, err = formTime("occurred_at", form["occurred_at"]); err == nil {
		in.DetectedAt, err = formTime("detected_at", form["detected_at"])
	}
	var inc incident.Incident
	if err == nil {
		inc, err = u.Incidents.Update(r.Context(), ref, in)
	}
	if err != nil {
		if fe, ok := fieldErrors(err); ok {
			cur, _ := u.Incidents.Get(r.Context(), ref)
			u.render(w, r, http.StatusUnprocessableEntity, "incident_form", "Edit "+cur.Number, "incidents", formPage{
				Incident: cur, Form: form, Errors: fe, Severities: severityStrings, Categories: categoryStrings, Edit: true,
				CanRestrict: canRestrict(r, cur),
			})
			return
		}
		u.fail(w, r, err)
		return
	}
	redirect(w, r, "/incidents/"+inc.Number+"?msg=saved")
}

func (u *UI) incidentTransition(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		u.fail(w, r, apperr.New(apperr.Invalid, "the form could not be read"))
		return
	}
	var na []incident.Status
	for _, s := range r.PostForm["not_applicable"] {
		na = append(na, incident.Status(s))
	}
	form := formValues(r, "to", "note", "resolution")
	inc, err := u.Incidents.Transition(r.Context(), r.PathValue("id"), incident.Move{
		To: incident.Status(form["to"]), Note: form["note"], Resolution: incident.Resolution(form["resolution"]),
		NotApplicable: na,
	})
	if err != nil {
		u.showWithErrors(w, r, err, form)
		return
	}
	redirect(w, r, "/incidents/"+inc.Number+"?msg=moved")
}

func (u *UI) incidentNote(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "body")
	if _, err := u.Incidents.AddNote(r.Context(), r.PathValue("id"), form["body"]); err != nil {
		u.showWithErrors(w, r, err, form)
		return
	}
	redirect(w, r, "/incidents/"+r.PathValue("id")+"?msg=noted#timeline")
}

// incidentPrivilegedNote adds a note privileged & confidential from the
// start, held by the caller (counsel or the Privacy Officer).
func (u *UI) incidentPrivilegedNote(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "privileged_body")
	if _, err := u.Incidents.AddPrivilegedNote(r.Context(), r.PathValue("id"), form["privileged_body"], ""); err != nil {
		if fe, ok := fieldErrors(err); ok && fe["body"] != "" {
			err = apperr.Field("privileged_body", "%s", fe["body"])
		}
		u.showWithErrors(w, r, err, form)
		return
	}
	redirect(w, r, "/incidents/"+r.PathValue("id")+"?msg=privileged_noted#timeline")
}

// incidentPrivileged marks a note, an evidence item or the review
// privileged (held by the caller), or unmarks it, and goes back to where
// the record is shown.
func (u *UI) incidentPrivileged(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "kind", "object_id", "privileged")
	kind := incident.PrivilegeKind(form["kind"])
	if _, err := u.Incidents.SetPrivileged(r.Context(), r.PathValue("id"), incident.PrivilegeInput{Kind: kind,
		ObjectID: form["object_id"], Privileged: form["privileged"] == "yes"}); err != nil {
		u.fail(w, r, err)
		return
	}
	back := "/incidents/" + r.PathValue("id") + "?msg=privilege"
	switch kind {
	case incident.PrivilegedEvidence:
		back = "/incidents/" + r.PathValue("id") + "/evidence/" + url.PathEscape(form["object_id"]) + "?msg=privilege"
	case incident.PrivilegedReview:
		back += "#review"
	default:
		back += "#timeline"
	}
	redirect(w, r, back)
}

func (u *UI) taskCreate(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "task_title", "owner", "due_at")
	due, err := formTime("due_at", form["due_at"])
	if err == nil {
		_, err = u.Incidents.CreateTask(r.Context(), r.PathValue("id"), incident.TaskInput{
			Title: form["task_title"], Owner: form["owner"], DueAt: due})
	}
	if err != nil {
		if e, ok := apperr.As(err); ok && len(e.Fields) > 0 && e.Fields[0].Field == "title" {
			err = apperr.Field("task_title", "%s", e.Fields[0].Message)
		}
		u.showWithErrors(w, r, err, form)
		return
	}
	redirect(w, r, "/incidents/"+r.PathValue("id")+"?msg=task#tasks")
}

func (u *UI) taskUpdate(w http.ResponseWriter, r *http.Request) {
	done := r.PostFormValue("done") == "true"
	if _, err := u.Incidents.UpdateTask(r.Context(), r.PathValue("id"), r.PathValue("task"), incident.TaskUpdate{Done: &done}); err != nil {
		u.showWithErrors(w, r, err, nil)
		return
	}
	if r.PostFormValue("back") == "mine" {
		redirect(w, r, "/tasks/mine?msg=task")
		return
	}
	redirect(w, r, "/incidents/"+r.PathValue("id")+"?msg=task#tasks")
}

// caseDeadline is a breach case on the home page: its next unmet
// obligation and how many are overdue.
type caseDeadline struct {
	Next    breach.Obligation
	Name    string // the next obligation's recipient, for people
	Days    int    // whole days left, or overdue
	Overdue int    // obligations past due
	Open    int    // obligations not met
}

// caseDeadlines groups the deadline board's obligations (earliest due
// first) by case: cases with an overdue notice first, then by the next
// deadline.
func caseDeadlines(obs []breach.Obligation, now time.Time) []caseDeadline {
	var out []caseDeadline
	at := map[string]int{}
	for _, o := range obs {
		i, ok := at[o.CaseID]
		if !ok {
			i = len(out)
			at[o.CaseID] = i
			out = append(out, caseDeadline{Next: o, Name: breach.Label(o.Obligation),
				Days: int(math.Ceil(math.Abs(o.Due.Sub(now).Hours()) / 24))})
		}
		out[i].Open++
		if o.State == breach.StateOverdue {
			out[i].Overdue++
		}
	}
	slices.SortStableFunc(out, func(a, b caseDeadline) int {
		if (a.Overdue > 0) != (b.Overdue > 0) {
			if a.Overdue > 0 {
				return -1
			}
			return 1
		}
		return a.Next.Due.Compare(b.Next.Due)
	})
	return out
}
