package api

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/confcode"
)

// ConfigChange is one change of a plan or an apply.
type ConfigChange struct {
	Op     string              `json:"op" enum:"create,update,delete"`
	Kind   string              `json:"kind" enum:"service,escalation_policy,schedule,sla_policy,stakeholder_group,alert_rule"`
	Name   string              `json:"name"`
	Fields []ConfigFieldChange `json:"fields,omitempty" doc:"For an update: each field that changes."`
}

// ConfigFieldChange is one field of an update, old and new as JSON.
type ConfigFieldChange struct {
	Field string `json:"field"`
	From  string `json:"from"`
	To    string `json:"to"`
}

// ConfigChanges is what a plan or an apply changes.
type ConfigChanges struct {
	Changes []ConfigChange `json:"changes" doc:"Each create, update (with each field old → new, as JSON) and delete (with prune), schedules first, then escalation policies, services, SLA policies, stakeholder groups and alert rules; deletes alert rules first."`
	Text    string         `json:"text" doc:"The same, as ward config plan prints it."`
}

type configFilesInput struct {
	Prune   bool   `query:"prune" doc:"Also delete the services, escalation policies, schedules and alert rules the bundle no longer names (SLA policies and stakeholder groups are never deleted)."`
	RawBody []byte `contentType:"application/yaml" doc:"A configuration bundle: a YAML (or JSON) mapping of services, escalation_policies, schedules, sla_policies, stakeholder_groups and alert_rules to lists, as GET /config serves it and /config/schema describes it."`
}

// ConfigSchemaID identifies the configuration files' JSON Schema.
const ConfigSchemaID = "https://wardhq.github.io/ward/schemas/config.json"

// ConfigSchema is the JSON Schema of a configuration bundle; each of
// services.yaml, escalation_policies.yaml and schedules.yaml is the list
// its property of the same name holds.
func ConfigSchema() map[string]any {
	reg := huma.NewMapRegistry("#/$defs/", huma.DefaultSchemaNamer)
	root := reg.Schema(reflect.TypeOf(confcode.Bundle{}), true, "ConfigBundle")
	return map[string]any{
		"$schema":     "https://json-schema.org/draft/2020-12/schema",
		"$id":         ConfigSchemaID,
		"title":       "Ward configuration as code",
		"description": "A bundle of Ward's configuration; services.yaml, escalation_policies.yaml, schedules.yaml, sla_policies.yaml, stakeholder_groups.yaml and alert_rules.yaml each hold the list of the property of that name. Objects name each other by name. No keys or secrets appear. See docs/CONFIG_AS_CODE.md.",
		"$ref":        root.Ref,
		"$defs":       reg.Map(),
	}
}

func (h handler) registerConfig(api huma.API) {
	const tag = "configuration"
	huma.Register(api, tagged(op("export-config", http.MethodGet, "/config",
		"Export the configuration (services, escalation policies, schedules, SLA policies, stakeholder groups, alert rules) as a YAML or JSON bundle; never keys or secrets; audited",
		http.StatusOK, authz.ServiceWrite), tag),
		func(ctx context.Context, in *struct {
			Format string `query:"format" enum:"yaml,json" default:"yaml"`
		}) (*struct {
			ContentType string `header:"Content-Type"`
			Body        []byte
		}, error) {
			b, err := h.Config.Export(ctx)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out := &struct {
				ContentType string `header:"Content-Type"`
				Body        []byte
			}{ContentType: "application/yaml"}
			if in.Format == "json" {
				out.ContentType = "application/json"
				out.Body, err = json.Marshal(b)
			} else {
				out.Body, err = b.YAML()
			}
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			return out, nil
		})
	huma.Register(api, tagged(op("config-schema", http.MethodGet, "/config/schema",
		"The JSON Schema of configuration files and bundles", http.StatusOK, authz.IncidentRead), tag),
		func(context.Context, *struct{}) (*struct{ Body map[string]any }, error) {
			return &struct{ Body map[string]any }{ConfigSchema()}, nil
		})
	run := func(id, path, summary string, apply bool) {
		huma.Register(api, tagged(op(id, http.MethodPost, path, summary, http.StatusOK, authz.ServiceWrite), tag),
			func(ctx context.Context, in *configFilesInput) (*struct{ Body ConfigChanges }, error) {
				src, err := confcode.Parse(map[string][]byte{"body": in.RawBody})
				var changes []confcode.Change
				switch {
				case err != nil:
				case apply:
					changes, err = h.Config.Apply(ctx, src, in.Prune)
				default:
					changes, err = h.Config.Plan(ctx, src, in.Prune)
				}
				if ps, ok := confcode.IsProblems(err); ok {
					err = ps.AppError()
				}
				if err != nil {
					return nil, h.fail(ctx, "body", err)
				}
				out := ConfigChanges{Changes: []ConfigChange{}}
				for _, ch := range changes {
					c := ConfigChange{Op: ch.Op, Kind: ch.Kind, Name: ch.Name}
					for _, f := range ch.Fields {
						c.Fields = append(c.Fields, ConfigFieldChange(f))
					}
					out.Changes = append(out.Changes, c)
					out.Text += ch.String() + "\n"
				}
				return &struct{ Body ConfigChanges }{out}, nil
			})
	}
	run("plan-config", "/config/plan", "Show what applying a configuration bundle would change; changes nothing", false)
	run("apply-config", "/config/apply", "Apply a configuration bundle in one audited transaction; nothing is applied if anything is refused", true)
}
