// Package retention keeps records as long as the law and the organisation
// require, and no longer: a retention policy per record type (never below
// the six years of 45 CFR 164.316(b)(2)(i)), legal holds on incidents and
// breach cases that stop anything of theirs being purged (a hold on one
// evidence item, kept by package evidence, keeps its incident too), and the purge
// itself, which removes only what is past retention and not held, records
// each removal in the audit trail and a tombstone, and never runs while
// the audit chain is broken. Audit entries are never purged: a purged
// record's entries stay, so the chain still verifies.
package retention

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
)

// Sealer seals and opens free text (package keys' Keyring).
type Sealer interface {
	Seal(plaintext []byte, table, column, rowID string) (string, error)
	Open(ciphertext string, table, column, rowID string) ([]byte, error)
}

// Service keeps the retention policy and legal holds and runs purges.
type Service struct {
	db        *db.DB
	clock     clock.Clock
	incidents *incident.Service
	keys      Sealer
	log       *slog.Logger
	// watched reports what this node's continuous verification of the
	// audit chain last found (audit.Watcher.Status); nil until WatchChain.
	watched func() (ok bool, reason string)
}

// WatchChain lets a dry run take the audit chain's state from the node's
// continuous verification (audit.Watcher.Status) when it finds the chain
// intact, instead of reading the whole trail at every look at the
// retention page; a purge always verifies the whole trail itself.
func (s *Service) WatchChain(status func() (ok bool, reason string)) { s.watched = status }

// New returns a Service.
func New(d *db.DB, c clock.Clock, incidents *incident.Service, keys Sealer, log *slog.Logger) *Service {
	return &Service{db: d, clock: c, incidents: incidents, keys: keys, log: log}
}

// Settings is the policy in force and who set it; UpdatedAt is nil while
// the shipped defaults apply.
type Settings struct {
	Policy    Policy
	UpdatedBy string
	UpdatedAt *time.Time
	Version   int64
}

// Settings returns the policy in force.
func (s *Service) Settings(ctx context.Context) (Settings, error) {
	if _, err := authz.Check(ctx, authz.RetentionRead); err != nil {
		return Settings{}, err
	}
	return readSettings(ctx, s.db.R)
}

func readSettings(ctx context.Context, q db.Querier) (Settings, error) {
	var body string
	var at time.Time
	out := Settings{Policy: Default()}
	err := q.QueryRowContext(ctx, `SELECT body, updated_by, updated_at, version FROM retention_policy WHERE id = 1`).
		Scan(&body, &out.UpdatedBy, &at, &out.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return out, nil
	}
	if err != nil {
		return Settings{}, fmt.Errorf("read retention policy: %w", err)
	}
	if err := json.Unmarshal([]byte(body), &out.Policy); err != nil {
		return Settings{}, fmt.Errorf("retention policy: %w", err)
	}
	at = at.UTC()
	out.UpdatedAt = &at
	return out, nil
}

// SetPolicy replaces the policy, refusing one below the legal minimum;
// audited as retention.policy_set.
func (s *Service) SetPolicy(ctx context.Context, p Policy) (Settings, error) {
	actor, err := authz.Check(ctx, authz.RetentionWrite)
	if err != nil {
		return Settings{}, err
	}
	if err := p.Validate(); err != nil {
		return Settings{}, err
	}
	body, err := json.Marshal(p)
	if err != nil {
		return Settings{}, fmt.Errorf("encode retention policy: %w", err)
	}
	now := s.clock.Now()
	var out Settings
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO retention_policy (id, body, updated_by, updated_at, version)
			VALUES (1, $1, $2, $3, 1)
			ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_by = excluded.updated_by,
				updated_at = excluded.updated_at, version = retention_policy.version + 1`,
			string(body), actor.String(), now); err != nil {
			return fmt.Errorf("save retention policy: %w", err)
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "retention.policy_set", ObjectType: "retention_policy",
			ObjectID: "policy", Change: p}); err != nil {
			return err
		}
		out, err = readSettings(ctx, tx)
		return err
	})
	return out, err
}

// lockKey is the PostgreSQL advisory lock that serialises purges with
// placing holds, across nodes; SQLite has one writer already.
const lockKey = 0x7761726452544e // "wardRTN"

// lock takes lockKey for the rest of tx on PostgreSQL.
func (s *Service) lock(ctx context.Context, tx *sql.Tx) error {
	if s.db.Dialect != db.Postgres {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(`+db.LockKey+`)`, int64(lockKey)); err != nil {
		return fmt.Errorf("retention lock: %w", err)
	}
	return nil
}

// errNotFound is the answer for an incident or case the caller cannot see.
func caseNotFound(number string) error {
	return apperr.New(apperr.NotFound, "incident %s has no breach case", number)
}
