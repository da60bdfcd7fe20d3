package api

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/apitoken"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/user"
)

// User is a person's account as the API shows it (never a password or
// second factor).
type User struct {
	ID           string     `json:"id"`
	Username     string     `json:"username"`
	DisplayName  string     `json:"display_name"`
	Email        string     `json:"email"`
	Role         string     `json:"role"`
	MFAEnabled   bool       `json:"mfa_enabled"`
	Disabled     bool       `json:"disabled"`
	CreatedAt    time.Time  `json:"created_at"`
	UpdatedAt    time.Time  `json:"updated_at"`
	LastLoginAt  *time.Time `json:"last_login_at,omitempty"`
	SCIMUserName string     `json:"scim_user_name,omitempty" doc:"What the identity provider that provisioned the person over SCIM calls them (userName)."`
}

func userOut(u user.User) User {
	return User{ID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Email: u.Email, Role: string(u.Role),
		MFAEnabled: u.MFAEnabled, Disabled: u.Disabled, CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, LastLoginAt: u.LastLoginAt,
		SCIMUserName: u.SCIMUserName}
}

// APIToken is an API token as the API shows it: never its secret.
type APIToken struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	UserID    string     `json:"user_id,omitempty" doc:"The person the token belongs to: disabling them revokes it."`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

func tokenOut(t apitoken.Token) APIToken {
	return APIToken{ID: t.ID, Name: t.Name, Role: string(t.Role), UserID: t.UserID, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
		RevokedAt: t.RevokedAt}
}

// Invite is a one-time sign-up link as the API shows it.
type Invite struct {
	ID        string    `json:"id"`
	Role      string    `json:"role"`
	Email     string    `json:"email,omitempty"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

type userRef struct {
	ID string `path:"id" maxLength:"100" doc:"User id or username."`
}

type userOutput struct{ Body User }

// InvitePath is the sign-up page an invitation link opens.
const InvitePath = "/invite"

func (h handler) registerPeople(api huma.API) {
	const tag = "people"
	huma.Register(api, tagged(op("list-users", http.MethodGet, "/users", "List users", http.StatusOK, authz.UserAdmin), tag),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []User }, error) {
			us, err := h.Users.List(ctx)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out := &struct{ Body []User }{Body: make([]User, len(us))}
			for i, u := range us {
				out.Body[i] = userOut(u)
			}
			return out, nil
		})
	huma.Register(api, tagged(op("get-user", http.MethodGet, "/users/{id}", "Get a user by id or username", http.StatusOK, authz.UserAdmin), tag),
		func(ctx context.Context, in *userRef) (*userOutput, error) {
			u, err := h.Users.Get(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &userOutput{userOut(u)}, nil
		})
	huma.Register(api, tagged(op("create-user", http.MethodPost, "/users",
		"Create a user; without a password the person signs in with single sign-on only", http.StatusCreated, authz.UserAdmin), tag),
		func(ctx context.Context, in *struct {
			Body struct {
				Username    string `json:"username" maxLength:"64" doc:"3 to 64 lower-case letters, digits, '.', '_' or '-'."`
				DisplayName string `json:"display_name,omitempty" maxLength:"200"`
				Email       string `json:"email,omitempty" maxLength:"254"`
				Role        string `json:"role" enum:"admin,security_officer,privacy_officer,responder,stakeholder,auditor,counsel"`
				Password    string `json:"password,omitempty" maxLength:"1024" doc:"At least 12 characters; common passwords are refused. Omit it for a person who signs in with single sign-on, or send an invitation instead."`
			}
		}) (*userOutput, error) {
			b := in.Body
			u, err := h.Users.Create(ctx, user.NewUser{Username: b.Username, DisplayName: b.DisplayName, Email: b.Email,
				Role: authz.Role(b.Role), Password: b.Password, SSOOnly: b.Password == ""})
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &userOutput{userOut(u)}, nil
		})
	huma.Register(api, tagged(op("update-user", http.MethodPatch, "/users/{id}",
		"Change a user's role (never the last enabled admin's)", http.StatusOK, authz.UserAdmin), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100" doc:"User id or username."`
			Body struct {
				Role string `json:"role" enum:"admin,security_officer,privacy_officer,responder,stakeholder,auditor,counsel"`
			}
		}) (*userOutput, error) {
			u, err := h.Users.SetRole(ctx, in.ID, authz.Role(in.Body.Role))
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &userOutput{userOut(u)}, nil
		})
	for _, a := range []struct {
		id, path, summary string
		do                func(context.Context, string) (user.User, error)
	}{
		{"disable-user", "/users/{id}/disable", "Disable a user: their sessions end and their API tokens are revoked at once (never the last enabled admin)", h.Users.Disable},
		{"enable-user", "/users/{id}/enable", "Let a disabled user sign in again", h.Users.Enable},
		{"reset-user-mfa", "/users/{id}/reset-mfa", "Remove a user's second factors and end their sessions; they enrol again at their next sign-in", h.Users.ResetMFA},
	} {
		huma.Register(api, tagged(op(a.id, http.MethodPost, a.path, a.summary, http.StatusOK, authz.UserAdmin), tag),
			func(ctx context.Context, in *userRef) (*userOutput, error) {
				u, err := a.do(ctx, in.ID)
				if err != nil {
					return nil, h.fail(ctx, "path", err)
				}
				return &userOutput{userOut(u)}, nil
			})
	}
	type createdInvite struct {
		Invite
		Token string `json:"token" doc:"The link's secret, shown only now: only its hash is kept."`
		URL   string `json:"url" doc:"The sign-up link to send the person; it works once, until expires_at."`
	}
	huma.Register(api, tagged(op("create-invite", http.MethodPost, "/invites",
		"Invite someone into a role with a one-time sign-up link (shown only now)", http.StatusCreated, authz.UserAdmin), tag),
		func(ctx context.Context, in *struct {
			Body struct {
				Role           string `json:"role" enum:"admin,security_officer,privacy_officer,responder,stakeholder,auditor,counsel"`
				Email          string `json:"email,omitempty" maxLength:"254" doc:"Offered to the person on the sign-up page."`
				ExpiresInHours int    `json:"expires_in_hours,omitempty" doc:"How long the link works; default 72, at most 720."`
			}
		}) (*struct{ Body createdInvite }, error) {
			inv, token, err := h.Users.CreateInvite(ctx, authz.Role(in.Body.Role), in.Body.Email, time.Duration(in.Body.ExpiresInHours)*time.Hour)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			link := strings.TrimRight(h.PublicURL, "/") + InvitePath + "?" + url.Values{"token": {token}}.Encode()
			return &struct{ Body createdInvite }{createdInvite{Invite{ID: inv.ID, Role: string(inv.Role), Email: inv.Email,
				CreatedAt: inv.CreatedAt, ExpiresAt: inv.ExpiresAt}, token, link}}, nil
		})
	huma.Register(api, tagged(op("list-api-tokens", http.MethodGet, "/api-tokens", "List API tokens (never their secrets)",
		http.StatusOK, authz.UserAdmin), tag),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []APIToken }, error) {
			ts, err := h.Tokens.List(ctx)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out := &struct{ Body []APIToken }{Body: make([]APIToken, len(ts))}
			for i, t := range ts {
				out.Body[i] = tokenOut(t)
			}
			return out, nil
		})
	type createdToken struct {
		APIToken
		Token string `json:"token" doc:"The secret, shown only now: only its hash is kept."`
	}
	huma.Register(api, tagged(op("create-api-token", http.MethodPost, "/api-tokens",
		"Create an API token with a role and an expiry; the secret is shown only now", http.StatusCreated, authz.UserAdmin), tag),
		func(ctx context.Context, in *struct {
			Body struct {
				Name      string     `json:"name" maxLength:"100"`
				Role      string     `json:"role" enum:"admin,security_officer,privacy_officer,responder,stakeholder,auditor,counsel"`
				ExpiresAt *time.Time `json:"expires_at,omitempty" doc:"When the token stops working; omit for none."`
				User      string     `json:"user,omitempty" maxLength:"100" doc:"Id or username of the person the token belongs to: disabling them revokes it."`
			}
		}) (*struct{ Body createdToken }, error) {
			b := in.Body
			t, secret, err := h.Tokens.Issue(ctx, apitoken.NewToken{Name: b.Name, Role: authz.Role(b.Role), ExpiresAt: b.ExpiresAt, User: b.User})
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body createdToken }{createdToken{tokenOut(t), secret}}, nil
		})
	huma.Register(api, tagged(op("revoke-api-token", http.MethodDelete, "/api-tokens/{id}", "Revoke an API token at once",
		http.StatusNoContent, authz.UserAdmin), tag),
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"100"`
		}) (*struct{}, error) {
			if _, err := h.Tokens.Revoke(ctx, in.ID); err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return nil, nil
		})
}
