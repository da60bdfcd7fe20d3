package rules_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/notify"
	"github.com/wardhq/ward/internal/outbound"
	"github.com/wardhq/ward/internal/paging"
	"github.com/wardhq/ward/internal/playbook"
	"github.com/wardhq/ward/internal/rules"
)

// receiver is a webhook receiver on 127.0.0.1: it answers 503 to the
// first fail requests, then 204, and keeps what it was sent.
type receiver struct {
	mu     sync.Mutex
	fail   int
	bodies [][]byte
	heads  []http.Header
	srv    *httptest.Server
}

func newReceiver(t *testing.T, fail int) *receiver {
	rc := &receiver{fail: fail}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		defer rc.mu.Unlock()
		if rc.fail > 0 {
			rc.fail--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		rc.bodies, rc.heads = append(rc.bodies, body), append(rc.heads, r.Header.Clone())
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) got() ([][]byte, []http.Header) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.bodies, rc.heads
}

// withPlaybooksAndHooks wires the apply_playbook and call_webhook actions,
// the guard allowing loopback (the test's receiver).
func withPlaybooksAndHooks(t *testing.T, e *env) *playbook.Service {
	pb, err := playbook.New(e.d, e.clk, e.kr, e.incs)
	if err != nil {
		t.Fatal(err)
	}
	e.eng.ApplyPlaybooksWith(pb)
	e.eng.CallWebhooksWith(rules.WebhookOptions{Keys: e.kr, BaseURL: "https://ward.test", MaxAttempts: 3,
		Outbound: outbound.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, nil)})
	return pb
}

// addUser adds an active user with a verified email contact method.
func addUser(t *testing.T, e *env, id, username string) {
	t.Helper()
	if _, err := e.d.W.ExecContext(context.Background(), `INSERT INTO users (id, username, display_name, email, role, password_hash,
		disabled, created_at, updated_at) VALUES ($1, $2, $2, $3, 'responder', 'x', false, $4, $4)`, id, username,
		username+"@example.org", start); err != nil {
		t.Fatal(err)
	}
	c, _, err := e.pager.CreateContact(e.ctx, username, paging.ContactInput{Kind: paging.ContactEmail, Address: username + "@example.org"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.pager.Tick(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := e.pager.VerifyContact(e.ctx, c.ID, e.box.code); err != nil {
		t.Fatal(err)
	}
}

// TestMoreActions: one rule sets the category and the commander, applies
// a playbook, pages an escalation policy and calls a signed webhook whose
// payload holds no PHI; the call that failed is tried again, and the
// secret is shown once.
func TestMoreActions(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		pb := withPlaybooksAndHooks(t, e)
		addUser(t, e, "u-casey", "casey")
		pol, err := e.pager.CreatePolicy(e.ctx, paging.PolicyInput{Name: "privacy on call",
			Steps: []paging.Step{{DelayMinutes: 10, Targets: []paging.Target{{Type: paging.TargetUser, ID: "u-casey"}}}}})
		if err != nil {
			t.Fatal(err)
		}
		// An incident declared by hand pages under a service that uses the
		// policy.
		if _, err := e.in.CreateService(e.ctx, alert.ServiceInput{Name: "fax gateway", EscalationPolicy: pol.ID}); err != nil {
			t.Fatal(err)
		}
		rc := newReceiver(t, 1)
		r, err := e.eng.Create(e.ctx, rules.Input{Name: "fax sent astray", Enabled: true, Expression: `incident.phi_suspected`,
			Actions: []rules.Action{{Type: "set_category", Category: "unauthorized_access_disclosure"},
				{Type: "set_commander", Commander: "casey"}, {Type: "apply_playbook", Playbook: "misdirected"},
				{Type: "page_policy", Policy: "privacy on call"}, {Type: "call_webhook", URL: rc.srv.URL + "/ward"}}})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Secret) != 64 || r.Actions[3].Policy != pol.ID {
			t.Fatalf("secret %q, policy %q", r.Secret, r.Actions[3].Policy)
		}
		if again, err := e.eng.Get(e.ctx, r.ID); err != nil || again.Secret != "" {
			t.Fatalf("the secret was shown again: %+v %v", again, err)
		}
		var sealed string
		if err := d.R.QueryRowContext(context.Background(), `SELECT webhook_secret FROM rules WHERE id = $1`, r.ID).Scan(&sealed); err != nil ||
			sealed == "" || strings.Contains(sealed, r.Secret) {
			t.Fatalf("the secret is not sealed at rest: %q %v", sealed, err)
		}
		// Saving the rule again keeps its secret, and does not show it.
		if r2, err := e.eng.Update(e.ctx, r.ID, rules.Input{Name: r.Name, Enabled: true, Expression: r.Expression, Actions: r.Actions}); err != nil || r2.Secret != "" {
			t.Fatalf("update: %q %v", r2.Secret, err)
		}

		inc, err := e.incs.Create(e.ctx, incident.CreateInput{Title: "Fax to the wrong clinic for Jane Roe", Severity: incident.Sev2,
			PHISuspected: true})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.incs.Get(e.ctx, inc.Number)
		if err != nil || got.Category != "unauthorized_access_disclosure" || got.Commander != "casey" {
			t.Fatalf("category and commander: %q %q %v", got.Category, got.Commander, err)
		}
		apps, err := pb.Applications(e.ctx, inc.Number)
		if err != nil || len(apps) != 1 || apps[0].Playbook.Key != "misdirected" {
			t.Fatalf("playbook: %+v %v", apps, err)
		}
		pg, err := e.pager.PageOf(e.ctx, inc.Number)
		if err != nil || pg.PolicyID != pol.ID || pg.Status != paging.PageTriggered {
			t.Fatalf("page: %+v %v", pg, err)
		}

		// The first call fails (503) and is tried again after the backoff.
		if err := e.eng.DeliverWebhooks(context.Background()); err != nil {
			t.Fatal(err)
		}
		if bodies, _ := rc.got(); len(bodies) != 0 {
			t.Fatalf("sent despite the 503: %s", bodies)
		}
		if err := e.eng.DeliverWebhooks(context.Background()); err != nil {
			t.Fatal(err)
		}
		if bodies, _ := rc.got(); len(bodies) != 0 {
			t.Fatal("tried again before its backoff")
		}
		e.clk.Advance(time.Minute)
		if err := e.eng.DeliverWebhooks(context.Background()); err != nil {
			t.Fatal(err)
		}
		bodies, heads := rc.got()
		if len(bodies) != 1 {
			t.Fatalf("calls: %d", len(bodies))
		}
		if err := notify.VerifySignature([]byte(r.Secret), heads[0].Get(notify.HeaderTimestamp), heads[0].Get(notify.HeaderSignature),
			bodies[0], e.clk.Now(), 5*time.Minute); err != nil {
			t.Fatalf("signature: %v", err)
		}
		var p rules.HookPayload
		if err := json.Unmarshal(bodies[0], &p); err != nil {
			t.Fatal(err)
		}
		if p.Incident != inc.Number || p.Rule != "fax sent astray" || p.Severity != "sev2" || p.URL != "https://ward.test/incidents/"+inc.Number {
			t.Fatalf("payload: %+v", p)
		}
		if strings.Contains(string(bodies[0]), "Jane") || strings.Contains(string(bodies[0]), "Fax") {
			t.Fatalf("the payload holds the title: %s", bodies[0])
		}
		// Sent once: nothing left to send.
		e.clk.Advance(time.Hour)
		if err := e.eng.DeliverWebhooks(context.Background()); err != nil {
			t.Fatal(err)
		}
		if bodies, _ := rc.got(); len(bodies) != 1 {
			t.Fatalf("sent again: %d", len(bodies))
		}
		tl, err := e.incs.Timeline(e.ctx, inc.Number, incident.EventRule, 0, 10)
		if err != nil || len(tl) != 2 {
			t.Fatalf("rule timeline: %+v %v", tl, err)
		}
		notes := tl[0].Note + " | " + tl[1].Note
		for _, want := range []string{"set the category to unauthorized_access_disclosure", "made casey the commander",
			"applied the playbook misdirected", "paged privacy on call", "queued a call to its webhook at 127.0.0.1", "called its webhook at 127.0.0.1"} {
			if !strings.Contains(notes, want) {
				t.Errorf("timeline lacks %q: %s", want, notes)
			}
		}
	})
}

// TestWebhookGivesUp: a receiver that keeps failing is tried MaxAttempts
// times, then given up on, on the timeline.
func TestWebhookGivesUp(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		withPlaybooksAndHooks(t, e)
		rc := newReceiver(t, 100)
		if _, err := e.eng.Create(e.ctx, rules.Input{Name: "hook", Enabled: true, Expression: `true`,
			Actions: []rules.Action{{Type: "call_webhook", URL: rc.srv.URL}}}); err != nil {
			t.Fatal(err)
		}
		inc, err := e.incs.Create(e.ctx, incident.CreateInput{Title: "x", Severity: incident.Sev3})
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if err := e.eng.DeliverWebhooks(context.Background()); err != nil {
				t.Fatal(err)
			}
			e.clk.Advance(time.Hour)
		}
		var status, last string
		var attempts int
		if err := d.R.QueryRowContext(context.Background(), `SELECT status, attempts, last_error FROM rule_webhook_deliveries`).Scan(&status,
			&attempts, &last); err != nil || status != "failed" || attempts != 3 || last != "HTTP 503" {
			t.Fatalf("delivery: %s %d %q %v", status, attempts, last, err)
		}
		tl, err := e.incs.Timeline(e.ctx, inc.Number, incident.EventRule, 0, 10)
		if err != nil || len(tl) != 2 || !strings.Contains(tl[0].Note+tl[1].Note, "FAILED to call the webhook of rule hook") {
			t.Fatalf("timeline: %+v %v", tl, err)
		}
	})
}

// TestActionValidation: bad actions are refused naming the field, and
// nothing is saved.
func TestActionValidation(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		task := rules.Action{Type: "add_task", Title: "t"}
		// Before webhooks are set up, call_webhook is refused.
		if _, err := e.eng.Create(e.ctx, rules.Input{Name: "r", Expression: "true",
			Actions: []rules.Action{{Type: "call_webhook", URL: "https://example.org/h"}}}); !strings.HasPrefix(field(err), "actions[0].type") {
			t.Errorf("webhooks not set up: %v", err)
		}
		withPlaybooksAndHooks(t, e)
		e.eng.CallWebhooksWith(rules.WebhookOptions{Keys: e.kr})
		for _, c := range []struct {
			a    rules.Action
			want string
		}{
			{rules.Action{Type: "set_category", Category: "arson"}, "actions[2].category"},
			{rules.Action{Type: "set_commander", Commander: "nobody"}, "actions[2].commander"},
			{rules.Action{Type: "apply_playbook", Playbook: "nope"}, "actions[2].playbook"},
			{rules.Action{Type: "page_policy", Policy: "nope"}, "actions[2].policy"},
			{rules.Action{Type: "call_webhook"}, "actions[2].url: is required"},
			{rules.Action{Type: "call_webhook", URL: "ftp://example.org/x"}, "actions[2].url: must be an https"},
			{rules.Action{Type: "call_webhook", URL: "https://10.1.2.3/x"}, "actions[2].url: points at a private"},
			{rules.Action{Type: "call_webhook", URL: "https://169.254.169.254/latest"}, "actions[2].url: points at a link-local"},
			{rules.Action{Type: "call_webhook", URL: "http://127.0.0.1:1/x"}, "actions[2].url: points at a loopback"},
		} {
			_, err := e.eng.Create(e.ctx, rules.Input{Name: "r", Expression: "true", Actions: []rules.Action{task, task, c.a}})
			if !strings.HasPrefix(field(err), c.want) {
				t.Errorf("%+v: %v, want %q", c.a, field(err), c.want)
			}
		}
		if rs, err := e.eng.List(e.ctx); err != nil || len(rs) != 0 {
			t.Fatalf("saved: %+v %v", rs, err)
		}
	})
}

// TestDrillRulesReachNobody: a rule matching a drill still sets its
// severity, but skips paging, its webhook and the breach case, and its
// timeline entry says so; the same rule pages, calls and opens for a real
// incident.
func TestDrillRulesReachNobody(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		withPlaybooksAndHooks(t, e)
		addUser(t, e, "u-casey", "casey")
		pol, err := e.pager.CreatePolicy(e.ctx, paging.PolicyInput{Name: "privacy on call",
			Steps: []paging.Step{{DelayMinutes: 10, Targets: []paging.Target{{Type: paging.TargetUser, ID: "u-casey"}}}}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.in.CreateService(e.ctx, alert.ServiceInput{Name: "fax gateway", EscalationPolicy: pol.ID}); err != nil {
			t.Fatal(err)
		}
		rc := newReceiver(t, 0)
		if _, err := e.eng.Create(e.ctx, rules.Input{Name: "every incident", Enabled: true, Expression: `true`,
			Actions: []rules.Action{{Type: "set_severity", Severity: "sev1"}, {Type: "page_policy", Policy: "privacy on call"},
				{Type: "call_webhook", URL: rc.srv.URL + "/ward"}, {Type: "start_breach_case"}}}); err != nil {
			t.Fatal(err)
		}
		drill, err := e.incs.Create(e.ctx, incident.CreateInput{Title: "Tabletop: fax astray", Drill: true})
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.incs.Get(e.ctx, drill.Number)
		if err != nil || got.Severity != incident.Sev1 {
			t.Fatalf("the drill's severity: %q %v", got.Severity, err)
		}
		if _, err := e.pager.PageOf(e.ctx, drill.Number); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("the drill was paged: %v", err)
		}
		if err := e.eng.DeliverWebhooks(context.Background()); err != nil {
			t.Fatal(err)
		}
		if bodies, _ := rc.got(); len(bodies) != 0 {
			t.Fatalf("the drill's webhook was called: %s", bodies)
		}
		var cases int
		if err := d.R.QueryRowContext(context.Background(), `SELECT count(*) FROM breach_cases WHERE incident_id = $1`, drill.ID).
			Scan(&cases); err != nil || cases != 0 {
			t.Fatalf("the drill has %d breach cases: %v", cases, err)
		}
		tl, err := e.incs.Timeline(e.ctx, drill.Number, incident.EventRule, 0, 10)
		if err != nil || len(tl) != 1 {
			t.Fatalf("rule timeline: %+v %v", tl, err)
		}
		for _, want := range []string{"set the severity to sev1", "skipped paging: the incident is a drill",
			"skipped calling its webhook: the incident is a drill", "skipped opening a breach case: the incident is a drill"} {
			if !strings.Contains(tl[0].Note, want) {
				t.Errorf("timeline lacks %q: %s", want, tl[0].Note)
			}
		}

		realInc, err := e.incs.Create(e.ctx, incident.CreateInput{Title: "Fax to the wrong clinic"})
		if err != nil {
			t.Fatal(err)
		}
		if pg, err := e.pager.PageOf(e.ctx, realInc.Number); err != nil || pg.PolicyID != pol.ID {
			t.Fatalf("the real incident's page: %+v %v", pg, err)
		}
		if err := d.R.QueryRowContext(context.Background(), `SELECT count(*) FROM breach_cases WHERE incident_id = $1`, realInc.ID).
			Scan(&cases); err != nil || cases != 1 {
			t.Fatalf("the real incident has %d breach cases: %v", cases, err)
		}
	})
}
