package rules

import (
	"slices"
	"strings"
	"testing"
)

func TestDefaultStatesShipsREGULATIONSRowsForCounsel(t *testing.T) {
	st, err := DefaultStates()
	if err != nil {
		t.Fatalf("the shipped State table is malformed: %v", err)
	}
	if st.Version == "" || len(st.Rules) == 0 {
		t.Fatalf("table = %+v", st)
	}
	var states []string
	for _, r := range st.Rules {
		if r.Citation == "" || !r.CounselToConfirm {
			t.Errorf("REGULATIONS.md section 4 ships every row with its citation, counsel to confirm: %+v", r)
		}
		states = append(states, r.State)
	}
	for _, want := range []string{"CA", "TX", "NY", "FL", "CO", "WA", "ME", "VT", "PR", "IL", "IA"} {
		if !slices.Contains(states, want) {
			t.Errorf("REGULATIONS.md section 4 lists %s; the table lacks it", want)
		}
	}
}

// Fictional rules for American Samoa (AS; the facts must name a
// jurisdiction Ward covers): the versioning mechanism is tested on them,
// never on real law.
func TestStateTableVersions(t *testing.T) {
	tbl := StateTable{Version: "test", Rules: []StateRule{
		{ID: "AS-individuals", State: "AS", Recipient: StateIndividuals, Citation: "Fictional Code 1", MinResidents: 1, Anchor: FromDiscovery, Term: &Term{45, Days, false}},
		{ID: "AS-individuals", State: "AS", Recipient: StateIndividuals, Citation: "Fictional Code 1 (amended)", EffectiveFrom: "2026-07-01", MinResidents: 1, Anchor: FromDiscovery, Term: &Term{20, Days, false}},
		{ID: "AS-ag", State: "AS", Recipient: StateRegulator, Authority: "Fictional Attorney General", Citation: "Fictional Code 2", EffectiveFrom: "2027-01-01", MinResidents: 1, Anchor: FromDiscovery, Term: &Term{10, Days, false}},
	}}
	if err := tbl.Validate(); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		day  string
		want []string
	}{
		{"2026-06-30", []string{"Fictional Code 1"}},
		{"2026-07-01", []string{"Fictional Code 1 (amended)"}},
		{"2027-01-01", []string{"Fictional Code 1 (amended)", "Fictional Code 2"}},
	}
	for _, tc := range cases {
		t.Run("effective_from on "+tc.day, func(t *testing.T) {
			var got []string
			for _, r := range tbl.InEffect(tc.day) {
				got = append(got, r.Citation)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("InEffect(%s) = %v, want %v", tc.day, got, tc.want)
			}
		})
	}
	rs := RuleSets{HIPAA: HIPAA(), FTC: FTCHBNR(), States: tbl, AfterDelay: DueWhenDelayEnds}
	f := Facts{Role: CoveredEntity, DiscoveredAt: at(t, "2026-07-02T09:00"), NotificationRequired: true, Individuals: 1, ByState: map[string]int{"AS": 1}}
	ind := find(t, Compute(f, rs, at(t, "2026-07-02")), "individuals")
	if ind.Citation != "Fictional Code 1 (amended)" || !ind.Due.Equal(eod(t, "2026-07-22")) || len(ind.Deadlines) != 2 {
		t.Errorf("the version in effect at discovery applies: %+v", ind)
	}
}

func TestLoadStatesRefuses(t *testing.T) {
	cases := []struct {
		name, json, field string
	}{
		{"not JSON", `{`, "states"},
		{"unknown field", `{"version":"1","rules":[],"extra":1}`, "states"},
		{"no version", `{"rules":[]}`, "version"},
		{"rule without citation", `{"version":"1","rules":[{"id":"ZZ-i","state":"ZZ","recipient":"individuals","min_residents":1,"anchor":"discovery","term":{"amount":5,"unit":"days"}}]}`, "rules[0].citation"},
		{"regulator without authority", `{"version":"1","rules":[{"id":"ZZ-r","state":"ZZ","recipient":"regulator","citation":"x","min_residents":1,"anchor":"discovery","term":{"amount":5,"unit":"days"}}]}`, "rules[0].authority"},
		{"bad effective date", `{"version":"1","rules":[{"id":"ZZ-i","state":"ZZ","recipient":"individuals","citation":"x","effective_from":"1/1/2026","min_residents":1,"anchor":"discovery","term":{"amount":5,"unit":"days"}}]}`, "rules[0].effective_from"},
		{"discovery anchor without term", `{"version":"1","rules":[{"id":"ZZ-i","state":"ZZ","recipient":"individuals","citation":"x","min_residents":1,"anchor":"discovery"}]}`, "rules[0].term"},
		{"bad term", `{"version":"1","rules":[{"id":"ZZ-i","state":"ZZ","recipient":"individuals","citation":"x","min_residents":1,"anchor":"discovery","term":{"amount":5,"unit":"weeks"}}]}`, "rules[0].term.unit"},
		{"two versions on one date", `{"version":"1","rules":[{"id":"ZZ-i","state":"ZZ","recipient":"individuals","citation":"x","min_residents":1,"anchor":"discovery","term":{"amount":5,"unit":"days"}},{"id":"ZZ-i","state":"ZZ","recipient":"individuals","citation":"x","min_residents":1,"anchor":"discovery","term":{"amount":6,"unit":"days"}}]}`, "rules[1].id"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadStates(strings.NewReader(tc.json))
			got, ok := apperrOf(err)
			if !ok || !slices.Contains(got, tc.field) {
				t.Errorf("LoadStates fields = %v (%v), want %s", got, err, tc.field)
			}
		})
	}
}
