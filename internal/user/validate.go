package user

import (
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
)

// Field limits.
const (
	MinUsername    = 3
	MaxUsername    = 64
	MaxDisplayName = 200
	MaxEmail       = 254 // RFC 5321's limit on a forward path
)

// normalizeUsername is how a username is compared: trimmed, lower-case.
func normalizeUsername(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// validUsername reports whether s is 3–64 lower-case letters, digits, '.', '_' or '-'.
func validUsername(s string) bool {
	if len(s) < MinUsername || len(s) > MaxUsername {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

// validateNewUser normalises nu's fields in place and checks them; the
// password is checked last, against the normalised username.
func (s *Service) validateNewUser(nu *NewUser) error {
	nu.Username = normalizeUsername(nu.Username)
	nu.DisplayName = strings.TrimSpace(nu.DisplayName)
	nu.Email = strings.TrimSpace(nu.Email)
	if !validUsername(nu.Username) {
		return apperr.Field("username", "must be %d to %d characters: lower-case letters, digits, '.', '_' or '-'",
			MinUsername, MaxUsername)
	}
	if err := checkDisplayName(nu.DisplayName); err != nil {
		return err
	}
	if err := checkEmail(nu.Email); err != nil {
		return err
	}
	if err := checkRole(nu.Role); err != nil {
		return err
	}
	if nu.SSOOnly {
		return nil
	}
	return s.checkPassword(nu.Password, nu.Username)
}

func checkDisplayName(name string) error {
	if utf8.RuneCountInString(name) > MaxDisplayName || !utf8.ValidString(name) {
		return apperr.Field("display_name", "must be at most %d characters", MaxDisplayName)
	}
	if strings.IndexFunc(name, unicode.IsControl) >= 0 {
		return apperr.Field("display_name", "must not contain control characters")
	}
	return nil
}

// checkEmail accepts "" (the address is optional) or one bare address.
func checkEmail(email string) error {
	if email == "" {
		return nil
	}
	a, err := mail.ParseAddress(email)
	if err != nil || a.Name != "" || a.Address != email || len(email) > MaxEmail {
		return apperr.Field("email", "must be an email address such as name@example.org")
	}
	return nil
}

func checkRole(r authz.Role) error {
	if !authz.ValidRole(r) {
		return apperr.Field("role", "%q is not a role; the roles are: %s", r, authz.RoleNames())
	}
	return nil
}
