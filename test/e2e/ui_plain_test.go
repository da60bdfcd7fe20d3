package e2e

import (
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
)

// plainCase is the seeded instance's breach case with a signed
// determination, notices, individuals, an HHS packet and tasks.
type plainCase struct {
	number  string // incident number of the notified breach
	small   string // incident number of the case found not a breach
	contact string // id of an external contact
	review  string // incident number of one in post-incident, its review begun
	// template is the id of a status update template; publicPage the
	// path of the notified breach's public status page, turned on.
	template, publicPage string
	// invitePage is the path of a one-time sign-up link, unused.
	invitePage string
	// alertRule is the id of an alert rule that routes and tags alerts.
	alertRule string
}

// seedPlainInstance fills w, through the API, with what a person meets in
// a working Ward: a service with alerts, incidents with tasks, notes and
// status updates, a breach case with facts, a signed four-factor
// determination, obligations (overdue among them), 520 affected
// individuals, approved templates, generated letters, an HHS packet with
// its details, and a second case found not a breach. Every call appends
// to the audit trail.
func seedPlainInstance(t testing.TB, w *ward) plainCase {
	t.Helper()
	privacy := roleToken(t, w, "seed-privacy", "privacy_officer")
	var svc struct{ ID string }
	w.must(201, "POST", "/api/v1/services", map[string]any{"name": "Imaging API", "group_by": "alert"}, &svc)
	var ig integrationKey
	w.must(201, "POST", "/api/v1/services/"+svc.ID+"/integrations", map[string]any{"kind": "events_v2", "name": "Monitoring"}, &ig)
	for i := range 3 {
		ev := fmt.Sprintf(`{"routing_key":%q,"event_action":"trigger","dedup_key":"disk-%d",
			"payload":{"summary":"Disk full on db%d","source":"db%d","severity":"critical"}}`, ig.Key, i, i, i)
		if code, body := w.post("/v2/enqueue", ev, nil); code != http.StatusAccepted {
			t.Fatalf("alert %d: %d %s", i, code, body)
		}
	}

	var inc, small incidentJSON
	w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Ransomware on the imaging server", "severity": "sev1",
		"category": "hacking_it_incident", "phi_suspected": true}, &inc)
	w.must(201, "POST", "/api/v1/incidents/"+inc.ID+"/tasks", map[string]any{"title": "Isolate the imaging server"}, nil)
	w.must(201, "POST", "/api/v1/incidents/"+inc.ID+"/notes", map[string]any{"body": "The server is off the network."}, nil)
	// Evidence, so that the crawl opens an item's page.
	ct, form := evidenceForm(t, [][2]string{{"description", "Ransom note screenshot"}, {"collected_by", "Pat Lee"}},
		"note.png", []byte("not really a picture"))
	if code, _, raw := w.raw(w.token, "POST", "/api/v1/incidents/"+inc.ID+"/evidence", ct, form); code != http.StatusCreated {
		t.Fatalf("evidence: %d %s", code, raw)
	}
	// A note and an evidence item marked privileged, held by counsel, so
	// that the pages show the marks, the withheld content and the buttons.
	if code, _, errs := runWardIn(t, w.data, w.dbURL, uiPassword+"\n", "user", "create", "--username", "seed-counsel",
		"--role", "counsel", "--password-stdin"); code != 0 {
		t.Fatalf("counsel: %s", errs)
	}
	var privNote struct{ ID string }
	w.must(201, "POST", "/api/v1/incidents/"+inc.ID+"/notes", map[string]any{"body": "Counsel's view of the ransom demand."}, &privNote)
	ct, form = evidenceForm(t, [][2]string{{"description", "Outside counsel's memo"}}, "memo.txt", []byte("legal advice"))
	code, _, raw := w.raw(w.token, "POST", "/api/v1/incidents/"+inc.ID+"/evidence", ct, form)
	if code != http.StatusCreated {
		t.Fatalf("evidence: %d %s", code, raw)
	}
	for kind, id := range map[string]string{"note": privNote.ID, "evidence": jsonID(t, raw)} {
		if code, raw := w.doAs(privacy, "POST", "/api/v1/incidents/"+inc.ID+"/privileged", map[string]any{"kind": kind,
			"object_id": id, "privileged": true, "held_by": "seed-counsel"}, nil); code != 200 {
			t.Fatalf("mark the %s privileged: %d %s", kind, code, raw)
		}
	}
	base := "/api/v1/incidents/" + inc.ID + "/breach-case"
	w.must(200, "GET", base, nil, nil)
	// Found 70 days ago: the 60-day notices are overdue.
	knew := time.Now().UTC().Add(-70 * 24 * time.Hour).Truncate(time.Second)
	w.must(200, "PUT", base+"/facts", map[string]any{"role": "covered_entity", "discovered_at": knew, "should_have_known_at": knew}, nil)
	findings := []map[string]any{}
	for _, f := range []string{"164.402(2)(i)", "164.402(2)(ii)", "164.402(2)(iii)", "164.402(2)(iv)"} {
		findings = append(findings, map[string]any{"factor": f, "answer": "see the forensic report", "rationale": "reasoned in the report"})
	}
	det := map[string]any{"determination": map[string]any{"assessment": map[string]any{"findings": findings,
		"outcome": "notification_required", "rationale": "exfiltration cannot be ruled out",
		"ransomware": map[string]any{"variant": "a double-extortion strain", "exfiltration": "outbound transfer seen", "spread": "one server"}}}}
	if code, raw := w.doAs(privacy, "POST", base+"/determinations", det, nil); code != 201 {
		t.Fatalf("sign: %d %s", code, raw)
	}
	// 520 Californians (the Attorney General is owed a copy from 500) and
	// 20 Oregonians.
	var csv strings.Builder
	csv.WriteString("name,address1,city,state,zip\n")
	for i := range 540 {
		state, city, zip := "CA", "Fresno", "93701"
		if i >= 520 {
			state, city, zip = "OR", "Salem", "97301"
		}
		fmt.Fprintf(&csv, "Patient %04d,%d Main St,%s,%s,%s\n", i, i+1, city, state, zip)
	}
	if code, raw := w.postCSV(w.token, base+"/individuals/import", csv.String()); code != 200 {
		t.Fatalf("import: %d %.500s", code, raw)
	}
	var templates []struct{ ID, Kind string }
	w.must(200, "GET", "/api/v1/notice-templates", nil, &templates)
	for _, tp := range templates {
		if tp.Kind == "individual_letter" || tp.Kind == "media_release" {
			if code, raw := w.doAs(privacy, "POST", "/api/v1/notice-templates/"+tp.ID+"/approve", nil, nil); code != 200 {
				t.Fatalf("approve %s: %d %s", tp.Kind, code, raw)
			}
		}
	}
	w.must(200, "PUT", base+"/notice-settings", map[string]any{"entity_name": "Example Imaging", "entity_address": "1 Main St\nFresno, CA",
		"signer_name": "Pat Morgan", "signer_title": "Privacy Officer", "toll_free": "1-800-555-0100", "email": "privacy@example.org",
		"website": "https://example.org/notice", "postal_address": "1 Main St, Fresno, CA", "occurred_on": knew.Format("January 2, 2006"),
		"what_happened": "Ransomware encrypted our imaging server.", "phi_involved": "your name and imaging records",
		"steps_to_take": "Watch for letters about care you did not receive.", "what_we_are_doing": "We rebuilt the server."}, nil)
	var run struct{ ID string }
	w.must(201, "POST", base+"/notices/letters", map[string]any{}, &run)
	w.must(201, "POST", base+"/notices/documents", map[string]any{"kind": "media_release"}, nil)
	if code, raw := w.doAs(privacy, "PUT", base+"/hhs-report/details", map[string]any{"breach_start": knew, "breach_end": knew,
		"breach_types": []string{"hacking_it_incident"}, "locations": []string{"network_server"}, "phi_types": []string{"demographic", "clinical"},
		"description": "Ransomware encrypted the imaging server.", "safeguards": []string{"security_rule_technical"},
		"actions_taken": []string{"other"}, "actions_other": "Rebuilt the server"}, nil); code != 200 {
		t.Fatalf("HHS details: %d %s", code, raw)
	}

	// A phishing incident in post-incident: its review begun, an action
	// item overdue.
	var rv incidentJSON
	w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Phishing of the front desk", "severity": "sev3"}, &rv)
	w.must(200, "POST", "/api/v1/incidents/"+rv.Number+"/transitions", map[string]any{"to": "post_incident", "note": "one mailbox",
		"not_applicable": []string{"analysis", "containment", "eradication", "recovery"}}, nil)
	w.must(200, "PATCH", "/api/v1/incidents/"+rv.Number+"/review", map[string]any{"summary": "A password was phished.",
		"root_cause": "No MFA on webmail."}, nil)
	if code, _, errs := runWardIn(t, w.data, w.dbURL, uiPassword+"\n", "user", "create", "--username", "pat-lee",
		"--role", "responder", "--password-stdin"); code != 0 {
		t.Fatalf("create pat-lee: %s", errs)
	}
	w.must(201, "POST", "/api/v1/incidents/"+rv.Number+"/action-items", map[string]any{"title": "Turn on MFA for webmail",
		"owner": "pat-lee", "due_at": time.Now().UTC().Add(-24 * time.Hour), "ticket_url": "https://tickets.example/SEC-7"}, nil)

	// A lost, encrypted laptop: a case assessed as a low probability of
	// compromise, its HHS packet left unfilled.
	w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Lost laptop", "severity": "sev3", "category": "loss",
		"phi_suspected": true}, &small)
	sbase := "/api/v1/incidents/" + small.ID + "/breach-case"
	w.must(200, "GET", sbase, nil, nil)
	w.must(200, "PUT", sbase+"/facts", map[string]any{"role": "covered_entity", "discovered_at": knew, "should_have_known_at": knew, "individuals": 3}, nil)
	low := map[string]any{"determination": map[string]any{"assessment": map[string]any{"findings": findings,
		"outcome": "low_probability_of_compromise", "rationale": "the disk was encrypted and the key was not with it"}}}
	if code, raw := w.doAs(privacy, "POST", sbase+"/determinations", low, nil); code != 201 {
		t.Fatalf("sign the small case: %d %s", code, raw)
	}
	w.must(201, "POST", "/api/v1/incidents/"+small.ID+"/tasks", map[string]any{"title": "Ask for the laptop's encryption report"}, nil)
	// The lost-device playbook applied itself (a loss): its answers.
	w.must(200, "PUT", "/api/v1/incidents/"+small.ID+"/playbooks/lost_device/answers", map[string]any{"answers": map[string]any{
		"asset": "LT-0042", "serial": "C02XK1", "encryption": "full_disk", "power_state": "off", "last_location": "the staff car park",
		"police_report": "PR-2026-17", "remote_wipe": "confirmed"}}, nil)
	var contact struct{ ID string }
	w.must(201, "POST", "/api/v1/stakeholder-contacts", map[string]any{"name": "Dana Reyes", "organisation": "Mercy Clinic",
		"title": "Security lead", "email": "dana.reyes@mercy.example"}, &contact)
	var tmpl struct{ ID string }
	w.must(201, "POST", "/api/v1/status-update-templates", map[string]any{"name": "Initial notice", "audience": "public",
		"body": "We are investigating incident {incident}: {status}. Next update by {next update}."}, &tmpl)
	w.must(201, "POST", "/api/v1/incidents/"+inc.ID+"/status-updates", map[string]any{"audience": "public",
		"body": "We are investigating a security incident in our imaging service and will post an update within the day."}, nil)
	var pub struct{ URL string }
	w.must(200, "PUT", "/api/v1/incidents/"+inc.ID+"/public-status-page", map[string]any{"enabled": true}, &pub)
	var inv struct{ URL string }
	w.must(201, "POST", "/api/v1/invites", map[string]any{"role": "responder"}, &inv)
	var rule struct{ ID string }
	w.must(201, "POST", "/api/v1/alert-rules", map[string]any{"name": "Imaging notices", "description": "quiet informational alerts",
		"expression": `alert.severity == "info"`, "actions": []map[string]any{{"type": "route", "service": svc.ID},
			{"type": "set_severity", "severity": "warning"}, {"type": "add_tags", "tags": []string{"imaging"}}}}, &rule)
	return plainCase{alertRule: rule.ID, number: inc.Number, small: small.Number, contact: contact.ID, review: rv.Number, template: tmpl.ID,
		publicPage: pub.URL[strings.Index(pub.URL, "/p/"):], invitePage: inv.URL[strings.Index(inv.URL, "/invite"):]}
}

var (
	hrefRe     = regexp.MustCompile(`href="(/[^"#]*)`)
	hiddenRe   = regexp.MustCompile(`(?is)<(script|style|textarea|pre|head)\b.*?</(script|style|textarea|pre|head)>`)
	codeRe     = regexp.MustCompile(`(?is)<code\b.*?</code>`)
	blockRe    = regexp.MustCompile(`(?i)</?(p|div|td|th|tr|li|dt|dd|h[1-6]|option|label|legend|section|nav|header|br|table|ul|ol|button|summary|figcaption)\b[^>]*>`)
	tagRe      = regexp.MustCompile(`<[^>]*>`)
	spaceRe    = regexp.MustCompile(`[ \t\r]+|\n\s*`)
	wordRe     = regexp.MustCompile(`[A-Za-z]+`)
	idRe       = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
	snakeRe    = regexp.MustCompile(`\b[a-z][a-z0-9]*(_[a-z0-9]+)+\b`)
	oneManyRe  = regexp.MustCompile(`(^|[^0-9.,])1 (fields|days|hours|minutes|individuals|letters|notices|errors|items|incidents|alerts|tasks|obligations|recipients|entries|pages|steps|people|weeks|residents|files|notes|members|rows|lines)\b`)
	stateAgRe  = regexp.MustCompile(`\bState ag\b`)
	repoFileRe = regexp.MustCompile(`\bdocs/|\b[A-Za-z_]+\.md\b`)
	// actorRe is an actor as the records keep it ("token:ci"), where a
	// page should name the token, the integration or Ward.
	actorRe = regexp.MustCompile(`\b(user|token|integration|system|cli):[A-Za-z0-9]`)
)

// visibleText is what a person reads on page, a line per block (a
// paragraph, a table cell): its text without markup, scripts or text
// boxes, and without code (a CSV column's name, a rule's expression, a
// template's merge field) unless withCode.
func visibleText(page string, withCode bool) string {
	s := hiddenRe.ReplaceAllString(page, " ")
	if !withCode {
		s = codeRe.ReplaceAllString(s, " ")
	}
	s = blockRe.ReplaceAllString(s, "\n")
	s = tagRe.ReplaceAllString(s, " ")
	return spaceRe.ReplaceAllStringFunc(html.UnescapeString(s), func(sp string) string {
		if strings.Contains(sp, "\n") {
			return "\n"
		}
		return " "
	})
}

// plainProblems lists what on page a person should not have to read: a
// raw code outside code, anything else anywhere.
func plainProblems(page string) []string {
	return textProblems(visibleText(page, false), visibleText(page, true))
}

// textProblems applies the rules of plainProblems to a text read without
// code (plain) and with it (all): a PDF's text is both.
func textProblems(plain, all string) []string {
	var out []string
	text := plain
	near := func(loc []int) string {
		return strings.ReplaceAll(strings.TrimSpace(text[max(loc[0]-60, 0):min(loc[1]+60, len(text))]), "\n", " | ")
	}
	add := func(what string, re *regexp.Regexp) {
		for _, loc := range re.FindAllStringIndex(text, 3) {
			out = append(out, fmt.Sprintf("%s %q in …%s…", what, text[loc[0]:loc[1]], near(loc)))
		}
	}
	add("a code", snakeRe)
	text = all
	add("an id", idRe)
	add("a singular counted as plural", oneManyRe)
	add("a repository file", repoFileRe)
	add("a code spelt out", stateAgRe)
	add("an actor's record", actorRe)
	for _, lit := range []string{"/api/", "(s) ", "(s).", "(s),"} {
		if i := strings.Index(text, lit); i >= 0 {
			out = append(out, fmt.Sprintf("%q in …%s…", lit, near([]int{i, i + len(lit)})))
		}
	}
	words := wordRe.FindAllStringIndex(text, -1)
	for i := 1; i < len(words); i++ {
		a, b := text[words[i-1][0]:words[i-1][1]], text[words[i][0]:words[i][1]]
		if between := text[words[i-1][1]:words[i][0]]; len(a) > 1 && strings.EqualFold(a, b) && strings.TrimSpace(between) == "" &&
			!strings.Contains(between, "\n") {
			out = append(out, fmt.Sprintf("a doubled word %q in …%s…", a, near([]int{words[i-1][0], words[i][1]})))
		}
	}
	return out
}

// crawl opens every page b can reach by following links from start,
// returning each HTML page by its address, and the text of each PDF
// (pdfText) by its address. A path's query-string variants (filters,
// pages) are followed up to three per path.
func crawl(t *testing.T, b *browserless, start string) (pages, pdfs map[string]string) {
	t.Helper()
	pages, pdfs = map[string]string{}, map[string]string{}
	variants := map[string]int{}
	queue := []string{start}
	for len(queue) > 0 && len(pages) < 400 {
		addr := queue[0]
		queue = queue[1:]
		if _, done := pages[addr]; done {
			continue
		}
		req, err := http.NewRequest(http.MethodGet, b.base+addr, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", addr, err)
		}
		var body strings.Builder
		switch ct := resp.Header.Get("Content-Type"); {
		case strings.HasPrefix(ct, "text/html"):
			buf := make([]byte, 32<<10)
			for {
				n, err := resp.Body.Read(buf)
				body.Write(buf[:n])
				if err != nil {
					break
				}
			}
		case ct == "application/pdf":
			raw, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatalf("GET %s: %v", addr, err)
			}
			text, err := pdfText(raw)
			if err != nil {
				t.Errorf("the text of %s: %v", addr, err)
			}
			pdfs[addr] = text
		}
		resp.Body.Close()
		pages[addr] = ""
		if resp.StatusCode >= 500 {
			t.Errorf("GET %s: %d", addr, resp.StatusCode)
		}
		if body.Len() == 0 {
			continue
		}
		page := body.String()
		pages[addr] = page
		for _, m := range hrefRe.FindAllStringSubmatch(page, -1) {
			link := html.UnescapeString(m[1])
			if strings.HasPrefix(link, "/static/") || strings.HasPrefix(link, "//") {
				continue
			}
			path, _, hasQuery := strings.Cut(link, "?")
			if _, seen := pages[link]; seen {
				continue
			}
			if hasQuery {
				if variants[path] >= 3 {
					continue
				}
				variants[path]++
			}
			queue = append(queue, link)
		}
	}
	return pages, pdfs
}

// TestUIPlainLanguage seeds an instance and, as each role, opens every
// page its links reach: none shows an id, an API path, a repository file,
// a raw code, an actor as the records keep it ("token:ci"), "1 fields",
// "day(s)", a doubled word or "State ag". Neither do the error messages
// of a determination signed with its answers missing. The notices list
// names the individual each letter is for.
func TestUIPlainLanguage(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		c := seedPlainInstance(t, w)
		roles := []authz.Role{authz.RoleAdmin, authz.RoleResponder, authz.RoleSecurityOfficer, authz.RolePrivacyOfficer,
			authz.RoleAuditor, authz.RoleStakeholder, authz.RoleCounsel}
		for _, role := range roles {
			b := signInAs(t, w, role, "plain-"+strings.ReplaceAll(string(role), "_", "-"))
			pages, pdfs := crawl(t, b, "/")
			if _, ok := pages["/profile"]; !ok {
				t.Errorf("%s: the crawl never reached the profile page (%d pages)", role, len(pages))
			}
			addrs := make([]string, 0, len(pages))
			for a := range pages {
				addrs = append(addrs, a)
			}
			sort.Strings(addrs)
			for _, a := range addrs {
				for _, p := range plainProblems(pages[a]) {
					t.Errorf("%s, %s: %s", role, a, p)
				}
			}
			for a, text := range pdfs {
				for _, p := range textProblems(text, text) {
					t.Errorf("%s, the PDF %s: %s", role, a, p)
				}
			}
			if role == authz.RolePrivacyOfficer {
				for _, n := range []string{c.number, c.small} {
					if _, ok := pages["/incidents/"+n+"/breach"]; !ok {
						t.Errorf("the Privacy Officer's crawl never reached the breach case of %s", n)
					}
				}
				// The PDFs were read: the HHS packet and the letters.
				if text := pdfs["/incidents/"+c.number+"/breach/hhs-report.pdf"]; !strings.Contains(text, c.number) {
					t.Errorf("the HHS packet's PDF was not read, or does not name %s: %.2000s", c.number, text)
				}
				letters := 0
				for a, text := range pdfs {
					if strings.Contains(a, "/notices/files/") && strings.Contains(text, "Patient 0") {
						letters++
					}
				}
				if letters == 0 {
					t.Errorf("no letters PDF was read among %d PDFs", len(pdfs))
				}
				notices := pages["/incidents/"+c.number+"/notices"]
				if !strings.Contains(notices, "Patient 0") || strings.Contains(notices, "An affected individual") {
					t.Errorf("the notices list does not name the individuals: %.3000s", visibleText(notices, false))
				}
				// A determination signed with the answers left blank: its
				// errors name the questions, not the form's fields.
				code, page := b.send("POST", "/incidents/"+c.small+"/breach/determinations", url.Values{"path": {"assess"},
					"assessment_outcome": {"low_probability_of_compromise"}, "assessment_rationale": {"the disk was encrypted"}, "reason": {"review"}})
				if code != http.StatusUnprocessableEntity {
					t.Errorf("a determination without answers: %d, want 422", code)
				}
				for _, p := range plainProblems(page) {
					t.Errorf("a determination without answers: %s", p)
				}
				// A template preview naming a merge field Ward does not fill.
				code, page = b.send("POST", "/notice-templates/default-individual_letter/preview", url.Values{"name": {"Letter"},
					"subject": {"Notice"}, "body": {"Dear {{.Patient.Name}},"}})
				if code != http.StatusUnprocessableEntity || !strings.Contains(page, "{{.Individual.Name}}") {
					t.Errorf("a preview with an unknown merge field: %d, want 422 naming the fields to use", code)
				}
				for _, p := range plainProblems(page) {
					t.Errorf("a preview with an unknown merge field: %s", p)
				}
			}
		}
	})
}
