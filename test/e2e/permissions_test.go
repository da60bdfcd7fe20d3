package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/web/api"
)

// TestAPIPermissionMatrix walks every operation of the served OpenAPI
// document and calls it with a token of every role: a role without the
// operation's declared permission gets 403, one with it never does. An
// operation without a declared permission fails the test.
func TestAPIPermissionMatrix(t *testing.T) {
	w := startWard(t, "")
	var inc incidentJSON
	w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "matrix"}, &inc)
	var task struct{ ID string }
	w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+inc.ID+"/tasks", map[string]any{"title": "t"}, &task)

	var doc struct {
		Paths map[string]map[string]map[string]any `json:"paths"`
	}
	w.must(http.StatusOK, "GET", "/api/v1/openapi.json", nil, &doc)

	tokens := map[authz.Role]string{}
	for _, role := range authz.Roles {
		code, out, errs := w.run("token", "create", "--name", "matrix-"+string(role), "--role", string(role))
		if code != 0 {
			t.Fatalf("token for %s: %s", role, errs)
		}
		tokens[role] = strings.TrimSpace(out)
	}
	ops := 0
	for path, methods := range doc.Paths {
		for method, op := range methods {
			perm, _ := op[api.PermissionExtension].(string)
			if perm == "" {
				t.Errorf("%s %s declares no permission", strings.ToUpper(method), path)
				continue
			}
			ops++
			url := strings.NewReplacer("{id}", inc.ID, "{task_id}", task.ID).Replace(path)
			var body any
			if method != "get" {
				body = json.RawMessage(`{}`)
			}
			for _, role := range authz.Roles {
				code, raw := w.doAs(tokens[role], strings.ToUpper(method), url, body, nil)
				allowed := authz.Has(role, authz.Permission(perm))
				if allowed && (code == http.StatusForbidden || code == http.StatusUnauthorized) {
					t.Errorf("%s %s as %s: %d, want allowed: %s", method, path, role, code, raw)
				}
				if !allowed && code != http.StatusForbidden {
					t.Errorf("%s %s as %s: %d, want 403: %s", method, path, role, code, raw)
				}
			}
		}
	}
	if ops < 11 {
		t.Fatalf("only %d operations in the OpenAPI document", ops)
	}
}
