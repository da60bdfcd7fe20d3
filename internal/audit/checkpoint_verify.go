package audit

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/wardhq/ward/internal/db"
)

// PinnedCheckpoint is a checkpoint as an auditor holds it, with where it
// came from for messages.
type PinnedCheckpoint struct {
	Checkpoint
	Line int // its line in a JSON Lines file, or its place in a list, from 1
}

// where names a pinned checkpoint for messages.
func (p PinnedCheckpoint) where() string {
	return fmt.Sprintf("the checkpoint on line %d, for %s", p.Line, p.Describe())
}

// CheckpointPage is the API's answer to GET /api/v1/audit/checkpoints.
type CheckpointPage struct {
	Checkpoints []Checkpoint `json:"checkpoints"`
	// NextAfterSeq, when not 0, is the after_seq of the next page.
	NextAfterSeq int64 `json:"next_after_seq,omitempty"`
}

// ReadCheckpoints parses checkpoints as a publisher or the API gives them:
// JSON Lines (one checkpoint a line, as FilePublisher writes them), or the
// API's page. next is the page's NextAfterSeq (0 for a file). Any line
// that is not a well-formed checkpoint is an error naming the line.
func ReadCheckpoints(data []byte) (cps []PinnedCheckpoint, next int64, err error) {
	trimmed := bytes.TrimSpace(data)
	if bytes.HasPrefix(trimmed, []byte(`{"checkpoints"`)) {
		var page CheckpointPage
		if err := strictJSON(trimmed, &page); err != nil {
			return nil, 0, fmt.Errorf("not a page of checkpoints: %w", err)
		}
		for i, c := range page.Checkpoints {
			if err := c.wellFormed(); err != nil {
				return nil, 0, fmt.Errorf("checkpoint %d: %w", i+1, err)
			}
			cps = append(cps, PinnedCheckpoint{c, i + 1})
		}
		return cps, page.NextAfterSeq, nil
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for line := 1; sc.Scan(); line++ {
		text := bytes.TrimSpace(sc.Bytes())
		if len(text) == 0 {
			continue
		}
		var c Checkpoint
		if err := strictJSON(text, &c); err != nil {
			return nil, 0, fmt.Errorf("line %d is not a checkpoint: %w", line, err)
		}
		if err := c.wellFormed(); err != nil {
			return nil, 0, fmt.Errorf("line %d: %w", line, err)
		}
		cps = append(cps, PinnedCheckpoint{c, line})
	}
	if err := sc.Err(); err != nil {
		return nil, 0, err
	}
	return cps, 0, nil
}

func strictJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("more than one JSON value")
	}
	return nil
}

// wellFormed checks the fields a checkpoint must have.
func (c Checkpoint) wellFormed() error {
	switch {
	case c.Seq < 1:
		return fmt.Errorf("seq %d is not an entry number", c.Seq)
	case !validHash(c.Hash):
		return errors.New("hash is not 64 hexadecimal digits")
	case c.At.IsZero():
		return errors.New("at is missing")
	case c.KeyID == "" || c.Signature == "":
		return errors.New("key_id or signature is missing")
	}
	return nil
}

// CheckpointReport is the outcome of VerifyCheckpoints.
type CheckpointReport struct {
	Chain   Result // the hash chain's own verification
	LastSeq int64  // the number of the last entry in the trail
	// OK: every checkpoint is signed by a trusted key and matches the
	// trail, the trail reaches the newest, and the chain is intact.
	OK bool
	// Proved counts the distinct checkpoints the trail was proved against.
	Proved int
	Newest *Checkpoint // the newest trusted checkpoint
	// Unanchored counts the entries after the newest checkpoint, which no
	// checkpoint covers yet.
	Unanchored int64
	// DivergedAt is the first entry that differs from what the checkpoints
	// and the chain say (0 when none) and Divergence says so in plain words.
	DivergedAt int64
	Divergence string
	// Predates are the checkpoints that cover entries beyond the trail's
	// end: a restored copy is older than each of them.
	Predates []Checkpoint
	// Problems are every finding, in plain words, first divergence first.
	Problems []string
}

// finding is one problem at an entry number.
type finding struct {
	seq  int64
	text string
}

// VerifyCheckpoints proves the trail in q against pinned checkpoints: each
// must be signed by a trusted key (others are refused), the entry it
// covers must have its hash, the chain must be intact, and the trail must
// reach the newest of them (else it was rolled back).
func VerifyCheckpoints(ctx context.Context, q db.Querier, pinned []PinnedCheckpoint, trusted TrustedKeys) (CheckpointReport, error) {
	var rep CheckpointReport
	var refusals []string
	var found []finding
	byseq := map[int64]PinnedCheckpoint{}
	for _, p := range pinned {
		if err := trusted.Check(p.Checkpoint); err != nil {
			refusals = append(refusals, fmt.Sprintf("%s is refused: %v", p.where(), err))
			continue
		}
		if other, ok := byseq[p.Seq]; ok {
			if other.Hash != p.Hash {
				found = append(found, finding{p.Seq, fmt.Sprintf("two trusted checkpoints disagree about entry %d (lines %d and %d): "+
					"the trail was rolled back and written again after one of them was signed, or the signing key is in other hands",
					p.Seq, other.Line, p.Line)})
			}
			continue
		}
		byseq[p.Seq] = p
	}
	seqs := make([]int64, 0, len(byseq))
	for s := range byseq {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	rep.Proved = len(seqs)

	chain, err := Verify(ctx, q)
	if err != nil {
		return rep, err
	}
	rep.Chain = chain
	if err := q.QueryRowContext(ctx, "SELECT coalesce(max(seq), 0) FROM audit_log").Scan(&rep.LastSeq); err != nil {
		return rep, fmt.Errorf("audit verify: %w", err)
	}
	if !chain.OK {
		found = append(found, finding{chain.BadSeq, fmt.Sprintf("the hash chain breaks at entry %d: %s", chain.BadSeq, chain.Reason)})
	}
	hashes, err := entryHashes(ctx, q, seqs)
	if err != nil {
		return rep, err
	}
	matched := int64(0) // the newest checkpoint's entry that still matches
	later := -1         // mismatches after the first; -1 before it
	for _, s := range seqs {
		p := byseq[s]
		got, ok := hashes[s]
		switch {
		case s > rep.LastSeq:
			rep.Predates = append(rep.Predates, p.Checkpoint)
		case !ok:
			found = append(found, finding{s, fmt.Sprintf("entry %d, which the checkpoint signed on %s covers, is missing", s, p.signedOn())})
		case got != p.Hash && later < 0:
			found = append(found, finding{matched + 1, fmt.Sprintf("the trail was altered between entry %d and entry %d: "+
				"entry %d does not match the checkpoint signed on %s%s", matched+1, s, s, p.signedOn(), stillMatches(matched))})
			later = 0
		case got != p.Hash:
			later++
		default:
			matched = s
		}
	}
	if later > 0 {
		found = append(found, finding{matched + 1, fmt.Sprintf("%d later checkpoints do not match the trail either", later)})
	}
	if n := len(rep.Predates); n > 0 {
		newest := rep.Predates[n-1]
		found = append(found, finding{rep.LastSeq + 1, fmt.Sprintf("the trail ends at entry %d but a checkpoint signed on %s covers entry %d: "+
			"the database was restored from an older copy or entries were removed", rep.LastSeq, newest.signedOn(), newest.Seq)})
	}
	if len(seqs) > 0 {
		newest := byseq[seqs[len(seqs)-1]].Checkpoint
		rep.Newest = &newest
		rep.Unanchored = max(rep.LastSeq-newest.Seq, 0)
	}
	if len(pinned) > 0 && len(seqs) == 0 {
		refusals = append(refusals, "no checkpoint is signed by a key you trust, so nothing anchors the trail")
	}
	slices.SortStableFunc(found, func(a, b finding) int { return cmp.Compare(a.seq, b.seq) })
	if len(found) > 0 {
		rep.DivergedAt, rep.Divergence = found[0].seq, found[0].text
	}
	for _, f := range found {
		rep.Problems = append(rep.Problems, f.text)
	}
	rep.Problems = append(rep.Problems, refusals...)
	rep.OK = len(rep.Problems) == 0
	return rep, nil
}

// stillMatches adds, for a divergence after entry seq, that the
// checkpoint there still holds.
func stillMatches(seq int64) string {
	if seq == 0 {
		return ""
	}
	return fmt.Sprintf(", while the checkpoint for entry %d still matches", seq)
}

// entryHashes returns the stored hash of each entry numbered in seqs that
// exists.
func entryHashes(ctx context.Context, q db.Querier, seqs []int64) (map[int64]string, error) {
	out := make(map[int64]string, len(seqs))
	for chunk := range slices.Chunk(seqs, 500) {
		marks := make([]string, len(chunk))
		args := make([]any, len(chunk))
		for i, s := range chunk {
			marks[i], args[i] = "$"+strconv.Itoa(i+1), s
		}
		rows, err := q.QueryContext(ctx, "SELECT seq, hash FROM audit_log WHERE seq IN ("+strings.Join(marks, ", ")+")", args...)
		if err != nil {
			return nil, fmt.Errorf("audit verify: %w", err)
		}
		for rows.Next() {
			var s int64
			var h string
			if err := rows.Scan(&s, &h); err != nil {
				rows.Close()
				return nil, fmt.Errorf("audit verify: %w", err)
			}
			out[s] = h
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, fmt.Errorf("audit verify: %w", err)
		}
	}
	return out, nil
}

// StoredCheckpoints returns every checkpoint Ward's own table holds,
// oldest first, as a verifier reads pinned ones (Line is the place in the
// list): after a restore, the checkpoints the restored database knows.
func StoredCheckpoints(ctx context.Context, q db.Querier) ([]PinnedCheckpoint, error) {
	var out []PinnedCheckpoint
	after := int64(0)
	for {
		cps, err := storedCheckpoints(ctx, q, after, MaxCheckpointList)
		if err != nil {
			return nil, err
		}
		for _, c := range cps {
			out = append(out, PinnedCheckpoint{c, len(out) + 1})
		}
		if len(cps) < MaxCheckpointList {
			return out, nil
		}
		after = cps[len(cps)-1].Seq
	}
}

// RolledBackOnly reports whether the only finding of rep is that the
// trail ends before some checkpoints (a copy older than them, as a
// restored backup is), with every checkpoint it reaches matching.
func (rep CheckpointReport) RolledBackOnly() bool {
	return !rep.OK && len(rep.Predates) > 0 && len(rep.Problems) == 1 && rep.Chain.OK && rep.DivergedAt == rep.LastSeq+1
}
