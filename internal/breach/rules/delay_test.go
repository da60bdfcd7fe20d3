package rules

import "testing"

// TestDueWithoutHold: a law-enforcement delay that moves a deadline keeps
// the deadline it replaced beside it (164.412); one that moves nothing
// sets none.
func TestDueWithoutHold(t *testing.T) {
	f := Facts{Role: CoveredEntity, DiscoveredAt: at(t, "2026-03-01T09:00"), NotificationRequired: true, Individuals: 700,
		Delay: &LawEnforcementDelay{Written: &WrittenStatement{At: at(t, "2026-04-01T10:00"), Until: at(t, "2026-06-15"),
			Official: "Special Agent B. Example"}}}
	obs := Compute(f, rulesets(t), at(t, "2026-05-01"))
	for _, key := range []string{"individuals", "hhs"} {
		o := find(t, obs, key)
		if !o.Due.Equal(at(t, "2026-06-15")) {
			t.Errorf("%s held due %v, want the end of the hold", key, o.Due)
		}
		if o.DueWithoutHold == nil || !o.DueWithoutHold.Equal(eod(t, "2026-04-30")) {
			t.Errorf("%s due without hold = %v, want the 60th day after discovery, 2026-04-30 (164.404(b))", key, o.DueWithoutHold)
		}
	}

	f.Delay = &LawEnforcementDelay{Oral: &OralStatement{At: at(t, "2026-03-02T10:00"), Official: "Det. A. Example"}}
	for _, o := range Compute(f, rulesets(t), at(t, "2026-04-10")) {
		if o.DueWithoutHold != nil {
			t.Errorf("%s: a delay that ended before the deadline moved nothing, yet due without hold = %v", o.Key, o.DueWithoutHold)
		}
	}
	f.Delay = nil
	for _, o := range Compute(f, rulesets(t), at(t, "2026-04-10")) {
		if o.DueWithoutHold != nil {
			t.Errorf("%s: no delay, yet due without hold = %v", o.Key, o.DueWithoutHold)
		}
	}
}
