package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
)

// TestStatusUpdatePHICheck: through the API and the web UI, on every
// database, a status update holding the canary and a made-up SSN is
// refused with the field and the kind of pattern, never the value; a
// responder may not override the check, the auditor may not post at all;
// the Privacy Officer posts it over the check (API and form), and the
// update is listed as not PHI-checked. Only the Privacy Officer is offered
// the override on the incident page.
func TestStatusUpdatePHICheck(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "phi check", "severity": "sev2"}, &inc)
		updates := "/api/v1/incidents/" + inc.ID + "/status-updates"
		text := canary + ", SSN 078-05-1120, was in the export."

		code, raw := w.do("POST", updates, map[string]any{"body": text}, nil)
		if code != http.StatusUnprocessableEntity || !strings.Contains(string(raw), `"location":"body.body"`) ||
			!strings.Contains(string(raw), "a Social Security number") || !strings.Contains(string(raw), "a medical record number") {
			t.Fatalf("an update with PHI: %d %s, want 422 on body naming the patterns", code, raw)
		}
		if leaks(raw) || strings.Contains(string(raw), "078-05") {
			t.Fatalf("the refusal repeats the text: %s", raw)
		}
		responder := w.tokenWithRole("phi-responder", "responder")
		if code, raw := w.doAs(responder, "POST", updates, map[string]any{"body": text, "phi_override": true}, nil); code != http.StatusForbidden {
			t.Fatalf("a responder overriding the check: %d %s, want 403", code, raw)
		}
		auditor := w.tokenWithRole("phi-auditor", "auditor")
		if code, raw := w.doAs(auditor, "POST", updates, map[string]any{"body": "Contained."}, nil); code != http.StatusForbidden {
			t.Fatalf("the auditor posting: %d %s, want 403", code, raw)
		}
		officer := w.tokenWithRole("phi-officer", "privacy_officer")
		var up struct {
			PHIChecked bool `json:"phi_checked"`
		}
		if code, raw := w.doAs(officer, "POST", updates, map[string]any{"body": "MRN: 12345678 was the test record.", "phi_override": true}, &up); code != http.StatusCreated || up.PHIChecked {
			t.Fatalf("the Privacy Officer overriding: %d %s", code, raw)
		}
		w.must(http.StatusCreated, "POST", updates, map[string]any{"body": "Export deleted; no PHI left the network."}, &up)
		if !up.PHIChecked {
			t.Fatal("a clean update is not marked PHI-checked")
		}
		var ups []struct {
			PHIChecked bool `json:"phi_checked"`
		}
		w.must(http.StatusOK, "GET", updates, nil, &ups)
		if len(ups) != 2 || !ups[0].PHIChecked || ups[1].PHIChecked {
			t.Fatalf("the updates: %+v", ups)
		}

		// The web UI: the reason beside the text; the override only for the
		// Privacy Officer.
		admin := signInAs(t, w, authz.RoleAdmin, "phi-ui-admin")
		po := signInAs(t, w, authz.RolePrivacyOfficer, "phi-ui-po")
		incPath := "/incidents/" + inc.Number
		code, page := admin.send("POST", incPath+"/updates", url.Values{"update_body": {"Patient DOB 03/14/1961 in the log."}})
		if code != http.StatusUnprocessableEntity ||
			!strings.Contains(page, `<p class="field-error" id="update-body-error">looks like it holds PHI (a date of birth);`) {
			t.Fatalf("an update with a date of birth in the form: %d, want 422 with the reason beside the text: %.8000s", code, page)
		}
		if strings.Contains(page, `id="phi-override"`) {
			t.Fatal("an administrator is offered the override")
		}
		if code, page := po.send("GET", incPath, nil); code != http.StatusOK || !strings.Contains(page, `id="phi-override" name="phi_override"`) {
			t.Fatalf("the Privacy Officer is not offered the override: %d %.8000s", code, page)
		}
		if code, loc := po.send("POST", incPath+"/updates", url.Values{"update_body": {"Patient DOB 03/14/1961 in the log."}, "phi_override": {"on"}}); code != http.StatusSeeOther ||
			!strings.Contains(loc, "msg=update_posted") {
			t.Fatalf("the Privacy Officer posting over the check: %d %.3000s", code, loc)
		}
		if code, page := po.send("GET", incPath, nil); code != http.StatusOK || !strings.Contains(page, `<span class="tag">Not PHI-checked</span>`) {
			t.Fatalf("the overridden update is not marked: %d %.8000s", code, page)
		}
	})
}

// TestExternalContactsAPI: through the API, on every database, an officer
// records a contact outside Ward (a bad email comes back naming the
// field), reads and edits it, linking it to a party of the breach registry;
// a stakeholder's token may not read contacts
// and the auditor's may read but not change them.
func TestExternalContactsAPI(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		officer := w.tokenWithRole("contacts-officer", "privacy_officer")
		if code, raw := w.doAs(officer, "POST", "/api/v1/stakeholder-contacts", map[string]any{"name": "Dana Reyes",
			"organisation": "Mercy Clinic", "email": "dana at mercy"}, nil); code != http.StatusUnprocessableEntity ||
			!strings.Contains(string(raw), `"location":"body.email"`) {
			t.Fatalf("a bad email: %d %s, want 422 on body.email", code, raw)
		}
		var c struct{ ID, Name, Organisation, Title, Email string }
		if code, raw := w.doAs(officer, "POST", "/api/v1/stakeholder-contacts", map[string]any{"name": "Dana Reyes",
			"organisation": "Mercy Clinic", "title": "Security lead", "email": "dana.reyes@mercy.example"}, &c); code != http.StatusCreated {
			t.Fatalf("create a contact: %d %s", code, raw)
		}
		viewer := w.tokenWithRole("contacts-viewer", "stakeholder")
		for _, p := range []string{"/api/v1/stakeholder-contacts", "/api/v1/stakeholder-contacts/" + c.ID} {
			if code, raw := w.doAs(viewer, "GET", p, nil, nil); code != http.StatusForbidden || strings.Contains(string(raw), "Reyes") {
				t.Fatalf("a stakeholder reads %s: %d %s, want 403", p, code, raw)
			}
		}
		auditor := w.tokenWithRole("contacts-auditor", "auditor")
		var list []struct{ Name, Email string }
		if code, raw := w.doAs(auditor, "GET", "/api/v1/stakeholder-contacts", nil, &list); code != http.StatusOK || len(list) != 1 ||
			list[0].Email != "dana.reyes@mercy.example" {
			t.Fatalf("the auditor lists contacts: %d %s", code, raw)
		}
		edit := map[string]any{"name": "Dana Reyes", "organisation": "Mercy Clinic", "title": "CISO", "email": "dana.reyes@mercy.example"}
		if code, raw := w.doAs(auditor, "PUT", "/api/v1/stakeholder-contacts/"+c.ID, edit, nil); code != http.StatusForbidden {
			t.Fatalf("the auditor edits a contact: %d %s, want 403", code, raw)
		}
		if code, raw := w.doAs(auditor, "DELETE", "/api/v1/stakeholder-contacts/"+c.ID, nil, nil); code != http.StatusForbidden {
			t.Fatalf("the auditor deletes a contact: %d %s, want 403", code, raw)
		}
		var party struct{ ID string }
		w.must(http.StatusCreated, "POST", "/api/v1/breach/parties", map[string]any{"kind": "customer", "name": "Mercy Clinic"}, &party)
		edit["party_id"] = "none"
		if code, raw := w.doAs(officer, "PUT", "/api/v1/stakeholder-contacts/"+c.ID, edit, nil); code != http.StatusUnprocessableEntity ||
			!strings.Contains(string(raw), `"location":"body.party_id"`) {
			t.Fatalf("a link to no party: %d %s, want 422 on body.party_id", code, raw)
		}
		edit["party_id"] = party.ID
		var got struct {
			Title     string
			PartyName string `json:"party_name"`
		}
		if code, raw := w.doAs(officer, "PUT", "/api/v1/stakeholder-contacts/"+c.ID, edit, &got); code != http.StatusOK || got.Title != "CISO" ||
			got.PartyName != "Mercy Clinic" {
			t.Fatalf("edit a contact, linking a party: %d %s", code, raw)
		}
	})
}

// TestUIExternalContacts drives the external contacts page on every
// database: an administrator adds a contact through the form (a bad email
// comes back beside its control, the form kept) and sees it listed; the
// auditor reads the list without the form and may not add one; a
// stakeholder is refused the page and offered no link to it.
func TestUIExternalContacts(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		admin := signInAs(t, w, authz.RoleAdmin, "xc-admin")
		auditor := signInAs(t, w, authz.RoleAuditor, "xc-auditor")
		exec := signInAs(t, w, authz.RoleStakeholder, "xc-exec")
		form := url.Values{"name": {"Dana Reyes"}, "organisation": {"Mercy Clinic"}, "title": {"Security lead"}, "email": {"dana at mercy"}}
		code, page := admin.send("POST", "/stakeholders/contacts", form)
		if code != http.StatusUnprocessableEntity ||
			!strings.Contains(page, `<p class="field-error" id="email-error">is not an email address such as name@example.org</p>`) ||
			!strings.Contains(page, `value="Mercy Clinic"`) {
			t.Fatalf("a contact with a bad email: %d, want 422 with the error beside the email: %.5000s", code, page)
		}
		form.Set("email", "dana.reyes@mercy.example")
		if code, loc := admin.send("POST", "/stakeholders/contacts", form); code != http.StatusSeeOther || !strings.Contains(loc, "msg=contact_created") {
			t.Fatalf("add a contact: %d %.3000s", code, loc)
		}
		if code, page := admin.send("GET", "/stakeholders", nil); code != http.StatusOK || !strings.Contains(page, `<a href="/stakeholders/contacts">External contacts</a>`) {
			t.Fatalf("the stakeholders page links the contacts: %d %.5000s", code, page)
		}
		code, page = auditor.send("GET", "/stakeholders/contacts", nil)
		if code != http.StatusOK || !strings.Contains(page, "<td>Mercy Clinic</td>") || !strings.Contains(page, "<td>dana.reyes@mercy.example</td>") ||
			strings.Contains(page, `action="/stakeholders/contacts"`) {
			t.Fatalf("the contacts as the auditor: %d, want the list without the form: %.5000s", code, page)
		}
		if code, _ := auditor.send("POST", "/stakeholders/contacts", form); code != http.StatusForbidden {
			t.Fatalf("the auditor adding a contact: %d, want 403", code)
		}
		if code, page := exec.send("GET", "/stakeholders/contacts", nil); code != http.StatusForbidden || strings.Contains(page, "Reyes") {
			t.Fatalf("the contacts as a stakeholder: %d, want 403", code)
		}
		if code, page := exec.send("GET", "/stakeholders", nil); code != http.StatusOK || strings.Contains(page, "/stakeholders/contacts") {
			t.Fatalf("a stakeholder is offered the contacts: %d %.5000s", code, page)
		}
	})
}
