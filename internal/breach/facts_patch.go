package breach

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/incident"
)

// FactsPatch changes some of a case's facts (PATCH): a fact it does not
// name stays as it is, so that nobody loses a fact they did not see.
type FactsPatch struct {
	// Set names the facts to change by their JSON names (see factNames);
	// each takes its value from To, where a zero value clears it.
	Set []string
	To  rules.Facts
	// ClearByState removes every per-State figure typed by hand before
	// ByState applies (PUT replaces them all).
	ClearByState bool
	// ByState types the figure of each State it names; nil removes it.
	// The States of the imported individuals keep their counts: typing
	// one of them another figure, or removing it, is refused.
	ByState map[string]*int
}

// factNames are the facts a FactsPatch can Set, by JSON name; by_state is
// patched per State instead.
func factNames() []string {
	return []string{"role", "discovered_at", "should_have_known_at", "individuals", "customers", "law_enforcement_delay", "tags"}
}

// empty reports whether p changes nothing.
func (p FactsPatch) empty() bool { return len(p.Set) == 0 && !p.ClearByState && len(p.ByState) == 0 }

// PatchFacts changes the facts p names of incident ref's case and
// recomputes its obligations; the change goes on the timeline with what
// it did to them. A patch that changes nothing writes nothing.
func (s *Service) PatchFacts(ctx context.Context, ref string, p FactsPatch) (Case, error) {
	actor, err := authz.Check(ctx, authz.BreachWrite)
	if err != nil {
		return Case{}, err
	}
	for _, name := range p.Set {
		if !slices.Contains(factNames(), name) {
			return Case{}, fmt.Errorf("breach: PatchFacts: no fact %q", name)
		}
	}
	if p.empty() {
		return s.caseOf(ctx, s.db.R, ref)
	}
	now := s.clock.Now()
	var out Case
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		c, err := s.caseOf(ctx, tx, ref)
		if err != nil {
			return err
		}
		cnt, err := s.counts(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		f, estimates, err := p.apply(c, cnt)
		if err != nil {
			return err
		}
		var n int
		if out, n, err = s.saveFactsTx(ctx, tx, c, f, estimates, cnt, now); err != nil {
			return err
		}
		return s.incidents.RecordTx(ctx, tx, c.IncidentID, incident.EventBreach, fmt.Sprintf(
			"Breach facts changed by %s (%s): %d notice obligations recomputed.", actor.Name, p.labels(), n))
	})
	if err != nil {
		return Case{}, err
	}
	return out, nil
}

// factLabels name the facts on the timeline.
var factLabels = map[string]string{"role": "role", "discovered_at": "discovery date", "should_have_known_at": "date it should have been known",
	"individuals": "individuals affected", "customers": "customers to notify", "law_enforcement_delay": "law-enforcement delay",
	"tags": "case tags"}

// labels says in words which facts p changes.
func (p FactsPatch) labels() string {
	var out []string
	for _, name := range factNames() {
		if slices.Contains(p.Set, name) {
			out = append(out, factLabels[name])
		}
	}
	if p.ClearByState || len(p.ByState) > 0 {
		out = append(out, "residents per State")
	}
	return strings.Join(out, ", ")
}

// apply returns case c's facts with p applied, and its per-State figures
// typed by hand; cnt are its imported individuals, counted.
func (p FactsPatch) apply(c Case, cnt Counts) (rules.Facts, map[string]int, error) {
	f, to := c.Facts, p.To
	for _, name := range p.Set {
		switch name {
		case "role":
			f.Role = to.Role
		case "discovered_at":
			f.DiscoveredAt = to.DiscoveredAt
		case "should_have_known_at":
			f.ShouldHaveKnownAt = to.ShouldHaveKnownAt
		case "individuals":
			f.Individuals = to.Individuals
		case "customers":
			f.Customers = to.Customers
		case "law_enforcement_delay":
			f.Delay = to.Delay
		case "tags":
			f.Tags = to.Tags
		}
	}
	estimates := estimatesOf(c, cnt)
	if p.ClearByState {
		clear(estimates)
	}
	imported := importedByState(cnt)
	var fs []apperr.FieldError
	for _, st := range slices.Sorted(maps.Keys(p.ByState)) {
		v := p.ByState[st]
		if n, listed := imported[st]; listed {
			if v == nil || *v != n {
				name, _ := rules.JurisdictionName(st)
				fs = append(fs, apperr.FieldError{Field: "by_state." + st, Message: fmt.Sprintf(
					"%d residents of %s are on the imported list of individuals, which is what counts: correct the list and import it again to change it",
					n, name)})
			}
			continue
		}
		if v == nil {
			delete(estimates, st)
		} else {
			estimates[st] = *v
		}
	}
	if slices.Contains(p.Set, "individuals") || p.ClearByState || len(p.ByState) > 0 {
		listed, estimated := leastIndividuals(estimates, cnt)
		if f.Individuals >= 0 && f.Individuals < listed+estimated { // a negative count is Validate's to refuse
			field, hint := "individuals", ""
			if !slices.Contains(p.Set, "individuals") {
				field, hint = "by_state", fmt.Sprintf(" (individuals is %d: raise it too)", f.Individuals)
			}
			fs = append(fs, apperr.FieldError{Field: field, Message: fmt.Sprintf(
				"needs at least %d individuals affected: %d are on the imported list and %d more are estimated in States not on it%s",
				listed+estimated, listed, estimated, hint)})
		}
	}
	if len(fs) > 0 {
		return rules.Facts{}, nil, &apperr.Error{Code: apperr.Invalid, Message: "the breach facts are incomplete", Fields: fs}
	}
	return f, estimates, nil
}

// importedByState returns how many imported individuals live in each
// State, for States with any.
func importedByState(cnt Counts) map[string]int {
	out := map[string]int{}
	for _, st := range cnt.ByState {
		if st.State != "" && st.Individuals > 0 {
			out[st.State] = st.Individuals
		}
	}
	return out
}

// mergeCounts sets f.ByState from the per-State figures typed by hand
// (estimates) and the counts of the imported individuals (cnt): a State
// with any imported individual counts them, whatever was typed for it; a
// State with none keeps its typed figure. It returns the typed figures
// still in use.
func mergeCounts(f *rules.Facts, estimates map[string]int, cnt Counts) map[string]int {
	imported := importedByState(cnt)
	kept := map[string]int{}
	byState := map[string]int{}
	for st, n := range estimates {
		if _, listed := imported[st]; !listed {
			kept[st], byState[st] = n, n
		}
	}
	maps.Copy(byState, imported)
	f.ByState = byState
	if len(byState) == 0 {
		f.ByState = nil
	}
	return kept
}

// leastIndividuals is the fewest individuals a case can have affected:
// those on its imported list (cnt) and those estimated for States not on
// it.
func leastIndividuals(estimates map[string]int, cnt Counts) (listed, estimated int) {
	imported := importedByState(cnt)
	for st, n := range estimates {
		if _, ok := imported[st]; !ok && n > 0 {
			estimated += n
		}
	}
	return cnt.Individuals, estimated
}
