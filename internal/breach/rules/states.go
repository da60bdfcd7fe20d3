package rules

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
)

// StateRecipient is who a State rule obliges the entity to notify.
type StateRecipient string

// The recipients of State rules.
const (
	StateIndividuals StateRecipient = "individuals"
	StateRegulator   StateRecipient = "regulator"
)

// Anchor is the event a State rule's term is counted from.
type Anchor string

// The anchors of State rules.
const (
	FromDiscovery        Anchor = "discovery"
	FromIndividualNotice Anchor = "individual_notice"
	FromHHSNotice        Anchor = "hhs_notice"
)

// StateRule is one versioned row of the State table: a deadline a State
// or jurisdiction sets, stricter than or in addition to HIPAA. Every row
// carries its citation; CounselToConfirm marks a default not yet confirmed
// by counsel (REGULATIONS.md section 4 ships all of them that way).
type StateRule struct {
	// ID names the rule across its versions, e.g. "CA-individuals".
	ID    string `json:"id"`
	State string `json:"state"`
	// Recipient: the affected residents, or a regulator named in Authority.
	Recipient StateRecipient `json:"recipient"`
	Authority string         `json:"authority,omitempty"`
	// AppliesTo, when set, limits the rule to entities whose Facts.Tags
	// hold it.
	AppliesTo string `json:"applies_to,omitempty"`
	Citation  string `json:"citation"`
	// EffectiveFrom (YYYY-MM-DD) is the first discovery date this version
	// governs; empty means every date. Of the versions of one ID, the
	// latest in effect on the discovery date applies.
	EffectiveFrom    string `json:"effective_from,omitempty"`
	CounselToConfirm bool   `json:"counsel_to_confirm"`
	// MinResidents: the rule applies when at least this many residents
	// of the State are affected ("more than 500" is 501).
	MinResidents int    `json:"min_residents"`
	Anchor       Anchor `json:"anchor"`
	// Term is counted from Anchor; nil means at the time of the anchor
	// notice itself.
	Term *Term  `json:"term,omitempty"`
	Note string `json:"note,omitempty"`
}

// StateTable is a versioned set of State rules.
type StateTable struct {
	Version string      `json:"version"`
	Source  string      `json:"source"`
	Rules   []StateRule `json:"rules"`
}

//go:embed states.json
var statesJSON []byte

// DefaultStates returns the State table Ward ships (states.json), drawn
// from REGULATIONS.md section 4 with every row marked counsel to confirm.
func DefaultStates() (StateTable, error) {
	return LoadStates(bytes.NewReader(statesJSON))
}

// LoadStates reads a State table in the JSON form of states.json and
// validates it.
func LoadStates(r io.Reader) (StateTable, error) {
	var t StateTable
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return StateTable{}, apperr.Field("states", "not a State table: %v", err)
	}
	return t, t.Validate()
}

// Validate reports every malformed row, naming it.
func (t StateTable) Validate() error {
	var fs []apperr.FieldError
	add := func(field, format string, args ...any) {
		fs = append(fs, apperr.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(t.Version) == "" {
		add("version", "is required")
	}
	seen := map[string]bool{}
	for i, r := range t.Rules {
		field := fmt.Sprintf("rules[%d]", i)
		if r.ID == "" {
			add(field+".id", "is required")
		}
		if seen[r.ID+"@"+r.EffectiveFrom] {
			add(field+".id", "%q has two versions effective from %q", r.ID, r.EffectiveFrom)
		}
		seen[r.ID+"@"+r.EffectiveFrom] = true
		if len(r.State) != 2 || strings.ToUpper(r.State) != r.State {
			add(field+".state", "%q is not a two-letter upper-case code", r.State)
		}
		switch r.Recipient {
		case StateIndividuals:
		case StateRegulator:
			if strings.TrimSpace(r.Authority) == "" {
				add(field+".authority", "a regulator rule must name the authority")
			}
		default:
			add(field+".recipient", "must be %q or %q, got %q", StateIndividuals, StateRegulator, r.Recipient)
		}
		if strings.TrimSpace(r.Citation) == "" {
			add(field+".citation", "every State rule carries its citation")
		}
		if r.EffectiveFrom != "" {
			if _, err := time.Parse(time.DateOnly, r.EffectiveFrom); err != nil {
				add(field+".effective_from", "%q is not a YYYY-MM-DD date", r.EffectiveFrom)
			}
		}
		if r.MinResidents < 1 {
			add(field+".min_residents", "must be at least 1, got %d", r.MinResidents)
		}
		switch r.Anchor {
		case FromDiscovery, FromIndividualNotice, FromHHSNotice:
		default:
			add(field+".anchor", "must be %q, %q or %q, got %q", FromDiscovery, FromIndividualNotice, FromHHSNotice, r.Anchor)
		}
		if r.Term == nil && r.Anchor == FromDiscovery {
			add(field+".term", "a rule counted from discovery needs a term")
		}
		if r.Term != nil {
			if err := r.Term.Validate(field + ".term"); err != nil {
				e, _ := apperr.As(err)
				fs = append(fs, e.Fields...)
			}
		}
	}
	if len(fs) == 0 {
		return nil
	}
	return &apperr.Error{Code: apperr.Invalid, Message: "the State table is malformed", Fields: fs}
}

// InEffect returns, for each rule ID, the version in effect on day (a
// YYYY-MM-DD date): the one with the latest EffectiveFrom not after day.
// IDs with no version in effect yet are left out. The result keeps the
// table's order.
func (t StateTable) InEffect(day string) []StateRule {
	best := map[string]int{}
	for i, r := range t.Rules {
		if r.EffectiveFrom > day {
			continue
		}
		if j, ok := best[r.ID]; !ok || t.Rules[j].EffectiveFrom < r.EffectiveFrom {
			best[r.ID] = i
		}
	}
	var out []StateRule
	for i, r := range t.Rules {
		if j, ok := best[r.ID]; ok && j == i {
			out = append(out, r)
		}
	}
	return out
}

// applies reports whether r binds an entity with tags whose breach
// affected residents of r's State.
func (r StateRule) applies(residents int, tags []string) bool {
	return residents >= r.MinResidents && (r.AppliesTo == "" || slices.Contains(tags, r.AppliesTo))
}
