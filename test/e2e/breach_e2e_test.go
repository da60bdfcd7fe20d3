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
// databases, as issues #5 and #10 set it out: an organisation in Los
// Angeles; an incident suspected of exposing PHI opens its case; the facts
// put discovery by diligence before actual knowledge; the Privacy Officer
// signs a ransomware risk assessment; 1,200 affected individuals across six
// States are imported, one of them (Tennessee) exempting HIPAA entities;
// the obligations follow per State, counted in Pacific time (HHS at once at
// the federal limit, media in the State over 500, each State's earliest
// deadline for its own residents); the notices are approved, the letters
// generated and the emails sent through a real SMTP server, and recording
// them meets each State's notice and moves the deadlines counted from it;
// the HHS report is filed and New York's Attorney General deadline moves
// with it; and the proof bundle verifies with every notice in it.
func TestBreachEndToEnd(t *testing.T) {
	t.Parallel()
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
		// A clinic in Los Angeles: its days end at midnight Pacific time.
		w.must(200, "PUT", "/api/v1/breach/organisation", map[string]any{"role": "covered_entity", "time_zone": "America/Los_Angeles"}, nil)
		la, err := time.LoadLocation("America/Los_Angeles")
		if err != nil {
			t.Fatal(err)
		}
		// endOfDay is the last instant of the n-th day after t's day in Los
		// Angeles, as Ward stores it (microseconds).
		endOfDay := func(t time.Time, n int) time.Time {
			y, m, d := t.In(la).Date()
			return time.Date(y, m, d+n+1, 0, 0, 0, 0, la).Add(-time.Microsecond)
		}

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

		// 1,200 individuals: 600 in CA, 200 in OR, 150 in NY, 100 in TX,
		// 100 in TN, 50 in MA; every tenth agreed to notice by email.
		var b strings.Builder
		b.WriteString("name,address1,city,state,zip,email,consent_electronic\n")
		consented := 0
		for i := range 1200 {
			state, city, zip := "CA", "Fresno", "93701"
			switch {
			case i >= 1150:
				state, city, zip = "MA", "Boston", "02108"
			case i >= 1050:
				state, city, zip = "TN", "Nashville", "37219"
			case i >= 950:
				state, city, zip = "TX", "Austin", "78701"
			case i >= 800:
				state, city, zip = "NY", "Albany", "12207"
			case i >= 600:
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
			Key       string    `json:"key"`
			Due       time.Time `json:"due"`
			DueLocal  string    `json:"due_local"`
			State     string    `json:"state"`
			Count     int       `json:"count"`
			Owed      *int      `json:"owed"`
			Notified  *int      `json:"notified"`
			Deadlines []struct {
				Citation string `json:"citation"`
				From     string `json:"from"`
			} `json:"deadlines"`
			Law *struct {
				Summary  string   `json:"summary"`
				Citation string   `json:"citation"`
				NotOwed  []string `json:"not_owed"`
			} `json:"law"`
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
			t.Errorf("a media notice in OR, with 200 residents: %v", obs)
		}
		// Each State's residents are their own group, counted, with what
		// its law requires, in Pacific time.
		for st, n := range map[string]int{"CA": 600, "OR": 200, "NY": 150, "TX": 100, "TN": 100, "MA": 50} {
			o, ok := obs["individuals:"+st]
			if !ok || o.Count != n || o.Owed == nil || *o.Owed != n || *o.Notified != 0 || o.Law == nil || o.Law.Summary == "" {
				t.Fatalf("residents of %s: %+v", st, o)
			}
			if !strings.HasSuffix(o.DueLocal, "23:59:59.999999-07:00") && !strings.HasSuffix(o.DueLocal, "23:59:59.999999-08:00") {
				t.Errorf("residents of %s due %s: not the end of a Pacific day", st, o.DueLocal)
			}
		}
		if _, ok := obs["individuals"]; ok {
			t.Error("an obligation to individuals of unknown State, when every State is known")
		}
		// California's 30 days from the diligence date win over 60 days
		// for Californians only; Tennessee exempts a HIPAA entity, so its
		// residents have the federal 60 days; Texas's AG is owed from 250.
		federal := endOfDay(diligence, 60)
		if ca := obs["individuals:CA"]; !ca.Due.Equal(endOfDay(diligence, 30)) || !strings.Contains(ca.Deadlines[0].Citation, "1798.82") {
			t.Errorf("California residents due %s (%s), want %s (Cal. Civ. Code 1798.82: 30 days from the earlier discovery)",
				ca.Due, ca.Deadlines[0].Citation, endOfDay(diligence, 30))
		}
		if tn := obs["individuals:TN"]; !tn.Due.Equal(federal) || !strings.Contains(tn.Law.Summary, "no deadline of its own for a HIPAA") {
			t.Errorf("Tennessee residents due %s, law %q: want the federal %s, the State exempting HIPAA entities", tn.Due, tn.Law.Summary, federal)
		}
		if tx := obs["individuals:TX"]; !strings.Contains(strings.Join(tx.Law.NotOwed, " "), "Texas Attorney General") {
			t.Errorf("Texas's AG notice (250 residents or more) not listed as not owed for 100: %q", tx.Law.NotOwed)
		}
		if hhs := obs["hhs"]; !hhs.Due.Equal(federal) {
			t.Errorf("HHS due %s, want the federal %s: a State law never shortens it (164.408(b))", hhs.Due, federal)
		}
		caAG, nyAG := obs["state_regulator:CA-ag"], obs["state_regulator:NY-hhs-ag"]
		if !caAG.Due.Equal(endOfDay(obs["individuals:CA"].Due, 15)) || !strings.Contains(caAG.Deadlines[0].From, "not made yet") {
			t.Errorf("California AG before the notice to residents: due %s from %q", caAG.Due, caAG.Deadlines[0].From)
		}
		if !strings.Contains(nyAG.Deadlines[0].From, "not made yet") {
			t.Errorf("New York AG before the notice to HHS: from %q", nyAG.Deadlines[0].From)
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
		mailed := time.Now().UTC()
		w.must(200, "POST", base+"/notices/sent", map[string]any{"run_id": letters, "receipt": "mail house job 9"}, nil)
		obs = obligations()
		for _, st := range []string{"CA", "OR", "NY", "TX", "TN", "MA"} {
			if o := obs["individuals:"+st]; o.State != "met" || *o.Notified != *o.Owed {
				t.Fatalf("residents of %s after every letter and email went: %+v", st, o)
			}
		}
		// The AG's copy now counts from the day Californians were notified.
		if caAG = obs["state_regulator:CA-ag"]; !caAG.Due.Equal(endOfDay(mailed, 15)) || !strings.Contains(caAG.Deadlines[0].From, "made") ||
			strings.Contains(caAG.Deadlines[0].From, "not made") {
			t.Errorf("California AG after the letters were recorded: due %s from %q, want %s", caAG.Due, caAG.Deadlines[0].From, endOfDay(mailed, 15))
		}
		w.must(201, "POST", base+"/notices/documents", map[string]any{"kind": "media_release"}, &run)
		w.must(200, "POST", base+"/obligations/met", map[string]any{"obligation": "media:CA", "reason": "press release sent to the Los Angeles Times"}, nil)

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
		filed := time.Now().UTC()
		if code, raw := w.doAs(privacy, "POST", base+"/hhs-report/filings", map[string]any{"tracking_number": "OCR-2026-0001", "attest": true},
			nil); code != 201 {
			t.Fatalf("filing: %d %s", code, raw)
		}
		// New York's AG: 5 business days from the HHS notice just filed.
		if nyAG = obligations()["state_regulator:NY-hhs-ag"]; nyAG.Due.After(endOfDay(filed, 9)) || strings.Contains(nyAG.Deadlines[0].From, "not made") {
			t.Errorf("New York AG after the HHS filing: due %s from %q, want 5 business days after %s", nyAG.Due, nyAG.Deadlines[0].From, filed)
		}
		var timeline struct{ Items []struct{ Note string } }
		w.must(200, "GET", "/api/v1/incidents/"+inc.ID+"/timeline?limit=200", nil, &timeline)
		var moved int
		for _, e := range timeline.Items {
			if strings.Contains(e.Note, "Deadlines counted from the notice just made moved") {
				moved++
			}
		}
		if moved < 2 {
			t.Errorf("the timeline says %d times that deadlines moved, want at least after the letters and after the filing", moved)
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
