package paging_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/paging"
)

// service makes an escalation policy called name whose steps page users
// (ids or usernames) one after the other, 5 minutes apart, and a service
// of the same name with it, grouping alerts by g, and returns the
// service's Events v2 integration.
func (e *env) service(name string, g alert.GroupBy, users ...string) alert.Integration {
	e.t.Helper()
	var steps []paging.Step
	for _, u := range users {
		steps = append(steps, paging.Step{DelayMinutes: 5, Targets: []paging.Target{{Type: paging.TargetUser, ID: u}}})
	}
	if _, err := e.pager.CreatePolicy(e.ctx, paging.PolicyInput{Name: name, Steps: steps}); err != nil {
		e.t.Fatal(err)
	}
	svc, err := e.in.CreateService(e.ctx, alert.ServiceInput{Name: name, GroupBy: g, EscalationPolicy: name})
	if err != nil {
		e.t.Fatal(err)
	}
	_, key, err := e.in.CreateIntegration(e.ctx, svc.ID, alert.IntegrationInput{Kind: alert.KindEventsV2, Name: "m"}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	ig, err := e.in.Authenticate(e.ctx, key)
	if err != nil {
		e.t.Fatal(err)
	}
	return ig
}

// send ingests one event of action on key.
func (e *env) send(ig alert.Integration, action alert.Action, key string) alert.Result {
	e.t.Helper()
	ev := alert.Event{Action: action, DedupKey: key}
	if action == alert.Trigger {
		ev.Summary, ev.Source, ev.Severity = "Disk full", "db1", alert.Critical
	}
	r, err := e.in.Ingest(context.Background(), ig, []alert.Event{ev})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

// alertStatus is the status of the newest alert with dedup key key (which
// is stored sealed, so read through the intake).
func (e *env) alertStatus(key string) string {
	e.t.Helper()
	as, err := e.in.Alerts(e.ctx, alert.Filter{Limit: 200})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, a := range as {
		if a.DedupKey == key {
			return string(a.Status)
		}
	}
	e.t.Fatalf("no alert with dedup key %q", key)
	return ""
}

// timeline is incident inc's paging entries, one a line.
func (e *env) timeline(inc string) string {
	e.t.Helper()
	tl, err := e.incs.Timeline(e.ctx, inc, incident.EventPaging, 0, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	var notes []string
	for _, ev := range tl {
		notes = append(notes, ev.Note)
	}
	return strings.Join(notes, "\n")
}

// TestEventsAcknowledgeStopsEscalation: an Events v2 acknowledge of every
// open alert of an incident acknowledges its page, so the next step pages
// nobody and the acknowledgement counts for the SLA.
func TestEventsAcknowledgeStopsEscalation(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		alice, bob := e.user("alice", authz.RoleResponder), e.user("bob", authz.RoleResponder)
		e.verify(alice, paging.ContactEmail, "alice@example.org")
		e.verify(bob, paging.ContactEmail, "bob@example.org")
		ig := e.service("api", alert.GroupByService, "alice", "bob")
		inc := e.send(ig, alert.Trigger, "k1").Opened[0]
		e.send(ig, alert.Trigger, "k2")
		e.tick()
		if got := e.ch.take(); addresses(got) != "alice@example.org:page" {
			t.Fatalf("step 1: %s", addresses(got))
		}
		if r := e.send(ig, alert.Acknowledge, "k1"); r.Acknowledged != 1 {
			t.Fatalf("acknowledge k1: %+v", r)
		}
		if pg, _ := e.pager.PageOf(e.ctx, inc); pg.Status != paging.PageTriggered {
			t.Fatalf("one of two alerts acknowledged: the page is %s", pg.Status)
		}
		e.send(ig, alert.Acknowledge, "k2")
		pg, err := e.pager.PageOf(e.ctx, inc)
		if err != nil || pg.Status != paging.PageAcknowledged || pg.AcknowledgedBy != "integration:api/m" || pg.NextAt != nil {
			t.Fatalf("every alert acknowledged: %+v %v", pg, err)
		}
		var first *time.Time
		if err := d.R.QueryRowContext(context.Background(), `SELECT first_acknowledged_at FROM pages WHERE id = $1`, pg.ID).Scan(&first); err != nil ||
			first == nil || !first.Equal(start) {
			t.Fatalf("first acknowledgement for the SLA: %v %v", first, err)
		}
		e.clk.Advance(5 * time.Minute)
		e.tick()
		if got := e.ch.take(); len(got) != 0 {
			t.Fatalf("acknowledged by the monitoring tool, yet step 2 paged: %s", addresses(got))
		}
		if tl := e.timeline(inc); !strings.Contains(tl, "Page acknowledged by the monitoring tool (api/m)") {
			t.Fatalf("timeline:\n%s", tl)
		}
	})
}

// TestPageActsOnAlerts: acknowledging the page acknowledges its alerts,
// resolving it resolves them, and a later trigger with the same dedup key
// is a new alert that pages again rather than a repeat that pages nobody.
func TestPageActsOnAlerts(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		alice := e.user("alice", authz.RoleResponder)
		e.verify(alice, paging.ContactEmail, "alice@example.org")
		ig := e.service("api", alert.GroupByAlert, "alice")
		inc := e.send(ig, alert.Trigger, "k1").Opened[0]
		e.tick()
		if got := e.ch.take(); addresses(got) != "alice@example.org:page" {
			t.Fatalf("first page: %s", addresses(got))
		}
		if _, err := e.pager.Acknowledge(e.ctx, inc); err != nil {
			t.Fatal(err)
		}
		if st := e.alertStatus("k1"); st != string(alert.StatusAcknowledged) {
			t.Fatalf("page acknowledged, alert %s", st)
		}
		if _, err := e.pager.Resolve(e.ctx, inc); err != nil {
			t.Fatal(err)
		}
		if st := e.alertStatus("k1"); st != string(alert.StatusResolved) {
			t.Fatalf("page resolved, alert %s", st)
		}
		e.clk.Advance(time.Minute)
		if r := e.send(ig, alert.Trigger, "k1"); r.New != 1 || r.Deduplicated != 0 {
			t.Fatalf("a trigger after the page resolved: %+v", r)
		}
		e.tick()
		if got := e.ch.take(); addresses(got) != "alice@example.org:page" {
			t.Fatalf("the new alert pages: %s", addresses(got))
		}
		if pg, _ := e.pager.PageOf(e.ctx, inc); pg.Status != paging.PageTriggered {
			t.Fatalf("page after the new alert: %s", pg.Status)
		}
	})
}

// TestFailingPageSparesOthers: a page that cannot be moved on is logged,
// counted and tried again on the next tick, while every other page
// escalates and every other message is delivered.
func TestFailingPageSparesOthers(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		alice, bob := e.user("alice", authz.RoleResponder), e.user("bob", authz.RoleResponder)
		e.verify(alice, paging.ContactEmail, "alice@example.org")
		e.verify(bob, paging.ContactEmail, "bob@example.org")
		bad, good := e.service("bad", alert.GroupByAlert, "alice", "bob"), e.service("good", alert.GroupByAlert, "alice", "bob")
		e.send(bad, alert.Trigger, "b")
		e.tick()
		e.clk.Advance(time.Second) // the bad page falls due first
		e.send(good, alert.Trigger, "g")
		e.tick()
		if got := e.ch.take(); len(got) != 2 {
			t.Fatalf("step 1 of both: %s", addresses(got))
		}
		ctx := context.Background()
		var steps string
		if err := d.R.QueryRowContext(ctx, `SELECT steps FROM escalation_policies WHERE name = 'bad'`).Scan(&steps); err != nil {
			t.Fatal(err)
		}
		if _, err := d.W.ExecContext(ctx, `UPDATE escalation_policies SET steps = 'not json' WHERE name = 'bad'`); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(5 * time.Minute)
		e.send(good, alert.Trigger, "g2")
		if err := e.pager.Tick(ctx); err == nil {
			t.Fatal("a page that could not be moved on went unreported")
		}
		if got := addresses(e.ch.take()); !strings.Contains(got, "bob@example.org:page") || !strings.Contains(got, "alice@example.org:page") {
			t.Fatalf("the good page escalates and the new alert pages: %s", got)
		}
		reg := prometheus.NewRegistry()
		reg.MustRegister(e.pager.Collectors()...)
		if n := counter(t, reg, "ward_paging_errors_total", "stage", "advance"); n != 1 {
			t.Fatalf("advance errors counted: %v", n)
		}
		if _, err := d.W.ExecContext(ctx, `UPDATE escalation_policies SET steps = $1 WHERE name = 'bad'`, steps); err != nil {
			t.Fatal(err)
		}
		e.tick()
		if got := e.ch.take(); addresses(got) != "bob@example.org:page" {
			t.Fatalf("the failed page is tried again: %s", addresses(got))
		}
	})
}

// counter reads the counter name{label=value} from reg.
func counter(t *testing.T, reg *prometheus.Registry, name, label, value string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}

// TestRateLimitCountsTheRound: a burst of pages claimed in one round is
// held to the per-contact limit, not only what was sent before it.
func TestRateLimitCountsTheRound(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		alice := e.user("alice", authz.RoleResponder)
		e.verify(alice, paging.ContactSMS, "+14155550101")
		e.clk.Advance(paging.RateWindow + time.Minute) // the verification SMS is out of the window
		ig := e.service("api", alert.GroupByAlert, "alice")
		var evs []alert.Event
		for i := range 8 {
			evs = append(evs, alert.Event{Action: alert.Trigger, DedupKey: "k" + string(rune('0'+i)), Summary: "Disk full", Source: "db1",
				Severity: alert.Critical})
		}
		if r, err := e.in.Ingest(context.Background(), ig, evs); err != nil || len(r.Opened) != 8 {
			t.Fatalf("8 incidents: %+v %v", r, err)
		}
		e.tick()
		limit := paging.RateLimits[paging.ContactSMS]
		if got := e.ch.take(); len(got) != limit {
			t.Fatalf("a burst of 8 pages sent %d SMS; the limit is %d", len(got), limit)
		}
		var limited int
		if err := d.R.QueryRowContext(context.Background(), `SELECT count(*) FROM notifications WHERE status = 'rate_limited'`).Scan(&limited); err != nil ||
			limited != 8-limit {
			t.Fatalf("rate limited: %d %v", limited, err)
		}
	})
}

// notificationRow is the outbox row of the one page message sent.
func (e *env) notificationRow() (id, status string, attempts int) {
	e.t.Helper()
	if err := e.d.R.QueryRowContext(context.Background(), `SELECT id, status, attempts FROM notifications WHERE kind = 'page'`).Scan(
		&id, &status, &attempts); err != nil {
		e.t.Fatal(err)
	}
	return id, status, attempts
}

// runUntilEntered runs the escalator until a send has begun, and returns
// what stops it and what reports it stopped.
func (e *env) runUntilEntered() (context.CancelFunc, chan struct{}) {
	e.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		e.pager.Run(ctx)
	}()
	select {
	case <-e.ch.entered:
	case <-time.After(20 * time.Second):
		cancel()
		e.t.Fatal("the escalator never began to send")
	}
	return cancel, stopped
}

func waitClosed(t *testing.T, c chan struct{}, what string) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: not within 20s", what)
	}
}

// TestShutdownRecordsOutcome: a send that finishes after the escalator is
// told to stop is recorded as sent, not left "sending" to go out again
// when its lease runs out; every message carries its notification id.
func TestShutdownRecordsOutcome(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		alice := e.user("alice", authz.RoleResponder)
		e.verify(alice, paging.ContactEmail, "alice@example.org")
		ig := e.service("api", alert.GroupByAlert, "alice")
		e.ch.hold, e.ch.entered = make(chan struct{}), make(chan struct{}, 1)
		e.send(ig, alert.Trigger, "k1")
		stop, stopped := e.runUntilEntered()
		stop()
		close(e.ch.hold)
		waitClosed(t, stopped, "the escalator stops")
		id, status, attempts := e.notificationRow()
		if status != "sent" || attempts != 1 {
			t.Fatalf("a send finished during shutdown is %s after %d attempts", status, attempts)
		}
		if got := e.ch.take(); len(got) != 1 || got[0].msg.ID != id {
			t.Fatalf("the message carries its notification id %s: %+v", id, got)
		}
	})
}

// TestShutdownHandsBackUnfinishedSend: a send still on its way when the
// shutdown grace ends goes back to the queue, that attempt not counted,
// and goes out on the next start with the same notification id.
func TestShutdownHandsBackUnfinishedSend(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, func(o *paging.Options) { o.ShutdownGrace = 10 * time.Millisecond })
		alice := e.user("alice", authz.RoleResponder)
		e.verify(alice, paging.ContactEmail, "alice@example.org")
		ig := e.service("api", alert.GroupByAlert, "alice")
		e.ch.hold, e.ch.entered = make(chan struct{}), make(chan struct{}, 1)
		e.send(ig, alert.Trigger, "k1")
		stop, stopped := e.runUntilEntered()
		stop()
		waitClosed(t, stopped, "the escalator stops after the grace")
		id, status, attempts := e.notificationRow()
		if status != "queued" || attempts != 0 {
			t.Fatalf("a send cut short by shutdown is %s after %d attempts", status, attempts)
		}
		e.ch.hold = nil
		e.tick()
		got := e.ch.take()
		if len(got) != 1 || got[0].msg.ID != id {
			t.Fatalf("the handed-back message goes out with id %s: %+v", id, got)
		}
	})
}

// TestRecoverSending: on SQLite, where one Ward holds the database, a
// message left "sending" by a crash goes out as soon as the escalator
// starts, not when its lease runs out; on PostgreSQL, where another node
// may be sending it, the lease decides.
func TestRecoverSending(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		alice := e.user("alice", authz.RoleResponder)
		e.verify(alice, paging.ContactEmail, "alice@example.org")
		ig := e.service("api", alert.GroupByAlert, "alice")
		e.send(ig, alert.Trigger, "k1")
		if _, err := d.W.ExecContext(context.Background(), `UPDATE notifications SET status = 'sending', attempts = 1, lease_until = $1
			WHERE kind = 'page'`, start.Add(2*time.Minute)); err != nil {
			t.Fatal(err)
		}
		e.ch.hold, e.ch.entered = make(chan struct{}), make(chan struct{}, 1)
		close(e.ch.hold)
		if d.Dialect == db.Postgres {
			e.tick()
			if _, status, _ := e.notificationRow(); status != "sending" {
				t.Fatalf("PostgreSQL: a row another node may hold is %s before its lease ends", status)
			}
			e.clk.Advance(2*time.Minute + time.Second)
		}
		stop, stopped := e.runUntilEntered()
		stop()
		waitClosed(t, stopped, "the escalator stops")
		if _, status, attempts := e.notificationRow(); status != "sent" || attempts != 2 {
			t.Fatalf("recovered message: %s after %d attempts", status, attempts)
		}
	})
}
