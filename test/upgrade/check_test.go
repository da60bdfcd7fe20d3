package upgrade

import (
	"strings"
	"testing"
)

// TestContains checks the comparison the upgrade test rests on: added
// fields and reordered keys pass; a changed value, a lost record or a
// dropped field that held data fail.
func TestContains(t *testing.T) {
	dropped := map[string]string{".facts.old_at": "removed on purpose"}
	tests := []struct {
		name, want, got string
		problem         string // substring of the only difference; empty when none
	}{
		{"same", `{"a":1,"b":[{"x":"y"}]}`, `{"b":[{"x":"y"}],"a":1}`, ""},
		{"field added", `{"a":1}`, `{"a":1,"new":true}`, ""},
		{"value changed", `{"a":{"b":"sealed text"}}`, `{"a":{"b":"other"}}`, ".a.b: other, was sealed text"},
		{"field gone", `{"a":1,"b":2}`, `{"a":1}`, ".b: gone"},
		{"record lost", `{"items":[{"id":"1"},{"id":"2"}]}`, `{"items":[{"id":"1"}]}`, ".items: 1 items, were 2"},
		{"record added", `{"items":[{"id":"1"}]}`, `{"items":[{"id":"1"},{"id":"2"}]}`, ".items: 2 items, were 1"},
		{"number changed", `{"n":12}`, `{"n":12.5}`, ".n: 12.5, was 12"},
		{"dropped field that was empty", `{"facts":{"old_at":"0001-01-01T00:00:00Z","k":1}}`, `{"facts":{"k":1}}`, ""},
		{"dropped field that held data", `{"facts":{"old_at":"2026-01-02T00:00:00Z"}}`, `{"facts":{}}`, ".facts.old_at: gone"},
		{"type changed", `{"a":[1]}`, `{"a":{"0":1}}`, ".a: an array became"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var want, got any
			if err := decode([]byte(tt.want), &want); err != nil {
				t.Fatal(err)
			}
			if err := decode([]byte(tt.got), &got); err != nil {
				t.Fatal(err)
			}
			diffs := contains(want, got, "", dropped)
			switch {
			case tt.problem == "" && len(diffs) != 0:
				t.Errorf("differences %v, want none", diffs)
			case tt.problem != "" && (len(diffs) != 1 || !strings.Contains(diffs[0], tt.problem)):
				t.Errorf("differences %v, want one with %q", diffs, tt.problem)
			}
		})
	}
}
