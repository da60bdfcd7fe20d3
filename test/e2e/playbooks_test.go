package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wardhq/ward/internal/authz"
)

// TestPlaybookLostDeviceBrowser: on both databases, in headless Chromium,
// a stolen laptop recorded through the API gets the lost-device playbook
// by its category: the incident page shows it and its tasks, owned by
// roles; a Security Officer answers its formal-investigation questions
// (asset, serial, encryption and power state, last known location, police
// report, remote wipe) on the page, which shows them in words; the breach
// case's safe-harbor question shows the encryption and power state with a
// link to the incident; a second playbook is applied by hand from the
// page, and applying one again is refused (409); a responder finds the
// tasks given to the responder role on My tasks.
func TestPlaybookLostDeviceBrowser(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Laptop stolen from a car", "category": "theft",
			"phi_suspected": true}, &inc)
		ctx, _ := browserAs(t, w, authz.RoleSecurityOfficer, "pb-officer")
		path := "/incidents/" + inc.Number
		var section, tasks string
		run(t, ctx, "open the incident", chromedp.Navigate(w.url+path), chromedp.WaitVisible("#playbooks", chromedp.ByQuery),
			chromedp.Text("#playbooks", &section, chromedp.ByQuery), chromedp.Text("#tasks", &tasks, chromedp.ByQuery))
		if !strings.Contains(section, "Lost or stolen device") || !strings.Contains(section, "version 1") ||
			!strings.Contains(section, "encryption status report") {
			t.Fatalf("the playbooks section: %q", section)
		}
		if !strings.Contains(tasks, "Send a remote lock and wipe") || !strings.Contains(tasks, "Responder") ||
			!strings.Contains(tasks, "after its phase starts") {
			t.Fatalf("the tasks: %q", tasks)
		}

		run(t, ctx, "answer the questions",
			chromedp.SetValue("#answer_asset", "LT-0042", chromedp.ByQuery),
			chromedp.SetValue("#answer_serial", "C02XK1", chromedp.ByQuery),
			chromedp.SetValue("#answer_encryption", "full_disk", chromedp.ByQuery),
			chromedp.SetValue("#answer_power_state", "off", chromedp.ByQuery),
			chromedp.SetValue("#answer_last_location", "Level 2 of the staff car park", chromedp.ByQuery),
			chromedp.SetValue("#answer_police_report", "PR-2026-17", chromedp.ByQuery),
			chromedp.SetValue("#answer_remote_wipe", "confirmed", chromedp.ByQuery),
			chromedp.Click(`#playbooks form[action$="/answers"] button[type=submit]`, chromedp.ByQuery),
			chromedp.WaitVisible(".flash", chromedp.ByQuery), chromedp.Text("#playbooks", &section, chromedp.ByQuery))
		for _, want := range []string{"LT-0042", "C02XK1", "Encrypted, whole disk or device", "Powered off", "Level 2 of the staff car park",
			"PR-2026-17", "Wiped, confirmed"} {
			if !strings.Contains(section, want) {
				t.Errorf("after answering, the section lacks %q: %q", want, section)
			}
		}
		var applied struct {
			Items []struct {
				Playbook struct{ Key string }
				Answers  map[string]string
			}
		}
		w.must(http.StatusOK, "GET", "/api/v1/incidents/"+inc.ID+"/playbooks", nil, &applied)
		if len(applied.Items) != 1 || applied.Items[0].Answers["encryption"] != "full_disk" ||
			applied.Items[0].Answers["police_report"] != "PR-2026-17" {
			t.Fatalf("the API's playbooks: %+v", applied.Items)
		}

		var secured string
		var linked bool
		run(t, ctx, "open the breach case", chromedp.Navigate(w.url+path+"/breach"),
			chromedp.WaitVisible(`[aria-label="Answers from the incident's playbooks"]`, chromedp.ByQuery),
			chromedp.Text(`[aria-label="Answers from the incident's playbooks"]`, &secured, chromedp.ByQuery),
			chromedp.Evaluate(`document.querySelector('[aria-label="Answers from the incident\'s playbooks"] a[href="`+path+`#playbooks"]') !== null`, &linked))
		if !strings.Contains(secured, "Was the device encrypted?: Encrypted, whole disk or device") ||
			!strings.Contains(secured, "Power state when lost: Powered off") || !linked {
			t.Fatalf("the safe-harbor question shows %q (linked to the incident: %v)", secured, linked)
		}

		run(t, ctx, "apply the ransomware playbook by hand", chromedp.Navigate(w.url+path),
			chromedp.WaitVisible("#playbook", chromedp.ByQuery), chromedp.SetValue("#playbook", "ransomware", chromedp.ByQuery),
			chromedp.Click(`#playbooks form[action$="/playbooks"] button[type=submit]`, chromedp.ByQuery),
			chromedp.WaitVisible(".flash", chromedp.ByQuery), chromedp.Text("#tasks", &tasks, chromedp.ByQuery))
		if !strings.Contains(tasks, "Isolate the affected systems") {
			t.Fatalf("after applying ransomware, the tasks: %q", tasks)
		}
		if code, raw := w.do("POST", "/api/v1/incidents/"+inc.ID+"/playbooks", map[string]any{"playbook": "lost_device"}, nil); code != http.StatusConflict {
			t.Fatalf("applying the lost-device playbook again: %d %s, want 409", code, raw)
		}

		responder := signInAs(t, w, authz.RoleResponder, "pb-responder")
		if code, page := responder.send("GET", "/tasks/mine", nil); code != http.StatusOK || !strings.Contains(page, "Send a remote lock and wipe") ||
			!strings.Contains(page, inc.Number) {
			t.Fatalf("the responder's My tasks: %d %.2000s", code, visibleText(page, false))
		}
	})
}

// TestPlaybookEditUI: an administrator edits a playbook from its page: the
// edit is its next version, audited; a playbook that is not valid is
// refused with the problem named and nothing saved; the auditor may not
// edit (403).
func TestPlaybookEditUI(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var before map[string]any
		w.must(http.StatusOK, "GET", "/api/v1/playbooks/misdirected", nil, &before)
		before["summary"] = "Edited: PHI was sent to the wrong person."
		body, err := json.Marshal(before)
		if err != nil {
			t.Fatal(err)
		}
		admin := signInAs(t, w, authz.RoleAdmin, "pb-admin")
		if code, page := admin.send("GET", "/playbooks/misdirected", nil); code != http.StatusOK || !strings.Contains(page, "Save as a new version") {
			t.Fatalf("the playbook's page: %d", code)
		}
		auditor := signInAs(t, w, authz.RoleAuditor, "pb-auditor")
		if code, _ := auditor.send("POST", "/playbooks/misdirected", url.Values{"body": {string(body)}}); code != http.StatusForbidden {
			t.Fatalf("the auditor's edit: %d, want 403", code)
		}
		bad := strings.Replace(string(body), `"owner_role":"responder"`, `"owner_role":"auditor"`, 1)
		code, page := admin.send("POST", "/playbooks/misdirected", url.Values{"body": {bad}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, "must be a role that works incidents") {
			t.Fatalf("an edit giving a task to the auditor: %d %.1500s", code, visibleText(page, false))
		}
		if code, _ := admin.send("POST", "/playbooks/misdirected", url.Values{"body": {string(body)}}); code != http.StatusSeeOther {
			t.Fatalf("the edit: %d", code)
		}
		var after struct {
			Version int
			Summary string
		}
		w.must(http.StatusOK, "GET", "/api/v1/playbooks/misdirected", nil, &after)
		if after.Version != 2 || !strings.HasPrefix(after.Summary, "Edited:") {
			t.Fatalf("after the edit: %+v, want version 2 with the new summary", after)
		}
		sec := tokenAs(t, w, "security_officer", "pb-trail")
		var trail struct {
			Items []struct {
				Action   string
				ObjectID string `json:"object_id"`
			}
		}
		w.doAs(sec, "GET", "/api/v1/audit?action=playbook.edit", nil, &trail)
		n := 0
		for _, e := range trail.Items {
			if e.Action == "playbook.edit" && e.ObjectID == "misdirected" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d audit entries of the edit, want 1: %+v", n, trail.Items)
		}
	})
}
