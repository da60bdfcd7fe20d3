package notice

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
)

func TestCheckFieldsRefusesUnknownField(t *testing.T) {
	if err := CheckFields("body", "Dear {{.Individual.Name}}, call {{.Contact.TollFree}}."); err != nil {
		t.Fatalf("known fields refused: %v", err)
	}
	err := CheckFields("body", "Dear {{.Individual.FirstName}}")
	e, ok := apperr.As(err)
	if !ok || len(e.Fields) != 1 || e.Fields[0].Field != "body" || !strings.Contains(e.Fields[0].Message, "FirstName") {
		t.Fatalf("unknown field: %v", err)
	}
	if err := CheckFields("body", "{{.Entity.Name"); err == nil {
		t.Fatal("a syntax error passed")
	}
}

// 164.404(c)(1)(A)-(E): a template lacking an element, or whose contact
// section offers no contact method of (E), is refused; a heading tagged
// with nothing under it does not count.
func TestCheckTemplateElements(t *testing.T) {
	for _, d := range Defaults() {
		c := CheckTemplate(d.Kind, d.Body)
		if c.Problem != "" {
			t.Errorf("default %s: %s", d.Kind, c.Problem)
		}
		if err := CheckFields("body", d.Body); err != nil {
			t.Errorf("default %s: %v", d.Kind, err)
		}
		if err := CheckFields("subject", d.Subject); err != nil {
			t.Errorf("default %s subject: %v", d.Kind, err)
		}
	}
	full := Defaults()[0].Body
	cases := []struct {
		name, body string
		missing    rules.Element
		contact    bool
	}{
		{"164.404(c)(1)(A) untagged section", strings.Replace(full, "{#what_happened}", "", 1), rules.ElementWhatHappened, false},
		{"164.404(c)(1)(B) empty section", strings.Replace(full, "The information was {{.Breach.PHIInvolved}}.", "", 1), rules.ElementPHITypes, false},
		{"164.404(c)(1)(C) missing", strings.Replace(full, "{#self_protection_steps}", "", 1), rules.ElementSelfProtect, false},
		{"164.404(c)(1)(D) missing", strings.Replace(full, "{#entity_actions}", "", 1), rules.ElementEntityAction, false},
		{"164.404(c)(1)(E) no contact method", strings.Replace(full,
			"Call us free at {{.Contact.TollFree}}. You can also email {{.Contact.Email}}, visit {{.Contact.Website}} or write to {{.Contact.PostalAddress}}.",
			"Ask us anything.", 1), "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := CheckTemplate(KindIndividualLetter, tc.body)
			if c.Problem == "" {
				t.Fatal("approved")
			}
			if tc.missing != "" && (len(c.Missing) != 1 || c.Missing[0].Element != tc.missing) {
				t.Fatalf("missing %v", c.Missing)
			}
			if tc.contact && !strings.Contains(c.Problem, "contact procedures") {
				t.Fatalf("problem %q", c.Problem)
			}
		})
	}
	if c := CheckTemplate(KindStateAG, "To the AG."); c.Problem != "" {
		t.Fatalf("a State notice needs no 164.404(c) elements: %s", c.Problem)
	}
}

func TestReadability(t *testing.T) {
	easy := Measure("We lost a laptop. It had your name on it. Call us.")
	if easy.Sentences != 3 || easy.Words != 12 || easy.Grade > 2 || easy.Hint != "" {
		t.Fatalf("easy: %+v", easy)
	}
	hard := Measure("Notwithstanding organizational remediation, unauthorized exfiltration of individually identifiable information necessitates comprehensive notification consistent with applicable regulatory requirements.")
	if hard.Grade < 16 || hard.Hint == "" {
		t.Fatalf("hard: %+v", hard)
	}
	for _, d := range Defaults()[:2] {
		if c := CheckTemplate(d.Kind, d.Body); c.Readability.Grade > GoalGrade {
			t.Errorf("default %s reads at grade %.1f", d.Kind, c.Readability.Grade)
		}
	}
}

func TestMergeAndRender(t *testing.T) {
	d := sample()
	d.Individual.Name = "Zoë Ñandú"
	merged, err := Merge("body", Defaults()[0].Body, d)
	if err != nil {
		t.Fatal(err)
	}
	text := PlainText(merged)
	if !strings.Contains(text, "Dear Zoë Ñandú,") || !strings.Contains(text, "1-800-555-0100") || strings.Contains(text, "{#") {
		t.Fatalf("text: %s", text)
	}
	if h := HTML("# T {#what_happened}\n\n<script>x</script>\n\n**b**"); strings.Contains(h, "<script>") || !strings.Contains(h, "<strong>b</strong>") {
		t.Fatalf("html: %s", h)
	}
	var pdf bytes.Buffer
	placed, err := WriteLetters(&pdf, []Letter{{d, merged}, {d, merged + strings.Repeat("\nMore text to fill the page. ", 80)}}, time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pdf.Bytes(), []byte("%PDF-")) || placed[0].FirstPage != 1 || placed[1].FirstPage != 1+placed[0].Pages || placed[1].Pages < 2 {
		t.Fatalf("placed %+v", placed)
	}
	if got := bytes.Count(pdf.Bytes(), []byte("/Type /Page\n")); got != placed[1].FirstPage+placed[1].Pages-1 {
		t.Fatalf("%d pages in the PDF, placed %+v", got, placed)
	}
}

// A notice's dates are the organisation's calendar days: discovered at
// 7 PM on 5 March in Los Angeles (03:00 UTC on 6 March) reads March 5.
func TestBaseDataDatesInZone(t *testing.T) {
	la, err := time.LoadLocation("America/Los_Angeles")
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 6, 3, 0, 0, 0, time.UTC)
	c := breach.Case{IncidentNumber: "INC-2026-0001", Facts: rules.Facts{DiscoveredAt: at, ShouldHaveKnownAt: at}}
	d := baseData(c, Settings{}, 10, at.Add(2*time.Hour), la)
	if d.Breach.DiscoveredOn != "March 5, 2026" || d.Date != "March 5, 2026" {
		t.Fatalf("discovered %q, dated %q", d.Breach.DiscoveredOn, d.Date)
	}
	if d := baseData(c, Settings{}, 10, at, time.UTC); d.Breach.DiscoveredOn != "March 6, 2026" {
		t.Fatalf("in UTC: discovered %q", d.Breach.DiscoveredOn)
	}
}
