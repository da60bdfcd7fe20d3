package rules_test

import (
	"database/sql"
	"slices"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/rules"
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
