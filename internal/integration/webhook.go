package integration

import (
	"bytes"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
)

// Mapping says where a generic JSON webhook's fields are, as JSON
// pointers (RFC 6901). Items, when set, points at an array whose elements
// are each one event; the other pointers are then relative to an element.
// ActionMap and SeverityMap translate the sender's words (case-insensitive)
// into Ward's; words not in SeverityMap are tried as the usual severity
// words (critical, high, warning, p3, ...).
type Mapping struct {
	Items       string            `json:"items,omitempty"`
	Action      string            `json:"action,omitempty"`
	ActionMap   map[string]string `json:"action_map,omitempty"`
	DedupKey    string            `json:"dedup_key,omitempty"`
	GroupKey    string            `json:"group_key,omitempty"`
	Summary     string            `json:"summary,omitempty"`
	Source      string            `json:"source,omitempty"`
	Severity    string            `json:"severity,omitempty"`
	SeverityMap map[string]string `json:"severity_map,omitempty"`
	Component   string            `json:"component,omitempty"`
	Group       string            `json:"group,omitempty"`
	Class       string            `json:"class,omitempty"`
}

// DefaultMapping reads Ward's own field names at the top level:
// {"event_action": "trigger", "dedup_key": "...", "summary": "...", ...}.
var DefaultMapping = Mapping{
	Action: "/event_action", DedupKey: "/dedup_key", GroupKey: "/group_key", Summary: "/summary", Source: "/source",
	Severity: "/severity", Component: "/component", Group: "/group", Class: "/class",
}

// ParseMapping reads and checks a mapping; an empty one is DefaultMapping.
func ParseMapping(raw json.RawMessage) (Mapping, error) {
	if len(bytes.TrimSpace(raw)) == 0 || string(raw) == "null" {
		return DefaultMapping, nil
	}
	var m Mapping
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	if err := d.Decode(&m); err != nil {
		return Mapping{}, apperr.Field("mapping", "is not a mapping object: %s", jsonProblem(err))
	}
	for name, p := range map[string]string{"items": m.Items, "action": m.Action, "dedup_key": m.DedupKey,
		"group_key": m.GroupKey, "summary": m.Summary, "source": m.Source, "severity": m.Severity,
		"component": m.Component, "group": m.Group, "class": m.Class} {
		if p != "" && !strings.HasPrefix(p, "/") {
			return Mapping{}, apperr.Field("mapping."+name, "%q is not a JSON pointer (it must start with /)", p)
		}
	}
	if m.Summary == "" {
		return Mapping{}, apperr.Field("mapping.summary", "is required")
	}
	for word, a := range m.ActionMap {
		if a != string(alert.Trigger) && a != string(alert.Acknowledge) && a != string(alert.Resolve) {
			return Mapping{}, apperr.Field("mapping.action_map", "%q maps to %q, not one of trigger, acknowledge, resolve", word, a)
		}
	}
	for word, s := range m.SeverityMap {
		if !slices.Contains(alert.Severities, alert.Severity(s)) {
			return Mapping{}, apperr.Field("mapping.severity_map", "%q maps to %q, not one of critical, error, warning, info", word, s)
		}
	}
	return m, nil
}

// CheckMapping validates a webhook mapping (alert.MappingCheck).
func CheckMapping(raw json.RawMessage) error {
	_, err := ParseMapping(raw)
	return err
}

// ParseWebhook reads a generic JSON webhook with mapping m. A trigger with
// no severity is an error-level alert; no action means trigger.
func ParseWebhook(m Mapping, body []byte) ([]alert.Event, error) {
	var doc any
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(&doc); err != nil {
		return nil, apperr.New(apperr.Invalid, "body is not JSON: %s", jsonProblem(err))
	}
	items := []any{doc}
	if m.Items != "" {
		v, ok := pointer(doc, m.Items)
		arr, isArr := v.([]any)
		if !ok || !isArr {
			return nil, apperr.Field(m.Items, "is not an array (mapping.items)")
		}
		if len(arr) > alert.MaxBatch {
			return nil, apperr.Field(m.Items, "has %d items; the limit is %d", len(arr), alert.MaxBatch)
		}
		items = arr
	}
	evs := make([]alert.Event, 0, len(items))
	for i, it := range items {
		get := func(p string) string { return text(it, p) }
		at := m.Summary
		if m.Items != "" {
			at = m.Items + "/" + strconv.Itoa(i) + m.Summary
		}
		action := strings.ToLower(get(m.Action))
		if mapped, ok := lookupFold(m.ActionMap, action); ok {
			action = mapped
		}
		if action == "" {
			action = string(alert.Trigger)
		}
		if action == string(alert.Trigger) && strings.TrimSpace(get(m.Summary)) == "" {
			return nil, apperr.Field(at, "is missing or blank (mapping.summary points here)")
		}
		sev := get(m.Severity)
		if mapped, ok := lookupFold(m.SeverityMap, sev); ok {
			sev = mapped
		}
		raw, _ := json.Marshal(it)
		evs = append(evs, alert.Event{
			Action: alert.Action(action), DedupKey: get(m.DedupKey), GroupKey: clip(get(m.GroupKey), alert.MaxDedupKey),
			Summary: clip(get(m.Summary), alert.MaxSummary), Source: clip(first(get(m.Source), "webhook"), alert.MaxField),
			Severity: severity(sev, alert.Error), Component: clip(get(m.Component), alert.MaxField),
			Group: clip(get(m.Group), alert.MaxField), Class: clip(get(m.Class), alert.MaxField),
			Details: details(map[string]any{"tool": "webhook", "body": json.RawMessage(raw)}),
		})
	}
	return evs, nil
}

func lookupFold(m map[string]string, k string) (string, bool) {
	for mk, v := range m {
		if strings.EqualFold(mk, k) {
			return v, true
		}
	}
	return "", false
}

// text is the value at pointer p as text: strings as they are, numbers and
// booleans printed, anything else (or nothing there) empty.
func text(doc any, p string) string {
	if p == "" {
		return ""
	}
	v, ok := pointer(doc, p)
	if !ok {
		return ""
	}
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

// pointer resolves a JSON pointer (RFC 6901) in a decoded document.
func pointer(doc any, p string) (any, bool) {
	if p == "" {
		return doc, true
	}
	if !strings.HasPrefix(p, "/") {
		return nil, false
	}
	cur := doc
	for _, tok := range strings.Split(p[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch x := cur.(type) {
		case map[string]any:
			v, ok := x[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			cur = x[i]
		default:
			return nil, false
		}
	}
	return cur, true
}
