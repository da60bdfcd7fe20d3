package notice

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/gobolditalic"
	"golang.org/x/image/font/gofont/goitalic"
	"golang.org/x/image/font/gofont/goregular"
)

// Letter is one letter of a batch: its merged Markdown and its data (for
// the sender and address blocks).
type Letter struct {
	Data     Data
	Markdown string
}

// Placed is where a letter landed in its batch's PDF.
type Placed struct {
	FirstPage int // 1-based
	Pages     int
}

// The letter's geometry, in millimetres on US Letter paper: the address
// block sits where a #10 double-window envelope shows it.
const (
	marginMM   = 22.0
	lineMM     = 5.2
	fontSizePt = 11.0
)

// WriteLetters renders letters as one PDF on w (a print-and-mail vendor's
// batch), each starting on a new page, with fonts embedded so any name
// prints (the Go fonts, UTF-8). It returns where each letter landed.
func WriteLetters(w io.Writer, letters []Letter, created time.Time) ([]Placed, error) {
	pdf := fpdf.New("P", "mm", "Letter", "")
	pdf.SetCreationDate(created)
	pdf.SetModificationDate(created)
	pdf.SetMargins(marginMM, marginMM, marginMM)
	pdf.SetAutoPageBreak(true, marginMM)
	pdf.AddUTF8FontFromBytes("go", "", goregular.TTF)
	pdf.AddUTF8FontFromBytes("go", "B", gobold.TTF)
	pdf.AddUTF8FontFromBytes("go", "I", goitalic.TTF)
	pdf.AddUTF8FontFromBytes("go", "BI", gobolditalic.TTF)
	pdf.SetTitle("Breach notification letters", true)
	pdf.SetCreator("Ward", true)
	out := make([]Placed, len(letters))
	for i, l := range letters {
		pdf.AddPage()
		first := pdf.PageNo()
		letterhead(pdf, l.Data)
		body(pdf, blocks(l.Markdown))
		out[i] = Placed{FirstPage: first, Pages: pdf.PageNo() - first + 1}
		if err := pdf.Error(); err != nil {
			return nil, fmt.Errorf("letter %d: %w", i+1, err)
		}
	}
	if err := pdf.Output(w); err != nil {
		return nil, fmt.Errorf("write pdf: %w", err)
	}
	return out, nil
}

// WriteDocument renders one notice (media release, customer or State
// notice) as a PDF on w.
func WriteDocument(w io.Writer, l Letter, created time.Time) error {
	pdf := fpdf.New("P", "mm", "Letter", "")
	pdf.SetCreationDate(created)
	pdf.SetModificationDate(created)
	pdf.SetMargins(marginMM, marginMM, marginMM)
	pdf.SetAutoPageBreak(true, marginMM)
	pdf.AddUTF8FontFromBytes("go", "", goregular.TTF)
	pdf.AddUTF8FontFromBytes("go", "B", gobold.TTF)
	pdf.AddUTF8FontFromBytes("go", "I", goitalic.TTF)
	pdf.AddUTF8FontFromBytes("go", "BI", gobolditalic.TTF)
	pdf.SetCreator("Ward", true)
	pdf.AddPage()
	pdf.SetFont("go", "B", fontSizePt+1)
	pdf.MultiCell(0, lineMM, l.Data.Entity.Name, "", "L", false)
	pdf.SetFont("go", "", fontSizePt)
	if l.Data.Date != "" {
		pdf.MultiCell(0, lineMM, l.Data.Date, "", "L", false)
	}
	pdf.Ln(lineMM)
	body(pdf, blocks(l.Markdown))
	if err := pdf.Error(); err != nil {
		return err
	}
	return pdf.Output(w)
}

// letterhead draws the sender, the date and the address block.
func letterhead(pdf *fpdf.Fpdf, d Data) {
	pdf.SetFont("go", "B", fontSizePt)
	pdf.MultiCell(0, lineMM, d.Entity.Name, "", "L", false)
	pdf.SetFont("go", "", fontSizePt-1)
	if d.Entity.Address != "" {
		pdf.MultiCell(0, lineMM-0.8, d.Entity.Address, "", "L", false)
	}
	// The window of a #10 envelope: about 50 mm from the top.
	pdf.SetY(50)
	pdf.SetFont("go", "", fontSizePt)
	in := d.Individual
	lines := []string{in.Name, in.Address1, in.Address2, strings.TrimSpace(strings.TrimSpace(in.City+", "+in.State) + " " + in.PostalCode)}
	for _, l := range lines {
		l = strings.Trim(strings.TrimSpace(l), ",")
		if l != "" {
			pdf.CellFormat(0, lineMM, l, "", 1, "L", false, 0, "")
		}
	}
	pdf.SetY(max(pdf.GetY(), 82))
	if d.Date != "" {
		pdf.CellFormat(0, lineMM, d.Date, "", 1, "L", false, 0, "")
		pdf.Ln(lineMM)
	}
}

// body draws the letter's blocks.
func body(pdf *fpdf.Fpdf, bs []block) {
	for _, b := range bs {
		switch b.kind {
		case blockHeading:
			pdf.Ln(lineMM * 0.4)
			pdf.SetFont("go", "B", fontSizePt+max(0, 3-float64(b.level)))
			pdf.MultiCell(0, lineMM+0.6, strings.TrimSpace(plainSpans(b.spans)), "", "L", false)
			pdf.Ln(lineMM * 0.2)
		case blockRule:
			y := pdf.GetY() + lineMM/2
			w, _ := pdf.GetPageSize()
			pdf.Line(marginMM, y, w-marginMM, y)
			pdf.Ln(lineMM)
		case blockItem:
			indent := marginMM + 4*float64(b.level)
			pdf.SetLeftMargin(indent + 4)
			pdf.SetX(indent)
			pdf.SetFont("go", "", fontSizePt)
			pdf.Write(lineMM, "•  ")
			writeSpans(pdf, b.spans)
			pdf.Ln(lineMM + 1)
			pdf.SetLeftMargin(marginMM)
		default:
			writeSpans(pdf, b.spans)
			pdf.Ln(lineMM * 1.6)
		}
	}
}

func writeSpans(pdf *fpdf.Fpdf, ss []span) {
	for _, s := range ss {
		style := ""
		if s.bold {
			style += "B"
		}
		if s.ital {
			style += "I"
		}
		pdf.SetFont("go", style, fontSizePt)
		pdf.Write(lineMM, s.text)
	}
}
