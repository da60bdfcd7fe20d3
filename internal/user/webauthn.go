package user

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
)

// WebAuthn (W3C Web Authentication Level 3) security keys and passkeys as
// a second factor beside TOTP (45 CFR 164.312(d), person or entity
// authentication).
const (
	methodWebAuthn = "webauthn"

	ceremonyRegister = "register"
	ceremonyLogin    = "login"
	// ceremonyTTL is how long a challenge may be answered; browsers time
	// out sooner (the options ask for the library's default, 5 minutes).
	ceremonyTTL = 5 * time.Minute

	maxKeyName = 64
	// maxKeys per user: enough for a spare of every kind.
	maxKeys = 10

	reasonBadAssertion  = "webauthn_invalid"
	reasonNoChallenge   = "webauthn_no_challenge"
	reasonSignCountBack = "sign_count_regressed" // a cloned authenticator (WebAuthn L3 §6.1.1)
)

// ErrKey is a refused security-key sign-in: wrong key, stale challenge,
// a signature counter that went back, or a locked account.
var ErrKey = apperr.New(apperr.Unauthorized, "The security key's answer was not accepted.")

var errNoWebAuthn = apperr.New(apperr.Conflict, "security keys need Ward's public URL (--public-url) to be set")

// newRelyingParty makes the WebAuthn relying party from Ward's public base
// URL: its host is the RP ID and its origin the only origin accepted
// (WebAuthn L3 §5.1.3 step 9, §7.1 step 9). Nil when publicURL is unusable.
func newRelyingParty(publicURL string) *webauthn.WebAuthn {
	u, err := url.Parse(publicURL)
	if err != nil || u.Hostname() == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil
	}
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          u.Hostname(),
		RPDisplayName: issuer,
		RPOrigins:     []string{u.Scheme + "://" + u.Host},
		// A second factor after the password: user presence is enough,
		// as for a touch on a security key (WebAuthn L3 §5.8.6).
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			UserVerification: protocol.VerificationDiscouraged,
			ResidentKey:      protocol.ResidentKeyRequirementDiscouraged,
		},
		AttestationPreference: protocol.PreferNoAttestation,
	})
	if err != nil {
		return nil
	}
	return wa
}

// WebAuthnKey is one registered security key or passkey.
type WebAuthnKey struct {
	ID         string
	Name       string
	AAGUID     string
	Transports []string
	CreatedAt  time.Time
	LastUsedAt *time.Time
}

// Factors are the second factors a user has, and how many of their
// recovery codes are unused.
type Factors struct {
	TOTP          bool
	Keys          int
	RecoveryCodes int
}

// waUser is a user as the WebAuthn library sees it. The user handle is
// Ward's user id, random (UUIDv7) and not the username (WebAuthn L3
// §14.6.1).
type waUser struct {
	u     User
	creds []webauthn.Credential
}

func (w waUser) WebAuthnID() []byte                         { return []byte(w.u.ID) }
func (w waUser) WebAuthnName() string                       { return w.u.Username }
func (w waUser) WebAuthnDisplayName() string                { return w.u.DisplayName }
func (w waUser) WebAuthnCredentials() []webauthn.Credential { return w.creds }

func (s *Service) waUser(ctx context.Context, q db.Querier, u User) (waUser, []keyRow, error) {
	rows, err := listKeys(ctx, q, u.ID)
	if err != nil {
		return waUser{}, nil, err
	}
	w := waUser{u: u}
	for _, r := range rows {
		w.creds = append(w.creds, r.credential())
	}
	return w, rows, nil
}

// SecondFactors tells which second factors the signed-in user has; the
// two-factor check offers those.
func (s *Service) SecondFactors(ctx context.Context) (Factors, error) {
	a, err := self(ctx)
	if err != nil {
		return Factors{}, err
	}
	t, ok, err := getTOTP(ctx, s.db.R, a.ID)
	if err != nil {
		return Factors{}, err
	}
	keys, err := listKeys(ctx, s.db.R, a.ID)
	if err != nil {
		return Factors{}, err
	}
	unused, err := countUnusedRecoveryCodes(ctx, s.db.R, a.ID)
	if err != nil {
		return Factors{}, err
	}
	return Factors{TOTP: ok && t.confirmed, Keys: len(keys), RecoveryCodes: unused}, nil
}

// WebAuthnKeys lists the signed-in user's security keys, oldest first.
func (s *Service) WebAuthnKeys(ctx context.Context) ([]WebAuthnKey, error) {
	a, err := self(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := listKeys(ctx, s.db.R, a.ID)
	if err != nil {
		return nil, err
	}
	out := make([]WebAuthnKey, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.WebAuthnKey)
	}
	return out, nil
}

// BeginWebAuthnRegistration starts adding a security key for the
// signed-in user, in the session the context names (WithSession). It
// returns the options for navigator.credentials.create as JSON, binary
// values base64url; the challenge stays on the server with the session.
func (s *Service) BeginWebAuthnRegistration(ctx context.Context) ([]byte, error) {
	a, err := self(ctx)
	if err != nil {
		return nil, err
	}
	if s.wa == nil {
		return nil, errNoWebAuthn
	}
	cur, ok := SessionFrom(ctx)
	if !ok || cur.UserID != a.ID {
		return nil, apperr.New(apperr.Unauthorized, "a session is needed to add a security key")
	}
	u, _, err := getUser(ctx, s.db.R, a.ID)
	if err != nil {
		return nil, err
	}
	w, rows, err := s.waUser(ctx, s.db.R, u)
	if err != nil {
		return nil, err
	}
	if len(rows) >= maxKeys {
		return nil, apperr.New(apperr.Conflict, "you have %d security keys, the most allowed: remove one first", maxKeys)
	}
	creation, data, err := s.wa.BeginRegistration(w, webauthn.WithExclusions(webauthn.Credentials(w.creds).CredentialDescriptors()))
	if err != nil {
		return nil, fmt.Errorf("webauthn: begin registration: %w", err)
	}
	return s.startCeremony(ctx, cur.ID, ceremonyRegister, data, creation)
}

// FinishWebAuthnRegistration checks the authenticator's answer to the
// registration started in this session and stores the key as name. An
// answer that does not verify is an Invalid error on the field
// "credential". As with ConfirmTOTP, a session waiting to enrol becomes
// full and the user's other such sessions now need the second factor.
//
// When the key is the user's first second factor (no TOTP and no unused
// recovery code), 10 recovery codes are issued with it, stored as hashes
// as ConfirmTOTP's are; the bool result is then true and TakeRecoveryCodes
// returns the codes, once, in this session.
func (s *Service) FinishWebAuthnRegistration(ctx context.Context, name string, response []byte) (WebAuthnKey, bool, error) {
	a, err := self(ctx)
	if err != nil {
		return WebAuthnKey{}, false, err
	}
	if s.wa == nil {
		return WebAuthnKey{}, false, errNoWebAuthn
	}
	name = strings.TrimSpace(name)
	switch {
	case name == "":
		return WebAuthnKey{}, false, apperr.Field("name", "is required: name the key so that you can tell it from others")
	case utf8.RuneCountInString(name) > maxKeyName || strings.ContainsFunc(name, isControl):
		return WebAuthnKey{}, false, apperr.Field("name", "must be at most %d characters without control characters", maxKeyName)
	}
	cur, ok := SessionFrom(ctx)
	if !ok || cur.UserID != a.ID {
		return WebAuthnKey{}, false, apperr.New(apperr.Unauthorized, "a session is needed to add a security key")
	}
	data, found, err := s.takeCeremony(ctx, cur.ID, ceremonyRegister)
	if err != nil {
		return WebAuthnKey{}, false, err
	}
	if !found {
		return WebAuthnKey{}, false, apperr.Field("credential", "came after the registration timed out or finished: start again")
	}
	u, _, err := getUser(ctx, s.db.R, a.ID)
	if err != nil {
		return WebAuthnKey{}, false, err
	}
	w, _, err := s.waUser(ctx, s.db.R, u)
	if err != nil {
		return WebAuthnKey{}, false, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return WebAuthnKey{}, false, apperr.Field("credential", "is not a WebAuthn registration response: %s", protocolDetail(err))
	}
	cred, err := s.wa.CreateCredential(w, data, parsed)
	if err != nil {
		return WebAuthnKey{}, false, apperr.Field("credential", "was not accepted: %s", protocolDetail(err))
	}
	now := s.clock.Now()
	k := keyRow{WebAuthnKey: WebAuthnKey{ID: newID(), Name: name, AAGUID: aaguidString(cred.Authenticator.AAGUID),
		Transports: transports(cred.Transport), CreatedAt: now},
		credentialID: cred.ID, publicKey: cred.PublicKey, attestationType: cred.AttestationType,
		signCount: cred.Authenticator.SignCount, backupEligible: cred.Flags.BackupEligible}
	var issued bool
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		taken, err := keyExists(ctx, tx, cred.ID)
		if err != nil {
			return err
		}
		if taken {
			return apperr.Field("credential", "is from a key that is registered already")
		}
		if err := insertKey(ctx, tx, a.ID, k); err != nil {
			return err
		}
		change := map[string]any{"key_id": k.ID, "name": name, "aaguid": k.AAGUID}
		issued, err = s.issueFirstRecoveryCodes(ctx, tx, a.ID, cur.ID, now)
		if err != nil {
			return err
		}
		if issued {
			change["recovery_codes"] = recoveryCount
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "user.webauthn_add", ObjectType: "user", ObjectID: a.ID,
			Change: change}); err != nil {
			return err
		}
		if cur.Stage == StageEnrollMFA {
			upgraded, err := setStage(ctx, tx, cur.ID, StageEnrollMFA, StageFull)
			if err != nil {
				return err
			}
			if upgraded {
				if _, err := s.becomeFull(ctx, tx, a.ID, cur.ID, methodWebAuthn, now); err != nil {
					return err
				}
			}
		}
		return setUserStage(ctx, tx, a.ID, StageEnrollMFA, StageMFA)
	})
	if err != nil {
		return WebAuthnKey{}, false, err
	}
	return k.WebAuthnKey, issued, nil
}

// RemoveWebAuthnKey removes one of the signed-in user's security keys
// after checking their password again (a stolen session alone must not
// weaken the account). A wrong password counts toward the lockout. A user
// whose role needs a second factor cannot remove their last one.
func (s *Service) RemoveWebAuthnKey(ctx context.Context, id, password string) error {
	a, err := self(ctx)
	if err != nil {
		return err
	}
	u, phc, err := getUser(ctx, s.db.R, a.ID)
	if err != nil {
		return err
	}
	if err := s.reauthenticate(ctx, u, phc, password); err != nil {
		return err
	}
	now := s.clock.Now()
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		rows, err := listKeys(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		var k *keyRow
		for i := range rows {
			if rows[i].ID == id {
				k = &rows[i]
			}
		}
		if k == nil {
			return apperr.New(apperr.NotFound, "no security key %q", id)
		}
		t, hasTOTP, err := getTOTP(ctx, tx, u.ID)
		if err != nil {
			return err
		}
		if len(rows) == 1 && !(hasTOTP && t.confirmed) && authz.PrivilegedRole(u.Role) {
			// 45 CFR 164.312(d): privileged roles keep a second factor.
			return apperr.New(apperr.Conflict, "your role needs a second factor: add another key or an authenticator app first")
		}
		if err := deleteKey(ctx, tx, u.ID, id); err != nil {
			return err
		}
		if err := clearAccount(ctx, tx, u.Username); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "user.webauthn_remove", ObjectType: "user", ObjectID: u.ID,
			Change: map[string]string{"key_id": id, "name": k.Name}})
		return err
	})
}

// BeginWebAuthnLogin starts the security-key check of a session waiting
// for its second factor (StageMFA): the options for
// navigator.credentials.get as JSON. The challenge stays on the server.
func (s *Service) BeginWebAuthnLogin(ctx context.Context, token string) ([]byte, error) {
	if s.wa == nil {
		return nil, errNoWebAuthn
	}
	row, err := s.openSession(ctx, token)
	if err != nil {
		return nil, err
	}
	if row.Stage != StageMFA {
		return nil, ErrSession
	}
	u, _, err := getUser(ctx, s.db.R, row.UserID)
	if err != nil {
		return nil, err
	}
	w, rows, err := s.waUser(ctx, s.db.R, u)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, apperr.New(apperr.NotFound, "you have no security key: use your authenticator app or a recovery code")
	}
	assertion, data, err := s.wa.BeginLogin(w)
	if err != nil {
		return nil, fmt.Errorf("webauthn: begin login: %w", err)
	}
	return s.startCeremony(ctx, row.ID, ceremonyLogin, data, assertion)
}

// FinishWebAuthnLogin completes a StageMFA session with the
// authenticator's answer to the challenge BeginWebAuthnLogin gave. A
// challenge is answered once. An answer that does not verify, and a
// signature counter that did not go up (a cloned authenticator, WebAuthn
// L3 §6.1.1), are refused with ErrKey, recorded as user.mfa_failed and
// counted toward the account's lockout as a wrong TOTP code is. On
// success the session becomes full as with VerifyMFA.
func (s *Service) FinishWebAuthnLogin(ctx context.Context, token string, response []byte) (LoginResult, error) {
	if s.wa == nil {
		return LoginResult{}, errNoWebAuthn
	}
	ctx, m, err := s.startMFA(ctx, token, ErrKey)
	if err != nil {
		return LoginResult{}, err
	}
	row, u, fail, now := m.row, m.user, m.fail, m.now
	data, found, err := s.takeCeremony(ctx, row.ID, ceremonyLogin)
	if err != nil {
		return LoginResult{}, err
	}
	if !found {
		fail.reason = reasonNoChallenge
		return LoginResult{}, s.reject(ctx, fail, ErrKey)
	}
	w, rows, err := s.waUser(ctx, s.db.R, u)
	if err != nil {
		return LoginResult{}, err
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		fail.reason = reasonBadAssertion
		return LoginResult{}, s.reject(ctx, fail, ErrKey)
	}
	cred, err := s.wa.ValidateLogin(w, data, parsed)
	if err != nil {
		fail.reason = reasonBadAssertion
		return LoginResult{}, s.reject(ctx, fail, ErrKey)
	}
	var k keyRow
	for _, r := range rows {
		if bytes.Equal(r.credentialID, cred.ID) {
			k = r
		}
	}
	if cred.Authenticator.CloneWarning || k.ID == "" {
		fail.reason = reasonSignCountBack
		return LoginResult{}, s.reject(ctx, fail, ErrKey)
	}
	res := LoginResult{Token: token, Session: row.Session, User: u}
	res.Session.Stage = StageFull
	uctx := authz.WithActor(ctx, u.actor())
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		used, err := useKey(ctx, tx, k.ID, k.signCount, parsed.Response.AuthenticatorData.Counter, now)
		if err != nil {
			return err
		}
		if !used {
			return errCodeRace
		}
		upgraded, err := setStage(ctx, tx, row.ID, StageMFA, StageFull)
		if err != nil {
			return err
		}
		if !upgraded {
			return ErrSession
		}
		if err := clearAccount(ctx, tx, u.Username); err != nil {
			return err
		}
		res.EndedOther, err = s.becomeFull(uctx, tx, u.ID, row.ID, methodWebAuthn, now)
		return err
	})
	if errors.Is(err, errCodeRace) {
		fail.reason = reasonSignCountBack
		return LoginResult{}, s.reject(ctx, fail, ErrKey)
	}
	if err != nil {
		return LoginResult{}, err
	}
	res.User.LastLoginAt = &now
	return res, nil
}

// startCeremony keeps data for the session's ceremony of this kind,
// replacing any earlier one, and returns options as JSON.
func (s *Service) startCeremony(ctx context.Context, sessionID, kind string, data *webauthn.SessionData, options any) ([]byte, error) {
	raw, err := json.Marshal(data)
	if err != nil {
		return nil, fmt.Errorf("webauthn: session data: %w", err)
	}
	out, err := json.Marshal(options)
	if err != nil {
		return nil, fmt.Errorf("webauthn: options: %w", err)
	}
	now := s.clock.Now()
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		return putCeremony(ctx, tx, sessionID, kind, string(raw), now.Add(ceremonyTTL), now)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// takeCeremony removes and returns the session's ceremony of this kind;
// found is false when there is none or it has expired.
func (s *Service) takeCeremony(ctx context.Context, sessionID, kind string) (webauthn.SessionData, bool, error) {
	var raw string
	var found bool
	now := s.clock.Now()
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		raw, found, err = popCeremony(ctx, tx, sessionID, kind, now)
		return err
	})
	if err != nil || !found {
		return webauthn.SessionData{}, false, err
	}
	var data webauthn.SessionData
	if err := json.Unmarshal([]byte(raw), &data); err != nil {
		return webauthn.SessionData{}, false, fmt.Errorf("webauthn: session data: %w", err)
	}
	return data, true, nil
}

// protocolDetail is what a library error tells the user: its short
// description, without the developer detail.
func protocolDetail(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		return pe.Details
	}
	return "the answer did not verify"
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func aaguidString(b []byte) string { return hex.EncodeToString(b) }

func transports(ts []protocol.AuthenticatorTransport) []string {
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, string(t))
	}
	return out
}
