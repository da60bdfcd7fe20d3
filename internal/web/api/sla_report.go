package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/stakeholder"
)

// SLAReportBody measures the SLA targets of the incidents created in a
// period, per severity.
type SLAReportBody struct {
	From       time.Time           `json:"from"`
	To         time.Time           `json:"to"`
	Severities []SLASeverityReport `json:"severities"`
}

// SLASeverityReport is one severity's row.
type SLASeverityReport struct {
	Severity    string            `json:"severity"`
	Incidents   int               `json:"incidents"`
	Targets     []SLATargetReport `json:"targets"`
	MTTAMinutes *float64          `json:"mtta_minutes,omitempty" doc:"Mean minutes from creation to the first acknowledgement, over the incidents acknowledged."`
	MTTRMinutes *float64          `json:"mttr_minutes,omitempty" doc:"Mean minutes from creation to closing, over the incidents closed."`
}

// SLATargetReport counts one target's outcomes.
type SLATargetReport struct {
	Name       string   `json:"name" enum:"acknowledge,first_update,contain,resolve"`
	Applicable int      `json:"applicable" doc:"Incidents the target applied to."`
	Met        int      `json:"met"`
	MetLate    int      `json:"met_late"`
	Missed     int      `json:"missed"`
	Open       int      `json:"open" doc:"Not met yet, with time left."`
	MetPercent *float64 `json:"met_percent,omitempty" doc:"Met in time, out of those met, met late or missed."`
}

func minutes(d *time.Duration) *float64 {
	if d == nil {
		return nil
	}
	m := d.Minutes()
	return &m
}

func slaReportOut(r stakeholder.SLAReport) SLAReportBody {
	out := SLAReportBody{From: r.From, To: r.To, Severities: []SLASeverityReport{}}
	for _, s := range r.Severities {
		row := SLASeverityReport{Severity: s.Severity, Incidents: s.Incidents, Targets: []SLATargetReport{}, MTTAMinutes: minutes(s.MTTA),
			MTTRMinutes: minutes(s.MTTR)}
		for _, t := range s.Targets {
			row.Targets = append(row.Targets, SLATargetReport(t))
		}
		out.Severities = append(out.Severities, row)
	}
	return out
}

func (h handler) registerSLAReport(api huma.API) {
	huma.Register(api, tagged(op("sla-report", http.MethodGet, "/reports/sla",
		"SLA compliance of the incidents created in a period, per severity: each target met, late, missed or open, and the mean times to acknowledge and resolve",
		http.StatusOK, authz.IncidentRead), "stakeholders"),
		func(ctx context.Context, in *struct {
			From time.Time `query:"from" doc:"Start of the period (RFC 3339); default 30 days before to."`
			To   time.Time `query:"to" doc:"End of the period, exclusive (RFC 3339); default now."`
		}) (*struct{ Body SLAReportBody }, error) {
			r, err := h.Stakeholders.SLAs(ctx, in.From, in.To)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			return &struct{ Body SLAReportBody }{slaReportOut(r)}, nil
		})
}
