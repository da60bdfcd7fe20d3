package ui

import (
	"fmt"
	"net/http"
	"time"

	"github.com/wardhq/ward/internal/stakeholder"
)

// slaReportPage is the SLA report: the period asked for and the report.
type slaReportPage struct {
	From, To string // YYYY-MM-DD, as the form shows them
	Report   stakeholder.SLAReport
	Errors   map[string]string
}

// slaReport shows the SLA report of the incidents created from one day
// (inclusive) to another (inclusive), in UTC; by default the last 30 days.
func (u *UI) slaReport(w http.ResponseWriter, r *http.Request) {
	p := slaReportPage{From: r.URL.Query().Get("from"), To: r.URL.Query().Get("to"), Errors: map[string]string{}}
	var from, to time.Time
	for _, d := range []struct {
		name, value string
		t           *time.Time
	}{{"from", p.From, &from}, {"to", p.To, &to}} {
		if d.value == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d.value)
		if err != nil {
			p.Errors[d.name] = fmt.Sprintf("%q is not a date (YYYY-MM-DD)", d.value)
			continue
		}
		*d.t = t
	}
	if !to.IsZero() {
		to = to.AddDate(0, 0, 1) // the form's last day counts whole
	}
	status := http.StatusOK
	if len(p.Errors) == 0 {
		rep, err := u.Stakeholders.SLAs(r.Context(), from, to)
		switch fe, ok := fieldErrors(err); {
		case ok:
			p.Errors, status = fe, http.StatusUnprocessableEntity
		case err != nil:
			u.fail(w, r, err)
			return
		default:
			p.Report = rep
			p.From, p.To = rep.From.Format(time.DateOnly), rep.To.AddDate(0, 0, -1).Format(time.DateOnly)
		}
	} else {
		status = http.StatusUnprocessableEntity
	}
	u.render(w, r, status, "sla_report", "SLA report", "stakeholders", p)
}
