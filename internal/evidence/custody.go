package evidence

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
)

// appendCustody writes the next chain of custody entry of it inside tx.
// The item's row lock (taken by the caller's UPDATE, or here) orders
// concurrent entries.
func (s *Service) appendCustody(ctx context.Context, tx *sql.Tx, actor authz.Actor, it Item, action Action, custodian,
	reason string, now time.Time) (CustodyEntry, error) {
	if _, err := tx.ExecContext(ctx, `UPDATE evidence_items SET updated_at = updated_at WHERE id = $1`, it.ID); err != nil {
		return CustodyEntry{}, fmt.Errorf("lock evidence item: %w", err)
	}
	e := CustodyEntry{ID: newID(), Action: action, Actor: actor.String(), At: now, Custodian: custodian, Reason: reason}
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) + 1 FROM evidence_custody WHERE item_id = $1`, it.ID).
		Scan(&e.Seq); err != nil {
		return CustodyEntry{}, fmt.Errorf("read evidence custody: %w", err)
	}
	sealedCustodian, err := keys.EvidenceCustodyCustodian.SealText(s.keys, custodian, e.ID)
	if err != nil {
		return CustodyEntry{}, err
	}
	sealedReason, err := keys.EvidenceCustodyReason.SealText(s.keys, reason, e.ID)
	if err != nil {
		return CustodyEntry{}, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO evidence_custody (id, item_id, seq, action, actor, at, custodian, reason)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, e.ID, it.ID, e.Seq, string(action), e.Actor, now, sealedCustodian, sealedReason); err != nil {
		return CustodyEntry{}, fmt.Errorf("append evidence custody: %w", err)
	}
	return e, nil
}

// CustodyInput is a custody event people record.
type CustodyInput struct {
	Action Action
	// Custodian is who holds the item after the event: required for a
	// transfer and a release, optional for a return (else unchanged).
	Custodian string
	Reason    string
}

// RecordCustody appends a custody event to item id of incident ref, with
// its audit entry in the same transaction. A transfer or release names the
// new custodian. Destroying an item removes its content (its record, hash
// and chain of custody stay) and is refused while the item or its incident
// is on legal hold. Nothing is recorded after destruction.
func (s *Service) RecordCustody(ctx context.Context, ref, id string, in CustodyInput) (CustodyEntry, error) {
	actor, err := authz.Check(ctx, authz.EvidenceWrite)
	if err != nil {
		return CustodyEntry{}, err
	}
	if !slices.Contains(RecordedActions, in.Action) {
		return CustodyEntry{}, apperr.Field("action", "must be one of transferred, copied, returned, released, destroyed")
	}
	if in.Reason, err = checkText("reason", in.Reason, true, MaxReason); err != nil {
		return CustodyEntry{}, err
	}
	needCustodian := in.Action == Transferred || in.Action == Released
	if in.Custodian, err = checkText("custodian", in.Custodian, needCustodian, MaxShortText); err != nil {
		return CustodyEntry{}, err
	}
	inc, err := s.incidents.Meta(ctx, ref)
	if err != nil {
		return CustodyEntry{}, err
	}
	now := s.clock.Now().UTC()
	var e CustodyEntry
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if err := lockItem(ctx, tx, id); err != nil {
			return err
		}
		it, err := readItem(ctx, tx, inc.ID, id)
		if err != nil {
			return err
		}
		switch it.Status {
		case StatusUploading:
			return apperr.New(apperr.NotFound, "no such evidence item on this incident")
		case StatusDestroyed:
			return apperr.New(apperr.Conflict, "this evidence item was destroyed; nothing more can be recorded")
		}
		if err := privilegeOf(ctx, tx, &it); err != nil {
			return err
		}
		if mayNotSee(ctx, it) {
			return privilegedChangeError(it)
		}
		if in.Action == Destroyed && it.HeldAt != nil {
			return heldError(it, inc.Number)
		}
		if in.Action == Destroyed {
			var held int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM legal_holds WHERE incident_id = $1 AND released_at IS NULL`,
				inc.ID).Scan(&held); err != nil {
				return fmt.Errorf("read legal holds: %w", err)
			}
			if held > 0 {
				return apperr.New(apperr.Conflict, "incident %s is on legal hold: its evidence cannot be destroyed", inc.Number)
			}
		}
		custodian := in.Custodian
		if custodian == "" {
			if custodian, err = keys.EvidenceCustodian.OpenText(s.keys, it.Custodian, it.ID); err != nil {
				return err
			}
		}
		if e, err = s.appendCustody(ctx, tx, actor, it, in.Action, custodian, in.Reason, now); err != nil {
			return err
		}
		sealed, err := keys.EvidenceCustodian.SealText(s.keys, custodian, it.ID)
		if err != nil {
			return err
		}
		status := it.Status
		if in.Action == Destroyed {
			status = StatusDestroyed
			if _, err := tx.ExecContext(ctx, `DELETE FROM evidence_chunks WHERE item_id = $1`, it.ID); err != nil {
				return fmt.Errorf("destroy evidence content: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE evidence_items SET custodian = $1, status = $2, updated_at = $3 WHERE id = $4`,
			sealed, string(status), now, it.ID); err != nil {
			return fmt.Errorf("update evidence item: %w", err)
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "evidence.custody", ObjectType: "incident", ObjectID: inc.ID,
			Change: map[string]any{"item": it.ID, "seq": e.Seq, "action": in.Action, "custodian": custodian, "reason": in.Reason}})
		return err
	})
	if err != nil {
		return CustodyEntry{}, err
	}
	return e, nil
}

// List returns incident ref's evidence items, oldest first, their free
// text opened: a read of PHI, audited (evidence.phi_read).
func (s *Service) List(ctx context.Context, ref string) ([]Item, error) {
	if _, err := authz.Check(ctx, authz.EvidenceRead); err != nil {
		return nil, err
	}
	inc, err := s.incidents.Meta(ctx, ref)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+itemColumns+` FROM evidence_items WHERE incident_id = $1 AND status <> $2
		ORDER BY created_at, id`, inc.ID, string(StatusUploading))
	if err != nil {
		return nil, fmt.Errorf("read evidence items: %w", err)
	}
	var items []Item
	for rows.Next() {
		it, err := scanItem(rows)
		if err != nil {
			_ = rows.Close()
			return nil, fmt.Errorf("read evidence items: %w", err)
		}
		items = append(items, it)
	}
	if err := rows.Close(); err != nil {
		return nil, fmt.Errorf("read evidence items: %w", err)
	}
	if len(items) == 0 {
		return items, nil
	}
	marks, err := incident.LoadPrivileges(ctx, s.db.R, inc.ID, incident.PrivilegedEvidence)
	if err != nil {
		return nil, err
	}
	var ids, privileged []string
	for i := range items {
		it := &items[i]
		it.IncidentNumber, it.Privilege = inc.Number, marks[it.ID]
		if it.Privilege != nil && !incident.MayReadPrivileged(ctx) {
			it.withhold()
			continue
		}
		if err := s.reveal(it); err != nil {
			return nil, err
		}
		ids = append(ids, it.ID)
		if it.Privilege != nil {
			privileged = append(privileged, it.ID)
		}
	}
	if err := s.auditRead(ctx, inc.ID, ids, privileged); err != nil {
		return nil, err
	}
	return items, nil
}

// Get returns item id of incident ref with its chain of custody, opened:
// a read of PHI, audited (evidence.phi_read).
func (s *Service) Get(ctx context.Context, ref, id string) (Item, []CustodyEntry, error) {
	if _, err := authz.Check(ctx, authz.EvidenceRead); err != nil {
		return Item{}, nil, err
	}
	inc, err := s.incidents.Meta(ctx, ref)
	if err != nil {
		return Item{}, nil, err
	}
	it, err := readItem(ctx, s.db.R, inc.ID, id)
	if err == nil && it.Status == StatusUploading {
		err = apperr.New(apperr.NotFound, "no such evidence item on this incident")
	}
	if err != nil {
		return Item{}, nil, err
	}
	marks, err := incident.LoadPrivileges(ctx, s.db.R, inc.ID, incident.PrivilegedEvidence)
	if err != nil {
		return Item{}, nil, err
	}
	it.IncidentNumber, it.Privilege = inc.Number, marks[it.ID]
	entries, err := readCustody(ctx, s.db.R, id)
	if err != nil {
		return Item{}, nil, err
	}
	if it.Privilege != nil && !incident.MayReadPrivileged(ctx) {
		it.withhold()
		for i := range entries {
			entries[i].Custodian, entries[i].Reason = "", ""
		}
		return it, entries, nil
	}
	if err := s.reveal(&it); err != nil {
		return Item{}, nil, err
	}
	for i := range entries {
		e := &entries[i]
		if e.Custodian, err = keys.EvidenceCustodyCustodian.OpenText(s.keys, e.Custodian, e.ID); err != nil {
			return Item{}, nil, err
		}
		if e.Reason, err = keys.EvidenceCustodyReason.OpenText(s.keys, e.Reason, e.ID); err != nil {
			return Item{}, nil, err
		}
	}
	var privileged []string
	if it.Privilege != nil {
		privileged = []string{id}
	}
	if err := s.auditRead(ctx, inc.ID, []string{id}, privileged); err != nil {
		return Item{}, nil, err
	}
	return it, entries, nil
}

// auditRead records that the items ids were shown opened, and of them the
// privileged ones (privileged.read); nothing when none was.
func (s *Service) auditRead(ctx context.Context, incID string, ids, privileged []string) error {
	if len(ids) == 0 {
		return nil
	}
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		now := s.clock.Now()
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "evidence.phi_read", ObjectType: "incident",
			ObjectID: incID, Change: map[string]any{"items": ids}}); err != nil {
			return err
		}
		return incident.AuditPrivilegedRead(ctx, tx, now, incID, incident.PrivilegedEvidence, privileged)
	})
}
