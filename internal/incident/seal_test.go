package incident_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
)

// phi is fake PHI that a title, a task or a reason may hold by mistake.
const phi = "Zebediah Quillfeather SSN 078-05-1120"

// rawText returns every text value of the given columns of table, as
// stored, joined: what a copy of the database shows.
func rawText(t *testing.T, d *db.DB, table string, cols ...string) string {
	t.Helper()
	rows, err := d.R.Query("SELECT " + strings.Join(cols, " || ' ' || ") + " FROM " + table)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var all []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		all = append(all, s)
	}
	return strings.Join(all, "\n")
}

var stakeholder = authz.Actor{Kind: authz.KindToken, ID: "s", Name: "viewer", Role: authz.RoleStakeholder}

// TestTitleSealed: an incident's title reaches the database sealed (bound
// to its row), its timeline records only that it changed, its blind index
// holds no word of it; a role that may read PHI gets it (the read
// audited) and finds the incident by any word of it; a stakeholder gets
// the number-and-severity line and finds incidents by number only.
func TestTitleSealed(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		inc := e.create("Lab results for " + phi)
		if _, err := e.svc.Update(e.ctx, inc.ID, incident.UpdateInput{Title: ptr("Fax for " + phi + " misdirected")}); err != nil {
			t.Fatal(err)
		}
		for _, where := range []string{
			rawText(t, d, "incidents", "title"), rawText(t, d, "incident_events", "changes"),
			rawText(t, d, "incident_title_tokens", "token"),
		} {
			if strings.Contains(where, "Quillfeather") || strings.Contains(strings.ToLower(where), "quillfeather") {
				t.Fatalf("the title in plaintext in the database: %s", where)
			}
		}
		var stored string
		if err := d.R.QueryRow("SELECT title FROM incidents WHERE id = $1", inc.ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if !keys.Sealed(stored) {
			t.Fatalf("stored title %q is not sealed", stored)
		}
		if _, err := e.keys.Open(stored, "incidents", "title", "another-row"); err == nil {
			t.Fatal("a sealed title opened for another row")
		}

		want := "Fax for " + phi + " misdirected"
		var indexed int
		if err := d.R.QueryRow("SELECT count(*) FROM incident_title_tokens WHERE incident_id = $1", inc.ID).Scan(&indexed); err != nil ||
			indexed != len(keys.Words(want)) {
			t.Errorf("%d index rows for the renamed title, want one per word of it: %d (%v)", indexed, len(keys.Words(want)), err)
		}
		for _, q := range []string{"quillfeather", "FAX misdirected", "078", "inc-2026-0001", "INC-2026-0001"} {
			p, err := e.svc.List(e.ctx, incident.Filter{Text: q})
			if err != nil || len(p.Items) != 1 || p.Items[0].Title != want {
				t.Errorf("responder searching %q: %+v %v", q, p.Items, err)
			}
		}
		for _, q := range []string{"lab", "quill", "fax laptop"} {
			if p, err := e.svc.List(e.ctx, incident.Filter{Text: q}); err != nil || len(p.Items) != 0 {
				t.Errorf("searching %q (an old title's word, part of a word, a word not in it) found %+v %v", q, p.Items, err)
			}
		}
		var reads int
		if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'incident.phi_read' AND object_id = $1`,
			inc.ID).Scan(&reads); err != nil || reads != 5 {
			t.Errorf("%d title reads audited, want 5 (%v)", reads, err)
		}

		stake := authz.WithActor(context.Background(), stakeholder)
		safe := "INC-2026-0001: sev3 incident"
		if got, err := e.svc.Get(stake, inc.ID); err != nil || got.Title != safe || !got.PHIRedacted {
			t.Errorf("stakeholder gets %q (redacted %v, %v)", got.Title, got.PHIRedacted, err)
		}
		if p, err := e.svc.List(stake, incident.Filter{Text: "Quillfeather"}); err != nil || len(p.Items) != 0 {
			t.Errorf("stakeholder finds by a title's word: %+v %v", p.Items, err)
		}
		if p, err := e.svc.List(stake, incident.Filter{Text: "inc-2026-0001"}); err != nil || len(p.Items) != 1 ||
			p.Items[0].Title != safe {
			t.Errorf("stakeholder searching the number: %+v %v", p.Items, err)
		}
		tl, err := e.svc.Timeline(stake, inc.ID, incident.EventEdit, 0, 0)
		if err != nil || len(tl) != 1 || tl[0].Changes[0].Field != "title" || !tl[0].Changes[0].Redacted {
			t.Errorf("stakeholder timeline %+v %v", tl, err)
		}
		e.verifyAudit()
	})
}

// TestIndexTitles: titles written in plaintext before titles were sealed
// (and never indexed) are sealed and indexed by IndexTitles, which Ward
// runs at start; a second run finds nothing to do; a title already sealed
// but not indexed (sealed by `ward keys rotate`) is indexed as it is.
func TestIndexTitles(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		old := e.create("placeholder")
		rotated := e.create("Rotated title for " + phi)
		kept := e.create("Written after the upgrade")
		// The rows as an older Ward left them: plaintext, unindexed.
		if _, err := d.W.Exec(`UPDATE incidents SET title = $1, search_version = 0 WHERE id = $2`,
			"Old title about "+phi, old.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := d.W.Exec(`UPDATE incidents SET search_version = 0 WHERE id = $1`, rotated.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := d.W.Exec(`DELETE FROM incident_title_tokens WHERE incident_id IN ($1, $2)`, old.ID, rotated.ID); err != nil {
			t.Fatal(err)
		}
		var before string
		if err := d.R.QueryRow("SELECT title FROM incidents WHERE id = $1", kept.ID).Scan(&before); err != nil {
			t.Fatal(err)
		}

		n, err := e.svc.IndexTitles(context.Background(), 1)
		if err != nil || n != 2 {
			t.Fatalf("IndexTitles = %d, %v; want 2", n, err)
		}
		if strings.Contains(rawText(t, d, "incidents", "title"), "Quillfeather") {
			t.Fatal("a title is still in plaintext")
		}
		var after string
		if err := d.R.QueryRow("SELECT title FROM incidents WHERE id = $1", kept.ID).Scan(&after); err != nil || after != before {
			t.Errorf("an indexed, sealed title was rewritten (%v)", err)
		}
		if got := e.get(old.ID).Title; got != "Old title about "+phi {
			t.Errorf("old title reads %q", got)
		}
		for q, want := range map[string]string{"old quillfeather": old.Number, "rotated": rotated.Number, "upgrade": kept.Number} {
			p, err := e.svc.List(e.ctx, incident.Filter{Text: q})
			if err != nil || !slices.Equal(numbers(p.Items), []string{want}) {
				t.Errorf("searching %q: %v %v, want %s", q, numbers(p.Items), err, want)
			}
		}
		if n, err := e.svc.IndexTitles(context.Background(), 1); err != nil || n != 0 {
			t.Errorf("second IndexTitles = %d, %v; want nothing to do", n, err)
		}
	})
}

// TestTaskTitleSealed: a task's title reaches the database sealed and
// the timeline records only that it was set or changed; a role that may
// read PHI gets it (the read audited), a stakeholder gets it withheld.
func TestTaskTitleSealed(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		inc := e.create("Misdirected fax")
		task, err := e.svc.CreateTask(e.ctx, inc.ID, incident.TaskInput{Title: "Call " + phi})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.UpdateTask(e.ctx, inc.ID, task.ID, incident.TaskUpdate{Title: ptr("Call back " + phi)}); err != nil {
			t.Fatal(err)
		}
		if raw := rawText(t, d, "incident_tasks", "title") + rawText(t, d, "incident_events", "changes"); strings.Contains(raw, "Quillfeather") {
			t.Fatalf("the task title in plaintext in the database: %s", raw)
		}
		ts, err := e.svc.Tasks(e.ctx, inc.ID)
		if err != nil || len(ts) != 1 || ts[0].Title != "Call back "+phi || ts[0].TitleRedacted {
			t.Fatalf("responder's tasks %+v %v", ts, err)
		}
		var reads int
		if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'incident.phi_read' AND object_id = $1`,
			inc.ID).Scan(&reads); err != nil || reads != 1 {
			t.Errorf("task title read not audited (%d, %v)", reads, err)
		}
		ts, err = e.svc.Tasks(authz.WithActor(context.Background(), stakeholder), inc.ID)
		if err != nil || len(ts) != 1 || ts[0].Title != "" || !ts[0].TitleRedacted {
			t.Fatalf("stakeholder's tasks %+v %v", ts, err)
		}
	})
}

// TestBreakGlassReasonSealed: the reason given for emergency access is
// sealed on the grant and on the Security Officer's alert; the officer
// reads it (the read audited).
func TestBreakGlassReasonSealed(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		officer := as(e.addUser("officer", authz.RoleSecurityOfficer))
		resp := as(e.addUser("resp", authz.RoleResponder))
		inc, err := e.svc.Create(officer, incident.CreateInput{Title: "records snooping", Restricted: true})
		if err != nil {
			t.Fatal(err)
		}
		reason := "Need the chart of " + phi + " for the ransomware triage"
		if _, err := e.svc.BreakGlass(resp, inc.Number, reason); err != nil {
			t.Fatal(err)
		}
		if raw := rawText(t, d, "break_glass_grants", "reason") + rawText(t, d, "officer_alerts", "reason"); strings.Contains(raw, "Quillfeather") {
			t.Fatalf("the reason in plaintext in the database: %s", raw)
		}
		gs, err := e.svc.Grants(officer, inc.Number)
		if err != nil || len(gs) != 1 || gs[0].Reason != reason {
			t.Fatalf("grants %+v %v", gs, err)
		}
		alerts, err := e.svc.OfficerAlerts(officer, true)
		if err != nil || len(alerts) != 1 || alerts[0].Reason != reason {
			t.Fatalf("officer alerts %+v %v", alerts, err)
		}
		var reads int
		if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'incident.phi_read' AND object_id = $1`,
			inc.ID).Scan(&reads); err != nil || reads != 2 {
			t.Errorf("%d reason reads audited, want 2 (%v)", reads, err)
		}
	})
}
