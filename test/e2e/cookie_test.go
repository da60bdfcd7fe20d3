package e2e

import (
	"crypto/tls"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// login signs username in through the sign-in form at base and returns
// the session cookie's Set-Cookie header.
func login(t *testing.T, base, username string) (string, *http.Cookie) {
	t.Helper()
	c := &http.Client{Timeout: 20 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, // self-signed
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(base+"/login", url.Values{"username": {username}, "password": {uiPassword}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || len(resp.Cookies()) != 1 {
		t.Fatalf("sign-in: %d, cookies %v", resp.StatusCode, resp.Header.Values("Set-Cookie"))
	}
	return resp.Header.Get("Set-Cookie"), resp.Cookies()[0]
}

// TestSessionCookie: over HTTPS the session cookie has the __Host- prefix
// (Secure, Path=/, no Domain), so no sibling subdomain or plain-HTTP page
// can plant one; under --insecure-http it is ward_session without Secure,
// which the prefix would not allow, and it still signs in.
func TestSessionCookie(t *testing.T) {
	t.Parallel()
	w := startWard(t, "")
	if code, _, errs := runWardIn(t, w.data, "", uiPassword+"\n", "user", "create", "--username", "cookie", "--role", "responder", "--password-stdin"); code != 0 {
		t.Fatal(errs)
	}
	header, _ := login(t, w.url, "cookie")
	if !strings.HasPrefix(header, "__Host-ward_session=") || !strings.Contains(header, "; Secure") || !strings.Contains(header, "Path=/;") ||
		strings.Contains(header, "Domain") || !strings.Contains(header, "HttpOnly") || !strings.Contains(header, "SameSite=Strict") {
		t.Fatalf("session cookie over HTTPS: %s", header)
	}
	w.stop()

	data := t.TempDir()
	if code, _, errs := runWard(t, data, "", "migrate"); code != 0 {
		t.Fatal(errs)
	}
	if code, _, errs := runWardIn(t, data, "", uiPassword+"\n", "user", "create", "--username", "plain", "--role", "responder", "--password-stdin"); code != 0 {
		t.Fatal(errs)
	}
	_, errs, started := serveOnce(t, data, map[string]string{"WARD_INSECURE_HTTP": "true"}, func(base string) {
		header, cookie := login(t, base, "plain")
		if !strings.HasPrefix(header, "ward_session=") || strings.Contains(header, "Secure") {
			t.Errorf("session cookie under --insecure-http: %s", header)
		}
		req, _ := http.NewRequest("GET", base+"/profile", nil)
		req.AddCookie(cookie)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("profile with the session cookie under --insecure-http: %d", resp.StatusCode)
		}
	})
	if !started {
		t.Fatalf("ward serve --insecure-http did not start: %s", errs)
	}
}
