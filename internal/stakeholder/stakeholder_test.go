package stakeholder_test

import (
	"context"
	"io"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/notify"
	"github.com/wardhq/ward/internal/paging"
	"github.com/wardhq/ward/internal/stakeholder"
)

var start = time.Date(2026, 11, 3, 14, 0, 0, 0, time.UTC)

// inbox records what the channels were asked to send.
type inbox struct {
	mu   sync.Mutex
	msgs []string // "address kind status"
	code string   // the last verification code
}

func (b *inbox) Send(_ context.Context, to paging.Destination, m notify.Message) (notify.Receipt, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if m.Kind == notify.KindVerify {
		b.code = m.Code
		return notify.Receipt{}, nil
	}
	b.msgs = append(b.msgs, to.Address+" "+m.Kind+" "+m.Incident+" "+m.Status)
	return notify.Receipt{}, nil
}

func (b *inbox) take() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.msgs
	b.msgs = nil
	sort.Strings(out)
	return out
}

type env struct {
	t     *testing.T
	d     *db.DB
	clk   *clock.Fake
	incs  *incident.Service
	pager *paging.Pager
	svc   *stakeholder.Service
	box   *inbox
	admin context.Context
}

func newEnv(t *testing.T, d *db.DB) *env {
	clk := clock.NewFake(start)
	kr := dbtest.Keyring(t, d, start)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	incs := incident.NewService(d, clk, kr)
	box := &inbox{}
	pager := paging.New(d, clk, kr, incs, box, log, paging.Options{BaseURL: "https://ward.test"})
	return &env{t: t, d: d, clk: clk, incs: incs, pager: pager, svc: stakeholder.New(d, clk, kr, incs, pager, log), box: box,
		admin: authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, ID: "t", Name: "admin", Role: authz.RoleAdmin})}
}

// person adds a user with a verified email address and returns a context
// acting as them.
func (e *env) person(name string, role authz.Role) context.Context {
	e.t.Helper()
	id := "u-" + name
	if _, err := e.d.W.ExecContext(context.Background(), `INSERT INTO users (id, username, display_name, email, role, password_hash,
		disabled, created_at, updated_at) VALUES ($1, $2, $2, $3, $4, 'x', false, $5, $5)`, id, name, name+"@example.org", role, start); err != nil {
		e.t.Fatal(err)
	}
	c, _, err := e.pager.CreateContact(e.admin, id, paging.ContactInput{Kind: paging.ContactEmail, Address: name + "@example.org"})
	if err != nil {
		e.t.Fatal(err)
	}
	e.tick()
	if _, err := e.pager.VerifyContact(e.admin, c.ID, e.box.code); err != nil {
		e.t.Fatal(err)
	}
	return authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: id, Name: name, Role: role})
}

func (e *env) tick() {
	e.t.Helper()
	if err := e.pager.Tick(context.Background()); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) check() int {
	e.t.Helper()
	n, err := e.svc.CheckSLAs(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	e.tick()
	return n
}

func join(ss []string) string { return strings.Join(ss, " | ") }

// TestStatusUpdatesAndSLA: updates reach the groups subscribed by rule or
// by hand; the SLA checker warns, reminds of overdue updates once per
// interval and escalates a missed target to the officers; closing stops it.
func TestStatusUpdatesAndSLA(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		carol := e.person("carol", authz.RoleResponder)
		e.person("olga", authz.RoleSecurityOfficer)
		exec := e.person("exec", authz.RoleStakeholder)
		e.person("counsel", authz.RoleStakeholder)
		yes := true
		if _, err := e.svc.CreateGroup(e.admin, stakeholder.GroupInput{Name: "executives", ByRule: true,
			Rule: stakeholder.Rule{Severities: []string{"sev1"}, PHISuspected: &yes}, Members: []string{"exec"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CreateGroup(e.admin, stakeholder.GroupInput{Name: "counsel", Members: []string{"counsel"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.CreateGroup(e.admin, stakeholder.GroupInput{Name: "bad", ByRule: true,
			Rule: stakeholder.Rule{Severities: []string{"p1"}}}); apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(err.Error(), "rule.severities[0]") {
			t.Fatalf("a bad rule: %v", err)
		}
		inc, err := e.incs.Create(e.admin, incident.CreateInput{Title: "Database exposed", Severity: incident.Sev1, PHISuspected: true,
			Commander: "carol"})
		if err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(time.Minute)
		if _, err := e.svc.PostUpdate(carol, inc.Number, stakeholder.UpdateInput{Body: "Investigating the exposure; containment under way."}); err != nil {
			t.Fatal(err)
		}
		e.tick()
		if got := join(e.box.take()); got != "exec@example.org status_update "+inc.Number+" new status update" {
			t.Fatalf("the rule-matched group: %s", got)
		}
		if err := e.svc.Subscribe(carol, inc.Number, "counsel"); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(time.Minute)
		if _, err := e.svc.PostUpdate(carol, inc.Number, stakeholder.UpdateInput{Body: "Contained."}); err != nil {
			t.Fatal(err)
		}
		e.tick()
		if got := join(e.box.take()); !strings.Contains(got, "counsel@example.org") || !strings.Contains(got, "exec@example.org") {
			t.Fatalf("both groups: %s", got)
		}
		ups, err := e.svc.Updates(exec, inc.Number)
		if err != nil || len(ups) != 2 || ups[0].Body != "Contained." {
			t.Fatalf("a stakeholder reads the updates: %+v %v", ups, err)
		}
		if _, err := e.svc.PostUpdate(exec, inc.Number, stakeholder.UpdateInput{Body: "x"}); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("a stakeholder posting: %v", err)
		}

		// sev1 by default: first update in 30, then every 60; contain in 240.
		if n := e.check(); n != 0 {
			t.Fatalf("nothing is due yet: %d %v", n, e.box.take())
		}
		e.clk.Set(start.Add(2*time.Minute + 60*time.Minute))
		e.check()
		if got := join(e.box.take()); got != "carol@example.org reminder "+inc.Number+" status update overdue" {
			t.Fatalf("overdue update: %s", got)
		}
		e.clk.Advance(30 * time.Minute)
		if e.check(); len(e.box.take()) != 0 {
			t.Fatal("reminded twice within one interval")
		}
		e.clk.Set(start.Add(193 * time.Minute)) // 80% of contain's 240 minutes
		e.check()
		got := join(e.box.take())
		if !strings.Contains(got, "carol@example.org reminder "+inc.Number+" SLA at risk: contain") ||
			!strings.Contains(got, "status update overdue") {
			t.Fatalf("at risk, and a second reminder: %s", got)
		}
		e.clk.Set(start.Add(241 * time.Minute))
		e.check()
		got = join(e.box.take())
		if !strings.Contains(got, "carol@example.org reminder "+inc.Number+" SLA missed: contain") ||
			!strings.Contains(got, "olga@example.org reminder "+inc.Number+" SLA missed: contain") {
			t.Fatalf("missed goes to the officers too: %s", got)
		}
		st, err := e.svc.SLA(exec, inc.Number)
		if err != nil {
			t.Fatal(err)
		}
		states := map[string]string{}
		for _, tg := range st.Targets {
			states[tg.Name] = tg.State
		}
		if states["acknowledge"] != "none" || states["first_update"] != "met" || states["contain"] != "missed" ||
			states["resolve"] != "pending" || !st.UpdateOverdue {
			t.Fatalf("SLA status: %+v", st)
		}
		if _, err := e.incs.Transition(e.admin, inc.Number, incident.Move{To: incident.Closed, Resolution: incident.FalsePositive, Note: "x"}); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(24 * time.Hour)
		if n := e.check(); n != 0 {
			t.Fatalf("a closed incident is not chased: %d %v", n, e.box.take())
		}
		tl, err := e.incs.Timeline(e.admin, inc.Number, incident.EventSLA, 0, 100)
		if err != nil || len(tl) != 4 {
			t.Fatalf("SLA timeline entries: %d %v", len(tl), err)
		}
	})
}

// TestStatusUpdatePHICheck: an update holding a canary (a made-up name
// and SSN) is refused with the field and the kind of pattern, never the
// value, and nothing is written or sent; only the Privacy Officer may post
// it over the check, which is audited, goes on the timeline and leaves
// the update marked as not PHI-checked.
func TestStatusUpdatePHICheck(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		carol := e.person("carol", authz.RoleResponder)
		pat := e.person("pat", authz.RolePrivacyOfficer)
		e.person("exec", authz.RoleStakeholder)
		if _, err := e.svc.CreateGroup(e.admin, stakeholder.GroupInput{Name: "executives", ByRule: true, Members: []string{"exec"}}); err != nil {
			t.Fatal(err)
		}
		inc, err := e.incs.Create(e.admin, incident.CreateInput{Title: "Laptop stolen", Severity: incident.Sev2})
		if err != nil {
			t.Fatal(err)
		}
		count := func(q string) int {
			t.Helper()
			var n int
			if err := d.R.QueryRowContext(context.Background(), q).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		audits := count(`SELECT count(*) FROM audit_log`)
		const canary = "Ward Canaryperson, SSN 078-05-1120, was on the laptop."
		_, err = e.svc.PostUpdate(carol, inc.Number, stakeholder.UpdateInput{Body: canary})
		ae, ok := apperr.As(err)
		if !ok || ae.Code != apperr.Invalid || len(ae.Fields) != 1 || ae.Fields[0].Field != "body" ||
			!strings.Contains(ae.Fields[0].Message, "a Social Security number") {
			t.Fatalf("an update with an SSN: %v, want 422 on body naming the pattern", err)
		}
		if strings.Contains(err.Error(), "078") || strings.Contains(err.Error(), "Canaryperson") {
			t.Fatalf("the refusal repeats the text: %v", err)
		}
		e.tick()
		if n := count(`SELECT count(*) FROM status_updates`); n != 0 || len(e.box.take()) != 0 || count(`SELECT count(*) FROM audit_log`) != audits {
			t.Fatalf("a refused update left %d rows, or sent or audited something", n)
		}
		if _, err := e.svc.PostUpdate(carol, inc.Number, stakeholder.UpdateInput{Body: canary, PHIOverride: true}); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("a responder overriding the check: %v, want forbidden", err)
		}
		if _, err := e.svc.PostUpdate(e.admin, inc.Number, stakeholder.UpdateInput{Body: "Contained.", PHIOverride: true}); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("an administrator overriding the check: %v, want forbidden", err)
		}

		e.clk.Advance(time.Minute)
		u, err := e.svc.PostUpdate(pat, inc.Number, stakeholder.UpdateInput{Body: "MRN: 12345678 belongs to the test patient record.", PHIOverride: true})
		if err != nil || u.PHIChecked {
			t.Fatalf("the Privacy Officer overriding: %+v %v", u, err)
		}
		e.tick()
		if got := join(e.box.take()); got != "exec@example.org status_update "+inc.Number+" new status update" {
			t.Fatalf("the overridden update is announced without its text: %s", got)
		}
		if n := count(`SELECT count(*) FROM audit_log WHERE action = 'status_update.post' AND actor = 'user:pat'`); n != 1 {
			t.Fatalf("the override's audit entries: %d", n)
		}
		tl, err := e.incs.Timeline(e.admin, inc.Number, incident.EventStatusUpdate, 0, 10)
		if err != nil || len(tl) != 1 || !strings.Contains(tl[0].Note, "over the PHI check (a medical record number)") {
			t.Fatalf("the override on the timeline: %+v %v", tl, err)
		}
		e.clk.Advance(time.Minute)
		if u, err := e.svc.PostUpdate(carol, inc.Number, stakeholder.UpdateInput{Body: "Laptop was encrypted; no PHI readable."}); err != nil || !u.PHIChecked {
			t.Fatalf("a clean update: %+v %v", u, err)
		}
		ups, err := e.svc.Updates(carol, inc.Number)
		if err != nil || len(ups) != 2 || !ups[0].PHIChecked || ups[1].PHIChecked {
			t.Fatalf("the updates' PHI check: %+v %v", ups, err)
		}
	})
}

// TestCadenceUntilNoticesMet: a closed incident whose breach case still
// owes notices keeps its status-update cadence until they are met.
func TestCadenceUntilNoticesMet(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		carol := e.person("carol", authz.RoleResponder)
		cases, err := breach.New(d, e.clk, e.incs, dbtest.Keyring(t, d, start), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		inc, err := e.incs.Create(e.admin, incident.CreateInput{Title: "Lost backup tape", Severity: incident.Sev2, Commander: "carol"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cases.Open(e.admin, inc.Number); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.PostUpdate(carol, inc.Number, stakeholder.UpdateInput{Body: "Tape located? Searching the courier's depot."}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.incs.Transition(e.admin, inc.Number, incident.Move{To: incident.Closed, Resolution: incident.FalsePositive, Note: "x"}); err != nil {
			t.Fatal(err)
		}
		e.tick()
		e.box.take()
		e.clk.Advance(241 * time.Minute) // sev2: an update every 240 minutes
		e.check()
		if got := join(e.box.take()); got != "carol@example.org reminder "+inc.Number+" status update overdue" {
			t.Fatalf("a closed incident that owes notices is still chased: %q", got)
		}
		obs, err := cases.Obligations(e.admin, inc.Number)
		if err != nil || len(obs) == 0 {
			t.Fatalf("obligations: %+v %v", obs, err)
		}
		for _, o := range obs {
			if _, err := cases.MarkMet(e.admin, inc.Number, breach.Met{Key: o.Key, Reason: "notice made, see the vendor receipt"}); err != nil {
				t.Fatal(err)
			}
		}
		e.clk.Advance(24 * time.Hour)
		if n := e.check(); n != 0 {
			t.Fatalf("every notice met: nothing more is said, got %d: %v", n, e.box.take())
		}
	})
}

// TestSLAPolicy validates and authorises changes.
func TestSLAPolicy(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ps, err := e.svc.SLAPolicies(e.admin)
		if err != nil || len(ps) != 4 || ps[0].Severity != "sev1" || ps[0].AckMinutes != 5 {
			t.Fatalf("defaults: %+v %v", ps, err)
		}
		p := ps[0]
		p.AckMinutes = -1
		if _, err := e.svc.SetSLAPolicy(e.admin, p); !strings.Contains(fmtErr(err), "ack_minutes") {
			t.Fatalf("negative: %v", err)
		}
		p.AckMinutes = 10
		responder := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, ID: "r", Name: "r", Role: authz.RoleResponder})
		if _, err := e.svc.SetSLAPolicy(responder, p); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("responder: %v", err)
		}
		got, err := e.svc.SetSLAPolicy(e.admin, p)
		if err != nil || got.AckMinutes != 10 || got.Version != 2 {
			t.Fatalf("set: %+v %v", got, err)
		}
	})
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
