package e2e

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/web/api"
	"github.com/wardhq/ward/internal/web/ui"
)

var wildcard = regexp.MustCompile(`\{[a-z_]+\}`)

// TestAuditorChangesNothing walks every operation of the served OpenAPI
// document and every route of the UI's route table that is not a GET and
// asserts the auditor is refused it with 403, and holds none of their
// permissions. The exceptions are declared in the code, not here:
// operations marked as changing nothing (previews, dry runs, verifying a
// proof bundle), and the UI's public and signed-in routes, which act only
// on the auditor's own sign-in, password, second factors and session.
func TestAuditorChangesNothing(t *testing.T) {
	t.Parallel()
	w := startWard(t, "")
	code, out, errs := w.run("token", "create", "--name", "auditor", "--role", string(authz.RoleAuditor))
	if code != 0 {
		t.Fatal(errs)
	}
	token := strings.TrimSpace(out)
	var doc struct {
		Paths map[string]map[string]map[string]any `json:"paths"`
	}
	w.must(http.StatusOK, "GET", "/api/v1/openapi.json", nil, &doc)
	mutating := 0
	for path, methods := range doc.Paths {
		for method, op := range methods {
			if method == "get" || op[api.ChangesNothingExtension] == true {
				continue
			}
			mutating++
			perm, _ := op[api.PermissionExtension].(string)
			if authz.Has(authz.RoleAuditor, authz.Permission(perm)) {
				t.Errorf("%s %s changes state and needs %s, which the auditor holds", strings.ToUpper(method), path, perm)
			}
			if code, raw := w.doAs(token, strings.ToUpper(method), wildcard.ReplaceAllString(path, "none"), json.RawMessage(`{}`), nil); code != http.StatusForbidden {
				t.Errorf("%s %s as auditor: %d, want 403: %.200s", strings.ToUpper(method), path, code, raw)
			}
		}
	}
	if mutating < 60 {
		t.Fatalf("only %d mutating operations in the OpenAPI document", mutating)
	}

	pages, err := ui.New(ui.Deps{})
	if err != nil {
		t.Fatal(err)
	}
	b := signInAs(t, w, authz.RoleAuditor, "auditor-ui")
	routes := 0
	for _, rt := range pages.Routes() {
		if rt.Method == http.MethodGet || rt.ChangesNothing || rt.Perm == ui.Public || rt.Perm == ui.SignedIn {
			continue
		}
		routes++
		if authz.Has(authz.RoleAuditor, rt.Perm) {
			t.Errorf("UI %s %s changes state and needs %s, which the auditor holds", rt.Method, rt.Pattern, rt.Perm)
		}
		path := wildcard.ReplaceAllString(strings.ReplaceAll(rt.Pattern, "{$}", ""), "none")
		if code, _ := b.send(rt.Method, path, nil); code != http.StatusForbidden {
			t.Errorf("UI %s %s as auditor: %d, want 403", rt.Method, rt.Pattern, code)
		}
	}
	if routes < 60 {
		t.Fatalf("only %d mutating UI routes", routes)
	}
}

// TestAuditorCannotEndGrants: the auditor, who sees restricted incidents,
// their break-glass grants and the officer alerts, can neither end a live
// grant nor acknowledge the Security Officer's alert (issue #15); a
// Security Officer can.
func TestAuditorCannotEndGrants(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		tokens := map[authz.Role]string{}
		for _, role := range []authz.Role{authz.RoleAuditor, authz.RoleResponder, authz.RoleSecurityOfficer} {
			code, out, errs := w.run("token", "create", "--name", "grants-"+string(role), "--role", string(role))
			if code != 0 {
				t.Fatal(errs)
			}
			tokens[role] = strings.TrimSpace(out)
		}
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "restricted", "restricted": true}, &inc)
		var g struct{ ID string }
		if code, raw := w.doAs(tokens[authz.RoleResponder], "POST", "/api/v1/incidents/"+inc.Number+"/break-glass",
			map[string]any{"reason": "paged at night for the outage on this system"}, &g); code != http.StatusCreated {
			t.Fatalf("break-glass: %d %s", code, raw)
		}
		var alerts struct{ Items []struct{ ID string } }
		if code, raw := w.doAs(tokens[authz.RoleAuditor], "GET", "/api/v1/officer-alerts", nil, &alerts); code != http.StatusOK || len(alerts.Items) != 1 {
			t.Fatalf("officer alerts as auditor: %d %s", code, raw)
		}
		revoke := "/api/v1/incidents/" + inc.ID + "/grants/" + g.ID + "/revoke"
		ack := "/api/v1/officer-alerts/" + alerts.Items[0].ID + "/acknowledge"
		for _, path := range []string{revoke, ack} {
			if code, raw := w.doAs(tokens[authz.RoleAuditor], "POST", path, nil, nil); code != http.StatusForbidden {
				t.Errorf("POST %s as auditor: %d, want 403: %s", path, code, raw)
			}
		}
		var grants struct {
			Items []struct {
				RevokedAt *string `json:"revoked_at"`
			}
		}
		w.doAs(tokens[authz.RoleAuditor], "GET", "/api/v1/incidents/"+inc.ID+"/grants", nil, &grants)
		if len(grants.Items) != 1 || grants.Items[0].RevokedAt != nil {
			t.Fatalf("the grant after the auditor's attempt: %+v", grants)
		}
		for _, path := range []string{revoke, ack} {
			if code, raw := w.doAs(tokens[authz.RoleSecurityOfficer], "POST", path, nil, nil); code != http.StatusOK {
				t.Errorf("POST %s as security officer: %d %s", path, code, raw)
			}
		}
	})
}
