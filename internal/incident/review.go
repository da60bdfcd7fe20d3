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
	"github.com/wardhq/ward/internal/keys"
)

// MaxReviewText caps each section of a post-incident review.
const MaxReviewText = 20000

// EventReview records a change to the post-incident review: a section
// written, the review marked complete or waived.
const EventReview EventKind = "review"

// EventActionItem records an action item added or changed.
const EventActionItem EventKind = "action_item"

// Review is the record of an incident's post_incident phase (docs/REVIEW.md):
// what happened, why, what helped, what was learnt and what was changed
// since. Every section may hold PHI and is sealed; a reader whose role may
// not see PHI gets them empty and TextRedacted set.
type Review struct {
	IncidentID          string
	Summary             string
	RootCause           string
	ContributingFactors string
	WentWell            string
	Lessons             string
	UpdatesMade         string
	CompletedAt         *time.Time
	CompletedBy         string
	WaivedAt            *time.Time
	WaivedBy            string
	WaiveReason         string
	// Saved says the review has been written to at least once.
	Saved        bool
	UpdatedAt    time.Time
	TextRedacted bool
	// Privilege is the review's privileged mark, nil when it has none.
	Privilege *Privilege
}

// Settled reports whether the review lets the incident close as resolved:
// it is complete, or an officer waived it.
func (r *Review) Settled() bool { return r.CompletedAt != nil || r.WaivedAt != nil }

// ReviewInput holds the sections to change; nil leaves one as it is.
type ReviewInput struct {
	Summary             *string
	RootCause           *string
	ContributingFactors *string
	WentWell            *string
	Lessons             *string
	UpdatesMade         *string
}

// reviewSection is one sealed section: its field name, column and place.
type reviewSection struct {
	field string
	col   keys.Column
	get   func(*Review) *string
	in    func(*ReviewInput) *string
}

var reviewSections = []reviewSection{
	{"summary", keys.ReviewSummary, func(r *Review) *string { return &r.Summary }, func(i *ReviewInput) *string { return i.Summary }},
	{"root_cause", keys.ReviewRootCause, func(r *Review) *string { return &r.RootCause }, func(i *ReviewInput) *string { return i.RootCause }},
	{"contributing_factors", keys.ReviewContributingFactors, func(r *Review) *string { return &r.ContributingFactors },
		func(i *ReviewInput) *string { return i.ContributingFactors }},
	{"went_well", keys.ReviewWentWell, func(r *Review) *string { return &r.WentWell }, func(i *ReviewInput) *string { return i.WentWell }},
	{"lessons", keys.ReviewLessons, func(r *Review) *string { return &r.Lessons }, func(i *ReviewInput) *string { return i.Lessons }},
	{"updates_made", keys.ReviewUpdatesMade, func(r *Review) *string { return &r.UpdatesMade },
		func(i *ReviewInput) *string { return i.UpdatesMade }},
}

const reviewColumns = `incident_id, summary, root_cause, contributing_factors, went_well, lessons, updates_made,
	completed_at, completed_by, waived_at, waived_by, waive_reason, updated_at`

// loadReview reads incident id's review as stored (sealed); a review never
// written comes back empty, not Saved.
func loadReview(ctx context.Context, q db.Querier, id string) (Review, error) {
	r := Review{IncidentID: id}
	var done, waived sql.NullTime
	err := q.QueryRowContext(ctx, "SELECT "+reviewColumns+" FROM incident_reviews WHERE incident_id = $1", id).Scan(
		&r.IncidentID, &r.Summary, &r.RootCause, &r.ContributingFactors, &r.WentWell, &r.Lessons, &r.UpdatesMade,
		&done, &r.CompletedBy, &waived, &r.WaivedBy, &r.WaiveReason, &r.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return r, nil
	}
	if err != nil {
		return Review{}, fmt.Errorf("read review: %w", err)
	}
	r.Saved, r.CompletedAt, r.WaivedAt, r.UpdatedAt = true, timePtr(done), timePtr(waived), r.UpdatedAt.UTC()
	return r, nil
}

// openReview opens every sealed field of r in place.
func (s *Service) openReview(r *Review) error {
	var err error
	for _, sec := range reviewSections {
		p := sec.get(r)
		if *p, err = s.open(*p, sec.col, r.IncidentID); err != nil {
			return err
		}
	}
	r.WaiveReason, err = s.open(r.WaiveReason, keys.ReviewWaiveReason, r.IncidentID)
	return err
}

// saveReview writes r (opened) sealed, inserting it the first time.
func (s *Service) saveReview(ctx context.Context, tx *sql.Tx, r *Review, now time.Time) error {
	c := *r
	var err error
	for _, sec := range reviewSections {
		p := sec.get(&c)
		if *p, err = sec.col.SealText(s.keys, *p, c.IncidentID); err != nil {
			return err
		}
	}
	if c.WaiveReason, err = keys.ReviewWaiveReason.SealText(s.keys, c.WaiveReason, c.IncidentID); err != nil {
		return err
	}
	args := []any{c.IncidentID, c.Summary, c.RootCause, c.ContributingFactors, c.WentWell, c.Lessons, c.UpdatesMade,
		nullTime(c.CompletedAt), c.CompletedBy, nullTime(c.WaivedAt), c.WaivedBy, c.WaiveReason, now}
	if r.Saved {
		_, err = tx.ExecContext(ctx, `UPDATE incident_reviews SET summary = $2, root_cause = $3, contributing_factors = $4,
			went_well = $5, lessons = $6, updates_made = $7, completed_at = $8, completed_by = $9, waived_at = $10,
			waived_by = $11, waive_reason = $12, updated_at = $13 WHERE incident_id = $1`, args...)
	} else {
		_, err = tx.ExecContext(ctx, "INSERT INTO incident_reviews ("+reviewColumns+`, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)`, args...)
	}
	if err != nil {
		return fmt.Errorf("save review: %w", err)
	}
	r.Saved, r.UpdatedAt = true, now
	return nil
}

// Review returns an incident's post-incident review (empty, not Saved, when
// nobody has written it yet). A reader whose role may see PHI gets its
// text, and the read is audited before it is returned (45 CFR 164.312(b));
// anyone else gets the sections and the waiver's reason withheld.
func (s *Service) Review(ctx context.Context, ref string) (Review, error) {
	actor, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return Review{}, err
	}
	v := s.viewer(ctx)
	inc, err := getIncident(ctx, s.db.R, ref, &v)
	if err != nil {
		return Review{}, err
	}
	r, err := loadReview(ctx, s.db.R, inc.ID)
	if err != nil {
		return r, err
	}
	marks, err := LoadPrivileges(ctx, s.db.R, inc.ID, PrivilegedReview)
	if err != nil || !r.Saved {
		r.Privilege = marks[inc.ID]
		return r, err
	}
	r.Privilege = marks[inc.ID]
	mayPrivileged := authz.Has(actor.Role, authz.PrivilegedRead)
	if !authz.Has(actor.Role, authz.IncidentReadPHI) || r.Privilege != nil && !mayPrivileged {
		for _, sec := range reviewSections {
			*sec.get(&r) = ""
		}
		r.WaiveReason, r.TextRedacted = "", true
		return r, nil
	}
	if err := s.openReview(&r); err != nil {
		return Review{}, err
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		now := s.clock.Now()
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "incident.phi_read", ObjectType: "incident",
			ObjectID: inc.ID, Change: []string{"review"}}); err != nil {
			return err
		}
		if r.Privilege == nil {
			return nil
		}
		return AuditPrivilegedRead(ctx, tx, now, inc.ID, PrivilegedReview, []string{inc.ID})
	})
	if err != nil {
		return Review{}, err
	}
	return r, nil
}

// reviewChange runs mutate on the incident's review (opened) inside the
// incident's change, saves it and records the timeline event it returns.
// A review marked privileged is changed (written, completed, waived) only
// by a caller who may see privileged content: nothing of it is opened for
// anyone else.
func (s *Service) reviewChange(ctx context.Context, ref string, perm authz.Permission,
	mutate func(inc *Incident, r *Review, now time.Time) (Event, string, error)) (Review, error) {
	if _, err := authz.Check(ctx, perm); err != nil {
		return Review{}, err
	}
	var out Review
	_, _, err := s.change(ctx, ref, func(tx *sql.Tx, inc *Incident, now time.Time) (Event, string, error) {
		r, err := loadReview(ctx, tx, inc.ID)
		if err != nil {
			return Event{}, "", err
		}
		marks, err := LoadPrivileges(ctx, tx, inc.ID, PrivilegedReview)
		if err != nil {
			return Event{}, "", err
		}
		if r.Privilege = marks[inc.ID]; r.Privilege != nil && !MayReadPrivileged(ctx) {
			return Event{}, "", apperr.New(apperr.Forbidden, "the post-incident review of %s is marked %s: "+
				"only counsel and the Privacy Officer may change it", inc.Number, r.Privilege.Phrase())
		}
		if err := s.openReview(&r); err != nil {
			return Event{}, "", err
		}
		e, action, err := mutate(inc, &r, now)
		if err != nil {
			return Event{}, "", err
		}
		if err := s.saveReview(ctx, tx, &r, now); err != nil {
			return Event{}, "", err
		}
		out = r
		e.Kind, e.FromStatus, e.ToStatus = EventReview, inc.Status, inc.Status
		return e, action, nil
	})
	if err != nil {
		return Review{}, err
	}
	return out, nil
}

// UpdateReview writes sections of an incident's post-incident review. It
// is written in the post_incident phase, and no longer once marked
// complete. The timeline records which sections changed, not their text.
func (s *Service) UpdateReview(ctx context.Context, ref string, in ReviewInput) (Review, error) {
	for _, sec := range reviewSections {
		if p := sec.in(&in); p != nil {
			if err := checkText(sec.field, *p, 0, MaxReviewText); err != nil {
				return Review{}, err
			}
		}
	}
	unchanged := false
	r, err := s.reviewChange(ctx, ref, authz.IncidentWrite, func(inc *Incident, r *Review, _ time.Time) (Event, string, error) {
		if inc.Status != PostIncident {
			return Event{}, "", apperr.New(apperr.Conflict,
				"the post-incident review of %s is written in the post-incident phase; the incident is in %s", inc.Number, inc.Status)
		}
		if r.CompletedAt != nil {
			return Event{}, "", apperr.New(apperr.Conflict, "the post-incident review of %s was marked complete and can no longer change", inc.Number)
		}
		var changes []Change
		for _, sec := range reviewSections {
			if p := sec.in(&in); p != nil && *p != *sec.get(r) {
				*sec.get(r) = *p
				changes = append(changes, Change{Field: sec.field, Redacted: true})
			}
		}
		if len(changes) == 0 {
			unchanged = true
			return Event{}, "", errNoChange
		}
		return Event{Changes: changes}, "incident.review.update", nil
	})
	if err == nil && unchanged {
		return s.Review(ctx, ref)
	}
	return r, err
}

// CompleteReview marks an incident's review complete, by the caller, now.
// It needs at least the root cause and the lessons learnt; a missing one
// is refused naming it.
func (s *Service) CompleteReview(ctx context.Context, ref string) (Review, error) {
	actor, _ := authz.ActorFrom(ctx)
	return s.reviewChange(ctx, ref, authz.IncidentWrite, func(inc *Incident, r *Review, now time.Time) (Event, string, error) {
		if inc.Status != PostIncident {
			return Event{}, "", apperr.New(apperr.Conflict,
				"the post-incident review of %s is completed in the post-incident phase; the incident is in %s", inc.Number, inc.Status)
		}
		if r.CompletedAt != nil {
			return Event{}, "", apperr.New(apperr.Conflict, "the post-incident review of %s is already complete", inc.Number)
		}
		if blank(r.RootCause) {
			return Event{}, "", apperr.Field("root_cause", "is required to complete the review")
		}
		if blank(r.Lessons) {
			return Event{}, "", apperr.Field("lessons", "is required to complete the review")
		}
		r.CompletedAt, r.CompletedBy = &now, actor.String()
		return Event{Changes: []Change{{Field: "review_completed", New: true}}}, "incident.review.complete", nil
	})
}

// WaiveReview lets an incident close as resolved without a complete
// review. Only roles with incident:waive_review may, with a reason, which
// is sealed; the timeline records that it was waived and by whom.
func (s *Service) WaiveReview(ctx context.Context, ref, reason string) (Review, error) {
	if err := checkText("reason", reason, 1, MaxNote); err != nil {
		return Review{}, err
	}
	actor, _ := authz.ActorFrom(ctx)
	return s.reviewChange(ctx, ref, authz.ReviewWaive, func(inc *Incident, r *Review, now time.Time) (Event, string, error) {
		if inc.Status == Closed {
			return Event{}, "", apperr.New(apperr.Conflict, "%s is closed: there is nothing to waive", inc.Number)
		}
		if r.Settled() {
			return Event{}, "", apperr.New(apperr.Conflict, "the post-incident review of %s is already complete or waived", inc.Number)
		}
		r.WaivedAt, r.WaivedBy, r.WaiveReason = &now, actor.String(), reason
		return Event{Changes: []Change{{Field: "review_waived", New: true}, {Field: "reason", Redacted: true}}},
			"incident.review.waive", nil
	})
}

// checkCloseTx refuses to close incident inc as resolved while its review
// is neither complete nor waived. Dispositions (false positive, not a
// security incident, duplicate) close without one: there was no incident
// to learn from.
func checkCloseTx(ctx context.Context, tx *sql.Tx, inc *Incident, next State) error {
	if next.Status != Closed || next.Resolution != Resolved {
		return nil
	}
	r, err := loadReview(ctx, tx, inc.ID)
	if err != nil {
		return err
	}
	if r.Settled() {
		return nil
	}
	return apperr.New(apperr.Conflict, "%s cannot close as resolved until its post-incident review is marked complete "+
		"(it needs the root cause and the lessons learnt) or a Security Officer waives the review with a reason", inc.Number)
}

func blank(s string) bool { return strings.TrimSpace(s) == "" }
