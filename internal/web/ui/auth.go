package ui

import (
	"context"
	"errors"
	"net/http"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/sso"
	"github.com/wardhq/ward/internal/user"
)

func contextWithCSRF(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, csrfKey{}, token)
}

// setSession stores the session secret in a cookie that scripts cannot
// read, that travels only over HTTPS and never on cross-site requests.
// It has no expiry of its own: the server ends sessions (idle and absolute
// limits, 45 CFR 164.312(a)(2)(iii)).
func (u *UI) setSession(w http.ResponseWriter, token string) {
	http.SetCookie(w, &http.Cookie{Name: u.sessionCookie(), Value: token, Path: "/", Secure: !u.InsecureHTTP, HttpOnly: true,
		SameSite: http.SameSiteStrictMode})
}

func (u *UI) clearSession(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: u.sessionCookie(), Value: "", Path: "/", Secure: !u.InsecureHTTP, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
}

// sessionCookie is the session cookie's name: SessionCookie, or
// InsecureSessionCookie under --insecure-http.
func (u *UI) sessionCookie() string {
	if u.InsecureHTTP {
		return InsecureSessionCookie
	}
	return SessionCookie
}

type setupPage struct {
	Token  string
	Form   map[string]string
	Errors map[string]string
}

func (u *UI) setupForm(w http.ResponseWriter, r *http.Request) {
	needed, err := u.Users.SetupNeeded(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if !needed {
		redirect(w, r, "/login")
		return
	}
	u.render(w, r, http.StatusOK, "setup", "Set up Ward", "", setupPage{Token: r.URL.Query().Get("token")})
}

func (u *UI) setup(w http.ResponseWriter, r *http.Request) {
	form := map[string]string{
		"username": r.PostFormValue("username"), "display_name": r.PostFormValue("display_name"),
		"email": r.PostFormValue("email"),
	}
	page := setupPage{Token: r.PostFormValue("token"), Form: form}
	if r.PostFormValue("password") != r.PostFormValue("password_confirm") {
		page.Errors = map[string]string{"password_confirm": "does not match the password"}
		u.render(w, r, http.StatusUnprocessableEntity, "setup", "Set up Ward", "", page)
		return
	}
	_, err := u.Users.CompleteSetup(r.Context(), page.Token, user.NewUser{
		Username: form["username"], DisplayName: form["display_name"], Email: form["email"],
		Password: r.PostFormValue("password"),
	})
	if err != nil {
		if fe, ok := fieldErrors(err); ok {
			page.Errors = fe
			u.render(w, r, http.StatusUnprocessableEntity, "setup", "Set up Ward", "", page)
			return
		}
		u.fail(w, r, err)
		return
	}
	redirect(w, r, "/login?msg=setup_done")
}

type loginPage struct {
	Username string
	Next     string
	Error    string
	// SSO is the identity provider's name for the "Sign in with" button;
	// "" when single sign-on is off.
	SSO string
}

// ssoName is the sign-in button's label, or "" without single sign-on.
func (u *UI) ssoName() string {
	if u.SSO == nil {
		return ""
	}
	return u.SSO.Name()
}

func (u *UI) loginForm(w http.ResponseWriter, r *http.Request) {
	if needed, err := u.Users.SetupNeeded(r.Context()); err == nil && needed {
		u.render(w, r, http.StatusOK, "setup_needed", "Set up Ward", "", nil)
		return
	}
	u.render(w, r, http.StatusOK, "login", "Sign in", "", loginPage{Next: r.URL.Query().Get("next"), SSO: u.ssoName()})
}

// ssoStart sends the browser to the identity provider, with the cookie
// that the callback checks.
func (u *UI) ssoStart(w http.ResponseWriter, r *http.Request) {
	if u.SSO == nil {
		u.fail(w, r, apperr.New(apperr.NotFound, "Single sign-on is not configured."))
		return
	}
	next := safeNext(r.URL.Query().Get("next"))
	target, cookie, err := u.SSO.Begin(r.Context(), next, u.Clock.Now())
	if err != nil {
		u.ssoFail(w, r, next, err)
		return
	}
	http.SetCookie(w, cookie)
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// ssoCallback completes a single sign-on: the provider's answer is checked
// (sso.Client.Finish), then the account found, linked or created and a
// full session started (user.Service.SignInExternal).
func (u *UI) ssoCallback(w http.ResponseWriter, r *http.Request) {
	if u.SSO == nil {
		u.fail(w, r, apperr.New(apperr.NotFound, "Single sign-on is not configured."))
		return
	}
	http.SetCookie(w, u.SSO.ClearCookie())
	id, next, err := u.SSO.Finish(r.Context(), r, u.Clock.Now())
	if err != nil {
		u.ssoFail(w, r, "", err)
		return
	}
	res, err := u.Users.SignInExternal(r.Context(), id, authz.RequestFrom(r.Context()).SourceIP, r.UserAgent())
	if err != nil {
		u.ssoFail(w, r, next, err)
		return
	}
	u.setSession(w, res.Token)
	u.afterSignIn(w, r, res, next)
}

// ssoFail shows the sign-in page with why single sign-on failed, so that
// the person can try again or sign in with a local account. The cause is
// logged without tokens or claims.
func (u *UI) ssoFail(w http.ResponseWriter, r *http.Request, next string, err error) {
	e, ok := apperr.As(err)
	if !ok || e.Code == apperr.Internal {
		u.fail(w, r, err)
		return
	}
	status := http.StatusUnauthorized
	switch {
	case errors.Is(err, sso.ErrUnavailable):
		status = http.StatusBadGateway
	case e.Code == apperr.Forbidden:
		status = http.StatusForbidden
	}
	u.Log.WarnContext(r.Context(), "sso_sign_in_failed", "request_id", authz.RequestFrom(r.Context()).ID, "error", err)
	u.render(w, r, status, "login", "Sign in", "", loginPage{Next: next, Error: e.Message, SSO: u.ssoName()})
}

func (u *UI) login(w http.ResponseWriter, r *http.Request) {
	page := loginPage{Username: r.PostFormValue("username"), Next: r.PostFormValue("next"), SSO: u.ssoName()}
	res, err := u.Users.Login(r.Context(), page.Username, r.PostFormValue("password"),
		authz.RequestFrom(r.Context()).SourceIP, r.UserAgent())
	if err != nil {
		if c := apperr.CodeOf(err); c == apperr.Unauthorized || c == apperr.Invalid {
			page.Error = "The username or password is wrong, or the account is locked or disabled."
			if e, ok := apperr.As(err); ok && e.Code == apperr.Unauthorized && e.Message != "" {
				page.Error = e.Message
			}
			u.render(w, r, http.StatusUnauthorized, "login", "Sign in", "", page)
			return
		}
		u.fail(w, r, err)
		return
	}
	u.setSession(w, res.Token)
	u.afterSignIn(w, r, res, page.Next)
}

// afterSignIn sends a signed-in browser where its session stage allows.
func (u *UI) afterSignIn(w http.ResponseWriter, r *http.Request, res user.LoginResult, next string) {
	switch res.Session.Stage {
	case user.StageMFA:
		redirect(w, r, "/login/mfa?next="+urlQuery(safeNext(next)))
	case user.StageEnrollMFA:
		redirect(w, r, "/mfa/enroll?msg=need_mfa_enrol")
	default:
		target := safeNext(next)
		if res.EndedOther {
			target = withMsg(target, "ended_other")
		}
		redirect(w, r, target)
	}
}

type mfaPage struct {
	Next    string
	Error   string
	Factors user.Factors
}

// mfaForm offers the second factors the user has: the security key first
// when there is one, the code form when they have TOTP or unused recovery
// codes (labelled for recovery codes when they have no TOTP).
func (u *UI) mfaForm(w http.ResponseWriter, r *http.Request) {
	f, err := u.Users.SecondFactors(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "mfa", "Two-factor check", "", mfaPage{Next: r.URL.Query().Get("next"), Factors: f})
}

func (u *UI) mfa(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(u.sessionCookie())
	if err != nil {
		u.toLogin(w, r, "")
		return
	}
	f, err := u.Users.SecondFactors(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	page := mfaPage{Next: r.PostFormValue("next"), Factors: f}
	res, err := u.Users.VerifyMFA(r.Context(), c.Value, r.PostFormValue("code"))
	if err == nil && res.Token != "" {
		u.setSession(w, res.Token)
	}
	if err != nil {
		if c := apperr.CodeOf(err); c == apperr.Unauthorized || c == apperr.Invalid {
			page.Error = "That code is not valid. Use the current code from your authenticator app, or a recovery code."
			if !f.TOTP {
				page.Error = "That recovery code is not valid, or was used before."
			}
			u.render(w, r, http.StatusUnauthorized, "mfa", "Two-factor check", "", page)
			return
		}
		u.fail(w, r, err)
		return
	}
	u.afterSignIn(w, r, res, page.Next)
}

func (u *UI) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(u.sessionCookie()); err == nil {
		if err := u.Users.Logout(r.Context(), c.Value); err != nil {
			u.fail(w, r, err)
			return
		}
	}
	u.clearSession(w)
	redirect(w, r, "/login?msg=signed_out")
}
