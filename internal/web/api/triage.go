package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/incident"
)

// Triage is the question Ward asks of an incident that an alert of a
// service handling PHI opened or joined (incident.Triage).
type Triage struct {
	AskedAt          time.Time  `json:"asked_at" doc:"When Ward asked; a breach case opened from a \"PHI involved\" answer takes it as its discovery date (45 CFR 164.404(a)(2))."`
	Reason           string     `json:"reason" doc:"Why Ward asked: the service's name, never PHI."`
	Open             bool       `json:"open" doc:"True while the question awaits its answer."`
	AnsweredAt       *time.Time `json:"answered_at,omitempty"`
	AnsweredBy       string     `json:"answered_by,omitempty"`
	SecurityIncident *bool      `json:"security_incident,omitempty" doc:"The answer: a security incident (45 CFR 164.304) or not."`
	PHIInvolved      *bool      `json:"phi_involved,omitempty" doc:"The answer: PHI involved or not. Yes marks the incident phi_suspected."`
}

func triageOut(t incident.Triage) Triage {
	out := Triage{AskedAt: t.AskedAt, Reason: t.Reason, Open: t.Open(), AnsweredAt: t.AnsweredAt, AnsweredBy: t.AnsweredBy}
	if !t.Open() {
		sec, phi := t.SecurityIncident, t.PHIInvolved
		out.SecurityIncident, out.PHIInvolved = &sec, &phi
	}
	return out
}

type triageOutput struct {
	Body Triage
}

type answerTriageInput struct {
	ID   string `path:"id" maxLength:"64" doc:"Incident id or number."`
	Body struct {
		SecurityIncident bool `json:"security_incident" doc:"Is this a security incident (45 CFR 164.304)?"`
		PHIInvolved      bool `json:"phi_involved" doc:"Is PHI involved? Yes marks the incident phi_suspected, which opens its breach case where Ward is set to."`
	}
}

func (h handler) registerTriage(api huma.API) {
	huma.Register(api, op("get-incident-triage", http.MethodGet, "/incidents/{id}/triage",
		"The classification Ward asked of an incident an alert of a PHI service opened", http.StatusOK, authz.IncidentRead),
		func(ctx context.Context, in *idInput) (*triageOutput, error) {
			t, err := h.Incidents.TriageOf(ctx, in.ID)
			if err == nil && t == nil {
				err = apperr.New(apperr.NotFound, "Ward asked nothing about incident %s", in.ID)
			}
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &triageOutput{Body: triageOut(*t)}, nil
		})

	huma.Register(api, op("answer-incident-triage", http.MethodPost, "/incidents/{id}/triage",
		"Classify an incident an alert of a PHI service opened: a security incident? PHI involved? (once)", http.StatusOK, authz.IncidentWrite),
		func(ctx context.Context, in *answerTriageInput) (*triageOutput, error) {
			if _, err := h.Incidents.AnswerTriage(ctx, in.ID, in.Body.SecurityIncident, in.Body.PHIInvolved); err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			t, err := h.Incidents.TriageOf(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &triageOutput{Body: triageOut(*t)}, nil
		})
}
