package evidence_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/evidence"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/retention"
)

func wantCode(t *testing.T, err error, code apperr.Code, contains string) {
	t.Helper()
	if apperr.CodeOf(err) != code || !strings.Contains(err.Error(), contains) {
		t.Fatalf("want %s naming %q, got %v", code, contains, err)
	}
}

func heldIncident(rep retention.Report, id string) bool {
	return slices.ContainsFunc(rep.Held, func(it retention.Item) bool { return it.Type == retention.Incidents && it.ID == id })
}

// TestItemLegalHold: an officer puts one item on legal hold; a responder
// may not; while held the item cannot be destroyed and the purge keeps it
// and its incident past retention, reporting them held; the hold and its
// release are custody and audit entries; once released the item can be
// destroyed and the incident is purged.
func TestItemLegalHold(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, 0)
		it, err := e.ev.Add(responder, e.inc.Number, evidence.Upload{Description: "laptop image"}, strings.NewReader("disk"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.ev.PlaceHold(responder, e.inc.Number, it.ID, "litigation")
		wantCode(t, err, apperr.Forbidden, "")
		_, err = e.ev.PlaceHold(officer, e.inc.Number, it.ID, "  ")
		wantField(t, err, "reason")
		e.clk.Advance(time.Minute)
		held, err := e.ev.PlaceHold(officer, e.inc.Number, it.ID, "Doe v. Clinic, counsel's letter of 3 May")
		if err != nil {
			t.Fatal(err)
		}
		if held.HeldAt == nil || !held.HeldAt.Equal(e.clk.Now()) || held.HeldBy != "user:sam" ||
			held.HoldReason != "Doe v. Clinic, counsel's letter of 3 May" {
			t.Fatalf("held: %+v", held)
		}
		if e.count(t, `SELECT count(*) FROM evidence_items WHERE hold_reason LIKE '%Doe%'`) != 0 {
			t.Fatal("the hold's reason is stored in clear")
		}
		_, err = e.ev.PlaceHold(officer, e.inc.Number, it.ID, "again")
		wantCode(t, err, apperr.Conflict, "already on legal hold")
		_, err = e.ev.RecordCustody(officer, e.inc.Number, it.ID, evidence.CustodyInput{Action: evidence.Destroyed, Reason: "done"})
		wantCode(t, err, apperr.Conflict, "on legal hold since 4 May 2026 15:01 UTC, placed by sam")
		if e.count(t, `SELECT count(*) FROM evidence_chunks WHERE item_id = $1`, it.ID) == 0 {
			t.Fatal("the held item's content was deleted")
		}

		if _, err := e.incs.Transition(officer, e.inc.Number, incident.Move{To: incident.Closed, Resolution: incident.FalsePositive,
			Note: "closed"}); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(7 * 365 * 24 * time.Hour)
		admin := as(authz.RoleAdmin, "ada")
		rep, err := e.ret.Purge(admin, false)
		if err != nil {
			t.Fatal(err)
		}
		if !heldIncident(rep, e.inc.ID) || e.count(t, `SELECT count(*) FROM evidence_items WHERE id = $1`, it.ID) != 1 {
			t.Fatalf("the purge did not keep the held item's incident as held: %+v", rep)
		}

		_, err = e.ev.ReleaseHold(responder, e.inc.Number, it.ID, "case settled")
		wantCode(t, err, apperr.Forbidden, "")
		released, err := e.ev.ReleaseHold(officer, e.inc.Number, it.ID, "case settled")
		if err != nil || released.HeldAt != nil || released.HoldReason != "" {
			t.Fatalf("released: %+v %v", released, err)
		}
		_, err = e.ev.ReleaseHold(officer, e.inc.Number, it.ID, "twice")
		wantCode(t, err, apperr.Conflict, "not on legal hold")
		_, custody, err := e.ev.Get(officer, e.inc.Number, it.ID)
		if err != nil {
			t.Fatal(err)
		}
		var actions []string
		for _, c := range custody {
			actions = append(actions, string(c.Action))
		}
		if strings.Join(actions, " ") != "collected legal_hold_placed legal_hold_released" ||
			custody[1].Reason != "Doe v. Clinic, counsel's letter of 3 May" || custody[2].Reason != "case settled" ||
			custody[2].Actor != "user:sam" || custody[2].Custodian != "rita" {
			t.Fatalf("custody: %+v", custody)
		}
		if got := e.auditActions(t); !slices.Contains(got, "evidence.legal_hold") || !slices.Contains(got, "evidence.legal_hold_release") {
			t.Fatalf("audit: %v", got)
		}

		if _, err := e.ev.RecordCustody(officer, e.inc.Number, it.ID, evidence.CustodyInput{Action: evidence.Destroyed,
			Reason: "retention period over"}); err != nil {
			t.Fatal(err)
		}
		_, err = e.ev.PlaceHold(officer, e.inc.Number, it.ID, "too late")
		wantCode(t, err, apperr.Conflict, "destroyed")
		rep, err = e.ret.Purge(admin, false)
		if err != nil {
			t.Fatal(err)
		}
		if heldIncident(rep, e.inc.ID) || e.count(t, `SELECT count(*) FROM incidents WHERE id = $1`, e.inc.ID) != 0 || e.stored(t) != 0 {
			t.Fatalf("after release and destruction the incident was not purged: %+v", rep)
		}
		if res, err := audit.Verify(context.Background(), d.R); err != nil || !res.OK {
			t.Fatalf("chain: %+v %v", res, err)
		}
	})
}
