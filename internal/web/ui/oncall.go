package ui

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/oncall"
	"github.com/wardhq/ward/internal/paging"
)

// The escalation-policy and schedule forms repeat a fieldset per step or
// rotation. They show the saved ones and blank ones to add more; blank
// rows are ignored. A hidden "rows" control says how many were shown, so
// that a form re-rendered with errors shows the same rows.
const (
	newPolicyRows   = 3 // step fieldsets on a new policy's form
	newScheduleRows = 2 // rotation fieldsets on a new schedule's form
	maxRotations    = 20
	calendarDays    = 14
	// dtLayout is the value format of a datetime-local control.
	dtLayout = "2006-01-02T15:04"
)

var rotationKinds = []choice{
	{string(oncall.Daily), "Daily: hands off every so many days"},
	{string(oncall.Weekly), "Weekly: hands off every so many weeks"},
	{string(oncall.Hourly), "Hourly: hands off every so many hours"},
}

// userNames maps every user's id to their username, to show the people
// that schedules and policies store by id.
func (u *UI) userNames(ctx context.Context) (map[string]string, error) {
	rows, err := u.DB.R.QueryContext(ctx, `SELECT id, username FROM users`)
	if err != nil {
		return nil, fmt.Errorf("read usernames: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, err
		}
		out[id] = name
	}
	return out, rows.Err()
}

// nameOf is names[id], or id itself when it is not there.
func nameOf(names map[string]string, id string) string {
	if n, ok := names[id]; ok {
		return n
	}
	return id
}

func namesOf(names map[string]string, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = nameOf(names, id)
	}
	return out
}

// splitList splits a comma-separated control into its trimmed, non-empty
// items.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// formInt reads a whole-number control; empty is def.
func formInt(field, v string, def int) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, apperr.Field(field, "%q is not a whole number", v)
	}
	return n, nil
}

// formRows reads the hidden count of repeated fieldsets a form showed.
func formRows(r *http.Request, def, most int) int {
	n, err := strconv.Atoi(r.PostFormValue("rows"))
	if err != nil || n < 1 {
		return def
	}
	return min(n, most)
}

// seq is 0 … n-1, for ranging over repeated fieldsets in a template.
func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// mapIndexed renames an error about element i of a list (steps[1].targets)
// to the control of the form row that element came from.
func mapIndexed(fe map[string]string, re *regexp.Regexp, rows []int, control func(row, i int, m []string) string) map[string]string {
	out := map[string]string{}
	for k, v := range fe {
		if m := re.FindStringSubmatch(k); m != nil {
			i, _ := strconv.Atoi(m[1])
			if i < len(rows) {
				k = control(rows[i], i, m)
			}
		}
		out[k] = v
	}
	return out
}

// formErrors converts err into per-control messages: those named in
// controls stay, any other goes to the top of the form ("_").
func formErrors(fe map[string]string, controls func(string) bool) map[string]string {
	out := map[string]string{}
	for k, v := range fe {
		if k != "_" && !controls(k) {
			k, v = "_", k+": "+v
		}
		if prev, ok := out[k]; ok {
			v = prev + "; " + v
		}
		out[k] = v
	}
	return out
}

// ---- escalation policies ----

type stepView struct {
	DelayMinutes int
	Targets      []string
}

type policyView struct {
	paging.Policy
	Steps []stepView
}

type policiesPage struct {
	Policies []policyView
	Policy   *policyView
	Services []string // on a policy's page: the services it pages for
	// Unreachable are the people its steps name who have no verified
	// contact method (paging.Unreachable).
	Unreachable []string
	Rows        []int
	Form        map[string]string
	Errors      map[string]string
}

func describePolicy(p paging.Policy, users, scheds map[string]string) policyView {
	v := policyView{Policy: p}
	for _, st := range p.Steps {
		sv := stepView{DelayMinutes: st.DelayMinutes}
		for _, t := range st.Targets {
			if t.Type == paging.TargetSchedule {
				sv.Targets = append(sv.Targets, "schedule "+nameOf(scheds, t.ID))
			} else {
				sv.Targets = append(sv.Targets, nameOf(users, t.ID))
			}
		}
		v.Steps = append(v.Steps, sv)
	}
	return v
}

// lookups are the names the paging pages show for ids.
type lookups struct {
	users  map[string]string
	scheds map[string]string
}

func (u *UI) lookups(ctx context.Context) (lookups, error) {
	users, err := u.userNames(ctx)
	if err != nil {
		return lookups{}, err
	}
	ss, err := u.Pager.Schedules(ctx)
	if err != nil {
		return lookups{}, err
	}
	scheds := map[string]string{}
	for _, s := range ss {
		scheds[s.ID] = s.Name
	}
	return lookups{users: users, scheds: scheds}, nil
}

// policyForm fills the policy form from a saved policy.
func policyForm(p paging.Policy, l lookups) map[string]string {
	f := map[string]string{"name": p.Name, "description": p.Description, "repeat": strconv.Itoa(p.Repeat),
		"ack_timeout_minutes": strconv.Itoa(p.AckTimeoutMinutes)}
	for i, st := range p.Steps {
		var users, scheds []string
		for _, t := range st.Targets {
			if t.Type == paging.TargetSchedule {
				scheds = append(scheds, nameOf(l.scheds, t.ID))
			} else {
				users = append(users, nameOf(l.users, t.ID))
			}
		}
		f[fmt.Sprintf("step%d_delay", i)] = strconv.Itoa(st.DelayMinutes)
		f[fmt.Sprintf("step%d_users", i)] = strings.Join(users, ", ")
		f[fmt.Sprintf("step%d_schedules", i)] = strings.Join(scheds, ", ")
	}
	return f
}

// policyPost is a submitted policy form.
type policyPost struct {
	form  map[string]string
	nrows int
	in    paging.PolicyInput
	rows  []int // the form row of each step of in
	users []int // how many of each step's targets are users (they come first)
}

func readPolicy(r *http.Request) (policyPost, error) {
	p := policyPost{form: formValues(r, "name", "description", "repeat", "ack_timeout_minutes"),
		nrows: formRows(r, newPolicyRows, paging.MaxSteps)}
	var err error
	if p.in.Repeat, err = formInt("repeat", p.form["repeat"], 0); err != nil {
		return p, err
	}
	if p.in.AckTimeoutMinutes, err = formInt("ack_timeout_minutes", p.form["ack_timeout_minutes"], 0); err != nil {
		return p, err
	}
	p.in.Name, p.in.Description = p.form["name"], p.form["description"]
	for i := range p.nrows {
		d, us, ss := fmt.Sprintf("step%d_delay", i), fmt.Sprintf("step%d_users", i), fmt.Sprintf("step%d_schedules", i)
		for _, k := range []string{d, us, ss} {
			p.form[k] = r.PostFormValue(k)
		}
		if strings.TrimSpace(p.form[d]+p.form[us]+p.form[ss]) == "" {
			continue
		}
		delay, err := formInt(d, p.form[d], 0)
		if err != nil {
			return p, err
		}
		st := paging.Step{DelayMinutes: delay}
		users := splitList(p.form[us])
		for _, name := range users {
			st.Targets = append(st.Targets, paging.Target{Type: paging.TargetUser, ID: name})
		}
		for _, name := range splitList(p.form[ss]) {
			st.Targets = append(st.Targets, paging.Target{Type: paging.TargetSchedule, ID: name})
		}
		p.in.Steps = append(p.in.Steps, st)
		p.rows, p.users = append(p.rows, i), append(p.users, len(users))
	}
	return p, nil
}

var (
	stepErrRe    = regexp.MustCompile(`^steps\[(\d+)\]\.(delay_minutes|targets)(?:\[(\d+)\])?`)
	policyFields = []string{"name", "description", "repeat", "ack_timeout_minutes", "steps"}
	stepControl  = regexp.MustCompile(`^step\d+_(delay|users|schedules|targets)$`)
)

// errors places a policy error beside its control.
func (p policyPost) errors(fe map[string]string) map[string]string {
	fe = mapIndexed(fe, stepErrRe, p.rows, func(row, i int, m []string) string {
		switch {
		case m[2] == "delay_minutes":
			return fmt.Sprintf("step%d_delay", row)
		case m[3] == "":
			return fmt.Sprintf("step%d_targets", row)
		}
		if j, _ := strconv.Atoi(m[3]); j >= p.users[i] {
			return fmt.Sprintf("step%d_schedules", row)
		}
		return fmt.Sprintf("step%d_users", row)
	})
	return formErrors(fe, func(k string) bool { return slices.Contains(policyFields, k) || stepControl.MatchString(k) })
}

func (u *UI) policiesData(r *http.Request) (policiesPage, lookups, error) {
	l, err := u.lookups(r.Context())
	if err != nil {
		return policiesPage{}, l, err
	}
	ps, err := u.Pager.Policies(r.Context())
	if err != nil {
		return policiesPage{}, l, err
	}
	p := policiesPage{Rows: seq(newPolicyRows), Form: map[string]string{"repeat": "0", "ack_timeout_minutes": "0"}}
	for _, pol := range ps {
		p.Policies = append(p.Policies, describePolicy(pol, l.users, l.scheds))
	}
	return p, l, nil
}

func (u *UI) policyList(w http.ResponseWriter, r *http.Request) {
	p, _, err := u.policiesData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "policies", "Escalation policies", "escalation", p)
}

// policyFailed re-renders a policy form with its errors, or fails.
func (u *UI) policyFailed(w http.ResponseWriter, r *http.Request, err error, post policyPost, p policiesPage, page, title string) {
	fe, ok := fieldErrors(err)
	if !ok {
		u.fail(w, r, err)
		return
	}
	p.Form, p.Rows, p.Errors = post.form, seq(post.nrows), post.errors(fe)
	u.render(w, r, http.StatusUnprocessableEntity, page, title, "escalation", p)
}

func (u *UI) policyCreate(w http.ResponseWriter, r *http.Request) {
	post, err := readPolicy(r)
	var pol paging.Policy
	if err == nil {
		pol, err = u.Pager.CreatePolicy(r.Context(), post.in)
	}
	if err != nil {
		p, _, perr := u.policiesData(r)
		if perr != nil {
			u.fail(w, r, perr)
			return
		}
		u.policyFailed(w, r, err, post, p, "policies", "Escalation policies")
		return
	}
	redirect(w, r, "/escalation-policies/"+url.PathEscape(pol.ID)+"?msg=policy_created")
}

func (u *UI) policyData(r *http.Request) (policiesPage, error) {
	ctx := r.Context()
	pol, err := u.Pager.GetPolicy(ctx, r.PathValue("policy"))
	if err != nil {
		return policiesPage{}, err
	}
	l, err := u.lookups(ctx)
	if err != nil {
		return policiesPage{}, err
	}
	svcs, err := u.Alerts.Services(ctx)
	if err != nil {
		return policiesPage{}, err
	}
	v := describePolicy(pol, l.users, l.scheds)
	p := policiesPage{Policy: &v, Form: policyForm(pol, l), Rows: seq(min(len(pol.Steps)+1, paging.MaxSteps))}
	if p.Unreachable, err = u.Pager.Unreachable(ctx, paging.PolicyUsers(pol)); err != nil {
		return policiesPage{}, err
	}
	for _, s := range svcs {
		if s.EscalationPolicyID == pol.ID {
			p.Services = append(p.Services, s.Name)
		}
	}
	return p, nil
}

func (u *UI) policyShow(w http.ResponseWriter, r *http.Request) {
	p, err := u.policyData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "policy", p.Policy.Name, "escalation", p)
}

func (u *UI) policyUpdate(w http.ResponseWriter, r *http.Request) {
	post, err := readPolicy(r)
	var pol paging.Policy
	if err == nil {
		pol, err = u.Pager.UpdatePolicy(r.Context(), r.PathValue("policy"), post.in)
	}
	if err != nil {
		p, perr := u.policyData(r)
		if perr != nil {
			u.fail(w, r, perr)
			return
		}
		u.policyFailed(w, r, err, post, p, "policy", p.Policy.Name)
		return
	}
	redirect(w, r, "/escalation-policies/"+url.PathEscape(pol.ID)+"?msg=policy_saved")
}

// ---- schedules ----

type rotationView struct {
	paging.RotationSpec
	People   []string
	Restrict string
}

type scheduleView struct {
	paging.Schedule
	Rotations []rotationView
	OnCall    []string
}

type overrideView struct {
	paging.Override
	User, Replaces string
}

type schedulesPage struct {
	Schedules []scheduleView
	Schedule  *scheduleView
	Overrides []overrideView
	// Unreachable are the people its rotations name who have no verified
	// contact method (paging.Unreachable).
	Unreachable []string
	Kinds       []choice
	Rows        []int
	Form        map[string]string
	Errors      map[string]string
}

// restrictText writes restriction windows as the form shows them:
// "mon,tue 09:00-17:00; sat 10:00-14:00".
func restrictText(ws []paging.WindowSpec) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.Start + "-" + w.End
		if len(w.Days) > 0 {
			parts[i] = strings.Join(w.Days, ",") + " " + parts[i]
		}
	}
	return strings.Join(parts, "; ")
}

// parseRestrict reads restrictText's format back.
func parseRestrict(field, v string) ([]paging.WindowSpec, error) {
	var out []paging.WindowSpec
	for _, part := range strings.Split(v, ";") {
		fs := strings.Fields(part)
		if len(fs) == 0 {
			continue
		}
		var w paging.WindowSpec
		hours := fs[len(fs)-1]
		switch len(fs) {
		case 1:
		case 2:
			w.Days = splitList(strings.ToLower(fs[0]))
		default:
			return nil, apperr.Field(field, "%q is not like \"mon,tue 09:00-17:00\"", strings.TrimSpace(part))
		}
		var ok bool
		if w.Start, w.End, ok = strings.Cut(hours, "-"); !ok {
			return nil, apperr.Field(field, "%q is not like \"mon,tue 09:00-17:00\"", strings.TrimSpace(part))
		}
		out = append(out, w)
	}
	return out, nil
}

func describeSchedule(s paging.Schedule, users map[string]string) scheduleView {
	v := scheduleView{Schedule: s}
	for _, r := range s.Rotations {
		v.Rotations = append(v.Rotations, rotationView{RotationSpec: r, People: namesOf(users, r.Participants), Restrict: restrictText(r.Restrict)})
	}
	return v
}

// zone is the schedule's zone, or UTC for one that does not load.
func zone(name string) *time.Location {
	if loc, err := time.LoadLocation(name); err == nil && name != "" {
		return loc
	}
	return time.UTC
}

func scheduleForm(s paging.Schedule, users map[string]string) map[string]string {
	loc := zone(s.TimeZone)
	f := map[string]string{"name": s.Name, "description": s.Description, "time_zone": s.TimeZone}
	for i, r := range s.Rotations {
		p := fmt.Sprintf("rot%d_", i)
		f[p+"name"], f[p+"kind"], f[p+"length"] = r.Name, r.Kind, strconv.Itoa(r.ShiftLength)
		f[p+"start"] = r.Start.In(loc).Format(dtLayout)
		if r.End != nil {
			f[p+"end"] = r.End.In(loc).Format(dtLayout)
		}
		f[p+"participants"] = strings.Join(namesOf(users, r.Participants), ", ")
		f[p+"restrict"] = restrictText(r.Restrict)
	}
	return f
}

// zonedTime reads a datetime-local control as a time in loc.
func zonedTime(field, v string, loc *time.Location) (*time.Time, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	t, err := time.ParseInLocation(dtLayout, v, loc)
	if err != nil {
		return nil, apperr.Field(field, "is not a date and time")
	}
	return &t, nil
}

var rotationControls = []string{"name", "kind", "length", "start", "end", "participants", "restrict"}

type schedulePost struct {
	form  map[string]string
	nrows int
	in    paging.ScheduleInput
	rows  []int
}

func readSchedule(r *http.Request) (schedulePost, error) {
	p := schedulePost{form: formValues(r, "name", "description", "time_zone"), nrows: formRows(r, newScheduleRows, maxRotations)}
	p.in.Name, p.in.Description, p.in.TimeZone = p.form["name"], p.form["description"], strings.TrimSpace(p.form["time_zone"])
	loc := zone(p.in.TimeZone)
	var firstErr error
	for i := range p.nrows {
		pre := fmt.Sprintf("rot%d_", i)
		blank := true
		for _, c := range rotationControls {
			p.form[pre+c] = r.PostFormValue(pre + c)
			if c != "kind" && strings.TrimSpace(p.form[pre+c]) != "" {
				blank = false
			}
		}
		if blank || firstErr != nil {
			continue
		}
		rot := paging.RotationSpec{Name: strings.TrimSpace(p.form[pre+"name"]), Kind: p.form[pre+"kind"],
			Participants: splitList(p.form[pre+"participants"])}
		var err error
		if rot.ShiftLength, err = formInt(pre+"length", p.form[pre+"length"], 0); err != nil {
			firstErr = err
			continue
		}
		start, err := zonedTime(pre+"start", p.form[pre+"start"], loc)
		if err != nil {
			firstErr = err
			continue
		}
		if start != nil {
			rot.Start = *start
		}
		if rot.End, err = zonedTime(pre+"end", p.form[pre+"end"], loc); err != nil {
			firstErr = err
			continue
		}
		if rot.Restrict, err = parseRestrict(pre+"restrict", p.form[pre+"restrict"]); err != nil {
			firstErr = err
			continue
		}
		p.in.Rotations = append(p.in.Rotations, rot)
		p.rows = append(p.rows, i)
	}
	return p, firstErr
}

var (
	rotErrRe        = regexp.MustCompile(`^rotations\[(\d+)\]\.(name|kind|shift_length|start|end|participants|restrict)`)
	scheduleFields  = []string{"name", "description", "time_zone", "rotations"}
	rotationControl = regexp.MustCompile(`^rot\d+_(name|kind|length|start|end|participants|restrict)$`)
)

func (p schedulePost) errors(fe map[string]string) map[string]string {
	fe = mapIndexed(fe, rotErrRe, p.rows, func(row, _ int, m []string) string {
		c := m[2]
		if c == "shift_length" {
			c = "length"
		}
		return fmt.Sprintf("rot%d_%s", row, c)
	})
	return formErrors(fe, func(k string) bool { return slices.Contains(scheduleFields, k) || rotationControl.MatchString(k) })
}

func (u *UI) schedulesData(r *http.Request) (schedulesPage, error) {
	ctx := r.Context()
	users, err := u.userNames(ctx)
	if err != nil {
		return schedulesPage{}, err
	}
	ss, err := u.Pager.Schedules(ctx)
	if err != nil {
		return schedulesPage{}, err
	}
	now := u.Clock.Now()
	p := schedulesPage{Kinds: rotationKinds, Rows: seq(newScheduleRows), Form: map[string]string{"time_zone": "UTC"}}
	for _, s := range ss {
		v := describeSchedule(s, users)
		on, err := u.Pager.OnCall(ctx, s.ID, now)
		if err != nil {
			return schedulesPage{}, err
		}
		v.OnCall = namesOf(users, on)
		p.Schedules = append(p.Schedules, v)
	}
	return p, nil
}

func (u *UI) scheduleList(w http.ResponseWriter, r *http.Request) {
	p, err := u.schedulesData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "schedules", "On-call schedules", "oncall", p)
}

func (u *UI) scheduleCreate(w http.ResponseWriter, r *http.Request) {
	post, err := readSchedule(r)
	var s paging.Schedule
	if err == nil {
		s, err = u.Pager.CreateSchedule(r.Context(), post.in)
	}
	if err != nil {
		fe, ok := fieldErrors(err)
		if !ok {
			u.fail(w, r, err)
			return
		}
		p, perr := u.schedulesData(r)
		if perr != nil {
			u.fail(w, r, perr)
			return
		}
		p.Form, p.Rows, p.Errors = post.form, seq(post.nrows), post.errors(fe)
		u.render(w, r, http.StatusUnprocessableEntity, "schedules", "On-call schedules", "oncall", p)
		return
	}
	redirect(w, r, "/schedules/"+url.PathEscape(s.ID)+"?msg=schedule_created")
}

// overrideWindow is how far ahead the schedule page lists overrides.
const overrideWindow = paging.MaxOverride + 366*24*time.Hour

func (u *UI) scheduleData(r *http.Request) (schedulesPage, error) {
	ctx := r.Context()
	s, err := u.Pager.GetSchedule(ctx, r.PathValue("schedule"))
	if err != nil {
		return schedulesPage{}, err
	}
	users, err := u.userNames(ctx)
	if err != nil {
		return schedulesPage{}, err
	}
	now := u.Clock.Now()
	v := describeSchedule(s, users)
	on, err := u.Pager.OnCall(ctx, s.ID, now)
	if err != nil {
		return schedulesPage{}, err
	}
	v.OnCall = namesOf(users, on)
	ovs, err := u.Pager.Overrides(ctx, s.ID, now, now.Add(overrideWindow))
	if err != nil {
		return schedulesPage{}, err
	}
	p := schedulesPage{Schedule: &v, Kinds: rotationKinds, Form: scheduleForm(s, users),
		Rows: seq(min(len(s.Rotations)+1, maxRotations))}
	if p.Unreachable, err = u.Pager.Unreachable(ctx, paging.ScheduleUsers(s)); err != nil {
		return schedulesPage{}, err
	}
	for _, o := range ovs {
		ov := overrideView{Override: o, User: nameOf(users, o.User)}
		if o.Replaces != "" {
			ov.Replaces = nameOf(users, o.Replaces)
		}
		p.Overrides = append(p.Overrides, ov)
	}
	return p, nil
}

func (u *UI) scheduleShow(w http.ResponseWriter, r *http.Request) {
	p, err := u.scheduleData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "schedule", p.Schedule.Name, "oncall", p)
}

// scheduleWithErrors re-renders the schedule page with one form's values
// and errors; the other form keeps the schedule's own values.
func (u *UI) scheduleWithErrors(w http.ResponseWriter, r *http.Request, fe, form map[string]string, nrows int) {
	p, err := u.scheduleData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	for k, v := range form {
		p.Form[k] = v
	}
	if nrows > 0 {
		p.Rows = seq(nrows)
	}
	p.Errors = fe
	u.render(w, r, http.StatusUnprocessableEntity, "schedule", p.Schedule.Name, "oncall", p)
}

func (u *UI) scheduleUpdate(w http.ResponseWriter, r *http.Request) {
	post, err := readSchedule(r)
	var s paging.Schedule
	if err == nil {
		s, err = u.Pager.UpdateSchedule(r.Context(), r.PathValue("schedule"), post.in)
	}
	if err != nil {
		fe, ok := fieldErrors(err)
		if !ok {
			u.fail(w, r, err)
			return
		}
		u.scheduleWithErrors(w, r, post.errors(fe), post.form, post.nrows)
		return
	}
	redirect(w, r, "/schedules/"+url.PathEscape(s.ID)+"?msg=schedule_saved")
}

// overrideControls maps the fields paging names to the override form's
// controls.
var overrideControls = map[string]string{"user": "ov_user", "replaces": "ov_replaces", "start": "ov_start", "end": "ov_end"}

func (u *UI) overrideCreate(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("schedule")
	form := formValues(r, "ov_user", "ov_replaces", "ov_start", "ov_end")
	s, err := u.Pager.GetSchedule(r.Context(), ref)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	loc := zone(s.TimeZone)
	in := paging.Override{User: strings.TrimSpace(form["ov_user"]), Replaces: strings.TrimSpace(form["ov_replaces"])}
	start, err := zonedTime("ov_start", form["ov_start"], loc)
	var end *time.Time
	if err == nil {
		end, err = zonedTime("ov_end", form["ov_end"], loc)
	}
	if err == nil && end == nil {
		err = apperr.Field("ov_end", "is required")
	}
	if err == nil {
		if start != nil {
			in.Start = *start
		}
		in.End = *end
		_, err = u.Pager.CreateOverride(r.Context(), s.ID, in)
	}
	if err != nil {
		fe, ok := fieldErrors(err)
		if !ok {
			u.fail(w, r, err)
			return
		}
		out := map[string]string{}
		for k, v := range fe {
			switch c, ok := overrideControls[k]; {
			case ok:
				k = c
			case k == "_":
				k = "ov"
			case !strings.HasPrefix(k, "ov_"):
				k, v = "ov", k+": "+v
			}
			out[k] = v
		}
		u.scheduleWithErrors(w, r, out, form, 0)
		return
	}
	redirect(w, r, "/schedules/"+url.PathEscape(s.ID)+"?msg=override_created#overrides")
}

func (u *UI) overrideDelete(w http.ResponseWriter, r *http.Request) {
	if err := u.Pager.DeleteOverride(r.Context(), r.PathValue("override")); err != nil {
		u.fail(w, r, err)
		return
	}
	redirect(w, r, "/schedules/"+url.PathEscape(r.PathValue("schedule"))+"?msg=override_deleted#overrides")
}

// ---- calendar ----

// calShift is one shift's part within a calendar day, in the schedule's
// zone.
type calShift struct {
	User     string
	From, To string
	Rotation string
	Override bool
	Now      bool
}

type calDay struct {
	Date   time.Time
	Today  bool
	Shifts []calShift
}

type calendarPage struct {
	Schedule   paging.Schedule
	Days       []calDay
	Prev, Next string
	Today      string
}

// calendar shows two weeks of a schedule's resolved shifts, one row per
// day, in the schedule's own time zone.
func (u *UI) calendar(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	s, err := u.Pager.GetSchedule(ctx, r.PathValue("schedule"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	loc := zone(s.TimeZone)
	now := u.Clock.Now()
	today := now.In(loc)
	today = time.Date(today.Year(), today.Month(), today.Day(), 0, 0, 0, 0, loc)
	from := today
	if v := r.URL.Query().Get("from"); v != "" {
		if from, err = time.ParseInLocation("2006-01-02", v, loc); err != nil {
			u.fail(w, r, apperr.Field("from", "%q is not a date like 2026-01-31", v))
			return
		}
	}
	to := from.AddDate(0, 0, calendarDays)
	shifts, err := u.Pager.Shifts(ctx, s.ID, from, to)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	users, err := u.userNames(ctx)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p := calendarPage{Schedule: s, Today: today.Format("2006-01-02"),
		Prev: from.AddDate(0, 0, -calendarDays).Format("2006-01-02"), Next: to.Format("2006-01-02")}
	for d := from; d.Before(to); d = d.AddDate(0, 0, 1) {
		next := d.AddDate(0, 0, 1)
		day := calDay{Date: d, Today: d.Equal(today)}
		for _, sh := range shifts {
			if !sh.Start.Before(next) || !sh.End.After(d) {
				continue
			}
			// Now marks the shift on call now, on the day that holds now.
			cs := calShift{User: nameOf(users, sh.User), From: "00:00", To: "24:00", Rotation: sh.Rotation, Override: sh.Override,
				Now: !now.Before(sh.Start) && now.Before(sh.End) && !now.Before(d) && now.Before(next)}
			if sh.Start.After(d) {
				cs.From = sh.Start.In(loc).Format("15:04")
			}
			if sh.End.Before(next) {
				cs.To = sh.End.In(loc).Format("15:04")
			}
			day.Shifts = append(day.Shifts, cs)
		}
		p.Days = append(p.Days, day)
	}
	u.render(w, r, http.StatusOK, "calendar", s.Name+": calendar", "oncall", p)
}
