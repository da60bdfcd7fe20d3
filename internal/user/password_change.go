package user

import (
	"context"
	"database/sql"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
)

func errCurrentPassword() error {
	return apperr.Field("current_password", "is not correct (after repeated failures the account is locked for a while)")
}

// ChangePassword sets the signed-in user's password to next after checking
// current, and ends the user's other sessions: all of them, unless the
// context names this one (WithSession). next must meet the password rules
// (field "password"); a wrong current password is an Invalid error on the
// field "current_password" and counts toward the account's lockout.
func (s *Service) ChangePassword(ctx context.Context, current, next string) error {
	a, err := self(ctx)
	if err != nil {
		return err
	}
	u, phc, err := getUser(ctx, s.db.R, a.ID)
	if err != nil {
		return err
	}
	if err := s.checkPassword(next, u.Username); err != nil {
		return err
	}
	fail := failure{username: u.Username, userID: u.ID, action: "user.password_change_failed", countAccount: true}
	locked, err := accountLocked(ctx, s.db.R, u.Username, s.clock.Now())
	if err != nil {
		return err
	}
	if locked {
		fail.reason, fail.countAccount = reasonLocked, false
		return s.reject(ctx, fail, errCurrentPassword())
	}
	ok, _, err := s.verifyPassword(ctx, current, phc)
	if err != nil {
		return err
	}
	if !ok {
		fail.reason = reasonWrongPassword
		return s.reject(ctx, fail, errCurrentPassword())
	}
	newPHC, err := s.hashPassword(ctx, next)
	if err != nil {
		return err
	}
	keep := ""
	if cur, ok := SessionFrom(ctx); ok && cur.UserID == u.ID {
		keep = cur.ID
	}
	now := s.clock.Now()
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		changed, err := setPasswordHash(ctx, tx, u.ID, phc, newPHC, now)
		if err != nil {
			return err
		}
		if !changed {
			return apperr.New(apperr.Conflict, "the password was changed at the same time: sign in again")
		}
		if err := clearAccount(ctx, tx, u.Username); err != nil {
			return err
		}
		ended, err := endUserSessions(ctx, tx, u.ID, keep, EndPasswordChanged, now, s.idleCutoff(now))
		if err != nil {
			return err
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "user.password_changed", ObjectType: "user", ObjectID: u.ID,
			Change: map[string]int{"sessions_ended": len(ended)}}); err != nil {
			return err
		}
		return auditEnded(ctx, tx, now, ended)
	})
}
