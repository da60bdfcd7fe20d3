package e2e

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
)

// TestPrivilegedMarkingE2E: over HTTPS, counsel marks a note and an
// evidence item privileged from the incident's pages; a responder and the
// auditor then see through the API and the UI that they exist and who
// holds them, never their content: the download is refused, the
// investigation report and the evidence export leave them out and say so,
// and asking for them is refused. Counsel sees them on the page, and gets
// them in the report and the export when asking. On both databases.
func TestPrivilegedMarkingE2E(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		const secret, itemSecret = "Counsel thinks the chart of Jane Canary was read", "Interview of Jane Canary"
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Snooping", "severity": "sev2"}, &inc)
		api := "/api/v1/incidents/" + inc.Number
		var note struct {
			ID string `json:"id"`
		}
		w.must(http.StatusCreated, "POST", api+"/notes", map[string]any{"body": secret}, &note)
		w.must(http.StatusCreated, "POST", api+"/notes", map[string]any{"body": "Laptop reported lost"}, nil)
		item := uploadTestEvidence(t, w, inc.Number, itemSecret, "interview transcript of Jane Canary")
		itemID := item[strings.LastIndex(item, "/")+1:]

		counsel := signInAs(t, w, authz.RoleCounsel, "priv-carol")
		page := "/incidents/" + inc.Number
		for _, f := range []url.Values{{"kind": {"note"}, "object_id": {note.ID}, "privileged": {"yes"}},
			{"kind": {"evidence"}, "object_id": {itemID}, "privileged": {"yes"}}} {
			if code, loc := counsel.send("POST", page+"/privileged", f); code != http.StatusSeeOther {
				t.Fatalf("counsel marks %s: %d %.300s", f.Get("kind"), code, loc)
			}
		}
		rosa := signInAs(t, w, authz.RoleResponder, "priv-rosa")
		if code, _ := rosa.send("POST", page+"/privileged", url.Values{"kind": {"note"}, "object_id": {note.ID},
			"privileged": {"no"}}); code != http.StatusForbidden {
			t.Fatalf("a responder unmarks: %d", code)
		}

		held := "Privileged &amp; confidential — attorney work product, held by priv-carol"
		for name, tok := range map[string]string{"responder": w.tokenWithRole("priv-rita", "responder"),
			"auditor": w.tokenWithRole("priv-aud", "auditor")} {
			code, _, raw := w.raw(tok, "GET", api+"/notes", "", nil)
			if code != http.StatusOK || bytes.Contains(raw, []byte("Jane Canary")) || !bytes.Contains(raw, []byte(`"held_by":"priv-carol"`)) ||
				!bytes.Contains(raw, []byte("Laptop reported lost")) {
				t.Fatalf("%s notes: %d %s", name, code, raw)
			}
			code, _, raw = w.raw(tok, "GET", item, "", nil)
			if code != http.StatusOK || bytes.Contains(raw, []byte("Jane Canary")) || !bytes.Contains(raw, []byte(`"withheld":true`)) {
				t.Fatalf("%s item: %d %s", name, code, raw)
			}
			if code, _, raw := w.raw(tok, "GET", item+"/content", "", nil); code != http.StatusForbidden ||
				bytes.Contains(raw, []byte("Jane Canary")) {
				t.Fatalf("%s download: %d %s", name, code, raw)
			}
			code, _, md := w.raw(tok, "GET", api+"/investigation-report.md", "", nil)
			if code != http.StatusOK || bytes.Contains(md, []byte("Jane Canary")) || !bytes.Contains(md, []byte("1 note marked privileged")) ||
				!bytes.Contains(md, []byte("1 evidence item marked privileged")) || !bytes.Contains(md, []byte("Laptop reported lost")) {
				t.Fatalf("%s report: %d %s", name, code, md)
			}
			if code, _, _ := w.raw(tok, "GET", api+"/investigation-report.md?include_privileged=true", "", nil); code != http.StatusForbidden {
				t.Fatalf("%s asks for the privileged report: %d", name, code)
			}
			code, hdr, archive := w.raw(tok, "GET", api+"/evidence/export", "", nil)
			if code != http.StatusOK || hdr.Get("Ward-Privileged-Left-Out") != "1" || bytes.Contains(archive, []byte("Jane Canary")) ||
				bytes.Contains(archive, []byte("evidence/"+itemID+"/")) {
				t.Fatalf("%s export: %d %v", name, code, hdr)
			}
			left := readZip(t, archive, "evidence/privileged-left-out.json")
			var l struct {
				LeftOut int `json:"left_out"`
			}
			if err := json.Unmarshal(left, &l); err != nil || l.LeftOut != 1 {
				t.Fatalf("%s: left out: %s %v", name, left, err)
			}
			if code, _, _ := w.raw(tok, "GET", api+"/evidence/export?include_privileged=true", "", nil); code != http.StatusForbidden {
				t.Fatalf("%s asks for the privileged export: %d", name, code)
			}
		}
		for name, b := range map[string]*browserless{"responder": rosa, "auditor": signInAs(t, w, authz.RoleAuditor, "priv-audrey")} {
			for _, p := range []string{page, page + "/evidence/" + itemID} {
				code, body := b.send("GET", p, nil)
				if code != http.StatusOK || strings.Contains(body, "Jane Canary") || !strings.Contains(body, held) {
					t.Fatalf("%s page %s: %d %s", name, p, code, body)
				}
			}
		}

		out := filepath.Join(t.TempDir(), "export.zip")
		if code, stdout, errs := w.run("evidence", "export", "--incident", inc.Number, "--out", out); code != 0 ||
			!strings.Contains(stdout, "Left out 1 evidence item marked privileged") {
			t.Fatalf("ward evidence export: %d %s %s", code, stdout, errs)
		}
		if archive, err := os.ReadFile(out); err != nil || bytes.Contains(archive, []byte("evidence/"+itemID+"/")) {
			t.Fatalf("the command's export holds the privileged item: %v", err)
		}

		code, body := counsel.send("GET", page, nil)
		if code != http.StatusOK || !strings.Contains(body, secret) || !strings.Contains(body, held) ||
			!strings.Contains(body, "Remove the privileged marking") {
			t.Fatalf("counsel's page: %d %s", code, body)
		}
		code, md := counsel.send("GET", page+"/investigation-report.md?privileged=include", nil)
		if code != http.StatusOK || !strings.Contains(md, secret) || !strings.Contains(md, itemSecret) || strings.Contains(md, "left out") {
			t.Fatalf("counsel's report: %d %s", code, md)
		}
		code, md = counsel.send("GET", page+"/investigation-report.md", nil)
		if code != http.StatusOK || strings.Contains(md, secret) || !strings.Contains(md, "left out") {
			t.Fatalf("counsel's report without asking: %d %s", code, md)
		}
		counselToken := w.tokenWithRole("priv-counsel-api", "counsel")
		code, hdr, archive := w.raw(counselToken, "GET", api+"/evidence/export?include_privileged=true", "", nil)
		if code != http.StatusOK || hdr.Get("Ward-Privileged-Left-Out") != "0" ||
			!bytes.Contains(readZip(t, archive, "evidence/"+itemID+"/content"), []byte("Jane Canary")) {
			t.Fatalf("counsel's export: %d %v", code, hdr)
		}
	})
}
