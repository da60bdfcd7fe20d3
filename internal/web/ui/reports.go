package ui

import (
	"net/http"
	"strconv"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/report"
)

// logFilter reads the breach log's filters from the query string.
func logFilter(r *http.Request) (report.LogFilter, error) {
	q := r.URL.Query()
	f := report.LogFilter{Status: q.Get("status"), Outcome: q.Get("outcome"), Size: q.Get("size")}
	if y := q.Get("year"); y != "" {
		n, err := strconv.Atoi(y)
		if err != nil {
			return f, apperr.Field("year", "%q is not a year", y)
		}
		f.Year = n
	}
	return f, nil
}

// breachLog is the breach log: every case, filterable, with a CSV export.
func (u *UI) breachLog(w http.ResponseWriter, r *http.Request) {
	f, err := logFilter(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	entries, err := u.Reports.Log(r.Context(), f)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "breach_log", "Breach log", "breach", map[string]any{"Entries": entries, "Filter": f,
		"Query": r.URL.RawQuery, "Statuses": []string{"open", "overdue", "complete"},
		"Outcomes": []string{"pending", "notification_required", "low_probability_of_compromise", "not_breach_secured", "not_breach_exception"}})
}

func (u *UI) breachLogCSV(w http.ResponseWriter, r *http.Request) {
	f, err := logFilter(r)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	entries, err := u.Reports.Log(r.Context(), f)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	b, err := report.LogCSV(entries)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="breach-log.csv"`)
	_, _ = w.Write(b)
}

// annualLog lists the annual logs of breaches of fewer than 500 with
// their due dates (164.408(c)).
func (u *UI) annualLog(w http.ResponseWriter, r *http.Request) {
	logs, err := u.Reports.AnnualLogs(r.Context(), 0)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "breach_annual_log", "HHS annual log", "breach", map[string]any{"Logs": logs})
}

// hhsReport shows the case's HHS report packet, what is missing, and its
// filings.
func (u *UI) hhsReport(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	p, err := u.Reports.Packet(r.Context(), ref)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	filings, err := u.Reports.Filings(r.Context(), ref)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	labels := map[string]string{"EntityType": report.Labels(report.EntityTypes, []string{p.CoveredEntity.EntityType}, ""),
		"BreachTypes": report.Labels(report.BreachTypes, p.BreachTypes, p.BreachTypeOther),
		"Locations":   report.Labels(report.Locations, p.Locations, p.LocationOther),
		"PHITypes":    report.Labels(report.PHITypes, p.PHITypes, p.PHIOther),
		"Safeguards":  report.Labels(report.Safeguards, p.Safeguards, ""),
		"Actions":     report.Labels(report.Actions, p.ActionsTaken, p.ActionsOther)}
	u.render(w, r, http.StatusOK, "hhs_report", "HHS report "+p.IncidentNumber, "breach", map[string]any{"P": p, "Filings": filings,
		"L": labels})
}

func (u *UI) hhsReportPDF(w http.ResponseWriter, r *http.Request) {
	p, err := u.Reports.Packet(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	pdf, err := report.PDF(p)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/pdf")
	w.Header().Set("Content-Disposition", `attachment; filename="hhs-report-`+p.IncidentNumber+`.pdf"`)
	_, _ = w.Write(pdf)
}

// proofBundle downloads the case's signed proof bundle; the download is
// audited.
func (u *UI) proofBundle(w http.ResponseWriter, r *http.Request) {
	b, m, err := u.Reports.Bundle(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/zip")
	w.Header().Set("Content-Disposition", `attachment; filename="proof-`+m.IncidentNumber+`.zip"`)
	_, _ = w.Write(b)
}
