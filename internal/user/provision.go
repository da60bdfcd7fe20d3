package user

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
)

// MaxSCIMUserName is the longest identity provider user name kept (an
// email address, at most).
const MaxSCIMUserName = MaxEmail

// DefaultProvisionedRole is the role of a person an identity provider
// provisions before it adds them to a role's group: the least privileged
// one (164.308(a)(4), information access management).
const DefaultProvisionedRole = authz.RoleStakeholder

// Profile is a person as an identity provider provisions them (SCIM,
// RFC 7643 4.1). UserName is its sign-in name for them; Ward makes its
// own username from it.
type Profile struct {
	UserName    string
	ExternalID  string
	DisplayName string
	Email       string
	Active      bool
}

func (p *Profile) normalise() error {
	p.UserName, p.ExternalID = strings.TrimSpace(p.UserName), strings.TrimSpace(p.ExternalID)
	p.DisplayName, p.Email = strings.TrimSpace(p.DisplayName), strings.TrimSpace(p.Email)
	for field, v := range map[string]string{"userName": p.UserName, "externalId": p.ExternalID} {
		if len(v) > MaxSCIMUserName || !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0 {
			return apperr.Field(field, "must be at most %d characters, without control characters", MaxSCIMUserName)
		}
	}
	if p.UserName == "" {
		return apperr.Field("userName", "is required")
	}
	if err := checkDisplayName(p.DisplayName); err != nil {
		return err
	}
	return checkEmail(p.Email)
}

// Provision creates an account for p, with role DefaultProvisionedRole
// and no password (the person signs in with single sign-on). It needs
// authz.UserAdmin and refuses a user name already provisioned (Conflict).
func (s *Service) Provision(ctx context.Context, p Profile) (User, error) {
	if _, err := authz.Check(ctx, authz.UserAdmin); err != nil {
		return User{}, err
	}
	if err := p.normalise(); err != nil {
		return User{}, err
	}
	phc, err := s.unusablePassword(ctx)
	if err != nil {
		return User{}, err
	}
	now := s.clock.Now()
	u := User{ID: newID(), DisplayName: p.DisplayName, Email: p.Email, Role: DefaultProvisionedRole, Disabled: !p.Active,
		SCIMUserName: p.UserName, SCIMExternalID: p.ExternalID, CreatedAt: now, UpdatedAt: now}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, found, err := findProvisioned(ctx, tx, p.UserName); err != nil || found {
			if found {
				return apperr.New(apperr.Conflict, "a user with this userName exists")
			}
			return err
		}
		if u.Username, err = freeUsername(ctx, tx, externalUsername(ExternalIdentity{Username: p.UserName, Email: p.Email})); err != nil {
			return err
		}
		if err := insertUser(ctx, tx, u, phc); err != nil {
			return err
		}
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "user.create", ObjectType: "user", ObjectID: u.ID,
			Change: map[string]any{"user": u, "source": "scim"}})
		return err
	})
	if err != nil {
		return User{}, err
	}
	return u, nil
}

// FindProvisioned returns the user an identity provider calls userName:
// the one it provisioned with that name, or else the one whose Ward
// username it is (compared without case, RFC 7643 4.1.1). It needs
// authz.UserAdmin.
func (s *Service) FindProvisioned(ctx context.Context, userName string) (User, bool, error) {
	if _, err := authz.Check(ctx, authz.UserAdmin); err != nil {
		return User{}, false, err
	}
	return findProvisioned(ctx, s.db.R, strings.TrimSpace(userName))
}

func findProvisioned(ctx context.Context, q db.Querier, userName string) (User, bool, error) {
	u, _, err := scanUser(q.QueryRowContext(ctx, userSelect+` WHERE lower(u.scim_user_name) = $2
		OR (u.scim_user_name IS NULL AND u.username = $2)`, false, strings.ToLower(userName)))
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, false, nil
	}
	if err != nil {
		return User{}, false, fmt.Errorf("user: find provisioned: %w", err)
	}
	return u, true, nil
}

// UpdateProfile replaces the name, email, identity provider names and
// active state of the user ref names, in one transaction. Deactivating
// is Disable (sessions end and API tokens are revoked at once; never the
// last enabled admin); activating is Enable. It needs authz.UserAdmin.
func (s *Service) UpdateProfile(ctx context.Context, ref string, p Profile) (User, error) {
	if err := p.normalise(); err != nil {
		return User{}, err
	}
	return s.adminChange(ctx, ref, func(tx *sql.Tx, u *User) (string, any, string, error) {
		if !strings.EqualFold(p.UserName, u.SCIMUserName) && !(u.SCIMUserName == "" && strings.EqualFold(p.UserName, u.Username)) {
			if other, found, err := findProvisioned(ctx, tx, p.UserName); err != nil || found && other.ID != u.ID {
				if err == nil {
					err = apperr.New(apperr.Conflict, "a user with this userName exists")
				}
				return "", nil, "", err
			}
		}
		profileChanged := u.DisplayName != p.DisplayName || u.Email != p.Email || u.SCIMUserName != p.UserName || u.SCIMExternalID != p.ExternalID
		u.DisplayName, u.Email, u.SCIMUserName, u.SCIMExternalID = p.DisplayName, p.Email, p.UserName, p.ExternalID
		action, change, end := "", any(nil), ""
		switch {
		case p.Active == u.Disabled && !p.Active:
			if u.Role == authz.RoleAdmin {
				if err := requireOtherAdmin(ctx, tx, u); err != nil {
					return "", nil, "", err
				}
			}
			u.Disabled = true
			action, change, end = "user.disabled", map[string]bool{"disabled": true}, EndDisabled
		case p.Active == u.Disabled:
			u.Disabled = false
			action, change = "user.enabled", map[string]bool{"disabled": false}
		}
		if !profileChanged {
			return action, change, end, nil
		}
		updated := map[string]string{"scim_user_name": u.SCIMUserName, "scim_external_id": u.SCIMExternalID}
		if action == "" {
			return "user.updated", updated, "", nil
		}
		_, err := audit.Append(ctx, tx, s.clock.Now(), audit.Event{Action: "user.updated", ObjectType: "user", ObjectID: u.ID, Change: updated})
		return action, change, end, err
	})
}
