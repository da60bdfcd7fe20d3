package audit_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// checkChain recomputes every entry's hash with audit.Hash and checks that
// each links to the one before, as an offline verifier of an export does.
func checkChain(t *testing.T, entries []audit.Entry) {
	t.Helper()
	prev := audit.Genesis
	for i, e := range entries {
		if e.Seq != int64(i+1) || e.PrevHash != prev || audit.Hash(e) != e.Hash {
			t.Fatalf("entry %d (seq %d) does not verify: %+v", i, e.Seq, e)
		}
		prev = e.Hash
	}
}

func export(t *testing.T, d *db.DB, format string, q audit.Query) []byte {
	t.Helper()
	x, err := audit.NewReader(d, clock.NewFake(start)).Export(roleCtx(authz.RoleAuditor), q, format)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := x.WriteTo(context.Background(), &buf, nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestExportJSONLRoundTrip(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		// More than one chunk, so the export reads on past the first.
		n := audit.MaxList + 37
		bulkChain(t, d, n)
		out := export(t, d, audit.FormatJSONL, audit.Query{})
		var entries []audit.Entry
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			var e audit.Entry
			if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
				t.Fatalf("line %d: %v", len(entries)+1, err)
			}
			entries = append(entries, e)
		}
		// The export's own audit.export entry is the last.
		if len(entries) != n+1 || entries[n].Action != "audit.export" {
			t.Fatalf("%d entries exported, want %d and the export's own", len(entries), n+1)
		}
		checkChain(t, entries)
	})
}

// TestExportCSVIsSafeInASpreadsheet: a value a spreadsheet would run as a
// formula starts with an apostrophe, and the export still verifies once
// the apostrophes are taken off.
func TestExportCSVIsSafeInASpreadsheet(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		for _, name := range []string{`=HYPERLINK("http://evil.example","x")`, "+1+1", "-2", "@SUM(A1)", "'quoted", "plain"} {
			ctx := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, Name: "n", Role: authz.RoleAdmin})
			ctx = authz.WithRequest(ctx, authz.Request{ID: name, SourceIP: "\t" + name})
			appendOne(t, ctx, d, start, audit.Event{Action: "service.create", ObjectType: "service", ObjectID: name})
		}
		out := export(t, d, audit.FormatCSV, audit.Query{Action: "service."})
		rows, err := csv.NewReader(bytes.NewReader(out)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(rows[0], ",") != strings.Join(audit.CSVHeader, ",") || len(rows) != 7 {
			t.Fatalf("rows: %q", rows)
		}
		var entries []audit.Entry
		for _, row := range rows[1:] {
			for _, cell := range row {
				if cell != "" && strings.ContainsRune("=+-@\t\r", rune(cell[0])) {
					t.Errorf("cell %q would run as a formula", cell)
				}
			}
			e, err := audit.ParseCSVRow(row)
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, e)
		}
		checkChain(t, entries)
		if entries[0].ObjectID != `=HYPERLINK("http://evil.example","x")` || entries[4].ObjectID != "'quoted" {
			t.Errorf("values not restored: %q %q", entries[0].ObjectID, entries[4].ObjectID)
		}
	})
}
