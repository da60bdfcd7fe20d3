package breach

import (
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/input"
)

// Person is an affected individual's PHI as imported: it is stored only
// sealed (keys.BreachIndividualRecord).
type Person struct {
	Name             string `json:"name"`
	Address1         string `json:"address1,omitempty"`
	Address2         string `json:"address2,omitempty"`
	City             string `json:"city,omitempty"`
	State            string `json:"state,omitempty"`
	PostalCode       string `json:"postal_code,omitempty"`
	Email            string `json:"email,omitempty"`
	Phone            string `json:"phone,omitempty"`
	DateOfBirth      string `json:"date_of_birth,omitempty"` // YYYY-MM-DD
	NextOfKin        string `json:"next_of_kin,omitempty"`   // next of kin or personal representative
	NextOfKinAddress string `json:"next_of_kin_address,omitempty"`
}

// person is one parsed row: the PHI and the flags kept in clear.
type person struct {
	line              int
	rec               Person
	deceased, consent bool
	customer          string
	blank             bool // a row of empty cells, skipped
}

func (p person) hasAddress() bool {
	return p.rec.Address1 != "" && (p.rec.PostalCode != "" || p.rec.City != "")
}

// RowProblem is why one row of an import was rejected. It names fields,
// never their values, so a report holds no PHI.
type RowProblem struct {
	Line   int    `json:"line"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

// columnAliases maps a normalised header name to its field.
var columnAliases = map[string]string{
	"name": "name", "full_name": "name", "fullname": "name",
	"address1": "address1", "address": "address1", "address_1": "address1", "address_line1": "address1", "address_line_1": "address1", "street": "address1",
	"address2": "address2", "address_2": "address2", "address_line2": "address2", "address_line_2": "address2",
	"city": "city", "state": "state", "zip": "postal_code", "zip_code": "postal_code", "zipcode": "postal_code", "postal_code": "postal_code",
	"email": "email", "email_address": "email", "phone": "phone", "phone_number": "phone", "telephone": "phone",
	"date_of_birth": "date_of_birth", "dob": "date_of_birth", "birth_date": "date_of_birth", "birthdate": "date_of_birth",
	"deceased": "deceased", "next_of_kin": "next_of_kin", "personal_representative": "next_of_kin",
	"next_of_kin_address": "next_of_kin_address", "personal_representative_address": "next_of_kin_address",
	"consent_electronic": "consent_electronic", "email_consent": "consent_electronic", "customer": "customer",
}

// MaxIndividualField caps each field of a list of individuals, in
// characters: more is refused on its line (a name or an address line is
// far shorter; a field that long is a broken file).
const MaxIndividualField = 1000

// csvRows reads a list of individuals as a stream (input.CSV): UTF-8 (with
// or without a byte-order mark) or Windows-1252, never UTF-16, an optional
// leading "sep=" line, quoted fields, CRLF line ends, trailing empty
// columns and Excel's ="..." text cells. A malformed record (an
// unterminated quote) is a problem on its line and the next line is read
// as the next record.
type csvRows struct {
	r    *input.CSV
	cols map[int]string // column index → field
	now  time.Time      // a date of birth after it is an error
}

func newCSVRows(in io.Reader, now time.Time) (*csvRows, error) {
	cr, err := input.NewCSV(in, input.CSVOptions{Windows1252: true})
	if err != nil {
		return nil, err
	}
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the file is empty; the first line must name the columns")
	}
	if err != nil {
		return nil, err
	}
	if header.Problem != "" {
		return nil, fmt.Errorf("the header line %d: %s", header.Line, header.Problem)
	}
	cols := map[int]string{}
	seen := map[string]bool{}
	for i, h := range header.Fields {
		k := strings.ToLower(strings.TrimSpace(h))
		k = strings.NewReplacer(" ", "_", "-", "_").Replace(k)
		f, ok := columnAliases[k]
		if !ok || seen[f] {
			continue
		}
		cols[i], seen[f] = f, true
	}
	if !seen["name"] {
		return nil, errors.New("csv header: no name column (name or full_name)")
	}
	return &csvRows{r: cr, cols: cols, now: now}, nil
}

// next returns the next row, or the problems that reject it; io.EOF at
// the end.
func (c *csvRows) next() (person, []RowProblem, error) {
	rec, err := c.r.Read()
	if err != nil {
		return person{}, nil, err
	}
	if rec.Problem != "" {
		return person{}, []RowProblem{{Line: rec.Line, Reason: "malformed CSV: " + rec.Problem}}, nil
	}
	fields := map[string]string{}
	var probs []RowProblem
	allEmpty := true
	for i, v := range rec.Fields {
		if strings.TrimSpace(v) != "" {
			allEmpty = false
		}
		f, ok := c.cols[i]
		if !ok {
			continue
		}
		if reason := input.Text(v); reason != "" {
			probs = append(probs, RowProblem{Line: rec.Line, Field: f, Reason: reason})
			continue
		}
		if n := utf8.RuneCountInString(v); n > MaxIndividualField {
			probs = append(probs, RowProblem{Line: rec.Line, Field: f, Reason: fmt.Sprintf("is %d characters long; the limit is %d", n, MaxIndividualField)})
			continue
		}
		fields[f] = cell(v)
	}
	if allEmpty {
		return person{line: rec.Line, blank: true}, nil, nil
	}
	if len(probs) > 0 {
		return person{line: rec.Line}, probs, nil
	}
	p, probs := parsePerson(rec.Line, fields, c.now)
	return p, probs, nil
}

// cell trims a value and unwraps Excel's ="..." text cell.
func cell(v string) string {
	v = strings.TrimSpace(v)
	if strings.HasPrefix(v, `="`) && strings.HasSuffix(v, `"`) && len(v) >= 3 {
		v = v[2 : len(v)-1]
	}
	return strings.TrimSpace(v)
}

func parsePerson(line int, f map[string]string, now time.Time) (person, []RowProblem) {
	var probs []RowProblem
	bad := func(field, reason string) {
		probs = append(probs, RowProblem{Line: line, Field: field, Reason: reason})
	}
	p := person{line: line, customer: f["customer"], rec: Person{
		Name: strings.Join(strings.Fields(f["name"]), " "), Address1: f["address1"], Address2: f["address2"], City: f["city"],
		State: strings.ToUpper(f["state"]), PostalCode: f["postal_code"], Phone: f["phone"],
		NextOfKin: f["next_of_kin"], NextOfKinAddress: f["next_of_kin_address"]}}
	if p.rec.Name == "" {
		bad("name", "missing")
	} else if reason := input.Title(p.rec.Name); reason != "" {
		bad("name", reason)
	}
	if _, known := rules.JurisdictionName(p.rec.State); p.rec.State != "" && !known {
		bad("state", "not a two-letter State or territory code")
	}
	if v := f["email"]; v != "" {
		a, err := mail.ParseAddress(v)
		if err != nil || a.Address != v {
			bad("email", "not an email address")
		} else {
			p.rec.Email = a.Address
		}
	}
	if v := f["date_of_birth"]; v != "" {
		d, ok := parseDate(v)
		switch {
		case !ok:
			bad("date_of_birth", "not a date (YYYY-MM-DD or MM/DD/YYYY)")
		case d.After(now):
			bad("date_of_birth", "in the future")
		default:
			p.rec.DateOfBirth = d.Format("2006-01-02")
		}
	}
	var ok bool
	if p.deceased, ok = parseBool(f["deceased"]); !ok {
		bad("deceased", "not yes or no")
	}
	if p.consent, ok = parseBool(f["consent_electronic"]); !ok {
		bad("consent_electronic", "not yes or no")
	}
	return p, probs
}

func parseDate(v string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02", "1/2/2006", "01/02/2006"} {
		if t, err := time.Parse(layout, v); err == nil && t.Year() >= 1850 {
			return t, true
		}
	}
	return time.Time{}, false
}

func parseBool(v string) (value, ok bool) {
	switch strings.ToLower(v) {
	case "", "0", "n", "no", "false", "f":
		return false, true
	case "1", "y", "yes", "true", "t", "x":
		return true, true
	}
	return false, false
}
