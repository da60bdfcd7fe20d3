package user

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
)

// userSelect reads a user, whether a second factor exists (a confirmed
// TOTP secret or a security key), and the password hash.
const userSelect = `SELECT u.id, u.username, u.display_name, u.email, u.role, u.disabled,
	u.created_at, u.updated_at, u.last_login_at, coalesce(u.scim_user_name, ''), coalesce(u.scim_external_id, ''),
	coalesce(t.confirmed, $1) OR EXISTS (SELECT 1 FROM user_webauthn w WHERE w.user_id = u.id), u.password_hash
	FROM users u LEFT JOIN user_totp t ON t.user_id = u.id`

func scanUser(sc interface{ Scan(...any) error }) (User, string, error) {
	var u User
	var phc string
	var last sql.NullTime
	if err := sc.Scan(&u.ID, &u.Username, &u.DisplayName, &u.Email, &u.Role, &u.Disabled,
		&u.CreatedAt, &u.UpdatedAt, &last, &u.SCIMUserName, &u.SCIMExternalID, &u.MFAEnabled, &phc); err != nil {
		return User{}, "", err
	}
	u.CreatedAt, u.UpdatedAt = u.CreatedAt.UTC(), u.UpdatedAt.UTC()
	u.LastLoginAt = timePtr(last)
	return u, phc, nil
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

// getUser returns the user whose id or username is ref, and its password hash.
func getUser(ctx context.Context, q db.Querier, ref string) (User, string, error) {
	u, phc, err := scanUser(q.QueryRowContext(ctx, userSelect+" WHERE u.id = $2 OR u.username = $3", false, ref, normalizeUsername(ref)))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, "", apperr.New(apperr.NotFound, "no user %q", ref)
	}
	if err != nil {
		return User{}, "", fmt.Errorf("user: get: %w", err)
	}
	return u, phc, nil
}

// findByUsername is getUser by username only; ok is false when none exists.
func findByUsername(ctx context.Context, q db.Querier, username string) (User, string, bool, error) {
	u, phc, err := scanUser(q.QueryRowContext(ctx, userSelect+" WHERE u.username = $2", false, username))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, "", false, nil
	}
	if err != nil {
		return User{}, "", false, fmt.Errorf("user: find: %w", err)
	}
	return u, phc, true, nil
}

func listUsers(ctx context.Context, q db.Querier) ([]User, error) {
	rows, err := q.QueryContext(ctx, userSelect+" ORDER BY u.username", false)
	if err != nil {
		return nil, fmt.Errorf("user: list: %w", err)
	}
	defer rows.Close()
	out := []User{}
	for rows.Next() {
		u, _, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("user: list: %w", err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("user: list: %w", err)
	}
	return out, nil
}

func countUsers(ctx context.Context, q db.Querier) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM users").Scan(&n); err != nil {
		return 0, fmt.Errorf("user: count: %w", err)
	}
	return n, nil
}

// insertUser adds u, or returns Conflict if its username is taken.
func insertUser(ctx context.Context, tx *sql.Tx, u User, phc string) error {
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM users WHERE username = $1", u.Username).Scan(&n); err != nil {
		return fmt.Errorf("user: insert: %w", err)
	}
	if n > 0 {
		return apperr.New(apperr.Conflict, "the username %q is taken", u.Username)
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO users (id, username, display_name, email, role, password_hash, disabled, created_at, updated_at,
		scim_user_name, scim_external_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		u.ID, u.Username, u.DisplayName, u.Email, u.Role, phc, u.Disabled, u.CreatedAt, u.UpdatedAt,
		nullable(u.SCIMUserName), nullable(u.SCIMExternalID))
	if err != nil {
		return fmt.Errorf("user: insert: %w", err)
	}
	return nil
}

func nullable(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// updateUser stores u's role, disabled flag, name, email, identity
// provider names and updated time.
func updateUser(ctx context.Context, tx *sql.Tx, u User) error {
	_, err := tx.ExecContext(ctx, `UPDATE users SET role = $1, disabled = $2, updated_at = $3, display_name = $4, email = $5,
		scim_user_name = $6, scim_external_id = $7 WHERE id = $8`,
		u.Role, u.Disabled, u.UpdatedAt, u.DisplayName, u.Email, nullable(u.SCIMUserName), nullable(u.SCIMExternalID), u.ID)
	if err != nil {
		return fmt.Errorf("user: update: %w", err)
	}
	return nil
}

// setPasswordHash replaces the hash old with phc and reports whether it
// did: a concurrent change of the password wins.
func setPasswordHash(ctx context.Context, tx *sql.Tx, userID, old, phc string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3 AND password_hash = $4",
		phc, now, userID, old)
	if err != nil {
		return false, fmt.Errorf("user: set password: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

func setLastLogin(ctx context.Context, tx *sql.Tx, userID string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, "UPDATE users SET last_login_at = $1 WHERE id = $2", now, userID); err != nil {
		return fmt.Errorf("user: set last login: %w", err)
	}
	return nil
}

// otherActiveAdmins counts enabled admins other than userID.
func otherActiveAdmins(ctx context.Context, tx *sql.Tx, userID string) (int, error) {
	var n int
	err := tx.QueryRowContext(ctx, "SELECT count(*) FROM users WHERE role = $1 AND disabled = $2 AND id <> $3",
		authz.RoleAdmin, false, userID).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("user: count admins: %w", err)
	}
	return n, nil
}

// sessionRow is a stored session with its end and its user.
type sessionRow struct {
	Session
	ended     bool
	endReason string
	user      User
}

const sessionColumns = "s.id, s.user_id, s.stage, s.created_at, s.last_seen_at, s.expires_at, s.ip, s.user_agent"

func scanSession(sc interface{ Scan(...any) error }, extra ...any) (Session, error) {
	var s Session
	if err := sc.Scan(append([]any{&s.ID, &s.UserID, &s.Stage, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &s.IP, &s.UserAgent},
		extra...)...); err != nil {
		return Session{}, err
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = s.CreatedAt.UTC(), s.LastSeenAt.UTC(), s.ExpiresAt.UTC()
	return s, nil
}

// sessionByToken returns the session whose token hashes to tokenHash, with
// its user; ok is false when there is none.
func sessionByToken(ctx context.Context, q db.Querier, tokenHash string) (sessionRow, bool, error) {
	var r sessionRow
	var ended sql.NullTime
	var err error
	r.Session, err = scanSession(q.QueryRowContext(ctx, "SELECT "+sessionColumns+`, s.ended_at, s.end_reason,
		u.username, u.role, u.disabled FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1`, tokenHash),
		&ended, &r.endReason, &r.user.Username, &r.user.Role, &r.user.Disabled)
	if errors.Is(err, sql.ErrNoRows) {
		return sessionRow{}, false, nil
	}
	if err != nil {
		return sessionRow{}, false, fmt.Errorf("session: look up: %w", err)
	}
	r.ended, r.user.ID = ended.Valid, r.UserID
	return r, true, nil
}

func sessionExists(ctx context.Context, q db.Querier, id string) (bool, error) {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM sessions WHERE id = $1", id).Scan(&n); err != nil {
		return false, fmt.Errorf("session: look up: %w", err)
	}
	return n > 0, nil
}

func insertSession(ctx context.Context, tx *sql.Tx, tokenHash string, s Session) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO sessions (token_hash, id, user_id, stage, created_at, last_seen_at, expires_at, end_reason, ip, user_agent)
		VALUES ($1, $2, $3, $4, $5, $6, $7, '', $8, $9)`,
		tokenHash, s.ID, s.UserID, s.Stage, s.CreatedAt, s.LastSeenAt, s.ExpiresAt, s.IP, s.UserAgent)
	if err != nil {
		return fmt.Errorf("session: insert: %w", err)
	}
	return nil
}

// listSessions returns the user's open sessions that are neither idle
// (last seen before idleCutoff) nor expired at now, newest first.
func listSessions(ctx context.Context, q db.Querier, userID string, now, idleCutoff time.Time) ([]Session, error) {
	rows, err := q.QueryContext(ctx, "SELECT "+sessionColumns+` FROM sessions s
		WHERE s.user_id = $1 AND s.ended_at IS NULL AND s.expires_at > $2 AND s.last_seen_at >= $3
		ORDER BY s.created_at DESC, s.id DESC`, userID, now, idleCutoff)
	if err != nil {
		return nil, fmt.Errorf("session: list: %w", err)
	}
	defer rows.Close()
	out := []Session{}
	for rows.Next() {
		s, err := scanSession(rows)
		if err != nil {
			return nil, fmt.Errorf("session: list: %w", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("session: list: %w", err)
	}
	return out, nil
}

func touchSession(ctx context.Context, tx *sql.Tx, id string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, "UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND ended_at IS NULL", now, id); err != nil {
		return fmt.Errorf("session: touch: %w", err)
	}
	return nil
}

// setStage moves the open session id from stage from to stage to and
// reports whether it did.
func setStage(ctx context.Context, tx *sql.Tx, id string, from, to Stage) (bool, error) {
	res, err := tx.ExecContext(ctx, "UPDATE sessions SET stage = $1 WHERE id = $2 AND stage = $3 AND ended_at IS NULL", to, id, from)
	if err != nil {
		return false, fmt.Errorf("session: set stage: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// setUserStage moves the user's open sessions in stage from to stage to.
func setUserStage(ctx context.Context, tx *sql.Tx, userID string, from, to Stage) error {
	_, err := tx.ExecContext(ctx, "UPDATE sessions SET stage = $1 WHERE user_id = $2 AND stage = $3 AND ended_at IS NULL", to, userID, from)
	if err != nil {
		return fmt.Errorf("session: set stage: %w", err)
	}
	return nil
}

// endedSession is a session that a change ended, and why.
type endedSession struct {
	ID, UserID, Reason string
}

// endSessionBy ends the open session whose column (id or token_hash)
// equals value; ok is false when there is no such open session.
func endSessionBy(ctx context.Context, tx *sql.Tx, column, value, reason string, now time.Time) (endedSession, bool, error) {
	e := endedSession{Reason: reason}
	err := tx.QueryRowContext(ctx, "UPDATE sessions SET ended_at = $1, end_reason = $2 WHERE "+column+
		" = $3 AND ended_at IS NULL RETURNING id, user_id", now, reason, value).Scan(&e.ID, &e.UserID)
	if errors.Is(err, sql.ErrNoRows) {
		return endedSession{}, false, nil
	}
	if err != nil {
		return endedSession{}, false, fmt.Errorf("session: end: %w", err)
	}
	return e, true, nil
}

// endUserSessions ends the user's open sessions except keepID ("" keeps
// none). One that had already gone idle (last seen before idleCutoff) or
// expired ends with that reason instead, so the user is told the truth.
func endUserSessions(ctx context.Context, tx *sql.Tx, userID, keepID, reason string, now, idleCutoff time.Time) ([]endedSession, error) {
	rows, err := tx.QueryContext(ctx, `UPDATE sessions SET ended_at = $1,
		end_reason = CASE WHEN expires_at <= $1 THEN $2 WHEN last_seen_at < $3 THEN $4 ELSE $5 END
		WHERE user_id = $6 AND ended_at IS NULL AND id <> $7 RETURNING id, end_reason`,
		now, EndExpired, idleCutoff, EndIdle, reason, userID, keepID)
	if err != nil {
		return nil, fmt.Errorf("session: end all: %w", err)
	}
	defer rows.Close()
	var out []endedSession
	for rows.Next() {
		e := endedSession{UserID: userID}
		if err := rows.Scan(&e.ID, &e.Reason); err != nil {
			return nil, fmt.Errorf("session: end all: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("session: end all: %w", err)
	}
	return out, nil
}

// pruneSessions forgets the user's sessions that ended before cutoff.
func pruneSessions(ctx context.Context, tx *sql.Tx, userID string, cutoff time.Time) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM sessions WHERE user_id = $1 AND ended_at < $2", userID, cutoff); err != nil {
		return fmt.Errorf("session: prune: %w", err)
	}
	return nil
}

// totpRow is a user's stored TOTP secret (sealed).
type totpRow struct {
	sealed    string
	confirmed bool
	lastStep  int64
}

// getTOTP returns the user's TOTP row; ok is false when there is none.
func getTOTP(ctx context.Context, q db.Querier, userID string) (totpRow, bool, error) {
	var t totpRow
	err := q.QueryRowContext(ctx, "SELECT secret, confirmed, last_step FROM user_totp WHERE user_id = $1", userID).
		Scan(&t.sealed, &t.confirmed, &t.lastStep)
	if errors.Is(err, sql.ErrNoRows) {
		return totpRow{}, false, nil
	}
	if err != nil {
		return totpRow{}, false, fmt.Errorf("totp: get: %w", err)
	}
	return t, true, nil
}

// putPendingTOTP replaces any unconfirmed secret of the user with sealed;
// it returns Conflict if a confirmed one exists.
func putPendingTOTP(ctx context.Context, tx *sql.Tx, userID, sealed string, now time.Time) error {
	t, ok, err := getTOTP(ctx, tx, userID)
	if err != nil {
		return err
	}
	if ok && t.confirmed {
		return errMFAOn
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM user_totp WHERE user_id = $1", userID); err != nil {
		return fmt.Errorf("totp: replace: %w", err)
	}
	_, err = tx.ExecContext(ctx, "INSERT INTO user_totp (user_id, secret, confirmed, last_step, created_at) VALUES ($1, $2, $3, 0, $4)",
		userID, sealed, false, now)
	if err != nil {
		return fmt.Errorf("totp: insert: %w", err)
	}
	return nil
}

// confirmTOTP turns the pending secret sealed into the user's second
// factor, with step as its last used step; false if that secret is no
// longer the pending one.
func confirmTOTP(ctx context.Context, tx *sql.Tx, userID, sealed string, step int64, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, `UPDATE user_totp SET confirmed = $1, last_step = $2, confirmed_at = $3
		WHERE user_id = $4 AND secret = $5 AND confirmed = $6`, true, step, now, userID, sealed, false)
	if err != nil {
		return false, fmt.Errorf("totp: confirm: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// useTOTPStep records step as used, only if it is newer than every step
// used before: of two requests with the same code, one wins.
func useTOTPStep(ctx context.Context, tx *sql.Tx, userID string, step int64) (bool, error) {
	res, err := tx.ExecContext(ctx, "UPDATE user_totp SET last_step = $1 WHERE user_id = $2 AND confirmed = $3 AND last_step < $1",
		step, userID, true)
	if err != nil {
		return false, fmt.Errorf("totp: use step: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// deleteMFA removes the user's TOTP secret, recovery codes and security
// keys and reports whether there was anything to remove.
func deleteMFA(ctx context.Context, tx *sql.Tx, userID string) (bool, error) {
	var removed int64
	for _, q := range []string{"DELETE FROM user_totp WHERE user_id = $1", "DELETE FROM user_recovery_codes WHERE user_id = $1",
		"DELETE FROM user_webauthn WHERE user_id = $1"} {
		res, err := tx.ExecContext(ctx, q, userID)
		if err != nil {
			return false, fmt.Errorf("mfa: delete: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return false, fmt.Errorf("mfa: delete: %w", err)
		}
		removed += n
	}
	return removed > 0, nil
}

// recoveryCodeState reports whether the user has a code with this hash,
// and whether it is used.
func recoveryCodeState(ctx context.Context, q db.Querier, userID, hash string) (exists, used bool, err error) {
	var usedAt sql.NullTime
	err = q.QueryRowContext(ctx, "SELECT used_at FROM user_recovery_codes WHERE user_id = $1 AND hash = $2", userID, hash).Scan(&usedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("recovery codes: look up: %w", err)
	}
	return true, usedAt.Valid, nil
}

// countUnusedRecoveryCodes counts the user's recovery codes not yet used.
func countUnusedRecoveryCodes(ctx context.Context, q db.Querier, userID string) (int, error) {
	var n int
	if err := q.QueryRowContext(ctx, "SELECT count(*) FROM user_recovery_codes WHERE user_id = $1 AND used_at IS NULL", userID).Scan(&n); err != nil {
		return 0, fmt.Errorf("recovery codes: count: %w", err)
	}
	return n, nil
}

func replaceRecoveryCodes(ctx context.Context, tx *sql.Tx, userID string, hashes []string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM user_recovery_codes WHERE user_id = $1", userID); err != nil {
		return fmt.Errorf("recovery codes: delete: %w", err)
	}
	for _, h := range hashes {
		if _, err := tx.ExecContext(ctx, "INSERT INTO user_recovery_codes (user_id, hash, created_at) VALUES ($1, $2, $3)",
			userID, h, now); err != nil {
			return fmt.Errorf("recovery codes: insert: %w", err)
		}
	}
	return nil
}

// useRecoveryCode marks the user's unused code with this hash used and
// reports whether there was one.
func useRecoveryCode(ctx context.Context, tx *sql.Tx, userID, hash string, now time.Time) (bool, error) {
	res, err := tx.ExecContext(ctx, "UPDATE user_recovery_codes SET used_at = $1 WHERE user_id = $2 AND hash = $3 AND used_at IS NULL",
		now, userID, hash)
	if err != nil {
		return false, fmt.Errorf("recovery codes: use: %w", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// revokeUserTokens revokes the user's unrevoked API tokens and returns
// their ids.
func revokeUserTokens(ctx context.Context, tx *sql.Tx, userID string, now time.Time) ([]string, error) {
	rows, err := tx.QueryContext(ctx, "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL RETURNING id",
		now, userID)
	return db.Collect(rows, err, "user: revoke tokens", func(r *sql.Rows) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
}
