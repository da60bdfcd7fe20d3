package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
)

// The first entry of a new chain segment has this action and object type;
// its object id is the segment's record as JSON (Segment), and its digest
// the SHA-256 of that JSON, so the entry's own hash binds the record.
const (
	ActionSegmentStart = "audit.segment_start"
	ObjectSegment      = "audit_segment"
)

// Segment records why a new segment of the chain was started: the chain
// was found broken, and Ward never appends onto a broken chain. Segment 1
// is the chain from the first entry and has no record. Every field is
// Ward's own (sequence numbers, hashes, a node name, Ward's words): no PHI.
type Segment struct {
	Number    int64     `json:"segment"`
	StartSeq  int64     `json:"start_seq"`
	StartedAt time.Time `json:"started_at"`
	Node      string    `json:"node"`
	// BrokenAt is the entry at or before which the chain diverged from
	// what the node had verified.
	BrokenAt int64 `json:"broken_at"`
	// ExpectedSeq and ExpectedHash are the last entry the node had verified.
	ExpectedSeq  int64  `json:"expected_seq"`
	ExpectedHash string `json:"expected_hash"`
	// Found says in words what the node found instead.
	Found string `json:"found"`
	// HeadSeq and HeadHash are the chain head as the node found it.
	HeadSeq  int64  `json:"head_seq"`
	HeadHash string `json:"head_hash"`
}

// Break is a break of the chain as a node found it.
type Break struct {
	BrokenAt     int64
	ExpectedSeq  int64
	ExpectedHash string
	Found        string
}

// Describe is the break as a person reads it.
func (s Segment) Describe() string {
	return fmt.Sprintf("segment %d, from entry %d, started %s by node %s: the chain broke at or before entry %d; "+
		"the node had verified entry %d with hash %s and found %s",
		s.Number, s.StartSeq, s.StartedAt.UTC().Format("2006-01-02 15:04:05 UTC"), s.Node, s.BrokenAt,
		s.ExpectedSeq, s.ExpectedHash, s.Found)
}

// encode is the record as its entry's object id holds it.
func (s Segment) encode() string {
	b, _ := json.Marshal(s) // a Segment always encodes
	return string(b)
}

// segmentEntry is the first entry of segment s: previous hash Genesis.
func segmentEntry(s Segment) Entry {
	rec := s.encode()
	sum := sha256.Sum256([]byte(rec))
	e := Entry{Seq: s.StartSeq, At: s.StartedAt, Actor: authz.System.String(), Action: ActionSegmentStart,
		ObjectType: ObjectSegment, ObjectID: rec, Digest: hex.EncodeToString(sum[:]), PrevHash: Genesis}
	e.Hash = Hash(e)
	return e
}

// parseSegment reads the record of a segment's first entry e, and checks
// that the entry is one: the right action, previous hash Genesis, and a
// digest that is the record's.
func parseSegment(e Entry) (Segment, error) {
	var s Segment
	sum := sha256.Sum256([]byte(e.ObjectID))
	switch {
	case e.Action != ActionSegmentStart || e.ObjectType != ObjectSegment:
		return s, fmt.Errorf("entry %d is not the start of a segment", e.Seq)
	case e.PrevHash != Genesis:
		return s, fmt.Errorf("entry %d starts a segment but links to an entry before it", e.Seq)
	case hex.EncodeToString(sum[:]) != e.Digest:
		return s, fmt.Errorf("entry %d starts a segment but its record does not match its digest", e.Seq)
	}
	if err := json.Unmarshal([]byte(e.ObjectID), &s); err != nil {
		return s, fmt.Errorf("entry %d starts a segment but its record is unreadable", e.Seq)
	}
	if s.StartSeq != e.Seq {
		return s, fmt.Errorf("entry %d starts a segment whose record names entry %d", e.Seq, s.StartSeq)
	}
	return s, nil
}

// segmentStarts reads the entries that claim to start a segment, in
// order. Verify checks each.
func segmentStarts(ctx context.Context, q db.Querier) ([]Entry, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+entryColumns+" FROM audit_log WHERE object_type = $1 ORDER BY seq", ObjectSegment)
	return db.Collect(rows, err, "audit segments", func(r *sql.Rows) (Entry, error) { return scanEntry(r) })
}

// Segments returns the record of each segment after the first, oldest
// first, for a caller holding authz.AuditRead. Records that fail their
// check are left out (Verify reports them).
func (r *Reader) Segments(ctx context.Context) ([]Segment, error) {
	if _, err := authz.Check(ctx, authz.AuditRead); err != nil {
		return nil, err
	}
	return segments(ctx, r.db.R)
}

func segments(ctx context.Context, q db.Querier) ([]Segment, error) {
	starts, err := validStarts(ctx, q)
	out := make([]Segment, len(starts))
	for i, st := range starts {
		out[i] = st.Segment
	}
	return out, err
}

// SegmentStart is a segment's record and the hash of its first entry.
type SegmentStart struct {
	Segment
	Hash string
}

// validStarts are the segments' first entries that pass parseSegment.
func validStarts(ctx context.Context, q db.Querier) ([]SegmentStart, error) {
	starts, err := segmentStarts(ctx, q)
	if err != nil {
		return nil, err
	}
	out := []SegmentStart{}
	for _, e := range starts {
		if s, err := parseSegment(e); err == nil {
			out = append(out, SegmentStart{s, e.Hash})
		}
	}
	return out, nil
}

// StartSegment starts a new segment of the chain that records brk, as
// node, at time at, in one transaction that also runs alert (the
// officers' alert; may be nil). It never appends onto the broken chain:
// the segment's first entry links to Genesis, its sequence number is past
// every entry, head and checkpoint the database holds and past the entry
// the node had verified, and the head moves onto it.
//
// If a segment was already started after the entry the node had verified
// (another node found the same break first), StartSegment starts none and
// returns that one, with adopted true.
func StartSegment(ctx context.Context, d *db.DB, at time.Time, node string, brk Break,
	alert func(ctx context.Context, tx *sql.Tx) error) (seg SegmentStart, adopted bool, err error) {
	err = d.Write(ctx, func(tx *sql.Tx) error {
		seg, adopted = SegmentStart{}, false
		// The head's row lock orders this after every append in flight.
		var headSeq int64
		var headHash string
		err := tx.QueryRowContext(ctx, "UPDATE audit_head SET seq = seq WHERE id = 1 RETURNING seq, hash").Scan(&headSeq, &headHash)
		if errors.Is(err, sql.ErrNoRows) {
			if _, err := tx.ExecContext(ctx, "INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, $1)", Genesis); err != nil {
				return fmt.Errorf("audit segment: restore the head row: %w", err)
			}
			headHash = "none (the head row was missing)"
		} else if err != nil {
			return fmt.Errorf("audit segment: lock head: %w", err)
		}
		existing, err := validStarts(ctx, tx)
		if err != nil {
			return err
		}
		number := int64(2)
		if n := len(existing); n > 0 {
			last := existing[n-1]
			if last.StartSeq > brk.ExpectedSeq {
				seg, adopted = last, true
				return nil
			}
			number = last.Number + 1
		}
		var maxSeq, maxCheckpoint int64
		if err := tx.QueryRowContext(ctx, `SELECT (SELECT coalesce(max(seq), 0) FROM audit_log),
			(SELECT coalesce(max(seq), 0) FROM audit_checkpoints)`).Scan(&maxSeq, &maxCheckpoint); err != nil {
			return fmt.Errorf("audit segment: %w", err)
		}
		rec := Segment{Number: number, StartSeq: max(headSeq, maxSeq, maxCheckpoint, brk.ExpectedSeq) + 1,
			StartedAt: clock.Normalize(at).UTC(), Node: node, BrokenAt: brk.BrokenAt, ExpectedSeq: brk.ExpectedSeq,
			ExpectedHash: brk.ExpectedHash, Found: brk.Found, HeadSeq: headSeq, HeadHash: headHash}
		e := segmentEntry(rec)
		seg = SegmentStart{rec, e.Hash}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log
			(seq, at, actor, action, object_type, object_id, request_id, source_ip, digest, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			e.Seq, e.At, e.Actor, e.Action, e.ObjectType, e.ObjectID, e.RequestID, e.SourceIP, e.Digest, e.PrevHash, e.Hash); err != nil {
			return fmt.Errorf("audit segment: insert: %w", err)
		}
		if _, err := tx.ExecContext(ctx, "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", e.Seq, e.Hash); err != nil {
			return fmt.Errorf("audit segment: store head: %w", err)
		}
		if alert != nil {
			return alert(ctx, tx)
		}
		return nil
	})
	return seg, adopted, err
}
