package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/report"
)

// fileOut is a download: a body of some content type, with a file name.
type fileOut struct {
	ContentType        string `header:"Content-Type"`
	ContentDisposition string `header:"Content-Disposition"`
	Body               []byte
}

// ReportVocabularies are the HHS breach portal's vocabularies, code and
// words.
type ReportVocabularies struct {
	EntityTypes []report.VocabTerm `json:"entity_types"`
	BreachTypes []report.VocabTerm `json:"breach_types"`
	Locations   []report.VocabTerm `json:"locations"`
	PHITypes    []report.VocabTerm `json:"phi_types"`
	Safeguards  []report.VocabTerm `json:"safeguards"`
	Actions     []report.VocabTerm `json:"actions_taken"`
}

// filingBody records a filing on the HHS portal.
type filingBody struct {
	TrackingNumber string     `json:"tracking_number" minLength:"1" maxLength:"100" doc:"The number the HHS portal gave."`
	FiledAt        *time.Time `json:"filed_at,omitempty" doc:"When it was filed; now when absent."`
	Attest         bool       `json:"attest" doc:"The filer attests to the report as filed (report.Attestation)."`
	// HoldOverride is required while, or for a filing made while, a
	// law-enforcement hold is in force.
	HoldOverride *HoldOverride `json:"hold_override,omitempty" doc:"Required when a law-enforcement hold is in force now or at filed_at (45 CFR 164.412)."`
}

func (h handler) registerReports(api huma.API) {
	const tag = "reports"
	huma.Register(api, tagged(op("get-org-profile", http.MethodGet, "/org-profile",
		"The organisation's profile the HHS report names as the covered entity", http.StatusOK, authz.ReportRead), tag),
		func(ctx context.Context, _ *struct{}) (*struct{ Body report.OrgProfile }, error) {
			p, err := h.Reports.Org(ctx)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body report.OrgProfile }{p}, nil
		})
	huma.Register(api, tagged(op("set-org-profile", http.MethodPut, "/org-profile",
		"Replace the organisation's profile (admins)", http.StatusOK, authz.OrgWrite), tag),
		func(ctx context.Context, in *struct{ Body report.OrgProfile }) (*struct{ Body report.OrgProfile }, error) {
			p, err := h.Reports.SetOrg(ctx, in.Body)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body report.OrgProfile }{p}, nil
		})
	huma.Register(api, tagged(op("breach-report-vocabularies", http.MethodGet, "/breach-reports/vocabularies",
		"The HHS breach portal's vocabularies: entity types, breach types, locations, PHI types, safeguards, actions",
		http.StatusOK, authz.ReportRead), tag),
		func(ctx context.Context, _ *struct{}) (*struct{ Body ReportVocabularies }, error) {
			return &struct{ Body ReportVocabularies }{ReportVocabularies{EntityTypes: report.EntityTypes, BreachTypes: report.BreachTypes,
				Locations: report.Locations, PHITypes: report.PHITypes, Safeguards: report.Safeguards, Actions: report.Actions}}, nil
		})
	huma.Register(api, tagged(op("get-hhs-report-details", http.MethodGet, "/incidents/{id}/breach-case/hhs-report/details",
		"What the HHS report asks of the case beyond its facts", http.StatusOK, authz.ReportRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body report.ReportDetails }, error) {
			d, err := h.Reports.Details(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body report.ReportDetails }{d}, nil
		})
	huma.Register(api, tagged(op("set-hhs-report-details", http.MethodPut, "/incidents/{id}/breach-case/hhs-report/details",
		"Replace the case's HHS report details (type and location of breach, PHI types, safeguards, actions, business associate)",
		http.StatusOK, authz.ReportWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body report.ReportDetails
		}) (*struct{ Body report.ReportDetails }, error) {
			d, err := h.Reports.SetDetails(ctx, in.ID, in.Body)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body report.ReportDetails }{d}, nil
		})
	huma.Register(api, tagged(op("get-hhs-report", http.MethodGet, "/incidents/{id}/breach-case/hhs-report",
		"The HHS breach report packet, every portal field filled from the case, with what is missing", http.StatusOK,
		authz.ReportRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body report.Packet }, error) {
			p, err := h.Reports.Packet(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body report.Packet }{p}, nil
		})
	huma.Register(api, tagged(op("get-hhs-report-pdf", http.MethodGet, "/incidents/{id}/breach-case/hhs-report.pdf",
		"The HHS breach report packet as a printable PDF", http.StatusOK, authz.ReportRead), tag),
		func(ctx context.Context, in *idPath) (*fileOut, error) {
			p, err := h.Reports.Packet(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			pdf, err := report.PDF(p)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &fileOut{ContentType: "application/pdf",
				ContentDisposition: `attachment; filename="hhs-report-` + p.IncidentNumber + `.pdf"`, Body: pdf}, nil
		})
	huma.Register(api, tagged(op("list-hhs-filings", http.MethodGet, "/incidents/{id}/breach-case/hhs-report/filings",
		"Every HHS filing of the case, oldest first", http.StatusOK, authz.ReportRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body []report.Filing }, error) {
			fs, err := h.Reports.Filings(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body []report.Filing }{fs}, nil
		})
	huma.Register(api, tagged(op("record-hhs-filing", http.MethodPost, "/incidents/{id}/breach-case/hhs-report/filings",
		"Record the portal's tracking number of a filing: the first marks the hhs obligation met, later ones are addenda",
		http.StatusCreated, authz.ReportWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body filingBody
		}) (*struct{ Body report.Filing }, error) {
			var at time.Time
			if in.Body.FiledAt != nil {
				at = *in.Body.FiledAt
			}
			f, err := h.Reports.RecordFiling(ctx, in.ID, in.Body.TrackingNumber, at, in.Body.Attest, in.Body.HoldOverride.override())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body report.Filing }{f}, nil
		})
	huma.Register(api, tagged(op("list-breach-reminders", http.MethodGet, "/incidents/{id}/breach-case/reminders",
		"The deadline reminders sent for the case, newest first", http.StatusOK, authz.ReportRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body []report.Reminder }, error) {
			rs, err := h.Reports.Reminders(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body []report.Reminder }{rs}, nil
		})
	h.registerReportLogs(api, tag)
	h.registerProof(api, tag)
}

// logQuery filters the breach log.
type logQuery struct {
	Year    int    `query:"year" minimum:"0" maximum:"9999" doc:"Calendar year of discovery."`
	Status  string `query:"status" enum:"open,overdue,complete," doc:"open: notices owed; overdue: one is past due; complete: all made."`
	Outcome string `query:"outcome" enum:"pending,not_breach_secured,not_breach_exception,notification_required,low_probability_of_compromise,"`
	Size    string `query:"size" enum:"500_or_more,fewer_than_500,"`
}

func (q logQuery) filter() report.LogFilter {
	return report.LogFilter{Year: q.Year, Status: q.Status, Outcome: q.Outcome, Size: q.Size}
}

func (h handler) registerReportLogs(api huma.API, tag string) {
	huma.Register(api, tagged(op("breach-log", http.MethodGet, "/breach-log",
		"The breach log: every breach case you may see, newest discovery first, filtered", http.StatusOK, authz.ReportRead), tag),
		func(ctx context.Context, in *logQuery) (*struct{ Body []report.LogEntry }, error) {
			l, err := h.Reports.Log(ctx, in.filter())
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			if l == nil {
				l = []report.LogEntry{}
			}
			return &struct{ Body []report.LogEntry }{l}, nil
		})
	huma.Register(api, tagged(op("breach-log-csv", http.MethodGet, "/breach-log.csv",
		"The breach log as CSV (no PHI), filtered alike", http.StatusOK, authz.ReportRead), tag),
		func(ctx context.Context, in *logQuery) (*fileOut, error) {
			l, err := h.Reports.Log(ctx, in.filter())
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			b, err := report.LogCSV(l)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			return &fileOut{ContentType: "text/csv; charset=utf-8", ContentDisposition: `attachment; filename="breach-log.csv"`, Body: b}, nil
		})
	huma.Register(api, tagged(op("breach-annual-logs", http.MethodGet, "/breach-reports/annual-log",
		"The annual logs of breaches of fewer than 500, by calendar year of discovery, each with its due date (164.408(c))",
		http.StatusOK, authz.ReportRead), tag),
		func(ctx context.Context, in *struct {
			Year int `query:"year" minimum:"0" maximum:"9999" doc:"Only this year's log."`
		}) (*struct{ Body []report.AnnualLog }, error) {
			l, err := h.Reports.AnnualLogs(ctx, in.Year)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			return &struct{ Body []report.AnnualLog }{l}, nil
		})
}

func (h handler) registerProof(api huma.API, tag string) {
	huma.Register(api, tagged(op("breach-proof-bundle", http.MethodGet, "/incidents/{id}/breach-case/proof-bundle",
		"The case's signed proof bundle (zip) for auditors (164.414(b)); the download is audited", http.StatusOK, authz.ReportRead), tag),
		func(ctx context.Context, in *idPath) (*fileOut, error) {
			b, m, err := h.Reports.Bundle(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &fileOut{ContentType: "application/zip",
				ContentDisposition: `attachment; filename="proof-` + m.IncidentNumber + `.zip"`, Body: b}, nil
		})
	verify := changesNothing(tagged(op("verify-proof-bundle", http.MethodPost, "/breach-reports/proof-bundles/verify",
		"Verify a proof bundle: its signature, every file's SHA-256, and whether this Ward signed it", http.StatusOK, authz.ReportRead), tag))
	verify.MaxBodyBytes = report.MaxBundle
	huma.Register(api, verify, func(ctx context.Context, in *struct {
		RawBody []byte `contentType:"application/zip"`
	}) (*struct{ Body report.Verification }, error) {
		v, err := h.Reports.Verify(ctx, in.RawBody)
		if err != nil {
			return nil, h.fail(ctx, "body", err)
		}
		return &struct{ Body report.Verification }{v}, nil
	})
	huma.Register(api, tagged(op("breach-signing-keys", http.MethodGet, "/breach-reports/signing-keys",
		"The public keys that sign this Ward's proof bundles", http.StatusOK, authz.ReportRead), tag),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []report.SigningKey }, error) {
			ks, err := h.Reports.SigningKeys(ctx)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body []report.SigningKey }{ks}, nil
		})
}
