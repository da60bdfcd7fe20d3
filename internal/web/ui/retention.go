package ui

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/retention"
)

// retentionRow is one record type on the settings page.
type retentionRow struct {
	retention.TypeInfo
	Value int
	Unit  string // "years" or "days"
	Due   int    // records a purge now would remove
	Held  int
}

// retentionPage is the retention settings page.
type retentionPage struct {
	Settings     retention.Settings
	Rows         []retentionRow
	Minimum      int
	Citation     string
	CitationURL  string
	ChainOK      bool
	DueIncidents []string // incident numbers a purge now would remove, whole or their case or individuals' details
	HeldNumbers  []string
	Errors       map[string]string
	Form         map[string]string
}

func (u *UI) retentionData(r *http.Request) (retentionPage, error) {
	set, err := u.Retention.Settings(r.Context())
	if err != nil {
		return retentionPage{}, err
	}
	rep, err := u.Retention.Preview(r.Context())
	if err != nil {
		return retentionPage{}, err
	}
	p := retentionPage{Settings: set, Minimum: retention.LegalMinimumYears, Citation: retention.Citation,
		CitationURL: retention.CitationURL, ChainOK: rep.ChainOK}
	due, held := rep.Counts(), map[retention.RecordType]int{}
	for _, it := range rep.Held {
		held[it.Type]++
	}
	for _, ti := range retention.Types {
		row := retentionRow{TypeInfo: ti, Value: set.Policy.Years(ti.Type), Unit: "years", Due: due[ti.Type], Held: held[ti.Type]}
		if ti.Type == retention.IndividualsPHI {
			row.Value, row.Unit = set.Policy.IndividualsPHIDays, "days"
		}
		p.Rows = append(p.Rows, row)
	}
	p.DueIncidents, p.HeldNumbers = numbers(rep.Purged), numbers(rep.Held)
	return p, nil
}

// numbers lists the distinct incident numbers of items, in order.
func numbers(items []retention.Item) []string {
	seen := map[string]bool{}
	var out []string
	for _, it := range items {
		if it.Label != "" && !seen[it.Label] {
			seen[it.Label] = true
			out = append(out, it.Label)
		}
	}
	return out
}

func (u *UI) retentionShow(w http.ResponseWriter, r *http.Request) {
	p, err := u.retentionData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "retention", "Retention", "retention", p)
}

func (u *UI) retentionSave(w http.ResponseWriter, r *http.Request) {
	fields := make([]string, len(retention.Types))
	for i, ti := range retention.Types {
		fields[i] = ti.Field
	}
	form := formValues(r, fields...)
	var p retention.Policy
	targets := map[string]*int{"incidents_years": &p.IncidentsYears, "breach_cases_years": &p.BreachCasesYears,
		"alerts_years": &p.AlertsYears, "messages_years": &p.MessagesYears, "sessions_years": &p.SessionsYears,
		"individuals_phi_days": &p.IndividualsPHIDays}
	errs := map[string]string{}
	for _, f := range fields {
		n, err := strconv.Atoi(strings.TrimSpace(form[f]))
		if err != nil {
			errs[f] = "must be a whole number"
			continue
		}
		*targets[f] = n
	}
	var err error
	if len(errs) == 0 {
		_, err = u.Retention.SetPolicy(r.Context(), p)
		if err == nil {
			redirect(w, r, "/admin/retention?msg=retention_saved")
			return
		}
		fe, ok := fieldErrors(err)
		if !ok {
			u.fail(w, r, err)
			return
		}
		errs = fe
	}
	page, err := u.retentionData(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	page.Errors, page.Form = errs, form
	u.render(w, r, http.StatusUnprocessableEntity, "retention", "Retention", "retention", page)
}

// holdScope reads which record a legal hold form is about from its path.
func holdScope(r *http.Request) retention.Scope {
	if strings.Contains(r.URL.Path, "/breach/") {
		return retention.ScopeBreachCase
	}
	return retention.ScopeIncident
}

func (u *UI) legalHoldPlace(w http.ResponseWriter, r *http.Request) {
	u.legalHold(w, r, true)
}

func (u *UI) legalHoldRelease(w http.ResponseWriter, r *http.Request) {
	u.legalHold(w, r, false)
}

// legalHold places or releases a hold from the incident page; the form's
// reason field is named after the scope, so that each control shows its
// own error.
func (u *UI) legalHold(w http.ResponseWriter, r *http.Request, place bool) {
	scope := holdScope(r)
	field := "hold_reason_" + string(scope)
	form := formValues(r, field)
	var err error
	if place {
		_, err = u.Retention.PlaceHold(r.Context(), scope, r.PathValue("id"), form[field])
	} else {
		_, err = u.Retention.ReleaseHold(r.Context(), scope, r.PathValue("id"), form[field])
	}
	if err != nil {
		if e, ok := apperr.As(err); ok && len(e.Fields) > 0 && e.Fields[0].Field == "reason" {
			err = apperr.Field(field, "%s", e.Fields[0].Message)
		}
		u.showWithErrors(w, r, err, form)
		return
	}
	msg := "hold_released"
	if place {
		msg = "hold_placed"
	}
	redirect(w, r, "/incidents/"+r.PathValue("id")+"?msg="+msg+"#legal-hold")
}

// activeHold returns the hold of scope in force among hs, if any.
func activeHold(hs []retention.Hold, scope retention.Scope) *retention.Hold {
	for i := range hs {
		if hs[i].Scope == scope && hs[i].Active() {
			return &hs[i]
		}
	}
	return nil
}
