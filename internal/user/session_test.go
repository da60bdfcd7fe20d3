package user_test

import (
	"context"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/user"
)

func TestIdleLogoff(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.create("ivan", authz.RoleResponder)
		res := e.login("ivan", goodPassword)
		e.clk.Advance(14 * time.Minute)
		e.stage(res.Token) // activity: last seen now
		e.clk.Advance(15 * time.Minute)
		e.stage(res.Token) // exactly 15 minutes idle is still allowed
		seq := e.seq()
		e.clk.Advance(15*time.Minute + time.Second)
		e.ended(res.Token, user.EndIdle)
		if en := e.expectActions(seq, "session.idle"); en[0].Actor != "system:ward" {
			t.Errorf("idle logoff recorded as %q", en[0].Actor)
		}
		// Requests less than 30 s after the recorded one do not write, so
		// idle logoff counts from the recorded time: up to 30 s early, never late.
		res = e.login("ivan", goodPassword)
		e.clk.Advance(20 * time.Second)
		if _, s, err := e.svc.Authenticate(context.Background(), res.Token); err != nil || !s.LastSeenAt.Equal(res.Session.LastSeenAt) {
			t.Fatalf("last seen %v, %v; want unchanged %v", s.LastSeenAt, err, res.Session.LastSeenAt)
		}
		e.clk.Advance(15*time.Minute - 10*time.Second)
		e.ended(res.Token, user.EndIdle)
	})
}

func TestAbsoluteLimit(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.create("judy", authz.RoleResponder)
		res := e.login("judy", goodPassword)
		for e.clk.Now().Before(start.Add(12*time.Hour - 10*time.Minute)) {
			e.clk.Advance(10 * time.Minute)
			e.stage(res.Token) // busy all day
		}
		e.clk.Advance(10 * time.Minute)
		e.ended(res.Token, user.EndExpired)
	})
}

func TestOneSessionPerUser(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.create("kim", authz.RoleResponder)
		first := e.login("kim", goodPassword)
		seq := e.seq()
		second := e.login("kim", goodPassword)
		if !second.EndedOther {
			t.Error("EndedOther false")
		}
		e.ended(first.Token, user.EndSignedInElsewhere)
		if e.stage(second.Token) != user.StageFull {
			t.Fatal("second session not usable")
		}
		e.expectActions(seq, "session.signed_in_elsewhere", "user.login")

		// A session that had already gone idle is ended as idle, and the
		// user is not told that signing in ended it.
		e.clk.Advance(16 * time.Minute)
		third := e.login("kim", goodPassword)
		if third.EndedOther {
			t.Error("EndedOther true for an idle session")
		}
		if reason, _ := e.svc.EndedReason(context.Background(), second.Token); reason != user.EndIdle {
			t.Errorf("ended reason %q, want idle", reason)
		}
	})
}

func TestLogout(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.create("leo", authz.RoleResponder)
		res := e.login("leo", goodPassword)
		if reason, err := e.svc.EndedReason(context.Background(), res.Token); err != nil || reason != "" {
			t.Fatalf("open session's reason: %q, %v", reason, err)
		}
		seq := e.seq()
		if err := e.svc.Logout(context.Background(), res.Token); err != nil {
			t.Fatal(err)
		}
		e.ended(res.Token, user.EndLogout)
		if en := e.expectActions(seq, "session.logout"); en[0].Actor != "user:leo" {
			t.Errorf("logout recorded as %q", en[0].Actor)
		}
		// Again, or with a token nobody has: nothing happens.
		for _, tok := range []string{res.Token, "nope", ""} {
			if err := e.svc.Logout(context.Background(), tok); err != nil {
				t.Errorf("logout %q: %v", tok, err)
			}
		}
		e.expectActions(seq, "session.logout")
		if _, err := e.svc.EndedReason(context.Background(), "nope"); codeOf(err) != apperr.NotFound {
			t.Errorf("unknown token: %v", err)
		}
	})
}

func TestChangePassword(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		u := e.create("mia", authz.RoleResponder)
		_, _, current := e.enrol("mia") // optional MFA: a second sign-in waits for it beside the first
		pending := e.login("mia", goodPassword)
		ctx := e.inSession(current)
		seq := e.seq()

		if err := e.svc.ChangePassword(ctx, "wrong password 123", "new secret phrase 7"); fieldOf(err) != "current_password" {
			t.Fatalf("wrong current password: %v", err)
		}
		if err := e.svc.ChangePassword(ctx, goodPassword, "too short"); fieldOf(err) != "password" {
			t.Fatalf("weak new password: %v", err)
		}
		if err := e.svc.ChangePassword(ctx, goodPassword, "mia mia mia mia mia"); fieldOf(err) != "password" {
			t.Fatalf("new password with the username: %v", err)
		}
		if err := e.svc.ChangePassword(ctx, goodPassword, "new secret phrase 7"); err != nil {
			t.Fatal(err)
		}
		e.ended(pending.Token, user.EndPasswordChanged)
		if e.stage(current) != user.StageFull {
			t.Fatal("the session that changed the password ended")
		}
		entries := e.expectActions(seq, "user.password_change_failed", "user.password_changed", "session.password_changed")
		expectFailure(t, entries[0], "mia", "wrong_password")
		e.loginFails("mia", goodPassword, "192.0.2.1")
		if res := e.login("mia", "new secret phrase 7"); res.Session.Stage != user.StageMFA {
			t.Errorf("stage %s", res.Session.Stage)
		}

		// Without the session in the context, every session ends.
		if err := e.svc.ChangePassword(as(u), "new secret phrase 7", goodPassword); err != nil {
			t.Fatal(err)
		}
		e.ended(current, user.EndPasswordChanged)

		// Only a signed-in user changes their own password.
		if err := e.svc.ChangePassword(cli, goodPassword, "new secret phrase 7"); codeOf(err) != apperr.Forbidden {
			t.Errorf("from the command line: %v", err)
		}
	})
}

func TestLogoutEverywhere(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.create("nina", authz.RoleResponder)
		_, _, full := e.enrol("nina")
		pending := e.login("nina", goodPassword)
		seq := e.seq()
		if err := e.svc.LogoutEverywhere(e.inSession(full)); err != nil {
			t.Fatal(err)
		}
		e.ended(full, user.EndLogout)
		e.ended(pending.Token, user.EndLogout)
		e.expectActions(seq, "user.logout_everywhere", "session.logout", "session.logout")
	})
}

func TestSessionsAndRevoke(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		owner := e.create("omar", authz.RoleResponder)
		other := e.create("pia", authz.RoleResponder)
		res := e.login("omar", goodPassword)
		e.login("pia", goodPassword)

		list, err := e.svc.Sessions(as(owner), owner.ID)
		if err != nil || len(list) != 1 || list[0].ID != res.Session.ID {
			t.Fatalf("own sessions: %+v, %v", list, err)
		}
		if _, err := e.svc.Sessions(as(owner), other.ID); codeOf(err) != apperr.Forbidden {
			t.Errorf("another user's sessions: %v", err)
		}
		if err := e.svc.RevokeSession(as(owner), res.Session.ID); codeOf(err) != apperr.Forbidden {
			t.Errorf("revoke without user:admin: %v", err)
		}
		list, err = e.svc.Sessions(cli, "omar")
		if err != nil || len(list) != 1 {
			t.Fatalf("admin lists: %+v, %v", list, err)
		}
		seq := e.seq()
		if err := e.svc.RevokeSession(cli, res.Session.ID); err != nil {
			t.Fatal(err)
		}
		e.ended(res.Token, user.EndRevoked)
		if err := e.svc.RevokeSession(cli, res.Session.ID); err != nil {
			t.Errorf("revoke again: %v", err)
		}
		if err := e.svc.RevokeSession(cli, "no-such-session"); codeOf(err) != apperr.NotFound {
			t.Errorf("revoke unknown: %v", err)
		}
		e.expectActions(seq, "session.revoked")
		if list, err := e.svc.Sessions(cli, owner.ID); err != nil || len(list) != 0 {
			t.Errorf("after revoke: %+v, %v", list, err)
		}
		// Idle sessions are not listed as active.
		pia, _ := e.svc.Sessions(cli, "pia")
		e.clk.Advance(16 * time.Minute)
		idle, _ := e.svc.Sessions(cli, "pia")
		if len(pia) != 1 || len(idle) != 0 {
			t.Errorf("pia's sessions before and after 16 idle minutes: %d, %d", len(pia), len(idle))
		}
	})
}
