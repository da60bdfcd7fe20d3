package ui

import (
	"bytes"
	"encoding/json"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/integration"
	"github.com/wardhq/ward/internal/user"
)

// groupingLabels and kindLabels name the choices of the service and
// integration forms.
var (
	groupingLabels = []choice{
		{string(alert.GroupBySource), "The tool's own grouping, else one incident per alert"},
		{string(alert.GroupByAlert), "One incident per alert"},
		{string(alert.GroupByService), "One open incident for the whole service"},
	}
	kindLabels = []choice{
		{string(alert.KindEventsV2), "PagerDuty Events API v2 (any tool that can page PagerDuty)"},
		{string(alert.KindAlertmanager), "Prometheus Alertmanager webhook"},
		{string(alert.KindGrafana), "Grafana alerting webhook contact point"},
		{string(alert.KindSNS), "AWS CloudWatch alarms through SNS"},
		{string(alert.KindWebhook), "Any JSON webhook, mapped by JSON pointers"},
		{string(alert.KindHeartbeat), "Heartbeat: a job pings Ward, and silence raises an alert"},
	}
	// emailKind is offered beside kindLabels while the email intake is on.
	emailKind     = choice{string(alert.KindEmail), "Email: a tool that can only send email"}
	alertStatuses = []string{string(alert.StatusTriggered), string(alert.StatusAcknowledged), string(alert.StatusResolved)}
)

// choice is one option of a select control.
type choice struct {
	Value string
	Label string
}

// openCountLimit caps each of the two queries that count open alerts per
// service on the services page; past it the counts are shown as "at least".
const openCountLimit = 200

type serviceRow struct {
	alert.Service
	Open int
}

type servicesPage struct {
	Services  []serviceRow
	AtLeast   bool
	Groupings []choice
	Policies  []choice
	// PolicyNames maps policy ids to names.
	PolicyNames map[string]string
	Form        map[string]string
	Errors      map[string]string
}

var serviceFields = []string{"name", "description", "handles_phi", "group_by", "escalation_policy"}

func serviceInput(form map[string]string) alert.ServiceInput {
	return alert.ServiceInput{Name: form["name"], Description: form["description"], HandlesPHI: form["handles_phi"] == "on",
		GroupBy: alert.GroupBy(form["group_by"]), EscalationPolicy: form["escalation_policy"]}
}

// policyChoices are the escalation policies a service may page with, the
// first choice being none, and a map from their ids to their names.
func (u *UI) policyChoices(r *http.Request) ([]choice, map[string]string, error) {
	ps, err := u.Pager.Policies(r.Context())
	if err != nil {
		return nil, nil, err
	}
	out := []choice{{"", "None: alerts open incidents but page nobody"}}
	names := map[string]string{}
	for _, p := range ps {
		out = append(out, choice{p.ID, p.Name})
		names[p.ID] = p.Name
	}
	return out, names, nil
}

func (u *UI) servicesData(r *http.Request) (servicesPage, error) {
	svcs, err := u.Alerts.Services(r.Context())
	if err != nil {
		return servicesPage{}, err
	}
	open := map[string]int{}
	p := servicesPage{Groupings: groupingLabels}
	if p.Policies, p.PolicyNames, err = u.policyChoices(r); err != nil {
		return servicesPage{}, err
	}
	for _, st := range []alert.Status{alert.StatusTriggered, alert.StatusAcknowledged} {
		as, err := u.Alerts.Alerts(r.Context(), alert.Filter{Status: st, Limit: openCountLimit})
		if err != nil {
			return servicesPage{}, err
		}
		p.AtLeast = p.AtLeast || len(as) == openCountLimit
		for _, a := range as {
			open[a.ServiceID]++
		}
	}
	for _, s := range svcs {
		p.Services = append(p.Services, serviceRow{Service: s, Open: open[s.ID]})
	}
	return p, nil
}

func (u *UI) serviceList(w http.ResponseWriter, r *http.Request) {
	p, err := u.servicesData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p.Form = map[string]string{"group_by": string(alert.GroupBySource)}
	u.render(w, r, http.StatusOK, "services", "Services", "services", p)
}

func (u *UI) serviceCreate(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, serviceFields...)
	svc, err := u.Alerts.CreateService(r.Context(), serviceInput(form))
	if err != nil {
		fe, ok := fieldErrors(err)
		if !ok {
			u.fail(w, r, err)
			return
		}
		p, perr := u.servicesData(r)
		if perr != nil {
			u.fail(w, r, perr)
			return
		}
		p.Form, p.Errors = form, fe
		u.render(w, r, http.StatusUnprocessableEntity, "services", "Services", "services", p)
		return
	}
	redirect(w, r, "/services/"+url.PathEscape(svc.ID)+"?msg=service_created")
}

type servicePage struct {
	Service      alert.Service
	Integrations []alert.Integration
	Windows      []alert.Window
	Groupings    []choice
	Kinds        []choice
	Policies     []choice
	Policy       string // the name of the service's escalation policy
	// EmailDomain is the email intake's domain, empty when it is off.
	EmailDomain string
	Now         time.Time
	Form        map[string]string
	Errors      map[string]string
}

func (u *UI) serviceData(r *http.Request) (servicePage, error) {
	ctx := r.Context()
	svc, err := u.Alerts.GetService(ctx, r.PathValue("service"))
	if err != nil {
		return servicePage{}, err
	}
	kinds := kindLabels
	if u.EmailDomain != "" {
		kinds = append(slices.Clip(kinds), emailKind)
	}
	p := servicePage{Service: svc, Groupings: groupingLabels, Kinds: kinds, EmailDomain: u.EmailDomain, Now: u.Clock.Now(),
		Form: map[string]string{"name": svc.Name, "description": svc.Description, "group_by": string(svc.GroupBy),
			"ig_kind": string(alert.KindEventsV2), "escalation_policy": svc.EscalationPolicyID}}
	var names map[string]string
	if p.Policies, names, err = u.policyChoices(r); err != nil {
		return servicePage{}, err
	}
	p.Policy = names[svc.EscalationPolicyID]
	if svc.HandlesPHI {
		p.Form["handles_phi"] = "on"
	}
	if p.Integrations, err = u.Alerts.Integrations(ctx, svc.ID); err != nil {
		return servicePage{}, err
	}
	if p.Windows, err = u.Alerts.Windows(ctx, svc.ID); err != nil {
		return servicePage{}, err
	}
	return p, nil
}

func (u *UI) serviceShow(w http.ResponseWriter, r *http.Request) {
	p, err := u.serviceData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "service", p.Service.Name, "services", p)
}

// serviceControls are the service page's form controls; an error about
// anything else is shown at the top of the page.
var serviceControls = []string{"name", "description", "handles_phi", "group_by", "escalation_policy", "ig_kind", "ig_name", "ig_mapping",
	"starts_at", "ends_at", "reason"}

// serviceWithErrors re-renders the service page with one form's values and
// errors; the other forms keep the service's own values.
func (u *UI) serviceWithErrors(w http.ResponseWriter, r *http.Request, err error, form map[string]string) {
	fe, ok := fieldErrors(err)
	if !ok {
		u.fail(w, r, err)
		return
	}
	p, gerr := u.serviceData(r)
	if gerr != nil {
		u.fail(w, r, gerr)
		return
	}
	for k, v := range form {
		p.Form[k] = v
	}
	p.Errors = map[string]string{}
	for k, v := range fe {
		if k != "_" && !slices.Contains(serviceControls, k) {
			k, v = "_", k+": "+v
		}
		p.Errors[k] = v
	}
	u.render(w, r, http.StatusUnprocessableEntity, "service", p.Service.Name, "services", p)
}

func (u *UI) serviceUpdate(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, serviceFields...)
	svc, err := u.Alerts.UpdateService(r.Context(), r.PathValue("service"), serviceInput(form))
	if err != nil {
		u.serviceWithErrors(w, r, err, form)
		return
	}
	redirect(w, r, "/services/"+url.PathEscape(svc.ID)+"?msg=service_saved")
}

// keyPage shows a new integration key, the only time it is shown.
type keyPage struct {
	Service     alert.Service
	Integration alert.Integration
	Key         string
	// Endpoint is where the tool sends alerts, as this browser reached
	// Ward (for email, the address); the key is part of it except for the
	// Events API v2.
	Endpoint string
	EventsV2 bool
	Example  string
}

// integrationFields maps the fields the service names in its errors to
// the integration form's controls.
var integrationFields = map[string]string{"kind": "ig_kind", "name": "ig_name", "mapping": "ig_mapping", "interval_seconds": "ig_interval"}

// integrationCreate makes a key and redirects to the page that shows it
// once (Post/Redirect/Get): the key waits there, sealed, beside this
// session; it is never in a URL, a cookie or a log. A reload of that page
// shows the service and makes no key.
func (u *UI) integrationCreate(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "ig_kind", "ig_name", "ig_mapping", "ig_interval")
	sess, ok := user.SessionFrom(r.Context())
	if !ok {
		u.fail(w, r, user.ErrSession)
		return
	}
	in := alert.IntegrationInput{Kind: alert.Kind(form["ig_kind"]), Name: form["ig_name"], ShowTo: sess.ID}
	if m := strings.TrimSpace(form["ig_mapping"]); m != "" {
		in.Mapping = json.RawMessage(m)
	}
	var err error
	if in.Kind == alert.KindHeartbeat {
		var minutes int
		if minutes, err = formInt("ig_interval", form["ig_interval"], 0); err == nil {
			if in.Interval = time.Duration(minutes) * time.Minute; in.Interval < alert.MinHeartbeat || in.Interval > alert.MaxHeartbeat {
				err = apperr.Field("ig_interval", "must be %d to %d minutes", int(alert.MinHeartbeat.Minutes()), int(alert.MaxHeartbeat.Minutes()))
			}
		}
	}
	var ig alert.Integration
	if err == nil {
		ig, _, err = u.Alerts.CreateIntegration(r.Context(), r.PathValue("service"), in, integration.CheckMapping)
	}
	if err != nil {
		if e, ok := apperr.As(err); ok && len(e.Fields) > 0 {
			f, msg := e.Fields[0].Field, e.Fields[0].Message
			if mapped, ok := integrationFields[f]; ok {
				f = mapped
			} else if key, ok := strings.CutPrefix(f, "mapping."); ok {
				f, msg = "ig_mapping", key+": "+msg
			}
			err = apperr.Field(f, "%s", msg)
		}
		u.serviceWithErrors(w, r, err, form)
		return
	}
	redirect(w, r, "/services/"+url.PathEscape(ig.ServiceID)+"/integrations/"+url.PathEscape(ig.ID)+"/key")
}

// integrationKey shows a new key, once, to the session whose form made it;
// later visits go to the service's page.
func (u *UI) integrationKey(w http.ResponseWriter, r *http.Request) {
	sess, ok := user.SessionFrom(r.Context())
	if !ok {
		u.fail(w, r, user.ErrSession)
		return
	}
	key, found, err := u.Alerts.TakeKeyToShow(r.Context(), r.PathValue("integration"), sess.ID)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	back := "/services/" + url.PathEscape(r.PathValue("service"))
	if !found {
		redirect(w, r, back+"?msg=key_shown#integrations")
		return
	}
	svc, err := u.Alerts.GetService(r.Context(), r.PathValue("service"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	igs, err := u.Alerts.Integrations(r.Context(), svc.ID)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	i := slices.IndexFunc(igs, func(ig alert.Integration) bool { return ig.ID == r.PathValue("integration") })
	if i < 0 {
		redirect(w, r, back+"?msg=key_shown#integrations")
		return
	}
	ig := igs[i]
	base := "https://" + r.Host
	if r.TLS == nil {
		base = "http://" + r.Host
	}
	p := keyPage{Service: svc, Integration: ig, Key: key, EventsV2: ig.Kind == alert.KindEventsV2}
	switch ig.Kind {
	case alert.KindEventsV2:
		p.Endpoint = base + "/v2/enqueue"
		example, _ := json.MarshalIndent(map[string]any{"routing_key": key, "event_action": "trigger",
			"payload": map[string]string{"summary": "Disk almost full on db-1", "source": "db-1", "severity": "warning"}}, "", "  ")
		p.Example = string(example)
	case alert.KindHeartbeat:
		p.Endpoint = base + "/heartbeat/" + key
		p.Example = "curl -fsS " + p.Endpoint
	case alert.KindEmail:
		p.Endpoint = key + "@" + u.EmailDomain
	default:
		p.Endpoint = base + "/intake/" + string(ig.Kind) + "/" + key
	}
	// The key must not stay in any cache: it is shown this once.
	w.Header().Set("Cache-Control", "no-store")
	u.render(w, r, http.StatusOK, "integration_key", "New integration key", "services", p)
}

func (u *UI) integrationRevoke(w http.ResponseWriter, r *http.Request) {
	if err := u.Alerts.RevokeIntegration(r.Context(), r.PathValue("integration")); err != nil {
		u.fail(w, r, err)
		return
	}
	redirect(w, r, "/services/"+url.PathEscape(r.PathValue("service"))+"?msg=integration_revoked#integrations")
}

func (u *UI) windowCreate(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "starts_at", "ends_at", "reason")
	starts, err := formTime("starts_at", form["starts_at"])
	var ends *time.Time
	if err == nil {
		ends, err = formTime("ends_at", form["ends_at"])
	}
	if err == nil && ends == nil {
		err = apperr.Field("ends_at", "is required")
	}
	if err == nil {
		var from time.Time
		if starts != nil {
			from = *starts
		}
		_, err = u.Alerts.CreateWindow(r.Context(), r.PathValue("service"), from, *ends, form["reason"])
	}
	if err != nil {
		u.serviceWithErrors(w, r, err, form)
		return
	}
	redirect(w, r, "/services/"+url.PathEscape(r.PathValue("service"))+"?msg=window_created#maintenance")
}

func (u *UI) windowEnd(w http.ResponseWriter, r *http.Request) {
	if err := u.Alerts.EndWindow(r.Context(), r.PathValue("window")); err != nil {
		u.fail(w, r, err)
		return
	}
	redirect(w, r, "/services/"+url.PathEscape(r.PathValue("service"))+"?msg=window_ended#maintenance")
}

// alertsPageSize is how many alerts one page of the alerts list shows.
const alertsPageSize = 50

type alertsPage struct {
	Alerts   []alert.Alert
	Services []alert.Service
	Names    map[string]string // service id to name
	Statuses []string
	Query    url.Values
	Older    template.URL
	Errors   map[string]string
}

func (u *UI) alertList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	svcs, err := u.Alerts.Services(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p := alertsPage{Services: svcs, Names: serviceNames(svcs), Statuses: alertStatuses, Query: q}
	as, err := u.Alerts.Alerts(r.Context(), alert.Filter{Service: q.Get("service"), Incident: q.Get("incident"),
		Status: alert.Status(q.Get("status")), Before: q.Get("before"), Limit: alertsPageSize})
	if err != nil {
		fe, ok := fieldErrors(err)
		if e, isApp := apperr.As(err); !ok && isApp && e.Code == apperr.NotFound {
			fe, ok = map[string]string{"service": e.Message}, true
		}
		if !ok {
			u.fail(w, r, err)
			return
		}
		p.Errors = fe
		u.render(w, r, http.StatusUnprocessableEntity, "alerts", "Alerts", "alerts", p)
		return
	}
	p.Alerts = as
	if len(as) == alertsPageSize {
		p.Older = nextPageLink("/alerts", q, "before", as[len(as)-1].ID)
	}
	u.render(w, r, http.StatusOK, "alerts", "Alerts", "alerts", p)
}

func serviceNames(svcs []alert.Service) map[string]string {
	out := make(map[string]string, len(svcs))
	for _, s := range svcs {
		out[s.ID] = s.Name
	}
	return out
}

type alertPage struct {
	Alert       alert.Alert
	Service     alert.Service
	Integration string
	Redacted    bool
	Details     string
}

func (u *UI) alertShow(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	a, redacted, err := u.Alerts.Alert(ctx, r.PathValue("alert"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	svc, err := u.Alerts.GetService(ctx, a.ServiceID)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	igs, err := u.Alerts.Integrations(ctx, svc.ID)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p := alertPage{Alert: a, Service: svc, Redacted: redacted}
	for _, ig := range igs {
		if ig.ID == a.IntegrationID {
			p.Integration = ig.Name
		}
	}
	if len(a.Details) > 0 {
		var buf bytes.Buffer
		if json.Indent(&buf, a.Details, "", "  ") == nil {
			p.Details = buf.String()
		} else {
			p.Details = string(a.Details)
		}
	}
	u.render(w, r, http.StatusOK, "alert", "Alert: "+a.Summary, "alerts", p)
}
