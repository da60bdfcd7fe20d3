package e2e

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/clock"
)

// TestStakeholderUpdatesAndSLA: a status update reaches the subscribed
// group by signed webhook; an overdue update reminds the commander; the SLA
// shows on the incident.
func TestStakeholderUpdatesAndSLA(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, url string) {
		clk := clock.NewFake(time.Now())
		data := t.TempDir()
		w := startWardAt(t, data, url, func(e *app.Env) {
			e.Clock = clk
			e.Args = append(e.Args, "--paging-poll", "20ms")
		}, allowLoopback)
		hook := startHook(t)
		for _, u := range []struct{ name, role string }{{"carol", "responder"}, {"exec", "stakeholder"}} {
			if code, _, errs := runWardIn(t, data, url, "orange lantern over quiet harbour\n", "user", "create", "--username", u.name,
				"--name", u.name, "--email", u.name+"@example.org", "--role", u.role, "--password-stdin"); code != 0 {
				t.Fatalf("user create: %s", errs)
			}
			w.must(201, "POST", "/api/v1/users/"+u.name+"/contact-methods", map[string]any{"kind": "webhook", "address": hook.URL + "/" + u.name}, nil)
		}
		eventually(t, "two verified webhooks", func() bool { return len(hook.all()) == 2 })

		if code, raw := w.do("POST", "/api/v1/stakeholder-groups", map[string]any{"name": "execs", "rule": map[string]any{"severities": []string{"p1"}}}, nil); code != 422 ||
			!strings.Contains(string(raw), "rule.severities[0]") {
			t.Fatalf("bad rule: %d %s", code, raw)
		}
		w.must(201, "POST", "/api/v1/stakeholder-groups", map[string]any{"name": "execs", "members": []string{"exec"},
			"rule": map[string]any{"severities": []string{"sev1"}}}, nil)
		var inc incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Ransomware on file server", "severity": "sev1", "commander": "carol"}, &inc)
		var subs []struct{ Name string }
		w.must(200, "GET", "/api/v1/incidents/"+inc.ID+"/stakeholders", nil, &subs)
		if len(subs) != 1 || subs[0].Name != "execs" {
			t.Fatalf("subscribed by rule: %+v", subs)
		}
		var up struct {
			Notified int `json:"notified"`
		}
		w.must(201, "POST", "/api/v1/incidents/"+inc.ID+"/status-updates", map[string]any{"body": "Servers isolated; restoring from backup."}, &up)
		if up.Notified != 1 {
			t.Fatalf("notified %d", up.Notified)
		}
		eventually(t, "the stakeholder's message", func() bool { return len(hook.all()) == 3 })
		var msg struct{ Kind, Incident, Status string }
		if err := json.Unmarshal(hook.all()[2].body, &msg); err != nil || msg.Kind != "status_update" || msg.Status != "new status update" ||
			hook.all()[2].path != "/exec" ||
			strings.Contains(string(hook.all()[2].body), "backup") {
			t.Fatalf("status update message: %s %v", hook.all()[2].body, err)
		}

		clk.Advance(61 * time.Minute) // sev1: an update every 60 minutes
		eventually(t, "the commander's reminder", func() bool { return len(hook.all()) >= 4 })
		if err := json.Unmarshal(hook.all()[3].body, &msg); err != nil || msg.Kind != "reminder" || msg.Status != "status update overdue" ||
			hook.all()[3].path != "/carol" {
			t.Fatalf("reminder: %s %v", hook.all()[3].body, err)
		}
		var sla struct {
			UpdateOverdue bool `json:"update_overdue"`
			Targets       []struct{ Name, State string }
		}
		w.must(200, "GET", "/api/v1/incidents/"+inc.ID+"/sla", nil, &sla)
		if !sla.UpdateOverdue || len(sla.Targets) != 4 || sla.Targets[1].Name != "first_update" || sla.Targets[1].State != "met" {
			t.Fatalf("sla: %+v", sla)
		}
		var ups []struct{ Body string }
		w.must(200, "GET", "/api/v1/incidents/"+inc.ID+"/status-updates", nil, &ups)
		if len(ups) != 1 || ups[0].Body != "Servers isolated; restoring from backup." {
			t.Fatalf("updates: %+v", ups)
		}
	})
}
