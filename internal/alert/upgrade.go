package alert

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/wardhq/ward/internal/keys"
)

// unhashedGroup marks an alert group's key that was stored in clear before
// group keys were hashed (migration 0028); start-up replaces it by its
// keyed hash.
const unhashedGroup = "unhashed:"

// SealOldAlerts seals and hashes what alerts written before their fields
// were sealed still hold in clear (issue #15): each such alert's dedup key
// gets its keyed hash (alerts.dedup_hash), and its dedup key, source,
// component, group and class are sealed; each alert group's key is
// replaced by its keyed hash. Each batch of rows is its own transaction,
// so an interrupted run is finished by the next; with nothing to do it
// costs two indexed queries. It returns how many alerts and groups it
// changed. Ward runs it at start, before it serves.
func (s *Intake) SealOldAlerts(ctx context.Context, batch int) (alerts, groups int64, err error) {
	if batch <= 0 {
		batch = 500
	}
	if alerts, err = s.sealOldAlerts(ctx, batch); err != nil {
		return alerts, 0, err
	}
	groups, err = s.hashOldGroups(ctx, batch)
	return alerts, groups, err
}

// oldAlertFields are the columns sealOldAlerts seals, dedup key first.
var oldAlertFields = []keys.Column{keys.AlertDedupKey, keys.AlertSource, keys.AlertComponent, keys.AlertGroup, keys.AlertClass}

func (s *Intake) sealOldAlerts(ctx context.Context, batch int) (int64, error) {
	type row struct {
		id, service string
		vals        [5]string
	}
	cols := make([]string, len(oldAlertFields))
	for i, c := range oldAlertFields {
		cols[i] = c.Name
	}
	var done int64
	after := ""
	for {
		rows, err := s.db.R.QueryContext(ctx, `SELECT id, service_id, `+strings.Join(cols, ", ")+`
			FROM alerts WHERE dedup_hash IS NULL AND id > $1 ORDER BY id LIMIT $2`, after, batch)
		if err != nil {
			return done, fmt.Errorf("read unsealed alerts: %w", err)
		}
		var todo []row
		for rows.Next() {
			var r row
			if err := rows.Scan(&r.id, &r.service, &r.vals[0], &r.vals[1], &r.vals[2], &r.vals[3], &r.vals[4]); err != nil {
				rows.Close()
				return done, fmt.Errorf("read unsealed alerts: %w", err)
			}
			todo = append(todo, r)
			after = r.id
		}
		if err := rows.Close(); err != nil {
			return done, fmt.Errorf("read unsealed alerts: %w", err)
		}
		if len(todo) == 0 {
			return done, nil
		}
		type update struct {
			id, hash string
			vals     [5]string
		}
		ups := make([]update, len(todo))
		for i, r := range todo {
			ups[i].id = r.id
			for j, c := range oldAlertFields {
				v := r.vals[j]
				// `ward keys rotate` may have sealed a value already.
				plain := v
				if keys.Sealed(v) {
					p, err := s.keys.Open(v, c.Table, c.Name, r.id)
					if err != nil {
						return done, err
					}
					plain = string(p)
				} else if v, err = c.SealText(s.keys, v, r.id); err != nil {
					return done, err
				}
				ups[i].vals[j] = v
				if c == keys.AlertDedupKey {
					ups[i].hash = s.keys.LookupHash(keys.LookupDedupKey, r.service, plain)
				}
			}
		}
		err = s.db.Write(ctx, func(tx *sql.Tx) error {
			for _, u := range ups {
				res, err := tx.ExecContext(ctx, `UPDATE alerts SET dedup_hash = $1, dedup_key = $2, source = $3, component = $4,
					grp = $5, class = $6 WHERE id = $7 AND dedup_hash IS NULL`,
					u.hash, u.vals[0], u.vals[1], u.vals[2], u.vals[3], u.vals[4], u.id)
				if err != nil {
					return fmt.Errorf("seal alert: %w", err)
				}
				if n, err := res.RowsAffected(); err == nil && n > 0 {
					done++
				}
			}
			return nil
		})
		if err != nil {
			return done, err
		}
		if len(todo) < batch {
			return done, nil
		}
	}
}

// hashOldGroups replaces the key of every alert group stored in clear by
// its keyed hash.
func (s *Intake) hashOldGroups(ctx context.Context, batch int) (int64, error) {
	type group struct{ service, old, incident string }
	var done int64
	for {
		rows, err := s.db.R.QueryContext(ctx, `SELECT service_id, group_hash, incident_id FROM alert_groups
			WHERE substr(group_hash, 1, 9) = 'unhashed:' ORDER BY service_id, group_hash LIMIT $1`, batch)
		if err != nil {
			return done, fmt.Errorf("read unhashed alert groups: %w", err)
		}
		var todo []group
		for rows.Next() {
			var g group
			if err := rows.Scan(&g.service, &g.old, &g.incident); err != nil {
				rows.Close()
				return done, fmt.Errorf("read unhashed alert groups: %w", err)
			}
			todo = append(todo, g)
		}
		if err := rows.Close(); err != nil {
			return done, fmt.Errorf("read unhashed alert groups: %w", err)
		}
		if len(todo) == 0 {
			return done, nil
		}
		err = s.db.Write(ctx, func(tx *sql.Tx) error {
			for _, g := range todo {
				hash := s.keys.LookupHash(keys.LookupGroupKey, g.service, strings.TrimPrefix(g.old, unhashedGroup))
				if _, err := tx.ExecContext(ctx, `INSERT INTO alert_groups (service_id, group_hash, incident_id) VALUES ($1, $2, $3)
					ON CONFLICT (service_id, group_hash) DO NOTHING`, g.service, hash, g.incident); err != nil {
					return fmt.Errorf("hash alert group: %w", err)
				}
				if _, err := tx.ExecContext(ctx, `DELETE FROM alert_groups WHERE service_id = $1 AND group_hash = $2`,
					g.service, g.old); err != nil {
					return fmt.Errorf("hash alert group: %w", err)
				}
				done++
			}
			return nil
		})
		if err != nil {
			return done, err
		}
	}
}
