package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/web/ui"
)

// browserAs signs a new user of role in through the sign-in form (as
// signInAs does) and hands the session to a headless Chromium: the browser
// context, and the cookie-keeping client of the same session.
func browserAs(t *testing.T, w *ward, role authz.Role, name string) (context.Context, *browserless) {
	t.Helper()
	path := chromium(t)
	b := signInAs(t, w, role, name)
	base, err := url.Parse(w.url)
	if err != nil {
		t.Fatal(err)
	}
	var session string
	for _, c := range b.c.Jar.Cookies(base) {
		if c.Name == ui.SessionCookie {
			session = c.Value
		}
	}
	if session == "" {
		t.Fatal("no session cookie after signing in")
	}
	ctx := browser(t, path)
	run(t, ctx, "hand the session to the browser", network.SetCookie(ui.SessionCookie, session).WithURL(w.url+"/").
		WithSecure(true).WithHTTPOnly(true).WithPath("/"))
	return ctx, b
}

// texts reads the text of every element matching sel.
func texts(sel string, out *[]string) chromedp.Action {
	return chromedp.Evaluate(fmt.Sprintf(`Array.from(document.querySelectorAll(%q)).map(e => e.textContent.trim())`, sel), out)
}

// TestUIPaginationReachesTheEnd: the "Older …" links of the incident and
// alert lists lead to the next page, keeping the filters, until the last
// item; and the breach log's CSV export holds what the filtered page shows.
// Each link once re-escaped its query ("cursor%3d…"), so the next page was
// the first page again.
func TestUIPaginationReachesTheEnd(t *testing.T) {
	t.Parallel()
	w := startWard(t, "")
	_, ig := w.service("billing", false, "alert", "events_v2", "")
	const alerts = 57
	for i := range alerts {
		ev := fmt.Sprintf(`{"routing_key":%q,"event_action":"trigger","dedup_key":"disk-%d",
			"payload":{"summary":"Disk full %d","source":"db%d","severity":"warning"}}`, ig.Key, i, i, i)
		if code, body := w.post("/v2/enqueue", ev, nil); code != http.StatusAccepted {
			t.Fatalf("alert %d: %d %s", i, code, body)
		}
	}
	w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Lost laptop", "severity": "sev2",
		"phi_suspected": true}, nil)

	ctx, b := browserAs(t, w, authz.RoleSecurityOfficer, "pager-reader")

	// Every incident, page after page, each once.
	walk := func(start, rowSel, older string) []string {
		t.Helper()
		var all []string
		seen := map[string]bool{}
		run(t, ctx, "open "+start, chromedp.Navigate(w.url+start), chromedp.WaitVisible("h1", chromedp.ByQuery))
		for page := 1; ; page++ {
			var rows []string
			run(t, ctx, fmt.Sprintf("read page %d of %s", page, start), texts(rowSel, &rows))
			for _, r := range rows {
				if seen[r] {
					t.Fatalf("page %d of %s repeats %q", page, start, r)
				}
				seen[r] = true
			}
			all = append(all, rows...)
			var n int
			run(t, ctx, "find the older link", chromedp.Evaluate(fmt.Sprintf(`document.querySelectorAll(%q).length`, older), &n))
			if n == 0 {
				return all
			}
			if page > 5 {
				t.Fatalf("%s: still an older page after %d pages", start, page)
			}
			run(t, ctx, "follow the older link", chromedp.Click(older, chromedp.ByQuery), chromedp.WaitVisible("h1", chromedp.ByQuery))
		}
	}
	incidents := walk("/incidents", "main tbody tr td:first-child a", `main p.actions a.button.secondary`)
	if len(incidents) != alerts+1 {
		t.Fatalf("the incident list reached %d incidents, want %d", len(incidents), alerts+1)
	}
	// A filter holds across pages: only the alerts' incidents are sev3 or sev4.
	filtered := walk("/incidents?phi=no", "main tbody tr td:first-child a", `main p.actions a.button.secondary`)
	if len(filtered) != alerts {
		t.Fatalf("the filtered incident list reached %d incidents, want %d", len(filtered), alerts)
	}
	as := walk("/alerts?status=triggered", "main tbody tr td:nth-child(3) a", `main p.actions a.button.secondary`)
	if len(as) != alerts {
		t.Fatalf("the alert list reached %d alerts, want %d", len(as), alerts)
	}

	// The breach log filtered to complete cases (there are none): the
	// export holds no case either.
	var href string
	var ok bool
	run(t, ctx, "filter the breach log", chromedp.Navigate(w.url+"/breach/log?status=complete"),
		chromedp.WaitVisible("h1", chromedp.ByQuery),
		chromedp.AttributeValue(`a[href^="/breach/log.csv"]`, "href", &href, &ok, chromedp.ByQuery))
	code, csv := b.send("GET", href, nil)
	if code != http.StatusOK || strings.Contains(csv, "INC-") {
		t.Fatalf("export %s of a log filtered to complete cases: %d\n%s", href, code, csv)
	}
	if code, csv := b.send("GET", "/breach/log.csv", nil); code != http.StatusOK || !strings.Contains(csv, "INC-") {
		t.Fatalf("the unfiltered export: %d\n%s", code, csv)
	}
}

// TestUIPostRedirectGet: a form answered with a redirect to the page it
// came from, with its message (a reload shows the page again without
// sending the form); opening a form's address (Back, a bookmark) leads to
// its page instead of a bare "Method Not Allowed"; unknown addresses get
// Ward's own 404 page with the menu; other methods a 405 naming the ones
// allowed; the pages carry a favicon. The API keeps its plain answers.
func TestUIPostRedirectGet(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Stolen laptop", "category": "theft"}, &inc)
		w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+inc.ID+"/breach-case", nil, nil)
		ctx, b := browserAs(t, w, authz.RolePrivacyOfficer, "prg-po")
		notices := w.url + "/incidents/" + inc.Number + "/notices"

		var loc, flash string
		run(t, ctx, "save the notice settings", chromedp.Navigate(notices), chromedp.WaitVisible("#entity_name", chromedp.ByQuery),
			chromedp.SendKeys("#entity_name", "Example Health", chromedp.ByQuery), chromedp.Submit("#entity_name", chromedp.ByQuery),
			chromedp.WaitVisible(".flash", chromedp.ByQuery), chromedp.Location(&loc), chromedp.Text(".flash", &flash, chromedp.ByQuery))
		if !strings.HasPrefix(loc, notices+"?") || flash != "Notice settings saved." {
			t.Fatalf("after saving the settings: at %s with %q, want the notices page with its message", loc, flash)
		}
		var entity string
		run(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible("#entity_name", chromedp.ByQuery), chromedp.Location(&loc),
			chromedp.Value("#entity_name", &entity, chromedp.ByQuery))
		if !strings.HasPrefix(loc, notices+"?") || entity != "Example Health" {
			t.Fatalf("after a reload: at %s, entity %q", loc, entity)
		}

		// A form's address opened by itself: its page.
		var h1 string
		run(t, ctx, "open a form's address", chromedp.Navigate(notices+"/generate"), chromedp.WaitVisible("h1", chromedp.ByQuery),
			chromedp.Location(&loc), chromedp.Text("h1", &h1, chromedp.ByQuery))
		if loc != notices || !strings.Contains(h1, inc.Number) {
			t.Fatalf("opening %s/generate: at %s, heading %q; want the notices page", notices, loc, h1)
		}
		// An address that is nothing: Ward's page, with the menu.
		var nav int
		run(t, ctx, "open an unknown address", chromedp.Navigate(w.url+"/no/such/page"), chromedp.WaitVisible("h1", chromedp.ByQuery),
			chromedp.Text("h1", &h1, chromedp.ByQuery), chromedp.Evaluate(`document.querySelectorAll("header.top nav a").length`, &nav))
		if h1 != "Page not found" || nav == 0 {
			t.Fatalf("an unknown address: heading %q, %d menu links", h1, nav)
		}
		var icon string
		var ok bool
		run(t, ctx, "find the favicon", chromedp.AttributeValue(`link[rel="icon"]`, "href", &icon, &ok, chromedp.ByQuery))
		if code, svg := b.send("GET", icon, nil); !ok || code != http.StatusOK || !strings.Contains(svg, "<svg") {
			t.Fatalf("favicon %q: %d", icon, code)
		}
		if code, loc := b.send("GET", "/favicon.ico", nil); code != http.StatusMovedPermanently || !strings.HasPrefix(loc, icon) {
			t.Fatalf("/favicon.ico: %d %.100s", code, loc)
		}

		// Another method: 405 with Allow, a page for a browser.
		req, err := http.NewRequest(http.MethodDelete, w.url+"/alerts", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "text/html")
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" ||
			!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("DELETE /alerts: %d, Allow %q, %s", resp.StatusCode, resp.Header.Get("Allow"), resp.Header.Get("Content-Type"))
		}
		if code, raw := w.do("GET", "/api/v1/no-such-thing", nil, nil); code != http.StatusNotFound || strings.Contains(string(raw), "<html") {
			t.Fatalf("an unknown API path: %d %.200s", code, raw)
		}
		if code, raw := w.do("DELETE", "/api/v1/incidents", nil, nil); code != http.StatusMethodNotAllowed || strings.Contains(string(raw), "<html") {
			t.Fatalf("another method on an API path: %d %.200s", code, raw)
		}
	})
}

// TestUIPHIAlertAsksToClassify: an alert from a service that handles PHI
// (a 5xx rate) opens an incident that is not a presumed breach: no breach
// case, no deadline; its page asks a responder to classify it (an answer
// left out is named beside its question). "PHI involved" marks the
// incident, opens the case, and the case's discovery date is the time
// of the question, not of the answer.
func TestUIPHIAlertAsksToClassify(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Now().Add(-3 * time.Hour).Truncate(time.Second))
	w := startWardAt(t, t.TempDir(), "", func(e *app.Env) { e.Clock = clk })
	_, ig := w.service("patient-portal", true, "alert", "events_v2", "")
	asked := clk.Now()
	ev := `{"routing_key":"` + ig.Key + `","event_action":"trigger","dedup_key":"5xx",
		"payload":{"summary":"5xx rate above 5%","source":"portal","severity":"error"}}`
	if code, body := w.post("/v2/enqueue", ev, nil); code != http.StatusAccepted {
		t.Fatalf("alert: %d %s", code, body)
	}
	as := w.alerts("")
	if len(as) != 1 {
		t.Fatalf("alerts: %+v", as)
	}
	number := as[0].IncidentNumber
	if code, _ := w.do("GET", "/api/v1/incidents/"+number+"/breach-case", nil, nil); code != http.StatusNotFound {
		t.Fatalf("a breach case for an outage alert: %d", code)
	}
	clk.Advance(2 * time.Hour)

	ctx, _ := browserAs(t, w, authz.RoleResponder, "classifier")
	page := w.url + "/incidents/" + number
	var tags, question string
	run(t, ctx, "open the incident", chromedp.Navigate(page), chromedp.WaitVisible("#triage", chromedp.ByQuery),
		chromedp.Text("main > p:nth-of-type(2)", &tags, chromedp.ByQuery), chromedp.Text("#triage", &question, chromedp.ByQuery))
	if strings.Contains(tags, "PHI suspected") || !strings.Contains(question, "patient-portal") || !strings.Contains(question, "Is PHI involved?") {
		t.Fatalf("the incident of a PHI service's alert: tags %q, question %q", tags, question)
	}
	var missing string
	run(t, ctx, "answer one question only", chromedp.Click(`#triage input[name="security_incident"][value="no"]`, chromedp.ByQuery),
		chromedp.Submit(`#triage form`, chromedp.ByQuery), chromedp.WaitVisible("#phi_involved-error", chromedp.ByQuery),
		chromedp.Text("#phi_involved-error", &missing, chromedp.ByQuery))
	if !strings.Contains(missing, "whether PHI is involved") {
		t.Fatalf("the error beside the unanswered question: %q", missing)
	}
	var flash string
	run(t, ctx, "answer: PHI involved", chromedp.Click(`#triage input[name="security_incident"][value="yes"]`, chromedp.ByQuery),
		chromedp.Click(`#triage input[name="phi_involved"][value="yes"]`, chromedp.ByQuery), chromedp.Submit(`#triage form`, chromedp.ByQuery),
		chromedp.WaitVisible(".flash", chromedp.ByQuery), chromedp.Text(".flash", &flash, chromedp.ByQuery),
		chromedp.Text("main > p:nth-of-type(2)", &tags, chromedp.ByQuery))
	if !strings.Contains(flash, "PHI is involved") || !strings.Contains(tags, "PHI suspected") {
		t.Fatalf("after answering: flash %q, tags %q", flash, tags)
	}
	var open int
	run(t, ctx, "the question is gone", chromedp.Evaluate(`document.querySelectorAll("#triage").length`, &open))
	if open != 0 {
		t.Fatal("the question is still asked after its answer")
	}
	var bc struct {
		Facts struct {
			DiscoveredAt time.Time `json:"discovered_at"`
		} `json:"facts"`
	}
	w.must(http.StatusOK, "GET", "/api/v1/incidents/"+number+"/breach-case", nil, &bc)
	if !bc.Facts.DiscoveredAt.Equal(asked) {
		t.Fatalf("the case's discovery date %v, want the time of the question %v", bc.Facts.DiscoveredAt, asked)
	}
}

// TestUINobodyReached: putting a person without a verified contact
// method in a schedule or a policy is saved with a warning (in the API's
// answer and on the page); a page that reached nobody is a loud banner at
// the top of the incident page, not a line at the foot of its timeline;
// and a breach reminder that reached no officer is a banner on the
// officers' pages, not only a line in the server log.
func TestUINobodyReached(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Now())
	w := startWardAt(t, t.TempDir(), "", func(e *app.Env) {
		e.Clock = clk
		e.Args = append(e.Args, "--paging-poll", "50ms", "--breach-reminder-days", "7")
	})
	if code, _, errs := runWardIn(t, w.data, "", uiPassword+"\n", "user", "create", "--username", "bob", "--role", "responder",
		"--password-stdin"); code != 0 {
		t.Fatalf("create bob: %s", errs)
	}
	const warning = "bob has no verified contact method: a page to them reaches nobody"
	var s, p struct {
		ID       string
		Warnings []string
	}
	w.must(http.StatusCreated, "POST", "/api/v1/schedules", map[string]any{"name": "primary", "time_zone": "UTC",
		"rotations": []map[string]any{{"name": "r", "kind": "daily", "shift_length": 1,
			"start": clk.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "participants": []string{"bob"}}}}, &s)
	w.must(http.StatusCreated, "POST", "/api/v1/escalation-policies", map[string]any{"name": "ops",
		"steps": []map[string]any{{"delay_minutes": 5, "targets": []map[string]string{{"type": "user", "id": "bob"}}}}}, &p)
	if len(s.Warnings) != 1 || s.Warnings[0] != warning || len(p.Warnings) != 1 || p.Warnings[0] != warning {
		t.Fatalf("warnings: schedule %q, policy %q", s.Warnings, p.Warnings)
	}
	var svc struct{ ID string }
	w.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "billing", "escalation_policy": "ops"}, &svc)
	var ig integrationKey
	w.must(http.StatusCreated, "POST", "/api/v1/services/"+svc.ID+"/integrations", map[string]any{"kind": "events_v2", "name": "mon"}, &ig)
	if code, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger","dedup_key":"q",
		"payload":{"summary":"Queue stuck","source":"q1","severity":"critical"}}`, nil); code != http.StatusAccepted {
		t.Fatalf("alert: %d %s", code, body)
	}
	number := w.alerts("")[0].IncidentNumber

	// A breach case whose individuals are due in about five days: the
	// 7-day reminder goes to officers, none of whom can be reached.
	var inc incidentJSON
	w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Misdirected fax"}, &inc)
	base := "/api/v1/incidents/" + inc.ID + "/breach-case"
	w.must(http.StatusCreated, "POST", base, nil, nil)
	disc := clk.Now().Add(-55 * 24 * time.Hour).Format(time.RFC3339)
	w.must(http.StatusOK, "PUT", base+"/facts", map[string]any{"role": "covered_entity", "discovered_at": disc,
		"should_have_known_at": disc, "individuals": 12}, nil)
	eventually(t, "the 7-day reminder", func() bool {
		var rs []struct{ Mark string }
		w.must(http.StatusOK, "GET", base+"/reminders", nil, &rs)
		return len(rs) == 1
	})

	// The sign-in's authenticator code is made at the real time: under
	// -race on a loaded machine the fake clock falls behind it by more
	// than a code's window.
	clk.Set(time.Now())
	ctx, _ := browserAs(t, w, authz.RolePrivacyOfficer, "po-unheard")
	var banner string
	var top, timeline float64
	run(t, ctx, "the incident page", chromedp.Navigate(w.url+"/incidents/"+number), chromedp.WaitVisible("#nobody-paged", chromedp.ByQuery),
		chromedp.Text("#nobody-paged", &banner, chromedp.ByQuery),
		chromedp.Evaluate(`document.getElementById("nobody-paged").getBoundingClientRect().top`, &top),
		chromedp.Evaluate(`document.querySelector("ol.timeline").getBoundingClientRect().top`, &timeline))
	if !strings.Contains(banner, "Nobody was paged") || !strings.Contains(banner, "bob has no verified contact method") || top > 600 || top > timeline {
		t.Fatalf("the nobody-paged banner at %v px (timeline at %v): %q", top, timeline, banner)
	}
	var notice string
	run(t, ctx, "the policy page", chromedp.Navigate(w.url+"/escalation-policies/"+p.ID), chromedp.WaitVisible("#unreachable", chromedp.ByQuery),
		chromedp.Text("#unreachable", &notice, chromedp.ByQuery))
	if !strings.Contains(notice, "Pages cannot reach bob") {
		t.Fatalf("the policy page's notice: %q", notice)
	}
	run(t, ctx, "the schedule page", chromedp.Navigate(w.url+"/schedules/"+s.ID), chromedp.WaitVisible("#unreachable", chromedp.ByQuery),
		chromedp.Text("#unreachable", &notice, chromedp.ByQuery))
	if !strings.Contains(notice, "Pages cannot reach bob") {
		t.Fatalf("the schedule page's notice: %q", notice)
	}
	run(t, ctx, "any page of the officer", chromedp.Navigate(w.url+"/incidents"), chromedp.WaitVisible("#unheard", chromedp.ByQuery),
		chromedp.Text("#unheard", &banner, chromedp.ByQuery))
	if !strings.Contains(banner, "reminders reached nobody") || !strings.Contains(banner, inc.Number) {
		t.Fatalf("the unheard reminders banner: %q", banner)
	}
}
