package paging_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/notify"
	"github.com/wardhq/ward/internal/paging"
)

// conflict fails unless err is a Conflict whose message holds want.
func conflict(t *testing.T, what string, err error, want string) {
	t.Helper()
	if apperr.CodeOf(err) != apperr.Conflict || !strings.Contains(err.Error(), want) {
		t.Fatalf("%s: %v, want a conflict saying %q", what, err, want)
	}
}

// pagedWithIDs takes what was sent, fails unless every message carries
// the id of its row in the outbox, and returns the addresses.
func (e *env) pagedWithIDs() string {
	e.t.Helper()
	got := e.ch.take()
	for _, s := range got {
		var n int
		if err := e.d.R.QueryRow(`SELECT count(*) FROM notifications WHERE id = $1 AND status = 'sent'`, s.msg.ID).Scan(&n); err != nil || n != 1 {
			e.t.Fatalf("message %+v: notification id %q not in the outbox (%d, %v)", s.msg, s.msg.ID, n, err)
		}
	}
	return sortedAddresses(got)
}

// TestEscalateAndRepage drives "Escalate now" and "Page again" with the
// fake clock, each in one synchronous round: escalating pages the next
// step at once (from an acknowledged page too, its alert triggered again);
// the last step refuses in plain words unless the policy repeats, and a
// resolved page refuses both; paging again starts from step 1 on an
// acknowledged page or one whose alarm stands, ending the alarm, and
// refuses a page still escalating. Each is audited and on the timeline;
// the auditor may press neither.
func TestEscalateAndRepage(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		alice, bob := e.user("alice", authz.RoleResponder), e.user("bob", authz.RoleResponder)
		e.verify(alice, paging.ContactEmail, "alice@example.org")
		e.verify(bob, paging.ContactEmail, "bob@example.org")
		ig := e.service("db", alert.GroupByAlert, alice, bob)
		inc := e.trigger(ig, "k").Opened[0]
		e.tick()
		if got := e.pagedWithIDs(); got != "alice@example.org:page" {
			t.Fatalf("step 1: %s", got)
		}

		auditor := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: e.user("aud", authz.RoleAuditor),
			Name: "aud", Role: authz.RoleAuditor})
		if _, err := e.pager.Escalate(auditor, inc); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("the auditor escalating: %v", err)
		}
		if _, err := e.pager.Repage(auditor, inc); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("the auditor paging again: %v", err)
		}
		_, err := e.pager.Repage(e.ctx, inc)
		conflict(t, "paging again while step 1 escalates", err, "still escalating (step 1)")

		// Escalate now: step 2 at once, not in 5 minutes.
		e.clk.Advance(time.Minute)
		pg, err := e.pager.Escalate(e.ctx, inc)
		if err != nil {
			t.Fatal(err)
		}
		if want := e.clk.Now().Add(5 * time.Minute); pg.Status != paging.PageTriggered || pg.Step != 1 || pg.Round != 0 ||
			pg.NextAt == nil || !pg.NextAt.Equal(want) {
			t.Fatalf("escalated: %+v", pg)
		}
		e.tick()
		if got := e.pagedWithIDs(); got != "bob@example.org:page" {
			t.Fatalf("escalated to step 2: %s", got)
		}
		if tl := e.timeline(inc); !strings.Contains(tl, "Escalated now by admin. Step 2 of 2: paged bob.") {
			t.Fatalf("timeline:\n%s", tl)
		}
		_, err = e.pager.Escalate(e.ctx, inc)
		conflict(t, "escalating the last step", err,
			"The page is on the last step of the escalation policy db: there is nobody further to escalate to. Page again")

		// The policy runs out: the alarm stands; paging again ends it and starts at step 1.
		e.clk.Advance(5 * time.Minute)
		e.tick()
		if pg := e.alarm(inc); pg.Alarm != paging.AlarmUnacknowledged {
			t.Fatalf("the policy ran out: %+v", pg)
		}
		e.ch.take()
		_, err = e.pager.Escalate(e.ctx, inc)
		conflict(t, "escalating after the policy ran out", err, "nobody further to escalate to")
		pg, err = e.pager.Repage(e.ctx, inc)
		if err != nil {
			t.Fatal(err)
		}
		if pg.Status != paging.PageTriggered || pg.Step != 0 || pg.Round != 0 || pg.Alarm != "" || pg.NextAt == nil {
			t.Fatalf("paged again: %+v", pg)
		}
		if pg := e.alarm(inc); pg.Alarm != "" {
			t.Fatalf("the alarm after paging again: %q", pg.Alarm)
		}
		e.tick()
		if got := e.pagedWithIDs(); got != "alice@example.org:page" {
			t.Fatalf("paged again: %s", got)
		}
		if tl := e.timeline(inc); !strings.Contains(tl, "Paged again by admin: the escalation policy starts again from step 1. Step 1 of 2: paged alice.") {
			t.Fatalf("timeline:\n%s", tl)
		}

		// An acknowledged page escalates, its alert triggered again.
		if _, err := e.pager.Acknowledge(e.ctx, inc); err != nil {
			t.Fatal(err)
		}
		if st := e.alertStatus("k"); st != string(alert.StatusAcknowledged) {
			t.Fatalf("alert after acknowledging: %s", st)
		}
		if pg, err = e.pager.Escalate(e.ctx, inc); err != nil || pg.Status != paging.PageTriggered || pg.Step != 1 || pg.AcknowledgedBy != "" {
			t.Fatalf("escalating an acknowledged page: %+v %v", pg, err)
		}
		if st := e.alertStatus("k"); st != string(alert.StatusTriggered) {
			t.Fatalf("alert after escalating: %s", st)
		}
		e.tick()
		if got := e.pagedWithIDs(); got != "bob@example.org:page" {
			t.Fatalf("escalated from acknowledged: %s", got)
		}

		// An acknowledged page pages again from step 1.
		if _, err := e.pager.Acknowledge(e.ctx, inc); err != nil {
			t.Fatal(err)
		}
		if pg, err = e.pager.Repage(e.ctx, inc); err != nil || pg.Status != paging.PageTriggered || pg.Step != 0 {
			t.Fatalf("paging an acknowledged page again: %+v %v", pg, err)
		}
		if st := e.alertStatus("k"); st != string(alert.StatusTriggered) {
			t.Fatalf("alert after paging again: %s", st)
		}
		e.tick()
		if got := e.pagedWithIDs(); got != "alice@example.org:page" {
			t.Fatalf("paged again from acknowledged: %s", got)
		}

		// A resolved page refuses both.
		if _, err := e.pager.Resolve(e.ctx, inc); err != nil {
			t.Fatal(err)
		}
		_, err = e.pager.Escalate(e.ctx, inc)
		conflict(t, "escalating a resolved page", err, "The page is resolved: there is nothing to escalate.")
		_, err = e.pager.Repage(e.ctx, inc)
		conflict(t, "paging a resolved page again", err, "The page is resolved: it cannot be paged again.")
		e.tick()
		if got := e.ch.take(); len(got) != 0 {
			t.Fatalf("a resolved page sent %s", addresses(got))
		}

		var escalated, repaged int
		if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'page.escalate'`).Scan(&escalated); err != nil {
			t.Fatal(err)
		}
		if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'page.repage'`).Scan(&repaged); err != nil {
			t.Fatal(err)
		}
		if escalated != 2 || repaged != 2 {
			t.Fatalf("audited %d escalations and %d repages, want 2 and 2", escalated, repaged)
		}

		// A repeating policy: escalating its last step starts the next repeat.
		if _, err := e.pager.CreatePolicy(e.ctx, paging.PolicyInput{Name: "web", Repeat: 1, Steps: []paging.Step{
			{DelayMinutes: 5, Targets: []paging.Target{{Type: paging.TargetUser, ID: alice}}}}}); err != nil {
			t.Fatal(err)
		}
		svc, err := e.in.CreateService(e.ctx, alert.ServiceInput{Name: "web", EscalationPolicy: "web"})
		if err != nil {
			t.Fatal(err)
		}
		_, key, err := e.in.CreateIntegration(e.ctx, svc.ID, alert.IntegrationInput{Kind: alert.KindEventsV2, Name: "m"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ig2, _ := e.in.Authenticate(e.ctx, key)
		inc2 := e.trigger(ig2, "w").Opened[0]
		e.tick()
		e.ch.take()
		if pg, err = e.pager.Escalate(e.ctx, inc2); err != nil || pg.Step != 0 || pg.Round != 1 {
			t.Fatalf("escalating the last step of a repeating policy: %+v %v", pg, err)
		}
		e.tick()
		if got := e.pagedWithIDs(); got != "alice@example.org:page" {
			t.Fatalf("the repeat: %s", got)
		}
		_, err = e.pager.Escalate(e.ctx, inc2)
		conflict(t, "escalating once the repeats have run", err,
			"The page is on the last step of the escalation policy web, and its repeats have run")
	})
}

// TestEscalateFromTheMessage: a page message carries a one-click
// "Escalate now" link, and an SMS page a reply code with E after it,
// each of which pages the policy's next step at once as the person it was
// sent to; each works once, the E reply only from that person's phone,
// and on the last step the reply answers in plain words that there is
// nobody further to page.
func TestEscalateFromTheMessage(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		alice, bob := e.user("alice", authz.RoleResponder), e.user("bob", authz.RoleResponder)
		e.verify(alice, paging.ContactSMS, "+14155550101")
		e.verify(bob, paging.ContactEmail, "bob@example.org")
		ig := e.service("db", alert.GroupByAlert, alice, bob)
		inc := e.trigger(ig, "k").Opened[0]
		e.tick()
		got := e.ch.take()
		if addresses(got) != "+14155550101:page" {
			t.Fatalf("step 1: %s", addresses(got))
		}
		sms := got[0].msg
		if !strings.HasPrefix(sms.EscalateURL, "https://ward.test/a/") || sms.Code == "" {
			t.Fatalf("the page message has no escalate link or reply code: %+v", sms)
		}
		if _, text := notify.Render(sms); !strings.Contains(text, sms.Code+"E to escalate now") {
			t.Fatalf("the SMS does not say how to escalate:\n%s", text)
		}
		if _, err := e.pager.UseSMSReply(context.Background(), "+14155550199", sms.Code+"E"); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("an E reply from another phone: %v", err)
		}
		info, err := e.pager.UseSMSReply(context.Background(), "+14155550101", " "+strings.ToLower(sms.Code)+"e ")
		if err != nil || info.Action != "escalate" || info.Username != "alice" {
			t.Fatalf("the E reply: %+v %v", info, err)
		}
		e.tick()
		step2 := e.ch.take()
		if got := addresses(step2); got != "bob@example.org:page" {
			t.Fatalf("the E reply did not page step 2 at once: %s", got)
		}
		if _, err := e.pager.UseSMSReply(context.Background(), "+14155550101", sms.Code+"E"); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("an E reply works once: %v", err)
		}
		pg, err := e.pager.PageOf(e.ctx, inc)
		if err != nil || pg.Step != 1 || pg.Status != paging.PageTriggered {
			t.Fatalf("after the E reply: %+v %v", pg, err)
		}
		if !strings.Contains(e.timeline(inc), "alice") {
			t.Fatalf("the timeline does not name who escalated: %s", e.timeline(inc))
		}
		// Bob's email link, on the last step: a plain refusal, and the link
		// is not spent by it.
		link := strings.TrimPrefix(step2[0].msg.EscalateURL, "https://ward.test/a/")
		if link == "" || link == step2[0].msg.EscalateURL {
			t.Fatal("bob's page has no escalate link")
		}
		_, err = e.pager.UseLink(context.Background(), link)
		conflict(t, "escalating from the last step", err, "last step")
		if info, err := e.pager.PeekLink(context.Background(), link); err != nil || info.Action != "escalate" {
			t.Fatalf("the refused link: %+v %v", info, err)
		}
	})
}
