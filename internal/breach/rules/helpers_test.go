package rules

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
)

// at parses "2006-01-02T15:04" or "2006-01-02" in UTC.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	for _, layout := range []string{"2006-01-02T15:04", time.DateOnly} {
		if v, err := time.Parse(layout, s); err == nil {
			return v
		}
	}
	t.Fatalf("bad time %q", s)
	return time.Time{}
}

// eod is the last instant of day s in UTC.
func eod(t *testing.T, s string) time.Time {
	t.Helper()
	return EndOfDay(at(t, s), time.UTC)
}

// rulesets are the federal rule sets with fixtureStates: the engine's
// mechanics are tested on this fixed table, and the shipped table's rows
// by TestShippedJurisdictions.
func rulesets(t *testing.T) RuleSets {
	t.Helper()
	rs, err := DefaultRuleSets()
	if err != nil {
		t.Fatalf("DefaultRuleSets: %v", err)
	}
	rs.States = fixtureStates()
	if err := rs.Validate(); err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return rs
}

// fixtureStates is a State table for the engine's tests, modelled on real
// laws but frozen here (citations say "fixture"), so the tests of the
// mechanics do not move when the shipped table is revised. OH and PA
// have rows and no rules of their own.
func fixtureStates() StateTable {
	j := func(code string, h HIPAATreatment) Jurisdiction {
		name, _ := JurisdictionName(code)
		return Jurisdiction{Code: code, Name: name, Citation: "fixture " + code + " statute", SourceURL: "https://example.org/" + code,
			Reviewed: "2026-12-01", CounselToConfirm: true, HIPAA: h}
	}
	days := func(n int) *Term { return &Term{Amount: n, Unit: Days} }
	bdays := func(n int) *Term { return &Term{Amount: n, Unit: Days, Business: true} }
	gu := j("GU", "")
	gu.NoStatute = true
	return StateTable{Version: "fixture", Source: "tests", Jurisdictions: []Jurisdiction{
		j("CA", HIPAANotExempt), j("TX", HIPAANotExempt), j("NY", HIPAANotExempt), j("VT", HIPAANotExempt), j("WA", HIPAANotExempt),
		j("OH", HIPAANotExempt), j("PA", HIPAANotExempt), j("GA", HIPAADeemedCompliant), j("MA", HIPAANotExempt), gu,
	}, Rules: []StateRule{
		{ID: "CA-individuals", State: "CA", Recipient: StateIndividuals, Citation: "fixture Cal. Civ. Code 1798.82", MinResidents: 1, Anchor: FromDiscovery, CounselToConfirm: true},
		{ID: "CA-individuals", State: "CA", Recipient: StateIndividuals, Citation: "fixture Cal. Civ. Code 1798.82(a)", EffectiveFrom: "2026-01-01", MinResidents: 1, Anchor: FromDiscovery, Term: days(30), CounselToConfirm: true},
		{ID: "CA-ag", State: "CA", Recipient: StateRegulator, Authority: "California Attorney General", Citation: "fixture Cal. Civ. Code 1798.82(f)", EffectiveFrom: "2026-01-01", MinResidents: 501, Anchor: FromIndividualNotice, Term: days(15), CounselToConfirm: true},
		{ID: "CA-facility-patients", State: "CA", Recipient: StateIndividuals, AppliesTo: "ca_licensed_health_facility", Citation: "fixture Cal. Health & Safety Code 1280.15", MinResidents: 1, Anchor: FromDiscovery, Term: bdays(15), CounselToConfirm: true},
		{ID: "CA-facility-cdph", State: "CA", Recipient: StateRegulator, Authority: "California Department of Public Health", AppliesTo: "ca_licensed_health_facility", Citation: "fixture Cal. Health & Safety Code 1280.15", MinResidents: 1, Anchor: FromDiscovery, Term: bdays(15), CounselToConfirm: true},
		{ID: "TX-individuals", State: "TX", Recipient: StateIndividuals, Citation: "fixture Tex. Bus. & Com. Code 521.053(b)", MinResidents: 1, Anchor: FromDiscovery, Term: days(60), CounselToConfirm: true},
		{ID: "TX-ag", State: "TX", Recipient: StateRegulator, Authority: "Texas Attorney General", Citation: "fixture Tex. Bus. & Com. Code 521.053(i)", MinResidents: 250, Anchor: FromDiscovery, Term: days(30), CounselToConfirm: true},
		{ID: "NY-individuals", State: "NY", Recipient: StateIndividuals, Citation: "fixture N.Y. Gen. Bus. Law 899-aa(2)", MinResidents: 1, Anchor: FromDiscovery, Term: days(30), CounselToConfirm: true},
		{ID: "NY-regulators", State: "NY", Recipient: StateRegulator, Authority: "New York Attorney General, Department of State and State Police", Citation: "fixture N.Y. Gen. Bus. Law 899-aa(8)(a)", MinResidents: 1, Anchor: FromIndividualNotice, CounselToConfirm: true},
		{ID: "NY-ag-hipaa", State: "NY", Recipient: StateRegulator, Authority: "New York Attorney General (HIPAA)", Citation: "fixture N.Y. Gen. Bus. Law 899-aa(9)", MinResidents: 1, Anchor: FromHHSNotice, Term: bdays(5), CounselToConfirm: true},
		{ID: "NY-cra", State: "NY", Recipient: StateCRA, Citation: "fixture N.Y. Gen. Bus. Law 899-aa(8)(b)", MinResidents: 5001, Anchor: FromIndividualNotice, CounselToConfirm: true},
		{ID: "VT-ag", State: "VT", Recipient: StateRegulator, Authority: "Vermont Attorney General", Citation: "fixture 9 V.S.A. 2435(b)(3)", MinResidents: 1, Anchor: FromDiscovery, Term: bdays(14), CounselToConfirm: true},
		{ID: "WA-individuals", State: "WA", Recipient: StateIndividuals, Citation: "fixture RCW 19.255.010(8)", MinResidents: 1, Anchor: FromDiscovery, Term: days(30), CounselToConfirm: true},
		{ID: "WA-ag", State: "WA", Recipient: StateRegulator, Authority: "Washington Attorney General", Citation: "fixture RCW 19.255.010(7)", MinResidents: 501, Anchor: FromIndividualNotice, CounselToConfirm: true},
		{ID: "GA-individuals", State: "GA", Recipient: StateIndividuals, Citation: "fixture O.C.G.A. 10-1-912(a)", MinResidents: 1, Anchor: FromDiscovery, Term: days(30), HIPAAExempt: true, CounselToConfirm: true},
		{ID: "MA-individuals", State: "MA", Recipient: StateIndividuals, Citation: "fixture M.G.L. c. 93H, 3(b)", MinResidents: 1, Anchor: FromDiscovery, CounselToConfirm: true},
		{ID: "MA-ag", State: "MA", Recipient: StateRegulator, Authority: "Massachusetts Attorney General", Citation: "fixture M.G.L. c. 93H, 3(b)", MinResidents: 1, Anchor: FromDiscovery, CounselToConfirm: true},
	}}
}

func keys(obs []Obligation) []string {
	out := make([]string, len(obs))
	for i, o := range obs {
		out[i] = o.Key
	}
	return out
}

func find(t *testing.T, obs []Obligation, key string) Obligation {
	t.Helper()
	for _, o := range obs {
		if o.Key == key {
			return o
		}
	}
	t.Fatalf("no obligation %q in %v", key, keys(obs))
	return Obligation{}
}

// apperrOf returns the fields an apperr error names.
func apperrOf(err error) ([]string, bool) {
	e, ok := apperr.As(err)
	if !ok {
		return nil, false
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field)
	}
	return out, true
}

func jsonMarshal(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}
