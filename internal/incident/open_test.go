package incident_test

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// TestOpen: the home page's counts cover every open incident however
// many there are (the dashboard counted only those it had listed, capped
// per phase), closed ones, drills (counted apart) and those the viewer may
// not see left out, and its list is the most severe first, oldest first within a severity.
func TestOpen(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		const n = 70
		for i := range n {
			sev := []incident.Severity{incident.Sev3, incident.Sev2, incident.Sev4, incident.Sev1}[i%4]
			inc, err := e.svc.Create(e.ctx, incident.CreateInput{Title: "Open incident", Severity: sev})
			if err != nil {
				t.Fatal(err)
			}
			if i%10 == 0 {
				if _, err := e.svc.Transition(e.ctx, inc.ID, incident.Move{To: incident.Analysis}); err != nil {
					t.Fatal(err)
				}
			}
			if i%10 == 5 {
				if _, err := e.svc.Transition(e.ctx, inc.ID, incident.Move{To: incident.Analysis}); err != nil {
					t.Fatal(err)
				}
				if _, err := e.svc.Transition(e.ctx, inc.ID, incident.Move{To: incident.Closed, Resolution: incident.FalsePositive,
					Note: "a test alarm"}); err != nil {
					t.Fatal(err)
				}
			}
			e.clk.Advance(time.Minute)
		}
		officer := as(e.addUser("officer", authz.RoleSecurityOfficer))
		if _, err := e.svc.Create(officer, incident.CreateInput{Title: "Need to know", Severity: incident.Sev1, Restricted: true}); err != nil {
			t.Fatal(err)
		}

		if _, err := e.svc.Create(officer, incident.CreateInput{Title: "Tabletop exercise", Severity: incident.Sev1, Drill: true}); err != nil {
			t.Fatal(err)
		}

		v, err := e.svc.Open(officer, 10)
		if err != nil {
			t.Fatal(err)
		}
		// The drill is counted apart, and neither in the counts nor listed.
		if v.Drills != 1 {
			t.Fatalf("%d open drills, want 1", v.Drills)
		}
		// 70 made, 7 closed, plus the restricted one the officer sees.
		if v.Total != 64 || v.ByStatus[incident.Detected] != 57 || v.ByStatus[incident.Analysis] != 7 || v.ByStatus[incident.Closed] != 0 {
			t.Fatalf("counts: total %d, by status %v", v.Total, v.ByStatus)
		}
		sum := 0
		for _, c := range v.BySeverity {
			sum += c
		}
		if sum != v.Total || v.BySeverity[incident.Sev1] != 15 {
			t.Fatalf("by severity %v, total %d", v.BySeverity, v.Total)
		}
		if len(v.Urgent) != 10 {
			t.Fatalf("%d listed, want the limit 10", len(v.Urgent))
		}
		for i, inc := range v.Urgent {
			if inc.Severity != incident.Sev1 || inc.Status == incident.Closed || inc.Title == "" || inc.Description != "" || inc.Drill {
				t.Fatalf("urgent %d: %+v", i, inc)
			}
			if i > 0 && inc.CreatedAt.Before(v.Urgent[i-1].CreatedAt) {
				t.Fatalf("urgent %d is older than the one before it", i)
			}
		}

		responder := as(e.addUser("responder", authz.RoleResponder))
		rv, err := e.svc.Open(responder, 100)
		if err != nil {
			t.Fatal(err)
		}
		if rv.Total != 63 || rv.BySeverity[incident.Sev1] != 14 || len(rv.Urgent) != 63 {
			t.Fatalf("a responder who may not see the restricted incident: total %d, sev1 %d, listed %d",
				rv.Total, rv.BySeverity[incident.Sev1], len(rv.Urgent))
		}
	})
}

// TestOpenCountsKept: the counts the triggers keep (migration 0051) match
// a count of the incidents themselves after every kind of change (open,
// move, change severity, restrict and lift it, close, delete as the
// retention purge does), and folding them keeps them exact while leaving
// one row per severity and phase.
func TestOpenCountsKept(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		officer := as(e.addUser("officer", authz.RoleSecurityOfficer))
		check := func(step string) {
			t.Helper()
			want := map[string]int{}
			rows, err := d.R.QueryContext(e.ctx, `SELECT severity, status, count(*) FROM incidents
				WHERE status <> 'closed' AND NOT restricted AND NOT drill GROUP BY severity, status`)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var sev, st string
				var n int
				if err := rows.Scan(&sev, &st, &n); err != nil {
					t.Fatal(err)
				}
				want[sev+" "+st] = n
			}
			rows.Close()
			// A stakeholder sees no restricted incident: Open's counts are
			// then the kept counts alone.
			v, err := e.svc.Open(as(e.addUser("viewer-"+strings.ReplaceAll(step, " ", "-"), authz.RoleStakeholder)), 1)
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for sev, n := range v.BySeverity {
				if n != 0 {
					got[string(sev)] = n
				}
			}
			wantSev := map[string]int{}
			for k, n := range want {
				wantSev[strings.Fields(k)[0]] += n
			}
			if !maps.Equal(got, wantSev) {
				t.Fatalf("%s: Open counts by severity %v, the incidents say %v", step, got, wantSev)
			}
			kept := map[string]int{}
			rows, err = d.R.QueryContext(e.ctx, "SELECT severity, status, n FROM incident_open_counts")
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var sev, st string
				var n int
				if err := rows.Scan(&sev, &st, &n); err != nil {
					t.Fatal(err)
				}
				kept[sev+" "+st] += n
			}
			rows.Close()
			maps.DeleteFunc(kept, func(_ string, n int) bool { return n == 0 })
			if !maps.Equal(kept, want) {
				t.Fatalf("%s: kept counts %v, the incidents say %v", step, kept, want)
			}
		}
		var made []incident.Incident
		for i := range 12 {
			inc, err := e.svc.Create(officer, incident.CreateInput{Title: "Counted", Severity: incident.Severities[i%4]})
			if err != nil {
				t.Fatal(err)
			}
			made = append(made, inc)
		}
		check("created")
		// Drills are not counted (migration 0066), as they open and move.
		for i := range 2 {
			drill, err := e.svc.Create(officer, incident.CreateInput{Title: "Tabletop", Severity: incident.Severities[i], Drill: true})
			if err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				if _, err := e.svc.Transition(officer, drill.ID, incident.Move{To: incident.Analysis}); err != nil {
					t.Fatal(err)
				}
			}
		}
		check("drills")
		for _, inc := range made[:4] {
			if _, err := e.svc.Transition(officer, inc.ID, incident.Move{To: incident.Analysis}); err != nil {
				t.Fatal(err)
			}
		}
		check("moved")
		sev1 := incident.Sev1
		if _, err := e.svc.Update(officer, made[5].ID, incident.UpdateInput{Severity: &sev1}); err != nil {
			t.Fatal(err)
		}
		title := "Counted, renamed"
		if _, err := e.svc.Update(officer, made[6].ID, incident.UpdateInput{Title: &title}); err != nil {
			t.Fatal(err)
		}
		check("severity changed")
		yes, no := true, false
		for _, inc := range made[7:9] {
			if _, err := e.svc.Update(officer, inc.ID, incident.UpdateInput{Restricted: &yes}); err != nil {
				t.Fatal(err)
			}
		}
		check("restricted")
		if _, err := e.svc.Update(officer, made[8].ID, incident.UpdateInput{Restricted: &no}); err != nil {
			t.Fatal(err)
		}
		check("restriction lifted")
		if err := e.svc.FoldOpenCounts(e.ctx); err != nil {
			t.Fatal(err)
		}
		check("folded")
		var rows, groups int
		if err := d.R.QueryRowContext(e.ctx, "SELECT count(*), count(DISTINCT severity || ' ' || status) FROM incident_open_counts").
			Scan(&rows, &groups); err != nil || rows != groups {
			t.Fatalf("after the fold: %d rows for %d groups, %v", rows, groups, err)
		}
		for _, inc := range made[:2] {
			if _, err := e.svc.Transition(officer, inc.ID, incident.Move{To: incident.Closed, Resolution: incident.FalsePositive,
				Note: "a test alarm"}); err != nil {
				t.Fatal(err)
			}
		}
		check("closed")
		if _, err := d.W.ExecContext(e.ctx, "DELETE FROM incident_title_tokens WHERE incident_id IN ($1, $2)", made[10].ID, made[11].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := d.W.ExecContext(e.ctx, "DELETE FROM incident_events WHERE incident_id IN ($1, $2)", made[10].ID, made[11].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := d.W.ExecContext(e.ctx, "DELETE FROM incidents WHERE id IN ($1, $2)", made[10].ID, made[11].ID); err != nil {
			t.Fatal(err)
		}
		check("deleted")
		if err := e.svc.FoldOpenCounts(e.ctx); err != nil {
			t.Fatal(err)
		}
		check("folded again")
		if d.Dialect != db.Postgres {
			return
		}
		// A change not yet committed while the fold runs is neither lost
		// nor counted twice.
		tx, err := d.W.BeginTx(e.ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(e.ctx, "UPDATE incidents SET severity = 'sev4' WHERE id = $1", made[3].ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Create(officer, incident.CreateInput{Title: "Counted meanwhile", Severity: incident.Sev2}); err != nil {
			t.Fatal(err)
		}
		if err := e.svc.FoldOpenCounts(e.ctx); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		check("folded beside a transaction")
	})
}
