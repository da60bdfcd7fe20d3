package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/keys/kmsfake"
)

// runWardEnv runs a command on data with exactly the environment env.
func runWardEnv(t *testing.T, data, dbURL string, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	args = append(args, "--data", data)
	if dbURL != "" {
		args = append(args, "--db", dbURL)
	}
	code := app.Main(context.Background(), app.Env{Args: args, Stdout: &out, Stderr: &errb, Version: "test",
		Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	return code, out.String(), errb.String()
}

// serveEnv is serveOnce on any database.
func serveEnv(t *testing.T, data, dbURL string, env map[string]string, whileUp func(url string)) (code int, stderr string, started bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	args := []string{"serve", "--listen", "127.0.0.1:0", "--data", data, "--log-level", "warn"}
	if dbURL != "" {
		args = append(args, "--db", dbURL)
	}
	var errb syncBuffer
	ready, done := make(chan string, 1), make(chan int, 1)
	go func() {
		done <- app.Main(ctx, app.Env{Args: args, Stdout: &bytes.Buffer{}, Stderr: &errb, Version: "test",
			Getenv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
			Ready:  func(url string) { ready <- url }})
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

func keyFile(t *testing.T) string {
	t.Helper()
	k := make([]byte, keys.MasterKeySize)
	_, _ = rand.Read(k)
	path := filepath.Join(t.TempDir(), "master.key")
	if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestKeysChangeMasterToVault: an installation with a local master key
// moves it to Vault's transit engine with `ward keys change-master`, then
// starts with only the Vault key URI and token, reads its sealed PHI, and
// asks Vault once at start, not per request. The old key file no longer
// opens it; a wrong token stops it with Vault's reason. Then it moves back
// to a new local key.
func TestKeysChangeMasterToVault(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		data := t.TempDir()
		oldKey := keyFile(t)
		w := startWardAt(t, data, dbURL, func(e *app.Env) {
			e.Getenv = func(k string) (string, bool) {
				if k == "WARD_MASTER_KEY_FILE" {
					return oldKey, true
				}
				return "", false
			}
		})
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "t", "description": canary}, &inc)
		w.stop()

		vault := kmsfake.Vault(t, "ward", "s.good")
		const uri = "hcvault://vault.example.com:8200/transit/keys/ward"
		code, out, stderr := runWardEnv(t, data, dbURL, map[string]string{"WARD_MASTER_KEY_FILE": oldKey, "VAULT_TOKEN": "s.good",
			"WARD_OUTBOUND_ALLOW": "127.0.0.1/32"},
			"keys", "change-master", "--new-master-key-uri", uri, "--new-kms-endpoint", vault.URL)
		if code != 0 || !strings.Contains(out, "the keyset is now encrypted by "+uri+" (it was local key file "+oldKey+")") ||
			!strings.Contains(out, "start Ward with WARD_MASTER_KEY_URI="+uri+" only") {
			t.Fatalf("change-master to Vault: %d\n%s\n%s", code, out, stderr)
		}

		// The fake Vault listens on loopback: only an allow-list lets Ward
		// reach it, and without one Ward does not start, naming the flag.
		onVault := map[string]string{"WARD_MASTER_KEY_URI": uri, "WARD_KMS_ENDPOINT": vault.URL, "VAULT_TOKEN": "s.good"}
		decrypts := vault.Decrypts.Load()
		code, stderr, started := serveEnv(t, data, dbURL, onVault, nil)
		if started || code == 0 || !strings.Contains(stderr, "refusing to connect to 127.0.0.1, a loopback address") ||
			!strings.Contains(stderr, "--outbound-allow") || vault.Decrypts.Load() != decrypts {
			t.Fatalf("Vault on 127.0.0.1 without --outbound-allow: started %v, exit %d, %d decrypts: %s", started, code,
				vault.Decrypts.Load()-decrypts, stderr)
		}
		onVault["WARD_OUTBOUND_ALLOW"] = "127.0.0.1/32"
		var got struct {
			Description string `json:"description"`
		}
		code, stderr, _ = serveEnv(t, data, dbURL, onVault, func(url string) {
			w.url = url
			for range 5 {
				w.must(http.StatusOK, "GET", "/api/v1/incidents/"+inc.ID, nil, &got)
			}
			w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+inc.ID+"/notes", map[string]any{"body": "on vault"}, nil)
		})
		if code != 0 || got.Description != canary {
			t.Fatalf("on Vault: exit %d, description %q: %s", code, got.Description, stderr)
		}
		if n := vault.Decrypts.Load() - decrypts; n != 1 {
			t.Errorf("Vault was asked to decrypt %d times for a start and six requests, want once", n)
		}

		code, stderr, started = serveEnv(t, data, dbURL, map[string]string{"WARD_MASTER_KEY_FILE": oldKey}, nil)
		if started || code != app.ExitUsage || !strings.Contains(stderr, "master key does not open this database's keyset") {
			t.Fatalf("old key file after the change: started %v, exit %d: %s", started, code, stderr)
		}
		wrong := map[string]string{"WARD_MASTER_KEY_URI": uri, "WARD_KMS_ENDPOINT": vault.URL, "VAULT_TOKEN": "s.wrong",
			"WARD_OUTBOUND_ALLOW": "127.0.0.1/32"}
		code, stderr, started = serveEnv(t, data, dbURL, wrong, nil)
		if started || code != app.ExitUsage || !strings.Contains(stderr, "the master key "+uri+" did not open this database's keyset") ||
			!strings.Contains(stderr, "Vault answered 403 Forbidden: permission denied") {
			t.Fatalf("wrong Vault token: started %v, exit %d: %s", started, code, stderr)
		}

		newKey := keyFile(t)
		code, out, stderr = runWardEnv(t, data, dbURL, onVault, "keys", "change-master", "--new-master-key-file", newKey)
		if code != 0 || !strings.Contains(out, "the keyset is now encrypted by local key file "+newKey+" (it was "+uri+")") {
			t.Fatalf("change-master back: %d\n%s\n%s", code, out, stderr)
		}
		code, stderr, _ = serveEnv(t, data, dbURL, map[string]string{"WARD_MASTER_KEY_FILE": newKey}, func(url string) {
			w.url = url
			w.must(http.StatusOK, "GET", "/api/v1/incidents/"+inc.ID, nil, &got)
			raw := w.must(http.StatusOK, "GET", "/api/v1/incidents/"+inc.ID+"/timeline", nil, nil)
			if !bytes.Contains(raw, []byte("on vault")) {
				t.Errorf("timeline: %s", raw)
			}
		})
		if code != 0 || got.Description != canary {
			t.Fatalf("back on a local key: exit %d, description %q: %s", code, got.Description, stderr)
		}

		if code, out, _ := runWardEnv(t, data, dbURL, nil, "audit", "verify"); code != 0 || !strings.Contains(out, "intact") {
			t.Fatalf("audit verify: %d %s", code, out)
		}
		d := openStore(t, w)
		var n int
		if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'keys.master_key_changed'`).Scan(&n); err != nil || n != 2 {
			t.Fatalf("master key change audit entries: %d %v", n, err)
		}
	})
}

// TestKeysChangeMasterUsage: the new master key must be given once, and
// differ from the current one.
func TestKeysChangeMasterUsage(t *testing.T) {
	t.Parallel()
	data := t.TempDir()
	k := keyFile(t)
	env := map[string]string{"WARD_MASTER_KEY_FILE": k}
	w := startWardAt(t, data, "", func(e *app.Env) { e.Getenv = func(n string) (string, bool) { v, ok := env[n]; return v, ok } })
	w.stop()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "give the new master key once"},
		{[]string{"--new-master-key-file", k, "--new-master-key-uri", "hcvault://v/transit/keys/w"}, "give the new master key once"},
		{[]string{"--new-master-key-file", k}, "the new master key is the one in use"},
		{[]string{"--new-master-key-uri", "vault://x"}, "must start with aws-kms://"},
	} {
		code, _, stderr := runWardEnv(t, data, "", env, append([]string{"keys", "change-master"}, tc.args...)...)
		if code != app.ExitUsage || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d: %s", tc.args, code, stderr)
		}
	}
	env["WARD_NEW_MASTER_KEY_FILE"] = k
	if code, _, stderr := runWardEnv(t, data, "", env, "keys", "change-master"); code != app.ExitUsage ||
		!strings.Contains(stderr, "the new master key is the one in use") {
		t.Errorf("WARD_NEW_MASTER_KEY_FILE: exit %d: %s", code, stderr)
	}
}

// TestKeysChangeMasterAcrossKMSs moves a keyset from a local key to AWS
// KMS, then from AWS KMS to Cloud KMS, restarting Ward on each with only
// that KMS's settings; the sealed PHI reads back every time.
func TestKeysChangeMasterAcrossKMSs(t *testing.T) {
	t.Parallel()
	const arn = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	const gcpKey = "projects/acme/locations/europe-west1/keyRings/ward/cryptoKeys/master"
	eachDBURL(t, func(t *testing.T, dbURL string) {
		data := t.TempDir()
		local := map[string]string{"WARD_MASTER_KEY_FILE": keyFile(t)}
		w := startWardAt(t, data, dbURL, func(e *app.Env) { e.Getenv = func(k string) (string, bool) { v, ok := local[k]; return v, ok } })
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "t", "description": canary}, &inc)
		w.stop()

		aws := kmsfake.AWS(t, arn, "AKIDWARD")
		onAWS := map[string]string{"WARD_MASTER_KEY_URI": "aws-kms://" + arn, "WARD_KMS_ENDPOINT": aws.URL,
			"AWS_ACCESS_KEY_ID": "AKIDWARD", "AWS_SECRET_ACCESS_KEY": "secret", "WARD_OUTBOUND_ALLOW": "127.0.0.1/32"}
		gcp := kmsfake.GCPKMS(t, gcpKey)
		onGCP := map[string]string{"WARD_MASTER_KEY_URI": "gcp-kms://" + gcpKey, "WARD_KMS_ENDPOINT": gcp.URL,
			"GOOGLE_APPLICATION_CREDENTIALS": gcp.Credentials(t, t.TempDir()), "WARD_OUTBOUND_ALLOW": "127.0.0.1/32"}

		steps := []struct {
			name     string
			from, to map[string]string
		}{{"aws", local, onAWS}, {"gcp", onAWS, onGCP}}
		for _, s := range steps {
			env := map[string]string{}
			for k, v := range s.from {
				env[k] = v
			}
			for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "GOOGLE_APPLICATION_CREDENTIALS", "WARD_OUTBOUND_ALLOW"} {
				if v, ok := s.to[k]; ok {
					env[k] = v
				}
			}
			code, out, stderr := runWardEnv(t, data, dbURL, env, "keys", "change-master",
				"--new-master-key-uri", s.to["WARD_MASTER_KEY_URI"], "--new-kms-endpoint", s.to["WARD_KMS_ENDPOINT"])
			if code != 0 || !strings.Contains(out, "the keyset is now encrypted by "+s.to["WARD_MASTER_KEY_URI"]) {
				t.Fatalf("change-master to %s: %d\n%s\n%s", s.name, code, out, stderr)
			}
			var got struct {
				Description string `json:"description"`
			}
			code, stderr, _ = serveEnv(t, data, dbURL, s.to, func(url string) {
				w.url = url
				w.must(http.StatusOK, "GET", "/api/v1/incidents/"+inc.ID, nil, &got)
			})
			if code != 0 || got.Description != canary {
				t.Fatalf("on %s: exit %d, description %q: %s", s.name, code, got.Description, stderr)
			}
		}
		if aws.Encrypts.Load() != 1 || gcp.Encrypts.Load() != 1 || gcp.Tokens.Load() == 0 {
			t.Errorf("KMS encrypts: AWS %d, Cloud KMS %d; Cloud KMS tokens %d", aws.Encrypts.Load(), gcp.Encrypts.Load(), gcp.Tokens.Load())
		}

		both := map[string]string{"WARD_MASTER_KEY_FILE": local["WARD_MASTER_KEY_FILE"]}
		for k, v := range onGCP {
			both[k] = v
		}
		code, stderr, started := serveEnv(t, data, dbURL, both, nil)
		if started || code != app.ExitUsage || !strings.Contains(stderr, "give one master key") {
			t.Fatalf("a KMS URI and a key file: started %v, exit %d: %s", started, code, stderr)
		}
	})
}
