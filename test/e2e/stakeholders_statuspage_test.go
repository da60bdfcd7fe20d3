package e2e

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// TestExternalStatusPages drives templates and status pages end to end on
// every database, through a real SMTP server. A Privacy Officer saves a
// template for a customer (one holding a date of birth is refused naming
// the field); a responder is offered it filled in for the incident, by
// the API and on the incident page. Two customers' contacts confirm;
// updates are written for each customer, the public and the responders
// and the responders, and one for the public over the PHI check holding
// the canary. Each customer's update email
// carries a personal status page link, which opens without a sign-in but
// shows nothing of the updates until the one-time code emailed to the
// contact (its address masked on the page) is entered: a wrong code is
// refused beside the field, 5 lock it, a new code opens the page once and
// sets a cookie for that page alone (another customer's page stays shut
// to it, and to the other's code). Open, the page shows that customer's
// and the PHI-checked public updates, never the other customer's, the
// internal one or the canary; each view, send and try is audited. A
// forged token is 404; once the contact unsubscribes, their link is 404. The public
// status page is off (a responder may not turn it on), turned on by the
// officer shows only the PHI-checked public update, and turned off is 404.
func TestExternalStatusPages(t *testing.T) {
	t.Parallel()
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			dbURL := target.URL
			if target.Dialect == db.SQLite {
				dbURL = ""
			}
			mail := startMailbox(t)
			w := startWardAt(t, t.TempDir(), dbURL, func(e *app.Env) {
				e.Args = append(e.Args, "--smtp-server", mail.addr, "--smtp-from", "ward@example.org", "--smtp-ca-file", mail.caFile,
					"--paging-poll", "50ms")
			})
			responder := w.tokenWithRole("sp-responder", "responder")
			officer := w.tokenWithRole("sp-officer", "privacy_officer")
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
			w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": canary + " billing export exposed", "severity": "sev2"}, &inc)

			// Templates.
			if code, raw := w.doAs(officer, "POST", "/api/v1/status-update-templates", map[string]any{"name": "Bad", "audience": "customer:" + northID,
				"body": "Patient DOB 03/14/1961 affected"}, nil); code != http.StatusUnprocessableEntity || !strings.Contains(string(raw), `"location":"body.body"`) {
				t.Fatalf("a template with a date of birth: %d %s, want 422 on body.body", code, raw)
			}
			if code, raw := w.doAs(responder, "POST", "/api/v1/status-update-templates", map[string]any{"name": "Initial", "audience": "public",
				"body": "x"}, nil); code != http.StatusForbidden {
				t.Fatalf("a responder saves a template: %d %s, want 403", code, raw)
			}
			var tmpl struct{ ID string }
			if code, raw := w.doAs(officer, "POST", "/api/v1/status-update-templates", map[string]any{"name": "Initial notice", "audience": "customer:" + northID,
				"body": "{organisation} is investigating incident {incident}: {status}."}, &tmpl); code != http.StatusCreated {
				t.Fatalf("save a template: %d %s", code, raw)
			}
			var offered []struct {
				ID, Audience, Filled string
			}
			w.doAs(responder, "GET", "/api/v1/incidents/"+inc.ID+"/status-update-templates?audience="+url.QueryEscape("customer:"+northID), nil, &offered)
			if len(offered) != 1 || offered[0].Filled != "Acme Billing is investigating incident "+inc.Number+": we are looking into it." {
				t.Fatalf("the templates offered: %+v", offered)
			}

			contact := func(name, email, partyID string) string {
				var c struct{ ID string }
				w.must(http.StatusCreated, "POST", "/api/v1/stakeholder-contacts", map[string]any{"name": name, "organisation": "Their clinic",
					"email": email, "party_id": partyID}, &c)
				return c.ID
			}
			subs := "/api/v1/incidents/" + inc.ID + "/external-subscribers"
			for _, id := range []string{contact("Nora Vance", "nora@north.example", northID), contact("Sam Oduya", "sam@south.example", southID)} {
				if code, raw := w.doAs(responder, "POST", subs, map[string]any{"contact_id": id}, nil); code != http.StatusCreated {
					t.Fatalf("subscribe: %d %s", code, raw)
				}
			}
			eventually(t, "two confirmation emails", func() bool {
				return len(mailTo(mail, "nora@north.example")) == 1 && len(mailTo(mail, "sam@south.example")) == 1
			})
			get := func(link string) (int, string) {
				resp, err := w.client.Get(link)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp.StatusCode, string(b)
			}
			post := func(link string) int {
				resp, err := w.client.Post(link, "application/x-www-form-urlencoded", nil)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				return resp.StatusCode
			}
			for _, addr := range []string{"nora@north.example", "sam@south.example"} {
				if code := post(bodyLinks(mailTo(mail, addr)[0])[0]); code != http.StatusOK {
					t.Fatalf("%s confirms: %d", addr, code)
				}
			}
			updates := "/api/v1/incidents/" + inc.ID + "/status-updates"
			for _, u := range []map[string]any{
				{"body": "North: your billing export was exposed.", "audience": "customer:" + northID},
				{"body": "South: your billing export was exposed.", "audience": "customer:" + southID},
				{"body": "Everyone: we are containing an incident.", "audience": "public"},
				{"body": "Internal: the bucket was public.", "audience": "internal"},
			} {
				w.must(http.StatusCreated, "POST", updates, u, nil)
			}
			if code, raw := w.doAs(officer, "POST", updates, map[string]any{"body": "Public: " + canary, "audience": "public", "phi_override": true}, nil); code != http.StatusCreated {
				t.Fatalf("an update over the PHI check: %d %s", code, raw)
			}
			eventually(t, "each customer's update email", func() bool {
				return len(mailTo(mail, "nora@north.example")) == 2 && len(mailTo(mail, "sam@south.example")) == 2
			})
			pageOf := func(addr, text string) string {
				for _, m := range mailTo(mail, addr) {
					if strings.Contains(m, text) {
						return bodyLinks(m)[0]
					}
				}
				t.Fatalf("no email to %s with %q", addr, text)
				return ""
			}
			north, south := pageOf("nora@north.example", "North: your"), pageOf("sam@south.example", "South: your")
			// The one-time code: a link alone shows nothing of the updates.
			noFollow := &http.Client{Timeout: w.client.Timeout, Transport: w.client.Transport,
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			send := func(link string, form url.Values, cookie *http.Cookie) (*http.Response, string) {
				t.Helper()
				method, body := http.MethodGet, io.Reader(nil)
				if form != nil {
					method, body = http.MethodPost, strings.NewReader(form.Encode())
				}
				req, err := http.NewRequest(method, link, body)
				if err != nil {
					t.Fatal(err)
				}
				if form != nil {
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				}
				if cookie != nil {
					req.AddCookie(cookie)
				}
				resp, err := noFollow.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				return resp, string(b)
			}
			codeRE := regexp.MustCompile(`is:\r\n\r\n(\d{6})\r\n`)
			// askCode asks for a code on link's page and returns it, from
			// the email to addr.
			askCode := func(link, addr string) string {
				t.Helper()
				before := len(mailTo(mail, addr))
				resp, page := send(link, url.Values{"action": {"send"}}, nil)
				if resp.StatusCode != http.StatusOK || !strings.Contains(page, "We have emailed a code to") || strings.Contains(page, addr) {
					t.Fatalf("ask for a code: %d %s", resp.StatusCode, page)
				}
				eventually(t, "the code's email to "+addr, func() bool { return len(mailTo(mail, addr)) > before })
				msgs := mailTo(mail, addr)
				m := codeRE.FindStringSubmatch(msgs[len(msgs)-1])
				if m == nil || strings.Contains(msgs[len(msgs)-1], "your billing export") {
					t.Fatalf("the code's email: %s", msgs[len(msgs)-1])
				}
				return m[1]
			}
			// enter enters code on link's page: the cookie it sets, if any.
			enter := func(link, code string) (*http.Response, string, *http.Cookie) {
				t.Helper()
				resp, page := send(link, url.Values{"action": {"check"}, "code": {code}}, nil)
				for _, c := range resp.Cookies() {
					if c.Name == "ward_status_page" {
						return resp, page, c
					}
				}
				return resp, page, nil
			}
			for _, link := range []string{north, south} {
				code, page := get(link)
				if code != http.StatusOK || strings.Contains(page, "your billing export") || strings.Contains(page, "Everyone:") ||
					strings.Contains(page, "nora@") || strings.Contains(page, "sam@") || !strings.Contains(page, "Email me a code") {
					t.Fatalf("a status page link without the code: %d %s", code, page)
				}
			}
			if code, page := get(north); !strings.Contains(page, "n***@n***.example") {
				t.Fatalf("the masked address: %d %s", code, page)
			}
			wrong := func(code string) string {
				n, err := strconv.Atoi(code)
				if err != nil {
					t.Fatal(err)
				}
				return fmt.Sprintf("%06d", (n+1)%1_000_000)
			}
			// A wrong code is refused beside the field; 5 lock the code.
			noraCode := askCode(north, "nora@north.example")
			for i := range 5 {
				resp, page, c := enter(north, wrong(noraCode))
				if resp.StatusCode != http.StatusUnprocessableEntity || c != nil || !strings.Contains(page, `id="code-error"`) ||
					strings.Contains(page, "your billing export") {
					t.Fatalf("wrong code %d: %d %s", i+1, resp.StatusCode, page)
				}
			}
			if resp, page, c := enter(north, noraCode); resp.StatusCode != http.StatusUnprocessableEntity || c != nil ||
				!strings.Contains(page, "no longer works") {
				t.Fatalf("the right code after 5 wrong ones: %d %s", resp.StatusCode, page)
			}
			// A new code opens the page, once.
			noraCode = askCode(north, "nora@north.example")
			resp, _, northCookie := enter(north, noraCode)
			if resp.StatusCode != http.StatusSeeOther || northCookie == nil || !northCookie.HttpOnly || !northCookie.Secure ||
				northCookie.SameSite != http.SameSiteStrictMode || northCookie.Path != north[strings.Index(north, "/s/"):] {
				t.Fatalf("the right code: %d %+v", resp.StatusCode, northCookie)
			}
			if resp, page, c := enter(north, noraCode); resp.StatusCode != http.StatusUnprocessableEntity || c != nil {
				t.Fatalf("the code used twice: %d %s", resp.StatusCode, page)
			}
			resp, page := send(north, nil, northCookie)
			if resp.StatusCode != http.StatusOK || !strings.Contains(page, "North: your billing export was exposed.") ||
				!strings.Contains(page, "Everyone: we are containing an incident.") || strings.Contains(page, "South: your") ||
				strings.Contains(page, "Internal:") || leaks([]byte(page)) || strings.Contains(page, "billing export exposed") ||
				!strings.Contains(page, "Status of incident "+inc.Number) || !strings.Contains(page, "Right now we are looking into it.") {
				t.Fatalf("the north customer's status page: %d %s", resp.StatusCode, page)
			}
			// North's cookie does not open south's page.
			if resp, page := send(south, nil, &http.Cookie{Name: northCookie.Name, Value: northCookie.Value}); resp.StatusCode != http.StatusOK ||
				strings.Contains(page, "South: your") || strings.Contains(page, "Everyone:") {
				t.Fatalf("north's cookie on south's page: %d %s", resp.StatusCode, page)
			}
			// Nora's code does not open south's page either.
			samCode, wrongs := askCode(south, "sam@south.example"), 4
			if samCode != noraCode {
				wrongs++
				if resp, _, c := enter(south, noraCode); resp.StatusCode != http.StatusUnprocessableEntity || c != nil {
					t.Fatalf("nora's code on south's page: %d", resp.StatusCode)
				}
			}
			_, _, southCookie := enter(south, samCode)
			if resp, page := send(south, nil, southCookie); resp.StatusCode != http.StatusOK || !strings.Contains(page, "South: your") ||
				strings.Contains(page, "North: your") || strings.Contains(page, "Internal:") {
				t.Fatalf("the south customer's status page: %d %s", resp.StatusCode, page)
			}
			base := north[:strings.Index(north, "/s/")]
			if code, page := get(base + "/s/" + strings.Repeat("A", 43)); code != http.StatusNotFound || strings.Contains(page, "North") {
				t.Fatalf("a forged status page link: %d %s", code, page)
			}
			if code := post(north); code != http.StatusBadRequest {
				t.Fatalf("POSTing a status page link without a form: %d, want 400", code)
			}
			// Unsubscribing revokes the link.
			noraUpdate := mailTo(mail, "nora@north.example")[1]
			if code := post(bodyLinks(noraUpdate)[1]); code != http.StatusOK {
				t.Fatalf("unsubscribe: %d", code)
			}
			if resp, page := send(north, nil, northCookie); resp.StatusCode != http.StatusNotFound || strings.Contains(page, "North: your") {
				t.Fatalf("the status page after unsubscribing: %d %s", resp.StatusCode, page)
			}
			var trail struct {
				Items []struct{ Action string } `json:"items"`
			}
			w.doAs(officer, "GET", "/api/v1/audit?incident="+url.QueryEscape(inc.Number), nil, &trail)
			seen := map[string]int{}
			for _, e := range trail.Items {
				seen[e.Action]++
			}
			if seen["status_page.view"] != 2 || seen["status_page.refused"] != 1 || seen["status_page.code_sent"] != 3 ||
				seen["status_page.code_mailed"] != 3 || seen["status_page.code_wrong"] != wrongs || seen["status_page.code_locked"] != 1 ||
				seen["status_page.code_accepted"] != 2 || seen["status_page.code_refused"] < 2 {
				t.Fatalf("the audit trail of %s: %v", inc.Number, seen)
			}

			// The public status page.
			publicURL := "/api/v1/incidents/" + inc.ID + "/public-status-page"
			var pp struct {
				Enabled bool
				URL     string
			}
			w.doAs(responder, "GET", publicURL, nil, &pp)
			if pp.Enabled {
				t.Fatalf("the public page is on by default: %+v", pp)
			}
			if code, raw := w.doAs(responder, "PUT", publicURL, map[string]any{"enabled": true}, nil); code != http.StatusForbidden {
				t.Fatalf("a responder turns the public page on: %d %s, want 403", code, raw)
			}
			if code, raw := w.doAs(officer, "PUT", publicURL, map[string]any{"enabled": true}, &pp); code != http.StatusOK || !pp.Enabled ||
				!strings.Contains(pp.URL, "/p/") {
				t.Fatalf("turn the public page on: %d %s", code, raw)
			}
			if code, page := get(pp.URL); code != http.StatusOK || !strings.Contains(page, "Everyone: we are containing an incident.") ||
				strings.Contains(page, "North: your") || strings.Contains(page, "South: your") || strings.Contains(page, "Internal:") || leaks([]byte(page)) {
				t.Fatalf("the public page: %d %s", code, page)
			}

			// The organisation's public status page: off by default, turned
			// on by an officer, it lists the incident whose public page is on
			// with its PHI-checked public updates only.
			orgURL := "/api/v1/public-status-page"
			var op struct {
				Enabled bool
				URL     string
			}
			w.doAs(responder, "GET", orgURL, nil, &op)
			if op.Enabled || !strings.HasSuffix(op.URL, "/status") {
				t.Fatalf("the organisation's page by default: %+v", op)
			}
			if code, page := get(base + "/status"); code != http.StatusNotFound || strings.Contains(page, "Everyone:") {
				t.Fatalf("the organisation's page while off: %d %s", code, page)
			}
			if code, raw := w.doAs(responder, "PUT", orgURL, map[string]any{"enabled": true}, nil); code != http.StatusForbidden {
				t.Fatalf("a responder turns the organisation's page on: %d %s, want 403", code, raw)
			}
			if code, raw := w.doAs(officer, "PUT", orgURL, map[string]any{"enabled": true}, &op); code != http.StatusOK || !op.Enabled {
				t.Fatalf("turn the organisation's page on: %d %s", code, raw)
			}
			if code, page := get(base + "/status"); code != http.StatusOK || !strings.Contains(page, "Incident "+inc.Number) ||
				!strings.Contains(page, "Everyone: we are containing an incident.") || !strings.Contains(page, "Status of Acme Billing") ||
				strings.Contains(page, "North: your") || strings.Contains(page, "South: your") || strings.Contains(page, "Internal:") ||
				leaks([]byte(page)) || strings.Contains(page, "billing export exposed") {
				t.Fatalf("the organisation's page: %d %s", code, page)
			}

			// The web UI: the template offered on the incident page, the
			// templates page, and turning the public page off.
			ui := signInAs(t, w, authz.RolePrivacyOfficer, "sp-ui-officer")
			if code, page := ui.send("GET", "/incidents/"+inc.Number+"?update_template="+tmpl.ID, nil); code != http.StatusOK ||
				!strings.Contains(page, "Acme Billing is investigating incident "+inc.Number+": we are looking into it.</textarea>") ||
				!strings.Contains(page, pp.URL) {
				t.Fatalf("the incident page with a template chosen: %d %.30000s", code, page)
			}
			if code, loc := ui.send("POST", "/stakeholders/templates", url.Values{"name": {"Resolved"}, "audience": {"public"},
				"body": {"Incident {incident} is resolved."}}); code != http.StatusSeeOther || !strings.Contains(loc, "msg=update_template_created") {
				t.Fatalf("save a template by the form: %d %.3000s", code, loc)
			}
			if code, page := ui.send("POST", "/stakeholders/templates", url.Values{"name": {"Bad"}, "audience": {"public"},
				"body": {"MRN: 12345678"}}); code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="body-error"`) {
				t.Fatalf("a template with PHI by the form: %d %.3000s", code, page)
			}
			if code, page := ui.send("GET", "/stakeholders/templates", nil); code != http.StatusOK || !strings.Contains(page, "Incident {incident} is resolved.") {
				t.Fatalf("the templates page: %d %.3000s", code, page)
			}
			if code, loc := ui.send("POST", "/incidents/"+inc.Number+"/public-status-page", url.Values{"enabled": {"off"}}); code != http.StatusSeeOther ||
				!strings.Contains(loc, "msg=public_page_off") {
				t.Fatalf("turn the public page off by the form: %d %.3000s", code, loc)
			}
			if code, page := get(pp.URL); code != http.StatusNotFound || strings.Contains(page, "Everyone:") {
				t.Fatalf("the public page turned off: %d %s", code, page)
			}
			if code, page := get(base + "/status"); code != http.StatusOK || strings.Contains(page, "Everyone:") || strings.Contains(page, inc.Number) {
				t.Fatalf("the organisation's page once the incident's is off: %d %s", code, page)
			}
			if code, raw := w.doAs(officer, "PUT", orgURL, map[string]any{"enabled": false}, &op); code != http.StatusOK || op.Enabled {
				t.Fatalf("turn the organisation's page off: %d %s", code, raw)
			}
			if code, _ := get(base + "/status"); code != http.StatusNotFound {
				t.Fatalf("the organisation's page turned off: %d", code)
			}
			w.doAs(officer, "GET", "/api/v1/audit?action=org_status_page.enable", nil, &trail)
			if len(trail.Items) != 1 {
				t.Fatalf("turning the organisation's page on is not audited: %+v", trail.Items)
			}
		})
	}
}
