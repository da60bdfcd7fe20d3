package user

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

var (
	errSetUp      = apperr.New(apperr.Conflict, "Ward is already set up: sign in, or ask an administrator for an account")
	errSetupToken = apperr.New(apperr.Unauthorized, "this setup link is not valid: it was used, replaced by a newer one, or has expired")
)

// SetupNeeded reports whether no user exists yet, so that the first
// administrator still has to be created with a setup link.
func (s *Service) SetupNeeded(ctx context.Context) (bool, error) {
	n, err := countUsers(ctx, s.db.R)
	return n == 0, err
}

// CreateSetupToken returns a new one-time setup link token, valid for
// Options.SetupLinkTTL. Only its hash is stored, and it replaces every
// earlier unused token. It fails with Conflict once a user exists.
func (s *Service) CreateSetupToken(ctx context.Context) (string, error) {
	token, hash, err := newToken()
	if err != nil {
		return "", err
	}
	now := s.clock.Now()
	id := newID()
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if err := requireNoUsers(ctx, tx); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, "DELETE FROM setup_tokens WHERE used_at IS NULL"); err != nil {
			return fmt.Errorf("setup token: replace: %w", err)
		}
		expires := now.Add(s.opts.SetupLinkTTL)
		if _, err := tx.ExecContext(ctx, "INSERT INTO setup_tokens (id, hash, created_at, expires_at) VALUES ($1, $2, $3, $4)",
			id, hash, now, expires); err != nil {
			return fmt.Errorf("setup token: insert: %w", err)
		}
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "setup.token_created", ObjectType: "setup_token", ObjectID: id,
			Change: map[string]time.Time{"expires_at": expires}})
		return err
	})
	if err != nil {
		return "", err
	}
	return token, nil
}

// requireNoUsers returns Conflict once a user exists.
func requireNoUsers(ctx context.Context, q db.Querier) error {
	n, err := countUsers(ctx, q)
	if err != nil {
		return err
	}
	if n > 0 {
		return errSetUp
	}
	return nil
}

// CompleteSetup creates the first user, always with role admin, from a
// setup token, and uses the token up. It fails with Conflict if any user
// exists and Unauthorized if the token is unknown, used or expired.
func (s *Service) CompleteSetup(ctx context.Context, token string, nu NewUser) (User, error) {
	if err := requireNoUsers(ctx, s.db.R); err != nil {
		return User{}, err
	}
	now := s.clock.Now()
	hash := hashToken(token)
	valid, err := setupTokenValid(ctx, s.db.R, hash, now)
	if err != nil {
		return User{}, err
	}
	if !valid {
		return User{}, errSetupToken
	}
	nu.Role = authz.RoleAdmin
	if err := s.validateNewUser(&nu); err != nil {
		return User{}, err
	}
	phc, err := s.hashPassword(ctx, nu.Password)
	if err != nil {
		return User{}, err
	}
	now = s.clock.Now()
	u := User{ID: newID(), Username: nu.Username, DisplayName: nu.DisplayName, Email: nu.Email, Role: nu.Role,
		CreatedAt: now, UpdatedAt: now}
	// The new administrator is the actor: nobody was signed in.
	actx := authz.WithActor(ctx, u.actor())
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if err := requireNoUsers(ctx, tx); err != nil {
			return err
		}
		var id string
		err := tx.QueryRowContext(ctx, `UPDATE setup_tokens SET used_at = $1
			WHERE hash = $2 AND used_at IS NULL AND expires_at > $1 RETURNING id`, now, hash).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return errSetupToken
		}
		if err != nil {
			return fmt.Errorf("setup token: use: %w", err)
		}
		if err := insertUser(ctx, tx, u, phc); err != nil {
			return err
		}
		if _, err := audit.Append(actx, tx, now, audit.Event{Action: "setup.completed", ObjectType: "setup_token", ObjectID: id,
			Change: map[string]string{"user_id": u.ID}}); err != nil {
			return err
		}
		_, err = audit.Append(actx, tx, now, audit.Event{Action: "user.create", ObjectType: "user", ObjectID: u.ID, Change: u})
		return err
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// setupTokenValid reports whether an unused, unexpired token has this hash.
func setupTokenValid(ctx context.Context, q db.Querier, hash string, now time.Time) (bool, error) {
	var n int
	err := q.QueryRowContext(ctx, "SELECT count(*) FROM setup_tokens WHERE hash = $1 AND used_at IS NULL AND expires_at > $2",
		hash, now).Scan(&n)
	if err != nil {
		return false, fmt.Errorf("setup token: look up: %w", err)
	}
	return n > 0, nil
}
