package breach

import (
	"testing"
	"time"

	"github.com/wardhq/ward/internal/breach/rules"
)

func TestSteps(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	facts := rules.Facts{Role: rules.CoveredEntity, Individuals: 1200, DiscoveredAt: now.AddDate(0, 0, -10)}
	ob := func(key string, to rules.Recipient, dueDays int, met bool) Obligation {
		o := Obligation{Obligation: rules.Obligation{Key: key, Recipient: to, Due: now.AddDate(0, 0, dueDays)}}
		if met {
			at := now
			o.MetAt = &at
		}
		return o
	}
	all := func(metInd, metMedia, metHHS bool) []Obligation {
		return []Obligation{ob("individuals:CA", rules.ToIndividuals, 50, metInd), ob("media:CA", rules.ToMedia, 50, metMedia),
			ob("hhs", rules.ToHHS, 50, metHHS)}
	}
	type want map[string]StepState
	for _, c := range []struct {
		name     string
		cs       CaseState
		want     want
		blocked  map[string]string
		next     string
		noAction bool
	}{
		{name: "new case: facts first, notices presumed owed", cs: CaseState{Facts: rules.Facts{DiscoveredAt: now}, Outcome: OutcomePending,
			Obligations: all(false, false, false), Now: now},
			want: want{StepFacts: StepToDo, StepDetermination: StepToDo, StepObligations: StepBlocked, StepIndividuals: StepToDo,
				StepNotices: StepBlocked, StepRegulators: StepToDo, StepHHS: StepToDo, StepProof: StepBlocked},
			blocked: map[string]string{StepObligations: "the signed determination", StepNotices: "the list of affected individuals",
				StepProof: "the facts"}, next: StepFacts},
		{name: "facts recorded: the determination is next", cs: CaseState{Facts: facts, Outcome: OutcomePending,
			Obligations: all(false, false, false), Now: now},
			want:    want{StepFacts: StepDone, StepDetermination: StepToDo, StepObligations: StepBlocked},
			blocked: map[string]string{StepProof: "the signed determination"}, next: StepDetermination},
		{name: "a deadline passed before signing: the determination is overdue", cs: CaseState{Facts: facts, Outcome: OutcomePending,
			Obligations: []Obligation{ob("hhs", rules.ToHHS, -2, false)}, Now: now},
			want: want{StepDetermination: StepOverdue, StepHHS: StepOverdue, StepIndividuals: StepNotNeeded}, next: StepDetermination},
		{name: "signed: individuals to import", cs: CaseState{Facts: facts, Outcome: string(rules.NotificationRequired),
			Obligations: all(false, false, false), Now: now},
			want: want{StepDetermination: StepDone, StepObligations: StepDone, StepIndividuals: StepToDo, StepNotices: StepBlocked},
			next: StepIndividuals},
		{name: "imported: notices to send", cs: CaseState{Facts: facts, Outcome: string(rules.NotificationRequired),
			Obligations: all(false, true, false), Imported: 1200, Now: now},
			want: want{StepIndividuals: StepDone, StepNotices: StepToDo, StepRegulators: StepDone, StepHHS: StepToDo,
				StepProof: StepBlocked}, blocked: map[string]string{StepProof: "the notices to individuals"}, next: StepNotices},
		{name: "an overdue later step comes first", cs: CaseState{Facts: facts, Outcome: string(rules.NotificationRequired),
			Obligations: []Obligation{ob("individuals:CA", rules.ToIndividuals, 5, false), ob("hhs", rules.ToHHS, -1, false)},
			Imported:    1200, Now: now},
			want: want{StepNotices: StepToDo, StepHHS: StepOverdue, StepRegulators: StepNotNeeded}, next: StepHHS},
		{name: "every notice made: proof", cs: CaseState{Facts: facts, Outcome: string(rules.NotificationRequired),
			Obligations: all(true, true, true), Imported: 1200, Now: now},
			want: want{StepNotices: StepDone, StepRegulators: StepDone, StepHHS: StepDone, StepProof: StepToDo}, next: StepProof},
		{name: "not a breach: no notice is needed", cs: CaseState{Facts: facts, Outcome: string(rules.NotBreachSecured), Now: now},
			want: want{StepDetermination: StepDone, StepObligations: StepNotNeeded, StepIndividuals: StepNotNeeded,
				StepNotices: StepNotNeeded, StepRegulators: StepNotNeeded, StepHHS: StepNotNeeded, StepProof: StepToDo}, next: StepProof},
	} {
		t.Run(c.name, func(t *testing.T) {
			steps := Steps(c.cs)
			keys := []string{StepFacts, StepDetermination, StepObligations, StepIndividuals, StepNotices, StepRegulators, StepHHS, StepProof}
			if len(steps) != len(keys) {
				t.Fatalf("%d steps, want %d", len(steps), len(keys))
			}
			for i, s := range steps {
				if s.Key != keys[i] {
					t.Errorf("step %d is %s, want %s", i, s.Key, keys[i])
				}
				if w, ok := c.want[s.Key]; ok && s.State != w {
					t.Errorf("%s: %s, want %s", s.Key, s.State, w)
				}
				if w, ok := c.blocked[s.Key]; ok && s.BlockedBy != w {
					t.Errorf("%s blocked by %q, want %q", s.Key, s.BlockedBy, w)
				}
				if s.State == StepBlocked && s.BlockedBy == "" {
					t.Errorf("%s is blocked by nothing named", s.Key)
				}
			}
			next, ok := NextAction(steps)
			if ok == c.noAction || next.Key != c.next {
				t.Errorf("next action %q (%v), want %q", next.Key, ok, c.next)
			}
		})
	}
}

func TestStepsDueAndCounts(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	met := now.AddDate(0, 0, -1)
	obs := []Obligation{
		{Obligation: rules.Obligation{Key: "individuals:CA", Recipient: rules.ToIndividuals, Due: now.AddDate(0, 0, 30)}, MetAt: &met},
		{Obligation: rules.Obligation{Key: "individuals:OR", Recipient: rules.ToIndividuals, Due: now.AddDate(0, 0, 20)}},
		{Obligation: rules.Obligation{Key: "media:CA", Recipient: rules.ToMedia, Due: now.AddDate(0, 0, 10)}},
	}
	steps := Steps(CaseState{Facts: rules.Facts{Role: rules.CoveredEntity, Individuals: 3, DiscoveredAt: now}, Outcome: string(rules.NotificationRequired),
		Obligations: obs, Imported: 3, Now: now})
	n := steps[4]
	if n.Key != StepNotices || n.Met != 1 || n.Owed != 2 || n.Due == nil || !n.Due.Equal(now.AddDate(0, 0, 20)) {
		t.Errorf("notices step: %+v, want 1 of 2 met, due in 20 days (the unmet one's)", n)
	}
	if r := steps[5]; r.Due == nil || !r.Due.Equal(now.AddDate(0, 0, 10)) || r.Owed != 1 {
		t.Errorf("regulators step: %+v", r)
	}
	if _, ok := NextAction([]Step{{Key: StepProof, State: StepBlocked, BlockedBy: "x"}, {Key: StepFacts, State: StepDone}}); ok {
		t.Error("a next action among only blocked and done steps")
	}
}
