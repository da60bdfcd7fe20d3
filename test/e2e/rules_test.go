package e2e

import (
	"strings"
	"testing"
)

// TestWorkflowRules: a rule is type-checked when saved, dry-runs against a
// sample, and acts on the incidents it matches.
func TestWorkflowRules(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		code, raw := w.do("POST", "/api/v1/rules", map[string]any{"name": "bad", "expression": `incident.severity + 1`,
			"actions": []map[string]any{{"type": "add_task", "title": "x"}}}, nil)
		if code != 422 || !strings.Contains(string(raw), "body.expression") {
			t.Fatalf("a badly typed expression: %d %s", code, raw)
		}
		var dry struct {
			Matched bool `json:"matched"`
		}
		w.must(200, "POST", "/api/v1/rules/dry-run", map[string]any{"expression": `incident.severity == "sev1" && incident.phi_suspected`,
			"sample": map[string]any{"severity": "sev1", "phi_suspected": true}}, &dry)
		if !dry.Matched {
			t.Fatal("dry run did not match its sample")
		}
		w.must(201, "POST", "/api/v1/rules", map[string]any{"name": "lost devices", "enabled": true,
			"expression": `incident.category in ["loss", "theft"] && incident.phi_suspected`,
			"actions": []map[string]any{{"type": "set_severity", "severity": "sev2"},
				{"type": "add_task", "title": "Confirm whether the device was encrypted"}}}, nil)
		var off struct{ Enabled bool }
		w.must(201, "POST", "/api/v1/rules", map[string]any{"name": "off", "enabled": false, "expression": "true",
			"actions": []map[string]any{{"type": "add_task", "title": "never"}}}, &off)
		if off.Enabled {
			t.Fatal("enabled: false was not kept")
		}
		var inc incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Laptop stolen from car", "category": "theft",
			"phi_suspected": true, "severity": "sev4"}, &inc)
		var got struct{ Severity string }
		w.must(200, "GET", "/api/v1/incidents/"+inc.ID, nil, &got)
		if got.Severity != "sev2" {
			t.Fatalf("severity after the rule: %s", got.Severity)
		}
		raw = w.must(200, "GET", "/api/v1/incidents/"+inc.ID+"/tasks", nil, nil)
		if !strings.Contains(string(raw), "Confirm whether the device was encrypted") || strings.Contains(string(raw), "never") {
			t.Fatalf("tasks: %s", raw)
		}
		w.must(200, "POST", "/api/v1/rules/dry-run", map[string]any{"expression": `incident.severity == "sev2"`, "incident": inc.ID}, &dry)
		if !dry.Matched {
			t.Fatal("dry run against the incident")
		}

		// start_breach_case, which the API once refused, opens the case of
		// an incident with no PHI suspected (so not opened on its own).
		w.must(201, "POST", "/api/v1/rules", map[string]any{"name": "hacking", "expression": `incident.category == "hacking_it_incident"`,
			"actions": []map[string]any{{"type": "start_breach_case"}}}, nil)
		var hack incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Web shell on the portal", "category": "hacking_it_incident"}, &hack)
		w.must(200, "GET", "/api/v1/incidents/"+hack.Number+"/breach-case", nil, nil)
	})
}

// TestRuleActionsAPI: the API takes the new actions, shows a webhook
// rule's signing secret once, refuses bad actions with 422 naming the
// field, and a rule sets an incident's category and commander.
func TestRuleActionsAPI(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		w.addUser("casey", "responder")
		task := map[string]any{"type": "add_task", "title": "t"}
		for field, bad := range map[string]map[string]any{
			"body.actions[2].policy":    {"type": "page_policy", "policy": "nobody"},
			"body.actions[2].commander": {"type": "set_commander", "commander": "nobody"},
			"body.actions[2].category":  {"type": "set_category", "category": "arson"},
			"body.actions[2].playbook":  {"type": "apply_playbook", "playbook": "nope"},
			"body.actions[2].url":       {"type": "call_webhook", "url": "https://10.0.0.7/hook"},
		} {
			code, raw := w.do("POST", "/api/v1/rules", map[string]any{"name": "bad", "expression": "true",
				"actions": []map[string]any{task, task, bad}}, nil)
			if code != 422 || !strings.Contains(string(raw), `"location":"`+field+`"`) {
				t.Errorf("%s: %d %s", field, code, raw)
			}
		}
		code, raw := w.do("POST", "/api/v1/rules", map[string]any{"name": "timed", "expression": "true", "after": "soon",
			"actions": []map[string]any{task}}, nil)
		if code != 422 || !strings.Contains(string(raw), `"location":"body.after"`) {
			t.Errorf("after soon: %d %s", code, raw)
		}
		var timed struct{ After, From string }
		w.must(201, "POST", "/api/v1/rules", map[string]any{"name": "not contained", "expression": `incident.status != "containment"`,
			"after": "240m", "actions": []map[string]any{{"type": "set_severity", "severity": "sev1"}}}, &timed)
		if timed.After != "4h" || timed.From != "detected" {
			t.Errorf("timed rule: %+v", timed)
		}
		var hook struct {
			ID            string `json:"id"`
			WebhookSecret string `json:"webhook_secret"`
		}
		w.must(201, "POST", "/api/v1/rules", map[string]any{"name": "tell the ticketing system", "expression": `incident.severity == "sev1"`,
			"actions": []map[string]any{{"type": "call_webhook", "url": "https://203.0.113.9/ward"}}}, &hook)
		if len(hook.WebhookSecret) != 64 {
			t.Fatalf("secret: %q", hook.WebhookSecret)
		}
		raw = w.must(200, "GET", "/api/v1/rules/"+hook.ID, nil, nil)
		if strings.Contains(string(raw), hook.WebhookSecret) || strings.Contains(string(raw), "webhook_secret") {
			t.Fatalf("the secret was shown again: %s", raw)
		}
		w.must(201, "POST", "/api/v1/rules", map[string]any{"name": "lost laptops", "expression": `incident.phi_suspected`,
			"actions": []map[string]any{{"type": "set_category", "category": "loss"}, {"type": "set_commander", "commander": "casey"},
				{"type": "apply_playbook", "playbook": "lost_device"}}}, nil)
		var inc incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Laptop left on a train", "phi_suspected": true}, &inc)
		var got struct{ Category, Commander string }
		w.must(200, "GET", "/api/v1/incidents/"+inc.ID, nil, &got)
		if got.Category != "loss" || got.Commander != "casey" {
			t.Fatalf("after the rule: %+v", got)
		}
		raw = w.must(200, "GET", "/api/v1/incidents/"+inc.ID+"/playbooks", nil, nil)
		if !strings.Contains(string(raw), "lost_device") {
			t.Fatalf("playbooks: %s", raw)
		}
	})
}
