package ui

import (
	"net/http"

	"github.com/wardhq/ward/internal/investigation"
)

// investigationReport downloads the incident's investigation report as
// Markdown (format "md") or PDF; the download is audited as a PHI read.
// With privileged=include, counsel and the Privacy Officer get the
// privileged records in it.
func (u *UI) investigationReport(format string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		src := investigation.Sources{Incidents: u.Incidents, Evidence: u.Evidence, Breach: u.Breach}
		name := map[string]string{"md": "markdown", "pdf": "pdf"}[format]
		rep, err := investigation.Build(r.Context(), src, r.PathValue("id"), name, r.URL.Query().Get("privileged") == "include")
		if err != nil {
			u.fail(w, r, err)
			return
		}
		file := "investigation-report-" + rep.Number + "." + format
		if format == "md" {
			attachment(w, "text/markdown; charset=utf-8", file, investigation.Markdown(rep))
			return
		}
		pdf, err := investigation.PDF(rep)
		if err != nil {
			u.fail(w, r, err)
			return
		}
		attachment(w, "application/pdf", file, pdf)
	}
}

// incidentRegister downloads the incident register as CSV for auditors.
func (u *UI) incidentRegister(w http.ResponseWriter, r *http.Request) {
	body, err := investigation.RegisterCSV(r.Context(), u.Incidents)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	attachment(w, "text/csv; charset=utf-8", "incident-register-"+u.Clock.Now().UTC().Format("2006-01-02")+".csv", body)
}

// incidentRegisterPDF downloads the incident register as a PDF for
// auditors.
func (u *UI) incidentRegisterPDF(w http.ResponseWriter, r *http.Request) {
	body, err := investigation.RegisterPDF(r.Context(), u.Incidents)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	attachment(w, "application/pdf", "incident-register-"+u.Clock.Now().UTC().Format("2006-01-02")+".pdf", body)
}
