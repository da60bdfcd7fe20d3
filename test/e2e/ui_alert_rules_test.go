package e2e

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wardhq/ward/internal/authz"
)

// flashSays waits for the flash of the page a form sent the browser to,
// not the one of the page it was sent from.
func flashSays(text string) chromedp.Action {
	return chromedp.WaitVisible(`//div[contains(@class, "flash")][contains(., "`+text+`")]`, chromedp.BySearch)
}

// TestUIAlertRulesBrowser: an administrator adds an alert rule from the
// rules page in a browser (a bad expression is refused beside its field,
// what was typed kept), edits it, tries an expression on the rule's own
// page (saving nothing), disables it and deletes it; a responder
// without the permission sees the rules but none of the forms, and a
// POST of theirs is refused.
func TestUIAlertRulesBrowser(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var web struct{ ID string }
		w.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "web"}, &web)
		var ig integrationKey
		w.must(http.StatusCreated, "POST", "/api/v1/services/"+web.ID+"/integrations", map[string]any{"kind": "events_v2", "name": "mon"}, &ig)
		for i, summary := range []string{"disk full on db1", "disk full on db2", "cpu hot"} {
			if code, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger","dedup_key":"k`+strconv.Itoa(i)+`",
				"payload":{"summary":"`+summary+`","source":"host","severity":"error"}}`, nil); code != http.StatusAccepted {
				t.Fatalf("trigger: %d %s", code, body)
			}
		}
		eventually(t, "three alerts recorded", func() bool {
			var as []struct{ ID string }
			w.must(http.StatusOK, "GET", "/api/v1/alerts", nil, &as)
			return len(as) == 3
		})
		var dry struct {
			Checked, Matched int
			Examples         []struct{ Summary string }
		}
		w.must(http.StatusOK, "POST", "/api/v1/alert-rules/dry-run", map[string]any{"expression": `alert.summary.contains("disk")`}, &dry)
		if dry.Checked != 3 || dry.Matched != 2 || len(dry.Examples) != 2 || !strings.Contains(dry.Examples[0].Summary, "disk full") {
			t.Fatalf("the API's dry run: %+v", dry)
		}
		var storage struct{ ID string }
		w.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "storage"}, &storage)
		ctx, _ := browserAs(t, w, authz.RoleAdmin, "ar-admin")

		var errText, name string
		run(t, ctx, "a bad expression", chromedp.Navigate(w.url+"/rules"),
			chromedp.WaitVisible("#new-alert-rule", chromedp.ByQuery),
			chromedp.SetValue(`form[action="/alert-rules"] #name`, "quiet disks", chromedp.ByQuery),
			chromedp.SetValue(`form[action="/alert-rules"] #expression`, `alert.title == "x"`, chromedp.ByQuery),
			chromedp.Click(`form[action="/alert-rules"] #suppress`, chromedp.ByQuery),
			chromedp.Click(`form[action="/alert-rules"] button[type=submit]`, chromedp.ByQuery),
			chromedp.WaitVisible("#expression-error", chromedp.ByQuery),
			chromedp.Text("#expression-error", &errText, chromedp.ByQuery),
			chromedp.Value(`form[action="/alert-rules"] #name`, &name, chromedp.ByQuery))
		if !strings.Contains(errText, "title") || name != "quiet disks" {
			t.Fatalf("bad expression: error %q, name kept %q", errText, name)
		}

		var tried, example string
		run(t, ctx, "try it",
			chromedp.SetValue(`form[action="/alert-rules"] #expression`, `alert.summary.contains("disk")`, chromedp.ByQuery),
			chromedp.Click(`form[action="/alert-rules"] button[formaction="/alert-rules/dry-run"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`//p[contains(., "It would have matched")]`, chromedp.BySearch),
			chromedp.Text(`//p[contains(., "It would have matched")]`, &tried, chromedp.BySearch),
			chromedp.Text(`//caption[contains(., "newest alerts it matched")]/..//tbody`, &example, chromedp.BySearch),
			chromedp.Value(`form[action="/alert-rules"] #name`, &name, chromedp.ByQuery))
		if !strings.Contains(tried, "matched 2 of the last 3 alerts") || !strings.Contains(example, "disk full on db2") || name != "quiet disks" {
			t.Fatalf("try it: %q, examples %q, name kept %q", tried, example, name)
		}
		if acts := auditActions(t, w, roleToken(t, w, "ar-auditor", "auditor"), "alert_rule.dry_run"); len(acts) != 2 {
			t.Errorf("dry runs audited: %v, want 2 (the API's and the form's)", acts)
		}

		var facts string
		run(t, ctx, "add the rule",
			chromedp.SetValue(`form[action="/alert-rules"] #severity`, "warning", chromedp.ByQuery),
			chromedp.SetValue(`form[action="/alert-rules"] #tags`, "disk, noisy", chromedp.ByQuery),
			chromedp.Click(`form[action="/alert-rules"] button[type=submit]`, chromedp.ByQuery),
			flashSays("Alert rule created"), chromedp.Text("#rule-h + dl", &facts, chromedp.ByQuery))
		if !strings.Contains(facts, "suppress it") || !strings.Contains(facts, "tag it disk, noisy") {
			t.Fatalf("the new rule's page: %q", facts)
		}
		var rs []struct {
			ID, Name string
			Enabled  bool
			Actions  []struct{ Type, Service string }
		}
		w.must(http.StatusOK, "GET", "/api/v1/alert-rules", nil, &rs)
		if len(rs) != 1 || rs[0].Name != "quiet disks" || !rs[0].Enabled || len(rs[0].Actions) != 3 {
			t.Fatalf("after the form: %+v", rs)
		}
		rulePath := "/alert-rules/" + rs[0].ID

		var both string
		run(t, ctx, "route and suppress at once",
			chromedp.SetValue(`form[action$="/edit"] #route`, storage.ID, chromedp.ByQuery),
			chromedp.Click(`form[action$="/edit"] button[type=submit]`, chromedp.ByQuery),
			chromedp.WaitVisible(`form[action$="/edit"] .field-error`, chromedp.ByQuery),
			chromedp.Text(`form[action$="/edit"] .field-error`, &both, chromedp.ByQuery))
		if !strings.Contains(both, "cannot route") {
			t.Fatalf("route with suppress: %q", both)
		}
		run(t, ctx, "edit: route instead of suppress",
			chromedp.Click(`form[action$="/edit"] #suppress`, chromedp.ByQuery),
			chromedp.Click(`form[action$="/edit"] button[type=submit]`, chromedp.ByQuery),
			flashSays("Alert rule saved"), chromedp.Text("#rule-h + dl", &facts, chromedp.ByQuery))
		if !strings.Contains(facts, "send it to the service storage") || strings.Contains(facts, "suppress") {
			t.Fatalf("after the edit: %q", facts)
		}

		// The rule's own page tries the edited expression and saves
		// nothing: the rule keeps its expression.
		var triedRule, ruleExpr string
		run(t, ctx, "try it on the rule's page",
			chromedp.SetValue(`form[action$="/edit"] #expression`, `alert.summary.contains("cpu")`, chromedp.ByQuery),
			chromedp.Click(`form[action$="/edit"] button[formaction$="/dry-run"]`, chromedp.ByQuery),
			chromedp.WaitVisible(`//p[contains(., "It would have matched")]`, chromedp.BySearch),
			chromedp.Text(`//p[contains(., "It would have matched")]`, &triedRule, chromedp.BySearch),
			chromedp.Value(`form[action$="/edit"] #expression`, &ruleExpr, chromedp.ByQuery))
		if !strings.Contains(triedRule, "matched 1 of the last 3 alerts") || ruleExpr != `alert.summary.contains("cpu")` {
			t.Fatalf("try it on the rule's page: %q, expression kept %q", triedRule, ruleExpr)
		}
		var kept struct{ Expression string }
		w.must(http.StatusOK, "GET", "/api/v1/alert-rules/"+rs[0].ID, nil, &kept)
		if kept.Expression != `alert.summary.contains("disk")` {
			t.Fatalf("trying it changed the rule: %q", kept.Expression)
		}

		run(t, ctx, "disable", chromedp.Navigate(w.url+rulePath), chromedp.WaitVisible(`form[action$="/enabled"]`, chromedp.ByQuery),
			chromedp.Click(`form[action$="/enabled"] button`, chromedp.ByQuery),
			flashSays("Alert rule disabled"), chromedp.Text("#rule-h + dl", &facts, chromedp.ByQuery))
		w.must(http.StatusOK, "GET", "/api/v1/alert-rules", nil, &rs)
		if !strings.Contains(facts, "Disabled") || len(rs) != 1 || rs[0].Enabled {
			t.Fatalf("after disabling: %q %+v", facts, rs)
		}

		reader := signInAs(t, w, authz.RoleResponder, "ar-reader")
		code, page := reader.send("GET", rulePath, nil)
		if code != http.StatusOK || !strings.Contains(page, "quiet disks") || strings.Contains(page, `action="`+rulePath+`/edit"`) ||
			strings.Contains(page, `/delete"`) {
			t.Fatalf("a responder's view of the rule: %d %.2000s", code, page)
		}
		if code, _ := reader.send("POST", rulePath+"/delete", url.Values{}); code != http.StatusForbidden {
			t.Fatalf("a responder deleting: %d, want 403", code)
		}

		run(t, ctx, "delete", chromedp.Navigate(w.url+rulePath), chromedp.WaitVisible(`form[action$="/delete"]`, chromedp.ByQuery),
			chromedp.Click(`form[action$="/delete"] button`, chromedp.ByQuery),
			flashSays("Alert rule deleted"))
		w.must(http.StatusOK, "GET", "/api/v1/alert-rules", nil, &rs)
		if len(rs) != 0 {
			t.Fatalf("after deleting: %+v", rs)
		}
	})
}
