package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// TestBackupCommands: ward backup keygen, create, verify and restore from
// the command line on both databases; the restore checks the audit chain
// and that the master key opens the restored keyset; a wrong key, a
// truncated file and a non-empty target fail with the reason.
func TestBackupCommands(t *testing.T) {
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			data, keys := t.TempDir(), t.TempDir()
			master := filepath.Join(keys, "master.key")
			if err := os.WriteFile(master, []byte("CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			env := map[string]string{"WARD_DB": target.URL, "WARD_MASTER_KEY_FILE": master}
			if target.Dialect == "sqlite" {
				env["WARD_DB"] = ""
			}
			if code, _, errs := runMain(t, env, "migrate", "--data", data); code != ExitOK {
				t.Fatalf("migrate: %s", errs)
			}
			if code, _, errs := runMain(t, env, "token", "create", "--data", data, "--name", "ci"); code != ExitOK {
				t.Fatalf("token: %s", errs)
			}
			key := filepath.Join(keys, "backup.key")
			if code, _, errs := runMain(t, env, "backup", "create", "--data", data, "--out", filepath.Join(keys, "x.wbk")); code != ExitUsage ||
				!strings.Contains(errs, "backup-key-file: required") {
				t.Fatalf("create without a key: %d %s", code, errs)
			}
			if code, _, errs := runMain(t, env, "backup", "keygen", "--out", key); code != ExitOK {
				t.Fatalf("keygen: %s", errs)
			}
			if code, _, errs := runMain(t, env, "backup", "keygen", "--out", key); code != ExitUsage || !strings.Contains(errs, "never overwritten") {
				t.Fatalf("keygen over a key: %d %s", code, errs)
			}
			file := filepath.Join(keys, "ward.wbk")
			code, out, errs := runMain(t, env, "backup", "create", "--data", data, "--out", file, "--backup-key-file", key)
			if code != ExitOK || !strings.Contains(out, "api_tokens") || !strings.Contains(errs, "master key is not in the backup") {
				t.Fatalf("create: %d %s %s", code, out, errs)
			}
			env["WARD_BACKUP_KEY_FILE"] = key
			if code, out, errs := runMain(t, env, "backup", "verify", file); code != ExitOK || !strings.Contains(out, "verified") {
				t.Fatalf("verify: %d %s %s", code, out, errs)
			}
			whole, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			cut := filepath.Join(keys, "cut.wbk")
			if err := os.WriteFile(cut, whole[:len(whole)-10], 0o600); err != nil {
				t.Fatal(err)
			}
			if code, out, _ := runMain(t, env, "backup", "verify", cut); code != ExitFailure || !strings.Contains(out, "truncated") {
				t.Fatalf("verify a truncated backup: %d %s", code, out)
			}
			if code, out, _ := runMain(t, map[string]string{"WARD_BACKUP_PASSPHRASE": "not the key that made this backup"},
				"backup", "verify", file); code != ExitFailure || !strings.Contains(out, "made with a backup key file") {
				t.Fatalf("verify with a passphrase: %d %s", code, out)
			}
			if code, _, errs := runMain(t, env, "backup", "restore", "--data", data, file); code != ExitFailure ||
				!strings.Contains(errs, "not empty") {
				t.Fatalf("restore over the live data: %d %s", code, errs)
			}

			fresh := t.TempDir()
			renv := map[string]string{"WARD_BACKUP_KEY_FILE": key, "WARD_MASTER_KEY_FILE": master}
			if target.Dialect != "sqlite" {
				renv["WARD_DB"] = dbtest.PostgresURL(t)
			}
			code, out, errs = runMain(t, renv, "backup", "restore", "--data", fresh, file)
			if code != ExitOK || !strings.Contains(out, "audit trail intact") || !strings.Contains(out, "opens the restored keyset") {
				t.Fatalf("restore: %d %s %s", code, out, errs)
			}
			if code, out, errs := runMain(t, renv, "audit", "verify", "--data", fresh); code != ExitOK || !strings.Contains(out, "intact") {
				t.Fatalf("audit verify after restore: %d %s %s", code, out, errs)
			}
		})
	}
}

// TestRestoreChecksCheckpoints: a restore proves the restored trail
// against the checkpoints (those the backup holds, or the published ones
// given with --checkpoints) and names the published checkpoints the
// backup predates; the rollback is recorded as a new audit segment, so
// `ward audit verify` on the restored data reports it as a recorded break.
func TestRestoreChecksCheckpoints(t *testing.T) {
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			ctx := context.Background()
			data, keys := t.TempDir(), t.TempDir()
			signing, cpFile, key := filepath.Join(keys, "audit-signing.key"), filepath.Join(keys, "checkpoints.jsonl"),
				filepath.Join(keys, "backup.key")
			env := map[string]string{"WARD_DB": target.URL, "WARD_AUDIT_SIGNING_KEY_FILE": signing, "WARD_BACKUP_KEY_FILE": key}
			if target.Dialect == "sqlite" {
				env["WARD_DB"] = ""
			}
			if code, _, errs := runMain(t, env, "migrate", "--data", data); code != ExitOK {
				t.Fatalf("migrate: %s", errs)
			}
			if code, _, errs := runMain(t, env, "backup", "keygen", "--out", key); code != ExitOK {
				t.Fatalf("keygen: %s", errs)
			}
			url := target.URL
			if target.Dialect == "sqlite" {
				url = filepath.Join(data, "ward.db")
			}
			d, err := db.Open(ctx, url)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			sk, _, err := audit.LoadSigningKey(signing)
			if err != nil {
				t.Fatal(err)
			}
			cp := audit.NewCheckpointer(d, clock.Real{}, sk, audit.CheckpointOptions{Entries: 1, Node: "ward-1",
				Publishers: []audit.Publisher{audit.FilePublisher{Path: cpFile}}})
			tokens := func(names ...string) {
				for _, name := range names {
					if code, _, errs := runMain(t, env, "token", "create", "--data", data, "--name", name); code != ExitOK {
						t.Fatalf("token: %s", errs)
					}
				}
				if c, err := cp.Tick(ctx); err != nil || c == nil {
					t.Fatalf("checkpoint: %+v %v", c, err)
				}
			}
			tokens("a", "b") // checkpoint at entry 2, in the backup
			file := filepath.Join(keys, "ward.wbk")
			if code, _, errs := runMain(t, env, "backup", "create", "--data", data, "--out", file); code != ExitOK {
				t.Fatalf("create: %s", errs)
			}
			tokens("c", "d") // checkpoint at entry 5 (after the backup's own entry), published after the backup

			restore := func(args ...string) (string, map[string]string) {
				fresh := t.TempDir()
				renv := map[string]string{"WARD_BACKUP_KEY_FILE": key, "WARD_AUDIT_SIGNING_KEY_FILE": signing}
				if target.Dialect != "sqlite" {
					renv["WARD_DB"] = dbtest.PostgresURL(t)
				}
				code, out, errs := runMain(t, renv, append([]string{"backup", "restore", "--data", fresh, file}, args...)...)
				if code != ExitOK {
					t.Fatalf("restore %v: %d %s %s", args, code, out, errs)
				}
				renv["WARD_DATA"] = fresh
				return out, renv
			}
			out, _ := restore()
			if !strings.Contains(out, "audit trail proved against 1 of the checkpoints the restored database holds; the newest covers entry 2") {
				t.Fatalf("restore against the backup's own checkpoints:\n%s", out)
			}
			out, renv := restore("--checkpoints", cpFile)
			if !strings.Contains(out, "this backup PREDATES 1 of them: entries 3 to 5 were written after the backup") ||
				!strings.Contains(out, "the rollback is recorded in the trail: segment 2, from entry 6") {
				t.Fatalf("restore against the published checkpoints:\n%s", out)
			}
			code, out, errs := runMain(t, renv, "audit", "verify")
			if code != ExitOK || !strings.Contains(out, "the trail has 2 segments; 1 recorded breaks") ||
				!strings.Contains(out, "a backup ending at entry 2 was restored") {
				t.Fatalf("audit verify after the restore: %d %s %s", code, out, errs)
			}
		})
	}
}
