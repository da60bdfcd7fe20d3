package rules

import (
	"fmt"
	"slices"

	"github.com/wardhq/ward/internal/apperr"
)

// CaseTag is a fact about the entity that some State rules depend on
// (StateRule.AppliesTo, Facts.Tags): what it is licensed as, beyond its
// role under HIPAA. Tags are an enumeration, not free text, so that a typo
// cannot drop a rule silently: an unknown tag in a case's facts, or in a
// State table's applies_to, is refused.
type CaseTag struct {
	ID    string `json:"id"`
	Label string `json:"label"`
	// Citation is the law that makes the tag matter.
	Citation string `json:"citation"`
}

// caseTags are the tags Ward knows, in the order the UI shows them.
var caseTags = []CaseTag{
	{ID: "ca_licensed_health_facility", Label: "California licensed clinic, health facility, home health agency or hospice",
		Citation: "Cal. Health & Safety Code 1280.15"},
}

// CaseTags returns the tags Ward knows, in display order.
func CaseTags() []CaseTag { return slices.Clone(caseTags) }

// LookupCaseTag returns the tag with id; ok is false for one Ward does not
// know.
func LookupCaseTag(id string) (CaseTag, bool) {
	i := slices.IndexFunc(caseTags, func(t CaseTag) bool { return t.ID == id })
	if i < 0 {
		return CaseTag{}, false
	}
	return caseTags[i], true
}

// CaseTagIDs returns the ids of the tags Ward knows, in display order.
func CaseTagIDs() []string {
	out := make([]string, len(caseTags))
	for i, t := range caseTags {
		out[i] = t.ID
	}
	return out
}

// ValidateAppliesTo reports every rule of t whose applies_to names a tag
// Ward does not know (rules[i].applies_to): such a rule would never apply.
func ValidateAppliesTo(t StateTable) error {
	var fs []apperr.FieldError
	for i, r := range t.Rules {
		if r.AppliesTo == "" {
			continue
		}
		if _, ok := LookupCaseTag(r.AppliesTo); !ok {
			fs = append(fs, apperr.FieldError{Field: fmt.Sprintf("rules[%d].applies_to", i),
				Message: fmt.Sprintf("%q is not a case tag Ward knows (%v)", r.AppliesTo, CaseTagIDs())})
		}
	}
	if len(fs) == 0 {
		return nil
	}
	return &apperr.Error{Code: apperr.Invalid, Message: "the State table names an unknown case tag", Fields: fs}
}
