package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/wardhq/ward/internal/authz"
)

// TestUIPostRedirectGetSecrets: the two forms whose answer is a secret
// shown once, the first two-factor enrolment and a new integration key,
// redirect to the page that shows it (the secret is in neither the
// redirect nor the server's log). A reload of that page shows the
// profile or the service, with no new secret and no second key; Back to
// the enrolment form leads to the profile and enrols nothing. Both forms
// once answered at their POST address, so a reload sent them again.
func TestUIPostRedirectGetSecrets(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		if code, _, errs := runWardIn(t, w.data, w.dbURL, uiPassword+"\n", "user", "create", "--username", "prg-admin",
			"--role", string(authz.RoleAdmin), "--password-stdin"); code != 0 {
			t.Fatalf("create the admin: %s", errs)
		}
		b := newBrowserless(t, w.url)
		if code, where := b.send("POST", "/login", url.Values{"username": {"prg-admin"}, "password": {uiPassword}}); code != http.StatusSeeOther {
			t.Fatalf("sign-in: %d %.300s", code, where)
		}
		_, page := b.send("GET", "/mfa/enroll", nil)
		m := secretRe.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no TOTP secret on the enrolment page: %.500s", page)
		}
		otp, err := totp.GenerateCode(m[1], time.Now())
		if err != nil {
			t.Fatal(err)
		}
		code, loc := b.send("POST", "/mfa/enroll", url.Values{"code": {otp}})
		if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/mfa/recovery-codes?") || recoveryCodeRe.MatchString(loc) {
			t.Fatalf("enrolment: %d, want a redirect to the page that shows the codes: %.1000s", code, loc)
		}
		code, page = b.send("GET", loc, nil)
		codes := recoveryCodeRe.FindAllStringSubmatch(page, -1)
		if code != http.StatusOK || len(codes) != 10 || !strings.Contains(page, "Two-factor authentication is on") {
			t.Fatalf("the page the enrolment leads to: %d, %d codes: %.2000s", code, len(codes), page)
		}
		if code, again := b.send("GET", loc, nil); code != http.StatusSeeOther || !strings.HasPrefix(again, "/profile") ||
			recoveryCodeRe.MatchString(again) {
			t.Fatalf("a reload of the codes page: %d %.500s", code, again)
		}
		if code, back := b.send("GET", "/mfa/enroll", nil); code != http.StatusSeeOther || !strings.HasPrefix(back, "/profile?msg=mfa_already_on") {
			t.Fatalf("Back to the enrolment form: %d %.500s", code, back)
		}
		if _, page := b.send("GET", "/profile", nil); !strings.Contains(page, "10 of 10 recovery codes left") {
			t.Fatalf("profile after a reload and Back: %.2000s", page)
		}

		var svc struct{ ID string }
		w.must(http.StatusCreated, "POST", "/api/v1/services", map[string]any{"name": "prg"}, &svc)
		svcPath := "/services/" + svc.ID
		code, loc = b.send("POST", svcPath+"/integrations", url.Values{"ig_kind": {"events_v2"}, "ig_name": {"prometheus"}})
		if code != http.StatusSeeOther || !strings.HasPrefix(loc, svcPath+"/integrations/") || !strings.HasSuffix(loc, "/key") {
			t.Fatalf("create a key: %d, want a redirect to the key's page: %.1000s", code, loc)
		}
		// Only the session that made the key sees it.
		other := signInAs(t, w, authz.RoleSecurityOfficer, "prg-officer")
		if code, elsewhere := other.send("GET", loc, nil); code != http.StatusSeeOther || keyRe.MatchString(elsewhere) {
			t.Fatalf("the key's page in another session: %d %.500s", code, elsewhere)
		}
		code, page = b.send("GET", loc, nil)
		km := keyRe.FindStringSubmatch(page)
		if code != http.StatusOK || km == nil || !strings.Contains(page, "you will not see it again") {
			t.Fatalf("the key's page: %d %.2000s", code, page)
		}
		key := km[1]
		if strings.Contains(loc, key) {
			t.Fatalf("the key is in the redirect: %s", loc)
		}
		code, again := b.send("GET", loc, nil)
		if code != http.StatusSeeOther || !strings.HasPrefix(again, svcPath+"?msg=key_shown") || strings.Contains(again, key) {
			t.Fatalf("a reload of the key's page: %d %.500s", code, again)
		}
		if code, page := b.send("GET", svcPath+"?msg=key_shown", nil); code != http.StatusOK || strings.Contains(page, key) ||
			!strings.Contains(page, "shown only once") {
			t.Fatalf("the service after a reload: %d %.2000s", code, page)
		}
		var igs []struct{ ID string }
		w.must(http.StatusOK, "GET", "/api/v1/services/"+svc.ID+"/integrations", nil, &igs)
		if len(igs) != 1 {
			t.Fatalf("%d integration keys after a reload, want 1", len(igs))
		}
		w.must(http.StatusAccepted, "POST", "/v2/enqueue", map[string]any{"routing_key": key, "event_action": "trigger",
			"payload": map[string]any{"summary": "Disk full", "source": "db-1", "severity": "warning"}}, nil)
		if strings.Contains(w.logs.String(), key) {
			t.Fatal("the integration key is in the server's log")
		}

		// The codes the page showed sign in.
		later := newBrowserless(t, w.url)
		later.send("POST", "/login", url.Values{"username": {"prg-admin"}, "password": {uiPassword}})
		later.send("GET", "/login/mfa", nil)
		if code, where := later.send("POST", "/login/mfa", url.Values{"code": {codes[0][1]}}); code != http.StatusSeeOther || strings.HasPrefix(where, "/login") {
			t.Fatalf("a recovery code from the page: %d %.300s", code, where)
		}
	})
}
