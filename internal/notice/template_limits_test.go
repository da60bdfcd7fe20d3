package notice

import (
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/apperr"
)

// TestTemplateCannotRunAway: a template body that loops, recurses or
// builds text without end is refused when checked, naming the construct,
// instead of holding the server (found by FuzzNoticeTemplate's seeds).
// Checking a template needs only incident:read (PreviewTemplate).
func TestTemplateCannotRunAway(t *testing.T) {
	for body, want := range map[string]string{
		`{{range 300000000000}}{{end}}`:                                               "{{range}} is not supported",
		`{{range $i, $c := .Entity.Name}}{{.}}{{end}}`:                                "{{range}} is not supported",
		`{{define "a"}}{{template "a" .}}{{template "a" .}}{{end}}{{template "a" .}}`: "define and block are not supported",
		`{{block "a" .}}x{{end}}`:                                                     "define and block are not supported",
		`{{template "body" .}}`:                                                       "{{template}} is not supported",
		`{{$x := html "&"}}{{$x = html $x}}{{$x = html $x}}{{$x}}`:                    "the function html is not supported",
		`{{printf "%01000000d" 1}}`:                                                   "the function printf is not supported",
		`{{if .Entity.Name}}{{print .Date}}{{end}}`:                                   "the function print is not supported",
		`{{with .Entity}}{{js .Name}}{{end}}`:                                         "the function js is not supported",
		`{{(urlquery .Date) | len}}`:                                                  "the function urlquery is not supported",
	} {
		err := CheckFields("body", body)
		e, ok := apperr.As(err)
		if !ok || len(e.Fields) != 1 || e.Fields[0].Field != "body" || !strings.Contains(e.Fields[0].Message, want) {
			t.Errorf("%s: %v, want %q", body, err, want)
		}
		if _, err := Merge("body", body, sample()); err == nil {
			t.Errorf("%s: merged", body)
		}
	}
	for _, body := range []string{
		`{{if and .Individual.Regarding (ne .Individual.Regarding .Individual.Name)}}About {{.Individual.Regarding}}.{{else}}Hi.{{end}}`,
		`{{with .Contact.Email}}Email {{.}}.{{end}} {{if gt .Breach.Individuals 500}}Many.{{end}} {{len .Entity.Name}} {{index .Date 0}}`,
		`{{- /* a comment */ -}} {{$n := .Entity.Name}}{{$n}}`,
	} {
		if err := CheckFields("body", body); err != nil {
			t.Errorf("%s: %v", body, err)
		}
	}
	// What a template writes is capped: its length times a large field.
	d := sample()
	d.Breach.WhatHappened = strings.Repeat("x", 200_000)
	if _, err := Merge("body", strings.Repeat("{{.Breach.WhatHappened}}", 6), d); err == nil || !strings.Contains(err.Error(), "over 1 MiB") {
		t.Errorf("6 × 200 kB merged: %v", err)
	}
}
