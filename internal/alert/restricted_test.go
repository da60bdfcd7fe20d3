package alert_test

import (
	"context"
	"testing"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// TestAlertsOfRestrictedIncidents: the alerts of a restricted incident are
// as hidden as the incident, from the list and from a direct read.
func TestAlertsOfRestrictedIncidents(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		_, ig := e.service("ehr", false, alert.GroupByAlert)
		r := e.ingest(ig, trig("k1", "bulk export"), trig("k2", "disk full"))
		if len(r.Opened) != 2 {
			t.Fatalf("opened %v", r.Opened)
		}
		officer := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, ID: "o", Name: "so", Role: authz.RoleSecurityOfficer})
		responder := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, ID: "r", Name: "r", Role: authz.RoleResponder})
		restricted := true
		if _, err := e.incidents.Update(officer, r.Opened[0], incident.UpdateInput{Restricted: &restricted}); err != nil {
			t.Fatal(err)
		}
		all, err := e.in.Alerts(officer, alert.Filter{})
		if err != nil || len(all) != 2 {
			t.Fatalf("officer lists %d alerts (%v), want 2", len(all), err)
		}
		var hidden, shown alert.Alert
		for _, a := range all {
			if a.IncidentNumber == r.Opened[0] {
				hidden = a
			} else {
				shown = a
			}
		}
		got, err := e.in.Alerts(responder, alert.Filter{})
		if err != nil || len(got) != 1 || got[0].ID != shown.ID {
			t.Fatalf("responder lists %+v (%v), want only %s", got, err, shown.ID)
		}
		if got, err = e.in.Alerts(responder, alert.Filter{Incident: r.Opened[0]}); err != nil || len(got) != 0 {
			t.Fatalf("responder lists the restricted incident's alerts: %+v (%v)", got, err)
		}
		if _, _, err := e.in.Alert(responder, hidden.ID); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("responder reads the hidden alert: %v", err)
		}
		if a, _, err := e.in.Alert(officer, hidden.ID); err != nil || a.ID != hidden.ID {
			t.Fatalf("officer reads %+v (%v)", a, err)
		}
		if a, _, err := e.in.Alert(responder, shown.ID); err != nil || a.ID != shown.ID {
			t.Fatalf("responder reads %+v (%v)", a, err)
		}
		// A token with an emergency grant sees them again.
		if _, err := e.incidents.BreakGlass(responder, r.Opened[0], "bulk export in progress, need to see it"); err != nil {
			t.Fatal(err)
		}
		if got, err = e.in.Alerts(responder, alert.Filter{}); err != nil || len(got) != 2 {
			t.Fatalf("grant holder lists %d alerts (%v), want 2", len(got), err)
		}
	})
}
