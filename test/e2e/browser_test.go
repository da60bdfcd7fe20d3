package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pquerna/otp/totp"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/clock"
)

// BrowserRequiredEnv, when "1", turns a missing Chromium from a skip into
// a failure; CI sets it.
const BrowserRequiredEnv = "WARD_BROWSER_REQUIRED"

// chromium returns the path of Debian's Chromium, skipping the test (or
// failing it, in CI) when there is none.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("WARD_CHROMIUM"), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if _, err := exec.LookPath(p); err == nil {
			return p
		}
	}
	if os.Getenv(BrowserRequiredEnv) == "1" {
		t.Fatalf("no Chromium found, and %s=1: install it with apt-get install chromium", BrowserRequiredEnv)
	}
	t.Skip("no Chromium found: apt-get install chromium to run the browser tests")
	return ""
}

// browser starts a headless Chromium with its own profile, for loopback
// only. The profile is a folder chromedp makes and removes once the
// browser has exited: a t.TempDir() profile raced Chromium's helper
// processes, which may still write into it after the browser is killed,
// and failed the test in its cleanup ("directory not empty").
func browser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.IgnoreCertErrors,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true),
		chromedp.WindowSize(1280, 1000),
	}
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancel)
	ctx, cancel2 := chromedp.NewContext(actx)
	t.Cleanup(cancel2)
	if err := chromedp.Run(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action) {
	t.Helper()
	step, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	start := time.Now()
	defer func() { t.Logf("%s: %v", what, time.Since(start).Round(time.Millisecond)) }()
	if err := chromedp.Run(step, actions...); err != nil {
		var loc, body string
		_ = chromedp.Run(ctx, chromedp.Location(&loc), chromedp.Text("body", &body, chromedp.ByQuery))
		t.Fatalf("%s: %v\nat %s:\n%.1500s", what, err, loc, body)
	}
}

// signIn fills the sign-in form; the caller waits for what comes next.
func signIn(username, password string) chromedp.Tasks {
	return chromedp.Tasks{
		chromedp.WaitVisible("#username", chromedp.ByQuery),
		chromedp.SendKeys("#username", username, chromedp.ByQuery),
		chromedp.SendKeys("#password", password, chromedp.ByQuery),
		chromedp.Submit("#password", chromedp.ByQuery),
	}
}

// TestBrowserWorkflow signs in with MFA enrolment, records an incident and
// moves it through phases in real headless Chromium, then checks idle
// logoff and that a second sign-in ends the first session.
func TestBrowserWorkflow(t *testing.T) {
	t.Parallel()
	path := chromium(t)
	clk := clock.NewFake(time.Now())
	w := startWardAt(t, t.TempDir(), "", func(e *app.Env) { e.Clock = clk })
	const password = "orange lantern over quiet harbour"
	if code, _, errs := runWardIn(t, w.data, "", password+"\n", "user", "create", "--username", "alice",
		"--name", "Alice Officer", "--role", "security_officer", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", errs)
	}

	ctx := browser(t, path)
	var secret string
	run(t, ctx, "sign in", chromedp.Navigate(w.url+"/login"), signIn("alice", password),
		chromedp.WaitVisible("#code", chromedp.ByQuery), chromedp.Text("main code", &secret, chromedp.ByQuery))
	code, err := totp.GenerateCode(secret, clk.Now())
	if err != nil {
		t.Fatal(err)
	}
	var codes string
	run(t, ctx, "enrol TOTP", chromedp.SendKeys("#code", code, chromedp.ByQuery), chromedp.Submit("#code", chromedp.ByQuery),
		chromedp.WaitVisible(".codes", chromedp.ByQuery), chromedp.Text(".codes", &codes, chromedp.ByQuery))
	if len(strings.Fields(codes)) != 10 {
		t.Fatalf("recovery codes: %q", codes)
	}
	var h1 string
	run(t, ctx, "dashboard", chromedp.Click("main a.button", chromedp.ByQuery), chromedp.WaitVisible("h1", chromedp.ByQuery),
		chromedp.Text("h1", &h1, chromedp.ByQuery))
	if h1 != "Open incidents" {
		t.Fatalf("after enrolment: %q", h1)
	}

	// Record an incident; a bad form first shows the error beside the field.
	var fieldErr string
	run(t, ctx, "empty form", chromedp.Navigate(w.url+"/incidents/new"), chromedp.WaitVisible("#title", chromedp.ByQuery),
		chromedp.Submit("#title", chromedp.ByQuery), chromedp.WaitVisible("#title-error", chromedp.ByQuery),
		chromedp.Text("#title-error", &fieldErr, chromedp.ByQuery))
	if fieldErr != "is required" {
		t.Fatalf("title error %q", fieldErr)
	}
	run(t, ctx, "create", chromedp.SendKeys("#title", "Laptop stolen from clinic car", chromedp.ByQuery),
		chromedp.SendKeys("#description", "Unencrypted spreadsheet of 40 patients", chromedp.ByQuery),
		chromedp.SetValue("#severity", "sev2", chromedp.ByQuery), chromedp.Click(`input[name="phi_suspected"]`, chromedp.ByQuery),
		chromedp.Submit("#title", chromedp.ByQuery), chromedp.WaitVisible("ol.phases", chromedp.ByQuery),
		chromedp.Text("h1", &h1, chromedp.ByQuery))
	if !strings.HasPrefix(h1, "INC-") || !strings.Contains(h1, "Laptop stolen") {
		t.Fatalf("incident page heading %q", h1)
	}

	// Move it: analysis, then containment with a note.
	for _, step := range []struct{ to, note string }{{"analysis", ""}, {"containment", "Remote wipe sent"}} {
		actions := []chromedp.Action{chromedp.SetValue("#to", step.to, chromedp.ByQuery)}
		if step.note != "" {
			actions = append(actions, chromedp.SendKeys("#transition-note", step.note, chromedp.ByQuery))
		}
		label := strings.ToUpper(step.to[:1]) + step.to[1:]
		actions = append(actions, chromedp.Submit("#to", chromedp.ByQuery),
			chromedp.WaitVisible(`//ol[@class="phases"]/li[@aria-current="step" and normalize-space()="`+label+`"]`, chromedp.BySearch))
		run(t, ctx, "move to "+step.to, actions...)
	}
	var current, timeline string
	run(t, ctx, "read phase", chromedp.Text(`ol.phases li[aria-current="step"]`, &current, chromedp.ByQuery),
		chromedp.Text("ol.timeline", &timeline, chromedp.ByQuery))
	if current != "Containment" || !strings.Contains(timeline, "Remote wipe sent") || strings.Count(timeline, "Phase ") != 2 {
		t.Fatalf("phase %q, timeline:\n%s", current, timeline)
	}
	var shot []byte
	run(t, ctx, "screenshot", chromedp.FullScreenshot(&shot, 80))
	if dir := os.Getenv("WARD_SCREENSHOT_DIR"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, "incident.jpg"), shot, 0o644)
	}

	// Idle logoff (45 CFR 164.312(a)(2)(iii)): 16 minutes later the next page is the sign-in page.
	clk.Advance(16 * time.Minute)
	var flash string
	run(t, ctx, "idle", chromedp.Navigate(w.url+"/incidents"), chromedp.WaitVisible("#username", chromedp.ByQuery),
		chromedp.Text(".flash", &flash, chromedp.ByQuery))
	if !strings.Contains(flash, "15 minutes") {
		t.Fatalf("idle logoff message %q", flash)
	}

	// Sign in again here, then in a second browser: the first session ends.
	mfa := func(ctx context.Context) {
		clk.Advance(31 * time.Second) // a fresh TOTP step: a used code is refused
		c, err := totp.GenerateCode(secret, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		run(t, ctx, "mfa", chromedp.WaitVisible("#code", chromedp.ByQuery), chromedp.SendKeys("#code", c, chromedp.ByQuery),
			chromedp.Submit("#code", chromedp.ByQuery), chromedp.WaitNotPresent("#code", chromedp.ByQuery),
			chromedp.WaitVisible("header.top", chromedp.ByQuery))
	}
	run(t, ctx, "sign in again", signIn("alice", password))
	mfa(ctx)
	other := browser(t, path)
	run(t, other, "second sign in", chromedp.Navigate(w.url+"/login"), signIn("alice", password))
	mfa(other)
	run(t, ctx, "first session ended", chromedp.Navigate(w.url+"/profile"), chromedp.WaitVisible("#username", chromedp.ByQuery),
		chromedp.Text(".flash", &flash, chromedp.ByQuery))
	if !strings.Contains(flash, "signed in somewhere else") {
		t.Fatalf("first session message %q", flash)
	}
}
