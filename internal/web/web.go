// Package web is Ward's HTTP front: routing, authentication, request ids,
// security headers, logging, metrics and the health endpoints. The JSON API
// itself is in package api.
package web

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apitoken"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/confcode"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/evidence"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/notice"
	"github.com/wardhq/ward/internal/notify"
	"github.com/wardhq/ward/internal/outbound"
	"github.com/wardhq/ward/internal/paging"
	"github.com/wardhq/ward/internal/playbook"
	"github.com/wardhq/ward/internal/report"
	"github.com/wardhq/ward/internal/retention"
	"github.com/wardhq/ward/internal/rules"
	"github.com/wardhq/ward/internal/stakeholder"
	"github.com/wardhq/ward/internal/user"
	"github.com/wardhq/ward/internal/web/api"
	"github.com/wardhq/ward/internal/web/intake"
	"github.com/wardhq/ward/internal/web/links"
	"github.com/wardhq/ward/internal/web/scim"
	"github.com/wardhq/ward/internal/web/ui"
)

// Deps are what the HTTP front needs.
type Deps struct {
	DB           *db.DB
	Tokens       *apitoken.Service
	Users        *user.Service
	Incidents    *incident.Service
	Alerts       *alert.Intake
	Pager        *paging.Pager
	Stakeholders *stakeholder.Service
	Rules        *rules.Engine
	Breach       *breach.Service
	Notices      *notice.Service
	Reports      *report.Service
	Retention    *retention.Service
	Evidence     *evidence.Service
	Playbooks    *playbook.Service
	Config       *confcode.Config
	Checkpoints  *audit.Checkpointer
	// Audit serves the audit trail to auditors and officers.
	Audit *audit.Reader
	// Chain, when set, makes /readyz answer 503 while the node has found
	// the audit chain broken and not yet started the segment recording it.
	Chain   interface{ Status() (bool, string) }
	UI      *ui.UI
	Log     *slog.Logger
	Version string
	// SNSHosts are the hosts an SNS subscription confirmation may point
	// at (default .amazonaws.com; tests point it at a local server).
	SNSHosts []string
	// Outbound guards the visit to an SNS confirmation URL
	// (--outbound-allow).
	Outbound *outbound.Guard
	// EmailDomain is the email intake's domain, empty when it is off.
	EmailDomain string
	// TwilioAuthToken checks SMS replies; PublicURL is where Twilio calls.
	TwilioAuthToken string
	PublicURL       string
	// SlackSigningSecret checks presses of Slack buttons; Slack rewrites
	// the messages pressed (both nil: no Slack app).
	SlackSigningSecret string
	Slack              *notify.SlackBot
	// Collectors are more metrics for /metrics (scheduled backups).
	Collectors []prometheus.Collector
}

type server struct {
	Deps
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

// Handler returns Ward's whole HTTP handler.
func Handler(d Deps) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s := &server{
		Deps: d,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ward_http_requests_total", Help: "HTTP requests by route and status code.",
		}, []string{"method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ward_http_request_duration_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}, []string{"method", "route"}),
	}
	reg.MustRegister(s.requests, s.duration)
	reg.MustRegister(d.Collectors...)
	if d.Pager != nil {
		reg.MustRegister(d.Pager.Collectors()...)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", s.ready)
	mux.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	api.Register(mux, api.Deps{Incidents: d.Incidents, Alerts: d.Alerts, Pager: d.Pager, Stakeholders: d.Stakeholders, Rules: d.Rules, Breach: d.Breach, Notices: d.Notices, Reports: d.Reports, Retention: d.Retention, Evidence: d.Evidence, Playbooks: d.Playbooks, Config: d.Config, Checkpoints: d.Checkpoints, Audit: d.Audit, EmailDomain: d.EmailDomain,
		Users: d.Users, Tokens: d.Tokens, PublicURL: d.PublicURL, Log: d.Log, Version: d.Version})
	scim.Register(mux, scim.Deps{Users: d.Users, Tokens: d.Tokens, PublicURL: d.PublicURL, Log: d.Log})
	links.Register(mux, links.Deps{Pager: d.Pager, Stakeholders: d.Stakeholders, Log: d.Log})
	intake.Register(mux, intake.Deps{Alerts: d.Alerts, Log: d.Log, SNSHosts: d.SNSHosts, Outbound: d.Outbound, Pager: d.Pager,
		TwilioAuthToken: d.TwilioAuthToken, PublicURL: d.PublicURL, SlackSigningSecret: d.SlackSigningSecret, Slack: d.Slack})
	d.UI.Register(mux)
	return s.observe(mux, securityHeaders(s.authenticate(mux)))
}

func (s *server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.DB.Ping(ctx); err != nil {
		s.Log.WarnContext(ctx, "readiness_failed", "error", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "database unreachable"})
		return
	}
	if s.Chain != nil {
		if ok, reason := s.Chain.Status(); !ok {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "audit trail broken", "reason": reason})
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// problem writes an RFC 9457 problem document.
func problem(w http.ResponseWriter, status int, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"title": http.StatusText(status), "status": status, "detail": detail})
}

// publicAPIPath reports whether p is an API path served without a token.
func publicAPIPath(p string) bool {
	return strings.HasPrefix(p, api.Prefix+"/openapi")
}

// authenticate requires a valid bearer token on every API path before
// routing, so that an unauthenticated caller learns nothing, not even
// whether a path or object exists.
func (s *server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, api.Prefix+"/") || publicAPIPath(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="ward"`)
			problem(w, http.StatusUnauthorized, "an API token is required: Authorization: Bearer <token>")
			return
		}
		actor, err := s.Tokens.Authenticate(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			if err != apitoken.ErrInvalid {
				s.Log.ErrorContext(r.Context(), "token_lookup_failed", "error", err)
				problem(w, http.StatusServiceUnavailable, "cannot check the token now; try again")
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="ward", error="invalid_token"`)
			problem(w, http.StatusUnauthorized, "invalid or revoked API token")
			return
		}
		next.ServeHTTP(w, r.WithContext(authz.WithActor(r.Context(), actor)))
	})
}

// contentSecurityPolicy allows only Ward's own scripts, styles and forms,
// no inline script, and images from Ward or data: URLs (the TOTP QR code).
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// securityHeaders sets the headers every response carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the connection's writer, so
// that a streamed upload can lift the server's deadlines.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func newRequestID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// observe gives each request an id and the caller's address (for the audit
// trail), recovers from panics, and logs and counts the request by its
// route pattern. It never logs the query string or body: they may hold PHI.
func (s *server) observe(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := newRequestID()
		ip, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			ip = r.RemoteAddr
		}
		w.Header().Set("X-Request-Id", id)
		r2 := r.WithContext(authz.WithRequest(r.Context(), authz.Request{ID: id, SourceIP: ip}))
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Log.ErrorContext(r.Context(), "http_panic", "request_id", id, "panic", v)
				if sw.status == 0 {
					problem(sw, http.StatusInternalServerError, "internal error; quote request id "+id)
				}
			}
			_, route := mux.Handler(r)
			if route == "" {
				route = "unmatched"
			}
			elapsed := time.Since(start)
			s.requests.WithLabelValues(r.Method, route, strconv.Itoa(sw.status)).Inc()
			s.duration.WithLabelValues(r.Method, route).Observe(elapsed.Seconds())
			s.Log.DebugContext(r.Context(), "http_request", "request_id", id, "method", r.Method, "route", route,
				"status", sw.status, "duration_ms", elapsed.Milliseconds())
		}()
		next.ServeHTTP(sw, r2)
	})
}
