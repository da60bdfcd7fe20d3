package notice

import (
	"math"
	"regexp"
	"strings"
	"unicode"

	"github.com/wardhq/ward/internal/breach/rules"
)

// A section is tagged with the element of 164.404(c)(1) it holds by a
// heading attribute: "## What happened {#what_happened}".
var headingRE = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*(?:\{#([a-z_]+)\})?\s*$`)

// contactFields maps the Contact merge fields to the contact methods of
// 164.404(c)(1)(E) they provide.
var contactFields = map[string]rules.ContactMethod{
	"Contact.TollFree":      rules.ContactTollFree,
	"Contact.Email":         rules.ContactEmail,
	"Contact.Website":       rules.ContactWebsite,
	"Contact.PostalAddress": rules.ContactPostal,
}

// Declared reads what a template body declares it contains, honestly: an
// element counts only if a heading tagged with it starts a section that
// has text of its own (not just the heading), and a contact method only if
// the contact_procedures section merges its field ({{.Contact.TollFree}},
// {{.Contact.Email}}, {{.Contact.Website}}, {{.Contact.PostalAddress}}).
func Declared(body string) rules.Template {
	type section struct {
		tag  string
		text strings.Builder
	}
	var secs []*section
	cur := &section{}
	for _, line := range strings.Split(body, "\n") {
		if m := headingRE.FindStringSubmatch(strings.TrimRight(line, "\r")); m != nil {
			secs = append(secs, cur)
			cur = &section{tag: m[3]}
			continue
		}
		cur.text.WriteString(line + "\n")
	}
	secs = append(secs, cur)
	var t rules.Template
	seen := map[string]bool{}
	for _, s := range secs {
		if s.tag == "" || !hasWords(s.text.String()) {
			continue
		}
		if !seen[s.tag] {
			seen[s.tag] = true
			t.Elements = append(t.Elements, rules.Element(s.tag))
		}
		if s.tag == string(rules.ElementContact) {
			for _, f := range usedFields(s.text.String()) {
				if m, ok := contactFields[f]; ok && !containsMethod(t.ContactMethods, m) {
					t.ContactMethods = append(t.ContactMethods, m)
				}
			}
		}
	}
	return t
}

func containsMethod(ms []rules.ContactMethod, m rules.ContactMethod) bool {
	for _, x := range ms {
		if x == m {
			return true
		}
	}
	return false
}

// hasWords reports whether s holds any letter outside merge actions, or a
// merge field: a section of only whitespace is not content.
func hasWords(s string) bool {
	if len(usedFields(s)) > 0 {
		return true
	}
	for _, r := range s {
		if unicode.IsLetter(r) {
			return true
		}
	}
	return false
}

// Check is what the checks found about a template.
type Check struct {
	// Declared is what the body holds (Declared).
	Declared rules.Template
	// Missing lists the required elements of 164.404(c)(1) it lacks, for
	// a kind that needs them (NeedsElements).
	Missing []rules.ElementSpec
	// Problem is why it cannot be approved, "" when it can.
	Problem string
	// Readability is of the body merged with sample data.
	Readability Readability
}

// CheckTemplate checks a template of kind for approval: it must hold every
// element of 164.404(c)(1)(A)-(E) if its kind needs them (rules.CheckTemplate).
// The body must already pass CheckFields.
func CheckTemplate(kind Kind, body string) Check {
	c := Check{Declared: Declared(body)}
	if NeedsElements(kind) {
		c.Missing = rules.MissingElements(c.Declared)
		if err := rules.CheckTemplate(c.Declared); err != nil {
			c.Problem = describe(err)
		}
	}
	if merged, err := Merge("body", body, sample()); err == nil {
		c.Readability = Measure(PlainText(merged))
	}
	return c
}

// Readability is the plain-language measure of a text.
type Readability struct {
	Words     int     `json:"words"`
	Sentences int     `json:"sentences"`
	Syllables int     `json:"syllables"`
	Grade     float64 `json:"grade" doc:"Flesch-Kincaid grade level; plain language aims at 8 or lower."`
	// Hint is set when the grade is above GoalGrade.
	Hint string `json:"hint,omitempty"`
}

// GoalGrade is the reading grade plain-language notices aim at or below
// (164.404(c)(2): "written in plain language").
const GoalGrade = 8.0

// Measure computes the Flesch-Kincaid grade level of text:
// 0.39 (words/sentences) + 11.8 (syllables/words) - 15.59.
func Measure(text string) Readability {
	var r Readability
	for _, sentence := range splitSentences(text) {
		words := 0
		for _, w := range strings.FieldsFunc(sentence, func(c rune) bool { return !unicode.IsLetter(c) && c != '\'' && !unicode.IsDigit(c) }) {
			if !hasLetter(w) {
				continue
			}
			words++
			r.Syllables += syllables(w)
		}
		if words > 0 {
			r.Words += words
			r.Sentences++
		}
	}
	if r.Words == 0 {
		return r
	}
	g := 0.39*float64(r.Words)/float64(r.Sentences) + 11.8*float64(r.Syllables)/float64(r.Words) - 15.59
	r.Grade = math.Round(g*10) / 10
	if r.Grade > GoalGrade {
		r.Hint = "Plain language (164.404(c)(2)) reads at grade 8 or lower: use shorter sentences and shorter words."
	}
	return r
}

func hasLetter(w string) bool {
	for _, c := range w {
		if unicode.IsLetter(c) {
			return true
		}
	}
	return false
}

// splitSentences splits at . ! ? and at line breaks between paragraphs,
// headings and list items, which end a sentence as well.
func splitSentences(text string) []string {
	var out []string
	var b strings.Builder
	rs := []rune(text)
	for i, c := range rs {
		end := c == '!' || c == '?' || c == '\n'
		if c == '.' {
			// "1.5", "example.org", "e.g." do not end a sentence.
			end = i+1 >= len(rs) || unicode.IsSpace(rs[i+1])
		}
		if end {
			out = append(out, b.String())
			b.Reset()
			continue
		}
		b.WriteRune(c)
	}
	return append(out, b.String())
}

// syllables estimates the syllables of an English word: groups of vowels,
// less a silent final e, at least one.
func syllables(w string) int {
	w = strings.ToLower(w)
	n, prev := 0, false
	for _, c := range w {
		v := strings.ContainsRune("aeiouy", c)
		if v && !prev {
			n++
		}
		prev = v
	}
	if strings.HasSuffix(w, "e") && !strings.HasSuffix(w, "le") && n > 1 {
		n--
	}
	if strings.HasSuffix(w, "es") || strings.HasSuffix(w, "ed") {
		if len(w) > 3 && !strings.ContainsRune("tds", rune(w[len(w)-3])) && n > 1 {
			n--
		}
	}
	return max(n, 1)
}
