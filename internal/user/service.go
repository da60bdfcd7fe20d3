package user

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
)

// ErrSignIn is every failed sign-in: unknown user, wrong password,
// disabled or locked account, too many attempts from the address. One
// message for all, so that it reveals nothing about the account; the
// audit trail records the real reason.
var ErrSignIn = apperr.New(apperr.Unauthorized,
	"The username or password is wrong, or the account is locked or disabled. If it is locked, try again later.")

// ErrSession is a session token that is unknown, ended, idle or expired.
var ErrSession = apperr.New(apperr.Unauthorized, "Your session has ended. Sign in again.")

// ErrCode is a rejected second-factor code: wrong, already used, or the
// account is locked.
var ErrCode = apperr.New(apperr.Unauthorized, "That code is not valid.")

var errMFAOn = apperr.New(apperr.Conflict, "two-factor authentication is already on; an administrator can reset it")

// Token sizes and field caps.
const (
	tokenBytes   = 32 // 256 bits for session and setup tokens
	maxToken     = 128
	maxIP        = 64
	maxUserAgent = 512
	// touchEvery is how stale LastSeenAt may get before Authenticate
	// writes it again. Idle logoff may so come up to this much early.
	touchEvery = 30 * time.Second
	// keepEnded is how long an ended session's row is kept, for
	// EndedReason, before the user's next sign-in deletes it.
	keepEnded = 30 * 24 * time.Hour
)

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// newToken returns a random secret for a cookie or link, and its hash.
func newToken() (string, string, error) {
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", "", fmt.Errorf("token: random: %w", err)
	}
	t := base64.RawURLEncoding.EncodeToString(raw)
	return t, hashToken(t), nil
}

// hashToken is how a token is stored: it has 256 random bits, so SHA-256
// is enough to make a stolen table useless.
func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

func (s *Service) idleCutoff(now time.Time) time.Time { return now.Add(-s.opts.IdleTimeout) }

// auditEnded appends one session.<reason> entry per ended session.
func auditEnded(ctx context.Context, tx *sql.Tx, now time.Time, ended []endedSession) error {
	for _, e := range ended {
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "session." + e.Reason, ObjectType: "session", ObjectID: e.ID,
			Change: map[string]string{"user_id": e.UserID, "reason": e.Reason}}); err != nil {
			return err
		}
	}
	return nil
}

// self returns the signed-in user acting in ctx.
func self(ctx context.Context) (authz.Actor, error) {
	a, ok := authz.ActorFrom(ctx)
	if !ok {
		return authz.Actor{}, apperr.New(apperr.Unauthorized, "authentication required")
	}
	if a.Kind != authz.KindUser || a.ID == "" {
		return authz.Actor{}, apperr.New(apperr.Forbidden, "only a signed-in user can do this for themselves")
	}
	return a, nil
}

// adminOrSelf allows an actor with UserAdmin, or the user that ref names.
func adminOrSelf(ctx context.Context, ref string) error {
	a, ok := authz.ActorFrom(ctx)
	if ok && a.Kind == authz.KindUser && a.ID != "" && (ref == a.ID || normalizeUsername(ref) == a.Name) {
		return nil
	}
	_, err := authz.Check(ctx, authz.UserAdmin)
	return err
}

// withSourceIP records ip as the request's source for the audit trail
// when the context carries none.
func withSourceIP(ctx context.Context, ip string) context.Context {
	r := authz.RequestFrom(ctx)
	if r.SourceIP != "" || ip == "" {
		return ctx
	}
	r.SourceIP = ip
	return authz.WithRequest(ctx, r)
}

// clip cuts s to at most n bytes of valid UTF-8.
func clip(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	for len(s) > n {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return s
}

type sessionKey struct{}

// WithSession returns ctx carrying the caller's own session, as
// Authenticate returned it. Self-service calls use it to know which
// session is "this one": ChangePassword keeps it while ending the others,
// ConfirmTOTP upgrades it to a full session.
func WithSession(ctx context.Context, s Session) context.Context {
	return context.WithValue(ctx, sessionKey{}, s)
}

// SessionFrom is the web session WithSession put in ctx.
func SessionFrom(ctx context.Context) (Session, bool) {
	s, ok := ctx.Value(sessionKey{}).(Session)
	return s, ok
}
