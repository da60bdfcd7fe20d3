package evidence

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
)

// VerifyReport is what a verification of every item found.
type VerifyReport struct {
	Checked int
	Failed  []Item
}

// Verify re-reads item id of incident ref, decrypting and hashing its
// content, and records the result: "integrity verified at" when whole
// (evidence.verify), else a loud failure (see Download).
func (s *Service) Verify(ctx context.Context, ref, id string) (Item, error) {
	if _, err := authz.Check(ctx, authz.EvidenceWrite); err != nil {
		return Item{}, err
	}
	inc, err := s.incidents.Meta(ctx, ref)
	if err != nil {
		return Item{}, err
	}
	it, err := readItem(ctx, s.db.R, inc.ID, id)
	if err != nil {
		return Item{}, err
	}
	if it.Status != StatusStored {
		return Item{}, apperr.New(apperr.Conflict, "only stored evidence can be verified")
	}
	if err := s.verifyOne(ctx, &it); err != nil {
		return Item{}, err
	}
	it.IncidentNumber = inc.Number
	if err := privilegeOf(ctx, s.db.R, &it); err != nil {
		return Item{}, err
	}
	if mayNotSee(ctx, it) {
		it.withhold()
		return it, nil
	}
	return it, s.reveal(&it)
}

// VerifyAll verifies every stored item, oldest check first (the periodic
// job and `ward evidence verify`); it also sweeps abandoned uploads. It
// goes on past a failed item and reports each.
func (s *Service) VerifyAll(ctx context.Context) (VerifyReport, error) {
	if _, err := authz.Check(ctx, authz.EvidenceWrite); err != nil {
		return VerifyReport{}, err
	}
	if _, err := s.Sweep(ctx); err != nil {
		return VerifyReport{}, err
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+itemColumns+` FROM evidence_items WHERE status = $1
		ORDER BY checked_at IS NOT NULL, checked_at, id`, string(StatusStored))
	if err != nil {
		return VerifyReport{}, fmt.Errorf("read evidence items: %w", err)
	}
	var items []Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			_ = rows.Close()
			return VerifyReport{}, fmt.Errorf("read evidence items: %w", err)
		}
		items = append(items, it)
	}
	if err := rows.Close(); err != nil {
		return VerifyReport{}, fmt.Errorf("read evidence items: %w", err)
	}
	var rep VerifyReport
	for i := range items {
		err := s.verifyOne(ctx, &items[i])
		var ie *IntegrityError
		switch {
		case errors.As(err, &ie):
			rep.Failed = append(rep.Failed, items[i])
		case err != nil:
			return rep, err
		}
		rep.Checked++
	}
	return rep, nil
}

// verifyOne re-hashes it and records the result in it and the database.
func (s *Service) verifyOne(ctx context.Context, it *Item) error {
	var sealedKey string
	if err := s.db.R.QueryRowContext(ctx, `SELECT data_key FROM evidence_items WHERE id = $1`, it.ID).Scan(&sealedKey); err != nil {
		return fmt.Errorf("read evidence item: %w", err)
	}
	r, err := s.reader(ctx, *it, sealedKey)
	if err != nil {
		return err
	}
	buf := make([]byte, 1<<20)
	_, err = io.CopyBuffer(io.Discard, r, buf)
	var ie *IntegrityError
	if errors.As(err, &ie) {
		s.integrityFailed(ctx, *it, "verification", ie)
		it.Integrity = IntegrityFailed
		return ie
	}
	if err != nil {
		return err
	}
	now := s.clock.Now().UTC()
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE evidence_items SET integrity = $1, verified_at = $2, checked_at = $2 WHERE id = $3`,
			string(IntegrityOK), now, it.ID); err != nil {
			return fmt.Errorf("record evidence integrity: %w", err)
		}
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "evidence.verify", ObjectType: "incident", ObjectID: it.IncidentID,
			Change: map[string]any{"item": it.ID, "sha256": it.SHA256}})
		return err
	})
	if err != nil {
		return err
	}
	s.verified.Inc()
	it.Integrity, it.VerifiedAt, it.CheckedAt = IntegrityOK, &now, &now
	return nil
}

// VerifyScheduled is the periodic verification (package jobs,
// evidence_verify), acting as Ward itself. Failed items are recorded by
// VerifyAll; only an error reading the database is returned.
func (s *Service) VerifyScheduled(ctx context.Context) error {
	if _, ok := authz.ActorFrom(ctx); !ok {
		ctx = authz.WithActor(ctx, authz.System)
	}
	rep, err := s.VerifyAll(ctx)
	if err != nil {
		return err
	}
	s.log.InfoContext(ctx, "evidence_verified", "items", rep.Checked, "failed", len(rep.Failed))
	return nil
}
