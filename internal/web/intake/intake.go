// Package intake serves the endpoints monitoring tools send alerts to:
// POST /v2/enqueue (the PagerDuty Events API v2, answered exactly as that
// API answers, so any tool that can page PagerDuty can page Ward), POST
// /v2/change/enqueue (its Change Events API) and POST
// /intake/{kind}/{key} for Alertmanager, Grafana, SNS and generic
// webhooks. The integration key authenticates; a 202 is sent only after
// the alerts are committed.
package intake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/input"
	"github.com/wardhq/ward/internal/integration"
	"github.com/wardhq/ward/internal/notify"
	"github.com/wardhq/ward/internal/outbound"
	"github.com/wardhq/ward/internal/paging"
)

// MaxBodyBytes caps an intake request (an Alertmanager batch can be large).
const MaxBodyBytes = 4 << 20

// Deps are what the intake endpoints need.
type Deps struct {
	Alerts *alert.Intake
	Log    *slog.Logger
	// SNSHosts are the host suffixes a subscription confirmation URL may
	// have (default ".amazonaws.com").
	SNSHosts []string
	// Outbound guards the visit to a confirmation URL, redirects included
	// (--outbound-allow); nil refuses every loopback, private and
	// metadata address.
	Outbound *outbound.Guard
	// SNSClient visits confirmation URLs (default: Outbound's client with
	// a 10-second timeout); tests give one of Outbound's that trusts
	// their server's certificate.
	SNSClient *http.Client
	// Pager takes SMS replies to pages; TwilioAuthToken checks that they
	// come from Twilio, which signs with the URL it called: PublicURL plus
	// /intake/twilio/sms.
	Pager           *paging.Pager
	TwilioAuthToken string
	PublicURL       string
	// SlackSigningSecret checks that presses of Slack buttons come from
	// the Slack app; Slack rewrites the messages pressed. Both unset:
	// POST /intake/slack/interactions answers 404.
	SlackSigningSecret string
	Slack              *notify.SlackBot
}

type handler struct{ Deps }

// Register adds the intake endpoints to mux.
func Register(mux *http.ServeMux, d Deps) {
	if len(d.SNSHosts) == 0 {
		d.SNSHosts = []string{".amazonaws.com"}
	}
	if d.SNSClient == nil {
		d.SNSClient = d.Outbound.Client(10*time.Second, nil)
	}
	for _, rt := range (handler{d}).routes() {
		mux.HandleFunc(rt.pattern, rt.fn)
	}
}

type route struct {
	pattern string
	fn      http.HandlerFunc
}

// routes are the intake endpoints Register serves.
func (h handler) routes() []route {
	return []route{
		{"POST /v2/enqueue", h.enqueue},
		{"POST /v2/change/enqueue", h.changeEnqueue},
		{"POST /intake/{kind}/{key}", h.intake},
		{"POST /intake/{kind}", h.intake},
		{"POST /intake/twilio/sms", h.smsReply},
		{"POST /intake/slack/interactions", h.slackInteraction},
		{"GET /heartbeat/{key}", h.ping},
		{"POST /heartbeat/{key}", h.ping},
	}
}

// Patterns lists the patterns Register serves, as "METHOD path"; the
// canary test drives each of them with text in every field it takes.
func Patterns() []string {
	var out []string
	for _, rt := range (handler{}).routes() {
		out = append(out, rt.pattern)
	}
	return out
}

// ping is GET or POST /heartbeat/{key}: a job saying it ran.
func (h handler) ping(w http.ResponseWriter, r *http.Request) {
	due, err := h.Alerts.Ping(r.Context(), r.PathValue("key"))
	if errors.Is(err, alert.ErrUnknownKey) {
		err = apperr.New(apperr.Unauthorized, "Invalid routing key")
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "next_due_at": due})
}

// eventsV2Reply is the Events API v2's response body.
type eventsV2Reply struct {
	Status   string   `json:"status"`
	Message  string   `json:"message"`
	DedupKey string   `json:"dedup_key,omitempty"`
	Errors   []string `json:"errors,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// errTooLarge means a body is over MaxBodyBytes.
var errTooLarge = errors.New("body too large")

// readBody reads a request body of at most MaxBodyBytes (errTooLarge
// beyond) and applies the input policy to it (package input): a JSON body
// with a control character, invalid UTF-8 or a key twice in one object is
// refused naming the member, so the monitoring tool gets a 400 it will
// not retry rather than a 500.
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, errTooLarge
	}
	if err != nil {
		return nil, apperr.New(apperr.Invalid, "the body could not be read")
	}
	if p := input.Payload("", body); p != nil {
		return nil, apperr.Field(p.Location, "%s", p.Message)
	}
	return body, nil
}

// eventsV2Invalid answers a refused Events API v2 request as that API
// does.
func eventsV2Invalid(w http.ResponseWriter, msgs ...string) {
	writeJSON(w, http.StatusBadRequest, eventsV2Reply{Status: "invalid event", Message: "Event object is invalid", Errors: msgs})
}

// eventsV2Request reads an Events API v2 request (an event or a change
// event), parse reading the body and returning its routing key, and finds
// the routing key's integration. On any failure it answers as the Events
// API does and returns false.
func (h handler) eventsV2Request(w http.ResponseWriter, r *http.Request, parse func(body []byte) (string, error)) (alert.Integration, bool) {
	body, err := readBody(w, r)
	if errors.Is(err, errTooLarge) {
		writeJSON(w, http.StatusRequestEntityTooLarge, eventsV2Reply{Status: "invalid event", Message: "Event object is too large",
			Errors: []string{fmt.Sprintf("the body is larger than the limit of %d bytes", MaxBodyBytes)}})
		return alert.Integration{}, false
	}
	if err != nil {
		eventsV2Invalid(w, fieldMessages(err)...)
		return alert.Integration{}, false
	}
	key, err := parse(body)
	if err != nil {
		eventsV2Invalid(w, fieldMessages(err)...)
		return alert.Integration{}, false
	}
	ig, err := h.authenticate(r.Context(), key, alert.KindEventsV2)
	if err != nil {
		if h.internal(r.Context(), err) {
			writeJSON(w, http.StatusInternalServerError, eventsV2Reply{Status: "error", Message: "Ward could not check the routing key; retry"})
		} else {
			eventsV2Invalid(w, safeMessage(err))
		}
		return alert.Integration{}, false
	}
	return ig, true
}

// eventsV2Failed answers a request Ward could not record: a 500 asking
// for a retry (with what), or the reason it was refused.
func (h handler) eventsV2Failed(w http.ResponseWriter, r *http.Request, err error, what string) {
	if h.internal(r.Context(), err) {
		writeJSON(w, http.StatusInternalServerError, eventsV2Reply{Status: "error", Message: "Ward could not record the " + what + "; retry"})
		return
	}
	eventsV2Invalid(w, fieldMessages(err)...)
}

// enqueue is POST /v2/enqueue.
func (h handler) enqueue(w http.ResponseWriter, r *http.Request) {
	var ev alert.Event
	ig, ok := h.eventsV2Request(w, r, func(body []byte) (string, error) {
		in, e, err := integration.ParseEventsV2(body)
		ev = e
		return in.RoutingKey, err
	})
	if !ok {
		return
	}
	res, err := h.Alerts.Ingest(r.Context(), ig, []alert.Event{ev})
	if err != nil {
		h.eventsV2Failed(w, r, err, "event")
		return
	}
	writeJSON(w, http.StatusAccepted, eventsV2Reply{Status: "success", Message: "Event processed", DedupKey: res.DedupKeys[0]})
}

// changeEnqueue is POST /v2/change/enqueue, the PagerDuty Change Events
// API: a deploy or configuration change on the service of the Events API
// v2 routing key, recorded and shown with that service's incidents.
func (h handler) changeEnqueue(w http.ResponseWriter, r *http.Request) {
	var ch alert.Change
	ig, ok := h.eventsV2Request(w, r, func(body []byte) (string, error) {
		in, c, err := integration.ParseChangeEventV2(body)
		ch = c
		return in.RoutingKey, err
	})
	if !ok {
		return
	}
	if _, err := h.Alerts.RecordChange(r.Context(), ig, ch); err != nil {
		h.eventsV2Failed(w, r, err, "change")
		return
	}
	writeJSON(w, http.StatusAccepted, eventsV2Reply{Status: "success", Message: "Change event processed"})
}

// errWrongKind means a key was sent to another kind's endpoint.
var errWrongKind = errors.New("wrong integration kind")

// authenticate finds the active integration for key and checks it is of
// kind k.
func (h handler) authenticate(ctx context.Context, key string, k alert.Kind) (alert.Integration, error) {
	ig, err := h.Alerts.Authenticate(ctx, strings.TrimSpace(key))
	if errors.Is(err, alert.ErrUnknownKey) {
		return alert.Integration{}, apperr.New(apperr.Unauthorized, "Invalid routing key")
	}
	if err != nil {
		return alert.Integration{}, err
	}
	if ig.Kind != k {
		return alert.Integration{}, &apperr.Error{Code: apperr.Invalid, Err: errWrongKind,
			Message: "this key belongs to an integration of kind " + string(ig.Kind) + "; send its alerts to " + endpoint(ig.Kind)}
	}
	return ig, nil
}

// endpoint is where alerts for integrations of kind k go.
func endpoint(k alert.Kind) string {
	switch k {
	case alert.KindEventsV2:
		return "/v2/enqueue"
	case alert.KindHeartbeat:
		return "/heartbeat/{key}"
	case alert.KindEmail:
		return "email to {key}@ the email intake domain"
	}
	return "/intake/" + string(k) + "/{key}"
}

// internal logs err and reports true if it is not a coded error.
func (h handler) internal(ctx context.Context, err error) bool {
	if e, ok := apperr.As(err); ok && e.Code != apperr.Internal {
		return false
	}
	h.Log.ErrorContext(ctx, "intake_failed", "request_id", authz.RequestFrom(ctx).ID, "error", err)
	return true
}

func safeMessage(err error) string {
	if e, ok := apperr.As(err); ok {
		return e.Message
	}
	return "internal error"
}

// fieldMessages lists an error's field messages, or its message.
func fieldMessages(err error) []string {
	e, ok := apperr.As(err)
	if !ok {
		return []string{"internal error"}
	}
	if len(e.Fields) == 0 {
		return []string{e.Message}
	}
	out := make([]string, len(e.Fields))
	for i, f := range e.Fields {
		out[i] = f.Message
		if !strings.HasPrefix(f.Message, "'") {
			out[i] = f.Field + ": " + f.Message
		}
	}
	return out
}

// Reply is the answer of the /intake endpoints.
type Reply struct {
	Status       string `json:"status"`
	Events       int    `json:"events"`
	New          int    `json:"new"`
	Deduplicated int    `json:"deduplicated"`
	Acknowledged int    `json:"acknowledged"`
	Resolved     int    `json:"resolved"`
	Ignored      int    `json:"ignored"`
	Suppressed   int    `json:"suppressed"`
	// SuppressedByRules and Routed count what alert rules did (issue #16).
	SuppressedByRules int      `json:"suppressed_by_rules,omitempty"`
	Routed            int      `json:"routed,omitempty"`
	IncidentsOpened   []string `json:"incidents_opened"`
}

// problem writes an RFC 9457 problem document.
func problem(w http.ResponseWriter, status int, err error) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	doc := map[string]any{"title": http.StatusText(status), "status": status, "detail": safeMessage(err)}
	if e, ok := apperr.As(err); ok && len(e.Fields) > 0 {
		doc["errors"] = e.Fields
	}
	_ = json.NewEncoder(w).Encode(doc)
}

// intake is POST /intake/{kind}/{key} (or /intake/{kind} with the key as
// a bearer token, for tools that can set a header).
func (h handler) intake(w http.ResponseWriter, r *http.Request) {
	kind := alert.Kind(r.PathValue("kind"))
	key := r.PathValue("key")
	if key == "" {
		key, _ = strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	if kind == alert.KindEventsV2 || kind == alert.KindHeartbeat || kind == alert.KindEmail || !validKind(kind) {
		problem(w, http.StatusNotFound, apperr.New(apperr.NotFound,
			"no intake for %q; use alertmanager, grafana, sns or webhook (Events API v2 goes to /v2/enqueue, heartbeats to /heartbeat/{key}, email to {key}@ the email intake domain)", kind))
		return
	}
	if key == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ward-intake"`)
		problem(w, http.StatusUnauthorized, apperr.New(apperr.Unauthorized, "an integration key is required: /intake/%s/{key} or Authorization: Bearer {key}", kind))
		return
	}
	ig, err := h.authenticate(r.Context(), key, kind)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	body, err := readBody(w, r)
	if errors.Is(err, errTooLarge) {
		problem(w, http.StatusRequestEntityTooLarge, apperr.New(apperr.Invalid, "the body is larger than the limit of %d bytes", MaxBodyBytes))
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	evs, err := h.parse(r.Context(), ig, body)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	rep := Reply{Status: "accepted", Events: len(evs), IncidentsOpened: []string{}}
	if len(evs) > 0 {
		res, err := h.Alerts.Ingest(r.Context(), ig, evs)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		rep.New, rep.Deduplicated, rep.Acknowledged, rep.Resolved = res.New, res.Deduplicated, res.Acknowledged, res.Resolved
		rep.Ignored, rep.Suppressed = res.Ignored, res.Suppressed
		rep.SuppressedByRules, rep.Routed = res.SuppressedByRules, res.Routed
		if res.Opened != nil {
			rep.IncidentsOpened = res.Opened
		}
	}
	writeJSON(w, http.StatusAccepted, rep)
}

func validKind(k alert.Kind) bool { return slices.Contains(alert.Kinds, k) }

func (h handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	if h.internal(r.Context(), err) {
		problem(w, http.StatusInternalServerError, apperr.New(apperr.Internal, "internal error; quote request id %s; retry", authz.RequestFrom(r.Context()).ID))
		return
	}
	status := map[apperr.Code]int{apperr.Invalid: http.StatusBadRequest, apperr.NotFound: http.StatusNotFound,
		apperr.Unauthorized: http.StatusUnauthorized, apperr.Forbidden: http.StatusForbidden, apperr.Conflict: http.StatusConflict}[apperr.CodeOf(err)]
	problem(w, status, err)
}

// parse turns a body into events by the integration's kind; an SNS
// subscription confirmation is confirmed here and yields no events.
func (h handler) parse(ctx context.Context, ig alert.Integration, body []byte) ([]alert.Event, error) {
	switch ig.Kind {
	case alert.KindAlertmanager:
		return integration.ParseAlertmanager(body)
	case alert.KindGrafana:
		return integration.ParseGrafana(body)
	case alert.KindWebhook:
		m, err := integration.ParseMapping(ig.Mapping)
		if err != nil {
			return nil, err
		}
		return integration.ParseWebhook(m, body)
	case alert.KindSNS:
		m, evs, err := integration.ParseSNS(body)
		if err != nil || m.Type != integration.SNSSubscriptionConfirmation {
			return evs, err
		}
		return nil, h.confirmSNS(ctx, ig, m)
	}
	return nil, apperr.New(apperr.Invalid, "integration kind %q has no intake", ig.Kind)
}

// confirmSNS visits a subscription confirmation's SubscribeURL, which
// must be on an SNS host.
func (h handler) confirmSNS(ctx context.Context, ig alert.Integration, m integration.SNSMessage) error {
	u, err := integration.SNSConfirmURL(m, h.SNSHosts)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return apperr.Field("SubscribeURL", "is not a valid URL")
	}
	resp, err := h.SNSClient.Do(req)
	if outbound.IsRefused(err) {
		return apperr.New(apperr.Invalid, "could not confirm the SNS subscription: the SubscribeURL leads to an address Ward "+
			"does not connect to unless an administrator allows it (%s)", outbound.Flag)
	}
	if err != nil {
		return apperr.New(apperr.Invalid, "could not confirm the SNS subscription: the SubscribeURL did not answer")
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return apperr.New(apperr.Invalid, "could not confirm the SNS subscription: SubscribeURL answered %d", resp.StatusCode)
	}
	// The topic ARN is not logged: like everything in the body, anyone
	// holding the key sends it, and Ward seals it where it keeps it (an
	// alert's source).
	h.Log.InfoContext(ctx, "sns_subscription_confirmed", "integration_id", ig.ID)
	return nil
}
