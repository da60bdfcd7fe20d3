package breach

import (
	"time"

	"github.com/wardhq/ward/internal/breach/rules"
)

// StepState is where one step of a breach case's workflow stands.
type StepState string

// The states of a step.
const (
	StepDone      StepState = "done"       // nothing is left to do in it
	StepToDo      StepState = "to_do"      // it can be done now, by Due if it has one
	StepOverdue   StepState = "overdue"    // its deadline passed and it is not done
	StepBlocked   StepState = "blocked"    // it waits on an earlier step (BlockedBy)
	StepNotNeeded StepState = "not_needed" // the case owes nothing of it
)

// The steps of a breach case, in the order a case is worked.
const (
	StepFacts         = "facts"
	StepDetermination = "determination"
	StepObligations   = "obligations"
	StepIndividuals   = "individuals"
	StepNotices       = "notices"
	StepRegulators    = "regulators"
	StepHHS           = "hhs"
	StepProof         = "proof"
)

// Step is one step of a breach case's workflow and where it stands.
type Step struct {
	Key   string
	Title string
	State StepState
	// BlockedBy names, in words, the earlier step a blocked step waits on.
	BlockedBy string
	// Due is the earliest unmet deadline of the step's notices, if any.
	Due *time.Time
	// Met and Owed count the step's notice obligations met and owed.
	Met, Owed int
}

// CaseState is what the workflow of a case is computed from.
type CaseState struct {
	Facts rules.Facts
	// Outcome is the latest signed determination's outcome, or
	// OutcomePending.
	Outcome     string
	Obligations []Obligation
	// Imported is how many affected individuals are on the case's list.
	Imported int
	Now      time.Time
}

// Steps computes the workflow of a case, facts to proof, from its state:
// a pure function of cs. Until a determination is signed breach is
// presumed (164.402(2)) and every notice obligation runs, so the notice
// steps are open already; a determination that it is not a breach leaves
// them not needed.
func Steps(cs CaseState) []Step {
	factsDone := cs.Facts.Role != "" && cs.Facts.Individuals > 0 && !cs.Facts.DiscoveredAt.IsZero()
	steps := []Step{{Key: StepFacts, Title: "Facts", State: StepToDo}}
	if factsDone {
		steps[0].State = StepDone
	}

	det := Step{Key: StepDetermination, Title: "Determination", State: StepToDo}
	if cs.Outcome != OutcomePending && cs.Outcome != "" {
		det.State = StepDone
	} else {
		det.Due = earliestUnmet(cs.Obligations)
		if det.Due != nil && cs.Now.After(*det.Due) {
			det.State = StepOverdue
		}
	}
	steps = append(steps, det)

	notBreach := det.State == StepDone && !notifies(cs.Outcome)
	obl := Step{Key: StepObligations, Title: "Obligations", State: StepDone}
	obl.Met, obl.Owed = metOwed(cs.Obligations, nil)
	switch {
	case notBreach:
		obl.State = StepNotNeeded
	case det.State != StepDone:
		obl.State, obl.BlockedBy = StepBlocked, blockers[StepDetermination]
	case !factsDone:
		obl.State, obl.BlockedBy = StepBlocked, blockers[StepFacts]
	}
	steps = append(steps, obl)

	individualNotices := func(o Obligation) bool { return o.Recipient == rules.ToIndividuals }
	ind := Step{Key: StepIndividuals, Title: "Affected individuals", State: StepDone}
	owesIndividuals := hasAny(cs.Obligations, individualNotices)
	switch {
	case notBreach || !owesIndividuals:
		ind.State = StepNotNeeded
	case cs.Imported == 0:
		ind.State, ind.Due = dueState(cs.Obligations, individualNotices, cs.Now)
	}
	steps = append(steps, ind)

	notices := groupStep(StepNotices, "Notices to individuals", cs, individualNotices, notBreach)
	if notices.State == StepToDo || notices.State == StepOverdue {
		if ind.State != StepDone {
			notices.State, notices.BlockedBy = StepBlocked, blockers[StepIndividuals]
		}
	}
	steps = append(steps, notices)
	steps = append(steps, groupStep(StepRegulators, "Regulators and media", cs, func(o Obligation) bool {
		return o.Recipient != rules.ToIndividuals && o.Recipient != rules.ToHHS
	}, notBreach))
	steps = append(steps, groupStep(StepHHS, "HHS", cs, func(o Obligation) bool { return o.Recipient == rules.ToHHS }, notBreach))

	proof := Step{Key: StepProof, Title: "Proof", State: StepToDo}
	for _, s := range steps {
		if s.State != StepDone && s.State != StepNotNeeded {
			proof.State, proof.BlockedBy = StepBlocked, blockers[s.Key]
			break
		}
	}
	return append(steps, proof)
}

// NextAction is the step to act on first: the first overdue step, else
// the first one to do; ok is false when only blocked, done or unneeded
// steps remain.
func NextAction(steps []Step) (Step, bool) {
	for _, want := range []StepState{StepOverdue, StepToDo} {
		for _, s := range steps {
			if s.State == want {
				return s, true
			}
		}
	}
	return Step{}, false
}

// groupStep is the step of the notice obligations in, met when each is.
func groupStep(key, title string, cs CaseState, in func(Obligation) bool, notBreach bool) Step {
	s := Step{Key: key, Title: title, State: StepDone}
	s.Met, s.Owed = metOwed(cs.Obligations, in)
	switch {
	case notBreach || s.Owed == 0:
		s.State = StepNotNeeded
	case s.Met < s.Owed:
		s.State, s.Due = dueState(cs.Obligations, in, cs.Now)
	}
	return s
}

// dueState is StepToDo, or StepOverdue once the earliest unmet deadline
// of the obligations in has passed, with that deadline.
func dueState(obs []Obligation, in func(Obligation) bool, now time.Time) (StepState, *time.Time) {
	var picked []Obligation
	for _, o := range obs {
		if in(o) {
			picked = append(picked, o)
		}
	}
	due := earliestUnmet(picked)
	if due != nil && now.After(*due) {
		return StepOverdue, due
	}
	return StepToDo, due
}

func earliestUnmet(obs []Obligation) *time.Time {
	var out *time.Time
	for _, o := range obs {
		if o.MetAt == nil && (out == nil || o.Due.Before(*out)) {
			d := o.Due
			out = &d
		}
	}
	return out
}

// metOwed counts the obligations in (nil: all) met and owed.
func metOwed(obs []Obligation, in func(Obligation) bool) (met, owed int) {
	for _, o := range obs {
		if in != nil && !in(o) {
			continue
		}
		owed++
		if o.MetAt != nil {
			met++
		}
	}
	return met, owed
}

func hasAny(obs []Obligation, in func(Obligation) bool) bool {
	for _, o := range obs {
		if in(o) {
			return true
		}
	}
	return false
}

// blockers name each step as what a later step waits on.
var blockers = map[string]string{
	StepFacts: "the facts", StepDetermination: "the signed determination", StepObligations: "the obligations",
	StepIndividuals: "the list of affected individuals", StepNotices: "the notices to individuals",
	StepRegulators: "the notices to regulators and media", StepHHS: "the notice to HHS",
}
