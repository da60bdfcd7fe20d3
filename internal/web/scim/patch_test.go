package scim

import (
	"errors"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/wardhq/ward/internal/user"
)

// TestApplyUserAttr: the PATCH forms Okta and Entra ID send set what
// Ward keeps, attributes it does not keep are ignored, and bad values
// are SCIM errors naming the attribute.
func TestApplyUserAttr(t *testing.T) {
	t.Parallel()
	p := user.Profile{UserName: "bjensen", Active: true}
	for _, tc := range []struct {
		path   string
		v      any
		remove bool
	}{
		{"active", "False", false},
		{"name.formatted", "Barbara Jensen", false},
		{`emails[type eq "work"].value`, "bj@example.org", false},
		{"title", "Tour Guide", false},
		{"externalId", "00u1", false},
	} {
		if err := applyUserAttr(&p, tc.path, tc.v, tc.remove); err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
	}
	want := user.Profile{UserName: "bjensen", DisplayName: "Barbara Jensen", Email: "bj@example.org", ExternalID: "00u1"}
	if p != want {
		t.Errorf("got %+v, want %+v", p, want)
	}
	if err := applyUserAttr(&p, "emails", []any{map[string]any{"value": "a@x.org"}, map[string]any{"value": "b@x.org", "primary": true}}, false); err != nil || p.Email != "b@x.org" {
		t.Errorf("primary email: %v %q", err, p.Email)
	}
	for _, tc := range []struct {
		path     string
		v        any
		remove   bool
		scimType string
	}{
		{"active", "maybe", false, "invalidValue"},
		{"active", nil, true, "mutability"},
		{"userName", nil, true, "mutability"},
		{"displayName", 7, false, "invalidValue"},
		{"emails", []any{7}, false, "invalidValue"},
	} {
		var e *Error
		if err := applyUserAttr(&p, tc.path, tc.v, tc.remove); !errors.As(err, &e) || e.SCIMType != tc.scimType {
			t.Errorf("%s %v: %v, want %s", tc.path, tc.v, err, tc.scimType)
		}
	}
}

// TestFilters: only `attr eq "value"` on the allowed attributes parses;
// members[value eq "id"] names one member.
func TestFilters(t *testing.T) {
	t.Parallel()
	for f, ok := range map[string]bool{`userName eq "bjensen"`: true, `USERNAME Eq "a b"`: true, `userName sw "b"`: false,
		`title eq "x"`: false, `userName eq bjensen`: false, ``: true} {
		r := httptest.NewRequest("GET", "/scim/v2/Users?filter="+url.QueryEscape(f), nil)
		_, _, err := eqFilter(r, "userName", "externalId")
		if (err == nil) != ok {
			t.Errorf("%q: %v", f, err)
		}
	}
	if ids, err := filterID(`members[value eq "u1"]`); err != nil || len(ids) != 1 || ids[0] != "u1" {
		t.Errorf("filterID: %v %v", ids, err)
	}
	if _, err := filterID(`members[value eq "u1"`); err == nil {
		t.Error("an unclosed filter parsed")
	}
}
