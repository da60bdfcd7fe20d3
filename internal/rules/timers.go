package rules

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
)

// FormatAfter writes a timed rule's delay as the API takes it: "4h",
// "1h30m", "45m".
func FormatAfter(d time.Duration) string {
	s := strings.TrimSuffix(d.String(), "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ParseAfter reads a timed rule's delay: a Go duration such as "4h",
// "90m" or "1h30m"; empty is none.
func ParseAfter(s string) (time.Duration, error) {
	if s == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, apperr.Field("after", "%q is not a delay such as 4h, 90m or 1h30m", s)
	}
	return d, nil
}

// timerBatch caps the incidents one run of RunTimers checks for one rule.
const timerBatch = 200

// dueQueries find, for a timed rule, the incidents not closed whose From
// time is at or before $1 and on which rule $2 has not acted.
var dueQueries = map[string]string{
	FromDetected: `SELECT i.id FROM incidents i WHERE i.status <> 'closed' AND i.detected_at <= $1
		AND NOT EXISTS (SELECT 1 FROM rule_firings f WHERE f.rule_id = $2 AND f.incident_id = i.id) ORDER BY i.detected_at, i.id`,
	FromCreated: `SELECT i.id FROM incidents i WHERE i.status <> 'closed' AND i.created_at <= $1
		AND NOT EXISTS (SELECT 1 FROM rule_firings f WHERE f.rule_id = $2 AND f.incident_id = i.id) ORDER BY i.created_at, i.id`,
	FromAcknowledged: `SELECT i.id FROM incidents i JOIN pages p ON p.incident_id = i.id WHERE i.status <> 'closed'
		AND p.first_acknowledged_at <= $1
		AND NOT EXISTS (SELECT 1 FROM rule_firings f WHERE f.rule_id = $2 AND f.incident_id = i.id) ORDER BY p.first_acknowledged_at, i.id`,
}

// RunTimers checks every enabled timed rule against the incidents, not
// closed, whose time to be checked has come (After since their From time)
// and on which the rule has not acted, and acts on each that matches,
// once: rule_firings records it in the transaction that acts, so a rule
// acts on an incident at most once, across restarts and nodes. An
// incident that does not match is checked again on later runs until it
// matches or is closed. A run checks at most timerBatch incidents a rule,
// starting past those the last run checked and found not matching, and
// from the oldest again once it reaches the end: so incidents that never
// match cannot keep the rule from the others. It runs as a jobs task (one
// node at a time).
func (e *Engine) RunTimers(ctx context.Context) error {
	rs, err := e.rules(ctx, e.db.R, true, true)
	if err != nil {
		return err
	}
	ctx = authz.WithActor(ctx, authz.System)
	for _, r := range rs {
		if r.After <= 0 {
			continue
		}
		q, ok := dueQueries[r.From]
		if !ok {
			continue
		}
		c, err := e.program(r)
		if err != nil {
			e.log.WarnContext(ctx, "rule_invalid", "rule_id", r.ID, "error", err)
			continue
		}
		e.mu.Lock()
		from := e.timerFrom[r.ID]
		e.mu.Unlock()
		rows, err := e.db.R.QueryContext(ctx, q+` LIMIT `+strconv.Itoa(timerBatch)+` OFFSET `+strconv.Itoa(from),
			e.clock.Now().Add(-r.After), r.ID)
		ids, err := db.Collect(rows, err, "read incidents due for a timed rule", func(r *sql.Rows) (string, error) {
			var id string
			return id, r.Scan(&id)
		})
		if err != nil {
			return err
		}
		acted := 0
		for _, id := range ids {
			var did bool
			if err := e.db.Write(ctx, func(tx *sql.Tx) (err error) { did, err = e.timerTx(ctx, tx, r, c, id); return err }); err != nil {
				return fmt.Errorf("rule %s: %w", r.Name, err)
			}
			if did {
				acted++
			}
		}
		// Those it acted on leave the list; the others stay, and the next
		// run starts past them, or from the oldest once the list ended.
		next := from + len(ids) - acted
		if len(ids) < timerBatch {
			next = 0
		}
		e.mu.Lock()
		if e.timerFrom == nil {
			e.timerFrom = map[string]int{}
		}
		e.timerFrom[r.ID] = next
		e.mu.Unlock()
	}
	return nil
}

// timerTx checks timed rule r against incident id and acts if it matches
// and has not acted on it yet; acted says whether it did.
func (e *Engine) timerTx(ctx context.Context, tx *sql.Tx, r Rule, c compiled, id string) (acted bool, err error) {
	inc, err := e.incidents.GetTx(ctx, tx, id)
	if err != nil {
		return false, err
	}
	if inc.Status == incident.Closed {
		return false, nil
	}
	subj, err := subject(ctx, e.db.In(tx), inc)
	if err != nil {
		return false, err
	}
	ok, err := eval(ctx, c.prg, subj)
	if err != nil {
		e.log.WarnContext(ctx, "rule_failed", "rule_id", r.ID, "incident_id", id, "error", err)
		return false, nil
	}
	if !ok {
		return false, nil
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO rule_firings (rule_id, incident_id, fired_at) VALUES ($1, $2, $3)
		ON CONFLICT (rule_id, incident_id) DO NOTHING`, r.ID, id, e.clock.Now())
	if err != nil {
		return false, fmt.Errorf("record rule firing: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return false, nil
	}
	return true, e.act(ctx, tx, r, id)
}
