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
)

// Recovery codes for a user whose second factor is a security key: issued
// with their first key, as with TOTP enrolment, so that losing every key
// does not need an administrator (45 CFR 164.312(d)).
const (
	// Where the codes issued with a first key wait, sealed, until the page
	// that shows them reads them once (within ceremonyTTL); the sealing is
	// bound to this place and the session's id.
	shownTable  = "recovery_codes_shown"
	shownColumn = "codes"
)

// issueFirstRecoveryCodes gives the user recovery codes when they have no
// confirmed TOTP and no unused recovery code, and keeps them, sealed, for
// the session to show once. It reports whether it issued any.
func (s *Service) issueFirstRecoveryCodes(ctx context.Context, tx *sql.Tx, userID, sessionID string, now time.Time) (bool, error) {
	t, hasTOTP, err := getTOTP(ctx, tx, userID)
	if err != nil {
		return false, err
	}
	unused, err := countUnusedRecoveryCodes(ctx, tx, userID)
	if err != nil {
		return false, err
	}
	if (hasTOTP && t.confirmed) || unused > 0 {
		return false, nil
	}
	codes, hashes, err := newRecoveryCodes()
	if err != nil {
		return false, err
	}
	if err := replaceRecoveryCodes(ctx, tx, userID, hashes, now); err != nil {
		return false, err
	}
	if err := s.keepCodesToShow(ctx, tx, sessionID, codes, now); err != nil {
		return false, err
	}
	return true, nil
}

// keepCodesToShow keeps codes sealed beside the session, for
// TakeRecoveryCodes to show once within ceremonyTTL.
func (s *Service) keepCodesToShow(ctx context.Context, tx *sql.Tx, sessionID string, codes []string, now time.Time) error {
	if s.opts.Secrets == nil {
		return errors.New("recovery codes: no Sealer configured to keep them for display")
	}
	sealed, err := s.opts.Secrets.Seal([]byte(strings.Join(codes, " ")), shownTable, shownColumn, sessionID)
	if err != nil {
		return fmt.Errorf("recovery codes: seal: %w", err)
	}
	return putCodesToShow(ctx, tx, sessionID, sealed, now.Add(ceremonyTTL), now)
}

// TakeRecoveryCodes returns the recovery codes issued in the session the
// context names (WithSession): with a first security key, at TOTP
// enrolment or by RegenerateRecoveryCodes; and forgets them: a second
// call returns none. None also when more than 5 minutes passed since they
// were issued.
func (s *Service) TakeRecoveryCodes(ctx context.Context) ([]string, error) {
	a, err := self(ctx)
	if err != nil {
		return nil, err
	}
	cur, ok := SessionFrom(ctx)
	if !ok || cur.UserID != a.ID {
		return nil, nil
	}
	var sealed string
	var found bool
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		sealed, found, err = popCodesToShow(ctx, tx, cur.ID, s.clock.Now())
		return err
	})
	if err != nil || !found {
		return nil, err
	}
	if s.opts.Secrets == nil {
		return nil, errors.New("recovery codes: no Sealer configured to open them")
	}
	plain, err := s.opts.Secrets.Open(sealed, shownTable, shownColumn, cur.ID)
	if err != nil {
		return nil, fmt.Errorf("recovery codes: open: %w", err)
	}
	return strings.Fields(string(plain)), nil
}

// RegenerateRecoveryCodes replaces the signed-in user's recovery codes
// with 10 new ones, returned this once and, in a web session, kept sealed
// for TakeRecoveryCodes to show once (the page a form redirects to),
// after checking their password
// again as RemoveWebAuthnKey does (a wrong one counts toward the
// lockout). The old codes stop working. A user without a second factor
// has no codes to regenerate (Conflict).
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, password string) ([]string, error) {
	a, err := self(ctx)
	if err != nil {
		return nil, err
	}
	u, phc, err := getUser(ctx, s.db.R, a.ID)
	if err != nil {
		return nil, err
	}
	if err := s.reauthenticate(ctx, u, phc, password); err != nil {
		return nil, err
	}
	codes, hashes, err := newRecoveryCodes()
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		t, hasTOTP, err := getTOTP(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		keys, err := listKeys(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		if !(hasTOTP && t.confirmed) && len(keys) == 0 {
			return apperr.New(apperr.Conflict, "you have no second factor: turn on two-factor authentication first")
		}
		if err := replaceRecoveryCodes(ctx, tx, u.ID, hashes, now); err != nil {
			return err
		}
		if cur, ok := SessionFrom(ctx); ok && cur.UserID == u.ID {
			if err := s.keepCodesToShow(ctx, tx, cur.ID, codes, now); err != nil {
				return err
			}
		}
		if err := clearAccount(ctx, tx, u.Username); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "user.recovery_codes_regenerated", ObjectType: "user", ObjectID: u.ID,
			Change: map[string]int{"recovery_codes": len(codes)}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

// reauthenticate checks the signed-in user's password again before a
// change that weakens or replaces a second factor. A wrong password is
// recorded as user.reauth_failed and counts toward the lockout; a locked
// account is refused without checking it.
func (s *Service) reauthenticate(ctx context.Context, u User, phc, password string) error {
	fail := failure{username: u.Username, userID: u.ID, action: "user.reauth_failed", countAccount: true}
	locked, err := accountLocked(ctx, s.db.R, u.Username, s.clock.Now())
	if err != nil {
		return err
	}
	if locked {
		fail.reason, fail.countAccount = reasonLocked, false
		return s.reject(ctx, fail, errCurrentPassword())
	}
	ok, _, err := s.verifyPassword(ctx, password, phc)
	if err != nil {
		return err
	}
	if !ok {
		fail.reason = reasonWrongPassword
		return s.reject(ctx, fail, errCurrentPassword())
	}
	return nil
}

// putCodesToShow keeps the session's sealed codes, replacing any earlier
// ones, and forgets every expired set of any session.
func putCodesToShow(ctx context.Context, tx *sql.Tx, sessionID, sealed string, expires, now time.Time) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM recovery_codes_shown WHERE session_id = $1 OR expires_at < $2", sessionID, now); err != nil {
		return fmt.Errorf("recovery codes: replace shown: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO recovery_codes_shown (session_id, codes, expires_at) VALUES ($1, $2, $3)",
		sessionID, sealed, expires); err != nil {
		return fmt.Errorf("recovery codes: keep to show: %w", err)
	}
	return nil
}

// popCodesToShow deletes the session's sealed codes and returns them when
// they have not expired.
func popCodesToShow(ctx context.Context, tx *sql.Tx, sessionID string, now time.Time) (string, bool, error) {
	var sealed string
	var expires time.Time
	err := tx.QueryRowContext(ctx, "SELECT codes, expires_at FROM recovery_codes_shown WHERE session_id = $1", sessionID).
		Scan(&sealed, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("recovery codes: get shown: %w", err)
	}
	if _, err := tx.ExecContext(ctx, "DELETE FROM recovery_codes_shown WHERE session_id = $1", sessionID); err != nil {
		return "", false, fmt.Errorf("recovery codes: delete shown: %w", err)
	}
	return sealed, now.Before(expires), nil
}
