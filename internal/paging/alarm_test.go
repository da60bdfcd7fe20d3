package paging_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/notify"
	"github.com/wardhq/ward/internal/paging"
)

// sortedAddresses is addresses in order.
func sortedAddresses(ss []sent) string {
	f := strings.Fields(addresses(ss))
	slices.Sort(f)
	return strings.Join(f, " ")
}

// officerAlerts returns the officer alerts of kind paging_failed about
// incident number.
func (e *env) officerAlerts(number string) []incident.OfficerAlert {
	e.t.Helper()
	officer := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: "u-olga", Name: "olga",
		Role: authz.RoleSecurityOfficer})
	as, err := e.incs.OfficerAlerts(officer, false)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []incident.OfficerAlert
	for _, a := range as {
		if a.Kind == incident.OfficerAlertPagingFailed && a.IncidentNumber == number {
			out = append(out, a)
		}
	}
	return out
}

// alarm returns incident number's page after checking that Alarms agrees
// with it.
func (e *env) alarm(number string) paging.Page {
	e.t.Helper()
	pg, err := e.pager.PageOf(e.ctx, number)
	if err != nil {
		e.t.Fatal(err)
	}
	as, err := e.pager.Alarms(e.ctx, []string{pg.IncidentID})
	if err != nil {
		e.t.Fatal(err)
	}
	if a, ok := as[pg.IncidentID]; ok != (pg.Alarm != "") || a.Kind != pg.Alarm || a.Reason != pg.AlarmReason ||
		(pg.AlarmAt != nil && !a.Since.Equal(*pg.AlarmAt)) {
		e.t.Fatalf("Alarms says %+v (%v), the page %q %q %v", a, ok, pg.Alarm, pg.AlarmReason, pg.AlarmAt)
	}
	return pg
}

// TestNobodyAcknowledged runs a policy to its end with nobody
// acknowledging: the page raises the unacknowledged alarm, in plain words,
// in the same round; the Security Officer is told once (one officer alert,
// one message), however many rounds pass after; the people paged get an
// "unacknowledged" status notification; acknowledging ends the alarm.
func TestNobodyAcknowledged(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		olga := e.user("olga", authz.RoleSecurityOfficer)
		e.verify(olga, paging.ContactEmail, "olga@example.org")
		alice := e.user("alice", authz.RoleResponder)
		on := true
		if _, _, err := e.pager.CreateContact(e.ctx, alice, paging.ContactInput{Kind: paging.ContactEmail,
			Address: "alice@example.org", StatusUpdates: &on}); err != nil {
			t.Fatal(err)
		}
		e.tick()
		code := e.ch.take()[0].msg.Code
		cs, err := e.pager.Contacts(e.ctx, alice)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.pager.VerifyContact(authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: alice,
			Name: "alice", Role: authz.RoleResponder}), cs[0].ID, code); err != nil {
			t.Fatal(err)
		}
		if _, err := e.pager.CreatePolicy(e.ctx, paging.PolicyInput{Name: "db primary", Repeat: 1, Steps: []paging.Step{
			{DelayMinutes: 5, Targets: []paging.Target{{Type: paging.TargetUser, ID: alice}}}}}); err != nil {
			t.Fatal(err)
		}
		svc, err := e.in.CreateService(e.ctx, alert.ServiceInput{Name: "db", EscalationPolicy: "db primary"})
		if err != nil {
			t.Fatal(err)
		}
		_, key, err := e.in.CreateIntegration(e.ctx, svc.ID, alert.IntegrationInput{Kind: alert.KindEventsV2, Name: "m"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ig, _ := e.in.Authenticate(e.ctx, key)
		inc := e.trigger(ig, "k").Opened[0]
		e.tick()
		if got := sortedAddresses(e.ch.take()); got != "alice@example.org:page" {
			t.Fatalf("step 1: %s", got)
		}
		e.clk.Advance(5 * time.Minute)
		e.tick()
		if pg := e.alarm(inc); pg.Alarm != "" {
			t.Fatalf("an alarm while the policy still runs: %+v", pg)
		}
		e.ch.take()
		e.clk.Advance(5 * time.Minute)
		ranOut := e.clk.Now()
		e.tick()
		pg := e.alarm(inc)
		if pg.Alarm != paging.AlarmUnacknowledged || pg.AlarmAt == nil || !pg.AlarmAt.Equal(ranOut) ||
			pg.AlarmReason != "Nobody has acknowledged this page: the escalation policy db primary ran every step twice." {
			t.Fatalf("after the last repeat: %q %q %v", pg.Alarm, pg.AlarmReason, pg.AlarmAt)
		}
		got := e.ch.take()
		if sortedAddresses(got) != "alice@example.org:page_status olga@example.org:paging_failed" {
			t.Fatalf("told: %s", addresses(got))
		}
		for _, s := range got {
			switch s.msg.Kind {
			case notify.KindPageStatus:
				if s.msg.Status != "unacknowledged by anyone: the escalation policy ran out" || s.msg.Incident != inc {
					t.Errorf("the status notification: %+v", s.msg)
				}
			case notify.KindPagingFailed:
				subject, text := notify.Render(s.msg)
				if s.msg.Incident != inc || s.msg.Status != "nobody acknowledged the page" || subject != "Ward PAGING FAILED for "+inc ||
					!strings.Contains(text, "page a person by hand") || strings.Contains(text, "Disk full") {
					t.Errorf("the officer's message: %+v\n%s\n%s", s.msg, subject, text)
				}
			}
		}
		if as := e.officerAlerts(inc); len(as) != 1 || as[0].Reason != pg.AlarmReason || as[0].Actor != "system:ward" {
			t.Fatalf("officer alerts: %+v", as)
		}
		for range 3 {
			e.clk.Advance(time.Hour)
			e.tick()
		}
		if got := e.ch.take(); len(got) != 0 {
			t.Fatalf("more rounds sent %s", addresses(got))
		}
		if as := e.officerAlerts(inc); len(as) != 1 {
			t.Fatalf("officer alerts after more rounds: %d", len(as))
		}
		if !strings.Contains(e.timeline(inc), "NOBODY ACKNOWLEDGED") {
			t.Errorf("timeline:\n%s", e.timeline(inc))
		}
		if _, err := e.pager.Acknowledge(e.ctx, inc); err != nil {
			t.Fatal(err)
		}
		if pg := e.alarm(inc); pg.Alarm != "" || pg.AlarmReason != "" || pg.AlarmAt != nil {
			t.Fatalf("after acknowledging: %q %q %v", pg.Alarm, pg.AlarmReason, pg.AlarmAt)
		}
	})
}

// TestPageReachedNobody: a step whose one target has no verified contact
// method raises the unreachable alarm when it runs, and tells the officer
// once; a page that then gets through ends it. A step whose every message
// fails for good raises it when the last one fails, not before.
func TestPageReachedNobody(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		olga := e.user("olga", authz.RoleSecurityOfficer)
		e.verify(olga, paging.ContactEmail, "olga@example.org")
		bob := e.user("bob", authz.RoleResponder)
		if _, err := e.pager.CreatePolicy(e.ctx, paging.PolicyInput{Name: "web", Repeat: 2, Steps: []paging.Step{
			{DelayMinutes: 5, Targets: []paging.Target{{Type: paging.TargetUser, ID: bob}}}}}); err != nil {
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
		ig, _ := e.in.Authenticate(e.ctx, key)
		inc := e.trigger(ig, "k").Opened[0]
		pg := e.alarm(inc)
		if pg.Alarm != paging.AlarmUnreachable ||
			pg.AlarmReason != "The page reached nobody: step 1 of 1 of the escalation policy web paged no one: nobody on it has a verified contact method." {
			t.Fatalf("bob cannot be reached: %q %q", pg.Alarm, pg.AlarmReason)
		}
		e.tick()
		if got := sortedAddresses(e.ch.take()); got != "olga@example.org:paging_failed" {
			t.Fatalf("told: %s", got)
		}
		// The repeat reaches nobody either: still one alert.
		e.clk.Advance(5 * time.Minute)
		e.tick()
		if as := e.officerAlerts(inc); len(as) != 1 || len(e.ch.take()) != 0 {
			t.Fatalf("officer alerts after the repeat: %+v", as)
		}
		// Bob adds an email; the next repeat reaches him.
		e.verify(bob, paging.ContactEmail, "bob@example.org")
		e.clk.Advance(5 * time.Minute)
		e.tick()
		if got := sortedAddresses(e.ch.take()); got != "bob@example.org:page" {
			t.Fatalf("the last repeat: %s", got)
		}
		if pg := e.alarm(inc); pg.Alarm != "" {
			t.Fatalf("a page got through, the alarm stays: %q %q", pg.Alarm, pg.AlarmReason)
		}

		// Carol's only method fails for good: the alarm comes with the failure.
		carol := e.user("carol", authz.RoleResponder)
		e.verify(carol, paging.ContactEmail, "carol@example.org")
		e.verify(carol, paging.ContactSMS, "+14155550103")
		e.ch.fail["carol@example.org"] = notify.Permanent(errors.New("mailbox unknown"))
		e.ch.fail["+14155550103"] = &notify.HTTPError{Provider: "twilio", StatusCode: 503}
		ig2 := e.service("api", alert.GroupByAlert, carol)
		inc2 := e.send(ig2, alert.Trigger, "k2").Opened[0]
		if pg := e.alarm(inc2); pg.Alarm != "" {
			t.Fatalf("an alarm before anything was tried: %q", pg.Alarm)
		}
		e.tick()
		if pg := e.alarm(inc2); pg.Alarm != "" {
			t.Fatalf("an alarm while the SMS is to be tried again: %q", pg.Alarm)
		}
		e.ch.fail["+14155550103"] = notify.Permanent(errors.New("number unreachable"))
		e.clk.Advance(time.Minute)
		e.tick()
		pg = e.alarm(inc2)
		if pg.Alarm != paging.AlarmUnreachable ||
			pg.AlarmReason != "The page reached nobody: step 1 of 1 of the escalation policy api paged no one: every message failed." {
			t.Fatalf("every message failed: %q %q", pg.Alarm, pg.AlarmReason)
		}
		e.tick()
		if as := e.officerAlerts(inc2); len(as) != 1 {
			t.Fatalf("officer alerts: %+v", as)
		}
		if got := sortedAddresses(e.ch.take()); got != "olga@example.org:paging_failed" {
			t.Fatalf("told: %s", got)
		}
		if _, err := e.pager.Resolve(e.ctx, inc2); err != nil {
			t.Fatal(err)
		}
		if pg := e.alarm(inc2); pg.Alarm != "" {
			t.Fatalf("after resolving: %q", pg.Alarm)
		}
	})
}
