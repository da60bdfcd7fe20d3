package sso

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
)

// FuzzRoleMapping reads the role map an administrator configures and the
// groups claim an identity provider sends, as a sign-in maps them: a role
// map is refused or maps only non-blank groups to real roles and reads
// back the same when written out; a groups claim of any shape gives the
// most privileged role any one of its groups maps to, and no role when
// none maps. Run it longer with:
//
//	go test -run='^$' -fuzz='^FuzzRoleMapping$' -fuzztime=10m ./internal/sso
func FuzzRoleMapping(f *testing.F) {
	for _, s := range []struct{ roleMap, claim string }{
		{"ward-admins=admin, sec=security_officer,privacy=privacy_officer", `["ward-admins","staff"]`},
		{"cn=responders,ou=groups,dc=example,dc=org=responder", `"cn=responders,ou=groups,dc=example,dc=org"`},
		{"a=auditor,b=stakeholder", `["b","a"]`},
		{"a=auditor,a=admin", `["a"]`},
		{"a=root", `[]`},
		{"=admin", `null`},
		{",,", `{"groups":["a"]}`},
		{"x=responder", `[1,"x"]`},
		{"x=responder", `""`},
	} {
		f.Add(s.roleMap, []byte(s.claim))
	}
	f.Fuzz(func(t *testing.T, roleMap string, claim []byte) {
		m, err := ParseRoleMap(roleMap)
		if err != nil {
			return
		}
		if len(m) == 0 {
			t.Fatal("accepted a map of no group")
		}
		var pairs []string
		for g, r := range m {
			if g == "" || g != strings.TrimSpace(g) || strings.Contains(g, ",") || !authz.ValidRole(r) {
				t.Fatalf("accepted %q → %q", g, r)
			}
			pairs = append(pairs, g+"="+string(r))
		}
		back, err := ParseRoleMap(strings.Join(pairs, ","))
		if err != nil || !maps.Equal(back, m) {
			t.Fatalf("%v written out reads back as %v, %v", m, back, err)
		}
		c := &Client{opts: Options{RoleMap: m}}
		gs := groups(json.RawMessage(claim))
		role := c.MapRole(gs)
		best := -1
		for _, g := range gs {
			if r, ok := m[g]; ok {
				if i := slices.Index(RoleRank, r); i < 0 {
					t.Fatalf("role %q is not ranked", r)
				} else if best < 0 || i < best {
					best = i
				}
			}
		}
		switch {
		case best < 0 && role != "":
			t.Fatalf("groups %q map to no role, got %q", gs, role)
		case best >= 0 && role != RoleRank[best]:
			t.Fatalf("groups %q: got %q, want %q", gs, role, RoleRank[best])
		}
	})
}
