package stakeholder_test

import (
	"context"
	"io"
	"log/slog"
	"mime/quotedprintable"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/stakeholder"
)

// TestSubscribeByRule: an external contact with a rule is subscribed to
// each incident the rule matches (severity; an affected customer, named
// by the incident or owed a notice by its breach case), as a group is,
// and asked by email to confirm; one without a rule only by hand; a drill
// subscribes nobody; a contact who unsubscribed stays unsubscribed; a bad
// rule is refused naming the field. A group's rule takes customers too.
func TestSubscribeByRule(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		mail := e.withMail(t, "Acme Billing")
		cases, err := breach.New(d, e.clk, e.incs, dbtest.Keyring(t, d, start), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		north, err := cases.CreateParty(e.admin, breach.PartyInput{Kind: breach.PartyCustomer, Name: "North Clinic"})
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []struct {
			rule  stakeholder.Rule
			field string
		}{{stakeholder.Rule{Severities: []string{"sev9"}}, "rule.severities[0]"},
			{stakeholder.Rule{Customers: []string{"Nobody Clinic"}}, "rule.customers[0]"},
			{stakeholder.Rule{Services: []string{"no-such-service"}}, "rule.services[0]"}} {
			if _, err := e.svc.CreateContact(e.admin, stakeholder.ContactInput{Name: "Bad", Organisation: "Bad", Email: "bad@bad.example",
				ByRule: true, Rule: bad.rule}); !fieldIs(err, bad.field) {
				t.Fatalf("a contact with rule %+v: %v, want a refusal naming %s", bad.rule, err, bad.field)
			}
		}
		add := func(name string, in stakeholder.ContactInput) stakeholder.Contact {
			t.Helper()
			in.Name, in.Organisation, in.Email = name, name+" Org", strings.ToLower(name)+"@example.org"
			c, err := e.svc.CreateContact(e.admin, in)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		add("Board", stakeholder.ContactInput{ByRule: true, Rule: stakeholder.Rule{Severities: []string{"sev1"}}})
		desk := add("Desk", stakeholder.ContactInput{PartyID: north.ID, ByRule: true, Rule: stakeholder.Rule{Customers: []string{"North Clinic"}}})
		if desk.Rule.Customers[0] != north.ID || !desk.ByRule {
			t.Fatalf("the customer named is kept by id: %+v", desk.Rule)
		}
		add("Counsel", stakeholder.ContactInput{})
		if _, err := e.svc.CreateGroup(e.admin, stakeholder.GroupInput{Name: "North account team", ByRule: true,
			Rule: stakeholder.Rule{Customers: []string{north.ID}}}); err != nil {
			t.Fatal(err)
		}
		// subscribers is who is subscribed to ref: "name status audience".
		subscribers := func(ref string) string {
			t.Helper()
			subs, err := e.svc.Subscribers(e.admin, ref)
			if err != nil {
				t.Fatal(err)
			}
			var out []string
			for _, s := range subs {
				out = append(out, s.Name+" "+s.Status+" "+s.AudienceLabel)
			}
			return join(out)
		}
		groups := func(ref string) int {
			t.Helper()
			gs, err := e.svc.Subscribed(e.admin, ref)
			if err != nil {
				t.Fatal(err)
			}
			return len(gs)
		}

		sev1, err := e.incs.Create(e.admin, incident.CreateInput{Title: "Ransomware", Severity: incident.Sev1})
		if err != nil {
			t.Fatal(err)
		}
		named, err := e.incs.Create(e.admin, incident.CreateInput{Title: "Export exposed", Severity: incident.Sev3, Customers: []string{"north clinic"}})
		if err != nil {
			t.Fatal(err)
		}
		owed, err := e.incs.Create(e.admin, incident.CreateInput{Title: "Claims file mailed to the wrong address", Severity: incident.Sev3})
		if err != nil {
			t.Fatal(err)
		}
		e.check()
		if got := subscribers(sev1.Number); got != "Board pending Public" {
			t.Fatalf("the sev1 incident's subscribers: %q", got)
		}
		if got := subscribers(named.Number); got != "Desk pending Customer North Clinic" || groups(named.Number) != 1 {
			t.Fatalf("the incident naming North Clinic: %q, %d groups", got, groups(named.Number))
		}
		if got := subscribers(owed.Number); got != "" || groups(owed.Number) != 0 {
			t.Fatalf("an incident affecting no customer yet: %q, %d groups", got, groups(owed.Number))
		}
		// The breach case comes to owe North Clinic a notice: Desk is
		// subscribed when the next update is posted.
		c, err := cases.Open(e.admin, owed.Number)
		if err != nil {
			t.Fatal(err)
		}
		f := c.Facts
		f.Role, f.Customers = rules.BusinessAssociate, []rules.Customer{{ID: north.ID}}
		if _, err := cases.SetFacts(e.admin, owed.Number, f); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.PostUpdate(e.admin, owed.Number, stakeholder.UpdateInput{Body: "We are looking into it."}); err != nil {
			t.Fatal(err)
		}
		if got := subscribers(owed.Number); got != "Desk pending Customer North Clinic" || groups(owed.Number) != 1 {
			t.Fatalf("the incident owing North Clinic a notice: %q, %d groups", got, groups(owed.Number))
		}
		// Each was asked to confirm, by email, and confirms like anyone.
		e.deliverExternal(t)
		_, kept := mail.snapshot()
		if len(kept) != 3 {
			t.Fatalf("%d confirmation emails, want 3", len(kept))
		}
		if n := auditCount(t, d, "external_subscription.create"); n != 3 {
			t.Fatalf("external_subscription.create audited %d times, want 3", n)
		}
		// Unsubscribed, the board is not subscribed again by its rule.
		var unsub string
		for _, m := range kept {
			if strings.Contains(m, "board@example.org") {
				_, body, _ := strings.Cut(m, "\r\n\r\n")
				b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
				if err != nil {
					t.Fatal(err)
				}
				unsub = confirmRE.FindAllStringSubmatch(string(b), -1)[1][1]
			}
		}
		if _, err := e.svc.UseExternalLink(ctx, unsub); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.PostUpdate(e.admin, sev1.Number, stakeholder.UpdateInput{Body: "Contained.", Audience: stakeholder.AudiencePublic}); err != nil {
			t.Fatal(err)
		}
		e.check()
		if got := subscribers(sev1.Number); got != "Board unsubscribed Public" {
			t.Fatalf("after unsubscribing: %q", got)
		}
		// A drill subscribes nobody.
		drill, err := e.incs.Create(e.admin, incident.CreateInput{Title: "Tabletop", Severity: incident.Sev1, Drill: true})
		if err != nil {
			t.Fatal(err)
		}
		e.check()
		if got := subscribers(drill.Number); got != "" {
			t.Fatalf("a drill's subscribers: %q", got)
		}
	})
}
