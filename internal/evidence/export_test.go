package evidence_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/evidence"
	"github.com/wardhq/ward/internal/report"
)

// rezip rewrites archive with change applied to the body of file name.
func rezip(t *testing.T, archive []byte, name string, change func([]byte) []byte) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	found := false
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if f.Name == name {
			body, found = change(bytes.Clone(body)), true
		}
		w, err := zw.Create(f.Name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(body); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Fatalf("%s is not in the archive", name)
	}
	return buf.Bytes()
}

func flip(b []byte) []byte { b[len(b)/2] ^= 0x01; return b }

func archiveFile(t *testing.T, archive []byte, name string) []byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(archive), int64(len(archive)))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := zr.Open(name)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestExportVerifiesOffline: an incident's evidence export holds each
// item's decrypted content, metadata with its SHA-256 and whole chain of
// custody (the export's own copy included), signed; VerifyArchive, which
// has only the archive, passes it; one byte changed in an item's content,
// its custody log or the manifest fails it naming the file. Each stored
// item's export is a custody entry, and the export is audited.
func TestExportVerifiesOffline(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, 0)
		if _, err := e.ev.PrepareExport(officer, e.inc.Number, false); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("export of no evidence: %v", err)
		}
		content := append([]byte("badge log of Jane Canary\n"), randomBytes(t, 5<<20)...)
		kept, err := e.ev.Add(responder, e.inc.Number, evidence.Upload{Description: "Badge log", FileName: "badges.csv"},
			bytes.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		gone, err := e.ev.Add(responder, e.inc.Number, evidence.Upload{Description: "Old note"}, strings.NewReader("note"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.ev.RecordCustody(officer, e.inc.Number, gone.ID, evidence.CustodyInput{Action: evidence.Destroyed,
			Reason: "duplicate"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ev.PrepareExport(stakeholder, e.inc.Number, false); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("stakeholder export: %v", err)
		}
		x, err := e.ev.PrepareExport(auditor, e.inc.Number, false)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		m, err := x.WriteArchive(&buf)
		if err != nil {
			t.Fatal(err)
		}
		archive := buf.Bytes()
		v := report.VerifyArchive(bytes.NewReader(archive), int64(len(archive)))
		if !v.Valid || v.Format != report.ExportFormat || v.IncidentNumber != e.inc.Number || v.Files != 5 || len(m.Files) != 5 {
			t.Fatalf("verification: %+v", v)
		}
		dir := "evidence/" + kept.ID + "/"
		if !bytes.Equal(archiveFile(t, archive, dir+"content"), content) {
			t.Fatal("the exported content differs from the file added")
		}
		var item struct {
			SHA256      string `json:"sha256"`
			Description string `json:"description"`
			FileName    string `json:"file_name"`
		}
		if err := json.Unmarshal(archiveFile(t, archive, dir+"item.json"), &item); err != nil || item.SHA256 != sum(content) ||
			item.Description != "Badge log" || item.FileName != "badges.csv" {
			t.Fatalf("item.json: %+v %v", item, err)
		}
		var custody []struct{ Action, Actor, Reason string }
		if err := json.Unmarshal(archiveFile(t, archive, dir+"custody.json"), &custody); err != nil || len(custody) != 2 ||
			custody[1].Action != "copied" || custody[1].Actor != "user:aud" || !strings.Contains(custody[1].Reason, "export") {
			t.Fatalf("custody.json: %+v %v", custody, err)
		}
		if zr, _ := zip.NewReader(bytes.NewReader(archive), int64(len(archive))); zr != nil {
			for _, f := range zr.File {
				if f.Name == "evidence/"+gone.ID+"/content" {
					t.Fatal("a destroyed item's content is in the export")
				}
			}
		}
		if e.count(t, `SELECT count(*) FROM evidence_custody WHERE item_id = $1 AND action = 'copied'`, gone.ID) != 0 {
			t.Fatal("a destroyed item was recorded as copied")
		}
		if got := e.auditActions(t); !strings.Contains(strings.Join(got, " "), "evidence.export") {
			t.Fatalf("audit: %v", got)
		}

		for _, name := range []string{dir + "content", dir + "custody.json", report.ManifestName} {
			tampered := rezip(t, archive, name, flip)
			v := report.VerifyArchive(bytes.NewReader(tampered), int64(len(tampered)))
			if v.Valid || !strings.Contains(strings.Join(v.Problems, "\n"), name) {
				t.Fatalf("one byte of %s changed: %+v", name, v)
			}
		}
		// A byte changed in the archive itself: the zip's own check names the file.
		raw := bytes.Clone(archive)
		i := bytes.Index(raw, []byte("badge log of Jane Canary"))
		raw[i] ^= 0x01
		if v := report.VerifyArchive(bytes.NewReader(raw), int64(len(raw))); v.Valid ||
			!strings.Contains(strings.Join(v.Problems, "\n"), dir+"content") {
			t.Fatalf("a byte of the archive changed: %+v", v)
		}
	})
}
