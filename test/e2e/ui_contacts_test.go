package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/authz"
)

// TestUIExternalContactEdit: a Privacy Officer edits an external contact
// on its page, as only the API could; an address another contact has is
// refused beside the field; a contact never subscribed is removed, and
// one that was subscribed is kept, the page saying why.
func TestUIExternalContactEdit(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		mail := startMailbox(t) // subscribing asks the contact to confirm by email
		w := startWardAt(t, t.TempDir(), dbURL, func(e *app.Env) {
			e.Args = append(e.Args, "--smtp-server", mail.addr, "--smtp-from", "ward@example.org", "--smtp-ca-file", mail.caFile)
		})
		ids := map[string]string{}
		for _, c := range [][2]string{{"Dana Reyes", "dana@mercy.example"}, {"Sam Ortiz", "sam@acme.example"}} {
			var out struct{ ID string }
			w.must(http.StatusCreated, "POST", "/api/v1/stakeholder-contacts", map[string]any{"name": c[0], "organisation": "Mercy Clinic",
				"email": c[1]}, &out)
			ids[c[0]] = out.ID
		}
		if code, raw := w.do("POST", "/api/v1/stakeholder-contacts", map[string]any{"name": "Dana R.", "organisation": "Mercy Clinic",
			"email": "Dana@Mercy.example"}, nil); code != http.StatusUnprocessableEntity || !strings.Contains(string(raw), "email") {
			t.Fatalf("a second contact for Dana's address: %d %s, want 422 naming email", code, raw)
		}
		b := signInAs(t, w, authz.RolePrivacyOfficer, "pat")
		_, list := b.send("GET", "/stakeholders/contacts", nil)
		if !strings.Contains(list, `href="/stakeholders/contacts/`+ids["Dana Reyes"]+`"`) {
			t.Fatalf("the list does not link to the contact: %.3000s", list)
		}
		page := "/stakeholders/contacts/" + ids["Dana Reyes"]
		form := url.Values{"name": {"Dana Reyes"}, "organisation": {"Mercy Clinic"}, "title": {"CISO"}, "email": {"sam@acme.example"}}
		if code, body := b.send("POST", page+"/edit", form); code != http.StatusUnprocessableEntity ||
			!strings.Contains(body, "belongs to another external contact") {
			t.Fatalf("Sam's address on Dana: %d %.2000s", code, body)
		}
		form.Set("email", "dana.reyes@mercy.example")
		if code, loc := b.send("POST", page+"/edit", form); code != http.StatusSeeOther || !strings.Contains(loc, "msg=external_contact_saved") {
			t.Fatalf("save: %d %s", code, loc)
		}
		var got struct{ Title, Email string }
		w.must(http.StatusOK, "GET", "/api/v1/stakeholder-contacts/"+ids["Dana Reyes"], nil, &got)
		if got.Title != "CISO" || got.Email != "dana.reyes@mercy.example" {
			t.Fatalf("after the edit: %+v", got)
		}

		if code, loc := b.send("POST", "/stakeholders/contacts/"+ids["Sam Ortiz"]+"/delete", nil); code != http.StatusSeeOther ||
			!strings.Contains(loc, "msg=external_contact_deleted") {
			t.Fatalf("remove Sam: %d %s", code, loc)
		}
		w.must(http.StatusNotFound, "GET", "/api/v1/stakeholder-contacts/"+ids["Sam Ortiz"], nil, nil)

		w.must(http.StatusOK, "PUT", "/api/v1/org-profile", map[string]any{"name": "Mercy Health", "address": map[string]any{}, "contact": map[string]any{}}, nil)
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Laptop stolen", "severity": "sev2"}, &inc)
		w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+inc.ID+"/external-subscribers", map[string]any{"contact_id": ids["Dana Reyes"]}, nil)
		if code, body := b.send("POST", page+"/delete", nil); code != http.StatusConflict || !strings.Contains(body, "kept as proof") {
			t.Fatalf("remove a subscribed contact: %d %.2000s", code, body)
		}
	})
}

// TestExternalContactRule: an external contact is given a rule through
// the API (a bad one refused naming the field) and on its page, which
// says in words which incidents it is subscribed to; an incident the rule
// matches subscribes the contact, who is asked by email to confirm, and
// one it does not match leaves it alone; unticking "Subscribe by rule"
// saves no rule.
func TestExternalContactRule(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		mail := startMailbox(t)
		w := startWardAt(t, t.TempDir(), dbURL, func(e *app.Env) {
			e.Args = append(e.Args, "--smtp-server", mail.addr, "--smtp-from", "ward@example.org", "--smtp-ca-file", mail.caFile)
		})
		w.must(http.StatusOK, "PUT", "/api/v1/org-profile", map[string]any{"name": "Acme Billing", "address": map[string]any{}, "contact": map[string]any{}}, nil)
		var party struct{ ID string }
		w.must(http.StatusCreated, "POST", "/api/v1/breach/parties", map[string]any{"kind": "customer", "name": "North Clinic"}, &party)
		contact := map[string]any{"name": "Dana Reyes", "organisation": "North Clinic", "email": "dana@north.example",
			"rule": map[string]any{"severities": []string{"sev0"}}}
		if code, raw := w.do("POST", "/api/v1/stakeholder-contacts", contact, nil); code != http.StatusUnprocessableEntity ||
			!strings.Contains(string(raw), "rule.severities[0]") {
			t.Fatalf("a bad rule: %d %s, want 422 naming rule.severities[0]", code, raw)
		}
		contact["rule"] = map[string]any{"customers": []string{"North Clinic"}}
		var c struct {
			ID   string
			Rule *struct{ Customers []string }
		}
		w.must(http.StatusCreated, "POST", "/api/v1/stakeholder-contacts", contact, &c)
		if c.Rule == nil || len(c.Rule.Customers) != 1 || c.Rule.Customers[0] != party.ID {
			t.Fatalf("the rule read back: %+v", c.Rule)
		}
		b := signInAs(t, w, authz.RolePrivacyOfficer, "pat")
		page := "/stakeholders/contacts/" + c.ID
		if _, body := b.send("GET", page, nil); !strings.Contains(body, "Subscribed to incidents: affecting North Clinic") {
			t.Fatalf("the contact's page does not say its rule: %.3000s", body)
		}
		form := url.Values{"name": {"Dana Reyes"}, "organisation": {"North Clinic"}, "email": {"dana@north.example"},
			"by_rule": {"on"}, "severities": {"sev1"}, "customers": {party.ID}}
		if code, loc := b.send("POST", page+"/edit", form); code != http.StatusSeeOther {
			t.Fatalf("save the rule: %d %s", code, loc)
		}
		if _, body := b.send("GET", page, nil); !strings.Contains(body, "Subscribed to incidents: sev1; affecting North Clinic") {
			t.Fatalf("the saved rule: %.3000s", body)
		}
		var matched, other incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Claims export exposed", "severity": "sev1",
			"customers": []string{"North Clinic"}}, &matched)
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Laptop stolen", "severity": "sev1"}, &other)
		for _, inc := range []incidentJSON{matched, other} {
			w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+inc.ID+"/status-updates", map[string]any{"body": "We are on it."}, nil)
		}
		var subs []struct{ Name, Status string }
		w.must(http.StatusOK, "GET", "/api/v1/incidents/"+matched.ID+"/external-subscribers", nil, &subs)
		if len(subs) != 1 || subs[0].Name != "Dana Reyes" || subs[0].Status != "pending" {
			t.Fatalf("the matching incident's subscribers: %+v", subs)
		}
		w.must(http.StatusOK, "GET", "/api/v1/incidents/"+other.ID+"/external-subscribers", nil, &subs)
		if len(subs) != 0 {
			t.Fatalf("an incident the rule does not match: %+v", subs)
		}
		form.Del("by_rule")
		if code, loc := b.send("POST", page+"/edit", form); code != http.StatusSeeOther {
			t.Fatalf("untick the rule: %d %s", code, loc)
		}
		if _, body := b.send("GET", page, nil); !strings.Contains(body, "Subscribed to incidents: by hand") {
			t.Fatalf("after unticking: %.3000s", body)
		}
	})
}
