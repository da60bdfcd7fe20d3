package retention

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
)

// Scope is what a legal hold covers.
type Scope string

// The scopes. A hold on either keeps the incident and its breach case
// both, since a case is purged with its incident.
const (
	ScopeIncident   Scope = "incident"
	ScopeBreachCase Scope = "breach_case"
)

// MaxReason caps a hold's reason.
const MaxReason = 2000

// Hold is a legal hold, in force while ReleasedAt is nil. Reason and
// ReleaseReason are free text (sealed) and empty unless the reader may see
// them.
type Hold struct {
	ID             string
	IncidentID     string
	IncidentNumber string
	Scope          Scope
	Reason         string
	PlacedBy       string
	PlacedAt       time.Time
	ReleasedBy     string
	ReleasedAt     *time.Time
	ReleaseReason  string
}

// Active reports whether the hold is in force.
func (h Hold) Active() bool { return h.ReleasedAt == nil }

func checkScope(scope Scope) error {
	if scope != ScopeIncident && scope != ScopeBreachCase {
		return apperr.Field("scope", "must be %s or %s", ScopeIncident, ScopeBreachCase)
	}
	return nil
}

func checkReason(field, reason string) (string, error) {
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return "", apperr.Field(field, "is required: say why (the matter, who asked)")
	case !utf8.ValidString(reason):
		return "", apperr.Field(field, "must be UTF-8 text")
	case utf8.RuneCountInString(reason) > MaxReason:
		return "", apperr.Field(field, "must be at most %d characters", MaxReason)
	}
	return reason, nil
}

// target resolves ref to an incident the caller may see and, for
// ScopeBreachCase, checks that it has a case.
func (s *Service) target(ctx context.Context, q db.Querier, scope Scope, ref string) (id, number string, err error) {
	inc, err := s.incidents.Meta(ctx, ref)
	if err != nil {
		return "", "", err
	}
	if scope == ScopeBreachCase {
		var caseID string
		err := q.QueryRowContext(ctx, `SELECT id FROM breach_cases WHERE incident_id = $1`, inc.ID).Scan(&caseID)
		if errors.Is(err, sql.ErrNoRows) {
			return "", "", caseNotFound(inc.Number)
		}
		if err != nil {
			return "", "", fmt.Errorf("read breach case: %w", err)
		}
	}
	return inc.ID, inc.Number, nil
}

// PlaceHold puts incident ref (or its breach case) on legal hold with a
// reason; 409 if one of that scope is already in force. Audited as
// legal_hold.place on the incident.
func (s *Service) PlaceHold(ctx context.Context, scope Scope, ref, reason string) (Hold, error) {
	actor, err := authz.Check(ctx, authz.LegalHold)
	if err != nil {
		return Hold{}, err
	}
	if err := checkScope(scope); err != nil {
		return Hold{}, err
	}
	if reason, err = checkReason("reason", reason); err != nil {
		return Hold{}, err
	}
	incID, number, err := s.target(ctx, s.db.R, scope, ref)
	if err != nil {
		return Hold{}, err
	}
	h := Hold{ID: uuid.Must(uuid.NewV7()).String(), IncidentID: incID, IncidentNumber: number, Scope: scope, Reason: reason,
		PlacedBy: actor.String(), PlacedAt: s.clock.Now().UTC()}
	sealed, err := s.keys.Seal([]byte(reason), keys.LegalHoldReason.Table, keys.LegalHoldReason.Name, h.ID)
	if err != nil {
		return Hold{}, err
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if err := s.lock(ctx, tx); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM incidents WHERE id = $1`, incID).Scan(&n); err != nil {
			return fmt.Errorf("read incident: %w", err)
		}
		if n == 0 {
			return apperr.New(apperr.NotFound, "incident %s was purged", number)
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM legal_holds WHERE incident_id = $1 AND scope = $2 AND released_at IS NULL`,
			incID, string(scope)).Scan(&n); err != nil {
			return fmt.Errorf("read legal holds: %w", err)
		}
		if n > 0 {
			return apperr.New(apperr.Conflict, "%s is already on legal hold", scopeLabel(scope, number))
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO legal_holds (id, incident_id, scope, reason, placed_by, placed_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, h.ID, incID, string(scope), sealed, h.PlacedBy, h.PlacedAt); err != nil {
			return fmt.Errorf("insert legal hold: %w", err)
		}
		_, err := audit.Append(ctx, tx, h.PlacedAt, audit.Event{Action: "legal_hold.place", ObjectType: "incident", ObjectID: incID,
			Change: map[string]any{"hold_id": h.ID, "scope": scope, "reason": reason}})
		return err
	})
	if err != nil {
		return Hold{}, err
	}
	return h, nil
}

// ReleaseHold ends the legal hold of scope in force on incident ref, with
// a reason; 404 if none is. Audited as legal_hold.release.
func (s *Service) ReleaseHold(ctx context.Context, scope Scope, ref, reason string) (Hold, error) {
	actor, err := authz.Check(ctx, authz.LegalHold)
	if err != nil {
		return Hold{}, err
	}
	if err := checkScope(scope); err != nil {
		return Hold{}, err
	}
	if reason, err = checkReason("reason", reason); err != nil {
		return Hold{}, err
	}
	incID, number, err := s.target(ctx, s.db.R, scope, ref)
	if err != nil {
		return Hold{}, err
	}
	now := s.clock.Now().UTC()
	var h Hold
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if err := s.lock(ctx, tx); err != nil {
			return err
		}
		hs, err := s.readHolds(ctx, tx, incID, true)
		if err != nil {
			return err
		}
		found := false
		for _, x := range hs {
			if x.Scope == scope && x.Active() {
				h, found = x, true
			}
		}
		if !found {
			return apperr.New(apperr.NotFound, "%s is not on legal hold", scopeLabel(scope, number))
		}
		sealed, err := s.keys.Seal([]byte(reason), keys.LegalHoldReleaseReason.Table, keys.LegalHoldReleaseReason.Name, h.ID)
		if err != nil {
			return err
		}
		h.ReleasedBy, h.ReleasedAt, h.ReleaseReason, h.IncidentNumber = actor.String(), &now, reason, number
		if _, err := tx.ExecContext(ctx, `UPDATE legal_holds SET released_by = $1, released_at = $2, release_reason = $3
			WHERE id = $4 AND released_at IS NULL`, h.ReleasedBy, now, sealed, h.ID); err != nil {
			return fmt.Errorf("release legal hold: %w", err)
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "legal_hold.release", ObjectType: "incident", ObjectID: incID,
			Change: map[string]any{"hold_id": h.ID, "scope": scope, "reason": reason}})
		return err
	})
	if err != nil {
		return Hold{}, err
	}
	return h, nil
}

// Holds lists incident ref's legal holds, in force and released, newest
// first. Their reasons are opened only for roles with retention:read, and
// that read is audited (legal_hold.reason_read); others see who placed
// each hold and when.
func (s *Service) Holds(ctx context.Context, ref string) ([]Hold, error) {
	actor, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return nil, err
	}
	inc, err := s.incidents.Meta(ctx, ref)
	if err != nil {
		return nil, err
	}
	reasons := authz.Has(actor.Role, authz.RetentionRead)
	hs, err := s.readHolds(ctx, s.db.R, inc.ID, reasons)
	if err != nil {
		return nil, err
	}
	for i := range hs {
		hs[i].IncidentNumber = inc.Number
	}
	if !reasons || len(hs) == 0 {
		return hs, nil
	}
	ids := make([]string, len(hs))
	for i, h := range hs {
		ids[i] = h.ID
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, s.clock.Now(), audit.Event{Action: "legal_hold.reason_read", ObjectType: "incident",
			ObjectID: inc.ID, Change: map[string]any{"holds": ids}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return hs, nil
}

// readHolds reads incident id's holds, newest first, opening their reasons
// if open is set.
func (s *Service) readHolds(ctx context.Context, q db.Querier, incID string, open bool) ([]Hold, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, scope, reason, placed_by, placed_at, released_by, released_at, release_reason
		FROM legal_holds WHERE incident_id = $1 ORDER BY placed_at DESC, id DESC`, incID)
	hs, err := db.Collect(rows, err, "legal holds", func(r *sql.Rows) (Hold, error) {
		h := Hold{IncidentID: incID}
		var released sql.NullTime
		var scope string
		err := r.Scan(&h.ID, &scope, &h.Reason, &h.PlacedBy, &h.PlacedAt, &h.ReleasedBy, &released, &h.ReleaseReason)
		h.Scope, h.PlacedAt = Scope(scope), h.PlacedAt.UTC()
		if released.Valid {
			t := released.Time.UTC()
			h.ReleasedAt = &t
		}
		return h, err
	})
	if err != nil {
		return nil, err
	}
	for i := range hs {
		if !open {
			hs[i].Reason, hs[i].ReleaseReason = "", ""
			continue
		}
		if hs[i].Reason, err = s.open(hs[i].Reason, keys.LegalHoldReason, hs[i].ID); err != nil {
			return nil, err
		}
		if hs[i].ReleaseReason, err = s.open(hs[i].ReleaseReason, keys.LegalHoldReleaseReason, hs[i].ID); err != nil {
			return nil, err
		}
	}
	return hs, nil
}

func (s *Service) open(v string, c keys.Column, id string) (string, error) {
	if v == "" {
		return "", nil
	}
	p, err := s.keys.Open(v, c.Table, c.Name, id)
	if err != nil {
		return "", err
	}
	return string(p), nil
}

// scopeLabel names what a hold covers for people.
func scopeLabel(scope Scope, number string) string {
	if scope == ScopeBreachCase {
		return "the breach case of incident " + number
	}
	return "incident " + number
}
