package evidence

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/keys"
)

// lockItem takes item id's row lock for the rest of tx, before anything of
// it is read, so that a hold and a destruction cannot both pass their
// checks.
func lockItem(ctx context.Context, tx *sql.Tx, id string) error {
	if _, err := tx.ExecContext(ctx, `UPDATE evidence_items SET updated_at = updated_at WHERE id = $1`, id); err != nil {
		return fmt.Errorf("lock evidence item: %w", err)
	}
	return nil
}

// heldError is the refusal to destroy an item on legal hold.
func heldError(it Item, number string) error {
	_, by, _ := strings.Cut(it.HeldBy, ":")
	return apperr.New(apperr.Conflict, "this evidence item of incident %s is on legal hold since %s, placed by %s: it cannot be destroyed until the hold is released",
		number, it.HeldAt.Format("2 January 2006 15:04 UTC"), by)
}

// PlaceHold puts item id of incident ref on legal hold with a reason: it
// cannot be destroyed, and the retention purge keeps it (and so its
// incident), until ReleaseHold. The hold is a chain of custody entry
// (legal_hold_placed) and an audit entry (evidence.legal_hold) in one
// transaction. 409 if the item is already held or was destroyed. Needs
// retention:hold, like a hold on an incident.
func (s *Service) PlaceHold(ctx context.Context, ref, id, reason string) (Item, error) {
	return s.hold(ctx, ref, id, reason, true)
}

// ReleaseHold ends item id's legal hold with a reason: a chain of custody
// entry (legal_hold_released) and an audit entry
// (evidence.legal_hold_release). 409 if it is not held.
func (s *Service) ReleaseHold(ctx context.Context, ref, id, reason string) (Item, error) {
	return s.hold(ctx, ref, id, reason, false)
}

func (s *Service) hold(ctx context.Context, ref, id, reason string, place bool) (Item, error) {
	actor, err := authz.Check(ctx, authz.LegalHold)
	if err != nil {
		return Item{}, err
	}
	if reason, err = checkText("reason", reason, true, MaxReason); err != nil {
		return Item{}, err
	}
	if _, err := authz.Check(ctx, authz.EvidenceRead); err != nil {
		return Item{}, err
	}
	inc, err := s.incidents.Meta(ctx, ref)
	if err != nil {
		return Item{}, err
	}
	now := s.clock.Now().UTC()
	var it Item
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if err := lockItem(ctx, tx, id); err != nil {
			return err
		}
		if it, err = readItem(ctx, tx, inc.ID, id); err != nil {
			return err
		}
		switch {
		case it.Status == StatusUploading:
			return apperr.New(apperr.NotFound, "no such evidence item on this incident")
		case place && it.Status == StatusDestroyed:
			return apperr.New(apperr.Conflict, "this evidence item was destroyed: its content is gone; to keep its record, put incident %s on legal hold", inc.Number)
		case place && it.HeldAt != nil:
			return apperr.New(apperr.Conflict, "this evidence item is already on legal hold")
		case !place && it.HeldAt == nil:
			return apperr.New(apperr.Conflict, "this evidence item is not on legal hold")
		}
		if err := privilegeOf(ctx, tx, &it); err != nil {
			return err
		}
		if mayNotSee(ctx, it) {
			return privilegedChangeError(it)
		}
		custodian, err := keys.EvidenceCustodian.OpenText(s.keys, it.Custodian, it.ID)
		if err != nil {
			return err
		}
		action, auditAction := HoldPlaced, "evidence.legal_hold"
		if !place {
			action, auditAction = HoldReleased, "evidence.legal_hold_release"
		}
		e, err := s.appendCustody(ctx, tx, actor, it, action, custodian, reason, now)
		if err != nil {
			return err
		}
		if place {
			sealed, err := keys.EvidenceHoldReason.SealText(s.keys, reason, it.ID)
			if err != nil {
				return err
			}
			_, err = tx.ExecContext(ctx, `UPDATE evidence_items SET held_at = $1, held_by = $2, hold_reason = $3, updated_at = $1
				WHERE id = $4`, now, actor.String(), sealed, it.ID)
			if err != nil {
				return fmt.Errorf("place evidence hold: %w", err)
			}
			it.HeldAt, it.HeldBy, it.HoldReason = &now, actor.String(), sealed
		} else {
			if _, err := tx.ExecContext(ctx, `UPDATE evidence_items SET held_at = NULL, held_by = '', hold_reason = '', updated_at = $1
				WHERE id = $2`, now, it.ID); err != nil {
				return fmt.Errorf("release evidence hold: %w", err)
			}
			it.HeldAt, it.HeldBy, it.HoldReason = nil, "", ""
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: auditAction, ObjectType: "incident", ObjectID: inc.ID,
			Change: map[string]any{"item": it.ID, "seq": e.Seq, "reason": reason}})
		return err
	})
	if err != nil {
		return Item{}, err
	}
	it.IncidentNumber = inc.Number
	if err := s.reveal(&it); err != nil {
		return Item{}, err
	}
	return it, nil
}
