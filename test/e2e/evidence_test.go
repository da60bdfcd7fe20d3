package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/testwait"
)

// evidenceForm is a multipart upload form: the fields in order, then the
// file part (omitted when name is "").
func evidenceForm(t testing.TB, fields [][2]string, name string, content []byte) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, f := range fields {
		if err := mw.WriteField(f[0], f[1]); err != nil {
			t.Fatal(err)
		}
	}
	if name != "" {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", `form-data; name="file"; filename="`+name+`"`)
		h.Set("Content-Type", "text/plain")
		pw, err := mw.CreatePart(h)
		if err != nil {
			t.Fatal(err)
		}
		pw.Write(content)
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

// raw sends a request with a body of its own media type as token and
// returns the response's status, headers and body.
func (w *ward) raw(token, method, path, contentType string, body []byte) (int, http.Header, []byte) {
	w.t.Helper()
	req, err := http.NewRequest(method, w.url+path, bytes.NewReader(body))
	if err != nil {
		w.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := w.client.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatalf("%s %s: read: %v", method, path, err)
	}
	return resp.StatusCode, resp.Header, out
}

type evidenceItemJSON struct {
	ID         string  `json:"id"`
	SHA256     string  `json:"sha256"`
	Size       int64   `json:"size"`
	FileName   string  `json:"file_name"`
	Custodian  string  `json:"custodian"`
	Integrity  string  `json:"integrity"`
	VerifiedAt *string `json:"integrity_verified_at"`
	Custody    []struct {
		Seq       int64  `json:"seq"`
		Action    string `json:"action"`
		Custodian string `json:"custodian"`
		Reason    string `json:"reason"`
	} `json:"custody"`
}

// TestEvidenceAPI: over HTTPS, an evidence file is uploaded (declared
// hash checked), listed, downloaded whole with its hash, transferred and
// read again with its chain of custody in order; a mismatching hash and
// an empty file are refused and keep nothing; custody entries have no
// route to change or remove them; a stakeholder cannot list or download,
// an auditor downloads but records nothing; the content altered in the
// database fails the download (409) and `ward evidence verify` (exit 1),
// each audited; every step is in the audit trail.
func TestEvidenceAPI(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc struct {
			Number string `json:"number"`
		}
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Stolen laptop", "severity": "sev2"}, &inc)
		base := "/api/v1/incidents/" + inc.Number + "/evidence"
		content := make([]byte, 3<<20)
		if _, err := rand.Read(content); err != nil {
			t.Fatal(err)
		}
		s := sha256.Sum256(content)
		hash := hex.EncodeToString(s[:])

		ct, body := evidenceForm(t, [][2]string{{"description", "Badge reader export for Jane Canary"}, {"source", "badge server"},
			{"collected_by", "Officer Pat"}, {"collected_at", "2026-01-02T03:04:05Z"}, {"related_asset", "laptop SN 42"},
			{"sha256", hash}}, "badges.csv", content)
		code, _, raw := w.raw(w.token, "POST", base, ct, body)
		if code != http.StatusCreated {
			t.Fatalf("upload: %d %s", code, raw)
		}
		if !strings.Contains(string(raw), hash) {
			t.Fatalf("upload answer lacks the hash: %s", raw)
		}

		// Refused uploads keep nothing.
		ct, body = evidenceForm(t, [][2]string{{"description", "wrong hash"}, {"sha256", strings.Repeat("ab", 32)}}, "x.bin", content)
		if code, _, raw := w.raw(w.token, "POST", base, ct, body); code != http.StatusUnprocessableEntity ||
			!strings.Contains(string(raw), "body.sha256") {
			t.Fatalf("mismatched hash: %d %s", code, raw)
		}
		ct, body = evidenceForm(t, [][2]string{{"description", "empty"}}, "empty.txt", nil)
		if code, _, raw := w.raw(w.token, "POST", base, ct, body); code != http.StatusUnprocessableEntity ||
			!strings.Contains(string(raw), "body.file") {
			t.Fatalf("empty file: %d %s", code, raw)
		}
		ct, body = evidenceForm(t, [][2]string{{"source", "no description"}}, "a.txt", []byte("a"))
		if code, _, raw := w.raw(w.token, "POST", base, ct, body); code != http.StatusUnprocessableEntity ||
			!strings.Contains(string(raw), "body.description") {
			t.Fatalf("no description: %d %s", code, raw)
		}

		var list []evidenceItemJSON
		w.must(http.StatusOK, "GET", base, nil, &list)
		if len(list) != 1 || list[0].SHA256 != hash || list[0].Size != int64(len(content)) || list[0].FileName != "badges.csv" {
			t.Fatalf("list: %+v", list)
		}
		item := base + "/" + list[0].ID
		d := openWardDB(t, w)
		if n := count(t, d, `SELECT count(*) FROM evidence_items`); n != 1 {
			t.Fatalf("%d evidence rows after refused uploads, want 1", n)
		}

		code, hdr, got := w.raw(w.token, "GET", item+"/content", "", nil)
		if code != http.StatusOK || !bytes.Equal(got, content) || hdr.Get("X-Ward-SHA256") != hash ||
			!strings.Contains(hdr.Get("Content-Disposition"), "badges.csv") {
			t.Fatalf("download: %d, %d bytes, headers %v", code, len(got), hdr)
		}

		w.must(http.StatusUnprocessableEntity, "POST", item+"/custody", map[string]string{"action": "transferred", "reason": "no custodian"}, nil)
		w.must(http.StatusCreated, "POST", item+"/custody", map[string]string{"action": "transferred",
			"custodian": "Acme Forensics", "reason": "disk imaging"}, nil)
		for _, m := range []string{"PUT", "PATCH", "DELETE"} {
			if code, _ := w.do(m, item+"/custody", map[string]string{"action": "copied", "reason": "x"}, nil); code != http.StatusMethodNotAllowed &&
				code != http.StatusNotFound {
				t.Fatalf("%s custody: %d", m, code)
			}
		}

		stakeholder := w.tokenWithRole("ev-stakeholder", "stakeholder")
		auditor := w.tokenWithRole("ev-auditor", "auditor")
		for _, p := range []string{base, item, item + "/content"} {
			if code, _, raw := w.raw(stakeholder, "GET", p, "", nil); code != http.StatusForbidden {
				t.Fatalf("stakeholder GET %s: %d %s", p, code, raw)
			}
		}
		if code, _, got := w.raw(auditor, "GET", item+"/content", "", nil); code != http.StatusOK || !bytes.Equal(got, content) {
			t.Fatalf("auditor download: %d", code)
		}
		if code, _ := w.doAs(auditor, "POST", item+"/custody", map[string]string{"action": "copied", "reason": "x"}, nil); code != http.StatusForbidden {
			t.Fatalf("auditor custody: %d", code)
		}

		var detail evidenceItemJSON
		w.must(http.StatusOK, "GET", item, nil, &detail)
		var actions []string
		for _, e := range detail.Custody {
			actions = append(actions, e.Action)
		}
		if strings.Join(actions, " ") != "collected accessed transferred accessed" || detail.Custody[2].Custodian != "Acme Forensics" ||
			detail.Custody[2].Reason != "disk imaging" || detail.Custodian != "Acme Forensics" {
			t.Fatalf("custody: %+v", detail)
		}

		if code, out, errs := w.run("evidence", "verify"); code != 0 || !strings.Contains(out, "Checked 1 evidence items") {
			t.Fatalf("evidence verify: %d %s %s", code, out, errs)
		}
		w.must(http.StatusOK, "GET", item, nil, &detail)
		if detail.Integrity != "ok" || detail.VerifiedAt == nil {
			t.Fatalf("after verify: %+v", detail)
		}

		// Someone with access to the database alters one byte.
		var chunk []byte
		if err := d.R.QueryRowContext(context.Background(), `SELECT data FROM evidence_chunks WHERE item_id = $1 AND seq = 0`,
			list[0].ID).Scan(&chunk); err != nil {
			t.Fatal(err)
		}
		chunk[100] ^= 0xff
		sqlExec(t, d, `UPDATE evidence_chunks SET data = $1 WHERE item_id = $2 AND seq = 0`, chunk, list[0].ID)
		if code, _, raw := w.raw(w.token, "GET", item+"/content", "", nil); code != http.StatusConflict ||
			!strings.Contains(string(raw), "integrity") {
			t.Fatalf("download of altered content: %d %s", code, raw)
		}
		if code, out, _ := w.run("evidence", "verify"); code == 0 || !strings.Contains(out, "FAILED") || !strings.Contains(out, inc.Number) {
			t.Fatalf("evidence verify of altered content: %d %s", code, out)
		}
		w.must(http.StatusOK, "GET", item, nil, &detail)
		if detail.Integrity != "failed" {
			t.Fatalf("after a failed check: %+v", detail)
		}
		for action, want := range map[string]int{"evidence.add": 1, "evidence.download": 3, "evidence.custody": 1,
			"evidence.verify": 1, "evidence.integrity_failed": 2} {
			if n := count(t, d, `SELECT count(*) FROM audit_log WHERE action = $1`, action); n != want {
				t.Errorf("%d audit entries %s, want %d", n, action, want)
			}
		}
		if n := count(t, d, `SELECT count(*) FROM audit_log WHERE action = 'evidence.phi_read'`); n == 0 {
			t.Error("reads of evidence metadata not audited")
		}
		if strings.Contains(w.logs.String(), "Jane Canary") {
			t.Error("the logs hold evidence metadata")
		}

		// The breach case's proof bundle lists the evidence, hash and custody.
		w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+inc.Number+"/breach-case", nil, nil)
		code, _, bundle := w.raw(w.token, "GET", "/api/v1/incidents/"+inc.Number+"/breach-case/proof-bundle", "", nil)
		if code != http.StatusOK {
			t.Fatalf("proof bundle: %d %s", code, bundle)
		}
		zr, err := zip.NewReader(bytes.NewReader(bundle), int64(len(bundle)))
		if err != nil {
			t.Fatal(err)
		}
		var items string
		for _, f := range zr.File {
			if f.Name == "evidence/items.json" {
				rc, err := f.Open()
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(rc)
				rc.Close()
				items = string(b)
			}
		}
		if !strings.Contains(items, hash) || !strings.Contains(items, `"transferred"`) || strings.Contains(items, "Jane Canary") {
			t.Fatalf("the bundle's evidence/items.json: %q", items)
		}
	})
}

// openWardDB opens the running server's database beside it, as someone
// with access to it could.
func openWardDB(t *testing.T, w *ward) *db.DB {
	t.Helper()
	url := w.dbURL
	if url == "" {
		url = w.data + "/ward.db"
	}
	d, err := db.Open(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func count(t *testing.T, d *db.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := d.R.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestEvidenceUploadInterrupted: a client that goes away in the middle of
// a large upload, after Ward has stored part of it, leaves nothing: the
// stored chunks and the item's row are removed and no item is listed.
func TestEvidenceUploadInterrupted(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc struct {
			Number string `json:"number"`
		}
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Disk image", "severity": "sev3"}, &inc)
		d := openWardDB(t, w)
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		req, err := http.NewRequest("POST", w.url+"/api/v1/incidents/"+inc.Number+"/evidence", pr)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+w.token)
		done := make(chan error, 1)
		go func() {
			resp, err := w.client.Do(req)
			if err == nil {
				resp.Body.Close()
			}
			done <- err
		}()
		_ = mw.WriteField("description", "Half a disk image")
		fw, err := mw.CreateFormFile("file", "disk.img")
		if err != nil {
			t.Fatal(err)
		}
		block := make([]byte, 1<<20)
		for range 12 {
			if _, err := rand.Read(block); err != nil {
				t.Fatal(err)
			}
			if _, err := fw.Write(block); err != nil {
				t.Fatal(err)
			}
		}
		testwait.Until(t, "part of the upload stored", 30*time.Second, func() bool {
			return count(t, d, `SELECT count(*) FROM evidence_chunks`) > 0
		})
		pw.CloseWithError(errors.New("the laptop's lid was closed"))
		if err := <-done; err == nil {
			t.Fatal("the cut-off upload was answered as if whole")
		}
		testwait.Until(t, "the cut-off upload removed", 30*time.Second, func() bool {
			return count(t, d, `SELECT count(*) FROM evidence_chunks`)+count(t, d, `SELECT count(*) FROM evidence_items`) == 0
		})
		var list []evidenceItemJSON
		w.must(http.StatusOK, "GET", "/api/v1/incidents/"+inc.Number+"/evidence", nil, &list)
		if len(list) != 0 {
			t.Fatalf("listed after an interrupted upload: %+v", list)
		}
	})
}

// TestEvidenceDownloadCut: content altered past its first segment is found
// only while it streams, after the 200: the connection is cut, so the
// client never receives a body as long as Content-Length, and the item
// shows the failure.
func TestEvidenceDownloadCut(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc struct {
			Number string `json:"number"`
		}
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Mail server logs", "severity": "sev3"}, &inc)
		content := make([]byte, 3<<20)
		if _, err := rand.Read(content); err != nil {
			t.Fatal(err)
		}
		ct, body := evidenceForm(t, [][2]string{{"description", "Mail log"}}, "mail.log", content)
		var it evidenceItemJSON
		code, _, raw := w.raw(w.token, "POST", "/api/v1/incidents/"+inc.Number+"/evidence", ct, body)
		if code != http.StatusCreated {
			t.Fatalf("upload: %d %s", code, raw)
		}
		if err := json.Unmarshal(raw, &it); err != nil {
			t.Fatal(err)
		}
		d := openWardDB(t, w)
		var chunk []byte
		if err := d.R.QueryRowContext(context.Background(), `SELECT data FROM evidence_chunks WHERE item_id = $1 AND seq = 0`,
			it.ID).Scan(&chunk); err != nil {
			t.Fatal(err)
		}
		chunk[2<<20+10] ^= 1 // in the third segment
		sqlExec(t, d, `UPDATE evidence_chunks SET data = $1 WHERE item_id = $2 AND seq = 0`, chunk, it.ID)

		item := "/api/v1/incidents/" + inc.Number + "/evidence/" + it.ID
		req, err := http.NewRequest("GET", w.url+item+"/content", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+w.token)
		resp, err := w.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.ContentLength != int64(len(content)) {
			t.Fatalf("download: %d, Content-Length %d", resp.StatusCode, resp.ContentLength)
		}
		if err == nil || len(got) >= len(content) || !bytes.Equal(got, content[:len(got)]) {
			t.Fatalf("a cut download read %d of %d bytes, error %v", len(got), len(content), err)
		}
		var detail evidenceItemJSON
		w.must(http.StatusOK, "GET", item, nil, &detail)
		if detail.Integrity != "failed" {
			t.Fatalf("after a cut download: %+v", detail)
		}
	})
}
