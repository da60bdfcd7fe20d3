package ui

import (
	"net/http"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/user"
)

func isUnauthorized(err error) bool { return apperr.CodeOf(err) == apperr.Unauthorized }

type usersPage struct {
	Users  []user.User
	Roles  []string
	Form   map[string]string
	Errors map[string]string
}

func (u *UI) usersData(r *http.Request) (usersPage, error) {
	list, err := u.Users.List(r.Context())
	return usersPage{Users: list, Roles: strs(authz.Roles)}, err
}

func (u *UI) users(w http.ResponseWriter, r *http.Request) {
	p, err := u.usersData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "users", "Users", "users", p)
}

func (u *UI) userCreate(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "username", "display_name", "email", "role")
	_, err := u.Users.Create(r.Context(), user.NewUser{Username: form["username"], DisplayName: form["display_name"],
		Email: form["email"], Role: authz.Role(form["role"]), Password: r.PostFormValue("password")})
	if err != nil {
		fe, ok := fieldErrors(err)
		if e, isApp := apperr.As(err); !ok && isApp && e.Code == apperr.Conflict {
			fe, ok = map[string]string{"username": e.Message}, true
		}
		if !ok {
			u.fail(w, r, err)
			return
		}
		p, perr := u.usersData(r)
		if perr != nil {
			u.fail(w, r, perr)
			return
		}
		p.Form, p.Errors = form, fe
		u.render(w, r, http.StatusUnprocessableEntity, "users", "Users", "users", p)
		return
	}
	redirect(w, r, "/admin/users?msg=user_created")
}

func (u *UI) userUpdate(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	var err error
	switch r.PostFormValue("action") {
	case "role":
		_, err = u.Users.SetRole(r.Context(), id, authz.Role(r.PostFormValue("role")))
	case "disable":
		_, err = u.Users.Disable(r.Context(), id)
	case "enable":
		_, err = u.Users.Enable(r.Context(), id)
	case "reset_mfa":
		_, err = u.Users.ResetMFA(r.Context(), id)
	default:
		err = apperr.Field("action", "must be role, disable, enable or reset_mfa")
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	redirect(w, r, "/admin/users?msg=user_saved")
}
