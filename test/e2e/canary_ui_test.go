package e2e

import (
	"html"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/web/ui"
)

var (
	formRe     = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	inputRe    = regexp.MustCompile(`(?is)<input\b([^>]*)>`)
	textareaRe = regexp.MustCompile(`(?is)<textarea\b([^>]*)>(.*?)</textarea>`)
	selectRe   = regexp.MustCompile(`(?is)<select\b([^>]*)>(.*?)</select>`)
	optionRe   = regexp.MustCompile(`(?is)<option\b([^>]*)>`)
	buttonRe   = regexp.MustCompile(`(?is)<button\b([^>]*)>`)
	alertRe    = regexp.MustCompile(`(?is)role="alert"[^>]*>(.*?)</`)
	attrRe     = regexp.MustCompile(`(?is)([a-z-]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?`)
)

// attrs reads an HTML tag's attributes.
func attrs(s string) map[string]string {
	out := map[string]string{}
	for _, m := range attrRe.FindAllStringSubmatch(s, -1) {
		out[strings.ToLower(m[1])] = html.UnescapeString(m[2] + m[3] + m[4])
	}
	return out
}

// uiForm is a form of a page: where it posts, the values it sends as the
// page gives them, and its free-text fields.
type uiForm struct {
	page, action string
	values       url.Values
	free         []string
}

// freeTextInput reports whether an input of this type takes free text;
// every other type is a choice, a number, a date, an address or a secret
// the browser or the server constrains.
func freeTextInput(typ string) bool { return typ == "" || typ == "text" || typ == "search" }

// pageForms reads the forms posting from page, as a browser would submit
// them unchanged: hidden and text values, checked boxes, each select's
// selected (or first) option and each textarea's text.
func pageForms(page, body string) []uiForm {
	var out []uiForm
	for _, m := range formRe.FindAllStringSubmatch(body, -1) {
		a := attrs(m[1])
		if !strings.EqualFold(a["method"], "post") || strings.Contains(a["enctype"], "multipart") {
			continue
		}
		f := uiForm{page: page, action: a["action"], values: url.Values{}}
		if f.action == "" {
			f.action = page
		}
		for _, in := range inputRe.FindAllStringSubmatch(m[2], -1) {
			ia := attrs(in[1])
			name, typ := ia["name"], strings.ToLower(ia["type"])
			if name == "" || typ == "submit" || typ == "button" || typ == "file" {
				continue
			}
			if (typ == "checkbox" || typ == "radio") && !hasAttr(in[1], "checked") {
				continue
			}
			if _, dup := f.values[name]; dup && (typ == "radio") {
				continue
			}
			f.values.Add(name, ia["value"])
			if freeTextInput(typ) && ia["pattern"] == "" && ia["list"] == "" && name != "csrf" {
				f.free = append(f.free, name)
			}
		}
		for _, ta := range textareaRe.FindAllStringSubmatch(m[2], -1) {
			name := attrs(ta[1])["name"]
			if name != "" {
				f.values.Add(name, html.UnescapeString(strings.TrimPrefix(ta[2], "\n")))
				f.free = append(f.free, name)
			}
		}
		for _, s := range selectRe.FindAllStringSubmatch(m[2], -1) {
			name := attrs(s[1])["name"]
			opts := optionRe.FindAllStringSubmatch(s[2], -1)
			if name == "" || len(opts) == 0 {
				continue
			}
			pick := attrs(opts[0][1])["value"]
			for _, o := range opts {
				if hasAttr(o[1], "selected") {
					pick = attrs(o[1])["value"]
				}
			}
			f.values.Add(name, pick)
		}
		slices.Sort(f.free)
		f.free = slices.Compact(f.free)
		out = append(out, f)
		// A button may post the same fields elsewhere (a preview).
		for _, b := range buttonRe.FindAllStringSubmatch(m[2], -1) {
			if to := attrs(b[1])["formaction"]; to != "" {
				out = append(out, uiForm{page: page, action: to, values: maps.Clone(f.values), free: f.free})
			}
		}
	}
	return out
}

func hasAttr(tag, name string) bool {
	for _, m := range attrRe.FindAllStringSubmatch(tag, -1) {
		if strings.EqualFold(m[1], name) {
			return true
		}
	}
	return false
}

// uiPaths replaces a route pattern's wildcards with the seeded objects.
func uiPaths(s *apiSeeds) *strings.Replacer {
	return strings.NewReplacer("{$}", "", "{id}", s.incident, "{task}", s.task, "{service}", s.service, "{policy}", s.policy,
		"{schedule}", s.schedule, "{rule}", s.rule, "{group}", s.group, "{party_id}", s.party, "{item}", s.evidence, "{action}", s.action,
		"{severity}", "sev1", "{user}", "bob", "{contact}", s.contact, "{template}", s.template, "{update_template}", s.updateTemplate,
		"{external}", s.extContact, "{playbook}", "lost_device")
}

// uiNotDriven are the UI's POST routes whose forms the walk does not
// fill, each with the reason; the test fails on a POST route it neither
// finds as a form on the pages it walks nor lists here (a form found with
// no free text has nothing to fill).
var uiNotDriven = map[string]string{
	"/setup": "first-run setup, served only until the first administrator exists; the walk runs on a set-up server",
	"/invite": "a one-time sign-up link's form, served only with a valid link (TestPeopleAPIEndToEnd fills it): the new " +
		"account's username, name and email, stored as ward user create stores them, " + isConfig + ", and its password, hashed",
	"/login":                "credentials: the username is looked up and the password checked against its hash; neither is stored",
	"/login/mfa":            "a one-time code, checked and never stored (the walk's sessions are signed in)",
	"/login/webauthn/begin": "a WebAuthn ceremony with an authenticator, no typed text (TestBrowserWebAuthn drives it)",
	"/login/webauthn":       "a WebAuthn ceremony with an authenticator, no typed text (TestBrowserWebAuthn drives it)",
	"/mfa/enroll":           "a one-time code, checked and never stored; the walk's users have enrolled",
	"/mfa/webauthn/begin":   "a WebAuthn ceremony with an authenticator, no typed text (TestBrowserWebAuthn drives it)",
	"/mfa/webauthn": "it needs a WebAuthn ceremony with an authenticator (TestBrowserWebAuthn drives it); its one text field " +
		"names the security key, " + isConfig,
	"/profile/webauthn/{key}/delete":        "a button on a security key, which the walk's users do not have",
	"/incidents/{id}/grants/{grant}/revoke": "a button on a live emergency-access grant, no text",
	"/incidents/{id}/triage":                "yes/no answers, no text",
	"/incidents/{id}/privileged": "a button of counsel and the Privacy Officer that marks a note, an evidence item or the " +
		"review privileged, no text (TestPrivilegedMarkingE2E presses it)",
	"/incidents/{id}/review": "the review's form shows only in the post-incident phase, and the walked incident is in analysis; " +
		"the API canary test writes every section with a canary (PATCH /api/v1/incidents/{id}/review) and " +
		"TestReviewE2E fills the form",
	"/incidents/{id}/review/key-events": "the review's key events show only in the post-incident phase, and the walked " +
		"incident is in analysis; the form picks a timeline entry, a reference, and TestReviewKeyEventsE2E sends it",
	"/incidents/{id}/review/key-events/{key}": "the review's key events show only in the post-incident phase; the API canary " +
		"test writes an annotation with a canary (PATCH /api/v1/incidents/{id}/review/key-events/{key_event_id}) and " +
		"TestReviewKeyEventsE2E fills the form",
	"/incidents/{id}/review/key-events/{key}/remove": "a button on a key event of the review, no text",
	"/incidents/{id}/page/acknowledge":               "a button shown while a page is open, no text",
	"/incidents/{id}/page/resolve":                   "a button shown while a page is open, no text",
	"/incidents/{id}/page/escalate":                  "a button shown while a page is open, no text (TestEscalateRepageEndToEnd presses it)",
	"/incidents/{id}/page/repage":                    "a button shown while a page is acknowledged or alarmed, no text (TestEscalateRepageEndToEnd presses it)",
	"/incidents/{id}/breach/open":                    "a button shown until the incident has a breach case; the seeded incident has one",
	"/incidents/{id}/breach/individuals/import": "a multipart upload of a CSV file; the canary test imports one with a canary " +
		"in every free-text column through the API",
	"/incidents/{id}/evidence": "a multipart upload of a file; the canary test uploads one with a canary in every text field " +
		"and its name through the API",
	"/audit/integrity/{segment}/review": "it needs a break of the audit trail that Ward recorded (TestAuditChainBreakOnRunningServer " +
		"drives it); its one field names an incident, a reference",
	"/profile/contact/{contact}/verify": "a one-time code, checked against its hash and never stored; the walk's own users have no " +
		"unverified contact method (the administrator's form for bob's is walked)",
	"/profile/contact/{contact}/resend":            "a button, no text",
	"/profile/contact/{contact}/delete":            "a button, no text",
	"/admin/users/{user}/contact/{contact}/verify": "a one-time code, checked against its hash and never stored",
	"/breach/state-rules": "the whole state-rule table, configuration that the rule engine checks field by field " +
		"(breach_state_tables.body is configuration), as the API's PUT /api/v1/breach/state-rules",
	"/breach/parties/{party_id}": "the edit form of a party: the fields of /breach/parties, which the walk fills",
	"/playbooks/{playbook}": "the whole playbook as JSON, configuration the organisation writes about its response " +
		"(playbook_versions.body is configuration), as the API's PUT /api/v1/playbooks/{key}; TestPlaybookEditUI edits it",
	"/incidents/{id}/notices/returns": "a multipart upload of the returned-mail list (a CSV), not walked; " +
		"TestCanaryBreachTextNotStoredInPlaintext posts one with a canary return reason through the API",
	"/incidents/{id}/notices/substitute": "offered once enough letters are returned; its fields are the API's notices/substitute, " +
		"which the canary test drives",
	"/incidents/{id}/legal-hold/release":        "a button shown while a hold is in force, no text",
	"/incidents/{id}/breach/legal-hold/release": "a button shown while a hold is in force, no text",
	"/incidents/{id}/evidence/{item}/legal-hold/release": "offered only while the item is held, after the walk has read its page; its " +
		"reason is sealed in the custody log like the hold's, which the walk writes, and the API's release is driven",
	"/incidents/{id}/breach/determine/sign": "the wizard's last step signs the answers its earlier steps saved, which the walk writes; " +
		"the button posts no text",
	"/incidents/{id}/breach/ask-signer":         "a button that asks the Privacy Officer to sign, no text",
	"/profile/contact/{contact}/status-updates": "a button that turns a contact method's status notifications on or off, no text",
	"/profile/rules":                            "a contact method and a delay in minutes: choices and a number, no text",
	"/profile/rules/{rule}/delete":              "a button, no text",
	"/alert-rules/{alert_rule}/edit": "the same fields as the form that adds an alert rule, which the walk drives with a canary; " +
		"TestUIAlertRulesBrowser edits one",
	"/alert-rules/{alert_rule}/dry-run": "the same fields as the form that adds an alert rule, which the walk drives with a " +
		"canary; it saves nothing (TestUIAlertRulesBrowser presses Try it)",
	"/alert-rules/{alert_rule}/enabled":     "a button, no text (TestUIAlertRulesBrowser presses it)",
	"/alert-rules/{alert_rule}/delete":      "a button, no text (TestUIAlertRulesBrowser presses it)",
	"/profile/calendar-feeds/{feed}/revoke": "a button on a calendar address, which the walk's users do not make (its form has no text)",
}

// driveUICanaries signs in as an administrator, the Privacy Officer and a
// responder, has each request every page of the UI's route table (its
// wildcards the seeded objects; {id} the seeded incident and the
// restricted one), and submits, as whoever was shown it, the form with the
// most free text that posts to each route, each free-text field its own
// canary. Every POST route of the table must be found as a form or listed
// in uiNotDriven with the reason. It returns how many forms it submitted.
func driveUICanaries(t *testing.T, w *ward, s *apiSeeds, c *apiCanaries) int {
	t.Helper()
	seedUIOwed(t, w, s)
	pages, err := ui.New(ui.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	admin := signInAs(t, w, authz.RoleAdmin, "canary-ui-admin")
	privacy := signInAs(t, w, authz.RolePrivacyOfficer, "canary-ui-privacy")
	// A responder, who may not read the restricted incident, is offered
	// emergency access to it.
	responder := signInAs(t, w, authz.RoleResponder, "canary-ui-responder")
	browsers := []*browserless{admin, privacy, responder}
	mux := http.NewServeMux()
	for _, rt := range pages.Routes() {
		if rt.Method == http.MethodPost {
			mux.Handle("POST "+rt.Pattern, http.NotFoundHandler())
		}
	}
	paths := uiPaths(s)
	type found struct {
		uiForm
		b *browserless
	}
	forms := map[string]found{} // by route pattern, the one with most free text
	for _, rt := range pages.Routes() {
		if rt.Method != http.MethodGet || strings.Contains(rt.Pattern, "logout") {
			continue
		}
		pats := []string{rt.Pattern}
		if strings.Contains(rt.Pattern, "{id}") {
			pats = append(pats, strings.ReplaceAll(rt.Pattern, "{id}", s.restricted))
		}
		for _, pat := range pats {
			path := paths.Replace(pat)
			if strings.ContainsAny(path, "{}") {
				continue
			}
			for _, b := range browsers {
				code, body := b.send("GET", path, nil)
				if code != http.StatusOK {
					continue
				}
				for _, f := range pageForms(path, body) {
					req, _ := http.NewRequest(http.MethodPost, w.url+f.action, nil)
					_, pattern := mux.Handler(req)
					pattern = strings.TrimPrefix(pattern, "POST ")
					if pattern == "" {
						continue
					}
					if old, seen := forms[pattern]; !seen || len(old.free) < len(f.free) {
						forms[pattern] = found{f, b}
					}
				}
			}
		}
	}
	driven, written := 0, len(c.written)
	for _, pattern := range slices.Sorted(func(yield func(string) bool) {
		for p := range forms {
			if !yield(p) {
				return
			}
		}
	}) {
		f, b := forms[pattern].uiForm, forms[pattern].b
		if pattern == "/incidents/{id}/updates" || strings.HasPrefix(pattern, "/stakeholders/templates") {
			// The canary looks like PHI, which the PHI check refuses: the
			// Privacy Officer posts it with the check overridden (as the
			// API test does).
			b = privacy
		}
		if len(f.free) == 0 {
			continue
		}
		if _, skip := uiNotDriven[pattern]; skip {
			continue
		}
		op := "UI " + pattern
		for _, name := range f.free {
			if _, plain := uiPlain[pattern][name]; plain {
				continue
			}
			v := c.next(op, name)
			if old := f.values.Get(name); old != "" {
				v = old + " " + v
			}
			f.values.Set(name, v)
		}
		for name, v := range uiValues(s)[pattern] {
			f.values.Set(name, v)
		}
		f.values.Del("csrf")
		code, body := b.send("POST", f.action, f.values)
		t.Logf("UI form %s on %s: fields %v: %d", pattern, f.page, f.free, code)
		if code >= 400 {
			var why []string
			for _, m := range alertRe.FindAllStringSubmatch(body, -1) {
				why = append(why, html.UnescapeString(strings.TrimSpace(m[1])))
			}
			t.Errorf("UI form %s (on %s): %d %q", pattern, f.page, code, why)
		}
		driven++
	}
	t.Logf("UI: %d forms with free text submitted, %d fields written with a canary", driven, len(c.written)-written)
	for _, rt := range pages.Routes() {
		if rt.Method != http.MethodPost {
			continue
		}
		f, seen := forms[rt.Pattern]
		_, listed := uiNotDriven[rt.Pattern]
		switch {
		case seen && len(f.free) > 0 && listed:
			t.Logf("UI form %s has free text %v and is listed as not driven: %s", rt.Pattern, f.free, uiNotDriven[rt.Pattern])
		case !seen && !listed:
			t.Errorf("UI route POST %s: no form of the walked pages posts to it, and uiNotDriven does not list it with a reason", rt.Pattern)
		}
	}
	return driven
}

// seedUIOwed gives the walked case, through the API, work for the forms
// that act on what is owed: a run of letters not yet recorded as sent
// (s.unsentRun, for the form that records it), an individual owed a letter
// none has been generated for (for the form that generates notices), and
// the HHS obligation owed again (for the form that marks an obligation
// met). The case is under a law-enforcement hold, so these forms carry the
// hold override's free text too.
func seedUIOwed(t *testing.T, w *ward, s *apiSeeds) {
	t.Helper()
	const header = "name,address1,address2,city,state,zip,email,consent_electronic,phone,date_of_birth,next_of_kin,next_of_kin_address\n"
	imp := func(line string) {
		if code, raw := w.postCSV(w.token, s.breachCase+"/individuals/import", header+line); code != http.StatusOK {
			t.Fatalf("import: %d %s", code, raw)
		}
	}
	hold := map[string]any{"hold_override": map[string]any{"official": "Det. Lane", "reason": "allowed by the detective in writing"}}
	imp("Al Post,4 Elm St,,Fresno,CA,93650,,,,,,\n")
	var run struct {
		ID string `json:"id"`
	}
	w.must(http.StatusCreated, "POST", s.breachCase+"/notices/letters", hold, &run)
	s.unsentRun = run.ID
	imp("Cy Post,5 Elm St,,Fresno,CA,93650,,,,,,\n")
	w.must(http.StatusOK, "POST", s.breachCase+"/obligations/reopen", map[string]any{"obligation": "hhs",
		"reason": "the filing is to be corrected"}, nil)
}

// uiPlain are the free-text inputs of UI forms that hold no typed text
// about a patient, by route pattern, each with the reason (as the API
// test classifies the same fields).
var uiPlain = map[string]map[string]string{
	"/admin/users":                {"username": isStaff, "display_name": "a member of staff's name, " + isConfig},
	"/admin/users/{user}/contact": {"address": isAddr, "label": isConfig},
	"/profile/contact":            {"address": isAddr, "label": isConfig},
	"/breach/parties": {"name": isConfig, "agreement": isConfig, "contact_name": isConfig, "contact_address": isConfig,
		"contents": isConfig, "checklist": isConfig},
	"/escalation-policies":               policyUIPlain,
	"/escalation-policies/{policy}/edit": policyUIPlain,
	"/incidents":                         incidentUIPlain,
	"/incidents/{id}/edit":               incidentUIPlain,
	"/incidents/{id}/tasks":              {"owner": isStaff},
	"/incidents/{id}/action-items":       {"action_owner": isStaff},
	"/incidents/{id}/members":            {"member": isStaff},
	"/incidents/{id}/breach/facts": {"by_state": isVocab, "customers[0]_id": isRef, "customers[1]_id": isRef,
		"customers[0]_name": isConfig, "customers[1]_name": isConfig},
	"/incidents/{id}/breach/hhs-report/details":      {"ba_state": isVocab, "ba_zip": isAddr, "ba_email": isAddr, "ba_phone": isAddr},
	"/incidents/{id}/breach/hhs-report/filings":      {"tracking_number": "the number HHS gave the filing, an identifier"},
	"/notice-templates":                              {"name": isConfig},
	"/stakeholders/templates":                        {"name": isConfig},
	"/stakeholders/templates/{update_template}/edit": {"name": isConfig},
	"/notice-templates/{template}/edit":              {"name": isConfig},
	"/org-profile": {"name": isConfig, "city": isConfig, "state": isVocab, "street": isConfig, "zip": isAddr,
		"contact_email": isAddr, "contact_name": isConfig, "contact_phone": isAddr, "contact_title": isConfig},
	"/rules": {"name": isConfig, "description": isConfig, "expression": isConfig, "action0_title": ruleTitle, "action1_title": ruleTitle, "action2_title": ruleTitle,
		"after": ruleAfter, "action0_commander": isStaff, "action1_commander": isStaff, "action2_commander": isStaff},
	"/rules/{rule}/edit": {"name": isConfig, "description": isConfig, "expression": isConfig, "action0_title": ruleTitle, "action1_title": ruleTitle, "action2_title": ruleTitle,
		"after": ruleAfter, "action0_commander": isStaff, "action1_commander": isStaff, "action2_commander": isStaff},
	"/rules/dry-run":                   {"dry_expression": isConfig, "dry_incident": isRef},
	"/alert-rules":                     {"name": isConfig, "description": isConfig, "expression": isConfig, "tags": "tags added to alerts, " + isConfig},
	"/alert-rules/{alert_rule}/edit":   {"name": isConfig, "description": isConfig, "expression": isConfig, "tags": "tags added to alerts, " + isConfig},
	"/alert-rules/dry-run":             {"name": isConfig, "description": isConfig, "expression": isConfig, "tags": "tags added to alerts, " + isConfig},
	"/rules/{rule}/dry-run":            {"dry_expression": isConfig, "dry_incident": isRef},
	"/schedules":                       scheduleUIPlain,
	"/schedules/{schedule}/edit":       scheduleUIPlain,
	"/schedules/{schedule}/overrides":  {"ov_user": isStaff, "ov_replaces": isStaff},
	"/services":                        {"name": isConfig, "description": isConfig},
	"/services/{service}/edit":         {"name": isConfig, "description": isConfig},
	"/services/{service}/integrations": {"ig_name": isConfig, "ig_mapping": isConfig},
	"/stakeholders":                    groupUIPlain,
	"/stakeholders/{group}/edit":       groupUIPlain,
	"/stakeholders/contacts":           {"name": isConfig, "organisation": isConfig, "title": isConfig},
}

const ruleTitle = "the title a rule gives, " + isConfig

// ruleAfter is a timed rule's delay (4h, 90m), which the server parses.
const ruleAfter = "a delay such as 4h, " + isVocab

var (
	policyUIPlain = map[string]string{"name": isConfig, "description": isConfig, "step0_users": isStaff, "step1_users": isStaff,
		"step2_users": isStaff, "step0_schedules": isRef, "step1_schedules": isRef, "step2_schedules": isRef}
	incidentUIPlain = map[string]string{"commander": isStaff, "customers": "customer names, " + isConfig}
	scheduleUIPlain = map[string]string{"name": isConfig, "description": isConfig, "time_zone": isVocab, "rot0_name": isConfig,
		"rot1_name": isConfig, "rot0_participants": isStaff, "rot1_participants": isStaff, "rot0_restrict": isVocab, "rot1_restrict": isVocab}
	groupUIPlain = map[string]string{"name": isConfig, "description": isConfig, "members": isStaff}
)

// uiValues are the values a form needs that its page leaves blank or
// that the walk must choose (a user, an address, a date), by route
// pattern.
func uiValues(s *apiSeeds) map[string]map[string]string {
	dt := func(d time.Duration) string { return time.Now().Add(d).UTC().Format("2006-01-02T15:04") }
	end := dt(48 * time.Hour)
	return map[string]map[string]string{
		"/admin/users": {"username": "canary-ui-user", "display_name": "Canary User", "email": "canary-ui-user@example.org", "role": "responder",
			"password": uiPassword},
		"/admin/users/{user}/contact":        {"kind": "email", "address": "bob2@example.org", "label": "work"},
		"/profile/contact":                   {"kind": "email", "address": "admin2@example.org", "label": "work"},
		"/escalation-policies":               {"name": "canary-ui-policy", "step0_users": "bob", "step0_delay": "5"},
		"/escalation-policies/{policy}/edit": {"step0_users": "bob", "step0_delay": "5"},
		"/incidents":                         {"commander": "bob", "customers": "Acme"},
		"/incidents/{id}/edit":               {"commander": "bob", "customers": "Acme"},
		"/incidents/{id}/tasks":              {"owner": "bob"},
		"/incidents/{id}/action-items":       {"action_owner": "bob", "action_due": dt(72 * time.Hour)},
		"/incidents/{id}/members":            {"member": "sofia"},
		"/incidents/{id}/breach/hhs-report/details": {"breach_start": dt(-120 * time.Hour), "breach_end": dt(-120 * time.Hour),
			"breach_types": "other", "locations": "other", "phi_types": "other", "safeguards": "privacy_rule", "actions_taken": "other",
			"ba_state": "CA", "ba_zip": "90000", "ba_email": "ba@example.org", "ba_phone": "555-0100"},
		"/incidents/{id}/breach/hhs-report/filings":      {"tracking_number": "T-2", "filed_at": dt(0), "attest": "yes"},
		"/incidents/{id}/updates":                        {"phi_override": "on"},
		"/stakeholders/templates":                        {"phi_override": "on", "audience": "public", "name": "Canary UI template"},
		"/stakeholders/templates/{update_template}/edit": {"phi_override": "on", "audience": "public"},
		"/incidents/{id}/notices/generate":               {"what": "letters"},
		"/incidents/{id}/notices/sent":                   {"run_id": s.unsentRun},
		"/notice-templates":                              {"name": "Canary UI letter"},
		"/org-profile": {"name": "Acme Clinic", "street": "1 Main St", "city": "Springfield", "state": "CA", "zip": "90000",
			"contact_name": "Pat", "contact_title": "Privacy Officer", "contact_phone": "555-0100", "contact_email": "privacy@acme.example"},
		"/rules":                         {"name": "canary-ui-rule", "expression": `incident.severity == "sev1"`, "action0_type": "add_task", "action0_title": "Call the lab"},
		"/rules/{rule}/edit":             {"expression": `incident.severity == "sev1"`},
		"/rules/dry-run":                 {"dry_expression": `incident.severity == "sev1"`, "dry_incident": s.incident},
		"/alert-rules":                   {"name": "canary-ui-alert-rule", "expression": `alert.severity == "info"`, "suppress": "on"},
		"/alert-rules/dry-run":           {"name": "canary-ui-alert-rule", "expression": `alert.severity == "info"`, "suppress": "on"},
		"/alert-rules/{alert_rule}/edit": {"expression": `alert.severity == "info"`, "suppress": "on"},
		"/rules/{rule}/dry-run":          {"dry_expression": `incident.severity == "sev1"`, "dry_incident": s.incident},
		"/schedules": {"name": "canary-ui-rota", "time_zone": "UTC", "rot0_name": "weekly", "rot0_participants": "bob",
			"rot0_kind": "weekly", "rot0_length": "1", "rot0_start": time.Now().UTC().Format("2006-01-02T15:04")},
		"/breach/parties": {"name": "Acme Billing UI", "kind": "business_associate"},
		"/incidents/{id}/breach/facts": {"written_at": time.Now().Add(-96 * time.Hour).UTC().Format("2006-01-02T15:04"),
			"written_until": time.Now().Add(-72 * time.Hour).UTC().Format("2006-01-02T15:04"),
			"oral_at":       time.Now().Add(-24 * time.Hour).UTC().Format("2006-01-02T15:04")},
		"/schedules/{schedule}/overrides": {"ov_user": "sofia", "ov_start": time.Now().Add(3 * time.Hour).UTC().Format("2006-01-02T15:04"),
			"ov_end": time.Now().Add(4 * time.Hour).UTC().Format("2006-01-02T15:04")},
		"/services":                        {"name": "canary-ui-svc"},
		"/services/{service}/integrations": {"ig_kind": "events_v2", "ig_name": "ui", "ig_mapping": ""},
		"/services/{service}/maintenance":  {"ends_at": end},
		"/stakeholders":                    {"name": "canary-ui-group", "members": "exec"},
		"/stakeholders/{group}/edit":       {"members": "exec"},
		"/stakeholders/contacts":           {"name": "Pat Contact", "organisation": "Acme", "title": "CISO", "email": "pat@customer.example.org"},
	}
}
