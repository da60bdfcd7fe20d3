// Package incident is Ward's security-incident register: the record that
// 45 CFR 164.308(a)(6)(ii) requires ("document security incidents and
// their outcomes"), its lifecycle, timeline, notes and tasks.
package incident

import (
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/input"
)

// Severity ranks an incident's urgency, sev1 the most urgent.
type Severity string

// The severities.
const (
	Sev1 Severity = "sev1"
	Sev2 Severity = "sev2"
	Sev3 Severity = "sev3"
	Sev4 Severity = "sev4"
)

// Severities lists every severity.
var Severities = []Severity{Sev1, Sev2, Sev3, Sev4}

// Category is the kind of incident, in the vocabulary of the HHS breach
// portal's "type of breach" (REGULATIONS.md section 6), plus not_yet_known
// for an incident still being analysed.
type Category string

// The categories.
const (
	HackingIT          Category = "hacking_it_incident"
	ImproperDisposal   Category = "improper_disposal"
	Loss               Category = "loss"
	Theft              Category = "theft"
	UnauthorizedAccess Category = "unauthorized_access_disclosure"
	OtherCategory      Category = "other"
	NotYetKnown        Category = "not_yet_known"
	defaultCategory             = NotYetKnown
	defaultSeverity             = Sev3
)

// Categories lists every category.
var Categories = []Category{HackingIT, ImproperDisposal, Loss, Theft, UnauthorizedAccess, OtherCategory, NotYetKnown}

// Field limits, enforced by the service and declared in the API schema.
const (
	MaxTitle       = 200
	MaxDescription = 20000
	MaxNote        = 20000
	MaxName        = 200 // commander, owner, customer reference
	MaxCustomers   = 50
)

// Incident is one entry in the register.
type Incident struct {
	ID            string
	Number        string // human number, INC-2026-0042
	Title         string
	Description   string
	Severity      Severity
	Category      Category
	PHISuspected  bool
	OccurredAt    *time.Time
	DetectedAt    time.Time
	CreatedAt     time.Time
	UpdatedAt     time.Time
	ClosedAt      *time.Time
	Status        Status
	Resolution    Resolution
	Commander     string
	Customers     []string
	NotApplicable []Status
	CreatedBy     string
	Version       int64
	// Restricted says only those who need to know may see the incident
	// (see VisibleSQL).
	Restricted bool
	// Drill says the incident is an exercise (tabletop or simulation) of
	// the response plan, not a real incident (docs/DRILLS.md): it has no
	// breach case and is left out of the register and reports of real
	// incidents.
	Drill bool
	// PHIRedacted says Title and Description were withheld: the reader's
	// role may not see PHI (45 CFR 164.502(b), minimum necessary). Title
	// is then SafeTitle's line.
	PHIRedacted bool
}

// Event is one entry of an incident's timeline.
type Event struct {
	IncidentID string
	Seq        int64
	ID         string
	At         time.Time
	Actor      string
	Kind       EventKind
	FromStatus Status
	ToStatus   Status
	Note       string
	Changes    []Change
	// NoteRedacted says Note was withheld from a reader without PHI access,
	// or, with Privilege set, from a reader who may not see privileged
	// content.
	NoteRedacted bool
	// Privilege is the note's privileged mark, nil when it has none; a
	// read's result, never part of the event's audit entry.
	Privilege *Privilege `json:"-"`
}

// EventKind says what a timeline entry records.
type EventKind string

// The timeline entry kinds.
const (
	EventCreated     EventKind = "created"
	EventTransition  EventKind = "transition"
	EventEdit        EventKind = "edit"
	EventNote        EventKind = "note"
	EventTaskCreated EventKind = "task_created"
	EventTaskUpdated EventKind = "task_updated"
	// EventPaging records who was paged, acknowledgements and deliveries
	// that gave up (package paging).
	EventPaging EventKind = "paging"
	// EventStatusUpdate records that a status update went to stakeholders
	// (its text is in the status update, not the timeline).
	EventStatusUpdate EventKind = "status_update"
	// EventSLA records an SLA warning, a missed target or an overdue update.
	EventSLA EventKind = "sla"
	// EventRule records a workflow rule that matched and what it did.
	EventRule EventKind = "rule"
	// EventBreach records a breach case's opening, facts, determinations
	// and notices.
	EventBreach EventKind = "breach"
	// EventMemberAdded records a member added to a restricted incident.
	EventMemberAdded EventKind = "member_added"
	// EventMemberRemoved records a member taken off the incident.
	EventMemberRemoved EventKind = "member_removed"
	// EventBreakGlass records emergency access granted to someone who
	// could not otherwise see the incident; its note is the reason.
	EventBreakGlass EventKind = "break_glass"
	// EventBreakGlassRevoked records an emergency grant ended early.
	EventBreakGlassRevoked EventKind = "break_glass_revoked"
	// EventTriage records that Ward asked a responder to classify the
	// incident (an alert of a service that handles PHI; Triage).
	EventTriage EventKind = "triage"
	// EventPlaybook records a playbook applied, and answers to its
	// questions recorded (which questions, never the answers).
	EventPlaybook EventKind = "playbook"
)

// Change is one field's old and new value. Fields that may hold PHI record
// only that they changed (Redacted), so the timeline never copies PHI.
type Change struct {
	Field    string `json:"field"`
	Old      any    `json:"old,omitempty"`
	New      any    `json:"new,omitempty"`
	Redacted bool   `json:"redacted,omitempty"`
}

// Task is a piece of work on an incident.
type Task struct {
	ID         string
	IncidentID string
	Title      string
	Owner      string
	DueAt      *time.Time
	Done       bool
	DoneAt     *time.Time
	CreatedAt  time.Time
	UpdatedAt  time.Time
	// OwnerRole is the role that owns the task, for a task a playbook
	// made; Owner, when set, is the person who took it on.
	OwnerRole authz.Role
	// Phase is the lifecycle phase the task belongs to, if any.
	Phase Status
	// PlaybookID is the playbook application that made the task, if any.
	PlaybookID string
	// DueAfterPhaseStart is, while Phase has not started, how long after
	// its start the task is due; DueAt is set when the phase starts.
	DueAfterPhaseStart *time.Duration
	// TitleRedacted says Title was withheld from a reader without PHI
	// access.
	TitleRedacted bool
}

// PendingDue is how long after its phase starts a task waiting for that
// start is due; zero for any other task.
func (t Task) PendingDue() time.Duration {
	if t.DueAfterPhaseStart == nil {
		return 0
	}
	return *t.DueAfterPhaseStart
}

// checkText applies the input policy (package input) and the length
// limits to a free-text field.
func checkText(field, v string, min, max int) error {
	return checkWith(input.Text, field, v, min, max)
}

// checkTitle is checkText with the rules for titles and names: one line,
// no bidirectional control, a visible character.
func checkTitle(field, v string, min, max int) error {
	return checkWith(input.Title, field, v, min, max)
}

func checkWith(policy func(string) string, field, v string, min, max int) error {
	if reason := policy(v); reason != "" {
		return apperr.Field(field, "%s", reason)
	}
	n := utf8.RuneCountInString(v)
	if min > 0 && strings.TrimSpace(v) == "" {
		return apperr.Field(field, "is required")
	}
	if n > max {
		return apperr.Field(field, "is %d characters long; the limit is %d", n, max)
	}
	return nil
}

func checkEnum[T ~string](field string, v T, all []T) error {
	if slices.Contains(all, v) {
		return nil
	}
	parts := make([]string, len(all))
	for i, a := range all {
		parts[i] = string(a)
	}
	return apperr.Field(field, "%q is not one of %s", v, strings.Join(parts, ", "))
}

func checkCustomers(cs []string) error {
	if len(cs) > MaxCustomers {
		return apperr.Field("customers", "has %d entries; the limit is %d", len(cs), MaxCustomers)
	}
	for _, c := range cs {
		if err := checkText("customers", c, 1, MaxName); err != nil {
			return err
		}
	}
	return nil
}

// maxClockSkew is how far in the future a reported time may be before it
// is refused as a mistake.
const maxClockSkew = 5 * time.Minute

func checkTimes(occurred *time.Time, detected, now time.Time) error {
	if detected.After(now.Add(maxClockSkew)) {
		return apperr.Field("detected_at", "is in the future")
	}
	if occurred != nil {
		if occurred.After(now.Add(maxClockSkew)) {
			return apperr.Field("occurred_at", "is in the future")
		}
		if occurred.After(detected) {
			return apperr.Field("occurred_at", "is after detected_at")
		}
	}
	return nil
}
