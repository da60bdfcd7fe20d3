// Package upgrade proves that a database made by one release of Ward
// upgrades to this one with nothing lost or altered. Populate fills a new
// Ward through its API and records what it reads back (a Manifest);
// fixturegen keeps such a database, with its master key and manifest, under
// testdata; the test migrates a copy with this Ward and compares every read
// with the recording (docs/RELEASING.md).
package upgrade

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/clock"
)

// Storage names a Ward installation: its data folder (the SQLite database
// when DB is empty), its --db URL and its master key file.
type Storage struct {
	Data string
	DB   string
	Key  string
}

func (s Storage) args(args ...string) []string {
	// The checkpoint signing key goes in the data folder, not beside the
	// fixture's master key under testdata.
	args = append(args, "--data", s.Data, "--master-key-file", s.Key, "--audit-signing-key-file", filepath.Join(s.Data, "audit-signing.key"))
	if s.DB != "" {
		args = append(args, "--db", s.DB)
	}
	return args
}

// Run runs one ward command on s and returns its exit code, stdout and
// stderr.
func (s Storage) Run(stdin string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := app.Main(context.Background(), app.Env{Args: s.args(args...), Stdin: strings.NewReader(stdin),
		Stdout: &out, Stderr: &errb, Version: "upgrade-test"})
	return code, out.String(), errb.String()
}

// Server is a running ward serve.
type Server struct {
	URL    string
	client *http.Client
	stop   func() error
}

// syncBuffer collects the server's stderr while it runs.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Serve starts ward serve on s at a free local port with clk as its
// clock and the extra flags given, and returns once it listens.
func Serve(s Storage, clk clock.Clock, flags ...string) (*Server, error) {
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan int, 1)
	var stderr syncBuffer
	env := app.Env{Args: s.args(append([]string{"serve", "--listen", "127.0.0.1:0", "--log-level", "warn"}, flags...)...),
		Stdout: io.Discard, Stderr: &stderr, Clock: clk, Version: "upgrade-test", Ready: func(u string) { ready <- u }}
	go func() { done <- app.Main(ctx, env) }()
	srv := &Server{client: &http.Client{Timeout: time.Minute, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, // the server's certificate is self-signed
	}}}
	select {
	case srv.URL = <-ready:
	case code := <-done:
		cancel()
		return nil, fmt.Errorf("ward serve exited with %d: %s", code, stderr.String())
	case <-time.After(time.Minute):
		cancel()
		return nil, fmt.Errorf("ward serve did not start within a minute: %s", stderr.String())
	}
	srv.stop = sync.OnceValue(func() error {
		cancel()
		srv.client.CloseIdleConnections()
		select {
		case code := <-done:
			if code != 0 {
				return fmt.Errorf("ward serve exited with %d: %s", code, stderr.String())
			}
			return nil
		case <-time.After(time.Minute):
			return fmt.Errorf("ward serve did not stop within a minute")
		}
	})
	return srv, nil
}

// Stop stops the server and waits for it.
func (s *Server) Stop() error { return s.stop() }

// Do sends one request with token (none when empty) and returns the status
// and body. A body that is a string is sent as it is with contentType;
// anything else as JSON.
func (s *Server) Do(token, method, path string, body any, contentType string) (int, []byte, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			return 0, nil, err
		}
		r, contentType = bytes.NewReader(raw), "application/json"
	}
	req, err := http.NewRequest(method, s.URL+path, r)
	if err != nil {
		return 0, nil, err
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp.StatusCode, raw, err
}
