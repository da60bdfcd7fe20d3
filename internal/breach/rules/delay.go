package rules

import (
	"slices"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
)

// LawEnforcementDelay records a law-enforcement official's statement that a
// notice would impede a criminal investigation or damage national security
// (45 CFR 164.412). Either statement, or both, may be present.
type LawEnforcementDelay struct {
	Oral    *OralStatement    `json:"oral,omitempty"`
	Written *WrittenStatement `json:"written,omitempty"`
}

// OralStatement is an oral request to delay: it must be documented with the
// identity of the official (164.412(b)) and delays at most OralDelayDays
// from the statement unless a written statement arrives in that time.
type OralStatement struct {
	At       time.Time `json:"at"`
	Official string    `json:"official"`
	Agency   string    `json:"agency,omitempty"`
}

// WrittenStatement is a written request that specifies how long to delay
// (164.412(a)); the delay lasts until Until.
type WrittenStatement struct {
	At       time.Time `json:"at"`
	Until    time.Time `json:"until"`
	Official string    `json:"official,omitempty"`
	Agency   string    `json:"agency,omitempty"`
}

// OralDelayDays caps an oral delay: "no later than 30 days from the date of
// the oral statement". 45 CFR 164.412(b).
const OralDelayDays = 30

// AfterDelay says how a deadline is reckoned once a law-enforcement delay
// ends. 164.412 does not say how much of the clock remains;
// REGULATIONS.md section 3 makes this configurable, counsel to confirm.
type AfterDelay string

// The policies for the clock after a delay.
const (
	// DueWhenDelayEnds (the default): a deadline that falls inside the
	// delay is due the moment the delay ends; one outside it is unchanged.
	DueWhenDelayEnds AfterDelay = "due_when_delay_ends"
	// ClockPaused: the clock stops for the delay and resumes after it, so a
	// deadline moves later by the part of the delay that fell before it.
	ClockPaused AfterDelay = "clock_paused"
)

// Period is a span of time during which notices are held.
type Period struct {
	From     time.Time `json:"from"`
	Until    time.Time `json:"until"`
	Citation string    `json:"citation"`
}

// Validate reports what is wrong with the delay, naming each field.
func (d LawEnforcementDelay) Validate() error {
	var fs []apperr.FieldError
	add := func(field, msg string) { fs = append(fs, apperr.FieldError{Field: field, Message: msg}) }
	if d.Oral == nil && d.Written == nil {
		add("law_enforcement_delay", "an oral or a written statement is required")
	}
	if o := d.Oral; o != nil {
		if o.At.IsZero() {
			add("law_enforcement_delay.oral.at", "the date of the oral statement is required (164.412(b))")
		}
		if strings.TrimSpace(o.Official) == "" {
			add("law_enforcement_delay.oral.official", "an oral statement must be documented with the identity of the official (164.412(b))")
		}
	}
	if w := d.Written; w != nil {
		if w.At.IsZero() {
			add("law_enforcement_delay.written.at", "the date of the written statement is required")
		}
		if w.Until.IsZero() {
			add("law_enforcement_delay.written.until", "a written statement must specify the time for which a delay is required (164.412(a))")
		} else if !w.Until.After(w.At) {
			add("law_enforcement_delay.written.until", "must be after the statement")
		}
	}
	if len(fs) == 0 {
		return nil
	}
	return &apperr.Error{Code: apperr.Invalid, Message: "the law-enforcement delay is incomplete", Fields: fs}
}

// Periods returns the spans during which notices are held, in order. An
// oral statement holds from its date for at most OralDelayDays
// (164.412(b)); a written statement holds until the date it specifies
// (164.412(a)). A written statement submitted while an oral delay runs
// replaces its cap, so the hold runs from the oral statement to the written
// date; one made before the oral statement or after its delay lapsed holds
// on its own, beside the oral one.
func (d LawEnforcementDelay) Periods(loc *time.Location) []Period {
	o, w := d.Oral, d.Written
	var ps []Period
	switch {
	case o != nil && w != nil:
		capEnd := o.At.In(zone(loc)).AddDate(0, 0, OralDelayDays)
		if !w.At.Before(o.At) && !w.At.After(capEnd) {
			ps = append(ps, Period{From: o.At, Until: w.Until, Citation: "45 CFR 164.412(a), (b)"})
			break
		}
		ps = append(ps, Period{From: o.At, Until: capEnd, Citation: "45 CFR 164.412(b)"},
			Period{From: w.At, Until: w.Until, Citation: "45 CFR 164.412(a)"})
	case o != nil:
		ps = append(ps, Period{From: o.At, Until: o.At.In(zone(loc)).AddDate(0, 0, OralDelayDays), Citation: "45 CFR 164.412(b)"})
	case w != nil:
		ps = append(ps, Period{From: w.At, Until: w.Until, Citation: "45 CFR 164.412(a)"})
	}
	slices.SortFunc(ps, func(a, b Period) int { return a.From.Compare(b.From) })
	return ps
}

// delayed returns due as the delay periods and policy move it, for a clock
// that started at start.
func delayed(due, start time.Time, ps []Period, policy AfterDelay) time.Time {
	if policy == ClockPaused {
		remaining := due.Sub(start)
		t := start
		for _, p := range ps {
			if !p.Until.After(t) {
				continue
			}
			from := p.From
			if from.Before(t) {
				from = t
			}
			if !from.Before(t.Add(remaining)) {
				break
			}
			remaining -= from.Sub(t)
			t = p.Until
		}
		return t.Add(remaining)
	}
	for _, p := range ps {
		if !due.Before(p.From) && due.Before(p.Until) {
			due = p.Until
		}
	}
	return due
}

// holdFor returns the last delay period that overlaps [start, due], if any.
func holdFor(start, due time.Time, ps []Period) *Period {
	var h *Period
	for _, p := range ps {
		if p.From.After(due) || !p.Until.After(start) {
			continue
		}
		h = &p
	}
	return h
}

// setDueWithoutHold sets DueWithoutHold on each of out whose due date the
// law-enforcement delay of facts moved: the obligations are computed once
// more without the delay and their due dates copied by key, so the
// original deadline stays visible beside the held one (164.412).
func setDueWithoutHold(out []Obligation, facts Facts, rs RuleSets, asOf time.Time) {
	facts.Delay = nil
	plain := map[string]time.Time{}
	for _, o := range Compute(facts, rs, asOf) {
		plain[o.Key] = o.Due
	}
	for i := range out {
		if due, ok := plain[out[i].Key]; ok && !due.Equal(out[i].Due) {
			out[i].DueWithoutHold = &due
		}
	}
}
