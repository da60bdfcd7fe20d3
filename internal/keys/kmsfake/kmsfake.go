// Package kmsfake runs servers on 127.0.0.1 that speak the documented HTTP
// APIs of HashiCorp Vault's transit engine, AWS KMS and Google Cloud KMS
// well enough for Ward's master key: encrypt and decrypt with associated
// data under an AES-256-GCM key that never leaves the server, after
// checking each provider's credentials. Tests use them; they count every
// call, so a test can tell how often Ward asked the KMS.
package kmsfake

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
)

// Server is one fake KMS.
type Server struct {
	URL      string
	Encrypts atomic.Int64
	Decrypts atomic.Int64
	gcm      cipher.AEAD
}

func newServer(t testing.TB, h func(s *Server) http.Handler) *Server {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	b, err := aes.NewCipher(key)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{}
	if s.gcm, err = cipher.NewGCM(b); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h(s))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func (s *Server) seal(pt, ad []byte) []byte {
	nonce := make([]byte, s.gcm.NonceSize())
	_, _ = rand.Read(nonce)
	return s.gcm.Seal(nonce, nonce, pt, ad)
}

func (s *Server) open(ct, ad []byte) ([]byte, bool) {
	if len(ct) < s.gcm.NonceSize() {
		return nil, false
	}
	pt, err := s.gcm.Open(nil, ct[:s.gcm.NonceSize()], ct[s.gcm.NonceSize():], ad)
	return pt, err == nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// Vault serves POST /v1/MOUNT/encrypt/KEY and /v1/MOUNT/decrypt/KEY of
// the transit engine for the key named key, to requests whose
// X-Vault-Token is token.
func Vault(t testing.TB, key, token string) *Server {
	return newServer(t, func(s *Server) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			verbs := []string{"encrypt", "decrypt"}
			parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v1/"), "/")
			if r.Method != http.MethodPost || len(parts) < 3 || !contains(verbs, parts[len(parts)-2]) {
				writeJSON(w, http.StatusNotFound, map[string]any{"errors": []string{}})
				return
			}
			if r.Header.Get("X-Vault-Token") != token {
				writeJSON(w, http.StatusForbidden, map[string]any{"errors": []string{"permission denied"}})
				return
			}
			if parts[len(parts)-1] != key {
				writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []string{"encryption key not found"}})
				return
			}
			var in struct {
				Plaintext      string `json:"plaintext"`
				Ciphertext     string `json:"ciphertext"`
				AssociatedData string `json:"associated_data"`
			}
			if json.NewDecoder(r.Body).Decode(&in) != nil {
				writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []string{"failed to parse JSON input"}})
				return
			}
			ad, _ := base64.StdEncoding.DecodeString(in.AssociatedData)
			if parts[len(parts)-2] == "encrypt" {
				s.Encrypts.Add(1)
				pt, err := base64.StdEncoding.DecodeString(in.Plaintext)
				if err != nil {
					writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []string{"failed to base64-decode plaintext"}})
					return
				}
				ct := "vault:v1:" + base64.StdEncoding.EncodeToString(s.seal(pt, ad))
				writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"ciphertext": ct, "key_version": 1}})
				return
			}
			s.Decrypts.Add(1)
			raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(in.Ciphertext, "vault:v1:"))
			pt, ok := s.open(raw, ad)
			if err != nil || !ok {
				writeJSON(w, http.StatusBadRequest, map[string]any{"errors": []string{"cipher: message authentication failed"}})
				return
			}
			writeJSON(w, http.StatusOK, map[string]any{"data": map[string]any{"plaintext": base64.StdEncoding.EncodeToString(pt)}})
		})
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// AWS serves AWS KMS's JSON 1.1 protocol (POST / with X-Amz-Target
// TrentService.Encrypt or TrentService.Decrypt) for the key ARN arn, to
// requests signed with Signature Version 4 by the access key id
// accessKeyID. The encryption context is bound to the ciphertext as AWS
// does. The signature itself is not recomputed.
func AWS(t testing.TB, arn, accessKeyID string) *Server {
	return newServer(t, func(s *Server) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fail := func(status int, typ, msg string) {
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
				w.WriteHeader(status)
				_ = json.NewEncoder(w).Encode(map[string]string{"__type": typ, "message": msg})
			}
			auth := r.Header.Get("Authorization")
			if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+accessKeyID+"/") || !strings.Contains(auth, "Signature=") ||
				r.Header.Get("X-Amz-Date") == "" {
				fail(http.StatusBadRequest, "UnrecognizedClientException", "The security token included in the request is invalid.")
				return
			}
			if r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
				fail(http.StatusBadRequest, "SerializationException", "wrong content type")
				return
			}
			var in struct {
				KeyID             string            `json:"KeyId"`
				Plaintext         []byte            `json:"Plaintext"`
				CiphertextBlob    []byte            `json:"CiphertextBlob"`
				EncryptionContext map[string]string `json:"EncryptionContext"`
			}
			if json.NewDecoder(r.Body).Decode(&in) != nil {
				fail(http.StatusBadRequest, "SerializationException", "bad JSON")
				return
			}
			if in.KeyID != arn {
				fail(http.StatusBadRequest, "NotFoundException", "Key '"+in.KeyID+"' does not exist")
				return
			}
			ad := canonicalContext(in.EncryptionContext)
			switch r.Header.Get("X-Amz-Target") {
			case "TrentService.Encrypt":
				s.Encrypts.Add(1)
				writeJSON(w, http.StatusOK, map[string]any{"CiphertextBlob": s.seal(in.Plaintext, ad), "KeyId": arn,
					"EncryptionAlgorithm": "SYMMETRIC_DEFAULT"})
			case "TrentService.Decrypt":
				s.Decrypts.Add(1)
				pt, ok := s.open(in.CiphertextBlob, ad)
				if !ok {
					fail(http.StatusBadRequest, "InvalidCiphertextException", "")
					return
				}
				writeJSON(w, http.StatusOK, map[string]any{"Plaintext": pt, "KeyId": arn, "EncryptionAlgorithm": "SYMMETRIC_DEFAULT"})
			default:
				fail(http.StatusBadRequest, "UnknownOperationException", "")
			}
		})
	})
}

func canonicalContext(c map[string]string) []byte {
	ks := make([]string, 0, len(c))
	for k := range c {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var b strings.Builder
	for _, k := range ks {
		b.WriteString(k + "\x00" + c[k] + "\x00")
	}
	return []byte(b.String())
}

// GCP serves Cloud KMS's REST API (POST /v1/NAME:encrypt and :decrypt) for
// the key named name, to requests bearing an access token that its own
// OAuth token endpoint (/token) issued. Credentials writes a service
// account file whose token_uri points there.
type GCP struct {
	*Server
	Tokens atomic.Int64 // access tokens issued
}

// GCPKMS starts a fake Cloud KMS holding the key name
// (projects/…/cryptoKeys/…).
func GCPKMS(t testing.TB, name string) *GCP {
	g := &GCP{}
	token := "ya29.fake-" + rand.Text()
	g.Server = newServer(t, func(s *Server) http.Handler {
		mux := http.NewServeMux()
		mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
			if r.FormValue("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" || r.FormValue("assertion") == "" {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
				return
			}
			g.Tokens.Add(1)
			writeJSON(w, http.StatusOK, map[string]any{"access_token": token, "token_type": "Bearer", "expires_in": 3600})
		})
		mux.HandleFunc("POST /v1/", func(w http.ResponseWriter, r *http.Request) {
			fail := func(code int, status, msg string) {
				writeJSON(w, code, map[string]any{"error": map[string]any{"code": code, "message": msg, "status": status}})
			}
			if r.Header.Get("Authorization") != "Bearer "+token {
				fail(http.StatusUnauthorized, "UNAUTHENTICATED", "Request had invalid authentication credentials.")
				return
			}
			path, verb, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v1/"), ":")
			if path != name {
				fail(http.StatusNotFound, "NOT_FOUND", path+" not found.")
				return
			}
			var in struct {
				Plaintext  []byte `json:"plaintext"`
				Ciphertext []byte `json:"ciphertext"`
				AAD        []byte `json:"additionalAuthenticatedData"`
			}
			if json.NewDecoder(r.Body).Decode(&in) != nil {
				fail(http.StatusBadRequest, "INVALID_ARGUMENT", "Invalid JSON payload received.")
				return
			}
			switch verb {
			case "encrypt":
				s.Encrypts.Add(1)
				writeJSON(w, http.StatusOK, map[string]any{"name": name + "/cryptoKeyVersions/1", "ciphertext": s.seal(in.Plaintext, in.AAD)})
			case "decrypt":
				s.Decrypts.Add(1)
				pt, ok := s.open(in.Ciphertext, in.AAD)
				if !ok {
					fail(http.StatusBadRequest, "INVALID_ARGUMENT", "Decryption failed: the ciphertext is invalid.")
					return
				}
				writeJSON(w, http.StatusOK, map[string]any{"plaintext": pt})
			default:
				fail(http.StatusNotFound, "NOT_FOUND", "unknown method")
			}
		})
		return mux
	})
	return g
}

// Credentials writes a service account key file for this fake into dir and
// returns its path, for GOOGLE_APPLICATION_CREDENTIALS.
func (g *GCP) Credentials(t testing.TB, dir string) string {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "p", "private_key_id": "1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email": "ward@p.iam.gserviceaccount.com", "client_id": "1", "token_uri": g.URL + "/token",
	})
	path := filepath.Join(dir, "gcp-credentials.json")
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
