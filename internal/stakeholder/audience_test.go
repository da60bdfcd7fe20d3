package stakeholder_test

import (
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/stakeholder"
)

// TestUpdatesPerAudience: each group hears only of the updates written
// for its audience, and each delivery is recorded against its update; a
// bad audience is refused naming the field; the cadence is kept per
// audience, and an overdue audience reminds the commander once, naming
// it, while the internal audience keeps the reminder of before.
func TestUpdatesPerAudience(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.person("carol", authz.RoleResponder)
		e.person("exec", authz.RoleStakeholder)
		e.person("counsel", authz.RoleStakeholder)
		for _, g := range []stakeholder.GroupInput{{Name: "Board", Members: []string{"exec"}, ByRule: true, Audience: stakeholder.AudienceExecutives},
			{Name: "Outside counsel", Members: []string{"counsel"}, ByRule: true, Audience: stakeholder.AudienceCounsel}} {
			if _, err := e.svc.CreateGroup(e.admin, g); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.svc.CreateGroup(e.admin, stakeholder.GroupInput{Name: "Odd", Audience: "board"}); !isField(err, "audience") {
			t.Fatalf("a group with no such audience: %v", err)
		}
		inc, err := e.incs.Create(e.admin, incident.CreateInput{Title: "Lost laptop", Severity: incident.Sev2, Commander: "carol"})
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []string{"board", "customer:", "customer:nobody"} {
			if _, err := e.svc.PostUpdate(e.admin, inc.Number, stakeholder.UpdateInput{Body: "x", Audience: bad}); !isField(err, "audience") {
				t.Fatalf("audience %q: %v", bad, err)
			}
		}
		e.clk.Advance(10 * time.Minute)
		u, err := e.svc.PostUpdate(e.admin, inc.Number, stakeholder.UpdateInput{Body: "Board: the laptop was encrypted.",
			Audience: stakeholder.AudienceExecutives})
		if err != nil || u.Notified != 1 || u.AudienceLabel != "Executives" {
			t.Fatalf("the executives' update: %+v %v", u, err)
		}
		e.tick()
		if got := join(e.box.take()); got != "exec@example.org status_update "+inc.Number+" new status update" {
			t.Fatalf("the executives' update reached: %s", got)
		}
		e.clk.Advance(time.Minute)
		if _, err := e.svc.PostUpdate(e.admin, inc.Number, stakeholder.UpdateInput{Body: "Counsel: no PHI left the building.",
			Audience: stakeholder.AudienceCounsel}); err != nil {
			t.Fatal(err)
		}
		e.tick()
		if got := join(e.box.take()); got != "counsel@example.org status_update "+inc.Number+" new status update" {
			t.Fatalf("counsel's update reached: %s", got)
		}
		ds, err := e.svc.UpdateDeliveries(e.admin, inc.Number)
		if err != nil || len(ds[u.ID]) != 1 || ds[u.ID][0].Recipient != "exec" || ds[u.ID][0].Channel != "email" ||
			ds[u.ID][0].Status != "sent" || ds[u.ID][0].SentAt == nil || ds[u.ID][0].External {
			t.Fatalf("the executives' update's deliveries: %+v %v", ds, err)
		}

		// sev2: first update in 60 minutes, then every 240. The internal
		// audience has had none; the executives' and counsel's are due 240
		// minutes after theirs.
		st, err := e.svc.SLA(e.admin, inc.Number)
		if err != nil || len(st.Audiences) != 3 || st.Audiences[0].Audience != stakeholder.AudienceInternal ||
			st.LastUpdateAt != nil || !st.NextUpdateDueAt.Equal(start.Add(60*time.Minute)) {
			t.Fatalf("the cadences: %+v %v", st, err)
		}
		for _, c := range st.Audiences[1:] {
			if c.LastUpdateAt == nil || !c.NextUpdateDueAt.Equal(c.LastUpdateAt.Add(240*time.Minute)) {
				t.Fatalf("the cadence of %s: %+v", c.AudienceLabel, c)
			}
		}
		e.clk.Set(start.Add(61 * time.Minute))
		e.check()
		e.tick()
		if got := join(e.box.take()); !strings.Contains(got, "carol@example.org reminder "+inc.Number+" status update overdue") ||
			strings.Contains(got, "overdue for") {
			t.Fatalf("the internal audience's reminder: %s", got)
		}
		if _, err := e.svc.PostUpdate(e.admin, inc.Number, stakeholder.UpdateInput{Body: "Responders: imaging restored."}); err != nil {
			t.Fatal(err)
		}
		e.clk.Set(start.Add(10*time.Minute + 240*time.Minute + time.Second))
		e.check()
		e.tick()
		if got := join(e.box.take()); !strings.Contains(got, "status update overdue for Executives") || strings.Contains(got, "for Counsel") {
			t.Fatalf("the executives' reminder, alone: %s", got)
		}
		if n := e.check(); n != 0 {
			t.Fatalf("said again: %d", n)
		}
	})
}

func isField(err error, field string) bool {
	e, ok := apperr.As(err)
	return ok && len(e.Fields) > 0 && e.Fields[0].Field == field
}
