package user

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"database/sql"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
)

// TOTP as RFC 6238 and authenticator apps use it: SHA-1, six digits, 30 s
// steps; one step either side is accepted for clock drift.
const (
	totpPeriod   = 30
	totpDigits   = otp.DigitsSix
	totpSecret   = 20 // bytes, 160 bits (RFC 4226 §4 recommends 160)
	totpQRPixels = 256
	issuer       = "Ward"

	// Where a TOTP secret is stored, which its sealing is bound to.
	totpTable  = "user_totp"
	totpColumn = "secret"

	recoveryCount = 10
	recoveryBytes = 10 // 80 random bits, 16 base32 characters

	methodTOTP     = "totp"
	methodRecovery = "recovery_code"
)

// recoveryEncoding is Crockford's base32: no I, L, O or U to misread.
var recoveryEncoding = base32.NewEncoding("0123456789ABCDEFGHJKMNPQRSTVWXYZ").WithPadding(base32.NoPadding)

func totpOptions() totp.ValidateOpts {
	return totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1}
}

// BeginTOTP starts TOTP enrolment for the signed-in user: a new secret,
// sealed at rest and pending until ConfirmTOTP, replacing any earlier
// pending one. It fails with Conflict when the user already has TOTP.
func (s *Service) BeginTOTP(ctx context.Context) (TOTPEnrollment, error) {
	a, err := self(ctx)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	if s.opts.Secrets == nil {
		return TOTPEnrollment{}, errors.New("totp: no Sealer configured to protect secrets")
	}
	u, _, err := getUser(ctx, s.db.R, a.ID)
	if err != nil {
		return TOTPEnrollment{}, err
	}
	if t, ok, err := getTOTP(ctx, s.db.R, u.ID); err != nil || (ok && t.confirmed) {
		if err != nil {
			return TOTPEnrollment{}, err
		}
		return TOTPEnrollment{}, errMFAOn
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: issuer, AccountName: u.Username, Period: totpPeriod,
		SecretSize: totpSecret, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("totp: generate: %w", err)
	}
	sealed, err := s.opts.Secrets.Seal([]byte(key.Secret()), totpTable, totpColumn, u.ID)
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("totp: seal: %w", err)
	}
	img, err := key.Image(totpQRPixels, totpQRPixels)
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("totp: qr code: %w", err)
	}
	var qr bytes.Buffer
	if err := png.Encode(&qr, img); err != nil {
		return TOTPEnrollment{}, fmt.Errorf("totp: qr code: %w", err)
	}
	now := s.clock.Now()
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if err := putPendingTOTP(ctx, tx, u.ID, sealed, now); err != nil {
			return err
		}
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "user.mfa_enrolment_started", ObjectType: "user", ObjectID: u.ID,
			Change: map[string]string{"method": methodTOTP}})
		return err
	})
	if err != nil {
		return TOTPEnrollment{}, err
	}
	return TOTPEnrollment{Secret: key.Secret(), URL: key.URL(), QRPNG: qr.Bytes()}, nil
}

// ConfirmTOTP finishes enrolment with the current code from the user's
// app: MFA is on from then, and it returns 10 new recovery codes, shown
// this once and stored only as hashes. In a web session they are also
// kept sealed for TakeRecoveryCodes to show once, on the page the form
// redirects to (as RegenerateRecoveryCodes does). A wrong code is an Invalid error on
// the field "code". The session in the context (WithSession), if it was
// waiting to enrol, becomes full, as at sign-in; the user's other sessions
// that were waiting to enrol now need the new factor (StageMFA).
func (s *Service) ConfirmTOTP(ctx context.Context, code string) ([]string, error) {
	a, err := self(ctx)
	if err != nil {
		return nil, err
	}
	t, ok, err := getTOTP(ctx, s.db.R, a.ID)
	if err != nil {
		return nil, err
	}
	if ok && t.confirmed {
		return nil, errMFAOn
	}
	if !ok {
		return nil, apperr.Field("code", "no enrolment is waiting: start again")
	}
	secret, err := s.openSecret(t.sealed, a.ID)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	step, reason := matchTOTP(secret, normalizeCode(code), now, t.lastStep)
	if reason != "" {
		return nil, apperr.Field("code", "does not match: enter the code your authenticator app shows now")
	}
	codes, hashes, err := newRecoveryCodes()
	if err != nil {
		return nil, err
	}
	cur, hasCur := SessionFrom(ctx)
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		confirmed, err := confirmTOTP(ctx, tx, a.ID, t.sealed, step, now)
		if err != nil {
			return err
		}
		if !confirmed {
			return apperr.Field("code", "the enrolment changed meanwhile: start again")
		}
		if err := replaceRecoveryCodes(ctx, tx, a.ID, hashes, now); err != nil {
			return err
		}
		if hasCur && cur.UserID == a.ID {
			if err := s.keepCodesToShow(ctx, tx, cur.ID, codes, now); err != nil {
				return err
			}
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "user.mfa_enabled", ObjectType: "user", ObjectID: a.ID,
			Change: map[string]any{"method": methodTOTP, "recovery_codes": len(codes)}}); err != nil {
			return err
		}
		if hasCur && cur.UserID == a.ID && cur.Stage == StageEnrollMFA {
			upgraded, err := setStage(ctx, tx, cur.ID, StageEnrollMFA, StageFull)
			if err != nil {
				return err
			}
			if upgraded {
				if _, err := s.becomeFull(ctx, tx, a.ID, cur.ID, methodTOTP, now); err != nil {
					return err
				}
			}
		}
		return setUserStage(ctx, tx, a.ID, StageEnrollMFA, StageMFA)
	})
	if err != nil {
		return nil, err
	}
	return codes, nil
}

func (s *Service) openSecret(sealed, userID string) (string, error) {
	if s.opts.Secrets == nil {
		return "", errors.New("totp: no Sealer configured to open secrets")
	}
	secret, err := s.opts.Secrets.Open(sealed, totpTable, totpColumn, userID)
	if err != nil {
		return "", fmt.Errorf("totp: open secret: %w", err)
	}
	return string(secret), nil
}

// normalizeCode drops the spaces and dashes people type or paste.
func normalizeCode(code string) string {
	return strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, strings.TrimSpace(code))
}

func isTOTPCode(code string) bool {
	if len(code) != totpDigits.Length() {
		return false
	}
	for _, r := range code {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// matchTOTP finds the time step, at now or one either side, whose code is
// code. It returns reasonWrongCode when none matches and
// reasonReplayedCode when the step is not newer than lastStep: that code,
// or a later one, was accepted before.
func matchTOTP(secret, code string, now time.Time, lastStep int64) (int64, string) {
	if !isTOTPCode(code) {
		return 0, reasonWrongCode
	}
	current := now.Unix() / totpPeriod
	for _, step := range []int64{current, current - 1, current + 1} {
		want, err := totp.GenerateCodeCustom(secret, time.Unix(step*totpPeriod, 0), totpOptions())
		if err != nil {
			return 0, reasonWrongCode
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 {
			if step <= lastStep {
				return step, reasonReplayedCode
			}
			return step, ""
		}
	}
	return 0, reasonWrongCode
}

// newRecoveryCodes returns recoveryCount codes formatted XXXX-XXXX-XXXX-XXXX
// and their hashes.
func newRecoveryCodes() ([]string, []string, error) {
	codes := make([]string, recoveryCount)
	hashes := make([]string, recoveryCount)
	raw := make([]byte, recoveryBytes)
	for i := range codes {
		if _, err := rand.Read(raw); err != nil {
			return nil, nil, fmt.Errorf("recovery codes: random: %w", err)
		}
		c := recoveryEncoding.EncodeToString(raw)
		codes[i] = c[0:4] + "-" + c[4:8] + "-" + c[8:12] + "-" + c[12:16]
		hashes[i] = recoveryHash(c)
	}
	return codes, hashes, nil
}

// recoveryHash is how a recovery code is stored: SHA-256 of the code in
// canonical form (upper case, misreadable letters mapped as Crockford's
// base32 does). 80 random bits make a fast hash enough.
func recoveryHash(code string) string {
	c := strings.NewReplacer("O", "0", "I", "1", "L", "1").Replace(strings.ToUpper(normalizeCode(code)))
	sum := sha256.Sum256([]byte(c))
	return hex.EncodeToString(sum[:])
}

// codeCheck is a second-factor code that checked out, or why it did not.
type codeCheck struct {
	method string // methodTOTP or methodRecovery
	step   int64  // the TOTP time step
	hash   string // the recovery code's hash
	reason string // why the code is refused; "" when it is good
}

// use marks the code used inside tx and reports whether it still could
// be (a concurrent request may have used it first).
func (c codeCheck) use(ctx context.Context, tx *sql.Tx, userID string, now time.Time) (bool, error) {
	if c.method == methodTOTP {
		return useTOTPStep(ctx, tx, userID, c.step)
	}
	return useRecoveryCode(ctx, tx, userID, c.hash, now)
}

// checkCode checks a TOTP code (six digits) or a recovery code for u.
func (s *Service) checkCode(ctx context.Context, u User, code string, now time.Time) (codeCheck, error) {
	code = normalizeCode(code)
	if isTOTPCode(code) {
		t, ok, err := getTOTP(ctx, s.db.R, u.ID)
		if err != nil {
			return codeCheck{}, err
		}
		if !ok || !t.confirmed {
			return codeCheck{method: methodTOTP, reason: reasonWrongCode}, nil
		}
		secret, err := s.openSecret(t.sealed, u.ID)
		if err != nil {
			return codeCheck{}, err
		}
		step, reason := matchTOTP(secret, code, now, t.lastStep)
		return codeCheck{method: methodTOTP, step: step, reason: reason}, nil
	}
	c := codeCheck{method: methodRecovery, hash: recoveryHash(code)}
	exists, used, err := recoveryCodeState(ctx, s.db.R, u.ID, c.hash)
	switch {
	case err != nil:
		return codeCheck{}, err
	case !exists:
		c.reason = reasonWrongCode
	case used:
		c.reason = reasonReplayedCode
	}
	return c, nil
}
