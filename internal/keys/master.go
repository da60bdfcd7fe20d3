package keys

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/tink-crypto/tink-go/v2/aead/subtle"
	"github.com/tink-crypto/tink-go/v2/tink"
)

// MasterKey encrypts and decrypts the stored keyset: the key-encryption
// key. LocalMasterKey makes one from 32 bytes held by the operator; the AEAD
// of a KMS key from Tink's KMS integrations (AWS KMS, GCP KMS, HashiCorp
// Vault) is one too, and then the master key never leaves the KMS
// (docs/ENCRYPTION.md).
type MasterKey interface {
	tink.AEAD
}

// MasterKeySize is a local master key's length in bytes (AES-256).
const MasterKeySize = 32

// MasterKeyFile is the name of the generated master key in the data folder.
const MasterKeyFile = "master.key"

// LocalMasterKey returns the master key whose raw bytes are raw: AES-256-GCM.
func LocalMasterKey(raw []byte) (MasterKey, error) {
	if len(raw) != MasterKeySize {
		return nil, fmt.Errorf("master key: must be %d bytes, not %d", MasterKeySize, len(raw))
	}
	a, err := subtle.NewAESGCM(raw)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	return a, nil
}

// Source says where a master key came from.
type Source string

// The sources of a master key, in the order FindMasterKey tries them.
const (
	FromEnv       Source = "env"       // WARD_MASTER_KEY
	FromFile      Source = "file"      // --master-key-file (WARD_MASTER_KEY_FILE)
	FromDataDir   Source = "data_dir"  // master.key in the data folder, made earlier
	FromGenerated Source = "generated" // master.key in the data folder, made now
)

// BesideData reports whether the key is kept in the data folder, where a
// copy of the folder carries it together with the database it protects.
func (s Source) BesideData() bool { return s == FromDataDir || s == FromGenerated }

// MasterKeySources are the places a master key may come from.
type MasterKeySources struct {
	Env     string // the value of WARD_MASTER_KEY: the base64 of 32 random bytes
	File    string // a file holding the same, from --master-key-file
	DataDir string // the data folder, where master.key is looked for
	// Generate allows making master.key in DataDir when no key is found.
	// It must be false once the database holds a keyset: a new master key
	// cannot open it, and a new keyset would leave every sealed value
	// unreadable.
	Generate bool
}

// ErrNoMasterKey means the database holds a keyset but no master key was
// given to open it.
var ErrNoMasterKey = errors.New("this database's keyset is encrypted with a master key that was not given: " +
	"set WARD_MASTER_KEY or --master-key-file, or put master.key back in the data folder " +
	"(Ward will not make a new keyset: every value sealed with the old one would become unreadable)")

// FindMasterKey returns the master key's raw bytes from the first source
// that is set: WARD_MASTER_KEY, then the --master-key-file file (which must
// exist), then master.key in the data folder, which is made (0600) when it
// does not exist and src.Generate allows it.
func FindMasterKey(src MasterKeySources) ([]byte, Source, error) {
	if src.Env != "" {
		k, err := decodeKey(src.Env)
		if err != nil {
			return nil, "", fmt.Errorf("WARD_MASTER_KEY: %w", err)
		}
		return k, FromEnv, nil
	}
	if src.File != "" {
		k, err := readKeyFile(src.File)
		if err != nil {
			return nil, "", fmt.Errorf("master key file: %w", err)
		}
		return k, FromFile, nil
	}
	path := filepath.Join(src.DataDir, MasterKeyFile)
	k, err := readKeyFile(path)
	switch {
	case err == nil:
		return k, FromDataDir, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, "", fmt.Errorf("master key file: %w", err)
	case !src.Generate:
		return nil, "", ErrNoMasterKey
	}
	return generateKeyFile(path)
}

// generateKeyFile makes a new random master key at path. If another
// process made one first, that one is used.
func generateKeyFile(path string) ([]byte, Source, error) {
	k := make([]byte, MasterKeySize)
	if _, err := rand.Read(k); err != nil {
		return nil, "", fmt.Errorf("generate master key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		k, err := readKeyFile(path)
		if err != nil {
			return nil, "", fmt.Errorf("master key file: %w", err)
		}
		return k, FromDataDir, nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("write master key: %w", err)
	}
	_, err = f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n")
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, "", fmt.Errorf("write master key: %w", err)
	}
	return k, FromGenerated, nil
}

func readKeyFile(path string) ([]byte, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := decodeKey(string(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func decodeKey(s string) ([]byte, error) {
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil || len(k) != MasterKeySize {
		return nil, fmt.Errorf("must be the base64 of %d random bytes (e.g. `head -c %d /dev/urandom | base64`)",
			MasterKeySize, MasterKeySize)
	}
	return k, nil
}
