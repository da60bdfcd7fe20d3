package audit_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// pinnedTrail appends n entries to d, with a checkpoint every 2 entries a
// minute apart published to a file, and returns the checkpoints as an
// auditor reads them from that file.
func pinnedTrail(t *testing.T, d *db.DB, key audit.SigningKey, n int) []audit.PinnedCheckpoint {
	t.Helper()
	file := filepath.Join(t.TempDir(), "checkpoints.jsonl")
	clk := clock.NewFake(start)
	cp := audit.NewCheckpointer(d, clk, key, audit.CheckpointOptions{Entries: 2, Interval: time.Hour, Node: "ward-1",
		Publishers: []audit.Publisher{audit.FilePublisher{Path: file}}})
	for range n / 2 {
		appendMore(t, d, 2)
		clk.Advance(2 * time.Minute)
		tick(t, cp)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	pinned, _, err := audit.ReadCheckpoints(data)
	if err != nil {
		t.Fatal(err)
	}
	return pinned
}

// replaceTail removes the entries from seq on and appends tail in their
// place, renumbered, relinked and rehashed, then points the head at the
// new end: a consistent chain that plain verification accepts.
func replaceTail(t *testing.T, d *db.DB, from int64, tail []audit.Entry) {
	t.Helper()
	dropTriggers(t, d)
	exec(t, d, "DELETE FROM audit_log WHERE seq >= $1", from)
	prev := audit.Genesis
	if from > 1 {
		if err := d.R.QueryRowContext(context.Background(), "SELECT hash FROM audit_log WHERE seq = $1", from-1).Scan(&prev); err != nil {
			t.Fatal(err)
		}
	}
	seq := from - 1
	for _, e := range tail {
		seq++
		e.Seq, e.PrevHash = seq, prev
		e.Hash = audit.Hash(e)
		insertEntry(t, d, e)
		prev = e.Hash
	}
	exec(t, d, "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", seq, prev)
}

func proveAgainst(t *testing.T, d *db.DB, pinned []audit.PinnedCheckpoint, trusted audit.TrustedKeys) audit.CheckpointReport {
	t.Helper()
	rep, err := audit.VerifyCheckpoints(context.Background(), d.R, pinned, trusted)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func TestVerifyCheckpointsIntact(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		key := newKey(t)
		pinned := pinnedTrail(t, d, key, 8)
		if len(pinned) != 4 {
			t.Fatalf("%d checkpoints, want 4 (entries 2, 4, 6, 8)", len(pinned))
		}
		rep := proveAgainst(t, d, pinned, trust(t, key))
		if !rep.OK || rep.Proved != 4 || rep.Newest.Seq != 8 || rep.Unanchored != 0 || rep.LastSeq != 8 || len(rep.Problems) != 0 {
			t.Fatalf("intact trail: %+v", rep)
		}
		// Entries after the newest checkpoint verify, and are counted as
		// not yet anchored: a row forged there is not caught until a
		// checkpoint covers it (docs/AUDIT.md says so).
		appendMore(t, d, 2)
		rep = proveAgainst(t, d, append(pinned, pinned[1]), trust(t, key))
		if !rep.OK || rep.Proved != 4 || rep.Unanchored != 2 {
			t.Fatalf("trail grown past its checkpoints (one pinned twice): %+v", rep)
		}
	})
}

// TestVerifyCheckpointsCatchTailRewrites: the four attacks that rewrite
// the tail and fix the head pass plain verification, and each is caught,
// named at its first divergence, once a checkpoint covers what it rewrote.
func TestVerifyCheckpointsCatchTailRewrites(t *testing.T) {
	cases := []struct {
		name   string
		attack func(t *testing.T, d *db.DB, es []audit.Entry)
		at     int64
		says   []string
	}{
		{"append a forged row in place of the last and update the head", func(t *testing.T, d *db.DB, es []audit.Entry) {
			forged := es[7]
			forged.Actor, forged.Action = "token:mallory", "user.role_change"
			replaceTail(t, d, 8, []audit.Entry{forged})
		}, 7, []string{"the trail was altered between entry 7 and entry 8: entry 8 does not match the checkpoint signed on 2026-03-10 12:08:00 UTC, while the checkpoint for entry 6 still matches"}},
		{"cut the last rows and fix the head", func(t *testing.T, d *db.DB, es []audit.Entry) {
			replaceTail(t, d, 7, nil)
		}, 7, []string{"the trail ends at entry 6 but a checkpoint signed on 2026-03-10 12:08:00 UTC covers entry 8: " +
			"the database was restored from an older copy or entries were removed"}},
		{"rewrite a row and rehash everything after it", func(t *testing.T, d *db.DB, es []audit.Entry) {
			tail := append([]audit.Entry(nil), es[2:]...)
			tail[0].Actor = "token:mallory"
			replaceTail(t, d, 3, tail)
		}, 3, []string{"the trail was altered between entry 3 and entry 4: entry 4 does not match the checkpoint signed on 2026-03-10 12:04:00 UTC, while the checkpoint for entry 2 still matches",
			"2 later checkpoints do not match the trail either"}},
		{"delete a row, renumber and rehash", func(t *testing.T, d *db.DB, es []audit.Entry) {
			replaceTail(t, d, 5, es[5:])
		}, 5, []string{"the trail was altered between entry 5 and entry 6", "the trail ends at entry 7 but a checkpoint signed on 2026-03-10 12:08:00 UTC covers entry 8"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
				key := newKey(t)
				pinned := pinnedTrail(t, d, key, 8)
				tc.attack(t, d, readEntries(t, d))
				if res := verify(t, d); !res.OK {
					t.Fatalf("plain verify caught it already (%+v): the attack is not a tail rewrite", res)
				}
				rep := proveAgainst(t, d, pinned, trust(t, key))
				if rep.OK || rep.DivergedAt != tc.at {
					t.Fatalf("verify --checkpoints = OK %v, diverged at %d (%s); want caught at %d", rep.OK, rep.DivergedAt, rep.Divergence, tc.at)
				}
				all := strings.Join(rep.Problems, "\n")
				for _, s := range tc.says {
					if !strings.Contains(all, s) {
						t.Errorf("problems:\n%s\nwant %q", all, s)
					}
				}
				if rep.Divergence != rep.Problems[0] {
					t.Errorf("divergence %q is not the first problem %q", rep.Divergence, rep.Problems[0])
				}
			})
		})
	}
}

// TestVerifyCheckpointsRollback: an older copy of the database (here, a
// second database holding the same first entries) verifies as a chain but
// is reported as rolled back, with the checkpoints it predates.
func TestVerifyCheckpointsRollback(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		key := newKey(t)
		pinned := pinnedTrail(t, d, key, 8)
		older := secondDB(t, d)
		appendMore(t, older, 5)
		if res := verify(t, older); !res.OK {
			t.Fatalf("the older copy does not verify as a chain: %+v", res)
		}
		rep := proveAgainst(t, older, pinned, trust(t, key))
		if rep.OK || rep.DivergedAt != 6 || len(rep.Predates) != 2 || rep.Predates[0].Seq != 6 || rep.Predates[1].Seq != 8 {
			t.Fatalf("older copy: %+v", rep)
		}
		want := "the trail ends at entry 5 but a checkpoint signed on 2026-03-10 12:08:00 UTC covers entry 8: " +
			"the database was restored from an older copy or entries were removed"
		if rep.Divergence != want || len(rep.Problems) != 1 {
			t.Fatalf("divergence %q (problems %q), want %q", rep.Divergence, rep.Problems, want)
		}
	})
}

// secondDB is another empty migrated database of d's dialect.
func secondDB(t *testing.T, d *db.DB) *db.DB {
	t.Helper()
	if d.Dialect == db.Postgres {
		return dbtest.Open(t, dbtest.PostgresURL(t))
	}
	return dbtest.Open(t, filepath.Join(t.TempDir(), "older.db"))
}

func TestVerifyCheckpointsRefusesUntrusted(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		key, stranger := newKey(t), newKey(t)
		pinned := pinnedTrail(t, d, key, 4)

		rep := proveAgainst(t, d, pinned, trust(t, stranger))
		all := strings.Join(rep.Problems, "\n")
		if rep.OK || rep.Proved != 0 || !strings.Contains(all, "the checkpoint on line 1, for entry 2 (signed 2026-03-10 12:02:00 UTC) is refused: "+
			"it was signed by key "+key.ID()+", which is not a key you trust") ||
			!strings.Contains(all, "no checkpoint is signed by a key you trust") {
			t.Fatalf("checkpoints of an unknown key: %+v", rep)
		}

		// A line signed by a stranger among trusted ones is refused too.
		foreign := audit.PinnedCheckpoint{Checkpoint: stranger.Sign(pinned[1].Checkpoint), Line: 3}
		rep = proveAgainst(t, d, append(pinned, foreign), trust(t, key))
		if rep.OK || rep.Proved != 2 || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "line 3") {
			t.Fatalf("one stranger's checkpoint among trusted ones: %+v", rep)
		}

		// A line edited in the file: its signature no longer verifies.
		es := readEntries(t, d)
		tampered := pinned[1]
		tampered.Hash = es[2].Hash
		rep = proveAgainst(t, d, []audit.PinnedCheckpoint{pinned[0], tampered}, trust(t, key))
		if rep.OK || len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "is refused: its signature does not verify under key "+
			key.ID()+": the checkpoint was altered") {
			t.Fatalf("tampered checkpoint line: %+v", rep)
		}

		// Two validly signed checkpoints that disagree: the key signed two
		// different trails.
		forked := audit.PinnedCheckpoint{Checkpoint: key.Sign(tampered.Checkpoint), Line: 9}
		rep = proveAgainst(t, d, append(pinned, forked), trust(t, key))
		if rep.OK || !strings.Contains(strings.Join(rep.Problems, "\n"), "two trusted checkpoints disagree about entry 4 (lines 2 and 9)") {
			t.Fatalf("conflicting checkpoints: %+v", rep)
		}
	})
}
