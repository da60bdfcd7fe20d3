package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestUnauthenticated: without a valid token every API path answers 401,
// the same for objects that exist, objects that do not and unknown paths.
func TestUnauthenticated(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "x"}, &inc)
		paths := []struct{ method, path string }{
			{"GET", "/api/v1/incidents"},
			{"GET", "/api/v1/incidents/" + inc.ID},
			{"GET", "/api/v1/incidents/00000000-0000-0000-0000-000000000000"},
			{"GET", "/api/v1/incidents/" + inc.ID + "/timeline"},
			{"POST", "/api/v1/incidents"},
			{"PATCH", "/api/v1/incidents/" + inc.ID},
			{"GET", "/api/v1/no-such-thing"},
		}
		for _, token := range []string{"", "ward_notarealtoken", "Basic abc", w.token + "x"} {
			var bodies []string
			for _, p := range paths {
				code, raw := w.doAs(token, p.method, p.path, nil, nil)
				if code != http.StatusUnauthorized {
					t.Fatalf("%s %s with token %q: %d %s", p.method, p.path, token, code, raw)
				}
				bodies = append(bodies, string(raw))
			}
			for _, b := range bodies[1:] {
				if b != bodies[0] {
					t.Fatalf("401 bodies differ, which leaks existence: %q vs %q", b, bodies[0])
				}
			}
		}
		// The OpenAPI document and health endpoints need no token.
		for _, p := range []string{"/api/v1/openapi.json", "/healthz", "/readyz", "/metrics"} {
			if code, raw := w.doAs("", "GET", p, nil, nil); code != http.StatusOK {
				t.Fatalf("GET %s: %d %s", p, code, raw)
			}
		}
	})
}

// TestBadInput: each malformed request is refused with a 4xx naming the
// field, and nothing is written.
func TestBadInput(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		// The leader's start-of-term retention run writes its audit entry
		// whenever the election ends: wait for it, so that the trail holds
		// only what this test does.
		awaitRetentionRun(t, chainDB(t, w))
		_, before, _ := w.run("audit", "verify")
		long := strings.Repeat("a", 201)
		cases := []struct {
			name, method, path, body string
			status                   int
			location                 string
		}{
			{"malformed JSON", "POST", "/api/v1/incidents", `{"title":`, 400, ""},
			{"unknown field", "POST", "/api/v1/incidents", `{"title":"x","colour":"red"}`, 422, "body.colour"},
			{"wrong type", "POST", "/api/v1/incidents", `{"title":42}`, 422, "body.title"},
			{"missing title", "POST", "/api/v1/incidents", `{"severity":"sev1"}`, 422, "body.title"},
			{"blank title", "POST", "/api/v1/incidents", `{"title":"   "}`, 422, "body.title"},
			{"long title", "POST", "/api/v1/incidents", `{"title":"` + long + `"}`, 422, "body.title"},
			{"bad severity", "POST", "/api/v1/incidents", `{"title":"x","severity":"sev9"}`, 422, "body.severity"},
			{"bad category", "POST", "/api/v1/incidents", `{"title":"x","category":"aliens"}`, 422, "body.category"},
			{"bad date", "POST", "/api/v1/incidents", `{"title":"x","occurred_at":"last tuesday"}`, 422, "body.occurred_at"},
			{"occurred after detected", "POST", "/api/v1/incidents",
				`{"title":"x","occurred_at":"2026-01-02T00:00:00Z","detected_at":"2026-01-01T00:00:00Z"}`, 422, "body.occurred_at"},
			{"detected in future", "POST", "/api/v1/incidents", `{"title":"x","detected_at":"2099-01-01T00:00:00Z"}`, 422, "body.detected_at"},
			{"too many customers", "POST", "/api/v1/incidents",
				`{"title":"x","customers":[` + strings.Repeat(`"c",`, 50) + `"c"]}`, 422, "body.customers"},
			{"bad status filter", "GET", "/api/v1/incidents?status=open", "", 422, "query.status"},
			{"bad limit", "GET", "/api/v1/incidents?limit=1000", "", 422, "query.limit"},
			{"bad cursor", "GET", "/api/v1/incidents?cursor=zzz", "", 422, "query.cursor"},
			{"bad created_after", "GET", "/api/v1/incidents?created_after=yesterday", "", 422, "query.created_after"},
			{"bad transition", "POST", "/api/v1/incidents/INC-1/transitions", `{"to":"done"}`, 422, "body.to"},
			{"body too large", "POST", "/api/v1/incidents", `{"title":"x","description":"` + strings.Repeat("a", 300<<10) + `"}`, 413, ""},
		}
		for _, c := range cases {
			code, raw := w.do(c.method, c.path, c.body, nil)
			if code != c.status {
				t.Errorf("%s: status %d, want %d: %.300s", c.name, code, c.status, raw)
				continue
			}
			if c.location == "" {
				continue
			}
			p := decodeProblem(t, raw)
			found := false
			field := c.location[strings.LastIndex(c.location, ".")+1:]
			for _, e := range p.Errors {
				// A missing property is reported at its parent, naming it in the message.
				found = found || e.Location == c.location || strings.Contains(e.Message, "property "+field+" ")
			}
			if !found {
				t.Errorf("%s: no error at %s: %.300s", c.name, c.location, raw)
			}
		}
		var list struct{ Items []incidentJSON }
		w.must(http.StatusOK, "GET", "/api/v1/incidents", nil, &list)
		if len(list.Items) != 0 {
			t.Fatalf("bad input wrote %d incidents", len(list.Items))
		}
		if _, after, _ := w.run("audit", "verify"); after != before {
			t.Fatalf("bad input reached the audit trail: before %q, after %q", before, after)
		}
	})
}

// TestListFiltersAndPages exercises the list filters and walks every page.
func TestListFiltersAndPages(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		for i := range 23 {
			sev := []string{"sev1", "sev2", "sev3", "sev4"}[i%4]
			w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{
				"title": fmt.Sprintf("Incident %02d 100%% %s", i, sev), "severity": sev, "phi_suspected": i%2 == 0,
			}, nil)
		}
		var fax incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Fax sent to the wrong ÉCOLE clinic"}, &fax)
		seen := map[string]bool{}
		next := ""
		pages := 0
		for {
			q := url.Values{"limit": {"5"}}
			if next != "" {
				q.Set("cursor", next)
			}
			var page struct {
				Items      []incidentJSON
				NextCursor string `json:"next_cursor"`
			}
			w.must(http.StatusOK, "GET", "/api/v1/incidents?"+q.Encode(), nil, &page)
			pages++
			for _, it := range page.Items {
				if seen[it.ID] {
					t.Fatalf("incident %s on two pages", it.Number)
				}
				seen[it.ID] = true
			}
			if page.NextCursor == "" {
				break
			}
			next = page.NextCursor
		}
		if len(seen) != 24 || pages != 5 {
			t.Fatalf("saw %d incidents in %d pages", len(seen), pages)
		}
		count := func(query string) int {
			var page struct{ Items []incidentJSON }
			w.must(http.StatusOK, "GET", "/api/v1/incidents?limit=200&"+query, nil, &page)
			return len(page.Items)
		}
		checks := map[string]int{
			"severity=sev1":                     6,
			"phi_suspected=true":                12,
			"severity=sev2&phi_suspected=false": 6,
			// Titles are sealed and searched by whole words (docs/ENCRYPTION.md).
			"q=" + url.QueryEscape("incident sev1"):             6,
			"q=" + url.QueryEscape("incident 0"):                0, // "00" is not "0"
			"q=" + url.QueryEscape("100%"):                      23,
			"q=" + url.QueryEscape("1_0"):                       0,
			"q=" + url.QueryEscape("école"):                     1, // Unicode case folding, on SQLite too
			"q=" + url.QueryEscape(strings.ToLower(fax.Number)): 1, // the number matches too
			"q=" + url.QueryEscape("inc-"):                      0, // a part of a number does not
			"status=detected":                                   24,
			"status=closed":                                     0,
			"category=not_yet_known":                            24,
			"created_after=2000-01-01T00:00:00Z":                24,
			"created_before=2000-01-01T00:00:00Z":               0,
		}
		for q, want := range checks {
			if got := count(q); got != want {
				t.Errorf("%s: %d incidents, want %d", q, got, want)
			}
		}
	})
}

// TestServerBasics: the OpenAPI document lists every operation, security
// headers are present, HTTP without TLS is refused and /metrics counts requests.
func TestServerBasics(t *testing.T) {
	t.Parallel()
	w := startWard(t, "")
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	w.must(http.StatusOK, "GET", "/api/v1/openapi.json", nil, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	want := map[string][]string{
		"/api/v1/incidents":                      {"get", "post"},
		"/api/v1/incidents/{id}":                 {"get", "patch"},
		"/api/v1/incidents/{id}/transitions":     {"post"},
		"/api/v1/incidents/{id}/timeline":        {"get"},
		"/api/v1/incidents/{id}/notes":           {"get", "post"},
		"/api/v1/incidents/{id}/tasks":           {"get", "post"},
		"/api/v1/incidents/{id}/tasks/{task_id}": {"patch"},
	}
	for p, methods := range want {
		for _, m := range methods {
			if _, ok := doc.Paths[p][m]; !ok {
				t.Errorf("OpenAPI document lacks %s %s", m, p)
			}
		}
	}

	resp, err := w.client.Get(w.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for h, v := range map[string]string{
		"Strict-Transport-Security": "max-age=63072000; includeSubDomains",
		"X-Content-Type-Options":    "nosniff",
		"Content-Security-Policy":   "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
	} {
		if got := resp.Header.Get(h); got != v {
			t.Errorf("%s: %q, want %q", h, got, v)
		}
	}
	if resp.TLS == nil || resp.TLS.Version < 0x0303 {
		t.Fatalf("not TLS 1.2+: %+v", resp.TLS)
	}

	plain, err := http.Get(strings.Replace(w.url, "https://", "http://", 1) + "/healthz")
	if err == nil {
		body, _ := io.ReadAll(plain.Body)
		plain.Body.Close()
		if plain.StatusCode == http.StatusOK {
			t.Fatalf("plain HTTP served: %s", body)
		}
	}

	raw := w.must(http.StatusOK, "GET", "/metrics", nil, nil)
	if !strings.Contains(string(raw), `ward_http_requests_total{code="200",method="GET",route="GET /healthz"}`) {
		t.Fatalf("metrics lack the request counter:\n%.2000s", raw)
	}
}
