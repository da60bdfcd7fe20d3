package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
)

// uploadEvidence posts the incident page's evidence form: the CSRF token
// first, the fields, then the file.
func (b *browserless) uploadEvidence(path string, fields [][2]string, name, content string) (int, string) {
	b.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	_ = mw.WriteField("csrf", b.csrf)
	for _, f := range fields {
		_ = mw.WriteField(f[0], f[1])
	}
	fw, _ := mw.CreateFormFile("file", name)
	_, _ = io.WriteString(fw, content)
	_ = mw.Close()
	req, err := http.NewRequest(http.MethodPost, b.base+path, &body)
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location") + string(raw)
}

// TestUIEvidence: a responder adds evidence from the incident page (an
// empty file and a wrong declared hash shown beside their fields, nothing
// kept), opens the item, downloads it whole, records a transfer and sees
// the chain of custody in order with the new holder; a stakeholder sees
// no evidence section and cannot open the item; the auditor reads the
// item without the forms. On both databases.
func TestUIEvidence(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Laptop left on a train"}, &inc)
		page := "/incidents/" + inc.Number
		b := signInAs(t, w, authz.RoleResponder, "ev-rita")
		if code, body := b.send("GET", page, nil); code != http.StatusOK || !strings.Contains(body, "No evidence yet") ||
			!strings.Contains(body, "Add evidence") {
			t.Fatalf("incident page: %d", code)
		}
		code, body := b.uploadEvidence(page+"/evidence", [][2]string{{"description", "Empty"}}, "empty.txt", "")
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, "is empty") {
			t.Fatalf("empty file: %d %.300s", code, body)
		}
		b.send("GET", page, nil) // a fresh CSRF token
		code, body = b.uploadEvidence(page+"/evidence", [][2]string{{"description", "Wrong hash"},
			{"sha256", strings.Repeat("0", 64)}}, "a.txt", "abc")
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, "does not match") {
			t.Fatalf("wrong hash: %d %.300s", code, body)
		}
		b.send("GET", page, nil)
		content := "Police report 2026-117: laptop stolen from car"
		s := sha256.Sum256([]byte(content))
		hash := hex.EncodeToString(s[:])
		code, loc := b.uploadEvidence(page+"/evidence", [][2]string{{"description", "Police report"}, {"collected_by", "Officer Pat"},
			{"collected_at", "2026-01-02T10:30"}, {"related_asset", "laptop SN 42"}, {"sha256", hash}}, "police.txt", content)
		if code != http.StatusSeeOther || !strings.HasPrefix(loc, page+"?msg=evidence_added") {
			t.Fatalf("upload: %d %.300s", code, loc)
		}
		code, body = b.send("GET", page, nil)
		if code != http.StatusOK || !strings.Contains(body, hash) || !strings.Contains(body, "police.txt") || strings.Contains(body, "No evidence yet") {
			t.Fatalf("page after upload: %d", code)
		}
		if strings.Count(body, "Wrong hash")+strings.Count(body, ">Empty<") != 0 {
			t.Fatal("a refused upload is listed")
		}
		i := strings.Index(body, page+"/evidence/")
		item := body[i : i+len(page+"/evidence/")+36]

		code, got := b.send("GET", item+"/download", nil)
		if code != http.StatusOK || got != content {
			t.Fatalf("download: %d %q", code, got)
		}
		code, body = b.send("POST", item+"/custody", url.Values{"action": {"transferred"}, "reason": {"to counsel"}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, "is required") {
			t.Fatalf("transfer without a holder: %d", code)
		}
		if code, _ := b.send("POST", item+"/custody", url.Values{"action": {"transferred"}, "custodian": {"Outside Counsel LLP"},
			"reason": {"litigation review"}}); code != http.StatusSeeOther {
			t.Fatalf("transfer: %d", code)
		}
		code, body = b.send("GET", item, nil)
		iCollected, iAccessed, iTransferred := strings.Index(body, "<td>Collected</td>"), strings.Index(body, "<td>Accessed</td>"),
			strings.Index(body, "<td>Transferred</td>")
		if code != http.StatusOK || iCollected < 0 || iAccessed < iCollected || iTransferred < iAccessed ||
			!strings.Contains(body, "Outside Counsel LLP") || !strings.Contains(body, "litigation review") {
			t.Fatalf("item page: %d", code)
		}

		st := signInAs(t, w, authz.RoleStakeholder, "ev-stella")
		if code, body := st.send("GET", page, nil); code != http.StatusOK || strings.Contains(body, `id="evidence"`) ||
			strings.Contains(body, "Police report") {
			t.Fatalf("stakeholder's incident page: %d", code)
		}
		for _, p := range []string{item, item + "/download"} {
			if code, _ := st.send("GET", p, nil); code != http.StatusForbidden {
				t.Fatalf("stakeholder GET %s: %d", p, code)
			}
		}
		aud := signInAs(t, w, authz.RoleAuditor, "ev-aud")
		if code, body := aud.send("GET", item, nil); code != http.StatusOK || !strings.Contains(body, hash) ||
			strings.Contains(body, "Record an event") || strings.Contains(body, "Verify integrity now") {
			t.Fatalf("auditor's item page: %d", code)
		}
	})
}
