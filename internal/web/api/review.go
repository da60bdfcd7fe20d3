package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/investigation"
)

// IncidentReview is an incident's post-incident review (docs/REVIEW.md).
type IncidentReview struct {
	IncidentID          string     `json:"incident_id"`
	Summary             string     `json:"summary" doc:"What happened. May hold PHI (reading it is audited); empty for a caller whose role may not see PHI, as are the other sections."`
	RootCause           string     `json:"root_cause"`
	ContributingFactors string     `json:"contributing_factors"`
	WentWell            string     `json:"went_well"`
	Lessons             string     `json:"lessons"`
	UpdatesMade         string     `json:"updates_made" doc:"The policy, training and safeguard updates made since."`
	Saved               bool       `json:"saved" doc:"Someone has written the review."`
	CompletedAt         *time.Time `json:"completed_at,omitempty"`
	CompletedBy         string     `json:"completed_by,omitempty"`
	WaivedAt            *time.Time `json:"waived_at,omitempty"`
	WaivedBy            string     `json:"waived_by,omitempty"`
	WaiveReason         string     `json:"waive_reason,omitempty" doc:"Why the review was waived; withheld like the sections."`
	UpdatedAt           *time.Time `json:"updated_at,omitempty"`
	TextRedacted        bool       `json:"text_redacted,omitempty" doc:"The text was withheld: the caller's role may not see PHI, or the review is privileged and the caller may not see privileged content."`
	Privileged          *Privilege `json:"privileged,omitempty" doc:"The review's privileged mark (attorney work product); absent when it has none."`
}

func reviewOut(r incident.Review) IncidentReview {
	out := IncidentReview{IncidentID: r.IncidentID, Summary: r.Summary, RootCause: r.RootCause, ContributingFactors: r.ContributingFactors,
		WentWell: r.WentWell, Lessons: r.Lessons, UpdatesMade: r.UpdatesMade, Saved: r.Saved, CompletedAt: r.CompletedAt,
		CompletedBy: r.CompletedBy, WaivedAt: r.WaivedAt, WaivedBy: r.WaivedBy, WaiveReason: r.WaiveReason, TextRedacted: r.TextRedacted,
		Privileged: privilegeOut(r.Privilege)}
	if r.Saved {
		out.UpdatedAt = &r.UpdatedAt
	}
	return out
}

type reviewOutput struct {
	Body IncidentReview
}

type updateReviewInput struct {
	ID   string `path:"id" maxLength:"64" doc:"Incident id or number."`
	Body struct {
		Summary             *string `json:"summary,omitempty" maxLength:"20000"`
		RootCause           *string `json:"root_cause,omitempty" maxLength:"20000"`
		ContributingFactors *string `json:"contributing_factors,omitempty" maxLength:"20000"`
		WentWell            *string `json:"went_well,omitempty" maxLength:"20000"`
		Lessons             *string `json:"lessons,omitempty" maxLength:"20000"`
		UpdatesMade         *string `json:"updates_made,omitempty" maxLength:"20000"`
	}
}

type waiveReviewInput struct {
	ID   string `path:"id" maxLength:"64" doc:"Incident id or number."`
	Body struct {
		Reason string `json:"reason" minLength:"1" maxLength:"20000" doc:"Why the incident may close without a complete review."`
	}
}

// ActionItem is a follow-up a post-incident review decided on.
type ActionItem struct {
	ID             string     `json:"id"`
	IncidentID     string     `json:"incident_id"`
	IncidentNumber string     `json:"incident_number"`
	Title          string     `json:"title" doc:"May hold PHI (reading it is audited); empty for a caller whose role may not see PHI."`
	Owner          string     `json:"owner" doc:"The username of the Ward user who owns it."`
	DueAt          time.Time  `json:"due_at"`
	Status         string     `json:"status" enum:"open,done"`
	Overdue        bool       `json:"overdue" doc:"Open past its due time."`
	TicketURL      string     `json:"ticket_url,omitempty" doc:"Its ticket in another tracker; withheld like the title."`
	DoneAt         *time.Time `json:"done_at,omitempty"`
	DoneBy         string     `json:"done_by,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	UpdatedAt      time.Time  `json:"updated_at"`
	TextRedacted   bool       `json:"text_redacted,omitempty" doc:"The title and link were withheld: the caller's role may not see PHI."`
}

func actionItemOut(a incident.ActionItem) ActionItem {
	return ActionItem{ID: a.ID, IncidentID: a.IncidentID, IncidentNumber: a.IncidentNumber, Title: a.Title, Owner: a.Owner,
		DueAt: a.DueAt, Status: string(a.Status), Overdue: a.Overdue, TicketURL: a.TicketURL, DoneAt: a.DoneAt,
		DoneBy: a.DoneBy, CreatedAt: a.CreatedAt, UpdatedAt: a.UpdatedAt, TextRedacted: a.TextRedacted}
}

type actionItemOutput struct {
	Body ActionItem
}

type actionItemsOutput struct {
	Body struct {
		Items []ActionItem `json:"items"`
	}
}

func actionItemsOut(items []incident.ActionItem) *actionItemsOutput {
	out := &actionItemsOutput{}
	out.Body.Items = make([]ActionItem, len(items))
	for i, a := range items {
		out.Body.Items[i] = actionItemOut(a)
	}
	return out
}

type createActionItemInput struct {
	ID   string `path:"id" maxLength:"64" doc:"Incident id or number."`
	Body struct {
		Title     string    `json:"title" minLength:"1" maxLength:"200"`
		Owner     string    `json:"owner" minLength:"1" maxLength:"200" doc:"The username of an active Ward user."`
		DueAt     time.Time `json:"due_at"`
		TicketURL string    `json:"ticket_url,omitempty" format:"uri" maxLength:"2000" doc:"An http or https link to its ticket elsewhere."`
	}
}

type updateActionItemInput struct {
	ID     string `path:"id" maxLength:"64" doc:"Incident id or number."`
	ItemID string `path:"item_id" maxLength:"64"`
	Body   struct {
		Title     *string    `json:"title,omitempty" minLength:"1" maxLength:"200"`
		Owner     *string    `json:"owner,omitempty" minLength:"1" maxLength:"200"`
		DueAt     *time.Time `json:"due_at,omitempty"`
		Status    *string    `json:"status,omitempty" enum:"open,done" doc:"done records who marked it and when."`
		TicketURL *string    `json:"ticket_url,omitempty" format:"uri" maxLength:"2000"`
	}
}

type listActionItemsInput struct {
	Status string `query:"status" enum:"open,done" doc:"Only items with this status."`
	Owner  string `query:"owner" maxLength:"200" doc:"Only items this username owns."`
}

func (h handler) registerReview(api huma.API) {
	huma.Register(api, op("get-review", http.MethodGet, "/incidents/{id}/review",
		"An incident's post-incident review: its sections, and whether it is complete or waived", http.StatusOK, authz.IncidentRead),
		func(ctx context.Context, in *idInput) (*reviewOutput, error) {
			r, err := h.Incidents.Review(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &reviewOutput{Body: reviewOut(r)}, nil
		})

	huma.Register(api, op("update-review", http.MethodPatch, "/incidents/{id}/review",
		"Write sections of the post-incident review (in the post-incident phase, until it is marked complete)", http.StatusOK, authz.IncidentWrite),
		func(ctx context.Context, in *updateReviewInput) (*reviewOutput, error) {
			b := in.Body
			r, err := h.Incidents.UpdateReview(ctx, in.ID, incident.ReviewInput{Summary: b.Summary, RootCause: b.RootCause,
				ContributingFactors: b.ContributingFactors, WentWell: b.WentWell, Lessons: b.Lessons, UpdatesMade: b.UpdatesMade})
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &reviewOutput{Body: reviewOut(r)}, nil
		})

	huma.Register(api, op("complete-review", http.MethodPost, "/incidents/{id}/review/complete",
		"Mark the post-incident review complete; it needs the root cause and the lessons learnt", http.StatusOK, authz.IncidentWrite),
		func(ctx context.Context, in *idInput) (*reviewOutput, error) {
			r, err := h.Incidents.CompleteReview(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &reviewOutput{Body: reviewOut(r)}, nil
		})

	huma.Register(api, op("waive-review", http.MethodPost, "/incidents/{id}/review/waive",
		"Let the incident close as resolved without a complete review, with a reason", http.StatusOK, authz.ReviewWaive),
		func(ctx context.Context, in *waiveReviewInput) (*reviewOutput, error) {
			r, err := h.Incidents.WaiveReview(ctx, in.ID, in.Body.Reason)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &reviewOutput{Body: reviewOut(r)}, nil
		})

	huma.Register(api, op("list-incident-action-items", http.MethodGet, "/incidents/{id}/action-items",
		"An incident's action items, oldest first", http.StatusOK, authz.IncidentRead),
		func(ctx context.Context, in *idInput) (*actionItemsOutput, error) {
			items, err := h.Incidents.ActionItems(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return actionItemsOut(items), nil
		})

	huma.Register(api, op("create-action-item", http.MethodPost, "/incidents/{id}/action-items",
		"Add an action item to an incident", http.StatusCreated, authz.IncidentWrite),
		func(ctx context.Context, in *createActionItemInput) (*actionItemOutput, error) {
			b := in.Body
			a, err := h.Incidents.CreateActionItem(ctx, in.ID, incident.ActionItemInput{Title: b.Title, Owner: b.Owner, DueAt: &b.DueAt,
				TicketURL: b.TicketURL})
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &actionItemOutput{Body: actionItemOut(a)}, nil
		})

	huma.Register(api, op("update-action-item", http.MethodPatch, "/incidents/{id}/action-items/{item_id}",
		"Change an action item or mark it done, also after the incident closed", http.StatusOK, authz.IncidentWrite),
		func(ctx context.Context, in *updateActionItemInput) (*actionItemOutput, error) {
			b := in.Body
			u := incident.ActionItemUpdate{Title: b.Title, Owner: b.Owner, DueAt: b.DueAt, TicketURL: b.TicketURL}
			if b.Status != nil {
				st := incident.ActionStatus(*b.Status)
				u.Status = &st
			}
			a, err := h.Incidents.UpdateActionItem(ctx, in.ID, in.ItemID, u)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &actionItemOutput{Body: actionItemOut(a)}, nil
		})

	huma.Register(api, op("list-action-items", http.MethodGet, "/action-items",
		"Action items across the incidents the caller may see, overdue first, then by due time", http.StatusOK, authz.IncidentRead), func(ctx context.Context, in *listActionItemsInput) (*actionItemsOutput, error) {
		items, err := h.Incidents.ListActionItems(ctx, incident.ActionFilter{Status: incident.ActionStatus(in.Status), Owner: in.Owner})
		if err != nil {
			return nil, h.fail(ctx, "query", err)
		}
		return actionItemsOut(items), nil
	})
}

// KeyEvent is an entry of a review's key-events timeline: an event of the
// incident's timeline imported into the review, with an annotation.
type KeyEvent struct {
	ID           string     `json:"id"`
	EventID      string     `json:"event_id" doc:"The timeline entry it was imported from."`
	At           time.Time  `json:"at" doc:"When the event happened."`
	Kind         string     `json:"kind" doc:"The timeline entry's kind."`
	Label        string     `json:"label" doc:"What happened, in plain language."`
	Text         string     `json:"text" doc:"The timeline entry's note. May hold PHI (reading it is audited); empty for a caller whose role may not see PHI, as is the annotation."`
	Annotation   string     `json:"annotation" doc:"What the review says about it."`
	CreatedBy    string     `json:"created_by" doc:"Who imported it."`
	TextRedacted bool       `json:"text_redacted,omitempty" doc:"The text and annotation were withheld: the caller's role may not see PHI, or the note or the review is privileged and the caller may not see privileged content."`
	Privileged   *Privilege `json:"privileged,omitempty" doc:"The privileged mark of its note or of the review; absent when neither has one."`
}

type keyEventsOutput struct {
	Body struct {
		KeyEvents []KeyEvent `json:"key_events"`
	}
}

func keyEventsOut(ks []incident.KeyEvent) *keyEventsOutput {
	out := &keyEventsOutput{}
	out.Body.KeyEvents = make([]KeyEvent, len(ks))
	for i, k := range ks {
		out.Body.KeyEvents[i] = KeyEvent{ID: k.ID, EventID: k.EventID, At: k.At, Kind: string(k.Kind), Label: k.Label, Text: k.Text,
			Annotation: k.Annotation, CreatedBy: k.CreatedBy, TextRedacted: k.TextRedacted, Privileged: privilegeOut(k.Privilege)}
	}
	return out
}

type importKeyEventsInput struct {
	ID   string `path:"id" maxLength:"64" doc:"Incident id or number."`
	Body struct {
		EventIDs   []string `json:"event_ids,omitempty" maxItems:"500" doc:"Ids of entries of the incident's timeline to import."`
		Milestones bool     `json:"milestones,omitempty" doc:"Also import every milestone: detection, acknowledgement, phase changes, the breach case's facts, determinations and notices, status updates sent."`
	}
}

type annotateKeyEventInput struct {
	ID         string `path:"id" maxLength:"64" doc:"Incident id or number."`
	KeyEventID string `path:"key_event_id" maxLength:"64"`
	Body       struct {
		Annotation string `json:"annotation" maxLength:"20000" doc:"What the review says about the event; empty clears it."`
	}
}

type keyEventInput struct {
	ID         string `path:"id" maxLength:"64" doc:"Incident id or number."`
	KeyEventID string `path:"key_event_id" maxLength:"64"`
}

// reportInput names the incident of an investigation report and whether
// counsel asks for the privileged records in it.
type reportInput struct {
	ID                string `path:"id" maxLength:"64"`
	IncludePrivileged bool   `query:"include_privileged" doc:"Put the notes, evidence items and review marked privileged in the report, labelled (counsel and the Privacy Officer only; 403 otherwise). Without it they are left out and the report says how many."`
}

func (h handler) registerInvestigationReport(api huma.API) {
	src := investigation.Sources{Incidents: h.Incidents, Evidence: h.Evidence, Breach: h.Breach}
	huma.Register(api, op("get-investigation-report-markdown", http.MethodGet, "/incidents/{id}/investigation-report.md",
		"The incident's investigation report as Markdown: facts, timeline, evidence with hashes and custody, determinations, "+
			"notices, review and action items. Audited as a read of PHI", http.StatusOK, authz.IncidentReadPHI),
		func(ctx context.Context, in *reportInput) (*fileOut, error) {
			rep, err := investigation.Build(ctx, src, in.ID, "markdown", in.IncludePrivileged)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &fileOut{ContentType: "text/markdown; charset=utf-8",
				ContentDisposition: `attachment; filename="investigation-report-` + rep.Number + `.md"`, Body: investigation.Markdown(rep)}, nil
		})
	huma.Register(api, op("get-investigation-report-pdf", http.MethodGet, "/incidents/{id}/investigation-report.pdf",
		"The incident's investigation report as a printable PDF, the same sections as the Markdown. Audited as a read of PHI",
		http.StatusOK, authz.IncidentReadPHI),
		func(ctx context.Context, in *reportInput) (*fileOut, error) {
			rep, err := investigation.Build(ctx, src, in.ID, "pdf", in.IncludePrivileged)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			pdf, err := investigation.PDF(rep)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &fileOut{ContentType: "application/pdf",
				ContentDisposition: `attachment; filename="investigation-report-` + rep.Number + `.pdf"`, Body: pdf}, nil
		})
}

type registerInput struct{}

func (h handler) registerIncidentRegister(api huma.API) {
	huma.Register(api, op("get-incident-register-csv", http.MethodGet, "/incidents/register.csv",
		"The incident register as CSV for auditors: every incident the caller may see, newest first, in words "+
			"(titles withheld from a role that may not see PHI)", http.StatusOK, authz.IncidentRead),
		func(ctx context.Context, _ *registerInput) (*fileOut, error) {
			body, err := investigation.RegisterCSV(ctx, h.Incidents)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			return &fileOut{ContentType: "text/csv; charset=utf-8",
				ContentDisposition: `attachment; filename="incident-register.csv"`, Body: body}, nil
		})
	huma.Register(api, op("get-incident-register-pdf", http.MethodGet, "/incidents/register.pdf",
		"The incident register as a printable PDF for auditors: the same incidents and columns as the CSV, one entry "+
			"per incident", http.StatusOK, authz.IncidentRead),
		func(ctx context.Context, _ *registerInput) (*fileOut, error) {
			body, err := investigation.RegisterPDF(ctx, h.Incidents)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			return &fileOut{ContentType: "application/pdf",
				ContentDisposition: `attachment; filename="incident-register.pdf"`, Body: body}, nil
		})
}

func (h handler) registerKeyEvents(api huma.API) {
	huma.Register(api, op("list-review-key-events", http.MethodGet, "/incidents/{id}/review/key-events",
		"The key events of an incident's post-incident review, in the timeline's order", http.StatusOK, authz.IncidentRead),
		func(ctx context.Context, in *idInput) (*keyEventsOutput, error) {
			ks, err := h.Incidents.KeyEvents(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return keyEventsOut(ks), nil
		})

	huma.Register(api, op("import-review-key-events", http.MethodPost, "/incidents/{id}/review/key-events",
		"Import events of the incident's timeline into its review (post-incident phase, until the review is complete); those already imported stay as they are",
		http.StatusOK, authz.IncidentWrite),
		func(ctx context.Context, in *importKeyEventsInput) (*keyEventsOutput, error) {
			ks, err := h.Incidents.ImportKeyEvents(ctx, in.ID, incident.KeyEventImport{EventIDs: in.Body.EventIDs,
				Milestones: in.Body.Milestones})
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return keyEventsOut(ks), nil
		})

	huma.Register(api, op("annotate-review-key-event", http.MethodPatch, "/incidents/{id}/review/key-events/{key_event_id}",
		"Write what the review says about one of its key events", http.StatusNoContent, authz.IncidentWrite),
		func(ctx context.Context, in *annotateKeyEventInput) (*struct{}, error) {
			if err := h.Incidents.AnnotateKeyEvent(ctx, in.ID, in.KeyEventID, in.Body.Annotation); err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{}{}, nil
		})

	huma.Register(api, op("remove-review-key-event", http.MethodDelete, "/incidents/{id}/review/key-events/{key_event_id}",
		"Take a key event out of the review; the incident's timeline keeps it", http.StatusNoContent, authz.IncidentWrite),
		func(ctx context.Context, in *keyEventInput) (*struct{}, error) {
			if err := h.Incidents.RemoveKeyEvent(ctx, in.ID, in.KeyEventID); err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{}{}, nil
		})
}
