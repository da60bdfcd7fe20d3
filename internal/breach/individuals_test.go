package breach_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// canaryName is fake PHI, distinctive enough that finding it anywhere in
// clear means a leak.
const canaryName = "Zebediah Quillfeather"

// individualsCSV is an Excel export: a sep= line, a byte-order mark-free
// UTF-8 body with CRLF, a quoted comma, ="..." text and trailing empty
// columns, and rows to reject.
const individualsCSV = "sep=,\r\n" +
	"Full Name,Address1,Address2,City,State,ZIP,Email,Phone,DOB,Deceased,Next_of_Kin,Next_of_Kin_Address,Consent_Electronic,Customer,,\r\n" +
	`"` + canaryName + `, Jr.",1 Main St,,Reno,NV,="08901",zq@example.com,555-0100,1970-01-02,no,,,yes,Clinic A,,` + "\r\n" +
	`Ann Lee,,,,NV,,,,03/04/1980,no,,,no,,,` + "\r\n" +
	`Bob Ray,2 Elm St,,Phoenix,AZ,85001,,,,no,,,,,,` + "\r\n" +
	`Cy Dee,,,,AZ,,,,,yes,Dee Kin,3 Oak St Tucson AZ 85701,,,,` + "\r\n" +
	`Di Eve,,,,AZ,,,,,yes,,,,,,` + "\r\n" +
	`,4 Pine St,,Reno,NV,89501,,,,no,,,,,,` + "\r\n" +
	`Ed Fox,5 Elm St,,Reno,ZZ,89501,not-an-email,,31/31/1999,no,,,,,,` + "\r\n"

type individualsEnv struct {
	svc  *breach.Service
	incs *incident.Service
	ref  string
}

func newIndividualsEnv(t *testing.T, d *db.DB) individualsEnv {
	t.Helper()
	clk := clock.NewFake(start)
	kr := dbtest.Keyring(t, d, start)
	incs := incident.NewService(d, clk, kr)
	svc, err := breach.New(d, clk, incs, kr, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	sec := as(authz.RoleSecurityOfficer, "sam")
	inc, err := incs.Create(sec, incident.CreateInput{Title: "Mailing list exposed", Severity: incident.Sev2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Open(sec, inc.Number); err != nil {
		t.Fatal(err)
	}
	return individualsEnv{svc: svc, incs: incs, ref: inc.Number}
}

// TestIndividualsImport: an Excel-style list imports with its quirks, bad
// rows are reported by line and field without their values, a re-import
// changes no count, the counts drive the facts and the substitute notice,
// and the PHI is readable only by a PHI role.
func TestIndividualsImport(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newIndividualsEnv(t, d)
		sec := as(authz.RoleSecurityOfficer, "sam")
		if _, err := e.svc.ImportIndividuals(as(authz.RoleResponder, "rae"), e.ref, strings.NewReader(individualsCSV)); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("a responder importing: %v", err)
		}
		res, err := e.svc.ImportIndividuals(sec, e.ref, strings.NewReader(individualsCSV))
		if err != nil {
			t.Fatal(err)
		}
		if res.Lines != 7 || res.Created != 5 || res.Updated != 0 || res.Rejected != 2 {
			t.Fatalf("first import: %+v", res)
		}
		report, _ := json.Marshal(res.Problems)
		for _, want := range []string{`{"line":8,"field":"name","reason":"missing"}`, `{"line":9,"field":"state"`,
			`{"line":9,"field":"email"`, `{"line":9,"field":"date_of_birth"`} {
			if !bytes.Contains(report, []byte(want)) {
				t.Errorf("report lacks %s: %s", want, report)
			}
		}
		for _, phi := range []string{"ZZ", "not-an-email", "31/31", "Ed Fox", "Pine"} {
			if bytes.Contains(report, []byte(phi)) {
				t.Errorf("report echoes %q: %s", phi, report)
			}
		}

		// NV: the canary (address, email with consent) and Ann Lee (no
		// contact): 1 insufficient. AZ: Bob (address), Cy (deceased, next of
		// kin's address), Di (deceased, none).
		cnt, err := e.svc.IndividualCounts(as(authz.RoleResponder, "rae"), e.ref)
		if err != nil {
			t.Fatal(err)
		}
		if cnt.Individuals != 5 || cnt.InsufficientContact != 1 || cnt.Deceased != 2 || cnt.DeceasedWithNextOfKinAddress != 1 ||
			cnt.DeceasedWithoutNextOfKinAddress != 1 || cnt.Substitute.Kind != rules.SubstituteAlternative {
			t.Fatalf("counts: %+v", cnt)
		}
		if len(cnt.ByState) != 2 || cnt.ByState[0] != (breach.StateCount{State: "AZ", Individuals: 3, Deceased: 2, DeceasedWithNextOfKinAddress: 1}) ||
			cnt.ByState[1] != (breach.StateCount{State: "NV", Individuals: 2, InsufficientContact: 1}) {
			t.Fatalf("by state: %+v", cnt.ByState)
		}
		c, err := e.svc.Get(sec, e.ref)
		if err != nil {
			t.Fatal(err)
		}
		if c.Facts.Individuals != 5 || c.Facts.ByState["NV"] != 2 || c.Facts.ByState["AZ"] != 3 {
			t.Fatalf("facts after import: %+v", c.Facts)
		}
		tl, err := e.incs.Timeline(sec, e.ref, "", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(fmt.Sprint(tl), "Affected individuals imported by sam: 7 rows read, 5 new") {
			t.Errorf("timeline lacks the import")
		}

		// The same file again: nothing new, every good row updated.
		again, err := e.svc.ImportIndividuals(sec, e.ref, strings.NewReader(individualsCSV))
		if err != nil {
			t.Fatal(err)
		}
		if again.Created != 0 || again.Updated != 5 || again.Rejected != 2 || again.Counts.Individuals != 5 {
			t.Fatalf("re-import: %+v", again)
		}

		// PHI only for a PHI role, audited; redacted otherwise.
		list, next, err := e.svc.Individuals(sec, e.ref, "", 2)
		if err != nil || len(list) != 2 || next == "" {
			t.Fatalf("first page: %d %q %v", len(list), next, err)
		}
		all := list
		for next != "" {
			var page []breach.Individual
			if page, next, err = e.svc.Individuals(sec, e.ref, next, 2); err != nil {
				t.Fatal(err)
			}
			all = append(all, page...)
		}
		found := false
		for _, in := range all {
			if in.Person == nil || in.Redacted {
				t.Fatalf("a PHI reader got %+v", in)
			}
			if in.Person.Name == canaryName+", Jr." {
				found = in.Person.PostalCode == "08901" && in.Person.DateOfBirth == "1970-01-02" && in.ConsentElectronic && in.Customer == "Clinic A"
			}
		}
		if len(all) != 5 || !found {
			t.Fatalf("listed %d, canary found as imported: %v", len(all), found)
		}
		red, _, err := e.svc.Individuals(as(authz.RoleStakeholder, "sue"), e.ref, "", 0)
		if err != nil || len(red) != 5 || red[0].Person != nil || !red[0].Redacted {
			t.Fatalf("a stakeholder's list: %+v %v", red, err)
		}
		var phiReads int
		if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'breach_case.individuals_phi_read'`).Scan(&phiReads); err != nil {
			t.Fatal(err)
		}
		var batches int
		if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'breach_case.individuals_import'`).Scan(&batches); err != nil {
			t.Fatal(err)
		}
		if phiReads != 3 || batches != 2 {
			t.Fatalf("audited %d PHI reads (want 3) and %d import batches (want 2)", phiReads, batches)
		}
	})
}

// TestIndividualsEncodings: a BOM, Windows-1252 bytes (é as 0xE9) and a
// semicolon sep= line read right.
func TestIndividualsEncodings(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newIndividualsEnv(t, d)
		sec := as(authz.RoleSecurityOfficer, "sam")
		bom := "\uFEFFName,State\r\nJos\u00e9 Alvarez,CA\r\n"
		if res, err := e.svc.ImportIndividuals(sec, e.ref, strings.NewReader(bom)); err != nil || res.Created != 1 || res.Rejected != 0 {
			t.Fatalf("UTF-8 with a BOM: %+v %v", res, err)
		}
		win := []byte("sep=;\r\nDOB;Name;State\r\n1/2/1960;Ren\xe9e Dubois;ca\r\n")
		res, err := e.svc.ImportIndividuals(sec, e.ref, bytes.NewReader(win))
		if err != nil || res.Created != 1 || res.Rejected != 0 {
			t.Fatalf("Windows-1252 import: %+v %v", res, err)
		}
		list, _, err := e.svc.Individuals(sec, e.ref, "", 0)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]string{}
		for _, in := range list {
			names[in.Person.Name] = in.State
		}
		if names["Ren\u00e9e Dubois"] != "CA" || names["Jos\u00e9 Alvarez"] != "CA" {
			t.Fatalf("decoded: %v", names)
		}
		if _, err := e.svc.ImportIndividuals(sec, e.ref, strings.NewReader("email,state\r\na@b.c,CA\r\n")); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("no name column: %v", err)
		}
	})
}

// TestIndividualsSubstituteThreshold: 10 living individuals without
// sufficient contact information oblige conspicuous substitute notice
// (164.404(d)(2)(ii)); deceased ones without a next of kin do not count.
func TestIndividualsSubstituteThreshold(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newIndividualsEnv(t, d)
		sec := as(authz.RoleSecurityOfficer, "sam")
		var b strings.Builder
		b.WriteString("name,state,email,consent_electronic,deceased\n")
		for i := range 9 {
			fmt.Fprintf(&b, "Person %d,TX,p%d@example.com,no,no\n", i, i)
		}
		b.WriteString("Gone Person,TX,,,yes\n")
		res, err := e.svc.ImportIndividuals(sec, e.ref, strings.NewReader(b.String()))
		if err != nil || res.Counts.InsufficientContact != 9 || res.Counts.Substitute.Kind != rules.SubstituteAlternative {
			t.Fatalf("9 without contact: %+v %v", res.Counts, err)
		}
		res, err = e.svc.ImportIndividuals(sec, e.ref, strings.NewReader("name,state\nTenth Person,TX\n"))
		if err != nil || res.Counts.InsufficientContact != 10 || res.Counts.Substitute.Kind != rules.SubstituteConspicuous ||
			res.Counts.Individuals != 11 {
			t.Fatalf("10 without contact: %+v %v", res.Counts, err)
		}
	})
}

// TestIndividualsBatches: a long list commits in batches of
// ImportBatchRows rows, each audited, and the import keeps its progress;
// a date of birth in the future is rejected.
func TestIndividualsBatches(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newIndividualsEnv(t, d)
		var b strings.Builder
		b.WriteString("name,state,dob\n")
		rows := 2*breach.ImportBatchRows + 1
		for i := range rows {
			fmt.Fprintf(&b, "Person %d,WA,1980-01-01\n", i)
		}
		b.WriteString("Not Born,WA,2099-01-01\n")
		res, err := e.svc.ImportIndividuals(as(authz.RoleSecurityOfficer, "sam"), e.ref, strings.NewReader(b.String()))
		if err != nil || res.Created != rows || res.Rejected != 1 || len(res.Problems) != 1 || res.Problems[0].Field != "date_of_birth" {
			t.Fatalf("import: %+v %v", res, err)
		}
		var batches, read, created, rejected int
		if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'breach_case.individuals_import'`).Scan(&batches); err != nil {
			t.Fatal(err)
		}
		if err := d.R.QueryRow(`SELECT lines_read, created, rejected FROM breach_individual_imports WHERE finished_at IS NOT NULL`).
			Scan(&read, &created, &rejected); err != nil {
			t.Fatal(err)
		}
		if batches != 3 || read != rows+1 || created != rows || rejected != 1 {
			t.Fatalf("%d batches audited; import record: %d read, %d created, %d rejected", batches, read, created, rejected)
		}
	})
}

// TestIndividualsNoPHIInClear: the canary's name is nowhere in the
// database in clear: not in the SQLite file nor its write-ahead log.
func TestIndividualsNoPHIInClear(t *testing.T) {
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			d := dbtest.Open(t, target.URL)
			e := newIndividualsEnv(t, d)
			if _, err := e.svc.ImportIndividuals(as(authz.RoleSecurityOfficer, "sam"), e.ref, strings.NewReader(individualsCSV)); err != nil {
				t.Fatal(err)
			}
			var n int
			if err := d.R.QueryRow(`SELECT count(*) FROM breach_individuals WHERE record LIKE '%Quillfeather%' OR dedupe_key LIKE '%Quillfeather%'`).Scan(&n); err != nil || n != 0 {
				t.Fatalf("canary in clear in %d rows (%v)", n, err)
			}
			if target.Dialect != db.SQLite {
				return
			}
			for _, f := range []string{target.URL, target.URL + "-wal"} {
				raw, err := os.ReadFile(f)
				if err != nil && !os.IsNotExist(err) {
					t.Fatal(err)
				}
				if bytes.Contains(raw, []byte("Quillfeather")) || bytes.Contains(raw, []byte("zq@example.com")) {
					t.Errorf("canary PHI in clear in %s", filepath.Base(f))
				}
			}
		})
	}
}
