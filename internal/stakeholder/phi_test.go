package stakeholder

import (
	"slices"
	"testing"
)

// TestPHIKinds: each PHI pattern is caught in the forms people paste, and
// texts that only mention the words, or hold other numbers, pass.
func TestPHIKinds(t *testing.T) {
	const ssn, mrn, dob, born = "a Social Security number", "a medical record number", "a date of birth", "a full date next to \"born\""
	for _, c := range []struct {
		text string
		want []string
	}{
		{"Patient SSN 078-05-1120 was in the export.", []string{ssn}},
		{"the file held 078 05 1120 in one row", []string{ssn}},
		{"social security number: 078051120", []string{ssn}},
		{"SSN#078051120", []string{ssn}},
		{"MRN: 12345678", []string{mrn}},
		{"medical record number 0012345 was exposed", []string{mrn}},
		{"Medical record no. A1234567", []string{mrn}},
		{"DOB 03/14/1961", []string{dob}},
		{"date of birth: March 14, 1961", []string{dob}},
		{"Date of birth is 1961-03-14", []string{dob}},
		{"born on 14 March 1961 in Ohio", []string{born}},
		{"born 3/14/61", []string{born}},
		{"Jane Doe, SSN 078-05-1120, DOB 03/14/1961, MRN 7654321", []string{ssn, mrn, dob}},

		{"Contained at the firewall; no SSNs or medical record numbers were in the bucket.", nil},
		{"Ticket 4412345 at the vendor; call 555-123-4567; incident INC-2026-0042.", nil},
		{"Restored from the 2026-11-03 backup; 123456789 rows checked.", nil},
		{"The date of birth field was encrypted; born-digital records only.", nil},
		{"Filed on March 14, 2026 with HHS.", nil},
	} {
		if got := phiKinds(c.text); !slices.Equal(got, c.want) {
			t.Errorf("phiKinds(%q) = %q, want %q", c.text, got, c.want)
		}
	}
}
