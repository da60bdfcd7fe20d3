package alert_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/keys"
)

// TestSummarySealed: an alert's summary reaches the database sealed, on
// the trigger that opens it and on each repeat, and so does the title of
// the incident it opens; a role that may read PHI gets it (the read
// audited); a stakeholder gets a line naming the severity, service and
// incident, in the list and in the detail.
func TestSummarySealed(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		_, ig := e.service("lab-interface", true, alert.GroupByAlert)
		e.ingest(ig, trig("k1", "Result for Zebediah Quillfeather rejected"))
		e.ingest(ig, trig("k1", "Result for Zebediah Quillfeather rejected again"))
		stored := e.scalarText("SELECT summary FROM alerts") + e.scalarText("SELECT title FROM incidents")
		if strings.Contains(stored, "Quillfeather") {
			t.Fatalf("summary or title in plaintext: %s", stored)
		}
		for _, c := range []keys.Column{keys.AlertSummary, keys.IncidentTitle} {
			if v := e.scalarText("SELECT " + c.Name + " FROM " + c.Table); !keys.Sealed(v) {
				t.Errorf("%s stored as %q", c, v)
			}
		}

		as, err := e.in.Alerts(e.ctx, alert.Filter{})
		if err != nil || len(as) != 1 || as[0].Summary != "Result for Zebediah Quillfeather rejected again" || as[0].SummaryRedacted {
			t.Fatalf("alerts = %+v %v", as, err)
		}
		if n := e.scalar("SELECT count(*) FROM audit_log WHERE action = 'alert.phi_read' AND object_id = $1", as[0].ID); n != 1 {
			t.Errorf("%d summary reads audited, want 1", n)
		}

		stake := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, ID: "s", Name: "v", Role: authz.RoleStakeholder})
		want := "critical alert from lab-interface (INC-2026-0001)"
		list, err := e.in.Alerts(stake, alert.Filter{})
		if err != nil || len(list) != 1 || list[0].Summary != want || !list[0].SummaryRedacted {
			t.Fatalf("stakeholder's alerts = %+v %v", list, err)
		}
		one, redacted, err := e.in.Alert(stake, as[0].ID)
		if err != nil || one.Summary != want || !one.SummaryRedacted || !redacted || len(one.Details) != 0 {
			t.Fatalf("stakeholder's alert = %+v %v %v", one, redacted, err)
		}
		if n := e.scalar("SELECT count(*) FROM audit_log WHERE action = 'alert.phi_read'"); n != 1 {
			t.Errorf("withheld reads recorded as PHI reads: %d", n)
		}
		inc, err := e.incidents.Get(stake, as[0].IncidentID)
		if err != nil || inc.Title != "INC-2026-0001: sev1 incident on lab-interface" {
			t.Errorf("stakeholder's incident title %q %v", inc.Title, err)
		}
	})
}

// TestSealPlaintextSummaries: summaries written before summaries were
// sealed are sealed by keys.SealPlaintext, which Ward runs at start, and
// read as before.
func TestSealPlaintextSummaries(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		_, ig := e.service("api", false, alert.GroupByAlert)
		e.ingest(ig, trig("k1", "disk full"))
		if _, err := d.W.Exec("UPDATE alerts SET summary = 'disk full on the host of Zebediah'"); err != nil {
			t.Fatal(err)
		}
		n, err := dbtest.Keyring(t, d, start).SealPlaintext(context.Background(), keys.AlertSummary, 10, nil)
		if err != nil || n != 1 {
			t.Fatalf("SealPlaintext = %d, %v", n, err)
		}
		if v := e.scalarText("SELECT summary FROM alerts"); !keys.Sealed(v) {
			t.Fatalf("summary stored as %q", v)
		}
		as, err := e.in.Alerts(e.ctx, alert.Filter{})
		if err != nil || len(as) != 1 || as[0].Summary != "disk full on the host of Zebediah" {
			t.Fatalf("alerts = %+v %v", as, err)
		}
	})
}
