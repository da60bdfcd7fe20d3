package incident_test

import (
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// TestOpen: the home page's counts cover every open incident however
// many there are (the dashboard counted only those it had listed, capped
// per phase), closed ones and those the viewer may not see left out, and
// its list is the most severe first, oldest first within a severity.
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

		v, err := e.svc.Open(officer, 10)
		if err != nil {
			t.Fatal(err)
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
			if inc.Severity != incident.Sev1 || inc.Status == incident.Closed || inc.Title == "" || inc.Description != "" {
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
