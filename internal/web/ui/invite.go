package ui

import (
	"net/http"

	"github.com/wardhq/ward/internal/labels"
	"github.com/wardhq/ward/internal/user"
)

// invitePage is the sign-up form an invitation link opens.
type invitePage struct {
	Token  string
	Role   string
	Form   map[string]string
	Errors map[string]string
}

func (u *UI) inviteForm(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	inv, err := u.Users.OpenInvite(r.Context(), token)
	if err != nil {
		u.render(w, r, http.StatusGone, "invite_invalid", "Sign-up link", "", nil)
		return
	}
	u.render(w, r, http.StatusOK, "invite", "Create your account", "", invitePage{Token: token, Role: labels.Of(string(inv.Role)),
		Form: map[string]string{"email": inv.Email}})
}

func (u *UI) invite(w http.ResponseWriter, r *http.Request) {
	form := map[string]string{
		"username": r.PostFormValue("username"), "display_name": r.PostFormValue("display_name"),
		"email": r.PostFormValue("email"),
	}
	page := invitePage{Token: r.PostFormValue("token"), Form: form}
	inv, err := u.Users.OpenInvite(r.Context(), page.Token)
	if err != nil {
		u.render(w, r, http.StatusGone, "invite_invalid", "Sign-up link", "", nil)
		return
	}
	page.Role = labels.Of(string(inv.Role))
	if r.PostFormValue("password") != r.PostFormValue("password_confirm") {
		page.Errors = map[string]string{"password_confirm": "does not match the password"}
		u.render(w, r, http.StatusUnprocessableEntity, "invite", "Create your account", "", page)
		return
	}
	_, err = u.Users.AcceptInvite(r.Context(), page.Token, user.NewUser{
		Username: form["username"], DisplayName: form["display_name"], Email: form["email"],
		Password: r.PostFormValue("password"),
	})
	if err != nil {
		if fe, ok := fieldErrors(err); ok {
			page.Errors = fe
			u.render(w, r, http.StatusUnprocessableEntity, "invite", "Create your account", "", page)
			return
		}
		u.fail(w, r, err)
		return
	}
	redirect(w, r, "/login?msg=invite_done")
}
