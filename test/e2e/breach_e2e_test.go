package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/app"
)

// TestBreachEndToEnd takes one breach from the alarm to the proof, on both
// databases, as issue #5 sets it out: an incident suspected of exposing
// PHI opens its case; the facts put discovery by diligence before actual
// knowledge; the Privacy Officer signs a ransomware risk assessment;
// 1,200 affected individuals across three States are imported; the
// obligations follow (HHS at once, media in the State over 500, the
// earliest deadline winning); the notices are approved, the letters
// generated and the emails sent through a real SMTP server; the HHS
// report is filed; and the proof bundle verifies with every notice in it.
func TestBreachEndToEnd(t *testing.T) {
	eachDBURL(t, func(t *testing.T, dbURL string) {
		mail := startMailbox(t)
		w := startWardAt(t, t.TempDir(), dbURL, func(e *app.Env) {
			e.Args = append(e.Args, "--smtp-server", mail.addr, "--smtp-from", "privacy@example.org", "--smtp-ca-file", mail.caFile)
		})
		tokens := map[string]string{}
		for _, role := range []string{"privacy_officer", "auditor"} {
			code, out, errs := w.run("token", "create", "--name", "e2e-"+role, "--role", role)
			if code != 0 {
				t.Fatalf("token: %s", errs)
			}
			tokens[role] = strings.TrimSpace(out)
		}
		privacy := tokens["privacy_officer"]

		// The incident: PHI suspected, so its case opens by itself.
		var inc incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Ransomware on the imaging server", "severity": "sev1",
			"category": "hacking_it_incident", "phi_suspected": true}, &inc)
		base := "/api/v1/incidents/" + inc.ID + "/breach-case"
		w.must(200, "GET", base, nil, nil)

		// Known on day 0, but diligence would have found it two days before:
		// the clock starts at the earlier (164.404(a)(2)).
		knew := time.Now().UTC().Add(-24 * time.Hour).Truncate(time.Second)
		diligence := knew.Add(-48 * time.Hour)
		w.must(200, "PUT", base+"/facts", map[string]any{"role": "covered_entity", "discovered_at": knew, "should_have_known_at": diligence}, nil)

		// The Privacy Officer signs a four-factor assessment with the
		// ransomware evidence: notification required.
		findings := []map[string]any{}
		for _, f := range []string{"164.402(2)(i)", "164.402(2)(ii)", "164.402(2)(iii)", "164.402(2)(iv)"} {
			findings = append(findings, map[string]any{"factor": f, "answer": "see the forensic report", "rationale": "reasoned in the report"})
		}
		det := map[string]any{"determination": map[string]any{"assessment": map[string]any{"findings": findings,
			"outcome": "notification_required", "rationale": "exfiltration cannot be ruled out",
			"ransomware": map[string]any{"variant": "a double-extortion strain", "exfiltration": "outbound transfer seen", "spread": "one server"}}}}
		var signed struct {
			Outcome string `json:"outcome"`
			Why     string `json:"why"`
		}
		if code, raw := w.doAs(privacy, "POST", base+"/determinations", det, &signed); code != 201 || signed.Outcome != "notification_required" ||
			!strings.Contains(signed.Why, "ransomware encrypted the PHI") {
			t.Fatalf("sign: %d %s", code, raw)
		}

		// 1,200 individuals: 700 in CA, 300 in OR, 200 in NY; every tenth
		// agreed to notice by email.
		var b strings.Builder
		b.WriteString("name,address1,city,state,zip,email,consent_electronic\n")
		consented := 0
		for i := range 1200 {
			state, city, zip := "CA", "Fresno", "93701"
			switch {
			case i >= 1000:
				state, city, zip = "NY", "Albany", "12207"
			case i >= 700:
				state, city, zip = "OR", "Salem", "97301"
			}
			email, consent := "", ""
			if i%10 == 0 {
				email, consent = fmt.Sprintf("patient%d@example.com", i), "yes"
				consented++
			}
			fmt.Fprintf(&b, "Patient %04d,%d Main St,%s,%s,%s,%s,%s\n", i, i+1, city, state, zip, email, consent)
		}
		if code, raw := w.postCSV(w.token, base+"/individuals/import", b.String()); code != 200 ||
			!strings.Contains(string(raw), `"created":1200`) {
			t.Fatalf("import: %d %.500s", code, raw)
		}

		type obligation struct {
			Key   string    `json:"key"`
			Due   time.Time `json:"due"`
			State string    `json:"state"`
		}
		obligations := func() map[string]obligation {
			var obs []obligation
			w.must(200, "GET", base+"/obligations", nil, &obs)
			out := map[string]obligation{}
			for _, o := range obs {
				out[o.Key] = o
			}
			return out
		}
		obs := obligations()
		if _, ok := obs["media:CA"]; !ok {
			t.Errorf("no media notice in CA, with 700 residents (164.406): %v", obs)
		}
		if _, ok := obs["media:OR"]; ok {
			t.Errorf("a media notice in OR, with 300 residents: %v", obs)
		}
		if _, ok := obs["hhs"]; !ok {
			t.Errorf("no HHS notice for 1,200 (164.408(b)): %v", obs)
		}
		// California's 30 days from the diligence date win over 60 days.
		if want := diligence.AddDate(0, 0, 30).Format(time.DateOnly); obs["individuals:CA"].Due.Format(time.DateOnly) != want {
			t.Errorf("California residents due %s, want %s (CA 30 days from the earlier discovery)", obs["individuals:CA"].Due, want)
		}

		// Notices: the Privacy Officer approves the templates; the settings
		// say what happened; letters go to the 1,080 without email consent,
		// emails to the 120 with it, through the SMTP server.
		var templates []struct{ ID, Kind string }
		w.must(200, "GET", "/api/v1/notice-templates", nil, &templates)
		for _, tp := range templates {
			if tp.Kind == "individual_letter" || tp.Kind == "individual_email" || tp.Kind == "media_release" {
				if code, raw := w.doAs(privacy, "POST", "/api/v1/notice-templates/"+tp.ID+"/approve", nil, nil); code != 200 {
					t.Fatalf("approve %s: %d %s", tp.Kind, code, raw)
				}
			}
		}
		w.must(200, "PUT", base+"/notice-settings", map[string]any{"entity_name": "Example Imaging", "entity_address": "1 Main St\nFresno, CA",
			"signer_name": "Pat Morgan", "signer_title": "Privacy Officer", "toll_free": "1-800-555-0100", "email": "privacy@example.org",
			"website": "https://example.org/notice", "postal_address": "1 Main St, Fresno, CA", "occurred_on": knew.Format("January 2, 2006"),
			"what_happened": "Ransomware encrypted our imaging server.", "phi_involved": "your name, address and imaging records",
			"steps_to_take": "Watch for letters about care you did not receive.", "what_we_are_doing": "We rebuilt the server and added monitoring."}, nil)
		var run struct {
			ID      string `json:"id"`
			Notices int    `json:"notices"`
			Sent    int    `json:"sent"`
			Files   []struct{ ID, Name string }
		}
		w.must(201, "POST", base+"/notices/letters", map[string]any{}, &run)
		if run.Notices != 1200-consented || len(run.Files) != 4 {
			t.Fatalf("letters: %d in %d files, want %d in two PDFs with their mailing lists", run.Notices, len(run.Files), 1200-consented)
		}
		letters := run.ID
		w.must(201, "POST", base+"/notices/emails", map[string]any{}, &run)
		if run.Sent != consented {
			t.Fatalf("emails sent: %d, want %d", run.Sent, consented)
		}
		if got := len(mail.all()); got != consented {
			t.Fatalf("the SMTP server received %d emails, want %d", got, consented)
		}
		for _, m := range mail.all() {
			if !strings.Contains(m, "1-800-555-0100") || strings.Contains(m, "Patient 0001") {
				t.Fatalf("an email lacks the toll-free number or names someone else: %.800s", m)
			}
		}
		w.must(200, "POST", base+"/notices/sent", map[string]any{"run_id": letters, "receipt": "mail house job 9"}, nil)
		for _, st := range []string{"CA", "OR", "NY"} {
			if o := obligations()["individuals:"+st]; o.State != "met" {
				t.Fatalf("residents of %s after every letter and email went: %+v", st, o)
			}
		}
		w.must(201, "POST", base+"/notices/documents", map[string]any{"kind": "media_release"}, &run)
		w.must(200, "POST", base+"/obligations/met", map[string]any{"obligation": "media:CA"}, nil)

		// The HHS report: the organisation, the details, then the filing,
		// which meets the hhs obligation.
		w.must(200, "PUT", "/api/v1/org-profile", map[string]any{"name": "Example Imaging", "entity_type": "healthcare_provider",
			"address": map[string]any{"street": "1 Main St", "city": "Fresno", "state": "CA", "zip": "93701"},
			"contact": map[string]any{"name": "Pat Morgan", "title": "Privacy Officer", "phone": "555-0100", "email": "privacy@example.org"}}, nil)
		if code, raw := w.doAs(privacy, "PUT", base+"/hhs-report/details", map[string]any{"breach_start": diligence, "breach_end": knew,
			"breach_types": []string{"hacking_it_incident"}, "locations": []string{"network_server"}, "phi_types": []string{"demographic", "clinical"},
			"description": "Ransomware encrypted the imaging server; data was copied out.", "safeguards": []string{"security_rule_technical"},
			"actions_taken": []string{"other"}, "actions_other": "Rebuilt the server"}, nil); code != 200 {
			t.Fatalf("HHS details: %d %s", code, raw)
		}
		var packet struct {
			Ready       bool `json:"ready"`
			Individuals int  `json:"individuals"`
			Missing     []struct{ Field string }
		}
		w.must(200, "GET", base+"/hhs-report", nil, &packet)
		if !packet.Ready || packet.Individuals != 1200 {
			t.Fatalf("HHS packet: %+v", packet)
		}
		if code, raw := w.doAs(privacy, "POST", base+"/hhs-report/filings", map[string]any{"tracking_number": "OCR-2026-0001", "attest": true},
			nil); code != 201 {
			t.Fatalf("filing: %d %s", code, raw)
		}
		var open []string
		for k, o := range obligations() {
			if o.State != "met" && !strings.HasPrefix(k, "state_regulator:") && !strings.HasPrefix(k, "consumer_reporting_agencies:") {
				open = append(open, k)
			}
		}
		if slices.Sort(open); len(open) != 0 {
			t.Fatalf("federal obligations still open after every notice: %v", open)
		}

		// The proof bundle verifies and holds every notice.
		code, _, bundle := get(t, w, tokens["auditor"], base+"/proof-bundle")
		if code != 200 {
			t.Fatalf("proof bundle: %d", code)
		}
		if valid, trusted, problems := verifyBundle(t, w, tokens["auditor"], bundle); !valid || !trusted {
			t.Fatalf("the proof bundle does not verify: %v", problems)
		}
		sent := string(readZip(t, bundle, "notices/notices.csv"))
		if n := strings.Count(sent, "\n") - 1; n < 1200 {
			t.Fatalf("the bundle lists %d notices, want at least the 1,200 to individuals", n)
		}
		if strings.Contains(sent, "Patient 0") || strings.Contains(sent, "@example.com") {
			t.Fatal("the bundle's notice list names an individual")
		}
		if code, out, _ := w.run("audit", "verify"); code != 0 || !strings.Contains(out, "intact") {
			t.Fatalf("audit verify: %d %s", code, out)
		}
	})
}
