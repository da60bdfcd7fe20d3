package web

import (
	"bytes"
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/web/api"
	"github.com/wardhq/ward/internal/web/ui"
)

// PermissionsPath is where the permission matrix is written, from the
// repository's root.
const PermissionsPath = "docs/PERMISSIONS.md"

// entry is one API operation or UI route and the permission it needs.
type entry struct {
	method, path, what string
	perm               authz.Permission
	changesNothing     bool
}

// PermissionsDoc renders docs/PERMISSIONS.md from the code: the role ×
// permission table of package authz, then every API operation (from the
// OpenAPI document) and UI route (from the route table) under the
// permission it needs.
func PermissionsDoc() ([]byte, error) {
	doc := api.Register(http.NewServeMux(), api.Deps{}).OpenAPI()
	var apiOps []entry
	for path, item := range doc.Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if op == nil {
				continue
			}
			perm, _ := op.Extensions[api.PermissionExtension].(string)
			nothing, _ := op.Extensions[api.ChangesNothingExtension].(bool)
			apiOps = append(apiOps, entry{method: op.Method, path: path, what: op.Summary, perm: authz.Permission(perm), changesNothing: nothing})
		}
	}
	pages, err := ui.New(ui.Deps{})
	if err != nil {
		return nil, err
	}
	var uiRoutes []entry
	for _, rt := range pages.Routes() {
		uiRoutes = append(uiRoutes, entry{method: rt.Method, path: rt.Pattern, perm: rt.Perm, changesNothing: rt.ChangesNothing})
	}
	byPath := func(a, b entry) int { return cmp.Or(cmp.Compare(a.path, b.path), cmp.Compare(a.method, b.method)) }
	slices.SortFunc(apiOps, byPath)
	slices.SortFunc(uiRoutes, byPath)

	var b bytes.Buffer
	b.WriteString(`# Permissions

Generated from the code (package ` + "`authz`" + `, the API's OpenAPI document and the UI's route table) by
` + "`WARD_UPDATE_DOCS=1 go test ./internal/web -run TestPermissionsDoc`" + `; that test fails when this file is
out of date. Every API operation and UI route declares one permission; a role without it gets 403, and
the services check again. The auditor holds only permissions that read: every operation that changes
anything needs a permission it lacks (` + "`TestAuditorChangesNothing`" + ` walks them all). Operations sent with POST
that only compute an answer (previews, dry runs, verifying a proof bundle) are marked *changes nothing*.

## Roles

`)
	b.WriteString("| permission | allows |")
	for _, r := range authz.Roles {
		b.WriteString(" " + string(r) + " |")
	}
	b.WriteString("\n|---|---|" + strings.Repeat("---|", len(authz.Roles)) + "\n")
	for _, p := range authz.Permissions {
		fmt.Fprintf(&b, "| `%s` | %s |", p.Permission, p.Allows)
		for _, r := range authz.Roles {
			mark := " "
			if authz.Has(r, p.Permission) {
				mark = "✓"
			}
			b.WriteString(" " + mark + " |")
		}
		b.WriteString("\n")
	}
	b.WriteString("\n## What needs each permission\n")
	write := func(title string, list []entry, perm authz.Permission) {
		first := true
		for _, e := range list {
			if e.perm != perm {
				continue
			}
			if first {
				fmt.Fprintf(&b, "\n%s:\n\n", title)
				first = false
			}
			fmt.Fprintf(&b, "- `%s %s`", e.method, e.path)
			if e.what != "" {
				b.WriteString(": " + e.what)
			}
			if e.changesNothing {
				b.WriteString(" (changes nothing)")
			}
			b.WriteString("\n")
		}
	}
	for _, p := range authz.Permissions {
		fmt.Fprintf(&b, "\n### `%s`\n", p.Permission)
		write("API", apiOps, p.Permission)
		write("Web interface", uiRoutes, p.Permission)
	}
	b.WriteString("\n### Any signed-in person\n\nTheir own password, second factors and session, whatever the role:\n\n")
	for _, e := range uiRoutes {
		if e.perm == ui.SignedIn {
			fmt.Fprintf(&b, "- `%s %s`\n", e.method, e.path)
		}
	}
	b.WriteString("\n### No session\n\nSigning in and the first administrator's set-up:\n\n")
	for _, e := range uiRoutes {
		if e.perm == ui.Public {
			fmt.Fprintf(&b, "- `%s %s`\n", e.method, e.path)
		}
	}
	for _, e := range append(apiOps, uiRoutes...) {
		if e.perm != ui.Public && e.perm != ui.SignedIn && !slices.ContainsFunc(authz.Permissions, func(p authz.PermissionInfo) bool { return p.Permission == e.perm }) {
			return nil, fmt.Errorf("%s %s needs %q, which authz.Permissions does not list", e.method, e.path, e.perm)
		}
	}
	return b.Bytes(), nil
}
