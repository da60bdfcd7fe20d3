package evidence

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/keys"
)

// Upload is what people say of a file they add.
type Upload struct {
	Description  string
	Source       string
	CollectedBy  string
	CollectedAt  *time.Time
	RelatedAsset string
	FileName     string
	ContentType  string
	// SHA256 is the file's SHA-256 as the uploader computed it (hex),
	// optional: a file that does not match it is refused.
	SHA256 string
}

// TooLargeError is a file larger than the configured limit; the API
// answers it with 413.
type TooLargeError struct{ Limit int64 }

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("file: is larger than the limit of %d bytes (--evidence-max-bytes)", e.Limit)
}

// validate checks and normalises the metadata.
func (u *Upload) validate(now time.Time) error {
	var err error
	if u.Description, err = checkText("description", u.Description, true, MaxDescription); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"source", &u.Source}, {"collected_by", &u.CollectedBy}, {"related_asset", &u.RelatedAsset}, {"file_name", &u.FileName}} {
		if *f.v, err = checkText(f.name, *f.v, false, MaxShortText); err != nil {
			return err
		}
		if f.name == "file_name" && strings.ContainsAny(*f.v, "\r\n\t\"/\\") {
			return apperr.Field("file_name", "must be a plain file name, without quotes, slashes or line breaks")
		}
	}
	if u.CollectedAt != nil {
		t := u.CollectedAt.UTC().Truncate(time.Microsecond)
		if t.After(now) {
			return apperr.Field("collected_at", "is in the future")
		}
		u.CollectedAt = &t
	}
	if u.ContentType == "" {
		u.ContentType = "application/octet-stream"
	}
	mt, _, perr := mime.ParseMediaType(u.ContentType)
	if perr != nil || !strings.Contains(mt, "/") || len(mt) > 200 {
		return apperr.Field("content_type", "must be a media type such as text/plain")
	}
	u.ContentType = mt
	u.SHA256 = strings.ToLower(strings.TrimSpace(u.SHA256))
	if u.SHA256 != "" && !hexSHA256.MatchString(u.SHA256) {
		return apperr.Field("sha256", "must be 64 hexadecimal digits")
	}
	return nil
}

// Add stores content, streamed, as a new evidence item of incident ref,
// with its first chain of custody entry (collected, held by the uploader)
// and its audit entry in one transaction. The content is encrypted as it
// arrives and never held whole. An empty file, a file over the limit, a
// file whose SHA-256 differs from in.SHA256, a read error or a cancelled
// request leaves nothing stored.
func (s *Service) Add(ctx context.Context, ref string, in Upload, content io.Reader) (Item, error) {
	actor, err := authz.Check(ctx, authz.EvidenceWrite)
	if err != nil {
		return Item{}, err
	}
	if err := in.validate(s.clock.Now()); err != nil {
		return Item{}, err
	}
	inc, err := s.incidents.Meta(ctx, ref)
	if err != nil {
		return Item{}, err
	}
	id := newID()
	sealedKey, sa, err := s.keys.NewStreamKey(keys.EvidenceDataKey, id)
	if err != nil {
		return Item{}, err
	}
	now := s.clock.Now().UTC()
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO evidence_items (id, incident_id, status, description, content_type, data_key,
			uploaded_by, created_at, updated_at) VALUES ($1, $2, $3, '', $4, $5, $6, $7, $7)`,
			id, inc.ID, string(StatusUploading), in.ContentType, sealedKey, actor.String(), now)
		if err != nil {
			return fmt.Errorf("insert evidence item: %w", err)
		}
		return nil
	})
	if err != nil {
		return Item{}, err
	}
	it, err := s.store(ctx, id, sa, content)
	if err == nil {
		it, err = s.commit(ctx, actor, inc.ID, inc.Number, id, in, it)
	}
	if err != nil {
		// The request may be gone (an interrupted upload): clean up all
		// the same.
		if derr := s.discard(context.WithoutCancel(ctx), id); derr != nil {
			s.log.ErrorContext(ctx, "evidence_discard_failed", "item_id", id, "error", derr)
		}
		return Item{}, err
	}
	return it, nil
}

// store encrypts content into item id's chunks and returns the item's size
// and SHA-256.
func (s *Service) store(ctx context.Context, id string, sa interface {
	NewEncryptingWriter(io.Writer, []byte) (io.WriteCloser, error)
}, content io.Reader) (Item, error) {
	cw := &chunkWriter{ctx: ctx, s: s, id: id}
	defer func() { _ = cw.wait() }() // nothing is left storing when Add cleans up
	enc, err := sa.NewEncryptingWriter(cw, associatedData(id))
	if err != nil {
		return Item{}, fmt.Errorf("encrypt evidence: %w", err)
	}
	h := sha256.New()
	buf := make([]byte, 1<<20)
	n, err := io.CopyBuffer(io.MultiWriter(enc, h), io.LimitReader(content, s.maxBytes+1), buf)
	if err != nil {
		if ae, ok := apperr.As(err); ok {
			return Item{}, ae
		}
		if cw.err != nil {
			return Item{}, cw.err
		}
		return Item{}, apperr.Field("file", "could not be read to its end: the upload was interrupted (nothing was kept)")
	}
	if n > s.maxBytes {
		return Item{}, &TooLargeError{Limit: s.maxBytes}
	}
	if n == 0 {
		return Item{}, apperr.Field("file", "is empty")
	}
	if err := enc.Close(); err != nil {
		if cw.err != nil {
			return Item{}, cw.err
		}
		return Item{}, fmt.Errorf("encrypt evidence: %w", err)
	}
	if err := cw.close(); err != nil {
		return Item{}, err
	}
	return Item{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// commit makes the stored content a record: the metadata sealed, status
// stored, the collected custody entry and the audit entry, together.
func (s *Service) commit(ctx context.Context, actor authz.Actor, incID, number, id string, in Upload, got Item) (Item, error) {
	if in.SHA256 != "" && in.SHA256 != got.SHA256 {
		return Item{}, apperr.Field("sha256", "does not match the file received (its SHA-256 is %s): nothing was kept", got.SHA256)
	}
	now := s.clock.Now().UTC()
	it := Item{ID: id, IncidentID: incID, IncidentNumber: number, Status: StatusStored, Description: in.Description,
		Source: in.Source, CollectedBy: in.CollectedBy, CollectedAt: in.CollectedAt, RelatedAsset: in.RelatedAsset,
		FileName: in.FileName, ContentType: in.ContentType, Size: got.Size, SHA256: got.SHA256, Custodian: actor.Name,
		UploadedBy: actor.String(), CreatedAt: now}
	sealed := map[string]string{}
	for col, v := range map[keys.Column]string{keys.EvidenceDescription: it.Description, keys.EvidenceSource: it.Source,
		keys.EvidenceCollectedBy: it.CollectedBy, keys.EvidenceRelatedAsset: it.RelatedAsset, keys.EvidenceFileName: it.FileName,
		keys.EvidenceCustodian: it.Custodian} {
		v, err := col.SealText(s.keys, v, id)
		if err != nil {
			return Item{}, err
		}
		sealed[col.Name] = v
	}
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE evidence_items SET status = $1, description = $2, source = $3, collected_by = $4,
			collected_at = $5, related_asset = $6, file_name = $7, size = $8, sha256 = $9, custodian = $10, created_at = $11,
			updated_at = $11 WHERE id = $12 AND status = $13`,
			string(StatusStored), sealed["description"], sealed["source"], sealed["collected_by"], it.CollectedAt,
			sealed["related_asset"], sealed["file_name"], it.Size, it.SHA256, sealed["custodian"], now, id, string(StatusUploading))
		if err != nil {
			return fmt.Errorf("store evidence item: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return apperr.New(apperr.Conflict, "the upload was abandoned before it finished; send the file again")
		}
		if _, err := s.appendCustody(ctx, tx, actor, it, Collected, it.Custodian, "", now); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "evidence.add", ObjectType: "incident", ObjectID: incID,
			Change: map[string]any{"item": id, "sha256": it.SHA256, "size": it.Size, "content_type": it.ContentType,
				"description": it.Description, "source": it.Source, "collected_by": it.CollectedBy, "collected_at": it.CollectedAt,
				"related_asset": it.RelatedAsset, "file_name": it.FileName}})
		return err
	})
	if err != nil {
		return Item{}, err
	}
	return it, nil
}

// discard removes what an unfinished upload stored.
func (s *Service) discard(ctx context.Context, id string) error {
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		return deleteUpload(ctx, tx, id)
	})
}

func deleteUpload(ctx context.Context, tx *sql.Tx, id string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM evidence_items WHERE id = $1 AND status = $2`,
		id, string(StatusUploading)).Scan(&n); err != nil {
		return fmt.Errorf("read evidence upload: %w", err)
	}
	if n == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM evidence_chunks WHERE item_id = $1`, id); err != nil {
		return fmt.Errorf("discard evidence upload: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM evidence_items WHERE id = $1 AND status = $2`, id, string(StatusUploading)); err != nil {
		return fmt.Errorf("discard evidence upload: %w", err)
	}
	return nil
}

// Sweep removes uploads that stopped (a server stopped mid-upload) more
// than an hour ago, and returns how many. An upload's row is no record
// until it is stored, so this removal is not audited.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT id FROM evidence_items WHERE status = $1 AND updated_at < $2`,
		string(StatusUploading), s.clock.Now().Add(-abandonAfter))
	ids, err := collectIDs(rows, err)
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := s.discard(ctx, id); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

func collectIDs(rows *sql.Rows, err error) ([]string, error) {
	if err != nil {
		return nil, fmt.Errorf("read evidence items: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, fmt.Errorf("read evidence items: %w", err)
		}
		ids = append(ids, id)
	}
	return ids, rows.Err()
}

// chunkWriter cuts the ciphertext stream into evidence_chunks rows, one
// write transaction a chunk. One chunk is stored while the next fills, so
// hashing and encrypting overlap the database's writes; two buffers are
// all an upload holds.
type chunkWriter struct {
	ctx     context.Context
	s       *Service
	id      string
	buf     []byte
	spare   []byte     // the buffer of the chunk being stored, free once it is
	pending chan error // the store under way, nil when none
	seq     int64
	err     error
}

func (w *chunkWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := len(p)
	for len(p) > 0 {
		if w.buf == nil {
			w.buf = make([]byte, 0, chunkSize)
		}
		k := min(len(p), chunkSize-len(w.buf))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == chunkSize {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

// wait waits for the chunk being stored, if any.
func (w *chunkWriter) wait() error {
	if w.pending != nil {
		if err := <-w.pending; err != nil && w.err == nil {
			w.err = err
		}
		w.pending = nil
	}
	return w.err
}

// flush starts storing the buffered ciphertext as the next chunk, once
// the one before is stored.
func (w *chunkWriter) flush() error {
	if err := w.wait(); err != nil || len(w.buf) == 0 {
		return err
	}
	data, seq := w.buf, w.seq
	w.seq++
	w.pending = make(chan error, 1)
	go func(done chan<- error) { done <- w.store(seq, data) }(w.pending)
	w.buf, w.spare = w.spare[:0], data
	return nil
}

// close stores what is buffered and waits until it is stored.
func (w *chunkWriter) close() error {
	if err := w.flush(); err != nil {
		return err
	}
	return w.wait()
}

func (w *chunkWriter) store(seq int64, data []byte) error {
	err := w.s.db.Write(w.ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(w.ctx, `INSERT INTO evidence_chunks (item_id, seq, data) VALUES ($1, $2, $3)`,
			w.id, seq, data); err != nil {
			return fmt.Errorf("store evidence chunk: %w", err)
		}
		res, err := tx.ExecContext(w.ctx, `UPDATE evidence_items SET updated_at = $1 WHERE id = $2 AND status = $3`,
			w.s.clock.Now(), w.id, string(StatusUploading))
		if err != nil {
			return fmt.Errorf("store evidence chunk: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			return apperr.New(apperr.Conflict, "the upload was abandoned before it finished; send the file again")
		}
		return nil
	})
	if err != nil && errors.Is(w.ctx.Err(), context.Canceled) {
		err = apperr.Field("file", "could not be read to its end: the upload was interrupted (nothing was kept)")
	}
	return err
}
