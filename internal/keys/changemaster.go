package keys

import (
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/audit"
)

// MasterKeyChange names the master keys of a ChangeMaster for its audit
// entry: a KMS key URI, or where a local key came from. Never key material.
type MasterKeyChange struct {
	From, To string
}

// ChangeMaster re-encrypts the stored keyset from the keyring's master key
// to next, in one transaction with its audit entry (keys.master_key_changed):
// a single UPDATE of the keyset row, so an interruption leaves either the
// old wrapping or the new one, never neither. The data keys do not change,
// so no sealed value is touched. Before it commits, the new wrapping is
// opened with next, so a master key that cannot decrypt what it encrypted
// (a KMS key without decrypt permission) is refused while the old one still
// works. It refuses while a rotation is unfinished. From then on the
// keyring uses next.
func (k *Keyring) ChangeMaster(ctx context.Context, next MasterKey, names MasterKeyChange, now time.Time) error {
	var fresh *ring
	err := k.d.Write(ctx, func(tx *sql.Tx) error {
		var stored string
		var started sql.NullTime
		if err := tx.QueryRowContext(ctx, "SELECT keyset, rotation_started_at FROM keysets WHERE id = 1").
			Scan(&stored, &started); err != nil {
			return fmt.Errorf("read keyset: %w", err)
		}
		if started.Valid {
			return errors.New("a key rotation is unfinished: run `ward keys rotate` to finish it first")
		}
		cur, err := k.open(stored)
		if err != nil {
			return err
		}
		wrapped, err := (&Keyring{master: next}).encrypt(cur.handle)
		if err != nil {
			return fmt.Errorf("new master key: %w", err)
		}
		raw, err := base64.StdEncoding.DecodeString(wrapped)
		if err != nil {
			return err
		}
		if fresh, err = openWith(next, wrapped, raw); err != nil {
			return fmt.Errorf("new master key: it encrypted the keyset but cannot decrypt it: %w", err)
		}
		res, err := tx.ExecContext(ctx, `UPDATE keysets SET keyset = $1, updated_at = $2 WHERE id = 1 AND keyset = $3`,
			wrapped, now, stored)
		if err != nil {
			return fmt.Errorf("store keyset: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.New("the keyset changed meanwhile; run the command again")
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "keys.master_key_changed", ObjectType: "keyset", ObjectID: "1",
			Change: map[string]any{"from": names.From, "to": names.To, "primary_key_id": cur.primary, "keys": len(cur.known)}})
		return err
	})
	if err != nil {
		return err
	}
	k.reload.Lock()
	k.master = next
	k.reload.Unlock()
	k.cur.Store(fresh)
	return nil
}
