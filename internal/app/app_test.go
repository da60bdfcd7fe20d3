package app

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/wardhq/ward/internal/config"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

func runMain(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), Env{
		Args: args, Stdout: &out, Stderr: &errb, Version: "1.2.3",
		Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	return code, out.String(), errb.String()
}

func TestVersionAndUsage(t *testing.T) {
	code, out, _ := runMain(t, nil, "version")
	// A test binary has no VCS information; its Go version is this one's.
	if code != ExitOK || !strings.HasPrefix(out, "ward 1.2.3\ncommit: unknown") ||
		!strings.Contains(out, "\ngo:     "+runtime.Version()+" "+runtime.GOOS+"/"+runtime.GOARCH+"\n") {
		t.Fatalf("version: %d %q", code, out)
	}
	if code, _, errs := runMain(t, nil, "serve", "--no-such-flag"); code != ExitUsage || !strings.Contains(errs, "no-such-flag") {
		t.Fatalf("bad flag: %d %s", code, errs)
	}
	if code, _, errs := runMain(t, nil, "serve", "--data", t.TempDir(), "--tls-cert", "x.pem"); code != ExitUsage ||
		!strings.Contains(errs, "tls-cert and tls-key") {
		t.Fatalf("cert without key: %d %s", code, errs)
	}
	if code, _, errs := runMain(t, nil, "migrate", "--data", t.TempDir(), "--db", "mysql://x"); code != ExitUsage ||
		!strings.Contains(errs, "db:") {
		t.Fatalf("bad db url: %d %s", code, errs)
	}
	if code, _, errs := runMain(t, map[string]string{"WARD_LOG_LEVEL": "loud"}, "migrate", "--data", t.TempDir()); code != ExitUsage ||
		!strings.Contains(errs, "log-level") {
		t.Fatalf("bad env log level: %d %s", code, errs)
	}
}

func TestMigrateTokenAndVerify(t *testing.T) {
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			data := t.TempDir()
			// Storage flags come from the environment twins here.
			env := map[string]string{"WARD_DATA": data, "WARD_DB": target.URL}
			code, out, errs := runMain(t, env, "token", "create", "--name", "early")
			if code == ExitOK || !strings.Contains(errs, "ward migrate") {
				t.Fatalf("token before migrate: %d %s %s", code, out, errs)
			}
			ms, err := db.Migrations(target.Dialect)
			if err != nil {
				t.Fatal(err)
			}
			code, out, errs = runMain(t, env, "migrate")
			if code != ExitOK || !strings.Contains(out, fmt.Sprintf("applied %d migrations", len(ms))) {
				t.Fatalf("migrate: %d %s %s", code, out, errs)
			}
			code, out, _ = runMain(t, env, "migrate")
			if code != ExitOK || !strings.Contains(out, "applied 0 migrations") {
				t.Fatalf("second migrate: %d %s", code, out)
			}
			code, out, errs = runMain(t, env, "token", "create", "--name", "ci")
			if code != ExitOK || !strings.HasPrefix(out, "ward_") || strings.Count(out, "\n") != 1 {
				t.Fatalf("token create printed %q (%s)", out, errs)
			}
			if code, _, errs = runMain(t, env, "token", "create", "--name", "ci"); code == ExitOK || !strings.Contains(errs, "exists") {
				t.Fatalf("duplicate token: %d %s", code, errs)
			}
			if code, _, errs = runMain(t, env, "token", "create", "--name", "x", "--role", "god"); code == ExitOK || !strings.Contains(errs, "role") {
				t.Fatalf("bad role: %d %s", code, errs)
			}
			code, out, _ = runMain(t, env, "audit", "verify")
			if code != ExitOK || !strings.Contains(out, "intact: 1 entries") {
				t.Fatalf("verify: %d %s", code, out)
			}
		})
	}
}

// TestAuditVerifyCatchesTampering alters a row behind Ward's back and
// expects `ward audit verify` to fail naming it.
func TestAuditVerifyCatchesTampering(t *testing.T) {
	data := t.TempDir()
	if code, _, errs := runMain(t, nil, "migrate", "--data", data); code != ExitOK {
		t.Fatal(errs)
	}
	for _, name := range []string{"a", "b", "c"} {
		if code, _, errs := runMain(t, nil, "token", "create", "--name", name, "--data", data); code != ExitOK {
			t.Fatal(errs)
		}
	}
	raw, err := sql.Open("sqlite", filepath.Join(data, "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, q := range []string{
		"DROP TRIGGER audit_log_no_update",
		"UPDATE audit_log SET actor = 'cli:mallory' WHERE seq = 2",
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	code, out, _ := runMain(t, nil, "audit", "verify", "--data", data)
	if code != ExitFailure || !strings.Contains(out, "BROKEN at sequence 2") {
		t.Fatalf("tampered chain: %d %s", code, out)
	}
}

// TestRefusesNewerSchema: a database migrated by a newer Ward is refused.
func TestRefusesNewerSchema(t *testing.T) {
	data := t.TempDir()
	if code, _, errs := runMain(t, nil, "migrate", "--data", data); code != ExitOK {
		t.Fatal(errs)
	}
	raw, err := sql.Open("sqlite", filepath.Join(data, "ward.db"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = raw.Exec("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, '0099_future.sql', $1)", time.Now())
	raw.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"serve", "--listen", "127.0.0.1:0"}, {"migrate"}, {"audit", "verify"}} {
		code, _, errs := runMain(t, nil, append(args, "--data", data)...)
		if code == ExitOK || !strings.Contains(errs, "newer than this Ward") {
			t.Fatalf("%v on a newer schema: %d %s", args, code, errs)
		}
	}
}

// TestServePlainHTTPWarns: --insecure-http serves HTTP and warns loudly.
func TestServePlainHTTPWarns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	var out, errb bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- Main(ctx, Env{Args: []string{"serve", "--insecure-http", "--listen", "127.0.0.1:0", "--data", t.TempDir()},
			Stdout: &out, Stderr: &errb, Ready: func(u string) { ready <- u }})
	}()
	var url string
	select {
	case url = <-ready:
	case code := <-done:
		t.Fatalf("exited %d: %s", code, errb.String())
	}
	cancel()
	if code := <-done; code != ExitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(url, "http://") || !strings.Contains(errb.String(), "plain_http_enabled") {
		t.Fatalf("url %s, log %s", url, errb.String())
	}
}

// TestHealthcheck asks a server for /readyz as the container's health check
// does: ready is exit 0, anything else exit 1 with the reason.
func TestHealthcheck(t *testing.T) {
	status := http.StatusOK
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(status)
	}))
	defer srv.Close()
	listen := strings.TrimPrefix(srv.URL, "https://")

	if code, out, errs := runMain(t, map[string]string{"WARD_LISTEN": listen}, "healthcheck"); code != ExitOK || out != "ready\n" {
		t.Errorf("ready server: exit %d, %q %s", code, out, errs)
	}
	status = http.StatusServiceUnavailable
	if code, _, errs := runMain(t, nil, "healthcheck", "--listen", listen); code != ExitFailure || !strings.Contains(errs, "503 Service Unavailable") {
		t.Errorf("unready server: exit %d, %s", code, errs)
	}
	srv.Close()
	if code, _, errs := runMain(t, nil, "healthcheck", "--listen", listen); code != ExitFailure || !strings.Contains(errs, "not ready") {
		t.Errorf("no server: exit %d, %s", code, errs)
	}
}

func TestReadyURL(t *testing.T) {
	for _, tt := range []struct {
		cfg        config.Config
		url, sname string
	}{
		{config.Config{Listen: "127.0.0.1:8443"}, "https://127.0.0.1:8443/readyz", ""},
		{config.Config{Listen: ":8443"}, "https://127.0.0.1:8443/readyz", ""},
		{config.Config{Listen: "0.0.0.0:8080", InsecureHTTP: true}, "http://127.0.0.1:8080/readyz", ""},
		{config.Config{Listen: "[::]:443", ACMEDomains: []string{"ward.example.org", "ir.example.org"}}, "https://127.0.0.1:443/readyz", "ward.example.org"},
	} {
		if url, sname := readyURL(tt.cfg); url != tt.url || sname != tt.sname {
			t.Errorf("readyURL(%+v) = %s %q, want %s %q", tt.cfg, url, sname, tt.url, tt.sname)
		}
	}
}
