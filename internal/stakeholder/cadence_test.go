package stakeholder_test

import (
	"context"
	"io"
	"log/slog"
	"mime/quotedprintable"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/stakeholder"
)

// TestExternalCadenceUntilCustomerNoticeMet: a breach at a business
// associate with two covered-entity customers, each with a confirmed
// external subscriber. Once the incident is closed, each customer's
// audience stays on the cadence (the commander is reminded, the
// subscriber is told when the next update is due) until the notice owed
// to that customer is met; meeting North's stops North's cadence alone,
// and South's carries on until South's is met too.
func TestExternalCadenceUntilCustomerNoticeMet(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		mail := e.withMail(t, "Acme Billing")
		carol := e.person("carol", authz.RoleResponder)
		cases, err := breach.New(d, e.clk, e.incs, dbtest.Keyring(t, d, start), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		inc, err := e.incs.Create(e.admin, incident.CreateInput{Title: "Claims export exposed", Severity: incident.Sev2, Commander: "carol"})
		if err != nil {
			t.Fatal(err)
		}
		c, err := cases.Open(e.admin, inc.Number)
		if err != nil {
			t.Fatal(err)
		}
		parties := map[string]string{} // name: id
		var customers []rules.Customer
		for _, name := range []string{"North Clinic", "South Clinic"} {
			p, err := cases.CreateParty(e.admin, breach.PartyInput{Kind: breach.PartyCustomer, Name: name})
			if err != nil {
				t.Fatal(err)
			}
			parties[name] = p.ID
			customers = append(customers, rules.Customer{ID: p.ID})
		}
		f := c.Facts
		f.Role, f.Customers = rules.BusinessAssociate, customers
		if _, err := cases.SetFacts(e.admin, inc.Number, f); err != nil {
			t.Fatal(err)
		}
		for i, name := range []string{"North Clinic", "South Clinic"} {
			addr := strings.ToLower(strings.Fields(name)[0]) + "@clinic.example"
			ct, err := e.svc.CreateContact(e.admin, stakeholder.ContactInput{Name: "Security desk", Organisation: name, Email: addr,
				PartyID: parties[name]})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.SubscribeContact(e.admin, inc.Number, ct.ID, ""); err != nil {
				t.Fatal(err)
			}
			e.deliverExternal(t)
			_, kept := mail.snapshot()
			_, body, _ := strings.Cut(kept[i], "\r\n\r\n")
			b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.svc.UseExternalLink(ctx, confirmRE.FindStringSubmatch(string(b))[1]); err != nil {
				t.Fatal(err)
			}
		}
		north, south := stakeholder.AudienceCustomer+parties["North Clinic"], stakeholder.AudienceCustomer+parties["South Clinic"]
		for _, a := range []string{stakeholder.AudienceInternal, north, south} {
			if _, err := e.svc.PostUpdate(carol, inc.Number, stakeholder.UpdateInput{Body: "The export link was revoked.", Audience: a}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.incs.Transition(e.admin, inc.Number, incident.Move{To: incident.Closed, Resolution: incident.FalsePositive, Note: "x"}); err != nil {
			t.Fatal(err)
		}
		e.tick()
		e.box.take()
		// nextDue is when audience's next update is due, as its
		// subscriber's status page says; nil when its cadence has stopped.
		nextDue := func(audience string) *time.Time {
			t.Helper()
			st, err := e.svc.SLA(e.admin, inc.Number)
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range st.Audiences {
				if c.Audience == audience {
					return c.NextUpdateDueAt
				}
			}
			t.Fatalf("no audience %s in %+v", audience, st.Audiences)
			return nil
		}
		reminders := func() string {
			t.Helper()
			e.check()
			var got []string
			for _, m := range e.box.take() {
				if strings.Contains(m, "overdue for") {
					got = append(got, m[strings.Index(m, "overdue for")+len("overdue for "):])
				}
			}
			return join(got)
		}
		// Closed, both customers still owed their notice: both hear.
		if nextDue(north) == nil || nextDue(south) == nil {
			t.Fatal("a customer owed its notice has no next update due")
		}
		e.clk.Advance(241 * time.Minute) // sev2: an update every 240 minutes
		if got := reminders(); got != "Customer North Clinic | Customer South Clinic" {
			t.Fatalf("both customers owed notices: reminders for %q", got)
		}
		// North's contractual notice is made: North's cadence stops.
		if _, err := cases.MarkMet(e.admin, inc.Number, breach.Met{Key: "covered_entity:" + parties["North Clinic"],
			Reason: "notice emailed to North Clinic's privacy office"}); err != nil {
			t.Fatal(err)
		}
		if nextDue(north) != nil || nextDue(south) == nil {
			t.Fatalf("after North's notice: North next due %v, South %v", nextDue(north), nextDue(south))
		}
		e.clk.Advance(240 * time.Minute)
		if got := reminders(); got != "Customer South Clinic" {
			t.Fatalf("North's notice met: reminders for %q, want South's alone", got)
		}
		// South's too: South stops as well.
		if _, err := cases.MarkMet(e.admin, inc.Number, breach.Met{Key: "covered_entity:" + parties["South Clinic"],
			Reason: "notice emailed to South Clinic's privacy office"}); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(240 * time.Minute)
		if got := reminders(); got != "" || nextDue(south) != nil {
			t.Fatalf("every customer's notice met: reminders for %q, South next due %v", got, nextDue(south))
		}
	})
}
