package upgrade

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/clock"
)

// Manifest is what a fixture holds, as this release's API reads it back.
type Manifest struct {
	// Ward is the version that made the fixture; Schema its schema version.
	Ward    string `json:"ward"`
	Schema  int    `json:"schema"`
	Dialect string `json:"dialect"`
	// Now is the time the fixture was finished; its reads are made with
	// the clock stopped there, so deadlines and clocks read the same.
	Now time.Time `json:"now"`
	// Tokens are the API tokens made for the fixture, by role (test
	// secrets: only their hashes are in the database).
	Tokens map[string]string `json:"tokens"`
	// Users are the user names made with ward user create.
	Users []string `json:"users"`
	// AuditEntries is the audit chain's length once populated.
	AuditEntries int `json:"audit_entries"`
	// Reads are the API reads that must answer the same after an upgrade.
	Reads []Read `json:"reads"`
}

// Read is one API read: the JSON answered, or the SHA-256 of a file.
type Read struct {
	Role   string          `json:"role"`
	Path   string          `json:"path"`
	Body   json.RawMessage `json:"body,omitempty"`
	SHA256 string          `json:"sha256,omitempty"`
}

// Roles of the tokens a fixture makes.
const (
	RoleAdmin   = "admin"
	RolePrivacy = "privacy_officer"
)

// populator makes the calls of Populate; the first error stops the rest.
type populator struct {
	srv    *Server
	clk    *clock.Fake
	tokens map[string]string
	err    error
}

// call sends one request as role and decodes a JSON answer into out (when
// not nil); any status but want is an error. Each write moves the clock on
// a second, so that every record has a time of its own.
func (p *populator) call(want int, role, method, path string, body any, out any) {
	if p.err != nil {
		return
	}
	ctype := ""
	if _, ok := body.(string); ok {
		ctype = "text/csv"
	}
	code, raw, err := p.srv.Do(p.tokens[role], method, path, body, ctype)
	switch {
	case err != nil:
		p.err = fmt.Errorf("%s %s: %w", method, path, err)
	case code != want:
		p.err = fmt.Errorf("%s %s: %d, want %d: %.500s", method, path, code, want, raw)
	case out != nil:
		if err := json.Unmarshal(raw, out); err != nil {
			p.err = fmt.Errorf("%s %s: %w", method, path, err)
		}
	}
	if method != "GET" {
		p.clk.Advance(time.Second)
	}
}

type idJSON struct {
	ID     string `json:"id"`
	Number string `json:"number"`
}

// Populate fills the Ward behind srv through its API as an organisation
// would over some weeks: a service with alerts grouped into incidents,
// incidents worked through the lifecycle with notes and tasks, and a
// breach case with its facts, a signed determination, affected
// individuals, letters, and the HHS filing. It returns the reads to record
// (Record) and compare after an upgrade: every incident, alert, note, task,
// timeline, the breach case and everything in it, and the notice files
// (marked with a SHA256 to fill).
func Populate(srv *Server, clk *clock.Fake, tokens map[string]string) ([]Read, error) {
	p := &populator{srv: srv, clk: clk, tokens: tokens}

	// A service that handles PHI, and alerts from its monitoring.
	var svc, ig struct {
		idJSON
		Key string `json:"key"`
	}
	p.call(201, RoleAdmin, "POST", "/api/v1/services", map[string]any{"name": "Imaging PACS", "handles_phi": true, "group_by": "alert"}, &svc)
	p.call(201, RoleAdmin, "POST", "/api/v1/services/"+svc.ID+"/integrations", map[string]any{"kind": "events_v2", "name": "PACS monitoring"}, &ig)
	for i := range 6 {
		p.call(202, "", "POST", "/v2/enqueue", map[string]any{"routing_key": ig.Key, "event_action": "trigger", "dedup_key": fmt.Sprintf("pacs-disk-%d", i),
			"payload": map[string]any{"summary": fmt.Sprintf("PACS archive volume %d above 95%%", i), "source": fmt.Sprintf("pacs%d.example.org", i),
				"severity": "critical", "component": "archive", "custom_details": map[string]any{"study": fmt.Sprintf("FIXTURE-STUDY-%d", i)}}}, nil)
	}
	p.call(202, "", "POST", "/v2/enqueue", map[string]any{"routing_key": ig.Key, "event_action": "resolve", "dedup_key": "pacs-disk-0"}, nil)

	// Incidents recorded by hand: one worked to closure, each with a long
	// run of notes (the audit chain grows with every one) and tasks.
	var incidents []idJSON
	for i, inc := range []map[string]any{
		{"title": "Misdirected fax to a pharmacy", "description": "Discharge summary for MRN FIXTURE-1001 faxed to the wrong pharmacy", "severity": "sev3", "category": "unauthorized_access_disclosure"},
		{"title": "Phishing email reported by nursing", "description": "Credential phishing aimed at ward 4B staff", "severity": "sev2", "category": "hacking_it_incident"},
		{"title": "Unencrypted USB drive missing", "description": "Drive with clinic schedules, patients FIXTURE-2001 to FIXTURE-2040", "severity": "sev2", "category": "loss"},
	} {
		var got idJSON
		p.call(201, RoleAdmin, "POST", "/api/v1/incidents", inc, &got)
		incidents = append(incidents, got)
		path := "/api/v1/incidents/" + got.ID
		for n := range 40 {
			p.call(201, RoleAdmin, "POST", path+"/notes", map[string]any{"body": fmt.Sprintf("Note %d on %s: called the reporter back, patient FIXTURE-%d", n+1, got.Number, 3000+i*100+n)}, nil)
		}
		var task idJSON
		p.call(201, RoleAdmin, "POST", path+"/tasks", map[string]any{"title": "Interview the reporter", "owner": "pat.morgan", "due_at": clk.Now().Add(48 * time.Hour)}, &task)
		p.call(200, RoleAdmin, "PATCH", path+"/tasks/"+task.ID, map[string]any{"done": true}, nil)
		p.call(201, RoleAdmin, "POST", path+"/tasks", map[string]any{"title": "Write the post-incident review", "owner": "pat.morgan"}, nil)
	}
	first := "/api/v1/incidents/" + incidents[0].ID
	p.call(200, RoleAdmin, "PATCH", first, map[string]any{"severity": "sev4", "description": "Discharge summary for MRN FIXTURE-1001; pharmacy attested destruction"}, nil)
	for _, s := range []map[string]any{{"to": "analysis"}, {"to": "containment", "note": "pharmacy asked to destroy the fax"},
		{"to": "eradication"}, {"to": "recovery"}, {"to": "post_incident"}, {"to": "closed", "resolution": "resolved"}} {
		p.call(200, RoleAdmin, "POST", first+"/transitions", s, nil)
	}
	p.call(200, RoleAdmin, "POST", "/api/v1/incidents/"+incidents[1].ID+"/transitions", map[string]any{"to": "analysis"}, nil)

	// The breach: a stolen laptop; PHI suspected, so its case opens itself.
	var breach idJSON
	p.call(201, RoleAdmin, "POST", "/api/v1/incidents", map[string]any{"title": "Stolen laptop with the oncology schedule",
		"description": "Laptop of Dr FIXTURE-Smith stolen from a car; schedule of 12 patients on it, disk not encrypted",
		"severity":    "sev1", "category": "theft", "phi_suspected": true}, &breach)
	incidents = append(incidents, breach)
	base := "/api/v1/incidents/" + breach.ID + "/breach-case"
	knew := clk.Now().Add(-24 * time.Hour)
	p.call(200, RoleAdmin, "PUT", base+"/facts", map[string]any{"role": "covered_entity", "discovered_at": knew, "should_have_known_at": knew.Add(-24 * time.Hour)}, nil)
	var findings []map[string]any
	for _, f := range []string{"164.402(2)(i)", "164.402(2)(ii)", "164.402(2)(iii)", "164.402(2)(iv)"} {
		findings = append(findings, map[string]any{"factor": f, "answer": "see the police report", "rationale": "laptop not recovered"})
	}
	p.call(201, RolePrivacy, "POST", base+"/determinations", map[string]any{"determination": map[string]any{"assessment": map[string]any{
		"findings": findings, "outcome": "notification_required", "rationale": "the disk was not encrypted and the laptop is gone"}}}, nil)
	var csv strings.Builder
	csv.WriteString("name,address1,city,state,zip,email,consent_electronic\n")
	for i := range 12 {
		state, city, zip := "CA", "Fresno", "93701"
		switch {
		case i >= 9:
			state, city, zip = "NY", "Albany", "12207"
		case i >= 6:
			state, city, zip = "OR", "Salem", "97301"
		}
		email, consent := "", ""
		if i%4 == 0 {
			email, consent = fmt.Sprintf("fixture.patient%d@example.com", i), "yes"
		}
		fmt.Fprintf(&csv, "Fixture Patient %02d,%d Oak Ave,%s,%s,%s,%s,%s\n", i, 100+i, city, state, zip, email, consent)
	}
	p.call(200, RoleAdmin, "POST", base+"/individuals/import", csv.String(), nil)
	var templates []struct{ ID, Kind string }
	p.call(200, RoleAdmin, "GET", "/api/v1/notice-templates", nil, &templates)
	for _, tp := range templates {
		if tp.Kind == "individual_letter" {
			p.call(200, RolePrivacy, "POST", "/api/v1/notice-templates/"+tp.ID+"/approve", nil, nil)
		}
	}
	p.call(200, RoleAdmin, "PUT", base+"/notice-settings", map[string]any{"entity_name": "Fixture Oncology", "entity_address": "1 Main St\nFresno, CA",
		"signer_name": "Pat Morgan", "signer_title": "Privacy Officer", "toll_free": "1-800-555-0100", "email": "privacy@example.org",
		"website": "https://example.org/notice", "postal_address": "1 Main St, Fresno, CA", "occurred_on": knew.Format("January 2, 2006"),
		"what_happened": "A laptop holding a clinic schedule was stolen.", "phi_involved": "your name and appointment date",
		"steps_to_take": "Watch for letters about care you did not receive.", "what_we_are_doing": "We now encrypt every laptop."}, nil)
	var run struct {
		ID    string `json:"id"`
		Files []struct{ ID string }
	}
	p.call(201, RoleAdmin, "POST", base+"/notices/letters", map[string]any{}, &run)
	p.call(200, RoleAdmin, "POST", base+"/notices/sent", map[string]any{"run_id": run.ID, "receipt": "mail house job 7"}, nil)
	// The three who chose email were told by telephone instead.
	p.call(200, RolePrivacy, "POST", base+"/obligations/met", map[string]any{"obligation": "individuals"}, nil)
	p.call(200, RoleAdmin, "PUT", "/api/v1/org-profile", map[string]any{"name": "Fixture Oncology", "entity_type": "healthcare_provider",
		"address": map[string]any{"street": "1 Main St", "city": "Fresno", "state": "CA", "zip": "93701"},
		"contact": map[string]any{"name": "Pat Morgan", "title": "Privacy Officer", "phone": "555-0100", "email": "privacy@example.org"}}, nil)
	p.call(200, RolePrivacy, "PUT", base+"/hhs-report/details", map[string]any{"breach_start": knew.Add(-24 * time.Hour), "breach_end": knew,
		"breach_types": []string{"theft"}, "locations": []string{"laptop"}, "phi_types": []string{"demographic", "clinical"},
		"description": "A laptop with a clinic schedule was stolen from a car.", "safeguards": []string{"security_rule_technical"},
		"actions_taken": []string{"other"}, "actions_other": "Encrypted every laptop"}, nil)
	p.call(201, RolePrivacy, "POST", base+"/hhs-report/filings", map[string]any{"tracking_number": "OCR-FIXTURE-0001", "attest": true}, nil)
	if p.err != nil {
		return nil, p.err
	}

	// What must read back the same.
	reads := []Read{}
	add := func(paths ...string) {
		for _, path := range paths {
			reads = append(reads, Read{Role: RoleAdmin, Path: path})
		}
	}
	add("/api/v1/services", "/api/v1/services/"+svc.ID+"/integrations", "/api/v1/alerts?limit=200",
		"/api/v1/incidents?limit=200", "/api/v1/org-profile", "/api/v1/breach-log", "/api/v1/notice-templates")
	var alerts []idJSON
	p.call(200, RoleAdmin, "GET", "/api/v1/alerts?limit=200", nil, &alerts)
	for _, a := range alerts {
		add("/api/v1/alerts/" + a.ID)
	}
	for _, inc := range incidents {
		path := "/api/v1/incidents/" + inc.ID
		add(path, path+"/notes", path+"/tasks", path+"/timeline")
	}
	for _, s := range []string{"", "/determinations", "/obligations", "/individuals", "/individuals/counts", "/individuals/imports",
		"/notice-settings", "/notices", "/notices/summary", "/hhs-report", "/hhs-report/details", "/hhs-report/filings", "/reminders"} {
		add(base + s)
	}
	for _, f := range run.Files {
		reads = append(reads, Read{Role: RoleAdmin, Path: base + "/notice-files/" + f.ID, SHA256: "file"})
	}
	return reads, p.err
}

// Record makes each read of reads on srv and keeps its answer: the JSON, or
// for a file (SHA256 set) the SHA-256 of its bytes.
func Record(srv *Server, tokens map[string]string, reads []Read) ([]Read, error) {
	out := make([]Read, len(reads))
	for i, r := range reads {
		code, raw, err := srv.Do(tokens[r.Role], "GET", r.Path, nil, "")
		if err != nil || code != 200 {
			return nil, fmt.Errorf("GET %s: %d %v %.300s", r.Path, code, err, raw)
		}
		out[i] = Read{Role: r.Role, Path: r.Path}
		if r.SHA256 != "" {
			sum := sha256.Sum256(raw)
			out[i].SHA256 = hex.EncodeToString(sum[:])
		} else {
			out[i].Body = raw
		}
	}
	return out, nil
}
