package breach

import (
	"context"
	"database/sql"
	"fmt"
	"time"
	_ "time/tzdata" // the IANA zones, whatever the host has installed

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
)

// Option configures a Service.
type Option func(*Service)

// WithTimeZone sets the zone deadlines are counted in until the
// organisation sets its own (the server's --time-zone); without it, UTC.
func WithTimeZone(loc *time.Location) Option {
	return func(s *Service) {
		if loc != nil {
			s.defaultZone = loc
		}
	}
}

// LoadZone loads the IANA time zone name (such as America/Los_Angeles or
// UTC), naming field when it is not one; "Local" is refused, as it would
// depend on the host.
func LoadZone(field, name string) (*time.Location, error) {
	if name == "" || name == "Local" {
		return nil, apperr.Field(field, "must be an IANA time zone such as America/Los_Angeles or UTC, got %q", name)
	}
	loc, err := time.LoadLocation(name)
	if err != nil {
		return nil, apperr.Field(field, "must be an IANA time zone such as America/Los_Angeles or UTC, got %q", name)
	}
	return loc, nil
}

// FormatDue renders a deadline for people in the organisation's zone loc
// (nil means UTC), with the UTC time beside it where the two differ, e.g.
// "Sat 2 May 2026, 11:59 PM PDT (06:59 UTC, 3 May)". The UTC date is
// given only when it is another day, its year only when another year.
func FormatDue(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	local, u := t.In(loc), t.UTC()
	s := local.Format("Mon 2 Jan 2006, 3:04 PM MST")
	if _, off := local.Zone(); off == 0 {
		return s
	}
	ly, lm, ld := local.Date()
	uy, um, ud := u.Date()
	switch {
	case uy != ly:
		return s + " (" + u.Format("15:04 UTC, 2 Jan 2006") + ")"
	case um != lm || ud != ld:
		return s + " (" + u.Format("15:04 UTC, 2 Jan") + ")"
	}
	return s + " (" + u.Format("15:04 UTC") + ")"
}

// FormatDueDay renders a deadline's day in loc (nil means UTC) with the
// zone's abbreviation, e.g. "2026-05-02 PDT", for a line with no room for
// FormatDue (a 64-byte message status line). Deadlines counted in days
// end with that day in loc.
func FormatDueDay(t time.Time, loc *time.Location) string {
	if loc == nil {
		loc = time.UTC
	}
	return t.In(loc).Format("2006-01-02 MST")
}

// zone is the zone deadlines are counted in now: the organisation's
// setting, else the server's default.
func (s *Service) zone(ctx context.Context, q db.Querier) (*time.Location, error) {
	o, err := s.organisation(ctx, q)
	if err != nil {
		return nil, err
	}
	return o.Zone, nil
}

// recomputeAll recomputes every case's obligations under the rules and
// zone in use now, saying why on each incident's timeline (note is given
// the number of obligations the case now has). It returns how many cases
// it recomputed.
func (s *Service) recomputeAll(ctx context.Context, tx *sql.Tx, now time.Time, note func(obligations int) string) (int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT `+caseColumns+` FROM breach_cases c JOIN incidents i ON i.id = c.incident_id
		ORDER BY c.created_at`)
	cases, err := db.Collect(rows, err, "list breach cases", func(r *sql.Rows) (Case, error) { return s.scanCase(r) })
	if err != nil {
		return 0, err
	}
	for _, c := range cases {
		n, err := s.recompute(ctx, tx, c, now)
		if err != nil {
			return 0, fmt.Errorf("case of %s: %w", c.IncidentNumber, err)
		}
		if err := s.incidents.RecordTx(ctx, tx, c.IncidentID, incident.EventBreach, note(n)); err != nil {
			return 0, err
		}
	}
	return len(cases), nil
}

// ReconcileZone recomputes every case's obligations when they were
// computed in another zone than the one in use: the organisation's, else
// the server's --time-zone (WithTimeZone), when the server was started
// with another. The server calls it at start; it returns how many cases
// it recomputed.
func (s *Service) ReconcileZone(ctx context.Context) (int, error) {
	ctx = authz.WithActor(ctx, authz.System)
	now := s.clock.Now()
	var n int
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		o, err := s.organisation(ctx, tx)
		if err != nil {
			return err
		}
		zone, why := s.defaultZone, "the server's default time zone (--time-zone)"
		if o.TimeZone != "" {
			zone, why = o.Zone, "the organisation's time zone"
		}
		if o.zoneApplied == zone.String() {
			return nil
		}
		if ok, err := s.setZoneApplied(ctx, tx, o.zoneApplied, zone.String(), now); err != nil || !ok {
			return err
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "breach_organisation.time_zone", ObjectType: "breach_organisation",
			ObjectID: "1", Change: map[string]any{"old": o.zoneApplied, "new": zone.String(), "source": why}}); err != nil {
			return err
		}
		n, err = s.recomputeAll(ctx, tx, now, func(obs int) string {
			return fmt.Sprintf("Deadlines are now counted in %s, %s (was %s): %d notice obligations recomputed.", zone, why, o.zoneApplied, obs)
		})
		return err
	})
	return n, err
}

// setZoneApplied records that the stored obligations are computed in
// zone, where they were computed in old. It answers false, writing
// nothing, when they no longer were (another node got there first).
func (s *Service) setZoneApplied(ctx context.Context, tx *sql.Tx, old, zone string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE breach_organisation SET zone_applied = $1 WHERE id = 1 AND zone_applied = $2`, zone, old)
	if err != nil {
		return false, fmt.Errorf("save organisation: %w", err)
	}
	if k, _ := res.RowsAffected(); k > 0 {
		return true, nil
	}
	// No row until the role is set: one with the role unset.
	res, err = tx.ExecContext(ctx, `INSERT INTO breach_organisation (id, role, updated_by, updated_at, time_zone, zone_applied)
		VALUES (1, '', '', $1, '', $2) ON CONFLICT (id) DO NOTHING`, now, zone)
	if err != nil {
		return false, fmt.Errorf("save organisation: %w", err)
	}
	k, _ := res.RowsAffected()
	return k > 0, nil
}
