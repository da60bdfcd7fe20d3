// Package alert is Ward's alert intake: services and their integration
// keys, alerts deduplicated by key, and the grouping of alerts into
// incidents. Vendor payloads become Events in package integration; Ingest
// records a batch of them in one transaction, so an accepted alert is a
// durable one.
package alert

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/input"
)

// Action is what an event asks for, in the words of the PagerDuty Events
// API v2.
type Action string

// The actions.
const (
	Trigger     Action = "trigger"
	Acknowledge Action = "acknowledge"
	Resolve     Action = "resolve"
)

// Actions lists every action.
var Actions = []Action{Trigger, Acknowledge, Resolve}

// Severity is an alert's severity as monitoring tools send it.
type Severity string

// The alert severities (the Events API v2 vocabulary).
const (
	Critical Severity = "critical"
	Error    Severity = "error"
	Warning  Severity = "warning"
	Info     Severity = "info"
)

// Severities lists every alert severity.
var Severities = []Severity{Critical, Error, Warning, Info}

// IncidentSeverity is the severity of an incident an alert of severity s
// opens.
func (s Severity) IncidentSeverity() incident.Severity {
	switch s {
	case Critical:
		return incident.Sev1
	case Error:
		return incident.Sev2
	case Warning:
		return incident.Sev3
	default:
		return incident.Sev4
	}
}

// Status is where an alert stands.
type Status string

// The alert statuses.
const (
	StatusTriggered    Status = "triggered"
	StatusAcknowledged Status = "acknowledged"
	StatusResolved     Status = "resolved"
)

// Limits on event fields (the Events API v2's own where it has one).
const (
	MaxSummary  = 1024
	MaxDedupKey = 255
	MaxField    = 255
	MaxDetails  = 64 << 10
	MaxBatch    = 1000
	MaxName     = 100
	MaxText     = 2000
)

// Event is one alert event from a monitoring tool, normalised.
type Event struct {
	Action Action
	// DedupKey identifies the alert: triggers with the same key while it
	// is open are one alert. Required for acknowledge and resolve.
	DedupKey string
	// GroupKey is the monitoring tool's own grouping (Alertmanager's group
	// key); empty means the dedup key.
	GroupKey  string
	Summary   string
	Source    string
	Severity  Severity
	Component string
	Group     string
	Class     string
	// Details is everything else the tool sent (custom details, labels,
	// annotations, links, its own timestamps), as JSON. It may hold PHI,
	// so it is sealed.
	Details json.RawMessage
	// Labels are the tool's labels (Alertmanager's), for alert rules to
	// match in memory; they are recorded only within Details.
	Labels map[string]string
}

// Validate checks e, naming the offending field with the prefix given
// (e.g. "alerts[3]."). Triggers need a summary and a source.
func (e *Event) Validate(prefix string) error {
	if !slices.Contains(Actions, e.Action) {
		return apperr.Field(prefix+"event_action", "%q is not one of trigger, acknowledge, resolve", e.Action)
	}
	if e.Action != Trigger && strings.TrimSpace(e.DedupKey) == "" {
		return apperr.Field(prefix+"dedup_key", "is required to %s an alert", e.Action)
	}
	checks := []struct {
		field, v string
		max      int
		required bool
	}{
		{"dedup_key", e.DedupKey, MaxDedupKey, false},
		{"summary", e.Summary, MaxSummary, e.Action == Trigger},
		{"source", e.Source, MaxField, e.Action == Trigger},
		{"component", e.Component, MaxField, false},
		{"group", e.Group, MaxField, false},
		{"class", e.Class, MaxField, false},
	}
	for _, c := range checks {
		if reason := input.Text(c.v); reason != "" {
			return apperr.Field(prefix+c.field, "%s", reason)
		}
		if c.required && strings.TrimSpace(c.v) == "" {
			return apperr.Field(prefix+c.field, "is required")
		}
		if n := utf8.RuneCountInString(c.v); n > c.max {
			return apperr.Field(prefix+c.field, "is %d characters long; the limit is %d", n, c.max)
		}
	}
	// The summary becomes an incident's title, one line (see title), so
	// it gets the title rules but for line breaks.
	if reason := input.Title(oneLine(e.Summary)); reason != "" {
		return apperr.Field(prefix+"summary", "%s", reason)
	}
	if e.Action == Trigger && !slices.Contains(Severities, e.Severity) {
		return apperr.Field(prefix+"severity", "%q is not one of critical, error, warning, info", e.Severity)
	}
	if len(e.Details) > MaxDetails {
		return apperr.Field(prefix+"custom_details", "is %d bytes; the limit is %d", len(e.Details), MaxDetails)
	}
	return nil
}

// Alert is one deduplicated alert.
type Alert struct {
	ID             string
	ServiceID      string
	IntegrationID  string
	DedupKey       string
	IncidentID     string // empty when suppressed by a maintenance window
	IncidentNumber string
	Status         Status
	Suppressed     bool
	Summary        string
	// SummaryRedacted says Summary was withheld from a reader without PHI
	// access and is SafeSummary's line.
	SummaryRedacted bool
	// FieldsRedacted says DedupKey, Source, Component, Group and Class
	// were withheld (left empty) from a reader without PHI access.
	FieldsRedacted bool
	ServiceName    string // the name of the service it came to

	Source         string
	Severity       Severity
	Component      string
	Group          string
	Class          string
	Details        json.RawMessage // empty unless read with details
	Count          int64
	FirstAt        time.Time
	LastAt         time.Time
	AcknowledgedAt *time.Time
	ResolvedAt     *time.Time
	// SuppressedBy and SuppressedByName name the alert rule that
	// suppressed it, if one did.
	SuppressedBy     string
	SuppressedByName string
	// Tags are what alert rules added when it opened.
	Tags []string
}

// oneLine folds every run of white space (line breaks and tabs included)
// into one space.
func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }
