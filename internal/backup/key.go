package backup

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

// KeySize is the size of a backup key in bytes (AES-256).
const KeySize = 32

// MinPassphrase is the shortest passphrase accepted, in characters.
const MinPassphrase = 16

// Key opens and seals backups: 32 random bytes from a key file, or a
// passphrase stretched with Argon2id (the salt and cost are in each
// backup's header). It is never written into a backup.
type Key struct {
	secret     []byte
	passphrase bool
}

// KeyFromFile reads a key file: the base64 of 32 random bytes, as
// NewKeyFile writes it.
func KeyFromFile(path string) (Key, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Key{}, fmt.Errorf("backup-key-file: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(raw) != KeySize {
		return Key{}, fmt.Errorf("backup-key-file: %s does not hold the base64 of %d bytes (make one with `ward backup keygen`)", path, KeySize)
	}
	return Key{secret: raw}, nil
}

// KeyFromPassphrase uses a passphrase of at least MinPassphrase characters.
func KeyFromPassphrase(p string) (Key, error) {
	if utf8.RuneCountInString(p) < MinPassphrase {
		return Key{}, fmt.Errorf("WARD_BACKUP_PASSPHRASE: must be at least %d characters", MinPassphrase)
	}
	return Key{secret: []byte(p), passphrase: true}, nil
}

// NewKeyFile writes a new random key to path, readable by its owner only;
// it refuses to replace an existing file.
func NewKeyFile(path string) error {
	raw := make([]byte, KeySize)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("out: %s already exists; a backup key is never overwritten", path)
	}
	if err != nil {
		return fmt.Errorf("out: %w", err)
	}
	if _, err := f.WriteString(base64.StdEncoding.EncodeToString(raw) + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// IsZero reports whether no key was given.
func (k Key) IsZero() bool { return len(k.secret) == 0 }
