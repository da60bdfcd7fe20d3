package app

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// TestAuditVerifyCheckpoints proves a trail against checkpoints through
// `ward audit verify --checkpoints`, from a file and from a URL, and
// catches a rollback and an unknown key.
func TestAuditVerifyCheckpoints(t *testing.T) {
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			ctx := context.Background()
			keys := t.TempDir() // outside the data folder
			keyFile, pubFile, cpFile := filepath.Join(keys, "audit-signing.key"), filepath.Join(keys, "ward.pub"),
				filepath.Join(keys, "checkpoints.jsonl")
			env := map[string]string{"WARD_DATA": t.TempDir(), "WARD_DB": target.URL, "WARD_AUDIT_SIGNING_KEY_FILE": keyFile}
			if code, _, errs := runMain(t, env, "migrate"); code != ExitOK {
				t.Fatal(errs)
			}
			for _, name := range []string{"a", "b", "c"} {
				if code, _, errs := runMain(t, env, "token", "create", "--name", name); code != ExitOK {
					t.Fatal(errs)
				}
			}
			if code, _, errs := runMain(t, env, "audit", "verify", "--checkpoints", cpFile); code != ExitUsage ||
				!strings.Contains(errs, "there is no signing key at "+keyFile) {
				t.Fatalf("verify with no key to trust: %d %s", code, errs)
			}

			d, err := db.Open(ctx, target.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			key, _, err := audit.LoadSigningKey(keyFile)
			if err != nil {
				t.Fatal(err)
			}
			cp := audit.NewCheckpointer(d, clock.Real{}, key, audit.CheckpointOptions{Entries: 1, Node: "ward-1",
				Publishers: []audit.Publisher{audit.FilePublisher{Path: cpFile}}})
			if c, err := cp.Tick(ctx); err != nil || c == nil || c.Seq != 3 {
				t.Fatalf("checkpoint: %+v %v", c, err)
			}
			if err := os.WriteFile(pubFile, []byte(key.PublicPEM()), 0o600); err != nil {
				t.Fatal(err)
			}

			code, out, errs := runMain(t, env, "audit", "verify", "--checkpoints", cpFile, "--public-key", pubFile)
			if code != ExitOK || !strings.Contains(out, "audit trail intact: 3 entries") ||
				!strings.Contains(out, "proved against 1 checkpoints; the newest covers entry 3 (signed ") {
				t.Fatalf("verify against the file: %d %s %s", code, out, errs)
			}
			code, out, errs = runMain(t, env, "audit", "verify", "--checkpoints", cpFile)
			if code != ExitOK || !strings.Contains(errs, "trusting key "+key.ID()) || !strings.Contains(out, "proved against 1") {
				t.Fatalf("verify with the local signing key: %d %s %s", code, out, errs)
			}

			// The API's page, as GET /api/v1/audit/checkpoints serves it.
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer tok" {
					w.WriteHeader(http.StatusUnauthorized)
					return
				}
				list, err := cp.ListCheckpoints(authz.WithActor(r.Context(), authz.Actor{Kind: authz.KindToken, Name: "auditor",
					Role: authz.RoleAuditor}), 0, 0)
				if err != nil {
					w.WriteHeader(http.StatusInternalServerError)
					return
				}
				_ = json.NewEncoder(w).Encode(audit.CheckpointPage{Checkpoints: list})
			}))
			defer srv.Close()
			code, out, errs = runMain(t, map[string]string{"WARD_DATA": env["WARD_DATA"], "WARD_DB": target.URL, "WARD_CHECKPOINTS_TOKEN": "tok"},
				"audit", "verify", "--checkpoints", srv.URL+"/api/v1/audit/checkpoints", "--public-key", pubFile)
			if code != ExitOK || !strings.Contains(out, "proved against 1 checkpoints") {
				t.Fatalf("verify against the URL: %d %s %s", code, out, errs)
			}

			_, stranger, _ := ed25519.GenerateKey(rand.Reader)
			strangerPub := filepath.Join(keys, "stranger.pub")
			if err := os.WriteFile(strangerPub, []byte(audit.NewSigningKey(stranger).PublicPEM()), 0o600); err != nil {
				t.Fatal(err)
			}
			code, out, _ = runMain(t, env, "audit", "verify", "--checkpoints", cpFile, "--public-key", strangerPub)
			if code != ExitFailure || !strings.Contains(out, "NOT PROVED") || !strings.Contains(out, "which is not a key you trust") {
				t.Fatalf("verify with a stranger's key: %d %s", code, out)
			}

			// Cut the last entry and fix the head, as a restore of an older
			// copy would leave it.
			stmts := []string{"DROP TRIGGER audit_log_no_delete", "DELETE FROM audit_log WHERE seq = 3",
				"UPDATE audit_head SET seq = 2, hash = (SELECT hash FROM audit_log WHERE seq = 2)"}
			if d.Dialect == db.Postgres {
				stmts[0] = "DROP TRIGGER audit_log_no_change ON audit_log"
			}
			for _, q := range stmts {
				if _, err := d.W.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			if code, out, _ := runMain(t, env, "audit", "verify"); code != ExitOK {
				t.Fatalf("plain verify of the cut trail: %d %s; the test needs it to pass", code, out)
			}
			code, out, _ = runMain(t, env, "audit", "verify", "--checkpoints", cpFile, "--public-key", pubFile)
			if code != ExitFailure || !strings.Contains(out, "audit trail ALTERED: first divergence at entry 3: the trail ends at entry 2 "+
				"but a checkpoint signed on ") || !strings.Contains(out, "restored from an older copy or entries were removed") ||
				!strings.Contains(out, "this copy of the trail predates 1 checkpoints: entry 3 (signed ") {
				t.Fatalf("verify of a rolled-back trail: %d %s", code, out)
			}
		})
	}
}
