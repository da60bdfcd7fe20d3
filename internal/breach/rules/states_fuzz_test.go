package rules

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/apperr"
)

// FuzzLoadStates reads State tables as an administrator's upload is read:
// a table is refused with an invalid-input error naming what is wrong, or
// it validates, reads back the same once written as JSON (what is stored),
// and picks for any day at most one version of each rule. Run it longer
// with:
//
//	go test -run='^$' -fuzz='^FuzzLoadStates$' -fuzztime=10m ./internal/breach/rules
func FuzzLoadStates(f *testing.F) {
	f.Add(statesJSON)
	for _, s := range []string{
		`{"version":"1","source":"test","rules":[{"id":"TX-individuals","state":"TX","recipient":"individuals","citation":"Tex. Bus. & Com. Code 521.053",
			"counsel_to_confirm":true,"min_residents":1,"anchor":"discovery","term":{"amount":60,"unit":"days"}},
			{"id":"TX-individuals","state":"TX","recipient":"individuals","citation":"Tex. Bus. & Com. Code 521.053","effective_from":"2027-01-01",
			"counsel_to_confirm":true,"min_residents":1,"anchor":"discovery","term":{"amount":30,"unit":"days"}}]}`,
		`{"version":"1","rules":[{"id":"x","state":"tx","recipient":"regulator","min_residents":0,"anchor":"later","effective_from":"soon"}]}`,
		`{"version":"","rules":null}`,
		`{"version":"1","rules":[],"extra":true}`,
		`[]`,
		``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		table, err := LoadStates(bytes.NewReader(data))
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Invalid || len(e.Fields) == 0 {
				t.Fatalf("refused with %v, want an invalid-input error naming fields", err)
			}
			return
		}
		b, err := json.Marshal(table)
		if err != nil {
			t.Fatalf("an accepted table does not encode: %v", err)
		}
		back, err := LoadStates(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("the accepted table, stored as %s, is refused: %v", b, err)
		}
		if b2, _ := json.Marshal(back); !bytes.Equal(b2, b) {
			t.Fatalf("the accepted table, stored as %s, reads back as %s", b, b2)
		}
		for _, day := range []string{"2020-01-01", "2026-06-30", "2099-12-31"} {
			seen := map[string]bool{}
			for _, r := range table.InEffect(day) {
				if seen[r.ID] || r.EffectiveFrom > day {
					t.Fatalf("on %s: %q picked twice or not yet in effect (%q)", day, r.ID, r.EffectiveFrom)
				}
				seen[r.ID] = true
				if strings.TrimSpace(r.Citation) == "" {
					t.Fatalf("rule %q in effect without a citation", r.ID)
				}
			}
		}
	})
}
