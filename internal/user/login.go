package user

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
)

// The reasons a sign-in attempt fails, as the audit trail records them.
const (
	reasonUnknownUser   = "unknown_user"
	reasonWrongPassword = "wrong_password"
	reasonDisabled      = "disabled"
	reasonLocked        = "locked"
	reasonIPLimited     = "ip_limited"
	reasonWrongCode     = "wrong_code"
	reasonReplayedCode  = "replayed_code"
)

// failure is one failed attempt to record.
type failure struct {
	username     string // normalised, as tried
	userID       string // "" when no such user
	ip           string
	action       string // user.login_failed, user.mfa_failed, user.password_change_failed
	reason       string
	countAccount bool // counts toward the account's lockout
	countIP      bool // counts toward the address's limit
}

// failActor is who the trail names for a failed attempt: the username
// tried, or a placeholder when it is not a possible username (people type
// passwords into the username field, and the trail must not keep them).
func failActor(username, userID string) authz.Actor {
	if !validUsername(username) {
		username = "(invalid username)"
	}
	return authz.Actor{Kind: authz.KindUser, ID: userID, Name: username}
}

// reject records f (counters, audit entries, lockout) in one transaction
// and then returns answer, or the error that kept f from being recorded.
func (s *Service) reject(ctx context.Context, f failure, answer error) error {
	now := s.clock.Now()
	actor := failActor(f.username, f.userID)
	actx := authz.WithActor(ctx, actor)
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var lockedUntil time.Time
		if f.countAccount {
			var err error
			if lockedUntil, err = countAccountFailure(ctx, tx, f.username, now); err != nil {
				return err
			}
		}
		if f.countIP {
			if err := countIPFailure(ctx, tx, f.ip, now); err != nil {
				return err
			}
		}
		if _, err := audit.Append(actx, tx, now, audit.Event{Action: f.action, ObjectType: "user", ObjectID: f.userID,
			Change: map[string]string{"username": actor.Name, "reason": f.reason}}); err != nil {
			return err
		}
		if lockedUntil.IsZero() {
			return nil
		}
		_, err := audit.Append(actx, tx, now, audit.Event{Action: "user.locked", ObjectType: "user", ObjectID: f.userID,
			Change: map[string]any{"username": actor.Name, "until": lockedUntil}})
		return err
	})
	if err != nil {
		return err
	}
	return answer
}

// Login checks a username and password and starts a session.
//
// Before any hashing it refuses an address over its failure limit and a
// locked account. An unknown username costs one hash all the same, and
// every refusal is the same ErrSignIn, so that neither the answer nor its
// time tells whether the account exists; the audit trail records the real
// reason. A stored hash made with older parameters is remade.
//
// The session's stage is StageMFA when the user has a second factor,
// StageEnrollMFA when their role is privileged and they have none yet, and
// otherwise StageFull. A full session ends every other session of the user
// (one active session per user), which EndedOther reports.
func (s *Service) Login(ctx context.Context, username, password, ip, userAgent string) (LoginResult, error) {
	ip, userAgent = clip(ip, maxIP), clip(userAgent, maxUserAgent)
	ctx = withSourceIP(ctx, ip)
	name := normalizeUsername(username)
	fail := failure{username: name, ip: ip, action: "user.login_failed", countAccount: true, countIP: true}
	now := s.clock.Now()
	blocked, err := s.ipBlocked(ctx, ip, now)
	if err != nil {
		return LoginResult{}, err
	}
	if blocked {
		fail.reason, fail.countAccount, fail.countIP = reasonIPLimited, false, false
		return LoginResult{}, s.reject(ctx, fail, ErrSignIn)
	}
	locked, err := accountLocked(ctx, s.db.R, name, now)
	if err != nil {
		return LoginResult{}, err
	}
	if locked {
		fail.reason, fail.countAccount = reasonLocked, false
		return LoginResult{}, s.reject(ctx, fail, ErrSignIn)
	}
	u, phc, found, err := findByUsername(ctx, s.db.R, name)
	if err != nil {
		return LoginResult{}, err
	}
	if !found {
		if err := s.spendHash(ctx, password); err != nil {
			return LoginResult{}, err
		}
		fail.reason = reasonUnknownUser
		return LoginResult{}, s.reject(ctx, fail, ErrSignIn)
	}
	fail.userID = u.ID
	ok, rehash, err := s.verifyPassword(ctx, password, phc)
	if err != nil {
		return LoginResult{}, err
	}
	switch {
	case !ok:
		fail.reason = reasonWrongPassword
	case u.Disabled:
		fail.reason = reasonDisabled
	}
	if fail.reason != "" {
		return LoginResult{}, s.reject(ctx, fail, ErrSignIn)
	}
	return s.startSession(ctx, u, phc, password, rehash, ip, userAgent)
}

// startSession opens a session for u, whose password was just checked.
func (s *Service) startSession(ctx context.Context, u User, phc, password string, rehash bool, ip, userAgent string) (LoginResult, error) {
	newPHC := ""
	if rehash {
		var err error
		if newPHC, err = s.hashPassword(ctx, password); err != nil {
			return LoginResult{}, err
		}
	}
	token, tokenHash, err := newToken()
	if err != nil {
		return LoginResult{}, err
	}
	stage := StageFull
	switch {
	case u.MFAEnabled:
		stage = StageMFA
	case authz.PrivilegedRole(u.Role):
		stage = StageEnrollMFA // 45 CFR 164.312(d): privileged roles need a second factor
	}
	now := s.clock.Now()
	sess := Session{ID: newID(), UserID: u.ID, Stage: stage, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(s.opts.AbsoluteTimeout), IP: ip, UserAgent: userAgent}
	res := LoginResult{Token: token, Session: sess, User: u}
	uctx := authz.WithActor(ctx, u.actor())
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if err := clearAccount(ctx, tx, u.Username); err != nil {
			return err
		}
		if err := pruneSessions(ctx, tx, u.ID, now.Add(-keepEnded)); err != nil {
			return err
		}
		if err := insertSession(ctx, tx, tokenHash, sess); err != nil {
			return err
		}
		if newPHC != "" {
			if _, err := setPasswordHash(ctx, tx, u.ID, phc, newPHC, now); err != nil {
				return err
			}
		}
		if stage == StageFull {
			var err error
			res.EndedOther, err = s.becomeFull(uctx, tx, u.ID, sess.ID, "password", now)
			return err
		}
		_, err := audit.Append(uctx, tx, now, audit.Event{Action: "user.login_mfa_pending", ObjectType: "user", ObjectID: u.ID,
			Change: map[string]string{"session_id": sess.ID, "stage": string(stage)}})
		return err
	})
	if err != nil {
		return LoginResult{}, err
	}
	if stage == StageFull {
		res.User.LastLoginAt = &now
	}
	return res, nil
}

// becomeFull completes a sign-in inside tx: it ends the user's other
// sessions (one active session per user), sets the last sign-in time and
// records user.login with how the user signed in. It reports whether a
// session that was still active ended.
func (s *Service) becomeFull(ctx context.Context, tx *sql.Tx, userID, sessionID, method string, now time.Time) (bool, error) {
	ended, err := endUserSessions(ctx, tx, userID, sessionID, EndSignedInElsewhere, now, s.idleCutoff(now))
	if err != nil {
		return false, err
	}
	if err := auditEnded(ctx, tx, now, ended); err != nil {
		return false, err
	}
	if err := setLastLogin(ctx, tx, userID, now); err != nil {
		return false, err
	}
	if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "user.login", ObjectType: "user", ObjectID: userID,
		Change: map[string]string{"session_id": sessionID, "method": method}}); err != nil {
		return false, err
	}
	endedOther := false
	for _, e := range ended {
		endedOther = endedOther || e.Reason == EndSignedInElsewhere
	}
	return endedOther, nil
}

// errCodeRace means a code that checked out was used by a concurrent
// request first.
var errCodeRace = errors.New("code used concurrently")

// mfaAttempt is a second-factor check under way: the session waiting for
// it, its user, the failure to record if the check fails, and when.
type mfaAttempt struct {
	row  sessionRow
	user User
	fail failure
	now  time.Time
}

// startMFA begins a second-factor check on the session of token, which
// must be waiting for one (ErrSession otherwise). A locked account is
// refused with wrong, recorded but not counted again. The context it
// returns carries the source address the session began from.
func (s *Service) startMFA(ctx context.Context, token string, wrong error) (context.Context, mfaAttempt, error) {
	row, err := s.openSession(ctx, token)
	if err != nil {
		return ctx, mfaAttempt{}, err
	}
	if row.Stage != StageMFA {
		return ctx, mfaAttempt{}, ErrSession
	}
	ctx = withSourceIP(ctx, row.IP)
	u, _, err := getUser(ctx, s.db.R, row.UserID)
	if err != nil {
		return ctx, mfaAttempt{}, err
	}
	m := mfaAttempt{row: row, user: u, now: s.clock.Now(),
		fail: failure{username: u.Username, userID: u.ID, action: "user.mfa_failed", countAccount: true}}
	locked, err := accountLocked(ctx, s.db.R, u.Username, m.now)
	if err != nil {
		return ctx, mfaAttempt{}, err
	}
	if locked {
		m.fail.reason, m.fail.countAccount = reasonLocked, false
		return ctx, mfaAttempt{}, s.reject(ctx, m.fail, wrong)
	}
	return ctx, m, nil
}

// VerifyMFA completes a StageMFA session with a TOTP code or a recovery
// code. A TOTP code is accepted once: its time step must be newer than the
// last one accepted (pquerna/otp alone would accept it again within its
// window). A recovery code works once. Failures count toward the account's
// lockout and are answered with ErrCode. On success the session becomes
// full and the user's other sessions end; the result carries the same token.
func (s *Service) VerifyMFA(ctx context.Context, token, code string) (LoginResult, error) {
	ctx, m, err := s.startMFA(ctx, token, ErrCode)
	if err != nil {
		return LoginResult{}, err
	}
	row, u, fail, now := m.row, m.user, m.fail, m.now
	chk, err := s.checkCode(ctx, u, code, now)
	if err != nil {
		return LoginResult{}, err
	}
	if chk.reason != "" {
		fail.reason = chk.reason
		return LoginResult{}, s.reject(ctx, fail, ErrCode)
	}
	res := LoginResult{Token: token, Session: row.Session, User: u}
	res.Session.Stage = StageFull
	uctx := authz.WithActor(ctx, u.actor())
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		used, err := chk.use(ctx, tx, u.ID, now)
		if err != nil {
			return err
		}
		if !used {
			return errCodeRace
		}
		upgraded, err := setStage(ctx, tx, row.ID, StageMFA, StageFull)
		if err != nil {
			return err
		}
		if !upgraded {
			return ErrSession
		}
		if err := clearAccount(ctx, tx, u.Username); err != nil {
			return err
		}
		if chk.method == methodRecovery {
			if _, err := audit.Append(uctx, tx, now, audit.Event{Action: "user.recovery_code_used", ObjectType: "user",
				ObjectID: u.ID, Change: map[string]string{"session_id": row.ID}}); err != nil {
				return err
			}
		}
		res.EndedOther, err = s.becomeFull(uctx, tx, u.ID, row.ID, chk.method, now)
		return err
	})
	if errors.Is(err, errCodeRace) {
		fail.reason = reasonReplayedCode
		return LoginResult{}, s.reject(ctx, fail, ErrCode)
	}
	if err != nil {
		return LoginResult{}, err
	}
	res.User.LastLoginAt = &now
	return res, nil
}
