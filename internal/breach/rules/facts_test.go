package rules

import (
	"slices"
	"testing"
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
		{"unknown jurisdiction code", func(_ *testing.T, f *Facts) { f.ByState = map[string]int{"ZZ": 1} }, []string{"by_state.ZZ"}},
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
