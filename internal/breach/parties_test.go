package breach_test

import (
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// TestParties: the registry validates terms and names, a responder may
// read but not change it, a customer's agreement fills a case's facts
// (164.410(b): a 72-hour term, not 60 days), a business associate is not
// a customer, and a business associate's new case names every customer.
func TestParties(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newIndividualsEnv(t, d)
		sec := as(authz.RoleSecurityOfficer, "sam")
		acme := breach.PartyInput{Kind: breach.PartyCustomer, Name: " Acme Health ", Notice: &rules.Term{Amount: 72, Unit: rules.Hours},
			Channel: "email", Contact: breach.PartyContact{Email: "privacy@acme.example"}, Checklist: []string{"PHI involved"}}
		if _, err := e.svc.CreateParty(as(authz.RoleResponder, "rae"), acme); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("a responder adding a party: %v", err)
		}
		bad := breach.PartyInput{Kind: "vendor", Notice: &rules.Term{Amount: 5, Unit: rules.Hours, Business: true}, Channel: "fax",
			Contact: breach.PartyContact{Email: "nope"}, Checklist: []string{" "}}
		err := bad.Validate()
		e2, _ := apperr.As(err)
		fields := map[string]bool{}
		if e2 != nil {
			for _, f := range e2.Fields {
				fields[f.Field] = true
			}
		}
		for _, want := range []string{"kind", "name", "notice.business", "contact.email", "channel", "checklist[0]"} {
			if !fields[want] {
				t.Errorf("no error for %s: %v", want, err)
			}
		}
		p, err := e.svc.CreateParty(sec, acme)
		if err != nil || p.Name != "Acme Health" || p.Notice.Amount != 72 {
			t.Fatalf("create: %+v %v", p, err)
		}
		if _, err := e.svc.CreateParty(sec, acme); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("the same name twice: %v", err)
		}
		vendor, err := e.svc.CreateParty(sec, breach.PartyInput{Kind: breach.PartyBusinessAssociate, Name: "Shred Co"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.UpdateParty(sec, vendor.ID, breach.PartyInput{Kind: breach.PartyCustomer, Name: "Shred Co"}); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("a business associate turned customer: %v", err)
		}
		list, err := e.svc.Parties(as(authz.RoleResponder, "rae"), breach.PartyCustomer, false)
		if err != nil || len(list) != 1 || list[0].Checklist[0] != "PHI involved" {
			t.Fatalf("customers: %+v %v", list, err)
		}

		c, err := e.svc.Get(sec, e.ref)
		if err != nil {
			t.Fatal(err)
		}
		f := c.Facts
		f.Role, f.Customers = rules.BusinessAssociate, []rules.Customer{{ID: p.ID}}
		got, err := e.svc.SetFacts(sec, e.ref, f)
		if err != nil {
			t.Fatal(err)
		}
		if cu := got.Facts.Customers[0]; cu.Name != "Acme Health" || cu.Notice == nil || *cu.Notice != *acme.Notice {
			t.Fatalf("the registry did not fill the customer: %+v", got.Facts.Customers)
		}
		obs, err := e.svc.Obligations(sec, e.ref)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, o := range obs {
			if o.Key == "covered_entity:"+p.ID {
				found = true
				if !o.Due.Equal(f.DiscoveredAt.Add(72 * time.Hour)) {
					t.Errorf("customer due %s, want 72 hours after discovery %s", o.Due, f.DiscoveredAt)
				}
			}
		}
		if !found {
			t.Fatalf("no obligation to the customer: %+v", obs)
		}
		f.Customers = []rules.Customer{{ID: vendor.ID}}
		if _, err := e.svc.SetFacts(sec, e.ref, f); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("a business associate as a customer: %v", err)
		}

		if _, err := e.svc.SetOrganisation(sec, breach.OrganisationInput{Role: rules.PHRVendor}); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("a PHR vendor organisation: %v", err)
		}
		if _, err := e.svc.SetOrganisation(sec, breach.OrganisationInput{Role: rules.BusinessAssociate}); err != nil {
			t.Fatal(err)
		}
		inc, err := e.incs.Create(sec, incident.CreateInput{Title: "Second", Severity: incident.Sev3})
		if err != nil {
			t.Fatal(err)
		}
		c2, err := e.svc.Open(sec, inc.Number)
		if err != nil {
			t.Fatal(err)
		}
		if c2.Facts.Role != rules.BusinessAssociate || len(c2.Facts.Customers) != 1 || c2.Facts.Customers[0].ID != p.ID {
			t.Fatalf("a business associate's new case: %+v", c2.Facts)
		}
	})
}
