package audit

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// CheckpointVersion is the format of a checkpoint and of the message its
// signature covers.
const CheckpointVersion = 1

// Checkpoint is a signed statement that the audit trail's entry Seq had the
// hash Hash when node Node of Ward looked at At. Published outside the
// database (a file, a webhook, the API), checkpoints let an auditor prove
// later that no entry up to Seq was altered, removed or rolled back.
type Checkpoint struct {
	Version   int       `json:"version"`
	Seq       int64     `json:"seq"`
	Hash      string    `json:"hash"`
	At        time.Time `json:"at"`
	Node      string    `json:"node"`
	KeyID     string    `json:"key_id"`
	Signature string    `json:"signature"` // base64 Ed25519 signature of SignedMessage
}

// SignedMessage is what a checkpoint's signature covers: a domain tag and
// every field but the signature, each length-prefixed so that no two
// checkpoints encode alike.
func (c Checkpoint) SignedMessage() []byte {
	var b []byte
	field := func(s string) {
		b = binary.BigEndian.AppendUint64(b, uint64(len(s)))
		b = append(b, s...)
	}
	field("ward audit checkpoint")
	b = binary.BigEndian.AppendUint64(b, uint64(c.Version))
	b = binary.BigEndian.AppendUint64(b, uint64(c.Seq))
	field(c.Hash)
	field(c.At.UTC().Format(time.RFC3339Nano))
	field(c.Node)
	field(c.KeyID)
	return b
}

// SigningKey is the Ed25519 key that signs checkpoints. It lives in a file
// outside the data folder and never in the database, so that someone who
// can rewrite the database cannot also sign a checkpoint for it.
type SigningKey struct {
	priv ed25519.PrivateKey
	id   string
}

// ID names the key: "ed25519-" and 16 hex digits of the SHA-256 of its
// public key.
func (k SigningKey) ID() string { return k.id }

// Public returns the public key.
func (k SigningKey) Public() ed25519.PublicKey { return k.priv.Public().(ed25519.PublicKey) }

// PublicPEM returns the public key as a PEM "PUBLIC KEY" block, the form
// --public-key reads.
func (k SigningKey) PublicPEM() string {
	der, _ := x509.MarshalPKIXPublicKey(k.Public()) // cannot fail for an Ed25519 key
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}

// Sign fills c's version, key id and signature.
func (k SigningKey) Sign(c Checkpoint) Checkpoint {
	c.Version, c.KeyID = CheckpointVersion, k.id
	c.At = c.At.UTC()
	c.Signature = base64.StdEncoding.EncodeToString(ed25519.Sign(k.priv, c.SignedMessage()))
	return c
}

// KeyID names a public key as SigningKey.ID does.
func KeyID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "ed25519-" + hex.EncodeToString(sum[:8])
}

// NewSigningKey wraps an Ed25519 private key.
func NewSigningKey(priv ed25519.PrivateKey) SigningKey {
	return SigningKey{priv: priv, id: KeyID(priv.Public().(ed25519.PublicKey))}
}

// LoadSigningKey reads the checkpoint signing key from path (PKCS #8 PEM),
// making a new one there, readable by its owner only, when the file does
// not exist; created says whether it did.
func LoadSigningKey(path string) (key SigningKey, created bool, err error) {
	raw, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createSigningKey(path)
	}
	if err != nil {
		return SigningKey{}, false, fmt.Errorf("audit signing key: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "PRIVATE KEY" {
		return SigningKey{}, false, fmt.Errorf("audit signing key: %s holds no PEM PRIVATE KEY", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return SigningKey{}, false, fmt.Errorf("audit signing key: %s: %w", path, err)
	}
	priv, ok := k.(ed25519.PrivateKey)
	if !ok {
		return SigningKey{}, false, fmt.Errorf("audit signing key: %s is not an Ed25519 key", path)
	}
	return NewSigningKey(priv), false, nil
}

func createSigningKey(path string) (SigningKey, bool, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return SigningKey{}, false, fmt.Errorf("audit signing key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return SigningKey{}, false, fmt.Errorf("audit signing key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return SigningKey{}, false, fmt.Errorf("audit signing key: %w", err)
	}
	// O_EXCL: two nodes starting at once on a shared folder keep one key.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return LoadSigningKey(path)
	}
	if err != nil {
		return SigningKey{}, false, fmt.Errorf("audit signing key: %w", err)
	}
	if err := errors.Join(pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}), f.Sync(), f.Close()); err != nil {
		return SigningKey{}, false, fmt.Errorf("audit signing key: write %s: %w", path, err)
	}
	return NewSigningKey(priv), true, nil
}

// TrustedKeys are the public keys a verifier accepts checkpoints from, by
// key id.
type TrustedKeys map[string]ed25519.PublicKey

// ParsePublicKeys reads PEM "PUBLIC KEY" blocks (Ed25519) from data and
// adds them to t; name names the source in errors.
func (t TrustedKeys) ParsePublicKeys(name string, data []byte) error {
	found := 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "PUBLIC KEY" {
			continue
		}
		k, err := x509.ParsePKIXPublicKey(block.Bytes)
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		pub, ok := k.(ed25519.PublicKey)
		if !ok {
			return fmt.Errorf("%s: the public key is not an Ed25519 key", name)
		}
		t[KeyID(pub)] = pub
		found++
	}
	if found == 0 {
		return fmt.Errorf("%s holds no PEM PUBLIC KEY block", name)
	}
	return nil
}

// Check verifies c's signature under the trusted key it names. The error
// says in plain words why a checkpoint is refused.
func (t TrustedKeys) Check(c Checkpoint) error {
	if c.Version != CheckpointVersion {
		return fmt.Errorf("it has format version %d, which this Ward does not know", c.Version)
	}
	pub, ok := t[c.KeyID]
	if !ok {
		return fmt.Errorf("it was signed by key %s, which is not a key you trust", c.KeyID)
	}
	sig, err := base64.StdEncoding.DecodeString(c.Signature)
	if err != nil || !ed25519.Verify(pub, c.SignedMessage(), sig) {
		return fmt.Errorf("its signature does not verify under key %s: the checkpoint was altered", c.KeyID)
	}
	return nil
}

// MarshalLine is c as one line of a checkpoints file (JSON Lines), ending
// in a newline.
func (c Checkpoint) MarshalLine() []byte {
	b, _ := json.Marshal(c) // a Checkpoint always encodes
	return append(b, '\n')
}

// Describe is c as a person reads it: "entry 1500 (signed 2026-03-10 12:05:00 UTC)".
func (c Checkpoint) Describe() string {
	return fmt.Sprintf("entry %d (signed %s)", c.Seq, c.At.UTC().Format("2006-01-02 15:04:05 UTC"))
}

// signedOn is the checkpoint's time as a person reads it.
func (c Checkpoint) signedOn() string {
	return c.At.UTC().Format("2006-01-02 15:04:05 UTC")
}

// validHash reports whether s looks like an entry hash: 64 lower-case hex digits.
func validHash(s string) bool {
	if len(s) != 64 {
		return false
	}
	return strings.Trim(s, "0123456789abcdef") == ""
}
