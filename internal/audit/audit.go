// Package audit keeps Ward's audit trail (45 CFR 164.312(b), audit
// controls): an append-only, hash-chained log of every change and, once
// PHI reads exist, every PHI read. Entries are appended inside the caller's
// transaction, so a change whose audit entry fails is not made.
package audit

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/authz"
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

// Append adds ev to the trail inside tx, as the actor in ctx (or the
// system), at time at. The update of audit_head takes a row lock that is
// held to commit, so concurrent writers, on one node or several, form one
// chain in commit order.
func Append(ctx context.Context, tx *sql.Tx, at time.Time, ev Event) (Entry, error) {
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
		At: at, Actor: actor.String(), Action: ev.Action, ObjectType: ev.ObjectType, ObjectID: ev.ObjectID,
		RequestID: req.ID, SourceIP: req.SourceIP, Digest: hex.EncodeToString(sum[:]),
	}
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
	Entries int64  // entries checked
	OK      bool   // the whole chain is intact
	BadSeq  int64  // the first sequence number that fails, when !OK
	Reason  string // why it fails, when !OK
	Head    string // the hash of the last entry
}

// Verify walks the whole chain in sequence order and reports the first
// entry that was altered, deleted, inserted or reordered, and whether the
// head still matches the last entry (which catches a cut-off tail).
func Verify(ctx context.Context, q db.Querier) (Result, error) {
	rows, err := q.QueryContext(ctx, `SELECT seq, at, actor, action, object_type, object_id, request_id, source_ip, digest, prev_hash, hash
		FROM audit_log ORDER BY seq`)
	if err != nil {
		return Result{}, fmt.Errorf("audit verify: %w", err)
	}
	defer rows.Close()
	res := Result{OK: true, Head: Genesis}
	fail := func(seq int64, reason string) {
		if res.OK {
			res.OK, res.BadSeq, res.Reason = false, seq, reason
		}
	}
	var e Entry
	for rows.Next() {
		if err := rows.Scan(&e.Seq, &e.At, &e.Actor, &e.Action, &e.ObjectType, &e.ObjectID, &e.RequestID, &e.SourceIP,
			&e.Digest, &e.PrevHash, &e.Hash); err != nil {
			return Result{}, fmt.Errorf("audit verify: %w", err)
		}
		res.Entries++
		if !res.OK {
			continue
		}
		switch {
		case e.Seq != res.Entries:
			fail(res.Entries, fmt.Sprintf("expected sequence %d, found %d (entry missing or inserted)", res.Entries, e.Seq))
		case e.PrevHash != res.Head:
			fail(e.Seq, "previous hash does not match the entry before it")
		case Hash(e) != e.Hash:
			fail(e.Seq, "entry content does not match its hash")
		default:
			res.Head = e.Hash
		}
	}
	if err := rows.Err(); err != nil {
		return Result{}, fmt.Errorf("audit verify: %w", err)
	}
	if !res.OK {
		return res, nil
	}
	var headSeq int64
	var headHash string
	if err := q.QueryRowContext(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1").Scan(&headSeq, &headHash); err != nil {
		return Result{}, fmt.Errorf("audit verify: read head: %w", err)
	}
	if headSeq != res.Entries || headHash != res.Head {
		fail(res.Entries+1, fmt.Sprintf("chain head is at sequence %d but the log ends at %d (entries removed from the end)", headSeq, res.Entries))
	}
	return res, nil
}
