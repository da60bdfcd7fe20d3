package retention

import (
	"fmt"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
)

// LegalMinimumYears is the shortest retention of HIPAA documentation:
// "Retain the documentation required by paragraph (b)(1) of this section
// for 6 years from the date of its creation or the date when it last was
// in effect, whichever is later." 45 CFR 164.316(b)(2)(i),
// https://www.ecfr.gov/current/title-45/subtitle-A/subchapter-C/part-164/subpart-C/section-164.316
// Ward counts the six years from when a record was last in effect, which
// is never earlier than its creation.
const LegalMinimumYears = 6

// Citation is the rule LegalMinimumYears encodes, for people.
const Citation = "45 CFR 164.316(b)(2)(i)"

// CitationURL is where Citation is published.
const CitationURL = "https://www.ecfr.gov/current/title-45/subtitle-A/subchapter-C/part-164/subpart-C/section-164.316"

// MaxYears caps a retention period: a typo of 600 for 6 is refused rather
// than keeping records for centuries.
const MaxYears = 100

// MaxIndividualsDays caps the early purge of affected individuals' PHI; a
// longer wait is what the breach-case period already gives.
const MaxIndividualsDays = 3650

// RecordType names a kind of record the policy keeps.
type RecordType string

// The record types. An incident's alerts, tasks, timeline, pages, paging
// messages, status updates, members and grants go with it; a breach case's
// determinations, obligations, individuals, notices and reports go with it.
const (
	Incidents      RecordType = "incident"
	BreachCases    RecordType = "breach_case"
	Alerts         RecordType = "alert"
	Messages       RecordType = "message"
	Sessions       RecordType = "session"
	IndividualsPHI RecordType = "individuals_phi"
)

// Policy is how long each record type is kept after it was last in effect.
// Every period in years is HIPAA documentation and never below
// LegalMinimumYears. IndividualsPHIDays is the separate, optional early
// purge of affected individuals' names, addresses and contact details once
// their case is closed and every notice done; 0 turns it off.
type Policy struct {
	IncidentsYears     int `json:"incidents_years"`
	BreachCasesYears   int `json:"breach_cases_years"`
	AlertsYears        int `json:"alerts_years"`
	MessagesYears      int `json:"messages_years"`
	SessionsYears      int `json:"sessions_years"`
	IndividualsPHIDays int `json:"individuals_phi_days"`
}

// Default is the policy until an administrator sets one: the legal minimum
// everywhere, and no early purge of individuals' PHI.
func Default() Policy {
	return Policy{IncidentsYears: LegalMinimumYears, BreachCasesYears: LegalMinimumYears, AlertsYears: LegalMinimumYears,
		MessagesYears: LegalMinimumYears, SessionsYears: LegalMinimumYears}
}

// TypeInfo describes one record type for people: the settings page, the
// API's schema and docs/RETENTION.md say the same.
type TypeInfo struct {
	Type  RecordType
	Field string // the Policy field's JSON name
	Label string
	What  string
	Clock string // what "last in effect" means for it
}

// Types lists the record types in the order the settings page shows them.
var Types = []TypeInfo{
	{Incidents, "incidents_years", "Incidents",
		"an incident with its alerts, tasks, timeline, notes, pages and paging messages, status updates, members and emergency-access grants",
		"when it was closed or last changed, whichever is later; an open incident is kept"},
	{BreachCases, "breach_cases_years", "Breach cases",
		"a breach case with its facts, signed determinations, notice obligations, affected individuals, notices and their files, and HHS report details and filings",
		"when its incident was closed, a notice obligation was met, a notice last changed, a filing was recorded or a substitute notice ended, whichever is latest"},
	{Alerts, "alerts_years", "Alerts not on any incident",
		"alerts that were suppressed or resolved without opening an incident",
		"when the alert was resolved"},
	{Messages, "messages_years", "Messages not about an incident",
		"paging messages sent to people that concern no incident, such as contact-method verification codes",
		"when the message was sent or given up"},
	{Sessions, "sessions_years", "Sign-in sessions",
		"records of who signed in, when and from where",
		"when the session ended or expired"},
	{IndividualsPHI, "individuals_phi_days", "Affected individuals' personal details (early purge)",
		"names, addresses, email addresses, phone numbers and dates of birth of a breach case's affected individuals, and the notice files that hold them; their counts per State stay with the case",
		"the case's incident is closed and every notice obligation met, with no notice still waiting to be sent"},
}

// Years returns the period in years of record type t (0 for IndividualsPHI).
func (p Policy) Years(t RecordType) int {
	switch t {
	case Incidents:
		return p.IncidentsYears
	case BreachCases:
		return p.BreachCasesYears
	case Alerts:
		return p.AlertsYears
	case Messages:
		return p.MessagesYears
	case Sessions:
		return p.SessionsYears
	}
	return 0
}

// Cutoff is the instant before which a record of type t last in effect is
// past retention at now: now minus the period, in calendar years (or days
// for IndividualsPHI). ok is false when the type is never purged (the
// early purge of individuals turned off).
func (p Policy) Cutoff(t RecordType, now time.Time) (cutoff time.Time, ok bool) {
	now = now.UTC()
	if t == IndividualsPHI {
		if p.IndividualsPHIDays == 0 {
			return time.Time{}, false
		}
		return now.AddDate(0, 0, -p.IndividualsPHIDays), true
	}
	return now.AddDate(-p.Years(t), 0, 0), true
}

// Validate refuses a policy below the legal minimum, negative or absurdly
// long, naming every offending field.
func (p Policy) Validate() error {
	var fields []apperr.FieldError
	for _, ti := range Types {
		if ti.Type == IndividualsPHI {
			switch d := p.IndividualsPHIDays; {
			case d < 0:
				fields = append(fields, apperr.FieldError{Field: ti.Field, Message: "must not be negative (0 turns the early purge off)"})
			case d > MaxIndividualsDays:
				fields = append(fields, apperr.FieldError{Field: ti.Field, Message: fmt.Sprintf("must be at most %d days", MaxIndividualsDays)})
			}
			continue
		}
		switch y := p.Years(ti.Type); {
		case y < 0:
			fields = append(fields, apperr.FieldError{Field: ti.Field, Message: "must not be negative"})
		case y < LegalMinimumYears:
			fields = append(fields, apperr.FieldError{Field: ti.Field,
				Message: fmt.Sprintf("must be at least %d years, the legal minimum (%s)", LegalMinimumYears, Citation)})
		case y > MaxYears:
			fields = append(fields, apperr.FieldError{Field: ti.Field, Message: fmt.Sprintf("must be at most %d years", MaxYears)})
		}
	}
	if len(fields) == 0 {
		return nil
	}
	msgs := make([]string, len(fields))
	for i, f := range fields {
		msgs[i] = f.Field + " " + f.Message
	}
	return &apperr.Error{Code: apperr.Invalid, Message: "the retention policy is not valid: " + strings.Join(msgs, "; "), Fields: fields}
}
