package paging_test

import (
	"context"
	"database/sql"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/notify"
	"github.com/wardhq/ward/internal/outbound"
	"github.com/wardhq/ward/internal/paging"
)

var (
	start = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC) // a Monday
	admin = authz.Actor{Kind: authz.KindToken, ID: "t1", Name: "admin", Role: authz.RoleAdmin}
)

// sent is one message a fake channel was asked to send.
type sent struct {
	to  paging.Destination
	msg notify.Message
}

// fakeChannels records every message and fails as told. With hold set,
// each Send first says so on entered and waits for hold to close or its
// context to end, which it then returns as a provider would.
type fakeChannels struct {
	mu      sync.Mutex
	sent    []sent
	tried   []sent           // every message asked for, sent or not
	fail    map[string]error // by address
	hold    chan struct{}
	entered chan struct{}
}

func (f *fakeChannels) Send(ctx context.Context, to paging.Destination, m notify.Message) (notify.Receipt, error) {
	f.mu.Lock()
	hold := f.hold
	f.mu.Unlock()
	if hold != nil {
		f.entered <- struct{}{}
		select {
		case <-hold:
		case <-ctx.Done():
			return notify.Receipt{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tried = append(f.tried, sent{to, m})
	if err := f.fail[to.Address]; err != nil {
		return notify.Receipt{}, err
	}
	f.sent = append(f.sent, sent{to, m})
	return notify.Receipt{Provider: "fake", ID: "r" + string(rune('0'+len(f.sent)))}, nil
}

// take returns and forgets what was sent.
func (f *fakeChannels) take() []sent {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.sent
	f.sent = nil
	return out
}

type env struct {
	t     *testing.T
	d     *db.DB
	clk   *clock.Fake
	in    *alert.Intake
	incs  *incident.Service
	pager *paging.Pager
	ch    *fakeChannels
	ctx   context.Context
}

// newEnv builds a Pager on d; opts adjust its Options.
func newEnv(t *testing.T, d *db.DB, opts ...func(*paging.Options)) *env {
	clk := clock.NewFake(start)
	kr := dbtest.Keyring(t, d, start)
	incs := incident.NewService(d, clk, kr)
	in := alert.NewIntake(d, clk, kr, incs)
	ch := &fakeChannels{fail: map[string]error{}}
	o := paging.Options{BaseURL: "https://ward.test"}
	for _, f := range opts {
		f(&o)
	}
	pager := paging.New(d, clk, kr, incs, ch, slog.New(slog.NewTextHandler(io.Discard, nil)), o)
	in.SetPager(pager)
	incs.NotifyOfficersWith(pager)
	return &env{t: t, d: d, clk: clk, in: in, incs: incs, pager: pager, ch: ch, ctx: authz.WithActor(context.Background(), admin)}
}

// user adds a person with role r and returns their id.
func (e *env) user(name string, r authz.Role) string {
	e.t.Helper()
	id := "u-" + name
	if _, err := e.d.W.ExecContext(context.Background(), `INSERT INTO users (id, username, display_name, email, role, password_hash,
		disabled, created_at, updated_at) VALUES ($1, $2, $2, $3, $4, 'x', false, $5, $5)`, id, name, name+"@example.org", r, start); err != nil {
		e.t.Fatal(err)
	}
	return id
}

func (e *env) tick() {
	e.t.Helper()
	if err := e.pager.Tick(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

// verify adds a contact method for userID and verifies it with the code
// it was sent.
func (e *env) verify(userID string, kind paging.ContactKind, addr string) paging.ContactMethod {
	e.t.Helper()
	c, _, err := e.pager.CreateContact(e.ctx, userID, paging.ContactInput{Kind: kind, Address: addr})
	if err != nil {
		e.t.Fatal(err)
	}
	e.tick()
	got := e.ch.take()
	if len(got) != 1 || got[0].to.Address != addr || got[0].msg.Kind != notify.KindVerify || len(got[0].msg.Code) != 6 {
		e.t.Fatalf("verification message: %+v", got)
	}
	if _, err := e.pager.VerifyContact(e.ctx, c.ID, "000000x"); apperr.CodeOf(err) != apperr.Invalid {
		e.t.Fatalf("a wrong code: %v", err)
	}
	c, err = e.pager.VerifyContact(e.ctx, c.ID, got[0].msg.Code)
	if err != nil || !c.Verified() {
		e.t.Fatalf("verify: %+v %v", c, err)
	}
	return c
}

func (e *env) trigger(ig alert.Integration, key string) alert.Result {
	e.t.Helper()
	r, err := e.in.Ingest(context.Background(), ig, []alert.Event{{Action: alert.Trigger, DedupKey: key, Summary: "Disk full",
		Source: "db1", Severity: alert.Critical}})
	if err != nil {
		e.t.Fatal(err)
	}
	return r
}

func addresses(ss []sent) string {
	var out []string
	for _, s := range ss {
		out = append(out, s.to.Address+":"+s.msg.Kind)
	}
	return strings.Join(out, " ")
}

// TestEscalation walks a page through its policy with a fake clock: the
// first step pages at once, no acknowledgement escalates, a link
// acknowledges, the acknowledgement timeout pages again, and resolving
// the alert ends it.
func TestEscalation(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		alice, bob := e.user("alice", authz.RoleResponder), e.user("bob", authz.RoleResponder)
		e.verify(alice, paging.ContactEmail, "alice@example.org")
		sms := e.verify(alice, paging.ContactSMS, "+14155550101")
		e.verify(bob, paging.ContactEmail, "bob@example.org")
		// Alice: email at once, SMS after 2 minutes.
		mail, err := e.pager.Contacts(e.ctx, alice)
		if err != nil || len(mail) != 2 {
			t.Fatalf("contacts: %+v %v", mail, err)
		}
		if _, err := e.pager.CreateRule(e.ctx, alice, mail[0].ID, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := e.pager.CreateRule(e.ctx, alice, sms.ID, 2); err != nil {
			t.Fatal(err)
		}
		sched, err := e.pager.CreateSchedule(e.ctx, paging.ScheduleInput{Name: "primary", TimeZone: "America/New_York",
			Rotations: []paging.RotationSpec{{Name: "weekly", Kind: "weekly", ShiftLength: 1, Start: start.Add(-time.Hour),
				Participants: []string{"bob"}}}})
		if err != nil {
			t.Fatal(err)
		}
		pol, err := e.pager.CreatePolicy(e.ctx, paging.PolicyInput{Name: "db", AckTimeoutMinutes: 30, Steps: []paging.Step{
			{DelayMinutes: 5, Targets: []paging.Target{{Type: paging.TargetUser, ID: "alice"}}},
			{DelayMinutes: 10, Targets: []paging.Target{{Type: paging.TargetSchedule, ID: "primary"}}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if pol.Steps[0].Targets[0].ID != alice || pol.Steps[1].Targets[0].ID != sched.ID {
			t.Fatalf("targets are stored by id: %+v", pol.Steps)
		}
		svc, err := e.in.CreateService(e.ctx, alert.ServiceInput{Name: "db", EscalationPolicy: "db"})
		if err != nil || svc.EscalationPolicyID != pol.ID {
			t.Fatalf("service: %+v %v", svc, err)
		}
		_, key, err := e.in.CreateIntegration(e.ctx, svc.ID, alert.IntegrationInput{Kind: alert.KindEventsV2, Name: "m"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ig, err := e.in.Authenticate(e.ctx, key)
		if err != nil {
			t.Fatal(err)
		}

		res := e.trigger(ig, "k1")
		inc := res.Opened[0]
		e.tick()
		got := e.ch.take()
		if addresses(got) != "alice@example.org:page" {
			t.Fatalf("step 1 at once: %s", addresses(got))
		}
		m := got[0].msg
		if m.Incident != inc || m.Severity != "sev1" || m.Service != "db" || m.URL != "https://ward.test/incidents/"+inc ||
			!strings.HasPrefix(m.AckURL, "https://ward.test/a/") || !strings.HasPrefix(m.ResolveURL, "https://ward.test/a/") {
			t.Fatalf("page message: %+v", m)
		}
		// A storm of alerts joining the incident pages nobody again.
		e.trigger(ig, "k1")
		e.tick()
		if got := e.ch.take(); len(got) != 0 {
			t.Fatalf("a repeated alert paged again: %s", addresses(got))
		}
		e.clk.Advance(2 * time.Minute)
		e.tick()
		if got := e.ch.take(); addresses(got) != "+14155550101:page" {
			t.Fatalf("alice's SMS rule after 2 minutes: %s", addresses(got))
		}
		e.clk.Advance(3 * time.Minute)
		e.tick()
		if got := e.ch.take(); addresses(got) != "bob@example.org:page" {
			t.Fatalf("step 2 (the schedule) after 5 minutes: %s", addresses(got))
		}
		bobLink := strings.TrimPrefix(m.AckURL, "https://ward.test/a/")
		info, err := e.pager.PeekLink(context.Background(), bobLink)
		if err != nil || info.Action != "acknowledge" || info.Incident != inc || info.Username != "alice" {
			t.Fatalf("peek: %+v %v", info, err)
		}
		if _, err := e.pager.UseLink(context.Background(), bobLink); err != nil {
			t.Fatal(err)
		}
		if _, err := e.pager.UseLink(context.Background(), bobLink); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("a link works once: %v", err)
		}
		pg, err := e.pager.PageOf(e.ctx, inc)
		if err != nil || pg.Status != paging.PageAcknowledged || pg.AcknowledgedBy != "user:alice" {
			t.Fatalf("after the link: %+v %v", pg, err)
		}
		e.clk.Advance(29 * time.Minute)
		e.tick()
		if got := e.ch.take(); len(got) != 0 {
			t.Fatalf("acknowledged: nobody is paged: %s", addresses(got))
		}
		e.clk.Advance(time.Minute)
		e.tick()
		if got := e.ch.take(); addresses(got) != "alice@example.org:page" {
			t.Fatalf("the ack timeout pages step 1 again: %s", addresses(got))
		}
		if _, err := e.in.Ingest(context.Background(), ig, []alert.Event{{Action: alert.Resolve, DedupKey: "k1"}}); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(3 * time.Hour)
		e.tick()
		if got := e.ch.take(); len(got) != 0 {
			t.Fatalf("resolved: nothing more is sent: %s", addresses(got))
		}
		if pg, _ := e.pager.PageOf(e.ctx, inc); pg.Status != paging.PageResolved || pg.NextAt != nil {
			t.Fatalf("after the alert resolved: %+v", pg)
		}
		ns, err := e.pager.Notifications(e.ctx, inc)
		if err != nil {
			t.Fatal(err)
		}
		var summary []string
		for _, n := range ns {
			summary = append(summary, n.Username+"/"+string(n.Channel)+"/"+n.Status)
		}
		if strings.Join(summary, " ") != "alice/email/sent alice/sms/sent bob/email/sent alice/email/sent alice/sms/cancelled" {
			t.Fatalf("delivery history: %v", summary)
		}
		tl, err := e.incs.Timeline(e.ctx, inc, incident.EventPaging, 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		var notes []string
		for _, ev := range tl {
			notes = append(notes, ev.Note)
		}
		all := strings.Join(notes, "\n")
		for _, want := range []string{"Step 1 of 2: paged alice", "Not acknowledged: escalating. Step 2 of 2: paged bob",
			"Page acknowledged by alice", "Acknowledged but not resolved within 30 minutes: paging again", "Every alert of the incident resolved"} {
			if !strings.Contains(all, want) {
				t.Errorf("timeline lacks %q:\n%s", want, all)
			}
		}
	})
}

// TestDeliveryFailures retries a transient failure no sooner than the
// provider's Retry-After and gives up loudly on a permanent one.
func TestDeliveryFailures(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		carol := e.user("carol", authz.RoleResponder)
		e.verify(carol, paging.ContactEmail, "carol@example.org")
		e.verify(carol, paging.ContactSMS, "+14155550102")
		if _, err := e.pager.CreatePolicy(e.ctx, paging.PolicyInput{Name: "p", Repeat: 1, Steps: []paging.Step{
			{DelayMinutes: 60, Targets: []paging.Target{{Type: paging.TargetUser, ID: carol}}}}}); err != nil {
			t.Fatal(err)
		}
		svc, err := e.in.CreateService(e.ctx, alert.ServiceInput{Name: "web", EscalationPolicy: "p"})
		if err != nil {
			t.Fatal(err)
		}
		_, key, err := e.in.CreateIntegration(e.ctx, svc.ID, alert.IntegrationInput{Kind: alert.KindEventsV2, Name: "m"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ig, _ := e.in.Authenticate(e.ctx, key)
		// Transient, and the relay asks for two minutes' rest.
		e.ch.fail["carol@example.org"] = &notify.HTTPError{Provider: "smtp-relay", StatusCode: 503, RetryAfter: 2 * time.Minute}
		e.ch.fail["+14155550102"] = notify.Permanent(errors.New("number unreachable"))
		inc := e.trigger(ig, "k").Opened[0]
		e.tick()
		if got := e.ch.take(); len(got) != 0 {
			t.Fatalf("nothing got through: %s", addresses(got))
		}
		delete(e.ch.fail, "carol@example.org")
		e.clk.Advance(119 * time.Second)
		e.tick()
		if got := e.ch.take(); len(got) != 0 {
			t.Fatalf("retried before the provider's Retry-After: %s", addresses(got))
		}
		e.clk.Advance(time.Second)
		e.tick()
		if got := e.ch.take(); addresses(got) != "carol@example.org:page" {
			t.Fatalf("retry after the provider's two minutes: %s", addresses(got))
		}
		ns, _ := e.pager.Notifications(e.ctx, inc)
		byChannel := map[paging.ContactKind]paging.Notification{}
		for _, n := range ns {
			byChannel[n.Channel] = n
		}
		mailN, smsN := byChannel[paging.ContactEmail], byChannel[paging.ContactSMS]
		if len(ns) != 2 || mailN.Status != "sent" || mailN.Attempts != 2 || smsN.Status != "failed" || smsN.Attempts != 1 ||
			!strings.Contains(smsN.LastError, "number unreachable") {
			t.Fatalf("history: %+v", ns)
		}
		// The provider's words may quote PHI: stored sealed, their read
		// audited, withheld from a stakeholder.
		var stored string
		if err := e.d.R.QueryRow(`SELECT last_error FROM notifications WHERE id = $1`, smsN.ID).Scan(&stored); err != nil ||
			!keys.Sealed(stored) || strings.Contains(stored, "unreachable") {
			t.Errorf("last_error stored as %q (%v)", stored, err)
		}
		var reads int
		if err := e.d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'notification.phi_read'`).Scan(&reads); err != nil || reads != 1 {
			t.Errorf("%d delivery error reads audited (%v), want 1", reads, err)
		}
		stake := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, ID: "s", Name: "v", Role: authz.RoleStakeholder})
		ns, err = e.pager.Notifications(stake, inc)
		if err != nil || len(ns) != 2 {
			t.Fatalf("stakeholder's history: %+v %v", ns, err)
		}
		for _, n := range ns {
			if n.LastError != "" || n.LastErrorRedacted != (n.Channel == paging.ContactSMS) {
				t.Errorf("stakeholder's history: %+v", n)
			}
		}
		tl, _ := e.incs.Timeline(e.ctx, inc, incident.EventPaging, 0, 100)
		found := false
		for _, ev := range tl {
			found = found || strings.Contains(ev.Note, "FAILED to page carol by sms (…0102) after 1 attempts: number unreachable")
		}
		if !found {
			t.Fatalf("the failure is not on the timeline: %+v", tl)
		}
		// A restricted incident's page is hidden from those who may not see
		// the incident, as the incident is.
		if _, err := d.W.ExecContext(context.Background(), `UPDATE incidents SET restricted = true WHERE number = $1`, inc); err != nil {
			t.Fatal(err)
		}
		for role, visible := range map[authz.Role]bool{authz.RoleResponder: false, authz.RoleAdmin: false, authz.RoleSecurityOfficer: true} {
			ctx := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, ID: "t-" + string(role), Name: "t", Role: role})
			_, err := e.pager.PageOf(ctx, inc)
			if visible != (err == nil) || !visible && apperr.CodeOf(err) != apperr.NotFound {
				t.Errorf("%s reading a restricted incident's page: %v", role, err)
			}
			if _, err := e.pager.Notifications(ctx, inc); visible != (err == nil) {
				t.Errorf("%s reading a restricted incident's notifications: %v", role, err)
			}
		}
		if _, err := d.W.ExecContext(context.Background(), `INSERT INTO incident_members (incident_id, user_id, added_by, added_at)
			SELECT id, $1, 'test', $2 FROM incidents WHERE number = $3`, carol, start, inc); err != nil {
			t.Fatal(err)
		}
		// Acknowledging twice is refused; resolving ends the page.
		actor := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: carol, Name: "carol", Role: authz.RoleResponder})
		if _, err := e.pager.Acknowledge(actor, inc); err != nil {
			t.Fatal(err)
		}
		if _, err := e.pager.Acknowledge(actor, inc); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("second acknowledgement: %v", err)
		}
		if _, err := e.pager.Resolve(actor, inc); err != nil {
			t.Fatal(err)
		}
		stakeholder := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: "x", Name: "x", Role: authz.RoleStakeholder})
		if _, err := e.pager.Acknowledge(stakeholder, inc); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("a stakeholder acknowledging: %v", err)
		}
	})
}

// TestOfficersToldOfBreakGlass: emergency access to a restricted incident
// reaches every Security Officer at once, without the reason.
func TestOfficersToldOfBreakGlass(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		olga := e.user("olga", authz.RoleSecurityOfficer)
		e.verify(olga, paging.ContactEmail, "olga@example.org")
		e.verify(olga, paging.ContactSMS, "+14155550199")
		ron := e.user("ron", authz.RoleResponder)
		inc, err := e.incs.Create(e.ctx, incident.CreateInput{Title: "Insider lookup", Restricted: true})
		if err != nil {
			t.Fatal(err)
		}
		asRon := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: ron, Name: "ron", Role: authz.RoleResponder})
		const reason = "patient complaint CANARY-REASON needs checking tonight"
		if _, err := e.incs.BreakGlass(asRon, inc.Number, reason); err != nil {
			t.Fatal(err)
		}
		e.tick()
		got := e.ch.take()
		if addresses(got) != "olga@example.org:emergency_access +14155550199:emergency_access" &&
			addresses(got) != "+14155550199:emergency_access olga@example.org:emergency_access" {
			t.Fatalf("officers told: %s", addresses(got))
		}
		for _, s := range got {
			m := s.msg
			if m.Incident != inc.Number || m.Status != "break-glass by user:ron" || strings.Contains(m.Status+m.URL, "CANARY") {
				t.Fatalf("message: %+v", m)
			}
			if subject, text := notify.Render(m); strings.Contains(subject+text, "CANARY") || strings.Contains(subject+text, "Insider") {
				t.Fatalf("the message holds the reason or title: %s %s", subject, text)
			}
		}
	})
}

// TestOfficersToldOfBackupFailure: a failed scheduled backup reaches every
// Security Officer at once, naming no incident and giving no detail.
func TestOfficersToldOfBackupFailure(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		olga := e.user("olga", authz.RoleSecurityOfficer)
		e.verify(olga, paging.ContactEmail, "olga@example.org")
		e.user("ron", authz.RoleResponder)
		if err := d.Write(context.Background(), func(tx *sql.Tx) error { return e.pager.NotifyBackupFailedTx(e.ctx, tx) }); err != nil {
			t.Fatal(err)
		}
		e.tick()
		got := e.ch.take()
		if addresses(got) != "olga@example.org:backup_failed" {
			t.Fatalf("officers told: %s", addresses(got))
		}
		m := got[0].msg
		subject, text := notify.Render(m)
		if m.Incident != "" || m.Status != "backup failed" || subject != "Ward BACKUP FAILED" || !strings.Contains(text, "scheduled backup of Ward failed") {
			t.Fatalf("message: %+v\n%s\n%s", m, subject, text)
		}
	})
}

// TestOfficersToldOfAuditChainBreak: a broken audit chain reaches every
// Security Officer at once, naming no incident and giving no detail.
func TestOfficersToldOfAuditChainBreak(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		olga := e.user("olga", authz.RoleSecurityOfficer)
		e.verify(olga, paging.ContactEmail, "olga@example.org")
		e.user("ron", authz.RoleResponder)
		if err := d.Write(context.Background(), func(tx *sql.Tx) error { return e.pager.NotifyAuditChainBrokenTx(e.ctx, tx) }); err != nil {
			t.Fatal(err)
		}
		e.tick()
		got := e.ch.take()
		if addresses(got) != "olga@example.org:audit_chain_broken" {
			t.Fatalf("officers told: %s", addresses(got))
		}
		m := got[0].msg
		subject, text := notify.Render(m)
		if m.Incident != "" || m.Status != "audit trail altered" || subject != "Ward AUDIT TRAIL ALTERED" ||
			!strings.Contains(text, "found its audit trail altered") {
			t.Fatalf("message: %+v\n%s\n%s", m, subject, text)
		}
	})
}

// TestOfficersToldOfAlteredEvidence: evidence that failed its integrity
// check reaches every Security Officer at once, naming the incident and
// nothing of the item.
func TestOfficersToldOfAlteredEvidence(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		olga := e.user("olga", authz.RoleSecurityOfficer)
		e.verify(olga, paging.ContactEmail, "olga@example.org")
		e.user("ron", authz.RoleResponder)
		inc, err := e.incs.Create(e.ctx, incident.CreateInput{Title: "Stolen laptop", Severity: incident.Sev2})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Write(context.Background(), func(tx *sql.Tx) error { return e.pager.NotifyEvidenceAlteredTx(e.ctx, tx, inc.ID) }); err != nil {
			t.Fatal(err)
		}
		e.tick()
		got := e.ch.take()
		if addresses(got) != "olga@example.org:evidence_altered" {
			t.Fatalf("officers told: %s", addresses(got))
		}
		m := got[0].msg
		subject, text := notify.Render(m)
		if m.Incident != inc.Number || m.Status != "evidence altered" || subject != "Ward EVIDENCE ALTERED in "+inc.Number ||
			!strings.Contains(text, "failed its integrity check") || strings.Contains(text, "Stolen laptop") {
			t.Fatalf("message: %+v\n%s\n%s", m, subject, text)
		}
	})
}

// TestPolicyValidation names the bad field.
func TestPolicyValidation(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		cases := map[string]paging.PolicyInput{
			"name":                         {Steps: []paging.Step{{DelayMinutes: 5, Targets: []paging.Target{{Type: "user", ID: "x"}}}}},
			"steps":                        {Name: "a"},
			"steps[0].delay_minutes":       {Name: "a", Steps: []paging.Step{{DelayMinutes: 0, Targets: []paging.Target{{Type: "user", ID: "x"}}}}},
			"steps[0].targets[0].type":     {Name: "a", Steps: []paging.Step{{DelayMinutes: 5, Targets: []paging.Target{{Type: "team", ID: "x"}}}}},
			"steps[0].targets[0].id":       {Name: "a", Steps: []paging.Step{{DelayMinutes: 5, Targets: []paging.Target{{Type: "user", ID: "nobody"}}}}},
			"ack_timeout_minutes":          {Name: "a", AckTimeoutMinutes: 2, Steps: []paging.Step{{DelayMinutes: 5, Targets: []paging.Target{{Type: "user", ID: "x"}}}}},
			"repeat":                       {Name: "a", Repeat: 10, Steps: []paging.Step{{DelayMinutes: 5, Targets: []paging.Target{{Type: "user", ID: "x"}}}}},
			"rotations[0].participants[0]": {},
		}
		for field, in := range cases {
			if field == "rotations[0].participants[0]" {
				_, err := e.pager.CreateSchedule(e.ctx, paging.ScheduleInput{Name: "s", TimeZone: "Europe/London",
					Rotations: []paging.RotationSpec{{Name: "r", Kind: "daily", ShiftLength: 1, Start: start, Participants: []string{"ghost"}}}})
				if e, ok := apperr.As(err); !ok || e.Fields[0].Field != field {
					t.Errorf("schedule with an unknown participant: %v", err)
				}
				continue
			}
			_, err := e.pager.CreatePolicy(e.ctx, in)
			ae, ok := apperr.As(err)
			if !ok || ae.Code != apperr.Invalid || ae.Fields[0].Field != field {
				t.Errorf("%s: %v", field, err)
			}
		}
		if _, err := e.pager.CreateSchedule(e.ctx, paging.ScheduleInput{Name: "s", TimeZone: "Mars/Olympus",
			Rotations: []paging.RotationSpec{{Name: "r", Kind: "daily", ShiftLength: 1, Start: start, Participants: []string{"x"}}}}); !strings.Contains(fmtErr(err), "time_zone") {
			t.Errorf("a bad time zone: %v", err)
		}
		responder := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: "r", Name: "r", Role: authz.RoleResponder})
		if _, err := e.pager.CreatePolicy(responder, paging.PolicyInput{Name: "x"}); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("a responder making a policy: %v", err)
		}
		bad := map[paging.ContactKind]string{paging.ContactEmail: "not-an-address", paging.ContactSMS: "555-0100",
			paging.ContactWebhook: "http://example.org/hook", paging.ContactTeams: "ftp://x"}
		e.user("dave", authz.RoleResponder)
		for k, a := range bad {
			if _, _, err := e.pager.CreateContact(e.ctx, "dave", paging.ContactInput{Kind: k, Address: a}); !strings.Contains(fmtErr(err), "address") {
				t.Errorf("%s %q: %v", k, a, err)
			}
		}
	})
}

// TestContactDestinationGuard: a webhook, Slack or Teams contact method
// whose URL is, or whose host resolves to, a loopback, private or
// metadata address is refused when it is saved, naming the address
// field, unless an administrator allow-lists it; nothing is written or
// sent for a refused one.
func TestContactDestinationGuard(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		dave := e.user("dave", authz.RoleResponder)
		for _, c := range []struct {
			kind paging.ContactKind
			addr string
		}{
			{paging.ContactWebhook, "https://127.0.0.1:8443/hook"},
			{paging.ContactWebhook, "http://127.0.0.1:8080/hook"},
			{paging.ContactWebhook, "http://[::1]:8080/hook"},
			{paging.ContactWebhook, "https://localhost/hook"}, // a name, resolving to 127.0.0.1
			{paging.ContactWebhook, "https://169.254.169.254/latest/meta-data/iam/security-credentials/"},
			{paging.ContactWebhook, "https://[::ffff:169.254.169.254]/latest/meta-data/"},
			{paging.ContactWebhook, "https://192.168.1.10/hook"},
			{paging.ContactTeams, "https://10.0.0.5/workflows/x"},
			{paging.ContactSlack, "https://[fd00:ec2::254]/services/T/B/x"},
			{paging.ContactSlack, "https://100.64.0.1/services/T/B/x"},
		} {
			_, _, err := e.pager.CreateContact(e.ctx, dave, paging.ContactInput{Kind: c.kind, Address: c.addr})
			ae, ok := apperr.As(err)
			if !ok || ae.Code != apperr.Invalid || len(ae.Fields) != 1 || ae.Fields[0].Field != "address" ||
				!strings.Contains(err.Error(), outbound.Flag) {
				t.Errorf("%s %s: %v, want an invalid address naming %s", c.kind, c.addr, err, outbound.Flag)
			}
		}
		if cs, err := e.pager.Contacts(e.ctx, dave); err != nil || len(cs) != 0 {
			t.Fatalf("refused contact methods were saved: %+v %v", cs, err)
		}
		e.tick()
		if got := e.ch.take(); len(got) != 0 {
			t.Fatalf("refused contact methods were sent to: %+v", got)
		}
		// A Slack channel id names no host and is not looked up.
		e.verify(dave, paging.ContactSlack, "C0123ABCD")

		allow, err := outbound.ParseAllow([]string{"127.0.0.1/32"})
		if err != nil {
			t.Fatal(err)
		}
		allowed := newEnv(t, d, func(o *paging.Options) { o.Outbound = outbound.New(allow, nil) })
		if _, _, err := allowed.pager.CreateContact(allowed.ctx, dave, paging.ContactInput{Kind: paging.ContactWebhook,
			Address: "https://127.0.0.1:8443/hook"}); err != nil {
			t.Fatalf("a webhook on 127.0.0.1 with 127.0.0.1/32 allowed: %v", err)
		}
		allowed.tick()
		if got := allowed.ch.take(); len(got) != 1 || got[0].to.Address != "https://127.0.0.1:8443/hook" {
			t.Fatalf("the allowed webhook's test delivery: %+v", got)
		}
		if _, _, err := allowed.pager.CreateContact(allowed.ctx, dave, paging.ContactInput{Kind: paging.ContactWebhook,
			Address: "https://169.254.169.254/latest/meta-data/"}); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("the metadata service with 127.0.0.1/32 allowed: %v", err)
		}
	})
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestRateLimit: a storm of incidents cannot flood a phone: past the
// limit, messages are recorded as rate_limited and not sent.
func TestRateLimit(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		erin := e.user("erin", authz.RoleResponder)
		e.verify(erin, paging.ContactSMS, "+14155550177")
		e.clk.Advance(paging.RateWindow) // the verification SMS counts too
		if _, err := e.pager.CreatePolicy(e.ctx, paging.PolicyInput{Name: "p", Steps: []paging.Step{
			{DelayMinutes: 30, Targets: []paging.Target{{Type: paging.TargetUser, ID: erin}}}}}); err != nil {
			t.Fatal(err)
		}
		svc, err := e.in.CreateService(e.ctx, alert.ServiceInput{Name: "noisy", GroupBy: alert.GroupByAlert, EscalationPolicy: "p"})
		if err != nil {
			t.Fatal(err)
		}
		_, key, err := e.in.CreateIntegration(e.ctx, svc.ID, alert.IntegrationInput{Kind: alert.KindEventsV2, Name: "m"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ig, _ := e.in.Authenticate(e.ctx, key)
		limit := paging.RateLimits[paging.ContactSMS]
		var last string
		for i := range limit + 1 {
			last = e.trigger(ig, "k"+strconv.Itoa(i)).Opened[0]
			e.clk.Advance(time.Second)
			e.tick()
		}
		if got := e.ch.take(); len(got) != limit {
			t.Fatalf("%d SMS sent, want the limit %d", len(got), limit)
		}
		ns, _ := e.pager.Notifications(e.ctx, last)
		if len(ns) != 1 || ns[0].Status != "rate_limited" {
			t.Fatalf("the message over the limit: %+v", ns)
		}
		tl, _ := e.incs.Timeline(e.ctx, last, incident.EventPaging, 0, 10)
		found := false
		for _, ev := range tl {
			found = found || strings.Contains(ev.Note, "Did not page erin by sms")
		}
		if !found {
			t.Fatalf("the rate limit is not on the timeline: %+v", tl)
		}
		// After the window, the phone is paged again.
		e.clk.Advance(paging.RateWindow)
		e.trigger(ig, "later")
		e.tick()
		if got := e.ch.take(); len(got) != 1 {
			t.Fatalf("after the window: %d", len(got))
		}
	})
}

// TestUnreachable: the people with no verified contact method, each once
// and sorted; a method added but not verified does not count.
func TestUnreachable(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		amy := e.user("amy", authz.RoleResponder)
		e.verify(amy, paging.ContactEmail, "amy@example.org")
		bob := e.user("bob", authz.RoleResponder)
		cat := e.user("cat", authz.RoleResponder)
		if _, _, err := e.pager.CreateContact(e.ctx, cat, paging.ContactInput{Kind: paging.ContactEmail, Address: "cat@example.org"}); err != nil {
			t.Fatal(err)
		}
		got, err := e.pager.Unreachable(e.ctx, []string{cat, amy, bob, cat})
		if err != nil || !slices.Equal(got, []string{"bob", "cat"}) {
			t.Fatalf("unreachable: %q %v, want bob and cat", got, err)
		}
		if got, err := e.pager.Unreachable(e.ctx, nil); err != nil || got != nil {
			t.Fatalf("unreachable of nobody: %q %v", got, err)
		}
	})
}

// TestDrillPagesSayDrill: a drill's test page reaches the people of the
// escalation policy with "DRILL" at the start of each message's status
// line; a real incident's page does not say it.
func TestDrillPagesSayDrill(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		alice := e.user("alice", authz.RoleResponder)
		e.verify(alice, paging.ContactEmail, "alice@example.org")
		pol, err := e.pager.CreatePolicy(e.ctx, paging.PolicyInput{Name: "drills", Steps: []paging.Step{
			{DelayMinutes: 5, Targets: []paging.Target{{Type: paging.TargetUser, ID: "alice"}}}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.in.CreateService(e.ctx, alert.ServiceInput{Name: "fax", EscalationPolicy: pol.ID}); err != nil {
			t.Fatal(err)
		}
		for _, drill := range []bool{true, false} {
			inc, err := e.incs.Create(e.ctx, incident.CreateInput{Title: "Tabletop", Drill: drill})
			if err != nil {
				t.Fatal(err)
			}
			if err := d.Write(e.ctx, func(tx *sql.Tx) error {
				_, err := e.pager.PagePolicyTx(e.ctx, tx, inc.ID, pol.ID, "Test page.")
				return err
			}); err != nil {
				t.Fatal(err)
			}
			e.tick()
			got := e.ch.take()
			if len(got) == 0 {
				t.Fatalf("drill %v: nothing sent", drill)
			}
			for _, s := range got {
				if s.msg.Incident != inc.Number || strings.HasPrefix(s.msg.Status, "DRILL ") != drill {
					t.Fatalf("drill %v: message %+v", drill, s.msg)
				}
			}
		}
	})
}
