// Package scim is Ward's SCIM 2.0 service provider (RFC 7643, RFC 7644)
// at /scim/v2, so that an identity provider (Okta, Entra ID) provisions
// and deprovisions people. Users are Ward's accounts; Groups are Ward's
// roles, one group per role, and a person's membership is their role.
// Deprovisioning (active=false, or DELETE) disables the account: its
// sessions end and its API tokens are revoked at once, and Ward keeps the
// record for the audit trail. Every change goes through package user,
// which audits it in the same transaction.
//
// Only an API token whose role holds authz.UserAdmin may call it; a
// signed-in session may not. The documents are application/scim+json,
// outside the JSON API's OpenAPI document (docs/PEOPLE_API.md).
package scim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apitoken"
	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/user"
)

// Prefix is where the SCIM service lives.
const Prefix = "/scim/v2"

// MediaType is SCIM's media type (RFC 7644 3.1).
const MediaType = "application/scim+json"

// The schema URNs (RFC 7643 8.7, RFC 7644 3.5.2, 3.4.2, 3.12).
const (
	SchemaUser        = "urn:ietf:params:scim:schemas:core:2.0:User"
	SchemaGroup       = "urn:ietf:params:scim:schemas:core:2.0:Group"
	SchemaListResp    = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
	SchemaPatchOp     = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
	SchemaError       = "urn:ietf:params:scim:api:messages:2.0:Error"
	SchemaSPConfig    = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"
	SchemaResourceTyp = "urn:ietf:params:scim:schemas:core:2.0:ResourceType"
	SchemaSchema      = "urn:ietf:params:scim:schemas:core:2.0:Schema"
)

// MaxBody caps a request body; MaxCount caps a page of results.
const (
	MaxBody  = 64 << 10
	MaxCount = 200
)

// Deps are what the SCIM service needs.
type Deps struct {
	Users  *user.Service
	Tokens *apitoken.Service
	// PublicURL is where Ward is reached, for meta.location.
	PublicURL string
	Log       *slog.Logger
}

type server struct{ Deps }

// Register adds the SCIM routes to mux.
func Register(mux *http.ServeMux, d Deps) {
	s := &server{d}
	routes := map[string]func(http.ResponseWriter, *http.Request) error{
		"GET /ServiceProviderConfig": s.spConfig,
		"GET /ResourceTypes":         s.resourceTypes,
		"GET /ResourceTypes/{id}":    s.resourceType,
		"GET /Schemas":               s.schemas,
		"GET /Schemas/{id}":          s.schema,
		"GET /Users":                 s.listUsers,
		"POST /Users":                s.createUser,
		"GET /Users/{id}":            s.getUser,
		"PUT /Users/{id}":            s.replaceUser,
		"PATCH /Users/{id}":          s.patchUser,
		"DELETE /Users/{id}":         s.deleteUser,
		"GET /Groups":                s.listGroups,
		"POST /Groups":               s.createGroup,
		"GET /Groups/{id}":           s.getGroup,
		"PUT /Groups/{id}":           s.replaceGroup,
		"PATCH /Groups/{id}":         s.patchGroup,
		"DELETE /Groups/{id}":        s.createGroup,
	}
	for pattern, h := range routes {
		method, path, _ := strings.Cut(pattern, " ")
		mux.Handle(method+" "+Prefix+path, s.authenticated(h))
	}
	mux.Handle(Prefix+"/", s.authenticated(func(http.ResponseWriter, *http.Request) error {
		return scimErr(http.StatusNotFound, "", "no such SCIM endpoint")
	}))
}

// Error is a SCIM error (RFC 7644 3.12).
type Error struct {
	Status   int
	SCIMType string
	Detail   string
}

func (e *Error) Error() string { return e.Detail }

func scimErr(status int, scimType, format string, args ...any) *Error {
	return &Error{Status: status, SCIMType: scimType, Detail: fmt.Sprintf(format, args...)}
}

// attrNames maps Ward's field names to the SCIM attributes they come from.
var attrNames = map[string]string{"display_name": "displayName", "email": "emails", "role": "groups"}

// fromApp turns a service error into a SCIM error.
func (s *server) fromApp(ctx context.Context, err error) *Error {
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	e, ok := apperr.As(err)
	if !ok || e.Code == apperr.Internal {
		req := authz.RequestFrom(ctx)
		s.Log.ErrorContext(ctx, "scim_internal_error", "request_id", req.ID, "error", err)
		return scimErr(http.StatusInternalServerError, "", "internal error; quote request id %s", req.ID)
	}
	switch e.Code {
	case apperr.Invalid:
		detail := e.Message
		if len(e.Fields) > 0 {
			f := e.Fields[0].Field
			if n, ok := attrNames[f]; ok {
				f = n
			}
			detail = f + ": " + e.Fields[0].Message
		}
		return scimErr(http.StatusBadRequest, "invalidValue", "%s", detail)
	case apperr.NotFound:
		return scimErr(http.StatusNotFound, "", "%s", e.Message)
	case apperr.Conflict:
		if strings.Contains(e.Message, "userName") {
			return scimErr(http.StatusConflict, "uniqueness", "%s", e.Message)
		}
		return scimErr(http.StatusConflict, "mutability", "%s", e.Message)
	case apperr.Unauthorized:
		return scimErr(http.StatusUnauthorized, "", "%s", e.Message)
	case apperr.Forbidden:
		return scimErr(http.StatusForbidden, "", "%s", e.Message)
	}
	return scimErr(http.StatusBadRequest, "", "%s", e.Message)
}

func writeSCIM(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", MediaType)
	w.WriteHeader(status)
	if v != nil {
		_ = json.NewEncoder(w).Encode(v)
	}
}

func writeErr(w http.ResponseWriter, e *Error) {
	body := map[string]any{"schemas": []string{SchemaError}, "status": strconv.Itoa(e.Status), "detail": e.Detail}
	if e.SCIMType != "" {
		body["scimType"] = e.SCIMType
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="ward-scim"`)
	}
	writeSCIM(w, e.Status, body)
}

// authenticated requires an API token whose role holds authz.UserAdmin,
// then runs h and writes its error as a SCIM error.
func (s *server) authenticated(h func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			writeErr(w, scimErr(http.StatusUnauthorized, "", "an API token is required: Authorization: Bearer <token>"))
			return
		}
		actor, err := s.Tokens.Authenticate(r.Context(), strings.TrimSpace(secret))
		if err != nil {
			if errors.Is(err, apitoken.ErrInvalid) {
				writeErr(w, scimErr(http.StatusUnauthorized, "", "invalid, expired or revoked API token"))
				return
			}
			writeErr(w, s.fromApp(r.Context(), err))
			return
		}
		if !authz.Has(actor.Role, authz.UserAdmin) {
			writeErr(w, scimErr(http.StatusForbidden, "", "the token's role (%s) lacks the permission %s", actor.Role, authz.UserAdmin))
			return
		}
		ctx := authz.WithActor(r.Context(), actor)
		r.Body = http.MaxBytesReader(w, r.Body, MaxBody)
		if err := h(w, r.WithContext(ctx)); err != nil {
			writeErr(w, s.fromApp(ctx, err))
		}
	})
}

// decode reads a JSON body into v.
func decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, MediaType) && !strings.HasPrefix(ct, "application/json") {
		return scimErr(http.StatusUnsupportedMediaType, "", "send %s", MediaType)
	}
	if err := json.NewDecoder(r.Body).Decode(v); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return scimErr(http.StatusRequestEntityTooLarge, "tooLarge", "the body is larger than %d bytes", MaxBody)
		}
		return scimErr(http.StatusBadRequest, "invalidSyntax", "the body is not valid JSON for this resource: %v", err)
	}
	return nil
}

// meta is a resource's meta attribute (RFC 7643 3.1).
type meta struct {
	ResourceType string    `json:"resourceType"`
	Created      time.Time `json:"created,omitzero"`
	LastModified time.Time `json:"lastModified,omitzero"`
	Location     string    `json:"location"`
}

func (s *server) location(kind, id string) string {
	return strings.TrimRight(s.PublicURL, "/") + Prefix + "/" + kind + "/" + id
}

type listResponse struct {
	Schemas      []string `json:"schemas"`
	TotalResults int      `json:"totalResults"`
	StartIndex   int      `json:"startIndex"`
	ItemsPerPage int      `json:"itemsPerPage"`
	Resources    []any    `json:"Resources"`
}

// page cuts items to the page startIndex and count ask for (RFC 7644
// 3.4.2.4: 1-based startIndex, a count below 0 is 0).
func page[T any](r *http.Request, items []T) (listResponse, error) {
	q := r.URL.Query()
	start, count := 1, 100
	if v := q.Get("startIndex"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return listResponse{}, scimErr(http.StatusBadRequest, "invalidValue", "startIndex: must be a whole number")
		}
		start = max(n, 1)
	}
	if v := q.Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return listResponse{}, scimErr(http.StatusBadRequest, "invalidValue", "count: must be a whole number")
		}
		count = min(max(n, 0), MaxCount)
	}
	out := listResponse{Schemas: []string{SchemaListResp}, TotalResults: len(items), StartIndex: start, Resources: []any{}}
	for i := start - 1; i >= 0 && i < len(items) && len(out.Resources) < count; i++ {
		out.Resources = append(out.Resources, items[i])
	}
	out.ItemsPerPage = len(out.Resources)
	return out, nil
}

// eqFilter parses the one filter form Ward supports, `attr eq "value"`
// (RFC 7644 3.4.2.2), for the attributes allowed; "" matches everything.
func eqFilter(r *http.Request, allowed ...string) (attr, value string, err error) {
	f := strings.TrimSpace(r.URL.Query().Get("filter"))
	if f == "" {
		return "", "", nil
	}
	parts := strings.SplitN(f, " ", 3)
	if len(parts) == 3 && strings.EqualFold(parts[1], "eq") {
		for _, a := range allowed {
			if strings.EqualFold(parts[0], a) {
				v, uerr := strconv.Unquote(strings.TrimSpace(parts[2]))
				if uerr == nil {
					return a, v, nil
				}
			}
		}
	}
	return "", "", scimErr(http.StatusBadRequest, "invalidFilter",
		"filter: Ward supports only %s eq \"value\"", strings.Join(allowed, " or "))
}
