package keys

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/tink-crypto/tink-go/v2/aead"
	"github.com/tink-crypto/tink-go/v2/keyset"

	"github.com/wardhq/ward/internal/audit"
)

// Rotation is a key rotation: the new primary key and when it was stored.
type Rotation struct {
	KeyID     uint32
	StartedAt time.Time
	// Resumed says the rotation was started earlier and interrupted; this
	// run finishes it instead of adding another key.
	Resumed bool
}

// Progress reports the re-encryption of one column.
type Progress struct {
	Column      Column
	Done        int64 // values looked at so far
	Total       int64 // values in the column when it was started
	Reencrypted int64 // values re-encrypted so far (the rest were already under the new key)
}

// RotateOptions tune Rotate.
type RotateOptions struct {
	Now func() time.Time
	// Settle is how long after the new primary key is stored to wait before
	// re-encrypting, so that running servers (which re-read the keyset
	// every RefreshInterval) seal with it by then and leave nothing behind.
	Settle time.Duration
	// BatchSize is the number of values read, and re-encrypted in one
	// transaction, at a time; default 500.
	BatchSize int
	Started   func(Rotation) // called once the new primary key is stored (or found, when resuming)
	Progress  func(Progress) // called after every batch
}

// RotateResult is what a rotation did.
type RotateResult struct {
	Rotation
	Reencrypted map[string]int64 // by column, "table.column"
}

// Rotate adds a new primary key to the keyset (the old keys stay, to open
// what they sealed), then re-encrypts every value in every sealed column
// (Columns) under it, in batches that each commit on their own. It is
// safe to interrupt: a value already under the new key is skipped, and
// the next Rotate resumes the unfinished rotation instead of adding a key.
// The start and the finish are recorded in the audit trail.
func (k *Keyring) Rotate(ctx context.Context, opts RotateOptions) (RotateResult, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	rot, err := k.startRotation(ctx, opts.Now())
	if err != nil {
		return RotateResult{}, err
	}
	if opts.Started != nil {
		opts.Started(rot)
	}
	if wait := rot.StartedAt.Add(opts.Settle).Sub(opts.Now()); wait > 0 {
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return RotateResult{}, ctx.Err()
		case <-t.C:
		}
	}
	r, err := k.refresh(ctx)
	if err != nil {
		return RotateResult{}, err
	}
	if r.primary != rot.KeyID {
		return RotateResult{}, errors.New("the keyset changed during the rotation; run the rotation again")
	}
	res := RotateResult{Rotation: rot, Reencrypted: map[string]int64{}}
	for _, c := range Columns() {
		n, err := k.reencrypt(ctx, r, c, opts)
		if err != nil {
			return RotateResult{}, err
		}
		res.Reencrypted[c.String()] = n
	}
	return res, k.finishRotation(ctx, r, res, opts.Now())
}

// startRotation adds and stores a new primary key, or returns the
// rotation in progress.
func (k *Keyring) startRotation(ctx context.Context, now time.Time) (Rotation, error) {
	var rot Rotation
	var next *ring
	err := k.d.Write(ctx, func(tx *sql.Tx) error {
		var stored string
		var started sql.NullTime
		if err := tx.QueryRowContext(ctx, "SELECT keyset, rotation_started_at FROM keysets WHERE id = 1").
			Scan(&stored, &started); err != nil {
			return fmt.Errorf("read keyset: %w", err)
		}
		cur, err := k.open(stored)
		if err != nil {
			return err
		}
		if started.Valid {
			rot, next = Rotation{KeyID: cur.primary, StartedAt: started.Time.UTC(), Resumed: true}, cur
			return nil
		}
		m := keyset.NewManagerFromHandle(cur.handle)
		id, err := m.Add(aead.AES256GCMKeyTemplate())
		if err != nil {
			return fmt.Errorf("new key: %w", err)
		}
		if err := m.SetPrimary(id); err != nil {
			return fmt.Errorf("new key: %w", err)
		}
		h, err := m.Handle()
		if err != nil {
			return fmt.Errorf("new key: %w", err)
		}
		text, err := k.encrypt(h)
		if err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE keysets SET keyset = $1, updated_at = $2, rotation_started_at = $2
			WHERE id = 1 AND keyset = $3 AND rotation_started_at IS NULL`, text, now, stored)
		if err != nil {
			return fmt.Errorf("store keyset: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return errors.New("the keyset changed while the new key was added; run the rotation again")
		}
		if next, err = newRing(text, h); err != nil {
			return err
		}
		rot = Rotation{KeyID: id, StartedAt: now}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "keys.rotation_started", ObjectType: "keyset", ObjectID: "1",
			Change: map[string]any{"primary_key_id": id, "previous_primary_key_id": cur.primary, "keys": len(next.known)}})
		return err
	})
	if err != nil {
		return Rotation{}, err
	}
	k.cur.Store(next)
	return rot, nil
}

// reencrypt seals every value of c that is not under r's primary key anew
// under it, one batch per transaction, and returns how many it changed.
// Table and column names come from Columns, never from input.
func (k *Keyring) reencrypt(ctx context.Context, r *ring, c Column, opts RotateOptions) (int64, error) {
	p := Progress{Column: c}
	if err := k.d.R.QueryRowContext(ctx, "SELECT count(*) FROM "+c.Table+" WHERE "+c.Name+" <> ''").Scan(&p.Total); err != nil {
		return 0, fmt.Errorf("count %s: %w", c, err)
	}
	type change struct{ id, old, new string }
	after := ""
	for {
		rows, err := k.d.R.QueryContext(ctx, "SELECT "+c.RowID+", "+c.Name+" FROM "+c.Table+
			" WHERE "+c.RowID+" > $1 AND "+c.Name+" <> '' ORDER BY "+c.RowID+" LIMIT $2", after, opts.BatchSize)
		if err != nil {
			return 0, fmt.Errorf("read %s: %w", c, err)
		}
		var batch []change
		read := 0
		for rows.Next() {
			var ch change
			if err := rows.Scan(&ch.id, &ch.old); err != nil {
				rows.Close()
				return 0, fmt.Errorf("read %s: %w", c, err)
			}
			read++
			after = ch.id
			if id, ok := KeyIDOf(ch.old); ok && id == r.primary {
				continue
			}
			batch = append(batch, ch)
		}
		if err := rows.Close(); err != nil {
			return 0, fmt.Errorf("read %s: %w", c, err)
		}
		if err := rows.Err(); err != nil {
			return 0, fmt.Errorf("read %s: %w", c, err)
		}
		for i := range batch {
			// A value still in plaintext (its column was sealed after it
			// was written, and no server has started since) is sealed.
			pt := []byte(batch[i].old)
			if Sealed(batch[i].old) {
				if pt, err = k.Open(batch[i].old, c.Table, c.Name, batch[i].id); err != nil {
					return 0, fmt.Errorf("re-encrypt %s row %s: %w", c, batch[i].id, err)
				}
			}
			if batch[i].new, err = r.seal(pt, c.Table, c.Name, batch[i].id); err != nil {
				return 0, err
			}
		}
		if len(batch) > 0 {
			err := k.d.Write(ctx, func(tx *sql.Tx) error {
				for _, ch := range batch {
					// Only if unchanged since it was read: a value written
					// meanwhile was sealed by its writer and stays.
					res, err := tx.ExecContext(ctx, "UPDATE "+c.Table+" SET "+c.Name+" = $1 WHERE "+c.RowID+" = $2 AND "+
						c.Name+" = $3", ch.new, ch.id, ch.old)
					if err != nil {
						return fmt.Errorf("re-encrypt %s: %w", c, err)
					}
					n, err := res.RowsAffected()
					if err != nil {
						return fmt.Errorf("re-encrypt %s: %w", c, err)
					}
					p.Reencrypted += n
				}
				return nil
			})
			if err != nil {
				return 0, err
			}
		}
		p.Done += int64(read)
		if opts.Progress != nil && (read > 0 || p.Done == 0) {
			p.Total = max(p.Total, p.Done)
			opts.Progress(p)
		}
		if read < opts.BatchSize {
			return p.Reencrypted, nil
		}
	}
}

// finishRotation marks the rotation done and records it. If another
// process finished the same rotation first, it records nothing more.
func (k *Keyring) finishRotation(ctx context.Context, r *ring, res RotateResult, now time.Time) error {
	return k.d.Write(ctx, func(tx *sql.Tx) error {
		out, err := tx.ExecContext(ctx, `UPDATE keysets SET rotation_started_at = NULL
			WHERE id = 1 AND keyset = $1 AND rotation_started_at IS NOT NULL`, r.stored)
		if err != nil {
			return fmt.Errorf("finish rotation: %w", err)
		}
		if n, err := out.RowsAffected(); err != nil {
			return fmt.Errorf("finish rotation: %w", err)
		} else if n == 0 {
			stored, err := readKeyset(ctx, tx)
			if err != nil {
				return err
			}
			if stored != r.stored {
				return errors.New("the keyset changed during the rotation; run the rotation again")
			}
			return nil
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "keys.rotation_finished", ObjectType: "keyset", ObjectID: "1",
			Change: map[string]any{"primary_key_id": res.KeyID, "reencrypted": res.Reencrypted}})
		return err
	})
}
