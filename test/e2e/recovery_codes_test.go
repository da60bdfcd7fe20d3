package e2e

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
)

var recoveryCodeRe = regexp.MustCompile(`<li>([0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4})</li>`)

// TestMFARecoveryCodesRegenerate makes a new set of recovery codes through
// the profile's form: the password is asked again, the form redirects to
// the page that shows the new codes once (a reload shows the profile and
// makes no new codes; the form's address opened by itself leads to the
// profile, not a 405), and one of them signs in.
func TestMFARecoveryCodesRegenerate(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		w := startWard(t, dbURL)
		b := signInAs(t, w, authz.RoleSecurityOfficer, "recovery-officer")
		if _, page := b.send("GET", "/profile", nil); !strings.Contains(page, "10 of 10 recovery codes left") {
			t.Fatalf("profile: %.2000s", page)
		}
		code, page := b.send("POST", "/profile/recovery-codes", url.Values{"current_password": {"not my password"}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="pw-recovery-error"`) || recoveryCodeRe.MatchString(page) {
			t.Fatalf("wrong password: %d %.2000s", code, page)
		}
		code, loc := b.send("POST", "/profile/recovery-codes", url.Values{"current_password": {uiPassword}})
		if code != http.StatusSeeOther || recoveryCodeRe.MatchString(loc) {
			t.Fatalf("regenerate: %d, want a redirect to the page that shows the codes: %.2000s", code, loc)
		}
		code, page = b.send("GET", loc, nil)
		codes := recoveryCodeRe.FindAllStringSubmatch(page, -1)
		if code != http.StatusOK || len(codes) != 10 || !strings.Contains(page, "New recovery codes") {
			t.Fatalf("the page the form leads to: %d, %d codes: %.2000s", code, len(codes), page)
		}
		// A reload: the codes are not shown again, and none are made.
		if code, again := b.send("GET", loc, nil); code != http.StatusSeeOther || !strings.HasPrefix(again, "/profile") {
			t.Fatalf("a reload of the codes page: %d %.300s", code, again)
		}
		if _, page := b.send("GET", "/profile", nil); !strings.Contains(page, "10 of 10 recovery codes left") {
			t.Fatalf("profile after a reload: %.2000s", page)
		}
		req, err := http.NewRequest(http.MethodGet, b.base+"/profile/recovery-codes", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Accept", "text/html")
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/profile" {
			t.Fatalf("the form's address opened by itself (Back): %d to %q, want the profile", resp.StatusCode, resp.Header.Get("Location"))
		}

		other := newBrowserless(t, w.url)
		if code, where := other.send("POST", "/login", url.Values{"username": {"recovery-officer"}, "password": {uiPassword}}); code != http.StatusSeeOther || !strings.HasPrefix(where, "/login/mfa") {
			t.Fatalf("sign-in: %d %.300s", code, where)
		}
		other.send("GET", "/login/mfa", nil)
		if code, where := other.send("POST", "/login/mfa", url.Values{"code": {codes[0][1]}}); code != http.StatusSeeOther || strings.HasPrefix(where, "/login") {
			t.Fatalf("new recovery code: %d %.300s", code, where)
		}
		if code, page := other.send("GET", "/profile", nil); code != http.StatusOK || !strings.Contains(page, "9 of 10 recovery codes left") {
			t.Fatalf("profile after a code: %d %.2000s", code, page)
		}
	})
}
