package api

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/incident"
)

// Event is one timeline entry.
type Event struct {
	ID           string            `json:"id"`
	Seq          int64             `json:"seq" doc:"The incident's version after this change; contiguous per incident."`
	At           time.Time         `json:"at"`
	Actor        string            `json:"actor"`
	Kind         string            `json:"kind" enum:"created,transition,edit,note,task_created,task_updated,member_added,member_removed,break_glass,break_glass_revoked,paging,status_update,sla,rule,breach,triage,review,action_item,privilege"`
	FromStatus   string            `json:"from_status,omitempty"`
	ToStatus     string            `json:"to_status,omitempty"`
	Note         string            `json:"note,omitempty"`
	Changes      []incident.Change `json:"changes" doc:"Each field's old and new value; PHI fields say only that they changed."`
	NoteRedacted bool              `json:"note_redacted,omitempty" doc:"The note was withheld: the caller's role may not see PHI, or the note is privileged and the caller may not see privileged content."`
	Privileged   *Privilege        `json:"privileged,omitempty" doc:"The note's privileged mark (attorney work product); absent when it has none."`
}

func eventOut(e incident.Event) Event {
	return Event{
		ID: e.ID, Seq: e.Seq, At: e.At, Actor: e.Actor, Kind: string(e.Kind), FromStatus: string(e.FromStatus),
		ToStatus: string(e.ToStatus), Note: e.Note, Changes: e.Changes, NoteRedacted: e.NoteRedacted,
		Privileged: privilegeOut(e.Privilege),
	}
}

type privilegeInput struct {
	ID   string `path:"id" maxLength:"100"`
	Body struct {
		Kind       string `json:"kind" enum:"note,evidence,review" doc:"What to mark: a note of the timeline, an evidence item, or the post-incident review."`
		ObjectID   string `json:"object_id,omitempty" maxLength:"100" doc:"The note's timeline entry id or the evidence item's id; none for the review."`
		Privileged bool   `json:"privileged" doc:"true marks it privileged & confidential (attorney work product); false unmarks it."`
		HeldBy     string `json:"held_by,omitempty" maxLength:"200" doc:"The username of the Ward user who holds the privilege (counsel or the Privacy Officer); empty is the caller."`
	}
}

type privilegeOutput struct {
	Body struct {
		Privileged *Privilege `json:"privileged,omitempty" doc:"The mark now in force; absent once unmarked."`
	}
}

type timelineInput struct {
	ID    string `path:"id" maxLength:"64"`
	After int64  `query:"after" minimum:"0" doc:"Only entries with a larger seq."`
	Limit int    `query:"limit" minimum:"1" maximum:"500" default:"500"`
}

type timelineOutput struct {
	Body struct {
		Items []Event `json:"items"`
	}
}

type noteInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Body string `json:"body" minLength:"1" maxLength:"20000"`
	}
}

type privilegedNoteInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Body   string `json:"body" minLength:"1" maxLength:"20000"`
		HeldBy string `json:"held_by,omitempty" maxLength:"200" doc:"The username of who holds the privilege: counsel or the Privacy Officer; absent, the caller."`
	}
}

type eventOutput struct {
	Body Event
}

func (h handler) timeline(ctx context.Context, in *timelineInput, kind incident.EventKind) (*timelineOutput, error) {
	events, err := h.Incidents.Timeline(ctx, in.ID, kind, in.After, in.Limit)
	if err != nil {
		return nil, h.fail(ctx, "query", err)
	}
	out := &timelineOutput{}
	out.Body.Items = make([]Event, len(events))
	for i, e := range events {
		out.Body.Items[i] = eventOut(e)
	}
	return out, nil
}

// Task is a piece of work on an incident.
type Task struct {
	ID            string     `json:"id"`
	IncidentID    string     `json:"incident_id"`
	Title         string     `json:"title" doc:"May hold PHI (reading it is audited); empty for a caller whose role may not see PHI."`
	TitleRedacted bool       `json:"title_redacted,omitempty" doc:"The title was withheld: the caller's role may not see PHI."`
	Owner         string     `json:"owner" doc:"The username of the Ward user who owns the task; empty for none."`
	DueAt         *time.Time `json:"due_at,omitempty"`
	Done          bool       `json:"done"`
	DoneAt        *time.Time `json:"done_at,omitempty"`
	CreatedAt     time.Time  `json:"created_at"`
	UpdatedAt     time.Time  `json:"updated_at"`
	OwnerRole     string     `json:"owner_role,omitempty" doc:"The role that owns the task (a playbook's task); empty for none."`
	Phase         string     `json:"phase,omitempty" doc:"The lifecycle phase the task belongs to (a playbook's task); empty for none."`
	Playbook      bool       `json:"from_playbook,omitempty" doc:"A playbook applied to the incident made the task."`
	DueAfterStart *int64     `json:"due_after_phase_start_seconds,omitempty" doc:"While the task's phase has not started: how long after its start the task is due; due_at is set then."`
}

func taskOut(t incident.Task) Task {
	out := Task{ID: t.ID, IncidentID: t.IncidentID, Title: t.Title, TitleRedacted: t.TitleRedacted, Owner: t.Owner, DueAt: t.DueAt,
		Done: t.Done, DoneAt: t.DoneAt, CreatedAt: t.CreatedAt, UpdatedAt: t.UpdatedAt, OwnerRole: string(t.OwnerRole),
		Phase: string(t.Phase), Playbook: t.PlaybookID != ""}
	if t.DueAfterPhaseStart != nil {
		s := int64(*t.DueAfterPhaseStart / time.Second)
		out.DueAfterStart = &s
	}
	return out
}

type taskOutput struct {
	Body Task
}

type createTaskInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Title string     `json:"title" minLength:"1" maxLength:"200"`
		Owner string     `json:"owner,omitempty" maxLength:"200" doc:"The username of an active Ward user who owns the task (422 naming the field otherwise); empty for none. Stored in clear, as usernames are: never a name typed as free text."`
		DueAt *time.Time `json:"due_at,omitempty"`
	}
}

type updateTaskInput struct {
	ID     string `path:"id" maxLength:"64"`
	TaskID string `path:"task_id" maxLength:"64"`
	Body   struct {
		Title *string    `json:"title,omitempty" minLength:"1" maxLength:"200"`
		Owner *string    `json:"owner,omitempty" maxLength:"200" doc:"The username of an active Ward user who owns the task (422 naming the field otherwise); empty for none. Stored in clear, as usernames are: never a name typed as free text."`
		DueAt *time.Time `json:"due_at,omitempty"`
		Done  *bool      `json:"done,omitempty"`
	}
}

type listTasksOutput struct {
	Body struct {
		Items []Task `json:"items"`
	}
}

func (h handler) registerTasks(api huma.API) {
	huma.Register(api, op("get-timeline", http.MethodGet, "/incidents/{id}/timeline",
		"An incident's timeline: every transition, edit, note, task and member change and emergency access, oldest first", http.StatusOK, authz.IncidentRead),
		func(ctx context.Context, in *timelineInput) (*timelineOutput, error) { return h.timeline(ctx, in, "") })

	huma.Register(api, op("list-notes", http.MethodGet, "/incidents/{id}/notes", "An incident's notes, oldest first", http.StatusOK, authz.IncidentRead),
		func(ctx context.Context, in *timelineInput) (*timelineOutput, error) {
			return h.timeline(ctx, in, incident.EventNote)
		})

	huma.Register(api, op("add-note", http.MethodPost, "/incidents/{id}/notes", "Add a note to an incident", http.StatusCreated, authz.IncidentWrite),
		func(ctx context.Context, in *noteInput) (*eventOutput, error) {
			e, err := h.Incidents.AddNote(ctx, in.ID, in.Body.Body)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &eventOutput{Body: eventOut(e)}, nil
		})

	pnote := op("add-privileged-note", http.MethodPost, "/incidents/{id}/privileged-notes",
		"Add a note privileged & confidential (attorney work product) from the start (counsel and the Privacy Officer; audited)",
		http.StatusCreated, authz.PrivilegedMark)
	pnote.Description = "The note and its mark are written in one transaction, so nobody ever sees it unmarked: everyone but " +
		"counsel and the Privacy Officer sees that it exists and who holds it, never its text. Counsel may write no other note. " +
		"422 naming held_by for a holder who may not see privileged content."
	huma.Register(api, pnote, func(ctx context.Context, in *privilegedNoteInput) (*eventOutput, error) {
		e, err := h.Incidents.AddPrivilegedNote(ctx, in.ID, in.Body.Body, in.Body.HeldBy)
		if err != nil {
			return nil, h.fail(ctx, "body", err)
		}
		return &eventOutput{Body: eventOut(e)}, nil
	})

	mark := op("set-privileged", http.MethodPost, "/incidents/{id}/privileged",
		"Mark a note, an evidence item or the post-incident review privileged & confidential (attorney work product), or unmark it (on the timeline; audited)",
		http.StatusOK, authz.PrivilegedMark)
	mark.Description = "Only counsel and the Privacy Officer (privileged:read) then see the record's content; everyone else " +
		"sees that it exists and who holds the privilege, and reports and exports leave it out unless counsel asks. 422 naming " +
		"the field for a record that is not the incident's or a holder who may not see privileged content."
	huma.Register(api, mark, func(ctx context.Context, in *privilegeInput) (*privilegeOutput, error) {
		p, err := h.Incidents.SetPrivileged(ctx, in.ID, incident.PrivilegeInput{Kind: incident.PrivilegeKind(in.Body.Kind),
			ObjectID: in.Body.ObjectID, Privileged: in.Body.Privileged, HeldBy: in.Body.HeldBy})
		if err != nil {
			return nil, h.fail(ctx, "body", err)
		}
		out := &privilegeOutput{}
		out.Body.Privileged = privilegeOut(p)
		return out, nil
	})

	huma.Register(api, op("list-tasks", http.MethodGet, "/incidents/{id}/tasks", "An incident's tasks", http.StatusOK, authz.IncidentRead),
		func(ctx context.Context, in *idInput) (*listTasksOutput, error) {
			tasks, err := h.Incidents.Tasks(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &listTasksOutput{}
			out.Body.Items = make([]Task, len(tasks))
			for i, t := range tasks {
				out.Body.Items[i] = taskOut(t)
			}
			return out, nil
		})

	huma.Register(api, op("create-task", http.MethodPost, "/incidents/{id}/tasks", "Add a task to an incident", http.StatusCreated, authz.IncidentWrite),
		func(ctx context.Context, in *createTaskInput) (*taskOutput, error) {
			t, err := h.Incidents.CreateTask(ctx, in.ID, incident.TaskInput{Title: in.Body.Title, Owner: in.Body.Owner, DueAt: in.Body.DueAt})
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &taskOutput{Body: taskOut(t)}, nil
		})

	huma.Register(api, op("update-task", http.MethodPatch, "/incidents/{id}/tasks/{task_id}", "Change a task", http.StatusOK, authz.IncidentWrite),
		func(ctx context.Context, in *updateTaskInput) (*taskOutput, error) {
			b := in.Body
			t, err := h.Incidents.UpdateTask(ctx, in.ID, in.TaskID, incident.TaskUpdate{Title: b.Title, Owner: b.Owner, DueAt: b.DueAt, Done: b.Done})
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &taskOutput{Body: taskOut(t)}, nil
		})
}
