package stakeholder_test

import (
	"context"
	"maps"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/notify"
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

// TestAudienceMigration: migration 0047 gives each external subscriber
// the audience of the customer its contact speaks for, and the public
// audience to one who speaks for none or for a business associate. The
// migration's own statement is run again over subscriptions set back to
// the column's default.
func TestAudienceMigration(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.svc.SetMail(stakeholder.MailOptions{Email: &notify.Email{}, BaseURL: "https://ward.test",
			Organisation: func(context.Context) (string, error) { return "Acme Billing", nil }})
		ctx := context.Background()
		for _, p := range [][2]string{{"p-north", "customer"}, {"p-shred", "business_associate"}} {
			if _, err := d.W.ExecContext(ctx, `INSERT INTO breach_parties (id, kind, name, agreement, notice_amount, notice_unit,
				notice_business, contact_name, contact_email, contact_address, notice_channel, notice_contents, notice_checklist,
				created_at, updated_at) VALUES ($1, $2, $1, 'BAA', 0, '', false, '', '', '', 'email', '', '[]', $3, $3)`, p[0], p[1], start); err != nil {
				t.Fatal(err)
			}
		}
		inc, err := e.incs.Create(e.admin, incident.CreateInput{Title: "Export exposed", Severity: incident.Sev2})
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{}
		for i, party := range []string{"p-north", "p-shred", ""} {
			c, err := e.svc.CreateContact(e.admin, stakeholder.ContactInput{Name: "Contact " + party, Organisation: "Org",
				Email: "c" + strconv.Itoa(i) + "@example.org", PartyID: party})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.SubscribeContact(e.admin, inc.Number, c.ID, ""); err != nil {
				t.Fatal(err)
			}
			want[c.ID] = stakeholder.AudiencePublic
			if party == "p-north" {
				want[c.ID] = stakeholder.AudienceCustomer + party
			}
		}
		if _, err := d.W.ExecContext(ctx, `UPDATE external_subscriptions SET audience = 'public'`); err != nil {
			t.Fatal(err)
		}
		ms, err := db.Migrations(d.Dialect)
		if err != nil {
			t.Fatal(err)
		}
		var stmt string
		for _, m := range ms {
			if strings.HasSuffix(m.Name, "_update_audiences.sql") {
				_, rest, _ := strings.Cut(m.SQL, "UPDATE external_subscriptions")
				stmt, _, _ = strings.Cut(rest, ";")
			}
		}
		if stmt == "" {
			t.Fatal("no UPDATE external_subscriptions in the audiences migration")
		}
		if _, err := d.W.ExecContext(ctx, "UPDATE external_subscriptions"+stmt); err != nil {
			t.Fatal(err)
		}
		rows, err := d.R.QueryContext(ctx, `SELECT contact_id, audience FROM external_subscriptions`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		got := map[string]string{}
		for rows.Next() {
			var c, a string
			if err := rows.Scan(&c, &a); err != nil {
				t.Fatal(err)
			}
			got[c] = a
		}
		if len(got) != 3 || !maps.Equal(got, want) {
			t.Fatalf("the audiences after the migration: %v, want %v", got, want)
		}
	})
}
