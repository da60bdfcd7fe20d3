package ui

import (
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/notice"
)

// ---- notice templates and a case's notices (45 CFR 164.404-410) ----

// noticeRoutes are the notice pages' routes.
func (u *UI) noticeRoutes() []Route {
	return []Route{
		{Method: "GET", Pattern: "/notice-templates", Perm: authz.IncidentRead, handler: u.noticeTemplates},
		{Method: "POST", Pattern: "/notice-templates", Perm: authz.BreachWrite, handler: u.noticeTemplateCreate},
		{Method: "GET", Pattern: "/notice-templates/{template}", Perm: authz.IncidentRead, handler: u.noticeTemplateShow},
		{Method: "POST", Pattern: "/notice-templates/{template}/preview", Perm: authz.IncidentRead, ChangesNothing: true, handler: u.noticeTemplatePreview},
		{Method: "POST", Pattern: "/notice-templates/{template}/edit", Perm: authz.BreachWrite, handler: u.noticeTemplateEdit},
		{Method: "POST", Pattern: "/notice-templates/{template}/approve", Perm: authz.BreachSign, handler: u.noticeTemplateApprove},
		{Method: "GET", Pattern: "/incidents/{id}/notices", Perm: authz.IncidentRead, handler: u.noticesShow},
		{Method: "POST", Pattern: "/incidents/{id}/notices/settings", Perm: authz.BreachWrite, handler: u.noticeSettings},
		{Method: "POST", Pattern: "/incidents/{id}/notices/generate", Perm: authz.BreachWrite, handler: u.noticeGenerate},
		{Method: "POST", Pattern: "/incidents/{id}/notices/sent", Perm: authz.BreachWrite, handler: u.noticeSent},
		{Method: "POST", Pattern: "/incidents/{id}/notices/returns", Perm: authz.BreachWrite, MaxBody: MaxUploadBytes, handler: u.noticeReturns},
		{Method: "POST", Pattern: "/incidents/{id}/notices/substitute", Perm: authz.BreachWrite, handler: u.noticeSubstitute},
		{Method: "GET", Pattern: "/incidents/{id}/notices/files/{file}", Perm: authz.IncidentReadPHI, handler: u.noticeFile},
	}
}

type noticeTemplatesPage struct {
	Templates []notice.Template
	Kinds     []notice.Kind
	Form      map[string]string
	Errors    map[string]string
}

func (u *UI) noticeTemplates(w http.ResponseWriter, r *http.Request) {
	u.noticeTemplatesRender(w, r, http.StatusOK, map[string]string{}, nil)
}

func (u *UI) noticeTemplatesRender(w http.ResponseWriter, r *http.Request, status int, form, errs map[string]string) {
	ts, err := u.Notices.Templates(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, status, "notice_templates", "Notice templates", "breach",
		noticeTemplatesPage{Templates: ts, Kinds: notice.Kinds, Form: form, Errors: errs})
}

func (u *UI) noticeTemplateCreate(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "kind", "name", "subject", "body")
	t, err := u.Notices.CreateTemplate(r.Context(), notice.TemplateInput{Kind: notice.Kind(form["kind"]), Name: form["name"],
		Subject: form["subject"], Body: form["body"]})
	if err != nil {
		errs, ok := controlErrors(err)
		if !ok {
			u.fail(w, r, err)
			return
		}
		u.noticeTemplatesRender(w, r, http.StatusUnprocessableEntity, form, errs)
		return
	}
	redirect(w, r, "/notice-templates/"+t.TemplateID)
}

type noticeTemplatePage struct {
	Versions []notice.Template
	Latest   notice.Template
	Form     map[string]string
	Errors   map[string]string
	Preview  *notice.Preview
	HTML     template.HTML
	Goal     float64
}

func (u *UI) noticeTemplatePage(w http.ResponseWriter, r *http.Request, status int, form, errs map[string]string, preview *notice.Preview) {
	vs, err := u.Notices.Versions(r.Context(), r.PathValue("template"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	latest := vs[len(vs)-1]
	if form == nil {
		form = map[string]string{"name": latest.Name, "subject": latest.Subject, "body": latest.Body}
	}
	p := noticeTemplatePage{Versions: vs, Latest: latest, Form: form, Errors: errs, Preview: preview, Goal: notice.GoalGrade}
	if preview != nil {
		// goldmark renders no raw HTML and drops dangerous link targets,
		// and the data merged is sample data.
		p.HTML = template.HTML(preview.HTML)
	}
	u.render(w, r, status, "notice_template", "Notice template "+latest.Name, "breach", p)
}

func (u *UI) noticeTemplateShow(w http.ResponseWriter, r *http.Request) {
	u.noticeTemplatePage(w, r, http.StatusOK, nil, nil, nil)
}

func (u *UI) noticeTemplatePreview(w http.ResponseWriter, r *http.Request) {
	vs, err := u.Notices.Versions(r.Context(), r.PathValue("template"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	form := formValues(r, "name", "subject", "body")
	p, err := u.Notices.PreviewTemplate(r.Context(), notice.TemplateInput{Kind: vs[0].Kind, Name: form["name"], Subject: form["subject"],
		Body: form["body"]})
	if err != nil {
		errs, ok := controlErrors(err)
		if !ok {
			u.fail(w, r, err)
			return
		}
		u.noticeTemplatePage(w, r, http.StatusUnprocessableEntity, form, errs, nil)
		return
	}
	u.noticeTemplatePage(w, r, http.StatusOK, form, nil, &p)
}

func (u *UI) noticeTemplateEdit(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "name", "subject", "body")
	_, err := u.Notices.UpdateTemplate(r.Context(), r.PathValue("template"), notice.TemplateInput{Name: form["name"],
		Subject: form["subject"], Body: form["body"]})
	if err != nil {
		errs, ok := controlErrors(err)
		if !ok {
			u.fail(w, r, err)
			return
		}
		u.noticeTemplatePage(w, r, http.StatusUnprocessableEntity, form, errs, nil)
		return
	}
	redirect(w, r, "/notice-templates/"+r.PathValue("template"))
}

func (u *UI) noticeTemplateApprove(w http.ResponseWriter, r *http.Request) {
	if _, err := u.Notices.ApproveTemplate(r.Context(), r.PathValue("template")); err != nil {
		errs, ok := controlErrors(err)
		if !ok {
			u.fail(w, r, err)
			return
		}
		u.noticeTemplatePage(w, r, http.StatusUnprocessableEntity, nil, errs, nil)
		return
	}
	redirect(w, r, "/notice-templates/"+r.PathValue("template"))
}

// noticesPageSize is how many notices the notices page lists at a time.
const noticesPageSize = 100

// noticesList is the page of case c's notices the request asks for (its
// status filter, after its cursor), with the links to the next page and
// back to the first.
func (u *UI) noticesList(r *http.Request, c breach.Case) (list []notice.Notice, next, first template.URL, err error) {
	q := r.URL.Query()
	path := "/incidents/" + url.PathEscape(c.IncidentNumber) + "/notices"
	list, after, err := u.Notices.NoticesNamed(r.Context(), c.IncidentNumber, q.Get("status"), q.Get("after"), noticesPageSize)
	if err != nil {
		return nil, "", "", err
	}
	if after != "" {
		next = nextPageLink(path, q, "after", after) + "#list"
	}
	if q.Get("after") != "" {
		rest := url.Values{}
		if status := q.Get("status"); status != "" {
			rest.Set("status", status)
		}
		first = pageLink(path, rest) + "#list"
	}
	return list, next, first, nil
}

type noticesPage struct {
	Case     breach.Case
	Settings notice.Settings
	Summary  notice.Summary
	Notices  []notice.Notice
	// First and Next link to the first page of the list and the one after
	// this, keeping its status filter; empty when there is none.
	First, Next template.URL
	Errors      map[string]string
	// Hold is the law-enforcement hold in force now, if any (164.412).
	Hold *breach.Hold
}

func (u *UI) noticesRender(w http.ResponseWriter, r *http.Request, status int, errs map[string]string) {
	ref := r.PathValue("id")
	c, err := u.Breach.Get(r.Context(), ref)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p := noticesPage{Case: c, Errors: errs}
	if p.Hold, err = u.Breach.HoldNow(r.Context(), c); err == nil {
		p.Settings, err = u.Notices.GetSettings(r.Context(), ref)
	}
	if err == nil {
		if p.Summary, err = u.Notices.Summarize(r.Context(), ref); err == nil {
			p.Notices, p.Next, p.First, err = u.noticesList(r, c)
		}
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, status, "notices", "Notices of "+c.IncidentNumber, "breach", p)
}

func (u *UI) noticesShow(w http.ResponseWriter, r *http.Request) {
	u.noticesRender(w, r, http.StatusOK, nil)
}

// noticeDone answers a notices form: its errors on the notices page, or,
// done, a redirect to the page with flash msg and its counts (Post/
// Redirect/Get: a reload does not send the form again).
func (u *UI) noticeDone(w http.ResponseWriter, r *http.Request, err error, msg string, counts map[string]int) {
	if err != nil {
		errs, ok := controlErrors(err)
		if !ok {
			e, isApp := apperr.As(err)
			if !isApp || e.Code != apperr.Conflict {
				u.fail(w, r, err)
				return
			}
			errs = map[string]string{"action": e.Message}
		}
		u.noticesRender(w, r, http.StatusUnprocessableEntity, errs)
		return
	}
	q := url.Values{"msg": {msg}}
	for k, n := range counts {
		q.Set(k, strconv.Itoa(n))
	}
	redirect(w, r, string(pageLink("/incidents/"+url.PathEscape(r.PathValue("id"))+"/notices", q)))
}

func (u *UI) noticeSettings(w http.ResponseWriter, r *http.Request) {
	f := formValues(r, "entity_name", "entity_address", "signer_name", "signer_title", "toll_free", "email", "website", "postal_address",
		"occurred_on", "what_happened", "phi_involved", "steps_to_take", "what_we_are_doing")
	_, err := u.Notices.SaveSettings(r.Context(), r.PathValue("id"), notice.Settings{EntityName: f["entity_name"],
		EntityAddress: f["entity_address"], SignerName: f["signer_name"], SignerTitle: f["signer_title"], TollFree: f["toll_free"],
		Email: f["email"], Website: f["website"], PostalAddress: f["postal_address"], OccurredOn: f["occurred_on"],
		WhatHappened: f["what_happened"], PHIInvolved: f["phi_involved"], StepsToTake: f["steps_to_take"], WhatWeAreDoing: f["what_we_are_doing"]})
	u.noticeDone(w, r, err, "notice_settings", nil)
}

// noticeGenerate runs letters, emails or documents. A run of letters or
// emails takes minutes at the scale of a large breach, longer than the
// server's read and write timeouts, so it lifts both for this request.
func (u *UI) noticeGenerate(w http.ResponseWriter, r *http.Request) {
	liftDeadlines(w, uploadTime)
	ref, what := r.PathValue("id"), r.PostFormValue("what")
	hold := holdOverride(formValues(r, "hold_official", "hold_reason"))
	var run notice.Run
	var err error
	switch what {
	case "letters":
		run, err = u.Notices.GenerateLetters(r.Context(), ref, "", hold)
		u.noticeDone(w, r, err, "letters_generated", map[string]int{"n": run.Notices})
	case "emails":
		run, err = u.Notices.SendEmails(r.Context(), ref, "", hold)
		u.noticeDone(w, r, err, "emails_sent", map[string]int{"sent": run.Sent, "refused": run.Failed, "deferred": run.Deferred})
	default:
		run, err = u.Notices.GenerateDocuments(r.Context(), ref, notice.Kind(what), "", hold)
		u.noticeDone(w, r, err, "notices_generated", map[string]int{"n": run.Notices})
	}
}

func (u *UI) noticeSent(w http.ResponseWriter, r *http.Request) {
	f := formValues(r, "run_id", "notice_id", "sent_at", "receipt", "hold_official", "hold_reason")
	var at time.Time
	t, err := formTime("sent_at", f["sent_at"])
	if err == nil && t != nil {
		at = *t
	}
	n := 0
	if err == nil {
		n, err = u.Notices.MarkSent(r.Context(), r.PathValue("id"), f["run_id"], f["notice_id"], at, f["receipt"], holdOverride(f))
	}
	u.noticeDone(w, r, err, "notices_sent", map[string]int{"n": n})
}

func (u *UI) noticeReturns(w http.ResponseWriter, r *http.Request) {
	file, _, err := r.FormFile("returns")
	if err != nil {
		u.noticeDone(w, r, apperr.Field("returns", "choose a CSV file of returned notices"), "", nil)
		return
	}
	defer file.Close()
	res, err := u.Notices.RecordReturns(r.Context(), r.PathValue("id"), io.LimitReader(file, 64<<20))
	u.noticeDone(w, r, err, "returns_recorded", map[string]int{"n": res.Recorded, "unmatched": len(res.Problems)})
}

func (u *UI) noticeSubstitute(w http.ResponseWriter, r *http.Request) {
	f := formValues(r, "posting_started_at", "toll_free_started_at", "toll_free_number", "posting_url", "hold_official", "hold_reason")
	posting, err := formTime("posting_started_at", f["posting_started_at"])
	var toll *time.Time
	if err == nil {
		toll, err = formTime("toll_free_started_at", f["toll_free_started_at"])
	}
	if err == nil {
		_, err = u.Notices.StartSubstitute(r.Context(), r.PathValue("id"), notice.SubstituteInput{PostingStartedAt: posting,
			TollFreeStartedAt: toll, TollFreeNumber: f["toll_free_number"], PostingURL: f["posting_url"], Hold: holdOverride(f)})
	}
	u.noticeDone(w, r, err, "substitute_started", nil)
}

func (u *UI) noticeFile(w http.ResponseWriter, r *http.Request) {
	f, content, err := u.Notices.ReadFile(r.Context(), r.PathValue("id"), r.PathValue("file"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	attachment(w, f.ContentType, f.Name, content)
}
