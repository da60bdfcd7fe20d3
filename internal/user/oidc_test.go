package user_test

import (
	"context"
	"testing"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/user"
)

const issuer = "https://idp.example.org"

func (e *env) sso(id user.ExternalIdentity) (user.LoginResult, error) {
	return e.svc.SignInExternal(context.Background(), id, "192.0.2.9", "sso-agent")
}

func TestSignInExternal(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.create("root", authz.RoleAdmin)
		seq := e.seq()

		// A new person: an account with the mapped role and a full session,
		// privileged or not (the provider does the second factor).
		id := user.ExternalIdentity{Issuer: issuer, Subject: "s-1", Email: "dana@example.org", EmailVerified: true,
			Name: "Dana\x00 Scully", Username: "Dana@Example.org", Role: authz.RoleSecurityOfficer}
		res, err := e.sso(id)
		if err != nil {
			t.Fatalf("first sign-in: %v", err)
		}
		if res.Session.Stage != user.StageFull || res.User.Role != authz.RoleSecurityOfficer ||
			res.User.Username != "dana.example.org" || res.User.DisplayName != "Dana Scully" {
			t.Fatalf("first sign-in: %+v", res)
		}
		if e.stage(res.Token) != user.StageFull {
			t.Fatal("the session is not full")
		}
		e.expectActions(seq, "user.create", "user.identity_linked", "user.login")

		// Its password is unknown to everyone: password sign-in is refused
		// like any wrong password.
		if _, err := e.svc.Login(context.Background(), res.User.Username, "", "192.0.2.9", "ua"); err != user.ErrSignIn {
			t.Errorf("password sign-in to an SSO account: %v, want ErrSignIn", err)
		}

		// Again, by subject, with another role: the role follows, audited.
		id.Role, id.Email = authz.RoleResponder, "changed@example.org"
		seq = e.seq()
		res, err = e.sso(id)
		if err != nil || res.User.Username != "dana.example.org" || res.User.Role != authz.RoleResponder {
			t.Fatalf("second sign-in: %+v %v", res.User, err)
		}
		e.expectActions(seq, "user.role_changed", "session.signed_in_elsewhere", "user.login")

		// The same preferred username for another person: a free variant.
		res, err = e.sso(user.ExternalIdentity{Issuer: issuer, Subject: "s-2", Username: "dana.example.org",
			Role: authz.RoleStakeholder})
		if err != nil || res.User.Username != "dana.example.org-2" {
			t.Fatalf("username taken: %+v %v", res.User, err)
		}
	})
}

func TestSignInExternalRefusals(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)

		// No mapped role: refused, audited, no account.
		seq := e.seq()
		if _, err := e.sso(user.ExternalIdentity{Issuer: issuer, Subject: "s-0", Username: "nobody"}); err != user.ErrNoRole {
			t.Fatalf("no role: %v", err)
		}
		expectFailure(t, e.expectActions(seq, "user.login_failed")[0], "nobody", "no_mapped_role")
		if all, _ := e.svc.List(cli); len(all) != 0 {
			t.Fatalf("a refused sign-in made %d accounts", len(all))
		}

		// The only admin, through SSO, loses the admin group: refused, the
		// role kept.
		admin := user.ExternalIdentity{Issuer: issuer, Subject: "s-admin", Username: "boss", Role: authz.RoleAdmin}
		if _, err := e.sso(admin); err != nil {
			t.Fatal(err)
		}
		admin.Role = authz.RoleResponder
		seq = e.seq()
		if _, err := e.sso(admin); err != user.ErrSSOLastAdmin {
			t.Fatalf("demoting the last admin: %v", err)
		}
		expectFailure(t, e.expectActions(seq, "user.login_failed")[0], "boss", "last_admin")
		if u, _ := e.svc.Get(cli, "boss"); u.Role != authz.RoleAdmin {
			t.Errorf("boss's role: %s", u.Role)
		}

		// A disabled account.
		if _, err := e.svc.Disable(cli, "boss"); err == nil {
			t.Fatal("disabled the last admin")
		}
		e.create("frank", authz.RoleResponder)
		if _, err := e.sso(user.ExternalIdentity{Issuer: issuer, Subject: "s-frank", Username: "frank2", Role: authz.RoleResponder}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Disable(cli, "frank2"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.sso(user.ExternalIdentity{Issuer: issuer, Subject: "s-frank", Role: authz.RoleResponder}); err != user.ErrSSODisabled {
			t.Errorf("disabled: %v", err)
		}

		// Two accounts with the verified email: Ward cannot tell which.
		for _, n := range []string{"twin-a", "twin-b"} {
			if _, err := e.svc.Create(cli, user.NewUser{Username: n, Email: "twin@example.org", Password: goodPassword,
				Role: authz.RoleResponder}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.sso(user.ExternalIdentity{Issuer: issuer, Subject: "s-twin", Email: "TWIN@example.org", EmailVerified: true,
			Role: authz.RoleResponder}); err != user.ErrSSOAmbiguous {
			t.Errorf("ambiguous email: %v", err)
		}

		// An account linked to one subject is not taken by another subject
		// of the same issuer with its verified email.
		if _, err := e.sso(user.ExternalIdentity{Issuer: issuer, Subject: "s-gina", Email: "gina@example.org",
			Role: authz.RoleResponder}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.sso(user.ExternalIdentity{Issuer: issuer, Subject: "s-gina-2", Email: "gina@example.org", EmailVerified: true,
			Role: authz.RoleResponder}); err != user.ErrSSOLinkedElsewhere {
			t.Errorf("email of an account linked to another subject: %v", err)
		}
	})
}
