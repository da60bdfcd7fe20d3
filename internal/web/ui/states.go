package ui

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
)

// statesPage is the State table page: the table in use and, for
// administrators, the form that saves a new version of it.
type statesPage struct {
	Table    breach.StateTable
	ToVerify int
	Rows     int
	Versions []breach.StateTable
	Form     map[string]string
	Errors   map[string]string
}

func (u *UI) statesData(r *http.Request) (statesPage, error) {
	t, err := u.Breach.StateTable(r.Context())
	if err != nil {
		return statesPage{}, err
	}
	vs, err := u.Breach.StateTables(r.Context())
	if err != nil {
		return statesPage{}, err
	}
	body, err := json.MarshalIndent(t.Table.Rules, "", "  ")
	if err != nil {
		return statesPage{}, err
	}
	juris, err := json.MarshalIndent(t.Table.Jurisdictions, "", "  ")
	if err != nil {
		return statesPage{}, err
	}
	p := statesPage{Table: t, Versions: vs, Errors: map[string]string{}, Rows: len(t.Table.Jurisdictions) + len(t.Table.Rules),
		Form: map[string]string{"version": t.Table.Version, "source": t.Table.Source, "rules": string(body), "jurisdictions": string(juris)}}
	for _, j := range t.Table.Jurisdictions {
		if j.CounselToConfirm {
			p.ToVerify++
		}
	}
	for _, row := range t.Table.Rules {
		if row.CounselToConfirm {
			p.ToVerify++
		}
	}
	return p, nil
}

func (u *UI) statesShow(w http.ResponseWriter, r *http.Request) {
	p, err := u.statesData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "breach_states", "State rules", "breach", p)
}

// statesSave saves a new version of the State table from the form: its
// jurisdictions and rules as JSON, as the page shows them.
func (u *UI) statesSave(w http.ResponseWriter, r *http.Request) {
	form := formValues(r, "version", "source", "jurisdictions", "rules", "reason")
	var t rules.StateTable
	err := json.Unmarshal([]byte(form["rules"]), &t.Rules)
	if err != nil {
		err = apperr.Field("rules", "is not a JSON list of rules: %v", err)
	} else if err = json.Unmarshal([]byte(form["jurisdictions"]), &t.Jurisdictions); err != nil {
		err = apperr.Field("jurisdictions", "is not a JSON list of jurisdictions: %v", err)
	} else {
		t.Version, t.Source = form["version"], form["source"]
		_, _, err = u.Breach.SetStateTable(r.Context(), t, form["reason"])
	}
	if err == nil {
		redirect(w, r, "/breach/state-rules?msg=state_rules_saved")
		return
	}
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.Invalid {
		u.fail(w, r, err)
		return
	}
	p, perr := u.statesData(r)
	if perr != nil {
		u.fail(w, r, perr)
		return
	}
	p.Form = form
	for _, f := range e.Fields {
		control := "_"
		for _, c := range []string{"jurisdictions", "rules", "version", "reason"} {
			if f.Field == c || strings.HasPrefix(f.Field, c+"[") || strings.HasPrefix(f.Field, c+".") {
				control = c
			}
		}
		msg := f.Field + ": " + f.Message
		if prev, dup := p.Errors[control]; dup {
			msg = prev + "; " + msg
		}
		p.Errors[control] = msg
	}
	if len(p.Errors) == 0 {
		p.Errors["_"] = e.Message
	}
	u.render(w, r, http.StatusUnprocessableEntity, "breach_states", "State rules", "breach", p)
}

func hipaaLabel(h rules.HIPAATreatment) string {
	switch h {
	case rules.HIPAAExempt:
		return "exempt"
	case rules.HIPAADeemedCompliant:
		return "deemed compliant, on conditions"
	case rules.HIPAANotExempt:
		return "not exempt"
	}
	return "not stated"
}

func anchorLabel(a rules.Anchor) string {
	switch a {
	case rules.FromIndividualNotice:
		return "the notice to residents"
	case rules.FromHHSNotice:
		return "the notice to HHS"
	}
	return "discovery"
}
