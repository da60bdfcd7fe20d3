package keys

import (
	"context"
	"database/sql"
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
// clear; running it again finds nothing to do.
func (k *Keyring) SealPlaintext(ctx context.Context, c Column, batch int,
	then func(ctx context.Context, tx *sql.Tx, rowID, plain string) error) (int64, error) {
	if !registered(c.Table, c.Name) {
		return 0, fmt.Errorf("seal %s: not a sealed column", c)
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
			return sealed, nil
		}
	}
}
