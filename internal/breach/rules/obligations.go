package rules

import (
	"fmt"
	"maps"
	"slices"
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
	if err := rs.States.Validate(); err != nil {
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
	ToFTC           Recipient = "ftc" // 16 CFR 318, for a PHRVendor
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
	Due              time.Time `json:"due"`
	Citation         string    `json:"citation"`
	Why              string    `json:"why"`
	CounselToConfirm bool      `json:"counsel_to_confirm,omitempty"`
	// RuleID names the State rule, when the deadline comes from one.
	RuleID string `json:"rule_id,omitempty"`
}

// Obligation is a notice owed to one recipient, due at the earliest of the
// deadlines that apply to it.
type Obligation struct {
	// Key identifies the obligation within a breach: "individuals",
	// "media:CA", "hhs", "covered_entity:<customer id>",
	// "state_regulator:<rule id>".
	Key          string    `json:"key"`
	Recipient    Recipient `json:"recipient"`
	Jurisdiction string    `json:"jurisdiction,omitempty"`
	Authority    string    `json:"authority,omitempty"`
	CustomerID   string    `json:"customer_id,omitempty"`
	HHSMode      HHSMode   `json:"hhs_mode,omitempty"`
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

func (c computation) coveredEntity() []Obligation {
	f, fed := c.facts, c.rs.HIPAA
	ind := c.individuals(fmt.Sprintf("%d individuals affected by a breach of unsecured PHI; each must be notified (45 CFR 164.404(a))", f.Individuals),
		Deadline{Due: c.fromDiscovery(calendarDays(fed.IndividualDays)), Citation: "45 CFR 164.404(b)",
			Why: fmt.Sprintf("without unreasonable delay and no later than %d calendar days after discovery", fed.IndividualDays)})
	out := []Obligation{ind}

	for _, st := range sortedStates(f.ByState) {
		if n := f.ByState[st]; n > fed.MediaMoreThan {
			m := Obligation{Key: string(ToMedia) + ":" + st, Recipient: ToMedia, Jurisdiction: st,
				Why: fmt.Sprintf("%d residents of %s affected, more than %d: notice to prominent media outlets serving it (45 CFR 164.406(a))", n, st, fed.MediaMoreThan),
				Deadlines: []Deadline{{Due: c.fromDiscovery(calendarDays(fed.MediaDays)), Citation: "45 CFR 164.406(b)",
					Why: fmt.Sprintf("without unreasonable delay and no later than %d calendar days after discovery", fed.MediaDays)}}}
			m.pickEarliest()
			out = append(out, m)
		}
	}

	hhs := Obligation{Key: string(ToHHS), Recipient: ToHHS}
	if f.Individuals >= fed.HHSImmediateAtLeast {
		hhs.HHSMode = HHSImmediate
		hhs.Why = fmt.Sprintf("%d individuals affected, %d or more: notice to the Secretary (45 CFR 164.408(a))", f.Individuals, fed.HHSImmediateAtLeast)
		hhs.Deadlines = []Deadline{{Due: ind.Due, Citation: "45 CFR 164.408(b)",
			Why: "contemporaneously with the notice to individuals (164.404), so by its deadline"}}
	} else {
		hhs.HHSMode = HHSAnnualLog
		year := c.start.In(c.loc).Year()
		yearEnd := time.Date(year, time.December, 31, 12, 0, 0, 0, c.loc)
		hhs.Why = fmt.Sprintf("%d individuals affected, fewer than %d: logged and reported to the Secretary for %d (45 CFR 164.408(c))", f.Individuals, fed.HHSImmediateAtLeast, year)
		hhs.Deadlines = []Deadline{{Due: delayed(calendarDays(fed.HHSAnnualDays).DueFrom(yearEnd, c.loc), c.start, c.holds, c.rs.AfterDelay),
			Citation: "45 CFR 164.408(c)",
			Why:      fmt.Sprintf("no later than %d days after the end of calendar year %d, the year of discovery", fed.HHSAnnualDays, year)}}
	}
	hhs.pickEarliest()
	out = append(out, hhs)

	hhsAt := hhs.Due
	if !f.HHSNoticeAt.IsZero() {
		hhsAt = f.HHSNoticeAt
	}
	return append(out, c.regulators(ind.Due, &hhsAt)...)
}

// phrVendor is the FTC rule set: a vendor of personal health records outside
// HIPAA notifies individuals and, at 500 or more, the FTC (16 CFR 318).
func (c computation) phrVendor() []Obligation {
	f, ftc := c.facts, c.rs.FTC
	ind := c.individuals(fmt.Sprintf("%d individuals affected by a breach of security of personal health records (16 CFR 318)", f.Individuals),
		Deadline{Due: c.fromDiscovery(calendarDays(ftc.IndividualDays)), Citation: "16 CFR 318 (as amended 2024)",
			Why: fmt.Sprintf("no later than %d calendar days after discovery", ftc.IndividualDays)})
	out := []Obligation{ind}
	if f.Individuals >= ftc.NotifyFTCAtLeast {
		o := Obligation{Key: string(ToFTC), Recipient: ToFTC,
			Why: fmt.Sprintf("%d individuals affected, %d or more: notice to the Federal Trade Commission (16 CFR 318)", f.Individuals, ftc.NotifyFTCAtLeast),
			Deadlines: []Deadline{{Due: c.fromDiscovery(calendarDays(ftc.FTCDays)), Citation: "16 CFR 318 (as amended 2024)",
				Why: fmt.Sprintf("no later than %d calendar days after discovery", ftc.FTCDays)}}}
		o.pickEarliest()
		out = append(out, o)
	}
	return append(out, c.regulators(ind.Due, nil)...)
}

// rulesInEffect are the State rules in effect on the discovery date.
func (c computation) rulesInEffect() []StateRule {
	return c.rs.States.InEffect(c.start.In(c.loc).Format(time.DateOnly))
}

// individuals is the individual notice: the federal deadline base and
// every State individual-notice rule that applies to the residents affected.
func (c computation) individuals(why string, base Deadline) Obligation {
	f := c.facts
	ind := Obligation{Key: string(ToIndividuals), Recipient: ToIndividuals, Why: why, Deadlines: []Deadline{base}}
	rules := c.rulesInEffect()
	for _, st := range sortedStates(f.ByState) {
		for _, r := range rules {
			if r.State == st && r.Recipient == StateIndividuals && r.applies(f.ByState[st], f.Tags) {
				ind.Deadlines = append(ind.Deadlines, c.stateDeadline(r, time.Time{}))
			}
		}
	}
	ind.pickEarliest()
	return ind
}

// regulators are the State regulator notices, one per State and authority,
// sorted by State. individualDue is the individual notice's deadline; hhsAt
// when the HHS notice is (or is due to be) given, nil when no HHS notice is
// owed, which leaves out the rules counted from it.
func (c computation) regulators(individualDue time.Time, hhsAt *time.Time) []Obligation {
	f := c.facts
	individualAt := individualDue
	if !f.IndividualNoticeAt.IsZero() {
		individualAt = f.IndividualNoticeAt
	}
	byKey := map[string]*Obligation{}
	var keys []string
	for _, r := range c.rulesInEffect() {
		n := f.ByState[r.State]
		if r.Recipient != StateRegulator || !r.applies(n, f.Tags) || (r.Anchor == FromHHSNotice && hhsAt == nil) {
			continue
		}
		anchorAt := individualAt
		if r.Anchor == FromHHSNotice {
			anchorAt = *hhsAt
		}
		key := r.State + ":" + r.Authority
		o, ok := byKey[key]
		if !ok {
			o = &Obligation{Key: string(ToRegulator) + ":" + r.ID, Recipient: ToRegulator, Jurisdiction: r.State, Authority: r.Authority,
				Why: fmt.Sprintf("%d residents of %s affected: notice to the %s", n, r.State, r.Authority)}
			byKey[key] = o
			keys = append(keys, key)
		}
		o.Deadlines = append(o.Deadlines, c.stateDeadline(r, anchorAt))
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

// stateDeadline is r's deadline; anchorAt is when r's anchor notice is (or
// is due to be) given, unused for rules counted from discovery.
func (c computation) stateDeadline(r StateRule, anchorAt time.Time) Deadline {
	d := Deadline{Citation: r.Citation, CounselToConfirm: r.CounselToConfirm, RuleID: r.ID}
	switch {
	case r.Anchor == FromDiscovery:
		d.Due = c.fromDiscovery(*r.Term)
		d.Why = fmt.Sprintf("%s: %s after discovery", r.State, r.Term)
	case r.Term == nil:
		d.Due = anchorAt
		d.Why = fmt.Sprintf("%s: with the %s", r.State, anchorName(r.Anchor))
	default:
		d.Due = r.Term.DueFrom(anchorAt, c.loc)
		d.Why = fmt.Sprintf("%s: %s after the %s", r.State, r.Term, anchorName(r.Anchor))
	}
	if r.Note != "" {
		d.Why += " (" + r.Note + ")"
	}
	return d
}

func anchorName(a Anchor) string {
	if a == FromHHSNotice {
		return "notice to HHS"
	}
	return "notice to individuals"
}

func (c computation) customers() []Obligation {
	fed := c.rs.HIPAA
	var out []Obligation
	for _, cu := range c.facts.Customers {
		o := Obligation{Key: string(ToCoveredEntity) + ":" + cu.ID, Recipient: ToCoveredEntity, CustomerID: cu.ID,
			Why: fmt.Sprintf("we are the business associate of %s, whose PHI was breached: notice identifying each individual affected (45 CFR 164.410(a), (c))", customerName(cu)),
			Deadlines: []Deadline{{Due: c.fromDiscovery(calendarDays(fed.BusinessAssociateDays)), Citation: "45 CFR 164.410(b)",
				Why: fmt.Sprintf("without unreasonable delay and no later than %d calendar days after discovery", fed.BusinessAssociateDays)}}}
		if cu.Notice != nil {
			o.Deadlines = append(o.Deadlines, Deadline{Due: c.fromDiscovery(*cu.Notice),
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
