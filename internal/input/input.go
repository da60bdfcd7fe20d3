// Package input is Ward's one policy for text that arrives from outside
// (JSON API bodies, forms, alert intake, CSV lists): the same value is
// refused the same way whichever database is behind Ward. PostgreSQL
// refuses a NUL in text (SQLSTATE 22021) where SQLite stores it, so NUL
// and the other control characters are refused at the edge, naming the
// field, before anything is written.
//
// The rules, applied to every string:
//   - valid UTF-8 (never replaced with U+FFFD);
//   - no C0 control character but tab, line feed and carriage return, no
//     DEL and no C1 control character.
//
// And to titles and names (JSON keys and form fields "title", "name" and
// "summary", incident titles, alert summaries, the name column of a list):
//   - no tab or line break;
//   - no bidirectional override or isolate control (U+202A–U+202E,
//     U+2066–U+2069), which can make a name read as another (Trojan Source,
//     CVE-2021-42574);
//   - at least one visible character, so a title of zero-width spaces is
//     refused.
package input

import (
	"fmt"
	"net/url"
	"slices"
	"unicode"
	"unicode/utf8"
)

// Text returns why s is refused as text, or "" when it is accepted.
func Text(s string) string {
	if !utf8.ValidString(s) {
		return "is not valid UTF-8"
	}
	for _, r := range s {
		if reason := control(r); reason != "" {
			return reason
		}
	}
	return ""
}

// control returns why r is refused in any text, or "".
func control(r rune) string {
	switch {
	case r == 0:
		return "contains a NUL character"
	case r == '\t' || r == '\n' || r == '\r':
		return ""
	case r < 0x20 || r == 0x7f || (r >= 0x80 && r <= 0x9f):
		return fmt.Sprintf("contains the control character U+%04X", r)
	}
	return ""
}

// Bidi reports whether r is a bidirectional override or isolate control.
func Bidi(r rune) bool {
	return (r >= 0x202a && r <= 0x202e) || (r >= 0x2066 && r <= 0x2069)
}

// Title returns why s is refused as a title or name, or "". An empty s is
// accepted here: whether a value is required is the caller's rule.
func Title(s string) string {
	if reason := Text(s); reason != "" {
		return reason
	}
	if s == "" {
		return ""
	}
	visible := false
	for _, r := range s {
		switch {
		case r == '\t' || r == '\n' || r == '\r':
			return "must be one line (no tab or line break)"
		case Bidi(r):
			return fmt.Sprintf("contains the bidirectional control character U+%04X", r)
		case unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S) && !unicode.Is(unicode.Mn, r):
			visible = true
		}
	}
	if !visible {
		return "must contain a visible character"
	}
	return ""
}

// TitleField reports whether a field of this name (a JSON key or form
// field) holds a title or a name, and so gets the Title rules.
func TitleField(name string) bool {
	return name == "title" || name == "name" || name == "summary"
}

// Field returns why the value of the field named name is refused, or "".
func Field(name, value string) string {
	if TitleField(name) {
		return Title(value)
	}
	return Text(value)
}

// URL checks a request's decoded path and query values against the Text
// rules: it returns where the first refused value is ("path",
// "query.q") and why, or "" and "".
func URL(u *url.URL) (where, reason string) {
	if reason := Text(u.Path); reason != "" {
		return "path", reason
	}
	q := u.Query()
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if reason := Text(k); reason != "" {
			return "query", "a parameter name " + reason
		}
		for _, v := range q[k] {
			if reason := Text(v); reason != "" {
				return "query." + k, reason
			}
		}
	}
	return "", ""
}
