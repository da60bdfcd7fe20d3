package e2e

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/web/ui"
)

var (
	csrfRe   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	secretRe = regexp.MustCompile(`<code>([A-Z2-7]+)</code>`)
)

// browserless is a cookie-keeping client that does not follow redirects.
type browserless struct {
	t    *testing.T
	base string
	c    *http.Client
	csrf string
}

func newBrowserless(t *testing.T, base string) *browserless {
	jar, _ := cookiejar.New(nil)
	return &browserless{t: t, base: base, c: &http.Client{
		Jar: jar, Timeout: 20 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, // self-signed
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

func (b *browserless) send(method, path string, form url.Values) (int, string) {
	b.t.Helper()
	var body io.Reader
	if method == http.MethodPost {
		if form == nil {
			form = url.Values{}
		}
		if b.csrf != "" {
			form.Set("csrf", b.csrf)
		}
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		b.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if m := csrfRe.FindStringSubmatch(string(raw)); m != nil {
		b.csrf = m[1]
	}
	return resp.StatusCode, resp.Header.Get("Location") + string(raw)
}

// uiPassword is the password of the users the UI tests create.
const uiPassword = "violet compass under winter rain"

// signInAs creates a user of role named name, signs them in through the
// sign-in form (enrolling two-factor authentication when the role needs
// it) and returns the browser, holding a full session and its CSRF token.
func signInAs(t *testing.T, w *ward, role authz.Role, name string) *browserless {
	t.Helper()
	if code, _, errs := runWardIn(t, w.data, w.dbURL, uiPassword+"\n", "user", "create", "--username", name,
		"--role", string(role), "--password-stdin"); code != 0 {
		t.Fatalf("create %s: %s", role, errs)
	}
	b := newBrowserless(t, w.url)
	code, where := b.send("POST", "/login", url.Values{"username": {name}, "password": {uiPassword}})
	if code != http.StatusSeeOther {
		t.Fatalf("%s sign-in: %d %.300s", role, code, where)
	}
	if authz.PrivilegedRole(role) {
		_, page := b.send("GET", "/mfa/enroll", nil)
		m := secretRe.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("%s: no TOTP secret on the enrolment page: %.500s", role, page)
		}
		otp, err := totp.GenerateCode(m[1], time.Now())
		if err != nil {
			t.Fatal(err)
		}
		code, loc := b.send("POST", "/mfa/enroll", url.Values{"code": {otp}})
		if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/mfa/recovery-codes") {
			t.Fatalf("%s enrolment: %d %.500s", role, code, loc)
		}
		if code, page := b.send("GET", loc, nil); code != http.StatusOK || !strings.Contains(page, "recovery codes") {
			t.Fatalf("%s recovery codes: %d %.500s", role, code, page)
		}
	}
	b.send("GET", "/profile", nil) // a full session, and its CSRF token
	return b
}

// alertingIDs are the objects the alerting routes of the matrix act on.
type alertingIDs struct{ service, integration, window, alert string }

// alertingFixture makes, through the API and the Events API v2, a service
// with an integration key, an alert and then a maintenance window.
func alertingFixture(t *testing.T, w *ward) alertingIDs {
	t.Helper()
	var fx alertingIDs
	var svc, ig struct{ ID, Key string }
	w.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "matrix"}, &svc)
	w.must(http.StatusCreated, "POST", "/api/v1/services/"+svc.ID+"/integrations", map[string]any{"kind": "events_v2", "name": "m"}, &ig)
	w.must(http.StatusAccepted, "POST", "/v2/enqueue", map[string]any{"routing_key": ig.Key, "event_action": "trigger",
		"payload": map[string]any{"summary": "matrix alert", "source": "m", "severity": "info"}}, nil)
	var alerts []struct{ ID string }
	w.must(http.StatusOK, "GET", "/api/v1/alerts?service="+svc.ID, nil, &alerts)
	if len(alerts) != 1 {
		t.Fatalf("alerts of the matrix service: %d, want 1", len(alerts))
	}
	var win struct{ ID string }
	w.must(http.StatusCreated, "POST", "/api/v1/services/"+svc.ID+"/maintenance", map[string]any{
		"ends_at": time.Now().Add(time.Hour).UTC().Format(time.RFC3339), "reason": "matrix"}, &win)
	fx.service, fx.integration, fx.window, fx.alert = svc.ID, ig.ID, win.ID, alerts[0].ID
	return fx
}

// pagingFixture makes, through the API, a schedule with one person on
// call and an escalation policy paging it, and returns their ids.
func pagingFixture(t *testing.T, w *ward) (schedule, policy string) {
	t.Helper()
	if code, _, errs := runWardIn(t, w.data, w.dbURL, uiPassword+"\n", "user", "create", "--username", "m-oncall",
		"--role", "responder", "--password-stdin"); code != 0 {
		t.Fatalf("create m-oncall: %s", errs)
	}
	var s, p struct{ ID string }
	w.must(http.StatusCreated, "POST", "/api/v1/schedules", map[string]any{"name": "matrix", "time_zone": "UTC",
		"rotations": []map[string]any{{"name": "r", "kind": "daily", "shift_length": 1,
			"start": time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), "participants": []string{"m-oncall"}}}}, &s)
	w.must(http.StatusCreated, "POST", "/api/v1/escalation-policies", map[string]any{"name": "matrix",
		"steps": []map[string]any{{"delay_minutes": 5, "targets": []map[string]string{{"type": "schedule", "id": "matrix"}}}}}, &p)
	return s.ID, p.ID
}

// TestUIPermissionMatrix signs in a user of every role and requests every
// route of the UI's route table: a role without the route's permission
// gets 403, every other answer means allowed. A route without a rule in
// the table cannot exist, since the table is what registers routes.
func TestUIPermissionMatrix(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "ui matrix"}, &inc)
		var task struct{ ID string }
		w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+inc.ID+"/tasks", map[string]any{"title": "t"}, &task)
		// A breach case, so that the breach routes act on one for every role.
		w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+inc.ID+"/breach-case", nil, nil)
		fx := alertingFixture(t, w)
		sched, pol := pagingFixture(t, w)
		var group struct{ ID string }
		w.must(http.StatusCreated, "POST", "/api/v1/stakeholder-groups", map[string]any{"name": "matrix"}, &group)
		// A workflow rule for {rule}; the notification-rule routes, which share
		// the wildcard, are then asked for a rule they do not have.
		var rule struct{ ID string }
		w.must(http.StatusCreated, "POST", "/api/v1/rules", map[string]any{"name": "matrix", "expression": `incident.alerts > 100`,
			"actions": []map[string]any{{"type": "add_task", "title": "t"}}}, &rule)
		var alertRule struct{ ID string }
		w.must(http.StatusCreated, "POST", "/api/v1/alert-rules", map[string]any{"name": "matrix", "expression": `alert.severity == "info"`,
			"actions": []map[string]any{{"type": "add_tags", "tags": []string{"t"}}}}, &alertRule)

		pages, err := ui.New(ui.Deps{})
		if err != nil {
			t.Fatal(err)
		}
		routes := pages.Routes()
		// Routes that end the session go last.
		slices.SortStableFunc(routes, func(a, b ui.Route) int {
			return strings.Count(a.Pattern, "logout") - strings.Count(b.Pattern, "logout")
		})
		for _, role := range authz.Roles {
			b := signInAs(t, w, role, "m-"+strings.ReplaceAll(string(role), "_", "-"))
			for _, rt := range routes {
				path := strings.NewReplacer("{$}", "", "{id}", inc.Number, "{task}", task.ID, "{service}", fx.service,
					"{integration}", fx.integration, "{window}", fx.window, "{alert}", fx.alert, "{user}", "nobody",
					"{officer_alert}", "none", "{segment}", "2", "{grant}", "none", "{policy}", pol, "{schedule}", sched, "{override}", "none",
					"{contact}", "none", "{key}", "none", "{rule}", rule.ID, "{alert_rule}", alertRule.ID, "{group}", group.ID, "{severity}", "sev4", "{template}", "none", "{file}", "none", "{party_id}", "none", "{item}", "none", "{feed}", "none", "{external}", "none", "{update_template}", "none", "{action}", "none", "{playbook}", "lost_device").Replace(rt.Pattern)
				if strings.ContainsAny(path, "{}") {
					t.Fatalf("%s %s: the matrix has no value for a wildcard; add one", rt.Method, rt.Pattern)
				}
				code, body := b.send(rt.Method, path, nil)
				allowed := rt.Perm == ui.Public || rt.Perm == ui.SignedIn || authz.Has(role, rt.Perm)
				if !allowed && code != http.StatusForbidden {
					t.Errorf("%s %s as %s: %d, want 403", rt.Method, rt.Pattern, role, code)
				}
				// For a route that needs a session, being sent to sign in means the
				// session was refused; public routes and signing out may answer anything but 403.
				lostSession := rt.Perm != ui.Public && !strings.Contains(rt.Pattern, "logout") &&
					(code == http.StatusUnauthorized || (code == http.StatusSeeOther && strings.HasPrefix(body, "/login")))
				if allowed && (code == http.StatusForbidden || lostSession) {
					t.Errorf("%s %s as %s: %d %.200s, want allowed", rt.Method, rt.Pattern, role, code, body)
				}
			}
		}
	})
}
