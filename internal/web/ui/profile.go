package ui

import (
	"encoding/base64"
	"html/template"
	"net/http"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/paging"
	"github.com/wardhq/ward/internal/user"
)

type profilePage struct {
	User     user.User
	Sessions []user.Session
	Keys     []user.WebAuthnKey
	Factors  user.Factors
	Errors   map[string]string
	// Feeds are the person's calendar addresses and Schedules what a new
	// one may follow; both empty for a role that manages no settings of
	// its own (the auditor, who changes nothing).
	Feeds     []paging.CalendarFeed
	Schedules []paging.Schedule
}

func (u *UI) profileData(r *http.Request) (profilePage, error) {
	a, _ := authz.ActorFrom(r.Context())
	me, err := u.Users.Get(r.Context(), a.ID)
	if err != nil {
		return profilePage{}, err
	}
	sessions, err := u.Users.Sessions(r.Context(), a.ID)
	if err != nil {
		return profilePage{}, err
	}
	keys, err := u.Users.WebAuthnKeys(r.Context())
	if err != nil {
		return profilePage{}, err
	}
	f, err := u.Users.SecondFactors(r.Context())
	if err != nil {
		return profilePage{}, err
	}
	p := profilePage{User: me, Sessions: sessions, Keys: keys, Factors: f}
	if authz.Has(a.Role, authz.ContactSelf) {
		if p.Feeds, err = u.Pager.CalendarFeeds(r.Context()); err != nil {
			return profilePage{}, err
		}
		if p.Schedules, err = u.Pager.Schedules(r.Context()); err != nil {
			return profilePage{}, err
		}
	}
	return p, nil
}

// calendarFeedCreate makes a calendar address (a schedule's, from the
// schedule page, or the person's own shifts) and shows it on the profile.
func (u *UI) calendarFeedCreate(w http.ResponseWriter, r *http.Request) {
	if _, err := u.Pager.CreateCalendarFeed(r.Context(), r.PostFormValue("schedule")); err != nil {
		fe, ok := fieldErrors(err)
		if !ok {
			u.fail(w, r, err)
			return
		}
		u.profileWithErrors(w, r, map[string]string{"calendar_schedule": fe["schedule"]})
		return
	}
	redirect(w, r, "/profile?msg=calendar_feed_created#calendar")
}

// calendarFeedRevoke stops one of the person's calendar addresses.
func (u *UI) calendarFeedRevoke(w http.ResponseWriter, r *http.Request) {
	if err := u.Pager.RevokeCalendarFeed(r.Context(), r.PathValue("feed")); err != nil {
		u.fail(w, r, err)
		return
	}
	redirect(w, r, "/profile?msg=calendar_feed_revoked#calendar")
}

func (u *UI) profile(w http.ResponseWriter, r *http.Request) {
	p, err := u.profileData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "profile", "Your profile", "profile", p)
}

// profileWithErrors shows the profile again with a form's errors, 422.
func (u *UI) profileWithErrors(w http.ResponseWriter, r *http.Request, errs map[string]string) {
	p, err := u.profileData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p.Errors = errs
	u.render(w, r, http.StatusUnprocessableEntity, "profile", "Your profile", "profile", p)
}

func (u *UI) changePassword(w http.ResponseWriter, r *http.Request) {
	next := r.PostFormValue("new_password")
	var err error
	if next != r.PostFormValue("new_password_confirm") {
		u.profileWithErrors(w, r, map[string]string{"new_password_confirm": "does not match the new password"})
		return
	}
	if err = u.Users.ChangePassword(r.Context(), r.PostFormValue("current_password"), next); err != nil {
		fe, ok := fieldErrors(err)
		if !ok {
			u.fail(w, r, err)
			return
		}
		if msg, ok := fe["password"]; ok {
			fe["new_password"] = msg
		}
		u.profileWithErrors(w, r, fe)
		return
	}
	redirect(w, r, "/profile?msg=password")
}

func (u *UI) logoutEverywhere(w http.ResponseWriter, r *http.Request) {
	if err := u.Users.LogoutEverywhere(r.Context()); err != nil {
		u.fail(w, r, err)
		return
	}
	u.clearSession(w)
	redirect(w, r, "/login?msg=everywhere")
}

type enrollPage struct {
	Secret string
	QR     template.URL
	Error  string
	Codes  []string
	// Done is where "I have saved them" goes; the dashboard when empty.
	Done string
}

// enrollForm starts a TOTP enrolment. Once two-factor authentication is
// on (Back after enrolling), it leads to the profile.
func (u *UI) enrollForm(w http.ResponseWriter, r *http.Request) {
	e, err := u.Users.BeginTOTP(r.Context())
	if apperr.CodeOf(err) == apperr.Conflict {
		redirect(w, r, "/profile?msg=mfa_already_on")
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "mfa_enroll", "Set up two-factor authentication", "profile", enrollPage{
		Secret: e.Secret,
		// A data: URL made here from the PNG bytes; the CSP allows img-src data:.
		QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QRPNG)),
	})
}

func (u *UI) enroll(w http.ResponseWriter, r *http.Request) {
	_, err := u.Users.ConfirmTOTP(r.Context(), r.PostFormValue("code"))
	if err != nil {
		if _, ok := fieldErrors(err); !ok && !isUnauthorized(err) {
			u.fail(w, r, err)
			return
		}
		e, berr := u.Users.BeginTOTP(r.Context())
		if berr != nil {
			u.fail(w, r, berr)
			return
		}
		u.render(w, r, http.StatusUnprocessableEntity, "mfa_enroll", "Set up two-factor authentication", "profile", enrollPage{
			Secret: e.Secret, QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QRPNG)),
			Error: "That code did not match. Scan the new code below and try again.",
		})
		return
	}
	// Post/Redirect/Get: the codes wait on the server, sealed, for the page
	// that shows them once; a reload there shows the profile.
	redirect(w, r, "/mfa/recovery-codes?for=totp")
}
