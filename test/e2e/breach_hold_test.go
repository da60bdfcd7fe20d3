package e2e

import (
	"strings"
	"testing"
	"time"
)

// holdObligation is an obligation as the hold test reads it.
type holdObligation struct {
	Key            string  `json:"key"`
	State          string  `json:"state"`
	Due            string  `json:"due"`
	DueWithoutHold *string `json:"due_without_hold"`
	MetReason      string  `json:"met_reason"`
	MetBy          string  `json:"met_by"`
}

func findObligation(t *testing.T, obs []holdObligation, key string) holdObligation {
	t.Helper()
	for _, o := range obs {
		if o.Key == key {
			return o
		}
	}
	t.Fatalf("no obligation %s in %+v", key, obs)
	return holdObligation{}
}

// TestBreachHoldAPI, on both databases: during a law-enforcement hold
// (45 CFR 164.412) the obligations show the held and the original
// deadline; generating letters, recording them mailed, generating the web
// notice, recording the substitute notice, marking met and recording the HHS filing are each
// refused with a 409 naming the hold, and go ahead with the official's
// override, which is on the timeline; the record that meets an
// obligation is its reason, and marking met by hand needs one, and is
// undone with one.
func TestBreachHoldAPI(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		privacy := roleToken(t, w, "privacy", "privacy_officer")
		var inc incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Stolen laptop", "category": "theft"}, &inc)
		base := "/api/v1/incidents/" + inc.ID + "/breach-case"
		w.must(201, "POST", base, nil, nil)
		now := time.Now().UTC()
		disc := now.Add(-50 * 24 * time.Hour).Format(time.RFC3339)
		until := now.Add(20 * 24 * time.Hour).Truncate(time.Second)
		w.must(200, "PUT", base+"/facts", map[string]any{"role": "covered_entity", "discovered_at": disc, "should_have_known_at": disc,
			"individuals": 3, "law_enforcement_delay": map[string]any{"written": map[string]any{"at": now.Add(-5 * 24 * time.Hour).Format(time.RFC3339),
				"until": until.Format(time.RFC3339), "official": "Special Agent Dana Reyes", "agency": "FBI"}}}, nil)
		if code, raw := w.postCSV(w.token, base+"/individuals/import", "name,address1,city,state,zip\n"+
			"Ann One,1 Oak St,Reno,NV,89501\nBen Two,2 Oak St,Reno,NV,89501\nCal Three,3 Oak St,Reno,NV,89501\n"); code != 200 {
			t.Fatalf("import: %d %s", code, raw)
		}

		// Both deadlines shown: held, and as it was without the hold.
		var obs []holdObligation
		w.must(200, "GET", base+"/obligations", nil, &obs)
		ind := findObligation(t, obs, "individuals:NV")
		due, _ := time.Parse(time.RFC3339, ind.Due)
		if ind.State != "held" || !due.Equal(until) || ind.DueWithoutHold == nil {
			t.Fatalf("individuals during the hold: %+v, want held until %s with the original deadline", ind, until)
		}
		if orig, _ := time.Parse(time.RFC3339, *ind.DueWithoutHold); !orig.Before(due) || orig.Before(now) {
			t.Fatalf("due without hold %s, want the 60th day after discovery, before %s", *ind.DueWithoutHold, due)
		}
		var board []holdObligation
		w.must(200, "GET", "/api/v1/breach-deadlines", nil, &board)
		if b := findObligation(t, board, "individuals:NV"); b.DueWithoutHold == nil {
			t.Fatalf("the deadline board lacks the original deadline: %+v", b)
		}

		var templates []struct{ ID, Kind string }
		w.must(200, "GET", "/api/v1/notice-templates", nil, &templates)
		for _, tp := range templates {
			if tp.Kind == "individual_letter" || tp.Kind == "substitute_web" {
				if code, raw := w.doAs(privacy, "POST", "/api/v1/notice-templates/"+tp.ID+"/approve", nil, nil); code != 200 {
					t.Fatalf("approve: %d %s", code, raw)
				}
			}
		}
		w.must(200, "PUT", base+"/notice-settings", map[string]any{"entity_name": "Example Health", "entity_address": "100 Main St",
			"signer_name": "Pat Morgan", "signer_title": "Privacy Officer", "toll_free": "1-800-555-0100", "email": "privacy@example.org",
			"website": "https://example.org/notice", "postal_address": "100 Main St, Springfield, IL", "occurred_on": "April 2, 2026",
			"what_happened": "A laptop was stolen from a car.", "phi_involved": "your name and address",
			"steps_to_take": "Watch your statements.", "what_we_are_doing": "We encrypt every laptop now."}, nil)

		refused := func(what string, code int, raw []byte) {
			t.Helper()
			body := string(raw)
			if code != 409 || !strings.Contains(body, "Special Agent Dana Reyes (FBI)") || !strings.Contains(body, until.Format("Jan 2006")) ||
				!strings.Contains(body, "45 CFR 164.412(a)") || !strings.Contains(body, `"location":"body.hold_override"`) {
				t.Fatalf("%s during the hold: %d %s, want 409 naming the hold", what, code, body)
			}
		}
		override := map[string]any{"official": "Special Agent Dana Reyes", "reason": "the suspect is in custody; notice allowed by phone"}

		code, raw := w.do("POST", base+"/notices/letters", map[string]any{}, nil)
		refused("letters", code, raw)
		if code, raw := w.do("POST", base+"/notices/letters", map[string]any{"hold_override": map[string]any{"official": "Agent", "reason": "ok"}}, nil); code != 422 ||
			!strings.Contains(string(raw), "body.hold_override.reason") {
			t.Fatalf("an override without a reason: %d %s", code, raw)
		}
		var run struct {
			ID      string `json:"id"`
			Notices int    `json:"notices"`
		}
		w.must(201, "POST", base+"/notices/letters", map[string]any{"hold_override": override}, &run)
		if run.Notices != 3 {
			t.Fatalf("letters with the override: %+v", run)
		}

		code, raw = w.do("POST", base+"/notices/sent", map[string]any{"run_id": run.ID}, nil)
		refused("recording letters mailed", code, raw)
		w.must(200, "POST", base+"/notices/sent", map[string]any{"run_id": run.ID, "hold_override": override}, nil)
		w.must(200, "GET", base+"/obligations", nil, &obs)
		if ind := findObligation(t, obs, "individuals:NV"); ind.State != "met" || !strings.Contains(ind.MetReason, "all 3 individuals owed notice notified") {
			t.Fatalf("individuals after every letter was mailed: %+v", ind)
		}

		code, raw = w.do("POST", base+"/notices/documents", map[string]any{"kind": "substitute_web"}, nil)
		refused("the web notice", code, raw)
		code, raw = w.do("POST", base+"/notices/substitute", map[string]any{"posting_started_at": now.Format(time.RFC3339)}, nil)
		refused("the substitute notice", code, raw)

		// Marking met by hand: a reason first, then the hold.
		if code, raw := w.do("POST", base+"/obligations/met", map[string]any{"obligation": "hhs"}, nil); code != 422 ||
			!strings.Contains(string(raw), "reason") {
			t.Fatalf("marking met without a reason: %d %s", code, raw)
		}
		if code, raw := w.do("POST", base+"/obligations/met", map[string]any{"obligation": "hhs", "reason": " done "}, nil); code != 422 ||
			!strings.Contains(string(raw), `"location":"body.reason"`) {
			t.Fatalf("marking met with a reason of 4 characters: %d %s", code, raw)
		}
		code, raw = w.do("POST", base+"/obligations/met", map[string]any{"obligation": "hhs", "reason": "logged for the annual report"}, nil)
		refused("marking met", code, raw)

		// The HHS filing meets hhs, its tracking number the evidence.
		w.must(200, "PUT", "/api/v1/org-profile", map[string]any{"name": "Example Health", "entity_type": "healthcare_provider",
			"address": map[string]any{"street": "1 Main St", "city": "Springfield", "state": "IL", "zip": "62701"},
			"contact": map[string]any{"name": "Pat Morgan", "title": "Privacy Officer", "phone": "555-0100", "email": "privacy@example.org"}}, nil)
		if code, raw := w.doAs(privacy, "PUT", base+"/hhs-report/details", map[string]any{"breach_start": disc, "breach_end": disc,
			"breach_types": []string{"theft"}, "locations": []string{"laptop"}, "phi_types": []string{"demographic"},
			"description": "A laptop was stolen from a car.", "safeguards": []string{"privacy_rule"},
			"actions_taken": []string{"adopted_encryption"}}, nil); code != 200 {
			t.Fatalf("details: %d %s", code, raw)
		}
		filing := map[string]any{"tracking_number": "OCR-77", "attest": true}
		code, raw = w.doAs(privacy, "POST", base+"/hhs-report/filings", filing, nil)
		refused("the HHS filing", code, raw)
		filing["hold_override"] = override
		if code, raw := w.doAs(privacy, "POST", base+"/hhs-report/filings", filing, nil); code != 201 {
			t.Fatalf("the HHS filing with the override: %d %s", code, raw)
		}
		w.must(200, "GET", base+"/obligations", nil, &obs)
		if hhs := findObligation(t, obs, "hhs"); hhs.State != "met" || !strings.Contains(hhs.MetReason, "tracking number OCR-77") {
			t.Fatalf("hhs after the filing: %+v", hhs)
		}

		// Undo, with a reason.
		if code, raw := w.do("POST", base+"/obligations/reopen", map[string]any{"obligation": "hhs", "reason": "no"}, nil); code != 422 ||
			!strings.Contains(string(raw), `"location":"body.reason"`) {
			t.Fatalf("undo without a reason: %d %s", code, raw)
		}
		var reopened holdObligation
		w.must(200, "POST", base+"/obligations/reopen", map[string]any{"obligation": "hhs", "reason": "the filing was rejected by the portal"},
			&reopened)
		if reopened.State != "held" || reopened.MetReason != "" {
			t.Fatalf("hhs reopened during the hold: %+v", reopened)
		}
		if code, _ := w.do("POST", base+"/obligations/reopen", map[string]any{"obligation": "hhs", "reason": "the filing was rejected"}, nil); code != 409 {
			t.Fatalf("undoing an obligation not met: %d", code)
		}

		_, tl := w.do("GET", "/api/v1/incidents/"+inc.ID+"/timeline", nil, nil)
		for _, want := range []string{"Law-enforcement hold overridden by", "allowed by Special Agent Dana Reyes: the suspect is in custody",
			"reopened by", "the filing was rejected by the portal", "Evidence: the HHS breach portal filing"} {
			if !strings.Contains(string(tl), want) {
				t.Errorf("the timeline lacks %q", want)
			}
		}
	})
}
