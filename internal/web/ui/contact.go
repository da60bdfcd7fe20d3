package ui

import (
	"net/http"
	"net/url"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/paging"
)

// contactKinds name the choices of the contact-method form.
var contactKinds = []choice{
	{string(paging.ContactEmail), "Email"},
	{string(paging.ContactSMS), "SMS (text message)"},
	{string(paging.ContactVoice), "Voice call"},
	{string(paging.ContactSlack), "Slack"},
	{string(paging.ContactTeams), "Microsoft Teams"},
	{string(paging.ContactWebhook), "Webhook (signed HTTPS request)"},
}

// statusChoices name the choices of the form's status notifications.
var statusChoices = []choice{
	{"default", "On for webhook, Slack and Teams; off for email, SMS and voice"},
	{"on", "On"},
	{"off", "Off"},
}

type ruleView struct {
	paging.Rule
	Contact string
}

type contactPage struct {
	// Base is where the page's forms post: /profile for one's own methods,
	// /admin/users/{user} for an administrator managing someone else's.
	// Who names that person for the administrator, or is empty.
	Base     string
	Who      string
	Contacts []paging.ContactMethod
	Rules    []ruleView
	Kinds    []choice
	// Statuses are the choices of status notifications.
	Statuses []choice
	// New is the webhook just created and Secret the key that signs its
	// requests, shown this once.
	New    *paging.ContactMethod
	Secret string
	Form   map[string]string
	Errors map[string]string
}

// nav is the navigation section the page belongs to.
func (p contactPage) nav() string {
	if p.Who != "" {
		return "users"
	}
	return "profile"
}

// contactOwner is whose contact methods the request is about: the
// signed-in person's (under /profile), or those of the user in the path
// (under /admin/users/{user}, for administrators); and the pages' base.
func contactOwner(r *http.Request) (ref, base string) {
	if who := r.PathValue("user"); who != "" {
		return who, "/admin/users/" + url.PathEscape(who)
	}
	return "me", "/profile"
}

func (u *UI) contactData(r *http.Request) (contactPage, error) {
	ref, base := contactOwner(r)
	cs, err := u.Pager.Contacts(r.Context(), ref)
	if err != nil {
		return contactPage{}, err
	}
	rs, err := u.Pager.Rules(r.Context(), ref)
	if err != nil {
		return contactPage{}, err
	}
	p := contactPage{Base: base, Contacts: cs, Kinds: contactKinds, Statuses: statusChoices,
		Form: map[string]string{"kind": string(paging.ContactEmail), "delay_minutes": "0", "status_updates": "default"}}
	if ref != "me" {
		p.Who = ref
	}
	labels := map[string]string{}
	for _, c := range cs {
		labels[c.ID] = c.Label + " (" + c.Hint + ")"
	}
	for _, rl := range rs {
		p.Rules = append(p.Rules, ruleView{Rule: rl, Contact: labels[rl.ContactMethodID]})
	}
	return p, nil
}

func (u *UI) contactShow(w http.ResponseWriter, r *http.Request) {
	p, err := u.contactData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "contact", "Contact methods", p.nav(), p)
}

// contactWithErrors re-renders the page with one form's values and errors;
// rename maps the fields paging names to that form's controls.
func (u *UI) contactWithErrors(w http.ResponseWriter, r *http.Request, err error, form, rename map[string]string) {
	fe, ok := fieldErrors(err)
	if e, isApp := apperr.As(err); !ok && isApp && (e.Code == apperr.Conflict || e.Code == apperr.NotFound) {
		fe, ok = map[string]string{"_": e.Message}, true
	}
	if !ok {
		u.fail(w, r, err)
		return
	}
	p, perr := u.contactData(r)
	if perr != nil {
		u.fail(w, r, perr)
		return
	}
	for k, v := range form {
		p.Form[k] = v
	}
	p.Errors = map[string]string{}
	for k, v := range fe {
		if c, ok := rename[k]; ok {
			k = c
		} else if k != "_" {
			k, v = "_", k+": "+v
		}
		p.Errors[k] = v
	}
	u.render(w, r, http.StatusUnprocessableEntity, "contact", "Contact methods", p.nav(), p)
}

func (u *UI) contactCreate(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "kind", "label", "address", "status_updates")
	ref, base := contactOwner(r)
	in := paging.ContactInput{Kind: paging.ContactKind(form["kind"]), Label: form["label"], Address: form["address"]}
	var err error
	switch form["status_updates"] {
	case "", "default":
	case "on", "off":
		on := form["status_updates"] == "on"
		in.StatusUpdates = &on
	default:
		err = apperr.Field("status_updates", "must be default, on or off")
	}
	var c paging.ContactMethod
	var secret string
	if err == nil {
		c, secret, err = u.Pager.CreateContact(r.Context(), ref, in)
	}
	if err != nil {
		u.contactWithErrors(w, r, err, form, map[string]string{"kind": "kind", "label": "label", "address": "address",
			"status_updates": "status_updates"})
		return
	}
	if secret == "" {
		redirect(w, r, base+"/contact?msg=contact_added")
		return
	}
	p, err := u.contactData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p.New, p.Secret = &c, secret
	// The secret must not stay in any cache: it is shown this once.
	w.Header().Set("Cache-Control", "no-store")
	u.render(w, r, http.StatusCreated, "contact", "Contact methods", p.nav(), p)
}

func (u *UI) contactVerify(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("contact")
	// Each unverified method has its own code control, named for it.
	if _, err := u.Pager.VerifyContact(r.Context(), id, r.PostFormValue("code-"+id)); err != nil {
		u.contactWithErrors(w, r, err, nil, map[string]string{"code": "code-" + id})
		return
	}
	_, base := contactOwner(r)
	redirect(w, r, base+"/contact?msg=contact_verified")
}

func (u *UI) contactResend(w http.ResponseWriter, r *http.Request) {
	if err := u.Pager.ResendVerification(r.Context(), r.PathValue("contact")); err != nil {
		u.contactWithErrors(w, r, err, nil, nil)
		return
	}
	_, base := contactOwner(r)
	redirect(w, r, base+"/contact?msg=code_sent")
}

func (u *UI) contactStatusUpdates(w http.ResponseWriter, r *http.Request) {
	on := r.PostFormValue("status_updates")
	if on != "on" && on != "off" {
		u.contactWithErrors(w, r, apperr.Field("status_updates", "must be on or off"), nil, nil)
		return
	}
	if _, err := u.Pager.SetStatusUpdates(r.Context(), r.PathValue("contact"), on == "on"); err != nil {
		u.contactWithErrors(w, r, err, nil, nil)
		return
	}
	_, base := contactOwner(r)
	redirect(w, r, base+"/contact?msg=contact_updated")
}

func (u *UI) contactDelete(w http.ResponseWriter, r *http.Request) {
	if err := u.Pager.DeleteContact(r.Context(), r.PathValue("contact")); err != nil {
		u.fail(w, r, err)
		return
	}
	_, base := contactOwner(r)
	redirect(w, r, base+"/contact?msg=contact_deleted")
}

func (u *UI) ruleCreate(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "contact_method_id", "delay_minutes")
	rename := map[string]string{"contact_method_id": "contact_method_id", "delay_minutes": "delay_minutes"}
	delay, err := formInt("delay_minutes", form["delay_minutes"], 0)
	if err == nil {
		ref, _ := contactOwner(r)
		_, err = u.Pager.CreateRule(r.Context(), ref, form["contact_method_id"], delay)
	}
	if err != nil {
		u.contactWithErrors(w, r, err, form, rename)
		return
	}
	_, base := contactOwner(r)
	redirect(w, r, base+"/contact?msg=rule_added#rules")
}

func (u *UI) ruleDelete(w http.ResponseWriter, r *http.Request) {
	if err := u.Pager.DeleteRule(r.Context(), r.PathValue("rule")); err != nil {
		u.fail(w, r, err)
		return
	}
	_, base := contactOwner(r)
	redirect(w, r, base+"/contact?msg=rule_deleted#rules")
}

// pagingView is the incident page's paging section.
type pagingView struct {
	Page          paging.Page
	Policy        string
	Steps         int
	Notifications []paging.Notification
	// CanEscalate: the page is open and its policy has a next step (or
	// repeat) to escalate to; CanRepage: it is acknowledged or its alarm
	// stands, so paging again from step 1 is offered.
	CanEscalate, CanRepage bool
}

// pagingOf returns incident ref's paging, or nil when it was never paged.
func (u *UI) pagingOf(r *http.Request, ref string) (*pagingView, error) {
	pg, err := u.Pager.PageOf(r.Context(), ref)
	if apperr.CodeOf(err) == apperr.NotFound {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	v := &pagingView{Page: pg, Policy: pg.PolicyID}
	if pol, err := u.Pager.GetPolicy(r.Context(), pg.PolicyID); err == nil {
		v.Policy, v.Steps = pol.Name, len(pol.Steps)
		_, _, next := paging.NextStep(pol, pg.Step, pg.Round)
		v.CanEscalate = next && pg.Status != paging.PageResolved
	} else if apperr.CodeOf(err) != apperr.NotFound {
		return nil, err
	}
	v.CanRepage = pg.Status == paging.PageAcknowledged || pg.Status == paging.PageTriggered && pg.Alarm != ""
	if v.Notifications, err = u.Pager.Notifications(r.Context(), ref); err != nil {
		return nil, err
	}
	return v, nil
}

func (u *UI) pageAcknowledge(w http.ResponseWriter, r *http.Request) {
	if _, err := u.Pager.Acknowledge(r.Context(), r.PathValue("id")); err != nil {
		u.showWithErrors(w, r, err, nil)
		return
	}
	redirect(w, r, "/incidents/"+url.PathEscape(r.PathValue("id"))+"?msg=page_acknowledged#paging")
}

func (u *UI) pageEscalate(w http.ResponseWriter, r *http.Request) {
	if _, err := u.Pager.Escalate(r.Context(), r.PathValue("id")); err != nil {
		u.showWithErrors(w, r, err, nil)
		return
	}
	redirect(w, r, "/incidents/"+url.PathEscape(r.PathValue("id"))+"?msg=page_escalated#paging")
}

func (u *UI) pageRepage(w http.ResponseWriter, r *http.Request) {
	if _, err := u.Pager.Repage(r.Context(), r.PathValue("id")); err != nil {
		u.showWithErrors(w, r, err, nil)
		return
	}
	redirect(w, r, "/incidents/"+url.PathEscape(r.PathValue("id"))+"?msg=page_repaged#paging")
}

func (u *UI) pageResolve(w http.ResponseWriter, r *http.Request) {
	if _, err := u.Pager.Resolve(r.Context(), r.PathValue("id")); err != nil {
		u.showWithErrors(w, r, err, nil)
		return
	}
	redirect(w, r, "/incidents/"+url.PathEscape(r.PathValue("id"))+"?msg=page_resolved#paging")
}
