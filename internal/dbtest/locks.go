package dbtest

import (
	"context"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/db"
)

// WaitFinishedOrBlocked waits until the write behind done has finished, or
// a PostgreSQL session waits on a lock that the session with process id
// holder holds; it returns the write's outcome when it finished. Lock-order
// tests use it to put a second transaction behind a first one's lock.
func WaitFinishedOrBlocked(t *testing.T, ctx context.Context, d *db.DB, holder int, done <-chan error) (error, bool) {
	t.Helper()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			return err, true
		case <-ctx.Done():
			t.Fatal("the second writer neither finished nor waited on a lock")
		case <-tick.C:
		}
		var waiting int
		if err := d.R.QueryRowContext(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE $1 = ANY(pg_blocking_pids(pid))`, holder).Scan(&waiting); err != nil {
			t.Fatal(err)
		}
		if waiting > 0 {
			return nil, false
		}
	}
}
