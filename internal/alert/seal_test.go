package alert_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

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

// toolFields is an alert whose every field a tool chooses holds PHI.
func toolFields(key string) alert.Event {
	return alert.Event{Action: alert.Trigger, DedupKey: "mrn-" + key + "-Quillfeather", GroupKey: "ward-Quillfeather",
		Summary: "HL7 rejected", Source: "pacs-Quillfeather", Component: "chart-Quillfeather", Group: "grp-Quillfeather",
		Class: "class-Quillfeather", Severity: alert.Error}
}

// TestToolFieldsSealed: an alert's dedup key, group key, source,
// component, group and class, and a maintenance window's reason, reach
// the database sealed (the dedup and group keys also as keyed hashes, by
// which dedup and grouping still work); a role that may read PHI gets
// them back (the read audited), a stakeholder gets them withheld.
func TestToolFieldsSealed(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		svc, ig := e.service("pacs", false, alert.GroupBySource)
		w, err := e.in.CreateWindow(e.ctx, svc.ID, start.Add(time.Hour), start.Add(2*time.Hour), "chart of Quillfeather")
		if err != nil {
			t.Fatal(err)
		}
		r := e.ingest(ig, toolFields("1"), toolFields("2"))
		if r.New != 2 || len(r.Opened) != 1 {
			t.Fatalf("two alerts of one tool group: %+v", r)
		}
		r = e.ingest(ig, toolFields("1"), alert.Event{Action: alert.Acknowledge, DedupKey: "mrn-2-Quillfeather"})
		if r.Deduplicated != 1 || r.Acknowledged != 1 {
			t.Fatalf("repeat and acknowledge by sealed dedup key: %+v", r)
		}
		for _, q := range []string{
			"SELECT dedup_key || dedup_hash || source || component || grp || class FROM alerts",
			"SELECT group_hash FROM alert_groups", "SELECT reason FROM maintenance_windows",
		} {
			rows, err := d.R.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var v string
				if err := rows.Scan(&v); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(v, "Quillfeather") {
					t.Errorf("%s: plaintext %q", q, v)
				}
			}
			rows.Close()
		}
		for _, c := range []keys.Column{keys.AlertDedupKey, keys.AlertSource, keys.AlertComponent,
			keys.AlertGroup, keys.AlertClass, keys.MaintenanceReason} {
			if v := e.scalarText("SELECT " + c.Name + " FROM " + c.Table + " LIMIT 1"); !keys.Sealed(v) {
				t.Errorf("%s stored as %q", c, v)
			}
		}

		as, err := e.in.Alerts(e.ctx, alert.Filter{})
		if err != nil || len(as) != 2 {
			t.Fatalf("alerts = %+v %v", as, err)
		}
		a := as[1]
		if a.DedupKey != "mrn-1-Quillfeather" || a.Source != "pacs-Quillfeather" || a.Component != "chart-Quillfeather" ||
			a.Group != "grp-Quillfeather" || a.Class != "class-Quillfeather" || a.FieldsRedacted || a.Count != 2 {
			t.Fatalf("alert read with PHI access: %+v", a)
		}
		if n := e.scalar("SELECT count(*) FROM audit_log WHERE action = 'alert.phi_read'"); n != 2 {
			t.Errorf("%d alert reads audited, want 2", n)
		}
		ws, err := e.in.Windows(e.ctx, svc.ID)
		if err != nil || len(ws) != 1 || ws[0].Reason != "chart of Quillfeather" || ws[0].ReasonRedacted || ws[0].ID != w.ID {
			t.Fatalf("windows = %+v %v", ws, err)
		}
		if n := e.scalar("SELECT count(*) FROM audit_log WHERE action = 'maintenance.phi_read'"); n != 1 {
			t.Errorf("%d window reads audited, want 1", n)
		}

		stake := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, ID: "s", Name: "v", Role: authz.RoleStakeholder})
		list, err := e.in.Alerts(stake, alert.Filter{})
		if err != nil || len(list) != 2 {
			t.Fatalf("stakeholder's alerts = %+v %v", list, err)
		}
		one, _, err := e.in.Alert(stake, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, got := range append(list, one) {
			if !got.FieldsRedacted || got.DedupKey+got.Source+got.Component+got.Group+got.Class != "" {
				t.Errorf("stakeholder's alert: %+v", got)
			}
		}
		ws, err = e.in.Windows(stake, svc.ID)
		if err != nil || len(ws) != 1 || ws[0].Reason != "" || !ws[0].ReasonRedacted {
			t.Fatalf("stakeholder's windows = %+v %v", ws, err)
		}
		if n := e.scalar("SELECT count(*) FROM audit_log WHERE action IN ('alert.phi_read', 'maintenance.phi_read')"); n != 3 {
			t.Errorf("withheld reads recorded as PHI reads: %d", n)
		}

		// Resolved by its sealed key, the alert ends; the group's incident
		// still gathers the next alert of the tool's group.
		r = e.ingest(ig, alert.Event{Action: alert.Resolve, DedupKey: "mrn-1-Quillfeather"}, toolFields("3"))
		if r.Resolved != 1 || r.New != 1 || len(r.Opened) != 0 {
			t.Fatalf("resolve and join: %+v", r)
		}
	})
}

// TestSealOldAlerts: alerts and alert groups written before migration 0028
// (fields in plaintext, no dedup hash, group keys in clear) are sealed and
// hashed by SealOldAlerts, which Ward runs at start; then a repeat of an old
// alert deduplicates into it, a new alert of an old group joins its
// incident, and a second run finds nothing to do.
func TestSealOldAlerts(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		svc, ig := e.service("pacs", false, alert.GroupBySource)
		e.ingest(ig, toolFields("1"), toolFields("2"))
		ids := []string{}
		for _, a := range mustAlerts(t, e) {
			ids = append(ids, a.ID)
		}
		for i, id := range ids {
			if _, err := d.W.Exec(`UPDATE alerts SET dedup_hash = NULL, dedup_key = $1,
				source = 'pacs-Quillfeather', component = '', grp = 'grp-Quillfeather', class = '' WHERE id = $2`,
				"old-"+strconv.Itoa(i)+"-Quillfeather", id); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := d.W.Exec(`UPDATE alert_groups SET group_hash = 'unhashed:group:ward-Quillfeather'`); err != nil {
			t.Fatal(err)
		}

		n, g, err := e.in.SealOldAlerts(context.Background(), 1)
		if err != nil || n != 2 || g != 1 {
			t.Fatalf("SealOldAlerts = %d, %d, %v", n, g, err)
		}
		if v := e.scalarText(`SELECT group_hash FROM alert_groups`); v != e.kr.LookupHash(keys.LookupGroupKey, svc.ID, "group:ward-Quillfeather") {
			t.Errorf("group stored as %q", v)
		}
		if n := e.scalar(`SELECT count(*) FROM alerts WHERE dedup_hash IS NULL OR source LIKE '%Quillfeather%'
			OR dedup_key LIKE '%Quillfeather%' OR grp LIKE '%Quillfeather%'`); n != 0 {
			t.Errorf("%d alerts left in plaintext", n)
		}
		r := e.ingest(ig, alert.Event{Action: alert.Trigger, DedupKey: "old-0-Quillfeather", Summary: "again", Source: "s",
			Severity: alert.Error}, toolFields("9"))
		if r.Deduplicated != 1 || r.New != 1 || len(r.Opened) != 0 {
			t.Fatalf("after sealing: %+v", r)
		}
		as := mustAlerts(t, e)
		old := 0
		for _, a := range as {
			if strings.HasPrefix(a.DedupKey, "old-") && a.Source == "pacs-Quillfeather" && a.Group == "grp-Quillfeather" {
				old++
			}
		}
		if len(as) != 3 || old != 2 {
			t.Fatalf("alerts after sealing: %+v", as)
		}
		if n, g, err := e.in.SealOldAlerts(context.Background(), 1); err != nil || n != 0 || g != 0 {
			t.Fatalf("second SealOldAlerts = %d, %d, %v", n, g, err)
		}
	})
}

func mustAlerts(t *testing.T, e *env) []alert.Alert {
	t.Helper()
	as, err := e.in.Alerts(e.ctx, alert.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	return as
}
