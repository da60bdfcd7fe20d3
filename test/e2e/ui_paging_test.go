package e2e

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/authz"
)

var (
	scheduleLocRe = regexp.MustCompile(`^/schedules/([0-9a-f-]{36})\?msg=schedule_created`)
	policyLocRe   = regexp.MustCompile(`^/escalation-policies/([0-9a-f-]{36})\?msg=policy_created`)
	hookSecretRe  = regexp.MustCompile(`<input id="secret" class="secret" type="text" value="([0-9a-f]{64})" readonly>`)
	contactIDRe   = regexp.MustCompile(`action="/profile/contact/([0-9a-f-]{36})/delete"`)
)

// TestUIPaging drives the paging pages as a browser would, without one,
// on every database: an administrator adds a webhook contact method on
// their profile (it verifies itself with a signed test delivery to a local
// receiver) and a notification rule, creates a schedule with themselves on
// call and an escalation policy paging it through the forms (a form error
// comes back beside its control), sets the policy on a service, and a
// monitoring tool's alert pages them. The incident page shows the page and
// its deliveries, Acknowledge stops it, and the schedule's calendar shows
// who is on call.
func TestUIPaging(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		hook := startHook(t)
		w := startWardAt(t, t.TempDir(), dbURL, func(e *app.Env) { e.Args = append(e.Args, "--paging-poll", "50ms") }, allowLoopback)
		testUIPaging(t, w, hook)
	})
}

func testUIPaging(t *testing.T, w *ward, hook *hookReceiver) {
	admin := signInAs(t, w, authz.RoleAdmin, "ui-pager")

	// A webhook contact method: its secret is shown once, and a signed
	// test delivery verifies it.
	code, page := admin.send("POST", "/profile/contact", url.Values{"kind": {"webhook"}, "label": {"pager hook"},
		"address": {"ftp://example.org"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, `<p class="field-error" id="address-error">must be an https URL</p>`) {
		t.Fatalf("a webhook that is not https: %d, want 422 with the error beside the address: %.3000s", code, page)
	}
	code, page = admin.send("POST", "/profile/contact", url.Values{"kind": {"webhook"}, "label": {"pager hook"},
		"address": {hook.URL + "/page"}})
	if code != http.StatusCreated || hookSecretRe.FindStringSubmatch(page) == nil {
		t.Fatalf("create webhook contact: %d, want 201 with its secret: %.3000s", code, page)
	}
	m := contactIDRe.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no contact method on the page: %.3000s", page)
	}
	contactID := m[1]
	eventually(t, "the webhook's verification", func() bool {
		_, page := admin.send("GET", "/profile/contact", nil)
		return strings.Contains(page, "Verified <time")
	})
	if code, page := admin.send("POST", "/profile/rules", url.Values{"contact_method_id": {contactID}, "delay_minutes": {"soon"}}); code != http.StatusUnprocessableEntity ||
		!strings.Contains(page, `id="delay_minutes-error">&#34;soon&#34; is not a whole number</p>`) {
		t.Fatalf("a rule with a delay that is no number: %d, want 422 with the error beside it: %.3000s", code, page)
	}
	if code, loc := admin.send("POST", "/profile/rules", url.Values{"contact_method_id": {contactID}, "delay_minutes": {"0"}}); code != http.StatusSeeOther ||
		!strings.HasPrefix(loc, "/profile/contact?msg=rule_added") {
		t.Fatalf("add rule: %d %.300s", code, loc)
	}

	// An email address (no mail server here): a wrong code is refused
	// beside the code control; a new code may be asked for; it is removed.
	if code, loc := admin.send("POST", "/profile/contact", url.Values{"kind": {"email"}, "address": {"pager@example.org"}}); code != http.StatusSeeOther ||
		!strings.HasPrefix(loc, "/profile/contact?msg=contact_added") {
		t.Fatalf("add email contact: %d %.300s", code, loc)
	}
	_, page = admin.send("GET", "/profile/contact", nil)
	var emailID string
	for _, m := range contactIDRe.FindAllStringSubmatch(page, -1) {
		if m[1] != contactID {
			emailID = m[1]
		}
	}
	if emailID == "" || !strings.Contains(page, "<code>p…@example.org</code>") {
		t.Fatalf("the email contact is not listed: %.4000s", page)
	}
	// Each code message fails at once for want of a mail server; the test
	// waits for that, so that no delivery is under way when the method is
	// removed.
	failures := func(n int) func() bool {
		return func() bool { return strings.Count(w.logs.String(), `"msg":"notification_failed"`) == n }
	}
	eventually(t, "the code email's failure", failures(1))
	code, page = admin.send("POST", "/profile/contact/"+emailID+"/verify", url.Values{"code-" + emailID: {"000000"}})
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, `<p class="field-error" id="code-`+emailID+`-error">`) {
		t.Fatalf("a wrong code: %d, want 422 with the error beside the code: %.4000s", code, page)
	}
	if code, loc := admin.send("POST", "/profile/contact/"+emailID+"/resend", nil); code != http.StatusSeeOther || !strings.Contains(loc, "msg=code_sent") {
		t.Fatalf("resend: %d %.300s", code, loc)
	}
	eventually(t, "the second code email's failure", failures(2))
	// Status notifications: on for the webhook, off for the email unless
	// chosen; the email's are turned on, and a value neither on nor off is
	// refused.
	_, page = admin.send("GET", "/profile/contact", nil)
	if !strings.Contains(page, `action="/profile/contact/`+contactID+`/status-updates"`) ||
		!strings.Contains(page, `Turn on <span class="skip">status notifications for email</span>`) ||
		!strings.Contains(page, `Turn off <span class="skip">status notifications for pager hook</span>`) {
		t.Fatalf("status notifications on the contact methods page: %.6000s", page)
	}
	if code, page := admin.send("POST", "/profile/contact/"+emailID+"/status-updates", url.Values{"status_updates": {"maybe"}}); code != http.StatusUnprocessableEntity ||
		!strings.Contains(page, "status_updates: must be on or off") {
		t.Fatalf("a bad status_updates: %d %.3000s", code, page)
	}
	if code, loc := admin.send("POST", "/profile/contact/"+emailID+"/status-updates", url.Values{"status_updates": {"on"}}); code != http.StatusSeeOther ||
		!strings.Contains(loc, "msg=contact_updated") {
		t.Fatalf("turn on status notifications: %d %.300s", code, loc)
	}
	if _, page := admin.send("GET", "/profile/contact", nil); !strings.Contains(page, `Turn off <span class="skip">status notifications for email</span>`) {
		t.Fatalf("the email's status notifications are not on: %.6000s", page)
	}
	if code, loc := admin.send("POST", "/profile/contact/"+emailID+"/delete", nil); code != http.StatusSeeOther || !strings.Contains(loc, "msg=contact_deleted") {
		t.Fatalf("remove: %d %.300s", code, loc)
	}
	if _, page := admin.send("GET", "/profile/contact", nil); strings.Contains(page, emailID) {
		t.Fatal("the removed contact method is still listed")
	}

	// A schedule with the administrator on call, through the form.
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	sched := url.Values{"name": {"primary"}, "time_zone": {"Mars/Olympus_Mons"}, "rows": {"2"}, "rot0_name": {"weekly"},
		"rot0_kind": {"weekly"}, "rot0_length": {"1"}, "rot0_start": {time.Now().Add(-time.Hour).In(ny).Format("2006-01-02T15:04")},
		"rot0_participants": {"ui-pager"}, "rot1_kind": {"daily"}}
	code, page = admin.send("POST", "/schedules", sched)
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, `<p class="field-error" id="time_zone-error">`) ||
		!strings.Contains(page, `value="ui-pager"`) {
		t.Fatalf("a schedule in no time zone: %d, want 422 with the error beside the zone and the rotation kept: %.3000s", code, page)
	}
	sched.Set("time_zone", "America/New_York")
	code, loc := admin.send("POST", "/schedules", sched)
	sm := scheduleLocRe.FindStringSubmatch(loc)
	if code != http.StatusSeeOther || sm == nil {
		t.Fatalf("create schedule: %d %.3000s", code, loc)
	}
	schedPath := "/schedules/" + sm[1]
	if code, page := admin.send("GET", "/schedules", nil); code != http.StatusOK ||
		!strings.Contains(page, `<a href="`+schedPath+`">primary</a>`) || !strings.Contains(page, "<strong>ui-pager</strong>") {
		t.Fatalf("schedules list with who is on call: %d %.3000s", code, page)
	}

	// Overrides: an end before the start is refused beside the control;
	// one is added, listed and removed.
	tomorrow := time.Now().In(ny).AddDate(0, 0, 1)
	ov := url.Values{"ov_user": {"ui-pager"}, "ov_start": {tomorrow.Format("2006-01-02T15:04")},
		"ov_end": {tomorrow.Add(-time.Hour).Format("2006-01-02T15:04")}}
	code, page = admin.send("POST", schedPath+"/overrides", ov)
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, `<p class="field-error" id="ov_end-error">must be after start</p>`) {
		t.Fatalf("an override ending before it starts: %d, want 422 with the error beside the end: %.4000s", code, page)
	}
	ov.Set("ov_end", tomorrow.Add(2*time.Hour).Format("2006-01-02T15:04"))
	if code, loc := admin.send("POST", schedPath+"/overrides", ov); code != http.StatusSeeOther || !strings.Contains(loc, "msg=override_created") {
		t.Fatalf("add override: %d %.300s", code, loc)
	}
	_, page = admin.send("GET", schedPath, nil)
	om := regexp.MustCompile(`action="` + schedPath + `/overrides/([0-9a-f-]{36})/delete"`).FindStringSubmatch(page)
	if om == nil {
		t.Fatalf("the override is not listed: %.4000s", page)
	}
	if code, loc := admin.send("POST", schedPath+"/overrides/"+om[1]+"/delete", nil); code != http.StatusSeeOther || !strings.Contains(loc, "msg=override_deleted") {
		t.Fatalf("remove override: %d %.300s", code, loc)
	}
	if _, page := admin.send("GET", schedPath, nil); strings.Contains(page, "/overrides/"+om[1]) {
		t.Fatal("the removed override is still listed")
	}

	// Editing keeps the rotation's start in the schedule's zone and reads
	// a restriction back as it was written.
	sched.Set("description", "payments on call")
	sched.Set("rot0_restrict", "mon,tue,wed,thu,fri,sat,sun 00:00-24:00")
	if code, loc := admin.send("POST", schedPath+"/edit", sched); code != http.StatusSeeOther || !strings.Contains(loc, "msg=schedule_saved") {
		t.Fatalf("edit schedule: %d %.3000s", code, loc)
	}
	_, page = admin.send("GET", schedPath, nil)
	for _, want := range []string{`id="rot0_start" name="rot0_start" type="datetime-local" value="` + sched.Get("rot0_start") + `"`,
		`value="mon,tue,wed,thu,fri,sat,sun 00:00-24:00"`, "<p>payments on call</p>"} {
		if !strings.Contains(page, want) {
			t.Fatalf("the edited schedule lacks %q: %.6000s", want, page)
		}
	}

	// A policy paging the schedule; a target that does not exist is
	// reported beside the control that named it.
	pol := url.Values{"name": {"payments"}, "rows": {"3"}, "step0_delay": {"5"}, "step0_schedules": {"primary"},
		"step1_delay": {"10"}, "step1_users": {"ui-pager, nobody-here"}, "repeat": {"1"}, "ack_timeout_minutes": {"0"}}
	code, page = admin.send("POST", "/escalation-policies", pol)
	if code != http.StatusUnprocessableEntity || !strings.Contains(page, `<p class="field-error" id="step1_users-error">no user &#34;nobody-here&#34;</p>`) ||
		!strings.Contains(page, `aria-describedby="step1_users-error"`) {
		t.Fatalf("a policy naming nobody: %d, want 422 with the error beside step 2's people: %.4000s", code, page)
	}
	pol.Set("step1_users", "ui-pager")
	code, loc = admin.send("POST", "/escalation-policies", pol)
	pm := policyLocRe.FindStringSubmatch(loc)
	if code != http.StatusSeeOther || pm == nil {
		t.Fatalf("create policy: %d %.3000s", code, loc)
	}
	policyID := pm[1]
	if code, page := admin.send("GET", "/escalation-policies", nil); code != http.StatusOK || !strings.Contains(page, "schedule primary") {
		t.Fatalf("policies list: %d %.3000s", code, page)
	}

	pol.Set("ack_timeout_minutes", "30")
	if code, loc := admin.send("POST", "/escalation-policies/"+policyID+"/edit", pol); code != http.StatusSeeOther ||
		!strings.Contains(loc, "msg=policy_saved") {
		t.Fatalf("edit policy: %d %.3000s", code, loc)
	}
	if _, page := admin.send("GET", "/escalation-policies/"+policyID, nil); !strings.Contains(page, "resolved within 30 minutes") ||
		!strings.Contains(page, `id="step0_schedules" name="step0_schedules" type="text" value="primary"`) {
		t.Fatalf("the edited policy: %.6000s", page)
	}

	// The policy on a service, through the service form.
	code, loc = admin.send("POST", "/services", url.Values{"name": {"payments"}, "group_by": {"source"}, "escalation_policy": {policyID}})
	svm := serviceLocRe.FindStringSubmatch(loc)
	if code != http.StatusSeeOther || svm == nil {
		t.Fatalf("create service: %d %.300s", code, loc)
	}
	if code, page := admin.send("GET", "/services/"+svm[1], nil); code != http.StatusOK ||
		!strings.Contains(page, `<option value="`+policyID+`" selected>payments</option>`) {
		t.Fatalf("service page with its policy: %d %.3000s", code, page)
	}
	var ig integrationKey
	w.must(http.StatusCreated, "POST", "/api/v1/services/"+svm[1]+"/integrations", map[string]any{"kind": "events_v2", "name": "mon"}, &ig)

	// An alert pages the administrator through the schedule.
	if code, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger",
		"payload":{"summary":"Queue backed up","source":"q1","severity":"critical"}}`, nil); code != http.StatusAccepted {
		t.Fatalf("trigger: %d %s", code, body)
	}
	inc := w.alerts("service=" + svm[1])[0].IncidentNumber
	incPath := "/incidents/" + inc
	eventually(t, "the page on the incident page", func() bool {
		_, page := admin.send("GET", incPath, nil)
		return strings.Contains(page, `<td>ui-pager</td>`) && strings.Contains(page, "<td>Sent</td>")
	})
	_, page = admin.send("GET", incPath, nil)
	for _, want := range []string{`<h2 id="paging-h">Paging</h2>`, `<span class="tag status-triggered">Triggered</span>`,
		`<a href="/escalation-policies/` + policyID + `">payments</a>`, "<dt>Next escalation</dt>", "Acknowledge <span", "Webhook"} {
		if !strings.Contains(page, want) {
			t.Fatalf("the incident page lacks %q: %.6000s", want, page)
		}
	}

	if code, loc := admin.send("POST", incPath+"/page/acknowledge", nil); code != http.StatusSeeOther ||
		!strings.HasPrefix(loc, incPath+"?msg=page_acknowledged") {
		t.Fatalf("acknowledge: %d %.300s", code, loc)
	}
	_, page = admin.send("GET", incPath, nil)
	if !strings.Contains(page, `<span class="tag status-acknowledged">Acknowledged</span>`) || !strings.Contains(page, "by ui-pager") ||
		strings.Contains(page, "Acknowledge <span") {
		t.Fatalf("the incident page after acknowledging: %.6000s", page)
	}
	if code, _ := admin.send("POST", incPath+"/page/acknowledge", nil); code != http.StatusUnprocessableEntity {
		t.Fatalf("acknowledging twice: %d, want 422", code)
	}

	// The calendar shows who is on call now, in the schedule's zone.
	code, page = admin.send("GET", schedPath+"/calendar", nil)
	if code != http.StatusOK || !strings.Contains(page, "America/New_York") ||
		!regexp.MustCompile(`<li class="now"><strong>ui-pager</strong> [0-9:]{5}–24:00`).MatchString(page) {
		t.Fatalf("calendar: %d %.6000s", code, page)
	}
	next := time.Now().In(ny).AddDate(0, 0, 14).Format("2006-01-02")
	if !strings.Contains(page, `href="?from=`+next+`"`) {
		t.Fatalf("calendar without a link to the next two weeks (%s): %.3000s", next, page)
	}

	// A stakeholder sees the schedules but gets no forms to change them.
	viewer := signInAs(t, w, authz.RoleStakeholder, "ui-viewer")
	if code, page := viewer.send("GET", schedPath, nil); code != http.StatusOK || strings.Contains(page, "Add override") {
		t.Fatalf("schedule page as a stakeholder: %d %.2000s", code, page)
	}
	if code, _ := viewer.send("POST", "/schedules", sched); code != http.StatusForbidden {
		t.Fatalf("a stakeholder creating a schedule: %d, want 403", code)
	}
}

// TestUIAdminContacts: an administrator manages another person's contact
// methods and notification rules from the users page, on every database;
// the pages name that person, forms post under their path, and a
// responder may not reach them.
func TestUIAdminContacts(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		hook := startHook(t)
		w := startWardAt(t, t.TempDir(), dbURL, func(e *app.Env) { e.Args = append(e.Args, "--paging-poll", "50ms") }, allowLoopback)
		admin := signInAs(t, w, authz.RoleAdmin, "ui-admin")
		responder := signInAs(t, w, authz.RoleResponder, "ui-oncall")

		if _, page := admin.send("GET", "/admin/users", nil); !strings.Contains(page, `href="/admin/users/ui-oncall/contact"`) {
			t.Fatalf("the users page links no one's contact methods: %.3000s", page)
		}
		base := "/admin/users/ui-oncall"
		code, page := admin.send("POST", base+"/contact", url.Values{"kind": {"webhook"}, "label": {"their hook"},
			"address": {hook.URL + "/theirs"}})
		if code != http.StatusCreated || hookSecretRe.FindStringSubmatch(page) == nil ||
			!strings.Contains(page, "Contact methods of ui-oncall") {
			t.Fatalf("create a webhook for ui-oncall: %d, want 201 with its secret on their page: %.3000s", code, page)
		}
		m := regexp.MustCompile(`action="` + base + `/contact/([0-9a-f-]{36})/delete"`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("the forms do not post under %s: %.3000s", base, page)
		}
		eventually(t, "the webhook's verification", func() bool {
			_, page := admin.send("GET", base+"/contact", nil)
			return strings.Contains(page, "Verified <time")
		})
		if code, loc := admin.send("POST", base+"/rules", url.Values{"contact_method_id": {m[1]}, "delay_minutes": {"5"}}); code != http.StatusSeeOther ||
			!strings.HasPrefix(loc, base+"/contact?msg=rule_added") {
			t.Fatalf("add a rule for ui-oncall: %d %.300s", code, loc)
		}
		// The method and rule are the responder's own, seen on their profile.
		if _, page := responder.send("GET", "/profile/contact", nil); !strings.Contains(page, "their hook") || !strings.Contains(page, "5 min") {
			t.Fatalf("ui-oncall's profile does not show what the administrator added: %.3000s", page)
		}
		// And not the administrator's.
		if _, page := admin.send("GET", "/profile/contact", nil); strings.Contains(page, "their hook") {
			t.Fatal("the administrator's own page lists ui-oncall's method")
		}
		if code, _ := responder.send("GET", "/admin/users/ui-admin/contact", nil); code != http.StatusForbidden {
			t.Fatalf("a responder reading an administrator's contact methods: %d, want 403", code)
		}
		if code, loc := admin.send("POST", base+"/contact/"+m[1]+"/delete", nil); code != http.StatusSeeOther ||
			!strings.HasPrefix(loc, base+"/contact?msg=contact_deleted") {
			t.Fatalf("remove ui-oncall's method: %d %.300s", code, loc)
		}
		if _, page := responder.send("GET", "/profile/contact", nil); strings.Contains(page, "their hook") {
			t.Fatal("the removed method is still on ui-oncall's profile")
		}
	})
}
