package confcode

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/wardhq/ward/internal/apperr"
)

// Problem is one thing wrong in a configuration file, at its line.
type Problem struct {
	File    string
	Line    int
	Field   string
	Message string
}

func (p Problem) String() string {
	return p.File + ":" + strconv.Itoa(p.Line) + ": " + p.Field + ": " + p.Message
}

// Problems are every problem found in the files; nothing is applied while
// there is one.
type Problems []Problem

func (ps Problems) Error() string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.String()
	}
	return strings.Join(out, "\n")
}

// AppError is ps as a field error: each field is file:line:field.
func (ps Problems) AppError() *apperr.Error {
	e := &apperr.Error{Code: apperr.Invalid, Message: ps[0].String()}
	for _, p := range ps {
		e.Fields = append(e.Fields, apperr.FieldError{Field: p.File + ":" + strconv.Itoa(p.Line) + ":" + p.Field, Message: p.Message})
	}
	return e
}

// position is where a field was written.
type position struct {
	file string
	line int
}

// Source is a parsed configuration with where each field was written.
type Source struct {
	Bundle Bundle
	pos    map[string]position
}

// at returns the position of field path of the object kind/name.
func (s *Source) at(kind, name, path string) position {
	if p, ok := s.pos[kind+"\x00"+name+"\x00"+path]; ok {
		return p
	}
	return s.pos[kind+"\x00"+name+"\x00"]
}

func (s *Source) problem(kind, name, path, format string, args ...any) Problem {
	p := s.at(kind, name, path)
	if path == "" {
		path = "name"
	}
	return Problem{File: p.file, Line: p.line, Field: path, Message: fmt.Sprintf(format, args...)}
}

// The kinds, as plans and file keys name them.
const (
	KindService   = "service"
	KindPolicy    = "escalation_policy"
	KindSchedule  = "schedule"
	KindSLA       = "sla_policy"
	KindAlertRule = "alert_rule"
	KindGroup     = "stakeholder_group"
)

// kindOfKey maps a bundle's top-level keys and the kind files to kinds.
var kindOfKey = map[string]string{"services": KindService, "escalation_policies": KindPolicy, "schedules": KindSchedule,
	"sla_policies": KindSLA, "alert_rules": KindAlertRule, "stakeholder_groups": KindGroup}

var kindOfFile = map[string]string{ServicesFile: KindService, PoliciesFile: KindPolicy, SchedulesFile: KindSchedule, SLAFile: KindSLA,
	AlertRulesFile: KindAlertRule, GroupsFile: KindGroup}

// Parse reads configuration files, by name. A file named as Files names
// holds a list of that kind; any other holds a bundle, a mapping from
// services, escalation_policies, schedules, sla_policies, alert_rules and
// stakeholder_groups to lists. Unknown fields,
// values of the wrong type and duplicate names are refused with their
// file, line and field.
func Parse(files map[string][]byte) (*Source, error) {
	src := &Source{pos: map[string]position{}}
	var probs Problems
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, file := range names {
		var doc yaml.Node
		dec := yaml.NewDecoder(bytes.NewReader(files[file]))
		if err := dec.Decode(&doc); err != nil {
			if errors.Is(err, io.EOF) {
				continue
			}
			probs = append(probs, Problem{File: file, Line: yamlLine(err), Field: "(file)", Message: err.Error()})
			continue
		}
		top := doc.Content[0]
		if kind, ok := kindOfFile[filepath.Base(file)]; ok && top.Kind == yaml.SequenceNode {
			probs = append(probs, src.add(file, kind, top)...)
			continue
		}
		if top.Kind != yaml.MappingNode {
			probs = append(probs, Problem{File: file, Line: top.Line, Field: "(file)",
				Message: "must be a list, or a mapping of services, escalation_policies, schedules, sla_policies, alert_rules and stakeholder_groups to lists"})
			continue
		}
		for i := 0; i+1 < len(top.Content); i += 2 {
			k, v := top.Content[i], top.Content[i+1]
			kind, ok := kindOfKey[k.Value]
			if !ok {
				probs = append(probs, Problem{File: file, Line: k.Line, Field: k.Value, Message: "unknown field; the kinds are services, escalation_policies, schedules, sla_policies, alert_rules and stakeholder_groups"})
				continue
			}
			probs = append(probs, src.add(file, kind, v)...)
		}
	}
	if len(probs) > 0 {
		return nil, probs
	}
	sortBundle(&src.Bundle)
	return src, nil
}

// yamlLine is the line a YAML syntax error names, or 1.
func yamlLine(err error) int {
	msg := err.Error()
	if _, after, ok := strings.Cut(msg, "line "); ok {
		n := 0
		for _, c := range after {
			if c < '0' || c > '9' {
				break
			}
			n = n*10 + int(c-'0')
		}
		if n > 0 {
			return n
		}
	}
	return 1
}

// add decodes the list seq of kind.
func (s *Source) add(file, kind string, seq *yaml.Node) Problems {
	if seq.Kind == yaml.ScalarNode && seq.Tag == "!!null" {
		return nil // an empty list written as nothing
	}
	if seq.Kind != yaml.SequenceNode {
		return Problems{{File: file, Line: seq.Line, Field: kind, Message: "must be a list"}}
	}
	var probs Problems
	for _, item := range seq.Content {
		var target any
		switch kind {
		case KindService:
			target = &Service{}
		case KindPolicy:
			target = &Policy{}
		case KindSLA:
			target = &SLAPolicy{}
		case KindAlertRule:
			target = &AlertRule{}
		case KindGroup:
			target = &Group{}
		default:
			target = &Schedule{}
		}
		lines := map[string]int{}
		if ps := known(file, item, reflect.TypeOf(target).Elem(), "", lines); len(ps) > 0 {
			probs = append(probs, ps...)
			continue
		}
		if err := item.Decode(target); err != nil {
			probs = append(probs, Problem{File: file, Line: yamlLine(err), Field: kind, Message: strings.TrimPrefix(err.Error(), "yaml: ")})
			continue
		}
		var name string
		switch v := target.(type) {
		case *Service:
			name = v.Name
			s.Bundle.Services = append(s.Bundle.Services, *v)
		case *Policy:
			name = v.Name
			s.Bundle.EscalationPolicies = append(s.Bundle.EscalationPolicies, *v)
		case *Schedule:
			name = v.Name
			s.Bundle.Schedules = append(s.Bundle.Schedules, *v)
		case *AlertRule:
			name = v.Name
			s.Bundle.AlertRules = append(s.Bundle.AlertRules, *v)
		case *Group:
			name = v.Name
			s.Bundle.StakeholderGroups = append(s.Bundle.StakeholderGroups, *v)
		case *SLAPolicy:
			name = v.Severity
			lines["name"] = lines["severity"]
			s.Bundle.SLAPolicies = append(s.Bundle.SLAPolicies, *v)
		}
		prefix := kind + "\x00" + name + "\x00"
		if prev, dup := s.pos[prefix]; dup {
			probs = append(probs, Problem{File: file, Line: lines["name"], Field: "name",
				Message: fmt.Sprintf("a %s named %q is also at %s:%d", strings.ReplaceAll(kind, "_", " "), name, prev.file, prev.line)})
			continue
		}
		s.pos[prefix] = position{file, lines["name"]}
		for path, line := range lines {
			s.pos[prefix+path] = position{file, line}
		}
	}
	return probs
}

// known checks that every key of n is a field of t, recursively, and
// records each field's line under its path.
func known(file string, n *yaml.Node, t reflect.Type, path string, lines map[string]int) Problems {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var probs Problems
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return Problems{{File: file, Line: n.Line, Field: orTop(path), Message: "must be a mapping"}}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			p := k.Value
			if path != "" {
				p = path + "." + k.Value
			}
			f, ok := fieldByTag(t, k.Value)
			if !ok {
				probs = append(probs, Problem{File: file, Line: k.Line, Field: p, Message: "unknown field"})
				continue
			}
			lines[p] = k.Line
			probs = append(probs, known(file, v, f.Type, p, lines)...)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return Problems{{File: file, Line: n.Line, Field: orTop(path), Message: "must be a list"}}
		}
		for i, el := range n.Content {
			p := path + "[" + strconv.Itoa(i) + "]"
			lines[p] = el.Line
			probs = append(probs, known(file, el, t.Elem(), p, lines)...)
		}
	}
	return probs
}

func orTop(path string) string {
	if path == "" {
		return "(item)"
	}
	return path
}

// fieldByTag is t's field whose yaml tag names key.
func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

// sortBundle orders every list by name.
func sortBundle(b *Bundle) {
	sort.SliceStable(b.Services, func(i, j int) bool { return b.Services[i].Name < b.Services[j].Name })
	sort.SliceStable(b.EscalationPolicies, func(i, j int) bool { return b.EscalationPolicies[i].Name < b.EscalationPolicies[j].Name })
	sort.SliceStable(b.Schedules, func(i, j int) bool { return b.Schedules[i].Name < b.Schedules[j].Name })
	sort.SliceStable(b.SLAPolicies, func(i, j int) bool { return b.SLAPolicies[i].Severity < b.SLAPolicies[j].Severity })
	sort.SliceStable(b.AlertRules, func(i, j int) bool { return b.AlertRules[i].Name < b.AlertRules[j].Name })
	sort.SliceStable(b.StakeholderGroups, func(i, j int) bool { return b.StakeholderGroups[i].Name < b.StakeholderGroups[j].Name })
	for i := range b.Services {
		ig := b.Services[i].Integrations
		sort.SliceStable(ig, func(x, y int) bool {
			if ig[x].Kind != ig[y].Kind {
				return ig[x].Kind < ig[y].Kind
			}
			return ig[x].Name < ig[y].Name
		})
	}
}

// header starts every exported file.
const header = "# Ward configuration (docs/CONFIG_AS_CODE.md). Objects name each other by name; no keys or secrets are kept here.\n"

// Files renders b as one YAML file per kind, by file name.
func (b Bundle) Files() (map[string][]byte, error) {
	out := map[string][]byte{}
	for file, list := range map[string]any{ServicesFile: b.Services, PoliciesFile: b.EscalationPolicies, SchedulesFile: b.Schedules,
		SLAFile: b.SLAPolicies, AlertRulesFile: b.AlertRules, GroupsFile: b.StakeholderGroups} {
		var buf bytes.Buffer
		buf.WriteString(header)
		if reflect.ValueOf(list).Len() == 0 {
			buf.WriteString("[]\n")
		} else {
			enc := yaml.NewEncoder(&buf)
			enc.SetIndent(2)
			if err := enc.Encode(list); err != nil {
				return nil, fmt.Errorf("render %s: %w", file, err)
			}
			if err := enc.Close(); err != nil {
				return nil, fmt.Errorf("render %s: %w", file, err)
			}
		}
		out[file] = buf.Bytes()
	}
	return out, nil
}

// YAML renders b as one YAML bundle.
func (b Bundle) YAML() ([]byte, error) {
	var buf bytes.Buffer
	buf.WriteString(header)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(b); err != nil {
		return nil, fmt.Errorf("render bundle: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("render bundle: %w", err)
	}
	return buf.Bytes(), nil
}
