package e2e

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/app"
)

// TestNotices takes a case with imported individuals through its notices
// on both databases: a template with an unknown field or a missing
// 164.404(c)(1) element is refused, the Privacy Officer approves the
// defaults, the letters come as a valid PDF with the right page count and
// a mailing list, the emails reach the consenting individuals only
// through a real SMTP server, the individuals obligation is met once all
// are sent, and returned mail crossing 10 makes a conspicuous substitute
// notice owed, whose 90-day periods are tracked.
func TestNotices(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, url string) {
		mail := startMailbox(t)
		w := startWardAt(t, t.TempDir(), url, func(e *app.Env) {
			e.Args = append(e.Args, "--smtp-server", mail.addr, "--smtp-from", "privacy@example.org", "--smtp-ca-file", mail.caFile,
				"--letters-per-pdf", "10")
		})
		tokens := map[string]string{}
		for _, role := range []string{"privacy_officer", "stakeholder", "auditor"} {
			code, out, errs := w.run("token", "create", "--name", "n-"+role, "--role", role)
			if code != 0 {
				t.Fatalf("token: %s", errs)
			}
			tokens[role] = strings.TrimSpace(out)
		}
		var inc incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Laptop stolen", "category": "theft"}, &inc)
		base := "/api/v1/incidents/" + inc.ID + "/breach-case"
		w.must(201, "POST", base, nil, nil)

		// 25 by mail (one in NY), 2 with an email but no consent (mail), 1 deceased
		// with a next of kin's address (mail), 5 by email.
		var b strings.Builder
		b.WriteString("name,address1,city,state,zip,email,consent_electronic,deceased,next_of_kin,next_of_kin_address,customer\n")
		for i := range 24 {
			fmt.Fprintf(&b, "Mail Person %02d,%d Oak St,Fresno,CA,93701,,,,,,\n", i, i+1)
		}
		b.WriteString("Newyork Person,5 Bway,New York,NY,10001,,,,,,\n")
		b.WriteString("Nocon One,1 Elm St,Salem,OR,97301,nocon1@example.com,no,,,,\n")
		b.WriteString("Nocon Two,2 Elm St,Salem,OR,97301,nocon2@example.com,,,,,\n")
		b.WriteString("Late Zoë Ñandú,,,CA,,,,yes,Kin Ñandú,\"9 Pine Rd, Fresno, CA 93702\",\n")
		var consenting []string
		for i := range 5 {
			addr := fmt.Sprintf("mailee%d@example.com", i)
			consenting = append(consenting, addr)
			fmt.Fprintf(&b, "Email Person %d,,,CA,,%s,yes,,,,acme\n", i, addr)
		}
		if code, raw := w.postCSV(w.token, base+"/individuals/import", b.String()); code != 200 {
			t.Fatalf("import: %d %s", code, raw)
		}

		// Templates: an unknown merge field is refused on save, naming it.
		code, raw := w.do("POST", "/api/v1/notice-templates", map[string]any{"kind": "individual_letter", "name": "x",
			"body": "Dear {{.Individual.Nickname}}"}, nil)
		if code != 422 || !strings.Contains(string(raw), "Nickname") || !strings.Contains(string(raw), "body.body") {
			t.Fatalf("unknown field: %d %s", code, raw)
		}
		var bad struct{ ID string }
		w.must(201, "POST", "/api/v1/notice-templates", map[string]any{"kind": "individual_letter", "name": "short",
			"body": "## What happened {#what_happened}\n\nA laptop was stolen.\n"}, &bad)
		code, raw = w.doAs(tokens["privacy_officer"], "POST", "/api/v1/notice-templates/"+bad.ID+"/approve", nil, nil)
		if code != 422 || !strings.Contains(string(raw), "elements.phi_types") || !strings.Contains(string(raw), "164.404(c)(1)(E)") {
			t.Fatalf("approving a template lacking elements: %d %s", code, raw)
		}
		var templates []struct {
			ID, Kind, Status string
			Check            struct {
				Approvable  bool `json:"approvable"`
				Readability struct {
					Grade float64 `json:"grade"`
				} `json:"readability"`
			} `json:"check"`
		}
		w.must(200, "GET", "/api/v1/notice-templates", nil, &templates)
		ids := map[string]string{}
		for _, tp := range templates {
			if tp.ID != bad.ID {
				ids[tp.Kind] = tp.ID
				if !tp.Check.Approvable || tp.Check.Readability.Grade <= 0 || tp.Status != "draft" {
					t.Fatalf("seeded template %+v", tp)
				}
			}
		}
		if len(ids) != 6 {
			t.Fatalf("seeded templates: %v", ids)
		}
		// Generating before approval is refused.
		if code, raw := w.do("POST", base+"/notices/letters", map[string]any{}, nil); code != 422 {
			t.Fatalf("letters before approval: %d %s", code, raw)
		}
		if code, _ := w.do("POST", "/api/v1/notice-templates/"+ids["individual_letter"]+"/approve", nil, nil); code != 403 {
			t.Fatalf("an admin approving: %d", code)
		}
		var approved struct {
			Status     string `json:"status"`
			ApprovedBy string `json:"approved_by"`
			Version    int    `json:"version"`
		}
		for _, k := range []string{"individual_letter", "individual_email"} {
			w.doAs(tokens["privacy_officer"], "POST", "/api/v1/notice-templates/"+ids[k]+"/approve", nil, &approved)
			if approved.Status != "approved" || !strings.Contains(approved.ApprovedBy, "n-privacy_officer") {
				t.Fatalf("approve %s: %+v", k, approved)
			}
		}
		// Editing an approved template makes a new draft version.
		var edited struct {
			Version int    `json:"version"`
			Status  string `json:"status"`
			Body    string `json:"body"`
		}
		var versions []struct{ Body string }
		w.must(200, "GET", "/api/v1/notice-templates/"+ids["individual_email"], nil, &versions)
		w.must(200, "PUT", "/api/v1/notice-templates/"+ids["individual_email"], map[string]any{"name": "Email v2",
			"subject": "Notice", "body": versions[0].Body + "\nP.S. Thank you.\n"}, &edited)
		if edited.Version != 2 || edited.Status != "draft" {
			t.Fatalf("edit of an approved template: %+v", edited)
		}
		w.doAs(tokens["privacy_officer"], "POST", "/api/v1/notice-templates/"+ids["individual_email"]+"/approve", nil, &approved)
		var statuses []struct {
			Version int    `json:"version"`
			Status  string `json:"status"`
		}
		w.must(200, "GET", "/api/v1/notice-templates/"+ids["individual_email"], nil, &statuses)
		if len(statuses) != 2 || statuses[0].Status != "superseded" || statuses[1].Status != "approved" {
			t.Fatalf("versions after approving the edit: %+v", statuses)
		}

		// Settings the templates merge must be filled first.
		code, raw = w.do("POST", base+"/notices/letters", map[string]any{}, nil)
		if code != 422 || !strings.Contains(string(raw), "entity_name") {
			t.Fatalf("letters without settings: %d %s", code, raw)
		}
		w.must(200, "PUT", base+"/notice-settings", map[string]any{"entity_name": "Example Health", "entity_address": "100 Main St\nSpringfield, IL",
			"signer_name": "Pat Morgan", "signer_title": "Privacy Officer", "toll_free": "1-800-555-0100", "email": "privacy@example.org",
			"website": "https://example.org/notice", "postal_address": "100 Main St, Springfield, IL", "occurred_on": "April 2, 2026",
			"what_happened": "A laptop was stolen from a car.", "phi_involved": "your name and address",
			"steps_to_take": "Watch your statements.", "what_we_are_doing": "We encrypt every laptop now."}, nil)

		var run struct {
			ID      string `json:"id"`
			Notices int    `json:"notices"`
			Sent    int    `json:"sent"`
			Files   []struct {
				ID, Name    string
				ContentType string `json:"content_type"`
			} `json:"files"`
		}
		w.must(201, "POST", base+"/notices/letters", map[string]any{}, &run)
		// 28 letters at 10 a file: three PDFs, each with its mailing list.
		if run.Notices != 28 || len(run.Files) != 6 {
			t.Fatalf("letters run: %+v", run)
		}
		letterRun := run.ID
		pdfID := run.Files[0].ID
		if code, _ := w.doAs(tokens["stakeholder"], "GET", base+"/notice-files/"+pdfID, nil, nil); code != 403 {
			t.Fatalf("a stakeholder downloading letters: %d", code)
		}
		var rows [][]string
		var list []byte
		for b := range 3 {
			pdfFile, csvFile := run.Files[2*b], run.Files[2*b+1]
			if want := fmt.Sprintf("batch-%03d.pdf", b+1); !strings.HasSuffix(pdfFile.Name, want) || csvFile.ContentType != "text/csv" {
				t.Fatalf("batch %d's files: %+v", b+1, run.Files)
			}
			_, pdf := w.do("GET", base+"/notice-files/"+pdfFile.ID, nil, nil)
			_, part := w.do("GET", base+"/notice-files/"+csvFile.ID, nil, nil)
			batch, err := csv.NewReader(bytes.NewReader(part)).ReadAll()
			if err != nil || len(batch) != 1+min(10, 28-10*b) || batch[0][0] != "row_key" {
				t.Fatalf("mailing list of batch %d (%v): %q", b+1, err, batch)
			}
			lastPage := 0
			for _, r := range batch[1:] {
				var first, pages int
				fmt.Sscan(r[4], &first)
				fmt.Sscan(r[5], &pages)
				lastPage = max(lastPage, first+pages-1)
				if r[2] != strconv.Itoa(b+1) || r[3] != pdfFile.Name {
					t.Fatalf("a row of batch %d names batch %s, file %s", b+1, r[2], r[3])
				}
			}
			pageObjs := len(regexp.MustCompile(`/Type /Page\n`).FindAll(pdf, -1))
			if !bytes.HasPrefix(pdf, []byte("%PDF-1.")) || !bytes.Contains(pdf[len(pdf)-32:], []byte("%%EOF")) || pageObjs != lastPage ||
				pageObjs < len(batch)-1 {
				t.Fatalf("letters PDF of batch %d: %d bytes, %d pages, the list says %d", b+1, len(pdf), pageObjs, lastPage)
			}
			rows = append(rows, batch[1:]...)
			list = append(list, part...)
		}
		var mailed []string
		for _, r := range rows {
			mailed = append(mailed, r[1])
		}
		if len(rows) != 28 {
			t.Fatalf("the mailing lists hold %d letters, want 28", len(rows))
		}
		if !strings.Contains(string(list), "Kin Ñandú") || strings.Contains(string(list), "Email Person") {
			t.Fatalf("mailing list names the wrong people:\n%s", list)
		}
		// A second generation finds nothing owed.
		if code, _ := w.do("POST", base+"/notices/letters", map[string]any{}, nil); code != 409 {
			t.Fatalf("letters again: %d", code)
		}

		// Emails reach the consenting individuals only.
		w.must(201, "POST", base+"/notices/emails", map[string]any{}, &run)
		if run.Notices != 5 || run.Sent != 5 {
			t.Fatalf("emails run: %+v", run)
		}
		toRE := regexp.MustCompile(`(?m)^To: <?([^>\r\n]+)>?\r?$`)
		var got []string
		for _, m := range mail.all() {
			mm := toRE.FindStringSubmatch(m)
			if mm == nil || !strings.Contains(m, "Dear Email Person") || !strings.Contains(m, "1-800-555-0100") ||
				!strings.Contains(m, "P.S. Thank you.") || strings.Contains(m, "{#") {
				t.Fatalf("email: %s", m)
			}
			got = append(got, mm[1])
		}
		slices.Sort(got)
		if !slices.Equal(got, consenting) || mail.plain != 0 {
			t.Fatalf("emails went to %v (%d in clear), want %v", got, mail.plain, consenting)
		}

		if code, _ := w.do("POST", base+"/notices/emails", map[string]any{}, nil); code != 409 {
			t.Fatalf("emails again: %d", code)
		}

		// The vendor mailed the letters: every first-class notice is sent,
		// so every State's individual notice is met.
		var marked struct{ Marked int }
		w.must(200, "POST", base+"/notices/sent", map[string]any{"run_id": letterRun, "receipt": "vendor job 77"}, &marked)
		if marked.Marked != 28 {
			t.Fatalf("marked %d", marked.Marked)
		}
		var obs []struct {
			Key   string `json:"key"`
			State string `json:"state"`
		}
		w.must(200, "GET", base+"/obligations", nil, &obs)
		// One individual notice per State of residence, each met once its
		// last resident is notified.
		met := map[string]string{}
		for _, o := range obs {
			if strings.HasPrefix(o.Key, "individuals") {
				met[o.Key] = o.State
			}
		}
		if want := map[string]string{"individuals:CA": "met", "individuals:NY": "met", "individuals:OR": "met"}; !maps.Equal(met, want) {
			t.Fatalf("individual notices: %v, want %v", met, want)
		}

		// Returns: 9 are an alternative substitute, the 10th conspicuous.
		var sub struct {
			Returned   int `json:"returned"`
			Substitute struct {
				Kind string `json:"kind"`
			} `json:"substitute"`
			PostingEndsAt *time.Time `json:"posting_ends_at"`
		}
		w.must(200, "GET", base+"/notices/substitute", nil, &sub)
		if sub.Substitute.Kind != "none" {
			t.Fatalf("substitute before returns: %+v", sub)
		}
		ret := "individual_id,reason\n" + strings.Join(mailed[:9], ",moved\n") + ",moved\nnot-an-id,x\n"
		code, raw = w.postCSV(w.token, base+"/notices/returns", ret)
		var returns struct {
			Recorded   int `json:"recorded"`
			Problems   []struct{ Line int }
			Substitute struct {
				Returned   int `json:"returned"`
				Substitute struct {
					Kind string `json:"kind"`
				} `json:"substitute"`
			} `json:"substitute"`
		}
		if code != 200 || json.Unmarshal(raw, &returns) != nil || returns.Recorded != 9 || len(returns.Problems) != 1 ||
			returns.Problems[0].Line != 11 || returns.Substitute.Substitute.Kind != "alternative" {
			t.Fatalf("returns: %d %s", code, raw)
		}
		code, raw = w.postCSV(w.token, base+"/notices/returns", "row_key\n"+rows[9][0]+"\n")
		if code != 200 || !strings.Contains(string(raw), `"kind":"conspicuous"`) {
			t.Fatalf("10th return: %d %s", code, raw)
		}
		start := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
		w.must(200, "POST", base+"/notices/substitute", map[string]any{"posting_started_at": start, "toll_free_started_at": start,
			"toll_free_number": "1-800-555-0199", "posting_url": "https://example.org/notice"}, &sub)
		if sub.Returned != 10 || sub.Substitute.Kind != "conspicuous" || sub.PostingEndsAt == nil || !sub.PostingEndsAt.Equal(start.AddDate(0, 0, 90)) {
			t.Fatalf("substitute: %+v", sub)
		}

		// A returned letter is queued again and goes into the next batch.
		var resent struct {
			Status   string `json:"status"`
			ResentOf string `json:"resent_of"`
		}
		w.must(201, "POST", base+"/notices/"+rows[9][0]+"/resend", nil, &resent)
		if resent.Status != "pending" || resent.ResentOf != rows[9][0] {
			t.Fatalf("resend: %+v", resent)
		}
		w.must(201, "POST", base+"/notices/letters", map[string]any{}, &run)
		if run.Notices != 1 {
			t.Fatalf("re-sent letters: %+v", run)
		}
		// As a business associate too: the customer's notice with the list
		// of its individuals (164.410(c)(1)); no State has over 500, so no
		// media release (164.406(a)).
		var kase struct {
			Facts map[string]any `json:"facts"`
		}
		w.must(200, "GET", base, nil, &kase)
		f := kase.Facts
		f["role"] = "both"
		f["customers"] = []map[string]any{{"id": "acme", "name": "Acme Health", "notice": map[string]any{"amount": 72, "unit": "hours"}}}
		delete(f, "notification_required")
		w.must(200, "PUT", base+"/facts", f, nil)
		for _, k := range []string{"customer_notice", "media_release"} {
			w.doAs(tokens["privacy_officer"], "POST", "/api/v1/notice-templates/"+ids[k]+"/approve", nil, &approved)
		}
		// New York's regulators are owed notice for any resident, its
		// Attorney General again after the notice to HHS, and Oregon's
		// Attorney General a copy from a HIPAA entity: one document each.
		w.doAs(tokens["privacy_officer"], "POST", "/api/v1/notice-templates/"+ids["state_ag"]+"/approve", nil, &approved)
		w.must(201, "POST", base+"/notices/documents", map[string]any{"kind": "state_ag"}, &run)
		var names []string
		for _, f := range run.Files {
			names = append(names, f.Name)
		}
		slices.Sort(names)
		if want := []string{"state-ag-state-regulator-NY-ag.pdf", "state-ag-state-regulator-NY-hhs-ag.pdf",
			"state-ag-state-regulator-OR-ag-hipaa.pdf"}; run.Notices != len(want) || !slices.Equal(names, want) {
			t.Fatalf("State notices: %+v, want %v", run, want)
		}
		if code, raw := w.do("POST", base+"/notices/documents", map[string]any{"kind": "media_release"}, nil); code != 409 {
			t.Fatalf("media release with no State over 500: %d %s", code, raw)
		}
		w.must(201, "POST", base+"/notices/documents", map[string]any{"kind": "customer_notice"}, &run)
		if run.Notices != 1 || len(run.Files) != 2 || run.Files[0].Name != "individuals-acme.csv" {
			t.Fatalf("customer notice: %+v", run)
		}
		_, custList := w.do("GET", base+"/notice-files/"+run.Files[0].ID, nil, nil)
		if strings.Count(string(custList), "Email Person") != 5 || strings.Contains(string(custList), "Mail Person") {
			t.Fatalf("the customer's list:\n%s", custList)
		}
		var generated struct {
			Notices []struct{ ID, Recipient string } `json:"notices"`
		}
		w.must(200, "GET", base+"/notices?status=generated", nil, &generated)
		// The re-sent letter, the three State notices and the customer's.
		if len(generated.Notices) != 5 || generated.Notices[4].Recipient != "covered_entity:acme" {
			t.Fatalf("generated notices: %+v", generated)
		}
		w.must(200, "POST", base+"/notices/sent", map[string]any{"notice_id": generated.Notices[4].ID, "receipt": "sent by secure email"}, &marked)
		if marked.Marked != 1 {
			t.Fatalf("marked %d", marked.Marked)
		}

		// The proof bundle carries the notices and their delivery evidence,
		// naming individuals by id only, and still verifies.
		code, _, bundle := get(t, w, tokens["auditor"], base+"/proof-bundle")
		if code != 200 {
			t.Fatalf("proof bundle: %d %s", code, bundle)
		}
		if valid, trusted, problems := verifyBundle(t, w, tokens["auditor"], bundle); !valid || !trusted {
			t.Fatalf("the bundle with notices does not verify: %v", problems)
		}
		sent := string(readZip(t, bundle, "notices/notices.csv"))
		for _, want := range []string{"vendor job 77", "sent by secure email", "covered_entity:acme", ",email,", ",mail,"} {
			if !strings.Contains(sent, want) {
				t.Errorf("the bundle's notices.csv lacks %q:\n%s", want, sent)
			}
		}
		if got := strings.Count(sent, "\n"); got < 1+33 {
			t.Errorf("the bundle's notices.csv has %d lines, want a header and at least 33 notices", got)
		}
		if sum := readZip(t, bundle, "notices/summary.json"); !bytes.Contains(sum, []byte(`"SHA256": "`)) {
			t.Errorf("the bundle's notice summary names no file's hash: %s", sum)
		}
		if tpl := readZip(t, bundle, "notices/templates.json"); !bytes.Contains(tpl, []byte(`"ApprovedBy": "`)) {
			t.Errorf("the bundle's templates: %s", tpl)
		}
		for _, f := range []string{"notices/notices.csv", "notices/summary.json", "notices/templates.json"} {
			body := string(readZip(t, bundle, f))
			for _, phi := range append([]string{"Mail Person", "Email Person", "Ñandú", "Oak St", "nocon1@"}, consenting...) {
				if strings.Contains(body, phi) {
					t.Errorf("the bundle's %s holds PHI %q", f, phi)
				}
			}
		}

		if code, out, _ := w.run("audit", "verify"); code != 0 || !strings.Contains(out, "intact") {
			t.Fatalf("audit verify: %d %s", code, out)
		}
		d := openStore(t, w)
		for _, action := range []string{"notice_template.seed", "notice_template.approve", "notice_template.update", "notice_settings.update",
			"notice.generate", "notice.send", "notice.sent", "notice_file.phi_read", "notice.returns", "notice.substitute", "notice.resend",
			"breach_case.obligation_met"} {
			var n int
			if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = '` + action + `'`).Scan(&n); err != nil || n == 0 {
				t.Errorf("audit entries %s: %d %v", action, n, err)
			}
		}
	})
}
