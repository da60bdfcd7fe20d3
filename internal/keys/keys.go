// Package keys encrypts PHI and secrets before they reach the database
// (45 CFR 164.312(a)(2)(iv), encryption at rest; AES-256-GCM, as NIST SP
// 800-111 guidance expects for the 45 CFR 164.402 safe harbour). Values are
// sealed with a Tink AEAD keyset whose associated data binds each value to
// its table, column and row, so a ciphertext copied elsewhere fails to open.
// The keyset lives in the database encrypted by a master key that does not:
// a copy of the database or a backup alone reveals nothing it protects.
// See docs/ENCRYPTION.md.
package keys

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"
	"github.com/tink-crypto/tink-go/v2/tink"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/db"
)

// keysetAD binds the stored keyset to its purpose.
var keysetAD = []byte("ward keyset v1")

// prefix marks values sealed by this scheme.
const prefix = "v1:"

// RefreshInterval is how often a server re-reads the keyset (Watch), so
// that after a rotation it seals with the new primary key.
const RefreshInterval = 15 * time.Second

// reloadTimeout bounds the keyset re-read that Open makes when it meets a
// value sealed with a key it does not know yet.
const reloadTimeout = 5 * time.Second

// Keyring seals and opens values. It is safe for concurrent use.
type Keyring struct {
	d      *db.DB
	master MasterKey
	reload sync.Mutex // one re-read of the keyset at a time
	failed struct {   // the last keyset that did not open, guarded by reload
		stored string
		at     time.Time
		err    error
	}
	cur atomic.Pointer[ring]
	// titles makes the blind index tokens of incident titles
	// (SearchTokens); its key is read once by Load.
	titles *lookupHasher
	// lookup makes the keyed hashes by which alerts are found by their
	// dedup and group keys (LookupHash); its key is read once by Load.
	lookup *lookupHasher
}

// ring is one version of the keyset, ready to use.
type ring struct {
	stored  string // the keysets row's text, to notice when it changes
	handle  *keyset.Handle
	aead    tink.AEAD
	primary uint32
	known   map[uint32]bool
}

// HasKeyset reports whether the database already holds a keyset.
func HasKeyset(ctx context.Context, d *db.DB) (bool, error) {
	var n int
	if err := d.R.QueryRowContext(ctx, "SELECT count(*) FROM keysets").Scan(&n); err != nil {
		return false, fmt.Errorf("read keyset: %w", err)
	}
	return n > 0, nil
}

// Load opens the database's keyset with the master key, creating the
// keyset (with its audit entry) on first use. A master key that does not
// open an existing keyset is an error: Ward never replaces a keyset, which
// would make every sealed value unreadable.
func Load(ctx context.Context, d *db.DB, master MasterKey, now time.Time) (*Keyring, error) {
	k := &Keyring{d: d, master: master}
	if err := k.load(ctx, now); err != nil {
		return nil, err
	}
	titleKey, err := k.loadSearchKey(ctx, SearchTitles, now)
	if err != nil {
		return nil, fmt.Errorf("search key: %w", err)
	}
	k.titles = newLookupHasher(titleKey)
	alertKey, err := k.loadSearchKey(ctx, SearchAlertKeys, now)
	if err != nil {
		return nil, fmt.Errorf("search key: %w", err)
	}
	k.lookup = newLookupHasher(alertKey)
	return k, nil
}

// load reads the keyset, or creates it.
func (k *Keyring) load(ctx context.Context, now time.Time) error {
	stored, err := readKeyset(ctx, k.d.R)
	if errors.Is(err, sql.ErrNoRows) {
		cerr := k.create(ctx, now)
		if !errors.Is(cerr, errCreatedElsewhere) {
			return cerr
		}
		// Another node created it first: use theirs.
		stored, err = readKeyset(ctx, k.d.R)
	}
	if err != nil {
		return err
	}
	r, err := k.open(stored)
	if err != nil {
		return err
	}
	k.cur.Store(r)
	return nil
}

func readKeyset(ctx context.Context, q db.Querier) (string, error) {
	var stored string
	err := q.QueryRowContext(ctx, "SELECT keyset FROM keysets WHERE id = 1").Scan(&stored)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("read keyset: %w", err)
	}
	return stored, err
}

// ErrWrongMasterKey means the master key given does not open the
// database's keyset.
var ErrWrongMasterKey = errors.New("the master key does not open this database's keyset: give the master key it was " +
	"created with (WARD_MASTER_KEY, --master-key-file, or master.key in the data folder)")

// kmsOpenError is a KMS-held master key failing to open the keyset. It
// matches ErrWrongMasterKey with errors.Is: Ward must not start.
type kmsOpenError struct {
	uri string
	err error
}

func (e *kmsOpenError) Error() string {
	return fmt.Sprintf("the master key %s did not open this database's keyset: %v", e.uri, e.err)
}

func (e *kmsOpenError) Is(target error) bool { return target == ErrWrongMasterKey }

// recorder keeps the error of the master key's last Decrypt, which Tink's
// keyset reader does not pass on.
type recorder struct {
	MasterKey
	err error
}

func (r *recorder) Decrypt(ciphertext, associatedData []byte) ([]byte, error) {
	pt, err := r.MasterKey.Decrypt(ciphertext, associatedData)
	r.err = err
	return pt, err
}

// errCreatedElsewhere means another node stored a keyset first.
var errCreatedElsewhere = errors.New("keyset created by another node")

func (k *Keyring) create(ctx context.Context, now time.Time) error {
	h, err := keyset.NewHandle(aead.AES256GCMKeyTemplate())
	if err != nil {
		return fmt.Errorf("new keyset: %w", err)
	}
	stored, err := k.encrypt(h)
	if err != nil {
		return err
	}
	err = k.d.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `INSERT INTO keysets (id, keyset, created_at, updated_at) VALUES (1, $1, $2, $2)
			ON CONFLICT (id) DO NOTHING`, stored, now)
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
		return err
	}
	r, err := newRing(stored, h)
	if err != nil {
		return err
	}
	k.cur.Store(r)
	return nil
}

// encrypt serialises h encrypted by the master key, as it is stored.
func (k *Keyring) encrypt(h *keyset.Handle) (string, error) {
	var buf bytes.Buffer
	if err := h.WriteWithAssociatedData(keyset.NewBinaryWriter(&buf), k.master, keysetAD); err != nil {
		return "", fmt.Errorf("encrypt keyset: %w", err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// open decrypts a stored keyset with the master key.
func (k *Keyring) open(stored string) (*ring, error) {
	raw, err := base64.StdEncoding.DecodeString(stored)
	if err != nil {
		return nil, fmt.Errorf("read keyset: %w", err)
	}
	return openWith(k.master, stored, raw)
}

// openWith decrypts a stored keyset's bytes with master. A KMS's refusal
// (wrong key, no permission, unreachable) is reported with what it said.
func openWith(master MasterKey, stored string, raw []byte) (*ring, error) {
	rec := &recorder{MasterKey: master}
	h, err := keyset.ReadWithAssociatedData(keyset.NewBinaryReader(bytes.NewReader(raw)), rec, keysetAD)
	if err != nil {
		if uri := KMSURI(master); uri != "" && rec.err != nil {
			return nil, &kmsOpenError{uri: uri, err: rec.err}
		}
		return nil, ErrWrongMasterKey
	}
	return newRing(stored, h)
}

func newRing(stored string, h *keyset.Handle) (*ring, error) {
	a, err := aead.New(h)
	if err != nil {
		return nil, fmt.Errorf("keyset: %w", err)
	}
	info := h.KeysetInfo()
	r := &ring{stored: stored, handle: h, aead: a, primary: info.GetPrimaryKeyId(), known: map[uint32]bool{}}
	for _, ki := range info.GetKeyInfo() {
		r.known[ki.GetKeyId()] = true
	}
	return r, nil
}

// Refresh re-reads the keyset from the database and uses it from now on
// if it changed (another process rotated it).
func (k *Keyring) Refresh(ctx context.Context) error {
	_, err := k.refresh(ctx)
	return err
}

func (k *Keyring) refresh(ctx context.Context) (*ring, error) {
	k.reload.Lock()
	defer k.reload.Unlock()
	stored, err := readKeyset(ctx, k.d.R)
	if err != nil {
		return nil, err
	}
	if cur := k.cur.Load(); cur.stored == stored {
		return cur, nil
	}
	// A keyset this master key failed to open is not tried again before
	// RefreshInterval: with a KMS-held master key every try is a call to
	// the KMS, and Open must not make one per request.
	if k.failed.stored == stored && time.Since(k.failed.at) < RefreshInterval {
		return nil, k.failed.err
	}
	r, err := k.open(stored)
	if err != nil {
		k.failed.stored, k.failed.at, k.failed.err = stored, time.Now(), err
		return nil, err
	}
	k.cur.Store(r)
	return r, nil
}

// Watch refreshes the keyring every interval until ctx ends, so that a
// long-running server seals with the primary key a rotation made. A
// failed refresh is logged and retried at the next tick; the keyring keeps
// the keyset it has, which still opens every value.
func (k *Keyring) Watch(ctx context.Context, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := k.Refresh(ctx); err != nil && ctx.Err() == nil {
				log.Warn("keyset_refresh_failed", "error", err.Error())
			}
		}
	}
}

// PrimaryKeyID returns the id of the key that Seal uses.
func (k *Keyring) PrimaryKeyID() uint32 { return k.cur.Load().primary }

// associatedData binds a value to where it is stored.
func associatedData(table, column, rowID string) []byte {
	return []byte("ward v1\x00" + table + "\x00" + column + "\x00" + rowID)
}

// Seal encrypts plaintext for the given table, column and row, returning
// printable text. The place must be one of Columns.
func (k *Keyring) Seal(plaintext []byte, table, column, rowID string) (string, error) {
	if !registered(table, column) {
		return "", fmt.Errorf("seal %s.%s: not a sealed column (add it to keys.Columns)", table, column)
	}
	return k.cur.Load().seal(plaintext, table, column, rowID)
}

func (r *ring) seal(plaintext []byte, table, column, rowID string) (string, error) {
	ct, err := r.aead.Encrypt(plaintext, associatedData(table, column, rowID))
	if err != nil {
		return "", fmt.Errorf("seal %s.%s: %w", table, column, err)
	}
	return prefix + base64.RawStdEncoding.EncodeToString(ct), nil
}

// Open decrypts a value made by Seal for the same table, column and row.
// A value sealed with a key this keyring does not know yet (another process
// rotated the keyset) makes it re-read the keyset once and try again.
func (k *Keyring) Open(ciphertext string, table, column, rowID string) ([]byte, error) {
	ct, err := decode(ciphertext)
	if err != nil {
		return nil, fmt.Errorf("open %s.%s: %w", table, column, err)
	}
	r := k.cur.Load()
	if id, ok := keyID(ct); ok && !r.known[id] {
		ctx, cancel := context.WithTimeout(context.Background(), reloadTimeout)
		defer cancel()
		if r, err = k.refresh(ctx); err != nil {
			return nil, fmt.Errorf("open %s.%s: %w", table, column, err)
		}
		if !r.known[id] {
			return nil, fmt.Errorf("open %s.%s: sealed with key %d, which this keyset does not hold", table, column, id)
		}
	}
	pt, err := r.aead.Decrypt(ct, associatedData(table, column, rowID))
	if err != nil {
		return nil, fmt.Errorf("open %s.%s: value does not belong here or was altered", table, column)
	}
	return pt, nil
}

// decode returns the Tink ciphertext inside a sealed value.
func decode(sealed string) ([]byte, error) {
	body, ok := strings.CutPrefix(sealed, prefix)
	if !ok {
		return nil, errors.New("not a sealed value")
	}
	ct, err := base64.RawStdEncoding.DecodeString(body)
	if err != nil {
		return nil, errors.New("not a sealed value")
	}
	return ct, nil
}

// tinkPrefixSize is the length of the prefix Tink puts before every
// ciphertext of a key with output prefix TINK: a version byte (1) and the
// key's id, big-endian.
const tinkPrefixSize = 5

// keyID returns the id of the key that made a Tink ciphertext.
func keyID(ct []byte) (uint32, bool) {
	if len(ct) < tinkPrefixSize || ct[0] != 1 {
		return 0, false
	}
	return binary.BigEndian.Uint32(ct[1:tinkPrefixSize]), true
}

// KeyIDOf returns the id of the key that sealed a value.
func KeyIDOf(sealed string) (uint32, bool) {
	ct, err := decode(sealed)
	if err != nil {
		return 0, false
	}
	return keyID(ct)
}
