package user

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/text/unicode/norm"
)

// saltLen is the salt's size: 128 bits, as RFC 9106 §3.1 recommends.
const saltLen = 16

// Bounds on parameters read back from a stored hash, so that a tampered
// row cannot make one verification take gigabytes or minutes.
const (
	maxStoredMemoryKiB = 1 << 20 // 1 GiB
	maxStoredTime      = 64
	minKeyLen          = 16
	maxKeyLen          = 64
)

// argon2Key is argon2id.
func argon2Key(password, salt []byte, p Argon2Params) []byte {
	return argon2.IDKey(password, salt, p.Time, p.MemoryKiB, p.Threads, p.KeyLen)
}

// normalizePassword applies NFKC, so that a password typed on another
// device with another Unicode composition still matches (NIST SP 800-63B
// §5.1.1.2: normalise before hashing).
func normalizePassword(pw string) []byte { return []byte(norm.NFKC.String(pw)) }

// derive runs one hash while holding a slot of the semaphore, waiting for
// a slot as long as ctx allows.
func (s *Service) derive(ctx context.Context, password, salt []byte, p Argon2Params) ([]byte, error) {
	select {
	case s.hashes <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-s.hashes }()
	return s.hashKey(password, salt, p), nil
}

// hashPassword returns the argon2id hash of pw in PHC string format:
// $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<key>, both base64
// without padding.
func (s *Service) hashPassword(ctx context.Context, pw string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	p := s.opts.Argon2
	key, err := s.derive(ctx, normalizePassword(pw), salt, p)
	if err != nil {
		return "", err
	}
	return encodePHC(p, salt, key), nil
}

// verifyPassword reports whether pw matches the stored PHC hash and
// whether the hash should be remade with the configured parameters.
func (s *Service) verifyPassword(ctx context.Context, pw, phc string) (ok, rehash bool, err error) {
	p, salt, want, err := decodePHC(phc)
	if err != nil {
		return false, false, err
	}
	got, err := s.derive(ctx, normalizePassword(pw), salt, p)
	if err != nil {
		return false, false, err
	}
	ok = subtle.ConstantTimeCompare(got, want) == 1
	return ok, ok && p != s.opts.Argon2, nil
}

// spendHash does the work of one verification and discards it, so that
// trying an unknown username takes as long as trying a wrong password.
func (s *Service) spendHash(ctx context.Context, pw string) error {
	salt := make([]byte, saltLen)
	_, err := s.derive(ctx, normalizePassword(pw), salt, s.opts.Argon2)
	return err
}

func encodePHC(p Argon2Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

var errBadHash = errors.New("stored password hash is not an argon2id PHC string")

func decodePHC(phc string) (Argon2Params, []byte, []byte, error) {
	parts := strings.Split(phc, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return Argon2Params{}, nil, nil, errBadHash
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil ||
		parts[3] != fmt.Sprintf("m=%d,t=%d,p=%d", p.MemoryKiB, p.Time, p.Threads) {
		return Argon2Params{}, nil, nil, errBadHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return Argon2Params{}, nil, nil, errBadHash
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil {
		return Argon2Params{}, nil, nil, errBadHash
	}
	p.KeyLen = uint32(len(key))
	if p.Time < 1 || p.Time > maxStoredTime || p.Threads < 1 || p.MemoryKiB < 8*uint32(p.Threads) ||
		p.MemoryKiB > maxStoredMemoryKiB || len(salt) < 8 || len(key) < minKeyLen || len(key) > maxKeyLen {
		return Argon2Params{}, nil, nil, errBadHash
	}
	return p, salt, key, nil
}
