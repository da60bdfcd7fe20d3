// Package pdfdoc starts the documents Ward prints for people to keep (the
// HHS report packet, the investigation report): US Letter, the Go fonts
// embedded so that any name prints, fixed dates so that the same record
// gives the same file, and a footer on every page.
package pdfdoc

import (
	"time"

	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/gofont/gobold"
	"golang.org/x/image/font/gofont/goregular"
)

// marginMM is the margin on every side, and the bottom before a page
// break.
const marginMM = 18

// New returns a document titled title, dated created, whose every page
// ends with the line footer(page); "{nb}" in that line is the number of
// pages. The font "go" is there in regular ("") and bold ("B"). The caller
// adds the first page.
func New(title string, created time.Time, footer func(page int) string) *fpdf.Fpdf {
	doc := fpdf.New("P", "mm", "Letter", "")
	doc.AddUTF8FontFromBytes("go", "", goregular.TTF)
	doc.AddUTF8FontFromBytes("go", "B", gobold.TTF)
	doc.SetTitle(title, true)
	doc.SetCreator("Ward", true)
	doc.SetCreationDate(created)
	doc.SetModificationDate(created)
	doc.SetMargins(marginMM, marginMM, marginMM)
	doc.SetAutoPageBreak(true, marginMM)
	doc.AliasNbPages("")
	doc.SetFooterFunc(func() {
		doc.SetY(-12)
		doc.SetFont("go", "", 8)
		doc.CellFormat(0, 5, footer(doc.PageNo()), "", 0, "C", false, 0, "")
	})
	return doc
}
