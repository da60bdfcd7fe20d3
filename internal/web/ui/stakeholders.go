package ui

import (
	"context"
	"time"

	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/stakeholder"
)

// ---- stakeholder groups ----

var phiChoices = []choice{
	{"", "Any: with or without PHI suspected"},
	{"yes", "Yes: only incidents with PHI suspected"},
	{"no", "No: only incidents without PHI suspected"},
}

// groupView is a stakeholder group as the pages show it.
type groupView struct {
	stakeholder.Group
	// Summary says which incidents the rule subscribes the group to, or
	// "by hand".
	Summary string
	People  []string // the members' usernames
}

type groupsPage struct {
	Groups []groupView
	Group  *groupView // on a group's page
	Form   map[string]string
	// Ticked holds the chosen rule options, as "severities:sev1",
	// "categories:theft" or "services:<id>".
	Ticked     map[string]bool
	Severities []string
	Categories []string
	Services   []choice
	// Customers are the registry's customers a rule may name.
	Customers []choice
	PHI       []choice
	// Audiences are the audiences a group may belong to.
	Audiences []choice
	Errors    map[string]string
}

// ruleSummary says in words which incidents a rule subscribes to
// ("by hand" when there is none), naming services and customers.
func ruleSummary(byRule bool, r stakeholder.Rule, services, customers map[string]string) string {
	if !byRule {
		return "by hand"
	}
	var parts []string
	if len(r.Severities) > 0 {
		parts = append(parts, strings.Join(r.Severities, " or "))
	}
	if len(r.Categories) > 0 {
		cats := make([]string, len(r.Categories))
		for i, c := range r.Categories {
			cats[i] = strings.ReplaceAll(c, "_", " ")
		}
		parts = append(parts, "category "+strings.Join(cats, " or "))
	}
	if p := r.PHISuspected; p != nil {
		if *p {
			parts = append(parts, "PHI suspected")
		} else {
			parts = append(parts, "no PHI suspected")
		}
	}
	if len(r.Services) > 0 {
		parts = append(parts, "alerted by "+strings.Join(namesOf(services, r.Services), " or "))
	}
	if len(r.Customers) > 0 {
		parts = append(parts, "affecting "+strings.Join(namesOf(customers, r.Customers), " or "))
	}
	if len(parts) == 0 {
		return "every incident"
	}
	return strings.Join(parts, "; ")
}

func describeGroup(g stakeholder.Group, users, services, customers map[string]string) groupView {
	return groupView{Group: g, Summary: ruleSummary(g.ByRule, g.Rule, services, customers), People: namesOf(users, g.Members)}
}

// groupForm fills the group form from a saved group.
func groupForm(g stakeholder.Group, users map[string]string) (map[string]string, map[string]bool) {
	f := map[string]string{"name": g.Name, "description": g.Description, "members": strings.Join(namesOf(users, g.Members), ", "),
		"audience": g.Audience}
	return f, ruleForm(g.ByRule, g.Rule, f)
}

// ruleForm fills f with a saved rule's by_rule and phi controls and
// returns its ticked options.
func ruleForm(byRule bool, r stakeholder.Rule, f map[string]string) map[string]bool {
	if byRule {
		f["by_rule"] = "on"
	}
	if p := r.PHISuspected; p != nil {
		f["phi"] = "no"
		if *p {
			f["phi"] = "yes"
		}
	}
	ticked := map[string]bool{}
	for k, vs := range map[string][]string{"severities": r.Severities, "categories": r.Categories, "services": r.Services,
		"customers": r.Customers} {
		for _, v := range vs {
			ticked[k+":"+v] = true
		}
	}
	return ticked
}

// groupPost is a submitted group form.
type groupPost struct {
	form   map[string]string
	ticked map[string]bool
	in     stakeholder.GroupInput
}

func readGroup(r *http.Request) (groupPost, error) {
	p := groupPost{form: map[string]string{}, ticked: map[string]bool{}}
	if err := r.ParseForm(); err != nil {
		return p, apperr.New(apperr.Invalid, "the form could not be read")
	}
	p.form = formValues(r, "name", "description", "by_rule", "phi", "members", "audience")
	p.in = stakeholder.GroupInput{Name: p.form["name"], Description: p.form["description"], Members: splitList(p.form["members"]),
		Audience: p.form["audience"]}
	var err error
	p.in.ByRule, p.in.Rule, p.ticked, err = readRule(r, p.form)
	return p, err
}

// readRule reads a submitted form's rule controls (form holds by_rule
// and phi): whether it subscribes by rule, the rule, and the options
// ticked. Unticked "by rule", the controls are kept on the form but no
// rule is saved.
func readRule(r *http.Request, form map[string]string) (bool, stakeholder.Rule, map[string]bool, error) {
	ticked := map[string]bool{}
	lists := map[string][]string{}
	for _, k := range []string{"severities", "categories", "services", "customers"} {
		lists[k] = slices.Clone(r.PostForm[k])
		for _, v := range lists[k] {
			ticked[k+":"+v] = true
		}
	}
	if form["by_rule"] != "on" {
		return false, stakeholder.Rule{}, ticked, nil
	}
	rule := stakeholder.Rule{Severities: lists["severities"], Categories: lists["categories"], Services: lists["services"],
		Customers: lists["customers"]}
	switch form["phi"] {
	case "":
	case "yes", "no":
		v := form["phi"] == "yes"
		rule.PHISuspected = &v
	default:
		return true, rule, ticked, apperr.Field("phi", "%q is not any, yes or no", form["phi"])
	}
	return true, rule, ticked, nil
}

var (
	groupErrRe = regexp.MustCompile(`^(?:rule\.)?(members|severities|categories|services|customers)(?:\[\d+\])?$`)
	groupCtrls = []string{"name", "description", "phi", "members", "audience", "severities", "categories", "services", "customers"}
)

// groupErrors places a group error beside its control: rule.severities[0]
// beside the severities, members[1] beside the members.
func groupErrors(fe map[string]string) map[string]string {
	named := map[string]string{}
	for k, v := range fe {
		if m := groupErrRe.FindStringSubmatch(k); m != nil {
			k = m[1]
		}
		named[k] = v
	}
	return formErrors(named, func(k string) bool { return slices.Contains(groupCtrls, k) })
}

// groupsData reads what the group pages show besides the form.
func (u *UI) groupsData(r *http.Request) (groupsPage, map[string]string, ruleNames, error) {
	ctx := r.Context()
	users, err := u.userNames(ctx)
	if err != nil {
		return groupsPage{}, nil, ruleNames{}, err
	}
	gs, err := u.Stakeholders.Groups(ctx)
	if err != nil {
		return groupsPage{}, nil, ruleNames{}, err
	}
	p := groupsPage{Severities: severityStrings, Categories: categoryStrings, PHI: phiChoices, Form: map[string]string{},
		Ticked: map[string]bool{}}
	names, err := u.ruleChoices(ctx, &p.Services, &p.Customers)
	if err != nil {
		return groupsPage{}, nil, ruleNames{}, err
	}
	for _, g := range gs {
		p.Groups = append(p.Groups, describeGroup(g, users, names.services, names.customers))
	}
	audiences, err := u.Stakeholders.Audiences(ctx)
	if err != nil {
		return groupsPage{}, nil, ruleNames{}, err
	}
	for _, a := range audiences {
		p.Audiences = append(p.Audiences, choice{a.Key, a.Label})
	}
	return p, users, names, nil
}

// ruleNames name the services and customers a rule holds by id.
type ruleNames struct {
	services, customers map[string]string
}

// ruleChoices lists the services and the registry's customers a rule may
// name, as choices and by id.
func (u *UI) ruleChoices(ctx context.Context, services, customers *[]choice) (ruleNames, error) {
	svcs, err := u.Alerts.Services(ctx)
	if err != nil {
		return ruleNames{}, err
	}
	names := ruleNames{services: serviceNames(svcs), customers: map[string]string{}}
	for _, s := range svcs {
		*services = append(*services, choice{s.ID, s.Name})
	}
	audiences, err := u.Stakeholders.Audiences(ctx)
	if err != nil {
		return ruleNames{}, err
	}
	for _, a := range audiences {
		if id, ok := strings.CutPrefix(a.Key, stakeholder.AudienceCustomer); ok {
			name := strings.TrimPrefix(a.Label, "Customer ")
			*customers = append(*customers, choice{id, name})
			names.customers[id] = name
		}
	}
	return names, nil
}

func (u *UI) groupList(w http.ResponseWriter, r *http.Request) {
	p, _, _, err := u.groupsData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "stakeholders", "Stakeholders", "stakeholders", p)
}

// groupFailed re-renders a group form with its errors, or fails.
func (u *UI) groupFailed(w http.ResponseWriter, r *http.Request, err error, post groupPost, p groupsPage, page, title string) {
	fe, ok := fieldErrors(err)
	if !ok {
		u.fail(w, r, err)
		return
	}
	p.Form, p.Ticked, p.Errors = post.form, post.ticked, groupErrors(fe)
	u.render(w, r, http.StatusUnprocessableEntity, page, title, "stakeholders", p)
}

func (u *UI) groupCreate(w http.ResponseWriter, r *http.Request) {
	post, err := readGroup(r)
	var g stakeholder.Group
	if err == nil {
		g, err = u.Stakeholders.CreateGroup(r.Context(), post.in)
	}
	if err != nil {
		p, _, _, perr := u.groupsData(r)
		if perr != nil {
			u.fail(w, r, perr)
			return
		}
		u.groupFailed(w, r, err, post, p, "stakeholders", "Stakeholders")
		return
	}
	redirect(w, r, "/stakeholders/"+url.PathEscape(g.ID)+"?msg=group_created")
}

// groupData reads a group's page, its form filled from the saved group.
func (u *UI) groupData(r *http.Request) (groupsPage, error) {
	g, err := u.Stakeholders.GetGroup(r.Context(), r.PathValue("group"))
	if err != nil {
		return groupsPage{}, err
	}
	p, users, names, err := u.groupsData(r)
	if err != nil {
		return groupsPage{}, err
	}
	v := describeGroup(g, users, names.services, names.customers)
	p.Group = &v
	p.Form, p.Ticked = groupForm(g, users)
	return p, nil
}

func (u *UI) groupShow(w http.ResponseWriter, r *http.Request) {
	p, err := u.groupData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "stakeholder_group", p.Group.Name, "stakeholders", p)
}

func (u *UI) groupUpdate(w http.ResponseWriter, r *http.Request) {
	post, err := readGroup(r)
	var g stakeholder.Group
	if err == nil {
		g, err = u.Stakeholders.UpdateGroup(r.Context(), r.PathValue("group"), post.in)
	}
	if err != nil {
		p, perr := u.groupData(r)
		if perr != nil {
			u.fail(w, r, perr)
			return
		}
		u.groupFailed(w, r, err, post, p, "stakeholder_group", p.Group.Name)
		return
	}
	redirect(w, r, "/stakeholders/"+url.PathEscape(g.ID)+"?msg=group_saved")
}

// ---- SLA policies ----

// slaField is one target of an SLA policy: its control and its heading.
type slaField struct {
	Name  string
	Label string
}

var slaFields = []slaField{
	{"ack_minutes", "Page acknowledged within"},
	{"first_update_minutes", "First status update within"},
	{"update_interval_minutes", "Then a status update every"},
	{"contain_minutes", "Contained within"},
	{"resolve_minutes", "Resolved within"},
}

// slaRow is one severity's row of the SLA table.
type slaRow struct {
	stakeholder.Policy
	Form   map[string]string
	Errors map[string]string
}

type slaPage struct {
	Rows   []slaRow
	Fields []slaField
	Max    int
	// Errors are those of a submitted row that is not in the table.
	Errors map[string]string
}

func slaForm(p stakeholder.Policy) map[string]string {
	return map[string]string{"ack_minutes": strconv.Itoa(p.AckMinutes), "first_update_minutes": strconv.Itoa(p.FirstUpdateMinutes),
		"update_interval_minutes": strconv.Itoa(p.UpdateIntervalMinutes), "contain_minutes": strconv.Itoa(p.ContainMinutes),
		"resolve_minutes": strconv.Itoa(p.ResolveMinutes)}
}

// readSLA reads a submitted row into the policy of severity.
func readSLA(severity string, form map[string]string) (stakeholder.Policy, error) {
	p := stakeholder.Policy{Severity: severity}
	for _, f := range []struct {
		name string
		to   *int
	}{{"ack_minutes", &p.AckMinutes}, {"first_update_minutes", &p.FirstUpdateMinutes},
		{"update_interval_minutes", &p.UpdateIntervalMinutes}, {"contain_minutes", &p.ContainMinutes},
		{"resolve_minutes", &p.ResolveMinutes}} {
		v := strings.TrimSpace(form[f.name])
		if v == "" {
			return p, apperr.Field(f.name, "is required; 0 means no target")
		}
		n, err := strconv.Atoi(v)
		if err != nil {
			return p, apperr.Field(f.name, "%q is not a whole number of minutes", v)
		}
		*f.to = n
	}
	return p, nil
}

func (u *UI) slaData(r *http.Request) (slaPage, error) {
	ps, err := u.Stakeholders.SLAPolicies(r.Context())
	if err != nil {
		return slaPage{}, err
	}
	p := slaPage{Fields: slaFields, Max: stakeholder.MaxSLAMinutes}
	for _, pol := range ps {
		p.Rows = append(p.Rows, slaRow{Policy: pol, Form: slaForm(pol)})
	}
	return p, nil
}

func (u *UI) slaList(w http.ResponseWriter, r *http.Request) {
	p, err := u.slaData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "sla_policies", "SLA policies", "stakeholders", p)
}

func (u *UI) slaSave(w http.ResponseWriter, r *http.Request) {
	sev := r.PathValue("severity")
	names := make([]string, len(slaFields))
	for i, f := range slaFields {
		names[i] = f.Name
	}
	form := formValues(r, names...)
	pol, err := readSLA(sev, form)
	if err == nil {
		_, err = u.Stakeholders.SetSLAPolicy(r.Context(), pol)
	}
	if err != nil {
		fe, ok := fieldErrors(err)
		if !ok {
			u.fail(w, r, err)
			return
		}
		p, perr := u.slaData(r)
		if perr != nil {
			u.fail(w, r, perr)
			return
		}
		fe = formErrors(fe, func(k string) bool { return slices.Contains(names, k) })
		i := slices.IndexFunc(p.Rows, func(row slaRow) bool { return row.Severity == sev })
		if i < 0 {
			p.Errors = fe
		} else {
			p.Rows[i].Form, p.Rows[i].Errors = form, fe
		}
		u.render(w, r, http.StatusUnprocessableEntity, "sla_policies", "SLA policies", "stakeholders", p)
		return
	}
	redirect(w, r, "/sla-policies?msg=sla_saved#sla-"+url.PathEscape(sev))
}

// ---- the incident page's stakeholders and SLA section ----

var targetLabels = map[string]string{
	stakeholder.TargetAcknowledge: "Page acknowledged",
	stakeholder.TargetFirstUpdate: "First status update",
	stakeholder.TargetContain:     "Contained",
	stakeholder.TargetResolve:     "Resolved",
}

type targetView struct {
	stakeholder.Target
	Label string
}

// stakeView is the incident page's stakeholders and SLA section.
type stakeView struct {
	SLA     stakeholder.Status
	Targets []targetView
	Updates []stakeholder.Update // newest first
	Groups  []stakeholder.Group  // subscribed
	// Others are the groups that may still be subscribed by hand.
	Others []choice
	// PHI says the reader may see the external subscribers (their names
	// are PHI-class); the three below are read only then.
	PHI         bool
	Subscribers []stakeholder.Subscriber
	// Contacts are the external contacts that may still be subscribed.
	Contacts []choice
	// Deliveries are the messages of each status update, by id: the
	// proof of who was told, how and when.
	Deliveries map[string][]deliveryView
	// Audiences are the audiences an update may be written for;
	// ContactAudiences the same after the default of an external
	// subscriber's.
	Audiences, ContactAudiences []choice
	// Templates are the status update templates offered, filled in for
	// the incident; TemplateChoices the same for the form's list.
	Templates       []stakeholder.Template
	TemplateChoices []choice
	// Public is the incident's public status page.
	Public stakeholder.PublicPage
}

// deliveryView is one message of a status update, in plain words.
type deliveryView struct {
	Recipient string
	Channel   string
	State     string
	At        time.Time
}

// channelLabels name the channels of an update's messages.
var channelLabels = map[string]string{stakeholder.ChannelExternalEmail: "email", "email": "email (Ward user)", "sms": "text message",
	"voice": "phone call", "slack": "Slack", "teams": "Microsoft Teams", "webhook": "webhook"}

func deliveryOf(d stakeholder.UpdateDelivery) deliveryView {
	v := deliveryView{Recipient: d.Recipient, Channel: channelLabels[d.Channel], At: d.QueuedAt}
	if v.Channel == "" {
		v.Channel = d.Channel
	}
	if d.External {
		v.Recipient += " (" + d.Organisation + ")"
	}
	switch d.Status {
	case "sent":
		v.State = "sent"
		if d.SentAt != nil {
			v.At = *d.SentAt
		}
	case "failed":
		v.State = "not delivered"
		if d.Error != "" {
			v.State += ": " + d.Error
		}
	case "cancelled":
		v.State = "not sent: cancelled"
	case "rate_limited":
		v.State = "not sent: too many messages to this contact method"
	default:
		v.State = "waiting to be sent"
	}
	return v
}

// stakeOf reads incident ref's stakeholders and SLA section.
func (u *UI) stakeOf(r *http.Request, ref string) (*stakeView, error) {
	ctx := r.Context()
	st, err := u.Stakeholders.SLA(ctx, ref)
	if err != nil {
		return nil, err
	}
	v := &stakeView{SLA: st}
	for _, t := range st.Targets {
		v.Targets = append(v.Targets, targetView{Target: t, Label: targetLabels[t.Name]})
	}
	if v.Updates, err = u.Stakeholders.Updates(ctx, ref); err != nil {
		return nil, err
	}
	subs, err := u.Stakeholders.Subscribed(ctx, ref)
	if err != nil {
		return nil, err
	}
	all, err := u.Stakeholders.Groups(ctx)
	if err != nil {
		return nil, err
	}
	v.Groups = subs
	for _, g := range all {
		if !slices.ContainsFunc(subs, func(s stakeholder.Group) bool { return s.ID == g.ID }) {
			v.Others = append(v.Others, choice{g.ID, g.Name})
		}
	}
	audiences, err := u.Stakeholders.Audiences(ctx)
	if err != nil {
		return nil, err
	}
	v.ContactAudiences = []choice{{"", "The customer they speak for, if any, else the public"}}
	for _, au := range audiences {
		v.Audiences = append(v.Audiences, choice{au.Key, au.Label})
	}
	v.ContactAudiences = append(v.ContactAudiences, v.Audiences...)
	if v.Templates, err = u.Stakeholders.IncidentTemplates(ctx, ref, ""); err != nil {
		return nil, err
	}
	for _, t := range v.Templates {
		v.TemplateChoices = append(v.TemplateChoices, choice{t.ID, t.Name + " (for " + t.AudienceLabel + ")"})
	}
	if v.Public, err = u.Stakeholders.PublicPageOf(ctx, ref); err != nil {
		return nil, err
	}
	a, _ := authz.ActorFrom(ctx)
	if !authz.Has(a.Role, authz.IncidentReadPHI) {
		return v, nil
	}
	v.PHI = true
	if v.Subscribers, err = u.Stakeholders.Subscribers(ctx, ref); err != nil {
		return nil, err
	}
	// Who each update went to (names of contacts: a read audited, made
	// only when there are updates).
	if len(v.Updates) > 0 {
		byUpdate, err := u.Stakeholders.UpdateDeliveries(ctx, ref)
		if err != nil {
			return nil, err
		}
		v.Deliveries = map[string][]deliveryView{}
		for id, ds := range byUpdate {
			for _, d := range ds {
				v.Deliveries[id] = append(v.Deliveries[id], deliveryOf(d))
			}
		}
	}
	// The contacts to subscribe (a read audited), only for who may.
	if !authz.Has(a.Role, authz.IncidentWrite) {
		return v, nil
	}
	cs, err := u.Stakeholders.Contacts(ctx)
	if err != nil {
		return nil, err
	}
	for _, c := range cs {
		if !slices.ContainsFunc(v.Subscribers, func(s stakeholder.Subscriber) bool {
			return s.ContactID == c.ID && s.Status != stakeholder.SubscriptionUnsubscribed && s.Status != stakeholder.SubscriptionUndeliverable
		}) {
			v.Contacts = append(v.Contacts, choice{c.ID, c.Name + ", " + c.Organisation})
		}
	}
	return v, nil
}

// renamed moves a service's error about field from to the form's control to.
func renamed(err error, from, to string) error {
	if e, ok := apperr.As(err); ok && len(e.Fields) > 0 && e.Fields[0].Field == from {
		return apperr.Field(to, "%s", e.Fields[0].Message)
	}
	return err
}

func (u *UI) statusUpdatePost(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "update_body", "phi_override", "update_audience")
	in := stakeholder.UpdateInput{Body: form["update_body"], PHIOverride: form["phi_override"] == "on", Audience: form["update_audience"]}
	if _, err := u.Stakeholders.PostUpdate(r.Context(), r.PathValue("id"), in); err != nil {
		u.showWithErrors(w, r, renamed(renamed(err, "body", "update_body"), "audience", "update_audience"), form)
		return
	}
	redirect(w, r, "/incidents/"+url.PathEscape(r.PathValue("id"))+"?msg=update_posted#stakeholders")
}

func (u *UI) stakeholderSubscribe(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "group")
	if err := u.Stakeholders.Subscribe(r.Context(), r.PathValue("id"), form["group"]); err != nil {
		u.showWithErrors(w, r, err, form)
		return
	}
	redirect(w, r, "/incidents/"+url.PathEscape(r.PathValue("id"))+"?msg=subscribed#stakeholders")
}

func (u *UI) externalSubscribe(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "contact_id", "contact_audience")
	if _, err := u.Stakeholders.SubscribeContact(r.Context(), r.PathValue("id"), form["contact_id"], form["contact_audience"]); err != nil {
		u.showWithErrors(w, r, renamed(err, "audience", "contact_audience"), form)
		return
	}
	redirect(w, r, "/incidents/"+url.PathEscape(r.PathValue("id"))+"?msg=external_subscribed#stakeholders")
}

// ---- external contacts ----

type contactsPage struct {
	Contacts []stakeholder.Contact
	Form     map[string]string
	Errors   map[string]string
}

func (u *UI) externalContactList(w http.ResponseWriter, r *http.Request) {
	cs, err := u.Stakeholders.Contacts(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "stakeholder_contacts", "External contacts", "stakeholders", contactsPage{Contacts: cs})
}

func (u *UI) externalContactCreate(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "name", "organisation", "title", "email")
	_, err := u.Stakeholders.CreateContact(r.Context(), stakeholder.ContactInput{Name: form["name"], Organisation: form["organisation"],
		Title: form["title"], Email: form["email"]})
	if err != nil {
		fe, ok := fieldErrors(err)
		if !ok {
			u.fail(w, r, err)
			return
		}
		cs, lerr := u.Stakeholders.Contacts(r.Context())
		if lerr != nil {
			u.fail(w, r, lerr)
			return
		}
		u.render(w, r, http.StatusUnprocessableEntity, "stakeholder_contacts", "External contacts", "stakeholders",
			contactsPage{Contacts: cs, Form: form, Errors: fe})
		return
	}
	redirect(w, r, "/stakeholders/contacts?msg=contact_created")
}

type externalContactPage struct {
	Contact stakeholder.Contact
	// Summary says which incidents the contact's rule subscribes it to,
	// or "by hand".
	Summary    string
	Form       map[string]string
	Ticked     map[string]bool
	Severities []string
	Categories []string
	Services   []choice
	Customers  []choice
	PHI        []choice
	Errors     map[string]string
}

// contactPage reads contact id's page (the read is audited), its form
// filled from the saved contact.
func (u *UI) contactPage(r *http.Request, id string) (externalContactPage, error) {
	c, err := u.Stakeholders.Contact(r.Context(), id)
	if err != nil {
		return externalContactPage{}, err
	}
	p := externalContactPage{Contact: c, Severities: severityStrings, Categories: categoryStrings, PHI: phiChoices,
		Form: map[string]string{"name": c.Name, "organisation": c.Organisation, "title": c.Title, "email": c.Email}}
	names, err := u.ruleChoices(r.Context(), &p.Services, &p.Customers)
	if err != nil {
		return externalContactPage{}, err
	}
	p.Summary = ruleSummary(c.ByRule, c.Rule, names.services, names.customers)
	p.Ticked = ruleForm(c.ByRule, c.Rule, p.Form)
	return p, nil
}

// externalContactShow is one external contact's page, with its edit form
// for those who may change it; the read is audited.
func (u *UI) externalContactShow(w http.ResponseWriter, r *http.Request) {
	p, err := u.contactPage(r, r.PathValue("external"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "stakeholder_contact", p.Contact.Name, "stakeholders", p)
}

// externalContactUpdate saves the edit form, its rule included; the link
// to a party of the breach registry, which the form does not show, is
// kept.
func (u *UI) externalContactUpdate(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "name", "organisation", "title", "email", "party_id", "by_rule", "phi")
	id := r.PathValue("external")
	in := stakeholder.ContactInput{Name: form["name"], Organisation: form["organisation"], Title: form["title"], Email: form["email"],
		PartyID: form["party_id"]}
	var ticked map[string]bool
	var err error
	in.ByRule, in.Rule, ticked, err = readRule(r, form)
	if err == nil {
		_, err = u.Stakeholders.UpdateContact(r.Context(), id, in)
	}
	if err != nil {
		fe, ok := fieldErrors(err)
		if !ok {
			u.fail(w, r, err)
			return
		}
		p, perr := u.contactPage(r, id)
		if perr != nil {
			u.fail(w, r, perr)
			return
		}
		p.Form, p.Ticked, p.Errors = form, ticked, groupErrors(fe)
		u.render(w, r, http.StatusUnprocessableEntity, "stakeholder_contact", p.Contact.Name, "stakeholders", p)
		return
	}
	redirect(w, r, "/stakeholders/contacts/"+url.PathEscape(id)+"?msg=external_contact_saved")
}

// externalContactDelete removes a contact never subscribed to an incident;
// one that was is kept as proof, and the page says so.
func (u *UI) externalContactDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("external")
	if err := u.Stakeholders.DeleteContact(r.Context(), id); err != nil {
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.Conflict {
			u.fail(w, r, err)
			return
		}
		p, perr := u.contactPage(r, id)
		if perr != nil {
			u.fail(w, r, perr)
			return
		}
		p.Errors = map[string]string{"_": e.Message}
		u.render(w, r, http.StatusConflict, "stakeholder_contact", p.Contact.Name, "stakeholders", p)
		return
	}
	redirect(w, r, "/stakeholders/contacts?msg=external_contact_deleted")
}
