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

// TestEscalateRepageEndToEnd presses "Escalate now" and "Page again"
// through the API and the UI, on a fake clock: escalating pages step 2 at
// once, each page carrying its notification id, and those paged before
// hear who escalated; escalating the last step is a 409 in plain words;
// once nobody acknowledged, the banner offers "Page again" (and no
// "Escalate now", there being no next step), which pages step 1 again,
// ends the banner and says so in a flash; the audit trail names both in
// words; a resolved page refuses both; the auditor may press neither.
func TestEscalateRepageEndToEnd(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, url string) {
		chat := startChat(t)
		clk := clock.NewFake(time.Now())
		data := t.TempDir()
		w := startWardAt(t, data, url, func(e *app.Env) {
			e.Clock = clk
			e.Args = append(e.Args, "--paging-poll", "50ms")
		}, allowLoopback)
		clk.Set(time.Now())
		officer := signInAs(t, w, authz.RoleSecurityOfficer, "olga")
		auditor := signInAs(t, w, authz.RoleAuditor, "ada")
		for _, u := range []string{"alice", "bob"} {
			newResponder(t, data, url, u)
			w.must(201, "POST", "/api/v1/users/"+u+"/contact-methods", map[string]any{"kind": "webhook", "address": chat.URL + "/" + u}, nil)
			eventually(t, u+"'s webhook verified", func() bool {
				var cs []struct{ Verified bool }
				w.must(200, "GET", "/api/v1/users/"+u+"/contact-methods", nil, &cs)
				return len(cs) == 1 && cs[0].Verified
			})
		}
		w.must(201, "POST", "/api/v1/escalation-policies", map[string]any{"name": "checkout", "steps": []map[string]any{
			{"delay_minutes": 5, "targets": []map[string]string{{"type": "user", "id": "alice"}}},
			{"delay_minutes": 5, "targets": []map[string]string{{"type": "user", "id": "bob"}}}}}, nil)
		var svc struct{ ID string }
		w.must(201, "POST", "/api/v1/services", map[string]any{"name": "checkout", "escalation_policy": "checkout"}, &svc)
		var ig integrationKey
		w.must(201, "POST", "/api/v1/services/"+svc.ID+"/integrations", map[string]any{"kind": "events_v2", "name": "mon"}, &ig)
		if code, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger","dedup_key":"c1",
			"payload":{"summary":"Checkout down","source":"web1","severity":"critical"}}`, nil); code != 202 {
			t.Fatalf("trigger: %d %s", code, body)
		}
		inc := w.alerts("service=" + svc.ID)[0].IncidentNumber
		incPath := "/incidents/" + inc
		// pages is the distinct notification ids of the page messages to
		// path; each must carry its id in the header and the body.
		pages := func(path string) int {
			ids := map[string]bool{}
			for _, r := range chat.to(path) {
				var p notify.WebhookPayload
				if json.Unmarshal(r.body, &p) != nil || p.Kind != "page" {
					continue
				}
				if p.ID == "" || r.header.Get(notify.HeaderNotificationID) != p.ID {
					t.Fatalf("a page to %s without its notification id: header %q, body %q", path, r.header.Get(notify.HeaderNotificationID), p.ID)
				}
				ids[p.ID] = true
			}
			return len(ids)
		}
		eventually(t, "step 1 pages alice", func() bool { return pages("/alice") == 1 })

		// The auditor may press neither, in the API or the UI.
		code, out, errs := w.run("token", "create", "--name", "aud", "--role", string(authz.RoleAuditor))
		if code != 0 {
			t.Fatalf("token: %s", errs)
		}
		for _, action := range []string{"escalate", "repage"} {
			if code, raw := w.doAs(strings.TrimSpace(out), "POST", "/api/v1"+incPath+"/page/"+action, nil, nil); code != http.StatusForbidden {
				t.Fatalf("the auditor's API %s: %d %.300s", action, code, raw)
			}
			if code, _ := auditor.send("POST", incPath+"/page/"+action, nil); code != http.StatusForbidden {
				t.Fatalf("the auditor's UI %s: %d, want 403", action, code)
			}
		}

		// API: escalate now pages step 2 without the clock moving.
		var pg struct {
			Status string `json:"status"`
			Step   int    `json:"step"`
		}
		w.must(200, "POST", "/api/v1"+incPath+"/page/escalate", nil, &pg)
		if pg.Status != "triggered" || pg.Step != 2 {
			t.Fatalf("escalated: %+v", pg)
		}
		eventually(t, "step 2 pages bob", func() bool { return pages("/bob") == 1 })
		code, raw := w.do("POST", "/api/v1"+incPath+"/page/escalate", nil, nil)
		if code != http.StatusConflict || !strings.Contains(string(raw),
			"The page is on the last step of the escalation policy checkout: there is nobody further to escalate to. Page again to start from step 1.") {
			t.Fatalf("escalating the last step: %d %.500s", code, raw)
		}

		// Nobody acknowledges: the banner offers Page again, and no Escalate now.
		clk.Advance(5 * time.Minute)
		var banner string
		eventually(t, "the banner", func() bool {
			_, page := officer.send("GET", incPath, nil)
			start := strings.Index(page, `id="nobody-acknowledged"`)
			if start < 0 {
				return false
			}
			banner = page[start : start+strings.Index(page[start:], "</section>")]
			return true
		})
		if !strings.Contains(banner, `action="`+incPath+`/page/repage"`) || !strings.Contains(banner, "Page again <span") ||
			strings.Contains(banner, "/page/escalate") {
			t.Fatalf("the banner: %s", banner)
		}
		// UI: Page again, Post/Redirect/Get with a flash.
		if code, loc := officer.send("POST", incPath+"/page/repage", nil); code != http.StatusSeeOther ||
			!strings.HasPrefix(loc, incPath+"?msg=page_repaged") {
			t.Fatalf("page again: %d %.300s", code, loc)
		}
		_, page := officer.send("GET", incPath+"?msg=page_repaged", nil)
		if !strings.Contains(page, "Paging again: step 1 of the escalation policy is being paged now.") ||
			strings.Contains(page, `id="nobody-acknowledged"`) {
			t.Fatalf("after paging again: %.4000s", page)
		}
		eventually(t, "step 1 pages alice again", func() bool { return pages("/alice") == 2 })

		// UI: the paging panel's Escalate now.
		if !strings.Contains(page, `action="`+incPath+`/page/escalate"`) || !strings.Contains(page, "Escalate now <span") {
			t.Fatalf("no Escalate now in the paging panel: %.4000s", page)
		}
		if code, loc := officer.send("POST", incPath+"/page/escalate", nil); code != http.StatusSeeOther ||
			!strings.HasPrefix(loc, incPath+"?msg=page_escalated") {
			t.Fatalf("escalate now: %d %.300s", code, loc)
		}
		if _, page := officer.send("GET", incPath+"?msg=page_escalated", nil); !strings.Contains(page,
			"Escalated: the next step of the escalation policy is being paged now.") {
			t.Fatalf("after escalating: %.4000s", page)
		}
		eventually(t, "step 2 pages bob again", func() bool { return pages("/bob") == 2 })
		eventually(t, "alice told who escalated", func() bool { return hasStatus(chat.to("/alice"), "escalated to step 2 of 2 by olga") })

		// The audit trail names both in words, for the incident.
		if _, page := officer.send("GET", "/audit?incident="+inc, nil); !strings.Contains(page, "Escalated a page to the next step") ||
			!strings.Contains(page, "Paged again from step 1") {
			t.Fatalf("the audit trail: %.4000s", page)
		}

		// A resolved page refuses both.
		w.must(200, "POST", "/api/v1"+incPath+"/page/resolve", nil, nil)
		if code, raw := w.do("POST", "/api/v1"+incPath+"/page/escalate", nil, nil); code != http.StatusConflict ||
			!strings.Contains(string(raw), "The page is resolved: there is nothing to escalate.") {
			t.Fatalf("escalating a resolved page: %d %.500s", code, raw)
		}
		if code, page := officer.send("POST", incPath+"/page/repage", nil); code != http.StatusUnprocessableEntity ||
			!strings.Contains(page, "The page is resolved: it cannot be paged again.") {
			t.Fatalf("paging a resolved page again: %d %.4000s", code, page)
		}
	})
}
