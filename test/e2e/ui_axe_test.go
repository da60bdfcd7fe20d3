package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

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

// TestUIAccessibility opens the main pages of a seeded instance in
// headless Chromium, as a Privacy Officer and as an administrator, and
// the sign-in page signed out, and checks each with axe-core: no serious
// or critical violation of WCAG 2.1 A and AA.
func TestUIAccessibility(t *testing.T) {
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
			}
		}
		po, _ := browserAs(t, w, authz.RolePrivacyOfficer, "axe-privacy")
		check(po, "Privacy Officer", []string{"/", "/incidents", "/incidents/" + c.number, "/incidents/" + c.number + "/breach",
			"/incidents/" + c.small + "/breach/determine", "/incidents/" + c.small + "/breach/determine?step=factor1",
			"/incidents/" + c.small + "/breach/determine?step=conclusion", "/incidents/" + c.small + "/breach/determine?step=sign",
			"/incidents/" + c.number + "/breach/individuals", "/incidents/" + c.number + "/notices",
			"/incidents/" + c.number + "/breach/hhs-report", "/breach/deadlines", "/breach/log", "/audit", "/alerts", "/profile",
			"/notice-templates", "/org-profile"})
		admin, _ := browserAs(t, w, authz.RoleAdmin, "axe-admin")
		check(admin, "Administrator", []string{"/services", "/escalation-policies", "/schedules", "/stakeholders", "/rules",
			"/admin/users", "/admin/retention", "/incidents/new"})
		out := browser(t, chromium(t))
		check(out, "signed out", []string{"/login"})
	})
}
