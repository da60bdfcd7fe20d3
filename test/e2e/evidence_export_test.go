package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestEvidenceExportVerifies: `ward evidence export` writes an incident's
// evidence to a signed archive and `ward proof verify` passes it with
// nothing but the file; the same export downloaded by an auditor over the
// API verifies too, a stakeholder is refused; one byte changed in an
// item's content or in the manifest fails verification (exit 1) naming
// the file. Each export is a custody entry of each item and audited. On
// both databases.
func TestEvidenceExportVerifies(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Stolen laptop", "severity": "sev2"}, &inc)
		item := uploadTestEvidence(t, w, inc.Number, "Badge reader export", "badge 17 entered at 02:14")
		itemID := item[strings.LastIndex(item, "/")+1:]
		dir := t.TempDir()
		out := filepath.Join(dir, "export.zip")
		code, stdout, errs := w.run("evidence", "export", "--incident", inc.Number, "--out", out)
		if code != 0 || !strings.Contains(stdout, "Exported 1 evidence items of "+inc.Number) {
			t.Fatalf("evidence export: %d %s %s", code, stdout, errs)
		}
		if code, stdout, errs := w.run("proof", "verify", out); code != 0 || !strings.Contains(stdout, "evidence export valid: "+inc.Number) {
			t.Fatalf("proof verify: %d %s %s", code, stdout, errs)
		}
		if code, _, errs := w.run("evidence", "export", "--incident", inc.Number, "--out", out); code == 0 || !strings.Contains(errs, "exists") {
			t.Fatalf("export over an existing file: %d %s", code, errs)
		}

		auditor := w.tokenWithRole("exp-auditor", "auditor")
		stakeholder := w.tokenWithRole("exp-stakeholder", "stakeholder")
		path := "/api/v1/incidents/" + inc.Number + "/evidence/export"
		if code, _, _ := w.raw(stakeholder, "GET", path, "", nil); code != http.StatusForbidden {
			t.Fatalf("stakeholder export: %d", code)
		}
		code, hdr, archive := w.raw(auditor, "GET", path, "", nil)
		if code != http.StatusOK || hdr.Get("Content-Type") != "application/zip" {
			t.Fatalf("API export: %d %v", code, hdr)
		}
		apiOut := filepath.Join(dir, "api.zip")
		if err := os.WriteFile(apiOut, archive, 0o600); err != nil {
			t.Fatal(err)
		}
		if code, stdout, errs := w.run("proof", "verify", apiOut); code != 0 {
			t.Fatalf("proof verify of the API's export: %d %s %s", code, stdout, errs)
		}

		content := "evidence/" + itemID + "/content"
		for _, name := range []string{content, "manifest.json"} {
			bad := filepath.Join(dir, strings.ReplaceAll(name, "/", "_")+".zip")
			if err := os.WriteFile(bad, changeOneByte(t, archive, name), 0o600); err != nil {
				t.Fatal(err)
			}
			code, stdout, _ := w.run("proof", "verify", bad)
			if code != 1 || !strings.Contains(stdout, "evidence export INVALID") || !strings.Contains(stdout, name) {
				t.Fatalf("one byte of %s changed: %d %s", name, code, stdout)
			}
		}

		var detail struct {
			Custody []struct {
				Action string `json:"action"`
			} `json:"custody"`
		}
		w.must(http.StatusOK, "GET", item, nil, &detail)
		var actions []string
		for _, e := range detail.Custody {
			actions = append(actions, e.Action)
		}
		if strings.Join(actions, " ") != "collected copied copied" {
			t.Fatalf("custody after two exports: %v", actions)
		}
		if n := count(t, openWardDB(t, w), `SELECT count(*) FROM audit_log WHERE action = 'evidence.export'`); n != 2 {
			t.Fatalf("%d evidence.export audit entries, want 2", n)
		}
	})
}

// changeOneByte returns archive with one byte of file name changed, the
// zip rewritten around it (so that only the manifest can tell).
func changeOneByte(t *testing.T, archive []byte, name string) []byte {
	t.Helper()
	return retouch(t, archive, name, func(b []byte) []byte {
		b[len(b)/2] ^= 0x01
		return b
	})
}
