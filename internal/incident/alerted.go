package incident

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
)

// MarkPHISuspectedTx sets phi_suspected on an open incident inside the
// caller's transaction, recording the change on its timeline with why; it
// does nothing if the flag is already set. Alert intake calls it when an
// alert from a service that handles PHI joins an incident.
func (s *Service) MarkPHISuspectedTx(ctx context.Context, tx *sql.Tx, id, why string) error {
	_, _, err := s.changeTx(ctx, tx, id, func(_ *sql.Tx, inc *Incident, _ time.Time) (Event, string, error) {
		if inc.PHISuspected {
			return Event{}, "", errNoChange
		}
		inc.PHISuspected = true
		return Event{Kind: EventEdit, Note: why, Changes: []Change{{Field: "phi_suspected", Old: false, New: true}}},
			"incident.update", nil
	})
	if errors.Is(err, errNoChange) {
		return nil
	}
	return err
}

// RecordPagingTx adds a paging entry to an open or closed incident's
// timeline inside the caller's transaction: who was paged, who
// acknowledged, a delivery that gave up. note must not hold PHI; it is
// sealed like every note all the same.
func (s *Service) RecordPagingTx(ctx context.Context, tx *sql.Tx, id, note string) error {
	return s.RecordTx(ctx, tx, id, EventPaging, note)
}

// RecordTx adds an entry of kind (EventPaging, EventStatusUpdate or
// EventSLA) to an incident's timeline inside the caller's transaction,
// audited as incident.<kind>. note must not hold PHI.
func (s *Service) RecordTx(ctx context.Context, tx *sql.Tx, id string, kind EventKind, note string) error {
	_, _, err := s.changeTx(ctx, tx, id, func(_ *sql.Tx, _ *Incident, _ time.Time) (Event, string, error) {
		return Event{Kind: kind, Note: note}, "incident." + string(kind), nil
	})
	return err
}

// SetSeverityTx sets an incident's severity inside the caller's
// transaction, recording why on the timeline; it does nothing if the
// severity is already sev.
func (s *Service) SetSeverityTx(ctx context.Context, tx *sql.Tx, id string, sev Severity, why string) error {
	return setTx(ctx, s, tx, id, "severity", func(inc *Incident) *Severity { return &inc.Severity }, sev, why)
}

// setTx sets one field of incident id, which at points to, to v inside
// the caller's transaction, recording why on the timeline; it does
// nothing if the field holds v already.
func setTx[T comparable](ctx context.Context, s *Service, tx *sql.Tx, id, field string, at func(*Incident) *T, v T, why string) error {
	_, _, err := s.changeTx(ctx, tx, id, func(_ *sql.Tx, inc *Incident, _ time.Time) (Event, string, error) {
		p := at(inc)
		if *p == v {
			return Event{}, "", errNoChange
		}
		old := *p
		*p = v
		return Event{Kind: EventEdit, FromStatus: inc.Status, ToStatus: inc.Status, Note: why,
			Changes: []Change{{Field: field, Old: old, New: v}}}, "incident.update", nil
	})
	if errors.Is(err, errNoChange) {
		return nil
	}
	return err
}

// Meta returns incident ref as the actor in ctx may see it, without its
// title or description: nothing is decrypted and no PHI read is recorded.
func (s *Service) Meta(ctx context.Context, ref string) (Incident, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return Incident{}, err
	}
	v := s.viewer(ctx)
	inc, err := getIncident(ctx, s.db.R, ref, &v)
	inc.Title, inc.Description = "", ""
	return inc, err
}

// GetTx returns incident ref inside tx, whoever asks, without its title
// or description: for services acting on an incident they were handed.
func (s *Service) GetTx(ctx context.Context, tx *sql.Tx, ref string) (Incident, error) {
	inc, err := getIncident(ctx, s.db.In(tx), ref, nil)
	inc.Title, inc.Description = "", ""
	return inc, err
}

// SetCategoryTx sets an incident's category inside the caller's
// transaction, recording why on the timeline; it does nothing if the
// category is already c.
func (s *Service) SetCategoryTx(ctx context.Context, tx *sql.Tx, id string, c Category, why string) error {
	if !slices.Contains(Categories, c) {
		return apperr.Field("category", "%q is not a category", c)
	}
	return setTx(ctx, s, tx, id, "category", func(inc *Incident) *Category { return &inc.Category }, c, why)
}

// SetCommanderTx makes username, an active Ward user, an incident's
// commander inside the caller's transaction, recording why on the
// timeline; it does nothing if they are already.
func (s *Service) SetCommanderTx(ctx context.Context, tx *sql.Tx, id, username, why string) error {
	if err := checkUser(ctx, s.db.In(tx), "commander", username); err != nil {
		return err
	}
	return setTx(ctx, s, tx, id, "commander", func(inc *Incident) *string { return &inc.Commander }, username, why)
}
