package db_test

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// TestOnCommit: what a write registers with OnCommit runs once it has
// committed, and never for a write that failed, also when the write
// shared an SQLite transaction with others that committed (many writes at
// once are group-committed, each in its own savepoint).
func TestOnCommit(t *testing.T) {
	forEachTarget(t, func(t *testing.T, target dbtest.Target) {
		d := open(t, target.URL)
		ctx := context.Background()
		var ran atomic.Int64
		errWanted := errors.New("this write fails")
		const writes = 64
		var wg sync.WaitGroup
		var failed atomic.Int64
		for i := range writes {
			wg.Go(func() {
				err := d.Write(ctx, func(tx *sql.Tx) error {
					db.OnCommit(tx, func() { ran.Add(1) })
					if i%2 == 1 {
						return errWanted
					}
					return nil
				})
				if errors.Is(err, errWanted) {
					failed.Add(1)
				} else if err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		if failed.Load() != writes/2 || ran.Load() != writes/2 {
			t.Fatalf("%d writes failed, %d OnCommit functions ran; want %d and %d", failed.Load(), ran.Load(), writes/2, writes/2)
		}
	})
}
