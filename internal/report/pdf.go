package report

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/labels"
	"github.com/wardhq/ward/internal/pdfdoc"
)

// Labels is the portal's words for got in vocab, one a line; "other" is
// followed by its text.
func Labels(vocab []VocabTerm, got []string, other string) string {
	var out []string
	for _, c := range got {
		if c == "" {
			continue
		}
		l := label(vocab, c)
		if c == "other" && other != "" {
			l += ": " + other
		}
		out = append(out, l)
	}
	return strings.Join(out, "\n")
}

// PDF renders the packet as a printable form, field by field in the
// portal's order, ready to copy; what is missing is listed first.
func PDF(p Packet) ([]byte, error) {
	doc := pdfdoc.New("HHS breach report packet "+p.IncidentNumber, p.GeneratedAt, func(page int) string {
		return fmt.Sprintf("%s · generated %s UTC · page %d of {nb}", p.IncidentNumber, p.GeneratedAt.UTC().Format("2006-01-02 15:04"), page)
	})
	doc.AddPage()
	doc.SetFont("go", "B", 15)
	doc.MultiCell(0, 7, "Notice to the Secretary of HHS of a breach of unsecured protected health information", "", "L", false)
	doc.SetFont("go", "", 9)
	doc.MultiCell(0, 5, "45 CFR 164.408. Copy each field into the OCR breach portal; record the tracking number it gives in Ward.", "", "L", false)
	doc.Ln(3)

	if len(p.Missing) > 0 {
		doc.SetFont("go", "B", 11)
		doc.SetTextColor(160, 0, 0)
		doc.MultiCell(0, 6, "NOT READY TO FILE: "+labels.Count(len(p.Missing), "field", "fields")+" to fill", "", "L", false)
		doc.SetFont("go", "", 9)
		for _, m := range p.Missing {
			doc.MultiCell(0, 5, "• "+labels.Sentence(m.Message)+".", "", "L", false)
		}
		doc.SetTextColor(0, 0, 0)
		doc.Ln(3)
	}
	section := func(title string) {
		doc.Ln(2)
		doc.SetFont("go", "B", 11)
		doc.SetFillColor(230, 230, 230)
		doc.CellFormat(0, 7, title, "", 1, "L", true, 0, "")
		doc.Ln(1)
	}
	field := func(name, value string) {
		if strings.TrimSpace(value) == "" {
			value = "—"
		}
		doc.SetFont("go", "B", 9)
		x := doc.GetX()
		y := doc.GetY()
		doc.MultiCell(60, 5, name, "", "L", false)
		yName := doc.GetY()
		doc.SetXY(x+62, y)
		doc.SetFont("go", "", 9)
		doc.MultiCell(0, 5, value, "", "L", false)
		if doc.GetY() < yName {
			doc.SetY(yName)
		}
		doc.Ln(1)
	}
	date := func(t *time.Time) string {
		if t == nil {
			return ""
		}
		return t.In(p.Zone()).Format("2006-01-02") // the organisation's calendar day
	}
	yesNo := func(b bool) string {
		if b {
			return "Yes"
		}
		return "No"
	}
	section("Report")
	size := "Fewer than 500 individuals"
	if p.BreachSize == SizeLarge {
		size = "500 or more individuals"
	}
	field("Breach affecting", size)
	kind := "Initial breach report"
	if p.ReportKind == KindAddendum {
		kind = "Addendum to previous report"
	}
	field("Report type", kind)
	field("Previous tracking number", p.PriorTrackingNumber)
	field("Ward incident", p.IncidentNumber)
	due := ""
	if p.HHSDue != nil {
		due = breach.FormatDue(*p.HHSDue, p.Zone())
	}
	field("HHS notice due", due)

	section("Covered entity")
	ce := p.CoveredEntity
	field("Name", ce.Name)
	field("Type", label(EntityTypes, ce.EntityType))
	field("Street address", ce.Address.Street)
	field("City, State, ZIP", strings.TrimSpace(strings.Join([]string{ce.Address.City, ce.Address.State, ce.Address.ZIP}, " ")))
	field("Contact name", ce.Contact.Name)
	field("Contact title", ce.Contact.Title)
	field("Contact phone", ce.Contact.Phone)
	field("Contact email", ce.Contact.Email)

	section("Business associate")
	field("Breach occurred at or by a business associate", yesNo(p.BusinessAssociateInvolved))
	if ba := p.BusinessAssociate; ba != nil {
		field("Name", ba.Name)
		field("Street address", ba.Address.Street)
		field("City, State, ZIP", strings.TrimSpace(strings.Join([]string{ba.Address.City, ba.Address.State, ba.Address.ZIP}, " ")))
		field("Contact name", ba.Contact.Name)
		field("Contact phone", ba.Contact.Phone)
		field("Contact email", ba.Contact.Email)
	}

	section("Breach")
	field("Breach start date", date(p.BreachStart))
	field("Breach end date", date(p.BreachEnd))
	ds, de := p.DiscoveryStart, p.DiscoveryEnd
	field("Discovery start date", date(&ds))
	field("Discovery end date", date(&de))
	field("Approximate number of individuals affected", strconv.Itoa(p.Individuals))
	field("Type of breach", Labels(BreachTypes, p.BreachTypes, p.BreachTypeOther))
	field("Location of breached information", Labels(Locations, p.Locations, p.LocationOther))
	field("Type of protected health information", Labels(PHITypes, p.PHITypes, p.PHIOther))
	field("Brief description of the breach", p.Description)

	section("Safeguards and actions")
	field("Safeguards in place prior to the breach", Labels(Safeguards, p.Safeguards, ""))
	field("Individual notice provided, start", date(p.IndividualNoticeStart))
	field("Individual notice provided, end", date(p.IndividualNoticeEnd))
	field("Substitute notice required", yesNo(p.SubstituteNoticeRequired))
	field("Media notice required", yesNo(p.MediaNoticeRequired))
	field("Actions taken in response", Labels(Actions, p.ActionsTaken, p.ActionsOther))

	section("Attestation")
	doc.SetFont("go", "", 9)
	doc.MultiCell(0, 5, p.Attestation, "", "L", false)
	doc.Ln(8)
	doc.MultiCell(0, 5, "Name: ______________________________   Date: ______________", "", "L", false)

	var buf bytes.Buffer
	if err := doc.Output(&buf); err != nil {
		return nil, fmt.Errorf("HHS packet PDF: %w", err)
	}
	return buf.Bytes(), nil
}
