package e2e

import (
	"net/url"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/app"
)

// TestOutboundGuard: without --outbound-allow, Ward refuses with 422 on
// the address field a webhook, Slack or Teams contact method on a loopback
// address, a name resolving to one, the cloud metadata service or a
// private network, and sends them nothing. Allow-listed, a webhook on
// 127.0.0.1 is saved and verified; once the administrator takes the
// allow-list away, its page is refused at delivery, recorded as failed
// with the reason, and never reaches it.
func TestOutboundGuard(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		hook := startHook(t)
		data := t.TempDir()
		fast := func(e *app.Env) { e.Args = append(e.Args, "--paging-poll", "50ms") }
		w := startWardAt(t, data, dbURL, fast)
		if code, _, errs := runWardIn(t, data, dbURL, "orange lantern over quiet harbour\n", "user", "create",
			"--username", "bob", "--name", "bob", "--email", "bob@example.org", "--role", "responder", "--password-stdin"); code != 0 {
			t.Fatalf("user create: %s", errs)
		}
		u, err := url.Parse(hook.URL)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ kind, address string }{
			{"webhook", hook.URL + "/page"},
			{"webhook", "https://127.0.0.1/page"},
			{"webhook", "https://localhost:" + u.Port() + "/page"}, // a name, resolving to 127.0.0.1
			{"webhook", "https://169.254.169.254/latest/meta-data/iam/security-credentials/"},
			{"webhook", "https://[fd00:ec2::254]/latest/meta-data/"},
			{"webhook", "https://[::ffff:127.0.0.1]/page"},
			{"slack", "https://10.1.2.3/services/T0/B0/x"},
			{"teams", "https://192.168.0.10/workflows/x"},
		} {
			code, raw := w.do("POST", "/api/v1/users/bob/contact-methods", map[string]any{"kind": c.kind, "address": c.address}, nil)
			if code != 422 || !strings.Contains(string(raw), `"location":"body.address"`) || !strings.Contains(string(raw), "--outbound-allow") {
				t.Errorf("%s contact method at %s: %d %s, want 422 on body.address naming --outbound-allow", c.kind, c.address, code, raw)
			}
		}
		var cs []struct{ ID string }
		w.must(200, "GET", "/api/v1/users/bob/contact-methods", nil, &cs)
		if len(cs) != 0 || len(hook.all()) != 0 {
			t.Fatalf("refused contact methods: %d saved, %d requests to the receiver", len(cs), len(hook.all()))
		}
		w.stop()

		// The administrator allow-lists 127.0.0.1: the webhook is saved and
		// its signed test delivery verifies it.
		w = startWardAt(t, data, dbURL, fast, allowLoopback)
		w.must(201, "POST", "/api/v1/users/bob/contact-methods", map[string]any{"kind": "webhook", "address": hook.URL + "/page"}, nil)
		eventually(t, "the webhook test delivery", func() bool { return len(hook.all()) == 1 })
		w.must(201, "POST", "/api/v1/escalation-policies", map[string]any{"name": "guarded",
			"steps": []map[string]any{{"delay_minutes": 5, "targets": []map[string]string{{"type": "user", "id": "bob"}}}}}, nil)
		var svc struct{ ID string }
		w.must(201, "POST", "/api/v1/services", map[string]any{"name": "guarded", "escalation_policy": "guarded"}, &svc)
		var ig integrationKey
		w.must(201, "POST", "/api/v1/services/"+svc.ID+"/integrations", map[string]any{"kind": "events_v2", "name": "mon"}, &ig)
		w.stop()

		// The allow-list is gone: the stored webhook is refused at connect
		// time, for good (one attempt), and the receiver hears nothing.
		w = startWardAt(t, data, dbURL, fast)
		if code, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger","dedup_key":"g1",
			"payload":{"summary":"Disk full","source":"db1","severity":"critical"}}`, nil); code != 202 {
			t.Fatalf("trigger: %d %s", code, body)
		}
		inc := w.alerts("service=" + svc.ID)[0].IncidentNumber
		var ns []struct {
			Status    string `json:"status"`
			Attempts  int    `json:"attempts"`
			LastError string `json:"last_error"`
		}
		eventually(t, "the refused page", func() bool {
			w.must(200, "GET", "/api/v1/incidents/"+inc+"/notifications", nil, &ns)
			return len(ns) == 1 && ns[0].Status == "failed"
		})
		if ns[0].Attempts != 1 || !strings.Contains(ns[0].LastError, "refusing to connect to 127.0.0.1, a loopback address") {
			t.Fatalf("the refused page: %+v, want one attempt refused by the outbound guard", ns[0])
		}
		if n := len(hook.all()); n != 1 {
			t.Fatalf("the receiver got %d requests, want only the test delivery made while allow-listed", n)
		}
	})
}
