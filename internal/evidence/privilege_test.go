package evidence_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/evidence"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/report"
)

var (
	counsel = as(authz.RoleCounsel, "carol")
	privacy = as(authz.RolePrivacyOfficer, "pat")
)

func addUser(t *testing.T, d *db.DB, name string, role authz.Role) {
	t.Helper()
	if _, err := d.W.ExecContext(context.Background(), `INSERT INTO users (id, username, display_name, email, role,
		password_hash, disabled, created_at, updated_at) VALUES ($1, $2, $3, '', $4, 'x', false, $5, $5)`,
		"u-"+name, name, strings.ToUpper(name), string(role), start); err != nil {
		t.Fatal(err)
	}
}

// TestPrivilegedMarking: counsel marks a note and an evidence item
// privileged; a responder and the auditor then see that they exist and
// who holds them, never their content (the download is refused, the
// export leaves the item out and says so, and asking for it is refused),
// while counsel and the Privacy Officer see them, each read audited
// (privileged.read). Marking needs privileged:mark, names a holder who
// may read privileged content, is on the timeline and audited; unmarking
// shows the content again.
func TestPrivilegedMarking(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, 0)
		addUser(t, d, "carol", authz.RoleCounsel)
		addUser(t, d, "rita", authz.RoleResponder)
		note, err := e.incs.AddNote(responder, e.inc.Number, "Counsel thinks Jane Canary's chart was read")
		if err != nil {
			t.Fatal(err)
		}
		plain, err := e.incs.AddNote(responder, e.inc.Number, "Laptop reported lost")
		if err != nil {
			t.Fatal(err)
		}
		content := []byte("interview of Jane Canary")
		it, err := e.ev.Add(responder, e.inc.Number, evidence.Upload{Description: "Interview notes on Jane Canary",
			FileName: "interview.txt"}, bytes.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		other, err := e.ev.Add(responder, e.inc.Number, evidence.Upload{Description: "Badge log"}, strings.NewReader("badges"))
		if err != nil {
			t.Fatal(err)
		}

		mark := incident.PrivilegeInput{Kind: incident.PrivilegedNote, ObjectID: note.ID, Privileged: true}
		for _, ctx := range []context.Context{responder, officer, auditor} {
			if _, err := e.incs.SetPrivileged(ctx, e.inc.Number, mark); apperr.CodeOf(err) != apperr.Forbidden {
				t.Fatalf("marking without privileged:mark: %v", err)
			}
		}
		bad := mark
		bad.HeldBy = "rita"
		_, err = e.incs.SetPrivileged(counsel, e.inc.Number, bad)
		wantField(t, err, "held_by")
		bad = mark
		bad.ObjectID = it.ID
		_, err = e.incs.SetPrivileged(counsel, e.inc.Number, bad)
		wantField(t, err, "object_id")
		p, err := e.incs.SetPrivileged(counsel, e.inc.Number, mark)
		if err != nil || p.HeldBy != "carol" || p.MarkedBy != "user:carol" {
			t.Fatalf("mark: %+v %v", p, err)
		}
		if _, err := e.incs.SetPrivileged(privacy, e.inc.Number, incident.PrivilegeInput{Kind: incident.PrivilegedEvidence,
			ObjectID: it.ID, Privileged: true, HeldBy: "carol"}); err != nil {
			t.Fatal(err)
		}

		for name, ctx := range map[string]context.Context{"responder": responder, "auditor": auditor} {
			tl, err := e.incs.Timeline(ctx, e.inc.Number, incident.EventNote, 0, 0)
			if err != nil || len(tl) != 2 {
				t.Fatalf("%s timeline: %+v %v", name, tl, err)
			}
			for _, ev := range tl {
				switch ev.ID {
				case note.ID:
					if ev.Note != "" || !ev.NoteRedacted || ev.Privilege == nil || ev.Privilege.HeldBy != "carol" {
						t.Fatalf("%s sees the privileged note: %+v", name, ev)
					}
				case plain.ID:
					if ev.Note != "Laptop reported lost" || ev.Privilege != nil {
						t.Fatalf("%s: the other note: %+v", name, ev)
					}
				}
			}
			items, err := e.ev.List(ctx, e.inc.Number)
			if err != nil || len(items) != 2 {
				t.Fatalf("%s list: %v", name, err)
			}
			for _, got := range items {
				if got.ID == it.ID && (!got.Withheld || got.Description != "" || got.FileName != "" || got.Privilege == nil) {
					t.Fatalf("%s sees the privileged item: %+v", name, got)
				}
				if got.ID == other.ID && (got.Withheld || got.Description != "Badge log") {
					t.Fatalf("%s: the other item: %+v", name, got)
				}
			}
			got, custody, err := e.ev.Get(ctx, e.inc.Number, it.ID)
			if err != nil || !got.Withheld || got.Description != "" || custody[0].Custodian != "" {
				t.Fatalf("%s get: %+v %+v %v", name, got, custody, err)
			}
			if _, _, err := e.ev.Download(ctx, e.inc.Number, it.ID); apperr.CodeOf(err) != apperr.Forbidden ||
				!strings.Contains(err.Error(), "held by carol") {
				t.Fatalf("%s download: %v", name, err)
			}
			if _, err := e.ev.PrepareExport(ctx, e.inc.Number, true); apperr.CodeOf(err) != apperr.Forbidden {
				t.Fatalf("%s asks for privileged items: %v", name, err)
			}
		}
		if _, err := e.ev.RecordCustody(responder, e.inc.Number, it.ID, evidence.CustodyInput{Action: evidence.Copied,
			Reason: "for the lab"}); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("a responder records custody of the privileged item: %v", err)
		}
		if _, err := e.ev.PlaceHold(officer, e.inc.Number, it.ID, "litigation"); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("the Security Officer holds the privileged item: %v", err)
		}
		if got, err := e.ev.Verify(responder, e.inc.Number, it.ID); err != nil || !got.Withheld || got.Description != "" {
			t.Fatalf("a responder verifies the privileged item: %+v %v", got, err)
		}
		if n := e.count(t, `SELECT count(*) FROM audit_log WHERE action = 'privileged.read'`); n != 0 {
			t.Fatalf("%d privileged reads before counsel read anything", n)
		}

		x, err := e.ev.PrepareExport(auditor, e.inc.Number, false)
		if err != nil || x.Items() != 1 || x.LeftOut() != 1 {
			t.Fatalf("export: %v", err)
		}
		var buf bytes.Buffer
		if _, err := x.WriteArchive(&buf); err != nil {
			t.Fatal(err)
		}
		archive := buf.Bytes()
		if v := report.VerifyArchive(bytes.NewReader(archive), int64(len(archive))); !v.Valid {
			t.Fatalf("export verification: %+v", v)
		}
		if bytes.Contains(archive, []byte("Jane Canary")) || bytes.Contains(archive, []byte(it.ID+"/content")) {
			t.Fatal("the export holds the privileged item")
		}
		var left struct {
			LeftOut int `json:"left_out"`
			Items   []struct {
				ID     string `json:"id"`
				HeldBy string `json:"held_by"`
			} `json:"items"`
		}
		if err := json.Unmarshal(archiveFile(t, archive, "evidence/privileged-left-out.json"), &left); err != nil || left.LeftOut != 1 ||
			left.Items[0].ID != it.ID || left.Items[0].HeldBy != "carol" {
			t.Fatalf("left out: %+v %v", left, err)
		}

		tl, err := e.incs.Timeline(counsel, e.inc.Number, incident.EventNote, 0, 0)
		if err != nil || tl[0].Note != note.Note || tl[0].Privilege == nil {
			t.Fatalf("counsel timeline: %+v %v", tl, err)
		}
		_, r, err := e.ev.Download(privacy, e.inc.Number, it.ID)
		if err != nil {
			t.Fatal(err)
		}
		if body, err := io.ReadAll(r); err != nil || !bytes.Equal(body, content) {
			t.Fatalf("privacy officer download: %q %v", body, err)
		}
		x, err = e.ev.PrepareExport(counsel, e.inc.Number, true)
		if err != nil || x.Items() != 2 || x.LeftOut() != 0 {
			t.Fatalf("counsel export: %v", err)
		}
		if n := e.count(t, `SELECT count(*) FROM audit_log WHERE action = 'privileged.read'`); n != 3 {
			t.Fatalf("%d privileged reads audited, want 3 (note, download, export)", n)
		}
		evs, err := e.incs.Timeline(officer, e.inc.Number, incident.EventPrivilege, 0, 0)
		if err != nil || len(evs) != 2 || evs[0].Actor != "user:carol" {
			t.Fatalf("privilege on the timeline: %+v %v", evs, err)
		}
		if n := e.count(t, `SELECT count(*) FROM audit_log WHERE action = 'incident.privilege.mark'`); n != 2 {
			t.Fatalf("%d marks audited", n)
		}

		if p, err := e.incs.SetPrivileged(counsel, e.inc.Number, incident.PrivilegeInput{Kind: incident.PrivilegedNote,
			ObjectID: note.ID}); err != nil || p != nil {
			t.Fatalf("unmark: %+v %v", p, err)
		}
		tl, err = e.incs.Timeline(responder, e.inc.Number, incident.EventNote, 0, 0)
		if err != nil || tl[0].Note != note.Note || tl[0].Privilege != nil {
			t.Fatalf("after unmarking: %+v %v", tl, err)
		}
	})
}
