package breach

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
)

// StateTable is a version of the State breach-notification table: the one
// Ward ships (ID empty), or one an administrator saved. Each row carries
// its citation, the date it is effective from and whether counsel is to
// confirm it (docs/BREACH_RULES.md).
type StateTable struct {
	ID        string
	Table     rules.StateTable
	Reason    string
	CreatedBy string
	CreatedAt time.Time
}

// maxStateReason caps the reason given for a new version.
const maxStateReason = 2000

// stateTable returns the State table in use: the latest saved, or the
// shipped one.
func (s *Service) stateTable(ctx context.Context, q db.Querier) (StateTable, error) {
	var t StateTable
	var body string
	err := q.QueryRowContext(ctx, `SELECT id, body, reason, created_by, created_at FROM breach_state_tables
		ORDER BY created_at DESC, id DESC LIMIT 1`).Scan(&t.ID, &body, &t.Reason, &t.CreatedBy, &t.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return StateTable{Table: s.rules.States}, nil
	}
	if err != nil {
		return StateTable{}, fmt.Errorf("read the State table: %w", err)
	}
	t.CreatedAt = t.CreatedAt.UTC()
	if err := json.Unmarshal([]byte(body), &t.Table); err != nil {
		return StateTable{}, fmt.Errorf("the State table %s: %w", t.ID, err)
	}
	t.Table = t.Table.Upgrade(s.rules.States)
	return t, nil
}

// ruleSets are the rule sets obligations are computed with now: the
// shipped federal and FTC rules and the State table in use.
func (s *Service) ruleSets(ctx context.Context, q db.Querier) (rules.RuleSets, error) {
	t, err := s.stateTable(ctx, q)
	if err != nil {
		return rules.RuleSets{}, err
	}
	rs := s.rules
	rs.States = t.Table
	return rs, nil
}

// StateTable returns the State table in use.
func (s *Service) StateTable(ctx context.Context) (StateTable, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return StateTable{}, err
	}
	return s.stateTable(ctx, s.db.R)
}

// StateTables lists the saved versions of the State table, newest first;
// the shipped table is not among them.
func (s *Service) StateTables(ctx context.Context) ([]StateTable, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, body, reason, created_by, created_at FROM breach_state_tables
		ORDER BY created_at DESC, id DESC`)
	return db.Collect(rows, err, "list State tables", func(r *sql.Rows) (StateTable, error) {
		var t StateTable
		var body string
		if err := r.Scan(&t.ID, &body, &t.Reason, &t.CreatedBy, &t.CreatedAt); err != nil {
			return t, err
		}
		t.CreatedAt = t.CreatedAt.UTC()
		if err := json.Unmarshal([]byte(body), &t.Table); err != nil {
			return t, err
		}
		t.Table = t.Table.Upgrade(s.rules.States)
		return t, nil
	})
}

// SetStateTable saves t as the State table in use, for reason, and
// recomputes the obligations of every case with it, saying so on each
// incident's timeline; obligations already met stay as they are. Only an
// administrator (org:write) may: the table is the organisation's reading
// of the States' laws, typically as counsel confirmed it. It returns the
// version saved and how many cases were recomputed.
func (s *Service) SetStateTable(ctx context.Context, t rules.StateTable, reason string) (StateTable, int, error) {
	actor, err := authz.Check(ctx, authz.OrgWrite)
	if err != nil {
		return StateTable{}, 0, err
	}
	reason = strings.TrimSpace(reason)
	switch {
	case reason == "":
		return StateTable{}, 0, apperr.Field("reason", "is required: say what changed and on whose advice")
	case len(reason) > maxStateReason:
		return StateTable{}, 0, apperr.Field("reason", "must be at most %d bytes", maxStateReason)
	}
	if err := t.Validate(); err != nil {
		return StateTable{}, 0, err
	}
	body, err := json.Marshal(t)
	if err != nil {
		return StateTable{}, 0, err
	}
	now := s.clock.Now()
	out := StateTable{ID: newID(), Table: t, Reason: reason, CreatedBy: actor.String(), CreatedAt: now}
	var n int
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO breach_state_tables (id, body, reason, created_by, created_at)
			VALUES ($1, $2, $3, $4, $5)`, out.ID, string(body), reason, out.CreatedBy, now); err != nil {
			return fmt.Errorf("save the State table: %w", err)
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "breach.state_table", ObjectType: "breach_state_table",
			ObjectID: out.ID, Change: map[string]any{"version": t.Version, "rules": len(t.Rules), "reason": reason}}); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT `+caseColumns+` FROM breach_cases c JOIN incidents i ON i.id = c.incident_id
			ORDER BY c.created_at`)
		cases, err := db.Collect(rows, err, "list breach cases", func(r *sql.Rows) (Case, error) { return s.scanCase(r) })
		if err != nil {
			return err
		}
		for _, c := range cases {
			obs, err := s.recompute(ctx, tx, c, now)
			if err != nil {
				return fmt.Errorf("case of %s: %w", c.IncidentNumber, err)
			}
			if err := s.incidents.RecordTx(ctx, tx, c.IncidentID, incident.EventBreach, fmt.Sprintf(
				"The State breach-notification table changed (version %s, by %s): %d notice obligations now.",
				t.Version, actor.Name, obs)); err != nil {
				return err
			}
		}
		n = len(cases)
		return nil
	})
	if err != nil {
		return StateTable{}, 0, err
	}
	return out, n, nil
}
