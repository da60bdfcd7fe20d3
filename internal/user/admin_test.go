package user_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/user"
)

func TestCreateValidates(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ok := user.NewUser{Username: "Quinn.R", DisplayName: "  Quinn R  ", Email: "quinn@example.org",
			Password: goodPassword, Role: authz.RoleAuditor}
		for _, tc := range []struct {
			field string
			edit  func(*user.NewUser)
		}{
			{"username", func(n *user.NewUser) { n.Username = "ab" }},
			{"username", func(n *user.NewUser) { n.Username = strings.Repeat("a", 65) }},
			{"username", func(n *user.NewUser) { n.Username = "quinn r" }},
			{"username", func(n *user.NewUser) { n.Username = "quinn@x" }},
			{"display_name", func(n *user.NewUser) { n.DisplayName = strings.Repeat("é", 201) }},
			{"display_name", func(n *user.NewUser) { n.DisplayName = "bell\a" }},
			{"email", func(n *user.NewUser) { n.Email = "not an address" }},
			{"email", func(n *user.NewUser) { n.Email = "Quinn <quinn@example.org>" }},
			{"role", func(n *user.NewUser) { n.Role = "superuser" }},
			{"role", func(n *user.NewUser) { n.Role = "" }},
			{"password", func(n *user.NewUser) { n.Password = "" }},
			{"password", func(n *user.NewUser) { n.Password = "quinn.r rocks the house" }},
		} {
			nu := ok
			tc.edit(&nu)
			if _, err := e.svc.Create(cli, nu); fieldOf(err) != tc.field {
				t.Errorf("%+v: got %v, want an error on %s", nu, err, tc.field)
			}
		}
		u, err := e.svc.Create(cli, ok)
		if err != nil {
			t.Fatal(err)
		}
		if u.Username != "quinn.r" || u.DisplayName != "Quinn R" || u.Role != authz.RoleAuditor || u.LastLoginAt != nil {
			t.Errorf("created %+v", u)
		}
		noEmail := ok
		noEmail.Username, noEmail.Email = "rita", ""
		if _, err := e.svc.Create(cli, noEmail); err != nil {
			t.Errorf("email is optional: %v", err)
		}
		if _, err := e.svc.Create(cli, ok); codeOf(err) != apperr.Conflict {
			t.Errorf("duplicate username: %v", err)
		}
		all, err := e.svc.List(cli)
		if err != nil || len(all) != 2 || all[0].Username != "quinn.r" || all[1].Username != "rita" {
			t.Errorf("list: %+v, %v", all, err)
		}
		for _, ref := range []string{u.ID, "quinn.r", "QUINN.R"} {
			if got, err := e.svc.Get(cli, ref); err != nil || got.ID != u.ID {
				t.Errorf("get %q: %+v, %v", ref, got, err)
			}
		}
		if _, err := e.svc.Get(cli, "nobody"); codeOf(err) != apperr.NotFound {
			t.Errorf("get unknown: %v", err)
		}
	})
}

func TestAdminPermission(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		resp := e.create("sam", authz.RoleResponder)
		other := e.create("tara", authz.RoleResponder)
		nu := user.NewUser{Username: "uma", Password: goodPassword, Role: authz.RoleResponder}
		seq := e.seq()
		for name, ctx := range map[string]context.Context{"nobody": context.Background(), "responder": as(resp)} {
			want := apperr.Forbidden
			if name == "nobody" {
				want = apperr.Unauthorized
			}
			_, errCreate := e.svc.Create(ctx, nu)
			_, errList := e.svc.List(ctx)
			_, errGet := e.svc.Get(ctx, other.ID)
			_, errRole := e.svc.SetRole(ctx, other.ID, authz.RoleAdmin)
			_, errDisable := e.svc.Disable(ctx, other.ID)
			_, errEnable := e.svc.Enable(ctx, other.ID)
			_, errReset := e.svc.ResetMFA(ctx, other.ID)
			for op, err := range map[string]error{"create": errCreate, "list": errList, "get": errGet, "set role": errRole,
				"disable": errDisable, "enable": errEnable, "reset mfa": errReset} {
				if codeOf(err) != want {
					t.Errorf("%s by %s: got %v, want %s", op, name, err, want)
				}
			}
		}
		e.expectActions(seq)
		// A user reads their own account, by id or username.
		if got, err := e.svc.Get(as(resp), "sam"); err != nil || got.ID != resp.ID {
			t.Errorf("own account: %v", err)
		}
		// A signed-in admin manages users.
		admin := e.create("vera", authz.RoleAdmin)
		if _, err := e.svc.Create(as(admin), nu); err != nil {
			t.Errorf("admin creates: %v", err)
		}
	})
}

func TestSetRole(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		admin := e.create("wendy", authz.RoleAdmin)
		u := e.create("xavi", authz.RoleResponder)
		res := e.login("xavi", goodPassword)
		seq := e.seq()

		if _, err := e.svc.SetRole(cli, "xavi", "root"); fieldOf(err) != "role" {
			t.Errorf("unknown role: %v", err)
		}
		got, err := e.svc.SetRole(cli, "xavi", authz.RoleAuditor)
		if err != nil || got.Role != authz.RoleAuditor {
			t.Fatalf("set role: %+v, %v", got, err)
		}
		// Permissions follow the role at the next request.
		if a, _, err := e.svc.Authenticate(context.Background(), res.Token); err != nil || a.Role != authz.RoleAuditor {
			t.Errorf("actor after role change: %+v, %v", a, err)
		}
		// Same role: nothing happens.
		if _, err := e.svc.SetRole(cli, u.ID, authz.RoleAuditor); err != nil {
			t.Fatal(err)
		}
		// A privileged role without MFA: the session ends, the next sign-in enrols.
		if _, err := e.svc.SetRole(cli, u.ID, authz.RoleSecurityOfficer); err != nil {
			t.Fatal(err)
		}
		e.ended(res.Token, user.EndRevoked)
		e.expectActions(seq, "user.role_changed", "user.role_changed", "session.revoked")
		if res := e.login("xavi", goodPassword); res.Session.Stage != user.StageEnrollMFA {
			t.Errorf("stage %s", res.Session.Stage)
		}

		// The last enabled admin can be neither demoted nor disabled.
		if _, err := e.svc.SetRole(cli, admin.ID, authz.RoleResponder); codeOf(err) != apperr.Conflict {
			t.Errorf("demote last admin: %v", err)
		}
		if _, err := e.svc.Disable(cli, "wendy"); codeOf(err) != apperr.Conflict {
			t.Errorf("disable last admin: %v", err)
		}
		if _, err := e.svc.SetRole(cli, u.ID, authz.RoleAdmin); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Disable(cli, "wendy"); err != nil {
			t.Errorf("disable an admin with another: %v", err)
		}
	})
}
