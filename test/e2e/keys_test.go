package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
)

// serveOnce runs `ward serve` on data with the given environment and
// returns its exit code and stderr. If the server starts, whileUp (if
// given) runs with its URL, then the server is stopped.
func serveOnce(t *testing.T, data string, env map[string]string, whileUp func(url string)) (code int, stderr string, started bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errb syncBuffer
	ready, done := make(chan string, 1), make(chan int, 1)
	go func() {
		done <- app.Main(ctx, app.Env{
			Args:   []string{"serve", "--listen", "127.0.0.1:0", "--data", data, "--log-level", "warn"},
			Stdout: &bytes.Buffer{}, Stderr: &errb, Version: "test",
			Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
			Ready:  func(url string) { ready <- url },
		})
	}()
	select {
	case url := <-ready:
		started = true
		if whileUp != nil {
			whileUp(url)
		}
		cancel()
		code = <-done
	case code = <-done:
	}
	return code, errb.String(), started
}

// TestMasterKeyAtStartup: once the database holds a keyset, a wrong master
// key or a lost one stops Ward at startup with a clear message, and no new
// key or keyset is made; the right key, given from outside the data folder,
// starts it and the PHI reads back.
func TestMasterKeyAtStartup(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	w := startWardAt(t, data, "")
	if !strings.Contains(w.logs.String(), "master_key_beside_data") {
		t.Errorf("no warning about the generated master key: %s", w.logs.String())
	}
	var inc incidentJSON
	w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "t", "description": canary}, &inc)
	w.stop()

	other := make([]byte, keys.MasterKeySize)
	_, _ = rand.Read(other)
	code, stderr, started := serveOnce(t, data, map[string]string{"WARD_MASTER_KEY": base64.StdEncoding.EncodeToString(other)}, nil)
	if started || code != app.ExitUsage || !strings.Contains(stderr, "master key does not open this database's keyset") {
		t.Fatalf("wrong master key: started %v, exit %d: %s", started, code, stderr)
	}

	// The key file moved out of the data folder, as production should keep it.
	keyFile := filepath.Join(t.TempDir(), "ward-master.key")
	if err := os.Rename(filepath.Join(data, keys.MasterKeyFile), keyFile); err != nil {
		t.Fatal(err)
	}
	code, stderr, started = serveOnce(t, data, nil, nil)
	if started || code != app.ExitUsage || !strings.Contains(stderr, "master key that was not given") {
		t.Fatalf("no master key: started %v, exit %d: %s", started, code, stderr)
	}
	if _, err := os.Stat(filepath.Join(data, keys.MasterKeyFile)); !os.IsNotExist(err) {
		t.Fatalf("a new master key was made beside a database that has a keyset: %v", err)
	}

	var got struct {
		Description string `json:"description"`
	}
	code, stderr, _ = serveOnce(t, data, map[string]string{"WARD_MASTER_KEY_FILE": keyFile}, func(url string) {
		w.url = url
		w.must(http.StatusOK, "GET", "/api/v1/incidents/"+inc.ID, nil, &got)
	})
	if code != 0 || got.Description != canary {
		t.Fatalf("with WARD_MASTER_KEY_FILE: exit %d, description %q: %s", code, got.Description, stderr)
	}
	if strings.Contains(stderr, "master_key_beside_data") {
		t.Errorf("warned about a master key that is not in the data folder: %s", stderr)
	}
}

// TestKeysRotate runs `ward keys rotate` beside a running server: every
// sealed value ends under the new key, the server reads them all and goes
// on writing, and the audit trail records the rotation and verifies.
func TestKeysRotate(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var ids []string
		for i := range 3 {
			var inc incidentJSON
			w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "t",
				"description": fmt.Sprintf("patient %d", i)}, &inc)
			w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+inc.ID+"/notes", map[string]any{"body": fmt.Sprintf("note %d", i)}, nil)
			ids = append(ids, inc.ID)
		}
		before := keyIDs(t, w)
		code, out, stderr := w.run("keys", "rotate", "--settle", "0", "--batch-size", "2")
		if code != 0 {
			t.Fatalf("keys rotate: %d %s", code, stderr)
		}
		if !strings.Contains(stderr, "is the new primary key") || !strings.Contains(stderr, "incidents.description: 3/3 checked, 3 re-encrypted") ||
			!strings.Contains(out, "re-encrypted 3 in incidents.description, 3 in incident_events.note, 0 in user_totp.secret") {
			t.Fatalf("keys rotate output:\n%s\n%s", out, stderr)
		}
		after := keyIDs(t, w)
		if len(after) != 1 || len(before) != 1 || after[0] == before[0] {
			t.Fatalf("keys before %v, after %v", before, after)
		}
		for i, id := range ids {
			var got struct {
				Description string `json:"description"`
			}
			if w.must(http.StatusOK, "GET", "/api/v1/incidents/"+id, nil, &got); got.Description != fmt.Sprintf("patient %d", i) {
				t.Fatalf("after rotation: %q", got.Description)
			}
			raw := w.must(http.StatusOK, "GET", "/api/v1/incidents/"+id+"/timeline", nil, nil)
			if !bytes.Contains(raw, fmt.Appendf(nil, "note %d", i)) {
				t.Fatalf("timeline after rotation: %s", raw)
			}
		}
		w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+ids[0]+"/notes", map[string]any{"body": "after"}, nil)
		if code, out, _ := w.run("audit", "verify"); code != 0 || !strings.Contains(out, "intact") {
			t.Fatalf("audit verify: %d %s", code, out)
		}
		d := openStore(t, w)
		var n int
		if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action IN ('keys.rotation_started', 'keys.rotation_finished')`).
			Scan(&n); err != nil || n != 2 {
			t.Fatalf("rotation audit entries: %d %v", n, err)
		}
	})
}

func openStore(t *testing.T, w *ward) *db.DB {
	t.Helper()
	url := w.dbURL
	if url == "" {
		url = filepath.Join(w.data, "ward.db")
	}
	d, err := db.Open(t.Context(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// keyIDs returns the ids of the keys that sealed the incidents' sealed
// columns, each once, in order.
func keyIDs(t *testing.T, w *ward) []uint32 {
	t.Helper()
	d := openStore(t, w)
	var ids []uint32
	for _, c := range []keys.Column{keys.IncidentDescription, keys.IncidentEventNote} {
		rows, err := d.R.Query("SELECT " + c.Name + " FROM " + c.Table + " WHERE " + c.Name + " <> ''")
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var v string
			if err := rows.Scan(&v); err != nil {
				t.Fatal(err)
			}
			id, ok := keys.KeyIDOf(v)
			if !ok {
				t.Fatalf("%s holds an unsealed value", c)
			}
			ids = append(ids, id)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// BenchmarkListFirstPageSealed is BenchmarkListFirstPage with every one of
// the 100,000 incidents carrying a sealed description, so that each page
// opens 50 of them: for the admin token, which sees them (and so records
// the PHI read), and for a stakeholder token, which has them withheld.
func BenchmarkListFirstPageSealed(b *testing.B) {
	data := b.TempDir()
	seedIncidents(b, data, 100_000)
	sealDescriptions(b, data)
	w := startWardAt(b, data, "")
	code, out, errs := w.run("token", "create", "--name", "stakeholder", "--role", "stakeholder")
	if code != 0 {
		b.Fatal(errs)
	}
	stakeholder := strings.TrimSpace(out)
	runs := []struct{ name, token, query, want string }{
		{"limit=50", w.token, "limit=50", "sent to the wrong clinic"},
		{"limit=50&severity=sev1", w.token, "limit=50&severity=sev1", "sent to the wrong clinic"},
		{"limit=50&status=containment&phi_suspected=true", w.token, "limit=50&status=containment&phi_suspected=true",
			"sent to the wrong clinic"},
		{"limit=50&q=ransomware", w.token, "limit=50&q=ransomware", "sent to the wrong clinic"},
		{"stakeholder/limit=50", stakeholder, "limit=50", `"phi_redacted":true`},
	}
	for _, r := range runs {
		b.Run(r.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				start := time.Now()
				code, raw := w.doAs(r.token, http.MethodGet, "/api/v1/incidents?"+r.query, nil, nil)
				lat = append(lat, time.Since(start))
				if code != http.StatusOK || !bytes.Contains(raw, []byte(r.want)) {
					b.Fatalf("%d, no %s in %s", code, r.want, raw)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
		})
	}
}

// sealDescriptions gives every incident in data's database a description
// sealed with the keyset that the server will find there.
func sealDescriptions(b *testing.B, data string) {
	b.Helper()
	ctx := context.Background()
	raw, _, err := keys.FindMasterKey(keys.MasterKeySources{DataDir: data, Generate: true})
	if err != nil {
		b.Fatal(err)
	}
	master, err := keys.LocalMasterKey(raw)
	if err != nil {
		b.Fatal(err)
	}
	d, err := db.Open(ctx, filepath.Join(data, "ward.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	kr, err := keys.Load(ctx, d, master, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	rows, err := d.R.Query("SELECT id FROM incidents")
	if err != nil {
		b.Fatal(err)
	}
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			b.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Close(); err != nil {
		b.Fatal(err)
	}
	err = d.Write(ctx, func(tx *sql.Tx) error {
		for i, id := range ids {
			c := keys.IncidentDescription
			v, err := kr.Seal(fmt.Appendf(nil, "Lab results for patient %d (MRN %07d) sent to the wrong clinic; the recipient "+
				"confirmed deletion.", i, i), c.Table, c.Name, id)
			if err != nil {
				return err
			}
			if _, err := tx.Exec("UPDATE incidents SET description = $1 WHERE id = $2", v, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
}
