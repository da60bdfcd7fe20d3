package stakeholder_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/stakeholder"
)

// TestExternalContacts: an officer records, edits and removes a contact
// outside Ward; bad input is refused naming the field with nothing
// written; the values are sealed at rest; every change and every read is
// audited; a contact may be linked to a party of the breach registry; a
// stakeholder may not read contacts and the auditor may read
// but change nothing.
func TestExternalContacts(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		as := func(name string, role authz.Role) context.Context {
			return authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, ID: name, Name: name, Role: role})
		}
		officer, auditor, viewer := as("pat", authz.RolePrivacyOfficer), as("aud", authz.RoleAuditor), as("exec", authz.RoleStakeholder)
		responder := as("carol", authz.RoleResponder)
		count := func(q string, args ...any) int {
			t.Helper()
			var n int
			if err := d.R.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}

		for _, c := range []struct {
			in    stakeholder.ContactInput
			field string
		}{
			{stakeholder.ContactInput{Organisation: "Mercy Clinic", Email: "sec@mercy.example"}, "name"},
			{stakeholder.ContactInput{Name: "Dana Reyes", Email: "sec@mercy.example"}, "organisation"},
			{stakeholder.ContactInput{Name: "Dana Reyes", Organisation: "Mercy Clinic", Email: "not an address"}, "email"},
			{stakeholder.ContactInput{Name: "Dana Reyes", Organisation: "Mercy Clinic", Email: "dana@localhost"}, "email"},
			{stakeholder.ContactInput{Name: "Dana\u202eReyes", Organisation: "Mercy Clinic", Email: "sec@mercy.example"}, "name"},
			{stakeholder.ContactInput{Name: "Dana Reyes", Organisation: "Mercy Clinic", Title: strings.Repeat("x", 101), Email: "sec@mercy.example"}, "title"},
		} {
			_, err := e.svc.CreateContact(officer, c.in)
			if ae, ok := apperr.As(err); !ok || ae.Code != apperr.Invalid || len(ae.Fields) != 1 || ae.Fields[0].Field != c.field {
				t.Errorf("%+v: %v, want a refusal naming %s", c.in, err, c.field)
			}
		}
		if n := count(`SELECT count(*) FROM external_contacts`); n != 0 {
			t.Fatalf("refused contacts left %d rows", n)
		}

		audits := count(`SELECT count(*) FROM audit_log`)
		c, err := e.svc.CreateContact(officer, stakeholder.ContactInput{Name: " Dana Reyes ", Organisation: "Mercy Clinic",
			Title: "Security lead", Email: "dana.reyes@mercy.example"})
		if err != nil || c.Name != "Dana Reyes" || c.Version != 1 || c.CreatedBy != "token:pat" {
			t.Fatalf("create: %+v %v", c, err)
		}
		if _, err := e.svc.CreateContact(officer, stakeholder.ContactInput{Name: "Sam Ortiz", Organisation: "Acme Insurance",
			Email: "claims@acme.example"}); err != nil {
			t.Fatal(err)
		}
		if n := count(`SELECT count(*) FROM external_contacts WHERE name LIKE '%Dana%' OR email LIKE '%mercy%' OR organisation LIKE '%Mercy%'`); n != 0 {
			t.Fatal("a contact is stored in plaintext")
		}
		if n := count(`SELECT count(*) FROM audit_log WHERE action = 'external_contact.create'`); n != 2 {
			t.Fatalf("creates audited: %d", n)
		}

		list, err := e.svc.Contacts(auditor)
		if err != nil || len(list) != 2 || list[0].Organisation != "Acme Insurance" || list[1].Email != "dana.reyes@mercy.example" {
			t.Fatalf("the auditor lists contacts: %+v %v", list, err)
		}
		if got, err := e.svc.Contact(responder, c.ID); err != nil || got.Title != "Security lead" {
			t.Fatalf("a responder reads a contact: %+v %v", got, err)
		}
		if n := count(`SELECT count(*) FROM audit_log WHERE action IN ('external_contact.list', 'external_contact.read')`); n != 2 {
			t.Fatalf("reads audited: %d", n)
		}
		if _, err := e.svc.Contacts(viewer); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("a stakeholder lists contacts: %v", err)
		}
		if _, err := e.svc.Contact(viewer, c.ID); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("a stakeholder reads a contact: %v", err)
		}
		in := stakeholder.ContactInput{Name: "Dana Reyes", Organisation: "Mercy Clinic", Title: "CISO", Email: "dana.reyes@mercy.example"}
		for _, ctx := range []context.Context{auditor, viewer, responder} {
			if _, err := e.svc.UpdateContact(ctx, c.ID, in); apperr.CodeOf(err) != apperr.Forbidden {
				t.Fatalf("a reader edits a contact: %v", err)
			}
			if _, err := e.svc.CreateContact(ctx, in); apperr.CodeOf(err) != apperr.Forbidden {
				t.Fatalf("a reader creates a contact: %v", err)
			}
			if err := e.svc.DeleteContact(ctx, c.ID); apperr.CodeOf(err) != apperr.Forbidden {
				t.Fatalf("a reader deletes a contact: %v", err)
			}
		}
		up, err := e.svc.UpdateContact(officer, c.ID, in)
		if err != nil || up.Title != "CISO" || up.Version != 2 || up.CreatedBy != "token:pat" {
			t.Fatalf("update: %+v %v", up, err)
		}
		if _, err := e.svc.UpdateContact(officer, "nope", in); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("update a missing contact: %v", err)
		}
		// One address, one contact, whatever its case: a second would be
		// subscribed and mailed twice.
		before := count(`SELECT count(*) FROM external_contacts`)
		dup := stakeholder.ContactInput{Name: "D. Reyes", Organisation: "Mercy Clinic", Email: "DANA.Reyes@mercy.example"}
		if _, err := e.svc.CreateContact(officer, dup); !fieldIs(err, "email") {
			t.Fatalf("a second contact with Dana's address: %v, want a refusal naming email", err)
		}
		if _, err := e.svc.UpdateContact(officer, list[0].ID, dup); !fieldIs(err, "email") {
			t.Fatalf("Sam's contact edited to Dana's address: %v, want a refusal naming email", err)
		}
		if n := count(`SELECT count(*) FROM external_contacts`); n != before {
			t.Fatalf("a refused duplicate changed the contacts: %d, want %d", n, before)
		}
		// A link to a party of the breach registry.
		cases, err := breach.New(d, e.clk, e.incs, dbtest.Keyring(t, d, start), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		party, err := cases.CreateParty(officer, breach.PartyInput{Kind: breach.PartyCustomer, Name: "Mercy Clinic"})
		if err != nil {
			t.Fatal(err)
		}
		in.PartyID = "no-such-party"
		if _, err := e.svc.UpdateContact(officer, c.ID, in); apperr.CodeOf(err) != apperr.Invalid || !strings.Contains(err.Error(), "party_id") {
			t.Fatalf("a link to no party: %v", err)
		}
		in.PartyID = party.ID
		if up, err = e.svc.UpdateContact(officer, c.ID, in); err != nil || up.PartyName != "Mercy Clinic" || up.Version != 3 {
			t.Fatalf("link to a party: %+v %v", up, err)
		}
		if got, err := e.svc.Contact(officer, c.ID); err != nil || got.PartyID != party.ID || got.PartyName != "Mercy Clinic" {
			t.Fatalf("the linked party read back: %+v %v", got, err)
		}
		if err := e.svc.DeleteContact(e.admin, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.Contact(officer, c.ID); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("a deleted contact: %v", err)
		}
		// create ×2, list, read, update, the party's creation, update, read, delete.
		if n := count(`SELECT count(*) FROM audit_log`) - audits; n != 9 {
			t.Fatalf("audit entries: %d, want 9", n)
		}
	})
}

// fieldIs reports whether err is a refusal naming field alone.
func fieldIs(err error, field string) bool {
	ae, ok := apperr.As(err)
	return ok && ae.Code == apperr.Invalid && len(ae.Fields) == 1 && ae.Fields[0].Field == field
}
