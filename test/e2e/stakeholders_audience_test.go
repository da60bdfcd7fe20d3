package e2e

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// TestUpdatesPerCustomer drives per-audience status updates end to end on
// every database, through a real SMTP server: a business associate with
// two covered-entity customers in its registry subscribes one contact of
// each to a PHI-suspected incident (each contact's audience defaults to
// the customer it speaks for); both confirm. A responder writes one update
// for each customer (one of them by the incident page's form); each
// contact receives only its own customer's update, never the other's. An
// unknown audience is refused with 422 on the field. The per-update
// deliveries (API and the incident page) and the breach case's proof
// bundle list every delivery: to whom, by which channel, sent when.
func TestUpdatesPerCustomer(t *testing.T) {
	t.Parallel()
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			dbURL := target.URL
			if target.Dialect == db.SQLite {
				dbURL = ""
			}
			mail := startMailbox(t)
			w := startWardAt(t, t.TempDir(), dbURL, func(e *app.Env) {
				e.Args = append(e.Args, "--smtp-server", mail.addr, "--smtp-from", "ward@example.org", "--smtp-ca-file", mail.caFile)
			})
			responder := w.tokenWithRole("aud-responder", "responder")
			officer := w.tokenWithRole("aud-officer", "privacy_officer")
			viewer := w.tokenWithRole("aud-viewer", "stakeholder")
			w.must(http.StatusOK, "PUT", "/api/v1/org-profile", map[string]any{"name": "Acme Billing", "address": map[string]any{}, "contact": map[string]any{}}, nil)
			w.must(http.StatusOK, "PUT", "/api/v1/breach/organisation", map[string]any{"role": "business_associate"}, nil)
			party := func(name string) string {
				var p struct{ ID string }
				w.must(http.StatusCreated, "POST", "/api/v1/breach/parties", map[string]any{"kind": "customer", "name": name, "agreement": "BAA 2025",
					"notice":  map[string]any{"amount": 5, "unit": "days", "business": true},
					"contact": map[string]any{"name": "Privacy desk", "email": "privacy@" + strings.ToLower(strings.Fields(name)[0]) + ".example", "address": "1 Main St"},
					"channel": "email", "contents": "Nature of the incident.", "checklist": []string{"nature of the incident"}}, &p)
				return p.ID
			}
			northID, southID := party("North Clinic"), party("South Hospital")

			var inc incidentJSON
			w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": canary + " billing export exposed", "severity": "sev2",
				"category": "unauthorized_access_disclosure", "phi_suspected": true}, &inc)
			caseURL := "/api/v1/incidents/" + inc.ID + "/breach-case"
			w.must(http.StatusOK, "GET", caseURL, nil, nil)

			contact := func(name, email, partyID string) string {
				var c struct{ ID string }
				w.must(http.StatusCreated, "POST", "/api/v1/stakeholder-contacts", map[string]any{"name": name, "organisation": "Their clinic",
					"email": email, "party_id": partyID}, &c)
				return c.ID
			}
			nora, sam := contact("Nora Vance", "nora@north.example", northID), contact("Sam Oduya", "sam@south.example", southID)
			subs := "/api/v1/incidents/" + inc.ID + "/external-subscribers"
			for id, want := range map[string]string{nora: "customer:" + northID, sam: "customer:" + southID} {
				var s struct{ Audience, AudienceLabel string }
				if code, raw := w.doAs(responder, "POST", subs, map[string]any{"contact_id": id}, &s); code != http.StatusCreated || s.Audience != want {
					t.Fatalf("subscribe %s: %d %s, want audience %s", id, code, raw, want)
				}
			}
			eventually(t, "two confirmation emails", func() bool {
				return len(mailTo(mail, "nora@north.example")) == 1 && len(mailTo(mail, "sam@south.example")) == 1
			})
			for _, addr := range []string{"nora@north.example", "sam@south.example"} {
				resp, err := w.client.Post(bodyLinks(mailTo(mail, addr)[0])[0], "application/x-www-form-urlencoded", nil)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("%s confirms: %d", addr, resp.StatusCode)
				}
			}

			updates := "/api/v1/incidents/" + inc.ID + "/status-updates"
			if code, raw := w.doAs(responder, "POST", updates, map[string]any{"body": "x", "audience": "customer:nobody"}, nil); code != http.StatusUnprocessableEntity ||
				!strings.Contains(string(raw), `"location":"body.audience"`) {
				t.Fatalf("an unknown audience: %d %s, want 422 on body.audience", code, raw)
			}
			northText := "North Clinic: the export held your billing records; the link was revoked at 09:10."
			southText := "South Hospital: none of your records were in the export."
			var up struct {
				ID, Audience string
				Emails       struct{ Recipients int }
			}
			if code, raw := w.doAs(responder, "POST", updates, map[string]any{"body": northText, "audience": "customer:" + northID}, &up); code != http.StatusCreated ||
				up.Emails.Recipients != 1 || up.Audience != "customer:"+northID {
				t.Fatalf("the update for North: %d %s", code, raw)
			}
			// South's, by the incident page's form.
			ui := signInAs(t, w, authz.RoleResponder, "aud-ui-responder")
			if code, page := ui.send("GET", "/incidents/"+inc.Number, nil); code != http.StatusOK ||
				!strings.Contains(page, `<option value="customer:`+southID+`" >Customer South Hospital</option>`) {
				t.Fatalf("the update form's audiences: %d %.20000s", code, page)
			}
			if code, loc := ui.send("POST", "/incidents/"+inc.Number+"/updates", url.Values{"update_body": {southText},
				"update_audience": {"customer:" + southID}}); code != http.StatusSeeOther || !strings.Contains(loc, "msg=update_posted") {
				t.Fatalf("the update for South by the form: %d %.3000s", code, loc)
			}

			// Each contact receives its own customer's update and nothing else.
			eventually(t, "both updates sent", func() bool {
				return len(mailTo(mail, "nora@north.example")) == 2 && len(mailTo(mail, "sam@south.example")) == 2
			})
			for addr, want := range map[string][2]string{"nora@north.example": {northText, southText}, "sam@south.example": {southText, northText}} {
				all := strings.Join(mailTo(mail, addr), "\n")
				if !strings.Contains(all, want[0]) || strings.Contains(all, want[1]) || leaks([]byte(all)) {
					t.Fatalf("the emails to %s:\n%s", addr, all)
				}
			}
			for _, m := range mail.all() {
				if leaks([]byte(m)) {
					t.Fatalf("the canary in an email:\n%s", m)
				}
			}

			// The proof of delivery: one email each, sent.
			var ds []struct {
				StatusUpdateID string `json:"status_update_id"`
				Audience       string
				External       bool
				Recipient      string
				Party          string
				Channel        string
				Status         string
			}
			if code, raw := w.doAs(viewer, "GET", "/api/v1/incidents/"+inc.ID+"/status-update-deliveries", nil, nil); code != http.StatusForbidden {
				t.Fatalf("a stakeholder reads the deliveries: %d %s, want 403", code, raw)
			}
			eventually(t, "both deliveries recorded as sent", func() bool {
				w.doAs(officer, "GET", "/api/v1/incidents/"+inc.ID+"/status-update-deliveries", nil, &ds)
				return len(ds) == 2 && ds[0].Status == "sent" && ds[1].Status == "sent"
			})
			got := map[string]string{}
			for _, d := range ds {
				if !d.External || d.Channel != "external_email" {
					t.Fatalf("a delivery: %+v", d)
				}
				got[d.Audience] = d.Recipient + "/" + d.Party
			}
			if got["customer:"+northID] != "Nora Vance/North Clinic" || got["customer:"+southID] != "Sam Oduya/South Hospital" {
				t.Fatalf("the deliveries: %+v", ds)
			}
			admin := signInAs(t, w, authz.RoleAdmin, "aud-admin")
			if code, page := admin.send("GET", "/incidents/"+inc.Number, nil); code != http.StatusOK ||
				!strings.Contains(page, "for Customer North Clinic") || !strings.Contains(page, "for Customer South Hospital") ||
				!strings.Contains(page, "Nora Vance (Their clinic) · email · sent · ") || !strings.Contains(page, "Sam Oduya (Their clinic) · email · sent · ") ||
				!strings.Contains(page, "<td>Nora Vance</td><td>Their clinic</td><td>Customer North Clinic</td>") {
				t.Fatalf("the incident page: %d %.30000s", code, page)
			}

			// Audited: the subscriptions, the updates and the reads of who
			// they went to.
			awaitRetentionRun(t, chainDB(t, w))
			var trail struct {
				Items []struct{ Action string } `json:"items"`
			}
			w.doAs(officer, "GET", "/api/v1/audit?incident="+url.QueryEscape(inc.Number), nil, &trail)
			seen := map[string]int{}
			for _, e := range trail.Items {
				seen[e.Action]++
			}
			if seen["external_subscription.create"] != 2 || seen["status_update.post"] != 2 || seen["status_update_delivery.list"] == 0 {
				t.Fatalf("the audit trail of %s: %v", inc.Number, seen)
			}

			// The proof bundle lists every delivery, without names or text.
			code, _, bundle := get(t, w, w.token, caseURL+"/proof-bundle")
			if code != http.StatusOK {
				t.Fatalf("proof bundle: %d", code)
			}
			raw := readZip(t, bundle, "stakeholders/updates.json")
			var proof struct {
				Incident string
				Updates  []struct {
					Audience   string
					Deliveries []struct {
						Recipient     string
						RecipientKind string `json:"recipient_kind"`
						Party         string
						Channel       string
						Status        string
						MessageID     string `json:"message_id"`
					}
				} `json:"status_updates"`
			}
			if err := json.Unmarshal(raw, &proof); err != nil {
				t.Fatal(err)
			}
			if proof.Incident != inc.Number || len(proof.Updates) != 2 {
				t.Fatalf("the proof of the updates: %s", raw)
			}
			for _, u := range proof.Updates {
				want := map[string]string{"customer:" + northID: nora + "/North Clinic", "customer:" + southID: sam + "/South Hospital"}[u.Audience]
				if len(u.Deliveries) != 1 || u.Deliveries[0].Recipient+"/"+u.Deliveries[0].Party != want || u.Deliveries[0].Status != "sent" ||
					u.Deliveries[0].RecipientKind != "external_contact" || u.Deliveries[0].Channel != "external_email" ||
					!strings.HasPrefix(u.Deliveries[0].MessageID, "ward-") {
					t.Fatalf("the proof of the updates: %s", raw)
				}
			}
			for _, s := range []string{northText, southText, "Nora", "Sam Oduya", "@north.example", "@south.example"} {
				if strings.Contains(string(raw), s) {
					t.Fatalf("the proof bundle holds %q: %s", s, raw)
				}
			}
		})
	}
}
