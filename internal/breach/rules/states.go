package rules

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
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
	// StateCRA: the nationwide consumer reporting agencies.
	StateCRA StateRecipient = "consumer_reporting_agencies"
)

// Anchor is the event a State rule's term is counted from.
type Anchor string

// The anchors of State rules.
const (
	FromDiscovery        Anchor = "discovery"
	FromIndividualNotice Anchor = "individual_notice"
	FromHHSNotice        Anchor = "hhs_notice"
)

// HIPAATreatment is how a jurisdiction's breach law treats a HIPAA covered
// entity or business associate.
type HIPAATreatment string

// The treatments of HIPAA entities by State law.
const (
	// HIPAAExempt: the law does not bind a HIPAA entity.
	HIPAAExempt HIPAATreatment = "exempt"
	// HIPAADeemedCompliant: a HIPAA entity that follows HIPAA complies,
	// on conditions (commonly: it still notifies the Attorney General).
	HIPAADeemedCompliant HIPAATreatment = "deemed_compliant"
	// HIPAANotExempt: the law binds a HIPAA entity in full.
	HIPAANotExempt HIPAATreatment = "not_exempt"
)

// Jurisdiction is one jurisdiction's breach-notification law as the table
// reads it: its statute, where it was read and when, how it treats HIPAA
// entities, and what it requires beyond the rules (StateRule) that set
// dated deadlines. Every row is a reading for counsel to confirm.
type Jurisdiction struct {
	Code         string   `json:"code"`
	Name         string   `json:"name"`
	Citation     string   `json:"citation"`
	SourceURL    string   `json:"source_url"`
	SourceTitle  string   `json:"source_title,omitempty"`
	OtherSources []string `json:"other_sources,omitempty"`
	// Reviewed (YYYY-MM-DD) is when the sources were read.
	Reviewed         string         `json:"reviewed"`
	CounselToConfirm bool           `json:"counsel_to_confirm"`
	HIPAA            HIPAATreatment `json:"hipaa,omitempty"`
	HIPAACitation    string         `json:"hipaa_citation,omitempty"`
	HIPAANote        string         `json:"hipaa_note,omitempty"`
	// MedicalInformation: the law's personal information includes
	// medical or health information.
	MedicalInformation bool     `json:"medical_information"`
	MedicalNote        string   `json:"medical_note,omitempty"`
	IndividualDeadline string   `json:"individual_deadline,omitempty"`
	SubstituteNotice   string   `json:"substitute_notice,omitempty"`
	ContentRequired    []string `json:"content_required,omitempty"`
	ContentForbidden   []string `json:"content_forbidden,omitempty"`
	// NoStatute: the jurisdiction has no breach-notification statute;
	// Citation says what was searched, and it has no rules.
	NoStatute bool   `json:"no_statute,omitempty"`
	Note      string `json:"note,omitempty"`
}

// StateRule is one versioned row of the State table: a deadline a State
// or jurisdiction sets, stricter than or in addition to HIPAA. Every row
// carries its citation; CounselToConfirm marks a reading not yet confirmed
// by counsel.
type StateRule struct {
	// ID names the rule across its versions, e.g. "CA-individuals".
	ID    string `json:"id"`
	State string `json:"state"`
	// Recipient: the affected residents, a regulator named in Authority,
	// or the nationwide consumer reporting agencies.
	Recipient StateRecipient `json:"recipient"`
	Authority string         `json:"authority,omitempty"`
	// AppliesTo, when set, limits the rule to entities whose Facts.Tags
	// hold it.
	AppliesTo string `json:"applies_to,omitempty"`
	Citation  string `json:"citation"`
	SourceURL string `json:"source_url,omitempty"`
	// EffectiveFrom (YYYY-MM-DD) is the first discovery date this version
	// governs; empty means every date. Of the versions of one ID, the
	// latest in effect on the discovery date applies.
	EffectiveFrom    string `json:"effective_from,omitempty"`
	CounselToConfirm bool   `json:"counsel_to_confirm"`
	// HIPAAExempt: the rule does not bind a HIPAA covered entity or
	// business associate (the law exempts them, or deems them compliant,
	// for this notice).
	HIPAAExempt bool `json:"hipaa_exempt,omitempty"`
	// MinResidents: the rule applies when at least this many residents
	// of the State are affected ("more than 500" is 501).
	MinResidents int    `json:"min_residents"`
	Anchor       Anchor `json:"anchor"`
	// Term is counted from Anchor. Nil from discovery means "without
	// unreasonable delay", no fixed number of days; nil from a notice
	// means at the time of that notice.
	Term *Term  `json:"term,omitempty"`
	Note string `json:"note,omitempty"`
}

// StateTable is a versioned reading of every jurisdiction's breach law:
// one Jurisdiction row per jurisdiction and the rules that set deadlines.
type StateTable struct {
	Version       string         `json:"version"`
	Source        string         `json:"source"`
	Jurisdictions []Jurisdiction `json:"jurisdictions"`
	Rules         []StateRule    `json:"rules"`
}

//go:embed states.json
var statesJSON []byte

// DefaultStates returns the State table Ward ships (states.json): every
// jurisdiction's law as read from its statute and published summaries on
// the date each row names, every row for counsel to confirm
// (docs/BREACH_RULES.md lists them with their sources).
func DefaultStates() (StateTable, error) {
	return LoadStates(bytes.NewReader(statesJSON))
}

// LoadStates reads a State table in the JSON form of states.json and
// validates it, a missing jurisdiction included.
func LoadStates(r io.Reader) (StateTable, error) {
	var t StateTable
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&t); err != nil {
		return StateTable{}, apperr.Field("states", "not a State table: %v", err)
	}
	return t, t.Validate()
}

// Validate reports every malformed row, naming it, and every jurisdiction
// of JurisdictionCodes the table lacks: a table must say something of
// each, so that no State is silently absent.
func (t StateTable) Validate() error {
	fs := t.check()
	have := map[string]bool{}
	for _, j := range t.Jurisdictions {
		have[j.Code] = true
	}
	var missing []string
	for _, code := range JurisdictionCodes() {
		if !have[code] {
			missing = append(missing, code)
		}
	}
	if len(missing) > 0 {
		fs = append(fs, apperr.FieldError{Field: "jurisdictions", Message: fmt.Sprintf(
			"every jurisdiction needs a row; missing: %s", strings.Join(missing, ", "))})
	}
	return malformed(fs)
}

func malformed(fs []apperr.FieldError) error {
	if len(fs) == 0 {
		return nil
	}
	return &apperr.Error{Code: apperr.Invalid, Message: "the State table is malformed", Fields: fs}
}

func isDate(s string) bool {
	_, err := time.Parse(time.DateOnly, s)
	return err == nil
}

func isURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "https" || u.Scheme == "http") && u.Host != ""
}

// check reports the malformed rows of the table without asking that it
// covers every jurisdiction (RuleSets.Validate: a rule set under test may
// hold a few).
func (t StateTable) check() []apperr.FieldError {
	var fs []apperr.FieldError
	add := func(field, format string, args ...any) {
		fs = append(fs, apperr.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(t.Version) == "" {
		add("version", "is required")
	}
	juris := map[string]Jurisdiction{}
	for i, j := range t.Jurisdictions {
		field := fmt.Sprintf("jurisdictions[%d]", i)
		if _, ok := JurisdictionName(j.Code); !ok {
			add(field+".code", "%q is not a jurisdiction Ward knows (the 50 States, DC, PR, GU, VI, AS, MP)", j.Code)
		} else if _, dup := juris[j.Code]; dup {
			add(field+".code", "%q has two rows", j.Code)
		}
		juris[j.Code] = j
		if strings.TrimSpace(j.Name) == "" {
			add(field+".name", "is required")
		}
		if strings.TrimSpace(j.Citation) == "" {
			add(field+".citation", "every jurisdiction carries the citation of its breach statute (or says none was found)")
		}
		if !isURL(j.SourceURL) {
			add(field+".source_url", "the public source the row was read from is required, as an http(s) URL, got %q", j.SourceURL)
		}
		if !isDate(j.Reviewed) {
			add(field+".reviewed", "the date the sources were read is required, as YYYY-MM-DD, got %q", j.Reviewed)
		}
		switch j.HIPAA {
		case HIPAAExempt, HIPAADeemedCompliant, HIPAANotExempt:
		case "":
			if !j.NoStatute {
				add(field+".hipaa", "say how the law treats HIPAA entities: %q, %q or %q", HIPAAExempt, HIPAADeemedCompliant, HIPAANotExempt)
			}
		default:
			add(field+".hipaa", "must be %q, %q or %q, got %q", HIPAAExempt, HIPAADeemedCompliant, HIPAANotExempt, j.HIPAA)
		}
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
		if j, ok := juris[r.State]; !ok {
			add(field+".state", "%q has no jurisdiction row in the table", r.State)
		} else if j.NoStatute {
			add(field+".state", "%s has no breach statute (no_statute), so it has no rules", r.State)
		}
		switch r.Recipient {
		case StateIndividuals, StateCRA:
		case StateRegulator:
			if strings.TrimSpace(r.Authority) == "" {
				add(field+".authority", "a regulator rule must name the authority")
			}
		default:
			add(field+".recipient", "must be %q, %q or %q, got %q", StateIndividuals, StateRegulator, StateCRA, r.Recipient)
		}
		if strings.TrimSpace(r.Citation) == "" {
			add(field+".citation", "every State rule carries its citation")
		}
		if r.SourceURL != "" && !isURL(r.SourceURL) {
			add(field+".source_url", "must be an http(s) URL, got %q", r.SourceURL)
		}
		if r.AppliesTo != "" {
			if _, ok := TagLabel(r.AppliesTo); !ok {
				add(field+".applies_to", "%q is not a case tag Ward knows", r.AppliesTo)
			}
		}
		if r.EffectiveFrom != "" && !isDate(r.EffectiveFrom) {
			add(field+".effective_from", "%q is not a YYYY-MM-DD date", r.EffectiveFrom)
		}
		if r.MinResidents < 1 {
			add(field+".min_residents", "must be at least 1, got %d", r.MinResidents)
		}
		switch r.Anchor {
		case FromDiscovery, FromIndividualNotice, FromHHSNotice:
		default:
			add(field+".anchor", "must be %q, %q or %q, got %q", FromDiscovery, FromIndividualNotice, FromHHSNotice, r.Anchor)
		}
		if r.Term != nil {
			if err := r.Term.Validate(field + ".term"); err != nil {
				e, _ := apperr.As(err)
				fs = append(fs, e.Fields...)
			}
		}
	}
	return fs
}

// Jurisdiction returns the table's row for code.
func (t StateTable) Jurisdiction(code string) (Jurisdiction, bool) {
	for _, j := range t.Jurisdictions {
		if j.Code == code {
			return j, true
		}
	}
	return Jurisdiction{}, false
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

// Upgrade returns t in the present form: a table saved before tables had
// jurisdiction rows (rules only, for a few States) takes shipped's
// jurisdictions, and shipped's rules for every jurisdiction it had no rule
// for, so an administrator's edited rows keep working and no jurisdiction
// is left out. A present-form table is returned as it is.
func (t StateTable) Upgrade(shipped StateTable) StateTable {
	if len(t.Jurisdictions) > 0 {
		return t
	}
	edited := map[string]bool{}
	for _, r := range t.Rules {
		edited[r.State] = true
	}
	out := StateTable{Version: t.Version, Source: t.Source, Jurisdictions: shipped.Jurisdictions}
	for _, r := range shipped.Rules {
		if !edited[r.State] {
			out.Rules = append(out.Rules, r)
		}
	}
	for _, r := range t.Rules {
		if _, ok := shipped.Jurisdiction(r.State); ok {
			out.Rules = append(out.Rules, r)
		}
	}
	return out
}

// binds reports whether r binds an entity with tags, a HIPAA covered entity
// or business associate when hipaa, whose breach affected residents of r's
// State, and if not, why not.
func (r StateRule) binds(residents int, tags []string, hipaa bool) (bool, string) {
	switch {
	case r.AppliesTo != "" && !slices.Contains(tags, r.AppliesTo):
		label, _ := TagLabel(r.AppliesTo)
		return false, "applies only to " + label
	case hipaa && r.HIPAAExempt:
		return false, "does not bind a HIPAA covered entity or business associate"
	case residents < r.MinResidents:
		return false, fmt.Sprintf("owed at %d or more residents; %d affected", r.MinResidents, residents)
	}
	return true, ""
}
