package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scimDo sends a SCIM request with token and decodes the answer into out.
func scimDo(t *testing.T, w *ward, token, method, path string, body any, out any) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, w.url+"/scim/v2"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := w.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, resp.Header, raw
}

// scimError checks that raw is a SCIM error body (RFC 7644 3.12) with
// status and, when given, scimType, served as application/scim+json.
func scimError(t *testing.T, what string, code int, h http.Header, raw []byte, status int, scimType string) {
	t.Helper()
	var e struct {
		Schemas  []string `json:"schemas"`
		Status   string   `json:"status"`
		SCIMType string   `json:"scimType"`
		Detail   string   `json:"detail"`
	}
	if err := json.Unmarshal(raw, &e); err != nil || code != status || h.Get("Content-Type") != "application/scim+json" ||
		len(e.Schemas) != 1 || e.Schemas[0] != "urn:ietf:params:scim:api:messages:2.0:Error" || e.Status != strconv.Itoa(status) ||
		e.SCIMType != scimType || e.Detail == "" {
		t.Errorf("%s: %d %s %s, want a SCIM error %d %q", what, code, h.Get("Content-Type"), raw, status, scimType)
	}
}

// sessionWorks reports whether the session cookie still opens the profile.
func sessionWorks(t *testing.T, w *ward, c *http.Cookie) bool {
	t.Helper()
	cl := &http.Client{Timeout: 20 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}, // self-signed
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ := http.NewRequest("GET", w.url+"/profile", nil)
	req.AddCookie(c)
	resp, err := cl.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

type apiUser struct {
	ID       string `json:"id"`
	Username string `json:"username"`
	Role     string `json:"role"`
	Disabled bool   `json:"disabled"`
}

// TestPeopleAPIEndToEnd drives the People API: users (bad input named,
// create, role, the last admin kept), a one-time sign-up link used once
// through its page, API tokens with an expiry (the secret shown once,
// listed without it, revoked at once), another person's contact methods,
// and disabling a person, which ends their session and their token.
func TestPeopleAPIEndToEnd(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		code, raw := w.do("POST", "/api/v1/users", map[string]any{"role": "responder"}, nil)
		if code != http.StatusUnprocessableEntity || !strings.Contains(string(raw), "username") {
			t.Errorf("no username: %d %s", code, raw)
		}
		code, raw = w.do("POST", "/api/v1/users", map[string]any{"username": "carol", "role": "responder", "email": "not an address", "password": uiPassword}, nil)
		if code != http.StatusUnprocessableEntity || !strings.Contains(string(raw), "body.email") {
			t.Errorf("bad email: %d %s", code, raw)
		}
		var carol, root apiUser
		w.must(http.StatusCreated, "POST", "/api/v1/users", map[string]any{"username": "carol", "role": "responder", "password": uiPassword}, &carol)
		w.must(http.StatusCreated, "POST", "/api/v1/users", map[string]any{"username": "root", "role": "admin"}, &root)
		if code, raw := w.do("POST", "/api/v1/users/root/disable", nil, nil); code != http.StatusConflict {
			t.Errorf("disabling the last admin: %d %s", code, raw)
		}
		if code, raw := w.do("PATCH", "/api/v1/users/root", map[string]any{"role": "auditor"}, nil); code != http.StatusConflict {
			t.Errorf("demoting the last admin: %d %s", code, raw)
		}
		w.must(http.StatusOK, "PATCH", "/api/v1/users/carol", map[string]any{"role": "stakeholder"}, &carol)
		if carol.Role != "stakeholder" {
			t.Errorf("role %s", carol.Role)
		}
		w.must(http.StatusOK, "PATCH", "/api/v1/users/carol", map[string]any{"role": "responder"}, &carol)

		// A sign-up link, used once through its page.
		var inv struct {
			Token, URL string
		}
		if code, raw := w.do("POST", "/api/v1/invites", map[string]any{"role": "auditor", "expires_in_hours": 9999}, nil); code != http.StatusUnprocessableEntity ||
			!strings.Contains(string(raw), "expires_in_hours") {
			t.Errorf("too long an invitation: %d %s", code, raw)
		}
		w.must(http.StatusCreated, "POST", "/api/v1/invites", map[string]any{"role": "auditor", "email": "ann@example.org"}, &inv)
		u, err := url.Parse(inv.URL)
		if err != nil || u.Path != "/invite" || u.Query().Get("token") != inv.Token {
			t.Fatalf("invitation link %q", inv.URL)
		}
		b := newBrowserless(t, w.url)
		if code, page := b.send("GET", "/invite?"+u.RawQuery, nil); code != http.StatusOK || !strings.Contains(page, "Auditor") {
			t.Fatalf("sign-up page: %d %.400s", code, page)
		}
		form := url.Values{"token": {inv.Token}, "username": {"ann"}, "password": {uiPassword}, "password_confirm": {uiPassword}}
		if code, loc := b.send("POST", "/invite", form); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?msg=invite_done") {
			t.Fatalf("sign up: %d %.400s", code, loc)
		}
		form.Set("username", "ann2")
		if code, _ := b.send("POST", "/invite", form); code != http.StatusGone {
			t.Errorf("second use of the link: %d", code)
		}
		var ann apiUser
		w.must(http.StatusOK, "GET", "/api/v1/users/ann", nil, &ann)
		if ann.Role != "auditor" {
			t.Errorf("ann %+v", ann)
		}
		if code, _ := w.do("GET", "/api/v1/users/ann2", nil, nil); code != http.StatusNotFound {
			t.Errorf("the second use made ann2: %d", code)
		}

		// API tokens: an expiry in the past is refused; the secret is shown once.
		if code, raw := w.do("POST", "/api/v1/api-tokens", map[string]any{"name": "old", "role": "responder",
			"expires_at": time.Now().Add(-time.Hour)}, nil); code != http.StatusUnprocessableEntity || !strings.Contains(string(raw), "body.expires_at") {
			t.Errorf("past expiry: %d %s", code, raw)
		}
		var tok struct {
			ID, Token string
		}
		w.must(http.StatusCreated, "POST", "/api/v1/api-tokens", map[string]any{"name": "ci", "role": "responder",
			"expires_at": time.Now().Add(time.Hour)}, &tok)
		w.must(http.StatusOK, "GET", "/api/v1/incidents", nil, nil)
		if code, _ := w.doAs(tok.Token, "GET", "/api/v1/incidents", nil, nil); code != http.StatusOK {
			t.Errorf("new token: %d", code)
		}
		if raw := w.must(http.StatusOK, "GET", "/api/v1/api-tokens", nil, nil); strings.Contains(string(raw), tok.Token[5:]) || !strings.Contains(string(raw), tok.ID) {
			t.Errorf("the list shows the secret or lacks the token: %s", raw)
		}
		w.must(http.StatusNoContent, "DELETE", "/api/v1/api-tokens/"+tok.ID, nil, nil)
		if code, _ := w.doAs(tok.Token, "GET", "/api/v1/incidents", nil, nil); code != http.StatusUnauthorized {
			t.Errorf("revoked token: %d", code)
		}

		// Another person's contact methods and notification rules.
		var cm struct{ ID string }
		w.must(http.StatusCreated, "POST", "/api/v1/users/carol/contact-methods", map[string]any{"kind": "email", "address": "carol@example.org"}, &cm)
		if code, raw := w.do("POST", "/api/v1/users/carol/contact-methods", map[string]any{"kind": "sms", "address": "12"}, nil); code != http.StatusUnprocessableEntity ||
			!strings.Contains(string(raw), "address") {
			t.Errorf("bad phone number: %d %s", code, raw)
		}
		var cms []struct{ ID string }
		w.must(http.StatusOK, "GET", "/api/v1/users/carol/contact-methods", nil, &cms)
		w.must(http.StatusOK, "GET", "/api/v1/users/carol/notification-rules", nil, nil)
		if len(cms) != 1 || cms[0].ID != cm.ID {
			t.Errorf("contact methods %+v", cms)
		}
		w.must(http.StatusNoContent, "DELETE", "/api/v1/contact-methods/"+cm.ID, nil, nil)

		// Disabling carol ends her session and her token at once.
		var own struct{ Token string }
		w.must(http.StatusCreated, "POST", "/api/v1/api-tokens", map[string]any{"name": "carol-script", "role": "responder", "user": "carol"}, &own)
		_, cookie := login(t, w.url, "carol")
		if !sessionWorks(t, w, cookie) {
			t.Fatal("carol's session does not work")
		}
		w.must(http.StatusOK, "POST", "/api/v1/users/carol/disable", nil, &carol)
		if !carol.Disabled || sessionWorks(t, w, cookie) {
			t.Error("carol's session works after she was disabled")
		}
		if code, _ := w.doAs(own.Token, "GET", "/api/v1/incidents", nil, nil); code != http.StatusUnauthorized {
			t.Errorf("carol's token after she was disabled: %d", code)
		}
		w.must(http.StatusOK, "POST", "/api/v1/users/carol/enable", nil, nil)
		w.must(http.StatusOK, "POST", "/api/v1/users/root/reset-mfa", nil, nil)
		var responderTok struct{ Token string }
		w.must(http.StatusCreated, "POST", "/api/v1/api-tokens", map[string]any{"name": "resp", "role": "responder"}, &responderTok)
		if code, _ := w.doAs(responderTok.Token, "GET", "/api/v1/users", nil, nil); code != http.StatusForbidden {
			t.Errorf("a responder listed users: %d", code)
		}
	})
}

// TestSCIMProvisioning drives /scim/v2 with RFC 7644's example requests
// and the forms Okta and Entra ID send: discovery, create (3.3), filter
// (3.4.2.2), paging, PATCH active=false (the person's session stops
// working), group membership (the role changes), DELETE (disabled, kept),
// and SCIM error bodies for bad tokens and bad requests.
func TestSCIMProvisioning(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var tok struct{ Token string }
		w.must(http.StatusCreated, "POST", "/api/v1/api-tokens", map[string]any{"name": "okta", "role": "admin"}, &tok)
		var resp struct{ Token string }
		w.must(http.StatusCreated, "POST", "/api/v1/api-tokens", map[string]any{"name": "resp", "role": "responder"}, &resp)
		code, h, raw := scimDo(t, w, "", "GET", "/Users", nil, nil)
		scimError(t, "no token", code, h, raw, http.StatusUnauthorized, "")
		code, h, raw = scimDo(t, w, resp.Token, "GET", "/Users", nil, nil)
		scimError(t, "responder token", code, h, raw, http.StatusForbidden, "")

		for _, p := range []string{"/ServiceProviderConfig", "/ResourceTypes", "/Schemas", "/ResourceTypes/User",
			"/Schemas/urn:ietf:params:scim:schemas:core:2.0:User"} {
			if code, h, raw := scimDo(t, w, tok.Token, "GET", p, nil, nil); code != http.StatusOK || h.Get("Content-Type") != "application/scim+json" {
				t.Errorf("GET %s: %d %s", p, code, raw)
			}
		}

		// RFC 7644 3.3's example.
		bjensen := map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:schemas:core:2.0:User"},
			"userName":   "bjensen",
			"externalId": "bjensen",
			"name":       map[string]any{"formatted": "Ms. Barbara J Jensen III", "familyName": "Jensen", "givenName": "Barbara"},
		}
		type scimUser struct {
			ID       string `json:"id"`
			UserName string `json:"userName"`
			Active   bool   `json:"active"`
			Groups   []struct {
				Value string `json:"value"`
			} `json:"groups"`
		}
		var bj scimUser
		code, h, raw = scimDo(t, w, tok.Token, "POST", "/Users", bjensen, &bj)
		if code != http.StatusCreated || bj.UserName != "bjensen" || !bj.Active || h.Get("Location") == "" {
			t.Fatalf("create: %d %s", code, raw)
		}
		code, h, raw = scimDo(t, w, tok.Token, "POST", "/Users", bjensen, nil)
		scimError(t, "create twice", code, h, raw, http.StatusConflict, "uniqueness")
		code, h, raw = scimDo(t, w, tok.Token, "POST", "/Users", map[string]any{"userName": "x", "emails": []map[string]any{{"value": "nope"}}}, nil)
		scimError(t, "bad email", code, h, raw, http.StatusBadRequest, "invalidValue")
		if !strings.Contains(string(raw), "emails") {
			t.Errorf("the error does not name emails: %s", raw)
		}
		code, h, raw = scimDo(t, w, tok.Token, "POST", "/Users", "{", nil)
		scimError(t, "not an object", code, h, raw, http.StatusBadRequest, "invalidSyntax")

		type list struct {
			TotalResults int        `json:"totalResults"`
			StartIndex   int        `json:"startIndex"`
			ItemsPerPage int        `json:"itemsPerPage"`
			Resources    []scimUser `json:"Resources"`
		}
		var l list
		scimDo(t, w, tok.Token, "GET", "/Users?filter="+url.QueryEscape(`userName eq "BJensen"`), nil, &l)
		if l.TotalResults != 1 || len(l.Resources) != 1 || l.Resources[0].ID != bj.ID {
			t.Errorf("filter: %+v", l)
		}
		code, h, raw = scimDo(t, w, tok.Token, "GET", "/Users?filter="+url.QueryEscape(`title co "x"`), nil, nil)
		scimError(t, "unsupported filter", code, h, raw, http.StatusBadRequest, "invalidFilter")

		// A person with a password and a session, then deprovisioned.
		w.must(http.StatusCreated, "POST", "/api/v1/users", map[string]any{"username": "dave", "role": "responder", "password": uiPassword}, nil)
		_, cookie := login(t, w.url, "dave")
		if !sessionWorks(t, w, cookie) {
			t.Fatal("dave's session does not work")
		}
		scimDo(t, w, tok.Token, "GET", "/Users?filter="+url.QueryEscape(`userName eq "dave"`), nil, &l)
		if len(l.Resources) != 1 {
			t.Fatalf("dave: %+v", l)
		}
		dave := l.Resources[0].ID
		scimDo(t, w, tok.Token, "GET", "/Users?startIndex=2&count=1", nil, &l)
		if l.TotalResults != 2 || l.StartIndex != 2 || l.ItemsPerPage != 1 || len(l.Resources) != 1 {
			t.Errorf("paging: %+v", l)
		}
		var patched scimUser
		code, _, raw = scimDo(t, w, tok.Token, "PATCH", "/Users/"+dave, map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "replace", "value": map[string]any{"active": false}}},
		}, &patched)
		if code != http.StatusOK || patched.Active {
			t.Fatalf("deprovision: %d %s", code, raw)
		}
		if sessionWorks(t, w, cookie) {
			t.Error("dave's session works after active=false")
		}
		var daveAPI apiUser
		w.must(http.StatusOK, "GET", "/api/v1/users/dave", nil, &daveAPI)
		if !daveAPI.Disabled {
			t.Error("dave is not disabled")
		}
		code, h, raw = scimDo(t, w, tok.Token, "PATCH", "/Users/"+dave, map[string]any{
			"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": []map[string]any{{"op": "jump"}}}, nil)
		scimError(t, "bad op", code, h, raw, http.StatusBadRequest, "invalidValue")

		// Group membership is the role.
		code, _, raw = scimDo(t, w, tok.Token, "PATCH", "/Groups/security_officer", map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "add", "path": "members", "value": []map[string]any{{"value": bj.ID}}}},
		}, nil)
		if code != http.StatusNoContent {
			t.Fatalf("add member: %d %s", code, raw)
		}
		var bjAPI apiUser
		w.must(http.StatusOK, "GET", "/api/v1/users/"+bj.ID, nil, &bjAPI)
		if bjAPI.Role != "security_officer" {
			t.Errorf("after joining the group, role %s", bjAPI.Role)
		}
		var g struct {
			Members []struct{ Value string } `json:"members"`
		}
		scimDo(t, w, tok.Token, "GET", "/Groups/security_officer", nil, &g)
		if len(g.Members) != 1 || g.Members[0].Value != bj.ID {
			t.Errorf("group members %+v", g)
		}
		code, _, raw = scimDo(t, w, tok.Token, "PATCH", "/Groups/security_officer", map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "remove", "path": `members[value eq "` + bj.ID + `"]`}},
		}, nil)
		if code != http.StatusNoContent {
			t.Fatalf("remove member: %d %s", code, raw)
		}
		w.must(http.StatusOK, "GET", "/api/v1/users/"+bj.ID, nil, &bjAPI)
		if bjAPI.Role != "stakeholder" {
			t.Errorf("after leaving the group, role %s", bjAPI.Role)
		}
		code, h, raw = scimDo(t, w, tok.Token, "GET", "/Groups/superusers", nil, nil)
		scimError(t, "unknown group", code, h, raw, http.StatusNotFound, "")
		code, h, raw = scimDo(t, w, tok.Token, "POST", "/Groups", map[string]any{"displayName": "x"}, nil)
		scimError(t, "new group", code, h, raw, http.StatusForbidden, "mutability")

		// Entra ID's path form with a string, then DELETE: disabled, kept.
		code, _, raw = scimDo(t, w, tok.Token, "PATCH", "/Users/"+bj.ID, map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "Replace", "path": "active", "value": "False"}},
		}, &patched)
		if code != http.StatusOK || patched.Active {
			t.Errorf("Entra deactivation: %d %s", code, raw)
		}
		scimDo(t, w, tok.Token, "PATCH", "/Users/"+bj.ID, map[string]any{
			"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
			"Operations": []map[string]any{{"op": "replace", "path": "active", "value": true}},
		}, &patched)
		if !patched.Active {
			t.Error("reactivation failed")
		}
		if code, _, raw := scimDo(t, w, tok.Token, "DELETE", "/Users/"+bj.ID, nil, nil); code != http.StatusNoContent {
			t.Errorf("delete: %d %s", code, raw)
		}
		var kept scimUser
		if code, _, raw := scimDo(t, w, tok.Token, "GET", "/Users/"+bj.ID, nil, &kept); code != http.StatusOK || kept.Active {
			t.Errorf("after delete: %d %s", code, raw)
		}
	})
}

// TestSCIMGroupWritesAreWhole: a group PUT or PATCH that fails part way
// (an unknown member after a known one) changes nobody's role; before,
// the members before the failure had taken the role already.
func TestSCIMGroupWritesAreWhole(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var tok struct{ Token string }
		w.must(http.StatusCreated, "POST", "/api/v1/api-tokens", map[string]any{"name": "okta", "role": "admin"}, &tok)
		ids := map[string]string{}
		for _, name := range []string{"alice", "bob"} {
			var u apiUser
			w.must(http.StatusCreated, "POST", "/api/v1/users", map[string]any{"username": name, "role": "responder", "password": uiPassword}, &u)
			ids[name] = u.ID
		}
		roles := func() string {
			var out []string
			for _, name := range []string{"alice", "bob"} {
				var u apiUser
				w.must(http.StatusOK, "GET", "/api/v1/users/"+name, nil, &u)
				out = append(out, name+"="+u.Role)
			}
			return strings.Join(out, " ")
		}
		patch := func(ops ...map[string]any) (int, http.Header, []byte) {
			return scimDo(t, w, tok.Token, "PATCH", "/Groups/security_officer", map[string]any{
				"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"}, "Operations": ops}, nil)
		}
		const unknown = "0190c0de-0000-7000-8000-000000000000"

		code, h, raw := scimDo(t, w, tok.Token, "PUT", "/Groups/security_officer", map[string]any{
			"members": []map[string]any{{"value": ids["alice"]}, {"value": unknown}}}, nil)
		scimError(t, "PUT with an unknown member", code, h, raw, http.StatusNotFound, "")
		if got := roles(); got != "alice=responder bob=responder" {
			t.Errorf("after a failed PUT: %s", got)
		}
		code, h, raw = patch(
			map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": ids["bob"]}}},
			map[string]any{"op": "add", "path": "members", "value": []map[string]any{{"value": unknown}}})
		scimError(t, "PATCH with an unknown member", code, h, raw, http.StatusNotFound, "")
		if got := roles(); got != "alice=responder bob=responder" {
			t.Errorf("after a failed PATCH: %s", got)
		}

		if code, _, raw := scimDo(t, w, tok.Token, "PUT", "/Groups/security_officer", map[string]any{
			"members": []map[string]any{{"value": ids["alice"]}, {"value": ids["bob"]}}}, nil); code != http.StatusOK {
			t.Fatalf("PUT both: %d %s", code, raw)
		}
		if got := roles(); got != "alice=security_officer bob=security_officer" {
			t.Errorf("after PUT both: %s", got)
		}
		if code, _, raw := patch(map[string]any{"op": "replace", "path": "members", "value": []map[string]any{{"value": ids["bob"]}}}); code != http.StatusNoContent {
			t.Fatalf("replace with bob: %d %s", code, raw)
		}
		if got := roles(); got != "alice=stakeholder bob=security_officer" {
			t.Errorf("after replacing with bob: %s", got)
		}
	})
}
