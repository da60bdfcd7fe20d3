package user

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
)

// MethodOIDC is how user.login records a sign-in through an OpenID
// Connect identity provider.
const MethodOIDC = "oidc"

// The reasons a single sign-on is refused, as the audit trail records them.
const (
	reasonNoRole          = "no_mapped_role"
	reasonLastAdmin       = "last_admin"
	reasonAmbiguousMail   = "ambiguous_email"
	reasonLinkedElsewhere = "email_linked_elsewhere"
)

// The answers to a refused single sign-on. Unlike ErrSignIn they say why:
// the person has already proved who they are to the identity provider.
var (
	ErrNoRole = apperr.New(apperr.Forbidden,
		"Your identity provider account is in no group that Ward maps to a role. Ask your administrator to add you to one.")
	ErrSSODisabled  = apperr.New(apperr.Forbidden, "Your Ward account is disabled. Ask your administrator.")
	ErrSSOLastAdmin = apperr.New(apperr.Forbidden,
		"Your identity provider no longer grants you the admin role, but you are Ward's last enabled admin. "+
			"Another admin must exist before your role can change; use the local administrator account.")
	ErrSSOAmbiguous = apperr.New(apperr.Forbidden,
		"More than one Ward account has your email address, so Ward cannot tell which is yours. Ask your administrator.")
	ErrSSOLinkedElsewhere = apperr.New(apperr.Forbidden,
		"The Ward account with your email address belongs to another person at your identity provider. Ask your administrator.")
)

// ExternalIdentity is a person as an OpenID Connect identity provider
// vouches for them in a verified ID token.
type ExternalIdentity struct {
	Issuer  string // the token's iss
	Subject string // the token's sub: stable and unique within Issuer
	// Email links the identity to an existing account at first sign-in,
	// only when EmailVerified (the token's email_verified claim) is true.
	Email         string
	EmailVerified bool
	Name          string // display name, for a new account
	Username      string // preferred username, for a new account
	// Role is what the person's groups map to; "" refuses the sign-in.
	Role authz.Role
}

// SignInExternal signs in a person whom an identity provider has
// authenticated, and starts a full session as Login and VerifyMFA do
// (ending the user's other sessions, recording user.login with method
// "oidc").
//
// The account is the one linked to (Issuer, Subject); at first sign-in, the
// one account whose email equals a verified Email, which is then linked;
// otherwise a new account with Role, also linked. An account already linked
// to another subject of the same issuer is not matched by email (refused). A new account gets a
// password hash of 256 random bits that nobody knows, so only single
// sign-on opens it. Role is applied at every sign-in, recorded as
// user.role_changed. A disabled account, an empty Role and demoting the
// last enabled admin are refused and recorded as user.login_failed.
//
// The session is full at once, whatever the role: the identity provider
// authenticated the person, and must require a second factor for the
// privileged roles (45 CFR 164.312(d), person authentication).
func (s *Service) SignInExternal(ctx context.Context, id ExternalIdentity, ip, userAgent string) (LoginResult, error) {
	ip, userAgent = clip(ip, maxIP), clip(userAgent, maxUserAgent)
	ctx = withSourceIP(ctx, ip)
	if id.Issuer == "" || id.Subject == "" {
		return LoginResult{}, apperr.Field("subject", "the identity provider named no issuer or subject")
	}
	if id.Role != "" {
		if err := checkRole(id.Role); err != nil {
			return LoginResult{}, err
		}
	}
	u, linked, err := s.findExternal(ctx, id)
	fail := failure{username: u.Username, userID: u.ID, ip: ip, action: "user.login_failed"}
	if u.ID == "" {
		fail.username = externalUsername(id)
	}
	switch {
	case errors.Is(err, errAmbiguous):
		fail.reason = reasonAmbiguousMail
		return LoginResult{}, s.reject(ctx, fail, ErrSSOAmbiguous)
	case errors.Is(err, errLinkedElsewhere):
		fail.reason = reasonLinkedElsewhere
		return LoginResult{}, s.reject(ctx, fail, ErrSSOLinkedElsewhere)
	case err != nil:
		return LoginResult{}, err
	case id.Role == "":
		fail.reason = reasonNoRole
		return LoginResult{}, s.reject(ctx, fail, ErrNoRole)
	case u.Disabled:
		fail.reason = reasonDisabled
		return LoginResult{}, s.reject(ctx, fail, ErrSSODisabled)
	}
	phc := ""
	if u.ID == "" {
		if phc, err = s.unusablePassword(ctx); err != nil {
			return LoginResult{}, err
		}
	}
	res, err := s.startExternal(ctx, id, u, linked, phc, ip, userAgent)
	if errors.Is(err, errLastAdmin) {
		fail.reason = reasonLastAdmin
		return LoginResult{}, s.reject(ctx, fail, ErrSSOLastAdmin)
	}
	return res, err
}

var (
	errLastAdmin       = errors.New("would demote the last enabled admin")
	errAmbiguous       = errors.New("several accounts have the email")
	errLinkedElsewhere = errors.New("the account with the email is linked to another subject")
)

// findExternal returns the account linked to id, or else the one whose
// email id verifiably has (linked false), or else a zero User.
func (s *Service) findExternal(ctx context.Context, id ExternalIdentity) (User, bool, error) {
	var userID string
	err := s.db.R.QueryRowContext(ctx, "SELECT user_id FROM user_identities WHERE issuer = $1 AND subject = $2",
		id.Issuer, id.Subject).Scan(&userID)
	switch {
	case err == nil:
		u, _, err := getUser(ctx, s.db.R, userID)
		return u, true, err
	case !errors.Is(err, sql.ErrNoRows):
		return User{}, false, fmt.Errorf("user: find identity: %w", err)
	}
	if !id.EmailVerified || strings.TrimSpace(id.Email) == "" {
		return User{}, false, nil
	}
	rows, err := s.db.R.QueryContext(ctx, "SELECT id FROM users WHERE lower(email) = $1", strings.ToLower(strings.TrimSpace(id.Email)))
	if err != nil {
		return User{}, false, fmt.Errorf("user: find by email: %w", err)
	}
	var ids []string
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return User{}, false, fmt.Errorf("user: find by email: %w", err)
		}
		ids = append(ids, v)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return User{}, false, fmt.Errorf("user: find by email: %w", err)
	}
	switch len(ids) {
	case 0:
		return User{}, false, nil
	case 1:
	default:
		return User{}, false, errAmbiguous
	}
	// An account already linked to another subject of this issuer is not
	// taken over by email: the provider may have given the address to
	// someone new.
	var n int
	if err := s.db.R.QueryRowContext(ctx, "SELECT count(*) FROM user_identities WHERE issuer = $1 AND user_id = $2",
		id.Issuer, ids[0]).Scan(&n); err != nil {
		return User{}, false, fmt.Errorf("user: find identity: %w", err)
	}
	if n > 0 {
		return User{}, false, errLinkedElsewhere
	}
	u, _, err := getUser(ctx, s.db.R, ids[0])
	return u, false, err
}

// unusablePassword hashes 256 random bits that are then forgotten.
func (s *Service) unusablePassword(ctx context.Context) (string, error) {
	raw := make([]byte, tokenBytes)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("password: random: %w", err)
	}
	return s.hashPassword(ctx, base64.RawURLEncoding.EncodeToString(raw))
}

// startExternal creates or updates the account found for id (u, zero for a
// new one; phc its password hash then), links it, and opens a full session,
// all in one transaction.
func (s *Service) startExternal(ctx context.Context, id ExternalIdentity, u User, linked bool, phc, ip, userAgent string) (LoginResult, error) {
	token, tokenHash, err := newToken()
	if err != nil {
		return LoginResult{}, err
	}
	now := s.clock.Now()
	res := LoginResult{Token: token}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if u.ID == "" {
			var err error
			if u, err = s.createExternal(ctx, tx, id, phc, now); err != nil {
				return err
			}
		} else {
			var err error
			if u, _, err = getUser(ctx, tx, u.ID); err != nil {
				return err
			}
		}
		uctx := authz.WithActor(ctx, u.actor())
		if !linked {
			if err := linkIdentity(ctx, tx, id, u.ID, now); err != nil {
				return err
			}
			if _, err := audit.Append(uctx, tx, now, audit.Event{Action: "user.identity_linked", ObjectType: "user", ObjectID: u.ID,
				Change: map[string]string{"issuer": id.Issuer, "subject": id.Subject}}); err != nil {
				return err
			}
		} else if _, err := tx.ExecContext(ctx, "UPDATE user_identities SET last_login_at = $1 WHERE issuer = $2 AND subject = $3",
			now, id.Issuer, id.Subject); err != nil {
			return fmt.Errorf("user: touch identity: %w", err)
		}
		if u.Role != id.Role {
			if u.Role == authz.RoleAdmin && !u.Disabled {
				if n, err := otherActiveAdmins(ctx, tx, u.ID); err != nil || n == 0 {
					return errors.Join(err, errLastAdmin)
				}
			}
			change := map[string]string{"from": string(u.Role), "to": string(id.Role), "source": MethodOIDC}
			u.Role, u.UpdatedAt = id.Role, now
			if err := updateUser(ctx, tx, u); err != nil {
				return err
			}
			uctx = authz.WithActor(ctx, u.actor())
			if _, err := audit.Append(uctx, tx, now, audit.Event{Action: "user.role_changed", ObjectType: "user", ObjectID: u.ID,
				Change: change}); err != nil {
				return err
			}
		}
		if err := pruneSessions(ctx, tx, u.ID, now.Add(-keepEnded)); err != nil {
			return err
		}
		res.Session = Session{ID: newID(), UserID: u.ID, Stage: StageFull, CreatedAt: now, LastSeenAt: now,
			ExpiresAt: now.Add(s.opts.AbsoluteTimeout), IP: ip, UserAgent: userAgent}
		if err := insertSession(ctx, tx, tokenHash, res.Session); err != nil {
			return err
		}
		var err error
		res.EndedOther, err = s.becomeFull(uctx, tx, u.ID, res.Session.ID, MethodOIDC, now)
		return err
	})
	if err != nil {
		return LoginResult{}, err
	}
	res.User = u
	res.User.LastLoginAt = &now
	return res, nil
}

// createExternal inserts a new account for id under a free username made
// from its preferred username or email, and records user.create.
func (s *Service) createExternal(ctx context.Context, tx *sql.Tx, id ExternalIdentity, phc string, now time.Time) (User, error) {
	name, err := freeUsername(ctx, tx, externalUsername(id))
	if err != nil {
		return User{}, err
	}
	email := strings.TrimSpace(id.Email)
	if checkEmail(email) != nil {
		email = ""
	}
	display := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, strings.ToValidUTF8(strings.TrimSpace(id.Name), ""))
	if r := []rune(display); len(r) > MaxDisplayName {
		display = string(r[:MaxDisplayName])
	}
	u := User{ID: newID(), Username: name, DisplayName: display, Email: email, Role: id.Role, CreatedAt: now, UpdatedAt: now}
	if err := insertUser(ctx, tx, u, phc); err != nil {
		return User{}, err
	}
	if _, err := audit.Append(authz.WithActor(ctx, u.actor()), tx, now, audit.Event{Action: "user.create", ObjectType: "user",
		ObjectID: u.ID, Change: map[string]any{"user": u, "source": MethodOIDC}}); err != nil {
		return User{}, err
	}
	return u, nil
}

// freeUsername returns base, or base with the first free "-N" suffix.
func freeUsername(ctx context.Context, tx *sql.Tx, base string) (string, error) {
	for i := 1; i <= 100; i++ {
		try := base
		if i > 1 {
			suffix := "-" + strconv.Itoa(i)
			try = strings.TrimRight(base[:min(len(base), MaxUsername-len(suffix))], ".-_") + suffix
		}
		_, _, found, err := findByUsername(ctx, tx, try)
		if err != nil {
			return "", err
		}
		if !found {
			return try, nil
		}
	}
	return "", apperr.New(apperr.Conflict, "no free username for %q: rename some accounts", base)
}

// externalUsername makes a valid username from id's preferred username, or
// its email's local part, or "sso-user".
func externalUsername(id ExternalIdentity) string {
	for _, cand := range []string{id.Username, strings.SplitN(id.Email, "@", 2)[0]} {
		var b strings.Builder
		for _, r := range strings.ToLower(strings.TrimSpace(cand)) {
			switch {
			case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
				b.WriteRune(r)
			case r == '@':
				b.WriteRune('.')
			}
		}
		name := b.String()
		if len(name) > MaxUsername {
			name = name[:MaxUsername]
		}
		if validUsername(name) {
			return name
		}
	}
	return "sso-user"
}

func linkIdentity(ctx context.Context, tx *sql.Tx, id ExternalIdentity, userID string, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO user_identities (issuer, subject, user_id, created_at, last_login_at)
		VALUES ($1, $2, $3, $4, $5)`, id.Issuer, id.Subject, userID, now, now); err != nil {
		return fmt.Errorf("user: link identity: %w", err)
	}
	return nil
}
