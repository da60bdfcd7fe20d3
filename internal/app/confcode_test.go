package app

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// TestConfigCommands: ward config plan, apply (twice: the second is a
// no-op), export -o, and a refused file, which names its file and line.
func TestConfigCommands(t *testing.T) {
	t.Parallel()
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"WARD_DATA": t.TempDir(), "WARD_DB": target.URL}
			if code, _, errs := runMain(t, env, "migrate"); code != ExitOK {
				t.Fatal(errs)
			}
			d, err := db.Open(context.Background(), target.URL)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			if _, err := d.W.Exec(`INSERT INTO users (id, username, display_name, email, role, password_hash, disabled, created_at, updated_at)
				VALUES ('u1', 'alice', 'Alice', 'alice@example.org', 'responder', 'x', false, $1, $1)`, time.Now().UTC()); err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			files := map[string]string{
				"schedules.yaml":           "- name: Primary\n  time_zone: UTC\n  rotations:\n    - name: days\n      kind: daily\n      shift_length: 1\n      start: \"2026-11-02T09:00:00Z\"\n      participants: [alice]\n",
				"escalation_policies.yaml": "- name: Core\n  steps:\n    - delay_minutes: 5\n      targets:\n        - schedule: Primary\n",
				"services.yaml":            "- name: EHR\n  group_by: source\n  escalation_policy: Core\n",
			}
			for name, body := range files {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			code, out, errs := runMain(t, env, "config", "plan", "-f", dir)
			if code != ExitOK || !strings.Contains(out, `+ create service "EHR"`) || !strings.Contains(out, "3 changes planned") {
				t.Fatalf("plan: %d %s %s", code, out, errs)
			}
			if code, out, errs = runMain(t, env, "config", "apply", "-f", dir); code != ExitOK || !strings.Contains(out, "3 changes applied") {
				t.Fatalf("apply: %d %s %s", code, out, errs)
			}
			if code, out, errs = runMain(t, env, "config", "apply", "-f", dir); code != ExitOK || !strings.Contains(out, "no changes") {
				t.Fatalf("second apply: %d %s %s", code, out, errs)
			}
			exported := t.TempDir()
			if code, _, errs = runMain(t, env, "config", "export", "-o", exported); code != ExitOK {
				t.Fatalf("export: %s", errs)
			}
			if code, out, errs = runMain(t, env, "config", "plan", "-f", exported); code != ExitOK || !strings.Contains(out, "no changes") {
				t.Fatalf("plan of the export: %d %s %s", code, out, errs)
			}
			code, out, errs = runMain(t, env, "config", "export")
			if code != ExitOK || !strings.Contains(out, "escalation_policies:") {
				t.Fatalf("export of a bundle: %d %s %s", code, out, errs)
			}
			bundled := t.TempDir()
			if err := os.WriteFile(filepath.Join(bundled, "ward.yaml"), []byte(out), 0o600); err != nil {
				t.Fatal(err)
			}
			if code, out, errs = runMain(t, env, "config", "plan", "-f", bundled); code != ExitOK || !strings.Contains(out, "no changes") {
				t.Fatalf("plan of the bundle: %d %s %s", code, out, errs)
			}
			bad := filepath.Join(dir, "services.yaml")
			if err := os.WriteFile(bad, []byte("- name: EHR\n  escalation_policy: Nope\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			code, _, errs = runMain(t, env, "config", "apply", "-f", dir)
			if code == ExitOK || !strings.Contains(errs, bad+":2: escalation_policy") {
				t.Fatalf("bad apply: %d %s", code, errs)
			}
		})
	}
}
