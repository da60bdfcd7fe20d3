package rules_test

import (
	"bytes"
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/notify"
	"github.com/wardhq/ward/internal/paging"
	"github.com/wardhq/ward/internal/rules"
	"github.com/wardhq/ward/internal/stakeholder"
)

var start = time.Date(2026, 11, 4, 10, 0, 0, 0, time.UTC)

type outbox struct {
	mu   sync.Mutex
	sent []notify.Message
	code string
}

func (o *outbox) Send(_ context.Context, _ paging.Destination, m notify.Message) (notify.Receipt, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if m.Kind == notify.KindVerify {
		o.code = m.Code
	} else {
		o.sent = append(o.sent, m)
	}
	return notify.Receipt{}, nil
}

type env struct {
	t      *testing.T
	d      *db.DB
	incs   *incident.Service
	in     *alert.Intake
	pager  *paging.Pager
	groups *stakeholder.Service
	eng    *rules.Engine
	cases  *breach.Service
	box    *outbox
	logs   *logBuffer
	ctx    context.Context
	clk    *clock.Fake
	kr     *keys.Keyring
}

// logBuffer keeps what the engine logs.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func newEnv(t *testing.T, d *db.DB) *env {
	clk := clock.NewFake(start)
	kr := dbtest.Keyring(t, d, start)
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	incs := incident.NewService(d, clk, kr)
	box := &outbox{}
	pager := paging.New(d, clk, kr, incs, box, log, paging.Options{BaseURL: "https://ward.test"})
	eng, err := rules.New(d, clk, incs, pager, log)
	if err != nil {
		t.Fatal(err)
	}
	cases, err := breach.New(d, clk, incs, kr, log)
	if err != nil {
		t.Fatal(err)
	}
	eng.OpenCasesWith(cases)
	in := alert.NewIntake(d, clk, kr, incs)
	in.SetPager(pager)
	in.SetWatcher(eng)
	in.SetOrchestrator(eng)
	incs.WatchWith(eng)
	return &env{t: t, d: d, incs: incs, in: in, pager: pager, cases: cases, groups: stakeholder.New(d, clk, kr, incs, pager, log), eng: eng, box: box, logs: logs, clk: clk, kr: kr,
		ctx: authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, ID: "t", Name: "admin", Role: authz.RoleAdmin})}
}

func field(err error) string {
	if e, ok := apperr.As(err); ok && len(e.Fields) > 0 {
		return e.Fields[0].Field + ": " + e.Fields[0].Message
	}
	if err != nil {
		return err.Error()
	}
	return ""
}

// TestRuleValidation: expressions are parsed and type-checked when saved.
func TestRuleValidation(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		task := []rules.Action{{Type: "add_task", Title: "t"}}
		for _, c := range []struct {
			in   rules.Input
			want string
		}{
			{rules.Input{Name: "r", Expression: `incident.severity == `, Actions: task}, "expression: "},
			{rules.Input{Name: "r", Expression: `incident.severity`, Actions: task}, "must be true or false"},
			{rules.Input{Name: "r", Expression: `incident.title == "x"`, Actions: task}, "expression: "},
			{rules.Input{Name: "r", Expression: `incident.alerts == "3"`, Actions: task}, "expression: "},
			{rules.Input{Name: "r", Expression: `true`}, "actions: must have 1"},
			{rules.Input{Name: "r", Expression: `true`, Actions: []rules.Action{{Type: "set_severity", Severity: "p1"}}}, "actions[0].severity"},
			{rules.Input{Name: "r", Expression: `true`, Actions: []rules.Action{{Type: "notify_group", Group: "nobody"}}}, "actions[0].group"},
			{rules.Input{Name: "r", Expression: `true`, Actions: []rules.Action{{Type: "open_case"}}}, "actions[0].type"},
			{rules.Input{Expression: `true`, Actions: task}, "name: is required"},
		} {
			if _, err := e.eng.Create(e.ctx, c.in); !strings.Contains(field(err), c.want) {
				t.Errorf("%q: %v, want %q", c.in.Expression, err, c.want)
			}
		}
		responder := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, ID: "r", Name: "r", Role: authz.RoleResponder})
		if _, err := e.eng.Create(responder, rules.Input{Name: "r", Expression: "true", Actions: task}); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("a responder: %v", err)
		}
		r, err := e.eng.DryRun(e.ctx, `incident.phi_suspected && "ehr" in incident.services`, "", rules.Subject{PHISuspected: true, Services: []string{"ehr"}})
		if err != nil || !r.Matched {
			t.Fatalf("dry run: %+v %v", r, err)
		}
		if r, err := e.eng.DryRun(e.ctx, `incident.severity == "sev1"`, "", rules.Subject{Severity: "sev2"}); err != nil || r.Matched {
			t.Fatalf("dry run, no match: %+v %v", r, err)
		}
	})
}

// TestRulesAct: a matching rule raises the severity, adds a task and
// notifies a group, once; an expensive rule is stopped by its cost limit
// without blocking the change; rules on services see the alerts.
func TestRulesAct(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		if _, err := d.W.ExecContext(context.Background(), `INSERT INTO users (id, username, display_name, email, role, password_hash,
			disabled, created_at, updated_at) VALUES ('u-pat', 'pat', 'Pat', 'pat@example.org', 'privacy_officer', 'x', false, $1, $1)`, start); err != nil {
			t.Fatal(err)
		}
		c, _, err := e.pager.CreateContact(e.ctx, "pat", paging.ContactInput{Kind: paging.ContactEmail, Address: "pat@example.org"})
		if err != nil {
			t.Fatal(err)
		}
		if err := e.pager.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
		if _, err := e.pager.VerifyContact(e.ctx, c.ID, e.box.code); err != nil {
			t.Fatal(err)
		}
		if _, err := e.groups.CreateGroup(e.ctx, stakeholder.GroupInput{Name: "privacy", Members: []string{"pat"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.eng.Create(e.ctx, rules.Input{Name: "phi escalates", Enabled: true,
			Expression: `incident.phi_suspected && incident.severity != "sev1"`,
			Actions: []rules.Action{{Type: "set_severity", Severity: "sev1"}, {Type: "add_task", Title: "Start the breach risk assessment"},
				{Type: "notify_group", Group: "privacy"}, {Type: "start_breach_case"}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.eng.Create(e.ctx, rules.Input{Name: "runaway", Enabled: true,
			Expression: `incident.customers.exists(a, incident.customers.exists(b, incident.customers.exists(c, a + b + c == "never")))`,
			Actions:    []rules.Action{{Type: "add_task", Title: "should not happen"}}}); err != nil {
			t.Fatal(err)
		}
		customers := make([]string, 50)
		for i := range customers {
			customers[i] = "customer-" + strconv.Itoa(i)
		}
		inc, err := e.incs.Create(e.ctx, incident.CreateInput{Title: "Misdirected fax", Severity: incident.Sev3, PHISuspected: true,
			Customers: customers})
		if err != nil {
			t.Fatalf("the runaway rule must not block the change: %v", err)
		}
		if logs := e.logs.String(); !strings.Contains(logs, "rule_failed") || !strings.Contains(logs, "cost limit") {
			t.Fatalf("the runaway rule was not stopped by its cost limit: %s", logs)
		}
		got, err := e.incs.Get(e.ctx, inc.Number)
		if err != nil || got.Severity != incident.Sev1 {
			t.Fatalf("severity after the rule: %+v %v", got.Severity, err)
		}
		if c, err := e.cases.Get(e.ctx, inc.Number); err != nil || c.Outcome != "pending" {
			t.Fatalf("the rule's breach case: %+v %v", c, err)
		}
		tasks, err := e.incs.Tasks(e.ctx, inc.Number)
		if err != nil || len(tasks) != 1 || tasks[0].Title != "Start the breach risk assessment" {
			t.Fatalf("tasks: %+v %v", tasks, err)
		}
		if err := e.pager.Tick(context.Background()); err != nil {
			t.Fatal(err)
		}
		e.box.mu.Lock()
		sent := e.box.sent
		e.box.mu.Unlock()
		if len(sent) != 1 || sent[0].Incident != inc.Number || sent[0].Status != "rule: phi escalates" {
			t.Fatalf("the group was not told: %+v", sent)
		}
		// Changing the incident again does not fire the rule again.
		sev := incident.Sev2
		if _, err := e.incs.Update(e.ctx, inc.Number, incident.UpdateInput{Severity: &sev}); err != nil {
			t.Fatal(err)
		}
		if got, _ := e.incs.Get(e.ctx, inc.Number); got.Severity != incident.Sev2 {
			t.Fatalf("the rule fired twice: %s", got.Severity)
		}
		tl, err := e.incs.Timeline(e.ctx, inc.Number, incident.EventRule, 0, 10)
		if err != nil || len(tl) != 1 || !strings.Contains(tl[0].Note, "set the severity to sev1; added the task") {
			t.Fatalf("rule timeline: %+v %v", tl, err)
		}

		// A rule on services sees the alerts once they are recorded.
		if _, err := e.eng.Create(e.ctx, rules.Input{Name: "payments storm", Enabled: true,
			Expression: `"payments" in incident.services && incident.alerts >= 2`,
			Actions:    []rules.Action{{Type: "add_task", Title: "Page the payments lead"}}}); err != nil {
			t.Fatal(err)
		}
		svc, err := e.in.CreateService(e.ctx, alert.ServiceInput{Name: "payments", GroupBy: alert.GroupByService})
		if err != nil {
			t.Fatal(err)
		}
		_, key, err := e.in.CreateIntegration(e.ctx, svc.ID, alert.IntegrationInput{Kind: alert.KindEventsV2, Name: "m"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ig, _ := e.in.Authenticate(e.ctx, key)
		ev := func(k string) alert.Event {
			return alert.Event{Action: alert.Trigger, DedupKey: k, Summary: "latency", Source: "api", Severity: alert.Warning}
		}
		r1, err := e.in.Ingest(context.Background(), ig, []alert.Event{ev("a")})
		if err != nil {
			t.Fatal(err)
		}
		if ts, _ := e.incs.Tasks(e.ctx, r1.Opened[0]); len(ts) != 0 {
			t.Fatalf("fired on one alert: %+v", ts)
		}
		if _, err := e.in.Ingest(context.Background(), ig, []alert.Event{ev("b")}); err != nil {
			t.Fatal(err)
		}
		if ts, _ := e.incs.Tasks(e.ctx, r1.Opened[0]); len(ts) != 1 || ts[0].Title != "Page the payments lead" {
			t.Fatalf("the second alert: %+v", ts)
		}
		dry, err := e.eng.DryRun(e.ctx, `"payments" in incident.services && incident.alerts >= 2`, r1.Opened[0], rules.Subject{})
		if err != nil || !dry.Matched || dry.Subject.Alerts != 2 {
			t.Fatalf("dry run on the incident: %+v %v", dry, err)
		}
	})
}
