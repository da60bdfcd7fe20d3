package user_test

import (
	"bytes"
	"context"
	"image/png"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/user"
)

// enrol signs a user in, enrols TOTP in that session, and returns the
// secret, the recovery codes and the now full session's token.
func (e *env) enrol(username string) (secret string, codes []string, token string) {
	e.t.Helper()
	res := e.login(username, goodPassword)
	ctx := e.inSession(res.Token)
	en, err := e.svc.BeginTOTP(ctx)
	if err != nil {
		e.t.Fatalf("begin totp: %v", err)
	}
	codes, err = e.svc.ConfirmTOTP(ctx, totpCode(e.t, en.Secret, e.clk.Now()))
	if err != nil {
		e.t.Fatalf("confirm totp: %v", err)
	}
	return en.Secret, codes, res.Token
}

func TestMFARequiredForPrivilegedRoles(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		u := e.create("sofia", authz.RoleSecurityOfficer)
		seq := e.seq()

		// No second factor yet: the session may only enrol one.
		res := e.login("sofia", goodPassword)
		if res.Session.Stage != user.StageEnrollMFA || e.stage(res.Token) != user.StageEnrollMFA {
			t.Fatalf("stage %s, want %s", res.Session.Stage, user.StageEnrollMFA)
		}
		ctx := e.inSession(res.Token)
		en, err := e.svc.BeginTOTP(ctx)
		if err != nil {
			t.Fatal(err)
		}
		link, err := url.Parse(en.URL)
		if err != nil || link.Scheme != "otpauth" || link.Host != "totp" || link.Query().Get("issuer") != "Ward" ||
			link.Query().Get("secret") != en.Secret || !strings.Contains(link.Path, "sofia") {
			t.Errorf("enrolment URL %q", en.URL)
		}
		if _, err := png.Decode(bytes.NewReader(en.QRPNG)); err != nil {
			t.Errorf("QR code is not a PNG: %v", err)
		}

		// The secret is stored sealed, never in plaintext.
		var stored string
		if err := d.R.QueryRowContext(context.Background(), "SELECT secret FROM user_totp WHERE user_id = $1", u.ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored == "" || strings.Contains(stored, en.Secret) || strings.Contains(strings.ToUpper(stored), en.Secret) {
			t.Fatalf("TOTP secret stored in plaintext: %q", stored)
		}

		// A wrong code is a field error; pending until confirmed.
		if _, err := e.svc.ConfirmTOTP(ctx, "000000"); fieldOf(err) != "code" {
			t.Fatalf("wrong code: %v", err)
		}
		if me, _ := e.svc.Get(ctx, u.ID); me.MFAEnabled {
			t.Fatal("MFA enabled before confirmation")
		}
		first := totpCode(t, en.Secret, e.clk.Now())
		codes, err := e.svc.ConfirmTOTP(ctx, first)
		if err != nil {
			t.Fatal(err)
		}
		if len(codes) != 10 {
			t.Fatalf("%d recovery codes, want 10", len(codes))
		}
		shape := regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$`)
		seen := map[string]bool{}
		for _, c := range codes {
			if !shape.MatchString(c) || seen[c] {
				t.Errorf("recovery code %q", c)
			}
			seen[c] = true
			var n int
			if err := d.R.QueryRowContext(context.Background(), "SELECT count(*) FROM user_recovery_codes WHERE hash = $1", c).Scan(&n); err != nil || n != 0 {
				t.Errorf("recovery code stored in plaintext")
			}
		}

		// The codes wait, sealed, for the page that shows them once.
		shown, err := e.svc.TakeRecoveryCodes(ctx)
		if err != nil || !slices.Equal(shown, codes) {
			t.Fatalf("codes to show after enrolment: %q, %v; want %q", shown, err, codes)
		}
		if again, err := e.svc.TakeRecoveryCodes(ctx); err != nil || again != nil {
			t.Fatalf("codes shown twice: %q, %v", again, err)
		}

		// Enrolling made this session full.
		if got := e.stage(res.Token); got != user.StageFull {
			t.Fatalf("after enrolment the session is %s", got)
		}
		if me, _ := e.svc.Get(ctx, u.ID); !me.MFAEnabled {
			t.Fatal("MFA not enabled")
		}
		if _, err := e.svc.BeginTOTP(ctx); codeOf(err) != apperr.Conflict {
			t.Errorf("second enrolment: %v", err)
		}
		e.expectActions(seq, "user.login_mfa_pending", "user.mfa_enrolment_started", "user.mfa_enabled", "user.login")

		// Signing in again needs the second factor.
		if err := e.svc.Logout(context.Background(), res.Token); err != nil {
			t.Fatal(err)
		}
		res = e.login("sofia", goodPassword)
		if res.Session.Stage != user.StageMFA || e.stage(res.Token) != user.StageMFA {
			t.Fatalf("stage %s, want %s", res.Session.Stage, user.StageMFA)
		}

		// The code used to enrol cannot be used again (replay), even within its window.
		seq = e.seq()
		if _, err := e.svc.VerifyMFA(context.Background(), res.Token, first); err != user.ErrCode {
			t.Fatalf("replayed code: %v", err)
		}
		expectFailure(t, e.expectActions(seq, "user.mfa_failed")[0], "sofia", "replayed_code")

		// The next step's code works, once.
		e.clk.Advance(30 * time.Second)
		next := totpCode(t, en.Secret, e.clk.Now())
		seq = e.seq()
		done, err := e.svc.VerifyMFA(context.Background(), res.Token, next[:3]+" "+next[3:])
		if err != nil {
			t.Fatalf("verify: %v", err)
		}
		if done.Session.Stage != user.StageFull || done.Token != res.Token || e.stage(res.Token) != user.StageFull {
			t.Fatalf("after verify: %+v", done.Session)
		}
		e.expectActions(seq, "user.login")
		other := e.login("sofia", goodPassword)
		if _, err := e.svc.VerifyMFA(context.Background(), other.Token, next); err != user.ErrCode {
			t.Fatalf("same code in another session: %v", err)
		}
		// The full session survives a sign-in that has only passed the password.
		if e.stage(res.Token) != user.StageFull {
			t.Fatal("a half sign-in ended the full session")
		}

		// A recovery code works once, in any case and without dashes.
		seq = e.seq()
		rec := strings.ToLower(strings.ReplaceAll(codes[0], "-", ""))
		done, err = e.svc.VerifyMFA(context.Background(), other.Token, rec)
		if err != nil {
			t.Fatalf("recovery code: %v", err)
		}
		if !done.EndedOther {
			t.Error("EndedOther false: the earlier full session was active")
		}
		e.ended(res.Token, user.EndSignedInElsewhere)
		e.expectActions(seq, "user.recovery_code_used", "session.signed_in_elsewhere", "user.login")
		third := e.login("sofia", goodPassword)
		seq = e.seq()
		if _, err := e.svc.VerifyMFA(context.Background(), third.Token, codes[0]); err != user.ErrCode {
			t.Fatalf("used recovery code: %v", err)
		}
		if _, err := e.svc.VerifyMFA(context.Background(), third.Token, "ZZZZ-ZZZZ-ZZZZ-ZZZZ"); err != user.ErrCode {
			t.Fatalf("unknown recovery code: %v", err)
		}
		entries := e.expectActions(seq, "user.mfa_failed", "user.mfa_failed")
		expectFailure(t, entries[0], "sofia", "replayed_code")
		expectFailure(t, entries[1], "sofia", "wrong_code")
		if _, err := e.svc.VerifyMFA(context.Background(), third.Token, codes[1]); err != nil {
			t.Fatalf("another recovery code: %v", err)
		}

		// VerifyMFA applies only to a session waiting for it.
		if _, err := e.svc.VerifyMFA(context.Background(), third.Token, codes[2]); err != user.ErrSession {
			t.Fatalf("verify on a full session: %v", err)
		}
	})
}

func TestMFAFailuresLockTheAccount(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.create("paul", authz.RolePrivacyOfficer)
		secret, _, token := e.enrol("paul")
		if err := e.svc.Logout(context.Background(), token); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(30 * time.Second)
		res := e.login("paul", goodPassword)
		seq := e.seq()
		for range 5 {
			if _, err := e.svc.VerifyMFA(context.Background(), res.Token, "123456"); err != user.ErrCode {
				t.Fatalf("wrong code: %v", err)
			}
		}
		e.expectActions(seq, "user.mfa_failed", "user.mfa_failed", "user.mfa_failed", "user.mfa_failed", "user.mfa_failed", "user.locked")
		// Locked: the right code is refused, and so is the password.
		if _, err := e.svc.VerifyMFA(context.Background(), res.Token, totpCode(t, secret, e.clk.Now())); err != user.ErrCode {
			t.Fatalf("right code while locked: %v", err)
		}
		e.loginFails("paul", goodPassword, "192.0.2.1")
		e.clk.Advance(time.Minute)
		if _, err := e.svc.VerifyMFA(context.Background(), res.Token, totpCode(t, secret, e.clk.Now())); err != nil {
			t.Fatalf("after the lock: %v", err)
		}
	})
}

// TestEnrolWithoutSessionInContext: when the caller does not say which
// session enrolled, none is upgraded; sessions waiting to enrol now wait
// for the new second factor instead.
func TestEnrolWithoutSessionInContext(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		u := e.create("admin2", authz.RoleAdmin)
		res := e.login("admin2", goodPassword)
		en, err := e.svc.BeginTOTP(as(u))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ConfirmTOTP(as(u), totpCode(t, en.Secret, e.clk.Now())); err != nil {
			t.Fatal(err)
		}
		if got := e.stage(res.Token); got != user.StageMFA {
			t.Fatalf("stage %s, want %s", got, user.StageMFA)
		}
		e.clk.Advance(30 * time.Second)
		if _, err := e.svc.VerifyMFA(context.Background(), res.Token, totpCode(t, en.Secret, e.clk.Now())); err != nil {
			t.Fatal(err)
		}
	})
}

func TestResetMFA(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		u := e.create("olga", authz.RolePrivacyOfficer)
		_, _, token := e.enrol("olga")
		seq := e.seq()
		got, err := e.svc.ResetMFA(cli, "olga")
		if err != nil || got.MFAEnabled {
			t.Fatalf("reset: %+v, %v", got, err)
		}
		e.ended(token, user.EndMFAReset)
		for _, table := range []string{"user_totp", "user_recovery_codes"} {
			var n int
			if err := d.R.QueryRowContext(context.Background(), "SELECT count(*) FROM "+table+" WHERE user_id = $1", u.ID).Scan(&n); err != nil || n != 0 {
				t.Errorf("%s: %d rows left, %v", table, n, err)
			}
		}
		e.expectActions(seq, "user.mfa_reset", "session.mfa_reset")
		if res := e.login("olga", goodPassword); res.Session.Stage != user.StageEnrollMFA {
			t.Errorf("after reset, stage %s", res.Session.Stage)
		}
		// Nothing to reset: no change, no entry.
		other := e.create("nomfa", authz.RoleResponder)
		seq = e.seq()
		if _, err := e.svc.ResetMFA(cli, other.ID); err != nil {
			t.Fatal(err)
		}
		e.expectActions(seq)
	})
}
