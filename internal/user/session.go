package user

import (
	"context"
	"database/sql"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
)

// Authenticate returns the actor and session that a session token stands
// for; every web request calls it. It answers ErrSession for an unknown or
// ended session, and ends (with the reason recorded) one whose user is
// disabled, that has been idle longer than IdleTimeout (45 CFR
// 164.312(a)(2)(iii), automatic logoff) or that is past its ExpiresAt. It
// then refreshes LastSeenAt, at most once per 30 seconds to spare the
// database, so idle logoff may come up to that much early, never late.
//
// A session in a limited stage is returned too: the caller allows it only
// what its stage allows.
func (s *Service) Authenticate(ctx context.Context, token string) (authz.Actor, Session, error) {
	row, err := s.openSession(ctx, token)
	if err != nil {
		return authz.Actor{}, Session{}, err
	}
	now := s.clock.Now()
	if now.Sub(row.LastSeenAt) >= touchEvery {
		if err := s.db.Write(ctx, func(tx *sql.Tx) error { return touchSession(ctx, tx, row.ID, now) }); err != nil {
			return authz.Actor{}, Session{}, err
		}
		row.LastSeenAt = now
	}
	return row.user.actor(), row.Session, nil
}

// openSession returns the open session that token stands for, after
// ending it if it has lapsed; ErrSession when there is none.
func (s *Service) openSession(ctx context.Context, token string) (sessionRow, error) {
	if token == "" || len(token) > maxToken {
		return sessionRow{}, ErrSession
	}
	row, ok, err := sessionByToken(ctx, s.db.R, hashToken(token))
	if err != nil {
		return sessionRow{}, err
	}
	if !ok || row.ended {
		return sessionRow{}, ErrSession
	}
	now := s.clock.Now()
	if reason := s.lapsed(row, now); reason != "" {
		if err := s.endSession(ctx, "id", row.ID, reason, now); err != nil {
			return sessionRow{}, err
		}
		return sessionRow{}, ErrSession
	}
	return row, nil
}

// lapsed returns why an open session can no longer be used at now, or "".
func (s *Service) lapsed(r sessionRow, now time.Time) string {
	switch {
	case r.user.Disabled:
		return EndDisabled
	case !now.Before(r.ExpiresAt):
		return EndExpired
	case r.LastSeenAt.Add(s.opts.IdleTimeout).Before(now):
		return EndIdle
	}
	return ""
}

// endSession ends the open session whose column equals value and records
// why; a session already ended is left alone.
func (s *Service) endSession(ctx context.Context, column, value, reason string, now time.Time) error {
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		e, ok, err := endSessionBy(ctx, tx, column, value, reason, now)
		if err != nil || !ok {
			return err
		}
		return auditEnded(ctx, tx, now, []endedSession{e})
	})
}

// Logout ends the session that token stands for. An unknown or already
// ended session is not an error: the caller is signed out either way.
func (s *Service) Logout(ctx context.Context, token string) error {
	if token == "" || len(token) > maxToken {
		return nil
	}
	row, ok, err := sessionByToken(ctx, s.db.R, hashToken(token))
	if err != nil || !ok || row.ended {
		return err
	}
	if _, ok := authz.ActorFrom(ctx); !ok {
		ctx = authz.WithActor(ctx, row.user.actor())
	}
	return s.endSession(ctx, "id", row.ID, EndLogout, s.clock.Now())
}

// EndedReason tells why the session that token stands for ended (one of
// the End* reasons), so that the sign-in page can tell the user; "" while
// it is open. It returns NotFound for an unknown token.
func (s *Service) EndedReason(ctx context.Context, token string) (string, error) {
	if token == "" || len(token) > maxToken {
		return "", apperr.New(apperr.NotFound, "no such session")
	}
	row, ok, err := sessionByToken(ctx, s.db.R, hashToken(token))
	if err != nil {
		return "", err
	}
	if !ok {
		return "", apperr.New(apperr.NotFound, "no such session")
	}
	return row.endReason, nil
}

// LogoutEverywhere ends every session of the signed-in user, this one too.
func (s *Service) LogoutEverywhere(ctx context.Context) error {
	a, err := self(ctx)
	if err != nil {
		return err
	}
	now := s.clock.Now()
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		ended, err := endUserSessions(ctx, tx, a.ID, "", EndLogout, now, s.idleCutoff(now))
		if err != nil {
			return err
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "user.logout_everywhere", ObjectType: "user", ObjectID: a.ID,
			Change: map[string]int{"sessions": len(ended)}}); err != nil {
			return err
		}
		return auditEnded(ctx, tx, now, ended)
	})
}
