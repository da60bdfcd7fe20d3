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
	// KeyEvents is the review's key-events timeline; Choices are the
	// incident's timeline entries not imported yet.
	KeyEvents []incident.KeyEvent
	Choices   []keyEventChoice
}

// keyEventChoice is a timeline entry offered for import: its id as the
// value, its time and label as the text.
type keyEventChoice struct {
	ID   string
	Text string
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
	ks, err := u.Incidents.KeyEvents(r.Context(), inc.ID)
	if err != nil {
		return reviewView{}, err
	}
	return reviewView{Review: rv, Items: items, KeyEvents: ks,
		Show:     inc.Status == incident.PostIncident || rv.Saved || len(items) > 0 || len(ks) > 0,
		Writable: inc.Status == incident.PostIncident && rv.CompletedAt == nil}, nil
}

// offer fills the import choices from the incident's timeline, leaving
// out the entries already imported.
func (v *reviewView) offer(tl []incident.Event) {
	taken := make(map[string]bool, len(v.KeyEvents))
	for _, k := range v.KeyEvents {
		taken[k.EventID] = true
	}
	for _, e := range tl {
		if !taken[e.ID] {
			v.Choices = append(v.Choices, keyEventChoice{ID: e.ID,
				Text: e.At.UTC().Format("2 Jan 2006 15:04 UTC") + " · " + incident.EventLabel(e.Kind, e.FromStatus, e.ToStatus)})
		}
	}
}

// keyEventsImport imports the chosen timeline entry, or every milestone
// when the "Import all milestones" button sent the form.
func (u *UI) keyEventsImport(w http.ResponseWriter, r *http.Request) {
	in := incident.KeyEventImport{Milestones: r.PostFormValue("milestones") == "1"}
	if ev := r.PostFormValue("event"); ev != "" && !in.Milestones {
		in.EventIDs = []string{ev}
	}
	if _, err := u.Incidents.ImportKeyEvents(r.Context(), r.PathValue("id"), in); err != nil {
		u.showWithErrors(w, r, fieldsRenamed(err, map[string]string{"event_ids": "event"}), nil)
		return
	}
	redirect(w, r, "/incidents/"+r.PathValue("id")+"?msg=key_events#key-events")
}

// keyEventAnnotate writes the annotation of one key event.
func (u *UI) keyEventAnnotate(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("key")
	form := formValues(r, "annotation")
	if err := u.Incidents.AnnotateKeyEvent(r.Context(), r.PathValue("id"), key, form["annotation"]); err != nil {
		u.showWithErrors(w, r, fieldsRenamed(err, map[string]string{"annotation": "annotation-" + key}),
			map[string]string{"annotation-" + key: form["annotation"]})
		return
	}
	redirect(w, r, "/incidents/"+r.PathValue("id")+"?msg=key_event#key-events")
}

// keyEventRemove takes a key event out of the review.
func (u *UI) keyEventRemove(w http.ResponseWriter, r *http.Request) {
	if err := u.Incidents.RemoveKeyEvent(r.Context(), r.PathValue("id"), r.PathValue("key")); err != nil {
		u.showWithErrors(w, r, err, nil)
		return
	}
	redirect(w, r, "/incidents/"+r.PathValue("id")+"?msg=key_event_removed#key-events")
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
