package e2e

import (
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/keys"
)

var externalLinkRE = regexp.MustCompile(`https://127\.0\.0\.1:[0-9]+/s/[A-Za-z0-9_-]+`)

// mailTo returns the messages of m addressed to addr, in order.
func mailTo(m *mailbox, addr string) []string {
	var out []string
	for _, msg := range m.all() {
		if strings.Contains(msg, "\r\nTo: <"+addr+">\r\n") {
			out = append(out, msg)
		}
	}
	return out
}

// bodyLinks returns the external links in the body of msg, in order: a
// confirmation's confirm link, then its unsubscribe link.
func bodyLinks(msg string) []string {
	_, body, _ := strings.Cut(msg, "\r\n\r\n")
	return externalLinkRE.FindAllString(body, -1)
}

type externalUpdateJSON struct {
	ID     string `json:"id"`
	Emails struct {
		Recipients, Sent, Failed, Queued int
	} `json:"emails"`
}

// TestExternalSubscribersByEmail drives external subscribers end to end on
// every database, through a real SMTP server: a responder subscribes three
// external contacts to an incident whose title holds the canary; each is
// emailed a confirmation (the incident's number and the organisation's
// name, never the title) with a single-use link; two confirm, one never
// does. A status update reaches the confirmed subscriber with
// List-Unsubscribe and List-Unsubscribe-Post (RFC 8058) and the update's
// text; the unconfirmed contact receives nothing but the confirmation; the
// recipient the server refuses (550, its reply quoting the canary) gets a
// failed delivery record whose error the Privacy Officer reads and which is
// sealed at rest. A responder subscribes a fourth contact through the
// incident page's form; the page shows "Sent to 1 of 2" and the failure by
// name, and Rex's subscription as bounced (undeliverable, audited). A
// one-click POST to the unsubscribe link unsubscribes (audited), and the
// next update is queued for no one: neither the unsubscribed nor the
// bounced subscriber.
func TestExternalSubscribersByEmail(t *testing.T) {
	t.Parallel()
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			dbURL := target.URL
			if target.Dialect == db.SQLite {
				dbURL = ""
			}
			mail := startMailbox(t)
			data := t.TempDir()
			w := startWardAt(t, data, dbURL, debugLog, func(e *app.Env) {
				e.Args = append(e.Args, "--smtp-server", mail.addr, "--smtp-from", "ward@example.org", "--smtp-ca-file", mail.caFile,
					"--paging-poll", "50ms")
			})
			responder := w.tokenWithRole("ext-responder", "responder")
			officer := w.tokenWithRole("ext-officer", "privacy_officer")
			viewer := w.tokenWithRole("ext-viewer", "stakeholder")

			var inc incidentJSON
			w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": canary + " laptop stolen", "severity": "sev2"}, &inc)
			subs := "/api/v1/incidents/" + inc.ID + "/external-subscribers"
			contacts := map[string]string{}
			for _, c := range []struct{ name, email string }{{"Dana Reyes", "dana@mercy.example"}, {"Bo Lin", "bo@mercy.example"},
				{"Rex Hale", "rex@insurer.example"}} {
				var out struct{ ID string }
				w.must(http.StatusCreated, "POST", "/api/v1/stakeholder-contacts", map[string]any{"name": c.name, "organisation": "Mercy Clinic",
					"email": c.email}, &out)
				contacts[c.email] = out.ID
			}
			dana, bo, rex := contacts["dana@mercy.example"], contacts["bo@mercy.example"], contacts["rex@insurer.example"]

			// The emails name the organisation: none is sent before it has a name.
			if code, raw := w.doAs(responder, "POST", subs, map[string]any{"contact_id": dana}, nil); code != http.StatusConflict ||
				!strings.Contains(string(raw), "organisation profile") {
				t.Fatalf("subscribing without the organisation's name: %d %s, want 409", code, raw)
			}
			w.must(http.StatusOK, "PUT", "/api/v1/org-profile", map[string]any{"name": "Acme Clinic", "address": map[string]any{}, "contact": map[string]any{}}, nil)
			if code, raw := w.doAs(responder, "POST", subs, map[string]any{"contact_id": "nobody"}, nil); code != http.StatusUnprocessableEntity ||
				!strings.Contains(string(raw), `"location":"body.contact_id"`) {
				t.Fatalf("subscribing no contact: %d %s, want 422 on body.contact_id", code, raw)
			}
			if code, raw := w.doAs(viewer, "POST", subs, map[string]any{"contact_id": dana}, nil); code != http.StatusForbidden {
				t.Fatalf("a stakeholder subscribing: %d %s, want 403", code, raw)
			}
			for _, id := range []string{dana, bo, rex} {
				var s struct{ Status string }
				if code, raw := w.doAs(responder, "POST", subs, map[string]any{"contact_id": id}, &s); code != http.StatusCreated || s.Status != "pending" {
					t.Fatalf("subscribe %s: %d %s", id, code, raw)
				}
			}
			if code, raw := w.doAs(responder, "POST", subs, map[string]any{"contact_id": dana}, nil); code != http.StatusUnprocessableEntity ||
				!strings.Contains(string(raw), "subscribed to "+inc.Number+" already") {
				t.Fatalf("subscribing twice: %d %s, want 422", code, raw)
			}

			// The confirmations: number and organisation, never the title.
			eventually(t, "three confirmation emails", func() bool {
				return len(mailTo(mail, "dana@mercy.example")) == 1 && len(mailTo(mail, "bo@mercy.example")) == 1 &&
					len(mailTo(mail, "rex@insurer.example")) == 1
			})
			confirm := mailTo(mail, "dana@mercy.example")[0]
			if !strings.Contains(confirm, "Subject: Please confirm: status updates on "+inc.Number+" from Acme Clinic") ||
				!strings.Contains(confirm, "Acme Clinic would like to keep you informed about its incident "+inc.Number) ||
				!strings.Contains(confirm, "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n") || leaks([]byte(confirm)) ||
				strings.Contains(confirm, "laptop") {
				t.Fatalf("the confirmation email:\n%s", confirm)
			}
			links := bodyLinks(confirm)
			if len(links) < 2 {
				t.Fatalf("no confirm and unsubscribe links in:\n%s", confirm)
			}
			// A GET (a mail scanner) changes nothing; the POST confirms, once.
			get := func(link string) (int, string) {
				resp, err := w.client.Get(link)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			post := func(link, body string) (int, string) {
				resp, err := w.client.Post(link, "application/x-www-form-urlencoded", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			if code, page := get(links[0]); code != http.StatusOK || !strings.Contains(page, "Confirm status updates on "+inc.Number) {
				t.Fatalf("the confirm link, opened: %d %s", code, page)
			}
			if code, page := post(links[0], ""); code != http.StatusOK || !strings.Contains(page, "Confirmed") {
				t.Fatalf("the confirm link, used: %d %s", code, page)
			}
			if code, page := post(links[0], ""); code != http.StatusNotFound {
				t.Fatalf("the confirm link, used twice: %d %s, want 404", code, page)
			}
			rexLinks := bodyLinks(mailTo(mail, "rex@insurer.example")[0])
			if code, page := post(rexLinks[0], ""); code != http.StatusOK {
				t.Fatalf("Rex confirms: %d %s", code, page)
			}
			var list []struct {
				ContactID string `json:"contact_id"`
				Status    string
			}
			if code, raw := w.doAs(viewer, "GET", subs, nil, nil); code != http.StatusForbidden {
				t.Fatalf("a stakeholder lists the subscribers: %d %s, want 403", code, raw)
			}
			w.must(http.StatusOK, "GET", subs, nil, &list)
			states := map[string]string{}
			for _, s := range list {
				states[s.ContactID] = s.Status
			}
			if states[dana] != "confirmed" || states[bo] != "pending" || states[rex] != "confirmed" {
				t.Fatalf("the subscribers: %+v", list)
			}

			// The mail server now refuses Rex, quoting the canary.
			mail.refuse("rex@insurer.example", &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
				Message: "no mailbox here for " + canary})
			updates := "/api/v1/incidents/" + inc.ID + "/status-updates"
			text := "Containment complete: the device was wiped remotely."
			var up externalUpdateJSON
			if code, raw := w.doAs(responder, "POST", updates, map[string]any{"body": text, "audience": "public"}, &up); code != http.StatusCreated ||
				up.Emails.Recipients != 2 {
				t.Fatalf("post an update: %d %s, want 2 recipients", code, raw)
			}
			eventually(t, "the update sent to Dana and refused for Rex", func() bool {
				var ups []externalUpdateJSON
				w.must(http.StatusOK, "GET", updates, nil, &ups)
				return len(ups) == 1 && ups[0].Emails.Sent == 1 && ups[0].Emails.Failed == 1
			})
			got := mailTo(mail, "dana@mercy.example")
			if len(got) != 2 {
				t.Fatalf("Dana has %d emails, want the confirmation and the update", len(got))
			}
			update := got[1]
			if !strings.Contains(update, "Subject: "+inc.Number+": status update from Acme Clinic") || !strings.Contains(update, text) ||
				!strings.Contains(update, "\r\nList-Unsubscribe: <https://127.0.0.1:") ||
				!strings.Contains(update, "\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n") ||
				!regexp.MustCompile(`\r\nMessage-ID: <ward-[0-9a-f-]+@example\.org>\r\n`).MatchString(update) ||
				leaks([]byte(update)) || strings.Contains(update, "laptop") {
				t.Fatalf("the update email:\n%s", update)
			}
			if n := len(mailTo(mail, "bo@mercy.example")); n != 1 {
				t.Fatalf("the unconfirmed contact has %d emails, want the confirmation only", n)
			}

			// The failure: its error for the Privacy Officer, sealed at rest.
			var ds []struct {
				Kind, Status, Error string
				ContactName         string `json:"contact_name"`
			}
			if code, raw := w.doAs(viewer, "GET", "/api/v1/incidents/"+inc.ID+"/external-deliveries", nil, nil); code != http.StatusForbidden {
				t.Fatalf("a stakeholder reads the deliveries: %d %s, want 403", code, raw)
			}
			w.doAs(officer, "GET", "/api/v1/incidents/"+inc.ID+"/external-deliveries", nil, &ds)
			failed := 0
			for _, d := range ds {
				if d.Status == "failed" {
					failed++
					if d.Kind != "update" || d.ContactName != "Rex Hale" || !strings.Contains(d.Error, "550") || !strings.Contains(d.Error, canary) {
						t.Errorf("the failed delivery: %+v", d)
					}
				}
			}
			if failed != 1 {
				t.Fatalf("%d failed deliveries, want 1: %+v", failed, ds)
			}
			// The web UI: a responder subscribes a fourth contact by the form.
			var sam struct{ ID string }
			w.must(http.StatusCreated, "POST", "/api/v1/stakeholder-contacts", map[string]any{"name": "Sam Ortiz", "organisation": "Acme Insurance",
				"email": "sam@acme.example"}, &sam)
			ui := signInAs(t, w, authz.RoleResponder, "ext-ui-responder")
			if code, page := ui.send("GET", "/incidents/"+inc.Number, nil); code != http.StatusOK ||
				!strings.Contains(page, `action="/incidents/`+inc.Number+`/external-subscribers"`) || !strings.Contains(page, "Sam Ortiz, Acme Insurance") {
				t.Fatalf("the subscribe form: %d %.20000s", code, page)
			}
			if code, loc := ui.send("POST", "/incidents/"+inc.Number+"/external-subscribers", url.Values{"contact_id": {sam.ID}}); code != http.StatusSeeOther ||
				!strings.Contains(loc, "msg=external_subscribed") {
				t.Fatalf("subscribe by the form: %d %.3000s", code, loc)
			}
			eventually(t, "Sam's confirmation", func() bool { return len(mailTo(mail, "sam@acme.example")) == 1 })
			admin := signInAs(t, w, authz.RoleAdmin, "ext-admin")
			if code, page := admin.send("GET", "/incidents/"+inc.Number, nil); code != http.StatusOK ||
				!strings.Contains(page, `<td>Sam Ortiz</td><td>Acme Insurance</td><td>Public</td><td>Asked to confirm</td>`) ||
				!strings.Contains(page, "Sent to 1 of 2 external subscribers; 1 not delivered") ||
				!strings.Contains(page, "Rex Hale (Mercy Clinic) · email · not delivered: ") ||
				!strings.Contains(page, `<td>Bo Lin</td><td>Mercy Clinic</td><td>Public</td><td>Asked to confirm</td>`) ||
				!strings.Contains(page, `<td>Rex Hale</td><td>Mercy Clinic</td><td>Public</td><td>Email bounced: sent nothing more; subscribe again to ask them to confirm</td>`) {
				t.Fatalf("the incident page: %d %.20000s", code, page)
			}

			// One-click unsubscribe (RFC 8058), without a sign-in.
			unsub := regexp.MustCompile(`\r\nList-Unsubscribe: <([^>]+)>`).FindStringSubmatch(update)[1]
			if code, page := post(unsub, "List-Unsubscribe=One-Click"); code != http.StatusOK || !strings.Contains(page, "Unsubscribed") {
				t.Fatalf("one-click unsubscribe: %d %s", code, page)
			}
			if code, page := get(unsub); code != http.StatusOK || !strings.Contains(page, "You receive no more status updates of "+inc.Number) {
				t.Fatalf("the unsubscribe link after use: %d %s", code, page)
			}
			w.must(http.StatusOK, "GET", subs, nil, &list)
			for _, s := range list {
				if s.ContactID == dana && s.Status != "unsubscribed" || s.ContactID == rex && s.Status != "undeliverable" {
					t.Fatalf("Dana after unsubscribing, or Rex after the bounce: %+v", s)
				}
			}
			awaitRetentionRun(t, chainDB(t, w))
			var trail struct {
				Items []struct{ Action string } `json:"items"`
			}
			w.doAs(officer, "GET", "/api/v1/audit?incident="+url.QueryEscape(inc.Number), nil, &trail)
			seen := map[string]int{}
			for _, e := range trail.Items {
				seen[e.Action]++
			}
			if seen["external_subscription.create"] != 4 || seen["external_subscription.confirm"] != 2 || seen["external_subscription.unsubscribe"] != 1 ||
				seen["external_subscription.undeliverable"] != 1 {
				t.Fatalf("the audit trail of %s: %v", inc.Number, seen)
			}

			// The next update is queued for no one: Dana unsubscribed, Rex bounced.
			if code, raw := w.doAs(responder, "POST", updates, map[string]any{"body": "The investigation is closed.", "audience": "public"}, &up); code != http.StatusCreated ||
				up.Emails.Recipients != 0 {
				t.Fatalf("the second update: %d %s, want no recipient", code, raw)
			}
			if n := len(mailTo(mail, "dana@mercy.example")); n != 2 {
				t.Fatalf("Dana has %d emails after unsubscribing, want 2", n)
			}

			w.stop()
			if leaks([]byte(w.logs.String())) {
				t.Error("canary PHI from the delivery error in the server log")
			}
			if target.Dialect == db.Postgres {
				assertNoCanaryInPostgres(t, target.URL, keys.ExternalMailError)
				return
			}
			for name, b := range readDir(t, data) {
				if leaks(b) {
					t.Errorf("canary PHI in plaintext in %s", name)
				}
			}
		})
	}
}
