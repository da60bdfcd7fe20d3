package playbook_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/investigation"
	"github.com/wardhq/ward/internal/playbook"
)

// TestDrill: an officer starts a drill from a playbook; it is an incident
// marked as a drill (on the record and its timeline), audited,
// with the playbook's tasks; the playbook's breach case is not opened,
// nor can anyone open one, even once the drill is marked PHI-suspected;
// it is listed among drills and left out of real incidents and of the
// incident register; it closes with its review like any incident. A
// responder may not start one, and bad input writes nothing.
func TestDrill(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		cases, err := breach.New(d, e.clk, e.incs, dbtest.Keyring(t, d, start), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		e.pb.OpenCasesWith(func(ctx context.Context, tx *sql.Tx, id string) error {
			_, err := cases.OpenTx(ctx, tx, id)
			return err
		})
		so := as(officer)

		_, err = e.pb.StartDrill(as(responderA), drillInput("lost_device"))
		wantCode(t, err, apperr.Forbidden)
		_, err = e.pb.StartDrill(so, drillInput("no_such_playbook"))
		wantField(t, err, "playbook")
		_, err = e.pb.StartDrill(so, drillInput(""))
		wantField(t, err, "playbook")
		// CreateInput{Drill: true} needs drill:run too, whatever the path.
		_, err = e.incs.Create(as(responderA), incident.CreateInput{Title: "Fake drill", Drill: true})
		wantCode(t, err, apperr.Forbidden)
		if n := e.count(`SELECT count(*) FROM incidents`); n != 0 {
			t.Fatalf("%d incidents after refused drills, want 0", n)
		}

		realInc, err := e.incs.Create(so, incident.CreateInput{Title: "Badge reader down"})
		if err != nil {
			t.Fatal(err)
		}
		drill, err := e.pb.StartDrill(so, drillInput("lost_device"))
		if err != nil {
			t.Fatal(err)
		}
		if !drill.Drill || drill.Title != "Drill: Lost or stolen device" || drill.Category != incident.Loss {
			t.Fatalf("drill = %+v, want a drill titled after its playbook, category loss", drill)
		}
		got, err := e.incs.Get(so, drill.Number)
		if err != nil || !got.Drill {
			t.Fatalf("Get(drill) = %+v, %v; want Drill", got, err)
		}
		if n := e.count(`SELECT count(*) FROM incident_playbooks WHERE incident_id = $1 AND playbook = 'lost_device'`, drill.ID); n != 1 {
			t.Fatalf("lost_device applied %d times to the drill, want 1", n)
		}
		if n := e.count(`SELECT count(*) FROM incident_tasks WHERE incident_id = $1`, drill.ID); n == 0 {
			t.Fatal("the drill has no tasks, want the playbook's")
		}
		tl, err := e.incs.Timeline(so, drill.Number, incident.EventCreated, 0, 10)
		if err != nil || len(tl) != 1 || len(tl[0].Changes) == 0 || tl[0].Changes[0].Field != "drill" {
			t.Fatalf("created entry = %+v, %v; want it to record the drill", tl, err)
		}
		if n := e.count(`SELECT count(*) FROM audit_log WHERE action = 'incident.create' AND object_id = $1`, drill.ID); n != 1 {
			t.Fatalf("%d audit entries of the drill's creation, want 1", n)
		}

		// No breach case, by hand or by the PHI-suspected mark.
		_, err = cases.Open(so, drill.Number)
		wantCode(t, err, apperr.Conflict)
		if _, err := e.incs.Update(so, drill.Number, incident.UpdateInput{PHISuspected: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		if n := e.count(`SELECT count(*) FROM breach_cases WHERE incident_id = $1`, drill.ID); n != 0 {
			t.Fatalf("the drill has %d breach cases, want none", n)
		}

		// Listed among drills, left out of real incidents and the register.
		for _, tc := range []struct {
			drill bool
			want  string
		}{{true, drill.Number}, {false, realInc.Number}} {
			p, err := e.incs.List(so, incident.Filter{Drill: ptr(tc.drill)})
			if err != nil || len(p.Items) != 1 || p.Items[0].Number != tc.want {
				t.Fatalf("List(drill=%v) = %+v, %v; want only %s", tc.drill, p.Items, err, tc.want)
			}
		}
		csv, err := investigation.RegisterCSV(so, e.incs)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(csv), drill.Number) || !strings.Contains(string(csv), realInc.Number) {
			t.Fatalf("register = %s; want %s and not the drill %s", csv, realInc.Number, drill.Number)
		}

		// It closes with its review like any incident.
		if _, err := e.incs.Transition(so, drill.Number, incident.Move{To: incident.PostIncident, Note: "tabletop done",
			NotApplicable: []incident.Status{incident.Analysis, incident.Containment, incident.Eradication, incident.Recovery}}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.incs.UpdateReview(so, drill.Number, incident.ReviewInput{RootCause: ptr("exercise"),
			Lessons: ptr("the wipe step needs the MDM admin on call")}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.incs.CompleteReview(so, drill.Number); err != nil {
			t.Fatal(err)
		}
		closed, err := e.incs.Transition(so, drill.Number, incident.Move{To: incident.Closed, Resolution: incident.Resolved})
		if err != nil || !closed.Drill || closed.Status != incident.Closed {
			t.Fatalf("closing the drill = %+v, %v", closed, err)
		}
	})
}

func drillInput(key string) playbook.DrillInput { return playbook.DrillInput{Playbook: key} }
