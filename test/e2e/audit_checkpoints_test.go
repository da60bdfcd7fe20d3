package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/audit"
)

// TestAuditCheckpointsServed runs Ward with checkpoints every second: the
// serving node signs the head with a key outside the data folder, appends
// each checkpoint to a file outside it and serves them and the public key
// to an auditor, who proves the trail with `ward audit verify` from the
// file and from the API.
func TestAuditCheckpointsServed(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		outside := t.TempDir()
		keyFile, cpFile := filepath.Join(outside, "audit-signing.key"), filepath.Join(outside, "checkpoints.jsonl")
		data := t.TempDir()
		w := startWardAt(t, data, dbURL, func(e *app.Env) {
			e.Args = append(e.Args, "--audit-signing-key-file", keyFile, "--audit-checkpoint-file", cpFile,
				"--audit-checkpoint-interval", "1s")
		})
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "checkpointed"}, nil)
		code, out, errs := w.run("token", "create", "--name", "auditor", "--role", "auditor")
		if code != 0 {
			t.Fatal(errs)
		}
		auditor := strings.TrimSpace(out)
		var page audit.CheckpointPage
		eventually(t, "a checkpoint covering the auditor's token", func() bool {
			code, _ := w.doAs(auditor, "GET", "/api/v1/audit/checkpoints", nil, &page)
			n := len(page.Checkpoints)
			return code == http.StatusOK && n > 0 && page.Checkpoints[n-1].Seq >= 3
		})
		var key struct {
			KeyID        string `json:"key_id"`
			PublicKeyPEM string `json:"public_key_pem"`
		}
		if code, raw := w.doAs(auditor, "GET", "/api/v1/audit/checkpoint-key", nil, &key); code != http.StatusOK ||
			key.KeyID != page.Checkpoints[0].KeyID {
			t.Fatalf("checkpoint key: %d %s", code, raw)
		}
		pub := filepath.Join(outside, "ward.pub")
		if err := os.WriteFile(pub, []byte(key.PublicKeyPEM), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(data, "audit-signing.key")); err == nil {
			t.Error("a signing key was made in the data folder although --audit-signing-key-file is elsewhere")
		}
		eventually(t, "the checkpoints file", func() bool {
			b, err := os.ReadFile(cpFile)
			return err == nil && len(b) > 0
		})
		code, out, errs = w.run("audit", "verify", "--checkpoints", cpFile, "--public-key", pub)
		if code != 0 || !strings.Contains(out, "audit trail intact") || !strings.Contains(out, "key "+key.KeyID) {
			t.Fatalf("verify against the file: %d %s %s", code, out, errs)
		}
		code, out, errs = w.run("audit", "verify", "--checkpoints", w.url+"/api/v1/audit/checkpoints", "--checkpoints-token", auditor,
			"--checkpoints-ca-file", filepath.Join(data, "tls-cert.pem"), "--public-key", pub)
		if code != 0 || !strings.Contains(out, "audit trail intact") || !strings.Contains(out, "proved against") {
			t.Fatalf("verify against the API: %d %s %s", code, out, errs)
		}
	})
}
