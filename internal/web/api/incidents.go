package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/paging"
)

// Incident is an incident as the API shows it.
type Incident struct {
	ID            string       `json:"id" doc:"Stable identifier (UUID)."`
	Number        string       `json:"number" doc:"Human number, e.g. INC-2026-0042, or DRILL-2026-0001 for a drill; accepted wherever an id is." example:"INC-2026-0042"`
	Title         string       `json:"title"`
	Description   string       `json:"description"`
	Severity      string       `json:"severity" enum:"sev1,sev2,sev3,sev4"`
	Category      string       `json:"category" enum:"hacking_it_incident,improper_disposal,loss,theft,unauthorized_access_disclosure,other,not_yet_known"`
	PHISuspected  bool         `json:"phi_suspected"`
	OccurredAt    *time.Time   `json:"occurred_at,omitempty"`
	DetectedAt    time.Time    `json:"detected_at"`
	CreatedAt     time.Time    `json:"created_at"`
	UpdatedAt     time.Time    `json:"updated_at"`
	ClosedAt      *time.Time   `json:"closed_at,omitempty"`
	Status        string       `json:"status" enum:"detected,analysis,containment,eradication,recovery,post_incident,closed"`
	Resolution    string       `json:"resolution,omitempty" enum:"resolved,false_positive,not_security_incident,duplicate"`
	Commander     string       `json:"commander" doc:"The username of the Ward user who leads the response; empty for none."`
	Customers     []string     `json:"customers"`
	NotApplicable []string     `json:"not_applicable" doc:"Phases recorded as not applicable when skipped."`
	NextStatuses  []string     `json:"next_statuses" doc:"Statuses a transition may move to from here."`
	CreatedBy     string       `json:"created_by"`
	Version       int64        `json:"version" doc:"Increases with every change, timeline entries included."`
	Restricted    bool         `json:"restricted" doc:"Need-to-know: only roles with incident:restricted, its members, its commander (a username) and holders of an emergency (break-glass) grant see it; to anyone else it does not exist (404, absent from lists)."`
	Drill         bool         `json:"drill" doc:"An exercise (tabletop or simulation) of the response plan, started from a playbook with POST /drills: kept as proof of testing (45 CFR 164.308(a)(7)(ii)(D)), never given a breach case, and left out of the incident register, the SLA report and breach reports and counts."`
	PHIRedacted   bool         `json:"phi_redacted,omitempty" doc:"The title and description were withheld: the caller's role may not see PHI. The title is then a line naming the incident's number, severity and service."`
	PagingAlert   *PagingAlert `json:"paging_alert,omitempty" doc:"Present while the incident's page needs a person's hand: it reached nobody, or nobody acknowledged it."`
}

// PagingAlert says that an incident's page reached nobody or that nobody
// acknowledged it, until someone acknowledges or resolves the page, a page
// gets through or the page starts again.
type PagingAlert struct {
	Kind   string    `json:"kind" enum:"unacknowledged,unreachable" doc:"unacknowledged: the escalation policy ran every step and repeat and nobody acknowledged; unreachable: no message of the current step reached anyone (nobody with a verified contact method, or every message failed)."`
	Reason string    `json:"reason" doc:"Ward's own sentence saying what happened (the policy's name, a step, a count); never PHI."`
	Since  time.Time `json:"since" doc:"When it was raised."`
}

func pagingAlertOut(a paging.Alarm) *PagingAlert {
	return &PagingAlert{Kind: a.Kind, Reason: a.Reason, Since: a.Since}
}

// withPagingAlerts fills in the paging alerts of items.
func (h handler) withPagingAlerts(ctx context.Context, items []Incident) error {
	if h.Pager == nil || len(items) == 0 {
		return nil
	}
	ids := make([]string, len(items))
	for i, it := range items {
		ids[i] = it.ID
	}
	alarms, err := h.Pager.Alarms(ctx, ids)
	if err != nil {
		return err
	}
	for i := range items {
		if a, ok := alarms[items[i].ID]; ok {
			items[i].PagingAlert = pagingAlertOut(a)
		}
	}
	return nil
}

// incidentBody is inc as the API shows it, with its paging alert.
func (h handler) incidentBody(ctx context.Context, inc incident.Incident) (*incidentOutput, error) {
	out := &incidentOutput{Body: incidentOut(inc)}
	items := []Incident{out.Body}
	if err := h.withPagingAlerts(ctx, items); err != nil {
		return nil, h.fail(ctx, "path", err)
	}
	out.Body = items[0]
	return out, nil
}

func strs[T ~string](in []T) []string {
	out := make([]string, len(in))
	for i, v := range in {
		out[i] = string(v)
	}
	return out
}

func incidentOut(inc incident.Incident) Incident {
	return Incident{
		ID: inc.ID, Number: inc.Number, Title: inc.Title, Description: inc.Description, Severity: string(inc.Severity),
		Category: string(inc.Category), PHISuspected: inc.PHISuspected, OccurredAt: inc.OccurredAt,
		DetectedAt: inc.DetectedAt, CreatedAt: inc.CreatedAt, UpdatedAt: inc.UpdatedAt, ClosedAt: inc.ClosedAt,
		Status: string(inc.Status), Resolution: string(inc.Resolution), Commander: inc.Commander,
		Customers: inc.Customers, NotApplicable: strs(inc.NotApplicable), NextStatuses: strs(incident.NextMoves(inc.Status)),
		CreatedBy: inc.CreatedBy, Version: inc.Version, Restricted: inc.Restricted, Drill: inc.Drill, PHIRedacted: inc.PHIRedacted,
	}
}

type incidentOutput struct {
	Body Incident
}

type createIncidentInput struct {
	Body struct {
		Title        string     `json:"title" minLength:"1" maxLength:"200"`
		Description  string     `json:"description,omitempty" maxLength:"20000" doc:"May hold PHI; kept out of the timeline and the audit trail."`
		Severity     string     `json:"severity,omitempty" enum:"sev1,sev2,sev3,sev4" default:"sev3"`
		Category     string     `json:"category,omitempty" enum:"hacking_it_incident,improper_disposal,loss,theft,unauthorized_access_disclosure,other,not_yet_known" default:"not_yet_known"`
		PHISuspected bool       `json:"phi_suspected,omitempty"`
		OccurredAt   *time.Time `json:"occurred_at,omitempty" doc:"When the incident began, if known; not after detected_at."`
		DetectedAt   *time.Time `json:"detected_at,omitempty" doc:"When it was first detected; defaults to now."`
		Commander    string     `json:"commander,omitempty" maxLength:"200" doc:"The username of an active Ward user who leads the response (422 naming the field otherwise); empty for none. Stored in clear, as usernames are: never a name typed as free text."`
		Customers    []string   `json:"customers,omitempty" maxItems:"50" doc:"References to the customers (covered entities) affected."`
		Restricted   bool       `json:"restricted,omitempty" doc:"Limit the incident to those who need to know. A user without incident:restricted who sets it is made a member."`
	}
}

type updateIncidentInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Title        *string    `json:"title,omitempty" minLength:"1" maxLength:"200"`
		Description  *string    `json:"description,omitempty" maxLength:"20000"`
		Severity     *string    `json:"severity,omitempty" enum:"sev1,sev2,sev3,sev4"`
		Category     *string    `json:"category,omitempty" enum:"hacking_it_incident,improper_disposal,loss,theft,unauthorized_access_disclosure,other,not_yet_known"`
		PHISuspected *bool      `json:"phi_suspected,omitempty"`
		OccurredAt   *time.Time `json:"occurred_at,omitempty"`
		DetectedAt   *time.Time `json:"detected_at,omitempty"`
		Commander    *string    `json:"commander,omitempty" maxLength:"200" doc:"The username of an active Ward user who leads the response (422 naming the field otherwise); empty for none. Stored in clear, as usernames are: never a name typed as free text."`
		Customers    *[]string  `json:"customers,omitempty" maxItems:"50"`
		Restricted   *bool      `json:"restricted,omitempty" doc:"Only the incident's creator and roles with incident:restricted may change it."`
	}
}

type idInput struct {
	ID string `path:"id" maxLength:"64" doc:"Incident id or number."`
}

type listIncidentsInput struct {
	Status        string    `query:"status" enum:"detected,analysis,containment,eradication,recovery,post_incident,closed"`
	Severity      string    `query:"severity" enum:"sev1,sev2,sev3,sev4"`
	Category      string    `query:"category" enum:"hacking_it_incident,improper_disposal,loss,theft,unauthorized_access_disclosure,other,not_yet_known"`
	PHISuspected  string    `query:"phi_suspected" enum:"true,false"`
	Drill         string    `query:"drill" enum:"true,false" doc:"true: only drills; false: only real incidents; absent: both."`
	Q             string    `query:"q" maxLength:"200" doc:"An incident number, or words that must all be in the title (whole words, any case; titles are sealed and searched through a blind index). A caller whose role may not see PHI matches numbers only."`
	CreatedAfter  time.Time `query:"created_after" doc:"Only incidents created at or after this time."`
	CreatedBefore time.Time `query:"created_before" doc:"Only incidents created before this time."`
	Limit         int       `query:"limit" minimum:"1" maximum:"200" default:"50"`
	Cursor        string    `query:"cursor" maxLength:"200" doc:"next_cursor from the previous page."`
}

type listIncidentsOutput struct {
	Body struct {
		Items      []Incident `json:"items"`
		NextCursor string     `json:"next_cursor,omitempty" doc:"Pass as cursor to get the next page; absent on the last page."`
	}
}

type transitionInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		To            string   `json:"to" enum:"detected,analysis,containment,eradication,recovery,post_incident,closed"`
		Note          string   `json:"note,omitempty" maxLength:"20000" doc:"Why; required to go back, reopen, skip phases or close as other than resolved."`
		Resolution    string   `json:"resolution,omitempty" enum:"resolved,false_positive,not_security_incident,duplicate" doc:"Required when closing."`
		NotApplicable []string `json:"not_applicable,omitempty" maxItems:"7" doc:"Phases this move skips, each recorded as not applicable."`
	}
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func (h handler) registerIncidents(api huma.API) {
	huma.Register(api, op("create-incident", http.MethodPost, "/incidents", "Record a new incident", http.StatusCreated, authz.IncidentWrite),
		func(ctx context.Context, in *createIncidentInput) (*incidentOutput, error) {
			b := in.Body
			inc, err := h.Incidents.Create(ctx, incident.CreateInput{
				Title: b.Title, Description: b.Description, Severity: incident.Severity(b.Severity),
				Category: incident.Category(b.Category), PHISuspected: b.PHISuspected, OccurredAt: b.OccurredAt,
				DetectedAt: b.DetectedAt, Commander: b.Commander, Customers: b.Customers, Restricted: b.Restricted,
			})
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &incidentOutput{Body: incidentOut(inc)}, nil
		})

	huma.Register(api, op("list-incidents", http.MethodGet, "/incidents", "List incidents, newest first (restricted ones only to those who may see them)", http.StatusOK, authz.IncidentRead),
		func(ctx context.Context, in *listIncidentsInput) (*listIncidentsOutput, error) {
			f := incident.Filter{
				Status: incident.Status(in.Status), Severity: incident.Severity(in.Severity),
				Category: incident.Category(in.Category), Text: in.Q, Limit: in.Limit,
				CreatedAfter: optTime(in.CreatedAfter), CreatedBefore: optTime(in.CreatedBefore),
			}
			if in.PHISuspected != "" {
				v := in.PHISuspected == "true"
				f.PHISuspected = &v
			}
			if in.Drill != "" {
				v := in.Drill == "true"
				f.Drill = &v
			}
			if in.Cursor != "" {
				c, err := incident.DecodeCursor(in.Cursor)
				if err != nil {
					return nil, h.fail(ctx, "query", err)
				}
				f.After = c
			}
			page, err := h.Incidents.List(ctx, f)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out := &listIncidentsOutput{}
			out.Body.Items = make([]Incident, len(page.Items))
			for i, inc := range page.Items {
				out.Body.Items[i] = incidentOut(inc)
			}
			if err := h.withPagingAlerts(ctx, out.Body.Items); err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out.Body.NextCursor = incident.EncodeCursor(page.Next)
			return out, nil
		})

	huma.Register(api, op("get-incident", http.MethodGet, "/incidents/{id}", "Get an incident by id or number", http.StatusOK, authz.IncidentRead),
		func(ctx context.Context, in *idInput) (*incidentOutput, error) {
			inc, err := h.Incidents.Get(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return h.incidentBody(ctx, inc)
		})

	huma.Register(api, op("update-incident", http.MethodPatch, "/incidents/{id}", "Change an incident's fields", http.StatusOK, authz.IncidentWrite),
		func(ctx context.Context, in *updateIncidentInput) (*incidentOutput, error) {
			b := in.Body
			inc, err := h.Incidents.Update(ctx, in.ID, incident.UpdateInput{
				Title: b.Title, Description: b.Description, Severity: (*incident.Severity)(b.Severity),
				Category: (*incident.Category)(b.Category), PHISuspected: b.PHISuspected, OccurredAt: b.OccurredAt,
				DetectedAt: b.DetectedAt, Commander: b.Commander, Customers: b.Customers, Restricted: b.Restricted,
			})
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return h.incidentBody(ctx, inc)
		})

	huma.Register(api, op("transition-incident", http.MethodPost, "/incidents/{id}/transitions",
		"Move an incident to another lifecycle phase; closing as resolved needs its post-incident review complete or waived", http.StatusOK, authz.IncidentWrite),
		func(ctx context.Context, in *transitionInput) (*incidentOutput, error) {
			b := in.Body
			na := make([]incident.Status, len(b.NotApplicable))
			for i, s := range b.NotApplicable {
				na[i] = incident.Status(s)
			}
			inc, err := h.Incidents.Transition(ctx, in.ID, incident.Move{
				To: incident.Status(b.To), Note: b.Note, Resolution: incident.Resolution(b.Resolution), NotApplicable: na,
			})
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return h.incidentBody(ctx, inc)
		})
}
