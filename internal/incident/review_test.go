package incident_test

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// toPostIncident walks an incident to the post_incident phase.
func (e *env) toPostIncident(ref string) {
	e.t.Helper()
	for _, to := range []incident.Status{incident.Analysis, incident.Containment, incident.Eradication, incident.Recovery, incident.PostIncident} {
		if _, err := e.svc.Transition(e.ctx, ref, incident.Move{To: to, Note: "on"}); err != nil {
			e.t.Fatalf("-> %s: %v", to, err)
		}
	}
}

// completeReview writes the root cause and lessons of an incident in
// post_incident and marks its review complete.
func (e *env) completeReview(ref string) {
	e.t.Helper()
	if _, err := e.svc.UpdateReview(e.ctx, ref, incident.ReviewInput{RootCause: ptr("an unpatched VPN"),
		Lessons: ptr("patch within a week")}); err != nil {
		e.t.Fatalf("write review: %v", err)
	}
	if _, err := e.svc.CompleteReview(e.ctx, ref); err != nil {
		e.t.Fatalf("complete review: %v", err)
	}
}

var (
	officer   = authz.Actor{Kind: authz.KindToken, ID: "so", Name: "officer", Role: authz.RoleSecurityOfficer}
	responder = authz.Actor{Kind: authz.KindToken, ID: "r", Name: "responder", Role: authz.RoleResponder}
	auditor   = authz.Actor{Kind: authz.KindToken, ID: "a", Name: "auditor", Role: authz.RoleAuditor}
)

// TestCloseNeedsReview: an incident closes as resolved only once its
// review is complete (root cause and lessons at least) or an officer
// waived it with a reason; a disposition closes without one; each refusal
// writes nothing.
func TestCloseNeedsReview(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		inc := e.create("Ransomware on the file server")
		closeMove := incident.Move{To: incident.Closed, Resolution: incident.Resolved}

		// The review is written in post_incident only.
		_, err := e.svc.UpdateReview(e.ctx, inc.ID, incident.ReviewInput{Summary: ptr("too early")})
		wantCode(t, err, apperr.Conflict)
		e.toPostIncident(inc.ID)

		before := e.counts()
		_, err = e.svc.Transition(e.ctx, inc.ID, closeMove)
		wantCode(t, err, apperr.Conflict)
		if !strings.Contains(err.Error(), "post-incident review") || !strings.Contains(err.Error(), inc.Number) {
			t.Errorf("refusal does not name the review and the incident: %v", err)
		}
		e.expectWrites(before, nil)

		// Completing needs the root cause, then the lessons.
		before = e.counts()
		_, err = e.svc.CompleteReview(e.ctx, inc.ID)
		wantField(t, err, "root_cause")
		e.expectWrites(before, nil)
		if _, err := e.svc.UpdateReview(e.ctx, inc.ID, incident.ReviewInput{RootCause: ptr("phished credentials")}); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.CompleteReview(e.ctx, inc.ID)
		wantField(t, err, "lessons")
		_, err = e.svc.UpdateReview(e.ctx, inc.ID, incident.ReviewInput{Lessons: ptr(strings.Repeat("x", incident.MaxReviewText+1))})
		wantField(t, err, "lessons")
		if _, err := e.svc.UpdateReview(e.ctx, inc.ID, incident.ReviewInput{Lessons: ptr("MFA on the VPN")}); err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Transition(e.ctx, inc.ID, closeMove)
		wantCode(t, err, apperr.Conflict)

		e.clk.Advance(time.Minute)
		before = e.counts()
		r, err := e.svc.CompleteReview(e.ctx, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		e.expectWrites(before, counts{"incident_events": 1, "audit_log": 1})
		e.expectLastAudit("incident.review.complete", inc.ID)
		if r.CompletedAt == nil || !r.CompletedAt.Equal(e.clk.Now()) || r.CompletedBy != "token:tester" {
			t.Errorf("completed = %v by %q", r.CompletedAt, r.CompletedBy)
		}
		_, err = e.svc.UpdateReview(e.ctx, inc.ID, incident.ReviewInput{Lessons: ptr("changed after")})
		wantCode(t, err, apperr.Conflict)
		if _, err := e.svc.Transition(e.ctx, inc.ID, closeMove); err != nil {
			t.Fatalf("close after the review is complete: %v", err)
		}
		last := e.timeline(inc.ID)
		var kinds []incident.EventKind
		for _, ev := range last {
			if ev.Kind == incident.EventReview {
				kinds = append(kinds, ev.Kind)
			}
		}
		if len(kinds) != 3 { // root cause, lessons (the too-long one refused), completion
			t.Errorf("%d review events on the timeline, want 3", len(kinds))
		}

		// A disposition closes without a review.
		fp := e.create("Port scan")
		if _, err := e.svc.Transition(e.ctx, fp.ID, incident.Move{To: incident.Closed, Resolution: incident.FalsePositive,
			Note: "the vulnerability scanner"}); err != nil {
			t.Fatalf("false positive close: %v", err)
		}

		// Skipping post_incident does not skip the review: only a waiver does.
		skip := e.create("Lost laptop, encrypted")
		skipMove := incident.Move{To: incident.Closed, Resolution: incident.Resolved, Note: "encrypted, nothing else applies",
			NotApplicable: []incident.Status{incident.Analysis, incident.Containment, incident.Eradication, incident.Recovery, incident.PostIncident}}
		_, err = e.svc.Transition(e.ctx, skip.ID, skipMove)
		wantCode(t, err, apperr.Conflict)
		_, err = e.svc.WaiveReview(as(responder), skip.ID, "encrypted")
		wantCode(t, err, apperr.Forbidden)
		_, err = e.svc.WaiveReview(as(officer), skip.ID, " ")
		wantField(t, err, "reason")
		before = e.counts()
		w, err := e.svc.WaiveReview(as(officer), skip.ID, "full-disk encryption verified, "+phi)
		if err != nil {
			t.Fatal(err)
		}
		e.expectWrites(before, counts{"incident_events": 1, "audit_log": 1})
		if w.WaivedAt == nil || w.WaivedBy != "token:officer" || w.WaiveReason != "full-disk encryption verified, "+phi {
			t.Errorf("waiver = %+v", w)
		}
		_, err = e.svc.WaiveReview(as(officer), skip.ID, "again")
		wantCode(t, err, apperr.Conflict)
		if _, err := e.svc.Transition(e.ctx, skip.ID, skipMove); err != nil {
			t.Fatalf("close after the waiver: %v", err)
		}
		e.verifyAudit()
	})
}

// TestReviewSealed: every section of the review, the waiver's reason and
// each action item's title and link reach the database sealed; a
// responder reads them (each read audited), a stakeholder gets them
// withheld, an auditor cannot change them.
func TestReviewSealed(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.addUser("dana", authz.RoleResponder)
		inc := e.create("Misdirected fax")
		e.toPostIncident(inc.ID)
		in := incident.ReviewInput{Summary: ptr("S " + phi), RootCause: ptr("R " + phi), ContributingFactors: ptr("C " + phi),
			WentWell: ptr("W " + phi), Lessons: ptr("L " + phi), UpdatesMade: ptr("U " + phi)}
		if _, err := e.svc.UpdateReview(e.ctx, inc.ID, in); err != nil {
			t.Fatal(err)
		}
		item, err := e.svc.CreateActionItem(e.ctx, inc.ID, incident.ActionItemInput{Title: "Retrain " + phi, Owner: "dana",
			DueAt: ptr(start.AddDate(0, 0, 14)), TicketURL: "https://tickets.example/Quillfeather"})
		if err != nil {
			t.Fatal(err)
		}
		other := e.create("Snooping")
		if _, err := e.svc.WaiveReview(as(officer), other.ID, "W "+phi); err != nil {
			t.Fatal(err)
		}
		raw := rawText(t, d, "incident_reviews", "summary", "root_cause", "contributing_factors", "went_well", "lessons",
			"updates_made", "waive_reason") + rawText(t, d, "incident_action_items", "title", "ticket_url") +
			rawText(t, d, "incident_events", "changes", "note")
		if strings.Contains(raw, "Quillfeather") {
			t.Fatalf("review text in plaintext in the database: %s", raw)
		}

		reads := func() int {
			var n int
			if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'incident.phi_read' AND object_id = $1`,
				inc.ID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		r0 := reads()
		r, err := e.svc.Review(as(responder), inc.ID)
		want := incident.Review{Summary: "S " + phi, RootCause: "R " + phi, ContributingFactors: "C " + phi, WentWell: "W " + phi,
			Lessons: "L " + phi, UpdatesMade: "U " + phi}
		got := incident.Review{Summary: r.Summary, RootCause: r.RootCause, ContributingFactors: r.ContributingFactors,
			WentWell: r.WentWell, Lessons: r.Lessons, UpdatesMade: r.UpdatesMade}
		if err != nil || !reflect.DeepEqual(got, want) || r.TextRedacted {
			t.Fatalf("responder's review %+v %v", r, err)
		}
		items, err := e.svc.ActionItems(as(responder), inc.ID)
		if err != nil || len(items) != 1 || items[0].Title != "Retrain "+phi || items[0].TicketURL != "https://tickets.example/Quillfeather" {
			t.Fatalf("responder's action items %+v %v", items, err)
		}
		if n := reads(); n != r0+2 {
			t.Errorf("%d PHI reads recorded, want %d", n, r0+2)
		}

		st := as(stakeholder)
		r0 = reads()
		r, err = e.svc.Review(st, inc.ID)
		if err != nil || !r.TextRedacted || r.Summary != "" || r.RootCause != "" || r.Lessons != "" || r.UpdatesMade != "" {
			t.Fatalf("stakeholder's review %+v %v", r, err)
		}
		if w, err := e.svc.Review(st, other.ID); err != nil || w.WaiveReason != "" || w.WaivedAt == nil {
			t.Fatalf("stakeholder's waiver %+v %v", w, err)
		}
		items, err = e.svc.ListActionItems(st, incident.ActionFilter{})
		if err != nil || len(items) != 1 || items[0].Title != "" || items[0].TicketURL != "" || !items[0].TextRedacted {
			t.Fatalf("stakeholder's action items %+v %v", items, err)
		}
		if n := reads(); n != r0 {
			t.Errorf("a stakeholder's read was recorded as a PHI read (%d -> %d)", r0, n)
		}

		au := as(auditor)
		before := e.counts()
		_, err = e.svc.UpdateReview(au, inc.ID, incident.ReviewInput{Summary: ptr("x")})
		wantCode(t, err, apperr.Forbidden)
		_, err = e.svc.CompleteReview(au, inc.ID)
		wantCode(t, err, apperr.Forbidden)
		_, err = e.svc.WaiveReview(au, inc.ID, "x")
		wantCode(t, err, apperr.Forbidden)
		_, err = e.svc.CreateActionItem(au, inc.ID, incident.ActionItemInput{Title: "x", Owner: "dana", DueAt: ptr(start)})
		wantCode(t, err, apperr.Forbidden)
		_, err = e.svc.UpdateActionItem(au, inc.ID, item.ID, incident.ActionItemUpdate{Status: ptr(incident.ActionDone)})
		wantCode(t, err, apperr.Forbidden)
		_, err = e.svc.CompleteReview(st, inc.ID)
		wantCode(t, err, apperr.Forbidden)
		e.expectWrites(before, nil)
	})
}

// TestActionItems: an action item needs a title, an active Ward user as
// owner, a due time and, if any, an http(s) ticket link, each refused
// naming the field; items stay open after their incident closes, are
// listed overdue first and can be marked done, recording by whom.
func TestActionItems(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.addUser("dana", authz.RoleResponder)
		e.addUser("eli", authz.RoleSecurityOfficer)
		if _, err := d.W.Exec("UPDATE users SET disabled = true WHERE username = 'eli'"); err != nil {
			t.Fatal(err)
		}
		inc := e.create("Phishing")
		due := start.AddDate(0, 0, 7)
		before := e.counts()
		for _, c := range []struct {
			in    incident.ActionItemInput
			field string
		}{
			{incident.ActionItemInput{Owner: "dana", DueAt: &due}, "title"},
			{incident.ActionItemInput{Title: "x", DueAt: &due}, "owner"},
			{incident.ActionItemInput{Title: "x", Owner: "nobody", DueAt: &due}, "owner"},
			{incident.ActionItemInput{Title: "x", Owner: "eli", DueAt: &due}, "owner"},
			{incident.ActionItemInput{Title: "x", Owner: "dana"}, "due_at"},
			{incident.ActionItemInput{Title: "x", Owner: "dana", DueAt: &due, TicketURL: "javascript:alert(1)"}, "ticket_url"},
			{incident.ActionItemInput{Title: "x", Owner: "dana", DueAt: &due, TicketURL: "tickets/12"}, "ticket_url"},
		} {
			_, err := e.svc.CreateActionItem(e.ctx, inc.ID, c.in)
			wantField(t, err, c.field)
		}
		e.expectWrites(before, nil)

		later, err := e.svc.CreateActionItem(e.ctx, inc.ID, incident.ActionItemInput{Title: "Block the sender", Owner: "dana", DueAt: &due,
			TicketURL: "https://jira.example/browse/SEC-1"})
		if err != nil {
			t.Fatal(err)
		}
		soon, err := e.svc.CreateActionItem(e.ctx, inc.ID, incident.ActionItemInput{Title: "Reset passwords", Owner: "dana",
			DueAt: ptr(start.AddDate(0, 0, 1))})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Transition(e.ctx, inc.ID, incident.Move{To: incident.Closed, Resolution: incident.NotSecurityIncident,
			Note: "a marketing email"}); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(3 * 24 * time.Hour) // soon is overdue, later is not
		got, err := e.svc.ListActionItems(e.ctx, incident.ActionFilter{Status: incident.ActionOpen, Owner: "dana"})
		if err != nil || len(got) != 2 || got[0].ID != soon.ID || !got[0].Overdue || got[1].Overdue ||
			got[0].IncidentNumber != inc.Number {
			t.Fatalf("open items of dana = %+v %v", got, err)
		}
		_, err = e.svc.ListActionItems(e.ctx, incident.ActionFilter{Status: "closed"})
		wantField(t, err, "status")

		before = e.counts()
		_, err = e.svc.UpdateActionItem(e.ctx, inc.ID, soon.ID, incident.ActionItemUpdate{Owner: ptr("nobody")})
		wantField(t, err, "owner")
		e.expectWrites(before, nil)
		done, err := e.svc.UpdateActionItem(e.ctx, inc.ID, soon.ID, incident.ActionItemUpdate{Status: ptr(incident.ActionDone)})
		if err != nil {
			t.Fatalf("mark done after the incident closed: %v", err)
		}
		e.expectWrites(before, counts{"incident_events": 1, "audit_log": 1})
		e.expectLastAudit("incident.action_item.update", inc.ID)
		if done.DoneAt == nil || !done.DoneAt.Equal(e.clk.Now()) || done.DoneBy != "token:tester" || done.Status != incident.ActionDone {
			t.Errorf("done item = %+v", done)
		}
		if got, err := e.svc.ListActionItems(e.ctx, incident.ActionFilter{Status: incident.ActionOpen}); err != nil ||
			len(got) != 1 || got[0].ID != later.ID {
			t.Fatalf("open items after one is done = %+v %v", got, err)
		}
		if got, err := e.svc.ListActionItems(e.ctx, incident.ActionFilter{Owner: "eli"}); err != nil || len(got) != 0 {
			t.Fatalf("eli's items = %+v %v", got, err)
		}
		_, err = e.svc.UpdateActionItem(e.ctx, inc.ID, "no-such-item", incident.ActionItemUpdate{Status: ptr(incident.ActionDone)})
		wantCode(t, err, apperr.NotFound)
		e.verifyAudit()
	})
}

// TestActionItemsHideRestricted: the list across incidents leaves out the
// items of restricted incidents the caller may not see.
func TestActionItemsHideRestricted(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.addUser("dana", authz.RoleResponder)
		inc, err := e.svc.Create(as(officer), incident.CreateInput{Title: "VIP record viewed", Restricted: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CreateActionItem(as(officer), inc.ID, incident.ActionItemInput{Title: "Talk to HR", Owner: "dana",
			DueAt: ptr(start.AddDate(0, 0, 2))}); err != nil {
			t.Fatal(err)
		}
		if got, err := e.svc.ListActionItems(as(responder), incident.ActionFilter{}); err != nil || len(got) != 0 {
			t.Fatalf("a responder outside the restricted incident sees %+v %v", got, err)
		}
		if got, err := e.svc.ListActionItems(as(officer), incident.ActionFilter{}); err != nil || len(got) != 1 {
			t.Fatalf("the officer sees %+v %v", got, err)
		}
	})
}
