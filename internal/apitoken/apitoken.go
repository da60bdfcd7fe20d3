// Package apitoken issues and checks API tokens. A token is shown once,
// when created; only its SHA-256 hash is stored (a token has 256 random
// bits, so a fast hash is enough to make a stolen table useless).
package apitoken

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
)

// Prefix starts every token, so that secret scanners can recognise one.
const Prefix = "ward_"

// MaxName is the longest token name.
const MaxName = 100

// Service creates and checks tokens.
type Service struct {
	db    *db.DB
	clock clock.Clock
}

// NewService returns a Service.
func NewService(d *db.DB, c clock.Clock) *Service { return &Service{db: d, clock: c} }

// Token describes a stored token (never the secret).
type Token struct {
	ID        string
	Name      string
	Role      authz.Role
	CreatedAt time.Time
	RevokedAt *time.Time
}

func hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Create makes a token named name with role, appends the audit entry, and
// returns the secret, which is not stored and cannot be shown again.
func (s *Service) Create(ctx context.Context, name string, role authz.Role) (Token, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > MaxName {
		return Token{}, "", apperr.Field("name", "must be 1 to %d characters", MaxName)
	}
	if !authz.ValidRole(role) {
		return Token{}, "", apperr.Field("role", "%q is not a role; the roles are: %s", role, authz.RoleNames())
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Token{}, "", fmt.Errorf("token: random: %w", err)
	}
	secret := Prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))
	t := Token{ID: uuid.Must(uuid.NewV7()).String(), Name: name, Role: role, CreatedAt: s.clock.Now()}
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM api_tokens WHERE name = $1", name).Scan(&n); err != nil {
			return fmt.Errorf("token: %w", err)
		}
		if n > 0 {
			return apperr.New(apperr.Conflict, "a token named %q exists", name)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO api_tokens (id, name, role, hash, created_at) VALUES ($1, $2, $3, $4, $5)",
			t.ID, t.Name, t.Role, hash(secret), t.CreatedAt); err != nil {
			return fmt.Errorf("token: insert: %w", err)
		}
		_, err := audit.Append(ctx, tx, t.CreatedAt, audit.Event{Action: "token.create", ObjectType: "api_token", ObjectID: t.ID, Change: t})
		return err
	})
	if err != nil {
		return Token{}, "", err
	}
	return t, secret, nil
}

// ErrInvalid means the presented token is unknown, malformed or revoked.
var ErrInvalid = apperr.New(apperr.Unauthorized, "invalid or missing API token")

// Authenticate returns the actor a presented token stands for.
func (s *Service) Authenticate(ctx context.Context, secret string) (authz.Actor, error) {
	if !strings.HasPrefix(secret, Prefix) || len(secret) > 128 {
		return authz.Actor{}, ErrInvalid
	}
	var a authz.Actor
	var revoked sql.NullTime
	err := s.db.R.QueryRowContext(ctx, "SELECT id, name, role, revoked_at FROM api_tokens WHERE hash = $1", hash(secret)).
		Scan(&a.ID, &a.Name, &a.Role, &revoked)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && revoked.Valid) {
		return authz.Actor{}, ErrInvalid
	}
	if err != nil {
		return authz.Actor{}, fmt.Errorf("token: look up: %w", err)
	}
	a.Kind = authz.KindToken
	return a, nil
}
