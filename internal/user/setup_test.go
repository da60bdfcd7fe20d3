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

func TestSetupLink(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		admin := user.NewUser{Username: "first.admin", DisplayName: "First Admin", Email: "admin@example.org", Password: goodPassword}

		needed, err := e.svc.SetupNeeded(ctx)
		if err != nil || !needed {
			t.Fatalf("setup needed: %v, %v; want true", needed, err)
		}
		seq := e.seq()

		// A link expires after an hour.
		old, err := e.svc.CreateSetupToken(ctx)
		if err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(time.Hour)
		if _, err := e.svc.CompleteSetup(ctx, old, admin); codeOf(err) != apperr.Unauthorized {
			t.Fatalf("expired link: got %v, want unauthorized", err)
		}

		// A new link replaces older unused ones; unknown tokens fail.
		first, err := e.svc.CreateSetupToken(ctx)
		if err != nil {
			t.Fatal(err)
		}
		second, err := e.svc.CreateSetupToken(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{first, "not-a-token", ""} {
			if _, err := e.svc.CompleteSetup(ctx, tok, admin); codeOf(err) != apperr.Unauthorized {
				t.Fatalf("token %q: got %v, want unauthorized", tok, err)
			}
		}

		// The form is validated; a failure leaves the link usable.
		weak := admin
		weak.Password = "short"
		if _, err := e.svc.CompleteSetup(ctx, second, weak); fieldOf(err) != "password" {
			t.Fatalf("weak password: got %v", err)
		}

		u, err := e.svc.CompleteSetup(ctx, second, admin)
		if err != nil {
			t.Fatalf("complete setup: %v", err)
		}
		if u.Role != authz.RoleAdmin || u.Username != "first.admin" || u.Email != "admin@example.org" || u.MFAEnabled || u.Disabled {
			t.Errorf("first user: %+v", u)
		}

		// Single use, and refused once a user exists.
		if _, err := e.svc.CompleteSetup(ctx, second, admin); codeOf(err) != apperr.Conflict {
			t.Fatalf("second use: got %v, want conflict", err)
		}
		if _, err := e.svc.CreateSetupToken(ctx); codeOf(err) != apperr.Conflict {
			t.Fatalf("new link after setup: got %v, want conflict", err)
		}
		if needed, err := e.svc.SetupNeeded(ctx); err != nil || needed {
			t.Fatalf("setup needed after setup: %v, %v", needed, err)
		}
		var hashes int
		if err := d.R.QueryRowContext(ctx, "SELECT count(*) FROM setup_tokens WHERE hash = $1 OR hash = $2", first, second).Scan(&hashes); err != nil || hashes != 0 {
			t.Errorf("setup tokens stored in plaintext: %d, %v", hashes, err)
		}

		got := e.expectActions(seq, "setup.token_created", "setup.token_created", "setup.token_created", "setup.completed", "user.create")
		if got[3].Actor != "user:first.admin" {
			t.Errorf("setup completed by %q, want the new admin", got[3].Actor)
		}

		// The first admin signs in and must enrol a second factor.
		if res := e.login("first.admin", goodPassword); res.Session.Stage != user.StageEnrollMFA {
			t.Errorf("first admin's stage: %s", res.Session.Stage)
		}
	})
}

func TestSetupLinkRefusedWhenUsersExist(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		tok, err := e.svc.CreateSetupToken(ctx)
		if err != nil {
			t.Fatal(err)
		}
		e.create("ops", authz.RoleAdmin) // e.g. from the command line
		if _, err := e.svc.CompleteSetup(ctx, tok, user.NewUser{Username: "late", Password: goodPassword}); codeOf(err) != apperr.Conflict {
			t.Fatalf("got %v, want conflict", err)
		}
	})
}
