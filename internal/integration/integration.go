// Package integration turns monitoring tools' payloads into alert events:
// the PagerDuty Events API v2, Prometheus Alertmanager and Grafana webhooks,
// AWS SNS (CloudWatch alarms) and a generic JSON webhook mapped by JSON
// pointers. Its functions are pure: bytes in, events out.
package integration

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
)

// decode reads JSON into v, naming the problem for the caller.
func decode(body []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(body))
	d.UseNumber()
	if err := d.Decode(v); err != nil {
		return apperr.New(apperr.Invalid, "body is not a JSON object of the expected shape: %s", jsonProblem(err))
	}
	return nil
}

// jsonProblem describes a decoding error without echoing the input.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		if te.Field != "" {
			return te.Field + " should be " + te.Type.String()
		}
		return "expected " + te.Type.String()
	case errors.As(err, &se):
		return "syntax error"
	default:
		return "malformed JSON"
	}
}

// details encodes the parts of a payload kept with the alert, leaving out
// empty ones.
func details(parts map[string]any) json.RawMessage {
	for k, v := range parts {
		if empty(v) {
			delete(parts, k)
		}
	}
	if len(parts) == 0 {
		return nil
	}
	b, err := json.Marshal(parts)
	if err != nil {
		return nil
	}
	return b
}

func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case map[string]string:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	case []any:
		return len(x) == 0
	case json.RawMessage:
		return len(x) == 0 || string(x) == "null"
	}
	return false
}

// clip shortens s to at most n runes.
func clip(s string, n int) string {
	s = strings.TrimSpace(s)
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// severityWords maps the severity words monitoring tools use to Ward's.
var severityWords = map[string]alert.Severity{
	"critical": alert.Critical, "crit": alert.Critical, "page": alert.Critical, "emergency": alert.Critical,
	"alert": alert.Critical, "fatal": alert.Critical, "p1": alert.Critical, "disaster": alert.Critical,
	"error": alert.Error, "err": alert.Error, "high": alert.Error, "major": alert.Error, "p2": alert.Error,
	"warning": alert.Warning, "warn": alert.Warning, "medium": alert.Warning, "minor": alert.Warning,
	"average": alert.Warning, "p3": alert.Warning,
	"info": alert.Info, "informational": alert.Info, "low": alert.Info, "notice": alert.Info, "none": alert.Info,
	"p4": alert.Info, "p5": alert.Info,
}

// severity maps a tool's severity word, or def when it has none we know.
func severity(word string, def alert.Severity) alert.Severity {
	if s, ok := severityWords[strings.ToLower(strings.TrimSpace(word))]; ok {
		return s
	}
	return def
}
