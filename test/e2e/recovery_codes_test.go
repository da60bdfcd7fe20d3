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
// the profile's form: the password is asked again, the new codes are
// shown once, and one of them signs in.
func TestMFARecoveryCodesRegenerate(t *testing.T) {
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
		code, page = b.send("POST", "/profile/recovery-codes", url.Values{"current_password": {uiPassword}})
		codes := recoveryCodeRe.FindAllStringSubmatch(page, -1)
		if code != http.StatusOK || len(codes) != 10 {
			t.Fatalf("regenerate: %d, %d codes: %.2000s", code, len(codes), page)
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
