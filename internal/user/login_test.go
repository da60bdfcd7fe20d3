package user_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/user"
)

func TestLogin(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		u := e.create("alice", authz.RoleResponder)
		var hashes atomic.Int32
		user.SetHashKey(e.svc, func(pw, salt []byte, p user.Argon2Params) []byte {
			hashes.Add(1)
			return user.Argon2Key(pw, salt, p)
		})
		seq := e.seq()

		// Unknown user and wrong password: the same error, one hash each.
		_, errUnknown := e.svc.Login(context.Background(), "mallory", goodPassword, "192.0.2.1", "ua")
		_, errWrong := e.svc.Login(context.Background(), "alice", "not the password at all", "192.0.2.1", "ua")
		if errUnknown != user.ErrSignIn || errWrong != user.ErrSignIn || errUnknown.Error() != errWrong.Error() {
			t.Fatalf("unknown user: %v; wrong password: %v; want the same ErrSignIn", errUnknown, errWrong)
		}
		if hashes.Load() != 2 {
			t.Errorf("%d hashes for two failed attempts, want 2", hashes.Load())
		}

		// Username case and surrounding space do not matter.
		res, err := e.svc.Login(context.Background(), " Alice ", goodPassword, "192.0.2.1", "Firefox")
		if err != nil {
			t.Fatalf("login: %v", err)
		}
		if res.Session.Stage != user.StageFull || res.EndedOther || res.User.ID != u.ID || res.User.LastLoginAt == nil ||
			!res.User.LastLoginAt.Equal(start) {
			t.Errorf("login result: %+v", res)
		}
		s := res.Session
		if s.UserID != u.ID || s.IP != "192.0.2.1" || s.UserAgent != "Firefox" || !s.CreatedAt.Equal(start) ||
			!s.ExpiresAt.Equal(start.Add(12*time.Hour)) || s.ID == "" || s.ID == res.Token {
			t.Errorf("session: %+v", s)
		}
		if len(res.Token) != 43 {
			t.Errorf("token %d characters, want 43 (256 bits)", len(res.Token))
		}
		var n int
		if err := d.R.QueryRowContext(context.Background(), "SELECT count(*) FROM sessions WHERE token_hash = $1 OR id = $1", res.Token).Scan(&n); err != nil || n != 0 {
			t.Errorf("session token stored in plaintext (%d rows, %v)", n, err)
		}
		a, got, err := e.svc.Authenticate(context.Background(), res.Token)
		if err != nil {
			t.Fatal(err)
		}
		want := authz.Actor{Kind: authz.KindUser, ID: u.ID, Name: "alice", Role: authz.RoleResponder}
		if a != want || got.ID != s.ID || got.Stage != user.StageFull {
			t.Errorf("authenticate: %+v %+v", a, got)
		}
		me, err := e.svc.Get(as(u), u.ID)
		if err != nil || me.LastLoginAt == nil {
			t.Errorf("own account: %+v, %v", me, err)
		}

		entries := e.expectActions(seq, "user.login_failed", "user.login_failed", "user.login")
		expectFailure(t, entries[0], "mallory", "unknown_user")
		expectFailure(t, entries[1], "alice", "wrong_password")
		if entries[0].SourceIP != "192.0.2.1" || entries[2].Actor != "user:alice" || entries[1].ObjectID != u.ID || entries[0].ObjectID != "" {
			t.Errorf("entries: %+v", entries)
		}

		// A password typed into the username field does not reach the trail.
		seq = e.seq()
		e.loginFails("Tr0ub4dor&3 horse", "x", "192.0.2.1")
		expectFailure(t, e.expectActions(seq, "user.login_failed")[0], "(invalid username)", "unknown_user")
	})
}

func TestLockoutBackoff(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.create("bob", authz.RoleResponder)
		var hashes atomic.Int32
		user.SetHashKey(e.svc, func(pw, salt []byte, p user.Argon2Params) []byte {
			hashes.Add(1)
			return user.Argon2Key(pw, salt, p)
		})
		seq := e.seq()
		for range 5 {
			e.loginFails("bob", "wrong password 123", "192.0.2.1")
		}
		entries := e.expectActions(seq, "user.login_failed", "user.login_failed", "user.login_failed", "user.login_failed",
			"user.login_failed", "user.locked")
		for _, en := range entries[:5] {
			expectFailure(t, en, "bob", "wrong_password")
		}

		// Locked for a minute: even the right password is refused, unchecked.
		hashes.Store(0)
		seq = e.seq()
		e.loginFails("bob", goodPassword, "192.0.2.1")
		e.clk.Advance(59 * time.Second)
		e.loginFails("bob", goodPassword, "192.0.2.1")
		for _, en := range e.expectActions(seq, "user.login_failed", "user.login_failed") {
			expectFailure(t, en, "bob", "locked")
		}
		if hashes.Load() != 0 {
			t.Errorf("a locked account cost %d hashes", hashes.Load())
		}

		// Each failure after a lock doubles it: 2 minutes now.
		e.clk.Advance(2 * time.Second)
		e.loginFails("bob", "wrong password 123", "192.0.2.1")
		e.clk.Advance(time.Minute + time.Second)
		e.loginFails("bob", goodPassword, "192.0.2.1")
		e.clk.Advance(time.Minute)
		e.login("bob", goodPassword)

		// Success resets the count: one failure no longer locks.
		e.loginFails("bob", "wrong password 123", "192.0.2.1")
		e.login("bob", goodPassword)

		// Unknown usernames lock the same way, so a lock reveals nothing.
		seq = e.seq()
		for range 5 {
			e.loginFails("ghost", "wrong password 123", "192.0.2.1")
		}
		hashes.Store(0)
		e.loginFails("ghost", "wrong password 123", "192.0.2.1")
		if hashes.Load() != 0 {
			t.Errorf("a locked unknown username cost %d hashes", hashes.Load())
		}
		if got := e.entries(seq); got[5].Action != "user.locked" || got[6].Action != "user.login_failed" {
			t.Errorf("unknown user lockout entries: %v, %v", got[5].Action, got[6].Action)
		} else {
			expectFailure(t, got[6], "ghost", "locked")
		}
	})
}

func TestLockDurations(t *testing.T) {
	for failures, want := range map[int64]time.Duration{
		1: 0, 4: 0, 5: time.Minute, 6: 2 * time.Minute, 7: 4 * time.Minute, 10: 32 * time.Minute,
		11: time.Hour, 12: time.Hour, 1000: time.Hour,
	} {
		if got := user.LockFor(failures); got != want {
			t.Errorf("failure %d: lock %v, want %v", failures, got, want)
		}
	}
}

func TestLockCappedAtAnHour(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.create("carol", authz.RoleResponder)
		for range 5 {
			e.loginFails("carol", "wrong password 123", "")
		}
		lock := time.Minute
		for range 8 {
			e.clk.Advance(lock - time.Second)
			e.loginFails("carol", goodPassword, "") // still locked
			e.clk.Advance(time.Second)
			e.loginFails("carol", "wrong password 123", "") // counted: the lock doubles
			lock = min(2*lock, time.Hour)
		}
		if lock != time.Hour {
			t.Fatalf("lock %v", lock)
		}
		e.clk.Advance(time.Hour - time.Second)
		e.loginFails("carol", goodPassword, "")
		e.clk.Advance(time.Second)
		e.login("carol", goodPassword)
	})
}

func TestIPLimit(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, func(o *user.Options) { o.IPFailureLimit = 3 })
		e.create("dave", authz.RoleResponder)
		for _, name := range []string{"x1", "x2", "x3"} {
			e.loginFails(name, "wrong password 123", "203.0.113.5")
		}
		seq := e.seq()
		e.loginFails("dave", goodPassword, "203.0.113.5")
		expectFailure(t, e.expectActions(seq, "user.login_failed")[0], "dave", "ip_limited")

		// Other addresses are not affected, nor is the account.
		if _, err := e.svc.Login(context.Background(), "dave", goodPassword, "203.0.113.6", ""); err != nil {
			t.Fatalf("from another address: %v", err)
		}
		// An IPv6 address counts as its /64.
		for _, ip := range []string{"2001:db8:1:2::a", "2001:db8:1:2::b", "2001:db8:1:2:ffff::1"} {
			e.loginFails("y"+ip[len(ip)-1:], "wrong password 123", ip)
		}
		e.loginFails("dave", goodPassword, "2001:db8:1:2::c")
		if _, err := e.svc.Login(context.Background(), "dave", goodPassword, "2001:db8:1:3::c", ""); err != nil {
			t.Fatalf("from another /64: %v", err)
		}

		// The window is 15 minutes.
		e.clk.Advance(14 * time.Minute)
		e.loginFails("dave", goodPassword, "203.0.113.5")
		e.clk.Advance(time.Minute)
		if _, err := e.svc.Login(context.Background(), "dave", goodPassword, "203.0.113.5", ""); err != nil {
			t.Fatalf("after the window: %v", err)
		}
	})
}

func TestDisabledUser(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		u := e.create("erin", authz.RoleResponder)
		res := e.login("erin", goodPassword)
		seq := e.seq()
		got, err := e.svc.Disable(cli, "erin")
		if err != nil || !got.Disabled {
			t.Fatalf("disable: %+v, %v", got, err)
		}
		e.ended(res.Token, user.EndDisabled)
		e.loginFails("erin", goodPassword, "192.0.2.1")
		entries := e.expectActions(seq, "user.disabled", "session.disabled", "user.login_failed")
		expectFailure(t, entries[2], "erin", "disabled")
		if entries[0].Actor != "cli:root" || entries[0].ObjectID != u.ID {
			t.Errorf("disable entry: %+v", entries[0])
		}

		// Disabling again changes nothing; enabling lets erin back in.
		seq = e.seq()
		if _, err := e.svc.Disable(cli, u.ID); err != nil {
			t.Fatal(err)
		}
		if got, err := e.svc.Enable(cli, "erin"); err != nil || got.Disabled {
			t.Fatalf("enable: %+v, %v", got, err)
		}
		e.login("erin", goodPassword)
		e.expectActions(seq, "user.enabled", "user.login")
	})
}
