package apitoken_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apitoken"
	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

var admin = authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindCLI, ID: "root", Name: "root", Role: authz.RoleAdmin})

func fieldOf(err error) string {
	if e, ok := apperr.As(err); ok && e.Code == apperr.Invalid && len(e.Fields) == 1 {
		return e.Fields[0].Field
	}
	return ""
}

// TestTokenShownOnceExpiresAndRevokes: the secret is returned by Issue
// only (the table and List hold none of it), an expired token and a
// revoked one stop working, and bad input names its field.
func TestTokenShownOnceExpiresAndRevokes(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		start := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
		clk := clock.NewFake(start)
		s := apitoken.NewService(d, clk)
		responder := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, Name: "r", Role: authz.RoleResponder})
		if _, _, err := s.Issue(responder, apitoken.NewToken{Name: "x", Role: authz.RoleAdmin}); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("a responder issued a token: %v", err)
		}
		past := start.Add(-time.Minute)
		for _, tc := range []struct {
			field string
			nt    apitoken.NewToken
		}{
			{"name", apitoken.NewToken{Name: " ", Role: authz.RoleResponder}},
			{"role", apitoken.NewToken{Name: "n", Role: "root"}},
			{"expires_at", apitoken.NewToken{Name: "n", Role: authz.RoleResponder, ExpiresAt: &past}},
			{"user", apitoken.NewToken{Name: "n", Role: authz.RoleResponder, User: "nobody"}},
		} {
			if _, _, err := s.Issue(admin, tc.nt); fieldOf(err) != tc.field {
				t.Errorf("%+v: %v, want a field error on %s", tc.nt, err, tc.field)
			}
		}
		soon := start.Add(time.Hour)
		tok, secret, err := s.Issue(admin, apitoken.NewToken{Name: "ci", Role: authz.RoleResponder, ExpiresAt: &soon})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(secret, apitoken.Prefix) {
			t.Errorf("secret %q", secret)
		}
		var stored string
		if err := d.R.QueryRowContext(context.Background(), "SELECT hash FROM api_tokens WHERE id = $1", tok.ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(stored, secret[len(apitoken.Prefix):]) {
			t.Error("the table holds the secret")
		}
		all, err := s.List(admin)
		if err != nil || len(all) != 1 || all[0].ExpiresAt == nil || !all[0].ExpiresAt.Equal(soon) {
			t.Fatalf("list: %v %+v", err, all)
		}
		if _, err := s.Authenticate(context.Background(), secret); err != nil {
			t.Fatalf("fresh: %v", err)
		}
		clk.Advance(time.Hour)
		if _, err := s.Authenticate(context.Background(), secret); !errors.Is(err, apitoken.ErrInvalid) {
			t.Errorf("expired token: %v", err)
		}

		_, secret2, err := s.Issue(admin, apitoken.NewToken{Name: "scim", Role: authz.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		all, _ = s.List(admin)
		if _, err := s.Authenticate(context.Background(), secret2); err != nil || len(all) != 2 {
			t.Fatalf("second: %v %d", err, len(all))
		}
		if _, err := s.Revoke(admin, all[1].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Authenticate(context.Background(), secret2); !errors.Is(err, apitoken.ErrInvalid) {
			t.Errorf("revoked token: %v", err)
		}
		if r, err := s.Revoke(admin, all[1].ID); err != nil || r.RevokedAt == nil {
			t.Errorf("revoking twice: %v %+v", err, r)
		}
		if _, err := s.Revoke(admin, "nope"); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("unknown: %v", err)
		}
	})
}
