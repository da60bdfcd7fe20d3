package input

import "testing"

func TestJSON(t *testing.T) {
	for _, c := range []struct {
		body, loc string
	}{
		{`{"title":"Lost laptop","description":"line one\nline two\ttab"}`, ""},
		{`{"title":"a\u0000b"}`, "body.title"},
		{`{"payload":{"summary":"x","source":"s\u0007"}}`, "body.payload.source"},
		{`{"steps":[{"name":"ok"},{"name":"\u200b\u200b"}]}`, "body.steps[1].name"},
		{`{"name":"a\u202eb"}`, "body.name"},
		{`{"title":"two\nlines"}`, "body.title"},
		{`{"description":"` + "\x85" + `"}`, "body.description"},
		{`{"description":"\ud800"}`, "body.description"},
		{`{"description":"\ufffd is fine"}`, ""},
		{`{"title":"a","title":"b"}`, "body.title"},
		{`{"a":{"x":1},"b":{"x":2}}`, ""},
		{`{"a\u0000":1}`, "body.a\x00"},
		{`{"tags":["ok","\u009b"]}`, "body.tags[1]"},
		{`not json`, ""},
	} {
		p := JSON("body", []byte(c.body))
		got := ""
		if p != nil {
			got = p.Location
		}
		if got != c.loc {
			t.Errorf("%s: refused at %q (%v), want %q", c.body, got, p, c.loc)
		}
	}
}

func TestTitle(t *testing.T) {
	for s, ok := range map[string]bool{
		"Lost laptop": true, "": true, "é": true, "\u200b": false, "\u200b\ufeff\u2060": false, "a\u2066b": false,
		"a\tb": false, "🙂": true, "a\x00": false, "\u0301": false,
	} {
		if got := Title(s) == ""; got != ok {
			t.Errorf("Title(%q) accepted %v, want %v (%s)", s, got, ok, Title(s))
		}
	}
}
