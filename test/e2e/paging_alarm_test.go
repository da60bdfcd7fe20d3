package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/notify"
)

// pagingAlertJSON is an incident's paging_alert as the API shows it.
type pagingAlertJSON struct {
	Kind   string    `json:"kind"`
	Reason string    `json:"reason"`
	Since  time.Time `json:"since"`
}

// TestPagingAlarmEndToEnd runs an escalation policy to its end with nobody
// acknowledging, on a fake clock: the incident's paging_alert says so in
// plain words (API), the incident page opens with the banner above
// everything else and the home page marks the incident, the Security
// Officer's webhook is told once and one officer alert is raised, the
// person paged hears "unacknowledged" on their webhook; acknowledging ends
// it all. A second incident whose one responder's webhook answers 410
// (refused for good) raises the "reached nobody" alarm.
func TestPagingAlarmEndToEnd(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, url string) {
		chat := startChat(t)
		clk := clock.NewFake(time.Now())
		data := t.TempDir()
		w := startWardAt(t, data, url, func(e *app.Env) {
			e.Clock = clk
			e.Args = append(e.Args, "--paging-poll", "50ms")
		}, allowLoopback)
		// The sign-in's authenticator code is made at the real time: under
		// -race on a loaded machine the fake clock falls behind it.
		clk.Set(time.Now())
		officer := signInAs(t, w, authz.RoleSecurityOfficer, "olga")
		newResponder(t, data, url, "alice")
		for _, c := range []struct{ user, path string }{{"alice", "/alice"}, {"olga", "/olga"}} {
			w.must(201, "POST", "/api/v1/users/"+c.user+"/contact-methods", map[string]any{"kind": "webhook", "address": chat.URL + c.path}, nil)
			eventually(t, c.user+"'s webhook verified", func() bool { return len(chat.to(c.path)) == 1 })
		}
		eventually(t, "the webhooks verified", func() bool {
			for _, u := range []string{"alice", "olga"} {
				var cs []struct{ Verified bool }
				w.must(200, "GET", "/api/v1/users/"+u+"/contact-methods", nil, &cs)
				if len(cs) != 1 || !cs[0].Verified {
					return false
				}
			}
			return true
		})
		w.must(201, "POST", "/api/v1/escalation-policies", map[string]any{"name": "storefront", "repeat": 1,
			"steps": []map[string]any{{"delay_minutes": 5, "targets": []map[string]string{{"type": "user", "id": "alice"}}}}}, nil)
		var svc struct{ ID string }
		w.must(201, "POST", "/api/v1/services", map[string]any{"name": "storefront", "escalation_policy": "storefront"}, &svc)
		var ig integrationKey
		w.must(201, "POST", "/api/v1/services/"+svc.ID+"/integrations", map[string]any{"kind": "events_v2", "name": "mon"}, &ig)
		if code, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger","dedup_key":"s1",
			"payload":{"summary":"Checkout down","source":"web1","severity":"critical"}}`, nil); code != 202 {
			t.Fatalf("trigger: %d %s", code, body)
		}
		inc := w.alerts("service=" + svc.ID)[0].IncidentNumber
		type incidentView struct {
			PagingAlert *pagingAlertJSON `json:"paging_alert"`
		}
		get := func() incidentView {
			var v incidentView
			w.must(200, "GET", "/api/v1/incidents/"+inc, nil, &v)
			return v
		}
		eventually(t, "the first page", func() bool { return len(chat.to("/alice")) >= 2 })
		clk.Advance(5 * time.Minute)
		eventually(t, "the repeat", func() bool { return hasStatus(chat.to("/alice"), "escalated to step 1 of 1, repeat 1") })
		if v := get(); v.PagingAlert != nil {
			t.Fatalf("an alert while the policy runs: %+v", v.PagingAlert)
		}
		clk.Advance(5 * time.Minute)
		eventually(t, "the end of the policy", func() bool { return get().PagingAlert != nil })
		a := get().PagingAlert
		if a.Kind != "unacknowledged" || a.Reason != "Nobody has acknowledged this page: the escalation policy storefront ran every step twice." ||
			a.Since.IsZero() {
			t.Fatalf("paging_alert: %+v", a)
		}
		var list struct{ Items []incidentView }
		w.must(200, "GET", "/api/v1/incidents?status=detected", nil, &list)
		if len(list.Items) != 1 || list.Items[0].PagingAlert == nil || *list.Items[0].PagingAlert != *a {
			t.Fatalf("the list: %+v", list.Items)
		}
		// find is the first request to path whose payload is of kind; under
		// -race a slow answer may make Ward send a message twice (the
		// receiver deduplicates on its id), so count nothing by position.
		find := func(path, kind string) *notify.WebhookPayload {
			for _, r := range chat.to(path) {
				var p notify.WebhookPayload
				if json.Unmarshal(r.body, &p) == nil && p.Kind == kind {
					return &p
				}
			}
			return nil
		}
		eventually(t, "the officer and alice told", func() bool {
			return find("/olga", "paging_failed") != nil && hasStatus(chat.to("/alice"), "unacknowledged")
		})
		if told := find("/olga", "paging_failed"); told.Incident != inc || told.Status != "nobody acknowledged the page" {
			t.Fatalf("the officer's message: %+v", told)
		}
		if !hasStatus(chat.to("/alice"), "unacknowledged by anyone: the escalation policy ran out") {
			t.Fatalf("alice heard no unacknowledged status notification")
		}
		var alerts struct {
			Items []struct {
				Kind           string `json:"kind"`
				IncidentNumber string `json:"incident_number"`
			} `json:"items"`
		}
		code, out, errs := w.run("token", "create", "--name", "so", "--role", "security_officer")
		if code != 0 {
			t.Fatalf("token: %s", errs)
		}
		soToken := strings.TrimSpace(out)
		officerAlerts := func() int {
			t.Helper()
			alerts.Items = nil
			if code, raw := w.doAs(soToken, "GET", "/api/v1/officer-alerts", nil, &alerts); code != http.StatusOK {
				t.Fatalf("officer alerts: %d %.300s", code, raw)
			}
			n := 0
			for _, x := range alerts.Items {
				if x.Kind == "paging_failed" && x.IncidentNumber == inc {
					n++
				}
			}
			return n
		}
		if n := officerAlerts(); n != 1 {
			t.Fatalf("%d officer alerts, want 1: %+v", n, alerts.Items)
		}

		// The incident page opens with the banner, before the phases and
		// far above the timeline; the home page marks the incident.
		code, page := officer.send("GET", "/incidents/"+inc, nil)
		banner := strings.Index(page, `id="nobody-acknowledged"`)
		if code != http.StatusOK || banner < 0 || banner > strings.Index(page, `class="phases"`) ||
			banner > strings.Index(page, `class="timeline"`) || !strings.Contains(page, `role="alert" id="nobody-acknowledged"`) ||
			!strings.Contains(page, "Nobody has acknowledged this page: the escalation policy storefront ran every step twice. Page again from step 1, page someone by hand, or acknowledge.") {
			t.Fatalf("the incident page (banner at %d): %.3000s", banner, page)
		}
		if _, home := officer.send("GET", "/", nil); !strings.Contains(home, `<a href="/incidents/`+inc+`">`+inc+`</a> <span class="tag paging-alarm">Nobody acknowledged</span>`) ||
			!strings.Contains(home, `id="officer-paging"`) {
			t.Fatalf("the home page: %.3000s", home)
		}

		w.must(200, "POST", "/api/v1/incidents/"+inc+"/page/acknowledge", nil, nil)
		if v := get(); v.PagingAlert != nil {
			t.Fatalf("after acknowledging: %+v", v.PagingAlert)
		}
		if _, page := officer.send("GET", "/incidents/"+inc, nil); strings.Contains(page, `id="nobody-acknowledged"`) {
			t.Fatal("the banner stays after acknowledging")
		}

		// A webhook that refuses for good: the page reached nobody.
		newResponder(t, data, url, "bob")
		w.must(201, "POST", "/api/v1/users/bob/contact-methods", map[string]any{"kind": "webhook", "address": chat.URL + "/bob"}, nil)
		eventually(t, "bob's webhook verified", func() bool {
			var cs []struct{ Verified bool }
			w.must(200, "GET", "/api/v1/users/bob/contact-methods", nil, &cs)
			return len(cs) == 1 && cs[0].Verified
		})
		chat.set(http.StatusGone, nil)
		w.must(201, "POST", "/api/v1/escalation-policies", map[string]any{"name": "billing",
			"steps": []map[string]any{{"delay_minutes": 5, "targets": []map[string]string{{"type": "user", "id": "bob"}}}}}, nil)
		w.must(201, "POST", "/api/v1/services", map[string]any{"name": "billing", "escalation_policy": "billing"}, &svc)
		w.must(201, "POST", "/api/v1/services/"+svc.ID+"/integrations", map[string]any{"kind": "events_v2", "name": "mon"}, &ig)
		if code, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger","dedup_key":"b1",
			"payload":{"summary":"Invoices stuck","source":"b1","severity":"critical"}}`, nil); code != 202 {
			t.Fatalf("trigger: %d %s", code, body)
		}
		inc = w.alerts("service=" + svc.ID)[0].IncidentNumber
		eventually(t, "the page failed for good", func() bool { return get().PagingAlert != nil })
		if a := get().PagingAlert; a.Kind != "unreachable" ||
			a.Reason != "The page reached nobody: step 1 of 1 of the escalation policy billing paged no one: every message failed." {
			t.Fatalf("paging_alert: %+v", a)
		}
		if n := officerAlerts(); n != 1 {
			t.Fatalf("%d officer alerts about %s, want 1", n, inc)
		}
	})
}

// hasStatus reports whether one of rs is a page status notification
// whose status starts with status.
func hasStatus(rs []hookRequest, status string) bool {
	for _, r := range rs {
		var p notify.WebhookPayload
		if json.Unmarshal(r.body, &p) == nil && p.Kind == "page_status" && strings.HasPrefix(p.Status, status) {
			return true
		}
	}
	return false
}
