package rules

import (
	"slices"
	"strings"
	"testing"
)

func TestCheckTemplate(t *testing.T) {
	all := []Element{ElementWhatHappened, ElementPHITypes, ElementSelfProtect, ElementEntityAction, ElementContact}
	without := func(e Element) []Element {
		return slices.DeleteFunc(slices.Clone(all), func(x Element) bool { return x == e })
	}
	cases := []struct {
		name    string
		tmpl    Template
		missing []string
	}{
		{"164.404(c)(1) all elements and a toll-free number", Template{Elements: all, ContactMethods: []ContactMethod{ContactTollFree}}, nil},
		{"164.404(c)(1)(A) what happened missing", Template{Elements: without(ElementWhatHappened), ContactMethods: []ContactMethod{ContactEmail}}, []string{"elements.what_happened"}},
		{"164.404(c)(1)(B) types of PHI missing", Template{Elements: without(ElementPHITypes), ContactMethods: []ContactMethod{ContactWebsite}}, []string{"elements.phi_types"}},
		{"164.404(c)(1)(C) self-protection steps missing", Template{Elements: without(ElementSelfProtect), ContactMethods: []ContactMethod{ContactPostal}}, []string{"elements.self_protection_steps"}},
		{"164.404(c)(1)(D) entity's actions missing", Template{Elements: without(ElementEntityAction), ContactMethods: []ContactMethod{ContactPostal}}, []string{"elements.entity_actions"}},
		{"164.404(c)(1)(E) contact procedures missing", Template{Elements: without(ElementContact), ContactMethods: []ContactMethod{ContactPostal}}, []string{"elements.contact_procedures"}},
		{"164.404(c)(1)(E) no toll-free number, email, web site or postal address", Template{Elements: all}, []string{"contact_methods"}},
		{"164.404(c)(1)(E) fax is not an accepted contact method", Template{Elements: all, ContactMethods: []ContactMethod{"fax"}}, []string{"contact_methods", "contact_methods"}},
		{"164.404(c)(1)(A)-(E) empty template names all five", Template{ContactMethods: []ContactMethod{ContactEmail}},
			[]string{"elements.what_happened", "elements.phi_types", "elements.self_protection_steps", "elements.entity_actions", "elements.contact_procedures"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckTemplate(tc.tmpl)
			if tc.missing == nil {
				if err != nil {
					t.Fatalf("CheckTemplate: %v", err)
				}
				return
			}
			got, ok := apperrOf(err)
			if !ok || !slices.Equal(got, tc.missing) {
				t.Errorf("CheckTemplate fields = %v (%v), want %v", got, err, tc.missing)
			}
		})
	}
	miss := MissingElements(Template{Elements: []Element{ElementWhatHappened}})
	if len(miss) != 4 || miss[0].Citation != "45 CFR 164.404(c)(1)(B)" || !strings.Contains(miss[3].Description, "toll-free") {
		t.Errorf("MissingElements = %+v", miss)
	}
}

func TestSubstituteFor(t *testing.T) {
	cases := []struct {
		name     string
		n        int
		kind     SubstituteKind
		citation string
		days     int
	}{
		{"164.404(d)(2) everyone reachable: none", 0, SubstituteNone, "", 0},
		{"164.404(d)(2)(i) one individual: alternative written notice, telephone or other means", 1, SubstituteAlternative, "45 CFR 164.404(d)(2)(i)", 0},
		{"164.404(d)(2)(i) nine individuals: fewer than 10", 9, SubstituteAlternative, "45 CFR 164.404(d)(2)(i)", 0},
		{"164.404(d)(2)(ii) ten individuals: 90-day web posting or media, and toll-free number 90 days", 10, SubstituteConspicuous, "45 CFR 164.404(d)(2)(ii)", 90},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := SubstituteFor(tc.n)
			if s.Kind != tc.kind || s.Citation != tc.citation || s.PostingDays != tc.days || s.TollFreeDays != tc.days {
				t.Errorf("SubstituteFor(%d) = %+v", tc.n, s)
			}
			if tc.kind == SubstituteConspicuous && !strings.Contains(strings.Join(s.Means, "|"), "toll-free") {
				t.Errorf("164.404(d)(2)(ii)(B) toll-free number missing: %v", s.Means)
			}
		})
	}
}
