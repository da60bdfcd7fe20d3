// Package authz carries who is acting, and the request facts the audit
// trail records, through a context, and decides what that actor may do.
package authz

import (
	"context"

	"github.com/wardhq/ward/internal/apperr"
)

// Kind says what sort of actor is acting.
type Kind string

// The actor kinds.
const (
	KindToken  Kind = "token"  // an API token
	KindCLI    Kind = "cli"    // an operator at the ward command line
	KindSystem Kind = "system" // Ward itself (jobs, start-up)
)

// Role is a set of permissions. Only admin exists until user accounts land
// (issue #3 brings the full role table).
type Role string

// The roles.
const (
	RoleAdmin Role = "admin"
)

// ValidRole reports whether r is a known role.
func ValidRole(r Role) bool { return r == RoleAdmin }

// Permission names one thing an actor may do.
type Permission string

// The permissions.
const (
	IncidentRead  Permission = "incident:read"
	IncidentWrite Permission = "incident:write"
)

var rolePermissions = map[Role]map[Permission]bool{
	RoleAdmin: {IncidentRead: true, IncidentWrite: true},
}

// Actor is who is acting.
type Actor struct {
	Kind Kind
	ID   string
	Name string
	Role Role
}

// String is the actor as the audit trail and timeline record it.
func (a Actor) String() string { return string(a.Kind) + ":" + a.Name }

// System is Ward acting on its own behalf.
var System = Actor{Kind: KindSystem, ID: "ward", Name: "ward", Role: RoleAdmin}

// Request is what the audit trail records of where a change came from.
type Request struct {
	ID       string
	SourceIP string
}

type actorKey struct{}
type requestKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorFrom returns the actor in ctx.
func ActorFrom(ctx context.Context) (Actor, bool) {
	a, ok := ctx.Value(actorKey{}).(Actor)
	return a, ok
}

// WithRequest returns ctx carrying r.
func WithRequest(ctx context.Context, r Request) context.Context {
	return context.WithValue(ctx, requestKey{}, r)
}

// RequestFrom returns the request facts in ctx, empty when there are none.
func RequestFrom(ctx context.Context) Request {
	r, _ := ctx.Value(requestKey{}).(Request)
	return r
}

// Check returns the actor in ctx if it holds p, else an Unauthorized or
// Forbidden error.
func Check(ctx context.Context, p Permission) (Actor, error) {
	a, ok := ActorFrom(ctx)
	if !ok {
		return Actor{}, apperr.New(apperr.Unauthorized, "authentication required")
	}
	if !rolePermissions[a.Role][p] {
		return Actor{}, apperr.New(apperr.Forbidden, "permission %s required", p)
	}
	return a, nil
}
