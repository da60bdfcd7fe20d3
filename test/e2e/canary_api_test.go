package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/playbook"
)

// apiCanaryMark is in every canary this file writes; apiCanaryRe finds
// each one and the number naming the operation and field it was written
// to.
const apiCanaryMark = "078-05-1120"

var apiCanaryRe = regexp.MustCompile(`078-05-1120[ _]k(\d+)`)

// apiControl names the control canary, written where Ward stores it in
// clear; apiNoticeEmail is the affected individual who consented to notice
// by email; apiNoticeSettings is the operation whose fields the notice is
// made of.
const (
	apiControl        = "control"
	apiNoticeEmail    = "bo@example.com"
	apiNoticeSettings = "PUT /api/v1/incidents/{id}/breach-case/notice-settings"
)

// apiCanaries hands out a distinct canary per operation and field.
type apiCanaries struct{ written []string }

func (c *apiCanaries) next(op, field string) string {
	c.written = append(c.written, op+" "+field)
	return fmt.Sprintf("Zebulon Canary %s k%d.", apiCanaryMark, len(c.written)-1)
}

// token is a canary for a field that takes no spaces (a URL's path or
// query); addr, one for an email address.
func (c *apiCanaries) token(op, field string) string {
	c.written = append(c.written, op+" "+field)
	return fmt.Sprintf("zebulon_canary_%s_k%d", apiCanaryMark, len(c.written)-1)
}

func (c *apiCanaries) addr(op, field string) string { return c.token(op, field) + "@example.org" }

// hits names the operation and field of every canary in b.
func (c *apiCanaries) hits(b []byte) []string {
	var out []string
	for _, m := range apiCanaryRe.FindAllSubmatch(b, -1) {
		if i, err := strconv.Atoi(string(m[1])); err == nil && i < len(c.written) {
			out = append(out, c.written[i])
		} else {
			out = append(out, "unknown canary "+string(m[0]))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// apiSeeds are the objects the driven operations act on.
type apiSeeds struct {
	incident, restricted, breachCase, policy, service, task, group, template, party, schedule, run, hook, contact, rule, alertRule, control string
	// evidence is an evidence item of the incident (seedEvidence);
	// extContact an external stakeholder contact.
	evidence, extContact string
	// updateTemplate is a status update template.
	updateTemplate string
	// review is an incident in the post-incident phase (seedReview);
	// action an action item of the incident; keyEvent a key event of
	// the review.
	review, action, keyEvent string
	// letter is the default letter template's body, which has every
	// element 164.404(c)(1) requires.
	letter string
	// routingKey is the events_v2 key of the service's integration.
	routingKey string
	// unsentRun is a run of letters not yet recorded as sent (seedUIOwed).
	unsentRun string
}

// apiOp drives one create or update operation of the OpenAPI document.
// body is a valid request without canaries; the test then writes a canary
// into every string field of the request schema that is free text, that
// is, neither constrained (an enum, a format, a pattern) nor listed in
// plain with the reason it holds no typed text about a patient. A field
// the body already holds gets the canary after its value (so a template
// keeps its required elements); an object the path crosses is made. Ops
// run in order: after records what a later one needs.
type apiOp struct {
	op    string // "METHOD path" as in the OpenAPI document
	as    string // the role whose token sends it; "" for the admin's
	want  int
	url   func(s *apiSeeds) string
	body  func(s *apiSeeds) map[string]any
	plain map[string]string
	after func(s *apiSeeds, raw []byte)
}

// Reasons a string field is not free text (keys schema_test's notFreeText
// names the columns they are stored in).
const (
	isConfig = "configuration about the organisation or its tools, stored in clear by design"
	isRef    = "a reference to another object (id or username)"
	isVocab  = "a fixed vocabulary the server checks"
	isAddr   = "an address or number the server validates"
	isStaff  = "a member of staff's username"
	// otherRequest: the field is free text, filled in another request to
	// the same operation (the forms of a determination exclude each
	// other); the test checks that one does.
	otherRequest = "filled in another request to this operation"
)

// notDriven are the create and update operations the test does not send,
// each with the reason; the test fails on any other operation it does not
// drive.
var notDriven = map[string]string{
	"POST /api/v1/users": "a person's account (TestPeopleAPIEndToEnd drives it): username, name and email are stored as " +
		"ward user create stores them (users.display_name, users.email: configuration about the organisation's staff), " +
		"the password only as its argon2id hash",
	"POST /api/v1/invites": "a sign-up link (TestPeopleAPIEndToEnd drives it): its one text field is the email offered on the " +
		"sign-up page, stored as users.email is (configuration about staff)",
	"POST /api/v1/api-tokens": "an API token (TestPeopleAPIEndToEnd drives it): its name is configuration (api_tokens.name) " +
		"and user names a Ward user, checked (422 otherwise) and stored as an id",
	"PUT /api/v1/breach/state-rules": "the whole state-rule table, configuration that the rule engine checks field by field " +
		"(breach_state_tables.body is configuration)",
	"POST /api/v1/breach-reports/proof-bundles/verify": "a zip file, not JSON: nothing is stored",
	"POST /api/v1/incidents/{id}/breach-case/notices/documents": "a case owes a media release, a State Attorney " +
		"General's or a customer's notice only with over 500 residents of a State, or customers (TestNotices drives them); " +
		"its only free text is hold_override, written on the other notice operations",
	"POST /api/v1/contact-methods/{id}/verify": "its one field is the one-time code Ward sent to the address, checked " +
		"against its hash and never stored",
	"POST /api/v1/audit/segments/{segment}/review": "it needs a break of the audit trail that Ward recorded " +
		"(TestAuditChainBreakOnRunningServer drives it); its one field names the incident that investigates the break, " +
		"a reference, and the review stores that incident's id",
	"POST /api/v1/incidents/{id}/privileged": "it marks a record privileged (TestPrivilegedMarkingE2E drives it): object_id " +
		"names a note or evidence item of the incident and held_by a Ward user whose role may see privileged content, each " +
		"checked (422 otherwise) and stored as an id and a username, never as free text",
	"POST /api/v1/incidents/{id}/privileged-notes": "a note by counsel, privileged from the start, which needs a Ward user " +
		"holding the privilege (TestCounselPrivilegedNoteE2E drives it; the UI walk fills its form as the Privacy Officer): " +
		"its body is a note, sealed as every note is (incident_events.note), and held_by names a Ward user, checked",
}

// playbookPlain are a playbook's string fields: the organisation's response
// procedure, configuration stored in clear by design
// (playbook_versions.body), never an answer about a patient.
var playbookPlain = map[string]string{"key": isRef, "name": isConfig, "summary": isConfig, "categories[]": isVocab,
	"sources[].id": isRef, "sources[].title": isConfig, "sources[].url": isConfig, "phases[].tasks[].title": isConfig,
	"phases[].tasks[].cite": isRef, "phases[].evidence[].text": isConfig, "phases[].evidence[].cite": isRef,
	"questions[].key": isRef, "questions[].label": isConfig, "questions[].help": isConfig, "questions[].cite": isRef,
	"questions[].choices[].value": isVocab, "questions[].choices[].label": isConfig}

// shippedPlaybook is the body of an edit of playbook key that changes
// nothing but its version: the playbook as Ward ships it.
func shippedPlaybook(t *testing.T, key string) func(*apiSeeds) map[string]any {
	return func(*apiSeeds) map[string]any {
		all, err := playbook.Shipped()
		if err != nil {
			t.Fatal(err)
		}
		raw, err := json.Marshal(all[key])
		if err != nil {
			t.Fatal(err)
		}
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatal(err)
		}
		return body
	}
}

// jsonID returns the first "id" in a JSON answer.
func jsonID(t testing.TB, raw []byte) string {
	t.Helper()
	m := regexp.MustCompile(`"id":"([^"]+)"`).FindSubmatch(raw)
	if m == nil {
		t.Fatalf("no id in %s", raw)
	}
	return string(m[1])
}

// determinations is the operation that signs a breach determination, sent
// once per form.
const determinations = "POST /api/v1/incidents/{id}/breach-case/determinations"

// apiOps are the driven operations, in the order they are sent.
func apiOps(t *testing.T) []apiOp {
	now := time.Now().UTC().Truncate(time.Second)
	day := 24 * time.Hour
	inc := func(s *apiSeeds) string { return "/api/v1/incidents/" + s.incident }
	bc := func(s *apiSeeds) string { return inc(s) + "/breach-case" }
	fixed := func(p string) func(*apiSeeds) string { return func(*apiSeeds) string { return p } }
	none := func(*apiSeeds) map[string]any { return map[string]any{} }
	policy := func(*apiSeeds) map[string]any {
		return map[string]any{"name": "canary-policy", "description": "pager",
			"steps": []map[string]any{{"delay_minutes": 5, "targets": []map[string]string{{"type": "user", "id": "bob"}}}}}
	}
	policyPlain := map[string]string{"name": isConfig, "description": isConfig, "steps[].targets[].id": isRef,
		"steps[].targets[].type": isVocab}
	service := func(s *apiSeeds) map[string]any {
		return map[string]any{"name": "canary-svc", "description": s.control, "escalation_policy": "canary-policy"}
	}
	servicePlain := map[string]string{"name": isConfig, "description": isConfig, "escalation_policy": isRef}
	incidentPlain := map[string]string{"commander": isStaff, "customers[]": "customer names, " + isConfig}
	task := map[string]string{"owner": isStaff}
	template := func(s *apiSeeds) map[string]any {
		return map[string]any{"kind": "individual_letter", "name": "Canary letter", "subject": "About your information",
			"body": s.letter}
	}
	templatePlain := map[string]string{"name": isConfig}
	group := func(*apiSeeds) map[string]any {
		return map[string]any{"name": "canary-group", "description": "execs", "members": []string{"exec"},
			"rule": map[string]any{"severities": []string{"sev1"}}, "audience": "internal"}
	}
	groupPlain := map[string]string{"name": isConfig, "description": isConfig, "members[]": isStaff, "audience": isVocab,
		"rule.categories[]": isVocab, "rule.services[]": isRef, "rule.severities[]": isVocab, "rule.customers[]": isRef}
	party := func(*apiSeeds) map[string]any {
		return map[string]any{"kind": "business_associate", "name": "Acme Billing", "agreement": "BAA 2024",
			"contact": map[string]any{"name": "Pat Doe", "email": "pat@acme.example", "address": "1 Main St"},
			"notice":  map[string]any{"amount": 5, "unit": "days", "business": true}, "channel": "email", "contents": "names",
			"checklist": []string{"names"}}
	}
	extContact := func(s *apiSeeds) map[string]any {
		return map[string]any{"email": "security@customer.example.org", "party_id": s.party}
	}
	extContactPlain := map[string]string{"email": isAddr, "party_id": isRef, "rule.categories[]": isVocab, "rule.services[]": isRef,
		"rule.severities[]": isVocab, "rule.customers[]": isRef}
	updateTemplate := func(*apiSeeds) map[string]any {
		return map[string]any{"name": "Initial notice", "audience": "public", "phi_override": true}
	}
	updateTemplatePlain := map[string]string{"name": isConfig, "audience": isVocab}
	partyPlain := map[string]string{"name": isConfig, "agreement": isConfig, "contact.name": isConfig, "contact.email": isAddr,
		"contact.address": isConfig, "contents": isConfig, "checklist[]": isConfig, "notice.unit": isVocab}
	schedule := func(*apiSeeds) map[string]any {
		return map[string]any{"name": "canary-rota", "description": "lab", "time_zone": "UTC",
			"rotations": []map[string]any{{"name": "weekly", "kind": "weekly", "shift_length": 1, "start": now.Format(time.RFC3339),
				"participants": []string{"bob"}}}}
	}
	schedulePlain := map[string]string{"name": isConfig, "description": isConfig, "time_zone": isVocab,
		"rotations[].kind": isVocab, "rotations[].name": isConfig, "rotations[].participants[]": isStaff,
		"rotations[].restrict[].days[]": isVocab, "rotations[].restrict[].end": isVocab, "rotations[].restrict[].start": isVocab}
	rule := func(*apiSeeds) map[string]any {
		return map[string]any{"name": "canary-rule", "description": "page execs", "expression": `incident.severity == "sev1"`,
			"actions": []map[string]any{{"type": "notify_group", "group": "canary-group"}}}
	}
	rulePlain := map[string]string{"name": isConfig, "description": isConfig, "expression": isConfig,
		"actions[].group": isRef, "actions[].severity": isVocab, "actions[].title": "the title a rule gives, " + isConfig,
		"actions[].category": isVocab, "actions[].commander": isStaff, "actions[].playbook": isRef, "actions[].policy": isRef,
		"actions[].url": "the webhook address a rule calls, " + isConfig, "actions[].host": "the host of that address, " + isConfig}
	alertRule := func(*apiSeeds) map[string]any {
		return map[string]any{"name": "canary-alert-rule", "description": "tag the lab", "expression": `alert.service == "lab"`,
			"actions": []map[string]any{{"type": "add_tags", "tags": []string{"lab"}}}}
	}
	alertRulePlain := map[string]string{"name": isConfig, "description": isConfig, "expression": isConfig,
		"actions[].service": isRef, "actions[].severity": isVocab, "actions[].tags[]": "the tags a rule adds, " + isConfig}
	determinationPlain := func(form string) map[string]string {
		out := map[string]string{"determination.assessment.findings[].factor": isVocab, "determination.assessment.outcome": isVocab,
			"determination.exception.kind": isVocab, "determination.secured.method": isVocab, "determination.secured.standard": isVocab}
		for _, f := range []string{"determination.exception.rationale", "determination.secured.rationale",
			"determination.assessment.findings[].answer", "determination.assessment.findings[].rationale",
			"determination.assessment.rationale", "determination.assessment.ransomware.exfiltration",
			"determination.assessment.ransomware.spread", "determination.assessment.ransomware.variant"} {
			if !strings.HasPrefix(f, "determination."+form+".") {
				out[f] = otherRequest
			}
		}
		return out
	}
	org := map[string]string{"name": isConfig, "address.city": isConfig, "address.state": isVocab, "address.street": isConfig,
		"address.zip": isAddr, "contact.email": isAddr, "contact.name": isConfig, "contact.phone": isAddr, "contact.title": isConfig,
		"updated_by": "set by the server"}

	return []apiOp{
		{op: "POST /api/v1/users/{id}/contact-methods", want: 201, url: fixed("/api/v1/users/bob/contact-methods"),
			body: func(s *apiSeeds) map[string]any {
				return map[string]any{"kind": "webhook", "address": s.hook + "/page"}
			},
			plain: map[string]string{"address": isAddr, "label": isConfig}, after: func(s *apiSeeds, raw []byte) { s.contact = jsonID(t, raw) }},
		{op: "POST /api/v1/users/{id}/notification-rules", want: 201, url: fixed("/api/v1/users/bob/notification-rules"),
			body: func(s *apiSeeds) map[string]any {
				return map[string]any{"contact_method_id": s.contact, "delay_minutes": 0}
			},
			plain: map[string]string{"contact_method_id": isRef}},
		{op: "POST /api/v1/escalation-policies", want: 201, url: fixed("/api/v1/escalation-policies"), body: policy, plain: policyPlain,
			after: func(s *apiSeeds, raw []byte) { s.policy = jsonID(t, raw) }},
		{op: "PUT /api/v1/escalation-policies/{id}", want: 200, url: func(s *apiSeeds) string { return "/api/v1/escalation-policies/" + s.policy },
			body: policy, plain: policyPlain},
		{op: "POST /api/v1/services", want: 201, url: fixed("/api/v1/services"), body: service, plain: servicePlain,
			after: func(s *apiSeeds, raw []byte) { s.service = jsonID(t, raw) }},
		{op: "PUT /api/v1/services/{id}", want: 200, url: func(s *apiSeeds) string { return "/api/v1/services/" + s.service },
			body: service, plain: servicePlain},
		{op: "POST /api/v1/services/{id}/integrations", want: 201, url: func(s *apiSeeds) string { return "/api/v1/services/" + s.service + "/integrations" },
			body: func(*apiSeeds) map[string]any { return map[string]any{"kind": "events_v2", "name": "mon"} }, plain: map[string]string{"name": isConfig},
			after: func(s *apiSeeds, raw []byte) {
				var k integrationKey
				if err := json.Unmarshal(raw, &k); err != nil || k.Key == "" {
					t.Fatalf("integration: %s %v", raw, err)
				}
				s.routingKey = k.Key
			}},
		{op: "POST /api/v1/services/{id}/maintenance", want: 201, url: func(s *apiSeeds) string { return "/api/v1/services/" + s.service + "/maintenance" },
			body: func(*apiSeeds) map[string]any { // tomorrow, so that the alert below pages
				return map[string]any{"starts_at": now.Add(day).Format(time.RFC3339), "ends_at": now.Add(day + time.Hour).Format(time.RFC3339)}
			}},
		{op: "POST /api/v1/incidents", want: 201, url: fixed("/api/v1/incidents"),
			body: func(*apiSeeds) map[string]any {
				return map[string]any{"title": "Laptop stolen", "category": "theft", "commander": "bob", "customers": []string{"Acme"}}
			}, plain: incidentPlain, after: func(s *apiSeeds, raw []byte) { s.incident = jsonID(t, raw) }},
		{op: "PATCH /api/v1/incidents/{id}", want: 200, url: inc, body: none, plain: incidentPlain},
		{op: "POST /api/v1/incidents/{id}/notes", want: 201, url: func(s *apiSeeds) string { return inc(s) + "/notes" }, body: none},
		{op: "POST /api/v1/incidents/{id}/tasks", want: 201, url: func(s *apiSeeds) string { return inc(s) + "/tasks" },
			body: func(*apiSeeds) map[string]any { return map[string]any{"owner": "bob"} }, plain: task,
			after: func(s *apiSeeds, raw []byte) { s.task = jsonID(t, raw) }},
		{op: "PATCH /api/v1/incidents/{id}/tasks/{task_id}", want: 200, url: func(s *apiSeeds) string { return inc(s) + "/tasks/" + s.task },
			body: none, plain: task},
		// The seeded incident is a theft: the lost-device playbook applied
		// itself; its answers (sealed) and a second playbook by hand, one
		// that does not open the breach case (opened below).
		{op: "POST /api/v1/incidents/{id}/playbooks", want: 201, url: func(s *apiSeeds) string { return inc(s) + "/playbooks" },
			body:  func(*apiSeeds) map[string]any { return map[string]any{"playbook": "phishing_bec"} },
			plain: map[string]string{"playbook": isRef}},
		{op: "PUT /api/v1/incidents/{id}/playbooks/{key}/answers", want: 200,
			url: func(s *apiSeeds) string { return inc(s) + "/playbooks/lost_device/answers" },
			body: func(*apiSeeds) map[string]any {
				return map[string]any{"answers": map[string]any{"asset": "LT-0042", "serial": "C02XK1", "last_location": "the car park",
					"police_report": "PR-2026-17"}}
			}},
		// A drill: its title and scenario are sealed like any incident's.
		{op: "POST /api/v1/drills", want: 201, url: fixed("/api/v1/drills"),
			body:  func(*apiSeeds) map[string]any { return map[string]any{"playbook": "ransomware"} },
			plain: map[string]string{"playbook": isRef, "page_policy": isRef}},
		{op: "PUT /api/v1/playbooks/{key}", want: 200, url: fixed("/api/v1/playbooks/misdirected"), body: shippedPlaybook(t, "misdirected"),
			plain: playbookPlain},
		{op: "POST /api/v1/incidents/{id}/action-items", want: 201, url: func(s *apiSeeds) string { return inc(s) + "/action-items" },
			body: func(*apiSeeds) map[string]any {
				return map[string]any{"owner": "bob", "due_at": now.Add(3 * day).Format(time.RFC3339), "ticket_url": "https://tickets.example/SEC-1"}
			}, plain: map[string]string{"owner": isStaff}, after: func(s *apiSeeds, raw []byte) { s.action = jsonID(t, raw) }},
		{op: "PATCH /api/v1/incidents/{id}/action-items/{item_id}", want: 200,
			url:  func(s *apiSeeds) string { return inc(s) + "/action-items/" + s.action },
			body: none, plain: map[string]string{"owner": isStaff}},
		{op: "PATCH /api/v1/incidents/{id}/review", want: 200, url: func(s *apiSeeds) string { return "/api/v1/incidents/" + s.review + "/review" },
			body: none},
		{op: "POST /api/v1/incidents/{id}/review/key-events", want: 200,
			url:  func(s *apiSeeds) string { return "/api/v1/incidents/" + s.review + "/review/key-events" },
			body: func(*apiSeeds) map[string]any { return map[string]any{"milestones": true} }, plain: map[string]string{"event_ids[]": isRef},
			after: func(s *apiSeeds, raw []byte) { s.keyEvent = jsonID(t, raw) }},
		{op: "PATCH /api/v1/incidents/{id}/review/key-events/{key_event_id}", want: 204,
			url:  func(s *apiSeeds) string { return "/api/v1/incidents/" + s.review + "/review/key-events/" + s.keyEvent },
			body: none},
		{op: "POST /api/v1/incidents/{id}/review/waive", want: 200, as: "security_officer",
			url: func(s *apiSeeds) string { return "/api/v1/incidents/" + s.review + "/review/waive" }, body: none},
		{op: "POST /api/v1/incidents/{id}/transitions", want: 200, url: func(s *apiSeeds) string { return inc(s) + "/transitions" },
			body:  func(*apiSeeds) map[string]any { return map[string]any{"to": "analysis"} },
			plain: map[string]string{"not_applicable[]": isVocab}},
		{op: "POST /api/v1/incidents/{id}/members", want: 201, url: func(s *apiSeeds) string { return inc(s) + "/members" },
			body: func(*apiSeeds) map[string]any { return map[string]any{"user": "bob"} }, plain: map[string]string{"user": isStaff}},
		{op: "POST /api/v1/incidents/{id}/legal-hold", want: 201, url: func(s *apiSeeds) string { return inc(s) + "/legal-hold" }, body: none},
		{op: "POST /api/v1/incidents/{id}/legal-hold/release", want: 200, url: func(s *apiSeeds) string { return inc(s) + "/legal-hold/release" }, body: none},
		{op: "POST /api/v1/incidents/{id}/break-glass", want: 201, url: func(s *apiSeeds) string { return "/api/v1/incidents/" + s.restricted + "/break-glass" },
			body: none},
		{op: "POST /api/v1/stakeholder-groups", want: 201, url: fixed("/api/v1/stakeholder-groups"), body: group, plain: groupPlain,
			after: func(s *apiSeeds, raw []byte) { s.group = jsonID(t, raw) }},
		{op: "PUT /api/v1/stakeholder-groups/{id}", want: 200, url: func(s *apiSeeds) string { return "/api/v1/stakeholder-groups/" + s.group },
			body: group, plain: groupPlain},
		{op: "POST /api/v1/incidents/{id}/evidence/{item_id}/custody", want: 201,
			url:  func(s *apiSeeds) string { return inc(s) + "/evidence/" + s.evidence + "/custody" },
			body: func(*apiSeeds) map[string]any { return map[string]any{"action": "transferred"} }},
		{op: "POST /api/v1/incidents/{id}/evidence/{item_id}/legal-hold", want: 201,
			url: func(s *apiSeeds) string { return inc(s) + "/evidence/" + s.evidence + "/legal-hold" }, body: none},
		{op: "POST /api/v1/incidents/{id}/evidence/{item_id}/legal-hold/release", want: 200,
			url: func(s *apiSeeds) string { return inc(s) + "/evidence/" + s.evidence + "/legal-hold/release" }, body: none},
		{op: "POST /api/v1/incidents/{id}/stakeholders", want: 204, url: func(s *apiSeeds) string { return inc(s) + "/stakeholders" },
			body: func(s *apiSeeds) map[string]any { return map[string]any{"group": s.group} }, plain: map[string]string{"group": isRef}},
		// The canary looks like PHI (an SSN), which the PHI check refuses: the
		// Privacy Officer posts it with the check overridden.
		{op: "POST /api/v1/incidents/{id}/status-updates", as: "privacy_officer", want: 201,
			url:   func(s *apiSeeds) string { return inc(s) + "/status-updates" },
			body:  func(*apiSeeds) map[string]any { return map[string]any{"phi_override": true, "audience": "internal"} },
			plain: map[string]string{"audience": isVocab}},
		// A template's body is PHI-checked like an update's: the Privacy
		// Officer saves the canary over the check. Its name is configuration
		// (status_update_templates.name), like a notice template's.
		{op: "POST /api/v1/status-update-templates", as: "privacy_officer", want: 201, url: fixed("/api/v1/status-update-templates"),
			body: updateTemplate, plain: updateTemplatePlain, after: func(s *apiSeeds, raw []byte) { s.updateTemplate = jsonID(t, raw) }},
		{op: "PUT /api/v1/status-update-templates/{id}", as: "privacy_officer", want: 200,
			url:  func(s *apiSeeds) string { return "/api/v1/status-update-templates/" + s.updateTemplate },
			body: updateTemplate, plain: updateTemplatePlain},
		{op: "PUT /api/v1/incidents/{id}/public-status-page", want: 200, url: func(s *apiSeeds) string { return inc(s) + "/public-status-page" },
			body: func(*apiSeeds) map[string]any { return map[string]any{"enabled": true} }},
		{op: "PUT /api/v1/public-status-page", want: 200, url: fixed("/api/v1/public-status-page"),
			body: func(*apiSeeds) map[string]any { return map[string]any{"enabled": true} }},
		{op: "POST /api/v1/rules", want: 201, url: fixed("/api/v1/rules"), body: rule, plain: rulePlain,
			after: func(s *apiSeeds, raw []byte) { s.rule = jsonID(t, raw) }},
		{op: "PUT /api/v1/rules/{id}", want: 200, url: func(s *apiSeeds) string { return "/api/v1/rules/" + s.rule }, body: rule, plain: rulePlain},
		{op: "POST /api/v1/alert-rules", want: 201, url: fixed("/api/v1/alert-rules"), body: alertRule, plain: alertRulePlain,
			after: func(s *apiSeeds, raw []byte) { s.alertRule = jsonID(t, raw) }},
		{op: "PUT /api/v1/alert-rules/{id}", want: 200, url: func(s *apiSeeds) string { return "/api/v1/alert-rules/" + s.alertRule },
			body: alertRule, plain: alertRulePlain},
		{op: "POST /api/v1/alert-rules/dry-run", want: 200, url: fixed("/api/v1/alert-rules/dry-run"),
			body:  func(*apiSeeds) map[string]any { return map[string]any{"expression": `alert.severity == "info"`} },
			plain: map[string]string{"expression": isConfig}},
		{op: "POST /api/v1/rules/dry-run", want: 200, url: fixed("/api/v1/rules/dry-run"),
			body: func(*apiSeeds) map[string]any { return map[string]any{"expression": `incident.severity == "sev1"`} },
			plain: map[string]string{"expression": isConfig, "incident": isRef, "sample.category": isVocab, "sample.commander": isStaff,
				"sample.customers[]": isConfig, "sample.number": isRef, "sample.services[]": isRef, "sample.severity": isVocab,
				"sample.status": isVocab}},
		{op: "POST /api/v1/schedules", want: 201, url: fixed("/api/v1/schedules"), body: schedule, plain: schedulePlain,
			after: func(s *apiSeeds, raw []byte) { s.schedule = jsonID(t, raw) }},
		{op: "PUT /api/v1/schedules/{id}", want: 200, url: func(s *apiSeeds) string { return "/api/v1/schedules/" + s.schedule },
			body: schedule, plain: schedulePlain},
		{op: "POST /api/v1/schedules/{id}/overrides", want: 201, url: func(s *apiSeeds) string { return "/api/v1/schedules/" + s.schedule + "/overrides" },
			body: func(*apiSeeds) map[string]any {
				return map[string]any{"user": "bob", "start": now.Add(time.Hour).Format(time.RFC3339), "end": now.Add(2 * time.Hour).Format(time.RFC3339)}
			}, plain: map[string]string{"user": isStaff, "replaces": isStaff}},
		{op: "PUT /api/v1/breach/organisation", want: 200, url: fixed("/api/v1/breach/organisation"),
			body: func(*apiSeeds) map[string]any {
				return map[string]any{"role": "covered_entity", "time_zone": "America/Chicago"}
			},
			plain: map[string]string{"time_zone": isVocab}},
		{op: "POST /api/v1/breach/parties", want: 201, url: fixed("/api/v1/breach/parties"), body: party, plain: partyPlain,
			after: func(s *apiSeeds, raw []byte) { s.party = jsonID(t, raw) }},
		{op: "PUT /api/v1/breach/parties/{party_id}", want: 200, url: func(s *apiSeeds) string { return "/api/v1/breach/parties/" + s.party },
			body: party, plain: partyPlain},
		{op: "POST /api/v1/stakeholder-contacts", want: 201, url: fixed("/api/v1/stakeholder-contacts"), body: extContact,
			plain: extContactPlain, after: func(s *apiSeeds, raw []byte) { s.extContact = jsonID(t, raw) }},
		{op: "PUT /api/v1/stakeholder-contacts/{id}", want: 200,
			url:  func(s *apiSeeds) string { return "/api/v1/stakeholder-contacts/" + s.extContact },
			body: extContact, plain: extContactPlain},
		{op: "PUT /api/v1/org-profile", want: 200, url: fixed("/api/v1/org-profile"),
			body: func(*apiSeeds) map[string]any {
				return map[string]any{"name": "Acme Clinic", "entity_type": "healthcare_provider",
					"address": map[string]any{"street": "1 Main St", "city": "Springfield", "state": "CA", "zip": "90000"},
					"contact": map[string]any{"name": "Pat Privacy", "title": "Privacy Officer", "phone": "555-0100", "email": "privacy@acme.example"}}
			}, plain: org},
		// After the organisation's name, which the confirmation email gives.
		{op: "POST /api/v1/incidents/{id}/external-subscribers", want: 201,
			url: func(s *apiSeeds) string { return inc(s) + "/external-subscribers" },
			body: func(s *apiSeeds) map[string]any {
				return map[string]any{"contact_id": s.extContact, "audience": "public"}
			},
			plain: map[string]string{"contact_id": isRef, "audience": isVocab}},
		{op: "POST /api/v1/incidents/{id}/breach-case/legal-hold", want: 201, url: func(s *apiSeeds) string { return bc(s) + "/legal-hold" }, body: none},
		{op: "POST /api/v1/incidents/{id}/breach-case/legal-hold/release", want: 200, url: func(s *apiSeeds) string { return bc(s) + "/legal-hold/release" }, body: none},
		{op: "PUT /api/v1/incidents/{id}/breach-case/facts", want: 200, url: func(s *apiSeeds) string { return bc(s) + "/facts" },
			body: func(*apiSeeds) map[string]any {
				return map[string]any{"role": "covered_entity", "discovered_at": now.Add(-5 * day),
					"should_have_known_at": now.Add(-5 * day), "individuals": 2, "by_state": map[string]int{"CA": 2},
					"law_enforcement_delay": map[string]any{"written": map[string]any{"at": now.Add(-4 * day), "until": now.Add(-3 * day)}}}
			}, plain: map[string]string{"customers[].id": isRef, "customers[].name": isConfig, "customers[].notice.unit": isVocab,
				"law_enforcement_delay.oral.agency": "the oral delay is driven by PATCH", "law_enforcement_delay.oral.official": "the oral delay is driven by PATCH"}},
		{op: "PATCH /api/v1/incidents/{id}/breach-case/facts", want: 200, url: func(s *apiSeeds) string { return bc(s) + "/facts" },
			body: func(*apiSeeds) map[string]any {
				return map[string]any{"law_enforcement_delay": map[string]any{"oral": map[string]any{"at": now.Add(-day)}}}
			}, plain: map[string]string{"customers[].id": isRef, "customers[].name": isConfig, "customers[].notice.unit": isVocab,
				"law_enforcement_delay.written.agency": "the written delay is driven by PUT", "law_enforcement_delay.written.official": "the written delay is driven by PUT"}},
		// A Privacy Officer's draft of the determination: the answers,
		// sealed (keys.BreachDeterminationDraft); the determination signed
		// below deletes it.
		{op: "PATCH /api/v1/incidents/{id}/breach-case/determination-draft", as: "privacy_officer", want: 200,
			url: func(s *apiSeeds) string { return bc(s) + "/determination-draft" },
			body: func(*apiSeeds) map[string]any {
				return map[string]any{"answers": map[string]any{"factor0_rationale": "Names and diagnoses."}}
			}},
		// Three determinations, one per form: secured, an exception, then
		// the four-factor assessment, which leaves the notices owed.
		{op: determinations, as: "privacy_officer", want: 201, url: func(s *apiSeeds) string { return bc(s) + "/determinations" },
			body: func(*apiSeeds) map[string]any {
				return map[string]any{"determination": map[string]any{"secured": map[string]any{"method": "encryption",
					"standard": "nist_sp_800_111", "rationale": "full-disk encryption"}}}
			}, plain: determinationPlain("secured")},
		{op: determinations, as: "privacy_officer", want: 201, url: func(s *apiSeeds) string { return bc(s) + "/determinations" },
			body: func(*apiSeeds) map[string]any {
				return map[string]any{"determination": map[string]any{"exception": map[string]any{"kind": "164.402(1)(i)",
					"no_further_impermissible_use": true, "rationale": "a nurse opened the wrong chart in good faith"}}}
			}, plain: determinationPlain("exception")},
		{op: determinations, as: "privacy_officer", want: 201, url: func(s *apiSeeds) string { return bc(s) + "/determinations" },
			body: func(*apiSeeds) map[string]any {
				var findings []map[string]any
				for _, f := range []string{"164.402(2)(i)", "164.402(2)(ii)", "164.402(2)(iii)", "164.402(2)(iv)"} {
					findings = append(findings, map[string]any{"factor": f, "answer": "names", "rationale": "seen"})
				}
				return map[string]any{"determination": map[string]any{"assessment": map[string]any{"findings": findings,
					"outcome": "notification_required", "rationale": "seen",
					"ransomware": map[string]any{"variant": "a strain", "exfiltration": "outbound transfer seen", "spread": "one server"}}}}
			}, plain: determinationPlain("assessment")},
		{op: "POST /api/v1/incidents/{id}/breach-case/obligations/met", want: 200, url: func(s *apiSeeds) string { return bc(s) + "/obligations/met" },
			body:  func(*apiSeeds) map[string]any { return map[string]any{"obligation": "individuals:CA"} },
			plain: map[string]string{"obligation": isVocab}},
		{op: "POST /api/v1/incidents/{id}/breach-case/obligations/reopen", want: 200, url: func(s *apiSeeds) string { return bc(s) + "/obligations/reopen" },
			body:  func(*apiSeeds) map[string]any { return map[string]any{"obligation": "individuals:CA"} },
			plain: map[string]string{"obligation": isVocab}},
		{op: "POST /api/v1/notice-templates", want: 201, url: fixed("/api/v1/notice-templates"), body: template, plain: templatePlain,
			after: func(s *apiSeeds, raw []byte) { s.template = jsonID(t, raw) }},
		{op: "PUT /api/v1/notice-templates/{template_id}", want: 200, url: func(s *apiSeeds) string { return "/api/v1/notice-templates/" + s.template },
			body: template, plain: templatePlain},
		{op: "POST /api/v1/notice-templates/preview", want: 200, url: fixed("/api/v1/notice-templates/preview"), body: template, plain: templatePlain},
		{op: "PUT /api/v1/incidents/{id}/breach-case/notice-settings", want: 200, url: func(s *apiSeeds) string { return bc(s) + "/notice-settings" },
			body: func(*apiSeeds) map[string]any {
				return map[string]any{"entity_name": "Example Health", "entity_address": "100 Main St",
					"signer_name": "Pat Morgan", "signer_title": "Privacy Officer", "toll_free": "1-800-555-0100", "email": "privacy@example.org",
					"website": "https://example.org/notice", "postal_address": "100 Main St, Springfield, IL", "occurred_on": "April 2, 2026",
					"what_happened": "A laptop was stolen.", "phi_involved": "names", "steps_to_take": "Watch your statements.",
					"what_we_are_doing": "We encrypt every laptop now."}
			}, plain: map[string]string{"email": isAddr, "website": isAddr, "toll_free": isAddr}},
		{op: "PUT /api/v1/incidents/{id}/breach-case/hhs-report/details", as: "privacy_officer", want: 200,
			url: func(s *apiSeeds) string { return bc(s) + "/hhs-report/details" },
			body: func(*apiSeeds) map[string]any {
				disc := now.Add(-5 * day)
				return map[string]any{"breach_start": disc, "breach_end": disc, "breach_types": []string{"theft", "other"},
					"locations": []string{"laptop", "other"}, "phi_types": []string{"demographic", "other"}, "description": "A laptop was stolen.",
					"safeguards": []string{"privacy_rule"}, "actions_taken": []string{"adopted_encryption", "other"},
					"business_associate": map[string]any{
						"address": map[string]any{"state": "CA", "zip": "90000"},
						"contact": map[string]any{"email": "ba@example.org", "phone": "555-0100"}}}
			}, plain: map[string]string{"breach_types[]": isVocab, "locations[]": isVocab, "phi_types[]": isVocab, "safeguards[]": isVocab,
				"actions_taken[]": isVocab, "updated_by": "set by the server", "business_associate.address.state": isVocab,
				"business_associate.address.zip": isAddr, "business_associate.contact.email": isAddr, "business_associate.contact.phone": isAddr}},
		{op: "POST /api/v1/incidents/{id}/breach-case/notices/letters", want: 201, url: func(s *apiSeeds) string { return bc(s) + "/notices/letters" },
			body: none, plain: map[string]string{"template_id": isRef}, after: func(s *apiSeeds, raw []byte) { s.run = jsonID(t, raw) }},
		{op: "POST /api/v1/incidents/{id}/breach-case/notices/sent", want: 200, url: func(s *apiSeeds) string { return bc(s) + "/notices/sent" },
			body:  func(s *apiSeeds) map[string]any { return map[string]any{"run_id": s.run} },
			plain: map[string]string{"run_id": isRef, "notice_id": isRef}},
		{op: "POST /api/v1/incidents/{id}/breach-case/notices/emails", want: 201, url: func(s *apiSeeds) string { return bc(s) + "/notices/emails" },
			body: none, plain: map[string]string{"template_id": isRef}},
		{op: "POST /api/v1/incidents/{id}/breach-case/hhs-report/filings", as: "privacy_officer", want: 201,
			url:   func(s *apiSeeds) string { return bc(s) + "/hhs-report/filings" },
			body:  func(*apiSeeds) map[string]any { return map[string]any{"tracking_number": "T-1", "attest": true} },
			plain: map[string]string{"tracking_number": "the number HHS gave the filing, an identifier"}},
		{op: "POST /api/v1/incidents/{id}/breach-case/notices/substitute", want: 200, url: func(s *apiSeeds) string { return bc(s) + "/notices/substitute" },
			body: func(*apiSeeds) map[string]any {
				return map[string]any{"posting_url": "https://example.org/notice", "posting_started_at": now.Format(time.RFC3339)}
			}, plain: map[string]string{"posting_url": isConfig, "toll_free_number": isConfig}},
	}
}

// schemaStrings lists the string fields of schema s (resolved against the
// document's components) as dotted paths, "[]" marking an array's items,
// each with whether it is free text (no enum, format or pattern).
func schemaStrings(doc map[string]any, s map[string]any, prefix string, depth int, out map[string]bool) {
	if s == nil || depth > 10 {
		return
	}
	if ref, ok := s["$ref"].(string); ok {
		name := ref[strings.LastIndex(ref, "/")+1:]
		s, _ = doc["components"].(map[string]any)["schemas"].(map[string]any)[name].(map[string]any)
		if s == nil {
			return
		}
	}
	for _, k := range []string{"oneOf", "anyOf", "allOf"} {
		if alts, ok := s[k].([]any); ok {
			for _, a := range alts {
				m, _ := a.(map[string]any)
				schemaStrings(doc, m, prefix, depth+1, out)
			}
		}
	}
	typ := ""
	switch v := s["type"].(type) {
	case string:
		typ = v
	case []any:
		for _, x := range v {
			if x != "null" {
				typ, _ = x.(string)
			}
		}
	}
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch {
	case typ == "object" || s["properties"] != nil:
		props, _ := s["properties"].(map[string]any)
		for k, v := range props {
			m, _ := v.(map[string]any)
			if k != "$schema" {
				schemaStrings(doc, m, join(k), depth+1, out)
			}
		}
		if ap, ok := s["additionalProperties"].(map[string]any); ok {
			schemaStrings(doc, ap, join("*"), depth+1, out)
		}
	case typ == "array":
		m, _ := s["items"].(map[string]any)
		schemaStrings(doc, m, prefix+"[]", depth+1, out)
	case typ == "string":
		_, enum := s["enum"]
		_, format := s["format"]
		_, pattern := s["pattern"]
		out[prefix] = !enum && !format && !pattern
	}
}

// fill writes v into body at the dotted path, after any value there,
// making the objects the path crosses; into every element of an array
// the body holds, or as the only element of an array of strings; into
// every value a map (a schema's additionalProperties, "*") holds.
func fill(body map[string]any, path string, v string) error {
	seg, rest, more := strings.Cut(path, ".")
	array := strings.HasSuffix(seg, "[]")
	key := strings.TrimSuffix(seg, "[]")
	if key == "*" && !more {
		if len(body) == 0 {
			return fmt.Errorf("the body has no value of the map to fill")
		}
		for k, old := range body {
			if old, ok := old.(string); ok {
				body[k] = old + " " + v
			}
		}
		return nil
	}
	if !more {
		if array {
			arr, _ := body[key].([]any)
			if strs, ok := body[key].([]string); ok {
				for _, x := range strs {
					arr = append(arr, x)
				}
			}
			body[key] = append(arr, v)
			return nil
		}
		if old, ok := body[key].(string); ok && old != "" {
			v = old + " " + v
		}
		body[key] = v
		return nil
	}
	if array {
		var elems []map[string]any
		switch x := body[key].(type) {
		case []map[string]any:
			elems = x
		case []any:
			for _, e := range x {
				if m, ok := e.(map[string]any); ok {
					elems = append(elems, m)
				}
			}
		}
		if len(elems) == 0 {
			return fmt.Errorf("the body has no element of %s to fill", key)
		}
		for _, e := range elems {
			if err := fill(e, rest, v); err != nil {
				return err
			}
		}
		return nil
	}
	child, ok := body[key].(map[string]any)
	if !ok {
		child = map[string]any{}
		body[key] = child
	}
	return fill(child, rest, v)
}

// TestCanaryEveryAPIField reads the OpenAPI document Ward serves and, for
// every create and update operation with a JSON body, writes a distinct
// canary (a fake patient's name and SSN, numbered by operation and field)
// into every free-text string field of its request schema, and sends it.
// A field counts as free text unless its schema constrains it (an enum, a
// format, a pattern) or the test lists it with the reason it holds no
// patient's data; an operation is driven or listed in notDriven with the
// reason. So a new operation, or a new field, fails this test until it is
// covered or consciously excluded. The individuals import (CSV) and an
// alert's summary carry canaries too. Then no canary may be anywhere Ward
// writes: the SQLite database, WAL and shared-memory files (while the
// server runs and after it stops), every row of every PostgreSQL table, a
// backup made with `ward backup create` and the database it restores, the
// debug log, /metrics and every message sent out (email to the test SMTP
// server, webhooks to people and the audit trail forwarded to a SIEM
// webhook). A hit names the operation and field. A control canary, in a
// service's description (configuration, stored in clear), must be found
// in the database and the restored backup: the searches see what is
// stored. The same server also takes a canary in every field of every
// alert intake route (driveIntakeCanaries) and of every UI form with free
// text (driveUICanaries), searched alike.
func TestCanaryEveryAPIField(t *testing.T) {
	t.Parallel()
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			url := target.URL
			if target.Dialect == db.SQLite {
				url = ""
			}
			data := t.TempDir()
			mail := startMailbox(t)
			hook := startHook(t)
			in := intakeEnv{emailAddr: freeAddr(t), emailDomain: "alerts.ward.test", twilioToken: "canary-twilio-auth-token",
				sns: httptest.NewTLSServer(http.NotFoundHandler()), slackSecret: "canary-slack-signing-secret",
				slack: startSlack(t, "xoxb-canary")}
			t.Cleanup(in.sns.Close)
			const twilioSID = "AC0123456789abcdef0123456789abcdef"
			tw := startTwilio(t, twilioSID, in.twilioToken)
			w := startWardAt(t, data, url, debugLog, allowLoopback, func(e *app.Env) {
				e.Args = append(e.Args, "--smtp-server", mail.addr, "--smtp-from", "ward@example.org", "--smtp-ca-file", mail.caFile,
					"--paging-poll", "50ms", "--siem-webhook", hook.URL+"/siem", "--siem-webhook-secret", "canary-siem-secret-0123456789",
					"--email-intake-listen", in.emailAddr, "--email-intake-domain", in.emailDomain, "--sns-confirm-hosts", "127.0.0.1",
					"--twilio-account-sid", twilioSID, "--twilio-auth-token", in.twilioToken, "--twilio-from", "+15005550006",
					"--twilio-url", tw.URL, "--slack-bot-token", "xoxb-canary", "--slack-url", in.slack.URL,
					"--slack-signing-secret", in.slackSecret)
			})
			c := &apiCanaries{}
			seeds, ops, fields := driveAPICanaries(t, w, hook, c)
			driveIntakeCanaries(t, w, c, in)
			forms := driveUICanaries(t, w, seeds, c)
			t.Logf("%d UI forms driven", forms)
			csv := 0
			for _, f := range c.written {
				if strings.HasPrefix(f, importOp+" ") {
					csv++
				}
			}
			t.Logf("%d create and update operations driven, %d free-text fields written with a canary; and %d of the "+
				"individuals import's CSV values", ops, fields, csv)

			var found []string
			control := map[string]bool{}
			report := func(where string, b []byte) {
				for _, h := range c.hits(b) {
					if strings.TrimSpace(h) == apiControl {
						control[where] = true
						continue
					}
					found = append(found, where+": "+h)
				}
			}
			report("/metrics", w.must(http.StatusOK, "GET", "/metrics", nil, nil))
			// The notice emailed to an affected individual is made of the
			// notice settings (45 CFR 164.404(c)): those, and only those,
			// reach its addressee by design.
			notices := 0
			for i, m := range mail.all() {
				if !strings.Contains(m, "To: <"+apiNoticeEmail+">") {
					report("email "+strconv.Itoa(i), []byte(m))
					continue
				}
				notices++
				if !strings.Contains(m, "Zebulon") {
					t.Errorf("the notice emailed to %s holds none of the notice settings' canaries: %.300s", apiNoticeEmail, m)
				}
				for _, h := range c.hits([]byte(m)) {
					if !strings.HasPrefix(h, apiNoticeSettings+" ") {
						found = append(found, "the notice emailed to "+apiNoticeEmail+": "+h)
					}
				}
			}
			if notices != 1 {
				t.Errorf("%d notices emailed to %s, want 1", notices, apiNoticeEmail)
			}
			// Wait for the messages the operations cause: the stakeholder's
			// about the status update, the Security Officer's about the
			// emergency access, and bob's page about the alert.
			for _, want := range []struct{ path, kind string }{{"/exec", "status_update"}, {"/sofia", "emergency_access"},
				{"/page", "page"}} {
				eventually(t, "a "+want.kind+" message to "+want.path, func() bool {
					for _, r := range hook.all() {
						if r.path == want.path && bytes.Contains(r.body, []byte(`"kind":"`+want.kind+`"`)) {
							return true
						}
					}
					return false
				})
			}
			// And the audit trail, forwarded to the SIEM, to its last entry.
			eventually(t, "the SIEM forwarding to catch up", func() bool {
				return bytes.Contains(w.must(http.StatusOK, "GET", "/metrics", nil, nil),
					[]byte(`ward_audit_siem_lag_entries{destination="webhook"} 0`))
			})
			siem := 0
			for _, r := range hook.all() {
				if r.path == "/siem" {
					siem++
				}
			}
			if siem == 0 {
				t.Error("nothing forwarded to the SIEM webhook")
			}
			t.Logf("outbound: %d emails, %d webhook requests (%d to the SIEM)", len(mail.all()), len(hook.all()), siem)
			for _, r := range hook.all() {
				report("webhook "+r.path, r.body)
			}
			key := filepath.Join(t.TempDir(), "backup.key")
			if code, out, errs := w.run("backup", "keygen", "--out", key); code != 0 {
				t.Fatalf("backup keygen: %s %s", out, errs)
			}
			file := filepath.Join(t.TempDir(), "canary.wbk")
			if code, out, errs := w.run("backup", "create", "--out", file, "--backup-key-file", key); code != 0 {
				t.Fatalf("backup create: %s %s", out, errs)
			}
			for name, b := range readDir(t, filepath.Dir(file)) {
				report("backup "+name, b)
			}
			// What the backup holds, restored into a fresh database.
			restored, restoredURL := t.TempDir(), ""
			if target.Dialect == db.Postgres {
				restoredURL = dbtest.PostgresURL(t)
			}
			if code, out, errs := runWard(t, restored, restoredURL, "backup", "restore", file, "--backup-key-file", key); code != 0 {
				t.Fatalf("backup restore: %s %s", out, errs)
			}
			if target.Dialect == db.SQLite {
				for name, b := range readDir(t, restored) {
					report("the restored backup's "+name, b)
				}
			} else {
				for table, b := range postgresRowsWith(t, restoredURL, apiCanaryMark) {
					report("the restored backup's table "+table, b)
				}
			}
			if target.Dialect == db.SQLite {
				for name, b := range readDir(t, data) {
					report(name+" while the server ran", b)
				}
			}
			w.stop()
			report("the server log", []byte(w.logs.String()))
			if !strings.Contains(w.logs.String(), `"level":"DEBUG"`) {
				t.Error("the log searched is not at debug level")
			}
			if target.Dialect == db.SQLite {
				for name, b := range readDir(t, data) {
					report(name, b)
				}
			} else {
				for table, b := range postgresRowsWith(t, target.URL, apiCanaryMark) {
					report("table "+table, b)
				}
				assertNoCanaryInPostgres(t, target.URL)
			}
			t.Logf("control found in %v", slices.Sorted(maps.Keys(control)))
			// The scans see what is stored: the control is found.
			if target.Dialect == db.SQLite && !control["ward.db"] && !control["ward.db-wal"] ||
				target.Dialect == db.Postgres && !control["table services"] ||
				!control["the restored backup's ward.db"] && !control["the restored backup's table services"] {
				t.Errorf("the control canary, stored in clear, was not found by the scans: %v", control)
			}
			slices.Sort(found)
			for _, f := range slices.Compact(found) {
				t.Errorf("canary in plaintext in %s", f)
			}
		})
	}
}

// driveAPICanaries seeds what the operations need, checks that the
// document's every create and update operation is driven or excluded and
// that every string field is filled or classified, sends each with its
// canaries, and returns the objects it made and how many operations and
// fields it drove.
func driveAPICanaries(t *testing.T, w *ward, hook *hookReceiver, c *apiCanaries) (*apiSeeds, int, int) {
	t.Helper()
	var doc map[string]any
	w.must(http.StatusOK, "GET", "/api/v1/openapi.json", nil, &doc)
	if code, _, errs := runWardIn(t, w.data, w.dbURL, "orange lantern over quiet harbour\n", "user", "create",
		"--username", "bob", "--name", "bob", "--email", "bob@example.org", "--role", "responder", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", errs)
	}
	if code, _, errs := runWardIn(t, w.data, w.dbURL, "orange lantern over quiet harbour\n", "user", "create",
		"--username", "exec", "--name", "exec", "--email", "exec@example.org", "--role", "stakeholder", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", errs)
	}
	w.must(http.StatusCreated, "POST", "/api/v1/users/exec/contact-methods", map[string]any{"kind": "webhook", "address": hook.URL + "/exec"}, nil)
	w.must(http.StatusCreated, "POST", "/api/v1/users/bob/contact-methods", map[string]any{"kind": "email", "address": "bob@example.org"}, nil)
	if code, _, errs := runWardIn(t, w.data, w.dbURL, "orange lantern over quiet harbour\n", "user", "create",
		"--username", "sofia", "--name", "sofia", "--email", "sofia@example.org", "--role", "security_officer", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", errs)
	}
	w.must(http.StatusCreated, "POST", "/api/v1/users/sofia/contact-methods", map[string]any{"kind": "webhook", "address": hook.URL + "/sofia"}, nil)
	tokens := map[string]string{"": w.token, "privacy_officer": w.tokenWithRole("canary-privacy", "privacy_officer"),
		"security_officer": w.tokenWithRole("canary-officer", "security_officer")}
	s := &apiSeeds{}
	var templates []struct {
		ID   string `json:"id"`
		Kind string `json:"kind"`
		Body string `json:"body"`
	}
	w.must(http.StatusOK, "GET", "/api/v1/notice-templates", nil, &templates)
	for _, tp := range templates {
		if tp.Kind == "individual_letter" {
			s.letter = tp.Body
		}
		if code, raw := w.doAs(tokens["privacy_officer"], "POST", "/api/v1/notice-templates/"+tp.ID+"/approve", nil, nil); code != 200 {
			t.Fatalf("approve %s: %d %s", tp.Kind, code, raw)
		}
	}
	// The control: a canary in a service's description, configuration
	// stored in clear, which the scans must find.
	s.control = c.next(apiControl, "")
	var restricted incidentJSON
	if code, raw := w.doAs(tokens["security_officer"], "POST", "/api/v1/incidents", map[string]any{"title": "records snooping",
		"restricted": true}, &restricted); code != http.StatusCreated {
		t.Fatalf("restricted incident: %d %s", code, raw)
	}
	s.restricted = restricted.Number
	s.hook = hook.URL

	ops := apiOps(t)
	byOp := map[string][]apiOp{} // an operation may be sent several times, in different forms
	for _, o := range ops {
		byOp[o.op] = append(byOp[o.op], o)
	}
	paths, _ := doc["paths"].(map[string]any)
	schemas := map[string]map[string]bool{}
	var undriven []string
	for p, v := range paths {
		methods, _ := v.(map[string]any)
		for m, raw := range methods {
			if m != "post" && m != "put" && m != "patch" {
				continue
			}
			op := strings.ToUpper(m) + " " + p
			opm, _ := raw.(map[string]any)
			rb, _ := opm["requestBody"].(map[string]any)
			content, _ := rb["content"].(map[string]any)
			js, ok := content["application/json"].(map[string]any)
			if !ok {
				continue // no JSON body: nothing typed to carry a canary
			}
			fields := map[string]bool{}
			sch, _ := js["schema"].(map[string]any)
			schemaStrings(doc, sch, "", 0, fields)
			schemas[op] = fields
			free := 0
			for _, isFree := range fields {
				if isFree {
					free++
				}
			}
			if _, excluded := notDriven[op]; len(byOp[op]) == 0 && !excluded && free > 0 {
				undriven = append(undriven, op)
			}
			for _, o := range byOp[op] {
				for f := range o.plain {
					if _, ok := fields[f]; !ok {
						t.Errorf("%s: the test classifies %s, which the request schema does not have", op, f)
					}
				}
			}
		}
	}
	strs, free := 0, 0
	for _, fields := range schemas {
		for _, isFree := range fields {
			strs++
			if isFree {
				free++
			}
		}
	}
	t.Logf("the document has %d create and update operations with a JSON body, %d string fields in them, %d not constrained "+
		"by an enum, format or pattern; %d operations listed as not driven", len(schemas), strs, free, len(notDriven))
	sort.Strings(undriven)
	for _, op := range undriven {
		t.Errorf("%s has free-text fields but is neither driven nor listed in notDriven with a reason", op)
	}
	for op := range notDriven {
		method, path, _ := strings.Cut(op, " ")
		if methods, _ := paths[path].(map[string]any); methods[strings.ToLower(method)] == nil {
			t.Errorf("notDriven lists %s, which the document does not have", op)
		}
	}

	nFields := 0
	filled := map[string]bool{} // "op field"
	for _, o := range ops {
		fields, ok := schemas[o.op]
		if !ok {
			t.Fatalf("%s is not in the OpenAPI document (or has no JSON body)", o.op)
		}
		if strings.Contains(o.op, "/breach-case") && s.breachCase == "" {
			seedBreachCase(t, w, s, c)
		}
		if strings.Contains(o.op, "/evidence/") && s.evidence == "" {
			seedEvidence(t, w, s, c)
		}
		if strings.Contains(o.op, "/review") && s.review == "" {
			s.review = seedReview(t, w)
		}
		body := o.body(s)
		names := slices.Sorted(func(yield func(string) bool) {
			for f := range fields {
				if !yield(f) {
					return
				}
			}
		})
		for _, f := range names {
			if _, plain := o.plain[f]; plain || !fields[f] {
				continue
			}
			if err := fill(body, f, c.next(o.op, f)); err != nil {
				t.Fatalf("%s: %s: %v", o.op, f, err)
			}
			if !filled[o.op+" "+f] {
				filled[o.op+" "+f] = true
				nFields++
			}
		}
		code, raw := w.doAs(tokens[o.as], strings.Fields(o.op)[0], o.url(s), body, nil)
		if code != o.want {
			t.Fatalf("%s: %d, want %d: %s", o.op, code, o.want, raw)
		}
		if o.after != nil {
			o.after(s, raw)
		}
	}
	// The commander and a task's owner name a Ward user, so are stored in
	// clear: a canary in them is refused, and (as every canary) must be
	// found nowhere, the log of the refusal included.
	for _, r := range []struct{ op, url, field string }{
		{"PATCH /api/v1/incidents/{id}", "/api/v1/incidents/" + s.incident, "commander"},
		{"PATCH /api/v1/incidents/{id}/tasks/{task_id}", "/api/v1/incidents/" + s.incident + "/tasks/" + s.task, "owner"},
	} {
		code, raw := w.do("PATCH", r.url, map[string]any{r.field: c.next(r.op, r.field+" (refused)")}, nil)
		if code != http.StatusUnprocessableEntity || !strings.Contains(string(raw), "must be the username of a Ward user") ||
			!strings.Contains(string(raw), `"body.`+r.field+`"`) {
			t.Errorf("%s with a canary in %s: %d %s, want 422 naming it", r.op, r.field, code, raw)
		}
	}
	// An alert on the service, its summary a canary, opens an incident
	// and pages bob.
	if code, body := w.post("/v2/enqueue", `{"routing_key":"`+s.routingKey+`","event_action":"trigger","dedup_key":"canary-1",
		"payload":{"summary":"`+c.next("POST /v2/enqueue", "payload.summary")+`","source":"lab","severity":"critical"}}`, nil); code != 202 {
		t.Fatalf("alert: %d %s", code, body)
	}
	for _, o := range ops {
		for f, why := range o.plain {
			if why == otherRequest && !filled[o.op+" "+f] {
				t.Errorf("%s: %s is said to be filled in another request to the operation, and is not", o.op, f)
			}
		}
	}
	return s, len(byOp), nFields
}

// importOp is the import of affected individuals: a CSV file, not JSON,
// so not among the operations walked by their schema; its free-text
// columns carry canaries all the same.
const importOp = "POST /api/v1/incidents/{id}/breach-case/individuals/import"

// seedBreachCase opens a breach case on the seeded incident and imports
// its individuals: one to be mailed, every free-text column a canary; one
// who consented to email (apiNoticeEmail); and one rejected for a bad
// State and email, both canaries, which the import's problems must not
// quote.
// seedReview records an incident and moves it to the post-incident phase,
// where its review is written, returning its number.
func seedReview(t *testing.T, w *ward) string {
	t.Helper()
	var inc incidentJSON
	w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Lost badge"}, &inc)
	w.must(http.StatusOK, "POST", "/api/v1/incidents/"+inc.Number+"/transitions", map[string]any{"to": "post_incident",
		"note": "found the same day", "not_applicable": []string{"analysis", "containment", "eradication", "recovery"}}, nil)
	return inc.Number
}

// evidenceOp uploads evidence: a multipart form, not JSON, so its
// metadata gets canaries here (seedEvidence) rather than from the schema.
const evidenceOp = "POST /api/v1/incidents/{id}/evidence"

// seedEvidence uploads a file to the incident as evidence, a canary in
// each free-text field of the form and in the file's name.
func seedEvidence(t *testing.T, w *ward, s *apiSeeds, c *apiCanaries) {
	t.Helper()
	var fields [][2]string
	for _, f := range []string{"description", "source", "collected_by", "related_asset"} {
		fields = append(fields, [2]string{f, c.next(evidenceOp, f)})
	}
	ct, body := evidenceForm(t, fields, c.next(evidenceOp, "file name")+".txt", []byte("a log line"))
	code, _, raw := w.raw(w.token, "POST", "/api/v1/incidents/"+s.incident+"/evidence", ct, body)
	if code != http.StatusCreated {
		t.Fatalf("evidence upload: %d %s", code, raw)
	}
	s.evidence = jsonID(t, raw)
}

func seedBreachCase(t *testing.T, w *ward, s *apiSeeds, c *apiCanaries) {
	t.Helper()
	base := "/api/v1/incidents/" + s.incident + "/breach-case"
	w.must(http.StatusCreated, "POST", base, nil, nil)
	col := func(f string) string { return c.next(importOp, f) }
	csv := "name,address1,address2,city,state,zip,email,consent_electronic,phone,date_of_birth,next_of_kin,next_of_kin_address\n" +
		col("name") + "," + col("address1") + "," + col("address2") + "," + col("city") + ",CA,93650,,," + col("phone") +
		",1950-02-03," + col("next_of_kin") + "," + col("next_of_kin_address") + "\n" +
		"Bo Ray,2 Elm St,,Fresno,CA,93650," + apiNoticeEmail + ",yes,,,,\n" +
		col("rejected name") + ",3 Elm St,,Fresno," + col("rejected state") + ",93650," + col("rejected email") + ",,,,,\n"
	var res struct {
		Created  int `json:"created"`
		Rejected int `json:"rejected"`
	}
	if code, raw := w.postCSV(w.token, base+"/individuals/import", csv); code != 200 {
		t.Fatalf("import: %d %s", code, raw)
	} else if err := json.Unmarshal(raw, &res); err != nil || res.Created != 2 || res.Rejected != 1 {
		t.Fatalf("import: %s (%v), want two created and one rejected", raw, err)
	}
	s.breachCase = base
}

// postgresRowsWith returns, per table, the rows (as text) that hold mark.
func postgresRowsWith(t *testing.T, url, mark string) map[string][]byte {
	t.Helper()
	d, err := db.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	tables := postgresTables(t, d)
	out := map[string][]byte{}
	for _, table := range tables {
		rs, err := d.R.Query(`SELECT r::text FROM "`+table+`" r WHERE r::text LIKE $1`, "%"+mark+"%")
		if err != nil {
			t.Fatalf("%s: %v", table, err)
		}
		var b bytes.Buffer
		for rs.Next() {
			var row string
			if err := rs.Scan(&row); err != nil {
				t.Fatal(err)
			}
			b.WriteString(row + "\n")
		}
		if err := rs.Close(); err != nil {
			t.Fatal(err)
		}
		if b.Len() > 0 {
			out[table] = b.Bytes()
		}
	}
	return out
}
