package audit_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

var (
	start  = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tester = authz.Actor{Kind: authz.KindToken, ID: "t1", Name: "tester", Role: authz.RoleAdmin}
)

func actorCtx() context.Context {
	ctx := authz.WithActor(context.Background(), tester)
	return authz.WithRequest(ctx, authz.Request{ID: "req-1", SourceIP: "192.0.2.7"})
}

// appendOne appends one entry in its own transaction and returns it as
// chained: the last entry once the write returned.
func appendOne(t testing.TB, ctx context.Context, d *db.DB, at time.Time, ev audit.Event) audit.Entry {
	t.Helper()
	err := d.Write(ctx, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, at, ev)
		return err
	})
	if err != nil {
		t.Fatalf("append: %v", err)
	}
	var e audit.Entry
	if err := d.R.QueryRowContext(ctx, `SELECT seq, at, actor, action, object_type, object_id, request_id, source_ip, digest,
		prev_hash, hash FROM audit_log WHERE seq = (SELECT seq FROM audit_head WHERE id = 1)`).Scan(&e.Seq, &e.At, &e.Actor,
		&e.Action, &e.ObjectType, &e.ObjectID, &e.RequestID, &e.SourceIP, &e.Digest, &e.PrevHash, &e.Hash); err != nil {
		t.Fatalf("read the appended entry: %v", err)
	}
	e.At = e.At.UTC()
	if e.Action != ev.Action || e.ObjectID != ev.ObjectID {
		t.Fatalf("the last entry is %+v, not the one appended", e)
	}
	return e
}

// pending counts the entries not yet chained.
func pending(t testing.TB, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) int {
	t.Helper()
	var n int
	if err := q.QueryRowContext(context.Background(), "SELECT count(*) FROM audit_pending").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// appendN appends n entries, one a second from start, and returns them.
func appendN(t testing.TB, d *db.DB, n int) []audit.Entry {
	t.Helper()
	ctx := actorCtx()
	var out []audit.Entry
	for i := range n {
		out = append(out, appendOne(t, ctx, d, start.Add(time.Duration(i)*time.Second), audit.Event{
			Action: "incident.update", ObjectType: "incident", ObjectID: fmt.Sprintf("inc-%d", i),
			Change: map[string]any{"field": "title", "new": fmt.Sprintf("title %d", i)},
		}))
	}
	return out
}

func verify(t testing.TB, d *db.DB) audit.Result {
	t.Helper()
	res, err := audit.Verify(context.Background(), d.R)
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return res
}

func wantOK(t testing.TB, d *db.DB, entries int64) audit.Result {
	t.Helper()
	res := verify(t, d)
	if !res.OK || res.Entries != entries || res.BadSeq != 0 || res.Reason != "" {
		t.Fatalf("verify = %+v, want OK with %d entries", res, entries)
	}
	return res
}

func wantBad(t testing.TB, d *db.DB, badSeq int64) audit.Result {
	t.Helper()
	res := verify(t, d)
	if res.OK {
		t.Fatalf("verify = %+v, want the tampering caught at %d", res, badSeq)
	}
	if res.BadSeq != badSeq || res.Reason == "" {
		t.Fatalf("verify caught it at %d (%s), want %d", res.BadSeq, res.Reason, badSeq)
	}
	return res
}

// readEntries returns every stored entry in sequence order.
func readEntries(t testing.TB, d *db.DB) []audit.Entry {
	t.Helper()
	rows, err := d.R.QueryContext(context.Background(), `SELECT seq, at, actor, action, object_type, object_id,
		request_id, source_ip, digest, prev_hash, hash FROM audit_log ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []audit.Entry
	for rows.Next() {
		var e audit.Entry
		if err := rows.Scan(&e.Seq, &e.At, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &e.RequestID, &e.SourceIP,
			&e.Digest, &e.PrevHash, &e.Hash); err != nil {
			t.Fatal(err)
		}
		e.At = e.At.UTC()
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func head(t testing.TB, d *db.DB) (int64, string) {
	t.Helper()
	var seq int64
	var hash string
	if err := d.R.QueryRowContext(context.Background(), "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&seq, &hash); err != nil {
		t.Fatal(err)
	}
	return seq, hash
}

func exec(t testing.TB, d *db.DB, q string, args ...any) {
	t.Helper()
	if _, err := d.W.ExecContext(context.Background(), q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

func insertEntry(t testing.TB, d *db.DB, e audit.Entry) {
	t.Helper()
	exec(t, d, `INSERT INTO audit_log (seq, at, actor, action, object_type, object_id, request_id, source_ip, digest,
		prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		e.Seq, e.At, e.Actor, e.Action, e.ObjectType, e.ObjectID, e.RequestID, e.SourceIP, e.Digest, e.PrevHash, e.Hash)
}

// wantAppendOnly checks that the database itself refuses to change or
// remove audit entries.
func wantAppendOnly(t testing.TB, d *db.DB) {
	t.Helper()
	ctx := context.Background()
	stmts := []string{
		"UPDATE audit_log SET actor = 'token:mallory' WHERE seq = 1",
		"UPDATE audit_log SET seq = seq + 100",
		"DELETE FROM audit_log WHERE seq = 1",
		"DELETE FROM audit_log",
	}
	if d.Dialect == db.Postgres {
		stmts = append(stmts, "TRUNCATE audit_log")
	}
	for _, q := range stmts {
		_, err := d.W.ExecContext(ctx, q)
		if err == nil {
			t.Fatalf("%s succeeded; the audit log must be append-only", q)
		}
		if !strings.Contains(err.Error(), "append-only") {
			t.Fatalf("%s failed, but not because of the append-only trigger: %v", q, err)
		}
	}
}

// dropTriggers removes the append-only triggers, as a database
// administrator bent on tampering could.
func dropTriggers(t testing.TB, d *db.DB) {
	t.Helper()
	if d.Dialect == db.Postgres {
		exec(t, d, "DROP TRIGGER audit_log_no_change ON audit_log")
		return
	}
	exec(t, d, "DROP TRIGGER audit_log_no_update")
	exec(t, d, "DROP TRIGGER audit_log_no_delete")
}

func TestAppendAndVerify(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		res := wantOK(t, d, 0)
		if res.Head != audit.Genesis {
			t.Errorf("empty log head = %s, want genesis", res.Head)
		}

		const n = 7
		entries := appendN(t, d, n)
		stored := readEntries(t, d)
		if len(stored) != n {
			t.Fatalf("%d stored entries, want %d", len(stored), n)
		}
		prev := audit.Genesis
		for i, e := range entries {
			if e.Seq != int64(i+1) || e.PrevHash != prev || e.Hash != audit.Hash(e) || len(e.Hash) != 64 {
				t.Errorf("entry %d: seq %d prev %s hash %s", i, e.Seq, e.PrevHash, e.Hash)
			}
			if e.Actor != "token:tester" || e.RequestID != "req-1" || e.SourceIP != "192.0.2.7" ||
				e.Action != "incident.update" || e.ObjectType != "incident" || e.ObjectID != fmt.Sprintf("inc-%d", i) ||
				!e.At.Equal(start.Add(time.Duration(i)*time.Second)) {
				t.Errorf("entry %d = %+v", i, e)
			}
			change, _ := json.Marshal(map[string]any{"field": "title", "new": fmt.Sprintf("title %d", i)})
			sum := sha256.Sum256(change)
			if e.Digest != hex.EncodeToString(sum[:]) {
				t.Errorf("entry %d digest = %s, want the SHA-256 of its change", i, e.Digest)
			}
			if stored[i] != e {
				t.Errorf("stored entry %d =\n%+v\nreturned\n%+v", i, stored[i], e)
			}
			prev = e.Hash
		}
		res = wantOK(t, d, n)
		if res.Head != entries[n-1].Hash {
			t.Errorf("verify head = %s, want the last hash %s", res.Head, entries[n-1].Hash)
		}
		if seq, hash := head(t, d); seq != n || hash != entries[n-1].Hash {
			t.Errorf("audit_head = %d %s, want %d %s", seq, hash, n, entries[n-1].Hash)
		}

		// Without an actor the system is recorded; without a request, empty request facts.
		sys := appendOne(t, context.Background(), d, start.Add(time.Hour), audit.Event{Action: "job.run", ObjectType: "job", ObjectID: "j1"})
		if sys.Actor != "system:ward" || sys.RequestID != "" || sys.SourceIP != "" || sys.Seq != n+1 {
			t.Errorf("system entry = %+v", sys)
		}
		nullSum := sha256.Sum256([]byte("null"))
		if sys.Digest != hex.EncodeToString(nullSum[:]) {
			t.Errorf("digest of no change = %s", sys.Digest)
		}
		wantOK(t, d, n+1)
	})
}

// TestAppendKeepsNoChangeContent checks that the trail keeps only a digest
// of each change, never its content (which may hold PHI).
func TestAppendKeepsNoChangeContent(t *testing.T) {
	const canary = "PHI-CANARY Jane Roe 1970-01-01"
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		a := appendOne(t, actorCtx(), d, start, audit.Event{Action: "a", ObjectType: "o", ObjectID: "1",
			Change: map[string]string{"description": canary}})
		b := appendOne(t, actorCtx(), d, start, audit.Event{Action: "a", ObjectType: "o", ObjectID: "1",
			Change: map[string]string{"description": canary + "."}})
		if a.Digest == b.Digest {
			t.Error("different changes have the same digest")
		}
		var all string
		err := d.R.QueryRowContext(context.Background(), `SELECT actor || action || object_type || object_id || request_id ||
			source_ip || digest || prev_hash || hash FROM audit_log WHERE seq = 1`).Scan(&all)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(all, "CANARY") {
			t.Errorf("the audit row holds the change: %s", all)
		}
	})
}

func TestAppendRefusesUnencodableChange(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		appendN(t, d, 2)
		err := d.Write(context.Background(), func(tx *sql.Tx) error {
			_, err := audit.Append(context.Background(), tx, start, audit.Event{Action: "a", Change: make(chan int)})
			return err
		})
		if err == nil {
			t.Fatal("append of an unencodable change succeeded")
		}
		wantOK(t, d, 2)
	})
}

// TestAppendTimes checks that an entry's time verifies whatever its
// location and precision: both databases keep microseconds.
func TestAppendTimes(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		ctx := actorCtx()
		for i, at := range []time.Time{
			time.Date(2026, 3, 10, 7, 0, 0, 0, time.FixedZone("EST", -5*3600)),
			time.Date(2026, 3, 10, 12, 0, 0, 123456789, time.UTC),
			time.Now(),
		} {
			e := appendOne(t, ctx, d, at, audit.Event{Action: "a", ObjectType: "o", ObjectID: fmt.Sprint(i)})
			if got := readEntries(t, d)[i]; got != e {
				t.Errorf("stored entry =\n%+v\nreturned\n%+v", got, e)
			}
			if !e.At.Equal(at.Truncate(time.Microsecond)) {
				t.Errorf("entry at %v, appended at %v", e.At, at)
			}
		}
		wantOK(t, d, 3)
	})
}

func TestHash(t *testing.T) {
	base := audit.Entry{Seq: 3, At: start, Actor: "token:a", Action: "incident.create", ObjectType: "incident",
		ObjectID: "i1", RequestID: "r1", SourceIP: "192.0.2.1", Digest: strings.Repeat("d", 64), PrevHash: strings.Repeat("p", 64),
		Hash: "ignored"}
	h := audit.Hash(base)
	if len(h) != 64 {
		t.Fatalf("hash %q is not hex SHA-256", h)
	}
	same := base
	same.Hash = "something else"
	same.At = start.In(time.FixedZone("X", 3600))
	if audit.Hash(same) != h {
		t.Error("the hash depends on the stored hash or the time's location")
	}
	for name, change := range map[string]func(e *audit.Entry){
		"seq":         func(e *audit.Entry) { e.Seq++ },
		"at":          func(e *audit.Entry) { e.At = e.At.Add(time.Microsecond) },
		"actor":       func(e *audit.Entry) { e.Actor += "x" },
		"action":      func(e *audit.Entry) { e.Action += "x" },
		"object_type": func(e *audit.Entry) { e.ObjectType += "x" },
		"object_id":   func(e *audit.Entry) { e.ObjectID += "x" },
		"request_id":  func(e *audit.Entry) { e.RequestID += "x" },
		"source_ip":   func(e *audit.Entry) { e.SourceIP += "x" },
		"digest":      func(e *audit.Entry) { e.Digest += "x" },
		"prev_hash":   func(e *audit.Entry) { e.PrevHash += "x" },
		// Moving a character between neighbouring fields changes the hash.
		"field boundary": func(e *audit.Entry) { e.Actor, e.Action = "token:ai", "ncident.create" },
	} {
		e := base
		change(&e)
		if audit.Hash(e) == h {
			t.Errorf("changing %s does not change the hash", name)
		}
	}
}

func TestAppendOnlyTriggers(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		appendN(t, d, 3)
		wantAppendOnly(t, d)
		wantOK(t, d, 3)
		if got := len(readEntries(t, d)); got != 3 {
			t.Errorf("%d entries after refused changes, want 3", got)
		}
	})
}

func TestVerifyCatchesTampering(t *testing.T) {
	const n = 6
	cases := []struct {
		name   string
		tamper func(t *testing.T, d *db.DB, es []audit.Entry)
		badSeq int64
	}{
		{"alter a middle row", func(t *testing.T, d *db.DB, es []audit.Entry) {
			exec(t, d, "UPDATE audit_log SET actor = 'token:mallory' WHERE seq = 3")
		}, 3},
		{"alter the first row", func(t *testing.T, d *db.DB, es []audit.Entry) {
			exec(t, d, "UPDATE audit_log SET object_id = 'other' WHERE seq = 1")
		}, 1},
		{"alter the last row", func(t *testing.T, d *db.DB, es []audit.Entry) {
			exec(t, d, "UPDATE audit_log SET digest = $1 WHERE seq = $2", strings.Repeat("0", 64), n)
		}, n},
		{"delete a middle row", func(t *testing.T, d *db.DB, es []audit.Entry) {
			exec(t, d, "DELETE FROM audit_log WHERE seq = 3")
		}, 3},
		{"delete the first row", func(t *testing.T, d *db.DB, es []audit.Entry) {
			exec(t, d, "DELETE FROM audit_log WHERE seq = 1")
		}, 1},
		{"delete the last row", func(t *testing.T, d *db.DB, es []audit.Entry) {
			exec(t, d, "DELETE FROM audit_log WHERE seq = $1", n)
		}, n},
		{"delete the last two rows", func(t *testing.T, d *db.DB, es []audit.Entry) {
			exec(t, d, "DELETE FROM audit_log WHERE seq >= $1", n-1)
		}, n - 1},
		{"delete every row", func(t *testing.T, d *db.DB, es []audit.Entry) {
			exec(t, d, "DELETE FROM audit_log")
		}, 1},
		{"insert a forged row in the middle", func(t *testing.T, d *db.DB, es []audit.Entry) {
			// Make room after seq 3, then insert a well-formed entry there.
			exec(t, d, "UPDATE audit_log SET seq = -seq WHERE seq > 3")
			exec(t, d, "UPDATE audit_log SET seq = 1 - seq WHERE seq < 0")
			f := audit.Entry{Seq: 4, At: es[2].At, Actor: "token:mallory", Action: "incident.delete", ObjectType: "incident",
				ObjectID: "x", Digest: es[2].Digest, PrevHash: es[2].Hash}
			f.Hash = audit.Hash(f)
			insertEntry(t, d, f)
		}, 5},
		{"append a forged row after the head", func(t *testing.T, d *db.DB, es []audit.Entry) {
			f := audit.Entry{Seq: n + 1, At: es[n-1].At, Actor: "token:mallory", Action: "incident.create",
				ObjectType: "incident", ObjectID: "x", Digest: es[n-1].Digest, PrevHash: es[n-1].Hash}
			f.Hash = audit.Hash(f)
			insertEntry(t, d, f)
		}, n + 1},
		{"insert a row out of sequence", func(t *testing.T, d *db.DB, es []audit.Entry) {
			f := es[2]
			f.Seq = 100
			insertEntry(t, d, f)
		}, n + 1},
		{"insert a forged row before the first", func(t *testing.T, d *db.DB, es []audit.Entry) {
			f := audit.Entry{Seq: 0, At: es[0].At, Actor: "token:mallory", Action: "incident.create", ObjectType: "incident",
				ObjectID: "x", Digest: es[0].Digest, PrevHash: audit.Genesis}
			f.Hash = audit.Hash(f)
			insertEntry(t, d, f)
		}, 1},
		{"insert a forged row with a negative sequence number", func(t *testing.T, d *db.DB, es []audit.Entry) {
			f := es[2]
			f.Seq = -3
			insertEntry(t, d, f)
		}, 1},
		{"swap two rows", func(t *testing.T, d *db.DB, es []audit.Entry) {
			exec(t, d, "UPDATE audit_log SET seq = -1 WHERE seq = 3")
			exec(t, d, "UPDATE audit_log SET seq = 3 WHERE seq = 4")
			exec(t, d, "UPDATE audit_log SET seq = 4 WHERE seq = -1")
		}, 3},
		{"swap two rows and their sequence numbers", func(t *testing.T, d *db.DB, es []audit.Entry) {
			// Rows 3 and 4 trade contents, each keeping its own position.
			for _, p := range [][2]int{{2, 3}, {3, 2}} {
				e := es[p[0]]
				exec(t, d, `UPDATE audit_log SET actor = $1, object_id = $2, at = $3, digest = $4, prev_hash = $5, hash = $6
					WHERE seq = $7`, e.Actor, e.ObjectID, e.At, e.Digest, e.PrevHash, e.Hash, es[p[1]].Seq)
			}
		}, 3},
		{"recompute a middle row's hash", func(t *testing.T, d *db.DB, es []audit.Entry) {
			e := es[2]
			e.Actor = "token:mallory"
			e.Hash = audit.Hash(e)
			exec(t, d, "UPDATE audit_log SET actor = $1, hash = $2 WHERE seq = $3", e.Actor, e.Hash, e.Seq)
		}, 4},
		{"recompute the last row's hash", func(t *testing.T, d *db.DB, es []audit.Entry) {
			e := es[n-1]
			e.Action = "incident.read"
			e.Hash = audit.Hash(e)
			exec(t, d, "UPDATE audit_log SET action = $1, hash = $2 WHERE seq = $3", e.Action, e.Hash, e.Seq)
		}, n},
		{"rewind the head", func(t *testing.T, d *db.DB, es []audit.Entry) {
			exec(t, d, "UPDATE audit_head SET seq = $1, hash = $2", n-1, es[n-2].Hash)
		}, n},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
				es := appendN(t, d, n)
				wantOK(t, d, n)
				wantAppendOnly(t, d)
				dropTriggers(t, d)
				tc.tamper(t, d, es)
				wantBad(t, d, tc.badSeq)
			})
		})
	}
}

// TestVerifyEachField checks that each field is covered: altering it is
// caught, and putting it back makes the chain verify again.
func TestVerifyEachField(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		es := appendN(t, d, 5)
		dropTriggers(t, d)
		orig := es[2]
		for _, c := range []struct {
			col      string
			bad, old any
		}{
			{"at", orig.At.Add(time.Second), orig.At},
			{"actor", "token:mallory", orig.Actor},
			{"action", "incident.read", orig.Action},
			{"object_type", "task", orig.ObjectType},
			{"object_id", "inc-9", orig.ObjectID},
			{"request_id", "req-2", orig.RequestID},
			{"source_ip", "198.51.100.1", orig.SourceIP},
			{"digest", strings.Repeat("f", 64), orig.Digest},
			{"prev_hash", es[0].Hash, orig.PrevHash},
			{"hash", es[1].Hash, orig.Hash},
		} {
			exec(t, d, "UPDATE audit_log SET "+c.col+" = $1 WHERE seq = 3", c.bad)
			res := verify(t, d)
			if res.OK || res.BadSeq != 3 {
				t.Errorf("altered %s: verify = %+v, want caught at 3", c.col, res)
			}
			exec(t, d, "UPDATE audit_log SET "+c.col+" = $1 WHERE seq = 3", c.old)
			wantOK(t, d, 5)
		}
	})
}

// TestRolledBackAppend checks that an append whose transaction rolls back
// leaves nothing behind, and the chain goes on from where it was.
func TestRolledBackAppend(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		es := appendN(t, d, 3)
		boom := errors.New("boom")
		ctx := actorCtx()
		err := d.Write(ctx, func(tx *sql.Tx) error {
			if _, err := audit.Append(ctx, tx, start.Add(time.Hour), audit.Event{Action: "incident.create", ObjectType: "incident", ObjectID: "gone"}); err != nil {
				return err
			}
			// On PostgreSQL the entry waits in audit_pending until the commit;
			// in the SQLite committer's transaction it is chained at once.
			want := 1
			if d.Dialect == db.SQLite {
				want = 0
			}
			if n := pending(t, tx); n != want {
				t.Errorf("%d pending entries inside the transaction, want %d", n, want)
			}
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("write = %v, want boom", err)
		}
		if got := len(readEntries(t, d)); got != 3 {
			t.Errorf("%d entries after rollback, want 3", got)
		}
		if n := pending(t, d.R); n != 0 {
			t.Errorf("%d pending entries after rollback, want 0", n)
		}
		if seq, hash := head(t, d); seq != 3 || hash != es[2].Hash {
			t.Errorf("head after rollback = %d %s, want 3 %s", seq, hash, es[2].Hash)
		}
		wantOK(t, d, 3)
		next := appendOne(t, ctx, d, start.Add(2*time.Hour), audit.Event{Action: "incident.create", ObjectType: "incident", ObjectID: "kept"})
		if next.Seq != 4 || next.PrevHash != es[2].Hash {
			t.Errorf("next entry = seq %d prev %s, want 4 after %s", next.Seq, next.PrevHash, es[2].Hash)
		}
		wantOK(t, d, 4)
	})
}

// TestConcurrentAppends appends from many goroutines, each in its own
// transaction: they must form one unbroken chain (the chaining rounds,
// serialised by audit_head's row lock, number them). Some of the
// transactions roll back after appending; their entries must leave no
// trace, chained or pending.
func TestConcurrentAppends(t *testing.T) {
	const workers, perWorker = 8, 12
	boom := errors.New("boom")
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		appendN(t, d, 1)
		var wg sync.WaitGroup
		for w := range workers {
			wg.Go(func() {
				ctx := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, Name: fmt.Sprint("w", w), Role: authz.RoleAdmin})
				for i := range perWorker {
					fail := i%3 == 2
					err := d.Write(ctx, func(tx *sql.Tx) error {
						_, err := audit.Append(ctx, tx, start.Add(time.Duration(i)*time.Millisecond), audit.Event{
							Action: "incident.note", ObjectType: "incident", ObjectID: fmt.Sprintf("%d-%d", w, i)})
						if err == nil && fail {
							err = boom
						}
						return err
					})
					if fail != errors.Is(err, boom) || (!fail && err != nil) {
						t.Errorf("worker %d append %d: %v", w, i, err)
					}
				}
			})
		}
		wg.Wait()
		const total = 1 + workers*perWorker*2/3
		wantOK(t, d, total)
		seen := map[string]bool{}
		for i, e := range readEntries(t, d) {
			if e.Seq != int64(i+1) {
				t.Fatalf("entry %d has seq %d", i, e.Seq)
			}
			var w, n int
			if _, err := fmt.Sscanf(e.ObjectID, "%d-%d", &w, &n); err == nil && n%3 == 2 {
				t.Errorf("entry %d is from a rolled-back write: %s", e.Seq, e.ObjectID)
			}
			seen[e.ObjectID] = true
		}
		if len(seen) != total {
			t.Errorf("%d distinct entries, want %d", len(seen), total)
		}
		if seq, _ := head(t, d); seq != total {
			t.Errorf("head at %d, want %d", seq, total)
		}
		if n := pending(t, d.R); n != 0 {
			t.Errorf("%d entries left pending, want 0", n)
		}
	})
}

// bulkChain writes a valid chain of n entries straight into the tables, far
// faster than n appends, and returns it.
func bulkChain(t testing.TB, d *db.DB, n int) []audit.Entry {
	t.Helper()
	ctx := context.Background()
	es := make([]audit.Entry, n)
	prev := audit.Genesis
	for i := range es {
		e := audit.Entry{Seq: int64(i + 1), At: start.Add(time.Duration(i) * time.Millisecond), Actor: "token:bulk",
			Action: "incident.update", ObjectType: "incident", ObjectID: fmt.Sprintf("inc-%d", i%97),
			RequestID: fmt.Sprintf("r%d", i), Digest: strings.Repeat("ab", 32), PrevHash: prev}
		e.Hash = audit.Hash(e)
		prev = e.Hash
		es[i] = e
	}
	if d.Dialect == db.Postgres {
		rows := make([][]any, n)
		for i, e := range es {
			rows[i] = []any{e.Seq, e.At, e.Actor, e.Action, e.ObjectType, e.ObjectID, e.RequestID, e.SourceIP, e.Digest,
				e.PrevHash, e.Hash}
		}
		if _, err := d.Pool.CopyFrom(ctx, pgx.Identifier{"audit_log"}, []string{"seq", "at", "actor", "action",
			"object_type", "object_id", "request_id", "source_ip", "digest", "prev_hash", "hash"}, pgx.CopyFromRows(rows)); err != nil {
			t.Fatal(err)
		}
	} else {
		err := d.Write(ctx, func(tx *sql.Tx) error {
			stmt, err := tx.PrepareContext(ctx, `INSERT INTO audit_log (seq, at, actor, action, object_type, object_id,
				request_id, source_ip, digest, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`)
			if err != nil {
				return err
			}
			defer stmt.Close()
			for _, e := range es {
				if _, err := stmt.ExecContext(ctx, e.Seq, e.At, e.Actor, e.Action, e.ObjectType, e.ObjectID, e.RequestID,
					e.SourceIP, e.Digest, e.PrevHash, e.Hash); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	exec(t, d, "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", n, prev)
	return es
}

// TestVerifyLongChain checks a chain long enough for Verify to split it
// into ranges checked in parallel, with tampering at the edges of a range.
func TestVerifyLongChain(t *testing.T) {
	if testing.Short() {
		t.Skip("long chain")
	}
	const n, parts = 100_003, 4
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(parts))
	b := int64(n * 2 / parts) // the last seq of the second range; b+1 starts the third
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		es := bulkChain(t, d, n)
		wantOK(t, d, n)
		dropTriggers(t, d)
		entry := func(seq int64) audit.Entry { return es[seq-1] }
		put := func(e audit.Entry) {
			exec(t, d, "UPDATE audit_log SET actor = $1, hash = $2, prev_hash = $3, seq = $4 WHERE seq = $5",
				e.Actor, e.Hash, e.PrevHash, e.Seq, e.Seq)
		}
		for _, c := range []struct {
			name    string
			tamper  func()
			restore func()
			badSeq  int64
		}{
			{"alter the last entry of a range",
				func() { exec(t, d, "UPDATE audit_log SET actor = 'token:mallory' WHERE seq = $1", b) },
				func() { put(entry(b)) }, b},
			{"alter the first entry of a range",
				func() { exec(t, d, "UPDATE audit_log SET actor = 'token:mallory' WHERE seq = $1", b+1) },
				func() { put(entry(b + 1)) }, b + 1},
			{"recompute the last entry of a range",
				func() {
					e := entry(b)
					e.Actor = "token:mallory"
					e.Hash = audit.Hash(e)
					put(e)
				},
				func() { put(entry(b)) }, b + 1},
			{"recompute the first entry of a range",
				func() {
					e := entry(b + 1)
					e.Actor = "token:mallory"
					e.Hash = audit.Hash(e)
					put(e)
				},
				func() { put(entry(b + 1)) }, b + 2},
			{"delete the last entry of a range",
				func() { exec(t, d, "DELETE FROM audit_log WHERE seq = $1", b) },
				func() { insertEntry(t, d, entry(b)) }, b},
			{"delete the first entry of a range",
				func() { exec(t, d, "DELETE FROM audit_log WHERE seq = $1", b+1) },
				func() { insertEntry(t, d, entry(b+1)) }, b + 1},
			{"swap entries across ranges",
				func() {
					exec(t, d, "UPDATE audit_log SET seq = -1 WHERE seq = $1", b)
					exec(t, d, "UPDATE audit_log SET seq = $1 WHERE seq = $2", b, b+1)
					exec(t, d, "UPDATE audit_log SET seq = $1 WHERE seq = -1", b+1)
				},
				func() {
					exec(t, d, "UPDATE audit_log SET seq = -1 WHERE seq = $1", b)
					exec(t, d, "UPDATE audit_log SET seq = $1 WHERE seq = $2", b, b+1)
					exec(t, d, "UPDATE audit_log SET seq = $1 WHERE seq = -1", b+1)
				}, b},
		} {
			c.tamper()
			if res := verify(t, d); res.OK || res.BadSeq != c.badSeq {
				t.Errorf("%s: verify = %+v, want caught at %d", c.name, res, c.badSeq)
			}
			// A restore that failed shows in the next case, and at the end.
			c.restore()
		}
		wantOK(t, d, n)
	})
}
