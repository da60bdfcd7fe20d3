package e2e

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
)

var groupLocRe = regexp.MustCompile(`^/stakeholders/([0-9a-f-]{36})\?msg=group_created`)

// TestUIStakeholders drives the stakeholder and SLA pages as a browser
// would, without one, on every database: an administrator creates a
// stakeholder group subscribed by rule to sev1 incidents through the form
// (a member who does not exist comes back beside the members control, an
// unknown severity beside the severities) and
// one subscribed by hand, changes the sev1 SLA policy (a value that is no
// number comes back beside its control), and on a sev1 incident recorded
// through the API subscribes the second group and posts a status update:
// it is listed and the SLA section shows the first update met. A
// stakeholder reads the update but is offered no form to post one.
func TestUIStakeholders(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		exec := signInAs(t, w, authz.RoleStakeholder, "ui-exec")
		admin := signInAs(t, w, authz.RoleAdmin, "ui-stake-admin")

		// A group subscribed by rule, through the form.
		form := url.Values{"name": {"Executives"}, "description": {"the leadership team"}, "by_rule": {"on"},
			"severities": {"sev1"}, "phi": {""}, "members": {"ui-exec, nobody-here"}}
		code, page := admin.send("POST", "/stakeholders", form)
		if code != http.StatusUnprocessableEntity ||
			!strings.Contains(page, `<p class="field-error" id="members-error">no user &#34;nobody-here&#34;</p>`) ||
			!strings.Contains(page, `value="ui-exec, nobody-here"`) || !strings.Contains(page, `value="sev1" checked`) {
			t.Fatalf("a group with an unknown member: %d, want 422 with the error beside the members and the form kept: %.4000s", code, page)
		}
		form.Set("members", "ui-exec")
		form["severities"] = []string{"sev1", "sev9"}
		code, page = admin.send("POST", "/stakeholders", form)
		if code != http.StatusUnprocessableEntity ||
			!strings.Contains(page, `<p class="field-error" id="severities-error">&#34;sev9&#34; is not one of sev1, sev2, sev3, sev4</p>`) {
			t.Fatalf("a group with an unknown severity: %d, want 422 with the error beside the severities: %.4000s", code, page)
		}
		form["severities"] = []string{"sev1"}
		code, loc := admin.send("POST", "/stakeholders", form)
		m := groupLocRe.FindStringSubmatch(loc)
		if code != http.StatusSeeOther || m == nil {
			t.Fatalf("create group: %d %.3000s", code, loc)
		}
		execPath := "/stakeholders/" + m[1]
		if code, page := admin.send("GET", execPath, nil); code != http.StatusOK || !strings.Contains(page, "<dd>sev1, and incidents subscribed by hand</dd>") ||
			!strings.Contains(page, "<dd>ui-exec</dd>") {
			t.Fatalf("the group's page: %d %.4000s", code, page)
		}
		// One subscribed only by hand.
		if code, loc := admin.send("POST", "/stakeholders", url.Values{"name": {"Counsel"}, "severities": {"sev2"}}); code != http.StatusSeeOther ||
			!groupLocRe.MatchString(loc) {
			t.Fatalf("create a group by hand: %d %.3000s", code, loc)
		}
		code, page = admin.send("GET", "/stakeholders", nil)
		if code != http.StatusOK || !regexp.MustCompile(`<a href="`+execPath+`">Executives</a>[\s\S]*?<td>sev1</td>\s*<td>1</td>`).MatchString(page) ||
			!regexp.MustCompile(`>Counsel</a>[\s\S]*?<span class="tag">By hand</span></td>\s*<td>0</td>`).MatchString(page) ||
			!strings.Contains(page, `<a href="/sla-policies">SLA policies</a>`) {
			t.Fatalf("the groups list: %d %.5000s", code, page)
		}

		// The sev1 SLA policy.
		sla := url.Values{"ack_minutes": {"15"}, "first_update_minutes": {"soon"}, "update_interval_minutes": {"60"},
			"contain_minutes": {"240"}, "resolve_minutes": {"1440"}}
		code, page = admin.send("POST", "/sla-policies/sev1", sla)
		if code != http.StatusUnprocessableEntity ||
			!strings.Contains(page, `<p class="field-error" id="sev1-first_update_minutes-error">&#34;soon&#34; is not a whole number of minutes</p>`) {
			t.Fatalf("an SLA target that is no number: %d, want 422 with the error beside it: %.5000s", code, page)
		}
		sla.Set("first_update_minutes", "30")
		if code, loc := admin.send("POST", "/sla-policies/sev1", sla); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/sla-policies?msg=sla_saved") {
			t.Fatalf("save the sev1 SLA policy: %d %.3000s", code, loc)
		}
		if code, page := admin.send("GET", "/sla-policies", nil); code != http.StatusOK ||
			!regexp.MustCompile(`id="sev1-first_update_minutes" form="sla-form-sev1" name="first_update_minutes" type="number" [^>]*value="30"`).MatchString(page) {
			t.Fatalf("the SLA policies after saving: %d %.5000s", code, page)
		}

		// A sev1 incident: the rule subscribes Executives; Counsel is
		// subscribed by hand.
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "ui stakeholders", "severity": "sev1"}, &inc)
		incPath := "/incidents/" + inc.Number
		code, page = admin.send("GET", incPath, nil)
		if code != http.StatusOK || !strings.Contains(page, `<a href="`+execPath+`">Executives</a>`) ||
			!regexp.MustCompile(`id="sla-target-first_update" class="sla-pending"`).MatchString(page) ||
			!strings.Contains(page, "Read by stakeholders who may not see PHI: write none.") {
			t.Fatalf("the incident's stakeholders section: %d %.8000s", code, page)
		}
		if code, loc := admin.send("POST", incPath+"/stakeholders", url.Values{"group": {"Counsel"}}); code != http.StatusSeeOther ||
			!strings.Contains(loc, "msg=subscribed") {
			t.Fatalf("subscribe Counsel: %d %.3000s", code, loc)
		}

		// A status update: an empty one is refused beside the text.
		code, page = admin.send("POST", incPath+"/updates", url.Values{"update_body": {"  "}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, `<p class="field-error" id="update-body-error">is required</p>`) {
			t.Fatalf("an empty status update: %d, want 422 with the error beside the text: %.8000s", code, page)
		}
		const text = "Contained at the firewall; customer-facing systems are unaffected."
		if code, loc := admin.send("POST", incPath+"/updates", url.Values{"update_body": {text}}); code != http.StatusSeeOther ||
			!strings.Contains(loc, "msg=update_posted") {
			t.Fatalf("post a status update: %d %.3000s", code, loc)
		}
		code, page = admin.send("GET", incPath, nil)
		if code != http.StatusOK || !strings.Contains(page, `<p class="note">`+text+`</p>`) ||
			!regexp.MustCompile(`id="sla-target-first_update" class="sla-met"[\s\S]*?<span class="badge sla-met">✔ Met</span>`).MatchString(page) ||
			!regexp.MustCompile(`>Counsel</a>`).MatchString(page) || !strings.Contains(page, "Every stakeholder group is subscribed.") {
			t.Fatalf("the incident after the update: %d %.8000s", code, page)
		}

		// The stakeholder reads it, with no form to post one or subscribe.
		code, page = exec.send("GET", incPath, nil)
		if code != http.StatusOK || !strings.Contains(page, text) || !strings.Contains(page, `id="sla-target-first_update" class="sla-met"`) {
			t.Fatalf("the incident as a stakeholder: %d %.8000s", code, page)
		}
		if strings.Contains(page, `action="`+incPath+`/updates"`) || strings.Contains(page, `action="`+incPath+`/stakeholders"`) {
			t.Fatalf("a stakeholder is offered the post or subscribe form: %.8000s", page)
		}
		if code, _ := exec.send("POST", incPath+"/updates", url.Values{"update_body": {"from a reader"}}); code != http.StatusForbidden {
			t.Fatalf("a stakeholder posting an update: %d, want 403", code)
		}
		// A stakeholder's menu is short (home, incidents, breach deadlines);
		// the groups page is there to read, without the form.
		code, page = exec.send("GET", "/stakeholders", nil)
		if code != http.StatusOK || !strings.Contains(page, "<h1>Stakeholders</h1>") || strings.Contains(page, `action="/stakeholders"`) {
			t.Fatalf("the groups list as a stakeholder: %d, want it without the form: %.5000s", code, page)
		}
		if code, page := exec.send("GET", "/sla-policies", nil); code != http.StatusOK || strings.Contains(page, `form="sla-form-sev1"`) ||
			!strings.Contains(page, "30 min") {
			t.Fatalf("the SLA policies as a stakeholder: %d, want them read-only: %.5000s", code, page)
		}
	})
}
