package notice

import (
	"bytes"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/breach/rules"
)

// FuzzNoticeTemplate checks, merges and renders template bodies as saving,
// previewing and generating do: a body is refused naming its field or
// merges with the sample data within the output cap (no loop, recursion
// or text bomb runs away), its check is the same each time, reports each
// element of 164.404(c)(1) as declared or missing, and measures a finite
// grade; the merged
// Markdown renders as HTML, plain text and a PDF. Run it longer with:
//
//	go test -run='^$' -fuzz='^FuzzNoticeTemplate$' -fuzztime=10m ./internal/notice
func FuzzNoticeTemplate(f *testing.F) {
	for _, d := range Defaults() {
		f.Add(string(d.Kind), d.Body)
		f.Add(string(d.Kind), d.Subject)
	}
	for _, body := range []string{
		"Dear {{.Individual.Name}}, call {{.Contact.TollFree}}.",
		"Dear {{.Individual.FirstName}}",
		"{{.Entity.Name",
		"## What happened {#what_happened}\n\n{{.Breach.WhatHappened}}\n\n## Contact {#contact_procedures}\n\n{{.Contact.Email}}\n",
		"{{if and .Individual.Regarding (ne .Individual.Regarding .Individual.Name)}}About {{.Individual.Regarding}}.{{else}}Hi.{{end}}",
		"{{with .Contact.Email}}Email {{.}}.{{end}} {{if gt .Breach.Individuals 500}}Many.{{end}} {{len .Entity.Name}}",
		"{{range 300000000000}}{{end}}",
		`{{define "a"}}{{template "a" .}}{{template "a" .}}{{end}}{{template "a" .}}`,
		`{{$x := html "&"}}{{$x = html $x}}{{$x}}`,
		`{{printf "%01000000d" 1}}`,
		"* one\n  * two\n\n---\n\n**bold _both_** *it* `code` [link](https://example.org) <b>raw</b>\n\n1. first\n",
		"\x00\xff\u202e{{/* */}}",
	} {
		f.Add(string(KindIndividualLetter), body)
	}
	created := time.Date(2026, 5, 6, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, kind, body string) {
		if err := CheckFields("body", body); err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "body" {
				t.Fatalf("refused with %v, want an invalid-input error naming body", err)
			}
			return
		}
		merged, err := Merge("body", body, sample())
		if err != nil {
			t.Fatalf("a checked body does not merge with the sample: %v", err)
		}
		if len(merged) > maxMerged {
			t.Fatalf("merged %d bytes, over the cap", len(merged))
		}
		c := CheckTemplate(Kind(kind), body)
		if again := CheckTemplate(Kind(kind), body); !reflect.DeepEqual(again, c) {
			t.Fatalf("checked twice: %+v, then %+v", c, again)
		}
		// Every required element is either declared or reported missing
		// (a heading may carry a tag that is no element, e.g. {#a}).
		if NeedsElements(Kind(kind)) {
			for _, req := range rules.RequiredElements() {
				declared := slices.Contains(c.Declared.Elements, req.Element)
				missing := slices.ContainsFunc(c.Missing, func(m rules.ElementSpec) bool { return m.Element == req.Element })
				if declared == missing {
					t.Fatalf("%s: declared %v, reported missing %v", req.Element, declared, missing)
				}
			}
			if len(c.Missing) > 0 && c.Problem == "" {
				t.Fatalf("missing %v, yet no problem", c.Missing)
			}
		}
		if r := c.Readability; math.IsNaN(r.Grade) || math.IsInf(r.Grade, 0) || r.Words < 0 || r.Sentences > r.Words {
			t.Fatalf("readability %+v", r)
		}
		html, text := HTML(merged), PlainText(merged)
		if utf8.ValidString(merged) && (!utf8.ValidString(html) || !utf8.ValidString(text)) {
			t.Fatal("rendering valid UTF-8 gave invalid UTF-8")
		}
		if strings.Contains(strings.ToLower(html), "<script") {
			t.Fatalf("the preview carries a script: %q", html)
		}
		if len(merged) <= 4<<10 { // a PDF per input is slow; small bodies cover the renderer
			var pdf bytes.Buffer
			if err := WriteDocument(&pdf, Letter{Data: sample(), Markdown: merged}, created); err != nil && utf8.ValidString(merged) {
				t.Fatalf("a PDF of valid text failed: %v", err)
			}
		}
	})
}

// FuzzReturnsCSV reads returned-mail CSVs as RecordReturns does before it
// touches the database: a file is refused naming the csv field, or every
// data record is counted, and each is either a row naming a notice or a
// problem on its line, never both and never neither; a reason is at most
// 200 bytes of valid UTF-8 when the file is. Run it longer with:
//
//	go test -run='^$' -fuzz='^FuzzReturnsCSV$' -fuzztime=10m ./internal/notice
func FuzzReturnsCSV(f *testing.F) {
	for _, s := range []string{
		"row_key,reason,returned_at\r\n0192a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b,Return to sender: no such number,2026-04-20\r\n" +
			"0192a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c,Attempted - not known,\r\n",
		"\uFEFFindividual_id,reason\nind-1,bounced: mailbox full\nind-2,\"Moved, left no address\"\n,missing id\n",
		"individual_id,returned_at\nind-1,2999-01-01\nind-2,04/20/2026\n",
		"row_key,reason\nk," + strings.Repeat("é", 150) + "\n",
		"row_key\n\"unterminated\nk2\n",
		"name,reason\nAnn,x\n",
		"",
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		out, rets, err := readReturns(bytes.NewReader(data), now)
		if err != nil {
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != "csv" {
				t.Fatalf("refused with %v, want an invalid-input error naming csv", err)
			}
			return
		}
		if out.Rows != len(rets)+len(out.Problems) {
			t.Fatalf("%d rows read, %d to record and %d problems", out.Rows, len(rets), len(out.Problems))
		}
		lines := map[int]bool{}
		for _, p := range out.Problems {
			lines[p.Line] = true
		}
		for _, r := range rets {
			if lines[r.line] {
				t.Fatalf("line %d both recorded and a problem", r.line)
			}
			lines[r.line] = true
			if r.individual == "" && r.key == "" {
				t.Fatalf("line %d names no notice", r.line)
			}
			if r.at.After(now) {
				t.Fatalf("line %d returned in the future: %v", r.line, r.at)
			}
			if len(r.reason) > 200 {
				t.Fatalf("line %d: a reason of %d bytes", r.line, len(r.reason))
			}
			if utf8.Valid(data) && !utf8.ValidString(r.reason) {
				t.Fatalf("line %d: the reason %q is not valid UTF-8", r.line, r.reason)
			}
		}
		if len(lines) != out.Rows {
			t.Fatalf("%d rows on %d lines", out.Rows, len(lines))
		}
	})
}
