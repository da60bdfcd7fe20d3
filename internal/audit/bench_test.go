package audit_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/dbtest"
)

// BenchmarkVerify1M measures `ward audit verify`'s work, audit.Verify, over
// a chain of 1,000,000 entries on SQLite.
func BenchmarkVerify1M(b *testing.B) {
	const n = 1_000_000
	ctx := context.Background()
	d := dbtest.Open(b, filepath.Join(b.TempDir(), "ward.db"))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	err := d.Write(ctx, func(tx *sql.Tx) error {
		stmt, err := tx.PrepareContext(ctx, `INSERT INTO audit_log
			(seq, at, actor, action, object_type, object_id, request_id, source_ip, digest, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		prev := audit.Genesis
		for i := int64(1); i <= n; i++ {
			e := audit.Entry{Seq: i, At: start.Add(time.Duration(i) * time.Millisecond), Actor: "token:bench",
				Action: "incident.update", ObjectType: "incident", ObjectID: fmt.Sprintf("inc-%d", i%5000),
				RequestID: fmt.Sprintf("%016x", i), SourceIP: "127.0.0.1",
				Digest: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", PrevHash: prev}
			e.Hash = audit.Hash(e)
			prev = e.Hash
			if _, err := stmt.ExecContext(ctx, e.Seq, e.At, e.Actor, e.Action, e.ObjectType, e.ObjectID, e.RequestID,
				e.SourceIP, e.Digest, e.PrevHash, e.Hash); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", n, prev)
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		res, err := audit.Verify(ctx, d.R)
		if err != nil || !res.OK || res.Entries != n {
			b.Fatalf("verify: %+v %v", res, err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/verify")
}
