package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

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
