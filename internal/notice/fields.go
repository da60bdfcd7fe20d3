// Package notice writes, approves, generates, sends and tracks the notices
// a breach case owes (45 CFR 164.404-410): templates in Markdown with merge
// fields, individual letters as PDF batches for a print-and-mail vendor
// with their mailing list, emails to individuals who agreed to electronic
// notice, the media release per State, the covered-entity customer notice
// with its list of individuals and the State attorney general notice;
// every notice's delivery, returned mail and the substitute notice those
// returns oblige. See docs/NOTICES.md.
package notice

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"text/template"
	tparse "text/template/parse"

	"github.com/wardhq/ward/internal/apperr"
)

// Kind is a kind of notice; each has its own templates.
type Kind string

// The notice kinds.
const (
	KindIndividualLetter Kind = "individual_letter" // first-class mail, 164.404(d)(1)(i)
	KindIndividualEmail  Kind = "individual_email"  // electronic mail, if the individual agreed, 164.404(d)(1)(i)
	KindSubstituteWeb    Kind = "substitute_web"    // conspicuous web posting, 164.404(d)(2)(ii)(A)
	KindMediaRelease     Kind = "media_release"     // prominent media outlets of a State, 164.406
	KindCustomerNotice   Kind = "customer_notice"   // a covered-entity customer, as its business associate, 164.410
	KindStateAG          Kind = "state_ag"          // a State attorney general or regulator, State law
)

// Kinds lists every kind.
var Kinds = []Kind{KindIndividualLetter, KindIndividualEmail, KindSubstituteWeb, KindMediaRelease, KindCustomerNotice, KindStateAG}

// ValidKind reports whether k is a known kind.
func ValidKind(k Kind) bool {
	for _, x := range Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// NeedsElements reports whether a notice of kind k must hold the elements
// of 164.404(c)(1)(A)-(E): the notices to individuals (164.404(c)), their
// substitute (164.404(d)(2)) and the media notice, whose content is that of
// 164.404(c) (164.406(c)).
func NeedsElements(k Kind) bool {
	return k == KindIndividualLetter || k == KindIndividualEmail || k == KindSubstituteWeb || k == KindMediaRelease
}

// Data is everything a template may merge: the fixed, documented field
// set (docs/NOTICES.md). A template naming any other field is refused when
// saved.
type Data struct {
	Entity     Entity
	Contact    Contact
	Breach     Breach
	Individual Individual // the addressee of an individual notice; empty otherwise
	Recipient  Recipient  // the addressee of a media, customer or State notice; empty otherwise
	Date       string     // the notice's date, e.g. "May 6, 2026"
}

// Entity is who gives the notice.
type Entity struct {
	Name        string
	Address     string // postal address, one line per line
	SignerName  string
	SignerTitle string
}

// Contact is how individuals ask questions (164.404(c)(1)(E)).
type Contact struct {
	TollFree      string // toll-free telephone number
	Email         string
	Website       string
	PostalAddress string
}

// Breach is what the notice says happened.
type Breach struct {
	IncidentNumber string
	OccurredOn     string // the date of the breach, if known
	DiscoveredOn   string // the date of discovery (164.404(a)(2))
	WhatHappened   string // 164.404(c)(1)(A)
	PHIInvolved    string // 164.404(c)(1)(B)
	StepsToTake    string // 164.404(c)(1)(C)
	WhatWeAreDoing string // 164.404(c)(1)(D)
	Individuals    int    // affected in total
}

// Individual is the addressee of an individual notice. For a deceased
// individual the letter goes to the next of kin or personal representative
// (164.404(d)(1)(ii)): Name is theirs and Regarding the individual's.
type Individual struct {
	Name       string
	Regarding  string // the deceased individual the letter is about; empty otherwise
	Address1   string
	Address2   string
	City       string
	State      string
	PostalCode string
	Email      string
}

// Recipient is the addressee of a notice that is not to an individual.
type Recipient struct {
	Name        string // the outlet, customer or authority
	State       string // the State of a media or attorney general notice
	Residents   int    // affected residents of that State
	Individuals int    // for a customer: its individuals affected
}

// sample is the data a template is checked and previewed with.
func sample() Data {
	return Data{
		Entity: Entity{Name: "Example Health", Address: "100 Main Street\nSpringfield, IL 62701", SignerName: "Pat Morgan",
			SignerTitle: "Privacy Officer"},
		Contact: Contact{TollFree: "1-800-555-0100", Email: "privacy@example.org", Website: "https://example.org/notice",
			PostalAddress: "Privacy Office, 100 Main Street, Springfield, IL 62701"},
		Breach: Breach{IncidentNumber: "INC-1", OccurredOn: "April 2, 2026", DiscoveredOn: "April 5, 2026",
			WhatHappened:   "A staff laptop was stolen from a car. The files on it were not encrypted.",
			PHIInvolved:    "your name, address, date of birth and the dates of your visits",
			StepsToTake:    "Watch the statements you get from your health plan. Call us if you see care you did not get.",
			WhatWeAreDoing: "We told the police. We now encrypt every laptop and we trained our staff again.",
			Individuals:    1200},
		Individual: Individual{Name: "Jordan Example", Address1: "1 Oak Lane", City: "Fresno", State: "CA", PostalCode: "93701",
			Email: "jordan@example.com"},
		Recipient: Recipient{Name: "Example County Gazette", State: "CA", Residents: 700, Individuals: 1200},
		Date:      "May 6, 2026",
	}
}

// fieldRE finds the merge fields a template names, e.g. {{.Contact.TollFree}}.
var fieldRE = regexp.MustCompile(`\.(Entity|Contact|Breach|Individual|Recipient|Date)(?:\.([A-Za-z]+))?`)

// A template runs in bounded time and space: it cannot loop (range),
// call another template (define, template, block) or build text with a
// function (printf, html, ...), so running one costs at most its length
// times the largest field, and what it writes is capped at maxMerged.
// Checking or previewing a hostile template cannot hold the server.
const maxMerged = 1 << 20

// templateFuncs are the functions a template may call: tests and lookups
// that build no text.
var templateFuncs = map[string]bool{"and": true, "or": true, "not": true, "eq": true, "ne": true, "lt": true, "le": true,
	"gt": true, "ge": true, "len": true, "index": true}

// parse compiles a template body; missing map keys and unknown fields are
// errors, and so is anything that could make it run without bound.
func parse(name, body string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=error").Parse(body)
	if err != nil {
		return nil, err
	}
	for _, x := range t.Templates() {
		if x.Name() != name {
			return nil, fmt.Errorf("template: %s: define and block are not supported; a notice is one template", name)
		}
	}
	if t.Tree == nil {
		return t, nil
	}
	if n, what := unbounded(t.Tree.Root); n != nil {
		loc, _ := t.ErrorContext(n)
		return nil, fmt.Errorf("template: %s: %s is not supported in a notice", loc, what)
	}
	return t, nil
}

// unbounded finds the first node under n that parse refuses, and names it.
func unbounded(n tparse.Node) (tparse.Node, string) {
	switch x := n.(type) {
	case *tparse.ListNode:
		if x == nil {
			return nil, ""
		}
		for _, c := range x.Nodes {
			if bad, what := unbounded(c); bad != nil {
				return bad, what
			}
		}
	case *tparse.ActionNode:
		return unbounded(x.Pipe)
	case *tparse.IfNode:
		return unboundedBranch(&x.BranchNode)
	case *tparse.WithNode:
		return unboundedBranch(&x.BranchNode)
	case *tparse.RangeNode:
		return x, "{{range}}"
	case *tparse.TemplateNode:
		return x, "{{template}}"
	case *tparse.PipeNode:
		if x == nil {
			return nil, ""
		}
		for _, c := range x.Cmds {
			for _, a := range c.Args {
				if bad, what := unbounded(a); bad != nil {
					return bad, what
				}
			}
		}
	case *tparse.ChainNode:
		return unbounded(x.Node)
	case *tparse.IdentifierNode:
		if !templateFuncs[x.Ident] {
			return x, "the function " + x.Ident
		}
	}
	return nil, ""
}

func unboundedBranch(b *tparse.BranchNode) (tparse.Node, string) {
	for _, n := range []tparse.Node{b.Pipe, b.List, b.ElseList} {
		if bad, what := unbounded(n); bad != nil {
			return bad, what
		}
	}
	return nil, ""
}

// cappedBuffer is a buffer that refuses to grow past maxMerged.
type cappedBuffer struct{ bytes.Buffer }

var errTooLong = errors.New("the merged text is over 1 MiB")

func (b *cappedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > maxMerged {
		return 0, errTooLong
	}
	return b.Buffer.Write(p)
}

// CheckFields parses body as a text/template and runs it on sample data,
// so a syntax error or a field outside the fixed set (Data) is refused with
// a message naming it. field is the request field reported ("body",
// "subject").
func CheckFields(field, body string) error {
	t, err := parse(field, body)
	if err != nil {
		return apperr.Field(field, "%s", cleanTemplateError(err))
	}
	if err := t.Execute(&cappedBuffer{}, sample()); err != nil {
		return apperr.Field(field, "%s: use the merge fields Ward fills in, such as {{.Entity.Name}}, {{.Individual.Name}}, {{.Breach.DiscoveredOn}} or {{.Contact.TollFree}}",
			cleanTemplateError(err))
	}
	return nil
}

// cleanTemplateError drops the package's prefix from a template error.
func cleanTemplateError(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "template: ")
	return s
}

// Merge executes body with d.
func Merge(name, body string, d Data) (string, error) {
	t, err := parse(name, body)
	if err != nil {
		return "", err
	}
	var b cappedBuffer
	if err := t.Execute(&b, d); err != nil {
		return "", fmt.Errorf("merge %s: %w", name, err)
	}
	return b.String(), nil
}

// usedFields lists the "Group.Field" names body merges.
func usedFields(body string) []string {
	var out []string
	for _, m := range fieldRE.FindAllStringSubmatch(body, -1) {
		f := m[1]
		if m[2] != "" {
			f += "." + m[2]
		}
		out = append(out, f)
	}
	return out
}

// kindName is a kind in plain words, for messages and the timeline.
func kindName(k Kind) string {
	switch k {
	case KindIndividualLetter:
		return "letters to individuals"
	case KindIndividualEmail:
		return "email notices to individuals"
	case KindSubstituteWeb:
		return "substitute web notice"
	case KindMediaRelease:
		return "media notices"
	case KindCustomerNotice:
		return "notices to covered-entity customers"
	case KindStateAG:
		return "notices to State regulators"
	}
	return string(k)
}
