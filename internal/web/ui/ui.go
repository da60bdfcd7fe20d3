// Package ui is Ward's web interface: server-rendered html/template pages,
// enhanced by htmx, embedded in the binary. Every route is declared in one
// table with the permission it needs (routes.go); handlers parse, call one
// service method and render, and the services check permissions again.
package ui

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	breachrules "github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/evidence"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/labels"
	"github.com/wardhq/ward/internal/notice"
	"github.com/wardhq/ward/internal/paging"
	"github.com/wardhq/ward/internal/playbook"
	"github.com/wardhq/ward/internal/report"
	"github.com/wardhq/ward/internal/retention"
	"github.com/wardhq/ward/internal/rules"
	"github.com/wardhq/ward/internal/sso"
	"github.com/wardhq/ward/internal/stakeholder"
	"github.com/wardhq/ward/internal/user"
)

//go:embed templates static
var assets embed.FS

// SessionCookie is the session cookie's name. Its __Host- prefix makes
// browsers take it only with Secure, Path=/ and no Domain, so neither a
// page of a sibling subdomain nor one served over plain HTTP can set or
// overwrite it (session fixation).
const SessionCookie = "__Host-ward_session"

// InsecureSessionCookie is the session cookie's name under
// --insecure-http, where the cookie is sent without Secure (Ward cannot
// tell whether the browser reached the load balancer over HTTPS), which
// the __Host- prefix does not allow.
const InsecureSessionCookie = "ward_session"

// Deps are the services the UI calls.
type Deps struct {
	DB        *db.DB
	Incidents *incident.Service
	// Alerts serves the alerting pages and the incident page's alerts.
	Alerts *alert.Intake
	// Pager serves the on-call, escalation and contact pages and the
	// incident page's paging section.
	Pager *paging.Pager
	// Stakeholders serves the stakeholder-group and SLA-policy pages and
	// the incident page's stakeholders and SLA section.
	Stakeholders *stakeholder.Service
	Users        *user.Service
	// SSO signs people in through an OpenID Connect provider; nil: only
	// local accounts.
	SSO *sso.Client
	// Breach serves the breach-case pages, the deadline board and the
	// incident page's breach-case section.
	Breach *breach.Service
	// Notices serves the notice templates and a case's notices.
	Notices *notice.Service
	// Reports serves the breach log, the HHS annual log, the HHS report
	// packet and the proof bundle.
	Reports *report.Service
	// Retention keeps the retention policy and legal holds.
	Retention *retention.Service
	// Evidence keeps incidents' evidence and its chain of custody.
	Evidence *evidence.Service
	// Playbooks keeps the playbooks and applies them to incidents.
	Playbooks *playbook.Service
	// Rules serves the workflow-rule pages.
	Rules *rules.Engine
	// Audit serves the audit-trail page.
	Audit *audit.Reader
	// InsecureHTTP is --insecure-http: the session cookie is then
	// InsecureSessionCookie, without Secure.
	InsecureHTTP bool
	// EmailDomain is the email intake's domain, empty when it is off: the
	// integration form offers email keys only when it is on.
	EmailDomain string
	Clock       clock.Clock
	Log         *slog.Logger
	Version     string
}

// UI serves the web interface.
type UI struct {
	Deps
	pages map[string]*template.Template
}

// New parses the templates and returns the UI.
func New(d Deps) (*UI, error) {
	u := &UI{Deps: d, pages: map[string]*template.Template{}}
	names, err := fs.Glob(assets, "templates/*.html")
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		name := strings.TrimSuffix(strings.TrimPrefix(n, "templates/"), ".html")
		if name == "layout" {
			continue
		}
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("template %s: %w", name, err)
		}
		u.pages[name] = t
	}
	return u, nil
}

// flash is a one-line message shown at the top of a page. Messages are
// chosen by code from a fixed table, so a URL can never inject text.
type flash struct {
	Kind string // info, warn, error
	Text string
}

var flashes = map[string]flash{
	"created":                  {"info", "Incident recorded."},
	"saved":                    {"info", "Changes saved."},
	"moved":                    {"info", "Phase changed."},
	"noted":                    {"info", "Note added."},
	"privilege":                {"info", "Privileged marking saved."},
	"task":                     {"info", "Task saved."},
	"signed_out":               {"info", "You are signed out."},
	"idle":                     {"warn", "You were signed out after 15 minutes without activity."},
	"expired":                  {"warn", "Your session reached its time limit; please sign in again."},
	"elsewhere":                {"warn", "You were signed out because your account signed in somewhere else."},
	"revoked":                  {"warn", "An administrator ended your session."},
	"ended_other":              {"warn", "Your earlier session elsewhere was ended: Ward allows one session per person."},
	"password":                 {"info", "Password changed. Your other sessions were ended."},
	"calendar_feed_created":    {"info", "Calendar address made. Copy it into your calendar application."},
	"calendar_feed_revoked":    {"info", "Calendar address revoked. A calendar that used it gets no more shifts."},
	"mfa_on":                   {"info", "Two-factor authentication is on."},
	"mfa_already_on":           {"info", "Two-factor authentication is already on."},
	"key_added":                {"info", "Security key added. Ward asks for it when you sign in."},
	"key_removed":              {"info", "Security key removed."},
	"everywhere":               {"info", "All your sessions were ended."},
	"user_created":             {"info", "User created."},
	"user_saved":               {"info", "User updated."},
	"setup_done":               {"info", "Administrator created. Sign in to continue."},
	"invite_done":              {"info", "Your account is ready. Sign in to continue."},
	"need_mfa_enrol":           {"warn", "Your role requires two-factor authentication. Set it up to continue."},
	"password_changed":         {"warn", "Your password was changed; please sign in again."},
	"service_created":          {"info", "Service created. Add an integration key so a monitoring tool can send it alerts."},
	"service_saved":            {"info", "Service saved."},
	"integration_revoked":      {"info", "Integration key revoked: it no longer works."},
	"key_shown":                {"info", "A new integration key is shown only once. If it was not copied, revoke it and create another."},
	"window_created":           {"info", "Maintenance window scheduled."},
	"window_ended":             {"info", "Maintenance window ended."},
	"member_added":             {"info", "Member added."},
	"evidence_added":           {"info", "Evidence added: it is encrypted and its SHA-256 is shown below."},
	"custody_recorded":         {"info", "Custody event recorded."},
	"evidence_verified":        {"info", "Integrity verified: the stored content matches the SHA-256 taken when it was added."},
	"hold_placed":              {"info", "Legal hold placed: nothing of this is purged until it is released."},
	"hold_released":            {"info", "Legal hold released: the retention policy applies again."},
	"retention_saved":          {"info", "Retention policy saved."},
	"member_removed":           {"info", "Member removed."},
	"break_glass":              {"warn", "Emergency access granted for a limited time. It is recorded and the Security Officer has been alerted."},
	"officer_ack":              {"info", "Alert acknowledged."},
	"grant_revoked":            {"info", "Emergency access ended."},
	"policy_created":           {"info", "Escalation policy created. Choose it on a service's settings for that service's alerts to page people."},
	"policy_saved":             {"info", "Escalation policy saved. Pages under way use the new steps from their next step on."},
	"schedule_created":         {"info", "Schedule created."},
	"schedule_saved":           {"info", "Schedule saved."},
	"override_created":         {"info", "Override added."},
	"override_deleted":         {"info", "Override removed."},
	"state_rules_saved":        {"info", "State table saved. Every breach case's obligations were recomputed with it."},
	"contact_added":            {"info", "Contact method added. Enter the code Ward sent to it to start receiving pages there."},
	"contact_verified":         {"info", "Contact method verified: pages can reach you there."},
	"code_sent":                {"info", "A new code is on its way."},
	"contact_deleted":          {"info", "Contact method removed, with its notification rules."},
	"contact_updated":          {"info", "Status notifications changed."},
	"rule_added":               {"info", "Notification rule added."},
	"rule_deleted":             {"info", "Notification rule removed."},
	"page_acknowledged":        {"info", "Page acknowledged: escalation stopped."},
	"page_escalated":           {"info", "Escalated: the next step of the escalation policy is being paged now."},
	"page_repaged":             {"info", "Paging again: step 1 of the escalation policy is being paged now."},
	"page_resolved":            {"info", "Page resolved: nobody more will be paged for it."},
	"group_created":            {"info", "Stakeholder group created."},
	"contact_created":          {"info", "External contact added."},
	"external_contact_saved":   {"info", "External contact saved."},
	"external_contact_deleted": {"info", "External contact removed."},
	"group_saved":              {"info", "Stakeholder group saved."},
	"sla_saved":                {"info", "SLA policy saved: every incident of that severity, open ones included, is measured against it."},
	"update_posted":            {"info", "Status update posted. Subscribed stakeholders were told there is news; the text stays in Ward."},
	"subscribed":               {"info", "Stakeholder group subscribed."},
	"update_template_created":  {"info", "Template saved: it is offered when an update for its audience is written."},
	"update_template_saved":    {"info", "Template saved."},
	"update_template_deleted":  {"info", "Template removed. Updates written from it keep their text."},
	"public_page_on":           {"info", "The public status page is on: anyone with its address sees the updates written for the public."},
	"public_page_off":          {"info", "The public status page is off: its address no longer works."},
	"external_subscribed":      {"info", "External contact subscribed: they are emailed a link to confirm, and receive the updates once they do."},
	"workflow_created":         {"info", "Rule created. Enabled, it acts on each incident the first time the incident matches it."},
	"breach_opened":            {"warn", "Breach case opened: until a determination is signed, breach is presumed (164.402(2)) and every notice deadline runs."},
	"breach_facts":             {"info", "Breach facts saved; the notice obligations were recomputed."},
	"breach_signed":            {"info", "Determination signed. It can no longer be changed; a new version needs its reason."},
	"breach_asked":             {"info", "The Privacy Officers were asked to sign. The request is on the incident's timeline."},
	"breach_asked_nobody":      {"warn", "No Privacy Officer has a verified contact method, so nobody was reached. Ask them another way; the attempt is on the incident's timeline."},
	"breach_met":               {"info", "Notice obligation marked met."},
	"breach_reopened":          {"info", "Notice obligation reopened: it is owed again."},
	"hhs_details_saved":        {"info", "HHS report details saved."},
	"hhs_filed":                {"info", "HHS filing recorded with its tracking number."},
	"break_reviewed":           {"info", "Review recorded. Once every break is reviewed, records past their retention may be purged again."},
	"org_saved":                {"info", "Organisation profile saved."},
	"workflow_saved":           {"info", "Rule saved. Incidents it has already acted on are not acted on again."},
	"alert_rule_created":       {"info", "Alert rule created. Enabled, it acts on each alert that arrives from now on."},
	"alert_rule_saved":         {"info", "Alert rule saved. Alerts recorded already keep what it did to them."},
	"alert_rule_enabled":       {"info", "Alert rule enabled: it acts on each alert that arrives from now on."},
	"alert_rule_disabled":      {"info", "Alert rule disabled: it is kept but acts on no alert until it is enabled again."},
	"alert_rule_deleted":       {"info", "Alert rule deleted. Alerts recorded already keep what it did to them."},
	"notice_settings":          {"info", "Notice settings saved."},
	"triage_phi":               {"warn", "Classified: PHI is involved. The incident is marked PHI suspected and its breach workflow starts."},
	"triage_no_phi":            {"info", "Classified: no PHI is involved, so no breach is presumed."},
	"letters_generated":        {"info", "{n} letters generated, in PDF files with their mailing lists below."},
	"notices_generated":        {"info", "{n} notices generated."},
	"emails_sent":              {"info", "{sent} emails sent, {refused} refused, {deferred} not delivered for now (send again later)."},
	"notices_sent":             {"info", "{n} notices recorded as sent."},
	"returns_recorded":         {"info", "{n} returned notices recorded; {unmatched} rows matched no notice."},
	"substitute_started":       {"info", "Substitute notice recorded: each period runs 90 days."},
	"evidence_hold_placed":     {"info", "Legal hold placed: this evidence cannot be destroyed, and it and its incident are kept, until the hold is released."},
	"evidence_hold_released":   {"info", "Legal hold released: this evidence may be destroyed again, and the retention policy applies."},
	"breach_ask_wait":          {"warn", "You asked the Privacy Officers to sign less than 15 minutes ago, so they were not asked again. You may ask again in {minutes} min."},
	"review":                   {"info", "Review saved."},
	"review_complete":          {"info", "Review saved and marked complete."},
	"review_waived":            {"info", "Review waived: the incident may close without it."},
	"action_item":              {"info", "Action item saved."},
	"playbook":                 {"info", "Playbook applied: its tasks are in the task list."},
	"playbook_answers":         {"info", "Answers saved."},
	"privileged_noted":         {"info", "Privileged note added: only counsel and the Privacy Officer see its text."},
	"drill":                    {"info", "Drill started. It is marked DRILL wherever it is shown and never counts as a real incident."},
	"playbook_saved":           {"info", "Playbook saved as a new version. Incidents it was applied to keep the version they got."},
	"key_events":               {"info", "Imported into the review's key events."},
	"key_event":                {"info", "Annotation saved."},
	"key_event_removed":        {"info", "Taken out of the review's key events; the timeline keeps it."},
}

// flashCountRe finds the counts a flash's text names, such as {n}.
var flashCountRe = regexp.MustCompile(`\{([a-z]+)\}`)

// flashFor is the flash of a page's query (msg, and the whole numbers its
// text names), or nil: a count that is not a whole number hides the
// message, so that a URL can never put words on a page.
func flashFor(q url.Values) *flash {
	f, ok := flashes[q.Get("msg")]
	if !ok {
		return nil
	}
	valid := true
	f.Text = flashCountRe.ReplaceAllStringFunc(f.Text, func(m string) string {
		n, err := strconv.Atoi(q.Get(m[1 : len(m)-1]))
		if err != nil || n < 0 {
			valid = false
		}
		return strconv.Itoa(n)
	})
	if !valid {
		return nil
	}
	return &f
}

// view is what every page template receives.
type view struct {
	Title string
	Nav   string
	Actor *authz.Actor
	CSRF  string
	Flash *flash
	// Officer is the officer banner, for roles that see restricted
	// incidents, when an officer alert awaits acknowledgement.
	Officer *officerBanner
	// Unheard are the breach reminders that reached no officer lately,
	// for roles that see restricted incidents.
	Unheard []report.UnheardReminder
	Now     time.Time
	Data    any
}

// Can reports whether the viewer holds a permission (for showing controls;
// the handlers and services enforce it).
func (v view) Can(p string) bool {
	return v.Actor != nil && authz.Has(v.Actor.Role, authz.Permission(p))
}

// render writes a page. A template error after headers would leave a half
// page, so the page is rendered to a buffer first.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, page, title, nav string, data any) {
	t, ok := u.pages[page]
	if !ok {
		u.Log.Error("ui_template_missing", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	v := view{Title: title, Nav: nav, Now: u.Clock.Now(), Data: data, CSRF: csrfFrom(r)}
	if a, ok := authz.ActorFrom(r.Context()); ok && a.Kind == authz.KindUser {
		v.Actor = &a
		if authz.Has(a.Role, authz.IncidentRestricted) {
			// The Security Officer is told of emergency access at once, on
			// whatever page they are (45 CFR 164.312(a)(2)(ii)), and of
			// pages that reached nobody or that nobody acknowledged.
			alerts, err := u.Incidents.OfficerAlerts(r.Context(), true)
			if err != nil {
				u.Log.ErrorContext(r.Context(), "ui_officer_alerts_failed", "error", err)
			} else if len(alerts) > 0 {
				back := "/"
				if r.Method == http.MethodGet {
					back = r.URL.Path
				}
				v.Officer = newOfficerBanner(alerts, back)
			}
			if u.Reports != nil {
				if v.Unheard, err = u.Reports.Unheard(r.Context()); err != nil {
					u.Log.ErrorContext(r.Context(), "ui_unheard_reminders_failed", "error", err)
				}
			}
		}
	}
	v.Flash = flashFor(r.URL.Query())
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		u.Log.ErrorContext(r.Context(), "ui_render_failed", "page", page, "error", err)
		if page == "error" {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		req := authz.RequestFrom(r.Context())
		u.render(w, r, http.StatusInternalServerError, "error", http.StatusText(http.StatusInternalServerError), "",
			map[string]any{"Status": http.StatusInternalServerError, "Message": "Something went wrong. Quote request id " + req.ID + " to your administrator."})
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// fail renders an error page for a service error.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := apperr.As(err)
	status, msg := http.StatusInternalServerError, ""
	if ok && e.Code != apperr.Internal {
		status = map[apperr.Code]int{
			apperr.Invalid: http.StatusUnprocessableEntity, apperr.NotFound: http.StatusNotFound,
			apperr.Conflict: http.StatusConflict, apperr.Unauthorized: http.StatusUnauthorized,
			apperr.Forbidden: http.StatusForbidden, apperr.TooSoon: http.StatusTooManyRequests,
		}[e.Code]
		msg = e.Message
	} else {
		req := authz.RequestFrom(r.Context())
		u.Log.ErrorContext(r.Context(), "ui_internal_error", "request_id", req.ID, "error", err)
		msg = "Something went wrong. Quote request id " + req.ID + " to your administrator."
	}
	u.render(w, r, status, "error", http.StatusText(status), "", map[string]any{"Status": status, "Message": msg})
}

// fieldErrors turns a validation error into a map from field to message for
// showing beside each control; ok is false for any other error.
func fieldErrors(err error) (map[string]string, bool) {
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.Invalid {
		return nil, false
	}
	out := map[string]string{}
	for _, f := range e.Fields {
		out[f.Field] = f.Message
	}
	if len(out) == 0 {
		out["_"] = e.Message
	}
	return out, true
}

// csrfKey is the context key of the request's CSRF token.
type csrfKey struct{}

// csrfToken derives a session's CSRF token from its secret: forms carry it
// and state-changing requests must echo it (alongside the Sec-Fetch-Site
// and Origin checks of http.CrossOriginProtection).
func csrfToken(sessionToken string) string {
	m := hmac.New(sha256.New, []byte(sessionToken))
	m.Write([]byte("ward csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

func csrfFrom(r *http.Request) string {
	s, _ := r.Context().Value(csrfKey{}).(string)
	return s
}

var errBadCSRF = errors.New("form expired or sent from another site; reload the page and try again")

// timeOf is t, a time.Time or a non-nil *time.Time, for the time functions
// of the templates.
func timeOf(t any) (time.Time, bool) {
	switch v := t.(type) {
	case time.Time:
		return v, true
	case *time.Time:
		if v != nil {
			return *v, true
		}
	}
	return time.Time{}, false
}

var funcs = template.FuncMap{
	"ts": func(t any) template.HTML {
		tt, ok := timeOf(t)
		if !ok {
			return ""
		}
		u := tt.UTC()
		return template.HTML(fmt.Sprintf(`<time datetime="%s">%s</time>`, u.Format(time.RFC3339),
			template.HTMLEscapeString(u.Format("2006-01-02 15:04 UTC"))))
	},
	// due shows a deadline in the organisation's zone (a *time.Location
	// or an IANA name; nil or "" is UTC) with UTC beside it where they
	// differ (breach.FormatDue).
	"due": func(t any, zone any) template.HTML {
		tt, ok := timeOf(t)
		if !ok {
			return ""
		}
		var loc *time.Location
		switch z := zone.(type) {
		case *time.Location:
			loc = z
		case string:
			if l, err := time.LoadLocation(z); err == nil && z != "" {
				loc = l
			}
		}
		return template.HTML(fmt.Sprintf(`<time datetime="%s">%s</time>`, tt.UTC().Format(time.RFC3339),
			template.HTMLEscapeString(breach.FormatDue(tt, loc))))
	},
	"age": func(t time.Time, now time.Time) string {
		d := now.Sub(t)
		switch {
		case d < time.Hour:
			return fmt.Sprintf("%d min", int(d.Minutes()))
		case d < 48*time.Hour:
			return fmt.Sprintf("%d h", int(d.Hours()))
		default:
			return fmt.Sprintf("%d days", int(d.Hours()/24))
		}
	},
	"label":    label,
	"sentence": labels.Sentence,
	"bytes":    sizeText,
	"plural":   plural,
	"interval": intervalText,
	"who":      who,
	// key builds a repeated control's name, such as step2_delay.
	"key":       func(prefix string, i int, suffix string) string { return prefix + strconv.Itoa(i) + "_" + suffix },
	"recipient": recipientName,
	// obligationLabel names an obligation's recipient group, jurisdiction
	// the jurisdiction of a code.
	"obligationLabel": breach.Label,
	"jurisdiction": func(code string) string {
		if n, ok := breachrules.JurisdictionName(code); ok {
			return n
		}
		return code
	},
	// hipaaLabel and anchorLabel say a State table row's codes in words.
	"hipaaLabel":  hipaaLabel,
	"anchorLabel": anchorLabel,
	// inc turns a 0-based index into the 1-based number people read.
	"inc": func(i int) int { return i + 1 },
	// dict builds a map for passing named values to a sub-template.
	"dict": func(kv ...any) (map[string]any, error) {
		if len(kv)%2 != 0 {
			return nil, errors.New("dict needs key and value pairs")
		}
		m := make(map[string]any, len(kv)/2)
		for i := 0; i < len(kv); i += 2 {
			k, ok := kv[i].(string)
			if !ok {
				return nil, fmt.Errorf("dict key %v is not a string", kv[i])
			}
			m[k] = kv[i+1]
		}
		return m, nil
	},
}
