package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/authz"
)

// Alert is an alert as the API shows it.
type Alert struct {
	ID               string          `json:"id"`
	ServiceID        string          `json:"service_id"`
	IntegrationID    string          `json:"integration_id"`
	DedupKey         string          `json:"dedup_key" doc:"The tool's key for the alert; may hold PHI (reading it is audited). Empty for a caller whose role may not see PHI (fields_redacted)."`
	IncidentID       string          `json:"incident_id,omitempty" doc:"Absent when a maintenance window or an alert rule suppressed the alert."`
	IncidentNumber   string          `json:"incident_number,omitempty"`
	Status           string          `json:"status" enum:"triggered,acknowledged,resolved"`
	Suppressed       bool            `json:"suppressed" doc:"Arrived during a maintenance window, or an alert rule suppressed it (suppressed_by): recorded, no incident, nobody paged."`
	SuppressedBy     string          `json:"suppressed_by,omitempty" doc:"The id of the alert rule that suppressed it."`
	SuppressedByName string          `json:"suppressed_by_name,omitempty" doc:"The name of the alert rule that suppressed it."`
	Tags             []string        `json:"tags,omitempty" doc:"What alert rules added when it opened."`
	Summary          string          `json:"summary" doc:"What the tool sent; may hold PHI (reading it is audited). For a caller whose role may not see PHI, a line naming the severity, service and incident instead."`
	SummaryRedacted  bool            `json:"summary_redacted,omitempty" doc:"The summary was withheld: the caller's role may not see PHI."`
	Source           string          `json:"source" doc:"May hold PHI (reading it is audited), as may component, group and class. Empty for a caller whose role may not see PHI (fields_redacted)."`
	Severity         string          `json:"severity" enum:"critical,error,warning,info"`
	Component        string          `json:"component,omitempty"`
	Group            string          `json:"group,omitempty"`
	Class            string          `json:"class,omitempty"`
	FieldsRedacted   bool            `json:"fields_redacted,omitempty" doc:"The dedup key, source, component, group and class were withheld: the caller's role may not see PHI."`
	Count            int64           `json:"count" doc:"Triggers received while open (deduplicated)."`
	FirstAt          time.Time       `json:"first_at"`
	LastAt           time.Time       `json:"last_at"`
	AcknowledgedAt   *time.Time      `json:"acknowledged_at,omitempty"`
	ResolvedAt       *time.Time      `json:"resolved_at,omitempty"`
	Details          json.RawMessage `json:"details,omitempty" doc:"What the tool sent beyond the summary; may hold PHI (reading it is audited)."`
	DetailsRedacted  bool            `json:"details_redacted,omitempty" doc:"Details were withheld: the caller's role may not see PHI."`
}

// ServiceChange is a change a deploy or configuration tool reported on a
// service (POST /v2/change/enqueue).
type ServiceChange struct {
	ID              string    `json:"id"`
	ServiceID       string    `json:"service_id"`
	ServiceName     string    `json:"service"`
	Summary         string    `json:"summary" doc:"What the tool said changed; empty when withheld (summary_redacted)."`
	Source          string    `json:"source"`
	SummaryRedacted bool      `json:"summary_redacted,omitempty" doc:"True for roles that may not read PHI: summary and source are withheld."`
	Links           int       `json:"links" doc:"How many links the tool sent with the change (not kept)."`
	At              time.Time `json:"changed_at"`
	ReceivedAt      time.Time `json:"received_at"`
}

func alertOut(a alert.Alert) Alert {
	return Alert{ID: a.ID, ServiceID: a.ServiceID, IntegrationID: a.IntegrationID, DedupKey: a.DedupKey,
		IncidentID: a.IncidentID, IncidentNumber: a.IncidentNumber, Status: string(a.Status), Suppressed: a.Suppressed,
		Summary: a.Summary, SummaryRedacted: a.SummaryRedacted, Source: a.Source, Severity: string(a.Severity), Component: a.Component, Group: a.Group,
		Class: a.Class, FieldsRedacted: a.FieldsRedacted, Count: a.Count, FirstAt: a.FirstAt, LastAt: a.LastAt, AcknowledgedAt: a.AcknowledgedAt,
		ResolvedAt: a.ResolvedAt, Details: a.Details, SuppressedBy: a.SuppressedBy, SuppressedByName: a.SuppressedByName, Tags: a.Tags}
}

func (h handler) registerAlerts(api huma.API) {
	const tag = "alerting"
	huma.Register(api, tagged(op("list-alerts", http.MethodGet, "/alerts", "List alerts, newest first (without details)", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *struct {
			Service  string `query:"service" maxLength:"100" doc:"Service id or name."`
			Incident string `query:"incident" maxLength:"64" doc:"Incident id or number."`
			Status   string `query:"status" enum:"triggered,acknowledged,resolved"`
			Limit    int    `query:"limit" minimum:"1" maximum:"200" default:"50"`
			Before   string `query:"before" maxLength:"64" doc:"An alert id: the page after it (the last id of the previous page)."`
		}) (*struct{ Body []Alert }, error) {
			as, err := h.Alerts.Alerts(ctx, alert.Filter{Service: in.Service, Incident: in.Incident,
				Status: alert.Status(in.Status), Limit: in.Limit, Before: in.Before})
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out := &struct{ Body []Alert }{Body: make([]Alert, len(as))}
			for i, a := range as {
				out.Body[i] = alertOut(a)
			}
			return out, nil
		})

	huma.Register(api, tagged(op("list-incident-changes", http.MethodGet, "/incidents/{id}/changes",
		"Changes that deploy and configuration tools reported (POST /v2/change/enqueue) on the incident's services, from 4 hours "+
			"before it was detected until now, newest first, at most 50; their text withheld from roles that may not read PHI",
		http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idInput) (*struct{ Body []ServiceChange }, error) {
			cs, err := h.Alerts.IncidentChanges(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &struct{ Body []ServiceChange }{Body: make([]ServiceChange, len(cs))}
			for i, c := range cs {
				out.Body[i] = ServiceChange(c)
			}
			return out, nil
		})

	huma.Register(api, tagged(op("get-alert", http.MethodGet, "/alerts/{id}", "Get an alert with its details", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"64"`
		}) (*struct{ Body Alert }, error) {
			a, redacted, err := h.Alerts.Alert(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := alertOut(a)
			out.DetailsRedacted = redacted
			return &struct{ Body Alert }{Body: out}, nil
		})
}
