package breach

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/transform"

	"github.com/wardhq/ward/internal/breach/rules"
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

// utf8OrWindows1252 passes valid UTF-8 through and decodes every byte that
// is not as Windows-1252, so a list saved by Excel in either reads right.
type utf8OrWindows1252 struct{ transform.NopResetter }

func (utf8OrWindows1252) Transform(dst, src []byte, atEOF bool) (nDst, nSrc int, err error) {
	for nSrc < len(src) {
		if !utf8.FullRune(src[nSrc:]) && !atEOF {
			return nDst, nSrc, transform.ErrShortSrc
		}
		r, size := utf8.DecodeRune(src[nSrc:])
		if r == utf8.RuneError && size <= 1 {
			r = charmap.Windows1252.DecodeByte(src[nSrc])
			size = 1
		}
		if nDst+utf8.RuneLen(r) > len(dst) {
			return nDst, nSrc, transform.ErrShortDst
		}
		nDst += utf8.EncodeRune(dst[nDst:], r)
		nSrc += size
	}
	return nDst, nSrc, nil
}

// csvRows reads a list of individuals as a stream: UTF-8 (with or without
// a byte-order mark) or Windows-1252, an optional leading "sep=" line,
// quoted fields, CRLF line ends, trailing empty columns and Excel's ="..."
// text cells.
type csvRows struct {
	r      *csv.Reader
	cols   map[int]string // column index → field
	offset int            // lines before the CSV proper (the sep= line)
	now    time.Time      // a date of birth after it is an error
}

func newCSVRows(in io.Reader, now time.Time) (*csvRows, error) {
	br := bufio.NewReaderSize(transform.NewReader(in, utf8OrWindows1252{}), 64<<10)
	first, err := br.ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("read csv: %w", err)
	}
	first = strings.TrimPrefix(first, "\uFEFF")
	sep, offset := ',', 0
	var rest io.Reader = io.MultiReader(strings.NewReader(first), br)
	if t := strings.TrimRight(first, "\r\n"); strings.HasPrefix(strings.ToLower(t), "sep=") {
		r, _ := utf8.DecodeRuneInString(t[4:])
		if r == utf8.RuneError || r == '"' || r == '\r' || r == '\n' {
			return nil, errors.New("csv: the sep= line names no separator")
		}
		sep, offset, rest = r, 1, br
	}
	cr := csv.NewReader(rest)
	cr.Comma, cr.FieldsPerRecord, cr.LazyQuotes = sep, -1, true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("csv: the file is empty; the first line must name the columns")
	}
	if err != nil {
		return nil, fmt.Errorf("csv header: %w", err)
	}
	cols := map[int]string{}
	seen := map[string]bool{}
	for i, h := range header {
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
	return &csvRows{r: cr, cols: cols, offset: offset, now: now}, nil
}

// next returns the next row, or the problem that rejects it; io.EOF at the
// end.
func (c *csvRows) next() (person, []RowProblem, error) {
	rec, err := c.r.Read()
	if errors.Is(err, io.EOF) {
		return person{}, nil, io.EOF
	}
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return person{}, []RowProblem{{Line: pe.StartLine + c.offset, Reason: "malformed CSV: " + pe.Err.Error()}}, nil
	}
	if err != nil {
		return person{}, nil, fmt.Errorf("read csv: %w", err)
	}
	line, _ := c.r.FieldPos(0)
	line += c.offset
	fields := map[string]string{}
	for i, v := range rec {
		if f, ok := c.cols[i]; ok {
			fields[f] = cell(v)
		}
	}
	allEmpty := true
	for _, v := range rec {
		if strings.TrimSpace(v) != "" {
			allEmpty = false
			break
		}
	}
	if allEmpty {
		return person{line: line, blank: true}, nil, nil
	}
	p, probs := parsePerson(line, fields, c.now)
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
