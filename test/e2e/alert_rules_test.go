package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/notify"
)

// TestAlertRulesEndToEnd: alert rules made over the API act on alerts as
// they arrive over HTTPS (Events v2): one routes an alert to another
// service (whose policy pages) and tags it, one suppresses an alert (kept,
// shown with the rule's name, no incident, nobody paged: checked after
// whole rounds of the pager; deleting that rule is refused with 409), one
// lowers a severity; a bad rule is refused with 422 naming the field.
func TestAlertRulesEndToEnd(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, url string) {
		chat := startChat(t)
		data := t.TempDir()
		w := startWardAt(t, data, url, func(e *app.Env) { e.Args = append(e.Args, "--paging-poll", "50ms") }, allowLoopback)
		newResponder(t, data, url, "alice")
		w.must(201, "POST", "/api/v1/users/alice/contact-methods", map[string]any{"kind": "webhook", "address": chat.URL + "/alice"}, nil)
		eventually(t, "alice's webhook verified", func() bool {
			var cs []struct{ Verified bool }
			w.must(200, "GET", "/api/v1/users/alice/contact-methods", nil, &cs)
			return len(cs) == 1 && cs[0].Verified
		})
		pages := func() int {
			n := 0
			for _, r := range chat.to("/alice") {
				var p notify.WebhookPayload
				if json.Unmarshal(r.body, &p) == nil && p.Kind == "page" {
					n++
				}
			}
			return n
		}
		w.must(201, "POST", "/api/v1/escalation-policies", map[string]any{"name": "on call", "steps": []map[string]any{
			{"delay_minutes": 5, "targets": []map[string]string{{"type": "user", "id": "alice"}}}}}, nil)
		var web, storage struct{ ID string }
		w.must(201, "POST", "/api/v1/services", map[string]any{"name": "web", "escalation_policy": "on call"}, &web)
		w.must(201, "POST", "/api/v1/services", map[string]any{"name": "storage", "escalation_policy": "on call"}, &storage)
		var ig integrationKey
		w.must(201, "POST", "/api/v1/services/"+web.ID+"/integrations", map[string]any{"kind": "events_v2", "name": "mon"}, &ig)

		for field, bad := range map[string]map[string]any{
			"body.expression":         {"expression": `alert.title == "x"`, "actions": []map[string]any{{"type": "suppress"}}},
			"body.actions[0].service": {"expression": "true", "actions": []map[string]any{{"type": "route", "service": "nowhere"}}},
			"body.actions[0].severity": {"expression": "true",
				"actions": []map[string]any{{"type": "set_severity", "severity": "sev1"}}},
		} {
			bad["name"] = "bad"
			code, raw := w.do("POST", "/api/v1/alert-rules", bad, nil)
			if code != 422 || !strings.Contains(string(raw), `"location":"`+field+`"`) {
				t.Errorf("%s: %d %s", field, code, raw)
			}
		}
		w.must(201, "POST", "/api/v1/alert-rules", map[string]any{"name": "disks to storage", "expression": `alert.summary.contains("disk full")`,
			"actions": []map[string]any{{"type": "route", "service": "storage"}, {"type": "add_tags", "tags": []string{"disk"}}}}, nil)
		var quiet struct{ ID string }
		w.must(201, "POST", "/api/v1/alert-rules", map[string]any{"name": "quiet the batch host", "expression": `alert.source == "batch-7"`,
			"actions": []map[string]any{{"type": "suppress"}}}, &quiet)
		w.must(201, "POST", "/api/v1/alert-rules", map[string]any{"name": "warnings are info", "expression": `alert.severity == "warning"`,
			"actions": []map[string]any{{"type": "set_severity", "severity": "info"}}}, nil)
		trigger := func(key, summary, source, sev string) {
			t.Helper()
			if code, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger","dedup_key":"`+key+`",
				"payload":{"summary":"`+summary+`","source":"`+source+`","severity":"`+sev+`"}}`, nil); code != 202 {
				t.Fatalf("trigger %s: %d %s", key, code, body)
			}
		}
		type view struct {
			alertView
			ServiceID        string   `json:"service_id"`
			SuppressedBy     string   `json:"suppressed_by"`
			SuppressedByName string   `json:"suppressed_by_name"`
			Tags             []string `json:"tags"`
		}
		alertOf := func(key string) view {
			t.Helper()
			var as []view
			w.must(200, "GET", "/api/v1/alerts?limit=200", nil, &as)
			for _, a := range as {
				if a.DedupKey == key {
					return a
				}
			}
			t.Fatalf("no alert %s in %+v", key, as)
			return view{}
		}

		// Suppressed: recorded and shown with the rule, no incident, and
		// whole rounds of the pager send nobody a page.
		trigger("cron", "nightly job failed", "batch-7", "error")
		awaitRounds(t, w, "ward_paging_rounds_total")
		if a := alertOf("cron"); !a.Suppressed || a.IncidentID != "" || a.SuppressedBy != quiet.ID || a.SuppressedByName != "quiet the batch host" {
			t.Fatalf("suppressed: %+v", a)
		}
		if n := pages(); n != 0 {
			t.Fatalf("a suppressed alert paged: %d pages", n)
		}
		// The rule that suppressed it cannot be deleted: the alert keeps
		// its name. It can be disabled instead.
		if code, raw := w.do("DELETE", "/api/v1/alert-rules/"+quiet.ID, nil, nil); code != 409 || !strings.Contains(string(raw), "disable it instead") {
			t.Fatalf("deleting a rule that suppressed an alert: %d %s", code, raw)
		}

		// Routed: on storage, tagged, and storage's policy pages.
		trigger("disk", "disk full on db-2", "db-2", "critical")
		a := alertOf("disk")
		if a.ServiceID != storage.ID || a.IncidentID == "" || !slices.Equal(a.Tags, []string{"disk"}) {
			t.Fatalf("routed: %+v", a)
		}
		eventually(t, "the routed alert pages alice", func() bool { return pages() == 1 })

		// Severity set.
		trigger("slow", "checkout slow", "lb-1", "warning")
		if a := alertOf("slow"); a.Severity != "info" || a.IncidentID == "" {
			t.Fatalf("severity: %+v", a)
		}
		// The rules page lists the alert rules in words.
		code, page := signInAs(t, w, authz.RoleStakeholder, "sam").send("GET", "/rules", nil)
		if code != 200 || !strings.Contains(page, "disks to storage") || !strings.Contains(page, "send it to the service storage; tag it disk") ||
			!strings.Contains(page, "suppress it: keep it, open no incident and page nobody") {
			t.Fatalf("the rules page: %d %.3000s", code, page)
		}
		var inc struct{ Severity string }
		w.must(200, "GET", "/api/v1/incidents/"+alertOf("slow").IncidentNumber, nil, &inc)
		if inc.Severity != "sev4" {
			t.Fatalf("the incident of an info alert: %s", inc.Severity)
		}
	})
}
