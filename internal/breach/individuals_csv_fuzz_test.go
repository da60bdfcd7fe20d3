package breach

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzIndividualsCSV reads lists of affected individuals as an import
// does (newCSVRows, then next until io.EOF), with no database: a list is
// refused at its header or read row by row, each row either accepted or
// rejected with problems naming a field and its line; rows come in the
// order of their lines; an accepted row holds only valid UTF-8 and reads
// back the same when its normalised values are read again (so what is
// stored is what a person would import). Run it longer with:
//
//	go test -run='^$' -fuzz='^FuzzIndividualsCSV$' -fuzztime=10m ./internal/breach
func FuzzIndividualsCSV(f *testing.F) {
	for _, s := range []string{
		"sep=,\r\n" +
			"Full Name,Address1,Address2,City,State,ZIP,Email,Phone,DOB,Deceased,Next_of_Kin,Next_of_Kin_Address,Consent_Electronic,Customer,,\r\n" +
			`"Zebediah Quillfeather, Jr.",1 Main St,,Reno,NV,="08901",zq@example.com,555-0100,1970-01-02,no,,,yes,Clinic A,,` + "\r\n" +
			`Ann Lee,,,,NV,,,,03/04/1980,no,,,no,,,` + "\r\n" +
			`Cy Dee,,,,AZ,,,,,yes,Dee Kin,3 Oak St Tucson AZ 85701,,,,` + "\r\n" +
			`,4 Pine St,,Reno,NV,89501,,,,no,,,,,,` + "\r\n" +
			`Ed Fox,5 Elm St,,Reno,ZZ,89501,not-an-email,,31/31/1999,no,,,,,,` + "\r\n",
		"\uFEFFname;address;city;state;zip;email_address;date_of_birth;email_consent\n" +
			"Jos\xe9 Mu\xf1oz;12 Calle Real;Santa Fe;nm;87501;jose@example.org;1/2/1961;y\n" +
			"Zo\u00eb \u00c5ngstr\u00f6m;;;;;;;\n",
		"sep=;\nname;state\nA;CA\n",
		"name,phone\n\"Ann\nLee\",555\nBob,556\n",
		"name,phone\n\"Ann Lee,555\nBob Ray,556\n",
		"name,phone\nAnn \"the\" Lee,555\n",
		"name\n\n  \n,\nAnn\n",
		"name,dob\nAnn,2999-01-01\nBob,1849-12-31\nCy,02/30/1990\n",
		"address,city\n1 Main St,Reno\n",
		"name,name,full_name\nfirst,second,third\n",
		"sep=\"\nname\n",
		"",
		"\xff\xfen\x00a\x00m\x00e\x00\n\x00",
	} {
		f.Add([]byte(s))
	}
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, err := newCSVRows(bytes.NewReader(data), now)
		if err != nil {
			return // refused at the header: the import is a 400 naming it
		}
		last := 1 // the header's line, or a sep= line before it
		for n := 0; ; n++ {
			if n > len(data)+1 {
				t.Fatalf("more rows than bytes")
			}
			p, probs, err := rows.next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				t.Fatalf("reading from memory failed: %v", err)
			}
			line := p.line
			if len(probs) > 0 {
				line = probs[0].Line
			}
			if line <= last {
				t.Fatalf("a row on line %d after line %d: a resumed import would skip or repeat it", line, last)
			}
			last = line
			for _, pr := range probs {
				if pr.Line != line || pr.Reason == "" {
					t.Fatalf("problem %+v on a row of line %d", pr, line)
				}
			}
			if p.blank || len(probs) > 0 {
				continue
			}
			checkPerson(t, p, now)
		}
	})
}

// checkPerson fails on an accepted row that is not well formed.
func checkPerson(t *testing.T, p person, now time.Time) {
	t.Helper()
	v := reflect.ValueOf(p.rec)
	for i := range v.NumField() {
		if s := v.Field(i).String(); !utf8.ValidString(s) {
			t.Fatalf("line %d: %s %q is not valid UTF-8", p.line, v.Type().Field(i).Name, s)
		}
	}
	if !utf8.ValidString(p.customer) {
		t.Fatalf("line %d: customer %q is not valid UTF-8", p.line, p.customer)
	}
	if strings.TrimSpace(p.rec.Name) == "" {
		t.Fatalf("line %d: accepted without a name", p.line)
	}
	yes := map[bool]string{true: "yes", false: "no"}
	again, probs := parsePerson(p.line, map[string]string{"name": p.rec.Name, "address1": p.rec.Address1, "address2": p.rec.Address2,
		"city": p.rec.City, "state": p.rec.State, "postal_code": p.rec.PostalCode, "email": p.rec.Email, "phone": p.rec.Phone,
		"date_of_birth": p.rec.DateOfBirth, "next_of_kin": p.rec.NextOfKin, "next_of_kin_address": p.rec.NextOfKinAddress,
		"deceased": yes[p.deceased], "consent_electronic": yes[p.consent], "customer": p.customer}, now)
	if len(probs) > 0 || !reflect.DeepEqual(again, p) {
		t.Fatalf("line %d: the accepted row %+v reads back as %+v, %v", p.line, p, again, probs)
	}
}
