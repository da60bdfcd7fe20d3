package rules_test

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/rules"
	"github.com/wardhq/ward/internal/testwait"
)

func (e *env) alertService(name string) (alert.Service, alert.Integration) {
	e.t.Helper()
	svc, err := e.in.CreateService(e.ctx, alert.ServiceInput{Name: name})
	if err != nil {
		e.t.Fatal(err)
	}
	ig, _, err := e.in.CreateIntegration(e.ctx, svc.ID, alert.IntegrationInput{Kind: alert.KindEventsV2, Name: name + " monitor"}, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return svc, ig
}

func trigger(key, summary, source string, sev alert.Severity) alert.Event {
	return alert.Event{Action: alert.Trigger, DedupKey: key, Summary: summary, Source: source, Severity: sev}
}

// alertOf returns the alert with dedup key key.
func (e *env) alertOf(key string) alert.Alert {
	e.t.Helper()
	as, err := e.in.Alerts(e.ctx, alert.Filter{Limit: 200})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, a := range as {
		if a.DedupKey == key {
			return a
		}
	}
	e.t.Fatalf("no alert %q", key)
	return alert.Alert{}
}

// TestAlertRuleValidation: an alert rule is checked when saved, and a bad
// one is refused naming the field.
func TestAlertRuleValidation(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.alertService("storage")
		sup := []rules.AlertAction{{Type: "suppress"}}
		for _, c := range []struct {
			in   rules.AlertRuleInput
			want string
		}{
			{rules.AlertRuleInput{Name: "", Expression: "true", Actions: sup}, "name"},
			{rules.AlertRuleInput{Name: "x", Expression: `alert.title == "x"`, Actions: sup}, "expression"},
			{rules.AlertRuleInput{Name: "x", Expression: `alert.summary`, Actions: sup}, "expression"},
			{rules.AlertRuleInput{Name: "x", Expression: "true"}, "actions"},
			{rules.AlertRuleInput{Name: "x", Expression: "true", Actions: []rules.AlertAction{{Type: "page"}}}, "actions[0].type"},
			{rules.AlertRuleInput{Name: "x", Expression: "true", Actions: []rules.AlertAction{{Type: "suppress"}, {Type: "route", Service: "nowhere"}}},
				"actions[1].service"},
			{rules.AlertRuleInput{Name: "x", Expression: "true", Actions: []rules.AlertAction{{Type: "set_severity", Severity: "sev1"}}},
				"actions[0].severity"},
			{rules.AlertRuleInput{Name: "x", Expression: "true", Actions: []rules.AlertAction{{Type: "add_tags"}}}, "actions[0].tags"},
			{rules.AlertRuleInput{Name: "x", Expression: "true", Actions: []rules.AlertAction{{Type: "add_tags", Tags: []string{"a\nb"}}}},
				"actions[0].tags[0]"},
			{rules.AlertRuleInput{Name: "x", Expression: "true", Actions: []rules.AlertAction{{Type: "suppress"}, {Type: "route", Service: "storage"}}},
				"actions"},
		} {
			_, err := e.eng.CreateAlertRule(e.ctx, c.in)
			if got := field(err); !strings.HasPrefix(got, c.want+":") {
				t.Errorf("%+v: got %q, want the field %s", c.in, got, c.want)
			}
		}
		if rs, err := e.eng.ListAlertRules(e.ctx); err != nil || len(rs) != 0 {
			t.Fatalf("a refused rule was saved: %v %v", rs, err)
		}
	})
}

// TestAlertRulesAct: alert rules route, suppress, set the severity of and
// tag alerts as they arrive, on labels as on fields; a suppressed alert is
// recorded with the rule named, opens no incident and pages nobody, and
// opens its incident once no rule suppresses it.
func TestAlertRulesAct(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		_, web := e.alertService("web")
		storage, _ := e.alertService("storage")
		ingest := func(ig alert.Integration, evs ...alert.Event) alert.Result {
			t.Helper()
			r, err := e.in.Ingest(e.ctx, ig, evs)
			if err != nil {
				t.Fatal(err)
			}
			return r
		}
		// With no alert rule, alerts go as before.
		if r := ingest(web, trigger("k0", "web down", "lb-1", alert.Error)); r.New != 1 || len(r.Opened) != 1 {
			t.Fatalf("%+v", r)
		}
		for _, in := range []rules.AlertRuleInput{
			{Name: "disks to storage", Expression: `alert.summary.contains("disk full")`,
				Actions: []rules.AlertAction{{Type: "route", Service: "storage"}, {Type: "add_tags", Tags: []string{"routed", "disk"}}}},
			{Name: "quiet the batch host", Expression: `alert.source == "batch-7" || alert.labels["env"] == "staging"`,
				Actions: []rules.AlertAction{{Type: "suppress"}}},
			{Name: "warnings are info", Expression: `alert.severity == "warning" && alert.service == "web"`,
				Actions: []rules.AlertAction{{Type: "set_severity", Severity: "info"}, {Type: "add_tags", Tags: []string{"demoted"}}}},
		} {
			in.Enabled = true
			if _, err := e.eng.CreateAlertRule(e.ctx, in); err != nil {
				t.Fatal(err)
			}
		}
		r := ingest(web, trigger("k1", "disk full on /var for patient Jane Roe", "db-2", alert.Critical),
			trigger("k2", "cron failed", "batch-7", alert.Error), trigger("k3", "slow", "lb-1", alert.Warning),
			alert.Event{Action: alert.Trigger, DedupKey: "k4", Summary: "probe", Source: "lb-9", Severity: alert.Error,
				Labels: map[string]string{"env": "staging"}})
		if r.New != 4 || r.Routed != 1 || r.SuppressedByRules != 2 || len(r.Opened) != 2 || len(r.DedupKeys) != 4 {
			t.Fatalf("%+v", r)
		}
		routed := e.alertOf("k1")
		if routed.ServiceID != storage.ID || routed.IncidentID == "" || !slices.Equal(routed.Tags, []string{"routed", "disk"}) {
			t.Fatalf("routed: %+v", routed)
		}
		for _, k := range []string{"k2", "k4"} {
			a := e.alertOf(k)
			if !a.Suppressed || a.IncidentID != "" || a.SuppressedByName != "quiet the batch host" {
				t.Fatalf("suppressed %s: %+v", k, a)
			}
		}
		demoted := e.alertOf("k3")
		if demoted.Severity != alert.Info || !slices.Equal(demoted.Tags, []string{"demoted"}) {
			t.Fatalf("demoted: %+v", demoted)
		}
		inc, err := e.incs.Get(e.ctx, demoted.IncidentNumber)
		if err != nil || inc.Severity != incident.Sev4 {
			t.Fatalf("the incident of the demoted alert: %v %v", inc.Severity, err)
		}
		// The suppressed alert fires again: counted, still no incident.
		if r := ingest(web, trigger("k2", "cron failed", "batch-7", alert.Error)); r.Deduplicated != 1 || len(r.Opened) != 0 {
			t.Fatalf("%+v", r)
		}
		// The rule disabled, its next trigger opens its incident.
		rs, err := e.eng.ListAlertRules(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range rs {
			if x.Name == "quiet the batch host" {
				if _, err := e.eng.UpdateAlertRule(e.ctx, x.ID, rules.AlertRuleInput{Name: x.Name, Expression: x.Expression, Actions: x.Actions}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if r := ingest(web, trigger("k2", "cron failed", "batch-7", alert.Error)); len(r.Opened) != 1 {
			t.Fatalf("%+v", r)
		}
		if a := e.alertOf("k2"); a.IncidentID == "" {
			t.Fatalf("%+v", a)
		}
		// The alert text is never logged.
		if logs := e.logs.String(); strings.Contains(logs, "Jane Roe") {
			t.Fatalf("the logs quote an alert: %s", logs)
		}
		// A service an alert rule routes to cannot be deleted.
		if err := d.Write(e.ctx, func(tx *sql.Tx) error { return alert.DeleteServiceTx(e.ctx, tx, start, storage.ID) }); err == nil {
			t.Fatal("the service an alert rule routes to was deleted")
		}
	})
}

// TestTwoWayRoutingDoesNotFail: alert rules that route one service's alerts
// to another and the other's back lose no alert when both services take
// alerts at once. On PostgreSQL such writes can wait for each other (each
// holds its own service's row and wants the other's); PostgreSQL ends one
// of them to break the deadlock, and intake runs it again instead of
// answering with the error. The deadlock is made for certain here: a
// transaction holds the storage service's row while a web alert routed
// to storage waits for it, then asks for the web service's row.
func TestTwoWayRoutingDoesNotFail(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		web, webIG := e.alertService("web")
		storage, storageIG := e.alertService("storage")
		for _, in := range []rules.AlertRuleInput{
			{Name: "disks to storage", Expression: `alert.summary.contains("disk")`, Actions: []rules.AlertAction{{Type: "route", Service: "storage"}}},
			{Name: "network to web", Expression: `alert.summary.contains("network")`, Actions: []rules.AlertAction{{Type: "route", Service: "web"}}},
		} {
			in.Enabled = true
			if _, err := e.eng.CreateAlertRule(e.ctx, in); err != nil {
				t.Fatal(err)
			}
		}
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 40 {
			ig, what := webIG, "disk"
			if i%2 == 1 {
				ig, what = storageIG, "network"
			}
			wg.Go(func() {
				r, err := e.in.Ingest(e.ctx, ig, []alert.Event{trigger(fmt.Sprintf("at-once-%d", i), what+" trouble", "host", alert.Error)})
				if err == nil && r.Routed != 1 {
					err = fmt.Errorf("alert %d: routed %d", i, r.Routed)
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		for i := range 40 {
			want := storage.ID
			if i%2 == 1 {
				want = web.ID
			}
			if a := e.alertOf(fmt.Sprintf("at-once-%d", i)); a.ServiceID != want {
				t.Errorf("alert %d on service %s, want %s", i, a.ServiceID, want)
			}
		}
		if d.Dialect != db.Postgres {
			return
		}

		ctx := context.Background()
		conn, err := d.W.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		var holder int
		if err := conn.QueryRowContext(ctx, "SELECT pg_backend_pid()").Scan(&holder); err != nil {
			t.Fatal(err)
		}
		tx, err := conn.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		// This transaction must not be the one PostgreSQL ends.
		for _, q := range []string{"SET LOCAL deadlock_timeout = '60s'", "UPDATE services SET version = version WHERE id = '" + storage.ID + "'"} {
			if _, err := tx.ExecContext(ctx, q); err != nil {
				t.Fatal(err)
			}
		}
		done := make(chan error, 1)
		go func() {
			r, err := e.in.Ingest(e.ctx, webIG, []alert.Event{trigger("crossed", "disk trouble", "host", alert.Error)})
			if err == nil && r.Routed != 1 {
				err = fmt.Errorf("routed %d", r.Routed)
			}
			done <- err
		}()
		testwait.Until(t, "intake waiting for the storage service's row", 30*time.Second, func() bool {
			var n int
			if err := d.R.QueryRowContext(ctx, "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))", holder).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n > 0
		})
		if _, err := tx.ExecContext(ctx, "UPDATE services SET version = version WHERE id = '"+web.ID+"'"); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("the alert caught in a deadlock: %v", err)
		}
		if a := e.alertOf("crossed"); a.ServiceID != storage.ID || a.IncidentID == "" {
			t.Fatalf("crossed: %+v", a)
		}
	})
}

// TestDeleteAlertRule: a deleted alert rule stops acting on alerts; a
// rule that suppressed alerts is kept, since they name it.
func TestDeleteAlertRule(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		_, ig := e.alertService("storage")
		tag, err := e.eng.CreateAlertRule(e.ctx, rules.AlertRuleInput{Name: "tag disks", Expression: `alert.summary.contains("disk")`,
			Actions: []rules.AlertAction{{Type: rules.AlertAddTags, Tags: []string{"disk"}}}, Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		quiet, err := e.eng.CreateAlertRule(e.ctx, rules.AlertRuleInput{Name: "quiet", Expression: `alert.summary.contains("noise")`,
			Actions: []rules.AlertAction{{Type: rules.AlertSuppress}}, Enabled: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.in.Ingest(e.ctx, ig, []alert.Event{trigger("noise-1", "noise", "host", alert.Error)}); err != nil {
			t.Fatal(err)
		}
		if err := e.eng.DeleteAlertRule(e.ctx, quiet.Name); err == nil || !strings.Contains(err.Error(), "disable it instead") {
			t.Fatalf("deleting a rule that suppressed an alert: %v", err)
		}
		if err := e.eng.DeleteAlertRule(e.ctx, tag.ID); err != nil {
			t.Fatal(err)
		}
		if err := e.eng.DeleteAlertRule(e.ctx, tag.ID); err == nil {
			t.Fatal("deleted a rule twice")
		}
		if _, err := e.in.Ingest(e.ctx, ig, []alert.Event{trigger("disk-1", "disk full", "host", alert.Error)}); err != nil {
			t.Fatal(err)
		}
		if a := e.alertOf("disk-1"); len(a.Tags) != 0 {
			t.Fatalf("a deleted rule tagged an alert: %v", a.Tags)
		}
		rs, err := e.eng.ListAlertRules(e.ctx)
		if err != nil || len(rs) != 1 || rs[0].Name != "quiet" {
			t.Fatalf("rules left: %v %v", rs, err)
		}
	})
}

// TestAlertRuleDryRun: a dry run counts the recent alerts an expression
// would have matched and shows a few, changing nothing; for a role that
// may not see PHI the expression sees no summary (it cannot be used to
// learn one) and the examples show the safe line.
func TestAlertRuleDryRun(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		_, ig := e.alertService("storage")
		if _, err := e.in.Ingest(e.ctx, ig, []alert.Event{trigger("d1", "disk full on db1", "db1", alert.Error),
			trigger("d2", "disk full on db2", "db2", alert.Warning), trigger("c1", "cpu hot", "app1", alert.Error)}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.eng.DryRunAlertRule(e.ctx, e.in, `alert.title == "x"`); err == nil || !strings.Contains(err.Error(), "expression") {
			t.Fatalf("a bad expression: %v", err)
		}
		res, err := e.eng.DryRunAlertRule(e.ctx, e.in, `alert.summary.contains("disk")`)
		if err != nil {
			t.Fatal(err)
		}
		if res.Matched != 2 || res.Checked != 3 || res.Total != 3 || res.Capped || res.PHIHidden || len(res.Examples) != 2 ||
			!strings.Contains(res.Examples[0].Summary, "disk full") {
			t.Fatalf("admin: %+v", res)
		}
		stakeholder := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, ID: "s", Name: "s", Role: authz.RoleStakeholder})
		res, err = e.eng.DryRunAlertRule(stakeholder, e.in, `alert.summary.contains("disk")`)
		if err != nil || res.Matched != 0 || !res.PHIHidden {
			t.Fatalf("stakeholder, by summary: %+v %v", res, err)
		}
		res, err = e.eng.DryRunAlertRule(stakeholder, e.in, `alert.severity == "error" && alert.service == "storage"`)
		if err != nil || res.Matched != 2 || len(res.Examples) != 2 || !res.Examples[0].SummaryRedacted ||
			strings.Contains(res.Examples[0].Summary+res.Examples[1].Summary, "full") {
			t.Fatalf("stakeholder, by severity: %+v %v", res, err)
		}
		if rs, err := e.eng.ListAlertRules(e.ctx); err != nil || len(rs) != 0 {
			t.Fatalf("a dry run saved a rule: %v %v", rs, err)
		}
	})
}
