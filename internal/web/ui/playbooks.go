package ui

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/playbook"
)

// appliedView is a playbook applied to an incident, as its page shows it.
type appliedView struct {
	playbook.Application
	// Answered are its questions with their answers in words.
	Answered []answerView
}

// answerView is one question of an applied playbook and its answer.
type answerView struct {
	playbook.Question
	Value string // as recorded (a choice's value)
	Words string // for people (a choice's label)
}

func viewApplied(as []playbook.Application) []appliedView {
	out := make([]appliedView, len(as))
	for i, a := range as {
		v := appliedView{Application: a}
		for _, q := range a.Playbook.Questions {
			val := a.Answers[q.Key]
			v.Answered = append(v.Answered, answerView{Question: q, Value: val, Words: q.AnswerLabel(val)})
		}
		out[i] = v
	}
	return out
}

// playbooksOf returns the playbooks applied to an incident and those that
// may still be applied.
func (u *UI) playbooksOf(r *http.Request, incidentID string) ([]appliedView, []playbook.Playbook, error) {
	if u.Playbooks == nil {
		return nil, nil, nil
	}
	as, err := u.Playbooks.Applications(r.Context(), incidentID)
	if err != nil {
		return nil, nil, err
	}
	all, err := u.Playbooks.List(r.Context())
	if err != nil {
		return nil, nil, err
	}
	applied := map[string]bool{}
	for _, a := range as {
		applied[a.Playbook.Key] = true
	}
	var open []playbook.Playbook
	for _, p := range all {
		if !applied[p.Key] {
			open = append(open, p)
		}
	}
	return viewApplied(as), open, nil
}

// playbookApply applies the chosen playbook to the incident.
func (u *UI) playbookApply(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "playbook")
	if _, err := u.Playbooks.Apply(r.Context(), r.PathValue("id"), form["playbook"]); err != nil {
		u.showWithErrors(w, r, err, form)
		return
	}
	redirect(w, r, "/incidents/"+r.PathValue("id")+"?msg=playbook#playbooks")
}

// playbookAnswer records the answers to an applied playbook's questions;
// each question's control is answer_<key>.
func (u *UI) playbookAnswer(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		u.fail(w, r, apperr.New(apperr.Invalid, "the form could not be read"))
		return
	}
	answers, form := map[string]string{}, map[string]string{}
	for name, vs := range r.PostForm {
		if k, ok := strings.CutPrefix(name, "answer_"); ok && len(vs) > 0 {
			answers[k], form[name] = vs[0], vs[0]
		}
	}
	if _, err := u.Playbooks.Answer(r.Context(), r.PathValue("id"), r.PathValue("playbook"), answers); err != nil {
		if e, ok := apperr.As(err); ok && len(e.Fields) > 0 {
			if k, ok := strings.CutPrefix(e.Fields[0].Field, "answers."); ok {
				err = apperr.Field("answer_"+k, "%s", e.Fields[0].Message)
			}
		}
		u.showWithErrors(w, r, err, form)
		return
	}
	redirect(w, r, "/incidents/"+r.PathValue("id")+"?msg=playbook_answers#playbooks")
}

type myTasksPage struct {
	Tasks []incident.MyTask
	Role  string
}

// myTasks lists the signed-in person's open tasks, soonest due first.
func (u *UI) myTasks(w http.ResponseWriter, r *http.Request) {
	ts, err := u.Incidents.MyTasks(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	a, _ := authz.ActorFrom(r.Context())
	u.render(w, r, http.StatusOK, "my_tasks", "My tasks", "my_tasks", myTasksPage{Tasks: ts, Role: string(a.Role)})
}

type playbooksPage struct {
	Playbooks []playbook.Playbook
}

// playbookList shows every playbook at its newest version.
func (u *UI) playbookList(w http.ResponseWriter, r *http.Request) {
	ps, err := u.Playbooks.List(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "playbooks", "Playbooks", "playbooks", playbooksPage{Playbooks: ps})
}

type playbookPage struct {
	Playbook playbook.Playbook
	// Body is the playbook as the edit form shows it (JSON); Error what
	// was wrong with the last edit.
	Body  string
	Error string
}

// playbookShow shows one playbook, and its edit form to those who may
// edit it.
func (u *UI) playbookShow(w http.ResponseWriter, r *http.Request) {
	p, err := u.Playbooks.Get(r.Context(), r.PathValue("playbook"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	body, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "playbook", "Playbook: "+p.Name, "playbooks", playbookPage{Playbook: p, Body: string(body)})
}

// playbookEdit saves the edit form's playbook as its next version.
func (u *UI) playbookEdit(w http.ResponseWriter, r *http.Request) {
	key := r.PathValue("playbook")
	body := r.PostFormValue("body")
	var p playbook.Playbook
	dec := json.NewDecoder(strings.NewReader(body))
	dec.DisallowUnknownFields()
	err := dec.Decode(&p)
	if err != nil {
		err = apperr.Field("body", "is not a playbook in the format shown: %s", err.Error())
	} else {
		_, err = u.Playbooks.Edit(r.Context(), key, p)
	}
	if err != nil {
		fe, ok := fieldErrors(err)
		if !ok {
			u.fail(w, r, err)
			return
		}
		cur, gerr := u.Playbooks.Get(r.Context(), key)
		if gerr != nil {
			u.fail(w, r, gerr)
			return
		}
		msg := ""
		for f, m := range fe {
			msg = f + " " + m
			if f == "body" {
				msg = "The playbook " + m
			}
		}
		u.render(w, r, http.StatusUnprocessableEntity, "playbook", "Playbook: "+cur.Name, "playbooks",
			playbookPage{Playbook: cur, Body: body, Error: msg})
		return
	}
	redirect(w, r, "/playbooks/"+url.PathEscape(key)+"?msg=playbook_saved")
}

// playbookFact is an answer to a playbook's question that feeds a breach
// case's question (Question.Feeds), for the breach pages.
type playbookFact struct {
	Playbook, Label, Words, Feeds string
}

// playbookFacts returns the answers recorded on incident ref that feed the
// breach case's questions; nil for a reader who may not see PHI (reading
// them is audited).
func (u *UI) playbookFacts(r *http.Request, ref string) ([]playbookFact, error) {
	a, _ := authz.ActorFrom(r.Context())
	if u.Playbooks == nil || !authz.Has(a.Role, authz.IncidentReadPHI) {
		return nil, nil
	}
	as, err := u.Playbooks.Applications(r.Context(), ref)
	if err != nil {
		return nil, err
	}
	var out []playbookFact
	for _, v := range viewApplied(as) {
		for _, q := range v.Answered {
			if q.Feeds != "" && q.Value != "" {
				out = append(out, playbookFact{Playbook: v.Playbook.Name, Label: q.Label, Words: q.Words, Feeds: q.Feeds})
			}
		}
	}
	return out, nil
}
