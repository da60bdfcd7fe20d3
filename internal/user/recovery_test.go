package user_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/user"
)

// keyOnlyUser gives username (a privileged role) a first security key and
// returns its recovery codes, the key and the now full session's token.
func (e *env) keyOnlyUser(username string) ([]string, *softKey, string) {
	e.t.Helper()
	e.create(username, authz.RoleSecurityOfficer)
	res := e.login(username, goodPassword)
	k := newSoftKey(e.t)
	if _, issued := e.addKeyIssuing(res.Token, "Blue key", k); !issued {
		e.t.Fatal("no recovery codes came with the first key")
	}
	codes, err := e.svc.TakeRecoveryCodes(e.inSession(res.Token))
	if err != nil || len(codes) != 10 {
		e.t.Fatalf("recovery codes %q, %v", codes, err)
	}
	return codes, k, res.Token
}

func TestRecoveryCodesWithFirstKey(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newKeyEnv(t, d)
		e.create("sofia", authz.RoleSecurityOfficer)
		res := e.login("sofia", goodPassword)
		seq := e.seq()
		if _, issued := e.addKeyIssuing(res.Token, "Blue key", newSoftKey(t)); !issued {
			t.Fatal("first key: no recovery codes")
		}
		e.expectActions(seq, "user.webauthn_add", "user.login")
		// Shown once, to this session only.
		other := e.create("rita", authz.RoleResponder)
		if codes, err := e.svc.TakeRecoveryCodes(e.inSession(e.login(other.Username, goodPassword).Token)); err != nil || codes != nil {
			t.Fatalf("another user's session: %q, %v", codes, err)
		}
		ctx := e.inSession(res.Token)
		var stored string
		if err := d.R.QueryRowContext(context.Background(), "SELECT codes FROM recovery_codes_shown WHERE session_id = $1", res.Session.ID).Scan(&stored); err != nil {
			t.Fatalf("codes kept to show: %v", err)
		}
		codes, err := e.svc.TakeRecoveryCodes(ctx)
		if err != nil || len(codes) != 10 {
			t.Fatalf("codes %q, %v", codes, err)
		}
		for _, c := range codes {
			if len(c) != 19 || strings.Count(c, "-") != 3 {
				t.Errorf("recovery code %q", c)
			}
			var n int
			if err := d.R.QueryRowContext(context.Background(), "SELECT count(*) FROM user_recovery_codes WHERE hash = $1", c).Scan(&n); err != nil || n != 0 {
				t.Errorf("recovery code stored in plaintext")
			}
			if strings.Contains(stored, c) {
				t.Errorf("recovery code kept in plaintext for display")
			}
		}
		if again, err := e.svc.TakeRecoveryCodes(ctx); err != nil || again != nil {
			t.Fatalf("second read: %q, %v", again, err)
		}
		var left int
		if err := d.R.QueryRowContext(context.Background(), "SELECT count(*) FROM recovery_codes_shown").Scan(&left); err != nil || left != 0 {
			t.Fatalf("%d sets of codes kept after they were shown, %v", left, err)
		}
		f, err := e.svc.SecondFactors(ctx)
		if err != nil || f != (user.Factors{Keys: 1, RecoveryCodes: 10}) {
			t.Fatalf("factors %+v, %v", f, err)
		}
		// A second key brings none: the codes the user has stay.
		if _, issued := e.addKeyIssuing(res.Token, "Spare key", newSoftKey(t)); issued {
			t.Fatal("second key: new recovery codes")
		}
		if again, err := e.svc.TakeRecoveryCodes(ctx); err != nil || again != nil {
			t.Fatalf("after the second key: %q, %v", again, err)
		}
		if _, err := e.svc.VerifyMFA(context.Background(), e.login("sofia", goodPassword).Token, codes[0]); err != nil {
			t.Fatalf("first code after a second key: %v", err)
		}

		// A user with TOTP already has codes from it: a key brings none.
		e.create("paul", authz.RolePrivacyOfficer)
		_, _, token := e.enrol("paul")
		if _, issued := e.addKeyIssuing(token, "Green key", newSoftKey(t)); issued {
			t.Fatal("key beside TOTP: new recovery codes")
		}
	})
}

func TestRecoveryCodeSignInForKeyOnlyUser(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newKeyEnv(t, d)
		codes, _, _ := e.keyOnlyUser("sofia")

		res := e.login("sofia", goodPassword)
		if res.Session.Stage != user.StageMFA {
			t.Fatalf("stage %s", res.Session.Stage)
		}
		seq := e.seq()
		done, err := e.svc.VerifyMFA(context.Background(), res.Token, strings.ToLower(codes[3]))
		if err != nil || done.Session.Stage != user.StageFull || e.stage(res.Token) != user.StageFull {
			t.Fatalf("recovery code: %+v, %v", done.Session, err)
		}
		e.expectActions(seq, "user.recovery_code_used", "session.signed_in_elsewhere", "user.login")
		f, err := e.svc.SecondFactors(e.inSession(res.Token))
		if err != nil || f.RecoveryCodes != 9 {
			t.Fatalf("factors %+v, %v", f, err)
		}

		// A used code is refused, and failures lock the account as wrong
		// TOTP codes do.
		next := e.login("sofia", goodPassword)
		seq = e.seq()
		if _, err := e.svc.VerifyMFA(context.Background(), next.Token, codes[3]); err != user.ErrCode {
			t.Fatalf("used code: %v", err)
		}
		expectFailure(t, e.expectActions(seq, "user.mfa_failed")[0], "sofia", "replayed_code")
		for range 4 {
			if _, err := e.svc.VerifyMFA(context.Background(), next.Token, "ZZZZ-ZZZZ-ZZZZ-ZZZZ"); err != user.ErrCode {
				t.Fatalf("wrong code: %v", err)
			}
		}
		if _, err := e.svc.VerifyMFA(context.Background(), next.Token, codes[4]); err != user.ErrCode {
			t.Fatalf("good code while locked: %v", err)
		}
		e.clk.Advance(time.Minute)
		if _, err := e.svc.VerifyMFA(context.Background(), next.Token, codes[4]); err != nil {
			t.Fatalf("good code after the lock: %v", err)
		}
	})
}

func TestRegenerateRecoveryCodes(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newKeyEnv(t, d)
		old, _, token := e.keyOnlyUser("sofia")
		ctx := e.inSession(token)

		seq := e.seq()
		if _, err := e.svc.RegenerateRecoveryCodes(ctx, "wrong password"); fieldOf(err) != "current_password" {
			t.Fatalf("wrong password: %v", err)
		}
		expectFailure(t, e.expectActions(seq, "user.reauth_failed")[0], "sofia", "wrong_password")
		seq = e.seq()
		fresh, err := e.svc.RegenerateRecoveryCodes(ctx, goodPassword)
		if err != nil || len(fresh) != 10 {
			t.Fatalf("regenerate: %q, %v", fresh, err)
		}
		e.expectActions(seq, "user.recovery_codes_regenerated")
		for _, c := range fresh {
			for _, o := range old {
				if c == o {
					t.Fatalf("code %q issued again", c)
				}
			}
		}
		// The old codes stop working; the new ones work.
		res := e.login("sofia", goodPassword)
		if _, err := e.svc.VerifyMFA(context.Background(), res.Token, old[0]); err != user.ErrCode {
			t.Fatalf("old code: %v", err)
		}
		if _, err := e.svc.VerifyMFA(context.Background(), res.Token, fresh[0]); err != nil {
			t.Fatalf("new code: %v", err)
		}

		// Without a second factor there is nothing to regenerate.
		e.create("rita", authz.RoleResponder)
		if _, err := e.svc.RegenerateRecoveryCodes(e.inSession(e.login("rita", goodPassword).Token), goodPassword); codeOf(err) != apperr.Conflict {
			t.Fatalf("no second factor: %v", err)
		}
	})
}

// TestUsedUpCodesRenewedByAKey: a key-only user who has used every code
// gets a new set with their next key.
func TestUsedUpCodesRenewedByAKey(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newKeyEnv(t, d)
		codes, _, _ := e.keyOnlyUser("sofia")
		var token string
		for _, c := range codes {
			res := e.login("sofia", goodPassword)
			if _, err := e.svc.VerifyMFA(context.Background(), res.Token, c); err != nil {
				t.Fatalf("code %q: %v", c, err)
			}
			token = res.Token
		}
		if _, issued := e.addKeyIssuing(token, "Spare key", newSoftKey(t)); !issued {
			t.Fatal("key after every code was used: no new codes")
		}
	})
}
