package sso

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
)

func testClient(t *testing.T, issuer string) *Client {
	t.Helper()
	c, err := New(Options{Issuer: issuer, ClientID: "ward", ClientSecret: "s3cret", RedirectURL: "https://ward.test" + CallbackPath,
		RoleMap: map[string]authz.Role{"a": authz.RoleAdmin, "r": authz.RoleResponder, "s": authz.RoleStakeholder,
			"au": authz.RoleAuditor}})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseRoleMap(t *testing.T) {
	m, err := ParseRoleMap(" Ward Admins = admin ,team=ir=responder,,")
	if err != nil {
		t.Fatal(err)
	}
	if len(m) != 2 || m["Ward Admins"] != authz.RoleAdmin || m["team=ir"] != authz.RoleResponder {
		t.Errorf("map: %v", m)
	}
	for in, want := range map[string]string{
		"":                     "maps no group",
		"admins":               `"admins" is not group=role`,
		"=admin":               "names no group",
		"g=root":               `"root" is not a role`,
		"g=admin,g=responder":  "mapped twice",
		"g=admin,h=stakeholdr": `"stakeholdr" is not a role`,
	} {
		if _, err := ParseRoleMap(in); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseRoleMap(%q): %v, want %q", in, err, want)
		}
	}
}

func TestMapRoleHighestWins(t *testing.T) {
	c := testClient(t, "https://idp.test")
	for _, tc := range []struct {
		groups []string
		want   authz.Role
	}{
		{[]string{"s", "r"}, authz.RoleResponder},
		{[]string{"s", "au"}, authz.RoleAuditor},
		{[]string{"x", "a", "r"}, authz.RoleAdmin},
		{[]string{"x"}, ""},
		{nil, ""},
	} {
		if got := c.MapRole(tc.groups); got != tc.want {
			t.Errorf("MapRole(%v) = %q, want %q", tc.groups, got, tc.want)
		}
	}
}

func TestGroupsClaimShapes(t *testing.T) {
	if g := groups([]byte(`["a","b"]`)); len(g) != 2 {
		t.Errorf("list: %v", g)
	}
	if g := groups([]byte(`"example.org"`)); len(g) != 1 || g[0] != "example.org" {
		t.Errorf("string: %v", g)
	}
	if g := groups(nil); g != nil {
		t.Errorf("absent: %v", g)
	}
	if !isTrue([]byte(`true`)) || !isTrue([]byte(`"true"`)) || isTrue([]byte(`false`)) || isTrue(nil) {
		t.Error("email_verified shapes")
	}
}

func TestStateCookie(t *testing.T) {
	c := testClient(t, "https://idp.test")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	v, err := c.seal(state{State: "st", Nonce: "n", Verifier: "v", Next: "/x", Expires: now.Add(cookieTTL)})
	if err != nil {
		t.Fatal(err)
	}
	st, err := c.open(v, now.Add(time.Minute))
	if err != nil || st.State != "st" || st.Nonce != "n" || st.Verifier != "v" || st.Next != "/x" {
		t.Fatalf("open: %+v %v", st, err)
	}
	if _, err := c.open(v, now.Add(cookieTTL)); err == nil {
		t.Error("an expired cookie opened")
	}
	body, sig, _ := strings.Cut(v, ".")
	if _, err := c.open(body+"x."+sig, now); err == nil {
		t.Error("a tampered cookie opened")
	}
	other, _ := New(Options{Issuer: "https://idp.test", ClientID: "ward", ClientSecret: "other", RedirectURL: "https://w" + CallbackPath,
		RoleMap: map[string]authz.Role{"a": authz.RoleAdmin}})
	if _, err := other.open(v, now); err == nil {
		t.Error("a cookie signed under another client secret opened")
	}
	ck := c.cookie(v, 600)
	if ck.SameSite != http.SameSiteLaxMode || !ck.HttpOnly || !ck.Secure || ck.Path != CallbackPath {
		t.Errorf("cookie attributes: %+v", ck)
	}
}

// TestProviderDown: Begin and Finish answer ErrUnavailable, not a panic or
// a hang, when discovery fails; discovery is tried again on the next call.
func TestProviderDown(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	issuer := srv.URL
	srv.Close()
	c := testClient(t, issuer)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	now := time.Now()
	if _, _, err := c.Begin(ctx, "/", now); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Begin with the provider down: %v", err)
	}
	v, _ := c.seal(state{State: "st", Nonce: "n", Verifier: "v", Expires: now.Add(time.Minute)})
	r := httptest.NewRequest("GET", CallbackPath+"?"+url.Values{"state": {"st"}, "code": {"c"}}.Encode(), nil)
	r.AddCookie(&http.Cookie{Name: Cookie, Value: v})
	if _, _, err := c.Finish(ctx, r, now); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Finish with the provider down: %v", err)
	}
	r = httptest.NewRequest("GET", CallbackPath+"?state=other&code=c", nil)
	r.AddCookie(&http.Cookie{Name: Cookie, Value: v})
	if _, _, err := c.Finish(ctx, r, now); !errors.Is(err, ErrState) {
		t.Fatalf("Finish with another state: %v", err)
	}
}

func TestNewRefusesIncompleteOptions(t *testing.T) {
	if _, err := New(Options{Issuer: "https://i", ClientID: "c", RedirectURL: "https://w" + CallbackPath,
		RoleMap: map[string]authz.Role{"a": authz.RoleAdmin}}); err == nil {
		t.Error("no client secret accepted")
	}
	if _, err := New(Options{Issuer: "https://i", ClientID: "c", ClientSecret: "s", RedirectURL: "https://w" + CallbackPath}); err == nil {
		t.Error("an empty role map accepted")
	}
}
