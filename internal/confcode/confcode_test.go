package confcode_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/confcode"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

var (
	start = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	admin = authz.Actor{Kind: authz.KindToken, ID: "t1", Name: "admin", Role: authz.RoleAdmin}
)

const schedulesYAML = `- name: Primary
  description: Day shift
  time_zone: America/New_York
  rotations:
    - name: weekly
      kind: weekly
      shift_length: 1
      start: "2026-11-02T09:00:00-05:00"
      participants: [alice, bob]
      restrict:
        - days: [mon, tue, wed, thu, fri]
          start: "09:00"
          end: "17:00"
`

const policiesYAML = `- name: Core
  repeat: 2
  steps:
    - delay_minutes: 10
      targets:
        - schedule: Primary
    - delay_minutes: 15
      targets:
        - user: bob
`

const servicesYAML = `- name: EHR
  description: Records system
  handles_phi: true
  group_by: alert
  escalation_policy: Core
- name: Billing
  escalation_policy: Core
`

const slaYAML = `- severity: sev1
  ack_minutes: 10
  first_update_minutes: 30
  update_interval_minutes: 60
  contain_minutes: 240
  resolve_minutes: 1440
`

func fixture() map[string][]byte {
	return map[string][]byte{confcode.SchedulesFile: []byte(schedulesYAML), confcode.PoliciesFile: []byte(policiesYAML),
		confcode.ServicesFile: []byte(servicesYAML), confcode.SLAFile: []byte(slaYAML)}
}

// setup adds users alice and bob to d.
func setup(t *testing.T, d *db.DB) (*confcode.Config, context.Context) {
	t.Helper()
	for _, name := range []string{"alice", "bob"} {
		if _, err := d.W.ExecContext(context.Background(), `INSERT INTO users (id, username, display_name, email, role, password_hash,
			disabled, created_at, updated_at) VALUES ($1, $2, $2, $3, 'responder', 'x', false, $4, $4)`,
			"u-"+name, name, name+"@example.org", start); err != nil {
			t.Fatal(err)
		}
	}
	return confcode.New(d, clock.NewFake(start)), authz.WithActor(context.Background(), admin)
}

func parse(t *testing.T, files map[string][]byte) *confcode.Source {
	t.Helper()
	src, err := confcode.Parse(files)
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return src
}

func apply(t *testing.T, ctx context.Context, c *confcode.Config, files map[string][]byte, prune bool) []confcode.Change {
	t.Helper()
	ch, err := c.Apply(ctx, parse(t, files), prune)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return ch
}

func export(t *testing.T, ctx context.Context, c *confcode.Config) map[string][]byte {
	t.Helper()
	b, err := c.Export(ctx)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	files, err := b.Files()
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func count(t *testing.T, d *db.DB, query string) int {
	t.Helper()
	var n int
	if err := d.R.QueryRow(query).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRoundTrip: files applied to one instance, exported, applied to an
// empty instance and exported again give the same bytes; applying twice
// changes nothing the second time; every change is audited.
func TestRoundTrip(t *testing.T) {
	t.Parallel()
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			t.Parallel()
			d1 := dbtest.Open(t, target.URL)
			c1, ctx := setup(t, d1)
			if ch := apply(t, ctx, c1, fixture(), false); len(ch) != 5 {
				t.Fatalf("first apply made %d changes, want 4 creates and sev1's SLA: %v", len(ch), ch)
			}
			if n := count(t, d1, `SELECT ack_minutes FROM sla_policies WHERE severity = 'sev1'`); n != 10 {
				t.Errorf("sev1 acknowledge target %d, want 10", n)
			}
			if n := count(t, d1, `SELECT COUNT(*) FROM audit_log WHERE action IN ('schedule.create', 'escalation_policy.create', 'service.create')`); n != 4 {
				t.Errorf("%d audit entries for the creates, want 4", n)
			}
			if ch := apply(t, ctx, c1, fixture(), false); len(ch) != 0 {
				t.Errorf("second apply made changes: %v", ch)
			}
			first := export(t, ctx, c1)
			if n := count(t, d1, `SELECT COUNT(*) FROM audit_log WHERE action = 'config.export'`); n != 1 {
				t.Errorf("%d config.export audit entries, want 1", n)
			}
			if !strings.Contains(string(first[confcode.PoliciesFile]), "schedule: Primary") ||
				!strings.Contains(string(first[confcode.SchedulesFile]), "- alice") {
				t.Errorf("export does not name by name:\n%s\n%s", first[confcode.PoliciesFile], first[confcode.SchedulesFile])
			}
			if strings.Index(string(first[confcode.ServicesFile]), "Billing") > strings.Index(string(first[confcode.ServicesFile]), "EHR") {
				t.Errorf("services not sorted by name:\n%s", first[confcode.ServicesFile])
			}

			var url2 string
			for _, t2 := range dbtest.Targets(t) {
				if t2.Dialect == target.Dialect {
					url2 = t2.URL
				}
			}
			c2, _ := setup(t, dbtest.Open(t, url2))
			apply(t, ctx, c2, first, false)
			second := export(t, ctx, c2)
			if !reflect.DeepEqual(first, second) {
				for f := range first {
					if string(first[f]) != string(second[f]) {
						t.Errorf("%s differs:\n%s\n---\n%s", f, first[f], second[f])
					}
				}
			}
		})
	}
}

// TestPlanShowsOneEdit: editing one field plans exactly that update, and
// applying it changes only that.
func TestPlanShowsOneEdit(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		c, ctx := setup(t, d)
		apply(t, ctx, c, fixture(), false)
		files := fixture()
		files[confcode.PoliciesFile] = []byte(strings.Replace(policiesYAML, "delay_minutes: 15", "delay_minutes: 20", 1))
		audited := count(t, d, `SELECT COUNT(*) FROM audit_log`)
		ch, err := c.Plan(ctx, parse(t, files), false)
		if err != nil {
			t.Fatal(err)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_log`); n != audited {
			t.Errorf("plan left %d audit entries", n-audited)
		}
		if len(ch) != 1 || ch[0].Op != "update" || ch[0].Kind != confcode.KindPolicy || ch[0].Name != "Core" ||
			len(ch[0].Fields) != 1 || ch[0].Fields[0].Field != "steps" {
			t.Fatalf("plan = %+v, want one update of Core's steps", ch)
		}
		if s := ch[0].String(); !strings.Contains(s, `"delay_minutes":15`) || !strings.Contains(s, `"delay_minutes":20`) {
			t.Errorf("plan text %q does not show 15 → 20", s)
		}
		var before string
		if err := d.R.QueryRow(`SELECT steps FROM escalation_policies WHERE name = 'Core'`).Scan(&before); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(before, `"delay_minutes":15`) {
			t.Errorf("plan changed the steps: %s", before)
		}
		if got := apply(t, ctx, c, files, false); len(got) != 1 {
			t.Errorf("apply made %v", got)
		}
		var steps string
		if err := d.R.QueryRow(`SELECT steps FROM escalation_policies WHERE name = 'Core'`).Scan(&steps); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(steps, `"delay_minutes":20`) {
			t.Errorf("steps = %s", steps)
		}
	})
}

// TestPrune: without --prune what the files no longer name stays; with
// it exactly that is deleted, audited.
func TestPrune(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		c, ctx := setup(t, d)
		apply(t, ctx, c, fixture(), false)
		files := fixture()
		files[confcode.ServicesFile] = []byte("- name: EHR\n  description: Records system\n  handles_phi: true\n  group_by: alert\n  escalation_policy: Core\n")
		if ch := apply(t, ctx, c, files, false); len(ch) != 0 {
			t.Errorf("apply without prune made %v", ch)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM services`); n != 2 {
			t.Fatalf("%d services, want 2 kept without prune", n)
		}
		ch := apply(t, ctx, c, files, true)
		if len(ch) != 1 || ch[0].Op != "delete" || ch[0].Name != "Billing" {
			t.Fatalf("prune made %v, want only Billing deleted", ch)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM services WHERE name = 'EHR'`); n != 1 {
			t.Errorf("EHR gone")
		}
		if n := count(t, d, `SELECT COUNT(*) FROM services`); n != 1 {
			t.Errorf("%d services after prune, want 1", n)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_log WHERE action = 'service.delete'`); n != 1 {
			t.Errorf("%d service.delete audit entries, want 1", n)
		}

		// A service an integration points to is kept, and the whole
		// apply is refused: the policy it would also prune stays too.
		if _, err := d.W.Exec(`INSERT INTO integration_keys (id, service_id, kind, name, key_hash, hint, mapping, created_at, created_by)
			SELECT 'ik1', id, 'events_v2', 'Datadog', 'h', 'abcd', '', $1, 'token:admin' FROM services WHERE name = 'EHR'`, start); err != nil {
			t.Fatal(err)
		}
		_, err := c.Apply(ctx, parse(t, map[string][]byte{confcode.SchedulesFile: []byte(schedulesYAML)}), true)
		if apperr.CodeOf(err) != apperr.Conflict || !strings.Contains(err.Error(), "EHR") {
			t.Fatalf("prune of a service with an integration: %v", err)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM escalation_policies`); n != 1 {
			t.Errorf("%d policies after a refused prune, want 1", n)
		}
	})
}

// TestRefused: unknown fields, dangling references and duplicate names
// are refused with file, line and field, and nothing is applied.
func TestRefused(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, file, yaml, want string
	}{
		{"unknown field", confcode.ServicesFile, servicesYAML + "  colour: red\n", "services.yaml:8: colour: unknown field"},
		{"dangling schedule", confcode.PoliciesFile, strings.Replace(policiesYAML, "schedule: Primary", "schedule: Nightly", 1),
			`escalation_policies.yaml:6: steps[0].targets[0].schedule: no schedule "Nightly"`},
		{"dangling policy", confcode.ServicesFile, strings.Replace(servicesYAML, "escalation_policy: Core\n- name", "escalation_policy: Edge\n- name", 1),
			`services.yaml:5: escalation_policy: no escalation policy "Edge"`},
		{"duplicate", confcode.ServicesFile, servicesYAML + "- name: EHR\n", `services.yaml:8: name: a service named "EHR" is also at services.yaml:1`},
		{"invalid value", confcode.SchedulesFile, strings.Replace(schedulesYAML, "kind: weekly", "kind: monthly", 1),
			`schedules.yaml:6: rotations[0].kind`},
		{"unknown user", confcode.SchedulesFile, strings.Replace(schedulesYAML, "[alice, bob]", "[alice, carol]", 1),
			`schedules.yaml:9: rotations[0].participants[1]: no user "carol"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
				c, ctx := setup(t, d)
				files := fixture()
				files[tc.file] = []byte(tc.yaml)
				src, err := confcode.Parse(files)
				if err == nil {
					_, err = c.Apply(ctx, src, false)
				}
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				var e *apperr.Error
				if ps, ok := confcode.IsProblems(err); !ok || !errors.As(ps.AppError(), &e) || e.Code != apperr.Invalid {
					t.Errorf("err %v is not a field refusal", err)
				}
				for _, table := range []string{"services", "escalation_policies", "schedules"} {
					if n := count(t, d, "SELECT COUNT(*) FROM "+table); n != 0 {
						t.Errorf("%d %s written", n, table)
					}
				}
			})
		})
	}
}

// TestAuditorRefused: the auditor, who changes nothing, may not export
// or apply.
func TestAuditorRefused(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		c, _ := setup(t, d)
		ctx := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: "a", Name: "aud", Role: authz.RoleAuditor})
		if _, err := c.Apply(ctx, parse(t, fixture()), false); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("apply as auditor: %v", err)
		}
		if _, err := c.Export(ctx); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("export as auditor: %v", err)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM services`); n != 0 {
			t.Errorf("auditor wrote %d services", n)
		}
	})
}

const alertRulesYAML = `- name: Quiet test alerts
  expression: alert.summary.startsWith("TEST")
  enabled: true
  actions:
    - type: suppress
    - type: add_tags
      tags: [test]
- name: Route billing
  description: Billing's alerts come to EHR
  expression: alert.labels["team"] == "billing"
  enabled: true
  actions:
    - type: route
      service: EHR
    - type: set_severity
      severity: warning
`

// withFile is the fixture with file holding yaml.
func withFile(file, yaml string) map[string][]byte {
	files := fixture()
	files[file] = []byte(yaml)
	return files
}

// TestAlertRules: alert rules are exported by name (a route names its
// service), created, updated, disabled and pruned through the alert rule
// service's checks and audit entries, and a second apply changes nothing.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		c, ctx := setup(t, d)
		ch := apply(t, ctx, c, withFile(confcode.AlertRulesFile, alertRulesYAML), false)
		var creates int
		for _, x := range ch {
			if x.Kind == confcode.KindAlertRule && x.Op == "create" {
				creates++
			}
		}
		if creates != 2 {
			t.Fatalf("apply made %v, want 2 alert rules created", ch)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM alert_rules r JOIN services s ON s.id = r.route_service_id
			WHERE r.name = 'Route billing' AND s.name = 'EHR'`); n != 1 {
			t.Errorf("Route billing does not route to EHR")
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_log WHERE action = 'alert_rule.create'`); n != 2 {
			t.Errorf("%d alert_rule.create audit entries, want 2", n)
		}
		if ch := apply(t, ctx, c, withFile(confcode.AlertRulesFile, alertRulesYAML), false); len(ch) != 0 {
			t.Errorf("second apply made %v", ch)
		}
		files := export(t, ctx, c)
		if got := string(files[confcode.AlertRulesFile]); !strings.Contains(got, "service: EHR") || !strings.Contains(got, "tags: [test]") ||
			strings.Index(got, "Quiet test alerts") > strings.Index(got, "Route billing") {
			t.Errorf("alert_rules.yaml does not name the service, or is not by name:\n%s", got)
		}
		if ch := apply(t, ctx, c, files, false); len(ch) != 0 {
			t.Errorf("applying the export made %v", ch)
		}

		disabled := strings.Replace(alertRulesYAML, "enabled: true", "enabled: false", 1)
		ch, err := c.Plan(ctx, parse(t, withFile(confcode.AlertRulesFile, disabled)), false)
		if err != nil {
			t.Fatal(err)
		}
		if len(ch) != 1 || ch[0].Op != "update" || ch[0].Name != "Quiet test alerts" || len(ch[0].Fields) != 1 ||
			ch[0].Fields[0].Field != "enabled" || ch[0].Fields[0].From != "true" || ch[0].Fields[0].To != "false" {
			t.Fatalf("plan = %+v, want Quiet test alerts enabled true → false", ch)
		}
		apply(t, ctx, c, withFile(confcode.AlertRulesFile, disabled), false)
		if n := count(t, d, `SELECT COUNT(*) FROM alert_rules WHERE name = 'Quiet test alerts' AND NOT enabled`); n != 1 {
			t.Errorf("rule not disabled")
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_log WHERE action = 'alert_rule.update'`); n != 1 {
			t.Errorf("%d alert_rule.update audit entries, want 1", n)
		}

		// Pruning a rule that suppressed an alert is refused as the API
		// refuses it, and nothing else the apply would do happens.
		if _, err := d.W.Exec(`INSERT INTO integration_keys (id, service_id, kind, name, key_hash, hint, mapping, created_at, created_by)
			SELECT 'ik1', id, 'events_v2', 'Datadog', 'h', 'abcd', '', $1, 'token:admin' FROM services WHERE name = 'EHR'`, start); err != nil {
			t.Fatal(err)
		}
		if _, err := d.W.Exec(`INSERT INTO alerts (id, service_id, integration_id, dedup_key, status, suppressed, summary, source, severity,
			component, grp, class, details, count, first_at, last_at, suppressed_by)
			SELECT 'a1', (SELECT id FROM services WHERE name = 'EHR'), 'ik1', 'k', 'triggered', true, '', '', 'info', '', '', '', '', 1, $1, $1, id FROM alert_rules WHERE name = 'Quiet test alerts'`, start); err != nil {
			t.Fatal(err)
		}
		_, err = c.Apply(ctx, parse(t, withFile(confcode.AlertRulesFile, "[]\n")), true)
		if apperr.CodeOf(err) != apperr.Conflict || !strings.Contains(err.Error(), "Quiet test alerts") {
			t.Fatalf("prune of a rule that suppressed an alert: %v", err)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM alert_rules`); n != 2 {
			t.Errorf("%d alert rules after a refused prune, want 2", n)
		}
		kept := disabled[:strings.Index(disabled, "- name: Route billing")]
		ch = apply(t, ctx, c, withFile(confcode.AlertRulesFile, kept), true)
		if len(ch) != 1 || ch[0].Op != "delete" || ch[0].Kind != confcode.KindAlertRule || ch[0].Name != "Route billing" {
			t.Fatalf("prune made %v, want Route billing deleted", ch)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_log WHERE action = 'alert_rule.delete'`); n != 1 {
			t.Errorf("%d alert_rule.delete audit entries, want 1", n)
		}
	})
}

// TestAlertRulesRefused: what the alert rule service refuses (a bad
// expression, an unknown severity), a missing enabled and a route to a
// service that is nowhere are refused naming file, line, rule and field,
// and nothing of the apply is written.
func TestAlertRulesRefused(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, yaml, want string }{
		{"bad expression", strings.Replace(alertRulesYAML, `alert.labels["team"] == "billing"`, `alert.colour == "red"`, 1),
			`alert_rules.yaml:10: expression: alert rule "Route billing": `},
		{"not true or false", strings.Replace(alertRulesYAML, `alert.summary.startsWith("TEST")`, `alert.summary`, 1),
			`alert_rules.yaml:2: expression: alert rule "Quiet test alerts": must be true or false, not string`},
		{"unknown severity", strings.Replace(alertRulesYAML, "severity: warning", "severity: dire", 1),
			`alert_rules.yaml:16: actions[1].severity: alert rule "Route billing": "dire" is not one of`},
		{"no service", strings.Replace(alertRulesYAML, "service: EHR", "service: Payroll", 1),
			`alert_rules.yaml:14: actions[0].service: alert rule "Route billing": no service "Payroll"`},
		{"no enabled", strings.Replace(alertRulesYAML, "  enabled: true\n", "", 1),
			`alert_rules.yaml:1: enabled: alert rule "Quiet test alerts": enabled is required`},
		{"unknown field", alertRulesYAML + "  colour: red\n", `alert_rules.yaml:17: colour: unknown field`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
				c, ctx := setup(t, d)
				src, err := confcode.Parse(withFile(confcode.AlertRulesFile, tc.yaml))
				if err == nil {
					_, err = c.Apply(ctx, src, false)
				}
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				if _, ok := confcode.IsProblems(err); !ok {
					t.Errorf("err %v is not a field refusal", err)
				}
				for _, table := range []string{"services", "escalation_policies", "schedules", "alert_rules", "audit_log"} {
					if n := count(t, d, "SELECT COUNT(*) FROM "+table); n != 0 {
						t.Errorf("%d %s written", n, table)
					}
				}
			})
		})
	}
}

const groupsYAML = `- name: Executives
  description: Leadership
  audience: executives
  members: [bob, alice]
  subscribe:
    severities: [sev1]
    services: [EHR]
- name: Responders
  members: [alice]
`

// TestStakeholderGroups: stakeholder groups are exported by name (members
// by username, a rule's services by name), created and updated through
// the stakeholder service's checks and audit entries, never pruned, and a
// second apply changes nothing.
func TestStakeholderGroups(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		c, ctx := setup(t, d)
		apply(t, ctx, c, withFile(confcode.GroupsFile, groupsYAML), false)
		if n := count(t, d, `SELECT COUNT(*) FROM stakeholder_members m JOIN stakeholder_groups g ON g.id = m.group_id
			WHERE g.name = 'Executives' AND g.audience = 'executives'`); n != 2 {
			t.Errorf("Executives has %d members, want 2", n)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM audit_log WHERE action = 'stakeholder_group.create'`); n != 2 {
			t.Errorf("%d stakeholder_group.create audit entries, want 2", n)
		}
		if ch := apply(t, ctx, c, withFile(confcode.GroupsFile, groupsYAML), false); len(ch) != 0 {
			t.Errorf("second apply made %v", ch)
		}
		files := export(t, ctx, c)
		got := string(files[confcode.GroupsFile])
		if !strings.Contains(got, "members: [alice, bob]") || !strings.Contains(got, "services: [EHR]") ||
			!strings.Contains(got, "audience: executives") || strings.Contains(got, "u-alice") {
			t.Errorf("stakeholder_groups.yaml does not name by name:\n%s", got)
		}
		if ch := apply(t, ctx, c, files, false); len(ch) != 0 {
			t.Errorf("applying the export made %v", ch)
		}

		edited := strings.Replace(groupsYAML, "severities: [sev1]", "severities: [sev1, sev2]", 1)
		ch, err := c.Plan(ctx, parse(t, withFile(confcode.GroupsFile, edited)), false)
		if err != nil {
			t.Fatal(err)
		}
		if len(ch) != 1 || ch[0].Op != "update" || ch[0].Kind != confcode.KindGroup || ch[0].Name != "Executives" ||
			len(ch[0].Fields) != 1 || ch[0].Fields[0].Field != "subscribe" {
			t.Fatalf("plan = %+v, want Executives' subscribe updated", ch)
		}
		apply(t, ctx, c, withFile(confcode.GroupsFile, edited), false)
		if n := count(t, d, `SELECT COUNT(*) FROM audit_log WHERE action = 'stakeholder_group.update'`); n != 1 {
			t.Errorf("%d stakeholder_group.update audit entries, want 1", n)
		}

		// Ward deletes no stakeholder group: --prune leaves them.
		only := edited[:strings.Index(edited, "- name: Responders")]
		if ch := apply(t, ctx, c, withFile(confcode.GroupsFile, only), true); len(ch) != 0 {
			t.Errorf("prune made %v", ch)
		}
		if n := count(t, d, `SELECT COUNT(*) FROM stakeholder_groups`); n != 2 {
			t.Errorf("%d stakeholder groups after prune, want 2", n)
		}
	})
}

// TestStakeholderGroupsRefused: what the stakeholder service refuses and
// dangling names are refused naming file, line, group and field, and
// nothing is written.
func TestStakeholderGroupsRefused(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, yaml, want string }{
		{"unknown severity", strings.Replace(groupsYAML, "[sev1]", "[sev9]", 1),
			`stakeholder_groups.yaml:6: subscribe.severities[0]: stakeholder group "Executives": "sev9" is not one of`},
		{"unknown audience", strings.Replace(groupsYAML, "audience: executives", "audience: board", 1),
			`stakeholder_groups.yaml:3: audience: stakeholder group "Executives": is not an audience`},
		{"unknown member", strings.Replace(groupsYAML, "[alice]", "[carol]", 1),
			`stakeholder_groups.yaml:9: members[0]: stakeholder group "Responders": no user "carol"`},
		{"no service", strings.Replace(groupsYAML, "[EHR]", "[Payroll]", 1),
			`stakeholder_groups.yaml:7: subscribe.services[0]: stakeholder group "Executives": no service "Payroll"`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
				c, ctx := setup(t, d)
				_, err := c.Apply(ctx, parse(t, withFile(confcode.GroupsFile, tc.yaml)), false)
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("err = %v, want %q", err, tc.want)
				}
				for _, table := range []string{"services", "stakeholder_groups", "stakeholder_members", "audit_log"} {
					if n := count(t, d, "SELECT COUNT(*) FROM "+table); n != 0 {
						t.Errorf("%d %s written", n, table)
					}
				}
			})
		})
	}
}

// TestRoundTripRulesAndGroups: alert rules and stakeholder groups
// exported from one instance, applied to an empty one and exported again
// give the same bytes.
func TestRoundTripRulesAndGroups(t *testing.T) {
	t.Parallel()
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			t.Parallel()
			c1, ctx := setup(t, dbtest.Open(t, target.URL))
			files := withFile(confcode.AlertRulesFile, alertRulesYAML)
			files[confcode.GroupsFile] = []byte(groupsYAML)
			apply(t, ctx, c1, files, false)
			first := export(t, ctx, c1)
			var url2 string
			for _, t2 := range dbtest.Targets(t) {
				if t2.Dialect == target.Dialect {
					url2 = t2.URL
				}
			}
			c2, _ := setup(t, dbtest.Open(t, url2))
			apply(t, ctx, c2, first, false)
			second := export(t, ctx, c2)
			for _, f := range []string{confcode.AlertRulesFile, confcode.GroupsFile} {
				if len(first[f]) < 100 || string(first[f]) != string(second[f]) {
					t.Errorf("%s differs:\n%s\n---\n%s", f, first[f], second[f])
				}
			}
		})
	}
}
