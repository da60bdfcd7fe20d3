package ui

import (
	"fmt"
	"strings"
)

// displayNames are the words people read for Ward's codes, where turning
// the code into a sentence ("low_probability_of_compromise" → "Low
// probability of compromise") is not enough. The label template function
// reads this table first: it is the one place that names codes.
var displayNames = map[string]string{
	// Determination outcomes (164.402).
	"pending":                       "Pending: breach presumed",
	"low_probability_of_compromise": "Not a breach: low probability of compromise",
	"not_breach_secured":            "Not a breach: the PHI was secured",
	"not_breach_exception":          "Not a breach: an exception applies",
	// How HHS is told (164.408).
	"immediate":  "Report to HHS now (500 or more)",
	"annual_log": "HHS annual log (fewer than 500)",
	// Notice kinds.
	"individual_letter": "Letter to an individual",
	"individual_email":  "Email to an individual",
	"substitute_web":    "Substitute notice on the web site",
	"media_release":     "Media release",
	"customer_notice":   "Notice to a customer (covered entity)",
	"state_ag":          "State attorney general",
	// Incident categories and breach-log sizes.
	"hacking_it_incident": "Hacking or IT incident",
	"500_or_more":         "500 or more",
	"fewer_than_500":      "Fewer than 500",
}

// label is the display name of a code: its entry in displayNames, or the
// code as a sentence.
func label(s any) string {
	code := fmt.Sprint(s)
	if n, ok := displayNames[code]; ok {
		return n
	}
	str := strings.ReplaceAll(code, "_", " ")
	if str == "" {
		return ""
	}
	return strings.ToUpper(str[:1]) + str[1:]
}

// plural is n with the singular or plural noun: "1 day", "3 days".
func plural(n int, one, many string) string {
	if n == 1 || n == -1 {
		return fmt.Sprintf("%d %s", n, one)
	}
	return fmt.Sprintf("%d %s", n, many)
}

// who is the name of an actor as the records keep it ("user:pat" → "pat").
func who(actor string) string {
	if _, name, ok := strings.Cut(actor, ":"); ok {
		return name
	}
	return actor
}
