package rules_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/rules"
)

// TestTimedRule: a rule "not contained 4 h after detection" acts once
// its delay has passed on the fake clock, not before, not when the
// incident changes, once only, and not again from a new engine (a
// restart); an incident contained in time is never acted on.
func TestTimedRule(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		r, err := e.eng.Create(e.ctx, rules.Input{Name: "not contained", Enabled: true, After: 4 * time.Hour, From: rules.FromDetected,
			Expression: `incident.status != "containment"`, Actions: []rules.Action{{Type: "set_severity", Severity: "sev1"}}})
		if err != nil {
			t.Fatal(err)
		}
		if r.After != 4*time.Hour || r.From != "detected" {
			t.Fatalf("saved: %s %q", r.After, r.From)
		}
		slow, err := e.incs.Create(e.ctx, incident.CreateInput{Title: "slow", Severity: incident.Sev3})
		if err != nil {
			t.Fatal(err)
		}
		fast, err := e.incs.Create(e.ctx, incident.CreateInput{Title: "fast", Severity: incident.Sev3})
		if err != nil {
			t.Fatal(err)
		}
		sev := func(number string) incident.Severity {
			got, err := e.incs.Get(e.ctx, number)
			if err != nil {
				t.Fatal(err)
			}
			return got.Severity
		}
		if sev(slow.Number) != incident.Sev3 {
			t.Fatal("a timed rule acted when the incident was recorded")
		}
		for _, to := range []incident.Status{incident.Analysis, incident.Containment} {
			if _, err := e.incs.Transition(e.ctx, fast.Number, incident.Move{To: to}); err != nil {
				t.Fatal(err)
			}
		}
		e.clk.Advance(4*time.Hour - time.Minute)
		if err := e.eng.RunTimers(context.Background()); err != nil {
			t.Fatal(err)
		}
		if sev(slow.Number) != incident.Sev3 {
			t.Fatal("acted before its delay")
		}
		e.clk.Advance(time.Minute)
		if err := e.eng.RunTimers(context.Background()); err != nil {
			t.Fatal(err)
		}
		if sev(slow.Number) != incident.Sev1 || sev(fast.Number) != incident.Sev3 {
			t.Fatalf("after the delay: slow %s, fast %s", sev(slow.Number), sev(fast.Number))
		}
		// Lowered by a person, it stays lowered: the rule acted once.
		s3 := incident.Sev3
		if _, err := e.incs.Update(e.ctx, slow.Number, incident.UpdateInput{Severity: &s3}); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(time.Hour)
		if err := e.eng.RunTimers(context.Background()); err != nil {
			t.Fatal(err)
		}
		// A restart: a new engine on the same database.
		again, err := rules.New(d, e.clk, e.incs, e.pager, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if err := again.RunTimers(context.Background()); err != nil {
			t.Fatal(err)
		}
		if sev(slow.Number) != incident.Sev3 {
			t.Fatal("the timed rule acted twice")
		}
		tl, err := e.incs.Timeline(e.ctx, slow.Number, incident.EventRule, 0, 10)
		if err != nil || len(tl) != 1 || !strings.Contains(tl[0].Note, "Rule not contained matched, 4h or more after the incident was detected") {
			t.Fatalf("timeline: %+v %v", tl, err)
		}
		var n int
		if err := d.R.QueryRowContext(context.Background(), `SELECT count(*) FROM audit_log WHERE object_id = $1 AND action = 'incident.rule'`,
			slow.ID).Scan(&n); err != nil || n != 1 {
			t.Fatalf("audited %d times: %v", n, err)
		}
	})
}

// TestTimedRuleReachesEveryIncident: incidents due for a timed rule that
// never match (more of them than one run checks) do not keep the rule
// from a newer incident that does: the runs go on past them.
func TestTimedRuleReachesEveryIncident(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		if _, err := e.eng.Create(e.ctx, rules.Input{Name: "critical for an hour", Enabled: true, After: time.Hour, From: rules.FromCreated,
			Expression: `incident.severity == "sev2"`, Actions: []rules.Action{{Type: "set_severity", Severity: "sev1"}}}); err != nil {
			t.Fatal(err)
		}
		for range 230 {
			if _, err := e.incs.Create(e.ctx, incident.CreateInput{Title: "quiet", Severity: incident.Sev4}); err != nil {
				t.Fatal(err)
			}
		}
		e.clk.Advance(time.Minute)
		loud, err := e.incs.Create(e.ctx, incident.CreateInput{Title: "loud", Severity: incident.Sev2})
		if err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(2 * time.Hour)
		for range 3 {
			if err := e.eng.RunTimers(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
		got, err := e.incs.Get(e.ctx, loud.Number)
		if err != nil {
			t.Fatal(err)
		}
		if got.Severity != incident.Sev1 {
			t.Fatalf("after three runs the newer incident is %s, want sev1: 230 older incidents that never match kept the rule from it", got.Severity)
		}
	})
}

// TestTimedRuleValidation: after and from are checked, naming the field.
func TestTimedRuleValidation(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		task := []rules.Action{{Type: "add_task", Title: "t"}}
		for _, c := range []struct {
			in   rules.Input
			want string
		}{
			{rules.Input{Name: "r", Expression: "true", Actions: task, After: time.Second}, "after: must be between"},
			{rules.Input{Name: "r", Expression: "true", Actions: task, After: 91 * 24 * time.Hour}, "after: must be between"},
			{rules.Input{Name: "r", Expression: "true", Actions: task, After: time.Hour, From: "resolved"}, "from: "},
			{rules.Input{Name: "r", Expression: "true", Actions: task, From: "created"}, "from: is only for a timed rule"},
		} {
			if _, err := e.eng.Create(e.ctx, c.in); !strings.HasPrefix(field(err), c.want) {
				t.Errorf("%+v: %v, want %q", c.in, field(err), c.want)
			}
		}
		if _, err := rules.ParseAfter("soon"); !strings.HasPrefix(field(err), "after: ") {
			t.Errorf("ParseAfter: %v", err)
		}
		for in, want := range map[time.Duration]string{4 * time.Hour: "4h", 90 * time.Minute: "1h30m", 45 * time.Minute: "45m"} {
			if got := rules.FormatAfter(in); got != want {
				t.Errorf("FormatAfter(%s) = %q", in, got)
			}
		}
	})
}
