package ui

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/notice"
)

// ---- breach cases (45 CFR 164.400-414) ----

// customerRows is how many customer rows the facts form offers beyond
// those already recorded.
const customerRows = 2

// registryControl names the facts form's checkboxes of registry customers;
// each checked one's value is the customer's registry id.
const registryControl = "registry_customers"

// registryCustomer is one checkbox of the facts form: a customer of the
// registry, with its agreement's notice term.
type registryCustomer struct {
	breach.Party
	// CaseNotice is the term the case's facts hold for the customer when
	// it differs from the registry's (the registry changed since, or the
	// API set one for this case): saving the form takes the registry's.
	CaseNotice *rules.Term
	// Differs says CaseNotice differs from the registry's term.
	Differs bool
}

var roleChoices = []choice{
	{string(rules.CoveredEntity), "Covered entity (164.404-408)"},
	{string(rules.BusinessAssociate), "Business associate (164.410)"},
	{string(rules.Both), "Both: covered entity and business associate of the customers below"},
	{string(rules.PHRVendor), "Vendor of personal health records (FTC, 16 CFR 318)"},
}

var methodChoices = []choice{{string(rules.Encrypted), "Encryption"}, {string(rules.Destroyed), "Destruction"}}

var exceptionChoices = []choice{
	{string(rules.ExceptionGoodFaithWorkforce), "164.402(1)(i): unintentional, good-faith access by the workforce within its authority"},
	{string(rules.ExceptionInadvertentInternal), "164.402(1)(ii): inadvertent disclosure between people authorised at the same entity"},
	{string(rules.ExceptionCouldNotRetain), "164.402(1)(iii): the recipient could not reasonably have retained the PHI"},
}

var assessmentChoices = []choice{
	{string(rules.NotificationRequired), "Notification required: a low probability of compromise is not shown"},
	{string(rules.LowProbability), "Low probability of compromise (every factor's rationale written)"},
}

var unitChoices = []choice{{string(rules.Days), "days"}, {string(rules.Hours), "hours"}}

// factorQuestions are the four factors of 164.402(2)(i)-(iv), in order.
var factorQuestions = []string{
	"The nature and extent of the PHI involved, including the types of identifiers and the likelihood of re-identification",
	"The unauthorised person who used the PHI or to whom it was disclosed",
	"Whether the PHI was actually acquired or viewed",
	"The extent to which the risk to the PHI has been mitigated",
}

// factorView is one factor of the wizard.
type factorView struct {
	Index    int
	Factor   rules.Factor
	Question string
}

// clockView is the discovery clock: the earliest unmet deadline.
type clockView struct {
	Obligation breach.Obligation
	Days       int // whole days left, or overdue when Overdue
	Overdue    bool
}

// newClock returns the clock of the first unmet obligation of obs (sorted
// earliest first), or nil when every one is met.
func newClock(obs []breach.Obligation, now time.Time) *clockView {
	i := slices.IndexFunc(obs, func(o breach.Obligation) bool { return o.MetAt == nil })
	if i < 0 {
		return nil
	}
	left := obs[i].Due.Sub(now)
	c := &clockView{Obligation: obs[i], Overdue: left < 0}
	c.Days = int(math.Ceil(math.Abs(left.Hours()) / 24))
	return c
}

// breachSummary is the incident page's breach-case section.
type breachSummary struct {
	Case  breach.Case
	Clock *clockView
}

// breachOf returns the incident's breach case for its page, or nil when it
// has none.
func (u *UI) breachOf(r *http.Request, ref string) (*breachSummary, error) {
	if u.Breach == nil {
		return nil, nil
	}
	c, err := u.Breach.Get(r.Context(), ref)
	if apperr.CodeOf(err) == apperr.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	obs, err := u.Breach.Obligations(r.Context(), ref)
	if err != nil {
		return nil, err
	}
	return &breachSummary{Case: c, Clock: newClock(obs, u.Clock.Now())}, nil
}

// breachPage is the case page.
type breachPage struct {
	// FromPlaybooks are the answers recorded on the incident's playbooks
	// that feed the determination's questions.
	FromPlaybooks []playbookFact
	Case          breach.Case
	Clock         *clockView
	Obligations   []breach.Obligation
	// Progress is each individual notice group's "N of M notified", by
	// obligation key.
	Progress       map[string]*notice.Progress
	Determinations []breach.Determination
	Customers      []int // the indexes of the customer rows typed by hand
	// Registry are the registry's active customers, and archived ones the
	// case names; Picked the ids of those checked.
	Registry []registryCustomer
	Picked   map[string]bool
	Factors  []factorView
	// Hacking: the incident is a hacking/IT incident, so the wizard opens
	// its ransomware questions (HHS ransomware fact sheet, 2016).
	Hacking     bool
	Roles       []choice
	Methods     []choice
	Standards   []choice
	Exceptions  []choice
	Assessments []choice
	Units       []choice
	// Facts and Sign are the two forms' values and errors, by control name.
	Facts       map[string]string
	FactsErrors map[string]string
	// FactsRendered is what the facts form showed when the page was first
	// rendered (factsGroups, as JSON): saving sends only what differs.
	FactsRendered string
	// Tags are the case tags offered, TagsPicked those checked.
	Tags       []rules.Tag
	TagsPicked map[string]bool
	// Imported are the States counted from the imported individuals;
	// Residents every State of the facts, by name.
	Imported   []stateResidents
	Residents  []stateResidents
	Sign       map[string]string
	SignErrors map[string]string
	MetErrors  map[string]string
	// Hold is the law-enforcement hold in force now, if any (164.412).
	Hold *breach.Hold
	// Steps are the case's workflow, facts to proof, and Next the action
	// to take first; Signers the names of those who may sign.
	Steps   []caseStep
	Next    *nextView
	Signers []string
	// Zone is the organisation's time zone the deadlines are counted in.
	Zone *time.Location
}

func (u *UI) breachData(r *http.Request, ref string) (breachPage, error) {
	c, err := u.Breach.Get(r.Context(), ref)
	if err != nil {
		return breachPage{}, err
	}
	obs, err := u.Breach.Obligations(r.Context(), ref)
	if err != nil {
		return breachPage{}, err
	}
	counted, err := u.Notices.IndividualProgress(r.Context(), ref)
	if err != nil {
		return breachPage{}, err
	}
	progress := make(map[string]*notice.Progress, len(counted))
	for k, v := range counted {
		progress[k] = &v
	}
	dets, err := u.Breach.Determinations(r.Context(), ref)
	if err != nil {
		return breachPage{}, err
	}
	parties, err := u.Breach.Parties(r.Context(), breach.PartyCustomer, true)
	if err != nil {
		return breachPage{}, err
	}
	inc, err := u.Incidents.Meta(r.Context(), ref)
	if err != nil {
		return breachPage{}, err
	}
	named := map[string]rules.Customer{}
	for _, cu := range c.Facts.Customers {
		named[cu.ID] = cu
	}
	inRegistry := map[string]bool{}
	p := breachPage{Case: c, Clock: newClock(obs, u.Clock.Now()), Obligations: obs, Progress: progress, Determinations: dets,
		Hacking: inc.Category == incident.HackingIT,
		Roles:   roleChoices, Methods: methodChoices, Exceptions: exceptionChoices, Assessments: assessmentChoices, Units: unitChoices,
		Sign: map[string]string{"path": "assess"}}
	if p.Hold, err = u.Breach.HoldNow(r.Context(), c); err != nil {
		return breachPage{}, err
	}
	for _, pa := range parties {
		cu, isNamed := named[pa.ID]
		if pa.ArchivedAt != nil && !isNamed {
			continue
		}
		rc := registryCustomer{Party: pa}
		if isNamed && !sameTerm(cu.Notice, pa.Notice) {
			rc.CaseNotice, rc.Differs = cu.Notice, true
		}
		p.Registry = append(p.Registry, rc)
		inRegistry[pa.ID] = true
	}
	var manual int
	p.Facts, p.Picked, manual = factsForm(c, inRegistry)
	p.FactsRendered = renderedGroups(p.Facts, p.Picked, c.Facts.Tags)
	p.Tags, p.TagsPicked = rules.Tags(), map[string]bool{}
	for _, t := range c.Facts.Tags {
		p.TagsPicked[t] = true
	}
	for _, st := range slices.Sorted(maps.Keys(c.Facts.ByState)) {
		name, _ := rules.JurisdictionName(st)
		_, typed := c.Estimates[st]
		r := stateResidents{Name: name, N: c.Facts.ByState[st], Imported: c.Estimates != nil && !typed}
		p.Residents = append(p.Residents, r)
		if r.Imported {
			p.Imported = append(p.Imported, r)
		}
	}
	p.Standards = standardChoices()
	for i, f := range rules.Factors() {
		p.Factors = append(p.Factors, factorView{Index: i, Factor: f, Question: factorQuestions[i]})
	}
	p.setCustomerRows(manual)
	if p.Signers, err = u.Breach.Signers(r.Context()); err != nil {
		return breachPage{}, err
	}
	cnt, err := u.Breach.IndividualCounts(r.Context(), ref)
	if err != nil {
		return breachPage{}, err
	}
	if len(obs) > 0 {
		p.Zone = obs[0].Zone
	}
	if p.FromPlaybooks, err = u.playbookFacts(r, c.IncidentID); err != nil {
		return breachPage{}, err
	}
	a, _ := authz.ActorFrom(r.Context())
	p.workflow(cnt.Individuals, u.Clock.Now(), authz.Has(a.Role, authz.BreachSign), authz.Has(a.Role, authz.IncidentWrite),
		authz.Has(a.Role, authz.ReportRead))
	return p, nil
}

// sameTerm says whether two notice terms are the same (nil: none).
func sameTerm(a, b *rules.Term) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func (p *breachPage) setCustomerRows(n int) {
	p.Customers = nil
	for i := 0; i < n+customerRows; i++ {
		p.Customers = append(p.Customers, i)
	}
}

// stateResidents are the residents of one State, by its name.
type stateResidents struct {
	Name     string
	N        int
	Imported bool // counted from the imported individuals
}

// factsForm fills the facts form from case c's recorded facts: the
// residents per State typed by hand (those counted from imported
// individuals are shown apart, not in the form); a customer of the
// registry (inRegistry) is a checked box of picked, any other a row typed
// by hand; rows is how many rows those take.
func factsForm(c breach.Case, inRegistry map[string]bool) (form map[string]string, picked map[string]bool, rows int) {
	f := c.Facts
	form = map[string]string{"role": string(f.Role), "discovered_at": dtZero(f.DiscoveredAt),
		"should_have_known_at": dtZero(f.ShouldHaveKnownAt), "individuals": strconv.Itoa(f.Individuals)}
	typed := c.Estimates
	if typed == nil {
		typed = f.ByState
	}
	states := slices.Sorted(maps.Keys(typed))
	parts := make([]string, len(states))
	for i, st := range states {
		parts[i] = st + "=" + strconv.Itoa(typed[st])
	}
	form["by_state"] = strings.Join(parts, ", ")
	picked = map[string]bool{}
	i := 0
	for _, c := range f.Customers {
		if inRegistry[c.ID] {
			picked[c.ID] = true
			continue
		}
		form[customerKey(i, "id")], form[customerKey(i, "name")] = c.ID, c.Name
		if c.Notice != nil {
			form[customerKey(i, "amount")], form[customerKey(i, "unit")] = strconv.Itoa(c.Notice.Amount), string(c.Notice.Unit)
			if c.Notice.Business {
				form[customerKey(i, "business")] = "on"
			}
		}
		i++
	}
	if d := f.Delay; d != nil {
		if o := d.Oral; o != nil {
			form["oral_at"], form["oral_official"], form["oral_agency"] = dtZero(o.At), o.Official, o.Agency
		}
		if w := d.Written; w != nil {
			form["written_at"], form["written_until"], form["written_official"], form["written_agency"] = dtZero(w.At), dtZero(w.Until), w.Official, w.Agency
		}
	}
	return form, picked, i
}

func dtZero(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return dtlocal(&t)
}

// customerKey names a control of customer row i.
func customerKey(i int, part string) string { return fmt.Sprintf("customers[%d]_%s", i, part) }

// factsInput is the facts form as read.
type factsInput struct {
	Facts  rules.Facts
	Form   map[string]string // the values by control name
	Errors map[string]string // what could not be read, by control name
	Picked map[string]bool   // the registry customers checked
	Rows   int               // the customer rows up to the last one filled
	// Controls names the control of each of Facts.Customers: a registry
	// customer's is registryControl, another's its row's prefix.
	Controls []string
}

// readFacts reads the facts form over the case's recorded facts (which
// keep what the form does not show: the dates notices were sent).
// The checked registry customers come first, by id alone, so that the
// registry fills their names and terms (Service.SetFacts); the rows typed
// by hand follow.
func readFacts(r *http.Request, old rules.Facts) factsInput {
	form := map[string]string{}
	errs := map[string]string{}
	for k := range r.PostForm {
		if k != "csrf" && k != registryControl && k != "tags" && k != "facts_rendered" {
			form[k] = strings.TrimSpace(r.PostFormValue(k))
		}
	}
	in := factsInput{Form: form, Errors: errs, Picked: map[string]bool{}}
	f := old
	f.Role = rules.Role(form["role"])
	when := func(name string) time.Time {
		t, err := formTime(name, form[name])
		if err != nil {
			errs[name] = "is not a date and time"
			return time.Time{}
		}
		if t == nil {
			return time.Time{}
		}
		return *t
	}
	f.DiscoveredAt, f.ShouldHaveKnownAt = when("discovered_at"), when("should_have_known_at")
	f.Individuals = 0
	if v := form["individuals"]; v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			errs["individuals"] = fmt.Sprintf("%q is not a whole number", v)
		}
		f.Individuals = n
	}
	f.ByState = nil
	if byState, err := parseByState(form["by_state"]); err != "" {
		errs["by_state"] = err
	} else {
		f.ByState = byState
	}
	f.Tags = nil
	for _, t := range r.PostForm["tags"] {
		if t = strings.TrimSpace(t); t != "" && !slices.Contains(f.Tags, t) {
			f.Tags = append(f.Tags, t)
		}
	}
	f.Customers = nil
	for _, id := range r.PostForm[registryControl] {
		if id = strings.TrimSpace(id); id != "" && !in.Picked[id] {
			in.Picked[id] = true
			f.Customers = append(f.Customers, rules.Customer{ID: id})
			in.Controls = append(in.Controls, registryControl)
		}
	}
	for i := 0; ; i++ {
		if _, ok := r.PostForm[customerKey(i, "id")]; !ok {
			break
		}
		id, name, amount := form[customerKey(i, "id")], form[customerKey(i, "name")], form[customerKey(i, "amount")]
		if id == "" && name == "" && amount == "" {
			continue
		}
		in.Rows = i + 1
		in.Controls = append(in.Controls, fmt.Sprintf("customers[%d]", i))
		c := rules.Customer{ID: id, Name: name}
		if amount != "" {
			n, err := strconv.Atoi(amount)
			if err != nil {
				errs[customerKey(i, "amount")] = fmt.Sprintf("%q is not a whole number", amount)
			}
			c.Notice = &rules.Term{Amount: n, Unit: rules.Unit(form[customerKey(i, "unit")]), Business: form[customerKey(i, "business")] == "on"}
		}
		f.Customers = append(f.Customers, c)
	}
	f.Delay = nil
	var d rules.LawEnforcementDelay
	if form["oral_at"] != "" || form["oral_official"] != "" || form["oral_agency"] != "" {
		d.Oral = &rules.OralStatement{At: when("oral_at"), Official: form["oral_official"], Agency: form["oral_agency"]}
	}
	if form["written_at"] != "" || form["written_until"] != "" || form["written_official"] != "" || form["written_agency"] != "" {
		d.Written = &rules.WrittenStatement{At: when("written_at"), Until: when("written_until"), Official: form["written_official"],
			Agency: form["written_agency"]}
	}
	if d.Oral != nil || d.Written != nil {
		f.Delay = &d
	}
	in.Facts = f
	return in
}

var customerIndexRe = regexp.MustCompile(`^customers\[(\d+)\](.*)$`)

// customerFields renames the fields of a validation error that name one
// of the facts' customers by its index to the control that shows it: the
// registry's checkboxes (the message then names the customer) or the row
// it was typed in. Any other error comes back as it is.
func (in factsInput) customerFields(err error) error {
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.Invalid {
		return err
	}
	out := &apperr.Error{Code: e.Code, Message: e.Message, Err: e.Err}
	for _, f := range e.Fields {
		if m := customerIndexRe.FindStringSubmatch(f.Field); m != nil {
			if k, _ := strconv.Atoi(m[1]); k < len(in.Controls) {
				if in.Controls[k] == registryControl {
					f = apperr.FieldError{Field: registryControl, Message: in.Facts.Customers[k].ID + ": " + f.Message}
				} else {
					f.Field = in.Controls[k] + m[2]
				}
			}
		}
		out.Fields = append(out.Fields, f)
	}
	return out
}

var stateCountRe = regexp.MustCompile(`^([A-Za-z]{2})\s*=\s*(-?\d+)$`)

// parseByState reads residents per State written as "CA=700, OR=500";
// a problem comes back as the message to show.
func parseByState(v string) (map[string]int, string) {
	if strings.TrimSpace(v) == "" {
		return nil, ""
	}
	out := map[string]int{}
	for _, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		m := stateCountRe.FindStringSubmatch(part)
		if m == nil {
			return nil, fmt.Sprintf("%q is not a State and a count, such as CA=700", part)
		}
		st := strings.ToUpper(m[1])
		if _, dup := out[st]; dup {
			return nil, fmt.Sprintf("%s is listed twice", st)
		}
		n, err := strconv.Atoi(m[2])
		if err != nil {
			return nil, fmt.Sprintf("%q is not a whole number", m[2])
		}
		out[st] = n
	}
	return out, ""
}

var findingRe = regexp.MustCompile(`^assessment\.findings\[([^\]]+)\](?:\.(answer|rationale))?$`)
var customerFieldRe = regexp.MustCompile(`^customers\[(\d+)\]\.(id|notice\.amount|notice\.unit|notice\.business|notice)$`)

// controlName maps a field the breach service names to the form control
// that shows its error.
func controlName(field string) string {
	if m := findingRe.FindStringSubmatch(field); m != nil {
		i := slices.Index(rules.Factors(), rules.Factor(m[1]))
		part := m[2]
		if part == "" {
			part = "answer"
		}
		if i >= 0 {
			return fmt.Sprintf("factor%d_%s", i, part)
		}
	}
	if m := customerFieldRe.FindStringSubmatch(field); m != nil {
		i, _ := strconv.Atoi(m[1])
		part := strings.TrimPrefix(m[2], "notice.")
		if part == "notice" {
			part = "amount"
		}
		return customerKey(i, part)
	}
	switch {
	case strings.HasPrefix(field, "by_state"):
		return "by_state"
	case strings.HasPrefix(field, "tags"):
		return "tags"
	case strings.HasPrefix(field, "law_enforcement_delay."):
		return strings.ReplaceAll(strings.TrimPrefix(field, "law_enforcement_delay."), ".", "_")
	case field == "law_enforcement_delay":
		return "oral_at"
	case field == "assessment":
		return "path"
	}
	return strings.ReplaceAll(field, ".", "_")
}

// controlErrors maps a validation error's fields to control names; a field
// of a State (by_state.CA) keeps the State in the message. ok is false for
// any other error.
func controlErrors(err error) (map[string]string, bool) {
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.Invalid {
		return nil, false
	}
	out := map[string]string{}
	for _, f := range e.Fields {
		name, msg := controlName(f.Field), f.Message
		if st, isState := strings.CutPrefix(f.Field, "by_state."); isState {
			msg = st + ": " + msg
		}
		if prev, dup := out[name]; dup {
			msg = prev + "; " + msg
		}
		out[name] = msg
	}
	if len(out) == 0 {
		out["_"] = e.Message
	}
	return out, true
}

func (u *UI) breachShow(w http.ResponseWriter, r *http.Request) {
	p, err := u.breachData(r, r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "breach", "Breach case "+p.Case.IncidentNumber, "breach", p)
}

func (u *UI) breachOpen(w http.ResponseWriter, r *http.Request) {
	c, err := u.Breach.Open(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	redirect(w, r, withMsg("/incidents/"+c.IncidentNumber+"/breach", "breach_opened"))
}

// breachInvalid re-renders the case page with a form's errors, which fill
// puts on the page; an error that is not a validation error fails the
// request instead.
func (u *UI) breachInvalid(w http.ResponseWriter, r *http.Request, err error, fill func(*breachPage, map[string]string)) {
	errs, ok := controlErrors(err)
	if !ok {
		u.fail(w, r, err)
		return
	}
	p, gerr := u.breachData(r, r.PathValue("id"))
	if gerr != nil {
		u.fail(w, r, gerr)
		return
	}
	fill(&p, errs)
	u.render(w, r, http.StatusUnprocessableEntity, "breach", "Breach case "+p.Case.IncidentNumber, "breach", p)
}

func (u *UI) breachFacts(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	c, err := u.Breach.Get(r.Context(), ref)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if err := r.ParseForm(); err != nil {
		u.fail(w, r, apperr.New(apperr.Invalid, "the form could not be read"))
		return
	}
	in := readFacts(r, c.Facts)
	errs := in.Errors
	rendered := r.PostFormValue("facts_rendered")
	fill := func(p *breachPage, e map[string]string) {
		p.Facts, p.FactsErrors, p.Picked = in.Form, e, in.Picked
		p.TagsPicked = map[string]bool{}
		for _, t := range in.Facts.Tags {
			p.TagsPicked[t] = true
		}
		if rendered != "" {
			p.FactsRendered = rendered
		}
		p.setCustomerRows(in.Rows)
	}
	if len(errs) > 0 {
		// The values the form could not read are shown with whatever else
		// the service finds wrong.
		if more, ok := controlErrors(in.customerFields(in.Facts.Validate())); ok {
			for k, v := range more {
				if _, seen := errs[k]; !seen {
					errs[k] = v
				}
			}
		}
		u.breachInvalid(w, r, &apperr.Error{Code: apperr.Invalid, Message: "the breach facts are incomplete"}, func(p *breachPage, _ map[string]string) {
			fill(p, errs)
		})
		return
	}
	if _, err := u.Breach.PatchFacts(r.Context(), ref, in.patch(rendered, c)); err != nil {
		u.breachInvalid(w, r, in.customerFields(err), fill)
		return
	}
	redirect(w, r, withMsg("/incidents/"+c.IncidentNumber+"/breach", "breach_facts"))
}

// readDetermination reads the wizard: the steps in the order of 164.402.
func readDetermination(form map[string]string) rules.Determination {
	var d rules.Determination
	if form["secured_claim"] == "on" {
		d.Secured = &rules.Secured{Method: rules.SecureMethod(form["secured_method"]), Standard: form["secured_standard"],
			KeyCompromised: form["secured_key_compromised"] == "on", AccessibleDecrypted: form["secured_accessible_decrypted"] == "on",
			Rationale: form["secured_rationale"]}
	}
	if form["exception_claim"] == "on" {
		d.Exception = &rules.Exception{Kind: rules.ExceptionKind(form["exception_kind"]),
			NoFurtherImpermissibleUse: form["exception_no_further_impermissible_use"] == "on", Rationale: form["exception_rationale"]}
	}
	switch form["path"] {
	case "notify":
		d.NotifyWithoutAssessment = true
	case "assess":
		a := &rules.Assessment{Outcome: rules.Outcome(form["assessment_outcome"]), Rationale: form["assessment_rationale"]}
		if form["ransomware"] == "on" {
			a.Ransomware = &rules.Ransomware{Variant: form["assessment_ransomware_variant"],
				Exfiltration: form["assessment_ransomware_exfiltration"], Spread: form["assessment_ransomware_spread"]}
		}
		for i, f := range rules.Factors() {
			a.Findings = append(a.Findings, rules.Finding{Factor: f, Answer: form[fmt.Sprintf("factor%d_answer", i)],
				Rationale: form[fmt.Sprintf("factor%d_rationale", i)]})
		}
		// A claim that settles the question needs no assessment; an empty
		// one is then not sent.
		if d.Secured != nil || d.Exception != nil {
			empty := a.Rationale == ""
			for _, f := range a.Findings {
				empty = empty && f.Answer == "" && f.Rationale == ""
			}
			if empty {
				a = nil
			}
		}
		d.Assessment = a
	}
	return d
}

var signFields = []string{"secured_claim", "secured_method", "secured_standard", "secured_key_compromised", "secured_accessible_decrypted",
	"secured_rationale", "exception_claim", "exception_kind", "exception_no_further_impermissible_use", "exception_rationale", "path",
	"assessment_outcome", "assessment_rationale", "reason", "ransomware", "assessment_ransomware_variant",
	"assessment_ransomware_exfiltration", "assessment_ransomware_spread",
	"factor0_answer", "factor0_rationale", "factor1_answer", "factor1_rationale", "factor2_answer", "factor2_rationale",
	"factor3_answer", "factor3_rationale"}

func (u *UI) breachSign(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	form := formValues(r, signFields...)
	d := readDetermination(form)
	if _, err := u.Breach.Determine(r.Context(), ref, d, form["reason"]); err != nil {
		u.breachInvalid(w, r, err, func(p *breachPage, e map[string]string) { p.Sign, p.SignErrors = form, e })
		return
	}
	c, err := u.Breach.Get(r.Context(), ref)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	redirect(w, r, withMsg("/incidents/"+c.IncidentNumber+"/breach", "breach_signed"))
}

func (u *UI) breachMet(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	form := formValues(r, "obligation", "met_at", "reason", "hold_official", "hold_reason")
	var at time.Time
	t, err := formTime("met_at", form["met_at"])
	if err == nil && t != nil {
		at = *t
	}
	if err == nil {
		_, err = u.Breach.MarkMet(r.Context(), ref, breach.Met{Key: form["obligation"], At: at, Reason: form["reason"],
			Hold: holdOverride(form)})
	}
	if err != nil {
		u.obligationInvalid(w, r, form["obligation"], "met_at", err)
		return
	}
	c, err := u.Breach.Get(r.Context(), ref)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	redirect(w, r, withMsg("/incidents/"+c.IncidentNumber+"/breach", "breach_met"))
}

// obligationInvalid renders the case page with err beside obligation
// key's form; a conflict (met already, not met) is shown on field.
func (u *UI) obligationInvalid(w http.ResponseWriter, r *http.Request, key, field string, err error) {
	if e, ok := apperr.As(err); ok && e.Code == apperr.Conflict {
		err = apperr.Field(field, "%s", e.Message)
	}
	u.breachInvalid(w, r, err, func(p *breachPage, e map[string]string) {
		p.MetErrors = map[string]string{key: strings.Join(slices.Sorted(maps.Values(e)), "; ")}
	})
}

// breachReopen undoes the marking of an obligation as met, with the
// reason from the form.
func (u *UI) breachReopen(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	form := formValues(r, "obligation", "reason")
	if _, err := u.Breach.Reopen(r.Context(), ref, form["obligation"], form["reason"]); err != nil {
		u.obligationInvalid(w, r, form["obligation"], "reason", err)
		return
	}
	c, err := u.Breach.Get(r.Context(), ref)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	redirect(w, r, withMsg("/incidents/"+c.IncidentNumber+"/breach", "breach_reopened"))
}

// holdOverride is the law-enforcement hold override of form (its
// hold_official and hold_reason), or nil when neither was filled in.
func holdOverride(form map[string]string) *breach.HoldOverride {
	if form["hold_official"] == "" && form["hold_reason"] == "" {
		return nil
	}
	return &breach.HoldOverride{Official: form["hold_official"], Reason: form["hold_reason"]}
}

// recipientNames are the obligation recipients as people read them.
var recipientNames = map[rules.Recipient]string{
	rules.ToIndividuals: "Individuals", rules.ToMedia: "Media", rules.ToHHS: "HHS (the Secretary)",
	rules.ToCoveredEntity: "Covered entity", rules.ToRegulator: "State regulator", rules.ToFTC: "FTC",
	rules.ToCRA: "Consumer reporting agencies",
}

// recipientName names an obligation's recipient for people.
func recipientName(r rules.Recipient) string {
	if n, ok := recipientNames[r]; ok {
		return n
	}
	return string(r)
}

// boardRow is one obligation on the deadline board.
type boardRow struct {
	breach.Obligation
	Days int // whole days left, or overdue when the state is overdue
}

func (u *UI) breachBoard(w http.ResponseWriter, r *http.Request) {
	obs, err := u.Breach.Board(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	now := u.Clock.Now()
	rows := make([]boardRow, len(obs))
	overdue := 0
	for i, o := range obs {
		rows[i] = boardRow{Obligation: o, Days: int(math.Ceil(math.Abs(o.Due.Sub(now).Hours()) / 24))}
		if o.State == breach.StateOverdue {
			overdue++
		}
	}
	u.render(w, r, http.StatusOK, "breach_board", "Breach deadlines", "breach", map[string]any{"Rows": rows, "Overdue": overdue})
}

// factsGroups reduces the facts form to one value per fact, by the fact's
// JSON name, so that two renderings of the form compare fact by fact:
// form holds the controls' values, picked the registry customers checked,
// tags the case tags checked.
func factsGroups(form map[string]string, picked map[string]bool, tags []string) map[string]string {
	g := map[string]string{}
	for _, k := range []string{"role", "discovered_at", "should_have_known_at", "individuals", "by_state"} {
		g[k] = form[k]
	}
	g["tags"] = strings.Join(slices.Sorted(slices.Values(tags)), ",")
	customers := []string{strings.Join(slices.Sorted(maps.Keys(picked)), ",")}
	for i := 0; ; i++ {
		id, ok := form[customerKey(i, "id")]
		if !ok {
			break
		}
		name, amount := form[customerKey(i, "name")], form[customerKey(i, "amount")]
		if id == "" && name == "" && amount == "" {
			continue
		}
		row := id + "|" + name + "|" + amount
		if amount != "" {
			row += "|" + form[customerKey(i, "unit")] + "|" + form[customerKey(i, "business")]
		}
		customers = append(customers, row)
	}
	g["customers"] = strings.Join(customers, ";")
	var delay []string
	for _, k := range []string{"oral_at", "oral_official", "oral_agency", "written_at", "written_until", "written_official", "written_agency"} {
		delay = append(delay, form[k])
	}
	g["law_enforcement_delay"] = strings.Join(delay, "|")
	return g
}

// renderedGroups is factsGroups as the facts form carries it (JSON).
func renderedGroups(form map[string]string, picked map[string]bool, tags []string) string {
	b, err := json.Marshal(factsGroups(form, picked, tags))
	if err != nil {
		return ""
	}
	return string(b)
}

// patch is the change the form makes: the facts whose values differ from
// those it was rendered with (rendered, factsGroups as JSON), so that a
// fact changed since, by an import say, is not written back stale. A form
// without them (rendered before they were) is compared with case c as it
// is now.
func (in factsInput) patch(rendered string, c breach.Case) breach.FactsPatch {
	var was map[string]string
	if json.Unmarshal([]byte(rendered), &was) != nil || was == nil {
		form, picked, _ := factsForm(c, nil)
		was = factsGroups(form, picked, c.Facts.Tags)
	}
	now := factsGroups(in.Form, in.Picked, in.Facts.Tags)
	p := breach.FactsPatch{To: in.Facts}
	for _, name := range slices.Sorted(maps.Keys(now)) {
		if now[name] == was[name] {
			continue
		}
		if name == "by_state" {
			p.ClearByState, p.ByState = true, map[string]*int{}
			for st, n := range in.Facts.ByState {
				p.ByState[st] = &n
			}
			continue
		}
		p.Set = append(p.Set, name)
	}
	return p
}
