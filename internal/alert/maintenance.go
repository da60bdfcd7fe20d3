package alert

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
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/keys"
)

// Window is a maintenance window: while it is on, the service's alerts are
// recorded but open no incident and page nobody.
type Window struct {
	ID        string
	ServiceID string
	StartsAt  time.Time
	EndsAt    time.Time
	// Reason is why it was set, typed by a person: it may hold PHI, so it
	// is sealed, and withheld (empty, ReasonRedacted) from a reader whose
	// role may not see PHI.
	Reason         string
	ReasonRedacted bool
	CreatedBy      string
	CreatedAt      time.Time
}

// MaxWindow is the longest maintenance window, so that a mistyped end date
// cannot silence a service for years.
const MaxWindow = 7 * 24 * time.Hour

// CreateWindow schedules a maintenance window for a service.
func (s *Intake) CreateWindow(ctx context.Context, serviceID string, starts, ends time.Time, reason string) (Window, error) {
	actor, err := authz.Check(ctx, authz.ServiceWrite)
	if err != nil {
		return Window{}, err
	}
	now := s.clock.Now()
	w := Window{ID: newID(), StartsAt: clock.Normalize(starts), EndsAt: clock.Normalize(ends),
		Reason: strings.TrimSpace(reason), CreatedBy: actor.String(), CreatedAt: now}
	switch {
	case starts.IsZero():
		w.StartsAt = now
	case w.StartsAt.Before(now.Add(-time.Minute)):
		return Window{}, apperr.Field("starts_at", "is in the past")
	}
	switch {
	case !w.EndsAt.After(w.StartsAt):
		return Window{}, apperr.Field("ends_at", "must be after starts_at")
	case w.EndsAt.Sub(w.StartsAt) > MaxWindow:
		return Window{}, apperr.Field("ends_at", "makes a window longer than the limit of %d days", int(MaxWindow.Hours()/24))
	case w.Reason == "":
		return Window{}, apperr.Field("reason", "is required")
	case len([]rune(w.Reason)) > MaxText:
		return Window{}, apperr.Field("reason", "is longer than %d characters", MaxText)
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		svc, err := getService(ctx, tx, serviceID)
		if err != nil {
			return err
		}
		w.ServiceID = svc.ID
		reason, err := s.keys.Seal([]byte(w.Reason), keys.MaintenanceReason.Table, keys.MaintenanceReason.Name, w.ID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO maintenance_windows (id, service_id, starts_at, ends_at, reason,
			created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			w.ID, w.ServiceID, w.StartsAt, w.EndsAt, reason, w.CreatedBy, w.CreatedAt); err != nil {
			return fmt.Errorf("insert maintenance window: %w", err)
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "maintenance.create", ObjectType: "service", ObjectID: svc.ID, Change: w})
		return err
	})
	if err != nil {
		return Window{}, err
	}
	return w, nil
}

// EndWindow ends a maintenance window now (or cancels one not yet begun).
func (s *Intake) EndWindow(ctx context.Context, id string) error {
	if _, err := authz.Check(ctx, authz.ServiceWrite); err != nil {
		return err
	}
	now := s.clock.Now()
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		var svc string
		var starts time.Time
		err := tx.QueryRowContext(ctx, `SELECT service_id, starts_at FROM maintenance_windows WHERE id = $1 AND ends_at > $2`,
			id, now).Scan(&svc, &starts)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.NotFound, "no current or future maintenance window %q", id)
		}
		if err != nil {
			return fmt.Errorf("read maintenance window: %w", err)
		}
		end := now
		if starts.After(now) {
			end = starts.UTC()
		}
		if _, err := tx.ExecContext(ctx, `UPDATE maintenance_windows SET ends_at = $1 WHERE id = $2`, end, id); err != nil {
			return fmt.Errorf("end maintenance window: %w", err)
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "maintenance.end", ObjectType: "service", ObjectID: svc,
			Change: map[string]any{"window_id": id, "ends_at": end}})
		return err
	})
}

// Windows lists a service's current and future maintenance windows (a
// cancelled future window ends when it starts, so it is not listed). Their
// reasons may hold PHI: a reader whose role may see PHI gets them, the
// read recorded in the audit trail before they are returned (45 CFR
// 164.312(b)); anyone else gets them withheld and nothing is decrypted.
func (s *Intake) Windows(ctx context.Context, serviceID string) ([]Window, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	svc, err := getService(ctx, s.db.R, serviceID)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, service_id, starts_at, ends_at, reason, created_by, created_at
		FROM maintenance_windows WHERE service_id = $1 AND ends_at > $2 AND ends_at > starts_at ORDER BY starts_at`, svc.ID, s.clock.Now())
	if err != nil {
		return nil, fmt.Errorf("list maintenance windows: %w", err)
	}
	defer rows.Close()
	out := []Window{}
	for rows.Next() {
		var w Window
		if err := rows.Scan(&w.ID, &w.ServiceID, &w.StartsAt, &w.EndsAt, &w.Reason, &w.CreatedBy, &w.CreatedAt); err != nil {
			return nil, fmt.Errorf("list maintenance windows: %w", err)
		}
		w.StartsAt, w.EndsAt, w.CreatedAt = w.StartsAt.UTC(), w.EndsAt.UTC(), w.CreatedAt.UTC()
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("list maintenance windows: %w", err)
	}
	return out, s.revealReasons(ctx, svc.ID, out)
}

// revealReasons opens the reasons of ws, windows of service serviceID, for
// a reader who may see PHI, after recording the read in the audit trail;
// for anyone else it withholds them.
func (s *Intake) revealReasons(ctx context.Context, serviceID string, ws []Window) error {
	if _, err := authz.Check(ctx, authz.IncidentReadPHI); err != nil {
		for i := range ws {
			ws[i].Reason, ws[i].ReasonRedacted = "", true
		}
		return nil
	}
	var read []string
	for i := range ws {
		if ws[i].Reason == "" {
			continue
		}
		plain, err := s.keys.Open(ws[i].Reason, keys.MaintenanceReason.Table, keys.MaintenanceReason.Name, ws[i].ID)
		if err != nil {
			return fmt.Errorf("maintenance window reason: %w", err)
		}
		ws[i].Reason = string(plain)
		read = append(read, ws[i].ID)
	}
	if len(read) == 0 {
		return nil
	}
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, s.clock.Now(), audit.Event{Action: "maintenance.phi_read", ObjectType: "service",
			ObjectID: serviceID, Change: map[string]any{"windows": read, "fields": []string{"reason"}}})
		return err
	})
}
