package labels

import "testing"

func TestOf(t *testing.T) {
	for code, want := range map[string]string{
		"annual_log":                    "HHS annual log (fewer than 500)",
		"low_probability_of_compromise": "Not a breach: low probability of compromise",
		"state_ag":                      "Notice to a State attorney general",
		"some_new_code":                 "Some new code",
		"":                              "",
	} {
		if got := Of(code); got != want {
			t.Errorf("Of(%q) = %q, want %q", code, got, want)
		}
	}
}

func TestCount(t *testing.T) {
	for _, c := range []struct {
		n    int
		want string
	}{{0, "0 fields"}, {1, "1 field"}, {2, "2 fields"}, {-1, "-1 field"}} {
		if got := Count(c.n, "field", "fields"); got != c.want {
			t.Errorf("Count(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

func TestReportField(t *testing.T) {
	for code, want := range map[string]string{
		"covered_entity.name": "the covered entity's name",
		"breach_types":        "the type of breach",
		"new_field.part":      "new field part",
	} {
		if got := ReportField(code); got != want {
			t.Errorf("ReportField(%q) = %q, want %q", code, got, want)
		}
	}
}
