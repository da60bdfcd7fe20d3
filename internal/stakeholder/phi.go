package stakeholder

import (
	"regexp"
	"strings"
)

// A status update is read by stakeholders who may not see PHI, and its
// text may one day leave Ward; before it is posted, Ward looks for the
// patterns of PHI that are easy to paste by mistake. The check is a
// safety net, not a proof that a text holds none: it catches the forms
// below and nothing else (names, addresses and free descriptions pass).

// datePattern is a full date: 03/14/1961, 3-14-61, 1961-03-14,
// March 14, 1961, 14 March 1961, Mar. 14 1961.
const datePattern = `(?:\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{1,2}-\d{1,2}|` +
	`(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d{1,2}(?:st|nd|rd|th)?,?\s+\d{4}|` +
	`\d{1,2}(?:st|nd|rd|th)?\s+(?:of\s+)?(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?,?\s+\d{4})`

// phiPatterns are the kinds of PHI the check recognises, each named as the
// refusal names it; the matched text itself is never repeated.
var phiPatterns = []struct {
	kind string
	re   *regexp.Regexp
}{
	// 078-05-1120 or 078 05 1120 anywhere; nine bare digits only after
	// words that say what they are.
	{"a Social Security number", regexp.MustCompile(`(?i)(?:^|[^\d-])\d{3}[- ]\d{2}[- ]\d{4}(?:$|[^\d-])|` +
		`\b(?:ssn|ss#|social\s+security(?:\s+(?:number|no\.?|#))?)[^\d]{0,20}\d{9}\b`)},
	// MRN: 12345678, medical record number 0012345, MR# A1234567.
	{"a medical record number", regexp.MustCompile(`(?i)\b(?:mrn|mr#|medical\s+record(?:\s+(?:number|no\.?|num|#))?)[^\w]{0,10}(?:(?:is|was|no\.?|number)\s*[^\w]{0,5})?[a-z]{0,3}\d{5,}`)},
	// DOB 03/14/1961, date of birth: March 14, 1961.
	{"a date of birth", regexp.MustCompile(`(?i)\b(?:dob|d\.o\.b\.?|date\s+of\s+birth|birth\s*date)[^\w]{0,10}(?:(?:is|was|of)\s+)?` + datePattern)},
	// born 03/14/1961, born on March 14, 1961.
	{"a full date next to \"born\"", regexp.MustCompile(`(?i)\bborn\b[^\w]{0,5}(?:(?:on|in)\s+)?` + datePattern +
		`|` + datePattern + `[^\w]{0,5}\(?born\b`)},
}

// phiKinds returns the kinds of PHI pattern text matches, in the order
// phiPatterns lists them; none when it matches none.
func phiKinds(text string) []string {
	var out []string
	for _, p := range phiPatterns {
		if p.re.MatchString(text) {
			out = append(out, p.kind)
		}
	}
	return out
}

// phiRefusal is the reason a text is refused, naming the kinds matched.
func phiRefusal(kinds []string) string {
	return "looks like it holds PHI (" + strings.Join(kinds, ", ") +
		"); stakeholders who may not see PHI read it: remove it, or ask the Privacy Officer to post it with the PHI check overridden"
}
