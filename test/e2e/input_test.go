package e2e

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
)

// send posts body with the Content-Type ct ("" for none) and the admin
// token, and returns the status and body.
func (w *ward) send(method, path, ct string, body []byte) (int, string) {
	w.t.Helper()
	req, err := http.NewRequest(method, w.url+path, bytes.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	req.Header.Set("Authorization", "Bearer "+w.token)
	resp, err := w.client.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// TestInputPolicy sends, on each database, what issue #15 found accepted,
// answered 500 or silently changed: each is refused with the 4xx that
// names the field, the same on SQLite and PostgreSQL, and nothing of it
// is stored.
func TestInputPolicy(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		api := func(body string) (int, string) {
			return w.send("POST", "/api/v1/incidents", "application/json", []byte(body))
		}
		for _, c := range []struct{ name, body, where string }{
			{"NUL", `{"title":"lost \u0000 laptop"}`, `"location":"body.title"`},
			{"control character", `{"title":"ok","description":"bell \u0007"}`, `"location":"body.description"`},
			{"zero-width only", `{"title":"\u200b\u200b\u2060"}`, "visible character"},
			{"bidi override", `{"title":"invoice \u202efdp.exe"}`, "bidirectional"},
			{"duplicate key", `{"title":"a","severity":"sev1","title":"b"}`, "appears twice"},
			{"invalid UTF-8", "{\"title\":\"caf\xe9\"}", "not valid UTF-8"},
			{"lone surrogate", `{"title":"x\ud800"}`, "not valid UTF-8"},
		} {
			if code, body := api(c.body); code != http.StatusUnprocessableEntity || !strings.Contains(body, c.where) {
				t.Errorf("%s: %d %s, want 422 naming %s", c.name, code, body, c.where)
			}
		}
		if code, body := w.send("POST", "/api/v1/incidents", "", []byte(`{"title":"no content type"}`)); code != http.StatusUnsupportedMediaType ||
			!strings.Contains(body, "header.Content-Type") {
			t.Errorf("no Content-Type: %d %s, want 415", code, body)
		}
		if code, body := w.send("POST", "/api/v1/incidents", "text/plain", []byte(`{"title":"text"}`)); code != http.StatusUnsupportedMediaType {
			t.Errorf("text/plain: %d %s, want 415", code, body)
		}
		big := `{"title":"big","description":"` + strings.Repeat("x", 300<<10) + `"}`
		if code, body := api(big); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "262144") {
			t.Errorf("300 KiB body: %d %.300s, want 413 naming the limit", code, body)
		}
		for path, where := range map[string]string{"/api/v1/incidents?q=a%00b": "query.q", "/api/v1/incidents/INC%00": `"location":"path"`,
			"/api/v1/alerts?service=%01": "query.service"} {
			if code, body := w.send("GET", path, "", nil); code != http.StatusUnprocessableEntity || !strings.Contains(body, where) {
				t.Errorf("GET %s: %d %s, want 422 naming %s", path, code, body, where)
			}
		}
		var page struct{ Items []incidentJSON }
		w.must(http.StatusOK, "GET", "/api/v1/incidents", nil, &page)
		if len(page.Items) != 0 {
			t.Fatalf("refused incidents were stored: %+v", page.Items)
		}

		// Alert intake: a 400 the tool will not retry, naming the field.
		_, ig := w.service("input", false, "alert", "events_v2", "")
		trigger := func(summary string) string {
			return `{"routing_key":"` + ig.Key + `","event_action":"trigger","payload":{"summary":"` + summary + `","source":"s","severity":"info"}}`
		}
		for summary, want := range map[string]string{`disk \u0000 full`: "payload.summary", `\u200b`: "visible character",
			`a\u2067b`: "bidirectional"} {
			if code, body := w.post("/v2/enqueue", trigger(summary), nil); code != http.StatusBadRequest || !strings.Contains(body, want) ||
				!strings.Contains(body, `"invalid event"`) {
				t.Errorf("summary %s: %d %s, want 400 naming %s", summary, code, body, want)
			}
		}
		if code, body := w.post("/v2/enqueue", `{"routing_key":"`+ig.Key+`","event_action":"trigger","event_action":"resolve"}`, nil); code != http.StatusBadRequest ||
			!strings.Contains(body, "appears twice") {
			t.Errorf("duplicate key at intake: %d %s", code, body)
		}
		huge := `{"routing_key":"` + ig.Key + `","event_action":"trigger","payload":{"summary":"big","source":"s","severity":"info","custom_details":{"x":"` +
			strings.Repeat("x", 10<<20) + `"}}}`
		if code, body := w.post("/v2/enqueue", huge, nil); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "4194304") {
			t.Errorf("10 MB Events v2 body: %d %.300s, want 413 naming the limit", code, body)
		}
		hookSvc, hook := w.service("input-hook", false, "alert", "webhook", "")
		if code, body := w.post("/intake/webhook/"+hook.Key, `{"event_action":"trigger","summary":"ok","source":"s\u0000","severity":"info"}`, nil); code != http.StatusBadRequest ||
			!strings.Contains(body, "source") {
			t.Errorf("webhook with a NUL: %d %s, want 400 naming source", code, body)
		}
		if as := w.alerts("service=" + hookSvc); len(as) != 0 {
			t.Errorf("refused alerts were stored: %+v", as)
		}
		// A summary on several lines is one incident title line.
		code, body := w.post("/v2/enqueue", trigger(`disk full\non db1`), nil)
		if code != http.StatusAccepted {
			t.Fatalf("two-line summary: %d %s", code, body)
		}
		w.must(http.StatusOK, "GET", "/api/v1/incidents", nil, &page)
		if len(page.Items) != 1 || page.Items[0].Title != "disk full on db1" {
			t.Errorf("incident from a two-line summary: %+v", page.Items)
		}

		// UI forms take the same policy.
		b := signInAs(t, w, authz.RoleResponder, "input-ui")
		if code, body := b.send("POST", "/incidents", url.Values{"title": {"lost\x00laptop"}, "severity": {"sev3"}}); code != http.StatusUnprocessableEntity ||
			!strings.Contains(body, "title: contains a NUL") {
			t.Errorf("UI form with a NUL: %d %.300s, want 422 naming title", code, body)
		}
		if code, body := b.send("GET", "/incidents?q=%00", nil); code != http.StatusUnprocessableEntity || !strings.Contains(body, "q: contains a NUL") {
			t.Errorf("UI search with a NUL: %d %.300s, want 422 naming q", code, body)
		}
		if code, body := b.send("POST", "/incidents", url.Values{"title": {"x"}, "description": {strings.Repeat("y", 2<<20)}}); code != http.StatusRequestEntityTooLarge {
			t.Errorf("2 MiB form: %d %.300s, want 413", code, body)
		}
	})
}
