package e2e

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/wardhq/ward/internal/authz"
)

// TestUIRoleNavigation: each role's menu, in grouped sections, links only
// to what that role uses: a stakeholder and an auditor see no set-up
// pages and no "Record incident", a responder no audit trail, only an
// administrator the users. A Privacy Officer's home page lists their
// breach cases with the next deadline, the overdue case first. Read in
// Chromium, on both databases.
func TestUIRoleNavigation(t *testing.T) {
	t.Parallel()
	eachDB(t, testUIRoleNavigation)
}

func testUIRoleNavigation(t *testing.T, w *ward) {
	// A recent case, recorded first, and one found 70 days ago, whose
	// 60-day notices are overdue.
	var recent, late incidentJSON
	for _, c := range []struct {
		inc  *incidentJSON
		days int
	}{{&recent, 2}, {&late, 70}} {
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Misdirected fax", "category": "unauthorized_access_disclosure",
			"phi_suspected": true}, c.inc)
		base := "/api/v1/incidents/" + c.inc.ID + "/breach-case"
		w.must(http.StatusOK, "GET", base, nil, nil)
		found := time.Now().UTC().Add(-time.Duration(c.days) * 24 * time.Hour).Truncate(time.Second)
		w.must(http.StatusOK, "PUT", base+"/facts", map[string]any{"role": "covered_entity", "discovered_at": found,
			"should_have_known_at": found, "individuals": 12}, nil)
	}

	setup := []string{"/services", "/schedules", "/escalation-policies", "/stakeholders", "/rules"}
	for _, c := range []struct {
		role          authz.Role
		want, notWant []string
	}{
		{authz.RoleStakeholder, []string{"/", "/incidents", "/breach/deadlines"},
			append([]string{"/alerts", "/incidents/new", "/audit", "/breach/log", "/admin/users", "/admin/retention"}, setup...)},
		{authz.RoleAuditor, []string{"/", "/incidents", "/alerts", "/breach/deadlines", "/breach/log", "/audit", "/admin/retention"},
			append([]string{"/incidents/new", "/admin/users"}, setup...)},
		{authz.RoleResponder, append([]string{"/", "/incidents", "/alerts", "/incidents/new", "/breach/deadlines"}, setup...),
			[]string{"/audit", "/breach/log", "/admin/users", "/admin/retention"}},
		{authz.RolePrivacyOfficer, append([]string{"/incidents/new", "/breach/log", "/audit", "/org-profile"}, setup...),
			[]string{"/admin/users"}},
		{authz.RoleAdmin, append([]string{"/incidents/new", "/admin/users", "/admin/retention", "/org-profile"}, setup...),
			[]string{"/audit"}},
	} {
		ctx, _ := browserAs(t, w, c.role, "nav-"+strings.ReplaceAll(string(c.role), "_", "-"))
		var links []string
		var groups int
		run(t, ctx, "read "+string(c.role)+"'s menu", chromedp.Navigate(w.url+"/"), chromedp.WaitVisible("header.top nav", chromedp.ByQuery),
			chromedp.Evaluate(`Array.from(document.querySelectorAll("header.top nav a")).map(a => a.getAttribute("href"))`, &links),
			chromedp.Evaluate(`document.querySelectorAll("header.top nav .nav-group").length`, &groups))
		for _, l := range c.want {
			if !slices.Contains(links, l) {
				t.Errorf("%s's menu lacks %s: %v", c.role, l, links)
			}
		}
		for _, l := range c.notWant {
			if slices.Contains(links, l) {
				t.Errorf("%s's menu links to %s, which the role does not use: %v", c.role, l, links)
			}
		}
		if groups < 2 {
			t.Errorf("%s's menu has %d sections, want it grouped", c.role, groups)
		}

		if c.role != authz.RolePrivacyOfficer {
			continue
		}
		var heading string
		var rows []string
		run(t, ctx, "read the Privacy Officer's home page", chromedp.WaitVisible("#breach-cases", chromedp.ByQuery),
			chromedp.Text("#cases-h", &heading, chromedp.ByQuery), texts("#breach-cases tbody tr", &rows))
		if heading != "Your breach cases" || len(rows) != 2 {
			t.Fatalf("home page: heading %q, cases %q; want both cases", heading, rows)
		}
		if !strings.Contains(rows[0], late.Number) || !strings.Contains(rows[0], "overdue") ||
			!strings.Contains(rows[1], recent.Number) || strings.Contains(rows[1], "overdue") {
			t.Errorf("home page cases %q: want %s, overdue, first, then %s", rows, late.Number, recent.Number)
		}
	}
}
