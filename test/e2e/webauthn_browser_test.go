package e2e

import (
	"context"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/wardhq/ward/internal/app"
)

// startWardOnLocalhost starts Ward with its public URL at
// https://localhost:port: WebAuthn needs a domain as relying party ID,
// and browsers refuse an IP address.
func startWardOnLocalhost(t *testing.T, dbURL string) (*ward, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	public := "https://localhost:" + port
	w := startWardAt(t, t.TempDir(), dbURL, func(e *app.Env) {
		for i, a := range e.Args {
			if a == "127.0.0.1:0" {
				e.Args[i] = "127.0.0.1:" + port
			}
		}
		e.Args = append(e.Args, "--public-url", public)
	})
	return w, public
}

// virtualKey gives the browser tab a CTAP2 USB security key whose touches
// and user verification succeed at once (Chrome DevTools WebAuthn domain).
func virtualKey() chromedp.Action {
	return chromedp.ActionFunc(func(ctx context.Context) error {
		if err := webauthn.Enable().Do(ctx); err != nil {
			return err
		}
		_, err := webauthn.AddVirtualAuthenticator(&webauthn.VirtualAuthenticatorOptions{
			Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportUsb,
			HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
		}).Do(ctx)
		return err
	})
}

// TestBrowserWebAuthn registers a security key from the profile page in
// real headless Chromium, which shows the recovery codes that come with it
// once, signs out, and signs in with the password and the key, then with a
// recovery code (once); then a security officer enrols a key as their
// required second factor.
func TestBrowserWebAuthn(t *testing.T) {
	t.Parallel()
	path := chromium(t)
	eachDBURL(t, func(t *testing.T, dbURL string) { browserWebAuthn(t, path, dbURL) })
}

func browserWebAuthn(t *testing.T, path, dbURL string) {
	w, public := startWardOnLocalhost(t, dbURL)
	const password = "orange lantern over quiet harbour"
	for _, u := range []struct{ name, role string }{{"kim", "responder"}, {"sofia", "security_officer"}} {
		if code, _, errs := runWardIn(t, w.data, w.dbURL, password+"\n", "user", "create", "--username", u.name,
			"--name", "Test "+u.name, "--role", u.role, "--password-stdin"); code != 0 {
			t.Fatalf("user create %s: %s", u.name, errs)
		}
	}

	var loc string
	ctx := browser(t, path)
	run(t, ctx, "virtual authenticator", chromedp.Navigate(public+"/login"), virtualKey())
	var h1 string
	run(t, ctx, "sign in", signIn("kim", password), chromedp.WaitVisible(`form[action="/logout"]`, chromedp.ByQuery),
		chromedp.Text("main h1", &h1, chromedp.ByQuery))
	if h1 != "Open incidents" {
		t.Fatalf("after sign-in: %q", h1)
	}
	// The first key brings recovery codes, shown once.
	var keys, shown string
	run(t, ctx, "register a key", chromedp.Navigate(public+"/profile"),
		chromedp.WaitVisible("#key-name", chromedp.ByQuery), chromedp.SendKeys("#key-name", "Virtual key", chromedp.ByQuery),
		chromedp.Click("#webauthn-register button", chromedp.ByQuery),
		chromedp.WaitVisible("#recovery-codes", chromedp.ByQuery),
		chromedp.Text("#recovery-codes", &shown, chromedp.ByQuery), chromedp.Location(&loc))
	codes := strings.Fields(shown)
	if len(codes) != 10 || len(codes[0]) != 19 || strings.Contains(loc, codes[0]) {
		t.Fatalf("recovery codes %q at %s", codes, loc)
	}
	run(t, ctx, "codes not shown again", chromedp.Navigate(public+"/mfa/recovery-codes"),
		chromedp.WaitVisible(`section[aria-labelledby="keys"] table`, chromedp.ByQuery),
		chromedp.Text(`section[aria-labelledby="keys"] table`, &keys, chromedp.ByQuery),
		chromedp.Text("#recovery-left", &shown, chromedp.ByQuery))
	if !strings.Contains(keys, "Virtual key") || !strings.Contains(keys, "never") {
		t.Fatalf("keys after registration: %q", keys)
	}
	if !strings.HasPrefix(shown, "10 of 10") {
		t.Fatalf("recovery codes left: %q", shown)
	}

	run(t, ctx, "sign out", chromedp.Click(`form[action="/logout"] button`, chromedp.ByQuery),
		chromedp.WaitVisible("#username", chromedp.ByQuery))
	run(t, ctx, "sign in with the key", signIn("kim", password),
		chromedp.WaitVisible("#webauthn-login button", chromedp.ByQuery),
		chromedp.Click("#webauthn-login button", chromedp.ByQuery))
	// The script moves the page once Ward accepts the key.
	eventually(t, "leaving the two-factor check", func() bool {
		return chromedp.Run(ctx, chromedp.Location(&loc)) == nil && !strings.Contains(loc, "/login")
	})
	run(t, ctx, "dashboard", chromedp.WaitVisible(`form[action="/logout"]`, chromedp.ByQuery), chromedp.Text("main h1", &h1, chromedp.ByQuery))
	if h1 != "Open incidents" {
		t.Fatalf("after the key: %q at %s", h1, loc)
	}
	// No authenticator app: the check offered the key only.
	run(t, ctx, "key used", chromedp.Navigate(public+"/profile"),
		chromedp.WaitVisible(`section[aria-labelledby="keys"] table`, chromedp.ByQuery),
		chromedp.Text(`section[aria-labelledby="keys"] table`, &keys, chromedp.ByQuery))
	if strings.Contains(keys, "never") {
		t.Fatalf("last used not recorded: %q", keys)
	}

	// Without the key, a recovery code works once.
	var label string
	run(t, ctx, "sign out", chromedp.Click(`form[action="/logout"] button`, chromedp.ByQuery),
		chromedp.WaitVisible("#username", chromedp.ByQuery))
	run(t, ctx, "sign in with a recovery code", signIn("kim", password),
		chromedp.WaitVisible("#code", chromedp.ByQuery), chromedp.Text(`label[for="code"]`, &label, chromedp.ByQuery),
		chromedp.SendKeys("#code", codes[0], chromedp.ByQuery),
		chromedp.Submit("#code", chromedp.ByQuery))
	if !strings.HasPrefix(label, "Recovery code") {
		t.Fatalf("code form for a key-only user: label %q", label)
	}
	onDashboard(t, ctx, "after the recovery code")
	run(t, ctx, "codes left", chromedp.Navigate(public+"/profile"),
		chromedp.WaitVisible("#recovery-left", chromedp.ByQuery), chromedp.Text("#recovery-left", &shown, chromedp.ByQuery))
	if !strings.HasPrefix(shown, "9 of 10") {
		t.Fatalf("recovery codes left: %q", shown)
	}
	var refused string
	run(t, ctx, "sign out", chromedp.Click(`form[action="/logout"] button`, chromedp.ByQuery),
		chromedp.WaitVisible("#username", chromedp.ByQuery))
	run(t, ctx, "a used recovery code", signIn("kim", password),
		chromedp.WaitVisible("#code", chromedp.ByQuery), chromedp.SendKeys("#code", codes[0], chromedp.ByQuery),
		chromedp.Submit("#code", chromedp.ByQuery),
		chromedp.WaitVisible("#code-error", chromedp.ByQuery), chromedp.Text("#code-error", &refused, chromedp.ByQuery))
	if !strings.Contains(refused, "not valid") {
		t.Fatalf("used code: %q", refused)
	}
	run(t, ctx, "another recovery code", chromedp.SetValue("#code", codes[1], chromedp.ByQuery),
		chromedp.Submit("#code", chromedp.ByQuery))
	onDashboard(t, ctx, "after another recovery code")

	// A security officer must enrol a second factor; a key will do.
	run(t, ctx, "sign out", chromedp.Click(`form[action="/logout"] button`, chromedp.ByQuery),
		chromedp.WaitVisible("#username", chromedp.ByQuery))
	run(t, ctx, "officer enrols a key", signIn("sofia", password),
		chromedp.WaitVisible("#key-name", chromedp.ByQuery), chromedp.SendKeys("#key-name", "Officer key", chromedp.ByQuery),
		chromedp.Click("#webauthn-register button", chromedp.ByQuery),
		chromedp.WaitVisible("#recovery-codes", chromedp.ByQuery),
		chromedp.Navigate(public+"/profile"),
		chromedp.WaitVisible(`section[aria-labelledby="keys"] table`, chromedp.ByQuery),
		chromedp.Text(`section[aria-labelledby="keys"] table`, &keys, chromedp.ByQuery))
	if !strings.Contains(keys, "Officer key") {
		t.Fatalf("officer's keys: %q", keys)
	}
	var account string
	run(t, ctx, "officer's MFA is on", chromedp.Text(`section[aria-labelledby="account"]`, &account, chromedp.ByQuery))
	if !strings.Contains(account, "Two-factor authentication: on (security keys)") {
		t.Fatalf("account: %q", account)
	}
}

// onDashboard waits until the tab shows the dashboard, after a form that
// moves the page there.
func onDashboard(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	eventually(t, what, func() bool {
		var h1 string
		return chromedp.Run(ctx, chromedp.Text("main h1", &h1, chromedp.ByQuery)) == nil && h1 == "Open incidents"
	})
}
