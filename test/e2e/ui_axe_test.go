package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/authz"
)

// AxeEnv names the axe-core script (axe.min.js) the accessibility test
// injects. .ci/run installs axe-core from npm outside the repository at
// test time and sets it; it is never committed.
const AxeEnv = "WARD_AXE_JS"

// axeSource is the axe-core script, skipping the test (or failing it, in
// CI) when there is none.
func axeSource(t *testing.T) string {
	t.Helper()
	path := os.Getenv(AxeEnv)
	if path == "" {
		if os.Getenv(BrowserRequiredEnv) == "1" {
			t.Fatalf("%s is not set, and %s=1: .ci/run installs axe-core from npm", AxeEnv, BrowserRequiredEnv)
		}
		t.Skipf("%s is not set: npm install axe-core and point it at axe.min.js to run the accessibility test", AxeEnv)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s: %v", AxeEnv, err)
	}
	return string(src)
}

// axeViolation is what axe-core reports of one rule a page breaks.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	} `json:"nodes"`
}

// axeRun checks the page the browser shows with axe-core (WCAG 2.x A and
// AA rules) and returns its serious and critical violations.
func axeRun(t *testing.T, ctx context.Context, src, page string) []axeViolation {
	t.Helper()
	var all []axeViolation
	run(t, ctx, "axe "+page, chromedp.Evaluate(src, nil),
		chromedp.Evaluate(`axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
			resultTypes: ["violations"]}).then(r => r.violations)`, &all,
			func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) }))
	var out []axeViolation
	for _, v := range all {
		if v.Impact == "serious" || v.Impact == "critical" {
			out = append(out, v)
		}
	}
	return out
}

// ScreenshotEnv names the folder where the UI tests save screenshots of
// the pages they check; .ci/run sets it to ci-artifacts/screenshots in
// the checkout (the README names it).
const ScreenshotEnv = "WARD_SCREENSHOT_DIR"

// screenWidths are a laptop's and a phone's: each page is checked and
// photographed at both.
var screenWidths = []int64{1366, 390}

// atWidths lays the page the browser shows out at a laptop's and a
// phone's width: at each, nothing may make the page itself scroll
// sideways (a wide table scrolls inside its panel), and, on SQLite, when
// ScreenshotEnv is set, the whole page is saved as a PNG named after the
// viewer, the page and the width. The viewport is a laptop's again after.
func atWidths(t *testing.T, ctx context.Context, w *ward, who, page string) {
	t.Helper()
	dir := os.Getenv(ScreenshotEnv)
	for _, width := range screenWidths {
		var over int
		var shot []byte
		actions := []chromedp.Action{chromedp.EmulateViewport(width, 900),
			chromedp.Evaluate(`document.documentElement.scrollWidth - document.documentElement.clientWidth`, &over)}
		if dir != "" && w.dbURL == "" {
			actions = append(actions, chromedp.FullScreenshot(&shot, 100))
		}
		run(t, ctx, fmt.Sprintf("%s at %d px", page, width), actions...)
		if over > 0 {
			t.Errorf("%s, %s at %d px: the page scrolls sideways by %d px", who, page, width, over)
		}
		if shot != nil {
			name := fmt.Sprintf("%s%s-%d.png", who, page, width)
			name = strings.Trim(regexp.MustCompile(`[^A-Za-z0-9.-]+`).ReplaceAllString(strings.ToLower(name), "-"), "-")
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, name), shot, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	run(t, ctx, "back to a laptop's width", chromedp.EmulateViewport(screenWidths[0], 900))
}

// privacyOfficerPages are the main pages a Privacy Officer works in, with
// the seeded breach cases (the determination wizard's on the small one,
// which is still to be signed): the accessibility test checks them and
// the page benchmark times them.
func privacyOfficerPages(c plainCase) []string {
	return []string{"/", "/incidents", "/incidents/" + c.number, "/incidents/" + c.number + "/breach",
		"/incidents/" + c.small + "/breach/determine", "/incidents/" + c.small + "/breach/determine?step=factor1",
		"/incidents/" + c.small + "/breach/determine?step=conclusion", "/incidents/" + c.small + "/breach/determine?step=sign",
		"/incidents/" + c.number + "/breach/individuals", "/incidents/" + c.number + "/notices",
		"/incidents/" + c.number + "/breach/hhs-report", "/breach/deadlines", "/breach/log", "/audit", "/alerts", "/profile",
		"/notice-templates", "/org-profile", "/stakeholders/contacts", "/stakeholders/contacts/" + c.contact,
		"/incidents/" + c.review, "/action-items", "/stakeholders/templates", "/stakeholders/templates/" + c.template,
		"/tasks/mine", "/drills", "/playbooks", "/playbooks/lost_device",
		"/incidents/" + c.small, "/incidents/" + c.small + "/breach/determine?step=secured"}
}

// adminPages are the set-up pages an administrator works in.
var adminPages = []string{"/services", "/escalation-policies", "/schedules", "/stakeholders", "/rules",
	"/admin/users", "/admin/retention", "/incidents/new", "/playbooks/lost_device"}

// TestUIAccessibility opens the main pages of a seeded instance in
// headless Chromium, as a Privacy Officer and as an administrator, and
// the sign-in page signed out, and checks each with axe-core: no serious
// or critical violation of WCAG 2.1 A and AA. Each page is also laid
// out at a phone's width without sideways scrolling, and photographed
// (atWidths).
func TestUIAccessibility(t *testing.T) {
	t.Parallel()
	src := axeSource(t)
	eachDB(t, func(t *testing.T, w *ward) {
		c := seedPlainInstance(t, w)
		check := func(ctx context.Context, who string, pages []string) {
			t.Helper()
			for _, p := range pages {
				run(t, ctx, "open "+p, chromedp.Navigate(w.url+p), chromedp.WaitVisible("h1", chromedp.ByQuery))
				for _, v := range axeRun(t, ctx, src, p) {
					var where []string
					for i, n := range v.Nodes {
						if i == 3 {
							where = append(where, fmt.Sprintf("and %d more", len(v.Nodes)-3))
							break
						}
						where = append(where, fmt.Sprintf("%v %.120s", n.Target, n.HTML))
					}
					t.Errorf("%s, %s: %s (%s, %s): %s", who, p, v.Help, v.ID, v.Impact, strings.Join(where, "; "))
				}
				atWidths(t, ctx, w, who, p)
			}
		}
		po, _ := browserAs(t, w, authz.RolePrivacyOfficer, "axe-privacy")
		check(po, "Privacy Officer", privacyOfficerPages(c))
		admin, _ := browserAs(t, w, authz.RoleAdmin, "axe-admin")
		check(admin, "Administrator", append(slices.Clone(adminPages), "/alert-rules/"+c.alertRule))
		out := browser(t, chromium(t))
		check(out, "signed out", []string{"/login", c.publicPage, c.invitePage})
	})
}

// TestStatusPageCodeAccessibility opens, in headless Chromium and signed
// out, the pages a subscriber meets on their status page link: the page
// asking to email a code, the same with the code's field once it is
// sent, a wrong code refused beside the field, and the status page the
// right code opens; then the organisation's public status page. Each is
// checked with axe-core and laid out at a phone's width, like
// TestUIAccessibility's pages.
func TestStatusPageCodeAccessibility(t *testing.T) {
	t.Parallel()
	src := axeSource(t)
	eachDBURL(t, func(t *testing.T, dbURL string) {
		mail := startMailbox(t)
		w := startWardAt(t, t.TempDir(), dbURL, func(e *app.Env) {
			e.Args = append(e.Args, "--smtp-server", mail.addr, "--smtp-from", "ward@example.org", "--smtp-ca-file", mail.caFile,
				"--paging-poll", "50ms")
		})
		w.must(http.StatusOK, "PUT", "/api/v1/org-profile", map[string]any{"name": "Acme Billing", "address": map[string]any{}, "contact": map[string]any{}}, nil)
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Export exposed", "severity": "sev2"}, &inc)
		var c struct{ ID string }
		addr := "dana.reyes@mercy.example"
		w.must(http.StatusCreated, "POST", "/api/v1/stakeholder-contacts", map[string]any{"name": "Dana Reyes", "organisation": "Mercy Clinic",
			"email": addr}, &c)
		w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+inc.ID+"/external-subscribers", map[string]any{"contact_id": c.ID}, nil)
		eventually(t, "the confirmation email", func() bool { return len(mailTo(mail, addr)) == 1 })
		if resp, err := w.client.Post(bodyLinks(mailTo(mail, addr)[0])[0], "application/x-www-form-urlencoded", nil); err != nil {
			t.Fatal(err)
		} else {
			resp.Body.Close()
		}
		w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+inc.ID+"/status-updates", map[string]any{"body": "We are containing it.",
			"audience": "public"}, nil)
		eventually(t, "the update email", func() bool { return len(mailTo(mail, addr)) == 2 })
		link := bodyLinks(mailTo(mail, addr)[1])[0]
		page := link[strings.Index(link, "/s/"):]
		ctx := browser(t, chromium(t))
		check := func(what string) {
			t.Helper()
			for _, v := range axeRun(t, ctx, src, what) {
				t.Errorf("%s: %s (%s, %s): %d nodes, first %v", what, v.Help, v.ID, v.Impact, len(v.Nodes), v.Nodes[0].Target)
			}
			atWidths(t, ctx, w, "subscriber", page+" "+what)
		}
		run(t, ctx, "open the link", chromedp.Navigate(w.url+page), chromedp.WaitVisible("h1", chromedp.ByQuery))
		check("asking for a code")
		run(t, ctx, "ask for a code", chromedp.Click(`form button[type="submit"]`, chromedp.ByQuery), chromedp.WaitVisible("#code", chromedp.ByQuery))
		check("the code's field")
		eventually(t, "the code's email", func() bool { return len(mailTo(mail, addr)) == 3 })
		code := regexp.MustCompile(`is:\r\n\r\n(\d{6})\r\n`).FindStringSubmatch(mailTo(mail, addr)[2])[1]
		wrong := "000000"
		if code == wrong {
			wrong = "111111"
		}
		run(t, ctx, "enter a wrong code", chromedp.SendKeys("#code", wrong, chromedp.ByQuery), chromedp.Submit("#code", chromedp.ByQuery),
			chromedp.WaitVisible("#code-error", chromedp.ByQuery))
		check("a wrong code")
		run(t, ctx, "enter the right code", chromedp.SendKeys("#code", code, chromedp.ByQuery),
			chromedp.Submit("#code", chromedp.ByQuery), chromedp.WaitVisible(".update-text", chromedp.ByQuery))
		check("the status page")
		// The organisation's public status page, listing the incident.
		w.must(http.StatusOK, "PUT", "/api/v1/incidents/"+inc.ID+"/public-status-page", map[string]any{"enabled": true}, nil)
		w.must(http.StatusOK, "PUT", "/api/v1/public-status-page", map[string]any{"enabled": true}, nil)
		page = "/status"
		run(t, ctx, "open the organisation's page", chromedp.Navigate(w.url+page), chromedp.WaitVisible(".update-text", chromedp.ByQuery))
		check("the organisation's public status page")
	})
}
