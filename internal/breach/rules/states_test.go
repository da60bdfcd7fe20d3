package rules

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// TestShippedTableCoversEveryJurisdiction is the completeness
// check: the shipped table has a row for each of the 56 jurisdictions, and
// every row and rule carries its citation, its public source and the date
// it was read.
func TestShippedTableCoversEveryJurisdiction(t *testing.T) {
	st, err := DefaultStates()
	if err != nil {
		t.Fatalf("the shipped State table is malformed: %v", err)
	}
	if len(JurisdictionCodes()) != 56 {
		t.Fatalf("Ward knows %d jurisdictions, want 56", len(JurisdictionCodes()))
	}
	rulesOf := map[string]int{}
	for _, r := range st.Rules {
		rulesOf[r.State]++
		if strings.TrimSpace(r.Citation) == "" || !isURL(r.SourceURL) || !r.CounselToConfirm {
			t.Errorf("rule %s: citation %q, source %q, counsel_to_confirm %v", r.ID, r.Citation, r.SourceURL, r.CounselToConfirm)
		}
	}
	for _, code := range JurisdictionCodes() {
		j, ok := st.Jurisdiction(code)
		if !ok {
			t.Errorf("%s: no row", code)
			continue
		}
		if j.Citation == "" || !isURL(j.SourceURL) || !isDate(j.Reviewed) || !j.CounselToConfirm {
			t.Errorf("%s: citation %q, source %q, reviewed %q, counsel_to_confirm %v", code, j.Citation, j.SourceURL, j.Reviewed, j.CounselToConfirm)
		}
		switch {
		case j.NoStatute && rulesOf[code] > 0:
			t.Errorf("%s has no statute but %d rules", code, rulesOf[code])
		case !j.NoStatute && rulesOf[code] == 0:
			t.Errorf("%s has a statute and no rule: at least its notice to residents is expected", code)
		}
	}
}

// TestShippedJurisdictions runs one case per jurisdiction through the
// engine with the shipped table: a covered entity with residents of that
// jurisdiction only, enough of them to cross every threshold, and asserts
// that the individual notice to them says what their law requires, with
// the citation, and that each State notice the table holds either applies
// with its own citation or is listed as not owed with why.
func TestShippedJurisdictions(t *testing.T) {
	rs, err := DefaultRuleSets()
	if err != nil {
		t.Fatal(err)
	}
	for _, code := range JurisdictionCodes() {
		t.Run(code, func(t *testing.T) {
			j, _ := rs.States.Jurisdiction(code)
			for _, role := range []Role{CoveredEntity, PHRVendor} {
				f := Facts{Role: role, DiscoveredAt: at(t, "2026-03-02T09:00"), NotificationRequired: true,
					Individuals: 100000, ByState: map[string]int{code: 100000}}
				obs, err := Obligations(f, rs, at(t, "2026-03-02T10:00"))
				if err != nil {
					t.Fatal(err)
				}
				ind := find(t, obs, IndividualsKey(code))
				if ind.Law == nil || ind.Law.Citation != j.Citation || ind.Law.SourceURL != j.SourceURL || ind.Law.Summary == "" {
					t.Fatalf("%s %s: law = %+v", code, role, ind.Law)
				}
				if ind.Due.After(eod(t, "2026-05-01")) {
					t.Errorf("%s %s: individual notice due %v, later than the federal 60 days", code, role, ind.Due)
				}
				hipaa := role != PHRVendor
				said := strings.Join(ind.Law.NotOwed, "\n")
				for _, r := range rs.States.InEffect("2026-03-02") {
					if r.State != code {
						continue
					}
					if ok, _ := r.binds(100000, nil, hipaa); !ok {
						if r.AppliesTo == "" && !strings.Contains(said, r.Citation) {
							t.Errorf("%s %s: rule %s does not bind and is not listed as not owed: %q", code, role, r.ID, said)
						}
						continue
					}
					var cited bool
					for _, o := range obs {
						for _, d := range o.Deadlines {
							cited = cited || d.RuleID == r.ID && d.Citation == r.Citation
						}
					}
					if r.Anchor == FromHHSNotice && role == PHRVendor {
						cited = strings.Contains(said, r.Citation)
					}
					if !cited && (r.Recipient != StateIndividuals || r.Term != nil) {
						t.Errorf("%s %s: rule %s binds and no deadline cites it", code, role, r.ID)
					}
				}
				if hipaa {
					if hhs := find(t, obs, "hhs"); !hhs.Due.Equal(eod(t, "2026-05-01")) {
						t.Errorf("%s: HHS due %v: a State law never moves the federal deadline to the Secretary (164.408(b))", code, hhs.Due)
					}
				}
			}
		})
	}
}

// The versioning mechanism is tested on a fixture reading of American
// Samoa's law (citations say "fixture"), never on the shipped rows.
func TestStateTableVersions(t *testing.T) {
	tbl := StateTable{Version: "test", Jurisdictions: []Jurisdiction{{Code: "AS", Name: "American Samoa", Citation: "fixture code",
		SourceURL: "https://example.org/as", Reviewed: "2026-12-01", HIPAA: HIPAANotExempt}},
		Rules: []StateRule{
			{ID: "AS-individuals", State: "AS", Recipient: StateIndividuals, Citation: "fixture code 1", MinResidents: 1, Anchor: FromDiscovery, Term: &Term{45, Days, false}},
			{ID: "AS-individuals", State: "AS", Recipient: StateIndividuals, Citation: "fixture code 1 (amended)", EffectiveFrom: "2026-07-01", MinResidents: 1, Anchor: FromDiscovery, Term: &Term{20, Days, false}},
			{ID: "AS-ag", State: "AS", Recipient: StateRegulator, Authority: "AS Attorney General", Citation: "fixture code 2", EffectiveFrom: "2027-01-01", MinResidents: 1, Anchor: FromDiscovery, Term: &Term{10, Days, false}},
		}}
	if err := malformed(tbl.check()); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		day  string
		want []string
	}{
		{"2026-06-30", []string{"fixture code 1"}},
		{"2026-07-01", []string{"fixture code 1 (amended)"}},
		{"2027-01-01", []string{"fixture code 1 (amended)", "fixture code 2"}},
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
	ind := find(t, Compute(f, rs, at(t, "2026-07-02")), "individuals:AS")
	if ind.Citation != "fixture code 1 (amended)" || !ind.Due.Equal(eod(t, "2026-07-22")) || len(ind.Deadlines) != 2 {
		t.Errorf("the version in effect at discovery applies: %+v", ind)
	}
}

func TestLoadStatesRefuses(t *testing.T) {
	shipped, err := DefaultStates()
	if err != nil {
		t.Fatal(err)
	}
	// edit returns the shipped table, as JSON, with one change.
	edit := func(change func(*StateTable)) string {
		tbl := shipped
		tbl.Jurisdictions = slices.Clone(shipped.Jurisdictions)
		tbl.Rules = slices.Clone(shipped.Rules)
		change(&tbl)
		b, err := jsonMarshal(tbl)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rule := func(r StateRule) func(*StateTable) {
		return func(tbl *StateTable) { tbl.Rules = append([]StateRule{r}, tbl.Rules...) }
	}
	cases := []struct {
		name, json, field string
	}{
		{"not JSON", `{`, "states"},
		{"unknown field", `{"version":"1","rules":[],"extra":1}`, "states"},
		{"no version", edit(func(tbl *StateTable) { tbl.Version = "" }), "version"},
		{"a jurisdiction missing", edit(func(tbl *StateTable) { tbl.Jurisdictions = tbl.Jurisdictions[1:] }), "jurisdictions"},
		{"an unknown jurisdiction", edit(func(tbl *StateTable) { tbl.Jurisdictions[0].Code = "ZZ" }), "jurisdictions[0].code"},
		{"a jurisdiction twice", edit(func(tbl *StateTable) { tbl.Jurisdictions = append(tbl.Jurisdictions, tbl.Jurisdictions[3]) }), fmt.Sprintf("jurisdictions[%d].code", len(shipped.Jurisdictions))},
		{"a jurisdiction without citation", edit(func(tbl *StateTable) { tbl.Jurisdictions[2].Citation = " " }), "jurisdictions[2].citation"},
		{"a jurisdiction without source", edit(func(tbl *StateTable) { tbl.Jurisdictions[2].SourceURL = "" }), "jurisdictions[2].source_url"},
		{"a jurisdiction without review date", edit(func(tbl *StateTable) { tbl.Jurisdictions[2].Reviewed = "last year" }), "jurisdictions[2].reviewed"},
		{"an unknown HIPAA treatment", edit(func(tbl *StateTable) { tbl.Jurisdictions[2].HIPAA = "sometimes" }), "jurisdictions[2].hipaa"},
		{"rule without citation", edit(rule(StateRule{ID: "TX-x", State: "TX", Recipient: StateIndividuals, MinResidents: 1, Anchor: FromDiscovery, Term: &Term{5, Days, false}})), "rules[0].citation"},
		{"rule for an unknown jurisdiction", edit(rule(StateRule{ID: "ZZ-x", State: "ZZ", Recipient: StateIndividuals, Citation: "x", MinResidents: 1, Anchor: FromDiscovery})), "rules[0].state"},
		{"regulator without authority", edit(rule(StateRule{ID: "TX-x", State: "TX", Recipient: StateRegulator, Citation: "x", MinResidents: 1, Anchor: FromDiscovery})), "rules[0].authority"},
		{"unknown tag", edit(rule(StateRule{ID: "TX-x", State: "TX", Recipient: StateIndividuals, Citation: "x", AppliesTo: "tx_clinic", MinResidents: 1, Anchor: FromDiscovery})), "rules[0].applies_to"},
		{"bad effective date", edit(rule(StateRule{ID: "TX-x", State: "TX", Recipient: StateIndividuals, Citation: "x", EffectiveFrom: "1/1/2026", MinResidents: 1, Anchor: FromDiscovery})), "rules[0].effective_from"},
		{"bad term", edit(rule(StateRule{ID: "TX-x", State: "TX", Recipient: StateIndividuals, Citation: "x", MinResidents: 1, Anchor: FromDiscovery, Term: &Term{5, "weeks", false}})), "rules[0].term.unit"},
		{"two versions on one date", edit(func(tbl *StateTable) { tbl.Rules = append(tbl.Rules, tbl.Rules[0]) }), fmt.Sprintf("rules[%d].id", len(shipped.Rules))},
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

func TestUpgradeKeepsEditedRowsAndFillsTheRest(t *testing.T) {
	shipped, err := DefaultStates()
	if err != nil {
		t.Fatal(err)
	}
	old := StateTable{Version: "edited-2026-11", Rules: []StateRule{{ID: "TX-individuals", State: "TX", Recipient: StateIndividuals,
		Citation: "Tex. Bus. & Com. Code 521.053 (as counsel read it)", MinResidents: 1, Anchor: FromDiscovery, Term: &Term{45, Days, false}}}}
	up := old.Upgrade(shipped)
	if err := up.Validate(); err != nil {
		t.Fatalf("an upgraded table must validate: %v", err)
	}
	var tx []string
	for _, r := range up.Rules {
		if r.State == "TX" {
			tx = append(tx, r.Citation)
		}
	}
	if !slices.Equal(tx, []string{old.Rules[0].Citation}) {
		t.Errorf("the edited State keeps exactly its edited rows: %v", tx)
	}
	if len(up.Rules) <= len(old.Rules) || len(up.Jurisdictions) != 56 {
		t.Errorf("the other jurisdictions take the shipped rows: %d rules, %d jurisdictions", len(up.Rules), len(up.Jurisdictions))
	}
	if again := up.Upgrade(shipped); len(again.Rules) != len(up.Rules) {
		t.Error("upgrading a present-form table changes it")
	}
}

var update = flag.Bool("update", false, "rewrite docs/BREACH_RULES.md's list of jurisdictions from the shipped table")

// TestDocsListEveryJurisdiction keeps docs/BREACH_RULES.md's list of the
// 56 jurisdictions true to the shipped table; after changing states.json,
// run it with -update to rewrite the list.
func TestDocsListEveryJurisdiction(t *testing.T) {
	const path = "../../../docs/BREACH_RULES.md"
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := DefaultStates()
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- jurisdictions: begin -->\n", "<!-- jurisdictions: end -->\n"
	i, j := strings.Index(string(doc), begin), strings.Index(string(doc), end)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the %q and %q markers", path, begin, end)
	}
	want := jurisdictionsMarkdown(st)
	if got := string(doc[i+len(begin) : j]); got != want {
		if !*update {
			t.Fatalf("%s's list of jurisdictions is not the shipped table's: run go test ./internal/breach/rules -run TestDocsListEveryJurisdiction -update", path)
		}
		out := string(doc[:i+len(begin)]) + want + string(doc[j:])
		if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// jurisdictionsMarkdown is the table of docs/BREACH_RULES.md: each
// jurisdiction with its statute, treatment of HIPAA entities, notices and
// the source read.
func jurisdictionsMarkdown(st StateTable) string {
	cell := func(s string) string { return strings.ReplaceAll(s, "|", "/") }
	var b strings.Builder
	b.WriteString("| jurisdiction | statute | HIPAA entities | notices (recipient: deadline) | source read |\n|---|---|---|---|---|\n")
	for _, j := range st.Jurisdictions {
		var notices []string
		for _, r := range st.Rules {
			if r.State != j.Code {
				continue
			}
			who := "residents"
			switch r.Recipient {
			case StateRegulator:
				who = r.Authority
			case StateCRA:
				who = "consumer reporting agencies"
			}
			when := "without unreasonable delay"
			switch {
			case r.Term != nil:
				when = r.Term.String() + " after " + anchorLabel(r.Anchor)
			case r.Anchor != FromDiscovery:
				when = "with " + anchorLabel(r.Anchor)
			}
			n := who + ": " + when
			if r.MinResidents > 1 {
				n += fmt.Sprintf(" (at %d or more)", r.MinResidents)
			}
			if r.EffectiveFrom != "" {
				n += ", from " + r.EffectiveFrom
			}
			if r.HIPAAExempt {
				n += ", not for HIPAA entities"
			}
			if label, ok := TagLabel(r.AppliesTo); ok {
				n += ", only for " + label
			}
			notices = append(notices, n)
		}
		hipaa, law := map[HIPAATreatment]string{HIPAAExempt: "exempt", HIPAADeemedCompliant: "deemed compliant, on conditions",
			HIPAANotExempt: "not exempt"}[j.HIPAA], strings.Join(notices, "; ")
		if j.NoStatute {
			hipaa, law = "no statute", "none: no breach-notification statute found"
		}
		title := j.SourceTitle
		if title == "" {
			title = "source"
		}
		fmt.Fprintf(&b, "| %s (%s) | %s | %s | %s | [%s](%s), %s |\n", j.Name, j.Code, cell(j.Citation), hipaa, cell(law),
			cell(title), j.SourceURL, j.Reviewed)
	}
	return b.String()
}

func anchorLabel(a Anchor) string {
	switch a {
	case FromIndividualNotice:
		return "the notice to residents"
	case FromHHSNotice:
		return "the notice to HHS"
	}
	return "discovery"
}
