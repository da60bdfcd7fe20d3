package evidence

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
)

// IntegrityError is stored content that does not decrypt, or whose
// plaintext does not have the size and SHA-256 recorded at intake: it was
// altered or damaged.
type IntegrityError struct{ Reason string }

func (e *IntegrityError) Error() string {
	return "the stored content of this evidence item fails its integrity check (" + e.Reason +
		"): it was altered or damaged; the failure is recorded in the audit trail"
}

// storeError is a failure to read the database, which says nothing of the
// content's integrity.
type storeError struct{ err error }

func (e *storeError) Error() string { return e.err.Error() }
func (e *storeError) Unwrap() error { return e.err }

// Download returns item id of incident ref and its content, decrypted as
// it is read. The read is recorded first, in one transaction: an
// "accessed" chain of custody entry and an audit entry (evidence.download,
// a read of PHI). The reader checks the content as it goes and, at its
// end, its size and SHA-256: a failure is returned as an IntegrityError
// from Read, and recorded (the item is marked failed, audited, counted in
// ward_evidence_integrity_failures_total and logged).
func (s *Service) Download(ctx context.Context, ref, id string) (Item, io.ReadCloser, error) {
	actor, err := authz.Check(ctx, authz.EvidenceRead)
	if err != nil {
		return Item{}, nil, err
	}
	if _, err := authz.Check(ctx, authz.IncidentReadPHI); err != nil {
		return Item{}, nil, err
	}
	inc, err := s.incidents.Meta(ctx, ref)
	if err != nil {
		return Item{}, nil, err
	}
	now := s.clock.Now().UTC()
	var it Item
	var sealedKey string
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if it, err = readItem(ctx, tx, inc.ID, id); err != nil {
			return err
		}
		switch it.Status {
		case StatusUploading:
			return apperr.New(apperr.NotFound, "no such evidence item on this incident")
		case StatusDestroyed:
			return apperr.New(apperr.Conflict, "this evidence item was destroyed: its content is no longer kept")
		}
		marks, err := incident.LoadPrivileges(ctx, tx, inc.ID, incident.PrivilegedEvidence)
		if err != nil {
			return err
		}
		if it.Privilege = marks[it.ID]; it.Privilege != nil && !incident.MayReadPrivileged(ctx) {
			return privilegedError(it)
		}
		if err := tx.QueryRowContext(ctx, `SELECT data_key FROM evidence_items WHERE id = $1`, id).Scan(&sealedKey); err != nil {
			return fmt.Errorf("read evidence item: %w", err)
		}
		if err := s.reveal(&it); err != nil {
			return err
		}
		e, err := s.appendCustody(ctx, tx, actor, it, Accessed, it.Custodian, "", now)
		if err != nil {
			return err
		}
		if _, err = audit.Append(ctx, tx, now, audit.Event{Action: "evidence.download", ObjectType: "incident", ObjectID: inc.ID,
			Change: map[string]any{"item": it.ID, "seq": e.Seq, "sha256": it.SHA256}}); err != nil {
			return err
		}
		if it.Privilege == nil {
			return nil
		}
		return incident.AuditPrivilegedRead(ctx, tx, now, inc.ID, incident.PrivilegedEvidence, []string{it.ID})
	})
	if err != nil {
		return Item{}, nil, err
	}
	it.IncidentNumber = inc.Number
	r, err := s.reader(ctx, it, sealedKey)
	if err != nil {
		return Item{}, nil, err
	}
	r.failed = func(e *IntegrityError) { s.integrityFailed(ctx, it, "download", e) }
	return it, r, nil
}

// reader returns a checking reader of item it's plaintext.
func (s *Service) reader(ctx context.Context, it Item, sealedKey string) (*checkingReader, error) {
	sa, err := s.keys.OpenStreamKey(sealedKey, keys.EvidenceDataKey, it.ID)
	if err != nil {
		return nil, err
	}
	cr := &chunkReader{ctx: ctx, s: s, id: it.ID}
	dec, err := sa.NewDecryptingReader(cr, associatedData(it.ID))
	if err != nil {
		return nil, fmt.Errorf("decrypt evidence: %w", err)
	}
	return &checkingReader{r: dec, h: sha256.New(), want: it.SHA256, size: it.Size}, nil
}

// checkingReader hashes the plaintext as it passes and checks it at the
// end; a decryption failure or a mismatch is an IntegrityError.
type checkingReader struct {
	r      io.Reader
	h      hash.Hash
	n      int64
	want   string
	size   int64
	err    error
	failed func(*IntegrityError)
}

func (c *checkingReader) Read(p []byte) (int, error) {
	if c.err != nil {
		return 0, c.err
	}
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.n += int64(n)
	switch {
	case c.n > c.size:
		err = &IntegrityError{Reason: "longer than recorded"}
	case errors.Is(err, io.EOF):
		switch {
		case c.n != c.size:
			err = &IntegrityError{Reason: "shorter than recorded"}
		case hex.EncodeToString(c.h.Sum(nil)) != c.want:
			err = &IntegrityError{Reason: "SHA-256 differs from the one recorded at intake"}
		}
	case err != nil:
		var se *storeError
		if !errors.As(err, &se) {
			err = &IntegrityError{Reason: "does not decrypt"}
		}
	}
	if ie, ok := err.(*IntegrityError); ok {
		n = 0 // nothing of a failed segment goes out
		if c.failed != nil {
			c.failed(ie)
		}
	}
	if err != nil {
		c.err = err
	}
	return n, err
}

func (c *checkingReader) Close() error { return nil }

// chunkReader reads an item's ciphertext one chunk at a time.
type chunkReader struct {
	ctx context.Context
	s   *Service
	id  string
	seq int64
	buf []byte
	eof bool
}

func (r *chunkReader) Read(p []byte) (int, error) {
	for len(r.buf) == 0 {
		if r.eof {
			return 0, io.EOF
		}
		var data []byte
		err := r.s.db.R.QueryRowContext(r.ctx, `SELECT data FROM evidence_chunks WHERE item_id = $1 AND seq = $2`, r.id, r.seq).Scan(&data)
		if errors.Is(err, sql.ErrNoRows) {
			r.eof = true
			continue
		}
		if err != nil {
			return 0, &storeError{fmt.Errorf("read evidence chunk: %w", err)}
		}
		r.buf, r.seq = data, r.seq+1
	}
	n := copy(p, r.buf)
	r.buf = r.buf[n:]
	return n, nil
}

// integrityFailed records that item it failed a check: marked failed,
// audited (evidence.integrity_failed), the Security Officers told (Alert),
// counted and logged.
func (s *Service) integrityFailed(ctx context.Context, it Item, during string, ie *IntegrityError) {
	s.failures.Inc()
	s.log.ErrorContext(ctx, "evidence_integrity_failed", "incident_id", it.IncidentID, "item_id", it.ID, "during", during,
		"reason", ie.Reason)
	now := s.clock.Now().UTC()
	ctx = context.WithoutCancel(ctx)
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE evidence_items SET integrity = $1, checked_at = $2 WHERE id = $3`,
			string(IntegrityFailed), now, it.ID); err != nil {
			return fmt.Errorf("record evidence integrity: %w", err)
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "evidence.integrity_failed", ObjectType: "incident",
			ObjectID: it.IncidentID, Change: map[string]any{"item": it.ID, "during": during, "reason": ie.Reason}}); err != nil {
			return err
		}
		if s.alert != nil {
			return s.alert(ctx, tx, it.IncidentID)
		}
		return nil
	})
	if err != nil {
		s.log.ErrorContext(ctx, "evidence_integrity_record_failed", "item_id", it.ID, "error", err)
	}
}
