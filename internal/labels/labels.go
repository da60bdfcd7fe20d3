// Package labels is the one place that names Ward's codes for people: the
// pages, PDFs and timeline entries people read say "HHS annual log (fewer
// than 500)", never "annual_log". It imports nothing of Ward's, so every
// package that writes for people may use it.
package labels

import (
	"fmt"
	"strings"
)

// names are the words people read for codes, where turning the code into
// a sentence ("low_probability_of_compromise" → "Low probability of
// compromise") is not enough.
var names = map[string]string{
	// Determination outcomes (45 CFR 164.402).
	"pending":                       "Pending: breach presumed",
	"notification_required":         "Breach: notification required",
	"low_probability_of_compromise": "Not a breach: low probability of compromise",
	"not_breach_secured":            "Not a breach: the PHI was secured",
	"not_breach_exception":          "Not a breach: an exception applies",
	// How HHS is told (164.408).
	"immediate":  "Report to HHS now (500 or more)",
	"annual_log": "HHS annual log (fewer than 500)",
	// HHS report kinds.
	"initial":  "Initial report",
	"addendum": "Addendum",
	// Notice kinds.
	"individual_letter": "Letter to an individual",
	"individual_email":  "Email to an individual",
	"substitute_web":    "Substitute notice on the web site",
	"media_release":     "Media release",
	"customer_notice":   "Notice to a customer (covered entity)",
	"state_ag":          "Notice to a State attorney general",
	// Incident categories and breach-log sizes.
	"hacking_it_incident": "Hacking or IT incident",
	"500_or_more":         "500 or more",
	"fewer_than_500":      "Fewer than 500",
	// HIPAA roles.
	"covered_entity":     "Covered entity",
	"business_associate": "Business associate",
	// Whom a State rule binds (the State table's applies_to).
	"ca_licensed_health_facility":             "California licensed clinics, health facilities, home health agencies and hospices",
	"ga_information_broker_or_data_collector": "Georgia information brokers and data collectors",
	"ny_dfs_covered_entity":                   "entities regulated by the New York Department of Financial Services",
	"public_agency":                           "public agencies",
	// Integrations.
	"events_v2": "Events API v2",
}

// reportFields name the fields of the HHS breach report (the OCR portal's
// form, 45 CFR 164.408) in the words of a sentence: "fill the covered
// entity's name before filing".
var reportFields = map[string]string{
	"hhs":                           "Notice to HHS",
	"covered_entity.name":           "the covered entity's name",
	"covered_entity.entity_type":    "the covered entity's type",
	"covered_entity.address.street": "the covered entity's street address",
	"covered_entity.address.city":   "the covered entity's city",
	"covered_entity.address.state":  "the covered entity's State",
	"covered_entity.address.zip":    "the covered entity's ZIP code",
	"covered_entity.contact.name":   "the covered entity's contact name",
	"covered_entity.contact.phone":  "the covered entity's contact phone",
	"covered_entity.contact.email":  "the covered entity's contact email",
	"business_associate.name":       "the business associate's name",
	"breach_start":                  "the date the breach started",
	"breach_end":                    "the date the breach ended",
	"individuals":                   "the number of individuals affected",
	"breach_types":                  "the type of breach",
	"breach_type_other":             "the other type of breach",
	"locations":                     "the location of the breached information",
	"location_other":                "the other location",
	"phi_types":                     "the type of PHI involved",
	"phi_other":                     "the other type of PHI",
	"safeguards":                    "the safeguards in place before the breach",
	"actions_taken":                 "the actions taken in response",
	"actions_other":                 "the other actions taken",
	"description":                   "the brief description",
	"individual_notice_start":       "the date individual notice began",
}

// Of is the display name of a code: its entry in the table, or the code
// as a sentence ("sev1_escalation" → "Sev1 escalation").
func Of(code string) string {
	if n, ok := names[code]; ok {
		return n
	}
	return Sentence(strings.ReplaceAll(code, "_", " "))
}

// Count is n with the singular or plural noun: "1 day", "3 days".
func Count(n int, one, many string) string {
	if n == 1 || n == -1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// ReportField names a field of the HHS breach report for a sentence; a
// field without a name is spelt out from its code.
func ReportField(field string) string {
	if n, ok := reportFields[field]; ok {
		return n
	}
	return strings.ToLower(Of(strings.ReplaceAll(field, ".", " ")))
}

// Sentence is s with its first letter in capitals, to start a line.
func Sentence(s string) string {
	if s == "" {
		return ""
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
