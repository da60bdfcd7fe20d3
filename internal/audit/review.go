package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
)

// The audit entry of a break's review has this action and object type
// (not ObjectSegment, which marks a segment's first entry), and the
// segment's number as its object id.
const (
	ActionBreakReview = "audit.break_review"
	ObjectBreak       = "audit_break"
)

// Review is a Security or Privacy Officer's review of a recorded break of
// the chain: who reviewed it, when, and which security incident
// investigates it (45 CFR 164.308(a)(6)(ii): suspected security incidents
// are identified, responded to and documented). A break stays open until
// it is reviewed, and the retention purge waits for every one (issue #13:
// nothing is purged while the chain is broken).
type Review struct {
	IncidentID     string    `json:"incident_id"`
	IncidentNumber string    `json:"incident_number"`
	ReviewedBy     string    `json:"reviewed_by"`
	ReviewedAt     time.Time `json:"reviewed_at"`
}

// SegmentStatus is a segment's record and its review, nil while none.
type SegmentStatus struct {
	Segment
	Review *Review `json:"review,omitempty"`
}

// SegmentsReviewed returns the record of each segment after the first,
// oldest first, with its review, for a caller holding authz.AuditRead.
func (r *Reader) SegmentsReviewed(ctx context.Context) ([]SegmentStatus, error) {
	if _, err := authz.Check(ctx, authz.AuditRead); err != nil {
		return nil, err
	}
	return segmentStatuses(ctx, r.db.R)
}

func segmentStatuses(ctx context.Context, q db.Querier) ([]SegmentStatus, error) {
	segs, err := segments(ctx, q)
	if err != nil {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT r.segment, r.incident_id, i.number, r.reviewed_by, r.reviewed_at
		FROM audit_break_reviews r JOIN incidents i ON i.id = r.incident_id`)
	if err != nil {
		return nil, fmt.Errorf("read audit break reviews: %w", err)
	}
	defer rows.Close()
	reviews := map[int64]*Review{}
	for rows.Next() {
		var n int64
		var rv Review
		if err := rows.Scan(&n, &rv.IncidentID, &rv.IncidentNumber, &rv.ReviewedBy, &rv.ReviewedAt); err != nil {
			return nil, fmt.Errorf("read audit break reviews: %w", err)
		}
		rv.ReviewedAt = rv.ReviewedAt.UTC()
		reviews[n] = &rv
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read audit break reviews: %w", err)
	}
	out := make([]SegmentStatus, len(segs))
	for i, s := range segs {
		out[i] = SegmentStatus{Segment: s, Review: reviews[s.Number]}
	}
	return out, nil
}

// Unreviewed returns the recorded breaks that no officer has reviewed yet,
// oldest first: for Ward itself (the retention purge), so no permission.
func Unreviewed(ctx context.Context, q db.Querier) ([]Segment, error) {
	all, err := segmentStatuses(ctx, q)
	if err != nil {
		return nil, err
	}
	var out []Segment
	for _, s := range all {
		if s.Review == nil {
			out = append(out, s.Segment)
		}
	}
	return out, nil
}

// ReviewBreak records, as the officer in ctx (authz.RestrictedManage),
// that the break recorded by segment number was reviewed and is
// investigated in incident ref (its number or id), with its audit entry in
// the same transaction. A segment reviewed already is a conflict: a review
// is never replaced.
func (r *Reader) ReviewBreak(ctx context.Context, number int64, ref string) (SegmentStatus, error) {
	actor, err := authz.Check(ctx, authz.RestrictedManage)
	if err != nil {
		return SegmentStatus{}, err
	}
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return SegmentStatus{}, apperr.Field("incident", "name the incident that investigates the break, by its number")
	}
	at := clock.Normalize(r.clock.Now())
	var out SegmentStatus
	err = r.db.Write(ctx, func(tx *sql.Tx) error {
		segs, err := segmentStatuses(ctx, tx)
		if err != nil {
			return err
		}
		found := false
		for _, s := range segs {
			if s.Number == number {
				out, found = s, true
			}
		}
		if !found {
			return apperr.New(apperr.NotFound, "the audit trail has no segment %d that records a break", number)
		}
		if out.Review != nil {
			return apperr.New(apperr.Conflict, "the break that started segment %d was already reviewed", number)
		}
		rv := Review{ReviewedBy: actor.String(), ReviewedAt: at}
		err = tx.QueryRowContext(ctx, "SELECT id, number FROM incidents WHERE number = $1", strings.ToUpper(ref)).
			Scan(&rv.IncidentID, &rv.IncidentNumber)
		if errors.Is(err, sql.ErrNoRows) {
			err = tx.QueryRowContext(ctx, "SELECT id, number FROM incidents WHERE id = $1", ref).
				Scan(&rv.IncidentID, &rv.IncidentNumber)
		}
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.Field("incident", "no incident %s", ref)
		}
		if err != nil {
			return fmt.Errorf("read incident: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO audit_break_reviews (segment, incident_id, reviewed_by, reviewed_at)
			VALUES ($1, $2, $3, $4)`, number, rv.IncidentID, rv.ReviewedBy, at); err != nil {
			return fmt.Errorf("record audit break review: %w", err)
		}
		if _, err := Append(ctx, tx, at, Event{Action: ActionBreakReview, ObjectType: ObjectBreak,
			ObjectID: strconv.FormatInt(number, 10), Change: map[string]any{"incident_id": rv.IncidentID}}); err != nil {
			return err
		}
		out.Review = &rv
		return nil
	})
	return out, err
}
