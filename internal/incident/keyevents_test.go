package incident_test

import (
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// TestKeyEvents: a review's key events are imported from the incident's
// timeline (picked, or every milestone), each once, with its time and a
// plain-language label; notes and annotations are sealed, withheld from
// roles without PHI access and audited when read; every change is audited
// with a timeline entry; bad input is refused naming the field with
// nothing written; a complete review no longer changes.
func TestKeyEvents(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		inc := e.create("Lost laptop")
		note, err := e.svc.AddNote(e.ctx, inc.ID, "Called "+phi)
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.ImportKeyEvents(e.ctx, inc.ID, incident.KeyEventImport{Milestones: true})
		wantCode(t, err, apperr.Conflict) // before post_incident
		e.toPostIncident(inc.ID)

		other := e.create("Other")
		otherEv := e.timeline(other.ID)[0]
		before := e.counts()
		_, err = e.svc.ImportKeyEvents(e.ctx, inc.ID, incident.KeyEventImport{})
		wantField(t, err, "event_ids")
		_, err = e.svc.ImportKeyEvents(e.ctx, inc.ID, incident.KeyEventImport{EventIDs: []string{note.ID, "no-such-event"}})
		wantField(t, err, "event_ids")
		_, err = e.svc.ImportKeyEvents(e.ctx, inc.ID, incident.KeyEventImport{EventIDs: []string{otherEv.ID}})
		wantField(t, err, "event_ids")
		_, err = e.svc.ImportKeyEvents(as(auditor), inc.ID, incident.KeyEventImport{Milestones: true})
		wantCode(t, err, apperr.Forbidden)
		e.expectWrites(before, nil)
		if n := e.count("incident_review_events"); n != 0 {
			t.Fatalf("%d key events after refusals", n)
		}

		// The note, picked by hand.
		ks, err := e.svc.ImportKeyEvents(e.ctx, inc.ID, incident.KeyEventImport{EventIDs: []string{note.ID, note.ID}})
		if err != nil || len(ks) != 1 || ks[0].EventID != note.ID || ks[0].Text != "Called "+phi || ks[0].Label != "Note" ||
			!ks[0].At.Equal(note.At) || ks[0].CreatedBy != "token:tester" {
			t.Fatalf("import the note: %+v %v", ks, err)
		}
		lastChange := func(want string) {
			t.Helper()
			var a string
			if err := d.R.QueryRow(`SELECT action FROM audit_log WHERE action <> 'incident.phi_read' ORDER BY seq DESC LIMIT 1`).Scan(&a); err != nil || a != want {
				t.Errorf("last change audited: %q %v, want %q", a, err, want)
			}
		}
		lastChange("incident.review.key_events.import")

		// Every milestone: detection and five phase changes; the note is
		// not one, and is not imported twice.
		ks, err = e.svc.ImportKeyEvents(e.ctx, inc.ID, incident.KeyEventImport{Milestones: true, EventIDs: []string{note.ID}})
		if err != nil || len(ks) != 7 {
			t.Fatalf("import milestones: %d %v", len(ks), err)
		}
		var labels []string
		for _, k := range ks {
			labels = append(labels, k.Label)
		}
		want := []string{"Incident recorded (detection)", "Note", "Phase changed: Detected → Analysis",
			"Containment began (phase changed: Analysis → Containment)", "Phase changed: Containment → Eradication",
			"Phase changed: Eradication → Recovery", "Phase changed: Recovery → Post incident"}
		if strings.Join(labels, "|") != strings.Join(want, "|") {
			t.Errorf("labels\n%q\nwant\n%q", labels, want)
		}
		tl := e.timeline(inc.ID)
		last := tl[len(tl)-1]
		if last.Kind != incident.EventReview || changeOf(t, last, "key_events_imported").New != float64(6) {
			t.Errorf("timeline records %+v", last)
		}
		before = e.counts()
		if _, err := e.svc.ImportKeyEvents(e.ctx, inc.ID, incident.KeyEventImport{Milestones: true}); err != nil {
			t.Fatal(err)
		}
		e.expectWrites(before, nil)

		// Annotating.
		k := ks[1]
		before = e.counts()
		err = e.svc.AnnotateKeyEvent(e.ctx, inc.ID, k.ID, strings.Repeat("x", incident.MaxNote+1))
		wantField(t, err, "annotation")
		err = e.svc.AnnotateKeyEvent(e.ctx, inc.ID, "no-such", "x")
		wantCode(t, err, apperr.NotFound)
		err = e.svc.AnnotateKeyEvent(e.ctx, other.ID, k.ID, "x")
		wantCode(t, err, apperr.Conflict) // the other incident is not in post_incident
		e.expectWrites(before, nil)
		if err := e.svc.AnnotateKeyEvent(e.ctx, inc.ID, k.ID, "Should have paged "+phi); err != nil {
			t.Fatal(err)
		}
		lastChange("incident.review.key_events.annotate")
		e.expectWrites(before, counts{"incident_events": 1, "audit_log": 1})

		raw := rawText(t, d, "incident_review_events", "text", "annotation") + rawText(t, d, "incident_events", "changes")
		if strings.Contains(raw, "Quillfeather") {
			t.Fatalf("key event text in plaintext in the database: %s", raw)
		}

		// Reading: a responder sees the text, and the read is audited;
		// a stakeholder gets it withheld.
		reads := func() int {
			var n int
			if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'incident.phi_read' AND object_id = $1`,
				inc.ID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		r0 := reads()
		ks, err = e.svc.KeyEvents(as(responder), inc.ID)
		if err != nil || ks[1].Annotation != "Should have paged "+phi || ks[1].Text != "Called "+phi || ks[1].TextRedacted {
			t.Fatalf("responder's key events %+v %v", ks, err)
		}
		if n := reads(); n != r0+1 {
			t.Errorf("%d PHI reads recorded, want %d", n, r0+1)
		}
		ks, err = e.svc.KeyEvents(as(stakeholder), inc.ID)
		if err != nil || ks[1].Annotation != "" || ks[1].Text != "" || !ks[1].TextRedacted || ks[1].Label != "Note" {
			t.Fatalf("stakeholder's key events %+v %v", ks, err)
		}
		if n := reads(); n != r0+1 {
			t.Errorf("a stakeholder's read was recorded as a PHI read")
		}

		// Removing; the incident's timeline keeps the event.
		if err := e.svc.RemoveKeyEvent(e.ctx, inc.ID, ks[0].ID); err != nil {
			t.Fatal(err)
		}
		lastChange("incident.review.key_events.remove")
		if n := e.count("incident_review_events"); n != 6 {
			t.Errorf("%d key events after removing one, want 6", n)
		}

		// Complete: frozen.
		e.completeReview(inc.ID)
		before = e.counts()
		_, err = e.svc.ImportKeyEvents(e.ctx, inc.ID, incident.KeyEventImport{Milestones: true})
		wantCode(t, err, apperr.Conflict)
		err = e.svc.AnnotateKeyEvent(e.ctx, inc.ID, k.ID, "later")
		wantCode(t, err, apperr.Conflict)
		err = e.svc.RemoveKeyEvent(e.ctx, inc.ID, k.ID)
		wantCode(t, err, apperr.Conflict)
		e.expectWrites(before, nil)
		e.verifyAudit()
	})
}

// TestRecordReportRead: taking a report out of Ward is recorded as a PHI
// read of the incident at the clock's time; a role that may not see PHI
// is refused and nothing is recorded.
func TestRecordReportRead(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		inc := e.create("Lost laptop")
		reads := func() int {
			var n int
			if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'incident.phi_read' AND object_id = $1`,
				inc.ID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		r0 := reads()
		_, err := e.svc.RecordReportRead(as(stakeholder), inc.Number, "investigation_report:pdf")
		wantCode(t, err, apperr.Forbidden)
		if reads() != r0 {
			t.Fatal("a refused report read was recorded")
		}
		at, err := e.svc.RecordReportRead(as(responder), inc.Number, "investigation_report:pdf")
		if err != nil || !at.Equal(e.clk.Now()) {
			t.Fatalf("record: %v %v", at, err)
		}
		if reads() != r0+1 {
			t.Errorf("%d PHI reads, want %d", reads(), r0+1)
		}
		e.verifyAudit()
	})
}
