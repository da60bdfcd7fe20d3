// Package user keeps Ward's people: accounts, passwords (argon2id), TOTP
// second factors with recovery codes, WebAuthn security keys, server-side sessions and the limits
// that protect sign-in. It implements the Security Rule's access and
// authentication safeguards for Ward itself: unique user identification
// (45 CFR 164.312(a)(2)(i)), automatic logoff (164.312(a)(2)(iii)), person
// authentication (164.312(d)) and log-in monitoring (164.308(a)(5)(ii)(C)).
//
// Every change and every sign-in attempt appends to the audit trail in the
// transaction that makes it. The entries use these actions:
//
//	setup.token_created, setup.completed, user.create, user.role_changed,
//	user.disabled, user.enabled, user.mfa_reset, user.password_changed,
//	user.password_change_failed, user.logout_everywhere,
//	user.login (a session became full), user.login_mfa_pending,
//	user.login_failed, user.locked, user.mfa_enrolment_started,
//	user.mfa_enabled, user.mfa_failed, user.recovery_code_used,
//	user.identity_linked (single sign-on, SignInExternal),
//	user.webauthn_add, user.webauthn_remove, user.reauth_failed,
//	user.recovery_codes_regenerated, user.invite_created, user.invite_accepted,
//	user.updated (name, email or identity provider names),
//	token.revoke (a disabled user's API tokens),
//	session.<reason> (a session ended; reasons as EndedReason returns them)
//
// A failed attempt's reason (unknown_user, wrong_password, disabled, locked,
// ip_limited; for MFA wrong_code, replayed_code, locked, and for security
// keys webauthn_invalid, webauthn_no_challenge, sign_count_regressed; for
// single sign-on
// no_mapped_role, disabled, last_admin, ambiguous_email,
// email_linked_elsewhere) is part of the
// entry's change, {"username":…,"reason":…}, which the trail keeps as a
// digest. Passwords, codes, secrets and tokens never reach the trail.
package user

import (
	"runtime"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
)

// Stage is how far a session has got through sign-in.
type Stage string

// The session stages.
const (
	// StageFull is a signed-in session.
	StageFull Stage = "full"
	// StageMFA has passed the password and waits for VerifyMFA.
	StageMFA Stage = "mfa"
	// StageEnrollMFA belongs to a privileged user without a second factor:
	// it may only enrol one (BeginTOTP, ConfirmTOTP), which makes it full.
	StageEnrollMFA Stage = "enroll_mfa"
)

// The reasons a session ends, as EndedReason reports them.
const (
	EndIdle              = "idle"                // no request for IdleTimeout
	EndExpired           = "expired"             // AbsoluteTimeout passed since sign-in
	EndSignedInElsewhere = "signed_in_elsewhere" // the user signed in again: one session per user
	EndLogout            = "logout"              // the user signed out (here or everywhere)
	EndRevoked           = "revoked"             // an administrator ended it, or made the user's role need MFA
	EndDisabled          = "disabled"            // the account was disabled
	EndPasswordChanged   = "password_changed"    // the password changed in another session
	EndMFAReset          = "mfa_reset"           // an administrator removed the user's second factor
)

// User is an account (never its password hash or second factor).
type User struct {
	ID          string
	Username    string
	DisplayName string
	Email       string
	Role        authz.Role
	MFAEnabled  bool
	Disabled    bool
	CreatedAt   time.Time
	UpdatedAt   time.Time
	LastLoginAt *time.Time
	// SCIMUserName and SCIMExternalID are what the identity provider that
	// provisioned the user calls them (SCIM userName, externalId); "" for
	// people it did not provision.
	SCIMUserName   string `json:",omitempty"`
	SCIMExternalID string `json:",omitempty"`
}

// actor is the user acting in a context.
func (u User) actor() authz.Actor {
	return authz.Actor{Kind: authz.KindUser, ID: u.ID, Name: u.Username, Role: u.Role}
}

// NewUser is an account to create.
type NewUser struct {
	Username    string
	DisplayName string
	Email       string
	Password    string
	Role        authz.Role
	// SSOOnly makes an account without a password, for a person who signs
	// in with single sign-on: Password is ignored.
	SSOOnly bool
}

// Session is a server-side session. ID is its public name, never the
// secret that the cookie carries.
type Session struct {
	ID         string
	UserID     string
	Stage      Stage
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
	IP         string
	UserAgent  string
}

// LoginResult is a new session.
type LoginResult struct {
	// Token is the cookie's secret: 256 random bits, of which only the
	// SHA-256 is stored. It cannot be shown again.
	Token   string
	Session Session
	User    User
	// EndedOther reports that signing in ended another active session of
	// the user (one active session per user).
	EndedOther bool
}

// TOTPEnrollment is a pending TOTP secret for the user to scan.
type TOTPEnrollment struct {
	Secret string // base32, for typing in by hand
	URL    string // otpauth:// URL, issuer "Ward"
	QRPNG  []byte // the URL as a QR code
}

// Sealer encrypts a small secret bound to where it is stored (table,
// column, row id), so that a ciphertext moved elsewhere fails to open
// (45 CFR 164.312(a)(2)(iv), encryption at rest). The keys package
// implements it.
type Sealer interface {
	Seal(plaintext []byte, table, column, rowID string) (string, error)
	Open(ciphertext string, table, column, rowID string) ([]byte, error)
}

// Argon2Params are argon2id's cost parameters (RFC 9106).
type Argon2Params struct {
	Time      uint32 // passes over memory
	MemoryKiB uint32 // memory per hash, KiB
	Threads   uint8  // lanes
	KeyLen    uint32 // bytes of output
}

// The default argon2id costs: RFC 9106's second recommended option (§4:
// t=3, m=64 MiB) with two lanes, one per core of the 2-core machine Ward is
// sized for (RFC 9106 suggests four; more lanes than cores adds no speed).
// Measured there (Intel Xeon, 2 vCPU, golang.org/x/crypto v0.48.0,
// BenchmarkHashDefault): one hash takes 80–100 ms and allocates 64 MiB;
// two at once (the default Options.MaxConcurrentHashes there: one per
// core) hold at most 128 MiB and complete about 5–10 hashes a second in
// all, which is what the cores allow whatever the bound.
const (
	defaultArgon2Time      = 3
	defaultArgon2MemoryKiB = 64 * 1024
	defaultArgon2Threads   = 2
	defaultArgon2KeyLen    = 32
)

// Options tune the service; a zero field takes its default.
type Options struct {
	// IdleTimeout ends a session after this long without a request
	// (45 CFR 164.312(a)(2)(iii), automatic logoff). Default 15 minutes.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after sign-in. Default 12 hours.
	AbsoluteTimeout time.Duration
	// SetupLinkTTL is how long a first-administrator link lasts. Default 1 hour.
	SetupLinkTTL time.Duration
	// Argon2 are the password hash's costs for new hashes. Default: t=3,
	// m=64 MiB, p=2, 32-byte key: 80–100 ms and 64 MiB per hash on a
	// 2-core machine (measured by BenchmarkHashDefault). Stored hashes keep
	// the parameters they were made with and are remade at the next sign-in.
	Argon2 Argon2Params
	// MaxConcurrentHashes bounds how many password hashes run at once, and
	// so their memory, under a flood of sign-ins; callers beyond it wait
	// (for as long as their context allows). Default: the number of cores
	// Go uses (GOMAXPROCS), so that a flood leaves the scheduler room for
	// every other request (docs/BENCHMARKS.md).
	MaxConcurrentHashes int
	// IPFailureLimit is how many failed sign-ins one source address may
	// make in 15 minutes before its attempts are refused. Default 50.
	IPFailureLimit int
	// Secrets seals TOTP secrets at rest. Without it TOTP enrolment fails.
	Secrets Sealer
	// PublicURL is where people reach Ward: its host is the WebAuthn
	// relying party ID and its origin the one accepted. Without it
	// security keys are off.
	PublicURL string
}

func (o Options) withDefaults() Options {
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 15 * time.Minute
	}
	if o.AbsoluteTimeout <= 0 {
		o.AbsoluteTimeout = 12 * time.Hour
	}
	if o.SetupLinkTTL <= 0 {
		o.SetupLinkTTL = time.Hour
	}
	if o.Argon2 == (Argon2Params{}) {
		o.Argon2 = Argon2Params{Time: defaultArgon2Time, MemoryKiB: defaultArgon2MemoryKiB,
			Threads: defaultArgon2Threads, KeyLen: defaultArgon2KeyLen}
	}
	if o.MaxConcurrentHashes <= 0 {
		o.MaxConcurrentHashes = max(1, runtime.GOMAXPROCS(0))
	}
	if o.IPFailureLimit <= 0 {
		o.IPFailureLimit = 50
	}
	return o
}

// Service manages users and their sessions. It is safe for concurrent use.
type Service struct {
	db     *db.DB
	clock  clock.Clock
	opts   Options
	hashes chan struct{} // semaphore: one slot per running password hash
	// hashKey derives a password's key; argon2id, replaced only by tests.
	hashKey func(password, salt []byte, p Argon2Params) []byte
	common  func() map[string]struct{} // the common-password list, loaded on first use
	wa      *webauthn.WebAuthn         // the WebAuthn relying party; nil without a public URL
}

// NewService returns a Service; zero options take their defaults.
func NewService(d *db.DB, c clock.Clock, opts Options) *Service {
	opts = opts.withDefaults()
	return &Service{
		db: d, clock: c, opts: opts,
		hashes:  make(chan struct{}, opts.MaxConcurrentHashes),
		hashKey: argon2Key,
		common:  loadCommonPasswords(),
		wa:      newRelyingParty(opts.PublicURL),
	}
}
