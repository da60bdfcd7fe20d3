package incident_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// TestCommanderAndOwnerAreUsers: a commander or task owner that is not the
// username of an active Ward user is refused on every write, naming the
// field and not repeating the value, and nothing is written; a user's
// username and empty are taken.
const canary = "PHI-CANARY patient Jane Roe MRN 0042"

func TestCommanderAndOwnerAreUsers(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.addUser("dana", authz.RoleResponder)
		e.addUser("gone", authz.RoleResponder)
		if _, err := d.W.ExecContext(context.Background(), "UPDATE users SET disabled = true WHERE username = 'gone'"); err != nil {
			t.Fatal(err)
		}
		inc := e.create("Misdirected fax")
		task, err := e.svc.CreateTask(e.ctx, inc.ID, incident.TaskInput{Title: "Call"})
		if err != nil {
			t.Fatal(err)
		}
		before := e.counts()
		for _, name := range []string{"Dr Jane Roe " + canary, "Dana", "gone", "dana "} {
			_, err := e.svc.Create(e.ctx, incident.CreateInput{Title: "t", Commander: name})
			wantField(t, err, "commander")
			if strings.Contains(err.Error(), name) {
				t.Errorf("the refusal repeats the value: %v", err)
			}
			_, err = e.svc.Update(e.ctx, inc.ID, incident.UpdateInput{Commander: &name})
			wantField(t, err, "commander")
			_, err = e.svc.CreateTask(e.ctx, inc.ID, incident.TaskInput{Title: "t", Owner: name})
			wantField(t, err, "owner")
			_, err = e.svc.UpdateTask(e.ctx, inc.ID, task.ID, incident.TaskUpdate{Owner: &name})
			wantField(t, err, "owner")
		}
		e.expectWrites(before, nil)
		if _, err := e.svc.Update(e.ctx, inc.ID, incident.UpdateInput{Commander: ptr("dana")}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.UpdateTask(e.ctx, inc.ID, task.ID, incident.TaskUpdate{Owner: ptr("dana")}); err != nil {
			t.Fatal(err)
		}
		// A user disabled since may stay commander while other fields change.
		if _, err := d.W.ExecContext(context.Background(), "UPDATE users SET disabled = true WHERE username = 'dana'"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Update(e.ctx, inc.ID, incident.UpdateInput{Severity: ptr(incident.Sev1)}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Update(e.ctx, inc.ID, incident.UpdateInput{Commander: ptr("")}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestMoveUnknownNames: commanders, task owners and timeline changes an
// older Ward stored as free text are cleared and said, sealed, in a
// timeline note, audited; users' usernames are left; a second run does
// nothing.
func TestMoveUnknownNames(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.addUser("dana", authz.RoleResponder)
		inc := e.create("Misdirected fax")
		kept, err := e.svc.Create(e.ctx, incident.CreateInput{Title: "Phishing", Commander: "dana"})
		if err != nil {
			t.Fatal(err)
		}
		task, err := e.svc.CreateTask(e.ctx, inc.ID, incident.TaskInput{Title: "Call the pharmacy", Owner: "dana"})
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{
			"UPDATE incidents SET commander = 'Dr " + canary + "' WHERE id = '" + inc.ID + "'",
			"UPDATE incident_tasks SET owner = 'Nurse " + canary + "' WHERE id = '" + task.ID + "'",
			`UPDATE incident_events SET changes = '[{"field":"owner","new":"Nurse ` + canary + `"}]' WHERE kind = 'task_created'`,
		} {
			if _, err := d.W.ExecContext(context.Background(), q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		e.clk.Advance(1)
		before := e.counts()
		n, err := e.svc.MoveUnknownNames(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("MoveUnknownNames = %d, %v; want 1", n, err)
		}
		e.expectWrites(before, counts{"incident_events": 1, "audit_log": 1, "counters": 1})
		var action, object, actor string
		if err := d.R.QueryRowContext(context.Background(), "SELECT action, object_id, actor FROM audit_log ORDER BY seq DESC LIMIT 1").
			Scan(&action, &object, &actor); err != nil || action != "incident.names_moved" || object != inc.ID || actor != "system:ward" {
			t.Errorf("last audit entry = %s %s by %s (%v), want incident.names_moved %s by system:ward", action, object, actor, err, inc.ID)
		}
		for _, q := range []string{"SELECT commander FROM incidents", "SELECT owner FROM incident_tasks",
			"SELECT changes FROM incident_events", "SELECT note FROM incident_events"} {
			rows, err := d.R.QueryContext(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var v string
				if err := rows.Scan(&v); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(v, "CANARY") {
					t.Errorf("%s holds %q", q, v)
				}
			}
			rows.Close()
		}
		if got := e.get(inc.ID); got.Commander != "" {
			t.Errorf("commander = %q, want it cleared", got.Commander)
		}
		if got := e.get(kept.ID); got.Commander != "dana" {
			t.Errorf("a user's username as commander = %q, want it kept", got.Commander)
		}
		evs := e.timeline(inc.ID)
		last := evs[len(evs)-1]
		for _, want := range []string{`"Dr ` + canary + `"`, `the task "Call the pharmacy": "Nurse ` + canary + `"`} {
			if !strings.Contains(last.Note, want) {
				t.Errorf("the note %q does not say %s", last.Note, want)
			}
		}
		for _, ev := range evs {
			if ev.Kind == incident.EventTaskCreated {
				if c := changeOf(t, ev, "owner"); !c.Redacted || c.New != nil {
					t.Errorf("the task's owner change = %+v, want it redacted", c)
				}
			}
		}
		before = e.counts()
		if n, err := e.svc.MoveUnknownNames(context.Background()); err != nil || n != 0 {
			t.Errorf("second run = %d, %v", n, err)
		}
		e.expectWrites(before, nil)
	})
}
