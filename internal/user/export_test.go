package user

import "context"

// Hooks into the package's internals for its tests.

// SetHashKey replaces the key derivation (argon2id) of s.
func SetHashKey(s *Service, f func(password, salt []byte, p Argon2Params) []byte) { s.hashKey = f }

// Argon2Key is the real key derivation.
func Argon2Key(password, salt []byte, p Argon2Params) []byte { return argon2Key(password, salt, p) }

// CheckPassword applies the password rules.
func (s *Service) CheckPassword(pw, username string) error { return s.checkPassword(pw, username) }

// HashPassword hashes pw with the configured parameters.
func (s *Service) HashPassword(ctx context.Context, pw string) (string, error) {
	return s.hashPassword(ctx, pw)
}

// LockFor is the lock the n-th consecutive failure brings.
var LockFor = lockFor
