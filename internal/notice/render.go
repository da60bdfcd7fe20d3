package notice

import (
	"bytes"
	"strings"

	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/ast"
	"github.com/yuin/goldmark/parser"
	"github.com/yuin/goldmark/renderer/html"
	"github.com/yuin/goldmark/text"

	"github.com/wardhq/ward/internal/apperr"
)

// md parses Markdown with heading attributes (the {#element} tags); raw
// HTML is not rendered (html.WithUnsafe is off), so a template cannot
// inject markup into the preview.
var md = goldmark.New(goldmark.WithParserOptions(parser.WithAttribute()), goldmark.WithRendererOptions(html.WithHardWraps()))

// HTML renders merged Markdown as HTML, for the preview.
func HTML(markdown string) string {
	var b bytes.Buffer
	if err := md.Convert([]byte(markdown), &b); err != nil {
		return ""
	}
	return b.String()
}

// blockKind is the kind of a block of a rendered notice.
type blockKind int

const (
	blockPara blockKind = iota
	blockHeading
	blockItem
	blockRule
)

// span is a run of text in one style.
type span struct {
	text       string
	bold, ital bool
}

// block is one paragraph, heading, list item or rule.
type block struct {
	kind  blockKind
	level int // heading level, or list nesting
	spans []span
}

// blocks reads merged Markdown into the blocks the PDF and the plain text
// are drawn from.
func blocks(markdown string) []block {
	src := []byte(markdown)
	doc := md.Parser().Parse(text.NewReader(src))
	var out []block
	var walk func(n ast.Node, depth int)
	walk = func(n ast.Node, depth int) {
		for c := n.FirstChild(); c != nil; c = c.NextSibling() {
			switch c := c.(type) {
			case *ast.Heading:
				out = append(out, block{kind: blockHeading, level: c.Level, spans: inline(c, src, false, false)})
			case *ast.Paragraph, *ast.TextBlock:
				k := blockPara
				if _, ok := c.Parent().(*ast.ListItem); ok {
					k = blockItem
				}
				out = append(out, block{kind: k, level: depth, spans: inline(c, src, false, false)})
			case *ast.List:
				walk(c, depth+1)
			case *ast.ListItem, *ast.Blockquote:
				walk(c, depth)
			case *ast.ThematicBreak:
				out = append(out, block{kind: blockRule})
			case *ast.FencedCodeBlock, *ast.CodeBlock:
				var b strings.Builder
				lines := c.Lines()
				for i := 0; i < lines.Len(); i++ {
					seg := lines.At(i)
					b.Write(seg.Value(src))
				}
				out = append(out, block{kind: blockPara, spans: []span{{text: strings.TrimRight(b.String(), "\n")}}})
			default:
				walk(c, depth)
			}
		}
	}
	walk(doc, 0)
	return out
}

// inline flattens n's inline children into styled spans.
func inline(n ast.Node, src []byte, bold, ital bool) []span {
	var out []span
	for c := n.FirstChild(); c != nil; c = c.NextSibling() {
		switch c := c.(type) {
		case *ast.Text:
			t := string(c.Segment.Value(src))
			if c.SoftLineBreak() || c.HardLineBreak() {
				t += "\n"
			}
			out = append(out, span{text: t, bold: bold, ital: ital})
		case *ast.String:
			out = append(out, span{text: string(c.Value), bold: bold, ital: ital})
		case *ast.CodeSpan:
			out = append(out, inline(c, src, bold, ital)...)
		case *ast.Emphasis:
			out = append(out, inline(c, src, bold || c.Level >= 2, ital || c.Level == 1)...)
		case *ast.Link:
			out = append(out, inline(c, src, bold, ital)...)
			if dest := string(c.Destination); dest != "" && !strings.Contains(plainSpans(inline(c, src, false, false)), dest) {
				out = append(out, span{text: " (" + dest + ")", bold: bold, ital: ital})
			}
		case *ast.AutoLink:
			out = append(out, span{text: string(c.URL(src)), bold: bold, ital: ital})
		default:
			out = append(out, inline(c, src, bold, ital)...)
		}
	}
	return out
}

func plainSpans(ss []span) string {
	var b strings.Builder
	for _, s := range ss {
		b.WriteString(s.text)
	}
	return b.String()
}

// PlainText renders merged Markdown as plain text: the body of an email,
// and what readability is measured on.
func PlainText(markdown string) string {
	var b strings.Builder
	for i, bl := range blocks(markdown) {
		if i > 0 && bl.kind != blockItem {
			b.WriteString("\n")
		}
		switch bl.kind {
		case blockRule:
			b.WriteString("----\n")
		case blockItem:
			b.WriteString(strings.Repeat("  ", max(bl.level-1, 0)) + "- " + plainSpans(bl.spans) + "\n")
		default:
			b.WriteString(strings.TrimRight(plainSpans(bl.spans), "\n") + "\n")
		}
	}
	return b.String()
}

// describe turns a check's error into one line naming each problem.
func describe(err error) string {
	e, ok := apperr.As(err)
	if !ok {
		return err.Error()
	}
	parts := []string{e.Message}
	for _, f := range e.Fields {
		parts = append(parts, f.Field+": "+f.Message)
	}
	return strings.Join(parts, "; ")
}
