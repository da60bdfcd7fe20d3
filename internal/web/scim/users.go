package scim

import (
	"net/http"
	"strings"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/user"
)

type name struct {
	Formatted  string `json:"formatted,omitempty"`
	GivenName  string `json:"givenName,omitempty"`
	FamilyName string `json:"familyName,omitempty"`
}

type email struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

type groupRef struct {
	Value   string `json:"value"`
	Display string `json:"display,omitempty"`
	Ref     string `json:"$ref,omitempty"`
}

// userResource is a User (RFC 7643 4.1) as Ward keeps it.
type userResource struct {
	Schemas     []string   `json:"schemas"`
	ID          string     `json:"id"`
	ExternalID  string     `json:"externalId,omitempty"`
	UserName    string     `json:"userName"`
	Name        *name      `json:"name,omitempty"`
	DisplayName string     `json:"displayName,omitempty"`
	Emails      []email    `json:"emails,omitempty"`
	Active      bool       `json:"active"`
	Groups      []groupRef `json:"groups"`
	Meta        meta       `json:"meta"`
}

func (s *server) userOut(u user.User) userResource {
	out := userResource{Schemas: []string{SchemaUser}, ID: u.ID, ExternalID: u.SCIMExternalID, UserName: u.SCIMUserName,
		DisplayName: u.DisplayName, Active: !u.Disabled,
		Groups: []groupRef{{Value: string(u.Role), Display: string(u.Role), Ref: s.location("Groups", string(u.Role))}},
		Meta:   meta{ResourceType: "User", Created: u.CreatedAt, LastModified: u.UpdatedAt, Location: s.location("Users", u.ID)}}
	if out.UserName == "" {
		out.UserName = u.Username
	}
	if u.DisplayName != "" {
		out.Name = &name{Formatted: u.DisplayName}
	}
	if u.Email != "" {
		out.Emails = []email{{Value: u.Email, Type: "work", Primary: true}}
	}
	return out
}

// userInput is a User as a client sends it (POST, PUT).
type userInput struct {
	Schemas     []string `json:"schemas"`
	ExternalID  string   `json:"externalId"`
	UserName    string   `json:"userName"`
	Name        name     `json:"name"`
	DisplayName string   `json:"displayName"`
	Emails      []email  `json:"emails"`
	Active      *bool    `json:"active"`
}

// profile is what Ward keeps of in: the display name (displayName, else
// name.formatted, else given and family name), the primary email (else
// the first), and active (default true).
func (in userInput) profile() user.Profile {
	p := user.Profile{UserName: in.UserName, ExternalID: in.ExternalID, DisplayName: in.DisplayName, Active: in.Active == nil || *in.Active}
	if p.DisplayName == "" {
		p.DisplayName = in.Name.Formatted
	}
	if p.DisplayName == "" {
		p.DisplayName = strings.TrimSpace(in.Name.GivenName + " " + in.Name.FamilyName)
	}
	p.Email = primaryEmail(in.Emails)
	return p
}

func primaryEmail(es []email) string {
	for _, e := range es {
		if e.Primary {
			return e.Value
		}
	}
	if len(es) > 0 {
		return es[0].Value
	}
	return ""
}

func profileOf(u user.User) user.Profile {
	p := user.Profile{UserName: u.SCIMUserName, ExternalID: u.SCIMExternalID, DisplayName: u.DisplayName, Email: u.Email, Active: !u.Disabled}
	if p.UserName == "" {
		p.UserName = u.Username
	}
	return p
}

func (s *server) listUsers(w http.ResponseWriter, r *http.Request) error {
	attr, value, err := eqFilter(r, "userName", "externalId")
	if err != nil {
		return err
	}
	ctx := r.Context()
	var us []user.User
	switch attr {
	case "userName":
		u, found, err := s.Users.FindProvisioned(ctx, value)
		if err != nil {
			return err
		}
		if found {
			us = append(us, u)
		}
	default:
		all, err := s.Users.List(ctx)
		if err != nil {
			return err
		}
		for _, u := range all {
			if attr == "" || u.SCIMExternalID == value {
				us = append(us, u)
			}
		}
	}
	items := make([]userResource, len(us))
	for i, u := range us {
		items[i] = s.userOut(u)
	}
	out, err := page(r, items)
	if err != nil {
		return err
	}
	writeSCIM(w, http.StatusOK, out)
	return nil
}

func (s *server) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := s.Users.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeSCIM(w, http.StatusOK, s.userOut(u))
	return nil
}

func (s *server) createUser(w http.ResponseWriter, r *http.Request) error {
	var in userInput
	if err := decode(r, &in); err != nil {
		return err
	}
	u, err := s.Users.Provision(r.Context(), in.profile())
	if err != nil {
		return err
	}
	w.Header().Set("Location", s.location("Users", u.ID))
	writeSCIM(w, http.StatusCreated, s.userOut(u))
	return nil
}

func (s *server) replaceUser(w http.ResponseWriter, r *http.Request) error {
	var in userInput
	if err := decode(r, &in); err != nil {
		return err
	}
	u, err := s.Users.UpdateProfile(r.Context(), r.PathValue("id"), in.profile())
	if err != nil {
		return err
	}
	writeSCIM(w, http.StatusOK, s.userOut(u))
	return nil
}

// deleteUser deprovisions: Ward disables the account and keeps it.
func (s *server) deleteUser(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.Users.Disable(r.Context(), r.PathValue("id")); err != nil {
		return err
	}
	writeSCIM(w, http.StatusNoContent, nil)
	return nil
}

// patchOp is one operation of a PATCH request (RFC 7644 3.5.2).
type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value"`
}

type patchRequest struct {
	Schemas    []string  `json:"schemas"`
	Operations []patchOp `json:"Operations"`
}

func readPatch(r *http.Request) (patchRequest, error) {
	var in patchRequest
	if err := decode(r, &in); err != nil {
		return in, err
	}
	if len(in.Operations) == 0 {
		return in, scimErr(http.StatusBadRequest, "invalidValue", "Operations: at least one operation is required")
	}
	for _, o := range in.Operations {
		switch strings.ToLower(o.Op) {
		case "add", "replace", "remove":
		default:
			return in, scimErr(http.StatusBadRequest, "invalidValue", "op: %q is not add, replace or remove", o.Op)
		}
	}
	return in, nil
}

func (s *server) patchUser(w http.ResponseWriter, r *http.Request) error {
	in, err := readPatch(r)
	if err != nil {
		return err
	}
	ctx := r.Context()
	u, err := s.Users.Get(ctx, r.PathValue("id"))
	if err != nil {
		return err
	}
	p := profileOf(u)
	for _, o := range in.Operations {
		remove := strings.EqualFold(o.Op, "remove")
		if o.Path == "" {
			obj, ok := o.Value.(map[string]any)
			if !ok || remove {
				return scimErr(http.StatusBadRequest, "invalidValue", "value: an operation without a path needs an object of attributes")
			}
			for k, v := range obj {
				if err := applyUserAttr(&p, k, v, false); err != nil {
					return err
				}
			}
			continue
		}
		if err := applyUserAttr(&p, o.Path, o.Value, remove); err != nil {
			return err
		}
	}
	if u, err = s.Users.UpdateProfile(ctx, u.ID, p); err != nil {
		return err
	}
	writeSCIM(w, http.StatusOK, s.userOut(u))
	return nil
}

// applyUserAttr sets (or, with remove, clears) the attribute path names
// in p. Attributes Ward does not keep (title, phoneNumbers, ...) are
// ignored, as RFC 7644 3.5.2 lets a provider that does not store them.
func applyUserAttr(p *user.Profile, path string, v any, remove bool) error {
	str := func() (string, error) {
		if remove || v == nil {
			return "", nil
		}
		s, ok := v.(string)
		if !ok {
			return "", scimErr(http.StatusBadRequest, "invalidValue", "%s: must be a string", path)
		}
		return s, nil
	}
	var err error
	switch lp := strings.ToLower(path); {
	case lp == "active":
		p.Active, err = boolValue(v)
		if remove {
			return scimErr(http.StatusBadRequest, "mutability", "active: cannot be removed")
		}
	case lp == "username":
		if remove {
			return scimErr(http.StatusBadRequest, "mutability", "userName: cannot be removed")
		}
		p.UserName, err = str()
	case lp == "externalid":
		p.ExternalID, err = str()
	case lp == "displayname", lp == "name.formatted":
		p.DisplayName, err = str()
	case lp == "name":
		if remove {
			p.DisplayName = ""
			return nil
		}
		m, ok := v.(map[string]any)
		if !ok {
			return scimErr(http.StatusBadRequest, "invalidValue", "name: must be an object")
		}
		if f, ok := m["formatted"].(string); ok {
			p.DisplayName = f
		} else {
			g, _ := m["givenName"].(string)
			f, _ := m["familyName"].(string)
			p.DisplayName = strings.TrimSpace(g + " " + f)
		}
	case lp == "emails" || strings.HasPrefix(lp, "emails["):
		p.Email, err = emailValue(v, remove)
	}
	return err
}

// boolValue reads a boolean, or the strings "true" and "false" that some
// clients (Entra ID) send.
func boolValue(v any) (bool, error) {
	switch b := v.(type) {
	case bool:
		return b, nil
	case string:
		switch strings.ToLower(b) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
	}
	return false, scimErr(http.StatusBadRequest, "invalidValue", "active: must be true or false")
}

// emailValue reads an email from a list of emails, one email object or a
// bare string (the value of emails[type eq "work"].value).
func emailValue(v any, remove bool) (string, error) {
	if remove || v == nil {
		return "", nil
	}
	bad := scimErr(http.StatusBadRequest, "invalidValue", "emails: must be a list of {\"value\": address}")
	one := func(x any) (string, bool, error) {
		switch e := x.(type) {
		case string:
			return e, false, nil
		case map[string]any:
			s, ok := e["value"].(string)
			if !ok {
				return "", false, bad
			}
			primary, _ := e["primary"].(bool)
			return s, primary, nil
		}
		return "", false, bad
	}
	list, ok := v.([]any)
	if !ok {
		s, _, err := one(v)
		return s, err
	}
	first := ""
	for i, x := range list {
		s, primary, err := one(x)
		if err != nil {
			return "", err
		}
		if primary {
			return s, nil
		}
		if i == 0 {
			first = s
		}
	}
	return first, nil
}

// roleOf is the role a group id names.
func roleOf(id string) (authz.Role, error) {
	r := authz.Role(id)
	if !authz.ValidRole(r) {
		return "", scimErr(http.StatusNotFound, "", "no group %q: Ward's groups are its roles: %s", id, authz.RoleNames())
	}
	return r, nil
}
