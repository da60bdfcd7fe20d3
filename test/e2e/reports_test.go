package e2e

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
)

// roleToken makes an API token of role on w.
func roleToken(t testing.TB, w *ward, name, role string) string {
	t.Helper()
	code, out, errs := w.run("token", "create", "--name", name, "--role", role)
	if code != 0 {
		t.Fatalf("token %s: %s", role, errs)
	}
	return strings.TrimSpace(out)
}

// get fetches path with token and returns the status and body.
func get(t *testing.T, w *ward, token, path string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest("GET", w.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := w.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

// verifyBundle posts a bundle to the verify API.
func verifyBundle(t *testing.T, w *ward, token string, archive []byte) (valid, trusted bool, problems []string) {
	t.Helper()
	req, err := http.NewRequest("POST", w.url+"/api/v1/breach-reports/proof-bundles/verify", bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/zip")
	resp, err := w.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v struct {
		Valid    bool     `json:"valid"`
		Trusted  bool     `json:"trusted"`
		Problems []string `json:"problems"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("verify: %d %s", resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v.Valid, v.Trusted, v.Problems
}

// TestBreachReports takes a case from facts to a filed HHS report and a
// verified proof bundle on both databases: the packet names what is
// missing, then has every portal field; the PDF is a PDF; the tracking
// number marks the hhs obligation met and a change of count makes an
// addendum; the breach log lists and exports the case; the bundle
// verifies, through the API and `ward proof verify`, and a tampered one
// does not.
func TestBreachReports(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		privacy := roleToken(t, w, "privacy", "privacy_officer")
		auditor := roleToken(t, w, "auditor", "auditor")
		var inc incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Stolen laptop", "category": "theft"}, &inc)
		base := "/api/v1/incidents/" + inc.ID + "/breach-case"
		w.must(201, "POST", base, nil, nil)
		disc := time.Now().UTC().Add(-10 * 24 * time.Hour).Format(time.RFC3339)
		facts := map[string]any{"role": "covered_entity", "discovered_at": disc, "should_have_known_at": disc, "individuals": 1200,
			"by_state": map[string]int{"CA": 700}}
		w.must(200, "PUT", base+"/facts", facts, nil)

		var packet map[string]any
		w.must(200, "GET", base+"/hhs-report", nil, &packet)
		if packet["ready"] != false || packet["breach_size"] != "500_or_more" || packet["report_kind"] != "initial" ||
			packet["hhs_mode"] != "immediate" || packet["media_notice_required"] != true {
			t.Fatalf("packet before details: %v", packet)
		}
		var missing []string
		for _, m := range packet["missing"].([]any) {
			missing = append(missing, m.(map[string]any)["field"].(string))
		}
		for _, f := range []string{"covered_entity.name", "breach_types", "locations", "phi_types", "description", "safeguards",
			"actions_taken", "breach_start", "individual_notice_start"} {
			if !slices.Contains(missing, f) {
				t.Errorf("missing does not list %s: %v", f, missing)
			}
		}

		org := map[string]any{"name": "Acme Clinic", "entity_type": "healthcare_provider",
			"address": map[string]any{"street": "1 Main St", "city": "Springfield", "state": "CA", "zip": "90000"},
			"contact": map[string]any{"name": "Pat Privacy", "title": "Privacy Officer", "phone": "555-0100", "email": "privacy@acme.example"}}
		if code, _ := w.doAs(privacy, "PUT", "/api/v1/org-profile", org, nil); code != 403 {
			t.Fatalf("a privacy officer editing the org profile: %d", code)
		}
		w.must(200, "PUT", "/api/v1/org-profile", org, nil)
		details := map[string]any{"breach_start": disc, "breach_end": disc, "breach_types": []string{"theft"}, "locations": []string{"laptop"},
			"phi_types": []string{"demographic", "clinical"}, "description": "An unencrypted laptop was stolen from a car.",
			"safeguards": []string{"privacy_rule", "security_rule_technical"}, "actions_taken": []string{"adopted_encryption", "other"},
			"actions_other": "Replaced the laptop fleet"}
		if code, raw := w.doAs(privacy, "PUT", base+"/hhs-report/details", map[string]any{"locations": []string{"car"}}, nil); code != 422 ||
			!strings.Contains(string(raw), "locations[0]") {
			t.Fatalf("a location outside the vocabulary: %d %s", code, raw)
		}
		if code, _ := w.do("PUT", base+"/hhs-report/details", details, nil); code != 403 {
			t.Fatalf("an admin writing report details: %d", code)
		}
		if code, raw := w.doAs(privacy, "PUT", base+"/hhs-report/details", details, nil); code != 200 {
			t.Fatalf("details: %d %s", code, raw)
		}
		w.must(200, "POST", base+"/obligations/met", map[string]any{"obligation": "individuals", "reason": "letters mailed by the vendor, receipt 1"}, nil)
		if code, raw := w.doAs(privacy, "POST", base+"/determinations", map[string]any{"determination": map[string]any{"notify_without_assessment": true}},
			nil); code != 201 {
			t.Fatalf("sign: %d %s", code, raw)
		}
		w.must(200, "GET", base+"/hhs-report", nil, &packet)
		if packet["ready"] != true {
			t.Fatalf("packet with details: %v", packet["missing"])
		}
		for _, f := range []string{"covered_entity", "business_associate_involved", "breach_start", "breach_end", "discovery_start",
			"discovery_end", "individuals", "breach_types", "locations", "phi_types", "description", "safeguards", "individual_notice_start",
			"individual_notice_end", "substitute_notice_required", "media_notice_required", "actions_taken", "attestation"} {
			if _, ok := packet[f]; !ok {
				t.Errorf("packet lacks %s", f)
			}
		}
		code, hdr, pdf := get(t, w, auditor, base+"/hhs-report.pdf")
		if code != 200 || hdr.Get("Content-Type") != "application/pdf" || !bytes.HasPrefix(pdf, []byte("%PDF-")) ||
			!bytes.Contains(pdf[len(pdf)-16:], []byte("%%EOF")) {
			t.Fatalf("PDF: %d %s %q", code, hdr.Get("Content-Type"), pdf[:min(len(pdf), 16)])
		}

		if code, raw := w.doAs(privacy, "POST", base+"/hhs-report/filings", map[string]any{"tracking_number": "T-1", "attest": false}, nil); code != 422 ||
			!strings.Contains(string(raw), "attest") {
			t.Fatalf("a filing without attestation: %d %s", code, raw)
		}
		var filing struct {
			Kind                string `json:"kind"`
			PriorTrackingNumber string `json:"prior_tracking_number"`
		}
		if code, raw := w.doAs(privacy, "POST", base+"/hhs-report/filings", map[string]any{"tracking_number": "T-1", "attest": true}, &filing); code != 201 ||
			filing.Kind != "initial" {
			t.Fatalf("filing: %d %s", code, raw)
		}
		var obs []struct{ Key, State string }
		w.must(200, "GET", base+"/obligations", nil, &obs)
		for _, o := range obs {
			if o.Key == "hhs" && o.State != "met" {
				t.Fatalf("hhs after filing: %+v", o)
			}
		}
		facts["individuals"] = 1300
		w.must(200, "PUT", base+"/facts", facts, nil)
		w.must(200, "GET", base+"/hhs-report", nil, &packet)
		if packet["report_kind"] != "addendum" || packet["prior_tracking_number"] != "T-1" {
			t.Fatalf("packet after a new count: %v %v", packet["report_kind"], packet["prior_tracking_number"])
		}
		if code, raw := w.doAs(privacy, "POST", base+"/hhs-report/filings", map[string]any{"tracking_number": "T-2", "attest": true}, &filing); code != 201 ||
			filing.Kind != "addendum" || filing.PriorTrackingNumber != "T-1" {
			t.Fatalf("addendum: %d %s", code, raw)
		}
		var filings []struct{ TrackingNumber string }
		w.must(200, "GET", base+"/hhs-report/filings", nil, &filings)
		if len(filings) != 2 {
			t.Fatalf("filings: %+v", filings)
		}

		var log []struct {
			IncidentNumber string `json:"incident_number"`
			Size           string `json:"size"`
			TrackingNumber string `json:"tracking_number"`
		}
		code, raw := w.doAs(auditor, "GET", "/api/v1/breach-log?size=500_or_more", nil, &log)
		if code != 200 || len(log) != 1 || log[0].IncidentNumber != inc.Number || log[0].TrackingNumber != "T-2" {
			t.Fatalf("breach log: %d %s", code, raw)
		}
		w.must(200, "GET", "/api/v1/breach-log?size=fewer_than_500", nil, &log)
		if len(log) != 0 {
			t.Fatalf("breach log of small breaches: %+v", log)
		}
		code, _, csv := get(t, w, auditor, "/api/v1/breach-log.csv")
		if code != 200 || !strings.HasPrefix(string(csv), "incident_number,") || !strings.Contains(string(csv), inc.Number+",") {
			t.Fatalf("CSV: %d %s", code, csv)
		}

		// A breach of 12, discovered now, goes in this year's annual log,
		// due 60 days after the year ends (164.408(c)).
		var small incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Misdirected letter"}, &small)
		w.must(201, "POST", "/api/v1/incidents/"+small.ID+"/breach-case", nil, nil)
		now := time.Now().UTC().Format(time.RFC3339)
		w.must(200, "PUT", "/api/v1/incidents/"+small.ID+"/breach-case/facts", map[string]any{"role": "covered_entity",
			"discovered_at": now, "should_have_known_at": now, "individuals": 12}, nil)
		var annual []struct {
			Year    int       `json:"year"`
			Due     time.Time `json:"due"`
			Unfiled int       `json:"unfiled"`
			Cases   []struct {
				IncidentNumber string `json:"incident_number"`
			} `json:"cases"`
		}
		w.must(200, "GET", "/api/v1/breach-reports/annual-log", nil, &annual)
		year := time.Now().UTC().Year()
		if len(annual) != 1 || annual[0].Year != year || annual[0].Unfiled != 1 || len(annual[0].Cases) != 1 ||
			annual[0].Cases[0].IncidentNumber != small.Number || annual[0].Due.Month() > time.March || annual[0].Due.Year() != year+1 {
			t.Fatalf("annual log: %+v", annual)
		}

		reader := signInAs(t, w, authz.RoleAuditor, "r-auditor")
		for path, want := range map[string]string{
			"/breach/log?size=500_or_more":                        inc.Number,
			"/breach/annual-log":                                  small.Number,
			"/incidents/" + inc.Number + "/breach/hhs-report":     "T-2",
			"/incidents/" + small.Number + "/breach/hhs-report":   "Not ready to file",
			"/breach/log.csv":                                     "incident_number,year",
			"/incidents/" + inc.Number + "/breach/hhs-report.pdf": "%PDF-",
		} {
			if code, page := reader.send("GET", path, nil); code != 200 || !strings.Contains(page, want) {
				t.Errorf("%s: %d, want %q in %.300s", path, code, want, page)
			}
		}

		code, hdr, bundle := get(t, w, auditor, base+"/proof-bundle")
		if code != 200 || hdr.Get("Content-Type") != "application/zip" {
			t.Fatalf("bundle: %d %s\n%s", code, bundle, w.logs.String())
		}
		zr, err := zip.NewReader(bytes.NewReader(bundle), int64(len(bundle)))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		for _, n := range []string{"case.json", "determinations.json", "obligations.json", "hhs/filings.json", "audit_trail.json",
			"manifest.json", "manifest.sig"} {
			if !slices.Contains(names, n) {
				t.Errorf("bundle lacks %s: %v", n, names)
			}
		}
		if valid, trusted, problems := verifyBundle(t, w, auditor, bundle); !valid || !trusted {
			t.Fatalf("bundle does not verify: %v", problems)
		}
		file := filepath.Join(t.TempDir(), "proof.zip")
		if err := os.WriteFile(file, bundle, 0o600); err != nil {
			t.Fatal(err)
		}
		if code, out, errs := w.run("proof", "verify", file); code != 0 || !strings.Contains(out, "proof bundle valid") {
			t.Fatalf("ward proof verify: %d %s %s", code, out, errs)
		}

		if dets := readZip(t, bundle, "determinations.json"); !bytes.Contains(dets, []byte(`"notification_required"`)) {
			t.Errorf("the bundle's determinations: %s", dets)
		}
		if obs := readZip(t, bundle, "obligations.json"); !bytes.Contains(obs, []byte(`"met_at": "`)) {
			t.Errorf("the bundle's obligations say nothing met: %s", obs)
		}
		// The first download is in the second bundle's audit trail slice.
		_, _, again := get(t, w, auditor, base+"/proof-bundle")
		trail := readZip(t, again, "audit_trail.json")
		for _, action := range []string{"breach_case.open", "report.hhs_filing", "report.details", "report.proof_bundle"} {
			if !bytes.Contains(trail, []byte(`"action": "`+action+`"`)) {
				t.Errorf("the audit trail slice lacks %s", action)
			}
		}

		// Rotating the keys re-encrypts the signing key and the report
		// details: both still open.
		code, out, errs := w.run("keys", "rotate", "--settle", "0")
		if code != 0 || !strings.Contains(out, "1 in report_signing_keys.private_key") || !strings.Contains(out, "1 in report_case_details.body") {
			t.Fatalf("keys rotate: %d %s %s", code, out, errs)
		}
		w.must(200, "GET", base+"/hhs-report", nil, &packet)
		if packet["description"] != details["description"] {
			t.Fatalf("details after rotation: %v", packet["description"])
		}
		_, _, rotated := get(t, w, auditor, base+"/proof-bundle")
		if valid, trusted, problems := verifyBundle(t, w, auditor, rotated); !valid || !trusted {
			t.Fatalf("a bundle after rotation: %v", problems)
		}

		tampered := retouch(t, bundle, "obligations.json", func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"met"`), []byte(`"open"`), 1)
		})
		valid, _, problems := verifyBundle(t, w, auditor, tampered)
		if valid || !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, "obligations.json") }) {
			t.Fatalf("a tampered bundle: valid %v, %v", valid, problems)
		}
		if err := os.WriteFile(file, tampered, 0o600); err != nil {
			t.Fatal(err)
		}
		if code, out, _ := w.run("proof", "verify", file); code != 1 || !strings.Contains(out, "INVALID") {
			t.Fatalf("ward proof verify of a tampered bundle: %d %s", code, out)
		}
	})
}

// readZip returns the file name of archive.
func readZip(t *testing.T, archive []byte, name string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zr.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// retouch rewrites the zip archive with change applied to name's content.
func retouch(t *testing.T, archive []byte, name string, change func([]byte) []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if f.Name == name {
			body = change(body)
		}
		fw, err := zw.Create(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := fw.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestBreachReminders runs the reminder check on a fake clock: the
// officers are reminded at each configured mark before a deadline and
// once it is overdue, each reminder once.
func TestBreachReminders(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		clk := clock.NewFake(time.Now())
		w := startWardAt(t, t.TempDir(), dbURL, func(e *app.Env) {
			e.Clock = clk
			e.Args = append(e.Args, "--paging-poll", "20ms", "--breach-reminder-days", "7,3")
		}, allowLoopback)
		hook := startHook(t)
		if code, _, errs := runWardIn(t, w.data, dbURL, "orange lantern over quiet harbour\n", "user", "create", "--username", "pat",
			"--name", "Pat", "--email", "pat@example.org", "--role", "privacy_officer", "--password-stdin"); code != 0 {
			t.Fatalf("user create: %s", errs)
		}
		w.must(201, "POST", "/api/v1/users/pat/contact-methods", map[string]any{"kind": "webhook", "address": hook.URL + "/pat"}, nil)
		eventually(t, "a verified webhook", func() bool { return len(hook.all()) == 1 })
		// told is what the Privacy Officer was told: the reminders' status
		// lines.
		told := func() []string {
			var out []string
			for _, r := range hook.all() {
				var msg struct{ Kind, Incident, Status, URL string }
				if err := json.Unmarshal(r.body, &msg); err == nil && msg.Kind == "reminder" {
					if r.path != "/pat" || !strings.HasSuffix(msg.URL, "/incidents/"+msg.Incident) || strings.Contains(string(r.body), "fax") {
						t.Errorf("reminder: %s %s", r.path, r.body)
					}
					out = append(out, msg.Status)
				}
			}
			return out
		}
		var inc incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Misdirected fax"}, &inc)
		base := "/api/v1/incidents/" + inc.ID + "/breach-case"
		w.must(201, "POST", base, nil, nil)
		// Individuals are due 60 days after discovery (164.404(b)): 55 days
		// ago leaves about five, inside the 7-day mark.
		disc := clk.Now().Add(-55 * 24 * time.Hour).Format(time.RFC3339)
		w.must(200, "PUT", base+"/facts", map[string]any{"role": "covered_entity", "discovered_at": disc, "should_have_known_at": disc,
			"individuals": 12}, nil)
		marks := func() []string {
			var rs []struct{ Obligation, Mark string }
			w.must(200, "GET", base+"/reminders", nil, &rs)
			var out []string
			for _, r := range rs {
				out = append(out, r.Obligation+"@"+r.Mark)
			}
			slices.Sort(out)
			return out
		}
		// Each reminder is delivered before the clock moves on: two due at
		// once may be sent in either order.
		eventually(t, "the 7-day reminder", func() bool { return slices.Equal(marks(), []string{"individuals@7"}) })
		eventually(t, "the 7-day reminder delivered", func() bool { return len(told()) == 1 })
		clk.Advance(3 * 24 * time.Hour)
		eventually(t, "the 3-day reminder", func() bool { return slices.Equal(marks(), []string{"individuals@3", "individuals@7"}) })
		eventually(t, "the 3-day reminder delivered", func() bool { return len(told()) == 2 })
		clk.Advance(3 * 24 * time.Hour)
		eventually(t, "the overdue reminder", func() bool {
			return slices.Equal(marks(), []string{"individuals@3", "individuals@7", "individuals@overdue"})
		})
		eventually(t, "three messages to the Privacy Officer", func() bool { return len(told()) == 3 })
		awaitRounds(t, w, `ward_check_rounds_total{check="breach_reminders"}`)
		if got := marks(); len(got) != 3 {
			t.Fatalf("a reminder sent twice: %v", got)
		}
		lines := told()
		// Sentences with the incident's number and whom the notice is owed to.
		if len(lines) != 3 || !strings.HasPrefix(lines[0], inc.Number+": notify individuals") || !strings.HasSuffix(lines[0], ".") ||
			!strings.HasPrefix(lines[2], "OVERDUE "+inc.Number+": notify individuals") {
			t.Fatalf("the Privacy Officer was told: %q", lines)
		}
		var events struct{ Items []struct{ Kind, Note string } }
		w.must(200, "GET", "/api/v1/incidents/"+inc.ID+"/timeline", nil, &events)
		n := 0
		for _, e := range events.Items {
			if strings.Contains(e.Note, "OVERDUE: the notice to Individuals") {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("overdue notes on the timeline: %d", n)
		}
	})
}

// TestUIHHSReport fills an HHS report through the web pages on both
// databases: an admin saves the organisation profile, the Privacy
// Officer the report details (a bad State first) and, once the
// individuals were notified, records the filing, which marks the hhs
// obligation met.
func TestUIHHSReport(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Misdirected letter"}, &inc)
		base := "/api/v1/incidents/" + inc.ID + "/breach-case"
		w.must(201, "POST", base, nil, nil)
		now := time.Now().UTC().Add(-time.Hour).Format(time.RFC3339)
		w.must(200, "PUT", base+"/facts", map[string]any{"role": "covered_entity", "discovered_at": now, "should_have_known_at": now,
			"individuals": 12}, nil)
		admin := signInAs(t, w, authz.RoleAdmin, "o-admin")
		org := url.Values{"name": {"Acme Clinic"}, "entity_type": {"health_plan"}, "street": {"1 Main"}, "city": {"Springfield"},
			"state": {"California"}, "zip": {"90000"}, "contact_name": {"Pat"}, "contact_phone": {"555"}, "contact_email": {"p@acme.example"}}
		if code, page := admin.send("POST", "/org-profile", org); code != 422 || !strings.Contains(page, "address.state") {
			t.Fatalf("a bad State: %d %.500s", code, page)
		}
		org.Set("state", "CA")
		if code, where := admin.send("POST", "/org-profile", org); code != 303 || !strings.Contains(where, "org_saved") {
			t.Fatalf("org profile: %d %.300s", code, where)
		}

		po := signInAs(t, w, authz.RolePrivacyOfficer, "o-privacy")
		page := "/incidents/" + inc.Number + "/breach/hhs-report"
		if code, body := po.send("GET", page, nil); code != 200 || !strings.Contains(body, "Record a filing") || !strings.Contains(body, "Acme Clinic") {
			t.Fatalf("report page: %d %.500s", code, body)
		}
		details := url.Values{"breach_start": {"2026-01-02T10:00"}, "breach_end": {"2026-01-02T11:00"}, "breach_types": {"unauthorized_access_disclosure"},
			"locations": {"paper_films"}, "phi_types": {"demographic", "clinical"}, "safeguards": {"privacy_rule"},
			"actions_taken": {"trained_workforce"}, "description": {"Letters went to the wrong addresses."}, "ba_name": {"Mailer Inc"},
			"ba_state": {"Oregon"}}
		if code, body := po.send("POST", page+"/details", details); code != 422 || !strings.Contains(body, "business_associate.address.state") {
			t.Fatalf("a bad business associate State: %d %.500s", code, body)
		}
		details.Set("ba_state", "OR")
		if code, where := po.send("POST", page+"/details", details); code != 303 || !strings.Contains(where, "hhs_details_saved") {
			t.Fatalf("details: %d %.300s", code, where)
		}
		filing := url.Values{"tracking_number": {"AL-7"}, "attest": {"yes"}}
		if code, body := po.send("POST", page+"/filings", filing); code != 422 || !strings.Contains(body, "individual_notice_start") {
			t.Fatalf("filing before individual notice: %d %.500s", code, body)
		}
		w.must(200, "POST", base+"/obligations/met", map[string]any{"obligation": "individuals", "reason": "letters mailed by the vendor, receipt 1"}, nil)
		if code, where := po.send("POST", page+"/filings", filing); code != 303 || !strings.Contains(where, "hhs_filed") {
			t.Fatalf("filing: %d %.300s", code, where)
		}
		var packet struct {
			ReportKind string `json:"report_kind"`
			Business   struct {
				Name string `json:"name"`
			} `json:"business_associate"`
			Prior string `json:"prior_tracking_number"`
		}
		w.must(200, "GET", base+"/hhs-report", nil, &packet)
		if packet.ReportKind != "addendum" || packet.Prior != "AL-7" || packet.Business.Name != "Mailer Inc" {
			t.Fatalf("packet after the UI filing: %+v", packet)
		}
		var obs []struct{ Key, State string }
		w.must(200, "GET", base+"/obligations", nil, &obs)
		if i := slices.IndexFunc(obs, func(o struct{ Key, State string }) bool { return o.Key == "hhs" }); i < 0 || obs[i].State != "met" {
			t.Fatalf("hhs after the UI filing: %+v", obs)
		}
	})
}
