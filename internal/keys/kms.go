package keys

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go/aws"
	"github.com/aws/aws-sdk-go/aws/credentials"
	"github.com/aws/aws-sdk-go/aws/session"
	"github.com/aws/aws-sdk-go/service/kms"
	"github.com/tink-crypto/tink-go-awskms/v2/integration/awskms"
	"github.com/tink-crypto/tink-go/v2/tink"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/wardhq/ward/internal/outbound"
)

// The key URI schemes Ward takes for a master key held in a KMS. They are
// Tink's (github.com/tink-crypto/tink-go-*kms), so a URI written for another
// Tink program names the same key here.
const (
	AWSKMSPrefix  = "aws-kms://" // aws-kms://arn:aws:kms:REGION:ACCOUNT:key/ID
	GCPKMSPrefix  = "gcp-kms://" // gcp-kms://projects/P/locations/L/keyRings/R/cryptoKeys/K
	VaultPrefix   = "hcvault://" // hcvault://HOST[:PORT]/MOUNT/keys/NAME (Vault transit)
	kmsCallBudget = 30 * time.Second
)

// KMSOptions say how to reach a KMS. Credentials come from each provider's
// usual places, read through Getenv (os.LookupEnv in production).
type KMSOptions struct {
	// Endpoint replaces the provider's service URL: a private endpoint
	// (AWS VPC endpoint, GCP Private Service Connect) or a test server.
	// For Vault it replaces the address the URI names.
	Endpoint string
	Getenv   func(string) (string, bool)
	// Outbound guards the calls to the KMS (--outbound-allow): a KMS on a
	// loopback, private or link-local address must be allow-listed. nil
	// allows none. Credentials are fetched as each provider's SDK does,
	// from the instance metadata service included, outside the guard.
	Outbound *outbound.Guard
}

func (o KMSOptions) env(k string) string {
	if o.Getenv == nil {
		return ""
	}
	v, _ := o.Getenv(k)
	return v
}

// kmsMaster is a master key held in a KMS: every Encrypt and Decrypt is a
// call to the KMS, which is why Ward calls it only to open or re-wrap the
// keyset, never per request.
type kmsMaster struct {
	tink.AEAD
	uri string
}

// KMSURI returns the key URI of a master key held in a KMS, or "" for a
// local one.
func KMSURI(m MasterKey) string {
	if k, ok := m.(*kmsMaster); ok {
		return k.uri
	}
	return ""
}

// IsKMSURI reports whether s has one of the KMS key URI schemes.
func IsKMSURI(s string) bool {
	for _, p := range []string{AWSKMSPrefix, GCPKMSPrefix, VaultPrefix} {
		if strings.HasPrefix(strings.ToLower(s), p) {
			return true
		}
	}
	return false
}

// KMSMasterKey returns the master key a KMS holds under uri. It makes no
// call to the KMS: a wrong key or missing permission shows at the first
// use, when the keyset is opened.
func KMSMasterKey(ctx context.Context, uri string, o KMSOptions) (MasterKey, error) {
	var a tink.AEAD
	var err error
	switch lower := strings.ToLower(uri); {
	case strings.HasPrefix(lower, AWSKMSPrefix):
		a, err = awsMaster(uri, o)
	case strings.HasPrefix(lower, GCPKMSPrefix):
		a, err = gcpMaster(ctx, uri, o)
	case strings.HasPrefix(lower, VaultPrefix):
		a, err = vaultMaster(uri, o)
	default:
		return nil, fmt.Errorf("master key URI %q: must start with %s, %s or %s", uri, AWSKMSPrefix, GCPKMSPrefix, VaultPrefix)
	}
	if err != nil {
		return nil, fmt.Errorf("master key URI %s: %w", uri, err)
	}
	return &kmsMaster{AEAD: a, uri: uri}, nil
}

// awsMaster uses Tink's AWS KMS integration (tink-go-awskms). Credentials:
// AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) when
// set, else the AWS SDK's default chain (shared credentials and config
// files, AWS_PROFILE, web identity, the ECS or EC2 instance role). The
// region is the key ARN's.
func awsMaster(uri string, o KMSOptions) (tink.AEAD, error) {
	arn := strings.TrimPrefix(uri, uri[:len(AWSKMSPrefix)])
	parts := strings.Split(arn, ":")
	if len(parts) < 6 || parts[0] != "arn" || parts[2] != "kms" || parts[3] == "" {
		return nil, errors.New("must be aws-kms://arn:aws:kms:REGION:ACCOUNT:key/ID (or :alias/NAME)")
	}
	cfg := aws.Config{Region: aws.String(parts[3])}
	if o.Endpoint != "" {
		if err := checkEndpoint(o.Endpoint); err != nil {
			return nil, err
		}
		cfg.Endpoint = aws.String(o.Endpoint)
	}
	if id := o.env("AWS_ACCESS_KEY_ID"); id != "" {
		cfg.Credentials = credentials.NewStaticCredentials(id, o.env("AWS_SECRET_ACCESS_KEY"), o.env("AWS_SESSION_TOKEN"))
	}
	sess, err := session.NewSessionWithOptions(session.Options{Config: cfg, SharedConfigState: session.SharedConfigEnable})
	if err != nil {
		return nil, err
	}
	// The session, and so the credential chain (the EC2 and ECS metadata
	// services among them), keeps the SDK's own client; only the KMS
	// calls go through the guard.
	api := kms.New(sess, aws.NewConfig().WithHTTPClient(o.Outbound.Client(kmsCallBudget, nil)))
	client, err := awskms.NewClientWithOptions(AWSKMSPrefix, awskms.WithKMS(api))
	if err != nil {
		return nil, err
	}
	return client.GetAEAD(AWSKMSPrefix + arn)
}

// checkEndpoint allows https endpoints, and plain http only on the
// loopback interface (a test server or a local proxy): credentials must
// not cross a network in the clear.
func checkEndpoint(endpoint string) error {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return fmt.Errorf("KMS endpoint %q: not a URL", endpoint)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		if ip := net.ParseIP(u.Hostname()); (ip != nil && ip.IsLoopback()) || u.Hostname() == "localhost" {
			return nil
		}
	}
	return fmt.Errorf("KMS endpoint %q: must be https:// (http:// only to a loopback address)", endpoint)
}

// remoteError is an error answer from a KMS, kept with its HTTP status.
type remoteError struct {
	service string
	status  int
	message string
}

func (e *remoteError) Error() string {
	return fmt.Sprintf("%s answered %d %s: %s", e.service, e.status, http.StatusText(e.status), e.message)
}

// postJSON posts in as JSON and decodes a 200 answer into out; any other
// answer is a remoteError whose message msg extracts from the body.
func postJSON(c *http.Client, service, endpoint string, header http.Header, in, out any, msg func([]byte) string) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), kmsCallBudget)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header = header
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", service, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s: %w", service, err)
	}
	if resp.StatusCode != http.StatusOK {
		return &remoteError{service: service, status: resp.StatusCode, message: msg(raw)}
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s: unreadable answer: %w", service, err)
	}
	return nil
}

// vaultAEAD is HashiCorp Vault's transit secrets engine, called over its
// HTTP API (POST /v1/MOUNT/encrypt/NAME and /v1/MOUNT/decrypt/NAME) the way
// Tink's tink-go-hcvault does (associated data in "associated_data", the
// ciphertext Vault's "vault:vN:…" text). Tink's module is not used because
// its dependency, Vault's Go client, needs golang.org/x/net, whose version
// this module resolves to demands a newer golang.org/x/crypto than Ward
// pins (docs/ENCRYPTION.md).
type vaultAEAD struct {
	client           *http.Client
	addr             string
	encrypt, decrypt string
	token, namespace string
}

// vaultMaster reads the Vault address from the URI (https://HOST:PORT), or
// VAULT_ADDR when the URI has no host; the token from VAULT_TOKEN, else
// ~/.vault-token (what `vault login` writes); VAULT_NAMESPACE and
// VAULT_CACERT as the Vault CLI does.
func vaultMaster(uri string, o KMSOptions) (tink.AEAD, error) {
	u, err := url.Parse(uri)
	if err != nil {
		return nil, errors.New("not a URI")
	}
	parts := strings.Split(u.EscapedPath(), "/")
	n := len(parts)
	if n < 4 || parts[0] != "" || parts[n-2] != "keys" || parts[n-1] == "" {
		return nil, errors.New("must be hcvault://HOST:PORT/MOUNT/keys/NAME, e.g. hcvault://vault.example.com:8200/transit/keys/ward")
	}
	mount, name := strings.Join(parts[1:n-2], "/"), parts[n-1]
	a := &vaultAEAD{client: o.Outbound.Client(kmsCallBudget, nil), namespace: o.env("VAULT_NAMESPACE"),
		encrypt: "/v1/" + mount + "/encrypt/" + name, decrypt: "/v1/" + mount + "/decrypt/" + name}
	switch {
	case o.Endpoint != "":
		a.addr = o.Endpoint
	case u.Host != "":
		a.addr = "https://" + u.Host
	case o.env("VAULT_ADDR") != "":
		a.addr = o.env("VAULT_ADDR")
	default:
		return nil, errors.New("no Vault address: put HOST:PORT in the URI or set VAULT_ADDR")
	}
	a.addr = strings.TrimRight(a.addr, "/")
	if err := checkEndpoint(a.addr); err != nil {
		return nil, err
	}
	if a.token = o.env("VAULT_TOKEN"); a.token == "" {
		if home := o.env("HOME"); home != "" {
			if raw, err := os.ReadFile(filepath.Join(home, ".vault-token")); err == nil {
				a.token = strings.TrimSpace(string(raw))
			}
		}
	}
	if a.token == "" {
		return nil, errors.New("no Vault token: set VAULT_TOKEN or log in with `vault login` (~/.vault-token)")
	}
	if ca := o.env("VAULT_CACERT"); ca != "" {
		pem, err := os.ReadFile(ca)
		if err != nil {
			return nil, fmt.Errorf("VAULT_CACERT: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("VAULT_CACERT %s: no PEM certificate in it", ca)
		}
		a.client = o.Outbound.Client(kmsCallBudget, &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	}
	return a, nil
}

func (a *vaultAEAD) call(path string, in map[string]string, out any) error {
	h := http.Header{"X-Vault-Token": {a.token}}
	if a.namespace != "" {
		h.Set("X-Vault-Namespace", a.namespace)
	}
	return postJSON(a.client, "Vault", a.addr+path, h, in, out, func(raw []byte) string {
		var e struct {
			Errors []string `json:"errors"`
		}
		if json.Unmarshal(raw, &e) == nil && len(e.Errors) > 0 {
			return strings.Join(e.Errors, "; ")
		}
		return strings.TrimSpace(string(raw))
	})
}

func (a *vaultAEAD) Encrypt(plaintext, associatedData []byte) ([]byte, error) {
	var out struct {
		Data struct {
			Ciphertext string `json:"ciphertext"`
		} `json:"data"`
	}
	err := a.call(a.encrypt, map[string]string{"plaintext": base64.StdEncoding.EncodeToString(plaintext),
		"associated_data": base64.StdEncoding.EncodeToString(associatedData)}, &out)
	if err != nil {
		return nil, err
	}
	if out.Data.Ciphertext == "" {
		return nil, errors.New("no ciphertext in the answer")
	}
	return []byte(out.Data.Ciphertext), nil
}

func (a *vaultAEAD) Decrypt(ciphertext, associatedData []byte) ([]byte, error) {
	var out struct {
		Data struct {
			Plaintext string `json:"plaintext"`
		} `json:"data"`
	}
	err := a.call(a.decrypt, map[string]string{"ciphertext": string(ciphertext),
		"associated_data": base64.StdEncoding.EncodeToString(associatedData)}, &out)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(out.Data.Plaintext)
}

// gcpAEAD is Google Cloud KMS's REST API (cloudkms v1,
// POST /v1/KEY_NAME:encrypt and :decrypt, associated data in
// "additionalAuthenticatedData", as Tink's tink-go-gcpkms sends it). Tink's
// module is not used because it brings gRPC and golang.org/x/net, whose
// version this module resolves to demands a newer golang.org/x/crypto than
// Ward pins (docs/ENCRYPTION.md).
type gcpAEAD struct {
	client *http.Client
	base   string
	name   string
}

// gcpCloudKMS is Cloud KMS's public endpoint.
const gcpCloudKMS = "https://cloudkms.googleapis.com"

// gcpMaster authenticates with Application Default Credentials: the file
// GOOGLE_APPLICATION_CREDENTIALS names, else gcloud's, else the metadata
// server of the VM, GKE workload identity or Cloud Run.
func gcpMaster(ctx context.Context, uri string, o KMSOptions) (tink.AEAD, error) {
	name := uri[len(GCPKMSPrefix):]
	p := strings.Split(name, "/")
	if len(p) != 8 || p[0] != "projects" || p[2] != "locations" || p[4] != "keyRings" || p[6] != "cryptoKeys" ||
		p[1] == "" || p[3] == "" || p[5] == "" || p[7] == "" {
		return nil, errors.New("must be gcp-kms://projects/PROJECT/locations/LOCATION/keyRings/RING/cryptoKeys/KEY")
	}
	const scope = "https://www.googleapis.com/auth/cloudkms"
	// The token source refreshes tokens on its own, long after ctx ends.
	// It fetches them outside the guard, as the metadata service's
	// client does (KMSOptions.Outbound).
	bg := context.WithValue(context.WithoutCancel(ctx), oauth2.HTTPClient, &http.Client{Timeout: kmsCallBudget})
	var creds *google.Credentials
	var err error
	if file := o.env("GOOGLE_APPLICATION_CREDENTIALS"); file != "" {
		raw, rerr := os.ReadFile(file)
		if rerr != nil {
			return nil, fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS: %w", rerr)
		}
		creds, err = google.CredentialsFromJSONWithType(bg, raw, credentialsType(raw), scope)
	} else {
		creds, err = google.FindDefaultCredentials(bg, scope)
	}
	if err != nil {
		return nil, fmt.Errorf("application default credentials: %w", err)
	}
	base := gcpCloudKMS
	if o.Endpoint != "" {
		if err := checkEndpoint(o.Endpoint); err != nil {
			return nil, err
		}
		base = strings.TrimRight(o.Endpoint, "/")
	}
	client := &http.Client{Timeout: kmsCallBudget, Transport: &oauth2.Transport{Source: creds.TokenSource, Base: o.Outbound.Transport(nil)}}
	return &gcpAEAD{client: client, base: base, name: name}, nil
}

// credentialsType reads the "type" of a Google credentials file, so that
// CredentialsFromJSONWithType accepts exactly the kind the file says.
func credentialsType(raw []byte) google.CredentialsType {
	var f struct {
		Type string `json:"type"`
	}
	_ = json.Unmarshal(raw, &f)
	return google.CredentialsType(f.Type)
}

func (a *gcpAEAD) call(verb string, in map[string]string, out any) error {
	err := postJSON(a.client, "Cloud KMS", a.base+"/v1/"+a.name+":"+verb, http.Header{}, in, out, func(raw []byte) string {
		var e struct {
			Error struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error.Message != "" {
			return e.Error.Message
		}
		return strings.TrimSpace(string(raw))
	})
	var ue *url.Error
	if errors.As(err, &ue) {
		// A failed token fetch: keep the reason, not the request URL.
		return fmt.Errorf("cloud KMS: %w", ue.Err)
	}
	return err
}

func (a *gcpAEAD) Encrypt(plaintext, associatedData []byte) ([]byte, error) {
	var out struct {
		Ciphertext string `json:"ciphertext"`
	}
	err := a.call("encrypt", map[string]string{"plaintext": base64.StdEncoding.EncodeToString(plaintext),
		"additionalAuthenticatedData": base64.StdEncoding.EncodeToString(associatedData)}, &out)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(out.Ciphertext)
}

func (a *gcpAEAD) Decrypt(ciphertext, associatedData []byte) ([]byte, error) {
	var out struct {
		Plaintext string `json:"plaintext"`
	}
	err := a.call("decrypt", map[string]string{"ciphertext": base64.StdEncoding.EncodeToString(ciphertext),
		"additionalAuthenticatedData": base64.StdEncoding.EncodeToString(associatedData)}, &out)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.DecodeString(out.Plaintext)
}
