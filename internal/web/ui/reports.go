package ui

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/breach"
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

// logQuery is filter f as the query of a breach-log address, so that the
// CSV export holds what the page shows.
func logQuery(f report.LogFilter) url.Values {
	q := url.Values{}
	if f.Year != 0 {
		q.Set("year", strconv.Itoa(f.Year))
	}
	for k, v := range map[string]string{"status": f.Status, "outcome": f.Outcome, "size": f.Size} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
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
		"CSV": pageLink("/breach/log.csv", logQuery(f)), "Statuses": []string{"open", "overdue", "complete"},
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
	attachment(w, "text/csv; charset=utf-8", "breach-log.csv", b)
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
	p, err := u.reportData(r, r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "hhs_report", "HHS report "+p.P.IncidentNumber, "breach", p)
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
	attachment(w, "application/pdf", "hhs-report-"+p.IncidentNumber+".pdf", pdf)
}

// proofBundle downloads the case's signed proof bundle; the download is
// audited.
func (u *UI) proofBundle(w http.ResponseWriter, r *http.Request) {
	b, m, err := u.Reports.Bundle(r.Context(), r.PathValue("id"))
	if err != nil {
		u.fail(w, r, err)
		return
	}
	attachment(w, "application/zip", "proof-"+m.IncidentNumber+".zip", b)
}

// reportPage is the HHS report page's data.
type reportPage struct {
	P       report.Packet
	Filings []report.Filing
	D       report.ReportDetails
	L       map[string]string
	// Vocabularies for the details form, and what is chosen of each.
	Vocab  map[string][]report.VocabTerm
	Chosen map[string]map[string]bool
	Errors []string
	// Hold is the law-enforcement hold in force now, if any (164.412).
	Hold *breach.Hold
}

func (u *UI) reportData(r *http.Request, ref string) (reportPage, error) {
	p, err := u.Reports.Packet(r.Context(), ref)
	if err != nil {
		return reportPage{}, err
	}
	filings, err := u.Reports.Filings(r.Context(), ref)
	if err != nil {
		return reportPage{}, err
	}
	d, err := u.Reports.Details(r.Context(), ref)
	if err != nil {
		return reportPage{}, err
	}
	c, err := u.Breach.Get(r.Context(), ref)
	if err != nil {
		return reportPage{}, err
	}
	hold, err := u.Breach.HoldNow(r.Context(), c)
	if err != nil {
		return reportPage{}, err
	}
	chosen := func(codes []string) map[string]bool {
		m := map[string]bool{}
		for _, c := range codes {
			m[c] = true
		}
		return m
	}
	return reportPage{P: p, Filings: filings, D: d, Hold: hold,
		L: map[string]string{"EntityType": report.Labels(report.EntityTypes, []string{p.CoveredEntity.EntityType}, ""),
			"BreachTypes": report.Labels(report.BreachTypes, p.BreachTypes, p.BreachTypeOther),
			"Locations":   report.Labels(report.Locations, p.Locations, p.LocationOther),
			"PHITypes":    report.Labels(report.PHITypes, p.PHITypes, p.PHIOther),
			"Safeguards":  report.Labels(report.Safeguards, p.Safeguards, ""),
			"Actions":     report.Labels(report.Actions, p.ActionsTaken, p.ActionsOther)},
		Vocab: map[string][]report.VocabTerm{"breach_types": report.BreachTypes, "locations": report.Locations, "phi_types": report.PHITypes,
			"safeguards": report.Safeguards, "actions_taken": report.Actions},
		Chosen: map[string]map[string]bool{"breach_types": chosen(d.BreachTypes), "locations": chosen(d.Locations),
			"phi_types": chosen(d.PHITypes), "safeguards": chosen(d.Safeguards), "actions_taken": chosen(d.ActionsTaken)}}, nil
}

// reportInvalid shows the report page again with err's field messages.
func (u *UI) reportInvalid(w http.ResponseWriter, r *http.Request, err error) {
	e, ok := apperr.As(err)
	if !ok || (e.Code != apperr.Invalid && e.Code != apperr.Conflict) {
		u.fail(w, r, err)
		return
	}
	p, gerr := u.reportData(r, r.PathValue("id"))
	if gerr != nil {
		u.fail(w, r, gerr)
		return
	}
	p.Errors = []string{e.Message}
	for _, f := range e.Fields {
		p.Errors = append(p.Errors, f.Field+": "+f.Message)
	}
	u.render(w, r, http.StatusUnprocessableEntity, "hhs_report", "HHS report "+p.P.IncidentNumber, "breach", p)
}

// hhsDetails saves the case's HHS report details from the form.
func (u *UI) hhsDetails(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	if err := r.ParseForm(); err != nil {
		u.fail(w, r, apperr.New(apperr.Invalid, "unreadable form"))
		return
	}
	f := formValues(r, "breach_start", "breach_end", "discovery_end", "individual_notice_end", "breach_type_other", "location_other",
		"phi_other", "description", "actions_other", "ba_name", "ba_street", "ba_city", "ba_state", "ba_zip", "ba_contact", "ba_phone", "ba_email")
	d := report.ReportDetails{BreachTypes: r.PostForm["breach_types"], Locations: r.PostForm["locations"], PHITypes: r.PostForm["phi_types"],
		Safeguards: r.PostForm["safeguards"], ActionsTaken: r.PostForm["actions_taken"], BreachTypeOther: f["breach_type_other"],
		LocationOther: f["location_other"], PHIOther: f["phi_other"], Description: f["description"], ActionsOther: f["actions_other"]}
	var err error
	for name, dst := range map[string]**time.Time{"breach_start": &d.BreachStart, "breach_end": &d.BreachEnd, "discovery_end": &d.DiscoveryEnd,
		"individual_notice_end": &d.IndividualNoticeEnd} {
		if *dst, err = formTime(name, f[name]); err != nil {
			u.reportInvalid(w, r, err)
			return
		}
	}
	if f["ba_name"] != "" {
		d.BusinessAssociate = &report.ReportParty{Name: f["ba_name"],
			Address: report.ReportAddress{Street: f["ba_street"], City: f["ba_city"], State: f["ba_state"], ZIP: f["ba_zip"]},
			Contact: report.ReportContact{Name: f["ba_contact"], Phone: f["ba_phone"], Email: f["ba_email"]}}
	}
	if _, err := u.Reports.SetDetails(r.Context(), ref, d); err != nil {
		u.reportInvalid(w, r, err)
		return
	}
	p, err := u.Reports.Packet(r.Context(), ref)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	redirect(w, r, withMsg("/incidents/"+p.IncidentNumber+"/breach/hhs-report", "hhs_details_saved"))
}

// hhsFiling records a filing's tracking number from the form.
func (u *UI) hhsFiling(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	f := formValues(r, "tracking_number", "filed_at", "attest", "hold_official", "hold_reason")
	at, err := formTime("filed_at", f["filed_at"])
	if err != nil {
		u.reportInvalid(w, r, err)
		return
	}
	var filed time.Time
	if at != nil {
		filed = *at
	}
	fl, err := u.Reports.RecordFiling(r.Context(), ref, f["tracking_number"], filed, f["attest"] == "yes", holdOverride(f))
	if err != nil {
		u.reportInvalid(w, r, err)
		return
	}
	redirect(w, r, withMsg("/incidents/"+fl.Packet.IncidentNumber+"/breach/hhs-report", "hhs_filed"))
}

// orgProfile shows the organisation profile, with a form for admins,
// and the breach organisation's time zone, set under Parties and
// contracts.
func (u *UI) orgProfile(w http.ResponseWriter, r *http.Request) {
	p, err := u.Reports.Org(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	org, err := u.Breach.Organisation(r.Context())
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, http.StatusOK, "org_profile", "Organisation profile", "admin", map[string]any{"P": p, "Types": report.EntityTypes,
		"Org": org})
}

func (u *UI) orgProfileSave(w http.ResponseWriter, r *http.Request) {
	f := formValues(r, "name", "entity_type", "street", "city", "state", "zip", "contact_name", "contact_title", "contact_phone", "contact_email")
	p := report.OrgProfile{Name: f["name"], EntityType: f["entity_type"],
		Address: report.ReportAddress{Street: f["street"], City: f["city"], State: f["state"], ZIP: f["zip"]},
		Contact: report.ReportContact{Name: f["contact_name"], Title: f["contact_title"], Phone: f["contact_phone"], Email: f["contact_email"]}}
	if _, err := u.Reports.SetOrg(r.Context(), p); err != nil {
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.Invalid {
			u.fail(w, r, err)
			return
		}
		var msgs []string
		for _, fe := range e.Fields {
			msgs = append(msgs, fe.Field+": "+fe.Message)
		}
		org, oerr := u.Breach.Organisation(r.Context())
		if oerr != nil {
			u.fail(w, r, oerr)
			return
		}
		u.render(w, r, http.StatusUnprocessableEntity, "org_profile", "Organisation profile", "admin",
			map[string]any{"P": p, "Types": report.EntityTypes, "Errors": msgs, "Org": org})
		return
	}
	redirect(w, r, withMsg("/org-profile", "org_saved"))
}
