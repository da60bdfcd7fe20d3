package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/playbook"
)

// Playbook is a playbook, one version of it, in the format of the shipped
// files (docs/PLAYBOOKS.md).
type Playbook struct {
	Key             string             `json:"key" maxLength:"50" doc:"Lower-case letters and underscores; fixed by the path on edits."`
	Name            string             `json:"name" maxLength:"500"`
	Version         int                `json:"version" doc:"Ignored on edits: an edit is the next version."`
	Summary         string             `json:"summary" maxLength:"500"`
	Categories      []string           `json:"categories" doc:"Incident categories the playbook is applied to by itself when an incident is recorded with one, or its category set to one."`
	OpensBreachCase bool               `json:"opens_breach_case" doc:"Applying the playbook opens the incident's breach case if it has none."`
	Sources         []PlaybookSource   `json:"sources"`
	Phases          []PlaybookPhase    `json:"phases"`
	Questions       []PlaybookQuestion `json:"questions"`
}

// PlaybookSource is a rule or public guidance a step follows.
type PlaybookSource struct {
	ID    string `json:"id"`
	Title string `json:"title" maxLength:"500"`
	URL   string `json:"url" doc:"A public https address."`
}

// PlaybookPhase is what a playbook asks in one lifecycle phase.
type PlaybookPhase struct {
	Phase    string           `json:"phase" enum:"detected,analysis,containment,eradication,recovery,post_incident"`
	Tasks    []PlaybookTask   `json:"tasks"`
	Evidence []PlaybookPrompt `json:"evidence,omitempty"`
}

// PlaybookTask is a task a playbook makes.
type PlaybookTask struct {
	Title     string `json:"title" maxLength:"200"`
	OwnerRole string `json:"owner_role" enum:"admin,security_officer,privacy_officer,responder"`
	DueHours  int    `json:"due_hours" minimum:"0" maximum:"8784"`
	From      string `json:"from" enum:"detection,phase_start" doc:"What due_hours counts from: the incident's detection, or the start of the task's phase (the task is due once the phase starts)."`
	Cite      string `json:"cite" doc:"The id of the source the step follows."`
}

// PlaybookPrompt asks for a piece of evidence.
type PlaybookPrompt struct {
	Text string `json:"text" maxLength:"500"`
	Cite string `json:"cite"`
}

// PlaybookQuestion is asked of the incident; its answer may hold PHI.
type PlaybookQuestion struct {
	Key     string           `json:"key"`
	Label   string           `json:"label" maxLength:"500"`
	Help    string           `json:"help,omitempty" maxLength:"500"`
	Kind    string           `json:"kind" enum:"text,choice"`
	Choices []PlaybookChoice `json:"choices,omitempty"`
	Feeds   string           `json:"feeds,omitempty" enum:"secured,exception,probability" doc:"The breach-case question the answer informs: secured (the safe harbor), exception, or probability (the four-factor assessment)."`
	Cite    string           `json:"cite"`
}

// PlaybookChoice is one answer a choice question offers.
type PlaybookChoice struct {
	Value string `json:"value"`
	Label string `json:"label" maxLength:"500"`
}

// convert copies between the API's and the service's playbook, whose JSON
// is the same.
func convert[T any](from any) (T, error) {
	var out T
	b, err := json.Marshal(from)
	if err != nil {
		return out, err
	}
	return out, json.Unmarshal(b, &out)
}

func playbookOut(p playbook.Playbook) Playbook {
	out, _ := convert[Playbook](p)
	return out
}

type playbookOutput struct {
	Body Playbook
}

type listPlaybooksOutput struct {
	Body struct {
		Items []Playbook `json:"items"`
	}
}

type playbookKeyInput struct {
	Key string `path:"key" maxLength:"50"`
}

type editPlaybookInput struct {
	Key  string `path:"key" maxLength:"50"`
	Body Playbook
}

// AppliedPlaybook is a playbook applied to an incident, with the answers
// to its questions.
type AppliedPlaybook struct {
	ID              string            `json:"id"`
	Playbook        Playbook          `json:"playbook" doc:"The version applied, as it was then: later edits leave it as it was."`
	AppliedAt       time.Time         `json:"applied_at"`
	AppliedBy       string            `json:"applied_by"`
	Answers         map[string]string `json:"answers,omitempty" doc:"Answers by question key; may hold PHI (reading them is audited). Choice questions answer with a choice value."`
	AnswersRedacted bool              `json:"answers_redacted,omitempty" doc:"The answers were withheld: the caller's role may not see PHI."`
	AnsweredAt      *time.Time        `json:"answered_at,omitempty"`
}

func appliedOut(a playbook.Application) AppliedPlaybook {
	return AppliedPlaybook{ID: a.ID, Playbook: playbookOut(a.Playbook), AppliedAt: a.AppliedAt, AppliedBy: a.AppliedBy, Answers: a.Answers,
		AnswersRedacted: a.AnswersRedacted, AnsweredAt: a.AnsweredAt}
}

type appliedOutput struct {
	Body AppliedPlaybook
}

type listAppliedOutput struct {
	Body struct {
		Items []AppliedPlaybook `json:"items"`
	}
}

type applyPlaybookInput struct {
	ID   string `path:"id" maxLength:"64"`
	Body struct {
		Playbook string `json:"playbook" maxLength:"50" doc:"The key of the playbook to apply (GET /playbooks)."`
	}
}

type answerPlaybookInput struct {
	ID   string `path:"id" maxLength:"64"`
	Key  string `path:"key" maxLength:"50"`
	Body struct {
		Answers map[string]string `json:"answers" maxProperties:"50" doc:"Answers by question key, each at most 2000 characters; an empty answer clears it, questions not named keep theirs. Sealed at rest."`
	}
}

type myTasksOutput struct {
	Body struct {
		Items []MyTask `json:"items"`
	}
}

// MyTask is an open task of the caller's, with its incident's number.
type MyTask struct {
	Task
	IncidentNumber string `json:"incident_number"`
}

type startDrillInput struct {
	Body struct {
		Playbook   string `json:"playbook" minLength:"1" maxLength:"100" doc:"The key of the playbook the drill exercises."`
		Title      string `json:"title,omitempty" maxLength:"200" doc:"Defaults to \"Drill: \" and the playbook's name."`
		Scenario   string `json:"scenario,omitempty" maxLength:"20000" doc:"What the exercise pretends happened; the incident's description."`
		PagePolicy string `json:"page_policy,omitempty" maxLength:"64" doc:"An escalation policy's id to page as a test; its messages say DRILL. Absent: the drill pages nobody."`
	}
}

func (h handler) registerPlaybooks(api huma.API) {
	huma.Register(api, op("start-drill", http.MethodPost, "/drills",
		"Start a drill from a playbook: an incident marked as a drill, with the playbook's tasks; it never has a breach case and is left out of the register and reports of real incidents",
		http.StatusCreated, authz.DrillRun),
		func(ctx context.Context, in *startDrillInput) (*incidentOutput, error) {
			b := in.Body
			inc, err := h.Playbooks.StartDrill(ctx, playbook.DrillInput{Playbook: b.Playbook, Title: b.Title, Scenario: b.Scenario,
				PagePolicy: b.PagePolicy})
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &incidentOutput{Body: incidentOut(inc)}, nil
		})
	huma.Register(api, op("list-playbooks", http.MethodGet, "/playbooks", "Every playbook at its newest version", http.StatusOK,
		authz.IncidentRead),
		func(ctx context.Context, _ *struct{}) (*listPlaybooksOutput, error) {
			ps, err := h.Playbooks.List(ctx)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &listPlaybooksOutput{}
			out.Body.Items = make([]Playbook, len(ps))
			for i, p := range ps {
				out.Body.Items[i] = playbookOut(p)
			}
			return out, nil
		})
	huma.Register(api, op("get-playbook", http.MethodGet, "/playbooks/{key}", "A playbook at its newest version", http.StatusOK,
		authz.IncidentRead),
		func(ctx context.Context, in *playbookKeyInput) (*playbookOutput, error) {
			p, err := h.Playbooks.Get(ctx, in.Key)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &playbookOutput{Body: playbookOut(p)}, nil
		})
	huma.Register(api, op("edit-playbook", http.MethodPut, "/playbooks/{key}",
		"Edit a playbook: the body becomes its next version (the version field is ignored); incidents it was applied to keep theirs",
		http.StatusOK, authz.OnCallWrite),
		func(ctx context.Context, in *editPlaybookInput) (*playbookOutput, error) {
			p, err := convert[playbook.Playbook](in.Body)
			if err == nil {
				p, err = h.Playbooks.Edit(ctx, in.Key, p)
			}
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &playbookOutput{Body: playbookOut(p)}, nil
		})
	huma.Register(api, op("list-incident-playbooks", http.MethodGet, "/incidents/{id}/playbooks",
		"The playbooks applied to an incident, with the answers to their questions", http.StatusOK, authz.IncidentRead),
		func(ctx context.Context, in *idInput) (*listAppliedOutput, error) {
			as, err := h.Playbooks.Applications(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &listAppliedOutput{}
			out.Body.Items = make([]AppliedPlaybook, len(as))
			for i, a := range as {
				out.Body.Items[i] = appliedOut(a)
			}
			return out, nil
		})
	huma.Register(api, op("apply-playbook", http.MethodPost, "/incidents/{id}/playbooks",
		"Apply a playbook to an incident: its tasks are added, due from the detection or their phase's start; 409 if it was applied already",
		http.StatusCreated, authz.IncidentWrite),
		func(ctx context.Context, in *applyPlaybookInput) (*appliedOutput, error) {
			a, err := h.Playbooks.Apply(ctx, in.ID, in.Body.Playbook)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &appliedOutput{Body: appliedOut(a)}, nil
		})
	huma.Register(api, op("answer-playbook", http.MethodPut, "/incidents/{id}/playbooks/{key}/answers",
		"Record answers to the questions of a playbook applied to an incident", http.StatusOK, authz.IncidentWrite),
		func(ctx context.Context, in *answerPlaybookInput) (*appliedOutput, error) {
			a, err := h.Playbooks.Answer(ctx, in.ID, in.Key, in.Body.Answers)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &appliedOutput{Body: appliedOut(a)}, nil
		})
	huma.Register(api, op("my-tasks", http.MethodGet, "/tasks/mine",
		"The caller's open tasks: owned by them, or by nobody yet and assigned to their role; soonest due first", http.StatusOK,
		authz.IncidentRead),
		func(ctx context.Context, _ *struct{}) (*myTasksOutput, error) {
			ts, err := h.Incidents.MyTasks(ctx)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &myTasksOutput{}
			out.Body.Items = make([]MyTask, len(ts))
			for i, t := range ts {
				out.Body.Items[i] = MyTask{Task: taskOut(t.Task), IncidentNumber: t.IncidentNumber}
			}
			return out, nil
		})
}
