package rules

import (
	"slices"
	"testing"
	"time"
)

func TestFactsValidate(t *testing.T) {
	base := func(t *testing.T) Facts {
		return Facts{Role: CoveredEntity, DiscoveredAt: at(t, "2026-03-02T09:00"), NotificationRequired: true, Individuals: 10}
	}
	cases := []struct {
		name   string
		edit   func(t *testing.T, f *Facts)
		fields []string
	}{
		{"valid", func(*testing.T, *Facts) {}, nil},
		{"role unknown", func(_ *testing.T, f *Facts) { f.Role = "vendor" }, []string{"role"}},
		{"164.404(a)(2) no discovery date", func(t *testing.T, f *Facts) { f.DiscoveredAt = at(t, "0001-01-01") }, []string{"discovered_at"}},
		{"more residents than individuals", func(_ *testing.T, f *Facts) { f.ByState = map[string]int{"OH": 11} }, []string{"by_state"}},
		{"bad State code", func(_ *testing.T, f *Facts) { f.ByState = map[string]int{"ohio": 1} }, []string{"by_state.ohio"}},
		{"unknown jurisdiction", func(_ *testing.T, f *Facts) { f.ByState = map[string]int{"OH": 1, "ZZ": 1} }, []string{"by_state.ZZ"}},
		{"lower-case jurisdiction", func(_ *testing.T, f *Facts) { f.ByState = map[string]int{"ca": 1} }, []string{"by_state.ca"}},
		{"every territory", func(_ *testing.T, f *Facts) {
			f.ByState = map[string]int{"PR": 1, "GU": 1, "VI": 1, "AS": 1, "MP": 1, "DC": 1}
		}, nil},
		{"known tag", func(_ *testing.T, f *Facts) { f.Tags = []string{"ca_licensed_health_facility"} }, nil},
		{"Cal. Health & Safety Code 1280.15 tag misspelt", func(_ *testing.T, f *Facts) {
			f.Tags = []string{"ca_licensed_health_facility", "ca_licenced_health_facility"}
		}, []string{"tags[1]"}},
		{"tag listed twice", func(_ *testing.T, f *Facts) {
			f.Tags = []string{"ca_licensed_health_facility", "ca_licensed_health_facility"}
		}, []string{"tags[1]"}},
		{"164.410 business associate without customers", func(_ *testing.T, f *Facts) { f.Role = BusinessAssociate }, []string{"customers"}},
		{"164.410 covered entity listing customers", func(_ *testing.T, f *Facts) { f.Customers = []Customer{{ID: "c1"}} }, []string{"customers"}},
		{"164.410 customer listed twice with a bad term", func(_ *testing.T, f *Facts) {
			f.Role = BusinessAssociate
			f.Customers = []Customer{{ID: "c1"}, {ID: "c1", Notice: &Term{Amount: 0, Unit: Days}}}
		}, []string{"customers[1].id", "customers[1].notice.amount"}},
		{"164.412(b) oral statement without the official's identity", func(t *testing.T, f *Facts) {
			f.Delay = &LawEnforcementDelay{Oral: &OralStatement{At: at(t, "2026-03-03")}}
		}, []string{"law_enforcement_delay.oral.official"}},
		{"164.412(a) written statement without a period", func(t *testing.T, f *Facts) {
			f.Delay = &LawEnforcementDelay{Written: &WrittenStatement{At: at(t, "2026-03-03")}}
		}, []string{"law_enforcement_delay.written.until"}},
		{"164.412(a) written statement ending before it was made", func(t *testing.T, f *Facts) {
			f.Delay = &LawEnforcementDelay{Written: &WrittenStatement{At: at(t, "2026-03-03"), Until: at(t, "2026-03-01")}}
		}, []string{"law_enforcement_delay.written.until"}},
		{"164.412 empty delay", func(_ *testing.T, f *Facts) { f.Delay = &LawEnforcementDelay{} }, []string{"law_enforcement_delay"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := base(t)
			tc.edit(t, &f)
			err := f.Validate()
			if tc.fields == nil {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			got, ok := apperrOf(err)
			if !ok || !slices.Equal(got, tc.fields) {
				t.Errorf("Validate fields = %v (%v), want %v", got, err, tc.fields)
			}
		})
	}
}

func TestDelayPeriods(t *testing.T) {
	oral := &OralStatement{At: at(t, "2026-03-01T10:00"), Official: "Special Agent B. Example"}
	cases := []struct {
		name string
		d    LawEnforcementDelay
		want []Period
	}{
		{"164.412(b) oral: 30 days from the statement", LawEnforcementDelay{Oral: oral},
			[]Period{{at(t, "2026-03-01T10:00"), at(t, "2026-03-31T10:00"), "45 CFR 164.412(b)"}}},
		{"164.412(a) written: until the date specified", LawEnforcementDelay{Written: &WrittenStatement{At: at(t, "2026-03-05"), Until: at(t, "2026-05-01")}},
			[]Period{{at(t, "2026-03-05"), at(t, "2026-05-01"), "45 CFR 164.412(a)"}}},
		{"164.412(b) written on day 30 still replaces the cap", LawEnforcementDelay{Oral: oral, Written: &WrittenStatement{At: at(t, "2026-03-31T10:00"), Until: at(t, "2026-05-01")}},
			[]Period{{at(t, "2026-03-01T10:00"), at(t, "2026-05-01"), "45 CFR 164.412(a), (b)"}}},
		{"164.412(a),(b) written before a later oral statement: each holds on its own", LawEnforcementDelay{Oral: oral, Written: &WrittenStatement{At: at(t, "2026-02-20"), Until: at(t, "2026-03-10")}},
			[]Period{{at(t, "2026-02-20"), at(t, "2026-03-10"), "45 CFR 164.412(a)"}, {at(t, "2026-03-01T10:00"), at(t, "2026-03-31T10:00"), "45 CFR 164.412(b)"}}},
		{"164.412(b) written after the oral delay lapsed holds from its own date", LawEnforcementDelay{Oral: oral, Written: &WrittenStatement{At: at(t, "2026-04-10"), Until: at(t, "2026-05-01")}},
			[]Period{{at(t, "2026-03-01T10:00"), at(t, "2026-03-31T10:00"), "45 CFR 164.412(b)"}, {at(t, "2026-04-10"), at(t, "2026-05-01"), "45 CFR 164.412(a)"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.d.Periods(nil); !slices.Equal(got, tc.want) {
				t.Errorf("Periods = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestFactsValidateAt(t *testing.T) {
	now := at(t, "2026-03-10T12:00")
	cases := []struct {
		name   string
		edit   func(f *Facts)
		fields []string
	}{
		{"discovered now", func(f *Facts) { f.DiscoveredAt = now }, nil},
		{"discovered a second from now", func(f *Facts) { f.DiscoveredAt = now.Add(time.Second) }, []string{"discovered_at"}},
		{"should have known tomorrow", func(f *Facts) { f.ShouldHaveKnownAt = now.AddDate(0, 0, 1) }, []string{"should_have_known_at"}},
		{"both in the future", func(f *Facts) { f.DiscoveredAt, f.ShouldHaveKnownAt = now.AddDate(1, 0, 0), now.AddDate(0, 1, 0) },
			[]string{"discovered_at", "should_have_known_at"}},
		{"74 FR 42740 discovered before the rule took effect", func(f *Facts) { f.DiscoveredAt = at(t, "2009-09-22T23:59") }, []string{"discovered_at"}},
		{"74 FR 42740 discovered the day it took effect", func(f *Facts) { f.DiscoveredAt = at(t, "2009-09-23") }, nil},
		{"should have known unset", func(f *Facts) { f.ShouldHaveKnownAt = time.Time{} }, nil},
		{"structural problems are reported too", func(f *Facts) { f.DiscoveredAt, f.Individuals = now.Add(time.Hour), -1 },
			[]string{"individuals", "by_state", "discovered_at"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := Facts{Role: CoveredEntity, DiscoveredAt: at(t, "2026-03-02T09:00"), ShouldHaveKnownAt: at(t, "2026-03-01T09:00"), Individuals: 10}
			tc.edit(&f)
			err := f.ValidateAt(now)
			if tc.fields == nil {
				if err != nil {
					t.Fatalf("ValidateAt: %v", err)
				}
				return
			}
			got, ok := apperrOf(err)
			if !ok || !slices.Equal(got, tc.fields) {
				t.Errorf("ValidateAt fields = %v (%v), want %v", got, err, tc.fields)
			}
		})
	}
}

func TestJurisdictions(t *testing.T) {
	codes := JurisdictionCodes()
	if len(codes) != 56 || !slices.IsSorted(codes) {
		t.Fatalf("JurisdictionCodes = %d codes %v, want the 56 jurisdictions sorted", len(codes), codes)
	}
	for _, c := range codes {
		if name, ok := JurisdictionName(c); !ok || name == "" {
			t.Errorf("JurisdictionName(%q) = %q, %v", c, name, ok)
		}
	}
	for code, want := range map[string]string{"MA": "Massachusetts", "DC": "District of Columbia", "PR": "Puerto Rico", "GU": "Guam",
		"VI": "U.S. Virgin Islands", "AS": "American Samoa", "MP": "Northern Mariana Islands"} {
		if got, ok := JurisdictionName(code); !ok || got != want {
			t.Errorf("JurisdictionName(%q) = %q, %v, want %q", code, got, ok, want)
		}
	}
	for _, bad := range []string{"ZZ", "ca", "", "USA", "FM"} {
		if _, ok := JurisdictionName(bad); ok {
			t.Errorf("JurisdictionName(%q) is known", bad)
		}
	}
	codes[0] = "XX"
	if JurisdictionCodes()[0] != "AK" {
		t.Error("JurisdictionCodes shares its slice with callers")
	}
}

func TestCaseTags(t *testing.T) {
	for _, tag := range Tags() {
		if tag.Tag == "" || tag.Label == "" || tag.Citation == "" {
			t.Errorf("tag %+v lacks an id, a label or a citation", tag)
		}
	}
	if label, ok := TagLabel("ca_licensed_health_facility"); !ok || label == "" {
		t.Errorf("TagLabel(ca_licensed_health_facility) = %q, %v", label, ok)
	}
	if _, ok := TagLabel("ca_licenced_health_facility"); ok {
		t.Error("a misspelt tag is known")
	}
}
