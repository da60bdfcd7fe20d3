package e2e

import (
	"bytes"
	"compress/zlib"
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/wardhq/ward/internal/report"
)

// streamRe finds a PDF stream with its dictionary.
var streamRe = regexp.MustCompile(`(?s)<<([^<>]*(?:<<[^<>]*>>[^<>]*)*)>>\s*stream\r?\n`)

// pdfText is the text a person reads in a PDF Ward made (go-pdf/fpdf with
// its UTF-8 fonts): the strings its pages' content streams draw, each
// text object (a line, a table cell) on a line of its own. It inflates
// the page streams (FlateDecode) and reads the strings of their text
// operators, which fpdf writes as UTF-16BE; fonts and character maps are
// skipped. It reads what fpdf writes, not every PDF.
func pdfText(pdf []byte) (string, error) {
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		return "", errors.New("not a PDF")
	}
	var out strings.Builder
	pages := 0
	for _, loc := range streamRe.FindAllSubmatchIndex(pdf, -1) {
		dict := string(pdf[loc[2]:loc[3]])
		if strings.Contains(dict, "/Length1") || strings.Contains(dict, "/Subtype") || strings.Contains(dict, "/Type") {
			continue // a font, an image or another object that is no page
		}
		end := bytes.Index(pdf[loc[1]:], []byte("endstream"))
		if end < 0 {
			return "", errors.New("a stream without its end")
		}
		data := pdf[loc[1] : loc[1]+end]
		if strings.Contains(dict, "/FlateDecode") {
			r, err := zlib.NewReader(bytes.NewReader(data))
			if err != nil {
				return "", err
			}
			if data, err = io.ReadAll(r); err != nil {
				return "", err
			}
		}
		if !printable(data[:min(16, len(data))]) || bytes.Contains(data, []byte("begincmap")) || !bytes.Contains(data, []byte("BT")) {
			continue
		}
		pages++
		for _, block := range bytes.Split(data, []byte("ET")) {
			if i := bytes.Index(block, []byte("BT")); i >= 0 {
				if line := textObject(block[i:]); line != "" {
					out.WriteString(line + "\n")
				}
			}
		}
	}
	if pages == 0 {
		return "", errors.New("no page content found")
	}
	return out.String(), nil
}

// printable reports whether b is ASCII text, as a page's content stream
// begins (a font's glyph map does not).
func printable(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c > 0x7e {
			return false
		}
	}
	return true
}

// textObject joins the strings a text object (BT … ET) draws.
func textObject(b []byte) string {
	var words []string
	for i := 0; i < len(b); i++ {
		if b[i] != '(' {
			continue
		}
		var s []byte
		depth := 1
		for i++; i < len(b) && depth > 0; i++ {
			c := b[i]
			switch {
			case c == '\\' && i+1 < len(b):
				i++
				switch e := b[i]; e {
				case 'n':
					s = append(s, '\n')
				case 'r':
					s = append(s, '\r')
				case 't':
					s = append(s, '\t')
				case 'b':
					s = append(s, '\b')
				case 'f':
					s = append(s, '\f')
				case '0', '1', '2', '3', '4', '5', '6', '7':
					v := 0
					for k := 0; k < 3 && i < len(b) && b[i] >= '0' && b[i] <= '7'; k++ {
						v = v*8 + int(b[i]-'0')
						i++
					}
					i--
					s = append(s, byte(v))
				default:
					s = append(s, e)
				}
			case c == '(':
				depth++
				s = append(s, c)
			case c == ')':
				depth--
				if depth > 0 {
					s = append(s, c)
				}
			default:
				s = append(s, c)
			}
		}
		i--
		words = append(words, utf16BE(s))
	}
	return strings.TrimSpace(strings.Join(words, " "))
}

// utf16BE decodes the UTF-16BE text fpdf writes for its UTF-8 fonts.
func utf16BE(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
	}
	return string(utf16.Decode(u))
}

// TestPDFTextFindsDeveloperWords: the PDF check reads what Ward's PDFs
// say, so a developer's word printed in one (a code, an id, an API path)
// fails it as on a page.
func TestPDFTextFindsDeveloperWords(t *testing.T) {
	t.Parallel()
	pdf, err := report.PDF(report.Packet{IncidentNumber: "INC-2026-0042", GeneratedAt: time.Now(), BreachSize: "fewer_than_500",
		Missing: []report.Missing{{Field: "hhs", Message: "mark it met (POST /api/v1/incidents/8f14e45f-ceea-467f-a0e6-8d3c52e2a1b7/breach-case, annual_log)"}}})
	if err != nil {
		t.Fatal(err)
	}
	text, err := pdfText(pdf)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "INC-2026-0042") {
		t.Fatalf("the packet's text lacks its incident number:\n%s", text)
	}
	got := strings.Join(textProblems(text, text), "\n")
	for _, want := range []string{`a code "annual_log"`, "an id", `"/api/"`} {
		if !strings.Contains(got, want) {
			t.Errorf("the PDF check missed %s; it found:\n%s", want, got)
		}
	}
}
