package rules

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// OH and PA have no rules in the fixture State table, so these cases see
// the federal rules alone, one individual notice per State.
func TestComputeFederalThresholds(t *testing.T) {
	cases := []struct {
		name    string
		total   int
		byState map[string]int
		want    []string
		hhsMode HHSMode
		hhsDue  string
	}{
		{"164.406(a)+164.408(b) exactly 500 in one State: HHS immediate, no media notice",
			500, map[string]int{"OH": 500}, []string{"individuals:OH", "hhs"}, HHSImmediate, "2026-05-04"},
		{"164.406(a) 501 in one State: media notice for that State",
			501, map[string]int{"OH": 501}, []string{"individuals:OH", "media:OH", "hhs"}, HHSImmediate, "2026-05-04"},
		{"164.406(a) counted per State: 600 spread 300/300 gets no media notice",
			600, map[string]int{"OH": 300, "PA": 300}, []string{"individuals:OH", "individuals:PA", "hhs"}, HHSImmediate, "2026-05-04"},
		{"164.408(c) 499 spread over States: annual log due 60 days after the year of discovery",
			499, map[string]int{"OH": 250, "PA": 249}, []string{"individuals:OH", "individuals:PA", "hhs"}, HHSAnnualLog, "2027-03-01"},
		{"164.408(b) 500 in total with unknown residence: HHS immediate",
			500, nil, []string{"individuals", "hhs"}, HHSImmediate, "2026-05-04"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := Facts{Role: CoveredEntity, DiscoveredAt: at(t, "2026-03-05T10:00"), NotificationRequired: true,
				Individuals: tc.total, ByState: tc.byState}
			obs := Compute(f, rulesets(t), at(t, "2026-03-06"))
			if got := keys(obs); !slices.Equal(got, tc.want) {
				t.Fatalf("obligations = %v, want %v", got, tc.want)
			}
			for _, ind := range obs {
				if ind.Recipient != ToIndividuals {
					continue
				}
				if want := eod(t, "2026-05-04"); !ind.Due.Equal(want) || ind.Citation != "45 CFR 164.404(b)" {
					t.Errorf("%s due %v (%s), want %v (45 CFR 164.404(b))", ind.Key, ind.Due, ind.Citation, want)
				}
				if want := tc.byState[ind.Jurisdiction]; ind.Jurisdiction != "" && ind.Count != want {
					t.Errorf("%s counts %d, want %d", ind.Key, ind.Count, want)
				}
			}
			hhs := find(t, obs, "hhs")
			if hhs.HHSMode != tc.hhsMode || !hhs.Due.Equal(eod(t, tc.hhsDue)) {
				t.Errorf("hhs = %s due %v, want %s due %s", hhs.HHSMode, hhs.Due, tc.hhsMode, tc.hhsDue)
			}
			for _, o := range obs {
				if o.Status != StatusOpen || o.Citation == "" || o.Why == "" {
					t.Errorf("%s: status %s, citation %q, why %q", o.Key, o.Status, o.Citation, o.Why)
				}
			}
		})
	}
}

func TestComputeMediaDeadline(t *testing.T) {
	f := Facts{Role: CoveredEntity, DiscoveredAt: at(t, "2026-03-05T10:00"), NotificationRequired: true,
		Individuals: 501, ByState: map[string]int{"OH": 501}}
	m := find(t, Compute(f, rulesets(t), at(t, "2026-03-06")), "media:OH")
	if m.Jurisdiction != "OH" || m.Citation != "45 CFR 164.406(b)" || !m.Due.Equal(eod(t, "2026-05-04")) {
		t.Errorf("164.406(b) media = %+v", m)
	}
}

func TestComputeAnnualLogLeapYear(t *testing.T) {
	cases := []struct {
		name, discovered, due string
	}{
		{"164.408(c) discovery in 2026: due 2027-03-01", "2026-06-10T09:00", "2027-03-01"},
		{"164.408(c) discovery in 2027: due 2028-02-29 (leap year)", "2027-01-02T09:00", "2028-02-29"},
		{"164.408(c) discovery on 31 December 2027: due 2028-02-29", "2027-12-31T23:00", "2028-02-29"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := Facts{Role: CoveredEntity, DiscoveredAt: at(t, tc.discovered), NotificationRequired: true, Individuals: 12}
			hhs := find(t, Compute(f, rulesets(t), at(t, tc.discovered)), "hhs")
			if hhs.HHSMode != HHSAnnualLog || !hhs.Due.Equal(eod(t, tc.due)) || hhs.Citation != "45 CFR 164.408(c)" {
				t.Errorf("hhs = %s due %v (%s), want annual log due %s", hhs.HHSMode, hhs.Due, hhs.Citation, tc.due)
			}
		})
	}
}

func TestComputeDiscoveryIsEarlierOfKnownAndShouldHaveKnown(t *testing.T) {
	cases := []struct {
		name              string
		known, shouldHave string
		individualsDue    string
	}{
		{"164.404(a)(2) should have known earlier: clock starts then", "2026-03-20T10:00", "2026-03-05T10:00", "2026-05-04"},
		{"164.404(a)(2) known earlier: clock starts then", "2026-03-05T10:00", "2026-03-20T10:00", "2026-05-04"},
		{"164.404(a)(2) only should-have-known recorded", "", "2026-03-05T10:00", "2026-05-04"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := Facts{Role: CoveredEntity, NotificationRequired: true, Individuals: 3}
			if tc.known != "" {
				f.DiscoveredAt = at(t, tc.known)
			}
			f.ShouldHaveKnownAt = at(t, tc.shouldHave)
			ind := find(t, Compute(f, rulesets(t), at(t, "2026-03-21")), "individuals")
			if !ind.Due.Equal(eod(t, tc.individualsDue)) {
				t.Errorf("individuals due %v, want %s", ind.Due, tc.individualsDue)
			}
		})
	}
}

func TestComputeLawEnforcementDelay(t *testing.T) {
	discovered := "2026-03-01T09:00" // individual deadline 2026-04-30 end of day
	cases := []struct {
		name   string
		delay  LawEnforcementDelay
		policy AfterDelay
		asOf   string
		due    time.Time
		status Status
		cite   string
	}{
		{"164.412(b) oral delay is capped at 30 days from the statement",
			LawEnforcementDelay{Oral: &OralStatement{At: at(t, "2026-04-20T10:00"), Official: "Det. A. Example"}},
			DueWhenDelayEnds, "2026-05-01", at(t, "2026-05-20T10:00"), StatusHeld, "45 CFR 164.412(b)"},
		{"164.412(b) oral delay that ends before the deadline leaves it unchanged",
			LawEnforcementDelay{Oral: &OralStatement{At: at(t, "2026-03-02T10:00"), Official: "Det. A. Example"}},
			DueWhenDelayEnds, "2026-04-10", eod(t, "2026-04-30"), StatusOpen, "45 CFR 164.412(b)"},
		{"164.412(a) written delay holds until the date it specifies",
			LawEnforcementDelay{Written: &WrittenStatement{At: at(t, "2026-04-01T10:00"), Until: at(t, "2026-06-15")}},
			DueWhenDelayEnds, "2026-05-01", at(t, "2026-06-15"), StatusHeld, "45 CFR 164.412(a)"},
		{"164.412(a),(b) written statement within the oral 30 days replaces the cap",
			LawEnforcementDelay{Oral: &OralStatement{At: at(t, "2026-04-20T10:00"), Official: "Det. A. Example"},
				Written: &WrittenStatement{At: at(t, "2026-05-10T10:00"), Until: at(t, "2026-07-01")}},
			DueWhenDelayEnds, "2026-06-01", at(t, "2026-07-01"), StatusHeld, "45 CFR 164.412(a), (b)"},
		{"164.412(a),(b) overlapping written and later oral statements hold until the last ends",
			LawEnforcementDelay{Written: &WrittenStatement{At: at(t, "2026-04-15T10:00"), Until: at(t, "2026-05-05")},
				Oral: &OralStatement{At: at(t, "2026-04-25T10:00"), Official: "Det. A. Example"}},
			DueWhenDelayEnds, "2026-05-10", at(t, "2026-05-25T10:00"), StatusHeld, "45 CFR 164.412(b)"},
		{"164.412(a) after the delay ends the notice is overdue",
			LawEnforcementDelay{Written: &WrittenStatement{At: at(t, "2026-04-01T10:00"), Until: at(t, "2026-06-15")}},
			DueWhenDelayEnds, "2026-06-16", at(t, "2026-06-15"), StatusOverdue, "45 CFR 164.412(a)"},
		{"164.412(a) clock paused policy adds the delay's length to the deadline",
			LawEnforcementDelay{Written: &WrittenStatement{At: at(t, "2026-03-11T09:00"), Until: at(t, "2026-03-21T09:00")}},
			ClockPaused, "2026-03-15", eod(t, "2026-05-10"), StatusHeld, "45 CFR 164.412(a)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := rulesets(t)
			rs.AfterDelay = tc.policy
			f := Facts{Role: CoveredEntity, DiscoveredAt: at(t, discovered), NotificationRequired: true, Individuals: 700,
				Delay: &tc.delay}
			obs := Compute(f, rs, at(t, tc.asOf))
			for _, key := range []string{"individuals", "hhs"} {
				o := find(t, obs, key)
				if !o.Due.Equal(tc.due) {
					t.Errorf("%s due %v, want %v", key, o.Due, tc.due)
				}
				if o.Status != tc.status {
					t.Errorf("%s status %s, want %s", key, o.Status, tc.status)
				}
				if o.Hold == nil || o.Hold.Citation != tc.cite {
					t.Errorf("%s hold = %+v, want one citing %s", key, o.Hold, tc.cite)
				}
			}
		})
	}
}

func TestComputeBusinessAssociate(t *testing.T) {
	hours72 := Term{Amount: 72, Unit: Hours}
	days10 := Term{Amount: 10, Unit: Days}
	days90 := Term{Amount: 90, Unit: Days}
	business2 := Term{Amount: 2, Unit: Days, Business: true}
	cases := []struct {
		name       string
		discovered string
		term       *Term
		due        time.Time
		citation   string
	}{
		{"164.410(b) no contract term: 60 calendar days after discovery", "2026-03-02T09:00", nil, eod(t, "2026-05-01"), "45 CFR 164.410(b)"},
		{"164.410(b) contract 72 hours is earlier than 60 days and wins", "2026-03-02T09:00", &hours72, at(t, "2026-03-05T09:00"), "business associate agreement with Clinic"},
		{"164.410(b) contract 10 calendar days wins", "2026-03-02T09:00", &days10, eod(t, "2026-03-12"), "business associate agreement with Clinic"},
		{"164.410(b) contract later than 60 days loses to the regulation", "2026-03-02T09:00", &days90, eod(t, "2026-05-01"), "45 CFR 164.410(b)"},
		{"164.410(b) contract 2 business days over a weekend: Thursday → Monday", "2026-03-05T16:00", &business2, eod(t, "2026-03-09"), "business associate agreement with Clinic"},
		{"164.410(b) contract 2 business days over Independence Day observed Friday 2026-07-03", "2026-07-02T16:00", &business2, eod(t, "2026-07-07"), "business associate agreement with Clinic"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := Facts{Role: BusinessAssociate, DiscoveredAt: at(t, tc.discovered), NotificationRequired: true, Individuals: 800,
				ByState: map[string]int{"OH": 800}, Customers: []Customer{{ID: "c1", Name: "Clinic", Notice: tc.term}}}
			obs := Compute(f, rulesets(t), at(t, tc.discovered))
			if got := keys(obs); !slices.Equal(got, []string{"covered_entity:c1"}) {
				t.Fatalf("a business associate owes only its customer notice, got %v", got)
			}
			o := obs[0]
			if !o.Due.Equal(tc.due) || o.Citation != tc.citation || o.CustomerID != "c1" {
				t.Errorf("due %v (%s), want %v (%s)", o.Due, o.Citation, tc.due, tc.citation)
			}
			if wantN := 1 + btoi(tc.term != nil); len(o.Deadlines) != wantN {
				t.Errorf("deadlines = %d, want %d", len(o.Deadlines), wantN)
			}
		})
	}
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestComputeBothRoles(t *testing.T) {
	f := Facts{Role: Both, DiscoveredAt: at(t, "2026-03-02T09:00"), NotificationRequired: true, Individuals: 20,
		Customers: []Customer{{ID: "c1"}, {ID: "c2", Notice: &Term{Amount: 24, Unit: Hours}}}}
	got := keys(Compute(f, rulesets(t), at(t, "2026-03-02")))
	want := []string{"individuals", "hhs", "covered_entity:c1", "covered_entity:c2"}
	if !slices.Equal(got, want) {
		t.Errorf("164.404+164.410 both roles: obligations %v, want %v", got, want)
	}
}

func TestComputeNothingWithoutNotification(t *testing.T) {
	f := Facts{Role: CoveredEntity, DiscoveredAt: at(t, "2026-03-02T09:00"), Individuals: 900,
		ByState: map[string]int{"CA": 900}}
	if obs := Compute(f, rulesets(t), at(t, "2026-03-02")); obs != nil {
		t.Errorf("164.402 no breach: obligations %v, want none", keys(obs))
	}
	f.NotificationRequired = true
	f.Role = "vendor"
	if obs := Compute(f, rulesets(t), at(t, "2026-03-02")); obs != nil {
		t.Errorf("invalid facts: obligations %v, want none", keys(obs))
	}
}

func TestComputeSecuredPHINoObligations(t *testing.T) {
	d := Determination{
		Secured:   &Secured{Method: Encrypted, Standard: "nist_sp_800_111", Rationale: "full-disk encryption, key in TPM, laptop powered off"},
		Signature: Signature{Officer: "privacy.officer", SignedAt: at(t, "2026-03-03T12:00")},
	}
	res, err := Decide(d)
	if err != nil {
		t.Fatal(err)
	}
	f := Facts{Role: CoveredEntity, DiscoveredAt: at(t, "2026-03-02T09:00"), NotificationRequired: res.NotificationRequired(),
		Individuals: 5000, ByState: map[string]int{"CA": 5000}}
	if obs := Compute(f, rulesets(t), at(t, "2026-03-02")); len(obs) != 0 {
		t.Errorf("164.402 secured PHI: obligations %v, want none", keys(obs))
	}
}

func TestComputeStateRules(t *testing.T) {
	cases := []struct {
		name       string
		discovered string
		byState    map[string]int
		tags       []string
		key        string
		due        time.Time
		cite       string
		absent     []string
	}{
		{"Cal. Civ. Code 1798.82 from 2026-01-01: 30 days beat HIPAA's 60 for individuals",
			"2026-02-01T09:00", map[string]int{"CA": 10}, nil, "individuals:CA", eod(t, "2026-03-03"), "fixture Cal. Civ. Code 1798.82", nil},
		{"Cal. Civ. Code 1798.82 not yet in effect in 2025: HIPAA's 60 days",
			"2025-12-15T09:00", map[string]int{"CA": 10}, nil, "individuals:CA", eod(t, "2026-02-13"), "45 CFR 164.404(b)", []string{"state_regulator:CA-ag"}},
		{"Cal. Civ. Code 1798.82 AG sample copy 15 days after individual notice when more than 500",
			"2026-02-01T09:00", map[string]int{"CA": 501}, nil, "state_regulator:CA-ag", eod(t, "2026-03-18"), "fixture Cal. Civ. Code 1798.82", nil},
		{"Cal. Civ. Code 1798.82 exactly 500 residents: no AG sample copy",
			"2026-02-01T09:00", map[string]int{"CA": 500}, nil, "individuals:CA", eod(t, "2026-03-03"), "fixture Cal. Civ. Code 1798.82", []string{"state_regulator:CA-ag"}},
		{"Cal. Health & Safety Code 1280.15 licensed facility: 15 business days to the patient",
			"2026-02-02T09:00", map[string]int{"CA": 3}, []string{"ca_licensed_health_facility"}, "individuals:CA", eod(t, "2026-02-24"), "fixture Cal. Health & Safety Code 1280.15", nil},
		{"Cal. Health & Safety Code 1280.15 licensed facility: CDPH in 15 business days",
			"2026-02-02T09:00", map[string]int{"CA": 3}, []string{"ca_licensed_health_facility"}, "state_regulator:CA-facility-cdph", eod(t, "2026-02-24"), "fixture Cal. Health & Safety Code 1280.15", nil},
		{"Texas AG within 30 days at 250 residents",
			"2026-03-02T09:00", map[string]int{"TX": 250}, nil, "state_regulator:TX-ag", eod(t, "2026-04-01"), "fixture Tex.", nil},
		{"Texas 249 residents: no AG notice",
			"2026-03-02T09:00", map[string]int{"TX": 249}, nil, "individuals:TX", eod(t, "2026-05-01"), "45 CFR 164.404(b)", []string{"state_regulator:TX-ag"}},
		{"New York AG within 5 business days of notifying HHS (annual log 2027-03-01 → 2027-03-08)",
			"2026-03-02T09:00", map[string]int{"NY": 2}, nil, "state_regulator:NY-ag-hipaa", eod(t, "2027-03-08"), "fixture N.Y.", nil},
		{"Vermont AG within 14 business days of discovery (Presidents' Day skipped)",
			"2026-02-09T09:00", map[string]int{"VT": 1}, nil, "state_regulator:VT-ag", eod(t, "2026-03-02"), "fixture 9 V.S.A.", nil},
		{"Georgia exempts HIPAA entities: the federal deadline governs its residents",
			"2026-03-02T09:00", map[string]int{"GA": 5}, nil, "individuals:GA", eod(t, "2026-05-01"), "45 CFR 164.404(b)", nil},
		{"Massachusetts without unreasonable delay: the federal outer limit governs, the AG by the notice to residents",
			"2026-03-02T09:00", map[string]int{"MA": 5}, nil, "state_regulator:MA-ag", eod(t, "2026-05-01"), "fixture M.G.L.", nil},
		{"New York consumer reporting agencies above 5,000 residents, with the notice to residents",
			"2026-03-02T09:00", map[string]int{"NY": 5001}, nil, "consumer_reporting_agencies:NY", eod(t, "2026-04-01"), "fixture N.Y.", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			total := 0
			for _, n := range tc.byState {
				total += n
			}
			f := Facts{Role: CoveredEntity, DiscoveredAt: at(t, tc.discovered), NotificationRequired: true,
				Individuals: total, ByState: tc.byState, Tags: tc.tags}
			obs := Compute(f, rulesets(t), at(t, tc.discovered))
			o := find(t, obs, tc.key)
			if !o.Due.Equal(tc.due) || !strings.HasPrefix(o.Citation, tc.cite) {
				t.Errorf("%s due %v (%s), want %v (%s...)", tc.key, o.Due, o.Citation, tc.due, tc.cite)
			}
			if tc.cite != "45 CFR 164.404(b)" && !o.CounselToConfirm {
				t.Errorf("%s: a State default must be marked counsel to confirm", tc.key)
			}
			for _, k := range tc.absent {
				if slices.Contains(keys(obs), k) {
					t.Errorf("obligation %s should not apply", k)
				}
			}
		})
	}
}

func TestComputeStateAnchorUsesActualNoticeDate(t *testing.T) {
	f := Facts{Role: CoveredEntity, DiscoveredAt: at(t, "2026-02-01T09:00"), NotificationRequired: true,
		Individuals: 600, ByState: map[string]int{"CA": 600}, Made: map[string]time.Time{"individuals:CA": at(t, "2026-02-10T15:00")}}
	o := find(t, Compute(f, rulesets(t), at(t, "2026-02-11")), "state_regulator:CA-ag")
	if want := eod(t, "2026-02-25"); !o.Due.Equal(want) {
		t.Errorf("Cal. Civ. Code 1798.82 AG copy counted from the notice sent: due %v, want %v", o.Due, want)
	}
}

func TestObligationsReportsInvalidInput(t *testing.T) {
	f := Facts{Role: BusinessAssociate, DiscoveredAt: at(t, "2026-03-02T09:00"), NotificationRequired: true, Individuals: 5}
	if _, err := Obligations(f, rulesets(t), at(t, "2026-03-02")); err == nil {
		t.Error("164.410 a business associate without customers was accepted")
	}
	f.Customers = []Customer{{ID: "c1"}}
	rs := rulesets(t)
	rs.AfterDelay = "whenever"
	got, ok := apperrOf(func() error { _, err := Obligations(f, rs, at(t, "2026-03-02")); return err }())
	if !ok || !slices.Equal(got, []string{"after_delay"}) {
		t.Errorf("164.412 unknown after-delay policy: fields %v", got)
	}
	if obs := Compute(f, rs, at(t, "2026-03-02")); obs != nil {
		t.Errorf("Compute with invalid rule sets = %v, want none", keys(obs))
	}
	rs.AfterDelay = DueWhenDelayEnds
	rs.HIPAA.IndividualDays = 0
	if _, err := Obligations(f, rs, at(t, "2026-03-02")); err == nil {
		t.Error("a zero federal deadline was accepted")
	}
	obs, err := Obligations(f, rulesets(t), at(t, "2026-03-02"))
	if err != nil || len(obs) != 1 {
		t.Errorf("Obligations = %v, %v", keys(obs), err)
	}
}

func TestComputeEarliestDeadlineWinsPerRecipientGroup(t *testing.T) {
	f := Facts{Role: CoveredEntity, DiscoveredAt: at(t, "2026-02-02T09:00"), NotificationRequired: true,
		Individuals: 30, ByState: map[string]int{"CA": 10, "TX": 10, "OH": 10}, Tags: []string{"ca_licensed_health_facility"}}
	obs := Compute(f, rulesets(t), at(t, "2026-02-02"))
	deadlines := func(o Obligation) []string {
		var got []string
		for _, d := range o.Deadlines {
			got = append(got, d.Due.Format(time.DateOnly)+" "+d.Citation)
		}
		return got
	}
	ca := find(t, obs, "individuals:CA")
	want := []string{
		"2026-02-24 fixture Cal. Health & Safety Code 1280.15",
		"2026-03-04 fixture Cal. Civ. Code 1798.82(a)",
		"2026-04-03 45 CFR 164.404(b)",
	}
	if got := deadlines(ca); !slices.Equal(got, want) {
		t.Errorf("164.404(b) and California's rules, earliest first:\n got %q\nwant %q", got, want)
	}
	if ca.Citation != "fixture Cal. Health & Safety Code 1280.15" || !strings.Contains(ca.Why, "10 residents of California") || !strings.Contains(ca.Why, "15 business days") {
		t.Errorf("the controlling deadline is the earliest: %s / %s", ca.Citation, ca.Why)
	}
	// Texas's 60 days tie with the federal 60: the federal deadline wins
	// the tie, and Texans are not shown California's deadline.
	tx := find(t, obs, "individuals:TX")
	if got := deadlines(tx); !slices.Equal(got, []string{"2026-04-03 45 CFR 164.404(b)", "2026-04-03 fixture Tex. Bus. & Com. Code 521.053(b)"}) || tx.Count != 10 {
		t.Errorf("Texas residents' notice: %q, count %d", got, tx.Count)
	}
	oh := find(t, obs, "individuals:OH")
	if !oh.Due.Equal(eod(t, "2026-04-03")) || oh.Law == nil || !strings.Contains(oh.Law.Summary, "Ohio law sets no notice to residents") {
		t.Errorf("Ohio residents: due %v, law %+v", oh.Due, oh.Law)
	}
	if hhs := find(t, obs, "hhs"); hhs.HHSMode != HHSAnnualLog {
		t.Errorf("164.408(c) 30 individuals: %s", hhs.HHSMode)
	}
}

// 164.408(b) ties the Secretary's notice to the federal outer limit: a
// State's shorter deadline for its residents does not move it (the engine
// once used the earliest individual deadline, State rules included).
func TestComputeHHSKeepsTheFederalDeadline(t *testing.T) {
	f := Facts{Role: CoveredEntity, DiscoveredAt: at(t, "2026-02-02T09:00"), NotificationRequired: true,
		Individuals: 600, ByState: map[string]int{"CA": 600}}
	obs := Compute(f, rulesets(t), at(t, "2026-02-02"))
	if ca := find(t, obs, "individuals:CA"); !ca.Due.Equal(eod(t, "2026-03-04")) {
		t.Fatalf("California residents due %v, want the State's 30 days", ca.Due)
	}
	for _, key := range []string{"hhs", "media:CA"} {
		if o := find(t, obs, key); !o.Due.Equal(eod(t, "2026-04-03")) || o.Citation == "fixture Cal. Civ. Code 1798.82(a)" {
			t.Errorf("164.408(b), 164.406(b) %s due %v (%s), want the federal 60 days", key, o.Due, o.Citation)
		}
	}
}

func TestComputeIndividualsPerStateAndUnknown(t *testing.T) {
	f := Facts{Role: CoveredEntity, DiscoveredAt: at(t, "2026-03-02T09:00"), NotificationRequired: true,
		Individuals: 40, ByState: map[string]int{"GA": 10, "GU": 5, "MA": 5}}
	obs := Compute(f, rulesets(t), at(t, "2026-03-02"))
	if got, want := keys(obs), []string{"individuals", "individuals:GA", "individuals:GU", "individuals:MA", "hhs", "state_regulator:MA-ag"}; !slices.Equal(got, want) {
		t.Fatalf("obligations = %v, want %v", got, want)
	}
	if u := find(t, obs, "individuals"); u.Count != 20 || u.Jurisdiction != "" || !strings.Contains(u.Why, "20 individuals whose State of residence is not recorded") {
		t.Errorf("unknown-State group: %+v", u)
	}
	cases := []struct{ key, summary string }{
		{"individuals:GA", "Georgia law sets no deadline of its own for a HIPAA covered entity"},
		{"individuals:GU", "Guam has no breach-notification statute"},
		{"individuals:MA", "without unreasonable delay and sets no number of days"},
	}
	for _, tc := range cases {
		o := find(t, obs, tc.key)
		if o.Law == nil || !strings.Contains(o.Law.Summary, tc.summary) || !o.Due.Equal(eod(t, "2026-05-01")) {
			t.Errorf("%s: due %v, law %+v, want a summary with %q", tc.key, o.Due, o.Law, tc.summary)
		}
	}
	if ga := find(t, obs, "individuals:GA"); len(ga.Law.NotOwed) != 1 || !strings.Contains(ga.Law.NotOwed[0], "O.C.G.A.") {
		t.Errorf("Georgia's rule is listed as not owed, with its citation: %q", ga.Law.NotOwed)
	}
	// A PHR vendor is not a HIPAA entity: Georgia's law binds it.
	f.Role = PHRVendor
	if ga := find(t, Compute(f, rulesets(t), at(t, "2026-03-02")), "individuals:GA"); !ga.Due.Equal(eod(t, "2026-04-01")) {
		t.Errorf("a PHR vendor owes Georgia's 30 days: due %v", ga.Due)
	}
}

func TestComputeDependentDeadlinesFollowNoticesMade(t *testing.T) {
	f := Facts{Role: CoveredEntity, DiscoveredAt: at(t, "2026-03-02T09:00"), NotificationRequired: true,
		Individuals: 600, ByState: map[string]int{"NY": 600}}
	before := Compute(f, rulesets(t), at(t, "2026-03-02"))
	ag := find(t, before, "state_regulator:NY-ag-hipaa")
	if !ag.Due.Equal(eod(t, "2026-05-08")) || !strings.Contains(ag.Deadlines[0].From, "not made yet") {
		t.Fatalf("NY AG before HHS notice: due %v from %q, want 5 business days after the HHS deadline 2026-05-01", ag.Due, ag.Deadlines[0].From)
	}
	f.Made = map[string]time.Time{"hhs": at(t, "2026-03-20T16:00"), "individuals:NY": at(t, "2026-03-19T10:00")}
	after := Compute(f, rulesets(t), at(t, "2026-03-21"))
	ag = find(t, after, "state_regulator:NY-ag-hipaa")
	if !ag.Due.Equal(eod(t, "2026-03-27")) || !strings.Contains(ag.Deadlines[0].From, "made 2026-03-20") {
		t.Errorf("NY AG after the HHS notice made 2026-03-20: due %v from %q, want 2026-03-27", ag.Due, ag.Deadlines[0].From)
	}
	if reg := find(t, after, "state_regulator:NY-regulators"); !reg.Due.Equal(at(t, "2026-03-19T10:00")) {
		t.Errorf("NY regulators with the notice to residents, made 2026-03-19: due %v", reg.Due)
	}
}

func TestComputePHRVendor(t *testing.T) {
	cases := []struct {
		name    string
		total   int
		byState map[string]int
		want    []string
	}{
		{"16 CFR 318 499 individuals: individual notice only", 499, nil, []string{"individuals"}},
		{"16 CFR 318 500 individuals: the FTC too, and no HHS or media notice", 500, map[string]int{"OH": 500}, []string{"individuals:OH", "ftc"}},
		{"16 CFR 318 State rules apply, except those counted from an HHS notice", 501, map[string]int{"NY": 501}, []string{"individuals:NY", "ftc", "state_regulator:NY-regulators"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := Facts{Role: PHRVendor, DiscoveredAt: at(t, "2026-03-02T09:00"), NotificationRequired: true, Individuals: tc.total, ByState: tc.byState}
			obs := Compute(f, rulesets(t), at(t, "2026-03-02"))
			if got := keys(obs); !slices.Equal(got, tc.want) {
				t.Fatalf("obligations = %v, want %v", got, tc.want)
			}
			ind := obs[0]
			wantDue, wantCite := eod(t, "2026-05-01"), "16 CFR 318 (as amended 2024)"
			if tc.byState["NY"] > 0 {
				wantDue, wantCite = eod(t, "2026-04-01"), "fixture N.Y."
			}
			if !ind.Due.Equal(wantDue) || !strings.HasPrefix(ind.Citation, wantCite) {
				t.Errorf("individuals due %v (%s), want %v (%s)", ind.Due, ind.Citation, wantDue, wantCite)
			}
			if len(obs) > 1 && (!obs[1].Due.Equal(eod(t, "2026-05-01")) || obs[1].Recipient != ToFTC) {
				t.Errorf("ftc = %+v", obs[1])
			}
		})
	}
}

func TestComputeOrder(t *testing.T) {
	f := Facts{Role: Both, DiscoveredAt: at(t, "2026-03-02T09:00"), NotificationRequired: true, Individuals: 1200,
		ByState: map[string]int{"WA": 600, "CA": 600}, Customers: []Customer{{ID: "c2"}, {ID: "c1"}}}
	want := []string{"individuals:CA", "individuals:WA", "media:CA", "media:WA", "hhs", "state_regulator:CA-ag", "state_regulator:WA-ag", "covered_entity:c2", "covered_entity:c1"}
	if got := keys(Compute(f, rulesets(t), at(t, "2026-03-02"))); !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}
