package e2e

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/authz"
)

// idpPerson is who the fake identity provider signs in next.
type idpPerson struct {
	sub           string
	email         string
	emailVerified bool
	groups        []string
	badNonce      bool // sign the ID token with another nonce
}

// fakeIdP is an OpenID Connect provider on 127.0.0.1: discovery, keys, an
// authorization endpoint that signs in whoever is set without asking, and
// a token endpoint that checks the client secret and the PKCE verifier and
// returns an RS256 ID token.
type fakeIdP struct {
	t   *testing.T
	srv *httptest.Server
	key *rsa.PrivateKey

	mu     sync.Mutex
	person idpPerson
	codes  map[string]idpGrant // code → what it was issued for
}

type idpGrant struct {
	person    idpPerson
	nonce     string
	challenge string
	redirect  string
}

const (
	idpClientID     = "ward-e2e"
	idpClientSecret = "e2e client secret, not a real one"
)

func newFakeIdP(t *testing.T) *fakeIdP {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &fakeIdP{t: t, key: key, codes: map[string]idpGrant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /jwks", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	p.srv = httptest.NewTLSServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakeIdP) set(person idpPerson) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.person = person
}

// caFile writes the provider's certificate for --oidc-ca-file.
func (p *fakeIdP) caFile() string {
	f := filepath.Join(p.t.TempDir(), "idp-ca.pem")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw})
	if err := os.WriteFile(f, data, 0o600); err != nil {
		p.t.Fatal(err)
	}
	return f
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func (p *fakeIdP) discovery(w http.ResponseWriter, _ *http.Request) {
	u := p.srv.URL
	writeJSON(w, map[string]any{"issuer": u, "authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token",
		"jwks_uri": u + "/jwks", "response_types_supported": []string{"code"}, "subject_types_supported": []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"}, "code_challenge_methods_supported": []string{"S256"}})
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func (p *fakeIdP) jwks(w http.ResponseWriter, _ *http.Request) {
	pub := p.key.PublicKey
	writeJSON(w, map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
		"n": b64(pub.N.Bytes()), "e": b64(big.NewInt(int64(pub.E)).Bytes())}}})
}

func (p *fakeIdP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" || q.Get("client_id") != idpClientID || q.Get("code_challenge_method") != "S256" ||
		q.Get("code_challenge") == "" || q.Get("nonce") == "" || q.Get("state") == "" ||
		!strings.Contains(q.Get("scope"), "openid") {
		http.Error(w, "bad authorization request: "+r.URL.RawQuery, http.StatusBadRequest)
		return
	}
	code := b64([]byte(q.Get("state")))[:20]
	p.mu.Lock()
	p.codes[code] = idpGrant{person: p.person, nonce: q.Get("nonce"), challenge: q.Get("code_challenge"),
		redirect: q.Get("redirect_uri")}
	p.mu.Unlock()
	back := q.Get("redirect_uri") + "?" + url.Values{"code": {code}, "state": {q.Get("state")}}.Encode()
	http.Redirect(w, r, back, http.StatusFound)
}

func (p *fakeIdP) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	if id != idpClientID || secret != idpClientSecret {
		http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
		return
	}
	p.mu.Lock()
	g, ok := p.codes[r.PostFormValue("code")]
	delete(p.codes, r.PostFormValue("code"))
	p.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostFormValue("code_verifier")))
	if !ok || r.PostFormValue("grant_type") != "authorization_code" || b64(sum[:]) != g.challenge ||
		r.PostFormValue("redirect_uri") != g.redirect {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"error":"invalid_grant"}`))
		return
	}
	nonce := g.nonce
	if g.person.badNonce {
		nonce = "not-the-nonce"
	}
	now := time.Now()
	claims := map[string]any{"iss": p.srv.URL, "aud": idpClientID, "sub": g.person.sub, "iat": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(), "nonce": nonce, "email": g.person.email,
		"email_verified": g.person.emailVerified, "groups": g.person.groups, "name": "Person " + g.person.sub}
	writeJSON(w, map[string]any{"access_token": "at-" + g.person.sub, "token_type": "Bearer", "expires_in": 3600,
		"id_token": p.sign(claims)})
}

// sign makes an RS256 JWT.
func (p *fakeIdP) sign(claims map[string]any) string {
	head, _ := json.Marshal(map[string]string{"alg": "RS256", "kid": "k1", "typ": "JWT"})
	body, err := json.Marshal(claims)
	if err != nil {
		p.t.Error(err)
	}
	input := b64(head) + "." + b64(body)
	sum := sha256.Sum256([]byte(input))
	sig, err := rsa.SignPKCS1v15(rand.Reader, p.key, crypto.SHA256, sum[:])
	if err != nil {
		p.t.Error(err)
	}
	return input + "." + b64(sig)
}

// get sends a GET to an absolute URL with b's cookies and returns the
// status, the Location header and the body.
func (b *browserless) get(target string) (int, string, string) {
	b.t.Helper()
	resp, err := b.c.Get(target)
	if err != nil {
		b.t.Fatalf("GET %s: %v", target, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("GET %s: %v", target, err)
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(raw)
}

// ssoTo walks b through the sign-in button and the provider up to the
// callback URL the provider sends the browser back to.
func ssoTo(t *testing.T, b *browserless, idp *fakeIdP) string {
	t.Helper()
	code, page := b.send("GET", "/login", nil)
	if code != http.StatusOK || !strings.Contains(page, "Sign in with Fake IdP") {
		t.Fatalf("sign-in page: %d, no SSO button: %.400s", code, page)
	}
	code, where, body := b.get(b.base + "/login/oidc")
	if code != http.StatusSeeOther || !strings.HasPrefix(where, idp.srv.URL+"/authorize?") {
		t.Fatalf("SSO start: %d %q %.300s", code, where, body)
	}
	code, back, body := b.get(where)
	if code != http.StatusFound || !strings.HasPrefix(back, b.base+"/login/oidc/callback?") {
		t.Fatalf("authorize: %d %q %.300s", code, back, body)
	}
	return back
}

// ssoSignIn signs person in through the provider and returns the
// callback's answer.
func ssoSignIn(t *testing.T, w *ward, idp *fakeIdP, person idpPerson) (*browserless, int, string, string) {
	t.Helper()
	idp.set(person)
	b := newBrowserless(t, w.url)
	code, where, body := b.get(ssoTo(t, b, idp))
	return b, code, where, body
}

// profile returns b's profile page, failing unless b is signed in.
func profile(t *testing.T, b *browserless) string {
	t.Helper()
	code, page := b.send("GET", "/profile", nil)
	if code != http.StatusOK {
		t.Fatalf("profile: %d %.300s: not signed in", code, page)
	}
	return page
}

// breakGlassAdmin creates the local admin "breakglass", signs it in and
// enrols TOTP; it returns the browser and the TOTP secret.
func breakGlassAdmin(t *testing.T, w *ward) (*browserless, string) {
	t.Helper()
	if code, _, errs := runWardIn(t, w.data, w.dbURL, uiPassword+"\n", "user", "create", "--username", "breakglass",
		"--role", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("create breakglass: %s", errs)
	}
	b := newBrowserless(t, w.url)
	if code, where := b.send("POST", "/login", url.Values{"username": {"breakglass"}, "password": {uiPassword}}); code != http.StatusSeeOther {
		t.Fatalf("breakglass sign-in: %d %.300s", code, where)
	}
	_, page := b.send("GET", "/mfa/enroll", nil)
	m := secretRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no TOTP secret on the enrolment page: %.500s", page)
	}
	otp, err := totp.GenerateCode(m[1], time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if code, page := b.send("POST", "/mfa/enroll", url.Values{"code": {otp}}); code != http.StatusSeeOther {
		t.Fatalf("breakglass enrolment: %d %.500s", code, page)
	}
	b.send("GET", "/profile", nil)
	return b, m[1]
}

// TestSSO signs people in through a fake OpenID Connect provider: the
// mapped role (highest wins), the role following the groups at each sign-in,
// linking by verified email only, refusals (state, nonce, unmapped group,
// disabled account), and the local break-glass admin signing in with
// password and TOTP while the provider is down.
func TestSSO(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		idp := newFakeIdP(t)
		w := startWardAt(t, t.TempDir(), dbURL, func(e *app.Env) {
			e.Args = append(e.Args, "--oidc-issuer", idp.srv.URL, "--oidc-client-id", idpClientID,
				"--oidc-role-map", "ward-admins=admin, ward-responders=responder,ward-readers=stakeholder",
				"--oidc-name", "Fake IdP", "--oidc-ca-file", idp.caFile())
			e.Getenv = func(k string) (string, bool) {
				if k == "WARD_OIDC_CLIENT_SECRET" {
					return idpClientSecret, true
				}
				return "", false
			}
		})
		testSSO(t, w, idp)
	})
}

func testSSO(t *testing.T, w *ward, idp *fakeIdP) {
	// The break-glass admin: a local account with password and TOTP.
	_, secret := breakGlassAdmin(t, w)

	// First sign-in: a new account, with the highest mapped role, at once
	// full (the provider does the second factor).
	alice := idpPerson{sub: "alice-sub", email: "alice@example.org", emailVerified: true,
		groups: []string{"ward-responders", "unrelated", "ward-admins"}}
	b, code, where, body := ssoSignIn(t, w, idp, alice)
	if code != http.StatusSeeOther || where != "/" {
		t.Fatalf("alice's callback: %d %q %.400s", code, where, body)
	}
	if page := profile(t, b); !strings.Contains(page, "(alice)") || !strings.Contains(page, "Role: Admin") {
		t.Fatalf("alice's profile: %.1500s", page)
	}

	// Next sign-in, fewer groups: the same account (linked by subject, the
	// email no longer matters), now a responder, and the change audited.
	alice.groups, alice.email = []string{"ward-responders"}, "alice.new@example.org"
	b, code, where, _ = ssoSignIn(t, w, idp, alice)
	if code != http.StatusSeeOther || where != "/?msg=ended_other" {
		t.Fatalf("alice's second callback: %d %q", code, where)
	}
	if page := profile(t, b); !strings.Contains(page, "(alice)") || !strings.Contains(page, "Role: Responder") {
		t.Fatalf("alice's profile after the group change: %.1500s", page)
	}
	// The trail is read by the auditor (the administrator does not read it).
	auditor := signInAs(t, w, authz.RoleAuditor, "sso-auditor")
	if code, page := auditor.send("GET", "/audit?action=user.role_changed", nil); code != http.StatusOK ||
		!strings.Contains(page, "<td>Changed a role</td>") || !regexp.MustCompile(`User account of [^<]*alice`).MatchString(page) {
		t.Fatalf("audit of the role change: %d %.300s", code, page)
	}

	// A verified email links to the existing local account; an unverified
	// one does not.
	if code, _, errs := runWardIn(t, w.data, w.dbURL, uiPassword+"\n", "user", "create", "--username", "bob",
		"--email", "Bob@Example.org", "--role", "stakeholder", "--password-stdin"); code != 0 {
		t.Fatalf("create bob: %s", errs)
	}
	b, code, where, _ = ssoSignIn(t, w, idp, idpPerson{sub: "bob-sub", email: "bob@example.org", emailVerified: true,
		groups: []string{"ward-readers"}})
	if code != http.StatusSeeOther || !strings.Contains(profile(t, b), "(bob)") {
		t.Fatalf("bob by verified email: %d %q", code, where)
	}
	if code, _, errs := runWardIn(t, w.data, w.dbURL, uiPassword+"\n", "user", "create", "--username", "carol",
		"--email", "carol@example.org", "--role", "admin", "--password-stdin"); code != 0 {
		t.Fatalf("create carol: %s", errs)
	}
	b, code, _, _ = ssoSignIn(t, w, idp, idpPerson{sub: "mallory-sub", email: "carol@example.org", emailVerified: false,
		groups: []string{"ward-readers"}})
	if page := profile(t, b); code != http.StatusSeeOther || strings.Contains(page, "(carol)") ||
		!strings.Contains(page, "(carol-2)") {
		t.Fatalf("unverified email must not take carol's account: %d %.1500s", code, page)
	}

	// Refusals: a callback whose state is not this browser's, a token with
	// another nonce, a person in no mapped group (no account made).
	idp.set(idpPerson{sub: "dave-sub", email: "dave@example.org", emailVerified: true, groups: []string{"ward-admins"}})
	b = newBrowserless(t, w.url)
	back := ssoTo(t, b, idp)
	forged := strings.Replace(back, "state=", "state=x", 1)
	if code, _, body := b.get(forged); code != http.StatusUnauthorized || !strings.Contains(body, "not started here") {
		t.Errorf("wrong state: %d %.300s", code, body)
	}
	if code, _ := b.send("GET", "/profile", nil); code != http.StatusSeeOther {
		t.Errorf("a wrong state signed someone in: %d", code)
	}
	b, code, _, body = ssoSignIn(t, w, idp, idpPerson{sub: "dave-sub", email: "dave@example.org", emailVerified: true,
		groups: []string{"ward-admins"}, badNonce: true})
	if code != http.StatusUnauthorized || !strings.Contains(body, "could not be verified") {
		t.Errorf("wrong nonce: %d %.300s", code, body)
	}
	if code, _ := b.send("GET", "/profile", nil); code != http.StatusSeeOther {
		t.Errorf("a wrong nonce signed someone in: %d", code)
	}
	_, code, _, body = ssoSignIn(t, w, idp, idpPerson{sub: "erin-sub", email: "erin@example.org", emailVerified: true,
		groups: []string{"ward-visitors"}})
	if code != http.StatusForbidden || !strings.Contains(body, "no group that Ward maps to a role") {
		t.Errorf("unmapped group: %d %.300s", code, body)
	}
	if _, out, _ := w.run("user", "list"); strings.Contains(out, "erin") || strings.Contains(out, "dave") {
		t.Errorf("a refused sign-in made an account:\n%s", out)
	}

	// A disabled account is refused.
	if code, _, errs := w.run("user", "disable", "alice"); code != 0 {
		t.Fatalf("disable alice: %s", errs)
	}
	if _, code, _, body := ssoSignIn(t, w, idp, alice); code != http.StatusForbidden || !strings.Contains(body, "disabled") {
		t.Errorf("disabled alice: %d %.300s", code, body)
	}

	// The provider goes down between the redirect and the callback: the
	// sign-in fails cleanly, and the break-glass admin signs in with
	// password and TOTP.
	idp.set(idpPerson{sub: "frank-sub", email: "frank@example.org", emailVerified: true, groups: []string{"ward-admins"}})
	b = newBrowserless(t, w.url)
	back = ssoTo(t, b, idp)
	idp.srv.Close()
	if code, _, body := b.get(back); code != http.StatusBadGateway || !strings.Contains(body, "could not be reached") ||
		!strings.Contains(body, `name="password"`) {
		t.Errorf("callback with the provider down: %d %.500s", code, body)
	}
	local := newBrowserless(t, w.url)
	if code, where := local.send("POST", "/login", url.Values{"username": {"breakglass"}, "password": {uiPassword}}); code != http.StatusSeeOther ||
		!strings.HasPrefix(where, "/login/mfa") {
		t.Fatalf("break-glass password with the provider down: %d %.300s", code, where)
	}
	local.send("GET", "/login/mfa", nil)                                  // its CSRF token
	otp, err := totp.GenerateCode(secret, time.Now().Add(30*time.Second)) // the enrolment used the current step
	if err != nil {
		t.Fatal(err)
	}
	if code, where := local.send("POST", "/login/mfa", url.Values{"code": {otp}}); code != http.StatusSeeOther ||
		strings.HasPrefix(where, "/login") {
		t.Fatalf("break-glass TOTP with the provider down: %d %.300s", code, where)
	}
	if page := profile(t, local); !strings.Contains(page, "(breakglass)") {
		t.Fatalf("break-glass profile: %.500s", page)
	}
	if code, out, errs := w.run("audit", "verify"); code != 0 {
		t.Errorf("audit verify: %d %s %s", code, out, errs)
	}
}

// TestSSOFlagsValidated: ward serve refuses bad single sign-on settings and
// names the flag.
func TestSSOFlagsValidated(t *testing.T) {
	t.Parallel()
	base := []string{"serve", "--listen", "127.0.0.1:0", "--data", t.TempDir()}
	good := map[string]string{"--oidc-issuer": "https://idp.example.org", "--oidc-client-id": "ward",
		"--oidc-client-secret": "s", "--oidc-role-map": "g=admin"}
	for _, tc := range []struct {
		flag, value, want string
	}{
		{"--oidc-role-map", "g=root", `oidc-role-map: "g": "root" is not a role`},
		{"--oidc-role-map", "", "oidc-role-map: required with oidc-issuer"},
		{"--oidc-issuer", "http://idp.example.org", "oidc-issuer: \"http://idp.example.org\" is not an https URL"},
		{"--oidc-client-secret", "", "oidc-client-secret: required with oidc-issuer"},
		{"--oidc-redirect-url", "https://ward.example.org/callback", "oidc-redirect-url: \"https://ward.example.org/callback\""},
		{"--oidc-groups-claim", " ", "oidc-groups-claim: must not be empty"},
	} {
		args := append([]string{}, base...)
		for f, v := range good {
			if f != tc.flag {
				args = append(args, f, v)
			}
		}
		args = append(args, tc.flag, tc.value)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var stderr strings.Builder
		code := app.Main(ctx, app.Env{Args: args, Stdout: io.Discard, Stderr: &stderr, Version: "test",
			Getenv: func(string) (string, bool) { return "", false }})
		cancel()
		if code != app.ExitUsage || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%s=%q: exit %d, %q; want %d and %q", tc.flag, tc.value, code, stderr.String(), app.ExitUsage, tc.want)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var stderr strings.Builder
	code := app.Main(ctx, app.Env{Args: append(base, "--oidc-client-id", "ward"), Stdout: io.Discard, Stderr: &stderr,
		Version: "test", Getenv: func(string) (string, bool) { return "", false }})
	if code != app.ExitUsage || !strings.Contains(stderr.String(), "oidc-client-id: needs oidc-issuer") {
		t.Errorf("SSO flag without an issuer: exit %d, %q", code, stderr.String())
	}
}
