package e2e

import (
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/authz"
)

var endpointRe = regexp.MustCompile(`id="endpoint" class="secret" type="text" value="([^"]+)"`)

// TestUIHeartbeatAndEmailIntegrations: an administrator makes a heartbeat
// and an email integration on the service page, as only the API could.
// The heartbeat's key page gives the URL to ping; the service page then
// shows the monitor waiting, and up after a ping. The email key's page
// gives the intake address, and the kind is offered only while the email
// intake is on.
func TestUIHeartbeatAndEmailIntegrations(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		w := startWardAt(t, t.TempDir(), dbURL, func(e *app.Env) {
			e.Args = append(e.Args, "--email-intake-listen", addr, "--email-intake-domain", "alerts.ward.test")
		})
		var svc struct{ ID string }
		w.must(201, "POST", "/api/v1/services", map[string]any{"name": "nightly-backup", "group_by": "alert"}, &svc)
		b := signInAs(t, w, authz.RoleAdmin, "ada")
		create := func(form url.Values) (int, string) {
			t.Helper()
			code, loc := b.send("POST", "/services/"+svc.ID+"/integrations", form)
			if code != http.StatusSeeOther {
				return code, loc
			}
			_, page := b.send("GET", loc, nil)
			m := endpointRe.FindStringSubmatch(page)
			if m == nil {
				t.Fatalf("no endpoint on the key page: %.2000s", page)
			}
			return code, m[1]
		}

		code, page := create(url.Values{"ig_kind": {"heartbeat"}, "ig_name": {"backup job"}, "ig_interval": {"0"}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, "must be 1 to 10080 minutes") {
			t.Fatalf("an interval of 0: %d %.300s", code, page)
		}
		code, ping := create(url.Values{"ig_kind": {"heartbeat"}, "ig_name": {"backup job"}, "ig_interval": {"60"}})
		if code != http.StatusSeeOther || !strings.HasPrefix(ping, w.url+"/heartbeat/") {
			t.Fatalf("heartbeat key: %d %q", code, ping)
		}
		_, page = b.send("GET", "/services/"+svc.ID, nil)
		if !strings.Contains(page, "Waiting for the first ping") || !strings.Contains(page, "expected every 1 hour") {
			t.Fatalf("the service page before a ping: %.4000s", page)
		}
		resp, err := w.client.Get(ping)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			t.Fatalf("ping: %d", resp.StatusCode)
		}
		_, page = b.send("GET", "/services/"+svc.ID, nil)
		if !strings.Contains(page, "Up: last ping") {
			t.Fatalf("the service page after a ping: %.4000s", page)
		}

		code, mailto := create(url.Values{"ig_kind": {"email"}, "ig_name": {"backup mailer"}})
		if code != http.StatusSeeOther || !strings.HasSuffix(mailto, "@alerts.ward.test") {
			t.Fatalf("email key: %d %q", code, mailto)
		}
		_, page = b.send("GET", "/services/"+svc.ID, nil)
		if !strings.Contains(page, `<option value="email"`) || !strings.Contains(page, "by email to the key's address at alerts.ward.test") {
			t.Fatalf("the service page with the email intake on: %.4000s", page)
		}

		if dbURL != "" {
			return // a second server on this database would need the first one's master key; SQLite's shows it
		}
		off := startWard(t, "")
		off.must(201, "POST", "/api/v1/services", map[string]any{"name": "other", "group_by": "alert"}, &svc)
		_, page = signInAs(t, off, authz.RoleAdmin, "ada2").send("GET", "/services/"+svc.ID, nil)
		if strings.Contains(page, `<option value="email"`) || !strings.Contains(page, `<option value="heartbeat"`) {
			t.Fatalf("the email kind is offered with the email intake off: %.4000s", page)
		}
	})
}
