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

// Token describes a stored token (never the secret). UserID names the
// person it belongs to, if any: disabling them revokes it.
type Token struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      authz.Role `json:"role"`
	UserID    string     `json:"user_id,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// NewToken is a token to issue. ExpiresAt nil never expires; User (an id
// or username, optional) is the person the token belongs to.
type NewToken struct {
	Name      string
	Role      authz.Role
	ExpiresAt *time.Time
	User      string
}

func hash(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// Create makes a token named name with role, appends the audit entry, and
// returns the secret, which is not stored and cannot be shown again.
func (s *Service) Create(ctx context.Context, name string, role authz.Role) (Token, string, error) {
	return s.issue(ctx, NewToken{Name: name, Role: role})
}

// Issue is Create for the API: it needs authz.UserAdmin and takes an
// expiry and the person the token belongs to.
func (s *Service) Issue(ctx context.Context, nt NewToken) (Token, string, error) {
	if _, err := authz.Check(ctx, authz.UserAdmin); err != nil {
		return Token{}, "", err
	}
	return s.issue(ctx, nt)
}

func (s *Service) issue(ctx context.Context, nt NewToken) (Token, string, error) {
	name, role := strings.TrimSpace(nt.Name), nt.Role
	if name == "" || len(name) > MaxName {
		return Token{}, "", apperr.Field("name", "must be 1 to %d characters", MaxName)
	}
	if !authz.ValidRole(role) {
		return Token{}, "", apperr.Field("role", "%q is not a role; the roles are: %s", role, authz.RoleNames())
	}
	now := s.clock.Now()
	if nt.ExpiresAt != nil && !nt.ExpiresAt.After(now) {
		return Token{}, "", apperr.Field("expires_at", "must be in the future")
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Token{}, "", fmt.Errorf("token: random: %w", err)
	}
	secret := Prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))
	t := Token{ID: uuid.Must(uuid.NewV7()).String(), Name: name, Role: role, CreatedAt: now}
	if nt.ExpiresAt != nil {
		e := nt.ExpiresAt.UTC()
		t.ExpiresAt = &e
	}
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		if ref := strings.TrimSpace(nt.User); ref != "" {
			err := tx.QueryRowContext(ctx, "SELECT id FROM users WHERE id = $1 OR username = $2", ref, strings.ToLower(ref)).Scan(&t.UserID)
			if errors.Is(err, sql.ErrNoRows) {
				return apperr.Field("user", "no user %q", ref)
			}
			if err != nil {
				return fmt.Errorf("token: owner: %w", err)
			}
		}
		var n int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM api_tokens WHERE name = $1", name).Scan(&n); err != nil {
			return fmt.Errorf("token: %w", err)
		}
		if n > 0 {
			return apperr.New(apperr.Conflict, "a token named %q exists", name)
		}
		if _, err := tx.ExecContext(ctx, "INSERT INTO api_tokens (id, name, role, hash, created_at, expires_at, user_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
			t.ID, t.Name, t.Role, hash(secret), t.CreatedAt, t.ExpiresAt, nullable(t.UserID)); err != nil {
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

func nullable(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

const tokenSelect = "SELECT id, name, role, coalesce(user_id, ''), created_at, expires_at, revoked_at FROM api_tokens"

func scanToken(sc interface{ Scan(...any) error }) (Token, error) {
	var t Token
	var expires, revoked sql.NullTime
	if err := sc.Scan(&t.ID, &t.Name, &t.Role, &t.UserID, &t.CreatedAt, &expires, &revoked); err != nil {
		return Token{}, err
	}
	t.CreatedAt = t.CreatedAt.UTC()
	t.ExpiresAt, t.RevokedAt = timePtr(expires), timePtr(revoked)
	return t, nil
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// List returns every token, revoked and expired ones included, oldest
// first; never a secret. It needs authz.UserAdmin.
func (s *Service) List(ctx context.Context) ([]Token, error) {
	if _, err := authz.Check(ctx, authz.UserAdmin); err != nil {
		return nil, err
	}
	rows, err := s.db.R.QueryContext(ctx, tokenSelect+" ORDER BY created_at, id")
	return db.Collect(rows, err, "list tokens", func(r *sql.Rows) (Token, error) { return scanToken(r) })
}

// Revoke ends the token with this id at once. It needs authz.UserAdmin;
// revoking a revoked token changes nothing.
func (s *Service) Revoke(ctx context.Context, id string) (Token, error) {
	if _, err := authz.Check(ctx, authz.UserAdmin); err != nil {
		return Token{}, err
	}
	now := s.clock.Now()
	var t Token
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		t, err = scanToken(tx.QueryRowContext(ctx, tokenSelect+" WHERE id = $1", id))
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.NotFound, "no API token %q", id)
		}
		if err != nil || t.RevokedAt != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2", now, id); err != nil {
			return fmt.Errorf("token: revoke: %w", err)
		}
		t.RevokedAt = &now
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "token.revoke", ObjectType: "api_token", ObjectID: id,
			Change: map[string]time.Time{"revoked_at": now}})
		return err
	})
	return t, err
}

// ErrInvalid means the presented token is unknown, malformed, revoked,
// expired, or belongs to a disabled person.
var ErrInvalid = apperr.New(apperr.Unauthorized, "invalid or missing API token")

// Authenticate returns the actor a presented token stands for.
func (s *Service) Authenticate(ctx context.Context, secret string) (authz.Actor, error) {
	if !strings.HasPrefix(secret, Prefix) || len(secret) > 128 {
		return authz.Actor{}, ErrInvalid
	}
	var a authz.Actor
	var revoked, expires sql.NullTime
	var ownerDisabled sql.NullBool
	err := s.db.R.QueryRowContext(ctx, `SELECT t.id, t.name, t.role, t.revoked_at, t.expires_at, u.disabled
		FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id WHERE t.hash = $1`, hash(secret)).
		Scan(&a.ID, &a.Name, &a.Role, &revoked, &expires, &ownerDisabled)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && (revoked.Valid || expires.Valid && !expires.Time.After(s.clock.Now()) || ownerDisabled.Bool)) {
		return authz.Actor{}, ErrInvalid
	}
	if err != nil {
		return authz.Actor{}, fmt.Errorf("token: look up: %w", err)
	}
	a.Kind = authz.KindToken
	return a, nil
}
