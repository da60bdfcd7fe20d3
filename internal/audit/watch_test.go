package audit_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// alerts counts the officer alerts a Watcher raises, each inside its
// transaction (a row written there proves it).
type alerts struct{ n int }

func (a *alerts) alert(ctx context.Context, tx *sql.Tx) error {
	a.n++
	_, err := tx.ExecContext(ctx, "INSERT INTO counters (name, value) VALUES ('test_officer_alert', 1) ON CONFLICT (name) DO UPDATE SET value = counters.value + 1")
	return err
}

func newWatcher(d *db.DB, a *alerts) *audit.Watcher {
	return audit.NewWatcher(d, clock.NewFake(start.Add(time.Hour)), audit.WatchOptions{Node: "ward-1", Batch: 5, Alert: a.alert})
}

// watchTick runs one look and fails on an error.
func watchTick(t testing.TB, w *audit.Watcher) int {
	t.Helper()
	n, err := w.Tick(context.Background())
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	return n
}

func metric(t testing.TB, w interface{ Collectors() []prometheus.Collector }, name string) float64 {
	t.Helper()
	for _, c := range w.Collectors() {
		m := c.(prometheus.Metric)
		if !strings.Contains(m.Desc().String(), `"`+name+`"`) {
			continue
		}
		var out dto.Metric
		if err := m.Write(&out); err != nil {
			t.Fatal(err)
		}
		if out.Gauge != nil {
			return out.Gauge.GetValue()
		}
		return out.Counter.GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestWatcherFollowsTheChain: the watcher verifies entries as they come,
// in batches, and stays intact on an honest chain.
func TestWatcherFollowsTheChain(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		var a alerts
		w := newWatcher(d, &a)
		if n := watchTick(t, w); n != 0 {
			t.Fatalf("empty chain: %d verified", n)
		}
		appendN(t, d, 12)
		got := []int{watchTick(t, w), watchTick(t, w), watchTick(t, w), watchTick(t, w)}
		if got[0] != 5 || got[1] != 5 || got[2] != 2 || got[3] != 0 {
			t.Fatalf("batches of 5 over 12 entries: %v", got)
		}
		if ok, reason := w.Status(); !ok || a.n != 0 || metric(t, w, "ward_audit_chain_intact") != 1 ||
			metric(t, w, "ward_audit_chain_verified_seq") != 12 {
			t.Fatalf("honest chain: ok %v (%s), alerts %d", ok, reason, a.n)
		}
	})
}

// TestWatcherCatchesTailRewrites: each of the four attacks that rewrite
// the tail and fix the head, which plain verification passes, is caught
// at the watcher's next look; a new segment recording the break is
// started with the officers' alert in its transaction, the next entry
// goes into it, and verify reports the break as recorded.
func TestWatcherCatchesTailRewrites(t *testing.T) {
	cases := []struct {
		name     string
		attack   func(t *testing.T, d *db.DB, es []audit.Entry)
		brokenAt int64
		found    string
	}{
		{"append a forged row in place of the last and update the head", func(t *testing.T, d *db.DB, es []audit.Entry) {
			forged := es[7]
			forged.Actor = "token:mallory"
			replaceTail(t, d, 8, []audit.Entry{forged})
		}, 8, "entry 8 now has hash"},
		{"cut the last rows and fix the head", func(t *testing.T, d *db.DB, es []audit.Entry) {
			replaceTail(t, d, 7, nil)
		}, 7, "entry 8 is gone; the entries before it end at entry 6"},
		{"rewrite a row and rehash everything after it", func(t *testing.T, d *db.DB, es []audit.Entry) {
			tail := append([]audit.Entry(nil), es[2:]...)
			tail[0].Actor = "token:mallory"
			replaceTail(t, d, 3, tail)
		}, 8, "entry 8 now has hash"},
		{"delete a row, renumber and rehash", func(t *testing.T, d *db.DB, es []audit.Entry) {
			replaceTail(t, d, 5, es[5:])
		}, 8, "entry 8 is gone; the entries before it end at entry 7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
				var a alerts
				w := newWatcher(d, &a)
				appendN(t, d, 8)
				watchTick(t, w)
				watchTick(t, w)
				_, remembered := head(t, d)
				tc.attack(t, d, readEntries(t, d))
				if res := verify(t, d); !res.OK {
					t.Fatalf("plain verify caught it already (%+v): the attack is not a tail rewrite", res)
				}
				watchTick(t, w)
				if ok, reason := w.Status(); !ok {
					t.Fatalf("not ready after the segment was started: %s", reason)
				}
				if a.n != 1 || metric(t, w, "ward_audit_chain_breaks_total") != 1 || metric(t, w, "ward_audit_chain_segment") != 2 ||
					metric(t, w, "ward_audit_chain_intact") != 1 {
					t.Fatalf("alerts %d, breaks %v, segment %v", a.n, metric(t, w, "ward_audit_chain_breaks_total"),
						metric(t, w, "ward_audit_chain_segment"))
				}
				seq, _ := head(t, d)
				if seq != 9 {
					t.Fatalf("the segment starts at entry %d, want 9: past every entry the node had verified", seq)
				}
				next := appendOne(t, actorCtx(), d, start.Add(time.Hour), audit.Event{Action: "incident.create", ObjectType: "incident", ObjectID: "inc-x"})
				es := readEntries(t, d)
				first := es[len(es)-2]
				if first.Seq != 9 || first.Action != audit.ActionSegmentStart || first.PrevHash != audit.Genesis ||
					next.Seq != 10 || next.PrevHash != first.Hash {
					t.Fatalf("segment start %+v, next entry %+v", first, next)
				}
				if n := watchTick(t, w); n != 1 || a.n != 1 {
					t.Fatalf("the entry in the new segment: %d verified, %d alerts", n, a.n)
				}
				res := verify(t, d)
				if !res.OK || len(res.Segments) != 2 || len(res.RecordedBreaks()) != 1 {
					t.Fatalf("verify after the break: %+v", res)
				}
				rec := res.Segments[1].Record
				if rec == nil || rec.Number != 2 || rec.StartSeq != 9 || rec.BrokenAt != tc.brokenAt || rec.ExpectedSeq != 8 ||
					rec.ExpectedHash != remembered || !strings.Contains(rec.Found, tc.found) || rec.Node != "ward-1" {
					t.Fatalf("segment record %+v; want broken at %d, found %q", rec, tc.brokenAt, tc.found)
				}
				if sg := res.Segments[0]; sg.FirstSeq != 1 || sg.LastSeq != 8 {
					t.Fatalf("segment 1 spans %d to %d, want 1 to 8", sg.FirstSeq, sg.LastSeq)
				}
			})
		})
	}
}

// TestWatcherNotReadyUntilContained: while the new segment cannot be
// started, the node says it is not ready and why, the officers are told
// once on their own, and the segment is started as soon as it can be.
func TestWatcherNotReadyUntilContained(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		var a alerts
		w := newWatcher(d, &a)
		es := appendN(t, d, 4)
		watchTick(t, w)
		forged := es[3]
		forged.Actor = "token:mallory"
		replaceTail(t, d, 4, []audit.Entry{forged})
		// The attacker also blocks new entries numbered past the chain.
		block(t, d, true)
		for range 2 {
			if _, err := w.Tick(context.Background()); err == nil {
				t.Fatal("a segment was started past the block")
			}
		}
		ok, reason := w.Status()
		if ok || !strings.Contains(reason, "found altered at or before entry 4") || a.n != 1 ||
			metric(t, w, "ward_audit_chain_intact") != 0 {
			t.Fatalf("blocked: ok %v (%s), alerts %d", ok, reason, a.n)
		}
		block(t, d, false)
		watchTick(t, w)
		if ok, _ := w.Status(); !ok || a.n != 1 || metric(t, w, "ward_audit_chain_segment") != 2 {
			t.Fatalf("unblocked: ok %v, alerts %d", ok, a.n)
		}
	})
}

// block adds (or drops) a trigger refusing audit entries numbered past 4.
func block(t *testing.T, d *db.DB, on bool) {
	t.Helper()
	switch {
	case d.Dialect == db.Postgres && on:
		exec(t, d, `CREATE FUNCTION test_block() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN IF NEW.seq > 4 THEN RAISE EXCEPTION 'blocked'; END IF; RETURN NEW; END; $$`)
		exec(t, d, "CREATE TRIGGER test_block BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION test_block()")
	case d.Dialect == db.Postgres:
		exec(t, d, "DROP TRIGGER test_block ON audit_log")
	case on:
		exec(t, d, "CREATE TRIGGER test_block BEFORE INSERT ON audit_log WHEN NEW.seq > 4 BEGIN SELECT RAISE(ABORT, 'blocked'); END")
	default:
		exec(t, d, "DROP TRIGGER test_block")
	}
}

// TestWatcherReported: a break the periodic walk finds deep in the chain
// is recorded in a new segment on the watcher's next look.
func TestWatcherReported(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		var a alerts
		w := newWatcher(d, &a)
		appendN(t, d, 6)
		watchTick(t, w)
		dropTriggers(t, d)
		exec(t, d, "UPDATE audit_log SET actor = 'token:mallory' WHERE seq = 2")
		res := wantBad(t, d, 2)
		w.Report(audit.Break{BrokenAt: res.BadSeq, Found: res.Reason})
		watchTick(t, w)
		res = verify(t, d)
		if !res.OK || a.n != 1 || len(res.RecordedBreaks()) != 1 || res.RecordedBreaks()[0].BadSeq != 2 ||
			res.Segments[1].Record.BrokenAt != 2 {
			t.Fatalf("after the report: alerts %d, %+v", a.n, res)
		}
	})
}

// TestVerifyRefusesForgedSegment: a segment start whose record does not
// match its digest is an unrecorded break.
func TestVerifyRefusesForgedSegment(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		var a alerts
		w := newWatcher(d, &a)
		appendN(t, d, 4)
		watchTick(t, w)
		exec(t, d, "UPDATE audit_head SET hash = $1 WHERE id = 1", strings.Repeat("0", 63)+"1")
		watchTick(t, w)
		wantOK(t, d, 5)
		e := readEntries(t, d)[4]
		dropTriggers(t, d)
		exec(t, d, "DELETE FROM audit_log WHERE seq = 5")
		e.ObjectID = strings.Replace(e.ObjectID, `"broken_at":4`, `"broken_at":1`, 1)
		e.Hash = audit.Hash(e)
		insertEntry(t, d, e)
		exec(t, d, "UPDATE audit_head SET hash = $1 WHERE id = 1", e.Hash)
		res := wantBad(t, d, 5)
		if !strings.Contains(res.Reason, "record does not match its digest") {
			t.Fatalf("reason %q", res.Reason)
		}
	})
}
