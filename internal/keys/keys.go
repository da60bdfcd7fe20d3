// Package keys encrypts PHI and secrets before they reach the database
// (45 CFR 164.312(a)(2)(iv), encryption at rest; AES-256-GCM as NIST SP
// 800-111 guidance expects for the 164.402 safe harbour). Values are
// sealed with a Tink AEAD keyset whose associated data binds each value to
// its table, column and row, so a ciphertext copied elsewhere fails to open.
// The keyset lives in the database encrypted by a master key that does not:
// a copy of the database or a backup alone reveals nothing it protects.
package keys

import (
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/aead/subtle"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/db"
)

// MasterKeySize is the master key's length in bytes (AES-256).
const MasterKeySize = 32

// MasterKeyFile is the name of the generated master key in the data folder.
const MasterKeyFile = "master.key"

// keysetAD binds the stored keyset to its purpose.
var keysetAD = []byte("ward keyset v1")

// prefix marks values sealed by this scheme.
const prefix = "v1:"

// Source says where a master key came from.
type Source string

// The sources of a master key.
const (
	FromEnv       Source = "env"       // WARD_MASTER_KEY
	FromFile      Source = "file"      // --master-key-file
	FromGenerated Source = "generated" // made now in the data folder
	FromDataDir   Source = "data_dir"  // made earlier in the data folder
)

// MasterKey finds the master key: base64 in envValue if set, else the
// file at path if given, else master.key in dataDir, which is made (0600)
// when it does not exist yet.
func MasterKey(envValue, path, dataDir string) ([]byte, Source, error) {
	if envValue != "" {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(envValue))
		if err != nil || len(k) != MasterKeySize {
			return nil, "", fmt.Errorf("WARD_MASTER_KEY: must be the base64 of %d random bytes", MasterKeySize)
		}
		return k, FromEnv, nil
	}
	src := FromFile
	if path == "" {
		path, src = filepath.Join(dataDir, MasterKeyFile), FromDataDir
	}
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && src == FromDataDir {
		k := make([]byte, MasterKeySize)
		if _, err := rand.Read(k); err != nil {
			return nil, "", err
		}
		if err := os.WriteFile(path, []byte(base64.StdEncoding.EncodeToString(k)+"\n"), 0o600); err != nil {
			return nil, "", fmt.Errorf("write master key: %w", err)
		}
		return k, FromGenerated, nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("master key file: %w", err)
	}
	k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil || len(k) != MasterKeySize {
		return nil, "", fmt.Errorf("master key file %s: must hold the base64 of %d random bytes", path, MasterKeySize)
	}
	return k, src, nil
}

// Keyring seals and opens values. It is safe for concurrent use.
type Keyring struct {
	aead tink.AEAD
}

// Load opens the database's keyset with the master key, creating the
// keyset (with its audit entry) on first use. A master key that does not
// open an existing keyset is an error: Ward never replaces a keyset, which
// would make every sealed value unreadable.
func Load(ctx context.Context, d *db.DB, master []byte, now time.Time) (*Keyring, error) {
	kek, err := subtle.NewAESGCM(master)
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	var stored string
	err = d.R.QueryRowContext(ctx, "SELECT keyset FROM keysets WHERE id = 1").Scan(&stored)
	if errors.Is(err, sql.ErrNoRows) {
		kr, cerr := create(ctx, d, kek, now)
		if !errors.Is(cerr, errCreatedElsewhere) {
			return kr, cerr
		}
		// Another node created it first: use theirs.
		err = d.R.QueryRowContext(ctx, "SELECT keyset FROM keysets WHERE id = 1").Scan(&stored)
	}
	if err != nil {
		return nil, fmt.Errorf("read keyset: %w", err)
	}
	raw, err := base64.StdEncoding.DecodeString(stored)
	if err != nil {
		return nil, fmt.Errorf("read keyset: %w", err)
	}
	h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(raw)), kek, keysetAD)
	if err != nil {
		return nil, errors.New("the master key does not open this database's keyset: give the master key it was created with " +
			"(WARD_MASTER_KEY, --master-key-file, or master.key in the data folder)")
	}
	return fromHandle(h)
}

// errCreatedElsewhere means another node stored a keyset first.
var errCreatedElsewhere = errors.New("keyset created by another node")

func create(ctx context.Context, d *db.DB, kek tink.AEAD, now time.Time) (*Keyring, error) {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return nil, fmt.Errorf("new keyset: %w", err)
	}
	var buf bytes.Buffer
	if err := h.WriteWithAssociatedData(keyset.NewBinaryWriter(&buf), kek, keysetAD); err != nil {
		return nil, fmt.Errorf("encrypt keyset: %w", err)
	}
	err = d.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO keysets (id, keyset, created_at, updated_at) VALUES (1, $1, $2, $2)
			ON CONFLICT (id) DO NOTHING`, base64.StdEncoding.EncodeToString(buf.Bytes()), now)
		if err != nil {
			return fmt.Errorf("store keyset: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			return errCreatedElsewhere
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "keys.keyset_created", ObjectType: "keyset", ObjectID: "1",
			Change: h.KeysetInfo().String()})
		return err
	})
	if err != nil {
		return nil, err
	}
	return fromHandle(h)
}

func fromHandle(h *keyset.Handle) (*Keyring, error) {
	a, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("keyset: %w", err)
	}
	return &Keyring{aead: a}, nil
}

// associatedData binds a value to where it is stored.
func associatedData(table, column, rowID string) []byte {
	return []byte("ward v1\x00" + table + "\x00" + column + "\x00" + rowID)
}

// Seal encrypts plaintext for the given table, column and row, returning
// printable text.
func (k *Keyring) Seal(plaintext []byte, table, column, rowID string) (string, error) {
	ct, err := k.aead.Encrypt(plaintext, associatedData(table, column, rowID))
	if err != nil {
		return "", fmt.Errorf("seal %s.%s: %w", table, column, err)
	}
	return prefix + base64.RawStdEncoding.EncodeToString(ct), nil
}

// Open decrypts a value made by Seal for the same table, column and row.
func (k *Keyring) Open(ciphertext string, table, column, rowID string) ([]byte, error) {
	body, ok := strings.CutPrefix(ciphertext, prefix)
	if !ok {
		return nil, fmt.Errorf("open %s.%s: not a sealed value", table, column)
	}
	ct, err := base64.RawStdEncoding.DecodeString(body)
	if err != nil {
		return nil, fmt.Errorf("open %s.%s: %w", table, column, err)
	}
	pt, err := k.aead.Decrypt(ct, associatedData(table, column, rowID))
	if err != nil {
		return nil, fmt.Errorf("open %s.%s: value does not belong here or was altered", table, column)
	}
	return pt, nil
}
