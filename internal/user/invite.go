package user

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
	"github.com/wardhq/ward/internal/db"
)

// Invitation lifetimes: a sign-up link lasts DefaultInviteTTL unless the
// administrator asks for another, never more than MaxInviteTTL.
const (
	DefaultInviteTTL = 72 * time.Hour
	MaxInviteTTL     = 30 * 24 * time.Hour
)

// Invite is a one-time sign-up link into a role (never its token).
type Invite struct {
	ID        string     `json:"id"`
	Role      authz.Role `json:"role"`
	Email     string     `json:"email,omitempty"`
	CreatedBy string     `json:"created_by"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt time.Time  `json:"expires_at"`
	UsedAt    *time.Time `json:"used_at,omitempty"`
	UserID    string     `json:"user_id,omitempty"`
}

var errInvite = apperr.New(apperr.Unauthorized, "this sign-up link is not valid: it was used or has expired; ask an administrator for a new one")

// CreateInvite makes a single-use sign-up link into role, valid for ttl
// (0: DefaultInviteTTL; at most MaxInviteTTL), and returns its token,
// which is shown only now: only its SHA-256 is stored. email, optional,
// is offered to the person who signs up. It needs authz.UserAdmin.
func (s *Service) CreateInvite(ctx context.Context, role authz.Role, email string, ttl time.Duration) (Invite, string, error) {
	a, err := authz.Check(ctx, authz.UserAdmin)
	if err != nil {
		return Invite{}, "", err
	}
	email = strings.TrimSpace(email)
	if err := checkRole(role); err != nil {
		return Invite{}, "", err
	}
	if err := checkEmail(email); err != nil {
		return Invite{}, "", err
	}
	if ttl == 0 {
		ttl = DefaultInviteTTL
	}
	if ttl < time.Minute || ttl > MaxInviteTTL {
		return Invite{}, "", apperr.Field("expires_in_hours", "must be from 1 to %d hours", int(MaxInviteTTL/time.Hour))
	}
	token, hash, err := newToken()
	if err != nil {
		return Invite{}, "", err
	}
	now := s.clock.Now()
	inv := Invite{ID: newID(), Role: role, Email: email, CreatedBy: a.String(), CreatedAt: now, ExpiresAt: now.Add(ttl)}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO user_invites (id, hash, role, email, created_by, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`, inv.ID, hash, inv.Role, inv.Email, inv.CreatedBy, inv.CreatedAt, inv.ExpiresAt); err != nil {
			return fmt.Errorf("invite: insert: %w", err)
		}
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "user.invite_created", ObjectType: "user_invite", ObjectID: inv.ID,
			Change: map[string]any{"role": inv.Role, "expires_at": inv.ExpiresAt}})
		return err
	})
	if err != nil {
		return Invite{}, "", err
	}
	return inv, token, nil
}

const inviteSelect = `SELECT id, role, email, created_by, created_at, expires_at, used_at, coalesce(user_id, '') FROM user_invites`

func scanInvite(sc interface{ Scan(...any) error }) (Invite, error) {
	var inv Invite
	var used sql.NullTime
	if err := sc.Scan(&inv.ID, &inv.Role, &inv.Email, &inv.CreatedBy, &inv.CreatedAt, &inv.ExpiresAt, &used, &inv.UserID); err != nil {
		return Invite{}, err
	}
	inv.CreatedAt, inv.ExpiresAt, inv.UsedAt = inv.CreatedAt.UTC(), inv.ExpiresAt.UTC(), timePtr(used)
	return inv, nil
}

// OpenInvite returns the unused, unexpired invitation token stands for,
// for the sign-up page; Unauthorized otherwise.
func (s *Service) OpenInvite(ctx context.Context, token string) (Invite, error) {
	return openInvite(ctx, s.db.R, token, s.clock.Now())
}

func openInvite(ctx context.Context, q db.Querier, token string, now time.Time) (Invite, error) {
	if token == "" || len(token) > maxToken {
		return Invite{}, errInvite
	}
	inv, err := scanInvite(q.QueryRowContext(ctx, inviteSelect+" WHERE hash = $1", hashToken(token)))
	if errors.Is(err, sql.ErrNoRows) {
		return Invite{}, errInvite
	}
	if err != nil {
		return Invite{}, fmt.Errorf("invite: look up: %w", err)
	}
	if inv.UsedAt != nil || !inv.ExpiresAt.After(now) {
		return Invite{}, errInvite
	}
	return inv, nil
}

// AcceptInvite creates the account an invitation offers, in its role, and
// uses the invitation up in the same transaction: a second use, or one
// after it expired, fails with Unauthorized and creates nothing. nu's
// role is ignored; an empty email takes the invitation's.
func (s *Service) AcceptInvite(ctx context.Context, token string, nu NewUser) (User, error) {
	inv, err := s.OpenInvite(ctx, token)
	if err != nil {
		return User{}, err
	}
	nu.Role, nu.SSOOnly = inv.Role, false
	if strings.TrimSpace(nu.Email) == "" {
		nu.Email = inv.Email
	}
	if err := s.validateNewUser(&nu); err != nil {
		return User{}, err
	}
	phc, err := s.hashPassword(ctx, nu.Password)
	if err != nil {
		return User{}, err
	}
	now := s.clock.Now()
	u := User{ID: newID(), Username: nu.Username, DisplayName: nu.DisplayName, Email: nu.Email, Role: nu.Role,
		CreatedAt: now, UpdatedAt: now}
	// The new person is the actor: nobody was signed in.
	actx := authz.WithActor(ctx, u.actor())
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if err := insertUser(ctx, tx, u, phc); err != nil {
			return err
		}
		var id string
		err := tx.QueryRowContext(ctx, `UPDATE user_invites SET used_at = $1, user_id = $2
			WHERE hash = $3 AND used_at IS NULL AND expires_at > $1 RETURNING id`, now, u.ID, hashToken(token)).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			return errInvite
		}
		if err != nil {
			return fmt.Errorf("invite: use: %w", err)
		}
		if _, err := audit.Append(actx, tx, now, audit.Event{Action: "user.invite_accepted", ObjectType: "user_invite", ObjectID: id,
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
