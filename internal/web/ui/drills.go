package ui

import (
	"net/http"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/playbook"
)

// drillsPage lists the drills and, for those who may, starts one.
type drillsPage struct {
	Items      []incident.Incident
	NextCursor string
	Playbooks  []choice
	Policies   []choice
	Form       map[string]string
	Errors     map[string]string
}

// drills lists the drills, newest first: the record that the response
// plan is tested (45 CFR 164.308(a)(7)(ii)(D), docs/DRILLS.md).
func (u *UI) drills(w http.ResponseWriter, r *http.Request) {
	u.drillsRender(w, r, http.StatusOK, map[string]string{}, nil)
}

func (u *UI) drillsRender(w http.ResponseWriter, r *http.Request, status int, form, errs map[string]string) {
	p := drillsPage{Form: form, Errors: errs}
	yes := true
	f := incident.Filter{Drill: &yes, Limit: 50, OmitPHI: true}
	if c := r.URL.Query().Get("cursor"); c != "" {
		cur, err := incident.DecodeCursor(c)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		f.After = cur
	}
	page, err := u.Incidents.List(r.Context(), f)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	p.Items = page.Items
	if page.Next != nil {
		p.NextCursor = "/drills?cursor=" + incident.EncodeCursor(page.Next)
	}
	if a, _ := authz.ActorFrom(r.Context()); authz.Has(a.Role, authz.DrillRun) {
		ps, err := u.Playbooks.List(r.Context())
		if err != nil {
			u.fail(w, r, err)
			return
		}
		for _, pb := range ps {
			p.Playbooks = append(p.Playbooks, choice{Value: pb.Key, Label: pb.Name})
		}
		if p.Form["playbook"] == "" && len(p.Playbooks) > 0 {
			p.Form["playbook"] = p.Playbooks[0].Value
		}
		p.Policies = []choice{{Value: "", Label: "Page nobody"}}
		if authz.Has(a.Role, authz.IncidentRead) && u.Pager != nil {
			pols, err := u.Pager.Policies(r.Context())
			if err != nil {
				u.fail(w, r, err)
				return
			}
			for _, pol := range pols {
				p.Policies = append(p.Policies, choice{Value: pol.ID, Label: "Test page to " + pol.Name + " (marked DRILL)"})
			}
		}
	}
	u.render(w, r, status, "drills", "Drills", "drills", p)
}

// drillStart starts a drill from the chosen playbook and opens its page.
func (u *UI) drillStart(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "playbook", "title", "scenario", "page_policy")
	inc, err := u.Playbooks.StartDrill(r.Context(), playbook.DrillInput{Playbook: form["playbook"], Title: form["title"],
		Scenario: form["scenario"], PagePolicy: form["page_policy"]})
	if err != nil {
		fe, ok := fieldErrors(err)
		if !ok {
			u.fail(w, r, err)
			return
		}
		if msg, ok := fe["description"]; ok {
			fe["scenario"] = msg
		}
		u.drillsRender(w, r, http.StatusUnprocessableEntity, form, fe)
		return
	}
	redirect(w, r, "/incidents/"+inc.Number+"?msg=drill")
}
