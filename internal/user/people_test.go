package user_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apitoken"
	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/user"
)

// TestInviteSingleUseAndExpiry: an invitation link creates one account in
// its role, only its hash is stored, a second use creates nothing, and a
// link past its expiry is refused.
func TestInviteSingleUseAndExpiry(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		if _, _, err := e.svc.CreateInvite(cli, "superuser", "", 0); fieldOf(err) != "role" {
			t.Errorf("bad role: %v", err)
		}
		if _, _, err := e.svc.CreateInvite(cli, authz.RoleResponder, "", 31*24*time.Hour); fieldOf(err) != "expires_in_hours" {
			t.Errorf("too long: %v", err)
		}
		responder := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, Name: "r", Role: authz.RoleResponder})
		if _, _, err := e.svc.CreateInvite(responder, authz.RoleAdmin, "", 0); codeOf(err) != apperr.Forbidden {
			t.Errorf("a responder invited: %v", err)
		}
		inv, token, err := e.svc.CreateInvite(cli, authz.RoleAuditor, "ann@example.org", 0)
		if err != nil {
			t.Fatal(err)
		}
		if !inv.ExpiresAt.Equal(start.Add(user.DefaultInviteTTL)) {
			t.Errorf("expires %v", inv.ExpiresAt)
		}
		var stored string
		if err := d.R.QueryRowContext(context.Background(), "SELECT hash FROM user_invites WHERE id = $1", inv.ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256([]byte(token))
		if stored != hex.EncodeToString(sum[:]) || stored == token {
			t.Errorf("stored %q for the token", stored)
		}
		if _, err := e.svc.AcceptInvite(context.Background(), token, user.NewUser{Username: "ann", Password: "short"}); fieldOf(err) != "password" {
			t.Errorf("weak password: %v", err)
		}
		u, err := e.svc.AcceptInvite(context.Background(), token, user.NewUser{Username: "ann", Password: goodPassword, Role: authz.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		if u.Role != authz.RoleAuditor || u.Email != "ann@example.org" {
			t.Errorf("accepted as %+v", u)
		}
		if _, err := e.svc.AcceptInvite(context.Background(), token, user.NewUser{Username: "ann2", Password: goodPassword}); codeOf(err) != apperr.Unauthorized {
			t.Errorf("second use: %v", err)
		}
		if _, _, found, _ := findUser(e, "ann2"); found {
			t.Error("the second use created an account")
		}

		_, late, err := e.svc.CreateInvite(cli, authz.RoleResponder, "", time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.OpenInvite(context.Background(), late); err != nil {
			t.Fatalf("fresh link: %v", err)
		}
		e.clk.Advance(time.Hour)
		if _, err := e.svc.OpenInvite(context.Background(), late); codeOf(err) != apperr.Unauthorized {
			t.Errorf("expired link opened: %v", err)
		}
		if _, err := e.svc.AcceptInvite(context.Background(), late, user.NewUser{Username: "late", Password: goodPassword}); codeOf(err) != apperr.Unauthorized {
			t.Errorf("expired link accepted: %v", err)
		}
	})
}

func findUser(e *env, name string) (user.User, string, bool, error) {
	u, err := e.svc.Get(cli, name)
	if codeOf(err) == apperr.NotFound {
		return user.User{}, "", false, nil
	}
	return u, "", err == nil, err
}

// TestDisableEndsSessionsAndTokens: disabling a person ends their session
// and revokes the API tokens they own in the same transaction; another
// person's token keeps working.
func TestDisableEndsSessionsAndTokens(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.create("dana", authz.RoleResponder)
		e.create("eve", authz.RoleResponder)
		res := e.login("dana", goodPassword)
		tokens := apitoken.NewService(d, e.clk)
		_, own, err := tokens.Issue(cli, apitoken.NewToken{Name: "dana-script", Role: authz.RoleResponder, User: "dana"})
		if err != nil {
			t.Fatal(err)
		}
		_, other, err := tokens.Issue(cli, apitoken.NewToken{Name: "eve-script", Role: authz.RoleResponder, User: "eve"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tokens.Authenticate(context.Background(), own); err != nil {
			t.Fatalf("before: %v", err)
		}
		if _, err := e.svc.Disable(cli, "dana"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Authenticate(context.Background(), res.Token); err == nil {
			t.Error("the session still works")
		}
		if _, err := tokens.Authenticate(context.Background(), own); !errors.Is(err, apitoken.ErrInvalid) {
			t.Errorf("the token still works: %v", err)
		}
		if _, err := e.svc.Enable(cli, "dana"); err != nil {
			t.Fatal(err)
		}
		if _, err := tokens.Authenticate(context.Background(), own); !errors.Is(err, apitoken.ErrInvalid) {
			t.Errorf("enabling brought the revoked token back: %v", err)
		}
		if _, err := tokens.Authenticate(context.Background(), other); err != nil {
			t.Errorf("another person's token: %v", err)
		}
	})
}

// TestProvision: an identity provider's person is created without a
// password in the least privileged role, found by its userName in any
// case, refused twice, and deactivating them ends their sessions; the
// last enabled admin cannot be deactivated.
func TestProvision(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		root := e.create("root", authz.RoleAdmin)
		if _, err := e.svc.Provision(cli, user.Profile{Active: true}); fieldOf(err) != "userName" {
			t.Errorf("no userName: %v", err)
		}
		if _, err := e.svc.Provision(cli, user.Profile{UserName: "x@example.org", Email: "nope", Active: true}); fieldOf(err) != "email" {
			t.Errorf("bad email: %v", err)
		}
		u, err := e.svc.Provision(cli, user.Profile{UserName: "Barbara.Jensen@example.org", ExternalID: "bjensen", DisplayName: "Ms. Barbara J Jensen III",
			Email: "bjensen@example.org", Active: true})
		if err != nil {
			t.Fatal(err)
		}
		if u.Role != user.DefaultProvisionedRole || u.Username != "barbara.jensen.example.org" || u.Disabled {
			t.Errorf("provisioned %+v", u)
		}
		if _, err := e.svc.Login(context.Background(), u.Username, "", "192.0.2.1", "ua"); err == nil {
			t.Error("a provisioned account signed in without a password")
		}
		found, ok, err := e.svc.FindProvisioned(cli, "barbara.jensen@EXAMPLE.org")
		if err != nil || !ok || found.ID != u.ID {
			t.Fatalf("find: %v %v %+v", err, ok, found)
		}
		if _, ok, _ := e.svc.FindProvisioned(cli, "root"); !ok {
			t.Error("a user Ward made is not found by its username")
		}
		if _, err := e.svc.Provision(cli, user.Profile{UserName: "barbara.jensen@example.org", Active: true}); codeOf(err) != apperr.Conflict {
			t.Errorf("twice: %v", err)
		}
		// A password so that the person has a session to end.
		e.create("sam", authz.RoleResponder)
		res := e.login("sam", goodPassword)
		p := user.Profile{UserName: "sam@example.org", DisplayName: "Sam", Active: false}
		if _, err := e.svc.UpdateProfile(cli, "sam", p); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.svc.Authenticate(context.Background(), res.Token); err == nil {
			t.Error("deactivation left the session working")
		}
		sam, _, _, _ := findUser(e, "sam")
		if !sam.Disabled || sam.SCIMUserName != "sam@example.org" || sam.DisplayName != "Sam" {
			t.Errorf("after update %+v", sam)
		}
		if _, err := e.svc.UpdateProfile(cli, root.ID, user.Profile{UserName: "root", Active: false}); codeOf(err) != apperr.Conflict {
			t.Errorf("last admin deactivated: %v", err)
		}
	})
}
