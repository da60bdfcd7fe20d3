package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/integration"
)

// tagged puts an operation under another tag of the OpenAPI document.
func tagged(o huma.Operation, tag string) huma.Operation {
	o.Tags = []string{tag}
	return o
}

// Service is a monitored service as the API shows it.
type Service struct {
	ID                 string    `json:"id"`
	Name               string    `json:"name"`
	Description        string    `json:"description"`
	HandlesPHI         bool      `json:"handles_phi" doc:"Alerts from this service mark their incident phi_suspected."`
	GroupBy            string    `json:"group_by" enum:"source,alert,service" doc:"How alerts group into incidents: source (the tool's own group, else the dedup key), alert (one incident per dedup key), service (one open incident per service)."`
	EscalationPolicyID string    `json:"escalation_policy_id,omitempty" doc:"The policy that pages people for the service's incidents; absent: nobody is paged."`
	CreatedAt          time.Time `json:"created_at"`
	UpdatedAt          time.Time `json:"updated_at"`
	Version            int64     `json:"version"`
}

func serviceOut(s alert.Service) Service {
	return Service{ID: s.ID, Name: s.Name, Description: s.Description, HandlesPHI: s.HandlesPHI, GroupBy: string(s.GroupBy),
		EscalationPolicyID: s.EscalationPolicyID, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, Version: s.Version}
}

type serviceBody struct {
	Name             string `json:"name" minLength:"1" maxLength:"100"`
	Description      string `json:"description,omitempty" maxLength:"2000"`
	HandlesPHI       bool   `json:"handles_phi,omitempty"`
	GroupBy          string `json:"group_by,omitempty" enum:"source,alert,service" default:"source"`
	EscalationPolicy string `json:"escalation_policy,omitempty" maxLength:"100" doc:"Escalation policy id or name; omit for none."`
}

func (b serviceBody) input() alert.ServiceInput {
	return alert.ServiceInput{Name: b.Name, Description: b.Description, HandlesPHI: b.HandlesPHI, GroupBy: alert.GroupBy(b.GroupBy),
		EscalationPolicy: b.EscalationPolicy}
}

type serviceOutput struct{ Body Service }

type serviceIDInput struct {
	ID string `path:"id" maxLength:"100" doc:"Service id or name."`
}

// Integration is an integration key as the API shows it (never the key).
type Integration struct {
	ID        string          `json:"id"`
	ServiceID string          `json:"service_id"`
	Kind      string          `json:"kind" enum:"events_v2,alertmanager,grafana,sns,webhook,heartbeat,email"`
	Name      string          `json:"name"`
	Hint      string          `json:"hint" doc:"The key's last four characters."`
	Mapping   json.RawMessage `json:"mapping,omitempty" doc:"The webhook's field mapping."`
	Endpoint  string          `json:"endpoint" doc:"Where the tool sends alerts; {key} is the key."`
	CreatedAt time.Time       `json:"created_at"`
	CreatedBy string          `json:"created_by"`
	RevokedAt *time.Time      `json:"revoked_at,omitempty"`
	Heartbeat *Heartbeat      `json:"heartbeat,omitempty" doc:"Heartbeat integrations only: the monitor's state."`
}

// Heartbeat is a heartbeat monitor's state.
type Heartbeat struct {
	IntervalSeconds int        `json:"interval_seconds"`
	State           string     `json:"state" enum:"waiting,up,down" doc:"down: the interval passed without a ping and an alert is open."`
	LastPingAt      *time.Time `json:"last_ping_at,omitempty"`
	DueAt           time.Time  `json:"due_at" doc:"When the next ping is due."`
}

func (h handler) integrationOut(ig alert.Integration) Integration {
	ep := "/intake/" + string(ig.Kind) + "/{key}"
	switch ig.Kind {
	case alert.KindEventsV2:
		ep = "/v2/enqueue"
	case alert.KindHeartbeat:
		ep = "/heartbeat/{key}"
	case alert.KindEmail:
		ep = "mailto:{key}@" + h.EmailDomain
		if h.EmailDomain == "" {
			ep = "email intake is off on this server (--email-intake-listen)"
		}
	}
	out := Integration{ID: ig.ID, ServiceID: ig.ServiceID, Kind: string(ig.Kind), Name: ig.Name, Hint: ig.Hint,
		Mapping: ig.Mapping, Endpoint: ep, CreatedAt: ig.CreatedAt, CreatedBy: ig.CreatedBy, RevokedAt: ig.RevokedAt}
	if hb := ig.Heartbeat; hb != nil {
		out.Heartbeat = &Heartbeat{IntervalSeconds: int(hb.Interval.Seconds()), State: hb.State, LastPingAt: hb.LastPingAt, DueAt: hb.DueAt}
	}
	return out
}

// Window is a maintenance window.
type Window struct {
	ID             string    `json:"id"`
	ServiceID      string    `json:"service_id"`
	StartsAt       time.Time `json:"starts_at"`
	EndsAt         time.Time `json:"ends_at"`
	Reason         string    `json:"reason" doc:"Why the window was set; may hold PHI (reading it is audited). Empty for a caller whose role may not see PHI (reason_redacted)."`
	ReasonRedacted bool      `json:"reason_redacted,omitempty" doc:"The reason was withheld: the caller's role may not see PHI."`
	CreatedBy      string    `json:"created_by"`
	CreatedAt      time.Time `json:"created_at"`
}

func windowOut(w alert.Window) Window {
	return Window{ID: w.ID, ServiceID: w.ServiceID, StartsAt: w.StartsAt, EndsAt: w.EndsAt, Reason: w.Reason,
		ReasonRedacted: w.ReasonRedacted, CreatedBy: w.CreatedBy, CreatedAt: w.CreatedAt}
}

func (h handler) registerServices(api huma.API) {
	const tag = "alerting"
	huma.Register(api, tagged(op("list-services", http.MethodGet, "/services", "List services", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []Service }, error) {
			svcs, err := h.Alerts.Services(ctx)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out := &struct{ Body []Service }{Body: make([]Service, len(svcs))}
			for i, s := range svcs {
				out.Body[i] = serviceOut(s)
			}
			return out, nil
		})

	huma.Register(api, tagged(op("create-service", http.MethodPost, "/services", "Create a service", http.StatusCreated, authz.ServiceWrite), tag),
		func(ctx context.Context, in *struct{ Body serviceBody }) (*serviceOutput, error) {
			svc, err := h.Alerts.CreateService(ctx, in.Body.input())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &serviceOutput{Body: serviceOut(svc)}, nil
		})

	huma.Register(api, tagged(op("get-service", http.MethodGet, "/services/{id}", "Get a service by id or name", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *serviceIDInput) (*serviceOutput, error) {
			svc, err := h.Alerts.GetService(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &serviceOutput{Body: serviceOut(svc)}, nil
		})

	huma.Register(api, tagged(op("update-service", http.MethodPut, "/services/{id}", "Replace a service's settings", http.StatusOK, authz.ServiceWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body serviceBody
		}) (*serviceOutput, error) {
			svc, err := h.Alerts.UpdateService(ctx, in.ID, in.Body.input())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &serviceOutput{Body: serviceOut(svc)}, nil
		})

	huma.Register(api, tagged(op("list-integrations", http.MethodGet, "/services/{id}/integrations", "List a service's integration keys", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *serviceIDInput) (*struct{ Body []Integration }, error) {
			igs, err := h.Alerts.Integrations(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &struct{ Body []Integration }{Body: make([]Integration, len(igs))}
			for i, ig := range igs {
				out.Body[i] = h.integrationOut(ig)
			}
			return out, nil
		})

	type createdIntegration struct {
		Integration
		Key string `json:"key" doc:"The integration key. It is shown only now: Ward keeps only its hash."`
	}
	huma.Register(api, tagged(op("create-integration", http.MethodPost, "/services/{id}/integrations",
		"Create an integration key for a monitoring tool", http.StatusCreated, authz.ServiceWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body struct {
				Kind            string          `json:"kind" enum:"events_v2,alertmanager,grafana,sns,webhook,heartbeat,email"`
				Name            string          `json:"name" minLength:"1" maxLength:"100"`
				Mapping         json.RawMessage `json:"mapping,omitempty" doc:"Webhook only: JSON pointers to the fields (docs/ALERTING.md)."`
				IntervalSeconds int             `json:"interval_seconds,omitempty" doc:"Heartbeat only: the longest silence, 60 to 604800 seconds, before Ward raises an alert."`
			}
		}) (*struct{ Body createdIntegration }, error) {
			ig, key, err := h.Alerts.CreateIntegration(ctx, in.ID, alert.IntegrationInput{
				Kind: alert.Kind(in.Body.Kind), Name: in.Body.Name, Mapping: in.Body.Mapping,
				Interval: time.Duration(in.Body.IntervalSeconds) * time.Second,
			}, integration.CheckMapping)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body createdIntegration }{Body: createdIntegration{Integration: h.integrationOut(ig), Key: key}}, nil
		})

	huma.Register(api, tagged(op("revoke-integration", http.MethodDelete, "/integrations/{id}", "Revoke an integration key", http.StatusNoContent, authz.ServiceWrite), tag),
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"64"`
		}) (*struct{}, error) {
			if err := h.Alerts.RevokeIntegration(ctx, in.ID); err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{}{}, nil
		})

	huma.Register(api, tagged(op("list-maintenance", http.MethodGet, "/services/{id}/maintenance", "List current and future maintenance windows", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *serviceIDInput) (*struct{ Body []Window }, error) {
			ws, err := h.Alerts.Windows(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &struct{ Body []Window }{Body: make([]Window, len(ws))}
			for i, w := range ws {
				out.Body[i] = windowOut(w)
			}
			return out, nil
		})

	huma.Register(api, tagged(op("create-maintenance", http.MethodPost, "/services/{id}/maintenance",
		"Schedule a maintenance window: alerts are recorded, nobody is paged", http.StatusCreated, authz.ServiceWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body struct {
				StartsAt time.Time `json:"starts_at,omitempty" doc:"Defaults to now."`
				EndsAt   time.Time `json:"ends_at" doc:"At most 7 days after starts_at."`
				Reason   string    `json:"reason" minLength:"1" maxLength:"2000"`
			}
		}) (*struct{ Body Window }, error) {
			w, err := h.Alerts.CreateWindow(ctx, in.ID, in.Body.StartsAt, in.Body.EndsAt, in.Body.Reason)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body Window }{Body: windowOut(w)}, nil
		})

	huma.Register(api, tagged(op("end-maintenance", http.MethodDelete, "/maintenance/{id}", "End or cancel a maintenance window", http.StatusNoContent, authz.ServiceWrite), tag),
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"64"`
		}) (*struct{}, error) {
			if err := h.Alerts.EndWindow(ctx, in.ID); err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{}{}, nil
		})
}
