package incident_test

import (
	"context"
	"testing"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// TestPrivilegedReview: counsel marks the post-incident review
// privileged; a responder and the auditor then get its sections and its
// key events withheld, with the mark and its holder, and the responder
// may not change it; counsel reads it, audited as a privileged read. A
// privileged note keeps its key event withheld once the review is
// unmarked, and a responder may not import it.
func TestPrivilegedReview(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		counsel := as(e.addUser("carol", authz.RoleCounsel))
		rita, aud := as(responder), as(auditor)
		inc := e.create("Workforce snooping")
		note, err := e.svc.AddNote(e.ctx, inc.ID, "Counsel: the chart of Jane Canary was opened")
		if err != nil {
			t.Fatal(err)
		}
		e.toPostIncident(inc.ID)
		if _, err := e.svc.UpdateReview(e.ctx, inc.ID, incident.ReviewInput{RootCause: ptr("Jane Canary's chart was shared")}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.ImportKeyEvents(e.ctx, inc.ID, incident.KeyEventImport{EventIDs: []string{note.ID}, Milestones: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SetPrivileged(rita, inc.ID, incident.PrivilegeInput{Kind: incident.PrivilegedReview, Privileged: true,
			HeldBy: "carol"}); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("a responder marks: %v", err)
		}
		p, err := e.svc.SetPrivileged(counsel, inc.ID, incident.PrivilegeInput{Kind: incident.PrivilegedReview, Privileged: true})
		if err != nil || p.HeldBy != "carol" || p.ObjectID != inc.ID {
			t.Fatalf("mark the review: %+v %v", p, err)
		}

		for name, ctx := range map[string]context.Context{"responder": rita, "auditor": aud} {
			r, err := e.svc.Review(ctx, inc.ID)
			if err != nil || !r.TextRedacted || r.RootCause != "" || r.Privilege == nil || r.Privilege.HeldBy != "carol" {
				t.Fatalf("%s review: %+v %v", name, r, err)
			}
			ks, err := e.svc.KeyEvents(ctx, inc.ID)
			if err != nil || len(ks) < 2 {
				t.Fatalf("%s key events: %+v %v", name, ks, err)
			}
			for _, k := range ks {
				if !k.TextRedacted || k.Text != "" || k.Privilege == nil {
					t.Fatalf("%s sees a key event of the privileged review: %+v", name, k)
				}
			}
		}
		_, err = e.svc.UpdateReview(rita, inc.ID, incident.ReviewInput{Lessons: ptr("lock charts")})
		wantCode(t, err, apperr.Forbidden)

		r, err := e.svc.Review(counsel, inc.ID)
		if err != nil || r.RootCause != "Jane Canary's chart was shared" || r.Privilege == nil {
			t.Fatalf("counsel's review: %+v %v", r, err)
		}
		var reads int
		if err := d.R.QueryRowContext(context.Background(), `SELECT count(*) FROM audit_log WHERE action = 'privileged.read'`).
			Scan(&reads); err != nil || reads != 1 {
			t.Fatalf("%d privileged reads audited: %v", reads, err)
		}

		if _, err := e.svc.SetPrivileged(counsel, inc.ID, incident.PrivilegeInput{Kind: incident.PrivilegedNote, ObjectID: note.ID,
			Privileged: true}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SetPrivileged(counsel, inc.ID, incident.PrivilegeInput{Kind: incident.PrivilegedReview}); err != nil {
			t.Fatal(err)
		}
		ks, err := e.svc.KeyEvents(rita, inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range ks {
			if privileged := k.EventID == note.ID; privileged != k.TextRedacted || privileged != (k.Privilege != nil) {
				t.Fatalf("key event %s after unmarking the review: %+v", k.Label, k)
			}
		}
		if r, err := e.svc.Review(rita, inc.ID); err != nil || r.RootCause == "" || r.Privilege != nil {
			t.Fatalf("the unmarked review: %+v %v", r, err)
		}
		_, err = e.svc.ImportKeyEvents(rita, inc.ID, incident.KeyEventImport{EventIDs: []string{note.ID}})
		wantField(t, err, "event_ids")
	})
}

// TestPrivilegedNoteByCounsel: counsel, who may not write a plain note,
// adds a note privileged from the start: responders see that it exists
// and who holds it, never its text; counsel and the Privacy Officer read
// it; the note and its mark are audited together. Nobody else may add
// one, and bad input (an empty note, a holder who may not see privileged
// content) writes nothing.
func TestPrivilegedNoteByCounsel(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		counsel := as(e.addUser("carol", authz.RoleCounsel))
		po := as(e.addUser("pat", authz.RolePrivacyOfficer))
		e.addUser("rita", authz.RoleResponder)
		rita := as(responder)
		inc := e.create("Workforce snooping")
		audited := func(action string) int {
			t.Helper()
			var n int
			if err := d.R.QueryRowContext(context.Background(), `SELECT count(*) FROM audit_log WHERE action = $1 AND object_id = $2`,
				action, inc.ID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}

		_, err := e.svc.AddNote(counsel, inc.ID, "a plain note")
		wantCode(t, err, apperr.Forbidden)
		_, err = e.svc.AddPrivilegedNote(rita, inc.ID, "a responder's privileged note", "")
		wantCode(t, err, apperr.Forbidden)
		_, err = e.svc.AddPrivilegedNote(counsel, inc.ID, "", "")
		wantField(t, err, "body")
		_, err = e.svc.AddPrivilegedNote(counsel, inc.ID, "Advice on notice", "rita")
		wantField(t, err, "held_by")
		if n := audited("incident.note"); n != 0 {
			t.Fatalf("%d notes audited after refused notes, want 0", n)
		}

		ev, err := e.svc.AddPrivilegedNote(counsel, inc.ID, "Advice: notify Jane Canary by letter", "")
		if err != nil || ev.Privilege == nil || ev.Privilege.HeldBy != "carol" {
			t.Fatalf("counsel's privileged note: %+v %v", ev, err)
		}
		if audited("incident.note") != 1 || audited("incident.privilege.mark") != 1 {
			t.Fatalf("audited: %d notes, %d marks; want 1 and 1", audited("incident.note"), audited("incident.privilege.mark"))
		}
		for name, c := range map[string]struct {
			ctx  context.Context
			sees bool
		}{"responder": {rita, false}, "counsel": {counsel, true}, "privacy officer": {po, true}} {
			tl, err := e.svc.Timeline(c.ctx, inc.ID, incident.EventNote, 0, 10)
			if err != nil || len(tl) != 1 || tl[0].Privilege == nil || tl[0].Privilege.HeldBy != "carol" {
				t.Fatalf("%s timeline: %+v %v", name, tl, err)
			}
			if got := tl[0].Note == "Advice: notify Jane Canary by letter"; got != c.sees || tl[0].NoteRedacted == c.sees {
				t.Fatalf("%s sees the note: %v (%q), want %v", name, got, tl[0].Note, c.sees)
			}
		}
		// The Privacy Officer names counsel as the holder.
		ev, err = e.svc.AddPrivilegedNote(po, inc.ID, "Draft of the notice letter", "carol")
		if err != nil || ev.Privilege == nil || ev.Privilege.HeldBy != "carol" || ev.Privilege.MarkedBy != "user:pat" {
			t.Fatalf("the Privacy Officer's privileged note: %+v %v", ev.Privilege, err)
		}
	})
}
