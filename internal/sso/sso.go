// Package sso signs people in to Ward through an OpenID Connect identity
// provider (Okta, Microsoft Entra ID, Google and others): the Authorization
// Code flow with PKCE, state and nonce, and an ID token verified with
// go-oidc (signature, issuer, audience, expiry, nonce). It maps the
// token's groups to a Ward role and hands the result to
// user.Service.SignInExternal, which finds, links or creates the account.
//
// The identity provider is discovered on first use and again after a
// failure, so Ward starts, and local sign-in (the break-glass admin) keeps
// working, while the provider is unreachable.
//
// Between the redirect to the provider and the callback, the state, nonce
// and PKCE verifier live in a short-lived cookie signed with a key derived
// from the client secret, so that every node of a cluster can check it.
package sso

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/user"
)

// Cookie is the name of the cookie that carries a sign-in in progress.
const Cookie = "ward_oidc"

// CallbackPath is where the provider sends the browser back.
const CallbackPath = "/login/oidc/callback"

// cookieTTL is how long a person has at the provider to sign in.
const cookieTTL = 10 * time.Minute

// timeout bounds each call to the provider (discovery, token, keys).
const timeout = 10 * time.Second

// The answers for a sign-in that failed before Ward knew who it was.
var (
	// ErrUnavailable means the provider could not be reached or answered badly.
	ErrUnavailable = apperr.New(apperr.Unauthorized,
		"The identity provider could not be reached, or its answer was not valid. Try again later; "+
			"administrators can still sign in with their Ward password.")
	// ErrState is a callback that does not belong to a sign-in this browser started.
	ErrState = apperr.New(apperr.Unauthorized,
		"This sign-in was not started here, or it took longer than 10 minutes. Start again.")
	// ErrToken is an ID token that failed verification (signature, issuer,
	// audience, expiry or nonce).
	ErrToken = apperr.New(apperr.Unauthorized, "The identity provider's answer could not be verified. Start again.")
	// ErrDenied is a callback carrying the provider's error, such as the
	// person declining or not being assigned to the application.
	ErrDenied = apperr.New(apperr.Unauthorized, "The identity provider did not sign you in.")
)

// Options configure a Client.
type Options struct {
	Issuer       string // the provider's issuer URL, exactly as its tokens name it
	ClientID     string
	ClientSecret string
	RedirectURL  string // Ward's CallbackPath at its public URL
	// GroupsClaim is the ID token claim listing the person's groups (a
	// list of strings, or one string such as Google's hd). Default "groups".
	GroupsClaim string
	// RoleMap maps a group to a Ward role; the highest-privilege role among
	// the person's mapped groups wins (RoleRank).
	RoleMap map[string]authz.Role
	// Name labels the sign-in button: "Sign in with <Name>".
	Name string
	// HTTPClient reaches the provider, the ID token's signing keys
	// included; it should have a timeout. nil: a client with a 10-second one.
	HTTPClient *http.Client
}

// Client runs sign-ins against one provider. It is safe for concurrent use.
type Client struct {
	opts    Options
	hmacKey []byte

	mu       sync.Mutex
	provider *oidc.Provider // nil until discovery succeeds
}

// New checks o and returns a Client. It does not contact the provider.
func New(o Options) (*Client, error) {
	if o.Issuer == "" || o.ClientID == "" || o.ClientSecret == "" || o.RedirectURL == "" {
		return nil, errors.New("sso: issuer, client id, client secret and redirect URL are all required")
	}
	if len(o.RoleMap) == 0 {
		return nil, errors.New("sso: the role map is empty: no one could sign in")
	}
	if o.GroupsClaim == "" {
		o.GroupsClaim = "groups"
	}
	if o.Name == "" {
		o.Name = "single sign-on"
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{Timeout: timeout}
	}
	mac := hmac.New(sha256.New, []byte(o.ClientSecret))
	mac.Write([]byte("ward oidc state cookie v1"))
	return &Client{opts: o, hmacKey: mac.Sum(nil)}, nil
}

// Name is the provider's label for the sign-in button.
func (c *Client) Name() string { return c.opts.Name }

// discover returns the provider, fetching its configuration if needed.
func (c *Client) discover(ctx context.Context) (*oidc.Provider, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.provider != nil {
		return c.provider, nil
	}
	ctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, c.opts.HTTPClient), timeout)
	defer cancel()
	p, err := oidc.NewProvider(ctx, c.opts.Issuer)
	if err != nil {
		return nil, fmt.Errorf("sso: discover %s: %w", c.opts.Issuer, err)
	}
	c.provider = p
	return p, nil
}

func (c *Client) oauth(p *oidc.Provider) *oauth2.Config {
	return &oauth2.Config{ClientID: c.opts.ClientID, ClientSecret: c.opts.ClientSecret, RedirectURL: c.opts.RedirectURL,
		Endpoint: p.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "email", "profile"}}
}

// state is what the cookie carries from Begin to Finish.
type state struct {
	State    string    `json:"s"`
	Nonce    string    `json:"n"`
	Verifier string    `json:"v"`
	Next     string    `json:"r"`
	Expires  time.Time `json:"e"`
}

// Begin starts a sign-in: it returns the provider's authorization URL to
// send the browser to, and the cookie to set with it. next is where to go
// once signed in (a local path; the caller checks it).
func (c *Client) Begin(ctx context.Context, next string, now time.Time) (string, *http.Cookie, error) {
	p, err := c.discover(ctx)
	if err != nil {
		return "", nil, errors.Join(ErrUnavailable, err)
	}
	st := state{State: random(), Nonce: random(), Verifier: oauth2.GenerateVerifier(), Next: next, Expires: now.Add(cookieTTL)}
	value, err := c.seal(st)
	if err != nil {
		return "", nil, err
	}
	target := c.oauth(p).AuthCodeURL(st.State, oidc.Nonce(st.Nonce), oauth2.S256ChallengeOption(st.Verifier))
	return target, c.cookie(value, int(cookieTTL/time.Second)), nil
}

// cookie is the sign-in cookie. It is SameSite=Lax, unlike the session
// cookie's Strict: the provider sends the browser back with a cross-site
// top-level GET, on which a browser sends Lax cookies but not Strict ones.
// It is HttpOnly, Secure, limited to the callback's path, signed, lives 10
// minutes and holds no credential: alone it signs no one in.
func (c *Client) cookie(value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: Cookie, Value: value, Path: CallbackPath, MaxAge: maxAge, Secure: true, HttpOnly: true,
		SameSite: http.SameSiteLaxMode}
}

// ClearCookie is the cookie that removes the sign-in cookie.
func (c *Client) ClearCookie() *http.Cookie { return c.cookie("", -1) }

// Finish completes a sign-in from the provider's callback request r: it
// checks the state against the cookie, exchanges the code (with the PKCE
// verifier), verifies the ID token and its nonce, and maps its groups. It
// returns the identity for user.Service.SignInExternal (Role "" when no
// group maps: SignInExternal refuses it) and where to go next. The caller
// clears the cookie whatever the outcome.
func (c *Client) Finish(ctx context.Context, r *http.Request, now time.Time) (user.ExternalIdentity, string, error) {
	q := r.URL.Query()
	ck, err := r.Cookie(Cookie)
	if err != nil {
		return user.ExternalIdentity{}, "", ErrState
	}
	st, err := c.open(ck.Value, now)
	if err != nil || subtle.ConstantTimeCompare([]byte(q.Get("state")), []byte(st.State)) != 1 {
		return user.ExternalIdentity{}, "", ErrState
	}
	if q.Get("error") != "" {
		return user.ExternalIdentity{}, "", ErrDenied
	}
	p, err := c.discover(ctx)
	if err != nil {
		return user.ExternalIdentity{}, "", errors.Join(ErrUnavailable, err)
	}
	ctx, cancel := context.WithTimeout(context.WithValue(ctx, oauth2.HTTPClient, c.opts.HTTPClient), timeout)
	defer cancel()
	tok, err := c.oauth(p).Exchange(ctx, q.Get("code"), oauth2.VerifierOption(st.Verifier))
	if err != nil {
		return user.ExternalIdentity{}, "", errors.Join(ErrUnavailable, fmt.Errorf("sso: token exchange: %w", err))
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok || raw == "" {
		return user.ExternalIdentity{}, "", errors.Join(ErrToken, errors.New("sso: the token response has no id_token"))
	}
	idt, err := p.Verifier(&oidc.Config{ClientID: c.opts.ClientID}).Verify(ctx, raw)
	if err != nil {
		return user.ExternalIdentity{}, "", errors.Join(ErrToken, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(st.Nonce)) != 1 {
		return user.ExternalIdentity{}, "", errors.Join(ErrToken, errors.New("sso: the ID token's nonce does not match"))
	}
	var claims struct {
		Email             string          `json:"email"`
		EmailVerified     json.RawMessage `json:"email_verified"`
		Name              string          `json:"name"`
		PreferredUsername string          `json:"preferred_username"`
	}
	var all map[string]json.RawMessage
	if err := idt.Claims(&claims); err != nil {
		return user.ExternalIdentity{}, "", errors.Join(ErrToken, err)
	}
	if err := idt.Claims(&all); err != nil {
		return user.ExternalIdentity{}, "", errors.Join(ErrToken, err)
	}
	// The configured issuer, not the token's iss, names the link: the
	// verifier has checked they agree, and Google's iss may lack https://.
	id := user.ExternalIdentity{Issuer: c.opts.Issuer, Subject: idt.Subject, Email: claims.Email,
		EmailVerified: isTrue(claims.EmailVerified), Name: claims.Name, Username: claims.PreferredUsername,
		Role: c.MapRole(groups(all[c.opts.GroupsClaim]))}
	return id, st.Next, nil
}

// isTrue reads a boolean claim that some providers send as a string.
func isTrue(raw json.RawMessage) bool {
	s := strings.Trim(string(raw), `"`)
	return s == "true"
}

// groups reads a groups claim: a list of strings, or one string.
func groups(raw json.RawMessage) []string {
	var list []string
	if json.Unmarshal(raw, &list) == nil {
		return list
	}
	var one string
	if json.Unmarshal(raw, &one) == nil && one != "" {
		return []string{one}
	}
	return nil
}

// RoleRank orders the roles from most to least privileged, for picking one
// when a person's groups map to several.
var RoleRank = []authz.Role{authz.RoleAdmin, authz.RoleSecurityOfficer, authz.RolePrivacyOfficer,
	authz.RoleCounsel, authz.RoleResponder, authz.RoleAuditor, authz.RoleStakeholder}

// MapRole returns the highest-privilege role that any of groups maps to,
// or "" when none maps.
func (c *Client) MapRole(groups []string) authz.Role {
	best := -1
	for _, g := range groups {
		r, ok := c.opts.RoleMap[g]
		if !ok {
			continue
		}
		if i := slices.Index(RoleRank, r); i >= 0 && (best < 0 || i < best) {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	return RoleRank[best]
}

// ParseRoleMap reads "group=role,group=role" (roles as authz names them).
// A group may contain '=' only before the last one; spaces around names
// are dropped.
func ParseRoleMap(s string) (map[string]authz.Role, error) {
	out := map[string]authz.Role{}
	for pair := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(pair) == "" {
			continue
		}
		i := strings.LastIndex(pair, "=")
		if i < 0 {
			return nil, fmt.Errorf("%q is not group=role", strings.TrimSpace(pair))
		}
		group, role := strings.TrimSpace(pair[:i]), authz.Role(strings.TrimSpace(pair[i+1:]))
		if group == "" {
			return nil, fmt.Errorf("%q names no group", strings.TrimSpace(pair))
		}
		if !authz.ValidRole(role) {
			return nil, fmt.Errorf("%q: %q is not a role; the roles are: %s", group, role, authz.RoleNames())
		}
		if prev, ok := out[group]; ok && prev != role {
			return nil, fmt.Errorf("%q is mapped twice, to %s and %s", group, prev, role)
		}
		out[group] = role
	}
	if len(out) == 0 {
		return nil, errors.New("maps no group")
	}
	return out, nil
}

// random returns 256 random bits, base64url.
func random() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// seal signs st: base64url(JSON) "." base64url(HMAC-SHA256).
func (c *Client) seal(st state) (string, error) {
	body, err := json.Marshal(st)
	if err != nil {
		return "", fmt.Errorf("sso: state: %w", err)
	}
	b := base64.RawURLEncoding.EncodeToString(body)
	return b + "." + base64.RawURLEncoding.EncodeToString(c.mac(b)), nil
}

// open checks a sealed state's signature and expiry.
func (c *Client) open(v string, now time.Time) (state, error) {
	b, sig, ok := strings.Cut(v, ".")
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if !ok || err != nil || !hmac.Equal(got, c.mac(b)) {
		return state{}, errors.New("sso: state cookie: bad signature")
	}
	body, err := base64.RawURLEncoding.DecodeString(b)
	if err != nil {
		return state{}, errors.New("sso: state cookie: bad encoding")
	}
	var st state
	if err := json.Unmarshal(body, &st); err != nil {
		return state{}, errors.New("sso: state cookie: bad content")
	}
	if !now.Before(st.Expires) {
		return state{}, errors.New("sso: state cookie: expired")
	}
	return st, nil
}

func (c *Client) mac(b string) []byte {
	m := hmac.New(sha256.New, c.hmacKey)
	m.Write([]byte(b))
	return m.Sum(nil)
}

// RedirectURL is the default callback URL for a Ward reached at base.
func RedirectURL(base string) string {
	u, err := url.JoinPath(base, CallbackPath)
	if err != nil {
		return strings.TrimSuffix(base, "/") + CallbackPath
	}
	return u
}
