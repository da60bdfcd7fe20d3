package incident

import (
	"fmt"
	"slices"
	"testing"

	"github.com/wardhq/ward/internal/apperr"
)

// na is shorthand for a list of not-applicable phases.
func na(ss ...Status) []Status { return ss }

type planCase struct {
	name      string
	cur       State
	move      Move
	wantCode  apperr.Code // "" means the move is allowed
	wantField string      // for Invalid: the field the error names
	want      State       // for allowed moves: the resulting state
}

func planCases() []planCase {
	const why = "new facts: the attacker still has a foothold"
	cs := []planCase{
		// Forward one phase at a time needs neither a note nor not-applicable phases.
		{name: "detected to analysis", cur: State{Status: Detected},
			move: Move{To: Analysis}, want: State{Status: Analysis}},
		{name: "analysis to containment", cur: State{Status: Analysis},
			move: Move{To: Containment}, want: State{Status: Containment}},
		{name: "containment to eradication", cur: State{Status: Containment},
			move: Move{To: Eradication}, want: State{Status: Eradication}},
		{name: "eradication to recovery", cur: State{Status: Eradication},
			move: Move{To: Recovery}, want: State{Status: Recovery}},
		{name: "recovery to post_incident", cur: State{Status: Recovery},
			move: Move{To: PostIncident}, want: State{Status: PostIncident}},
		{name: "forward one step keeps earlier not-applicable phases", cur: State{Status: Containment, NotApplicable: na(Analysis)},
			move: Move{To: Eradication}, want: State{Status: Eradication, NotApplicable: na(Analysis)}},
		{name: "forward one step with a note is fine", cur: State{Status: Detected},
			move: Move{To: Analysis, Note: "triaged"}, want: State{Status: Analysis}},
		{name: "forward one step listing a phase not skipped", cur: State{Status: Analysis},
			move: Move{To: Containment, Note: why, NotApplicable: na(Analysis)}, wantCode: apperr.Invalid, wantField: "not_applicable"},

		// Skipping phases: every skipped phase listed as not applicable, and a note.
		{name: "skip analysis", cur: State{Status: Detected},
			move: Move{To: Containment, Note: why, NotApplicable: na(Analysis)},
			want: State{Status: Containment, NotApplicable: na(Analysis)}},
		{name: "skip three phases to post_incident", cur: State{Status: Analysis},
			move: Move{To: PostIncident, Note: why, NotApplicable: na(Containment, Eradication, Recovery)},
			want: State{Status: PostIncident, NotApplicable: na(Containment, Eradication, Recovery)}},
		{name: "skip lists phases in any order", cur: State{Status: Analysis},
			move: Move{To: Recovery, Note: why, NotApplicable: na(Eradication, Containment)},
			want: State{Status: Recovery, NotApplicable: na(Containment, Eradication)}},
		{name: "skip appends to earlier not-applicable phases", cur: State{Status: Containment, NotApplicable: na(Analysis)},
			move: Move{To: Recovery, Note: why, NotApplicable: na(Eradication)},
			want: State{Status: Recovery, NotApplicable: na(Analysis, Eradication)}},
		{name: "skip without listing any phase", cur: State{Status: Analysis},
			move: Move{To: Recovery, Note: why}, wantCode: apperr.Invalid, wantField: "not_applicable"},
		{name: "skip missing one phase", cur: State{Status: Analysis},
			move: Move{To: Recovery, Note: why, NotApplicable: na(Containment)}, wantCode: apperr.Invalid, wantField: "not_applicable"},
		{name: "skip with an extra later phase", cur: State{Status: Analysis},
			move:     Move{To: Eradication, Note: why, NotApplicable: na(Containment, Recovery)},
			wantCode: apperr.Invalid, wantField: "not_applicable"},
		{name: "skip listing the current phase", cur: State{Status: Analysis},
			move:     Move{To: Eradication, Note: why, NotApplicable: na(Analysis, Containment)},
			wantCode: apperr.Invalid, wantField: "not_applicable"},
		{name: "skip listing the target phase", cur: State{Status: Analysis},
			move:     Move{To: Eradication, Note: why, NotApplicable: na(Containment, Eradication)},
			wantCode: apperr.Invalid, wantField: "not_applicable"},
		{name: "skip listing an unknown phase", cur: State{Status: Analysis},
			move:     Move{To: Eradication, Note: why, NotApplicable: na(Containment, "triage")},
			wantCode: apperr.Invalid, wantField: "not_applicable"},
		{name: "skip without a note", cur: State{Status: Analysis},
			move: Move{To: Eradication, NotApplicable: na(Containment)}, wantCode: apperr.Invalid, wantField: "note"},
		{name: "skip with a blank note", cur: State{Status: Analysis},
			move: Move{To: Eradication, Note: " \t\n ", NotApplicable: na(Containment)}, wantCode: apperr.Invalid, wantField: "note"},

		// Back to analysis, from containment, eradication or recovery only, with a note.
		{name: "containment back to analysis", cur: State{Status: Containment},
			move: Move{To: Analysis, Note: why}, want: State{Status: Analysis, NotApplicable: na()}},
		{name: "eradication back to analysis", cur: State{Status: Eradication},
			move: Move{To: Analysis, Note: why}, want: State{Status: Analysis, NotApplicable: na()}},
		{name: "recovery back to analysis drops not-applicable phases after analysis",
			cur:  State{Status: Recovery, NotApplicable: na(Analysis, Eradication)},
			move: Move{To: Analysis, Note: why}, want: State{Status: Analysis, NotApplicable: na()}},
		{name: "back to analysis keeps not-applicable phases before analysis",
			cur:  State{Status: Recovery, NotApplicable: na(Detected, Containment)},
			move: Move{To: Analysis, Note: why}, want: State{Status: Analysis, NotApplicable: na(Detected)}},
		{name: "containment back to analysis without a note", cur: State{Status: Containment},
			move: Move{To: Analysis}, wantCode: apperr.Invalid, wantField: "note"},
		{name: "eradication back to analysis without a note", cur: State{Status: Eradication},
			move: Move{To: Analysis}, wantCode: apperr.Invalid, wantField: "note"},
		{name: "recovery back to analysis with a blank note", cur: State{Status: Recovery},
			move: Move{To: Analysis, Note: "   "}, wantCode: apperr.Invalid, wantField: "note"},
		{name: "back to analysis listing not-applicable phases", cur: State{Status: Recovery},
			move: Move{To: Analysis, Note: why, NotApplicable: na(Containment)}, wantCode: apperr.Invalid, wantField: "not_applicable"},
		{name: "post_incident back to analysis", cur: State{Status: PostIncident},
			move: Move{To: Analysis, Note: why}, wantCode: apperr.Conflict},
		{name: "analysis back to detected", cur: State{Status: Analysis},
			move: Move{To: Detected, Note: why}, wantCode: apperr.Conflict},
		{name: "containment back to detected", cur: State{Status: Containment},
			move: Move{To: Detected, Note: why}, wantCode: apperr.Conflict},
		{name: "recovery back to containment", cur: State{Status: Recovery},
			move: Move{To: Containment, Note: why}, wantCode: apperr.Conflict},
		{name: "recovery back to eradication", cur: State{Status: Recovery},
			move: Move{To: Eradication, Note: why}, wantCode: apperr.Conflict},
		{name: "eradication back to containment", cur: State{Status: Eradication},
			move: Move{To: Containment, Note: why}, wantCode: apperr.Conflict},
		{name: "post_incident back to recovery", cur: State{Status: PostIncident},
			move: Move{To: Recovery, Note: why}, wantCode: apperr.Conflict},

		// Closing needs a valid resolution, and a resolution only when closing.
		{name: "close from post_incident without resolution", cur: State{Status: PostIncident},
			move: Move{To: Closed, Note: why}, wantCode: apperr.Invalid, wantField: "resolution"},
		{name: "close from analysis without resolution", cur: State{Status: Analysis},
			move: Move{To: Closed, Note: why}, wantCode: apperr.Invalid, wantField: "resolution"},
		{name: "close with an unknown resolution", cur: State{Status: PostIncident},
			move: Move{To: Closed, Note: why, Resolution: "fixed"}, wantCode: apperr.Invalid, wantField: "resolution"},
		{name: "close with a resolution in the wrong case", cur: State{Status: PostIncident},
			move: Move{To: Closed, Resolution: "Resolved"}, wantCode: apperr.Invalid, wantField: "resolution"},
		{name: "resolution on a forward move", cur: State{Status: Analysis},
			move: Move{To: Containment, Resolution: Resolved}, wantCode: apperr.Invalid, wantField: "resolution"},
		{name: "resolution on a move back to analysis", cur: State{Status: Recovery},
			move: Move{To: Analysis, Note: why, Resolution: FalsePositive}, wantCode: apperr.Invalid, wantField: "resolution"},
		{name: "resolution on a reopen", cur: State{Status: Closed, Resolution: Resolved},
			move: Move{To: Analysis, Note: why, Resolution: Resolved}, wantCode: apperr.Invalid, wantField: "resolution"},

		// "resolved" closes from post_incident, or earlier by skipping the rest.
		{name: "resolved from post_incident", cur: State{Status: PostIncident, NotApplicable: na(Eradication)},
			move: Move{To: Closed, Resolution: Resolved},
			want: State{Status: Closed, Resolution: Resolved, NotApplicable: na(Eradication)}},
		{name: "resolved from post_incident with a note", cur: State{Status: PostIncident},
			move: Move{To: Closed, Resolution: Resolved, Note: "lessons learned filed"},
			want: State{Status: Closed, Resolution: Resolved}},
		{name: "resolved from recovery skipping post_incident", cur: State{Status: Recovery},
			move: Move{To: Closed, Resolution: Resolved, Note: why, NotApplicable: na(PostIncident)},
			want: State{Status: Closed, Resolution: Resolved, NotApplicable: na(PostIncident)}},
		{name: "resolved from analysis skipping every later phase", cur: State{Status: Analysis},
			move: Move{To: Closed, Resolution: Resolved, Note: why, NotApplicable: na(Containment, Eradication, Recovery, PostIncident)},
			want: State{Status: Closed, Resolution: Resolved, NotApplicable: na(Containment, Eradication, Recovery, PostIncident)}},
		{name: "resolved from detected skipping every later phase", cur: State{Status: Detected},
			move: Move{To: Closed, Resolution: Resolved, Note: why,
				NotApplicable: na(Analysis, Containment, Eradication, Recovery, PostIncident)},
			want: State{Status: Closed, Resolution: Resolved,
				NotApplicable: na(Analysis, Containment, Eradication, Recovery, PostIncident)}},
		{name: "resolved from recovery without listing post_incident", cur: State{Status: Recovery},
			move: Move{To: Closed, Resolution: Resolved, Note: why}, wantCode: apperr.Invalid, wantField: "not_applicable"},
		{name: "resolved from analysis missing a skipped phase", cur: State{Status: Analysis},
			move:     Move{To: Closed, Resolution: Resolved, Note: why, NotApplicable: na(Containment, Eradication, Recovery)},
			wantCode: apperr.Invalid, wantField: "not_applicable"},
		{name: "resolved from recovery skipping without a note", cur: State{Status: Recovery},
			move: Move{To: Closed, Resolution: Resolved, NotApplicable: na(PostIncident)}, wantCode: apperr.Invalid, wantField: "note"},
		{name: "resolved from post_incident listing a phase", cur: State{Status: PostIncident},
			move:     Move{To: Closed, Resolution: Resolved, Note: why, NotApplicable: na(Recovery)},
			wantCode: apperr.Invalid, wantField: "not_applicable"},

		// A closed incident only reopens to analysis, with a note; the resolution is cleared.
		{name: "reopen", cur: State{Status: Closed, Resolution: Resolved, NotApplicable: na(Containment, Eradication)},
			move: Move{To: Analysis, Note: why}, want: State{Status: Analysis, NotApplicable: na()}},
		{name: "reopen a false positive", cur: State{Status: Closed, Resolution: FalsePositive},
			move: Move{To: Analysis, Note: why}, want: State{Status: Analysis, NotApplicable: na()}},
		{name: "reopen without a note", cur: State{Status: Closed, Resolution: Resolved},
			move: Move{To: Analysis}, wantCode: apperr.Invalid, wantField: "note"},
		{name: "reopen with a blank note", cur: State{Status: Closed, Resolution: Resolved},
			move: Move{To: Analysis, Note: "\n"}, wantCode: apperr.Invalid, wantField: "note"},
		{name: "reopen listing not-applicable phases", cur: State{Status: Closed, Resolution: Resolved},
			move: Move{To: Analysis, Note: why, NotApplicable: na(Containment)}, wantCode: apperr.Invalid, wantField: "not_applicable"},

		// Unknown target status.
		{name: "unknown status", cur: State{Status: Analysis},
			move: Move{To: "triage", Note: why}, wantCode: apperr.Invalid, wantField: "to"},
		{name: "empty status", cur: State{Status: Analysis},
			move: Move{Note: why}, wantCode: apperr.Invalid, wantField: "to"},
		{name: "status in the wrong case", cur: State{Status: Analysis},
			move: Move{To: "Containment"}, wantCode: apperr.Invalid, wantField: "to"},
		{name: "unknown status from closed", cur: State{Status: Closed, Resolution: Resolved},
			move: Move{To: "reopened", Note: why}, wantCode: apperr.Invalid, wantField: "to"},
	}

	// Dispositions close from any open phase with a note, and take no
	// not-applicable phases: the response phases never applied.
	for _, r := range []Resolution{FalsePositive, NotSecurityIncident, Duplicate} {
		for _, s := range Statuses[:len(Statuses)-1] {
			cur := State{Status: s, NotApplicable: na()}
			if s == Recovery {
				cur.NotApplicable = na(Eradication)
			}
			cs = append(cs,
				planCase{name: fmt.Sprintf("%s from %s", r, s), cur: cur,
					move: Move{To: Closed, Resolution: r, Note: "it was the scheduled pen test"},
					want: State{Status: Closed, Resolution: r, NotApplicable: cur.NotApplicable}},
				planCase{name: fmt.Sprintf("%s from %s without a note", r, s), cur: cur,
					move: Move{To: Closed, Resolution: r}, wantCode: apperr.Invalid, wantField: "note"},
				planCase{name: fmt.Sprintf("%s from %s with a blank note", r, s), cur: cur,
					move: Move{To: Closed, Resolution: r, Note: "  "}, wantCode: apperr.Invalid, wantField: "note"},
			)
			skip := Statuses[s.order()+1 : len(Statuses)-1]
			if s == PostIncident {
				skip = na(Recovery)
			}
			cs = append(cs, planCase{name: fmt.Sprintf("%s from %s with not-applicable phases", r, s), cur: cur,
				move:     Move{To: Closed, Resolution: r, Note: why, NotApplicable: skip},
				wantCode: apperr.Invalid, wantField: "not_applicable"})
		}
	}

	// A closed incident goes nowhere but analysis.
	for _, s := range []Status{Detected, Containment, Eradication, Recovery, PostIncident} {
		cs = append(cs, planCase{name: "closed to " + string(s), cur: State{Status: Closed, Resolution: Resolved},
			move: Move{To: s, Note: why}, wantCode: apperr.Conflict})
	}

	// Moving to the current status is a conflict, whatever else the move says.
	for _, s := range Statuses {
		cs = append(cs, planCase{name: "same status " + string(s), cur: State{Status: s},
			move: Move{To: s, Note: why}, wantCode: apperr.Conflict})
	}
	cs = append(cs, planCase{name: "close a closed incident again", cur: State{Status: Closed, Resolution: Resolved},
		move: Move{To: Closed, Resolution: Resolved, Note: why}, wantCode: apperr.Conflict})
	return cs
}

func TestPlan(t *testing.T) {
	for _, tc := range planCases() {
		t.Run(tc.name, func(t *testing.T) {
			before := slices.Clone(tc.cur.NotApplicable)
			got, err := Plan(tc.cur, tc.move)
			if !slices.Equal(tc.cur.NotApplicable, before) {
				t.Errorf("Plan modified the current state's not-applicable list: %v, was %v", tc.cur.NotApplicable, before)
			}
			if tc.wantCode == "" {
				if err != nil {
					t.Fatalf("Plan(%+v, %+v) = %v, want it allowed", tc.cur, tc.move, err)
				}
				if got.Status != tc.want.Status || got.Resolution != tc.want.Resolution ||
					!slices.Equal(got.NotApplicable, tc.want.NotApplicable) {
					t.Errorf("Plan(%+v, %+v) = %+v, want %+v", tc.cur, tc.move, got, tc.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("Plan(%+v, %+v) = %+v, want a %s error", tc.cur, tc.move, got, tc.wantCode)
			}
			if code := apperr.CodeOf(err); code != tc.wantCode {
				t.Fatalf("Plan error code = %s (%v), want %s", code, err, tc.wantCode)
			}
			if got.Status != "" || got.Resolution != "" || got.NotApplicable != nil {
				t.Errorf("Plan returned state %+v with an error, want the zero State", got)
			}
			e, ok := apperr.As(err)
			if !ok {
				t.Fatalf("Plan error %v is not an *apperr.Error", err)
			}
			if tc.wantField == "" {
				if len(e.Fields) != 0 {
					t.Errorf("Plan error names fields %v, want none", e.Fields)
				}
				return
			}
			if len(e.Fields) != 1 || e.Fields[0].Field != tc.wantField {
				t.Errorf("Plan error fields = %v (%v), want exactly %q", e.Fields, err, tc.wantField)
			}
			if e.Fields[0].Message == "" {
				t.Errorf("Plan error for %q has no message", tc.wantField)
			}
		})
	}
}

// TestPlanResultDoesNotAlias checks that changing a planned state's
// not-applicable list cannot change the state it was planned from.
func TestPlanResultDoesNotAlias(t *testing.T) {
	base := make([]Status, 1, 8)
	base[0] = Analysis
	cur := State{Status: Containment, NotApplicable: base}
	got, err := Plan(cur, Move{To: Recovery, Note: "not needed", NotApplicable: na(Eradication)})
	if err != nil {
		t.Fatal(err)
	}
	got.NotApplicable[0] = Closed
	if cur.NotApplicable[0] != Analysis {
		t.Errorf("changing the result changed the input: %v", cur.NotApplicable)
	}
	if extra := base[:2][1]; extra != "" {
		t.Errorf("Plan wrote %q into the spare capacity of the input slice", extra)
	}
}

func TestNextMoves(t *testing.T) {
	want := map[Status][]Status{
		Detected:     {Analysis, Containment, Eradication, Recovery, PostIncident, Closed},
		Analysis:     {Containment, Eradication, Recovery, PostIncident, Closed},
		Containment:  {Analysis, Eradication, Recovery, PostIncident, Closed},
		Eradication:  {Analysis, Recovery, PostIncident, Closed},
		Recovery:     {Analysis, PostIncident, Closed},
		PostIncident: {Closed},
		Closed:       {Analysis},
	}
	for _, s := range Statuses {
		if got := NextMoves(s); !slices.Equal(got, want[s]) {
			t.Errorf("NextMoves(%s) = %v, want %v", s, got, want[s])
		}
	}
	// The result is the caller's to change.
	got := NextMoves(Detected)
	got[0] = Closed
	if again := NextMoves(Detected); again[0] != Analysis {
		t.Errorf("changing NextMoves' result changed the next call's: %v", again)
	}
}

// TestNextMovesAgreesWithPlan checks that NextMoves lists exactly the
// statuses that Plan allows some move to reach.
func TestNextMovesAgreesWithPlan(t *testing.T) {
	for _, from := range Statuses {
		for _, to := range Statuses {
			reachable := false
			for _, m := range candidateMoves(from, to) {
				if _, err := Plan(State{Status: from, Resolution: resolutionOf(from)}, m); err == nil {
					reachable = true
					break
				}
			}
			if listed := slices.Contains(NextMoves(from), to); listed != reachable {
				t.Errorf("%s -> %s: NextMoves lists it = %v, Plan allows it = %v", from, to, listed, reachable)
			}
		}
	}
}

func resolutionOf(s Status) Resolution {
	if s == Closed {
		return Resolved
	}
	return ""
}

// candidateMoves returns the most permissive moves from one status to
// another: with a note, every skipped phase listed, each resolution.
func candidateMoves(from, to Status) []Move {
	var skipped []Status
	if from.order() < to.order() && from != Closed {
		skipped = Statuses[from.order()+1 : to.order()]
	}
	base := Move{To: to, Note: "because", NotApplicable: skipped}
	if to != Closed {
		return []Move{base, {To: to, Note: "because"}}
	}
	var ms []Move
	for _, r := range Resolutions {
		m := base
		m.Resolution = r
		ms = append(ms, m, Move{To: to, Note: "because", Resolution: r})
	}
	return ms
}
