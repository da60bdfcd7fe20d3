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
	t.Parallel()
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
			url := strings.NewReplacer("{id}", inc.ID, "{task_id}", task.ID, "{user}", "nobody", "{grant_id}", "none", "{party_id}", "none").Replace(path)
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

// TestAPIRedactsPHI: a stakeholder's token reads incidents with the
// description and notes withheld and marked so.
func TestAPIRedactsPHI(t *testing.T) {
	t.Parallel()
	w := startWard(t, "")
	var inc incidentJSON
	w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "x", "description": "patient R. Roe"}, &inc)
	w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+inc.ID+"/notes", map[string]any{"body": "R. Roe called"}, nil)
	code, out, errs := w.run("token", "create", "--name", "viewer", "--role", "stakeholder")
	if code != 0 {
		t.Fatal(errs)
	}
	viewer := strings.TrimSpace(out)
	for _, path := range []string{"/api/v1/incidents/" + inc.ID, "/api/v1/incidents", "/api/v1/incidents/" + inc.ID + "/timeline"} {
		status, raw := w.doAs(viewer, "GET", path, nil, nil)
		if status != http.StatusOK || strings.Contains(string(raw), "Roe") || !strings.Contains(string(raw), "_redacted\":true") {
			t.Fatalf("GET %s as stakeholder: %d %s", path, status, raw)
		}
	}
	if raw := w.must(http.StatusOK, "GET", "/api/v1/incidents/"+inc.ID, nil, nil); !strings.Contains(string(raw), "R. Roe") {
		t.Fatalf("admin does not see the description: %s", raw)
	}
}
