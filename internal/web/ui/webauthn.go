package ui

import (
	"encoding/json"
	"net/http"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/user"
)

// Security keys (WebAuthn). The browser side is static/webauthn.js: it
// posts forms (with the CSRF field, as every form) to these endpoints,
// which answer JSON: the ceremony's options, or {"redirect": …} when done,
// or {"error": …} with the status fail would give.

// writeJSON answers v, or raw JSON when v is []byte.
func writeJSON(w http.ResponseWriter, status int, v any) {
	raw, ok := v.([]byte)
	if !ok {
		raw, _ = json.Marshal(v)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(raw)
}

// jsonFail is fail for the JSON endpoints.
func (u *UI) jsonFail(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := apperr.As(err)
	if !ok || e.Code == apperr.Internal {
		req := authz.RequestFrom(r.Context())
		u.Log.ErrorContext(r.Context(), "ui_internal_error", "request_id", req.ID, "error", err)
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "Something went wrong. Quote request id " + req.ID + " to your administrator."})
		return
	}
	status := map[apperr.Code]int{
		apperr.Invalid: http.StatusUnprocessableEntity, apperr.NotFound: http.StatusNotFound,
		apperr.Conflict: http.StatusConflict, apperr.Unauthorized: http.StatusUnauthorized,
		apperr.Forbidden: http.StatusForbidden,
	}[e.Code]
	msg := e.Message
	if len(e.Fields) == 1 {
		msg = "The security key's answer " + e.Fields[0].Message
		if e.Fields[0].Field == "name" {
			msg = "The name " + e.Fields[0].Message
		}
	}
	writeJSON(w, status, map[string]string{"error": msg})
}

func (u *UI) keyRegisterBegin(w http.ResponseWriter, r *http.Request) {
	opts, err := u.Users.BeginWebAuthnRegistration(r.Context())
	if err != nil {
		u.jsonFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, opts)
}

// keyRegister adds the key. When recovery codes came with it (the user's
// first second factor), the browser goes to the page that shows them once;
// they stay on the server meanwhile, never in the answer, a URL or a cookie.
func (u *UI) keyRegister(w http.ResponseWriter, r *http.Request) {
	_, issued, err := u.Users.FinishWebAuthnRegistration(r.Context(), r.PostFormValue("name"), []byte(r.PostFormValue("credential")))
	if err != nil {
		u.jsonFail(w, r, err)
		return
	}
	target := "/profile?msg=key_added"
	if issued {
		target = "/mfa/recovery-codes"
	}
	writeJSON(w, http.StatusOK, map[string]string{"redirect": target})
}

// keyRecoveryCodes shows, once, the recovery codes the session was
// issued: with its first security key, at TOTP enrolment (for=totp) or
// anew (for=new); later visits go to the profile.
func (u *UI) keyRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	codes, err := u.Users.TakeRecoveryCodes(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if len(codes) == 0 {
		redirect(w, r, "/profile")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	switch r.URL.Query().Get("for") {
	case "new":
		u.render(w, r, http.StatusOK, "mfa_enroll", "New recovery codes", "profile", enrollPage{Codes: codes, Done: "/profile"})
		return
	case "totp":
		u.render(w, r, http.StatusOK, "mfa_enroll", "Two-factor authentication is on", "profile", enrollPage{Codes: codes})
		return
	}
	u.render(w, r, http.StatusOK, "mfa_enroll", "Security key added", "profile", enrollPage{Codes: codes})
}

// recoveryCodesRegenerate replaces the user's recovery codes after the
// password is given again, and redirects to the page that shows the new
// ones this once (Post/Redirect/Get: a reload shows the profile, and
// makes no new codes).
func (u *UI) recoveryCodesRegenerate(w http.ResponseWriter, r *http.Request) {
	_, err := u.Users.RegenerateRecoveryCodes(r.Context(), r.PostFormValue("current_password"))
	if fe, ok := fieldErrors(err); ok {
		u.profileWithErrors(w, r, map[string]string{"recovery_codes": fe["current_password"]})
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	redirect(w, r, "/mfa/recovery-codes?for=new")
}

// keyRemove removes a security key after the password is given again.
func (u *UI) keyRemove(w http.ResponseWriter, r *http.Request) {
	err := u.Users.RemoveWebAuthnKey(r.Context(), r.PathValue("key"), r.PostFormValue("current_password"))
	if fe, ok := fieldErrors(err); ok {
		u.profileWithErrors(w, r, map[string]string{"key_" + r.PathValue("key"): fe["current_password"]})
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	redirect(w, r, "/profile?msg=key_removed")
}

func (u *UI) keyLoginBegin(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(u.sessionCookie())
	if err != nil {
		u.jsonFail(w, r, user.ErrSession)
		return
	}
	opts, err := u.Users.BeginWebAuthnLogin(r.Context(), c.Value)
	if err != nil {
		u.jsonFail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, opts)
}

func (u *UI) keyLogin(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(u.sessionCookie())
	if err != nil {
		u.jsonFail(w, r, user.ErrSession)
		return
	}
	res, err := u.Users.FinishWebAuthnLogin(r.Context(), c.Value, []byte(r.PostFormValue("credential")))
	if err != nil {
		u.jsonFail(w, r, err)
		return
	}
	u.setSession(w, res.Token)
	target := safeNext(r.PostFormValue("next"))
	if res.EndedOther {
		target = withMsg(target, "ended_other")
	}
	writeJSON(w, http.StatusOK, map[string]string{"redirect": target})
}
