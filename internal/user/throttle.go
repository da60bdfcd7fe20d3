package user

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/wardhq/ward/internal/db"
)

// Sign-in limits (NIST SP 800-63B §5.2.2, rate limiting; 45 CFR
// 164.308(a)(5)(ii)(C), log-in monitoring). They live in the database, so
// they hold across Ward nodes and restarts.
//
// Per account: after lockAfter consecutive failures (passwords and second
// factors alike) the account is locked for lockBase, and each further
// failure once the lock has passed doubles it, up to lockMax. A success
// resets the count. Attempts on a locked account are refused unchecked and
// do not lengthen the lock. Unknown usernames are counted the same way, so
// that a lock does not reveal whether an account exists.
//
// Per source address: at most Options.IPFailureLimit failures in a window
// of ipWindow; further attempts are refused unchecked until it passes. An
// IPv6 address counts as its /64, which one host usually holds whole.
//
// A counter untouched for throttleForget is deleted, which also forgets
// old consecutive failures.
const (
	lockAfter      = 5
	lockBase       = time.Minute
	lockMax        = time.Hour
	ipWindow       = 15 * time.Minute
	throttleForget = 24 * time.Hour

	scopeAccount = "account"
	scopeIP      = "ip"
)

// subject is what a counter is keyed by: a hash, so that a password typed
// into the username field is not stored.
func subject(scope, value string) string {
	sum := sha256.Sum256([]byte(scope + ":" + value))
	return hex.EncodeToString(sum[:])
}

// ipSubject is the counter key of a source address.
func ipSubject(ip string) string {
	if a, err := netip.ParseAddr(ip); err == nil && a.Is6() && !a.Is4In6() {
		if p, err := a.WithZone("").Prefix(64); err == nil {
			ip = p.String()
		}
	}
	return subject(scopeIP, ip)
}

// lockFor is how long the failures-th consecutive failure locks an account.
func lockFor(failures int64) time.Duration {
	if failures < lockAfter {
		return 0
	}
	d := lockBase
	for i := int64(lockAfter); i < failures && d < lockMax; i++ {
		d *= 2
	}
	return min(d, lockMax)
}

// accountLocked reports whether the account username is locked at now.
func accountLocked(ctx context.Context, q db.Querier, username string, now time.Time) (bool, error) {
	var until sql.NullTime
	err := q.QueryRowContext(ctx, "SELECT locked_until FROM login_throttle WHERE scope = $1 AND subject = $2",
		scopeAccount, subject(scopeAccount, username)).Scan(&until)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("throttle: account: %w", err)
	}
	return until.Valid && now.Before(until.Time), nil
}

// ipBlocked reports whether the address ip has used up its failures for
// the current window. An empty address (not over the network) is never blocked.
func (s *Service) ipBlocked(ctx context.Context, ip string, now time.Time) (bool, error) {
	if ip == "" {
		return false, nil
	}
	var failures int64
	var start time.Time
	err := s.db.R.QueryRowContext(ctx, "SELECT failures, window_start FROM login_throttle WHERE scope = $1 AND subject = $2",
		scopeIP, ipSubject(ip)).Scan(&failures, &start)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("throttle: ip: %w", err)
	}
	return now.Before(start.Add(ipWindow)) && failures >= int64(s.opts.IPFailureLimit), nil
}

// countAccountFailure adds a failure to the account's counter and returns
// the lock it now has, zero when none.
func countAccountFailure(ctx context.Context, tx *sql.Tx, username string, now time.Time) (time.Time, error) {
	if err := pruneThrottle(ctx, tx, now); err != nil {
		return time.Time{}, err
	}
	subj := subject(scopeAccount, username)
	var failures int64
	err := tx.QueryRowContext(ctx, `INSERT INTO login_throttle (scope, subject, failures, window_start, updated_at)
		VALUES ($1, $2, 1, $3, $3)
		ON CONFLICT (scope, subject) DO UPDATE SET failures = login_throttle.failures + 1, updated_at = $3
		RETURNING failures`, scopeAccount, subj, now).Scan(&failures)
	if err != nil {
		return time.Time{}, fmt.Errorf("throttle: count account failure: %w", err)
	}
	d := lockFor(failures)
	if d == 0 {
		return time.Time{}, nil
	}
	until := now.Add(d)
	if _, err := tx.ExecContext(ctx, "UPDATE login_throttle SET locked_until = $1 WHERE scope = $2 AND subject = $3",
		until, scopeAccount, subj); err != nil {
		return time.Time{}, fmt.Errorf("throttle: lock account: %w", err)
	}
	return until, nil
}

// countIPFailure adds a failure to the address's window, starting a new
// window when the last one has passed.
func countIPFailure(ctx context.Context, tx *sql.Tx, ip string, now time.Time) error {
	if ip == "" {
		return nil
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO login_throttle (scope, subject, failures, window_start, updated_at)
		VALUES ($1, $2, 1, $3, $3)
		ON CONFLICT (scope, subject) DO UPDATE SET
			failures = CASE WHEN login_throttle.window_start <= $4 THEN 1 ELSE login_throttle.failures + 1 END,
			window_start = CASE WHEN login_throttle.window_start <= $4 THEN $3 ELSE login_throttle.window_start END,
			updated_at = $3`, scopeIP, ipSubject(ip), now, now.Add(-ipWindow))
	if err != nil {
		return fmt.Errorf("throttle: count ip failure: %w", err)
	}
	return nil
}

// clearAccount forgets the account's failures after a success.
func clearAccount(ctx context.Context, tx *sql.Tx, username string) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM login_throttle WHERE scope = $1 AND subject = $2",
		scopeAccount, subject(scopeAccount, username)); err != nil {
		return fmt.Errorf("throttle: clear: %w", err)
	}
	return nil
}

func pruneThrottle(ctx context.Context, tx *sql.Tx, now time.Time) error {
	if _, err := tx.ExecContext(ctx, "DELETE FROM login_throttle WHERE updated_at < $1", now.Add(-throttleForget)); err != nil {
		return fmt.Errorf("throttle: prune: %w", err)
	}
	return nil
}
