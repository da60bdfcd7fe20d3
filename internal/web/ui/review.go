package ui

import (
	"net/http"
	"strings"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/incident"
)

// reviewFields are the review form's fields, named as the service names
// them, so that an error shows beside its field.
var reviewFields = []string{"summary", "root_cause", "contributing_factors", "went_well", "lessons", "updates_made"}

// actionFields map the service's action item fields to the incident
// page's form, whose task form already uses owner and due_at.
var actionFields = map[string]string{"title": "action_title", "owner": "action_owner", "due_at": "action_due",
	"ticket_url": "action_ticket"}

// reviewView is the Review panel of the incident page.
type reviewView struct {
	Review incident.Review
	Items  []incident.ActionItem
	// Show: the incident is in post_incident, or has a review or action
	// items to show.
	Show bool
	// Writable: the sections can still be written (post_incident, not
	// complete).
	Writable bool
}

func (u *UI) reviewOf(r *http.Request, inc incident.Incident) (reviewView, error) {
	rv, err := u.Incidents.Review(r.Context(), inc.ID)
	if err != nil {
		return reviewView{}, err
	}
	items, err := u.Incidents.ActionItems(r.Context(), inc.ID)
	if err != nil {
		return reviewView{}, err
	}
	return reviewView{Review: rv, Items: items, Show: inc.Status == incident.PostIncident || rv.Saved || len(items) > 0,
		Writable: inc.Status == incident.PostIncident && rv.CompletedAt == nil}, nil
}

// reviewSave writes the review's sections, and marks it complete when
// the "Save and mark complete" button sent the form.
func (u *UI) reviewSave(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, reviewFields...)
	in := incident.ReviewInput{}
	for _, f := range reviewFields {
		v := form[f]
		switch f {
		case "summary":
			in.Summary = &v
		case "root_cause":
			in.RootCause = &v
		case "contributing_factors":
			in.ContributingFactors = &v
		case "went_well":
			in.WentWell = &v
		case "lessons":
			in.Lessons = &v
		case "updates_made":
			in.UpdatesMade = &v
		}
	}
	ref := r.PathValue("id")
	complete := r.PostFormValue("complete") == "1"
	if complete {
		// Refused before anything is saved, as the service would after.
		for _, f := range []string{"root_cause", "lessons"} {
			if strings.TrimSpace(form[f]) == "" {
				u.showWithErrors(w, r, apperr.Field(f, "is required to complete the review"), form)
				return
			}
		}
	}
	_, err := u.Incidents.UpdateReview(r.Context(), ref, in)
	msg := "review"
	if err == nil && complete {
		_, err = u.Incidents.CompleteReview(r.Context(), ref)
		msg = "review_complete"
	}
	if err != nil {
		u.showWithErrors(w, r, err, form)
		return
	}
	redirect(w, r, "/incidents/"+ref+"?msg="+msg+"#review")
}

// reviewWaive lets the incident close without a complete review.
func (u *UI) reviewWaive(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "waive_reason")
	if _, err := u.Incidents.WaiveReview(r.Context(), r.PathValue("id"), form["waive_reason"]); err != nil {
		u.showWithErrors(w, r, fieldsRenamed(err, map[string]string{"reason": "waive_reason"}), form)
		return
	}
	redirect(w, r, "/incidents/"+r.PathValue("id")+"?msg=review_waived#review")
}

// actionCreate adds an action item from the incident page.
func (u *UI) actionCreate(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "action_title", "action_owner", "action_due", "action_ticket")
	due, err := formTime("action_due", form["action_due"])
	if err == nil {
		_, err = u.Incidents.CreateActionItem(r.Context(), r.PathValue("id"), incident.ActionItemInput{
			Title: form["action_title"], Owner: form["action_owner"], DueAt: due, TicketURL: form["action_ticket"]})
		err = fieldsRenamed(err, actionFields)
	}
	if err != nil {
		u.showWithErrors(w, r, err, form)
		return
	}
	redirect(w, r, "/incidents/"+r.PathValue("id")+"?msg=action_item#review")
}

// actionStatus marks an action item done or open again, from the
// incident page or the Action items page (back=list).
func (u *UI) actionStatus(w http.ResponseWriter, r *http.Request) {
	st := incident.ActionStatus(r.PostFormValue("status"))
	if _, err := u.Incidents.UpdateActionItem(r.Context(), r.PathValue("id"), r.PathValue("action"),
		incident.ActionItemUpdate{Status: &st}); err != nil {
		u.showWithErrors(w, r, err, nil)
		return
	}
	if r.PostFormValue("back") == "list" {
		redirect(w, r, "/action-items?msg=action_item")
		return
	}
	redirect(w, r, "/incidents/"+r.PathValue("id")+"?msg=action_item#review")
}

// fieldsRenamed renames the fields of a validation error to the form's names.
func fieldsRenamed(err error, names map[string]string) error {
	e, ok := apperr.As(err)
	if !ok || len(e.Fields) == 0 {
		return err
	}
	if n, ok := names[e.Fields[0].Field]; ok {
		return apperr.Field(n, "%s", e.Fields[0].Message)
	}
	return err
}

// actionListPage is the Action items page.
type actionListPage struct {
	Items  []incident.ActionItem
	Status string
	Owner  string
	Mine   string // the viewer's username, for "mine"
}

// actionList shows the action items of every incident the viewer may
// see, overdue first; it keeps tracking them after their incidents close.
func (u *UI) actionList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	status := q.Get("status")
	if _, set := q["status"]; !set {
		status = string(incident.ActionOpen)
	}
	items, err := u.Incidents.ListActionItems(r.Context(), incident.ActionFilter{Status: incident.ActionStatus(status),
		Owner: q.Get("owner")})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	a, _ := authz.ActorFrom(r.Context())
	mine := ""
	if a.Kind == authz.KindUser {
		mine = a.Name
	}
	u.render(w, r, http.StatusOK, "action_items", "Action items", "action_items",
		actionListPage{Items: items, Status: status, Owner: q.Get("owner"), Mine: mine})
}
