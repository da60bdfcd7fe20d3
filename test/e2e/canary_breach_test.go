package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/keys"
)

// TestCanaryBreachTextNotStoredInPlaintext writes canary PHI through the
// API into every free-text field of a breach case and its notices (issue
// #15): the facts (the law-enforcement official and agency), a
// determination's assessment and the reason for its new version, why an
// obligation was met, a notice template's subject and body, the notice
// settings (what happened, the PHI involved) and so the copy a run of
// letters keeps, the receipt recorded when the letters were mailed, the
// reason one came back, and the HHS report details and so the packet filed.
// A caller who may read PHI gets each back; a stakeholder reads none of
// them, and is told each was withheld. Then the canary is looked for in the
// SQLite database, WAL and shared-memory files (while the server runs and
// after it stops) and the debug log, or in every row of every PostgreSQL
// table read as text: it must be nowhere (45 CFR 164.312(a)(2)(iv)).
func TestCanaryBreachTextNotStoredInPlaintext(t *testing.T) {
	t.Parallel()
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			url := target.URL
			if target.Dialect == db.SQLite {
				url = ""
			}
			data := t.TempDir()
			w := startWardAt(t, data, url, debugLog)
			privacy := roleToken(t, w, "privacy", "privacy_officer")
			stakeholder := roleToken(t, w, "stake", "stakeholder")
			reads, pages := canaryBreach(t, w, privacy)

			// A reader who may see PHI gets the canary back from each
			// read; a stakeholder from none, and each says it withheld.
			for _, path := range reads {
				code, _, raw := get(t, w, w.token, path)
				if code != http.StatusOK || !bytes.Contains(raw, []byte("Quillfeather")) {
					t.Errorf("GET %s by an admin: %d, the canary not returned: %s", path, code, raw)
				}
				code, _, raw = get(t, w, stakeholder, path)
				if code != http.StatusOK || leaks(raw) {
					t.Errorf("GET %s by a stakeholder: %d %s", path, code, raw)
				}
				if !bytes.Contains(raw, []byte("redacted\":true")) {
					t.Errorf("GET %s by a stakeholder does not say what it withheld: %s", path, raw)
				}
			}
			// The generated files' names name their addressees: withheld.
			summary := reads[len(reads)-1] + "/summary"
			if code, _, raw := get(t, w, stakeholder, summary); code != http.StatusOK || !bytes.Contains(raw, []byte(`"name_redacted":true`)) ||
				bytes.Contains(raw, []byte(".pdf")) {
				t.Errorf("GET %s by a stakeholder: %d %s", summary, code, raw)
			}

			// Nor do the pages show them to a stakeholder signed in.
			b := signInAs(t, w, authz.RoleStakeholder, "stan")
			for _, page := range pages {
				if code, html := b.send("GET", page, nil); code != http.StatusOK || leaks([]byte(html)) || !strings.Contains(html, "withheld") {
					t.Errorf("page %s for a stakeholder: %d, canary shown %v, withheld said %v", page, code, leaks([]byte(html)),
						strings.Contains(html, "withheld"))
				}
			}

			var live map[string][]byte
			if target.Dialect == db.SQLite {
				live = readDir(t, data)
			}
			w.stop()
			if leaks([]byte(w.logs.String())) {
				t.Error("canary PHI in the server log")
			}
			if target.Dialect != db.SQLite {
				assertNoCanaryInPostgres(t, target.URL, keys.BreachFacts, keys.BreachDeterminationBody, keys.BreachDeterminationWhy,
					keys.BreachDeterminationReason, keys.BreachObligationMetReason, keys.NoticeTemplateSubject, keys.NoticeTemplateBody,
					keys.NoticeSettings, keys.NoticeRunSettings, keys.ReportHHSPacket, keys.NoticeRecipient, keys.NoticeReceipt,
					keys.NoticeReturnReason, keys.NoticeFileName)
				return
			}
			if len(live["ward.db-wal"]) == 0 {
				t.Error("no WAL to search while the server ran")
			}
			for name, b := range live {
				if leaks(b) {
					t.Errorf("canary PHI in plaintext in %s, copied while the server ran", name)
				}
			}
			for name, b := range readDir(t, data) {
				if leaks(b) {
					t.Errorf("canary PHI in plaintext in %s", name)
				}
			}
		})
	}
}

// canaryBreach fills a breach case's free text with the canary through the
// API and returns the API paths and the pages that read it back.
func canaryBreach(t *testing.T, w *ward, privacy string) (reads, pages []string) {
	t.Helper()
	var inc incidentJSON
	w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Laptop stolen", "category": "theft"}, &inc)
	base := "/api/v1/incidents/" + inc.ID + "/breach-case"
	w.must(201, "POST", base, nil, nil)
	if code, raw := w.postCSV(w.token, base+"/individuals/import",
		"name,address1,city,state,zip\nAnn Lee,1 Elm St,Fresno,CA,93650\nBo Ray,2 Elm St,Fresno,CA,93650\n"); code != 200 {
		t.Fatalf("import: %d %s", code, raw)
	}

	// Facts: a law-enforcement delay, over by now, asked by the canary.
	day := 24 * time.Hour
	now := time.Now().UTC().Truncate(time.Second)
	w.must(200, "PUT", base+"/facts", map[string]any{"role": "covered_entity", "discovered_at": now.Add(-5 * day),
		"should_have_known_at": now.Add(-5 * day), "individuals": 5, "by_state": map[string]int{"NV": 3},
		"law_enforcement_delay": map[string]any{"written": map[string]any{"at": now.Add(-4 * day), "until": now.Add(-3 * day),
			"official": canary, "agency": canary + " PD"}}}, nil)

	// Determinations: the second assesses the risk and says why, in the
	// canary's words.
	if code, raw := w.doAs(privacy, "POST", base+"/determinations",
		map[string]any{"determination": map[string]any{"notify_without_assessment": true}}, nil); code != 201 {
		t.Fatalf("sign: %d %s", code, raw)
	}
	var findings []map[string]any
	for _, f := range []string{"164.402(2)(i)", "164.402(2)(ii)", "164.402(2)(iii)", "164.402(2)(iv)"} {
		findings = append(findings, map[string]any{"factor": f, "answer": "names and addresses", "rationale": "seen by " + canary})
	}
	if code, raw := w.doAs(privacy, "POST", base+"/determinations", map[string]any{"reason": "new facts about " + canary,
		"determination": map[string]any{"assessment": map[string]any{"findings": findings, "outcome": "notification_required",
			"rationale": canary}}}, nil); code != 201 {
		t.Fatalf("sign version 2: %d %s", code, raw)
	}
	w.must(200, "POST", base+"/obligations/met", map[string]any{"obligation": "individuals:NV", "reason": "called " + canary}, nil)

	// The letter template and the settings it merges, then the letters.
	var templates []struct {
		ID   string `json:"id"`
		Kind string `json:"kind"`
		Body string `json:"body"`
	}
	w.must(200, "GET", "/api/v1/notice-templates", nil, &templates)
	var letter string
	for _, tp := range templates {
		if tp.Kind == "individual_letter" {
			letter = tp.ID
			w.must(200, "PUT", "/api/v1/notice-templates/"+tp.ID, map[string]any{"name": "Letter", "subject": "About " + canary,
				"body": tp.Body + "\nP.S. Ask for " + canary + ".\n"}, nil)
		}
	}
	if code, raw := w.doAs(privacy, "POST", "/api/v1/notice-templates/"+letter+"/approve", nil, nil); code != 200 {
		t.Fatalf("approve: %d %s", code, raw)
	}
	w.must(200, "PUT", base+"/notice-settings", map[string]any{"entity_name": "Example Health", "entity_address": "100 Main St",
		"signer_name": "Pat Morgan", "signer_title": "Privacy Officer", "toll_free": "1-800-555-0100", "email": "privacy@example.org",
		"website": "https://example.org/notice", "postal_address": "100 Main St, Springfield, IL", "occurred_on": "April 2, 2026",
		"what_happened": "A laptop of " + canary + " was stolen.", "phi_involved": canary + "'s chart",
		"steps_to_take": "Watch your statements.", "what_we_are_doing": "We encrypt every laptop now."}, nil)
	var run struct {
		ID string `json:"id"`
	}
	w.must(201, "POST", base+"/notices/letters", map[string]any{}, &run)
	w.must(200, "POST", base+"/notices/sent", map[string]any{"run_id": run.ID, "receipt": "mailed by " + canary}, nil)
	var list struct {
		Notices []struct {
			IndividualID string `json:"individual_id"`
		} `json:"notices"`
	}
	w.must(200, "GET", base+"/notices", nil, &list)
	if len(list.Notices) == 0 {
		t.Fatal("no notices")
	}
	if code, raw := w.postCSV(w.token, base+"/notices/returns",
		"individual_id,reason\n"+list.Notices[0].IndividualID+",moved away from "+canary+"\n"); code != 200 {
		t.Fatalf("returns: %d %s", code, raw)
	}

	// The HHS report: its details, then the filing's packet.
	w.must(200, "PUT", "/api/v1/org-profile", map[string]any{"name": "Acme Clinic", "entity_type": "healthcare_provider",
		"address": map[string]any{"street": "1 Main St", "city": "Springfield", "state": "CA", "zip": "90000"},
		"contact": map[string]any{"name": "Pat Privacy", "title": "Privacy Officer", "phone": "555-0100", "email": "privacy@acme.example"}}, nil)
	disc := now.Add(-5 * day)
	if code, raw := w.doAs(privacy, "PUT", base+"/hhs-report/details", map[string]any{"breach_start": disc, "breach_end": disc,
		"breach_types": []string{"theft"}, "locations": []string{"laptop"}, "phi_types": []string{"demographic"},
		"description": "The laptop of " + canary + " was stolen.", "safeguards": []string{"privacy_rule"},
		"actions_taken": []string{"adopted_encryption"}}, nil); code != 200 {
		t.Fatalf("details: %d %s", code, raw)
	}
	if code, raw := w.doAs(privacy, "POST", base+"/hhs-report/filings", map[string]any{"tracking_number": "T-1", "attest": true}, nil); code != 201 {
		t.Fatalf("filing: %d %s", code, raw)
	}
	var filings []json.RawMessage
	if w.must(200, "GET", base+"/hhs-report/filings", nil, &filings); len(filings) != 1 || !bytes.Contains(filings[0], []byte("Quillfeather")) {
		t.Fatalf("the filing's packet does not hold the details: %s", filings)
	}
	reads = []string{base, base + "/determinations", base + "/obligations", "/api/v1/notice-templates",
		"/api/v1/notice-templates/" + letter, base + "/notice-settings", base + "/notices"}
	pages = []string{"/incidents/" + inc.Number + "/breach", "/incidents/" + inc.Number + "/notices", "/notice-templates/" + letter}
	return reads, pages
}
