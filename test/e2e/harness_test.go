// Package e2e runs whole-Ward tests: the same app.Main the binary runs,
// over real HTTPS, on SQLite and (when configured) PostgreSQL.
package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// ward is one running Ward server.
type ward struct {
	t      testing.TB
	url    string // base URL, https://127.0.0.1:port
	data   string
	dbURL  string
	token  string
	client *http.Client
	stop   func()      // stops the server and waits for it; safe to call twice
	logs   *syncBuffer // what the server wrote to stderr
}

// run runs a ward command against the server's storage and returns its
// exit code, stdout and stderr.
func (w *ward) run(args ...string) (int, string, string) {
	return runWard(w.t, w.data, w.dbURL, args...)
}

func runWard(t testing.TB, data, dbURL string, args ...string) (int, string, string) {
	t.Helper()
	return runWardIn(t, data, dbURL, "", args...)
}

// runWardIn is runWard with stdin.
func runWardIn(t testing.TB, data, dbURL, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	full := append(args, "--data", data)
	if dbURL != "" {
		full = append(full, "--db", dbURL)
	}
	code := app.Main(context.Background(), app.Env{Args: full, Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errb,
		Version: "test"})
	return code, out.String(), errb.String()
}

// startWard boots Ward on a free port with a fresh database at dbURL (""
// for SQLite in the data folder) and an admin token.
func startWard(t testing.TB, dbURL string) *ward {
	t.Helper()
	return startWardAt(t, t.TempDir(), dbURL)
}

// startWardAt is startWard with a given data folder; opts adjust the
// server's Env (a fake clock, say).
func startWardAt(t testing.TB, data, dbURL string, opts ...func(*app.Env)) *ward {
	t.Helper()
	w := &ward{t: t, data: data, dbURL: dbURL}
	if dbURL == "" {
		// The data folder's SQLite database, already migrated unless a
		// test made it (dbtest.MigratedTargets says why).
		if _, err := os.Stat(filepath.Join(data, "ward.db")); errors.Is(err, fs.ErrNotExist) {
			dbtest.CopyMigratedSQLite(t, filepath.Join(data, "ward.db"))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan int, 1)
	args := []string{"serve", "--listen", "127.0.0.1:0", "--data", w.data, "--log-level", "warn"}
	if dbURL != "" {
		args = append(args, "--db", dbURL)
	}
	var stderr syncBuffer
	env := app.Env{Args: args, Stdout: io.Discard, Stderr: &stderr, Version: "test", Ready: func(u string) { ready <- u }}
	for _, o := range opts {
		o(&env)
	}
	go func() { done <- app.Main(ctx, env) }()
	select {
	case w.url = <-ready:
	case code := <-done:
		cancel()
		t.Fatalf("ward serve exited with %d: %s", code, stderr.String())
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("ward serve did not start within 30s")
	}
	w.logs = &stderr
	w.stop = sync.OnceFunc(func() {
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("ward serve exited with %d: %s", code, stderr.String())
			}
		case <-time.After(15 * time.Second):
			t.Error("ward serve did not stop within 15s")
		}
	})
	t.Cleanup(w.stop)
	w.client = &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{InsecureSkipVerify: true}, // the server's certificate is self-signed
			MaxIdleConnsPerHost: 64,
		},
	}
	t.Cleanup(w.client.CloseIdleConnections)
	// A restarted server on the same data gets a token of its own.
	code, out, errs := w.run("token", "create", "--name", "e2e-"+filepath.Base(data)+"-"+strconv.FormatInt(tokenSeq.Add(1), 10))
	if code != 0 {
		t.Fatalf("token create: %d %s", code, errs)
	}
	w.token = strings.TrimSpace(out)
	return w
}

// tokenSeq numbers the tokens startWardAt makes.
var tokenSeq atomic.Int64

// eachDB runs fn against a fresh Ward on every configured database.
func eachDB(t *testing.T, fn func(t *testing.T, w *ward)) {
	eachDBURL(t, func(t *testing.T, dbURL string) { fn(t, startWard(t, dbURL)) })
}

// eachDBURL runs fn in a subtest per configured database with the --db
// value that selects it ("" for the default, SQLite in the data folder),
// for tests that start Ward themselves.
func eachDBURL(t *testing.T, fn func(t *testing.T, dbURL string)) {
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			dbURL := target.URL
			if target.Dialect == "sqlite" {
				dbURL = ""
			}
			fn(t, dbURL)
		})
	}
}

// do sends a request with the admin token and decodes a JSON response into
// out (when non-nil). It returns the status code and raw body.
func (w *ward) do(method, path string, body any, out any) (int, []byte) {
	w.t.Helper()
	return w.doAs(w.token, method, path, body, out)
}

func (w *ward) doAs(token, method, path string, body any, out any) (int, []byte) {
	w.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			w.t.Fatal(err)
		}
		rd = bytes.NewReader(buf)
	}
	req, err := http.NewRequest(method, w.url+path, rd)
	if err != nil {
		w.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		w.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		w.t.Fatal(err)
	}
	if out != nil && resp.StatusCode < 300 {
		reflect.ValueOf(out).Elem().SetZero() // fields the response omits must not keep old values
		if err := json.Unmarshal(raw, out); err != nil {
			w.t.Fatalf("%s %s: decode %s: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode, raw
}

// must is do that fails the test unless the status is want.
func (w *ward) must(want int, method, path string, body any, out any) []byte {
	w.t.Helper()
	code, raw := w.do(method, path, body, out)
	if code != want {
		w.t.Fatalf("%s %s: status %d, want %d: %s", method, path, code, want, raw)
	}
	return raw
}

// syncBuffer is a bytes.Buffer safe for the server goroutine to write.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// awaitRetentionRun waits for the retention run a cluster's first node
// starts as it starts, whose audit entry lands whenever the run ends, and returns how
// many runs the trail records. A test that counts entries, or reads the
// last ones, waits for it first.
func awaitRetentionRun(t *testing.T, d *db.DB) int {
	t.Helper()
	var n int
	eventually(t, "the leader's first retention run", func() bool {
		if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'retention.run'`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	})
	return n
}
