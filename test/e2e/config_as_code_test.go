package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// configBundle is a bundle as a CI pipeline posts it.
const configBundle = `schedules:
  - name: Primary
    time_zone: America/Chicago
    rotations:
      - name: weekly
        kind: weekly
        shift_length: 1
        start: "2026-11-02T09:00:00-06:00"
        participants: [olga]
escalation_policies:
  - name: Core
    steps:
      - delay_minutes: 10
        targets:
          - schedule: Primary
services:
  - name: EHR
    handles_phi: true
    escalation_policy: Core
`

// TestConfigAsCodeAPI: a pipeline plans and applies a bundle over the API
// (twice: the second apply changes nothing), exports it back in YAML and
// JSON with no key, reads the JSON Schema, and a bundle with a dangling
// reference is refused with its line and field, nothing applied.
func TestConfigAsCodeAPI(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		if code, _, errs := runWardIn(t, w.data, w.dbURL, "orange lantern over quiet harbour\n", "user", "create", "--username", "olga",
			"--email", "olga@example.org", "--name", "Olga", "--password-stdin"); code != 0 {
			t.Fatal(errs)
		}
		post := func(path, body string) (int, string) {
			t.Helper()
			req, err := http.NewRequest("POST", w.url+path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/yaml")
			req.Header.Set("Authorization", "Bearer "+w.token)
			resp, err := w.client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(raw)
		}
		var changes struct {
			Changes []struct{ Op, Kind, Name string }
			Text    string
		}
		code, raw := post("/api/v1/config/plan", configBundle)
		if code != 200 || json.Unmarshal([]byte(raw), &changes) != nil || len(changes.Changes) != 3 {
			t.Fatalf("plan: %d %s", code, raw)
		}
		w.must(404, "GET", "/api/v1/services/EHR", nil, nil)
		if code, raw = post("/api/v1/config/apply", configBundle); code != 200 || !strings.Contains(raw, `+ create service \"EHR\"`) {
			t.Fatalf("apply: %d %s", code, raw)
		}
		if code, raw = post("/api/v1/config/apply", configBundle); code != 200 || !strings.Contains(raw, `"changes":[]`) {
			t.Fatalf("second apply: %d %s", code, raw)
		}
		var created struct{ Key string }
		w.must(201, "POST", "/api/v1/services/EHR/integrations", map[string]any{"kind": "events_v2", "name": "Datadog"}, &created)
		exported := string(w.must(200, "GET", "/api/v1/config", nil, nil))
		if !strings.Contains(exported, "schedule: Primary") || !strings.Contains(exported, "- olga") ||
			!strings.Contains(exported, "kind: events_v2") || created.Key == "" || strings.Contains(exported, created.Key) {
			t.Fatalf("export:\n%s", exported)
		}
		var asJSON struct {
			Services []struct {
				Name         string
				Integrations []map[string]string
			}
		}
		w.must(200, "GET", "/api/v1/config?format=json", nil, &asJSON)
		if len(asJSON.Services) != 1 || len(asJSON.Services[0].Integrations) != 1 || len(asJSON.Services[0].Integrations[0]) != 2 {
			t.Fatalf("json export: %+v", asJSON)
		}
		if code, raw = post("/api/v1/config/plan", exported); code != 200 || !strings.Contains(raw, `"changes":[]`) {
			t.Fatalf("plan of the export: %d %s", code, raw)
		}
		var schema map[string]any
		w.must(200, "GET", "/api/v1/config/schema", nil, &schema)
		if defs, _ := schema["$defs"].(map[string]any); defs["Bundle"] == nil || defs["Schedule"] == nil {
			t.Fatalf("schema: %v", schema)
		}

		bad := strings.Replace(configBundle, "escalation_policy: Core", "escalation_policy: Edge", 1)
		bad = strings.Replace(bad, "name: EHR", "name: Billing", 1)
		code, raw = post("/api/v1/config/apply", bad)
		if code != 422 || !strings.Contains(raw, "body.body:19:escalation_policy") {
			t.Fatalf("dangling reference: %d %s", code, raw)
		}
		w.must(404, "GET", "/api/v1/services/Billing", nil, nil)
	})
}
