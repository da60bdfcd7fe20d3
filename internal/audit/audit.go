// Package audit keeps Ward's audit trail (45 CFR 164.312(b), audit
// controls): an append-only, hash-chained log of every change and, once
// PHI reads exist, every PHI read. Entries are appended inside the caller's
// transaction, so a change whose audit entry fails is not made, and
// chained as the transaction commits (chain.go).
package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
)

// Genesis is the previous hash of the first entry.
const Genesis = "0000000000000000000000000000000000000000000000000000000000000000"

// Event is one change to record.
type Event struct {
	Action     string // e.g. "incident.create"
	ObjectType string // e.g. "incident"
	ObjectID   string
	// Change is what changed; only its SHA-256 digest is kept, so the trail
	// itself holds no PHI while still binding each entry to its change.
	Change any
}

// Entry is one row of the audit trail.
type Entry struct {
	Seq        int64     `json:"seq"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"`
	Action     string    `json:"action"`
	ObjectType string    `json:"object_type"`
	ObjectID   string    `json:"object_id"`
	RequestID  string    `json:"request_id"`
	SourceIP   string    `json:"source_ip"`
	Digest     string    `json:"digest"`
	PrevHash   string    `json:"prev_hash"`
	Hash       string    `json:"hash"`
}

// Append adds ev to the trail inside tx (a *sql.Tx, or db.DB.In of one
// for cached statements), as the actor in ctx (or the system), at time at.
// The entry goes into audit_pending, unchained, with the change: no lock
// that another writer needs is taken. It is numbered, linked and hashed
// when its transaction commits (chain.go); when db.DB.Write returns, it is
// in the chain (unless, on PostgreSQL, no round could run for
// SettleTimeout: then the Sequencer chains it). The Entry returned has no
// sequence number or hashes yet.
//
// In a transaction of the SQLite committer (db.ChainsInline), the only
// writer, the entry is chained at once instead, under the chain head:
// no writer waits for it, and the insert into audit_pending and its
// removal, a tenth of the work of an alert that opens an incident, are
// spared.
func Append(ctx context.Context, tx db.Querier, at time.Time, ev Event) (Entry, error) {
	actor, ok := authz.ActorFrom(ctx)
	if !ok {
		actor = authz.System
	}
	req := authz.RequestFrom(ctx)
	change, err := json.Marshal(ev.Change)
	if err != nil {
		return Entry{}, fmt.Errorf("audit: encode change: %w", err)
	}
	sum := sha256.Sum256(change)
	e := Entry{
		// Stored at the databases' precision, so the hash verifies on reading back.
		At:    clock.Normalize(at),
		Actor: actor.String(), Action: ev.Action, ObjectType: ev.ObjectType, ObjectID: ev.ObjectID,
		RequestID: req.ID, SourceIP: req.SourceIP, Digest: hex.EncodeToString(sum[:]),
	}
	if t := txOf(tx); t != nil && db.ChainsInline(t) {
		return appendChained(ctx, tx, e)
	}
	if t, ok := tx.(db.InTx); ok {
		// Sent with the transaction's next statement (db.InTx.Defer);
		// chained after the commit by the writer's group round, with
		// everything committed before it (afterCommit).
		if err := t.Defer(ctx, "audit: insert", `INSERT INTO audit_pending
			(at, actor, action, object_type, object_id, request_id, source_ip, digest)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			e.At, e.Actor, e.Action, e.ObjectType, e.ObjectID, e.RequestID, e.SourceIP, e.Digest); err != nil {
			return Entry{}, err
		}
		noteUnchained(t)
		return e, nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_pending
		(at, actor, action, object_type, object_id, request_id, source_ip, digest)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		e.At, e.Actor, e.Action, e.ObjectType, e.ObjectID, e.RequestID, e.SourceIP, e.Digest); err != nil {
		return Entry{}, fmt.Errorf("audit: insert: %w", err)
	}
	noteUnchained(tx)
	return e, nil
}

// appendChained numbers, links and hashes e as the head's next entry and
// stores it, inside tx, which holds the head until it ends.
func appendChained(ctx context.Context, tx db.Querier, e Entry) (Entry, error) {
	if err := tx.QueryRowContext(ctx,
		"UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash").Scan(&e.Seq, &e.PrevHash); err != nil {
		return Entry{}, fmt.Errorf("audit: advance head: %w", err)
	}
	e.Hash = Hash(e)
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log
		(seq, at, actor, action, object_type, object_id, request_id, source_ip, digest, prev_hash, hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		e.Seq, e.At, e.Actor, e.Action, e.ObjectType, e.ObjectID, e.RequestID, e.SourceIP, e.Digest, e.PrevHash, e.Hash); err != nil {
		return Entry{}, fmt.Errorf("audit: insert: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "UPDATE audit_head SET hash = $1 WHERE id = 1", e.Hash); err != nil {
		return Entry{}, fmt.Errorf("audit: store head: %w", err)
	}
	return e, nil
}

// Hash computes an entry's hash: SHA-256 over the previous hash and every
// field, each length-prefixed so that no two entries encode alike.
func Hash(e Entry) string {
	h := sha256.New()
	var buf [8]byte
	field := func(s string) {
		binary.BigEndian.PutUint64(buf[:], uint64(len(s)))
		h.Write(buf[:])
		h.Write([]byte(s))
	}
	field(e.PrevHash)
	binary.BigEndian.PutUint64(buf[:], uint64(e.Seq))
	h.Write(buf[:])
	field(e.At.UTC().Format(time.RFC3339Nano))
	field(e.Actor)
	field(e.Action)
	field(e.ObjectType)
	field(e.ObjectID)
	field(e.RequestID)
	field(e.SourceIP)
	field(e.Digest)
	return hex.EncodeToString(h.Sum(nil))
}

// Result is the outcome of Verify.
type Result struct {
	Entries int64 // entries read
	// OK: the current segment is intact and every segment's first entry
	// is a valid record of the break that closed the segment before it.
	// A break in a closed segment is a recorded break, not a failure.
	OK     bool
	BadSeq int64  // the first sequence number that fails, when !OK
	Reason string // why it fails, when !OK
	Head   string // the hash of the last entry
	// Segments are the chain's segments, oldest first: one unless a break
	// was found and recorded (Segment).
	Segments []SegmentResult
}

// SegmentResult is the outcome of verifying one segment.
type SegmentResult struct {
	Number   int64
	FirstSeq int64
	LastSeq  int64 // the last entry it spans: the one before the next segment, or the chain's end
	Entries  int64
	Intact   bool
	BadSeq   int64  // the first entry that fails, when !Intact
	Reason   string // why, when !Intact
	// Record is what the node that started the segment recorded (nil for
	// segment 1).
	Record *Segment
}

// RecordedBreaks are the closed segments: each ended in a break that the
// first entry of the segment after it records.
func (r Result) RecordedBreaks() []SegmentResult {
	if len(r.Segments) < 2 {
		return nil
	}
	return r.Segments[:len(r.Segments)-1]
}

// segment is the outcome of checking one range of sequence numbers.
type segment struct {
	lo, hi    int64 // the range checked, lo < seq <= hi
	entries   int64
	first     Entry  // the first entry
	firstPrev string // prev_hash of the first entry
	last      string // hash of the last entry
	badSeq    int64
	reason    string
}

// Verify walks the whole chain, segment by segment, and reports the first
// entry of each that was altered, deleted, inserted or reordered, and
// whether the head still matches the last entry (which catches a cut-off
// tail). Each segment after the first must start with a valid record of
// the break that closed the one before (StartSegment). Given a *sql.DB it
// checks ranges of a long segment in parallel, one per CPU, and joins them.
func Verify(ctx context.Context, q db.Querier) (Result, error) {
	var headSeq, maxSeq int64
	var headHash string
	// One statement, so the head and the last entry come from one snapshot
	// even while Ward keeps appending.
	if err := q.QueryRowContext(ctx, `SELECT seq, hash, (SELECT coalesce(max(seq), 0) FROM audit_log)
		FROM audit_head WHERE id = 1`).Scan(&headSeq, &headHash, &maxSeq); errors.Is(err, sql.ErrNoRows) {
		return Result{BadSeq: 1, Reason: "the chain head (the audit_head row) is missing"}, nil
	} else if err != nil {
		return Result{}, fmt.Errorf("audit verify: read head: %w", err)
	}
	starts, err := segmentStarts(ctx, q)
	if err != nil {
		return Result{}, err
	}
	end := max(headSeq, maxSeq)
	// Each segment spans from its first entry to the one before the next.
	bounds := []int64{0}
	for _, e := range starts {
		if e.Seq > bounds[len(bounds)-1]+1 && e.Seq <= end {
			bounds = append(bounds, e.Seq-1)
		}
	}
	bounds = append(bounds, end)
	cpus := 1
	if _, ok := q.(*sql.DB); ok {
		cpus = runtime.GOMAXPROCS(0)
	}
	var parts [][]segment
	for i := 1; i < len(bounds); i++ {
		lo, hi := bounds[i-1], bounds[i]
		n := 1
		if hi-lo > 100_000 {
			n = cpus
		}
		ps := make([]segment, n)
		for j := range ps {
			ps[j] = segment{lo: lo + (hi-lo)*int64(j)/int64(n), hi: lo + (hi-lo)*int64(j+1)/int64(n)}
		}
		parts = append(parts, ps)
	}
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range parts {
		for j := range parts[i] {
			wg.Go(func() {
				if err := verifyRange(ctx, q, &parts[i][j]); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Result{}, err
	}

	res := Result{OK: true}
	for i, ps := range parts {
		sr := joinParts(ps)
		sr.Number = int64(i + 1)
		res.Entries += sr.Entries
		if i > 0 {
			rec, err := parseSegment(ps[0].first)
			if err != nil {
				if res.OK {
					res.OK, res.BadSeq, res.Reason = false, ps[0].lo+1, err.Error()
				}
			} else {
				sr.Number, sr.Record = rec.Number, &rec
			}
		}
		if i == len(parts)-1 {
			last := sr.head
			res.Head = last
			switch {
			case !sr.Intact:
			case headSeq != maxSeq:
				sr.Intact, sr.BadSeq = false, min(headSeq, maxSeq)+1
				sr.Reason = fmt.Sprintf("the chain head (sequence %d) does not match the last entry (sequence %d): entries removed or added at the end", headSeq, maxSeq)
			case headHash != last:
				sr.Intact, sr.BadSeq, sr.Reason = false, maxSeq, "the last entry does not match the chain head"
			}
			if !sr.Intact && res.OK {
				res.OK, res.BadSeq, res.Reason = false, sr.BadSeq, sr.Reason
			}
		}
		res.Segments = append(res.Segments, sr.SegmentResult)
	}
	return res, nil
}

// joined is a segment's parts joined.
type joined struct {
	SegmentResult
	head string
}

// joinParts joins the ranges of one segment, checked apart, into its
// result: each range must link to the one before, the first to Genesis.
func joinParts(ps []segment) joined {
	j := joined{SegmentResult: SegmentResult{FirstSeq: ps[0].lo + 1, LastSeq: ps[len(ps)-1].hi, Intact: true}, head: Genesis}
	for _, sg := range ps {
		j.Entries += sg.entries
		if !j.Intact {
			continue
		}
		switch {
		case sg.entries > 0 && sg.firstPrev != j.head && sg.badSeq != sg.lo+1:
			j.Intact, j.BadSeq, j.Reason = false, sg.lo+1, "previous hash does not match the entry before it"
		case sg.badSeq != 0:
			j.Intact, j.BadSeq, j.Reason = false, sg.badSeq, sg.reason
		case sg.entries > 0:
			j.head = sg.last
		}
	}
	return j
}

// verifyRange checks the entries with lo < seq <= hi: contiguous sequence
// numbers, each linked to the one before and matching its own hash.
func verifyRange(ctx context.Context, q db.Querier, sg *segment) error {
	from := sg.lo
	if from == 0 {
		from = math.MinInt64 // the first range also reads any forged entry numbered below 1
	}
	rows, err := q.QueryContext(ctx, `SELECT seq, at, actor, action, object_type, object_id, request_id, source_ip, digest, prev_hash, hash
		FROM audit_log WHERE seq > $1 AND seq <= $2 ORDER BY seq`, from, sg.hi)
	if err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	defer rows.Close()
	fail := func(seq int64, reason string) {
		if sg.badSeq == 0 {
			sg.badSeq, sg.reason = seq, reason
		}
	}
	var e Entry
	for rows.Next() {
		if err := rows.Scan(&e.Seq, &e.At, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &e.RequestID, &e.SourceIP,
			&e.Digest, &e.PrevHash, &e.Hash); err != nil {
			return fmt.Errorf("audit verify: %w", err)
		}
		sg.entries++
		if sg.badSeq != 0 {
			continue
		}
		want := sg.lo + sg.entries
		switch {
		case e.Seq != want:
			fail(want, fmt.Sprintf("expected sequence %d, found %d (entry missing)", want, e.Seq))
		case sg.entries == 1:
			sg.first, sg.firstPrev = e, e.PrevHash
		case e.PrevHash != sg.last:
			fail(e.Seq, "previous hash does not match the entry before it")
		}
		if sg.badSeq == 0 && Hash(e) != e.Hash {
			fail(e.Seq, "entry content does not match its hash")
		}
		sg.last = e.Hash
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("audit verify: %w", err)
	}
	if sg.badSeq == 0 && sg.lo+sg.entries != sg.hi {
		fail(sg.lo+sg.entries+1, fmt.Sprintf("expected sequence %d, found none (entry missing)", sg.lo+sg.entries+1))
	}
	return nil
}
