package ui

import (
	"net/http"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/incident"
)

func (u *UI) memberAdd(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "member")
	if _, err := u.Incidents.AddMember(r.Context(), r.PathValue("id"), form["member"]); err != nil {
		if e, ok := apperr.As(err); ok && len(e.Fields) > 0 && e.Fields[0].Field == "user" {
			err = apperr.Field("member", "%s", e.Fields[0].Message)
		}
		u.showWithErrors(w, r, err, form)
		return
	}
	redirect(w, r, "/incidents/"+r.PathValue("id")+"?msg=member_added#members")
}

func (u *UI) memberRemove(w http.ResponseWriter, r *http.Request) {
	if err := u.Incidents.RemoveMember(r.Context(), r.PathValue("id"), r.PathValue("user")); err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			u.fail(w, r, err)
			return
		}
		u.showWithErrors(w, r, err, nil)
		return
	}
	// Someone who took themselves off may no longer see the incident.
	redirect(w, r, "/incidents?msg=member_removed")
}

// breakGlassData is the emergency access page.
type breakGlassData struct {
	Number  string
	Minutes int
	Form    map[string]string
	Errors  map[string]string
}

// breakGlassPage offers emergency access to the restricted incident named
// by the path, which the caller typed and cannot see.
func (u *UI) breakGlassPage(w http.ResponseWriter, r *http.Request, status int, errs map[string]string, reason string) {
	u.render(w, r, status, "break_glass", "Restricted incident", "incidents", breakGlassData{
		Number: r.PathValue("id"), Minutes: int(u.Incidents.BreakGlassDuration().Minutes()),
		Form: map[string]string{"reason": reason}, Errors: errs,
	})
}

func (u *UI) breakGlassForm(w http.ResponseWriter, r *http.Request) {
	hidden, err := u.Incidents.HiddenRestricted(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if !hidden {
		redirect(w, r, "/incidents/"+r.PathValue("id"))
		return
	}
	u.breakGlassPage(w, r, http.StatusOK, nil, "")
}

func (u *UI) breakGlass(w http.ResponseWriter, r *http.Request) {
	reason := r.PostFormValue("reason")
	g, err := u.Incidents.BreakGlass(r.Context(), r.PathValue("id"), reason)
	if err != nil {
		if fe, ok := fieldErrors(err); ok {
			u.breakGlassPage(w, r, http.StatusUnprocessableEntity, fe, reason)
			return
		}
		if apperr.CodeOf(err) == apperr.Conflict {
			redirect(w, r, "/incidents/"+r.PathValue("id"))
			return
		}
		u.fail(w, r, err)
		return
	}
	redirect(w, r, "/incidents/"+g.IncidentNumber+"?msg=break_glass")
}

func (u *UI) grantRevoke(w http.ResponseWriter, r *http.Request) {
	if _, err := u.Incidents.RevokeGrant(r.Context(), r.PathValue("id"), r.PathValue("grant")); err != nil {
		if apperr.CodeOf(err) == apperr.NotFound {
			u.fail(w, r, err)
			return
		}
		u.showWithErrors(w, r, err, nil)
		return
	}
	redirect(w, r, "/incidents/"+r.PathValue("id")+"?msg=grant_revoked#access")
}

// officerBanner is what the officer banner shows: the officer alerts nobody
// has acknowledged, emergency access (Alerts) apart from pages that reached
// nobody or that nobody acknowledged (Paging), and where to return after
// acknowledging one.
type officerBanner struct {
	Alerts []incident.OfficerAlert
	Paging []incident.OfficerAlert
	Back   string
}

// newOfficerBanner sorts alerts into an officerBanner.
func newOfficerBanner(alerts []incident.OfficerAlert, back string) *officerBanner {
	b := &officerBanner{Back: back}
	for _, a := range alerts {
		if a.Kind == incident.OfficerAlertPagingFailed {
			b.Paging = append(b.Paging, a)
		} else {
			b.Alerts = append(b.Alerts, a)
		}
	}
	return b
}

func (u *UI) officerAck(w http.ResponseWriter, r *http.Request) {
	if _, err := u.Incidents.AcknowledgeOfficerAlert(r.Context(), r.PathValue("officer_alert")); err != nil {
		u.fail(w, r, err)
		return
	}
	redirect(w, r, withMsg(safeNext(r.PostFormValue("next")), "officer_ack"))
}
