package scim

import (
	"context"
	"net/http"
	"strings"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/user"
)

type member struct {
	Value   string `json:"value"`
	Display string `json:"display,omitempty"`
	Ref     string `json:"$ref,omitempty"`
}

// groupResource is a Group (RFC 7643 4.2): one of Ward's roles, its
// members the people who hold it.
type groupResource struct {
	Schemas     []string `json:"schemas"`
	ID          string   `json:"id"`
	DisplayName string   `json:"displayName"`
	Members     []member `json:"members,omitempty"`
	Meta        meta     `json:"meta"`
}

func (s *server) groups(ctx context.Context, withMembers bool) ([]groupResource, error) {
	var all []user.User
	if withMembers {
		var err error
		if all, err = s.Users.List(ctx); err != nil {
			return nil, err
		}
	}
	out := make([]groupResource, 0, len(authz.Roles))
	for _, r := range authz.Roles {
		g := groupResource{Schemas: []string{SchemaGroup}, ID: string(r), DisplayName: string(r),
			Meta: meta{ResourceType: "Group", Location: s.location("Groups", string(r))}}
		for _, u := range all {
			if u.Role == r {
				g.Members = append(g.Members, member{Value: u.ID, Display: u.Username, Ref: s.location("Users", u.ID)})
			}
		}
		out = append(out, g)
	}
	return out, nil
}

// withMembers reports whether the request wants members (Entra ID asks
// excludedAttributes=members).
func withMembers(r *http.Request) bool {
	return !strings.Contains(strings.ToLower(r.URL.Query().Get("excludedAttributes")), "members")
}

func (s *server) listGroups(w http.ResponseWriter, r *http.Request) error {
	attr, value, err := eqFilter(r, "displayName", "id")
	if err != nil {
		return err
	}
	gs, err := s.groups(r.Context(), withMembers(r))
	if err != nil {
		return err
	}
	var items []groupResource
	for _, g := range gs {
		if attr == "" || strings.EqualFold(g.DisplayName, value) {
			items = append(items, g)
		}
	}
	out, err := page(r, items)
	if err != nil {
		return err
	}
	writeSCIM(w, http.StatusOK, out)
	return nil
}

func (s *server) getGroup(w http.ResponseWriter, r *http.Request) error {
	g, err := s.group(r.Context(), r.PathValue("id"), withMembers(r))
	if err != nil {
		return err
	}
	writeSCIM(w, http.StatusOK, g)
	return nil
}

func (s *server) group(ctx context.Context, id string, members bool) (groupResource, error) {
	role, err := roleOf(id)
	if err != nil {
		return groupResource{}, err
	}
	gs, err := s.groups(ctx, members)
	if err != nil {
		return groupResource{}, err
	}
	for _, g := range gs {
		if g.ID == string(role) {
			return g, nil
		}
	}
	return groupResource{}, scimErr(http.StatusNotFound, "", "no group %q", id)
}

// createGroup refuses to make or delete a group: Ward's groups are its
// roles, which are fixed.
func (s *server) createGroup(http.ResponseWriter, *http.Request) error {
	return scimErr(http.StatusForbidden, "mutability", "Ward's groups are its roles (%s): they cannot be created or deleted; "+
		"link the identity provider's groups to them", authz.RoleNames())
}

// replaceGroup (PUT) makes the members listed the group's members: each
// takes its role, and anyone else who held it falls back to
// user.DefaultProvisionedRole.
func (s *server) replaceGroup(w http.ResponseWriter, r *http.Request) error {
	role, err := roleOf(r.PathValue("id"))
	if err != nil {
		return err
	}
	var in struct {
		Members []member `json:"members"`
	}
	if err := decode(r, &in); err != nil {
		return err
	}
	err = s.Users.ChangeRoles(r.Context(), func(c *user.RoleChanges) error {
		return replaceMembers(c, role, in.Members)
	})
	if err != nil {
		return err
	}
	return s.writeGroup(w, r, role)
}

func (s *server) writeGroup(w http.ResponseWriter, r *http.Request, role authz.Role) error {
	g, err := s.group(r.Context(), string(role), true)
	if err != nil {
		return err
	}
	writeSCIM(w, http.StatusOK, g)
	return nil
}

// replaceMembers makes members the role's holders: each takes it, and
// anyone else who held it falls back to user.DefaultProvisionedRole.
func replaceMembers(c *user.RoleChanges, role authz.Role, members []member) error {
	keep := map[string]bool{}
	for _, m := range members {
		u, err := c.Set(m.Value, role)
		if err != nil {
			return err
		}
		keep[u.ID] = true
	}
	holders, err := c.Holding(role)
	if err != nil {
		return err
	}
	for _, u := range holders {
		if !keep[u.ID] {
			if _, err := c.Set(u.ID, user.DefaultProvisionedRole); err != nil {
				return err
			}
		}
	}
	return nil
}

// patchGroup adds and removes members (RFC 7644 3.5.2): adding gives the
// person the group's role; removing them from the role they hold moves
// them to user.DefaultProvisionedRole. The path may be "members" with a
// list of members as the value, or members[value eq "id"].
func (s *server) patchGroup(w http.ResponseWriter, r *http.Request) error {
	role, err := roleOf(r.PathValue("id"))
	if err != nil {
		return err
	}
	in, err := readPatch(r)
	if err != nil {
		return err
	}
	// RFC 7644 3.5.2: the operations apply together or not at all.
	err = s.Users.ChangeRoles(r.Context(), func(c *user.RoleChanges) error {
		return applyPatch(c, role, in.Operations)
	})
	if err != nil {
		return err
	}
	writeSCIM(w, http.StatusNoContent, nil)
	return nil
}

// applyPatch applies a group PATCH's operations in order.
func applyPatch(c *user.RoleChanges, role authz.Role, ops []patchOp) error {
	for _, o := range ops {
		op := strings.ToLower(o.Op)
		path := strings.TrimSpace(o.Path)
		var ids []string
		var err error
		switch {
		case path == "" && op != "remove":
			obj, _ := o.Value.(map[string]any)
			if _, renames := obj["displayName"]; renames && len(obj) == 1 {
				continue // Okta sends the name it knows; the role's name stays
			}
			ids, err = memberIDs(obj["members"])
		case strings.EqualFold(path, "members"):
			if op == "remove" && o.Value == nil {
				if err := replaceMembers(c, role, nil); err != nil {
					return err
				}
				continue
			}
			ids, err = memberIDs(o.Value)
		case strings.HasPrefix(strings.ToLower(path), "members[value eq "):
			ids, err = filterID(path)
		case strings.EqualFold(path, "displayName"):
			continue
		default:
			return scimErr(http.StatusBadRequest, "invalidPath", "path: %q is not members or members[value eq \"id\"]", o.Path)
		}
		if err != nil {
			return err
		}
		if op == "replace" {
			members := make([]member, len(ids))
			for i, id := range ids {
				members[i] = member{Value: id}
			}
			if err := replaceMembers(c, role, members); err != nil {
				return err
			}
			continue
		}
		for _, id := range ids {
			if err := changeMember(c, role, id, op == "remove"); err != nil {
				return err
			}
		}
	}
	return nil
}

func changeMember(c *user.RoleChanges, role authz.Role, id string, remove bool) error {
	if !remove {
		_, err := c.Set(id, role)
		return err
	}
	u, err := c.Get(id)
	if err != nil || u.Role != role {
		return err
	}
	_, err = c.Set(u.ID, user.DefaultProvisionedRole)
	return err
}

// memberIDs reads [{"value": id}, ...] (or one such object).
func memberIDs(v any) ([]string, error) {
	bad := scimErr(http.StatusBadRequest, "invalidValue", "members: must be a list of {\"value\": user id}")
	list, ok := v.([]any)
	if !ok {
		if v == nil {
			return nil, bad
		}
		list = []any{v}
	}
	ids := make([]string, 0, len(list))
	for _, x := range list {
		m, ok := x.(map[string]any)
		id, _ := m["value"].(string)
		if !ok || id == "" {
			return nil, bad
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// filterID reads the id from members[value eq "id"].
func filterID(path string) ([]string, error) {
	inner := strings.TrimSuffix(path[len("members[value eq "):], "]")
	if strings.HasSuffix(path, "]") {
		if id := strings.Trim(strings.TrimSpace(inner), `"`); id != "" {
			return []string{id}, nil
		}
	}
	return nil, scimErr(http.StatusBadRequest, "invalidPath", "path: %q is not members[value eq \"id\"]", path)
}
