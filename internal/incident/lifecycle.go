package incident

import (
	"slices"
	"strings"

	"github.com/wardhq/ward/internal/apperr"
)

// Status is an incident's lifecycle phase. The phases follow NIST SP
// 800-61 as REGULATIONS.md section 7 lays them out; the register they form
// is the documentation 45 CFR 164.308(a)(6)(ii) requires.
type Status string

// The lifecycle phases, in order.
const (
	Detected     Status = "detected"
	Analysis     Status = "analysis"
	Containment  Status = "containment"
	Eradication  Status = "eradication"
	Recovery     Status = "recovery"
	PostIncident Status = "post_incident"
	Closed       Status = "closed"
)

// Statuses lists every phase in lifecycle order.
var Statuses = []Status{Detected, Analysis, Containment, Eradication, Recovery, PostIncident, Closed}

func (s Status) order() int { return slices.Index(Statuses, s) }

// Valid reports whether s is a known phase.
func (s Status) Valid() bool { return s.order() >= 0 }

// Resolution is how a closed incident ended: its documented outcome
// (45 CFR 164.308(a)(6)(ii)).
type Resolution string

// The resolutions.
const (
	Resolved            Resolution = "resolved"
	FalsePositive       Resolution = "false_positive"
	NotSecurityIncident Resolution = "not_security_incident"
	Duplicate           Resolution = "duplicate"
)

// Resolutions lists every resolution.
var Resolutions = []Resolution{Resolved, FalsePositive, NotSecurityIncident, Duplicate}

// Valid reports whether r is a known resolution.
func (r Resolution) Valid() bool { return slices.Contains(Resolutions, r) }

// disposition reports whether r closes an incident that turned out not to
// need the response phases (it was never a real, separate incident).
func (r Resolution) disposition() bool { return r != Resolved }

// State is the part of an incident the lifecycle governs.
type State struct {
	Status        Status
	Resolution    Resolution
	NotApplicable []Status // phases recorded as not applicable on the way here
}

// Move is a requested transition.
type Move struct {
	To            Status
	Note          string
	Resolution    Resolution
	NotApplicable []Status
}

// Plan returns the state after applying m to cur, or an error that says why
// the move is not allowed. It is pure: the rules of the lifecycle live here.
//
//   - Forward one phase at a time; skipping phases is allowed only when the
//     move lists every skipped phase as not applicable, with a note saying why.
//   - Back to analysis from containment, eradication or recovery when new
//     facts appear, with a note.
//   - Closing needs a resolution. "resolved" closes from post_incident, or
//     from an earlier phase by skipping the rest as above; false_positive,
//     not_security_incident and duplicate close from any open phase, with a
//     note, because the response phases never applied.
//   - A closed incident reopens to analysis, with a note; its resolution is
//     cleared.
func Plan(cur State, m Move) (State, error) {
	if !m.To.Valid() {
		return State{}, apperr.Field("to", "must be one of %s", joinStatuses(Statuses))
	}
	if m.To == cur.Status {
		return State{}, apperr.New(apperr.Conflict, "incident is already in %s", cur.Status)
	}
	if m.To != Closed && m.Resolution != "" {
		return State{}, apperr.Field("resolution", "is set only when closing")
	}
	note := strings.TrimSpace(m.Note)
	from, to := cur.Status.order(), m.To.order()

	switch {
	case cur.Status == Closed:
		if m.To != Analysis {
			return State{}, apperr.New(apperr.Conflict, "a closed incident can only be reopened to analysis")
		}
		if note == "" {
			return State{}, apperr.Field("note", "is required to reopen an incident")
		}
		if len(m.NotApplicable) > 0 {
			return State{}, apperr.Field("not_applicable", "is only for phases a forward move skips")
		}
		return State{Status: Analysis, NotApplicable: naBefore(cur.NotApplicable, Analysis)}, nil

	case to < from:
		if m.To != Analysis || (cur.Status != Containment && cur.Status != Eradication && cur.Status != Recovery) {
			return State{}, apperr.New(apperr.Conflict,
				"cannot move back from %s to %s: only containment, eradication and recovery return to analysis", cur.Status, m.To)
		}
		if note == "" {
			return State{}, apperr.Field("note", "is required to return to analysis: say what new facts appeared")
		}
		if len(m.NotApplicable) > 0 {
			return State{}, apperr.Field("not_applicable", "is only for phases a forward move skips")
		}
		return State{Status: Analysis, NotApplicable: naBefore(cur.NotApplicable, Analysis)}, nil

	case m.To == Closed:
		if m.Resolution == "" {
			return State{}, apperr.Field("resolution", "is required to close an incident")
		}
		if !m.Resolution.Valid() {
			return State{}, apperr.Field("resolution", "must be one of %s", joinResolutions())
		}
		if m.Resolution.disposition() {
			if note == "" {
				return State{}, apperr.Field("note", "is required to close as %s: say why", m.Resolution)
			}
			if len(m.NotApplicable) > 0 {
				return State{}, apperr.Field("not_applicable", "is not used when closing as %s", m.Resolution)
			}
			return State{Status: Closed, Resolution: m.Resolution, NotApplicable: cur.NotApplicable}, nil
		}
	}

	skipped := Statuses[from+1 : to]
	if err := checkSkipped(skipped, m.NotApplicable); err != nil {
		return State{}, err
	}
	if len(skipped) > 0 && note == "" {
		return State{}, apperr.Field("note", "is required when skipping phases: say why they do not apply")
	}
	na := append(slices.Clone(cur.NotApplicable), skipped...)
	return State{Status: m.To, Resolution: m.Resolution, NotApplicable: na}, nil
}

// checkSkipped requires the not-applicable list to name exactly the phases
// the move skips.
func checkSkipped(skipped, na []Status) error {
	for _, s := range na {
		if !slices.Contains(skipped, s) {
			return apperr.Field("not_applicable", "%q is not a phase this move skips", s)
		}
	}
	var missing []Status
	for _, s := range skipped {
		if !slices.Contains(na, s) {
			missing = append(missing, s)
		}
	}
	if len(missing) > 0 {
		return apperr.Field("not_applicable",
			"this move skips %s: list each skipped phase as not applicable, or move one phase at a time", joinStatuses(missing))
	}
	return nil
}

// naBefore keeps the not-applicable phases that come before s.
func naBefore(na []Status, s Status) []Status {
	out := []Status{}
	for _, p := range na {
		if p.order() < s.order() {
			out = append(out, p)
		}
	}
	return out
}

// NextMoves lists the statuses a move from s may go to (some need a note,
// a resolution or not-applicable phases).
func NextMoves(s Status) []Status {
	switch s {
	case Closed:
		return []Status{Analysis}
	case Containment, Eradication, Recovery:
		return append([]Status{Analysis}, Statuses[s.order()+1:]...)
	default:
		return slices.Clone(Statuses[s.order()+1:])
	}
}

func joinStatuses(ss []Status) string {
	parts := make([]string, len(ss))
	for i, s := range ss {
		parts[i] = string(s)
	}
	return strings.Join(parts, ", ")
}

func joinResolutions() string {
	parts := make([]string, len(Resolutions))
	for i, r := range Resolutions {
		parts[i] = string(r)
	}
	return strings.Join(parts, ", ")
}
