package e2e

import (
	"crypto/tls"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
)

var feedRe = regexp.MustCompile(`value="(https://[^"]+/cal/[A-Za-z0-9_-]{43})"`)

// TestCalendarSubscription: a calendar application, which cannot sign in,
// fetches a person's on-call shifts from the secret address their profile
// gives them, and nothing from a made-up or revoked one. The schedule
// page's button makes an address for everyone's shifts in the schedule.
func TestCalendarSubscription(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		b := signInAs(t, w, authz.RoleResponder, "rita")
		w.must(201, "POST", "/api/v1/schedules", map[string]any{"name": "Clinical systems", "time_zone": "America/Chicago",
			"rotations": []map[string]any{{"name": "weekly", "kind": "weekly", "shift_length": 1,
				"start": time.Now().Add(-time.Hour).Format(time.RFC3339), "participants": []string{"rita"}}}}, nil)
		calendarApp := &http.Client{Timeout: 20 * time.Second,
			Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // self-signed; no cookies
		fetch := func(u string) (int, string, string) {
			t.Helper()
			resp, err := calendarApp.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, resp.Header.Get("Content-Type"), string(body)
		}

		if code, loc := b.send("POST", "/profile/calendar-feeds", url.Values{"schedule": {""}}); code != http.StatusSeeOther ||
			!strings.HasPrefix(loc, "/profile?msg=calendar_feed_created") {
			t.Fatalf("make an address: %d %.300s", code, loc)
		}
		_, page := b.send("GET", "/profile", nil)
		m := feedRe.FindStringSubmatch(page)
		if m == nil || !strings.Contains(page, "Your shifts in every schedule") {
			t.Fatalf("no calendar address on the profile: %.2000s", page)
		}
		own := m[1]
		code, ctype, cal := fetch(own)
		if code != http.StatusOK || !strings.HasPrefix(ctype, "text/calendar") || !strings.Contains(cal, "BEGIN:VCALENDAR") ||
			!strings.Contains(cal, "SUMMARY:On call: Clinical systems / weekly") {
			t.Fatalf("the calendar application's fetch: %d %s\n%s", code, ctype, cal)
		}
		if code, _, _ := fetch(w.url + "/cal/" + strings.Repeat("x", 43)); code != http.StatusNotFound {
			t.Fatalf("a made-up address: %d, want 404", code)
		}

		_, sched := b.send("GET", "/schedules/Clinical%20systems", nil)
		if !strings.Contains(sched, "Subscribe in your calendar") {
			t.Fatalf("no subscribe button on the schedule page: %.2000s", sched)
		}
		if code, _ := b.send("POST", "/profile/calendar-feeds", url.Values{"schedule": {"Clinical systems"}}); code != http.StatusSeeOther {
			t.Fatalf("subscribe to the schedule: %d", code)
		}
		_, page = b.send("GET", "/profile", nil)
		all := feedRe.FindAllStringSubmatch(page, -1)
		if len(all) != 2 || all[1][1] != own || !strings.Contains(page, "Everyone on call in Clinical systems") {
			t.Fatalf("two addresses, the schedule's first: %q", all)
		}
		if code, _, cal := fetch(all[0][1]); code != http.StatusOK || !strings.Contains(cal, "SUMMARY:rita on call: weekly") {
			t.Fatalf("the schedule's feed: %d\n%s", code, cal)
		}
		if code, _ := b.send("POST", "/profile/calendar-feeds", url.Values{"schedule": {"Nope"}}); code != http.StatusUnprocessableEntity {
			t.Fatalf("an unknown schedule: %d, want 422", code)
		}

		ids := regexp.MustCompile(`action="/profile/calendar-feeds/([^/"]+)/revoke"`).FindAllStringSubmatch(page, -1)
		if len(ids) != 2 {
			t.Fatalf("revoke buttons: %q", ids)
		}
		if code, _ := b.send("POST", "/profile/calendar-feeds/"+ids[1][1]+"/revoke", nil); code != http.StatusSeeOther {
			t.Fatalf("revoke: %d", code)
		}
		if code, _, _ := fetch(own); code != http.StatusNotFound {
			t.Fatalf("the revoked address: %d, want 404", code)
		}
	})
}
