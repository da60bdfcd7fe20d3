package ui

import (
	"net/http"

	"github.com/wardhq/ward/internal/apperr"
)

// yesNo reads a yes-or-no control of a form; a missing or other value is
// an error naming the control.
func yesNo(form map[string]string, name, question string) (bool, error) {
	switch form[name] {
	case "yes":
		return true, nil
	case "no":
		return false, nil
	}
	return false, apperr.Field(name, "answer %s: yes or no", question)
}

// triageAnswer records a responder's classification of an incident that
// an alert of a PHI service opened (incident.Triage).
func (u *UI) triageAnswer(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "security_incident", "phi_involved")
	sec, err := yesNo(form, "security_incident", "whether it is a security incident")
	var phi bool
	if err == nil {
		phi, err = yesNo(form, "phi_involved", "whether PHI is involved")
	}
	if err == nil {
		_, err = u.Incidents.AnswerTriage(r.Context(), r.PathValue("id"), sec, phi)
	}
	if err != nil {
		u.showWithErrors(w, r, err, form)
		return
	}
	msg := "triage_no_phi"
	if phi {
		msg = "triage_phi"
	}
	redirect(w, r, "/incidents/"+r.PathValue("id")+"?msg="+msg)
}
