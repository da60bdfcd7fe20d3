package e2e

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

// apiErrorAt reports whether raw, a huma error body, names location.
func apiErrorAt(raw []byte, location string) bool {
	var e struct {
		Errors []struct {
			Location string `json:"location"`
		} `json:"errors"`
	}
	if json.Unmarshal(raw, &e) != nil {
		return false
	}
	return slices.ContainsFunc(e.Errors, func(x struct {
		Location string `json:"location"`
	}) bool {
		return x.Location == location
	})
}

type factsCase struct {
	Version int64 `json:"version"`
	Facts   struct {
		DiscoveredAt       *string        `json:"discovered_at"`
		ShouldHaveKnownAt  *string        `json:"should_have_known_at"`
		Individuals        int            `json:"individuals"`
		ByState            map[string]int `json:"by_state"`
		Tags               []string       `json:"tags"`
		IndividualNoticeAt *string        `json:"individual_notice_at"`
	} `json:"facts"`
	ByStateEstimates map[string]int `json:"by_state_estimates"`
}

// TestBreachFactsAPI: through the HTTP API on both databases, a PATCH
// changes only the facts it names and null clears one; a PUT of facts
// read before an import keeps the import's per-State counts; unset dates
// are null; unknown tags and jurisdictions, impossible dates and dates in
// the future are refused naming the field, with nothing written.
func TestBreachFactsAPI(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Mailing list exposed", "category": "unauthorized_access_disclosure"}, &inc)
		base := "/api/v1/incidents/" + inc.ID + "/breach-case"
		var c factsCase
		raw := w.must(201, "POST", base, nil, &c)
		if strings.Contains(string(raw), "0001-01-01") || c.Facts.IndividualNoticeAt != nil || c.Facts.DiscoveredAt == nil {
			t.Fatalf("a new case shows an unset date as other than null: %s", raw)
		}
		read := *c.Facts.DiscoveredAt

		// Imported: two Californians and an Oregonian.
		list := "name,state,address1,city,zip\r\nAnn Lee,CA,1 Elm St,Fresno,93650\r\nBo Ray,CA,2 Elm St,Fresno,93650\r\nCy Dee,OR,3 Elm St,Salem,97301\r\n"
		if code, raw := w.postCSV(w.token, base+"/individuals/import", list); code != 200 {
			t.Fatalf("import: %d %s", code, raw)
		}
		// A PUT of the facts as read before the import, with an estimate
		// for Washington: the imported counts stay.
		w.must(200, "PUT", base+"/facts", map[string]any{"role": "covered_entity", "discovered_at": read, "should_have_known_at": read,
			"individuals": 10, "by_state": map[string]int{"WA": 4}}, &c)
		want := map[string]int{"CA": 2, "OR": 1, "WA": 4}
		if !maps.Equal(c.Facts.ByState, want) || !maps.Equal(c.ByStateEstimates, map[string]int{"WA": 4}) {
			t.Fatalf("after a PUT without the imported States: %+v, want by_state %v", c, want)
		}

		// PATCH: absent is unchanged, null clears.
		raw = w.must(200, "PATCH", base+"/facts", map[string]any{"tags": []string{"ca_licensed_health_facility"}, "should_have_known_at": nil}, &c)
		if !maps.Equal(c.Facts.ByState, want) || c.Facts.Individuals != 10 || c.Facts.ShouldHaveKnownAt != nil ||
			c.Facts.DiscoveredAt == nil || *c.Facts.DiscoveredAt != read || !slices.Equal(c.Facts.Tags, []string{"ca_licensed_health_facility"}) {
			t.Fatalf("after PATCH tags, should_have_known_at null: %s", raw)
		}
		if !strings.Contains(string(raw), `"should_have_known_at":null`) || strings.Contains(string(raw), "0001-01-01") {
			t.Fatalf("an unset date is not null: %s", raw)
		}
		var obs []struct{ Key string }
		w.must(200, "GET", base+"/obligations", nil, &obs)
		if !slices.ContainsFunc(obs, func(o struct{ Key string }) bool { return strings.Contains(o.Key, "CA-cdph") }) {
			t.Errorf("the tag's State rule does not apply: %+v", obs)
		}
		w.must(200, "PATCH", base+"/facts", map[string]any{"by_state": map[string]any{"WA": nil, "NV": 3}}, &c)
		if want := map[string]int{"CA": 2, "OR": 1, "NV": 3}; !maps.Equal(c.Facts.ByState, want) {
			t.Fatalf("after PATCH by_state WA null, NV 3: %v, want %v", c.Facts.ByState, want)
		}
		w.must(200, "PATCH", base+"/facts", map[string]any{"by_state": nil}, &c)
		if want := map[string]int{"CA": 2, "OR": 1}; !maps.Equal(c.Facts.ByState, want) {
			t.Fatalf("after PATCH by_state null: %v, want the imported %v", c.Facts.ByState, want)
		}

		// Bad input: 422 naming the field, nothing written.
		future := time.Now().Add(24 * time.Hour).UTC().Format(time.RFC3339)
		for _, tc := range []struct {
			name     string
			method   string
			body     any
			location string
		}{
			{"unknown tag", "PATCH", map[string]any{"tags": []string{"ca_licensed_health_facility", "ca_licenced_health_facility"}}, "body.tags[1]"},
			{"unknown tag in a PUT", "PUT", map[string]any{"role": "covered_entity", "discovered_at": read, "should_have_known_at": read,
				"individuals": 3, "tags": []string{"hospital"}}, "body.tags[0]"},
			{"unknown jurisdiction", "PATCH", map[string]any{"by_state": map[string]int{"ZZ": 1}}, "body.by_state.ZZ"},
			{"unknown jurisdiction in a PUT", "PUT", map[string]any{"role": "covered_entity", "discovered_at": read, "should_have_known_at": read,
				"individuals": 9, "by_state": map[string]int{"XX": 1}}, "body.by_state.XX"},
			{"typing over an imported count", "PATCH", map[string]any{"by_state": map[string]int{"CA": 7}}, "body.by_state.CA"},
			{"discovered in the future", "PATCH", map[string]any{"discovered_at": future}, "body.discovered_at"},
			{"should have known in the future", "PATCH", map[string]any{"should_have_known_at": future}, "body.should_have_known_at"},
			{"discovered in the future by PUT", "PUT", map[string]any{"role": "covered_entity", "discovered_at": future, "should_have_known_at": read,
				"individuals": 3},
				"body.discovered_at"},
			{"impossible date", "PATCH", `{"discovered_at": "2026-02-30T10:00:00Z"}`, "body.discovered_at"},
			{"impossible month", "PATCH", `{"should_have_known_at": "2026-13-01T10:00:00Z"}`, "body.should_have_known_at"},
			{"fewer individuals than listed", "PATCH", map[string]any{"individuals": 1}, "body.individuals"},
			// The dates notices were made come from the case's records
			// (notices sent, the HHS filing), never from the facts.
			{"individual notice date by PATCH", "PATCH", map[string]any{"individual_notice_at": read}, "body.individual_notice_at"},
			{"HHS notice date by PATCH", "PATCH", map[string]any{"hhs_notice_at": nil}, "body.hhs_notice_at"},
			{"individual notice date by PUT", "PUT", map[string]any{"role": "covered_entity", "discovered_at": read, "should_have_known_at": read,
				"individuals": 3, "individual_notice_at": read}, "body.individual_notice_at"},
			{"HHS notice date by PUT", "PUT", map[string]any{"role": "covered_entity", "discovered_at": read, "should_have_known_at": read,
				"individuals": 3, "hhs_notice_at": read}, "body.hhs_notice_at"},
		} {
			code, raw := w.do(tc.method, base+"/facts", tc.body, nil)
			if code != 422 || !apiErrorAt(raw, tc.location) {
				t.Errorf("%s: %d %s, want a 422 naming %s", tc.name, code, raw, tc.location)
			}
		}
		var after factsCase
		w.must(200, "GET", base, nil, &after)
		if after.Version != c.Version {
			t.Errorf("refused changes wrote the case: version %d, want %d", after.Version, c.Version)
		}

		// The HHS report's breach dates are not in the future either.
		code, out, errs := w.run("token", "create", "--name", "privacy", "--role", "privacy_officer")
		if code != 0 {
			t.Fatalf("token: %s", errs)
		}
		code, raw = w.doAs(strings.TrimSpace(out), "PUT", base+"/hhs-report/details", map[string]any{"breach_start": read, "breach_end": future}, nil)
		if code != 422 || !apiErrorAt(raw, "body.breach_end") {
			t.Errorf("a breach ending in the future: %d %s", code, raw)
		}

		// The enumerations, and a State table naming an unknown tag.
		var js []struct{ Code, Name string }
		w.must(200, "GET", "/api/v1/breach/jurisdictions", nil, &js)
		if len(js) != 56 || js[0].Code != "AK" || !slices.ContainsFunc(js, func(j struct{ Code, Name string }) bool { return j.Code == "MP" }) {
			t.Errorf("jurisdictions: %d %+v", len(js), js)
		}
		var tags []struct{ Tag, Label, Citation string }
		w.must(200, "GET", "/api/v1/breach/case-tags", nil, &tags)
		if len(tags) == 0 || tags[0].Tag != "ca_licensed_health_facility" || tags[0].Citation != "Cal. Health & Safety Code 1280.15" {
			t.Errorf("case tags: %+v", tags)
		}
		var shipped struct {
			Version       string           `json:"version"`
			Source        string           `json:"source"`
			Jurisdictions []map[string]any `json:"jurisdictions"`
			Rules         []map[string]any `json:"rules"`
		}
		w.must(200, "GET", "/api/v1/breach/state-rules", nil, &shipped)
		i := slices.IndexFunc(shipped.Rules, func(r map[string]any) bool { return r["applies_to"] != nil })
		shipped.Rules[i]["applies_to"] = "ca_licenced_health_facility"
		code, raw = w.do("PUT", "/api/v1/breach/state-rules", map[string]any{"version": "typo", "source": shipped.Source,
			"jurisdictions": shipped.Jurisdictions, "rules": shipped.Rules, "reason": "a typo in applies_to"}, nil)
		if loc := fmt.Sprintf("body.rules[%d].applies_to", i); code != 422 || !apiErrorAt(raw, loc) {
			t.Errorf("a State table with an unknown tag: %d %s, want a 422 naming %s", code, raw, loc)
		}
	})
}
