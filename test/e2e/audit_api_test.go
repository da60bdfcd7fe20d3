package e2e

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
)

type auditListOut struct {
	Items      []audit.Entry `json:"items"`
	NextCursor string        `json:"next_cursor"`
}

// verifiedChain parses a JSON Lines export and checks it as an offline
// verifier does: every hash recomputed with audit.Hash, every link.
func verifiedChain(t *testing.T, jsonl string) []audit.Entry {
	t.Helper()
	var out []audit.Entry
	sc := bufio.NewScanner(strings.NewReader(jsonl))
	prev := audit.Genesis
	for sc.Scan() {
		var e audit.Entry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d: %v", len(out)+1, err)
		}
		if e.Seq != int64(len(out)+1) || e.PrevHash != prev || audit.Hash(e) != e.Hash {
			t.Fatalf("entry %d does not verify: %+v", len(out)+1, e)
		}
		prev = e.Hash
		out = append(out, e)
	}
	return out
}

func TestAuditAPI(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		auditor := roleToken(t, w, "auditor", string(authz.RoleAuditor))
		officer := roleToken(t, w, "officer", string(authz.RoleSecurityOfficer))
		var inc struct{ ID, Number string }
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Laptop stolen"}, &inc)
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Another"}, nil)

		// Only the auditor and the officers read the trail.
		for _, role := range []authz.Role{authz.RoleStakeholder, authz.RoleResponder, authz.RoleAdmin} {
			tok := roleToken(t, w, "no-"+string(role), string(role))
			for _, path := range []string{"/api/v1/audit", "/api/v1/audit/export?format=jsonl"} {
				if code, raw := w.doAs(tok, "GET", path, nil, nil); code != http.StatusForbidden {
					t.Errorf("%s GET %s: %d %s", role, path, code, raw)
				}
			}
		}

		// Filters: the incident by its number.
		var page auditListOut
		if code, raw := w.doAs(officer, "GET", "/api/v1/audit?incident="+inc.Number, nil, &page); code != http.StatusOK {
			t.Fatalf("by incident: %d %s", code, raw)
		}
		if len(page.Items) == 0 || page.Items[len(page.Items)-1].Action != "incident.create" {
			t.Fatalf("entries of %s: %+v", inc.Number, page.Items)
		}
		for _, e := range page.Items {
			if e.ObjectType != "incident" || e.ObjectID != inc.ID || audit.Hash(e) != e.Hash {
				t.Errorf("entry of another object, or not verifying: %+v", e)
			}
		}

		// Bad filters: 400 naming the field.
		for q, field := range map[string]string{"limit=abc": "query.limit", "limit=501": "query.limit", "from=yesterday": "query.from",
			"actor=alice": "query.actor", "incident=INC-1999-0001": "query.incident", "cursor=zzz": "query.cursor",
			"from=2026-03-02&to=2026-03-01": "query.to", "action=Opened%20incident": "query.action"} {
			code, raw := w.doAs(auditor, "GET", "/api/v1/audit?"+q, nil, nil)
			if code != http.StatusBadRequest || !strings.Contains(string(raw), `"location":"`+field+`"`) {
				t.Errorf("%s: %d %s, want 400 naming %s", q, code, raw, field)
			}
		}
		if code, raw := w.doAs(auditor, "GET", "/api/v1/audit/export?format=xml", nil, nil); code != http.StatusBadRequest ||
			!strings.Contains(string(raw), "query.format") {
			t.Errorf("format=xml: %d %s", code, raw)
		}

		// Paging with the cursor while entries keep arriving.
		var first auditListOut
		w.doAs(auditor, "GET", "/api/v1/audit?action=incident.&limit=1", nil, &first)
		top := first.Items[0].Seq
		var seen []int64
		next := ""
		for pages := 0; ; pages++ {
			var p auditListOut
			path := "/api/v1/audit?action=incident.&limit=2"
			if next != "" {
				path += "&cursor=" + url.QueryEscape(next)
			} else {
				path += "&to=2999-01-01"
			}
			if code, raw := w.doAs(auditor, "GET", path, nil, &p); code != http.StatusOK {
				t.Fatalf("page %d: %d %s", pages, code, raw)
			}
			for _, e := range p.Items {
				if e.Seq <= top {
					seen = append(seen, e.Seq)
				}
			}
			w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Meanwhile"}, nil)
			if next = p.NextCursor; next == "" || pages > 20 {
				break
			}
		}
		var want []int64
		for _, e := range verifiedChain(t, exportAs(t, w, auditor, "jsonl", "")) {
			if strings.HasPrefix(e.Action, "incident.") && e.Seq <= top {
				want = append([]int64{e.Seq}, want...)
			}
		}
		if len(seen) != len(want) || len(want) < 2 {
			t.Fatalf("paged %v, want %v", seen, want)
		}
		for i := range want {
			if seen[i] != want[i] {
				t.Fatalf("paged %v, want %v", seen, want)
			}
		}

		// The export is complete, verifies, and is itself in the trail.
		all := verifiedChain(t, exportAs(t, w, auditor, "jsonl", ""))
		last := all[len(all)-1]
		if last.Action != "audit.export" || last.Actor != "token:auditor" {
			t.Errorf("the export's own entry: %+v", last)
		}
		var reads auditListOut
		w.doAs(officer, "GET", "/api/v1/audit?action=audit.read&actor=token:auditor", nil, &reads)
		if len(reads.Items) < 3 {
			t.Errorf("the auditor's reads are not in the trail: %+v", reads.Items)
		}

		// CSV, filtered by time.
		body := exportAs(t, w, auditor, "csv", "&from="+url.QueryEscape(all[0].At.Format("2006-01-02T15:04:05.999999999Z07:00")))
		rows, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil || strings.Join(rows[0], ",") != strings.Join(audit.CSVHeader, ",") || len(rows) < len(all) {
			t.Fatalf("csv: %v %d rows", err, len(rows))
		}
		for _, row := range rows[1:] {
			e, err := audit.ParseCSVRow(row)
			if err != nil || audit.Hash(e) != e.Hash {
				t.Fatalf("csv row %q: %v", row, err)
			}
		}

		// The command line exports the same trail from the database.
		code, out, errs := w.run("audit", "export", "--format", "jsonl", "--incident", inc.Number)
		if code != 0 {
			t.Fatalf("ward audit export: %d %s", code, errs)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		for _, l := range lines {
			var e audit.Entry
			if err := json.Unmarshal([]byte(l), &e); err != nil || e.ObjectID != inc.ID || audit.Hash(e) != e.Hash {
				t.Fatalf("cli export line %q: %v", l, err)
			}
		}
		if code, _, errs := w.run("audit", "export", "--format", "xml"); code != 2 || !strings.Contains(errs, "format") {
			t.Errorf("--format xml: %d %s", code, errs)
		}
		code, out, _ = w.run("audit", "export")
		if code != 0 {
			t.Fatal("ward audit export failed")
		}
		cli := verifiedChain(t, out)
		if cli[len(cli)-1].Action != "audit.export" || !strings.HasPrefix(cli[len(cli)-1].Actor, "cli:") {
			t.Errorf("the command line's export is not in the trail: %+v", cli[len(cli)-1])
		}
	})
}

func exportAs(t *testing.T, w *ward, token, format, query string) string {
	t.Helper()
	req, err := http.NewRequest("GET", w.url+"/api/v1/audit/export?format="+format+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := w.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("export %s: %d %v %s", format, resp.StatusCode, err, body)
	}
	want := map[string]string{"jsonl": "application/jsonl", "csv": "text/csv"}[format]
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), want) {
		t.Errorf("export %s: Content-Type %q", format, resp.Header.Get("Content-Type"))
	}
	return string(body)
}

var uuidRe = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)

// TestAuditPageInPlainWords: the audit page names people, tokens and
// incident numbers, says what happened in words, links to the incident,
// filters by incident and person, and pages; no ids, codes or API paths.
func TestAuditPageInPlainWords(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc struct{ ID, Number string }
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Misdirected fax"}, &inc)
		b := signInAs(t, w, authz.RoleAuditor, "audra")
		code, page := b.send("GET", "/audit?incident="+inc.Number, nil)
		if code != http.StatusOK {
			t.Fatalf("audit page: %d %.500s", code, page)
		}
		main := page[strings.Index(page, "<main"):]
		for _, want := range []string{"Opened incident", `href="/incidents/` + inc.Number + `"`, "Incident " + inc.Number, "API token “e2e-"} {
			if !strings.Contains(main, want) {
				t.Errorf("page lacks %q: %.3000s", want, main)
			}
		}
		text := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(main, " ")
		for _, bad := range []string{"incident.create", "/api/v1", "token:", "user:"} {
			if strings.Contains(text, bad) {
				t.Errorf("page text shows %q", bad)
			}
		}
		if id := uuidRe.FindString(text); id != "" {
			t.Errorf("page text shows the id %s", id)
		}
		// The person filter, and paging: the auditor's own sign-in.
		_, page = b.send("GET", "/audit?person=user:audra&action=user.login", nil)
		if !strings.Contains(page, "Signed in") || !strings.Contains(page, "audra") {
			t.Errorf("person filter: %.2000s", page)
		}
		for range 50 {
			w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "More"}, nil)
		}
		_, page = b.send("GET", "/audit?action=incident.create", nil)
		older := regexp.MustCompile(`href="(/audit\?[^"]+)">Older entries`).FindStringSubmatch(page)
		if older == nil || strings.Count(page, "<td>Opened incident</td>") != 50 {
			t.Fatalf("first page: no link to older entries, or not 50 rows: %.3000s", page)
		}
		_, page = b.send("GET", html.UnescapeString(older[1]), nil)
		if strings.Count(page, "<td>Opened incident</td>") != 1 || !strings.Contains(page, "Incident "+inc.Number) ||
			!strings.Contains(page, "Back to the newest") {
			t.Errorf("second page of %s: %d rows, %.3000s", older[1], strings.Count(page, "<td>Opened incident</td>"), page[strings.Index(page, "<table"):])
		}
		if code, page := b.send("GET", "/audit?incident=INC-1999-0001", nil); code != http.StatusUnprocessableEntity ||
			!strings.Contains(page, "Incident number: no incident is numbered") {
			t.Errorf("unknown incident: %d %.1500s", code, page)
		}
		for _, role := range []authz.Role{authz.RoleStakeholder, authz.RoleResponder} {
			o := signInAs(t, w, role, "no-audit-"+string(role))
			if code, _ := o.send("GET", "/audit", nil); code != http.StatusForbidden {
				t.Errorf("%s: audit page %d, want 403", role, code)
			}
		}
	})
}
