package rules

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
)

// RuleSets are the rules Compute applies: the federal HIPAA rule set, the
// FTC Health Breach Notification Rule for a PHRVendor, the State table, and how a deadline is reckoned after a law-enforcement delay.
type RuleSets struct {
	HIPAA      Federal
	FTC        FTC
	States     StateTable
	AfterDelay AfterDelay
}

// DefaultRuleSets returns HIPAA, FTCHBNR, the shipped State table and
// DueWhenDelayEnds (REGULATIONS.md section 3's default, counsel to confirm).
func DefaultRuleSets() (RuleSets, error) {
	st, err := DefaultStates()
	if err != nil {
		return RuleSets{}, err
	}
	return RuleSets{HIPAA: HIPAA(), FTC: FTCHBNR(), States: st, AfterDelay: DueWhenDelayEnds}, nil
}

// Validate reports what is wrong with the rule sets: a malformed State
// table, an unknown AfterDelay policy or a federal value that is not
// positive.
func (rs RuleSets) Validate() error {
	if err := malformed(rs.States.check()); err != nil {
		return err
	}
	switch rs.AfterDelay {
	case DueWhenDelayEnds, ClockPaused:
	default:
		return apperr.Field("after_delay", "must be %q or %q, got %q", DueWhenDelayEnds, ClockPaused, rs.AfterDelay)
	}
	h := rs.HIPAA
	if min(h.IndividualDays, h.MediaMoreThan, h.MediaDays, h.HHSImmediateAtLeast, h.HHSAnnualDays, h.BusinessAssociateDays) <= 0 {
		return apperr.Field("hipaa", "every federal threshold and deadline must be positive: %+v", h)
	}
	if ftc := rs.FTC; min(ftc.IndividualDays, ftc.NotifyFTCAtLeast, ftc.FTCDays) <= 0 {
		return apperr.Field("ftc", "every FTC threshold and deadline must be positive: %+v", ftc)
	}
	return nil
}

// Obligations validates facts and rs, then returns Compute's result; use it
// where invalid input must be reported rather than yield no obligations.
func Obligations(facts Facts, rs RuleSets, asOf time.Time) ([]Obligation, error) {
	if err := facts.Validate(); err != nil {
		return nil, err
	}
	if err := rs.Validate(); err != nil {
		return nil, err
	}
	return Compute(facts, rs, asOf), nil
}

// Recipient is the class of recipient an obligation is owed to.
type Recipient string

// The recipient classes.
const (
	ToIndividuals   Recipient = "individuals"    // 45 CFR 164.404
	ToMedia         Recipient = "media"          // 45 CFR 164.406, one per State
	ToHHS           Recipient = "hhs"            // 45 CFR 164.408
	ToCoveredEntity Recipient = "covered_entity" // 45 CFR 164.410, one per customer
	ToRegulator     Recipient = "state_regulator"
	ToCRA           Recipient = "consumer_reporting_agencies" // State law, one per State
	ToFTC           Recipient = "ftc"                         // 16 CFR 318, for a PHRVendor
)

// HHSMode is how the Secretary is notified.
type HHSMode string

// The two ways of 164.408.
const (
	HHSImmediate HHSMode = "immediate"  // 164.408(b): 500 or more individuals
	HHSAnnualLog HHSMode = "annual_log" // 164.408(c): fewer than 500
)

// Status is where an obligation's deadline stands at the asOf time given to
// Compute. Whether the notice went out is the breach case's to record.
type Status string

// The statuses of a deadline.
const (
	StatusOpen    Status = "open"    // before the deadline
	StatusHeld    Status = "held"    // a law-enforcement delay holds notices now (164.412)
	StatusOverdue Status = "overdue" // the deadline has passed
)

// Deadline is one rule's deadline for an obligation.
type Deadline struct {
	Due      time.Time `json:"due"`
	Citation string    `json:"citation"`
	// SourceURL is where a State rule was read.
	SourceURL string `json:"source_url,omitempty"`
	Why       string `json:"why"`
	// From says what the term counts from: discovery, or a notice (made on
	// a date, or not yet made and counted from its deadline).
	From             string `json:"from,omitempty"`
	CounselToConfirm bool   `json:"counsel_to_confirm,omitempty"`
	// RuleID names the State rule, when the deadline comes from one.
	RuleID string `json:"rule_id,omitempty"`
}

// Law is what a jurisdiction's breach law says of one recipient group: the
// reading of the State table, with its statute and source, and a sentence
// for people.
type Law struct {
	Name             string         `json:"name"`
	Citation         string         `json:"citation"`
	SourceURL        string         `json:"source_url,omitempty"`
	Reviewed         string         `json:"reviewed,omitempty"`
	HIPAA            HIPAATreatment `json:"hipaa,omitempty"`
	NoStatute        bool           `json:"no_statute,omitempty"`
	CounselToConfirm bool           `json:"counsel_to_confirm,omitempty"`
	// Summary says what the law requires of this breach, or why it
	// requires nothing beyond the federal rule.
	Summary string `json:"summary"`
	// NotOwed lists the State notices considered and not owed, each with
	// why and its citation.
	NotOwed []string `json:"not_owed,omitempty"`
}

// Obligation is a notice owed to one recipient, due at the earliest of the
// deadlines that apply to it.
type Obligation struct {
	// Key identifies the obligation within a breach: "individuals:CA"
	// (the residents of a State), "individuals" (those whose State is not
	// known), "media:CA", "hhs", "ftc", "covered_entity:<customer id>",
	// "state_regulator:<rule id>", "consumer_reporting_agencies:CA".
	Key          string    `json:"key"`
	Recipient    Recipient `json:"recipient"`
	Jurisdiction string    `json:"jurisdiction,omitempty"`
	// Count is how many individuals the obligation is about: the group's,
	// or the State's residents affected.
	Count int `json:"count,omitempty"`
	// Law is the State law's reading for a State's group.
	Law          *Law    `json:"law,omitempty"`
	Authority    string  `json:"authority,omitempty"`
	CustomerID   string  `json:"customer_id,omitempty"`
	CustomerName string  `json:"customer_name,omitempty"`
	HHSMode      HHSMode `json:"hhs_mode,omitempty"`
	// Due, Citation and CounselToConfirm are those of the earliest
	// deadline (Deadlines[0]).
	Due              time.Time `json:"due"`
	Citation         string    `json:"citation"`
	CounselToConfirm bool      `json:"counsel_to_confirm,omitempty"`
	// Why says why the obligation applies and which deadline controls.
	Why string `json:"why"`
	// Deadlines are every applicable deadline, earliest first.
	Deadlines []Deadline `json:"deadlines"`
	// Hold is the law-enforcement delay that holds this notice, if any.
	Hold   *Period `json:"hold,omitempty"`
	Status Status  `json:"status"`
	// DueWithoutHold is when the notice would be due had no
	// law-enforcement delay been recorded; set only when the delay moved
	// Due (164.412).
	DueWithoutHold *time.Time `json:"due_without_hold,omitempty"`
}

// Compute returns the notices a breach obliges, each due at the earliest
// applicable deadline, in the order: individuals, media by State, HHS (or
// the FTC), State regulators by State, then covered-entity customers as
// listed. facts must pass Facts.Validate and rs RuleSets.Validate; Compute
// returns nil for input that does not (Obligations reports the problem
// instead) and when no notification is required. asOf only sets each
// obligation's Status.
//
// A covered entity (or Both) owes individual, media and HHS notice and the
// State rules; a business associate (or Both) owes each customer notice; a
// PHRVendor owes individual and FTC notice (16 CFR 318) and the State rules
// not counted from an HHS notice. A law-enforcement delay (164.412) moves
// every deadline counted from discovery as rs.AfterDelay says; deadlines
// counted from another notice follow that notice's date.
func Compute(facts Facts, rs RuleSets, asOf time.Time) []Obligation {
	if !facts.NotificationRequired || facts.Validate() != nil || rs.Validate() != nil {
		return nil
	}
	start, _ := facts.ClockStart()
	c := computation{facts: facts, rs: rs, start: start, loc: zone(facts.Location)}
	if facts.Delay != nil {
		c.holds = facts.Delay.Periods(facts.Location)
	}
	var out []Obligation
	if facts.Role == CoveredEntity || facts.Role == Both {
		out = append(out, c.coveredEntity()...)
	}
	if facts.Role == BusinessAssociate || facts.Role == Both {
		out = append(out, c.customers()...)
	}
	if facts.Role == PHRVendor {
		out = append(out, c.phrVendor()...)
	}
	for i := range out {
		out[i].finish(c.start, c.holds, asOf)
	}
	if facts.Delay != nil {
		setDueWithoutHold(out, facts, rs, asOf)
	}
	return out
}

type computation struct {
	facts Facts
	rs    RuleSets
	start time.Time
	loc   *time.Location
	holds []Period
}

// fromDiscovery is the deadline term after discovery, moved by any
// law-enforcement delay (164.412).
func (c computation) fromDiscovery(t Term) time.Time {
	return delayed(t.DueFrom(c.start, c.loc), c.start, c.holds, c.rs.AfterDelay)
}

func calendarDays(n int) Term { return Term{Amount: n, Unit: Days} }

// hipaa reports whether the entity is a HIPAA covered entity or business
// associate, whom some State laws exempt (StateRule.HIPAAExempt).
func (c computation) hipaa() bool { return c.facts.Role != PHRVendor }

func (c computation) coveredEntity() []Obligation {
	f, fed := c.facts, c.rs.HIPAA
	base := Deadline{Due: c.fromDiscovery(calendarDays(fed.IndividualDays)), Citation: "45 CFR 164.404(b)", From: "discovery",
		Why: fmt.Sprintf("without unreasonable delay and no later than %d calendar days after discovery", fed.IndividualDays)}
	groups := c.individuals("a breach of unsecured PHI; each must be notified (45 CFR 164.404(a))", base)
	out := append([]Obligation{}, groups...)

	for _, st := range sortedStates(f.ByState) {
		if n := f.ByState[st]; n > fed.MediaMoreThan {
			m := Obligation{Key: string(ToMedia) + ":" + st, Recipient: ToMedia, Jurisdiction: st, Count: n,
				Why: fmt.Sprintf("%d residents of %s affected, more than %d: notice to prominent media outlets serving it (45 CFR 164.406(a))", n, name(st), fed.MediaMoreThan),
				Deadlines: []Deadline{{Due: c.fromDiscovery(calendarDays(fed.MediaDays)), Citation: "45 CFR 164.406(b)", From: "discovery",
					Why: fmt.Sprintf("without unreasonable delay and no later than %d calendar days after discovery", fed.MediaDays)}}}
			m.pickEarliest()
			out = append(out, m)
		}
	}

	hhs := Obligation{Key: string(ToHHS), Recipient: ToHHS, Count: f.Individuals}
	if f.Individuals >= fed.HHSImmediateAtLeast {
		// 164.408(b) ties the Secretary's notice to the federal limit of
		// 164.404(b): a State law governs notice to its residents, never
		// to the Secretary, so a shorter State deadline does not move it.
		hhs.HHSMode = HHSImmediate
		hhs.Why = fmt.Sprintf("%d individuals affected, %d or more: notice to the Secretary (45 CFR 164.408(a))", f.Individuals, fed.HHSImmediateAtLeast)
		hhs.Deadlines = []Deadline{{Due: base.Due, Citation: "45 CFR 164.408(b)", From: "discovery",
			Why: fmt.Sprintf("contemporaneously with the notice to individuals, and no later than %d calendar days after discovery (164.404(b))", fed.IndividualDays)}}
	} else {
		hhs.HHSMode = HHSAnnualLog
		year := c.start.In(c.loc).Year()
		yearEnd := time.Date(year, time.December, 31, 12, 0, 0, 0, c.loc)
		hhs.Why = fmt.Sprintf("%d individuals affected, fewer than %d: logged and reported to the Secretary for %d (45 CFR 164.408(c))", f.Individuals, fed.HHSImmediateAtLeast, year)
		hhs.Deadlines = []Deadline{{Due: delayed(calendarDays(fed.HHSAnnualDays).DueFrom(yearEnd, c.loc), c.start, c.holds, c.rs.AfterDelay),
			Citation: "45 CFR 164.408(c)", From: fmt.Sprintf("the end of %d", year),
			Why: fmt.Sprintf("no later than %d days after the end of calendar year %d, the year of discovery", fed.HHSAnnualDays, year)}}
	}
	hhs.pickEarliest()
	out = append(out, hhs)
	return append(out, c.regulators(groups, &hhs)...)
}

// phrVendor is the FTC rule set: a vendor of personal health records outside
// HIPAA notifies individuals and, at 500 or more, the FTC (16 CFR 318).
func (c computation) phrVendor() []Obligation {
	f, ftc := c.facts, c.rs.FTC
	groups := c.individuals("a breach of security of personal health records (16 CFR 318)",
		Deadline{Due: c.fromDiscovery(calendarDays(ftc.IndividualDays)), Citation: "16 CFR 318 (as amended 2024)", From: "discovery",
			Why: fmt.Sprintf("no later than %d calendar days after discovery", ftc.IndividualDays)})
	out := append([]Obligation{}, groups...)
	if f.Individuals >= ftc.NotifyFTCAtLeast {
		o := Obligation{Key: string(ToFTC), Recipient: ToFTC, Count: f.Individuals,
			Why: fmt.Sprintf("%d individuals affected, %d or more: notice to the Federal Trade Commission (16 CFR 318)", f.Individuals, ftc.NotifyFTCAtLeast),
			Deadlines: []Deadline{{Due: c.fromDiscovery(calendarDays(ftc.FTCDays)), Citation: "16 CFR 318 (as amended 2024)", From: "discovery",
				Why: fmt.Sprintf("no later than %d calendar days after discovery", ftc.FTCDays)}}}
		o.pickEarliest()
		out = append(out, o)
	}
	return append(out, c.regulators(groups, nil)...)
}

// rulesInEffect are the State rules in effect on the discovery date.
func (c computation) rulesInEffect() []StateRule {
	return c.rs.States.InEffect(c.start.In(c.loc).Format(time.DateOnly))
}

// name is the name of jurisdiction code, or the code itself.
func name(code string) string {
	if n, ok := JurisdictionName(code); ok {
		return n
	}
	return code
}

// IndividualsKey is the key of the individual notice owed to the residents
// of jurisdiction code; IndividualsKey("") is that of the individuals whose
// State of residence is not known.
func IndividualsKey(code string) string {
	if code == "" {
		return string(ToIndividuals)
	}
	return string(ToIndividuals) + ":" + code
}

// individuals is the individual notice, one obligation per recipient
// group: the residents of each State (the federal deadline base and every
// State rule that binds the entity for them), then the individuals whose
// State is not known (base alone). what says what they were affected by.
func (c computation) individuals(what string, base Deadline) []Obligation {
	f := c.facts
	var out []Obligation
	known := 0
	for _, st := range sortedStates(f.ByState) {
		n := f.ByState[st]
		if n <= 0 {
			continue
		}
		known += n
		out = append(out, c.stateGroup(st, n, what, base))
	}
	if unknown := f.Individuals - known; unknown > 0 || len(out) == 0 {
		o := Obligation{Key: IndividualsKey(""), Recipient: ToIndividuals, Count: unknown, Deadlines: []Deadline{base},
			Why: fmt.Sprintf("%d individuals whose State of residence is not recorded, affected by %s", unknown, what)}
		o.pickEarliest()
		out = append([]Obligation{o}, out...)
	}
	return out
}

// stateGroup is the individual notice owed to the n residents of st: the
// federal base, and every individual-notice rule of st that binds the
// entity; Law says what st's law requires of it, or why nothing.
func (c computation) stateGroup(st string, n int, what string, base Deadline) Obligation {
	o := Obligation{Key: IndividualsKey(st), Recipient: ToIndividuals, Jurisdiction: st, Count: n, Deadlines: []Deadline{base},
		Why: fmt.Sprintf("%d residents of %s affected by %s", n, name(st), what)}
	j, ok := c.rs.States.Jurisdiction(st)
	law := &Law{Name: name(st), Citation: j.Citation, SourceURL: j.SourceURL, Reviewed: j.Reviewed, HIPAA: j.HIPAA,
		NoStatute: j.NoStatute, CounselToConfirm: j.CounselToConfirm}
	o.Law = law
	var said []string
	switch {
	case !ok:
		law.Summary = fmt.Sprintf("The State table has no reading of %s's law: only the federal deadline is applied.", name(st))
	case j.NoStatute:
		law.Summary = fmt.Sprintf("%s has no breach-notification statute (%s): the federal deadline governs.", name(st), j.Citation)
	}
	for _, r := range c.rulesInEffect() {
		if r.State != st || r.Recipient != StateIndividuals {
			continue
		}
		if ok, whyNot := r.binds(n, c.facts.Tags, c.hipaa()); !ok {
			law.NotOwed = append(law.NotOwed, fmt.Sprintf("%s law's notice to residents: not owed, it %s (%s)", name(st), whyNot, r.Citation))
			if r.HIPAAExempt && c.hipaa() {
				said = append(said, fmt.Sprintf("%s law sets no deadline of its own for a HIPAA covered entity or business associate (%s%s): the federal deadline governs",
					name(st), cite(j.HIPAACitation, r.Citation), note(j.HIPAANote)))
			}
			continue
		}
		if r.Term == nil {
			said = append(said, fmt.Sprintf("%s law asks for notice without unreasonable delay and sets no number of days (%s): the federal outer limit governs",
				name(st), r.Citation))
			continue
		}
		d := c.stateDeadline(r, time.Time{}, "")
		o.Deadlines = append(o.Deadlines, d)
		said = append(said, fmt.Sprintf("%s law: notice to residents %s after discovery (%s)", name(st), r.Term, r.Citation))
	}
	if law.Summary == "" {
		if len(said) == 0 {
			said = append(said, fmt.Sprintf("%s law sets no notice to residents for this breach (%s): the federal deadline governs", name(st), j.Citation))
		}
		law.Summary = strings.Join(said, "; ") + "."
	}
	o.pickEarliest()
	return o
}

func cite(first, fallback string) string {
	if first != "" {
		return first
	}
	return fallback
}

func note(n string) string {
	if n == "" {
		return ""
	}
	return ": " + n
}

// regulators are the State regulator and consumer reporting agency
// notices, one per State and authority, sorted by State. groups are the
// individual notices (a State's rules counted from the notice to its
// residents count from its group); hhs is the notice to the Secretary, nil
// when none is owed, which leaves out the rules counted from it. Rules that
// do not bind are listed in the State group's Law.NotOwed.
func (c computation) regulators(groups []Obligation, hhs *Obligation) []Obligation {
	f := c.facts
	byState := map[string]*Obligation{}
	for i := range groups {
		if groups[i].Jurisdiction != "" {
			byState[groups[i].Jurisdiction] = &groups[i]
		}
	}
	byKey := map[string]*Obligation{}
	var keys []string
	for _, r := range c.rulesInEffect() {
		n := f.ByState[r.State]
		group := byState[r.State]
		if r.Recipient == StateIndividuals || n <= 0 || group == nil {
			continue
		}
		who := r.Authority
		if r.Recipient == StateCRA {
			who = "the nationwide consumer reporting agencies"
		}
		if ok, whyNot := r.binds(n, f.Tags, c.hipaa()); !ok {
			group.Law.NotOwed = append(group.Law.NotOwed, fmt.Sprintf("notice to %s: not owed, it %s (%s)", who, whyNot, r.Citation))
			continue
		}
		var anchorAt time.Time
		var from string
		switch r.Anchor {
		case FromHHSNotice:
			if hhs == nil {
				group.Law.NotOwed = append(group.Law.NotOwed, fmt.Sprintf("notice to %s: not owed, it counts from a notice to HHS, which is not owed (%s)", who, r.Citation))
				continue
			}
			anchorAt, from = c.anchor(hhs, "the notice to HHS")
		case FromIndividualNotice:
			anchorAt, from = c.anchor(group, "the notice to "+name(r.State)+" residents")
		default:
			if r.Term == nil {
				// Without unreasonable delay: by the notice to
				// residents at the latest.
				anchorAt, from = c.anchor(group, "the notice to "+name(r.State)+" residents")
			}
		}
		key := r.State + ":" + string(r.Recipient) + ":" + r.Authority
		o, ok := byKey[key]
		if !ok {
			o = &Obligation{Key: string(ToRegulator) + ":" + r.ID, Recipient: ToRegulator, Jurisdiction: r.State, Authority: r.Authority, Count: n,
				Why: fmt.Sprintf("%d residents of %s affected: notice to %s", n, name(r.State), who)}
			if r.Recipient == StateCRA {
				o.Key, o.Recipient, o.Authority = string(ToCRA)+":"+r.State, ToCRA, "the nationwide consumer reporting agencies"
			}
			byKey[key] = o
			keys = append(keys, key)
		}
		o.Deadlines = append(o.Deadlines, c.stateDeadline(r, anchorAt, from))
	}
	slices.Sort(keys)
	out := make([]Obligation, 0, len(keys))
	for _, k := range keys {
		o := byKey[k]
		o.pickEarliest()
		out = append(out, *o)
	}
	return out
}

// anchor is when notice o was made (Facts.Made), or else its deadline, and
// a phrase for people saying which.
func (c computation) anchor(o *Obligation, what string) (time.Time, string) {
	if at, ok := c.facts.Made[o.Key]; ok && !at.IsZero() {
		return at, fmt.Sprintf("%s, made %s", what, at.In(c.loc).Format(time.DateOnly))
	}
	return o.Due, fmt.Sprintf("%s (not made yet: counted from its deadline)", what)
}

// stateDeadline is r's deadline; anchorAt is when r's anchor notice is (or
// is due to be) given and from says so, both unused for rules counted from
// discovery with a term.
func (c computation) stateDeadline(r StateRule, anchorAt time.Time, from string) Deadline {
	d := Deadline{Citation: r.Citation, SourceURL: r.SourceURL, CounselToConfirm: r.CounselToConfirm, RuleID: r.ID, From: from}
	st := name(r.State)
	switch {
	case r.Anchor == FromDiscovery && r.Term != nil:
		d.Due, d.From = c.fromDiscovery(*r.Term), "discovery"
		d.Why = fmt.Sprintf("%s: %s after discovery", st, r.Term)
	case r.Anchor == FromDiscovery:
		d.Due = anchorAt
		d.Why = fmt.Sprintf("%s: without unreasonable delay, at the latest with %s", st, from)
	case r.Term == nil:
		d.Due = anchorAt
		d.Why = fmt.Sprintf("%s: with %s", st, from)
	default:
		d.Due = r.Term.DueFrom(anchorAt, c.loc)
		d.Why = fmt.Sprintf("%s: %s after %s", st, r.Term, from)
	}
	if r.Note != "" {
		d.Why += " (" + r.Note + ")"
	}
	return d
}

func (c computation) customers() []Obligation {
	fed := c.rs.HIPAA
	var out []Obligation
	for _, cu := range c.facts.Customers {
		o := Obligation{Key: string(ToCoveredEntity) + ":" + cu.ID, Recipient: ToCoveredEntity, CustomerID: cu.ID, CustomerName: customerName(cu),
			Why: fmt.Sprintf("we are the business associate of %s, whose PHI was breached: notice identifying each individual affected (45 CFR 164.410(a), (c))", customerName(cu)),
			Deadlines: []Deadline{{Due: c.fromDiscovery(calendarDays(fed.BusinessAssociateDays)), Citation: "45 CFR 164.410(b)", From: "discovery",
				Why: fmt.Sprintf("without unreasonable delay and no later than %d calendar days after discovery", fed.BusinessAssociateDays)}}}
		if cu.Notice != nil {
			o.Deadlines = append(o.Deadlines, Deadline{Due: c.fromDiscovery(*cu.Notice), From: "discovery",
				Citation: "business associate agreement with " + customerName(cu),
				Why:      fmt.Sprintf("the agreement requires notice within %s of discovery", cu.Notice)})
		}
		o.pickEarliest()
		out = append(out, o)
	}
	return out
}

func customerName(c Customer) string {
	if c.Name != "" {
		return c.Name
	}
	return c.ID
}

// pickEarliest orders the deadlines, earliest first (stable, so the
// federal deadline wins a tie), and makes the earliest the obligation's.
func (o *Obligation) pickEarliest() {
	slices.SortStableFunc(o.Deadlines, func(a, b Deadline) int { return a.Due.Compare(b.Due) })
	w := o.Deadlines[0]
	o.Due, o.Citation, o.CounselToConfirm = w.Due, w.Citation, w.CounselToConfirm
	o.Why += "; controlling deadline: " + w.Why + " (" + w.Citation + ")"
}

// finish sets the hold and the status at asOf.
func (o *Obligation) finish(start time.Time, holds []Period, asOf time.Time) {
	o.Hold = holdFor(start, o.Due, holds)
	o.Status = StatusOpen
	switch {
	case o.Hold != nil && !asOf.Before(o.Hold.From) && asOf.Before(o.Hold.Until):
		o.Status = StatusHeld
	case asOf.After(o.Due):
		o.Status = StatusOverdue
	}
}

func sortedStates(m map[string]int) []string {
	return slices.Sorted(maps.Keys(m))
}
