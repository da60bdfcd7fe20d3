package alert

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
)

// The bounds of a heartbeat's interval.
const (
	MinHeartbeat = time.Minute
	MaxHeartbeat = 7 * 24 * time.Hour
)

// The states of a heartbeat.
const (
	HeartbeatWaiting = "waiting" // no ping yet
	HeartbeatUp      = "up"      // pinged in time
	HeartbeatDown    = "down"    // missed: an alert is open
)

// Heartbeat is a monitor that a job pings at /heartbeat/{key}. Silence for
// longer than Interval raises an alert on the service, which the next ping
// resolves; a monitor that is never pinged raises one Interval after it is
// made.
type Heartbeat struct {
	Interval   time.Duration
	State      string
	LastPingAt *time.Time
	DueAt      time.Time
}

func checkInterval(k Kind, d time.Duration) error {
	switch {
	case k != KindHeartbeat && d != 0:
		return apperr.Field("interval_seconds", "applies only to heartbeat integrations")
	case k == KindHeartbeat && (d < MinHeartbeat || d > MaxHeartbeat):
		return apperr.Field("interval_seconds", "must be %d to %d seconds, not %d", int(MinHeartbeat.Seconds()),
			int(MaxHeartbeat.Seconds()), int(d.Seconds()))
	}
	return nil
}

func insertHeartbeat(ctx context.Context, tx *sql.Tx, id string, interval time.Duration, now time.Time) (*Heartbeat, error) {
	hb := &Heartbeat{Interval: interval, State: HeartbeatWaiting, DueAt: now.Add(interval)}
	if _, err := tx.ExecContext(ctx, `INSERT INTO heartbeats (integration_id, interval_seconds, state, due_at) VALUES ($1, $2, $3, $4)`,
		id, int(interval.Seconds()), hb.State, hb.DueAt); err != nil {
		return nil, fmt.Errorf("insert heartbeat: %w", err)
	}
	return hb, nil
}

func getHeartbeat(ctx context.Context, q db.Querier, id string) (*Heartbeat, error) {
	var hb Heartbeat
	var secs int
	var last sql.NullTime
	err := q.QueryRowContext(ctx, `SELECT interval_seconds, state, last_ping_at, due_at FROM heartbeats WHERE integration_id = $1`,
		id).Scan(&secs, &hb.State, &last, &hb.DueAt)
	if err != nil {
		return nil, fmt.Errorf("read heartbeat: %w", err)
	}
	hb.Interval, hb.DueAt = time.Duration(secs)*time.Second, hb.DueAt.UTC()
	if last.Valid {
		t := last.Time.UTC()
		hb.LastPingAt = &t
	}
	return &hb, nil
}

// heartbeatKey is the dedup key of a heartbeat's alert: one per monitor.
func heartbeatKey(ig Integration) string { return "heartbeat:" + ig.ID }

// Ping records a ping of the heartbeat whose key is key and returns when
// the next is due. A ping after a missed interval resolves the alert.
func (s *Intake) Ping(ctx context.Context, key string) (time.Time, error) {
	ig, err := s.Authenticate(ctx, key)
	if err != nil {
		return time.Time{}, err
	}
	if ig.Kind != KindHeartbeat {
		return time.Time{}, apperr.New(apperr.Invalid, "this key belongs to an integration of kind %s, not a heartbeat", ig.Kind)
	}
	now := s.clock.Now()
	var due time.Time
	ctx = authz.WithActor(ctx, ig.Actor())
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		var secs int
		var state string
		err := tx.QueryRowContext(ctx, `SELECT h.interval_seconds, h.state FROM heartbeats h JOIN integration_keys k ON k.id = h.integration_id
			WHERE h.integration_id = $1 AND k.revoked_at IS NULL`, ig.ID).Scan(&secs, &state)
		if errors.Is(err, sql.ErrNoRows) {
			return &apperr.Error{Code: apperr.Unauthorized, Message: "Invalid routing key", Err: ErrUnknownKey}
		}
		if err != nil {
			return fmt.Errorf("read heartbeat: %w", err)
		}
		due = now.Add(time.Duration(secs) * time.Second)
		res, err := tx.ExecContext(ctx, `UPDATE heartbeats SET state = $1, last_ping_at = $2, due_at = $3
			WHERE integration_id = $4 AND state = $5`, HeartbeatUp, now, due, ig.ID, state)
		if err != nil {
			return fmt.Errorf("record ping: %w", err)
		}
		if n, _ := res.RowsAffected(); n != 1 || state != HeartbeatDown {
			return nil // another ping or check got there first, or nothing to resolve
		}
		return s.writeIntegration(tx, []*ingestReq{{ctx: ctx, ig: ig, evs: []Event{{Action: Resolve, DedupKey: heartbeatKey(ig)}},
			res: Result{DedupKeys: []string{heartbeatKey(ig)}}}}, now, "")
	})
	if err != nil {
		return time.Time{}, err
	}
	return due, nil
}

// CheckHeartbeats raises an alert for every heartbeat whose interval has
// passed without a ping, each in the transaction that marks it down, and
// returns how many it raised. Every node runs it; a heartbeat is raised
// once. A round with nothing due reads one index (heartbeats_due) and
// writes nothing.
func (s *Intake) CheckHeartbeats(ctx context.Context) (int, error) {
	now := s.clock.Now()
	var found int
	// The state is written out, not a parameter, so that every plan may
	// use the partial index, whose predicate names it.
	if err := s.db.R.QueryRowContext(ctx, `SELECT count(*) FROM (SELECT 1 FROM heartbeats WHERE state <> '`+HeartbeatDown+`'
		AND due_at <= $1 LIMIT 1) d`, now).Scan(&found); err != nil {
		return 0, fmt.Errorf("find missed heartbeats: %w", err)
	}
	if found == 0 {
		return 0, nil
	}
	raised := 0
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT `+integrationColumns+`, h.interval_seconds FROM heartbeats h
			JOIN integration_keys k ON k.id = h.integration_id JOIN services s ON s.id = k.service_id
			WHERE h.state <> $1 AND h.due_at <= $2 AND k.revoked_at IS NULL ORDER BY h.due_at LIMIT 100`, HeartbeatDown, now)
		if err != nil {
			return fmt.Errorf("find missed heartbeats: %w", err)
		}
		type missed struct {
			ig   Integration
			secs int
		}
		var ms []missed
		for rows.Next() {
			var m missed
			var mapping string
			var revoked sql.NullTime
			if err := rows.Scan(&m.ig.ID, &m.ig.ServiceID, &m.ig.ServiceName, &m.ig.Kind, &m.ig.Name, &m.ig.Hint, &mapping,
				&m.ig.CreatedAt, &m.ig.CreatedBy, &revoked, &m.secs); err != nil {
				rows.Close()
				return err
			}
			ms = append(ms, m)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, m := range ms {
			res, err := tx.ExecContext(ctx, `UPDATE heartbeats SET state = $1 WHERE integration_id = $2 AND state <> $1 AND due_at <= $3`,
				HeartbeatDown, m.ig.ID, now)
			if err != nil {
				return fmt.Errorf("mark heartbeat down: %w", err)
			}
			if n, _ := res.RowsAffected(); n != 1 {
				continue
			}
			ev := Event{Action: Trigger, DedupKey: heartbeatKey(m.ig), Severity: Error, Source: "ward heartbeat", Class: "heartbeat",
				Summary: fmt.Sprintf("Heartbeat %q missed: no ping for %s", m.ig.Name, time.Duration(m.secs)*time.Second)}
			actx := authz.WithActor(ctx, m.ig.Actor())
			if err := s.writeIntegration(tx, []*ingestReq{{ctx: actx, ig: m.ig, evs: []Event{ev},
				res: Result{DedupKeys: []string{ev.DedupKey}}}}, now, ""); err != nil {
				return err
			}
			if _, err := audit.Append(actx, tx, now, audit.Event{Action: "heartbeat.missed", ObjectType: "integration", ObjectID: m.ig.ID,
				Change: map[string]any{"interval_seconds": m.secs}}); err != nil {
				return err
			}
			raised++
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	if raised > 0 && s.pager != nil {
		s.pager.Wake()
	}
	return raised, nil
}
