package keys

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Sealed reports whether v is a value Seal made (as opposed to plaintext
// written before its column was sealed).
func Sealed(v string) bool {
	_, ok := KeyIDOf(v)
	return ok
}

// SealPlaintext seals every value of column c that is still plaintext
// (written before c was added to Columns), batch rows per transaction,
// and returns how many it sealed. Each row is rewritten only if unchanged
// since it was read. then, when not nil, runs in the same transaction for
// each row sealed, with its plaintext (to index it, for example). It is
// what Ward runs at start after an upgrade, so that no value stays in
// clear.
//
// A pass that reaches the end of the table records so (a counters row,
// sealedMarker), and later calls return at once: every start would
// otherwise read every value of every sealed column, millions of alerts
// and messages in a large database. Only a Ward older than the column's
// sealing writes plaintext into it, and no older Ward runs on a schema
// migrated past it (docs/OPERATIONS.md: a release that seals a column
// migrates, so nodes are not upgraded one at a time); `ward keys rotate`
// reads every value regardless and seals any it finds in clear.
func (k *Keyring) SealPlaintext(ctx context.Context, c Column, batch int,
	then func(ctx context.Context, tx *sql.Tx, rowID, plain string) error) (int64, error) {
	if !registered(c.Table, c.Name) {
		return 0, fmt.Errorf("seal %s: not a sealed column", c)
	}
	var done int64
	err := k.d.R.QueryRowContext(ctx, "SELECT value FROM counters WHERE name = $1", sealedMarker(c)).Scan(&done)
	if err == nil {
		return 0, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return 0, fmt.Errorf("read %s: %w", c, err)
	}
	if batch <= 0 {
		batch = 500
	}
	type value struct{ id, old, new string }
	var sealed int64
	after := ""
	for {
		// The text of a sealed value starts with the prefix; the ones that
		// do not are plaintext. Table and column names come from Columns.
		rows, err := k.d.R.QueryContext(ctx, "SELECT "+c.RowID+", "+c.Name+" FROM "+c.Table+
			" WHERE "+c.RowID+" > $1 AND "+c.Name+" <> '' ORDER BY "+c.RowID+" LIMIT $2", after, batch)
		if err != nil {
			return sealed, fmt.Errorf("read %s: %w", c, err)
		}
		var todo []value
		read := 0
		for rows.Next() {
			var v value
			if err := rows.Scan(&v.id, &v.old); err != nil {
				rows.Close()
				return sealed, fmt.Errorf("read %s: %w", c, err)
			}
			read++
			after = v.id
			if !Sealed(v.old) {
				todo = append(todo, v)
			}
		}
		if err := rows.Close(); err != nil {
			return sealed, fmt.Errorf("read %s: %w", c, err)
		}
		for i := range todo {
			if todo[i].new, err = k.Seal([]byte(todo[i].old), c.Table, c.Name, todo[i].id); err != nil {
				return sealed, err
			}
		}
		if len(todo) > 0 {
			err := k.d.Write(ctx, func(tx *sql.Tx) error {
				for _, v := range todo {
					res, err := tx.ExecContext(ctx, "UPDATE "+c.Table+" SET "+c.Name+" = $1 WHERE "+c.RowID+" = $2 AND "+
						c.Name+" = $3", v.new, v.id, v.old)
					if err != nil {
						return fmt.Errorf("seal %s: %w", c, err)
					}
					if n, err := res.RowsAffected(); err != nil || n == 0 {
						continue // changed meanwhile: its writer sealed it
					}
					sealed++
					if then != nil {
						if err := then(ctx, tx, v.id, v.old); err != nil {
							return err
						}
					}
				}
				return nil
			})
			if err != nil {
				return sealed, err
			}
		}
		if read < batch {
			err := k.d.Write(ctx, func(tx *sql.Tx) error {
				_, err := tx.ExecContext(ctx, "INSERT INTO counters (name, value) VALUES ($1, 1) ON CONFLICT (name) DO NOTHING",
					sealedMarker(c))
				return err
			})
			if err != nil {
				return sealed, fmt.Errorf("seal %s: record the column sealed: %w", c, err)
			}
			return sealed, nil
		}
	}
}

// sealedMarker names the counters row recording that column c holds no
// plaintext.
func sealedMarker(c Column) string { return "plaintext_sealed:" + c.String() }
