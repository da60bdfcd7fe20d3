package incident

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
)

// PrivilegeKind names the sort of record a privileged mark is on.
type PrivilegeKind string

// The records that can be marked privileged (issue #12, docs/REVIEW.md,
// "Privileged & confidential"): a note of the timeline, an evidence item,
// and the post-incident review (its sections and key events).
const (
	PrivilegedNote     PrivilegeKind = "note"
	PrivilegedEvidence PrivilegeKind = "evidence"
	PrivilegedReview   PrivilegeKind = "review"
)

// PrivilegeKinds lists the kinds, for messages and validation.
var PrivilegeKinds = []PrivilegeKind{PrivilegedNote, PrivilegedEvidence, PrivilegedReview}

// EventPrivilege records a record marked or unmarked privileged; its
// changes name the record's kind, whether it is now privileged and who
// holds the privilege, never the record's content.
const EventPrivilege EventKind = "privilege"

// PrivilegedLabel is the line that stands in for privileged content shown
// to someone who may not read it.
const PrivilegedLabel = "Privileged & confidential — attorney work product"

// Privilege is a privileged mark: the record it is on, who holds the
// privilege (a Ward username), who marked it and when.
type Privilege struct {
	Kind       PrivilegeKind
	ObjectID   string
	IncidentID string
	HeldBy     string
	MarkedBy   string
	MarkedAt   time.Time
}

// Line is what stands in for the record's content: "Privileged &
// confidential — attorney work product, held by carol".
func (p *Privilege) Line() string { return PrivilegedLabel + ", held by " + p.HeldBy }

// Phrase is Line inside a sentence: "privileged & confidential — attorney
// work product, held by carol".
func (p *Privilege) Phrase() string { return privilegedPhrase + ", held by " + p.HeldBy }

// privilegedPhrase is PrivilegedLabel inside a sentence.
const privilegedPhrase = "privileged & confidential — attorney work product"

// MayReadPrivileged reports whether the actor in ctx may see privileged
// content (authz.PrivilegedRead: counsel and the Privacy Officer).
func MayReadPrivileged(ctx context.Context) bool {
	a, _ := authz.ActorFrom(ctx)
	return authz.Has(a.Role, authz.PrivilegedRead)
}

// Privileges maps the object ids of incident incidentID's records of one
// kind to their marks.
type Privileges map[string]*Privilege

// LoadPrivileges reads the privileged marks of kind on incident incidentID,
// whoever asks: callers decide what to withhold.
func LoadPrivileges(ctx context.Context, q db.Querier, incidentID string, kind PrivilegeKind) (Privileges, error) {
	rows, err := q.QueryContext(ctx, `SELECT kind, object_id, incident_id, held_by, marked_by, marked_at FROM privileged_marks
		WHERE incident_id = $1 AND kind = $2`, incidentID, string(kind))
	list, err := db.Collect(rows, err, "privileged marks", func(r *sql.Rows) (*Privilege, error) {
		var p Privilege
		var k string
		err := r.Scan(&k, &p.ObjectID, &p.IncidentID, &p.HeldBy, &p.MarkedBy, &p.MarkedAt)
		p.Kind, p.MarkedAt = PrivilegeKind(k), p.MarkedAt.UTC()
		return &p, err
	})
	if err != nil {
		return nil, err
	}
	out := make(Privileges, len(list))
	for _, p := range list {
		out[p.ObjectID] = p
	}
	return out, nil
}

// AuditPrivilegedRead records in the audit trail, inside tx, that the
// caller was shown privileged content of incident incidentID: the kind and
// ids of the records (privileged.read).
func AuditPrivilegedRead(ctx context.Context, tx *sql.Tx, now time.Time, incidentID string, kind PrivilegeKind, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	_, err := audit.Append(ctx, tx, now, audit.Event{Action: "privileged.read", ObjectType: "incident", ObjectID: incidentID,
		Change: map[string]any{"kind": kind, "ids": ids}})
	return err
}

// PrivilegeInput marks (Privileged) or unmarks a record of an incident.
// ObjectID is the note's timeline entry id or the evidence item's id; the
// review needs none. HeldBy is the username of the Ward user who holds the
// privilege, who must hold privileged:read; empty is the caller.
type PrivilegeInput struct {
	Kind       PrivilegeKind
	ObjectID   string
	Privileged bool
	HeldBy     string
}

// kindLabel names a kind for the timeline.
func kindLabel(k PrivilegeKind) string {
	switch k {
	case PrivilegedNote:
		return "a note"
	case PrivilegedEvidence:
		return "an evidence item"
	}
	return "the post-incident review"
}

// SetPrivileged marks a record of incident ref privileged & confidential
// (attorney work product), or unmarks it, for a caller with
// privileged:mark. Marking again with another holder changes the holder;
// a change that changes nothing records nothing. The change is on the
// timeline (EventPrivilege) and in the audit trail (incident.privilege.mark
// or .unmark) in one transaction. It returns the mark, nil once unmarked.
func (s *Service) SetPrivileged(ctx context.Context, ref string, in PrivilegeInput) (*Privilege, error) {
	actor, err := authz.Check(ctx, authz.PrivilegedMark)
	if err != nil {
		return nil, err
	}
	if err := checkEnum("kind", in.Kind, PrivilegeKinds); err != nil {
		return nil, err
	}
	if in.Kind != PrivilegedReview && strings.TrimSpace(in.ObjectID) == "" {
		return nil, apperr.Field("object_id", "is required: name the %s to mark", strings.TrimPrefix(kindLabel(in.Kind), "a "))
	}
	holder := strings.TrimSpace(in.HeldBy)
	if holder == "" && in.Privileged {
		if actor.Kind != authz.KindUser {
			return nil, apperr.Field("held_by", "is required: name the Ward user who holds the privilege")
		}
		holder = actor.Name
	}
	var out *Privilege
	_, _, err = s.change(ctx, ref, func(tx *sql.Tx, inc *Incident, now time.Time) (Event, string, error) {
		objectID := in.ObjectID
		if in.Kind == PrivilegedReview {
			objectID = inc.ID
		}
		if err := privilegeTarget(ctx, tx, inc, in.Kind, objectID); err != nil {
			return Event{}, "", err
		}
		marks, err := LoadPrivileges(ctx, tx, inc.ID, in.Kind)
		if err != nil {
			return Event{}, "", err
		}
		cur := marks[objectID]
		changes := []Change{{Field: "record", New: kindLabel(in.Kind)}}
		if !in.Privileged {
			if cur == nil {
				return Event{}, "", errNoChange
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM privileged_marks WHERE kind = $1 AND object_id = $2`,
				string(in.Kind), objectID); err != nil {
				return Event{}, "", fmt.Errorf("unmark privileged: %w", err)
			}
			changes = append(changes, Change{Field: "privileged", Old: true, New: false}, Change{Field: "held_by", Old: cur.HeldBy})
			return Event{Kind: EventPrivilege, FromStatus: inc.Status, ToStatus: inc.Status, Changes: changes},
				"incident.privilege.unmark", nil
		}
		if err := checkPrivilegeHolder(ctx, tx, holder); err != nil {
			return Event{}, "", err
		}
		out = &Privilege{Kind: in.Kind, ObjectID: objectID, IncidentID: inc.ID, HeldBy: holder, MarkedBy: actor.String(), MarkedAt: now}
		switch {
		case cur != nil && cur.HeldBy == holder:
			out = cur
			return Event{}, "", errNoChange
		case cur != nil:
			if _, err := tx.ExecContext(ctx, `UPDATE privileged_marks SET held_by = $1, marked_by = $2, marked_at = $3
				WHERE kind = $4 AND object_id = $5`, holder, out.MarkedBy, now, string(in.Kind), objectID); err != nil {
				return Event{}, "", fmt.Errorf("mark privileged: %w", err)
			}
			changes = append(changes, Change{Field: "held_by", Old: cur.HeldBy, New: holder})
		default:
			if _, err := tx.ExecContext(ctx, `INSERT INTO privileged_marks (kind, object_id, incident_id, held_by, marked_by, marked_at)
				VALUES ($1, $2, $3, $4, $5, $6)`, string(in.Kind), objectID, inc.ID, holder, out.MarkedBy, now); err != nil {
				return Event{}, "", fmt.Errorf("mark privileged: %w", err)
			}
			changes = append(changes, Change{Field: "privileged", Old: false, New: true}, Change{Field: "held_by", New: holder})
		}
		return Event{Kind: EventPrivilege, FromStatus: inc.Status, ToStatus: inc.Status, Changes: changes},
			"incident.privilege.mark", nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// privilegeTarget checks that the record to mark is one of inc's: a note
// of its timeline, one of its evidence items.
func privilegeTarget(ctx context.Context, tx *sql.Tx, inc *Incident, kind PrivilegeKind, id string) error {
	var query string
	switch kind {
	case PrivilegedNote:
		query = `SELECT 1 FROM incident_events WHERE id = $1 AND incident_id = $2 AND kind = 'note'`
	case PrivilegedEvidence:
		query = `SELECT 1 FROM evidence_items WHERE id = $1 AND incident_id = $2 AND status <> 'uploading'`
	default:
		return nil
	}
	var one int
	err := tx.QueryRowContext(ctx, query, id, inc.ID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.Field("object_id", "names no %s of %s", strings.TrimPrefix(strings.TrimPrefix(kindLabel(kind), "a "), "an "),
			inc.Number)
	}
	if err != nil {
		return fmt.Errorf("read record to mark: %w", err)
	}
	return nil
}

// checkPrivilegeHolder refuses a holder who is not an active Ward user
// whose role may read privileged content.
func checkPrivilegeHolder(ctx context.Context, tx *sql.Tx, name string) error {
	var role string
	err := tx.QueryRowContext(ctx, "SELECT role FROM users WHERE username = $1 AND NOT disabled", name).Scan(&role)
	if errors.Is(err, sql.ErrNoRows) {
		return apperr.Field("held_by", notAUser)
	}
	if err != nil {
		return fmt.Errorf("check held_by: %w", err)
	}
	if !authz.Has(authz.Role(role), authz.PrivilegedRead) {
		return apperr.Field("held_by", "must be counsel or the Privacy Officer: %s's role may not see privileged content", name)
	}
	return nil
}

// AddPrivilegedNote adds a note to incident ref's timeline that is
// privileged & confidential (attorney work product) from the start, held
// by heldBy (empty: the caller), for a caller with privileged:mark:
// counsel, who may write nothing else on an incident, and the Privacy
// Officer. The note, its mark and their audit entries (incident.note,
// incident.privilege.mark) are one transaction, so nobody ever reads the
// note unmarked.
func (s *Service) AddPrivilegedNote(ctx context.Context, ref, body, heldBy string) (Event, error) {
	actor, err := authz.Check(ctx, authz.PrivilegedMark)
	if err != nil {
		return Event{}, err
	}
	if err := checkText("body", body, 1, MaxNote); err != nil {
		return Event{}, err
	}
	holder := strings.TrimSpace(heldBy)
	if holder == "" {
		if actor.Kind != authz.KindUser {
			return Event{}, apperr.Field("held_by", "is required: name the Ward user who holds the privilege")
		}
		holder = actor.Name
	}
	var ev Event
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if err := lockIncident(ctx, tx, ref); err != nil {
			return err
		}
		v := s.viewer(ctx)
		if _, err := getIncident(ctx, tx, ref, &v); err != nil {
			return err
		}
		if err := checkPrivilegeHolder(ctx, tx, holder); err != nil {
			return err
		}
		inc, note, err := s.changeTx(ctx, tx, ref, func(_ *sql.Tx, inc *Incident, _ time.Time) (Event, string, error) {
			return Event{Kind: EventNote, FromStatus: inc.Status, ToStatus: inc.Status, Note: body}, "incident.note", nil
		})
		if err != nil {
			return err
		}
		mark := &Privilege{Kind: PrivilegedNote, ObjectID: note.ID, IncidentID: inc.ID, HeldBy: holder, MarkedBy: actor.String(),
			MarkedAt: s.clock.Now()}
		if _, err := tx.ExecContext(ctx, `INSERT INTO privileged_marks (kind, object_id, incident_id, held_by, marked_by, marked_at)
			VALUES ($1, $2, $3, $4, $5, $6)`, string(mark.Kind), mark.ObjectID, mark.IncidentID, mark.HeldBy, mark.MarkedBy,
			mark.MarkedAt); err != nil {
			return fmt.Errorf("mark privileged: %w", err)
		}
		if _, _, err := s.changeTx(ctx, tx, ref, func(_ *sql.Tx, inc *Incident, _ time.Time) (Event, string, error) {
			return Event{Kind: EventPrivilege, FromStatus: inc.Status, ToStatus: inc.Status, Changes: []Change{
				{Field: "record", New: kindLabel(PrivilegedNote)}, {Field: "privileged", Old: false, New: true},
				{Field: "held_by", New: holder}}}, "incident.privilege.mark", nil
		}); err != nil {
			return err
		}
		note.Privilege = mark
		ev = note
		return nil
	})
	if err != nil {
		return Event{}, err
	}
	return ev, nil
}
