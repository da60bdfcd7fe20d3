package e2e

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// buildWard compiles the ward binary once per test run.
var buildWard = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "ward-bin-")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "ward")
	out, err := exec.Command("go", "build", "-o", bin, "github.com/wardhq/ward/cmd/ward").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v: %s", err, out)
	}
	return bin, nil
})

// TestKillDuringWrites kills the server process (SIGKILL) in the middle of
// a burst of concurrent writes and checks that every write it acknowledged
// is there after a restart and that the audit chain still verifies.
func TestKillDuringWrites(t *testing.T) {
	t.Parallel()
	bin, err := buildWard()
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			data := t.TempDir()
			dbURL := target.URL
			if target.Dialect == db.SQLite {
				dbURL = filepath.Join(data, "ward.db")
			}
			code, out, errs := runWard(t, data, dbURL, "migrate")
			if code != 0 {
				t.Fatalf("migrate: %s %s", out, errs)
			}
			code, out, errs = runWard(t, data, dbURL, "token", "create", "--name", "crash")
			if code != 0 {
				t.Fatalf("token: %s", errs)
			}
			token := strings.TrimSpace(out)

			cmd := exec.Command(bin, "serve", "--listen", "127.0.0.1:0", "--data", data, "--db", dbURL, "--log-level", "error")
			stdout, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
			base := ""
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if _, after, ok := strings.Cut(sc.Text(), "serving at "); ok {
					base = after
					break
				}
			}
			if base == "" {
				t.Fatal("server printed no address")
			}
			go func() {
				for sc.Scan() {
				}
			}()

			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 16}}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var mu sync.Mutex
			var acked []string
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := 0; i < 2000 && ctx.Err() == nil; i++ {
						req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/v1/incidents",
							strings.NewReader(`{"title":"crash test","severity":"sev4"}`))
						req.Header.Set("Authorization", "Bearer "+token)
						req.Header.Set("Content-Type", "application/json")
						resp, err := client.Do(req)
						if err != nil {
							return // the server died
						}
						var inc incidentJSON
						err = json.NewDecoder(resp.Body).Decode(&inc)
						resp.Body.Close()
						if resp.StatusCode == http.StatusCreated && err == nil {
							mu.Lock()
							acked = append(acked, inc.ID)
							mu.Unlock()
						}
					}
				}()
			}
			// Kill once writes are flowing.
			deadline := time.Now().Add(15 * time.Second)
			for time.Now().Before(deadline) {
				mu.Lock()
				n := len(acked)
				mu.Unlock()
				if n >= 300 {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait()
			wg.Wait()
			if len(acked) < 300 {
				t.Fatalf("only %d writes acknowledged before the kill", len(acked))
			}

			d, err := db.Open(context.Background(), dbURL)
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close()
			for _, id := range acked {
				var n int
				if err := d.R.QueryRow("SELECT count(*) FROM incidents WHERE id = $1", id).Scan(&n); err != nil || n != 1 {
					t.Fatalf("acknowledged incident %s lost after kill (%v)", id, err)
				}
			}
			code, out, _ = runWard(t, data, dbURL, "audit", "verify")
			if code != 0 {
				t.Fatalf("audit chain broken after kill: %s", out)
			}
			t.Logf("%d acknowledged writes survived the kill; %s", len(acked), strings.TrimSpace(out))
		})
	}
}
