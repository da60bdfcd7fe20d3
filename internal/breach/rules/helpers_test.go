package rules

import (
	"github.com/wardhq/ward/internal/apperr"
	"testing"
	"time"
)

// at parses "2006-01-02T15:04" or "2006-01-02" in UTC.
func at(t *testing.T, s string) time.Time {
	t.Helper()
	for _, layout := range []string{"2006-01-02T15:04", time.DateOnly} {
		if v, err := time.Parse(layout, s); err == nil {
			return v
		}
	}
	t.Fatalf("bad time %q", s)
	return time.Time{}
}

// eod is the last instant of day s in UTC.
func eod(t *testing.T, s string) time.Time {
	t.Helper()
	return EndOfDay(at(t, s), time.UTC)
}

func rulesets(t *testing.T) RuleSets {
	t.Helper()
	rs, err := DefaultRuleSets()
	if err != nil {
		t.Fatalf("DefaultRuleSets: %v", err)
	}
	return rs
}

func keys(obs []Obligation) []string {
	out := make([]string, len(obs))
	for i, o := range obs {
		out[i] = o.Key
	}
	return out
}

func find(t *testing.T, obs []Obligation, key string) Obligation {
	t.Helper()
	for _, o := range obs {
		if o.Key == key {
			return o
		}
	}
	t.Fatalf("no obligation %q in %v", key, keys(obs))
	return Obligation{}
}

// apperrOf returns the fields an apperr error names.
func apperrOf(err error) ([]string, bool) {
	e, ok := apperr.As(err)
	if !ok {
		return nil, false
	}
	var out []string
	for _, f := range e.Fields {
		out = append(out, f.Field)
	}
	return out, true
}
