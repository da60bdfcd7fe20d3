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
