package breach_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// newCase opens a breach case of 30 individuals discovered at start, on
// a fresh incident.
func newCase(t *testing.T, d *db.DB) (*breach.Service, *incident.Service, *clock.Fake, incident.Incident) {
	t.Helper()
	svc, incs, clk, inc, c := openCase(t, d, "Stolen laptop")
	sec := as(authz.RoleSecurityOfficer, "sam")
	f := c.Facts
	f.Individuals = 30
	f.ByState = map[string]int{"NV": 30}
	if _, err := svc.SetFacts(sec, inc.Number, f); err != nil {
		t.Fatal(err)
	}
	return svc, incs, clk, inc
}

func obligation(t *testing.T, svc *breach.Service, ref, key string) breach.Obligation {
	t.Helper()
	obs, err := svc.Obligations(as(authz.RoleAuditor, "aud"), ref)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range obs {
		if o.Key == key {
			return o
		}
	}
	t.Fatalf("no obligation %s in %s", key, keysOf(obs))
	return breach.Obligation{}
}

func auditActions(t *testing.T, d *db.DB, action string) int {
	t.Helper()
	es, err := audit.List(t.Context(), d.R, audit.Filter{Action: action})
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

// TestLawEnforcementHold: during a hold (164.412) recording a notice as
// made is refused with a 409 that names the hold, unless the official's
// override is given, which is audited and on the timeline; a notice
// recorded afterwards as made during the hold is refused alike; the
// obligation keeps the deadline the hold moved.
func TestLawEnforcementHold(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		svc, incs, clk, inc := newCase(t, d)
		sec := as(authz.RoleSecurityOfficer, "sam")
		c, err := svc.Get(sec, inc.Number)
		if err != nil {
			t.Fatal(err)
		}
		// Day 50: the FBI asks in writing for a delay until day 80.
		until := start.AddDate(0, 0, 80)
		f := c.Facts
		f.Delay = &rules.LawEnforcementDelay{Written: &rules.WrittenStatement{At: start.AddDate(0, 0, 50), Until: until,
			Official: "Special Agent Dana Reyes", Agency: "FBI"}}
		if _, err := svc.SetFacts(sec, inc.Number, f); err != nil {
			t.Fatal(err)
		}
		clk.Advance(55 * 24 * time.Hour)

		ind := obligation(t, svc, inc.Number, "individuals:NV")
		if ind.State != breach.StateHeld || !ind.Due.Equal(until) {
			t.Fatalf("individuals during the hold: %s due %s, want held until %s", ind.State, ind.Due, until)
		}
		if ind.DueWithoutHold == nil || ind.DueWithoutHold.After(start.AddDate(0, 0, 61)) || !ind.DueWithoutHold.After(start.AddDate(0, 0, 59)) {
			t.Fatalf("individuals due without the hold = %v, want the 60th day after discovery (164.404(b))", ind.DueWithoutHold)
		}

		met := breach.Met{Key: "individuals:NV", Reason: "letters mailed by the vendor, job 7781"}
		_, err = svc.MarkMet(sec, inc.Number, met)
		e, ok := apperr.As(err)
		if !ok || e.Code != apperr.Conflict {
			t.Fatalf("marking met during the hold: %v, want a conflict", err)
		}
		for _, want := range []string{"Special Agent Dana Reyes (FBI)", breach.FormatDue(until, nil), "45 CFR 164.412(a)", "hold_override"} {
			if !strings.Contains(e.Message, want) {
				t.Errorf("the refusal %q does not name %q", e.Message, want)
			}
		}
		if len(e.Fields) != 1 || e.Fields[0].Field != "hold_override" {
			t.Errorf("the refusal names fields %+v, want hold_override", e.Fields)
		}
		if o := obligation(t, svc, inc.Number, "individuals:NV"); o.MetAt != nil {
			t.Fatal("a refused marking left the obligation met")
		}

		met.Hold = &breach.HoldOverride{Official: "Special Agent Dana Reyes"}
		if _, err := svc.MarkMet(sec, inc.Number, met); apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(errText(err), "hold_override.reason") {
			t.Fatalf("an override without a reason: %v", err)
		}
		met.Hold = &breach.HoldOverride{Reason: "the agent allowed the letters today"}
		if _, err := svc.MarkMet(sec, inc.Number, met); apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(errText(err), "hold_override.official") {
			t.Fatalf("an override without the official: %v", err)
		}
		met.Hold = &breach.HoldOverride{Official: "Special Agent Dana Reyes", Reason: "the suspect is in custody; the agent allowed notice by phone"}
		o, err := svc.MarkMet(sec, inc.Number, met)
		if err != nil || o.State != breach.StateMet {
			t.Fatalf("marking met with the official's override: %+v %v", o, err)
		}
		if n := auditActions(t, d, "breach_case.hold_override"); n != 1 {
			t.Errorf("%d hold_override audit entries, want 1", n)
		}
		if !timelineHas(t, incs, sec, inc.Number, "Law-enforcement hold overridden by sam") ||
			!timelineHas(t, incs, sec, inc.Number, "allowed by Special Agent Dana Reyes: the suspect is in custody") {
			t.Error("the override is not on the timeline")
		}

		// After the hold: recording hhs as made on day 60, inside the
		// hold, is refused too; made on day 85, it goes.
		clk.Advance(30 * 24 * time.Hour)
		_, err = svc.MarkMet(sec, inc.Number, breach.Met{Key: "hhs", At: start.AddDate(0, 0, 60), Reason: "HHS portal filing, number 1234"})
		if apperr.CodeOf(err) != apperr.Conflict || !strings.Contains(errText(err), "Special Agent Dana Reyes") {
			t.Fatalf("recording a notice made during the hold, after it: %v", err)
		}
		if _, err := svc.MarkMet(sec, inc.Number, breach.Met{Key: "hhs", Reason: "HHS portal filing, number 1234"}); err != nil {
			t.Fatalf("after the hold: %v", err)
		}
	})
}

// TestMarkMetNeedsEvidence: marking met by hand needs a reason, shown
// with who met it, audited and on the timeline; it can be undone with a
// reason, and the obligation is owed again with its deadline.
func TestMarkMetNeedsEvidence(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		svc, incs, clk, inc := newCase(t, d)
		sec := as(authz.RoleSecurityOfficer, "sam")
		clk.Advance(24 * time.Hour)
		for _, reason := range []string{"", "   done   "} {
			_, err := svc.MarkMet(sec, inc.Number, breach.Met{Key: "individuals:NV", Reason: reason})
			if e, ok := apperr.As(err); !ok || e.Code != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "reason" {
				t.Fatalf("marking met with reason %q: %v, want invalid naming reason", reason, err)
			}
		}
		if o := obligation(t, svc, inc.Number, "individuals:NV"); o.MetAt != nil {
			t.Fatal("a marking without a reason was recorded")
		}
		const evidence = "30 letters mailed by the vendor, receipt MAIL-2291"
		o, err := svc.MarkMet(sec, inc.Number, breach.Met{Key: "individuals:NV", Reason: "  " + evidence + " "})
		if err != nil {
			t.Fatal(err)
		}
		got := obligation(t, svc, inc.Number, "individuals:NV")
		if got.State != breach.StateMet || got.MetReason != evidence || got.MetBy != "user:sam" || o.MetReason != evidence {
			t.Fatalf("met: %+v", got)
		}
		if n := auditActions(t, d, "breach_case.obligation_met"); n != 1 {
			t.Errorf("%d obligation_met audit entries, want 1", n)
		}
		if !timelineHas(t, incs, sec, inc.Number, "Evidence: "+evidence) {
			t.Error("the evidence is not on the timeline")
		}

		if _, err := svc.Reopen(sec, inc.Number, "individuals:NV", "oops"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("undo with a short reason: %v", err)
		}
		if _, err := svc.Reopen(as(authz.RoleAuditor, "aud"), inc.Number, "individuals:NV", "7 of 30 were never notified"); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("an auditor undoing: %v", err)
		}
		o, err = svc.Reopen(sec, inc.Number, "individuals:NV", "7 of 30 were never notified: their letters were not in the batch")
		if err != nil || o.State != breach.StateOpen || o.MetAt != nil {
			t.Fatalf("undo: %+v %v", o, err)
		}
		got = obligation(t, svc, inc.Number, "individuals:NV")
		if got.State != breach.StateOpen || got.MetAt != nil || got.MetBy != "" || got.MetReason != "" {
			t.Fatalf("after undo: %+v", got)
		}
		board, _ := svc.Board(sec)
		if !strings.Contains(keysOf(board), "individuals:NV") {
			t.Error("a reopened obligation is not back on the deadline board")
		}
		if n := auditActions(t, d, "breach_case.obligation_reopened"); n != 1 {
			t.Errorf("%d obligation_reopened audit entries, want 1", n)
		}
		if !timelineHas(t, incs, sec, inc.Number, "reopened by sam") || !timelineHas(t, incs, sec, inc.Number, "7 of 30 were never notified") {
			t.Error("the undo is not on the timeline")
		}
		if _, err := svc.Reopen(sec, inc.Number, "individuals:NV", "7 of 30 were never notified"); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("undoing an obligation not met: %v", err)
		}
		if _, err := svc.Reopen(sec, inc.Number, "media:ZZ", "7 of 30 were never notified"); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("undoing an obligation the case never had: %v", err)
		}
	})
}
