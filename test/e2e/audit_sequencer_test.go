package e2e

import (
	"context"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/db"
)

// TestAuditSequencerOnRunningServer: an audit entry that a writer left
// committed and unchained (as a node that died right after its commit
// would) is chained by the running server's sequencer. On PostgreSQL,
// while the chain head is held locked, so that no round can run, and an
// entry has waited longer than 30 s, the node's metrics say so while
// /readyz stays 200 (intake and paging go on); once the lock goes, the
// entry is chained.
func TestAuditSequencerOnRunningServer(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		w := startWard(t, dbURL)
		url := dbURL
		if url == "" {
			url = w.data + "/ward.db"
		}
		d, err := db.Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		ctx := context.Background()
		leave := func(id string, at time.Time) {
			t.Helper()
			if _, err := d.W.ExecContext(ctx, `INSERT INTO audit_pending (at, actor, action, object_type, object_id, request_id, source_ip, digest)
				VALUES ($1, 'system:ward', 'incident.note', 'incident', $2, '', '', '00')`, at.UTC(), id); err != nil {
				t.Fatal(err)
			}
		}
		chained := func(id string) bool {
			var n int
			if err := d.R.QueryRowContext(ctx, "SELECT count(*) FROM audit_log WHERE object_id = $1", id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n == 1
		}
		verified := func() {
			t.Helper()
			res, err := audit.Verify(ctx, d.R)
			if err != nil || !res.OK {
				t.Fatalf("verify: %+v %v", res, err)
			}
		}
		leave("left-by-a-dead-writer", time.Now())
		eventually(t, "the sequencer to chain the entry left pending", func() bool { return chained("left-by-a-dead-writer") })
		verified()
		if d.Dialect != db.Postgres {
			return
		}

		holder, err := d.W.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer holder.Rollback()
		if _, err := holder.ExecContext(ctx, "SELECT 1 FROM audit_head WHERE id = 1 FOR UPDATE"); err != nil {
			t.Fatal(err)
		}
		leave("waiting-an-hour", time.Now().Add(-time.Hour))
		eventually(t, "the metrics to show the entry waiting", func() bool {
			v, err := strconv.ParseFloat(metricValue(t, w, "ward_audit_pending_oldest_seconds"), 64)
			return err == nil && v >= 3600
		})
		if code, body := readyz(t, w); code != http.StatusOK {
			t.Errorf("/readyz while the trail cannot advance: %d %s, want 200 so that intake and paging go on", code, body)
		}
		if err := holder.Rollback(); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the waiting entry chained", func() bool {
			return chained("waiting-an-hour") && metricValue(t, w, "ward_audit_pending_entries") == "0"
		})
		verified()
	})
}
