package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/paging"
)

// Policy is an escalation policy as the API shows it.
type Policy struct {
	ID                string        `json:"id"`
	Name              string        `json:"name"`
	Description       string        `json:"description"`
	Steps             []paging.Step `json:"steps" doc:"In order: each step's targets are notified, and if nobody acknowledges within delay_minutes the next step runs."`
	Repeat            int           `json:"repeat" doc:"How many more times the steps run after the last one."`
	AckTimeoutMinutes int           `json:"ack_timeout_minutes" doc:"Page again from the first step when an acknowledged page is not resolved within this time; 0 for never."`
	CreatedAt         time.Time     `json:"created_at"`
	UpdatedAt         time.Time     `json:"updated_at"`
	Version           int64         `json:"version"`
	Warnings          []string      `json:"warnings,omitempty" doc:"On one policy (not the list): the people its steps name who have no verified contact method, so that a page to them reaches nobody."`
}

func policyOut(p paging.Policy) Policy {
	return Policy{ID: p.ID, Name: p.Name, Description: p.Description, Steps: p.Steps, Repeat: p.Repeat,
		AckTimeoutMinutes: p.AckTimeoutMinutes, CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, Version: p.Version}
}

type policyBody struct {
	Name              string        `json:"name" minLength:"1" maxLength:"100"`
	Description       string        `json:"description,omitempty" maxLength:"2000"`
	Steps             []paging.Step `json:"steps" minItems:"1" maxItems:"20" doc:"Targets are {\"type\":\"user\"|\"schedule\",\"id\":…}; users by id or username, schedules by id or name."`
	Repeat            int           `json:"repeat,omitempty" minimum:"0" maximum:"9"`
	AckTimeoutMinutes int           `json:"ack_timeout_minutes,omitempty" minimum:"0" maximum:"1440"`
}

func (b policyBody) input() paging.PolicyInput {
	return paging.PolicyInput{Name: b.Name, Description: b.Description, Steps: b.Steps, Repeat: b.Repeat, AckTimeoutMinutes: b.AckTimeoutMinutes}
}

// Schedule is an on-call schedule as the API shows it.
type Schedule struct {
	ID          string                `json:"id"`
	Name        string                `json:"name"`
	Description string                `json:"description"`
	TimeZone    string                `json:"time_zone" doc:"IANA zone; hand-offs are wall-clock times there, correct across DST."`
	Rotations   []paging.RotationSpec `json:"rotations" doc:"Layers, lowest first: where a later rotation has someone on call, it wins."`
	CreatedAt   time.Time             `json:"created_at"`
	UpdatedAt   time.Time             `json:"updated_at"`
	Version     int64                 `json:"version"`
	Warnings    []string              `json:"warnings,omitempty" doc:"On one schedule (not the list): the people its rotations name who have no verified contact method, so that a page to them reaches nobody."`
}

// unreachableWarnings are the warnings of a policy or schedule naming the
// users ids: one per person with no verified contact method.
func (h handler) unreachableWarnings(ctx context.Context, ids []string) ([]string, error) {
	names, err := h.Pager.Unreachable(ctx, ids)
	var out []string
	for _, n := range names {
		out = append(out, n+" has no verified contact method: a page to them reaches nobody")
	}
	return out, err
}

// policyWarned is policyOut with its warnings.
func (h handler) policyWarned(ctx context.Context, p paging.Policy) (*struct{ Body Policy }, error) {
	out := policyOut(p)
	var err error
	if out.Warnings, err = h.unreachableWarnings(ctx, paging.PolicyUsers(p)); err != nil {
		return nil, h.fail(ctx, "body", err)
	}
	return &struct{ Body Policy }{out}, nil
}

// scheduleWarned is scheduleOut with its warnings.
func (h handler) scheduleWarned(ctx context.Context, s paging.Schedule) (*struct{ Body Schedule }, error) {
	out := scheduleOut(s)
	var err error
	if out.Warnings, err = h.unreachableWarnings(ctx, paging.ScheduleUsers(s)); err != nil {
		return nil, h.fail(ctx, "body", err)
	}
	return &struct{ Body Schedule }{out}, nil
}

func scheduleOut(s paging.Schedule) Schedule {
	return Schedule{ID: s.ID, Name: s.Name, Description: s.Description, TimeZone: s.TimeZone, Rotations: s.Rotations,
		CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, Version: s.Version}
}

type scheduleBody struct {
	Name        string                `json:"name" minLength:"1" maxLength:"100"`
	Description string                `json:"description,omitempty" maxLength:"2000"`
	TimeZone    string                `json:"time_zone" minLength:"1" maxLength:"64" example:"America/New_York"`
	Rotations   []paging.RotationSpec `json:"rotations" minItems:"1" maxItems:"20" doc:"kind is hourly, daily or weekly; participants are user ids or usernames, in order; restrict limits a rotation to weekly windows such as {\"days\":[\"mon\",\"fri\"],\"start\":\"09:00\",\"end\":\"17:00\"}."`
}

func (b scheduleBody) input() paging.ScheduleInput {
	return paging.ScheduleInput{Name: b.Name, Description: b.Description, TimeZone: b.TimeZone, Rotations: b.Rotations}
}

// Override is a schedule override or temporary shift.
type Override struct {
	ID         string    `json:"id"`
	ScheduleID string    `json:"schedule_id"`
	User       string    `json:"user" doc:"The user id on call."`
	Replaces   string    `json:"replaces,omitempty" doc:"The user id replaced; absent for a temporary shift beside whoever is on call."`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	CreatedBy  string    `json:"created_by"`
	CreatedAt  time.Time `json:"created_at"`
}

func overrideOut(o paging.Override) Override {
	return Override{ID: o.ID, ScheduleID: o.ScheduleID, User: o.User, Replaces: o.Replaces, Start: o.Start, End: o.End,
		CreatedBy: o.CreatedBy, CreatedAt: o.CreatedAt}
}

// Shift is a resolved stretch of one user on call.
type Shift struct {
	User     string    `json:"user"`
	Start    time.Time `json:"start"`
	End      time.Time `json:"end"`
	Rotation string    `json:"rotation,omitempty"`
	Override bool      `json:"override"`
}

// ContactMethod is a way to reach a person; its address is never shown.
type ContactMethod struct {
	ID            string     `json:"id"`
	UserID        string     `json:"user_id"`
	Kind          string     `json:"kind" enum:"email,sms,voice,slack,teams,webhook"`
	Label         string     `json:"label"`
	Hint          string     `json:"hint" doc:"Enough of the address to recognise it."`
	Verified      bool       `json:"verified" doc:"Only verified methods are paged."`
	VerifiedAt    *time.Time `json:"verified_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	StatusUpdates bool       `json:"status_updates" doc:"Whether the method is told, with the incident number, service, severity, the new state and who acted (never any text), when a page it was paged for is acknowledged, escalated or resolved."`
}

func contactOut(c paging.ContactMethod) ContactMethod {
	return ContactMethod{ID: c.ID, UserID: c.UserID, Kind: string(c.Kind), Label: c.Label, Hint: c.Hint, Verified: c.Verified(),
		VerifiedAt: c.VerifiedAt, CreatedAt: c.CreatedAt, StatusUpdates: c.StatusUpdates}
}

// Rule is a notification rule.
type Rule struct {
	ID              string    `json:"id"`
	UserID          string    `json:"user_id"`
	ContactMethodID string    `json:"contact_method_id"`
	DelayMinutes    int       `json:"delay_minutes"`
	CreatedAt       time.Time `json:"created_at"`
}

func ruleOut(r paging.Rule) Rule {
	return Rule{ID: r.ID, UserID: r.UserID, ContactMethodID: r.ContactMethodID, DelayMinutes: r.DelayMinutes, CreatedAt: r.CreatedAt}
}

// Page is an incident's paging state.
type Page struct {
	ID             string       `json:"id"`
	IncidentID     string       `json:"incident_id"`
	ServiceID      string       `json:"service_id"`
	PolicyID       string       `json:"policy_id"`
	Status         string       `json:"status" enum:"triggered,acknowledged,resolved"`
	Step           int          `json:"step" doc:"The policy step notified last, from 1."`
	Round          int          `json:"round" doc:"The repeat it belongs to, from 0."`
	NextAt         *time.Time   `json:"next_at,omitempty" doc:"When the next step (or the acknowledgement timeout) is due."`
	CreatedAt      time.Time    `json:"created_at"`
	AcknowledgedAt *time.Time   `json:"acknowledged_at,omitempty"`
	AcknowledgedBy string       `json:"acknowledged_by,omitempty"`
	ResolvedAt     *time.Time   `json:"resolved_at,omitempty"`
	ResolvedBy     string       `json:"resolved_by,omitempty"`
	PagingAlert    *PagingAlert `json:"paging_alert,omitempty" doc:"Present while the page needs a person's hand (as on the incident)."`
}

func pageOut(p paging.Page) Page {
	out := Page{ID: p.ID, IncidentID: p.IncidentID, ServiceID: p.ServiceID, PolicyID: p.PolicyID, Status: string(p.Status),
		Step: p.Step + 1, Round: p.Round, NextAt: p.NextAt, CreatedAt: p.CreatedAt, AcknowledgedAt: p.AcknowledgedAt,
		AcknowledgedBy: p.AcknowledgedBy, ResolvedAt: p.ResolvedAt, ResolvedBy: p.ResolvedBy}
	if p.Alarm != "" && p.AlarmAt != nil {
		out.PagingAlert = pagingAlertOut(paging.Alarm{Kind: p.Alarm, Reason: p.AlarmReason, Since: *p.AlarmAt})
	}
	return out
}

// Notification is one message of an incident's delivery history.
type Notification struct {
	ID                string     `json:"id"`
	UserID            string     `json:"user_id"`
	Username          string     `json:"username"`
	ContactHint       string     `json:"contact_hint"`
	Channel           string     `json:"channel"`
	Status            string     `json:"status" enum:"scheduled,queued,sending,sent,failed,cancelled,rate_limited"`
	DueAt             time.Time  `json:"due_at"`
	Attempts          int        `json:"attempts"`
	LastError         string     `json:"last_error,omitempty" doc:"Why the last attempt failed, in the provider's words; may hold PHI (reading it is audited)."`
	LastErrorRedacted bool       `json:"last_error_redacted,omitempty" doc:"The last error was withheld: the caller's role may not see PHI."`
	ProviderID        string     `json:"provider_id,omitempty" doc:"The provider's receipt: message id, SID, or Slack ts."`
	SentAt            *time.Time `json:"sent_at,omitempty"`
}

type idPath struct {
	ID string `path:"id" maxLength:"100"`
}

func (h handler) registerPaging(api huma.API) {
	const tag = "paging"
	huma.Register(api, tagged(op("list-escalation-policies", http.MethodGet, "/escalation-policies", "List escalation policies",
		http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []Policy }, error) {
			ps, err := h.Pager.Policies(ctx)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out := &struct{ Body []Policy }{Body: make([]Policy, len(ps))}
			for i, p := range ps {
				out.Body[i] = policyOut(p)
			}
			return out, nil
		})
	huma.Register(api, tagged(op("create-escalation-policy", http.MethodPost, "/escalation-policies", "Create an escalation policy",
		http.StatusCreated, authz.OnCallWrite), tag),
		func(ctx context.Context, in *struct{ Body policyBody }) (*struct{ Body Policy }, error) {
			p, err := h.Pager.CreatePolicy(ctx, in.Body.input())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return h.policyWarned(ctx, p)
		})
	huma.Register(api, tagged(op("get-escalation-policy", http.MethodGet, "/escalation-policies/{id}", "Get an escalation policy by id or name",
		http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body Policy }, error) {
			p, err := h.Pager.GetPolicy(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return h.policyWarned(ctx, p)
		})
	huma.Register(api, tagged(op("update-escalation-policy", http.MethodPut, "/escalation-policies/{id}", "Replace an escalation policy",
		http.StatusOK, authz.OnCallWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body policyBody
		}) (*struct{ Body Policy }, error) {
			p, err := h.Pager.UpdatePolicy(ctx, in.ID, in.Body.input())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return h.policyWarned(ctx, p)
		})

	huma.Register(api, tagged(op("list-schedules", http.MethodGet, "/schedules", "List on-call schedules", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []Schedule }, error) {
			ss, err := h.Pager.Schedules(ctx)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out := &struct{ Body []Schedule }{Body: make([]Schedule, len(ss))}
			for i, s := range ss {
				out.Body[i] = scheduleOut(s)
			}
			return out, nil
		})
	huma.Register(api, tagged(op("create-schedule", http.MethodPost, "/schedules", "Create an on-call schedule", http.StatusCreated, authz.OnCallWrite), tag),
		func(ctx context.Context, in *struct{ Body scheduleBody }) (*struct{ Body Schedule }, error) {
			s, err := h.Pager.CreateSchedule(ctx, in.Body.input())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return h.scheduleWarned(ctx, s)
		})
	huma.Register(api, tagged(op("get-schedule", http.MethodGet, "/schedules/{id}", "Get a schedule by id or name", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body Schedule }, error) {
			s, err := h.Pager.GetSchedule(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return h.scheduleWarned(ctx, s)
		})
	huma.Register(api, tagged(op("update-schedule", http.MethodPut, "/schedules/{id}", "Replace a schedule's settings (overrides stay)",
		http.StatusOK, authz.OnCallWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body scheduleBody
		}) (*struct{ Body Schedule }, error) {
			s, err := h.Pager.UpdateSchedule(ctx, in.ID, in.Body.input())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return h.scheduleWarned(ctx, s)
		})
	huma.Register(api, tagged(op("who-is-on-call", http.MethodGet, "/schedules/{id}/on-call", "Who is on call at a time (default now)",
		http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *struct {
			ID string    `path:"id" maxLength:"100"`
			At time.Time `query:"at" doc:"RFC 3339; default now."`
		}) (*struct {
			Body struct {
				At    time.Time `json:"at"`
				Users []string  `json:"users" doc:"User ids."`
			}
		}, error) {
			at := in.At
			if at.IsZero() {
				at = time.Now().UTC()
			}
			users, err := h.Pager.OnCall(ctx, in.ID, at)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &struct {
				Body struct {
					At    time.Time `json:"at"`
					Users []string  `json:"users" doc:"User ids."`
				}
			}{}
			out.Body.At, out.Body.Users = at, append([]string{}, users...)
			return out, nil
		})
	huma.Register(api, tagged(op("list-shifts", http.MethodGet, "/schedules/{id}/shifts", "The resolved shifts in a range, for a calendar",
		http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *struct {
			ID   string    `path:"id" maxLength:"100"`
			From time.Time `query:"from" required:"true"`
			To   time.Time `query:"to" required:"true"`
		}) (*struct{ Body []Shift }, error) {
			shifts, err := h.Pager.Shifts(ctx, in.ID, in.From, in.To)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out := &struct{ Body []Shift }{Body: make([]Shift, len(shifts))}
			for i, s := range shifts {
				out.Body[i] = Shift{User: s.User, Start: s.Start.UTC(), End: s.End.UTC(), Rotation: s.Rotation, Override: s.Override}
			}
			return out, nil
		})
	huma.Register(api, tagged(op("list-overrides", http.MethodGet, "/schedules/{id}/overrides", "Overrides that have not ended",
		http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body []Override }, error) {
			now := time.Now().UTC()
			os, err := h.Pager.Overrides(ctx, in.ID, now, now.Add(paging.MaxShiftsRange))
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &struct{ Body []Override }{Body: make([]Override, len(os))}
			for i, o := range os {
				out.Body[i] = overrideOut(o)
			}
			return out, nil
		})
	huma.Register(api, tagged(op("create-override", http.MethodPost, "/schedules/{id}/overrides", "Put someone on call for a while",
		http.StatusCreated, authz.OnCallWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body struct {
				User     string    `json:"user" minLength:"1" maxLength:"100" doc:"User id or username."`
				Replaces string    `json:"replaces,omitempty" maxLength:"100" doc:"The user replaced; omit for a temporary shift beside whoever is on call."`
				Start    time.Time `json:"start"`
				End      time.Time `json:"end"`
			}
		}) (*struct{ Body Override }, error) {
			o, err := h.Pager.CreateOverride(ctx, in.ID, paging.Override{User: in.Body.User, Replaces: in.Body.Replaces,
				Start: in.Body.Start, End: in.Body.End})
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body Override }{overrideOut(o)}, nil
		})
	huma.Register(api, tagged(op("delete-override", http.MethodDelete, "/overrides/{id}", "Remove an override", http.StatusNoContent, authz.OnCallWrite), tag),
		func(ctx context.Context, in *idPath) (*struct{}, error) {
			if err := h.Pager.DeleteOverride(ctx, in.ID); err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{}{}, nil
		})
	huma.Register(api, tagged(op("user-calendar", http.MethodGet, "/users/{id}/on-call.ics",
		"A user's on-call shifts as an iCalendar feed (30 days back, 90 ahead)", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct {
			ContentType string `header:"Content-Type"`
			Body        []byte
		}, error) {
			cal, err := h.Pager.UserCalendar(ctx, in.ID, "ward")
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct {
				ContentType string `header:"Content-Type"`
				Body        []byte
			}{ContentType: "text/calendar; charset=utf-8", Body: cal}, nil
		})

	h.registerContacts(api, tag)
	h.registerPages(api, tag)
}

func (h handler) registerContacts(api huma.API, tag string) {
	huma.Register(api, tagged(op("list-contact-methods", http.MethodGet, "/users/{id}/contact-methods",
		"A person's contact methods (the person or an administrator)", http.StatusOK, authz.ContactSelf), tag),
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"100" doc:"User id or username; \"me\" for the person signed in."`
		}) (*struct{ Body []ContactMethod }, error) {
			cs, err := h.Pager.Contacts(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &struct{ Body []ContactMethod }{Body: make([]ContactMethod, len(cs))}
			for i, c := range cs {
				out.Body[i] = contactOut(c)
			}
			return out, nil
		})
	type createdContact struct {
		ContactMethod
		Secret string `json:"secret,omitempty" doc:"Webhooks only: the HMAC-SHA256 key Ward signs requests with (Ward-Signature header). Shown only now."`
	}
	huma.Register(api, tagged(op("create-contact-method", http.MethodPost, "/users/{id}/contact-methods",
		"Add a contact method; Ward sends it a code to verify", http.StatusCreated, authz.ContactSelf), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body struct {
				Kind          string `json:"kind" enum:"email,sms,voice,slack,teams,webhook"`
				Label         string `json:"label,omitempty" maxLength:"100"`
				Address       string `json:"address" minLength:"1" maxLength:"2000" doc:"Email address, E.164 phone number, Slack webhook URL or channel id, Teams Workflows URL, or webhook URL. A URL whose host is, or resolves to, a loopback, private, link-local or reserved address is refused unless the server's --outbound-allow holds it."`
				StatusUpdates *bool  `json:"status_updates,omitempty" doc:"Tell the method when a page it was paged for is acknowledged, escalated or resolved. Default: on for webhook, slack and teams; off for email, sms and voice."`
			}
		}) (*struct{ Body createdContact }, error) {
			c, secret, err := h.Pager.CreateContact(ctx, in.ID, paging.ContactInput{Kind: paging.ContactKind(in.Body.Kind),
				Label: in.Body.Label, Address: in.Body.Address, StatusUpdates: in.Body.StatusUpdates})
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body createdContact }{createdContact{contactOut(c), secret}}, nil
		})
	huma.Register(api, tagged(op("verify-contact-method", http.MethodPost, "/contact-methods/{id}/verify",
		"Verify a contact method with the code Ward sent it", http.StatusOK, authz.ContactSelf), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64"`
			Body struct {
				Code string `json:"code" minLength:"1" maxLength:"12"`
			}
		}) (*struct{ Body ContactMethod }, error) {
			c, err := h.Pager.VerifyContact(ctx, in.ID, in.Body.Code)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body ContactMethod }{contactOut(c)}, nil
		})
	huma.Register(api, tagged(op("resend-verification", http.MethodPost, "/contact-methods/{id}/resend",
		"Send a contact method a new verification code", http.StatusAccepted, authz.ContactSelf), tag),
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"64"`
		}) (*struct{}, error) {
			if err := h.Pager.ResendVerification(ctx, in.ID); err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{}{}, nil
		})
	huma.Register(api, tagged(op("update-contact-method", http.MethodPatch, "/contact-methods/{id}",
		"Turn a contact method's page status notifications on or off", http.StatusOK, authz.ContactSelf), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"64"`
			Body struct {
				StatusUpdates bool `json:"status_updates" doc:"Tell the method when a page it was paged for is acknowledged, escalated or resolved."`
			}
		}) (*struct{ Body ContactMethod }, error) {
			c, err := h.Pager.SetStatusUpdates(ctx, in.ID, in.Body.StatusUpdates)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body ContactMethod }{contactOut(c)}, nil
		})
	huma.Register(api, tagged(op("delete-contact-method", http.MethodDelete, "/contact-methods/{id}",
		"Stop using a contact method (its rules go too)", http.StatusNoContent, authz.ContactSelf), tag),
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"64"`
		}) (*struct{}, error) {
			if err := h.Pager.DeleteContact(ctx, in.ID); err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{}{}, nil
		})
	huma.Register(api, tagged(op("list-notification-rules", http.MethodGet, "/users/{id}/notification-rules",
		"A person's notification rules; with none, every verified method is paged at once", http.StatusOK, authz.ContactSelf), tag),
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"100"`
		}) (*struct{ Body []Rule }, error) {
			rs, err := h.Pager.Rules(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &struct{ Body []Rule }{Body: make([]Rule, len(rs))}
			for i, r := range rs {
				out.Body[i] = ruleOut(r)
			}
			return out, nil
		})
	huma.Register(api, tagged(op("create-notification-rule", http.MethodPost, "/users/{id}/notification-rules",
		"Page a contact method some minutes after the person is paged", http.StatusCreated, authz.ContactSelf), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body struct {
				ContactMethodID string `json:"contact_method_id" minLength:"1" maxLength:"64"`
				DelayMinutes    int    `json:"delay_minutes" minimum:"0" maximum:"1440"`
			}
		}) (*struct{ Body Rule }, error) {
			r, err := h.Pager.CreateRule(ctx, in.ID, in.Body.ContactMethodID, in.Body.DelayMinutes)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body Rule }{ruleOut(r)}, nil
		})
	huma.Register(api, tagged(op("delete-notification-rule", http.MethodDelete, "/notification-rules/{id}",
		"Remove a notification rule", http.StatusNoContent, authz.ContactSelf), tag),
		func(ctx context.Context, in *struct {
			ID string `path:"id" maxLength:"64"`
		}) (*struct{}, error) {
			if err := h.Pager.DeleteRule(ctx, in.ID); err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{}{}, nil
		})
}

func (h handler) registerPages(api huma.API, tag string) {
	huma.Register(api, tagged(op("get-page", http.MethodGet, "/incidents/{id}/page", "An incident's paging state", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body Page }, error) {
			p, err := h.Pager.PageOf(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body Page }{pageOut(p)}, nil
		})
	for _, a := range []struct {
		id, path, summary string
		do                func(context.Context, string) (paging.Page, error)
	}{
		{"acknowledge-page", "/incidents/{id}/page/acknowledge", "Acknowledge: stop escalating, someone is on it", h.Pager.Acknowledge},
		{"resolve-page", "/incidents/{id}/page/resolve", "Resolve the page: nothing more is sent (the incident stays open)", h.Pager.Resolve},
		{"escalate-page", "/incidents/{id}/page/escalate",
			"Escalate now: page the next step of the escalation policy at once (409 when no step or repeat is left, or the page is resolved)",
			h.Pager.Escalate},
		{"repage-page", "/incidents/{id}/page/repage",
			"Page again: start the escalation policy from step 1, for an acknowledged page or one whose alarm stands (409 otherwise)",
			h.Pager.Repage},
	} {
		huma.Register(api, tagged(op(a.id, http.MethodPost, a.path, a.summary, http.StatusOK, authz.IncidentWrite), tag),
			func(ctx context.Context, in *idPath) (*struct{ Body Page }, error) {
				p, err := a.do(ctx, in.ID)
				if err != nil {
					return nil, h.fail(ctx, "path", err)
				}
				return &struct{ Body Page }{pageOut(p)}, nil
			})
	}
	huma.Register(api, tagged(op("list-notifications", http.MethodGet, "/incidents/{id}/notifications",
		"An incident's delivery history: every message, its status, attempts and receipt", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body []Notification }, error) {
			ns, err := h.Pager.Notifications(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &struct{ Body []Notification }{Body: make([]Notification, len(ns))}
			for i, n := range ns {
				out.Body[i] = Notification{ID: n.ID, UserID: n.UserID, Username: n.Username, ContactHint: n.ContactHint,
					Channel: string(n.Channel), Status: n.Status, DueAt: n.DueAt, Attempts: n.Attempts, LastError: n.LastError,
					LastErrorRedacted: n.LastErrorRedacted, ProviderID: n.ProviderID, SentAt: n.SentAt}
			}
			return out, nil
		})
}
