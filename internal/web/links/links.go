// Package links serves the acknowledge and resolve links that pages carry:
// GET /a/{token} shows what the link will do and asks to confirm (so that
// a mail scanner that follows links changes nothing), POST /a/{token}
// does it, once, as the person the link was sent to. Likewise the links
// of email to external subscribers: GET /s/{token} shows, POST /s/{token}
// confirms a subscription or unsubscribes (also the RFC 8058 one-click
// POST a mail client sends), without a sign-in. And the calendar
// subscription addresses: GET /cal/{token} is a person's on-call shifts
// as an iCalendar feed, for a calendar application that cannot sign in.
// And the status pages: GET /s/{token} with a subscriber's status page
// link shows the updates meant for them, once the one-time code emailed to
// them is entered (POST /s/{token} sends and checks it); GET /p/{token} is
// an incident's public status page, and GET /status the organisation's,
// while an officer has it turned on.
package links

import (
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/paging"
	"github.com/wardhq/ward/internal/stakeholder"
)

// Deps are what the link pages need.
type Deps struct {
	Pager        *paging.Pager
	Stakeholders *stakeholder.Service
	Log          *slog.Logger
}

// Register adds the link pages to mux.
func Register(mux *http.ServeMux, d Deps) {
	h := handler{d}
	mux.HandleFunc("GET /a/{token}", h.show)
	mux.HandleFunc("POST /a/{token}", h.use)
	mux.HandleFunc("GET /s/{token}", h.showExternal)
	mux.HandleFunc("POST /s/{token}", h.useExternal)
	mux.HandleFunc("GET /cal/{token}", h.calendar)
	mux.HandleFunc("GET /p/{token}", h.publicStatus)
	mux.HandleFunc("GET "+stakeholder.OrgStatusPagePath, h.orgStatus)
}

type handler struct{ Deps }

var page = template.Must(template.New("link").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ward: {{.Title}}</title><link rel="stylesheet" href="/static/app.css"></head>
<body><main class="narrow"><h1>{{.Title}}</h1><p>{{.Text}}</p>
{{if .Confirm}}<form method="post"><button type="submit">{{.Confirm}}</button></form>{{end}}
{{if .Incident}}{{if not .External}}<p><a href="/incidents/{{.Incident}}">Open {{.Incident}} in Ward</a> (sign-in required)</p>{{end}}{{end}}
</main></body></html>
`))

type view struct {
	Title, Text, Confirm, Incident string
	// External says the page is for a person outside Ward, who has no
	// sign-in to follow a link with.
	External bool
}

func (h handler) render(w http.ResponseWriter, status int, v view) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = page.Execute(w, v)
}

var verbs = map[string]string{"acknowledge": "Acknowledge", "resolve": "Resolve", "escalate": "Escalate"}

// show is GET /a/{token}.
func (h handler) show(w http.ResponseWriter, r *http.Request) {
	li, err := h.Pager.PeekLink(r.Context(), r.PathValue("token"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.render(w, http.StatusOK, view{Title: verbs[li.Action] + " " + li.Incident,
		Text:    "This link was sent to " + li.Username + ". It works once.",
		Confirm: verbs[li.Action] + " " + li.Incident + " as " + li.Username, Incident: li.Incident})
}

// use is POST /a/{token}.
func (h handler) use(w http.ResponseWriter, r *http.Request) {
	li, err := h.Pager.UseLink(r.Context(), r.PathValue("token"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	done := map[string]string{"acknowledge": "acknowledged", "resolve": "resolved", "escalate": "escalated"}[li.Action]
	h.render(w, http.StatusOK, view{Title: li.Incident + " " + done, Text: "The page was " + done + " as " + li.Username + ".",
		Incident: li.Incident})
}

var statusPage = template.Must(template.New("status").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>Status of incident {{.Incident}}{{with .Organisation}} at {{.}}{{end}}</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body><main class="narrow">
<h1>Status of incident {{.Incident}}</h1>
<p>{{with .Organisation}}From {{.}}. {{end}}{{if .Personal}}This page is for {{.AudienceLabel}} and was sent to you alone: please do not forward its address.{{else}}This page is public.{{end}}</p>
<h2>Where things stand</h2>
<p>Right now {{.Phase}}.</p>
<p>{{with .NextUpdateDueAt}}The next update is due by <time datetime="{{.Format "2006-01-02T15:04:05Z07:00"}}">{{.Format "2 January 2006 15:04 MST"}}</time>.{{else}}We will post an update when there is news.{{end}}</p>
<h2>Updates, newest first</h2>
{{range .Updates}}<article>
<h3><time datetime="{{.PostedAt.Format "2006-01-02T15:04:05Z07:00"}}">{{.PostedAt.Format "2 January 2006 15:04 MST"}}</time>{{if $.Personal}}, for {{.AudienceLabel}}{{end}}</h3>
<p class="update-text">{{.Body}}</p>
</article>
{{else}}<p>There are no updates yet.</p>
{{end}}</main></body></html>
`))

type statusView struct {
	stakeholder.StatusPage
	// Personal says the page is a subscriber's own, reached by their link.
	Personal bool
}

func (h handler) renderStatus(w http.ResponseWriter, v statusView) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Robots-Tag", "noindex")
	w.WriteHeader(http.StatusOK)
	_ = statusPage.Execute(w, v)
}

// publicStatus is GET /p/{token}: an incident's public status page.
func (h handler) publicStatus(w http.ResponseWriter, r *http.Request) {
	p, err := h.Stakeholders.PublicStatusPage(r.Context(), r.PathValue("token"))
	if err != nil {
		h.failStatus(w, r, err)
		return
	}
	h.renderStatus(w, statusView{StatusPage: p})
}

var orgPage = template.Must(template.New("org").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Status{{with .Organisation}} of {{.}}{{end}}</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body><main class="narrow">
<h1>Status{{with .Organisation}} of {{.}}{{end}}</h1>
<p>This page is public. It lists the incidents we keep the public informed of, with the updates we wrote for the public.</p>
{{range .Incidents}}<section aria-labelledby="incident-{{.Incident}}">
<h2 id="incident-{{.Incident}}">Incident {{.Incident}}</h2>
<p>Right now {{.Phase}}. {{with .NextUpdateDueAt}}The next update is due by <time datetime="{{.Format "2006-01-02T15:04:05Z07:00"}}">{{.Format "2 January 2006 15:04 MST"}}</time>.{{else}}We will post an update when there is news.{{end}}</p>
{{range .Updates}}<article>
<h3><time datetime="{{.PostedAt.Format "2006-01-02T15:04:05Z07:00"}}">{{.PostedAt.Format "2 January 2006 15:04 MST"}}</time></h3>
<p class="update-text">{{.Body}}</p>
</article>
{{else}}<p>There are no updates yet.</p>
{{end}}</section>
{{else}}<p>There are no incidents to report.</p>
{{end}}</main></body></html>
`))

// orgStatus is GET /status: the organisation's public status page, while
// an officer has it on.
func (h handler) orgStatus(w http.ResponseWriter, r *http.Request) {
	p, err := h.Stakeholders.OrgStatusPage(r.Context())
	if err != nil {
		h.failStatus(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(http.StatusOK)
	_ = orgPage.Execute(w, p)
}

// showExternal is GET /s/{token}: a subscriber's status page (or the
// page asking for the one-time code that opens it), or what a confirm or
// unsubscribe link will do.
func (h handler) showExternal(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	var session string
	if c, err := r.Cookie(stakeholder.StatusSessionCookie); err == nil {
		session = c.Value
	}
	p, g, open, ok, err := h.Stakeholders.OpenStatusPage(r.Context(), token, session)
	if ok {
		switch {
		case err != nil:
			h.failStatus(w, r, err)
		case open:
			h.renderStatus(w, statusView{StatusPage: p, Personal: true})
		default:
			h.renderGate(w, http.StatusOK, gateView{StatusGate: g})
		}
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	li, err := h.Stakeholders.PeekExternalLink(r.Context(), r.PathValue("token"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := view{Incident: li.Incident, External: true}
	switch {
	case li.Purpose == "confirm" && li.Done:
		v.Title, v.Text = "Already confirmed", "You receive the status updates of "+li.Incident+" by email."
	case li.Purpose == "confirm":
		v.Title, v.Text, v.Confirm = "Confirm status updates on "+li.Incident,
			"Confirm that you want the status updates of incident "+li.Incident+" by email. This link works once.", "Confirm"
	case li.Done:
		v.Title, v.Text = "Unsubscribed", "You receive no more status updates of "+li.Incident+"."
	default:
		v.Title, v.Text, v.Confirm = "Unsubscribe from "+li.Incident,
			"Stop the status updates of incident "+li.Incident+" by email.", "Unsubscribe"
	}
	h.render(w, http.StatusOK, v)
}

// useExternal is POST /s/{token}: the form's button, or a mail client's
// one-click unsubscribe (RFC 8058); on a status page link, the forms that
// send a code and check it.
func (h handler) useExternal(w http.ResponseWriter, r *http.Request) {
	if ok, err := h.Stakeholders.IsStatusLink(r.Context(), r.PathValue("token")); err != nil {
		h.fail(w, r, err)
		return
	} else if ok {
		h.statusCode(w, r)
		return
	}
	li, err := h.Stakeholders.UseExternalLink(r.Context(), r.PathValue("token"))
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := view{Incident: li.Incident, External: true}
	if li.Purpose == "confirm" {
		v.Title, v.Text = "Confirmed", "You will receive the status updates of "+li.Incident+" by email. Each one has a link to stop them."
	} else {
		v.Title, v.Text = "Unsubscribed", "You receive no more status updates of "+li.Incident+"."
	}
	h.render(w, http.StatusOK, v)
}

var gatePage = template.Must(template.New("gate").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex"><title>{{if .Error}}Error: {{end}}Open the status page of incident {{.Incident}}</title>
<link rel="stylesheet" href="/static/app.css"></head>
<body><main class="narrow">
<h1>Open the status page of incident {{.Incident}}</h1>
{{with .Notice}}<p role="status">{{.}}</p>{{end}}
<p>This page is for the person it was emailed to. To open it, we email a code to that address, {{.MaskedEmail}}.</p>
<form method="post">
<input type="hidden" name="action" value="send">
<button type="submit">{{if .CodeSent}}Send a new code{{else}}Email me a code{{end}}</button>
{{with .SendError}}<p class="field-error" id="send-error" role="alert">{{.}}</p>{{end}}
</form>
{{if or .CodeSent .CodeError}}<form method="post" novalidate>
<input type="hidden" name="action" value="check">
<div class="field">
<label for="code">Code from the email (6 digits)</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="12" required{{if .CodeError}} aria-invalid="true" aria-describedby="code-error"{{end}}>
{{with .CodeError}}<p class="field-error" id="code-error" role="alert">{{.}}</p>{{end}}
</div>
<button type="submit">Open the page</button>
</form>{{end}}
<p>The code works once, for 10 minutes, and only on this page. If you did not ask for this page, you can close it.</p>
</main></body></html>
`))

type gateView struct {
	stakeholder.StatusGate
	// Notice says what was just done; SendError and CodeError why a form
	// was refused, beside its field.
	Notice, SendError, CodeError string
	// Error says the page shows an error, for its title.
	Error bool
}

func (h handler) renderGate(w http.ResponseWriter, status int, v gateView) {
	v.Error = v.SendError != "" || v.CodeError != ""
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	w.Header().Set("X-Robots-Tag", "noindex")
	w.WriteHeader(status)
	_ = gatePage.Execute(w, v)
}

// statusCode is POST /s/{token} on a status page link: action "send"
// emails a new code, action "check" checks the code entered and, if it is
// right, sets the cookie that opens this page alone and shows it.
func (h handler) statusCode(w http.ResponseWriter, r *http.Request) {
	token := r.PathValue("token")
	switch r.PostFormValue("action") {
	case "check":
	case "send":
		g, err := h.Stakeholders.SendStatusCode(r.Context(), token)
		if e, ok := apperr.As(err); ok && e.Code == apperr.TooSoon {
			h.renderGate(w, http.StatusTooManyRequests, gateView{StatusGate: g, SendError: e.Message})
			return
		}
		if err != nil {
			h.failStatus(w, r, err)
			return
		}
		h.renderGate(w, http.StatusOK, gateView{StatusGate: g, Notice: "We have emailed a code to " + g.MaskedEmail + ". It can take a minute to arrive."})
		return
	default:
		h.fail(w, r, apperr.New(apperr.Invalid, "this page only sends a code and checks it"))
		return
	}
	session, g, err := h.Stakeholders.CheckStatusCode(r.Context(), token, r.PostFormValue("code"))
	if e, ok := apperr.As(err); ok && e.Code == apperr.Invalid && len(e.Fields) == 1 {
		if g.Incident == "" {
			// Refused before the link was read (not 6 digits): read it
			// for the page.
			_, g, _, _, err = h.Stakeholders.OpenStatusPage(r.Context(), token, "")
			if err != nil {
				h.failStatus(w, r, err)
				return
			}
		}
		h.renderGate(w, http.StatusUnprocessableEntity, gateView{StatusGate: g, CodeError: "The code " + e.Fields[0].Message + "."})
		return
	}
	if err != nil {
		h.failStatus(w, r, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: stakeholder.StatusSessionCookie, Value: session, Path: "/s/" + token,
		MaxAge: int(stakeholder.StatusSessionTTL / time.Second), Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	http.Redirect(w, r, "/s/"+token, http.StatusSeeOther)
}

// calendar is GET /cal/{token}. A calendar application shows no page, so
// an address that does not work is answered in plain text.
func (h handler) calendar(w http.ResponseWriter, r *http.Request) {
	cal, err := h.Pager.FeedCalendar(r.Context(), r.PathValue("token"), "ward")
	if apperr.CodeOf(err) == apperr.NotFound {
		w.Header().Set("Cache-Control", "no-store")
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/calendar; charset=utf-8")
	w.Header().Set("Cache-Control", "private, no-cache")
	_, _ = w.Write(cal)
}

// failStatus answers a status page that cannot be shown: not found
// (unknown, expired, revoked or turned off) in plain words.
func (h handler) failStatus(w http.ResponseWriter, r *http.Request, err error) {
	if e, ok := apperr.As(err); ok && e.Code == apperr.NotFound {
		h.render(w, http.StatusNotFound, view{Title: "This status page is not available", Text: e.Message, External: true})
		return
	}
	h.fail(w, r, err)
}

func (h handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *apperr.Error
	if !errors.As(err, &e) || e.Code == apperr.Internal {
		h.Log.ErrorContext(r.Context(), "action_link_failed", "request_id", authz.RequestFrom(r.Context()).ID, "error", err)
		h.render(w, http.StatusInternalServerError, view{Title: "Something went wrong", Text: "Ward could not do this; try again."})
		return
	}
	status := map[apperr.Code]int{apperr.NotFound: http.StatusNotFound, apperr.Forbidden: http.StatusForbidden,
		apperr.Conflict: http.StatusConflict}[e.Code]
	if status == 0 {
		status = http.StatusBadRequest
	}
	h.render(w, status, view{Title: "Nothing was changed", Text: e.Message})
}
