package scim

import (
	"net/http"
	"strings"
)

// The discovery documents (RFC 7644 4, RFC 7643 5-7).

func (s *server) spConfig(w http.ResponseWriter, _ *http.Request) error {
	unsupported := map[string]bool{"supported": false}
	writeSCIM(w, http.StatusOK, map[string]any{
		"schemas":          []string{SchemaSPConfig},
		"documentationUri": "https://github.com/wardhq/ward/blob/main/docs/PEOPLE_API.md",
		"patch":            map[string]bool{"supported": true},
		"bulk":             map[string]any{"supported": false, "maxOperations": 0, "maxPayloadSize": 0},
		"filter":           map[string]any{"supported": true, "maxResults": MaxCount},
		"changePassword":   unsupported,
		"sort":             unsupported,
		"etag":             unsupported,
		"authenticationSchemes": []map[string]any{{
			"type": "oauthbearertoken", "name": "API token", "primary": true,
			"description": "A Ward API token whose role holds user:admin, sent as Authorization: Bearer <token>",
		}},
		"meta": meta{ResourceType: "ServiceProviderConfig", Location: strings.TrimRight(s.PublicURL, "/") + Prefix + "/ServiceProviderConfig"},
	})
	return nil
}

func (s *server) resourceTypeDocs() []map[string]any {
	return []map[string]any{
		{"schemas": []string{SchemaResourceTyp}, "id": "User", "name": "User", "endpoint": "/Users", "schema": SchemaUser,
			"description": "A Ward account", "meta": meta{ResourceType: "ResourceType", Location: s.location("ResourceTypes", "User")}},
		{"schemas": []string{SchemaResourceTyp}, "id": "Group", "name": "Group", "endpoint": "/Groups", "schema": SchemaGroup,
			"description": "A Ward role", "meta": meta{ResourceType: "ResourceType", Location: s.location("ResourceTypes", "Group")}},
	}
}

func (s *server) resourceTypes(w http.ResponseWriter, r *http.Request) error {
	out, err := page(r, s.resourceTypeDocs())
	if err != nil {
		return err
	}
	writeSCIM(w, http.StatusOK, out)
	return nil
}

func (s *server) resourceType(w http.ResponseWriter, r *http.Request) error {
	for _, d := range s.resourceTypeDocs() {
		if d["id"] == r.PathValue("id") {
			writeSCIM(w, http.StatusOK, d)
			return nil
		}
	}
	return scimErr(http.StatusNotFound, "", "no resource type %q", r.PathValue("id"))
}

func attr(name, typ string, required bool, mutability string, sub ...map[string]any) map[string]any {
	a := map[string]any{"name": name, "type": typ, "multiValued": false, "required": required, "caseExact": false,
		"mutability": mutability, "returned": "default", "uniqueness": "none"}
	if len(sub) > 0 {
		a["subAttributes"] = sub
	}
	return a
}

func multi(a map[string]any) map[string]any {
	a["multiValued"] = true
	return a
}

func (s *server) schemaDocs() []map[string]any {
	userName := attr("userName", "string", true, "readWrite")
	userName["uniqueness"] = "server"
	return []map[string]any{
		{"schemas": []string{SchemaSchema}, "id": SchemaUser, "name": "User", "description": "A Ward account",
			"attributes": []map[string]any{
				userName,
				attr("externalId", "string", false, "readWrite"),
				attr("displayName", "string", false, "readWrite"),
				attr("name", "complex", false, "readWrite", attr("formatted", "string", false, "readWrite"),
					attr("givenName", "string", false, "writeOnly"), attr("familyName", "string", false, "writeOnly")),
				multi(attr("emails", "complex", false, "readWrite", attr("value", "string", false, "readWrite"),
					attr("type", "string", false, "readWrite"), attr("primary", "boolean", false, "readWrite"))),
				attr("active", "boolean", false, "readWrite"),
				multi(attr("groups", "complex", false, "readOnly", attr("value", "string", false, "readOnly"),
					attr("display", "string", false, "readOnly"))),
			},
			"meta": meta{ResourceType: "Schema", Location: s.location("Schemas", SchemaUser)}},
		{"schemas": []string{SchemaSchema}, "id": SchemaGroup, "name": "Group", "description": "A Ward role",
			"attributes": []map[string]any{
				attr("displayName", "string", true, "readOnly"),
				multi(attr("members", "complex", false, "readWrite", attr("value", "string", false, "immutable"),
					attr("display", "string", false, "readOnly"))),
			},
			"meta": meta{ResourceType: "Schema", Location: s.location("Schemas", SchemaGroup)}},
	}
}

func (s *server) schemas(w http.ResponseWriter, r *http.Request) error {
	out, err := page(r, s.schemaDocs())
	if err != nil {
		return err
	}
	writeSCIM(w, http.StatusOK, out)
	return nil
}

func (s *server) schema(w http.ResponseWriter, r *http.Request) error {
	for _, d := range s.schemaDocs() {
		if d["id"] == r.PathValue("id") {
			writeSCIM(w, http.StatusOK, d)
			return nil
		}
	}
	return scimErr(http.StatusNotFound, "", "no schema %q", r.PathValue("id"))
}
