package breach_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

func intp(n int) *int { return &n }

// fieldsOf returns the fields an Invalid error names.
func fieldsOf(err error) []string {
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.Invalid {
		return nil
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field)
	}
	return out
}

// importCSV imports rows of name,state into the case.
func importCSV(t *testing.T, e individualsEnv, rows ...string) {
	t.Helper()
	csv := "name,address1,city,state,zip\n"
	for i, r := range rows {
		name, st, _ := strings.Cut(r, ",")
		csv += name + "," + string(rune('1'+i)) + " Elm St,Springfield," + st + ",01101\n"
	}
	if _, err := e.svc.ImportIndividuals(as(authz.RoleSecurityOfficer, "sam"), e.ref, strings.NewReader(csv)); err != nil {
		t.Fatal(err)
	}
}

// TestPatchFacts: a PATCH changes the facts it names and no other, a
// null clears one; bad input names its field and writes nothing.
func TestPatchFacts(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newIndividualsEnv(t, d)
		sec := as(authz.RoleSecurityOfficer, "sam")
		c, err := e.svc.Get(sec, e.ref)
		if err != nil {
			t.Fatal(err)
		}
		f := c.Facts
		f.DiscoveredAt, f.ShouldHaveKnownAt = start.Add(-time.Hour), start.Add(-48*time.Hour)
		f.Individuals, f.ByState = 700, map[string]int{"CA": 600}
		f.Tags = []string{"ca_licensed_health_facility"}
		if c, err = e.svc.SetFacts(sec, e.ref, f); err != nil {
			t.Fatal(err)
		}

		// Absent is unchanged: changing the tags alone keeps the rest.
		c, err = e.svc.PatchFacts(sec, e.ref, breach.FactsPatch{Set: []string{"tags"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(c.Facts.Tags) != 0 || c.Facts.Individuals != 700 || c.Facts.ByState["CA"] != 600 ||
			!c.Facts.ShouldHaveKnownAt.Equal(start.Add(-48*time.Hour)) || c.Facts.Role != rules.CoveredEntity {
			t.Fatalf("patching the tags changed other facts: %+v", c.Facts)
		}
		// Null clears: should_have_known_at, and one State's figure.
		c, err = e.svc.PatchFacts(sec, e.ref, breach.FactsPatch{Set: []string{"should_have_known_at"},
			ByState: map[string]*int{"CA": nil, "OR": intp(90)}})
		if err != nil {
			t.Fatal(err)
		}
		if !c.Facts.ShouldHaveKnownAt.IsZero() || !c.Facts.DiscoveredAt.Equal(start.Add(-time.Hour)) ||
			!maps.Equal(c.Facts.ByState, map[string]int{"OR": 90}) {
			t.Fatalf("after clearing should_have_known_at and CA: %+v", c.Facts)
		}
		if got, _ := e.svc.Get(sec, e.ref); !maps.Equal(got.Facts.ByState, map[string]int{"OR": 90}) || got.Version != c.Version {
			t.Fatalf("as read back: %+v v%d, want OR=90 v%d", got.Facts, got.Version, c.Version)
		}

		// Bad input: 422 naming each field, nothing written.
		for _, tc := range []struct {
			name  string
			p     breach.FactsPatch
			field []string
		}{
			{"unknown jurisdiction", breach.FactsPatch{ByState: map[string]*int{"ZZ": intp(1)}}, []string{"by_state.ZZ"}},
			{"misspelt tag", breach.FactsPatch{Set: []string{"tags"}, To: rules.Facts{Tags: []string{"ca_licensed_health_facility", "ca_licenced"}}},
				[]string{"tags[1]"}},
			{"discovered in the future", breach.FactsPatch{Set: []string{"discovered_at"}, To: rules.Facts{DiscoveredAt: start.Add(time.Minute)}},
				[]string{"discovered_at"}},
			{"should have known in the future", breach.FactsPatch{Set: []string{"should_have_known_at"},
				To: rules.Facts{ShouldHaveKnownAt: start.AddDate(0, 0, 3)}}, []string{"should_have_known_at"}},
			{"discovered before the rule", breach.FactsPatch{Set: []string{"discovered_at"}, To: rules.Facts{DiscoveredAt: time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)}},
				[]string{"discovered_at"}},
			{"more residents than individuals", breach.FactsPatch{ByState: map[string]*int{"WA": intp(700)}}, []string{"by_state"}},
		} {
			if _, err := e.svc.PatchFacts(sec, e.ref, tc.p); !slices.Equal(fieldsOf(err), tc.field) {
				t.Errorf("%s: %v, want a 422 naming %v", tc.name, err, tc.field)
			}
		}
		if got, _ := e.svc.Get(sec, e.ref); got.Version != c.Version {
			t.Errorf("refused patches wrote the case: version %d, want %d", got.Version, c.Version)
		}
		// A patch that changes nothing writes nothing.
		if got, err := e.svc.PatchFacts(sec, e.ref, breach.FactsPatch{}); err != nil || got.Version != c.Version {
			t.Errorf("empty patch: v%d %v", got.Version, err)
		}
		if _, err := e.svc.PatchFacts(as(authz.RoleResponder, "rae"), e.ref, breach.FactsPatch{Set: []string{"tags"}}); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("a responder patching: %v", err)
		}
	})
}

// TestFactsKeepImportedCounts: the per-State counts of imported
// individuals survive a PUT or PATCH that does not name them, a figure
// typed for another State survives an import, and an imported State's
// count is not typed over.
func TestFactsKeepImportedCounts(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newIndividualsEnv(t, d)
		sec := as(authz.RoleSecurityOfficer, "sam")
		// Typed first: an estimate for Oregon and California.
		c, err := e.svc.PatchFacts(sec, e.ref, breach.FactsPatch{Set: []string{"individuals"}, To: rules.Facts{Individuals: 50},
			ByState: map[string]*int{"OR": intp(40), "CA": intp(5)}})
		if err != nil {
			t.Fatal(err)
		}
		// The list has two Californians and a Texan: California counts
		// the list, Oregon keeps its estimate.
		importCSV(t, e, "Ann Lee,CA", "Bob Ray,CA", "Cy Dee,TX")
		c, err = e.svc.Get(sec, e.ref)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]int{"CA": 2, "TX": 1, "OR": 40}
		if !maps.Equal(c.Facts.ByState, want) || c.Facts.Individuals != 50 || !maps.Equal(c.Estimates, map[string]int{"OR": 40}) {
			t.Fatalf("after the import: %v individuals %d estimates %v, want %v, 50, OR=40", c.Facts.ByState, c.Facts.Individuals, c.Estimates, want)
		}

		// A PUT of facts read before the import (no CA, no TX) keeps the
		// imported counts.
		stale := c.Facts
		stale.ByState = map[string]int{"OR": 40}
		stale.Tags = []string{"ca_licensed_health_facility"}
		if c, err = e.svc.SetFacts(sec, e.ref, stale); err != nil {
			t.Fatal(err)
		}
		if !maps.Equal(c.Facts.ByState, want) {
			t.Fatalf("a PUT without the imported States dropped them: %v, want %v", c.Facts.ByState, want)
		}
		// The CA facility rules still apply: no State deadline vanished.
		obs, err := e.svc.Obligations(sec, e.ref)
		if err != nil {
			t.Fatal(err)
		}
		if keys := keysOf(obs); !strings.Contains(keys, "CA-cdph") {
			t.Errorf("obligations after the PUT: %s", keys)
		}
		// A PATCH of another State keeps them too; PUT or PATCH may repeat
		// an imported count, not change or remove it.
		if c, err = e.svc.PatchFacts(sec, e.ref, breach.FactsPatch{ByState: map[string]*int{"WA": intp(3), "CA": intp(2)}}); err != nil {
			t.Fatal(err)
		}
		if want["WA"] = 3; !maps.Equal(c.Facts.ByState, want) {
			t.Fatalf("after typing WA: %v, want %v", c.Facts.ByState, want)
		}
		for _, v := range []*int{intp(9), nil} {
			_, err := e.svc.PatchFacts(sec, e.ref, breach.FactsPatch{ByState: map[string]*int{"CA": v}})
			if e, _ := apperr.As(err); !slices.Equal(fieldsOf(err), []string{"by_state.CA"}) || !strings.Contains(e.Fields[0].Message, "imported list") {
				t.Errorf("typing over California's imported count (%v): %v", v, err)
			}
		}
		// Individuals cannot go below the list plus the estimates.
		_, err = e.svc.PatchFacts(sec, e.ref, breach.FactsPatch{Set: []string{"individuals"}, To: rules.Facts{Individuals: 10}})
		if !slices.Equal(fieldsOf(err), []string{"individuals"}) {
			t.Errorf("individuals below the list and estimates: %v", err)
		}
		// An import reaching a State typed by hand replaces its estimate.
		importCSV(t, e, "Ann Lee,CA", "Bob Ray,CA", "Cy Dee,TX", "Di Eve,OR")
		c, err = e.svc.Get(sec, e.ref)
		if err != nil {
			t.Fatal(err)
		}
		want = map[string]int{"CA": 2, "TX": 1, "OR": 1, "WA": 3}
		if !maps.Equal(c.Facts.ByState, want) || !maps.Equal(c.Estimates, map[string]int{"WA": 3}) || c.Facts.Individuals != 50 {
			t.Fatalf("after importing an Oregonian: %v estimates %v individuals %d", c.Facts.ByState, c.Estimates, c.Facts.Individuals)
		}

		// A case saved before the estimates were recorded: its States with
		// no imported individual are taken as typed.
		legacy, err := json.Marshal(c.Facts)
		if err != nil {
			t.Fatal(err)
		}
		storeFacts(t, d, c.ID, string(legacy))
		if c, err = e.svc.Get(sec, e.ref); err != nil || !maps.Equal(c.Estimates, map[string]int{"WA": 3}) {
			t.Fatalf("a case saved before estimates were recorded: estimates %v, %v", c.Estimates, err)
		}
		if _, _, err := e.svc.Recount(sec, e.ref); err != nil {
			t.Fatal(err)
		}
		if c, _ := e.svc.Get(sec, e.ref); !maps.Equal(c.Facts.ByState, want) {
			t.Errorf("recounting it: %v, want %v", c.Facts.ByState, want)
		}
	})
}

// TestStateTableRefusesUnknownTag: a State table whose rule applies to a
// tag Ward does not know is refused, naming the rule.
func TestStateTableRefusesUnknownTag(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newIndividualsEnv(t, d)
		tbl, err := rules.DefaultStates()
		if err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(tbl.Rules, func(r rules.StateRule) bool { return r.AppliesTo != "" })
		tbl.Rules[i].AppliesTo = "ca_licenced_health_facility"
		admin := as(authz.RoleAdmin, "ada")
		_, _, err = e.svc.SetStateTable(admin, tbl, "typo test")
		if want := []string{fmt.Sprintf("rules[%d].applies_to", i)}; !slices.Equal(fieldsOf(err), want) {
			t.Fatalf("SetStateTable with an unknown tag: %v, want a 422 naming %v", err, want)
		}
		if saved, err := e.svc.StateTables(admin); err != nil || len(saved) != 0 {
			t.Errorf("a refused table was saved: %d %v", len(saved), err)
		}
	})
}
