package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
)

var workflowLocRe = regexp.MustCompile(`^/rules/([0-9a-f-]{36})\?msg=workflow_created`)

// TestUIRules drives the workflow-rule pages as a browser would, without
// one, on every database: an administrator's badly typed expression comes
// back beside the expression; a rule adding a task to thefts with PHI
// suspected is created through the form; a dry run against an incident
// recorded through the API before the rule matches, shows what the
// expression saw and adds no task; an incident recorded after it gets the
// task on its page. A rule of four actions made through the API keeps them
// all when saved from its page. A responder sees the list and may dry-run, but is
// offered no form to add a rule and may not post one.
func TestUIRules(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		admin := signInAs(t, w, authz.RoleAdmin, "ui-rules-admin")
		responder := signInAs(t, w, authz.RoleResponder, "ui-rules-responder")

		const expr = `incident.category == "theft" && incident.phi_suspected`
		const task = "Check whether the stolen device was encrypted"
		var sample incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Bag taken at the clinic", "category": "theft",
			"phi_suspected": true}, &sample)

		form := url.Values{"name": {"Stolen PHI"}, "description": {"encryption check"}, "expression": {`incident.alerts == "many"`},
			"enabled": {"on"}, "action0_type": {"add_task"}, "action0_title": {task}}
		code, page := admin.send("POST", "/rules", form)
		if code != http.StatusUnprocessableEntity ||
			!regexp.MustCompile(`<p class="field-error" id="expression-error">[^<]*no matching overload`).MatchString(page) ||
			!strings.Contains(page, `>incident.alerts == &#34;many&#34;</textarea>`) || !strings.Contains(page, `value="`+task+`"`) {
			t.Fatalf("a badly typed expression: %d, want 422 with the error beside the expression and the form kept: %.5000s", code, page)
		}
		form.Set("action1_type", "notify_group")
		form.Set("action1_group", "")
		form.Set("expression", expr)
		code, page = admin.send("POST", "/rules", form)
		if code != http.StatusUnprocessableEntity ||
			!strings.Contains(page, `<p class="field-error" id="action1_group-error">no stakeholder group &#34;&#34;</p>`) {
			t.Fatalf("a notify action without a group: %d, want 422 with the error beside the second row's group: %.5000s", code, page)
		}
		form.Del("action1_type")
		code, loc := admin.send("POST", "/rules", form)
		m := workflowLocRe.FindStringSubmatch(loc)
		if code != http.StatusSeeOther || m == nil {
			t.Fatalf("create rule: %d %.3000s", code, loc)
		}
		rulePath := "/rules/" + m[1]

		code, page = admin.send("GET", "/rules", nil)
		if code != http.StatusOK ||
			!regexp.MustCompile(`<a href="`+rulePath+`">Stolen PHI</a>[\s\S]*?<code class="mono">incident.category == &#34;theft&#34; &amp;&amp; incident.phi_suspected</code>\s*</td>\s*<td>add the task “`+task+`”</td>\s*<td>Yes</td>`).MatchString(page) ||
			!strings.Contains(page, `<a href="/rules" aria-current="page">Rules</a>`) {
			t.Fatalf("the rules list: %d %.6000s", code, page)
		}

		// A dry run on the rule's page, against the incident recorded before it.
		code, page = admin.send("POST", rulePath+"/dry-run", url.Values{"dry_expression": {expr}, "dry_incident": {sample.Number}})
		if code != http.StatusOK || !strings.Contains(page, "<strong>Matches</strong>") ||
			!strings.Contains(page, `<dt>incident.category</dt><dd>&#34;theft&#34;</dd>`) ||
			!strings.Contains(page, `<dt>incident.phi_suspected</dt><dd>true</dd>`) ||
			!strings.Contains(page, `<dt>incident.number</dt><dd>&#34;`+sample.Number+`&#34;</dd>`) {
			t.Fatalf("dry run against %s: %d %.6000s", sample.Number, code, page)
		}
		code, page = admin.send("POST", "/rules/dry-run", url.Values{"dry_expression": {`incident.severity == "sev1"`}, "dry_incident": {sample.Number}})
		if code != http.StatusOK || !strings.Contains(page, "<strong>Does not match</strong>") {
			t.Fatalf("a dry run that does not match: %d %.6000s", code, page)
		}
		code, page = admin.send("POST", "/rules/dry-run", url.Values{"dry_expression": {`incident.severity > 1`}})
		if code != http.StatusUnprocessableEntity ||
			!regexp.MustCompile(`<p class="field-error" id="dry_expression-error">[^<]*no matching overload`).MatchString(page) {
			t.Fatalf("a dry run of a badly typed expression: %d, want 422 with the error beside it: %.6000s", code, page)
		}
		if code, page := admin.send("GET", "/incidents/"+sample.Number, nil); code != http.StatusOK || strings.Contains(page, task) {
			t.Fatalf("the dry run's incident: %d; it must not have the rule's task: %.6000s", code, page)
		}

		// An incident recorded now gets the task.
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Laptop stolen from a car", "category": "theft",
			"phi_suspected": true}, &inc)
		if code, page := admin.send("GET", "/incidents/"+inc.Number, nil); code != http.StatusOK || !strings.Contains(page, task) {
			t.Fatalf("the matching incident: %d, want the rule's task on its page: %.8000s", code, page)
		}

		// The edit form, filled from the rule.
		code, page = admin.send("GET", rulePath, nil)
		if code != http.StatusOK || !strings.Contains(page, `action="`+rulePath+`/edit"`) ||
			!strings.Contains(page, `<option value="add_task" selected>`) || !strings.Contains(page, `name="enabled" checked`) {
			t.Fatalf("the rule's page: %d %.6000s", code, page)
		}

		// A rule of four actions, made through the API, keeps them all when
		// saved from its page.
		var four struct {
			ID      string
			Actions []struct{ Title string }
		}
		tasks := []map[string]any{{"type": "add_task", "title": "one"}, {"type": "add_task", "title": "two"},
			{"type": "add_task", "title": "three"}, {"type": "add_task", "title": "four"}}
		w.must(http.StatusCreated, "POST", "/api/v1/rules", map[string]any{"name": "four", "expression": `incident.alerts > 50`,
			"actions": tasks}, &four)
		if code, page := admin.send("GET", "/rules/"+four.ID, nil); code != http.StatusOK ||
			!strings.Contains(page, `name="action3_title" type="text" value="four"`) || !strings.Contains(page, `name="rows" value="4"`) {
			t.Fatalf("a rule of four actions: %d, want a row for each: %.8000s", code, page)
		}
		edit := url.Values{"rows": {"4"}, "name": {"four"}, "expression": {`incident.alerts > 60`}, "enabled": {"on"}}
		for i, a := range tasks {
			edit.Set(fmt.Sprintf("action%d_type", i), "add_task")
			edit.Set(fmt.Sprintf("action%d_title", i), a["title"].(string))
		}
		if code, loc := admin.send("POST", "/rules/"+four.ID+"/edit", edit); code != http.StatusSeeOther || !strings.Contains(loc, "msg=workflow_saved") {
			t.Fatalf("save the rule of four actions: %d %.3000s", code, loc)
		}
		w.must(http.StatusOK, "GET", "/api/v1/rules/"+four.ID, nil, &four)
		if len(four.Actions) != 4 || four.Actions[3].Title != "four" {
			t.Fatalf("actions after saving from the page: %+v", four.Actions)
		}

		// A responder reads and dry-runs, but may not add rules.
		code, page = responder.send("GET", "/rules", nil)
		if code != http.StatusOK || !strings.Contains(page, `>Stolen PHI</a>`) || strings.Contains(page, `action="/rules"`) ||
			strings.Contains(page, "Add a rule") || !strings.Contains(page, `action="/rules/dry-run"`) {
			t.Fatalf("the rules list as a responder: %d, want the list without the form: %.6000s", code, page)
		}
		if code, page := responder.send("GET", rulePath, nil); code != http.StatusOK || strings.Contains(page, `/edit"`) {
			t.Fatalf("the rule's page as a responder: %d, want no edit form: %.6000s", code, page)
		}
		if code, _ := responder.send("POST", "/rules", form); code != http.StatusForbidden {
			t.Fatalf("a responder posting a rule: %d, want 403", code)
		}
	})
}

var ruleSecretRe = regexp.MustCompile(`<h2 id="secret-h">Webhook signing secret</h2>[\s\S]*?<code class="mono">([0-9a-f]{64})</code>`)

// TestUIRuleWebhookAndTimer: the rule form takes a timed rule that calls a
// webhook; a delay it cannot read comes back beside the field; the signing
// secret is on the page the save shows, and on no page after.
func TestUIRuleWebhookAndTimer(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		admin := signInAs(t, w, authz.RoleAdmin, "ui-rules-hook-admin")
		form := url.Values{"name": {"Tell the ticketing system"}, "expression": {`incident.status == "detected"`}, "enabled": {"on"},
			"after": {"soon"}, "from": {"detected"}, "action0_type": {"call_webhook"}, "action0_url": {"https://203.0.113.9/ward"}}
		code, page := admin.send("POST", "/rules", form)
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, `<p class="field-error" id="after-error">`) {
			t.Fatalf("a delay it cannot read: %d %.5000s", code, page)
		}
		form.Set("after", "4h")
		code, page = admin.send("POST", "/rules", form)
		m := ruleSecretRe.FindStringSubmatch(page)
		if code != http.StatusOK || m == nil || !strings.Contains(page, "4h after the incident was detected") ||
			!strings.Contains(page, "call the signed webhook at 203.0.113.9") {
			t.Fatalf("the saved rule with its secret: %d %.6000s", code, page)
		}
		code, page = admin.send("GET", "/rules", nil)
		if code != http.StatusOK || strings.Contains(page, m[1]) || !strings.Contains(page, "Tell the ticketing system") {
			t.Fatalf("the rules list: %d %.6000s", code, page)
		}
		re := regexp.MustCompile(`<a href="(/rules/[0-9a-f-]{36})">Tell the ticketing system</a>`)
		link := re.FindStringSubmatch(page)
		if link == nil {
			t.Fatalf("no link to the rule: %.6000s", page)
		}
		if code, page = admin.send("GET", link[1], nil); code != http.StatusOK || strings.Contains(page, m[1]) || strings.Contains(page, "secret-h") {
			t.Fatalf("the secret was shown again: %d", code)
		}
	})
}
