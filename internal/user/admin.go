package user

import (
	"context"
	"database/sql"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
)

// Create adds a user. It needs authz.UserAdmin (the command line's actor
// has it). A user with a privileged role must enrol a second factor at
// first sign-in.
func (s *Service) Create(ctx context.Context, nu NewUser) (User, error) {
	if _, err := authz.Check(ctx, authz.UserAdmin); err != nil {
		return User{}, err
	}
	if err := s.validateNewUser(&nu); err != nil {
		return User{}, err
	}
	phc, err := s.passwordHashFor(ctx, nu)
	if err != nil {
		return User{}, err
	}
	now := s.clock.Now()
	u := User{ID: newID(), Username: nu.Username, DisplayName: nu.DisplayName, Email: nu.Email, Role: nu.Role,
		CreatedAt: now, UpdatedAt: now}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if err := insertUser(ctx, tx, u, phc); err != nil {
			return err
		}
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "user.create", ObjectType: "user", ObjectID: u.ID, Change: u})
		return err
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// passwordHashFor hashes nu's password, or a forgotten random one for
// an account that signs in with single sign-on only.
func (s *Service) passwordHashFor(ctx context.Context, nu NewUser) (string, error) {
	if nu.SSOOnly {
		return s.unusablePassword(ctx)
	}
	return s.hashPassword(ctx, nu.Password)
}

// List returns every user by username. It needs authz.UserAdmin.
func (s *Service) List(ctx context.Context) ([]User, error) {
	if _, err := authz.Check(ctx, authz.UserAdmin); err != nil {
		return nil, err
	}
	return listUsers(ctx, s.db.R)
}

// Get returns the user whose id or username is ref. It needs
// authz.UserAdmin, except for a user reading their own account.
func (s *Service) Get(ctx context.Context, ref string) (User, error) {
	if err := adminOrSelf(ctx, ref); err != nil {
		return User{}, err
	}
	u, _, err := getUser(ctx, s.db.R, ref)
	return u, err
}

// SetRole changes a user's role. It needs authz.UserAdmin. It refuses to
// demote the last enabled admin. Moving a user without a second factor
// into a privileged role ends their sessions, so that their next sign-in
// enrols one (MFA for privileged roles).
func (s *Service) SetRole(ctx context.Context, ref string, role authz.Role) (User, error) {
	if err := checkRole(role); err != nil {
		return User{}, err
	}
	return s.adminChange(ctx, ref, setRole(ctx, role))
}

// setRole is SetRole's change of one user.
func setRole(ctx context.Context, role authz.Role) func(tx *sql.Tx, u *User) (string, any, string, error) {
	return func(tx *sql.Tx, u *User) (string, any, string, error) {
		if u.Role == role {
			return "", nil, "", nil
		}
		if u.Role == authz.RoleAdmin && !u.Disabled {
			if err := requireOtherAdmin(ctx, tx, u); err != nil {
				return "", nil, "", err
			}
		}
		change := map[string]authz.Role{"from": u.Role, "to": role}
		u.Role = role
		endReason := ""
		if authz.PrivilegedRole(role) && !u.MFAEnabled {
			endReason = EndRevoked
		}
		return "user.role_changed", change, endReason, nil
	}
}

// RoleChanges are role changes made in one transaction (ChangeRoles):
// an identity provider's group write lands whole or not at all.
type RoleChanges struct {
	s   *Service
	ctx context.Context
	tx  *sql.Tx
	now time.Time
}

// ChangeRoles runs fn's role changes in one transaction, each audited as
// SetRole's: if fn or any change fails, none is kept. It needs
// authz.UserAdmin.
func (s *Service) ChangeRoles(ctx context.Context, fn func(*RoleChanges) error) error {
	if _, err := authz.Check(ctx, authz.UserAdmin); err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		return fn(&RoleChanges{s: s, ctx: ctx, tx: tx, now: s.clock.Now()})
	})
}

// Set gives the user whose id or username is ref the role, as SetRole.
func (c *RoleChanges) Set(ref string, role authz.Role) (User, error) {
	if err := checkRole(role); err != nil {
		return User{}, err
	}
	return c.s.adminChangeTx(c.ctx, c.tx, c.now, ref, setRole(c.ctx, role))
}

// Holding lists the users who hold role now, within the transaction.
func (c *RoleChanges) Holding(role authz.Role) ([]User, error) {
	all, err := listUsers(c.ctx, c.tx)
	if err != nil {
		return nil, err
	}
	var out []User
	for _, u := range all {
		if u.Role == role {
			out = append(out, u)
		}
	}
	return out, nil
}

// Get reads the user whose id or username is ref, within the transaction.
func (c *RoleChanges) Get(ref string) (User, error) {
	u, _, err := getUser(c.ctx, c.tx, ref)
	return u, err
}

// Disable stops a user from signing in and ends their sessions and
// revokes their API tokens in the same transaction. It needs
// authz.UserAdmin and refuses to disable the last enabled admin.
func (s *Service) Disable(ctx context.Context, ref string) (User, error) {
	return s.adminChange(ctx, ref, func(tx *sql.Tx, u *User) (string, any, string, error) {
		if u.Disabled {
			return "", nil, "", nil
		}
		if u.Role == authz.RoleAdmin {
			if err := requireOtherAdmin(ctx, tx, u); err != nil {
				return "", nil, "", err
			}
		}
		u.Disabled = true
		return "user.disabled", map[string]bool{"disabled": true}, EndDisabled, nil
	})
}

// Enable lets a disabled user sign in again. It needs authz.UserAdmin.
func (s *Service) Enable(ctx context.Context, ref string) (User, error) {
	return s.adminChange(ctx, ref, func(_ *sql.Tx, u *User) (string, any, string, error) {
		if !u.Disabled {
			return "", nil, "", nil
		}
		u.Disabled = false
		return "user.enabled", map[string]bool{"disabled": false}, "", nil
	})
}

// ResetMFA removes a user's TOTP secret, recovery codes and security keys
// and ends their sessions, for a user who lost their device. It needs
// authz.UserAdmin.
func (s *Service) ResetMFA(ctx context.Context, ref string) (User, error) {
	return s.adminChange(ctx, ref, func(tx *sql.Tx, u *User) (string, any, string, error) {
		removed, err := deleteMFA(ctx, tx, u.ID)
		if err != nil || !removed {
			return "", nil, "", err
		}
		u.MFAEnabled = false
		return "user.mfa_reset", map[string]bool{"mfa_enabled": false}, EndMFAReset, nil
	})
}

// requireOtherAdmin returns Conflict unless an enabled admin other than u
// exists, so that the web UI keeps someone who can manage users.
func requireOtherAdmin(ctx context.Context, tx *sql.Tx, u *User) error {
	n, err := otherActiveAdmins(ctx, tx, u.ID)
	if err != nil {
		return err
	}
	if n == 0 {
		return apperr.New(apperr.Conflict, "%s is the last enabled admin: make another user admin first", u.Username)
	}
	return nil
}

// adminChange loads the user ref names inside a transaction and applies
// fn, which returns the audit action ("" when nothing changes), the change
// to record, and the reason to end the user's sessions with ("" keeps them).
func (s *Service) adminChange(ctx context.Context, ref string,
	fn func(tx *sql.Tx, u *User) (action string, change any, endReason string, err error)) (User, error) {
	if _, err := authz.Check(ctx, authz.UserAdmin); err != nil {
		return User{}, err
	}
	now := s.clock.Now()
	var u User
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		u, err = s.adminChangeTx(ctx, tx, now, ref, fn)
		return err
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// adminChangeTx is adminChange within tx.
func (s *Service) adminChangeTx(ctx context.Context, tx *sql.Tx, now time.Time, ref string,
	fn func(tx *sql.Tx, u *User) (action string, change any, endReason string, err error)) (User, error) {
	u, _, err := getUser(ctx, tx, ref)
	if err != nil {
		return User{}, err
	}
	action, change, endReason, err := fn(tx, &u)
	if err != nil || action == "" {
		return u, err
	}
	u.UpdatedAt = now
	if err := updateUser(ctx, tx, u); err != nil {
		return User{}, err
	}
	if _, err := audit.Append(ctx, tx, now, audit.Event{Action: action, ObjectType: "user", ObjectID: u.ID, Change: change}); err != nil {
		return User{}, err
	}
	if endReason == "" {
		return u, nil
	}
	ended, err := endUserSessions(ctx, tx, u.ID, "", endReason, now, s.idleCutoff(now))
	if err != nil {
		return User{}, err
	}
	if err := auditEnded(ctx, tx, now, ended); err != nil {
		return User{}, err
	}
	if endReason != EndDisabled {
		return u, nil
	}
	return u, revokeTokensTx(ctx, tx, u.ID, now)
}

// RevokeSession ends a session by its public id. It needs authz.UserAdmin.
// Revoking a session that has already ended does nothing.
func (s *Service) RevokeSession(ctx context.Context, sessionID string) error {
	if _, err := authz.Check(ctx, authz.UserAdmin); err != nil {
		return err
	}
	now := s.clock.Now()
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		e, ok, err := endSessionBy(ctx, tx, "id", sessionID, EndRevoked, now)
		if err != nil {
			return err
		}
		if !ok {
			exists, err := sessionExists(ctx, tx, sessionID)
			if err != nil || exists {
				return err
			}
			return apperr.New(apperr.NotFound, "no session %q", sessionID)
		}
		return auditEnded(ctx, tx, now, []endedSession{e})
	})
}

// Sessions returns a user's active sessions, newest first. It needs
// authz.UserAdmin, except for a user listing their own.
func (s *Service) Sessions(ctx context.Context, userRef string) ([]Session, error) {
	if err := adminOrSelf(ctx, userRef); err != nil {
		return nil, err
	}
	u, _, err := getUser(ctx, s.db.R, userRef)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	return listSessions(ctx, s.db.R, u.ID, now, s.idleCutoff(now))
}

// revokeTokensTx revokes the user's API tokens, one token.revoke entry each.
func revokeTokensTx(ctx context.Context, tx *sql.Tx, userID string, now time.Time) error {
	ids, err := revokeUserTokens(ctx, tx, userID, now)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "token.revoke", ObjectType: "api_token", ObjectID: id,
			Change: map[string]string{"reason": EndDisabled, "user_id": userID}}); err != nil {
			return err
		}
	}
	return nil
}
