package user_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/user"
)

const (
	wardURL = "https://ward.example.test"
	wardRP  = "ward.example.test"
)

var b64u = base64.RawURLEncoding

// softKey is a software authenticator: an ECDSA P-256 key pair that
// answers WebAuthn ceremonies as a security key would, with attestation
// "none" (WebAuthn L3 §6.5, §8.7).
type softKey struct {
	t      *testing.T
	priv   *ecdsa.PrivateKey
	id     []byte
	count  uint32
	origin string // the origin the browser reports
	rpID   string // the RP ID the authenticator hashes
}

func newSoftKey(t *testing.T) *softKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 32)
	if _, err := rand.Read(id); err != nil {
		t.Fatal(err)
	}
	return &softKey{t: t, priv: priv, id: id, origin: wardURL, rpID: wardRP}
}

// challenge reads the challenge out of creation or request options.
func (k *softKey) challenge(options []byte) string {
	k.t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(options, &o); err != nil || o.PublicKey.Challenge == "" {
		k.t.Fatalf("options %s: %v", options, err)
	}
	return o.PublicKey.Challenge
}

func (k *softKey) clientData(typ, challenge string) []byte {
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": k.origin, "crossOrigin": false})
	return b
}

// authData is rpIdHash, flags, counter and, when attested, the
// credential data (WebAuthn L3 §6.1).
func (k *softKey) authData(flags byte, attested bool) []byte {
	k.t.Helper()
	rp := sha256.Sum256([]byte(k.rpID))
	out := append([]byte{}, rp[:]...)
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, k.count)
	if !attested {
		return out
	}
	out = append(out, make([]byte, 16)...) // AAGUID: zero for attestation "none"
	out = binary.BigEndian.AppendUint16(out, uint16(len(k.id)))
	out = append(out, k.id...)
	pub, err := k.priv.PublicKey.ECDH()
	if err != nil {
		k.t.Fatal(err)
	}
	raw := pub.Bytes() // 0x04 || x || y
	cose, err := webauthncbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: raw[1:33], -3: raw[33:65]})
	if err != nil {
		k.t.Fatal(err)
	}
	return append(out, cose...)
}

// register answers navigator.credentials.create.
func (k *softKey) register(options []byte) []byte {
	k.t.Helper()
	cd := k.clientData("webauthn.create", k.challenge(options))
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{},
		"authData": k.authData(0x01|0x40, true)}) // UP, AT
	if err != nil {
		k.t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"id": b64u.EncodeToString(k.id), "rawId": b64u.EncodeToString(k.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64u.EncodeToString(cd), "attestationObject": b64u.EncodeToString(att),
			"transports": []string{"usb"}}})
	return b
}

// assert answers navigator.credentials.get with the counter as it is.
func (k *softKey) assert(options []byte) []byte {
	k.t.Helper()
	cd := k.clientData("webauthn.get", k.challenge(options))
	ad := k.authData(0x01, false) // UP
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, ad...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, k.priv, digest[:])
	if err != nil {
		k.t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{"id": b64u.EncodeToString(k.id), "rawId": b64u.EncodeToString(k.id), "type": "public-key",
		"response": map[string]any{"clientDataJSON": b64u.EncodeToString(cd), "authenticatorData": b64u.EncodeToString(ad),
			"signature": b64u.EncodeToString(sig)}})
	return b
}

func newKeyEnv(t *testing.T, d *db.DB) *env {
	return newEnv(t, d, func(o *user.Options) { o.PublicURL = wardURL })
}

// addKey registers k as name in the session of token.
func (e *env) addKey(token, name string, k *softKey) user.WebAuthnKey {
	e.t.Helper()
	key, _ := e.addKeyIssuing(token, name, k)
	return key
}

// addKeyIssuing registers k as name in the session of token and reports
// whether recovery codes came with it.
func (e *env) addKeyIssuing(token, name string, k *softKey) (user.WebAuthnKey, bool) {
	e.t.Helper()
	ctx := e.inSession(token)
	opts, err := e.svc.BeginWebAuthnRegistration(ctx)
	if err != nil {
		e.t.Fatalf("begin registration: %v", err)
	}
	key, issued, err := e.svc.FinishWebAuthnRegistration(ctx, name, k.register(opts))
	if err != nil {
		e.t.Fatalf("finish registration: %v", err)
	}
	return key, issued
}

// keySignIn answers the security-key check of a StageMFA session.
func (e *env) keySignIn(token string, k *softKey) (user.LoginResult, error) {
	e.t.Helper()
	opts, err := e.svc.BeginWebAuthnLogin(context.Background(), token)
	if err != nil {
		e.t.Fatalf("begin login: %v", err)
	}
	return e.svc.FinishWebAuthnLogin(context.Background(), token, k.assert(opts))
}

func TestWebAuthnRegisterAndSignIn(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newKeyEnv(t, d)
		u := e.create("sofia", authz.RoleSecurityOfficer)
		k := newSoftKey(t)

		// A security key alone satisfies the privileged role's need for MFA.
		res := e.login("sofia", goodPassword)
		if res.Session.Stage != user.StageEnrollMFA {
			t.Fatalf("stage %s", res.Session.Stage)
		}
		seq := e.seq()
		key := e.addKey(res.Token, "Blue key", k)
		if key.Name != "Blue key" || key.AAGUID != "00000000000000000000000000000000" || len(key.Transports) != 1 {
			t.Errorf("key %+v", key)
		}
		e.expectActions(seq, "user.webauthn_add", "user.login")
		if e.stage(res.Token) != user.StageFull {
			t.Fatalf("after registration: stage %s", e.stage(res.Token))
		}
		got, err := e.svc.Get(cli, u.ID)
		if err != nil || !got.MFAEnabled {
			t.Fatalf("MFAEnabled %v, %v", got.MFAEnabled, err)
		}
		keys, err := e.svc.WebAuthnKeys(e.inSession(res.Token))
		if err != nil || len(keys) != 1 || keys[0].ID != key.ID || keys[0].LastUsedAt != nil {
			t.Fatalf("keys %+v, %v", keys, err)
		}
		// The same authenticator cannot be registered twice.
		ctx := e.inSession(res.Token)
		opts, err := e.svc.BeginWebAuthnRegistration(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.FinishWebAuthnRegistration(ctx, "Again", k.register(opts)); fieldOf(err) != "credential" {
			t.Fatalf("second registration: %v", err)
		}

		// The next sign-in asks for the key.
		next := e.login("sofia", goodPassword)
		if next.Session.Stage != user.StageMFA {
			t.Fatalf("stage %s", next.Session.Stage)
		}
		f, err := e.svc.SecondFactors(e.inSession(next.Token))
		if err != nil || f != (user.Factors{Keys: 1, RecoveryCodes: 10}) {
			t.Fatalf("factors %+v, %v", f, err)
		}
		seq = e.seq()
		k.count = 1
		done, err := e.keySignIn(next.Token, k)
		if err != nil || done.Session.Stage != user.StageFull || e.stage(next.Token) != user.StageFull || !done.EndedOther {
			t.Fatalf("key sign-in: %+v, %v", done.Session, err)
		}
		e.expectActions(seq, "session.signed_in_elsewhere", "user.login")
		keys, err = e.svc.WebAuthnKeys(e.inSession(next.Token))
		if err != nil || keys[0].LastUsedAt == nil || !keys[0].LastUsedAt.Equal(start) {
			t.Fatalf("last used: %+v, %v", keys, err)
		}

		// A key-only user may add an authenticator app as well.
		if _, err := e.svc.BeginTOTP(e.inSession(next.Token)); err != nil {
			t.Fatalf("begin totp beside a key: %v", err)
		}
	})
}

func TestWebAuthnSignCountRegression(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newKeyEnv(t, d)
		e.create("sofia", authz.RoleSecurityOfficer)
		k := newSoftKey(t)
		k.count = 5
		e.addKey(e.login("sofia", goodPassword).Token, "Blue key", k)

		// A clone answers with a counter that has not gone up.
		res := e.login("sofia", goodPassword)
		seq := e.seq()
		if _, err := e.keySignIn(res.Token, k); err != user.ErrKey {
			t.Fatalf("same counter: got %v, want ErrKey", err)
		}
		expectFailure(t, e.expectActions(seq, "user.mfa_failed")[0], "sofia", "sign_count_regressed")
		k.count = 3
		if _, err := e.keySignIn(res.Token, k); err != user.ErrKey {
			t.Fatalf("lower counter: got %v, want ErrKey", err)
		}
		if e.stage(res.Token) != user.StageMFA {
			t.Fatal("a refused key completed the sign-in")
		}
		// The genuine key, its counter ahead, still works.
		k.count = 6
		if _, err := e.keySignIn(res.Token, k); err != nil {
			t.Fatalf("genuine key: %v", err)
		}
	})
}

func TestWebAuthnWrongOriginAndReplay(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newKeyEnv(t, d)
		e.create("sofia", authz.RoleSecurityOfficer)
		k := newSoftKey(t)

		// Registration from a look-alike site is refused.
		res := e.login("sofia", goodPassword)
		ctx := e.inSession(res.Token)
		opts, err := e.svc.BeginWebAuthnRegistration(ctx)
		if err != nil {
			t.Fatal(err)
		}
		k.origin = "https://ward.example.test.evil.example"
		if _, _, err := e.svc.FinishWebAuthnRegistration(ctx, "Blue key", k.register(opts)); fieldOf(err) != "credential" {
			t.Fatalf("wrong origin registration: %v", err)
		}
		// The challenge was used up by that attempt.
		k.origin = wardURL
		if _, _, err := e.svc.FinishWebAuthnRegistration(ctx, "Blue key", k.register(opts)); fieldOf(err) != "credential" {
			t.Fatalf("reused registration challenge: %v", err)
		}
		if _, _, err := e.svc.FinishWebAuthnRegistration(ctx, " ", nil); fieldOf(err) != "name" {
			t.Fatalf("blank name: %v", err)
		}
		e.addKey(res.Token, "Blue key", k)

		// An assertion made for another origin or RP ID is refused and counted.
		next := e.login("sofia", goodPassword)
		for _, bad := range []struct{ origin, rpID string }{{"https://evil.example", wardRP}, {wardURL, "evil.example"}} {
			k.origin, k.rpID = bad.origin, bad.rpID
			k.count++
			seq := e.seq()
			if _, err := e.keySignIn(next.Token, k); err != user.ErrKey {
				t.Fatalf("%+v: got %v, want ErrKey", bad, err)
			}
			expectFailure(t, e.expectActions(seq, "user.mfa_failed")[0], "sofia", "webauthn_invalid")
		}
		// A good answer is accepted once: its challenge is gone after.
		k.origin, k.rpID = wardURL, wardRP
		k.count++
		opts, err = e.svc.BeginWebAuthnLogin(context.Background(), next.Token)
		if err != nil {
			t.Fatal(err)
		}
		answer := k.assert(opts)
		if _, err := e.svc.FinishWebAuthnLogin(context.Background(), next.Token, answer); err != nil {
			t.Fatalf("good answer: %v", err)
		}
		if _, err := e.svc.FinishWebAuthnLogin(context.Background(), next.Token, answer); err != user.ErrSession {
			t.Fatalf("replayed answer on a full session: got %v, want ErrSession", err)
		}
		third := e.login("sofia", goodPassword)
		seq := e.seq()
		if _, err := e.svc.FinishWebAuthnLogin(context.Background(), third.Token, answer); err != user.ErrKey {
			t.Fatalf("answer without a challenge: got %v, want ErrKey", err)
		}
		expectFailure(t, e.expectActions(seq, "user.mfa_failed")[0], "sofia", "webauthn_no_challenge")
	})
}

func TestWebAuthnFailuresLockTheAccount(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newKeyEnv(t, d)
		e.create("sofia", authz.RoleSecurityOfficer)
		k := newSoftKey(t)
		e.addKey(e.login("sofia", goodPassword).Token, "Blue key", k)
		res := e.login("sofia", goodPassword)
		k.origin = "https://evil.example"
		locked := false
		for i := 0; i < 20 && !locked; i++ {
			seq := e.seq()
			if _, err := e.keySignIn(res.Token, k); err != user.ErrKey {
				t.Fatalf("attempt %d: %v", i, err)
			}
			for _, en := range e.entries(seq) {
				locked = locked || en.Action == "user.locked"
			}
		}
		if !locked {
			t.Fatal("20 failed key answers did not lock the account")
		}
		k.origin = wardURL
		k.count = 100
		if _, err := e.keySignIn(res.Token, k); err != user.ErrKey {
			t.Fatalf("locked account: got %v, want ErrKey", err)
		}
	})
}

func TestWebAuthnRemove(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newKeyEnv(t, d)
		e.create("sofia", authz.RoleSecurityOfficer)
		res := e.login("sofia", goodPassword)
		key := e.addKey(res.Token, "Blue key", newSoftKey(t))
		ctx := e.inSession(res.Token)

		seq := e.seq()
		if err := e.svc.RemoveWebAuthnKey(ctx, key.ID, "wrong password"); fieldOf(err) != "current_password" {
			t.Fatalf("wrong password: %v", err)
		}
		expectFailure(t, e.expectActions(seq, "user.reauth_failed")[0], "sofia", "wrong_password")
		// The last second factor of a privileged role stays.
		if err := e.svc.RemoveWebAuthnKey(ctx, key.ID, goodPassword); codeOf(err) != apperr.Conflict {
			t.Fatalf("last factor: %v", err)
		}
		second := e.addKey(res.Token, "Spare key", newSoftKey(t))
		if err := e.svc.RemoveWebAuthnKey(ctx, "no-such-key", goodPassword); codeOf(err) != apperr.NotFound {
			t.Fatalf("unknown key: %v", err)
		}
		seq = e.seq()
		if err := e.svc.RemoveWebAuthnKey(ctx, key.ID, goodPassword); err != nil {
			t.Fatal(err)
		}
		e.expectActions(seq, "user.webauthn_remove")
		keys, err := e.svc.WebAuthnKeys(ctx)
		if err != nil || len(keys) != 1 || keys[0].ID != second.ID {
			t.Fatalf("keys %+v, %v", keys, err)
		}
		// Another user cannot remove it.
		e.create("rita", authz.RoleResponder)
		if err := e.svc.RemoveWebAuthnKey(e.inSession(e.login("rita", goodPassword).Token), second.ID, goodPassword); codeOf(err) != apperr.NotFound {
			t.Fatalf("another user's key: %v", err)
		}
		// An administrator's reset removes keys too.
		if _, err := e.svc.ResetMFA(cli, "sofia"); err != nil {
			t.Fatal(err)
		}
		u, err := e.svc.Get(cli, "sofia")
		if err != nil || u.MFAEnabled {
			t.Fatalf("after reset: MFAEnabled %v, %v", u.MFAEnabled, err)
		}
		// And the recovery codes that came with the first key.
		for _, table := range []string{"user_webauthn", "user_recovery_codes"} {
			var n int
			if err := d.R.QueryRowContext(context.Background(), "SELECT count(*) FROM "+table+" WHERE user_id = $1", u.ID).Scan(&n); err != nil || n != 0 {
				t.Errorf("%s: %d rows left after the reset, %v", table, n, err)
			}
		}
	})
}

func TestWebAuthnNeedsPublicURL(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.create("sofia", authz.RoleSecurityOfficer)
		if _, err := e.svc.BeginWebAuthnRegistration(e.inSession(e.login("sofia", goodPassword).Token)); codeOf(err) != apperr.Conflict {
			t.Fatalf("without a public URL: %v", err)
		}
	})
}
