// Package api is Ward's JSON API, version 1. Operations are declared with
// huma, which validates requests against the same schema it publishes as
// the OpenAPI 3.1 document at /api/v1/openapi.json. Handlers parse, call
// one service method and render; authentication happens before routing
// (see package web) and authorisation again in the services.
package api

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apitoken"
	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/confcode"
	"github.com/wardhq/ward/internal/evidence"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/notice"
	"github.com/wardhq/ward/internal/paging"
	"github.com/wardhq/ward/internal/playbook"
	"github.com/wardhq/ward/internal/report"
	"github.com/wardhq/ward/internal/retention"
	"github.com/wardhq/ward/internal/rules"
	"github.com/wardhq/ward/internal/stakeholder"
	"github.com/wardhq/ward/internal/user"
)

// Prefix is where the API lives.
const Prefix = "/api/v1"

// OpenAPIPath is the OpenAPI document's path, served without a token.
const OpenAPIPath = Prefix + "/openapi.json"

// MaxBodyBytes caps a JSON request body; operations that take a CSV list
// or an archive state their own limit (x-ward-max-body-bytes).
const MaxBodyBytes = 256 << 10

// Deps are the services the API calls.
type Deps struct {
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
	Audit  *audit.Reader
	Users  *user.Service
	Tokens *apitoken.Service
	// EmailDomain is the email intake's domain, empty when it is off.
	EmailDomain string
	// PublicURL is where people reach Ward, for invitation links.
	PublicURL string
	Log       *slog.Logger
	Version   string
}

type handler struct{ Deps }

// Register adds every API operation to mux and returns the huma API (its
// OpenAPI document is what the tests and docs read).
func Register(mux *http.ServeMux, d Deps) huma.API {
	cfg := huma.DefaultConfig("Ward API", d.Version)
	cfg.Info.Description = "HIPAA security incident response and breach notification. " +
		"Every request needs `Authorization: Bearer <token>` (create one with `ward token create`). " +
		"Errors are RFC 9457 problem+json documents that name the offending field."
	cfg.OpenAPIPath = Prefix + "/openapi"
	cfg.DocsPath = ""    // the docs renderer loads scripts from a CDN; Ward serves none
	cfg.SchemasPath = "" // schemas are inline in the OpenAPI document
	cfg.CreateHooks = nil
	cfg.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		"bearer": {Type: "http", Scheme: "bearer", Description: "An API token from `ward token create`."},
	}
	cfg.Security = []map[string][]string{{"bearer": {}}}
	api := humago.New(mux, cfg)
	api.UseMiddleware(requirePermission(api), inputPolicy(api))
	h := handler{d}
	h.registerIncidents(api)
	h.registerTriage(api)
	h.registerTasks(api)
	h.registerReview(api)
	h.registerKeyEvents(api)
	h.registerInvestigationReport(api)
	h.registerIncidentRegister(api)
	h.registerServices(api)
	h.registerAlerts(api)
	h.registerPaging(api)
	h.registerStakeholders(api)
	h.registerStakeholderContacts(api)
	h.registerStatusPages(api)
	h.registerExternalSubscribers(api)
	h.registerSLAReport(api)
	h.registerRules(api)
	h.registerAlertRules(api)
	h.registerBreach(api)
	h.registerNotices(api)
	h.registerRestricted(api)
	h.registerReports(api)
	h.registerAudit(api)
	h.registerRetention(api)
	h.registerEvidence(api)
	h.registerPlaybooks(api)
	h.registerConfig(api)
	h.registerAuditCheckpoints(api)
	h.registerAuditSegments(api)
	h.registerPeople(api)
	documentLimits(api)
	return api
}

// PermissionExtension names the OpenAPI extension that states the
// permission an operation needs; requirePermission enforces it.
const PermissionExtension = "x-ward-permission"

// ChangesNothingExtension marks an operation sent with POST that only
// computes an answer (a preview, a dry run, a verification): the auditor
// role, which changes nothing, may call it.
const ChangesNothingExtension = "x-ward-changes-nothing"

// changesNothing marks o with ChangesNothingExtension.
func changesNothing(o huma.Operation) huma.Operation {
	o.Extensions[ChangesNothingExtension] = true
	return o
}

// BodyReadTimeout is how long an operation may take to read its body and
// run, as the server's ReadTimeout (internal/app).
const BodyReadTimeout = 30 * time.Second

func op(id, method, path, summary string, status int, perm authz.Permission) huma.Operation {
	return huma.Operation{
		Extensions:    map[string]any{PermissionExtension: string(perm)},
		OperationID:   id,
		Method:        method,
		Path:          Prefix + path,
		Summary:       summary,
		DefaultStatus: status,
		MaxBodyBytes:  MaxBodyBytes,
		// huma sets this read deadline before it reads a body and leaves
		// it for the handler's whole run; on HTTP/1.1 the connection's
		// background read then cancels the request's context when it
		// passes. Its default of 5 s cut off work that takes longer (a run
		// of letters), so it is the server's own ReadTimeout; the streamed
		// routes and the runs of letters and emails lift both deadlines
		// for themselves.
		BodyReadTimeout: BodyReadTimeout,
		Tags:            []string{"incidents"},
		Errors:          []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity},
	}
}

// requirePermission refuses, with 403, a caller whose role lacks the
// permission the operation declares; an operation that declares none is
// refused to everyone, so a forgotten declaration fails closed. The
// services check again.
func requirePermission(api huma.API) func(huma.Context, func(huma.Context)) {
	return func(ctx huma.Context, next func(huma.Context)) {
		perm, _ := ctx.Operation().Extensions[PermissionExtension].(string)
		actor, ok := authz.ActorFrom(ctx.Context())
		switch {
		case !ok:
			_ = huma.WriteErr(api, ctx, http.StatusUnauthorized, "authentication required")
		case perm == "" || !authz.Has(actor.Role, authz.Permission(perm)):
			_ = huma.WriteErr(api, ctx, http.StatusForbidden, fmt.Sprintf("your role (%s) lacks the permission %s", actor.Role, perm))
		default:
			next(ctx)
		}
	}
}

// fail turns a service error into a problem+json response. Field errors name
// the field at its location in the request (body.title, query.status).
func (h handler) fail(ctx context.Context, where string, err error) error {
	e, ok := apperr.As(err)
	if !ok || e.Code == apperr.Internal {
		req := authz.RequestFrom(ctx)
		h.Log.ErrorContext(ctx, "api_internal_error", "request_id", req.ID, "error", err)
		return huma.Error500InternalServerError(fmt.Sprintf("internal error; quote request id %s", req.ID))
	}
	var details []error
	for _, f := range e.Fields {
		details = append(details, &huma.ErrorDetail{Location: where + "." + f.Field, Message: f.Message})
	}
	status := map[apperr.Code]int{
		apperr.Invalid:      http.StatusUnprocessableEntity,
		apperr.NotFound:     http.StatusNotFound,
		apperr.Conflict:     http.StatusConflict,
		apperr.Unauthorized: http.StatusUnauthorized,
		apperr.Forbidden:    http.StatusForbidden,
		apperr.TooSoon:      http.StatusTooManyRequests,
	}[e.Code]
	return huma.NewError(status, e.Message, details...)
}
