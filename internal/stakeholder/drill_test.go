package stakeholder_test

import (
	"context"
	"io"
	"mime/quotedprintable"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/stakeholder"
)

// TestDrillMadeBeforeItsRules: on both databases, a drill that got a
// confirmed external subscriber, a public status page and a place on the
// organisation's page before drills were kept from them (simulated by
// marking an incident a drill afterwards) shows on none of them: its
// public page's address and the subscriber's status page link are not
// found (the refused link audited), the organisation's page leaves it
// out, and a status update on it emails the subscriber nothing.
func TestDrillMadeBeforeItsRules(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		mail := e.withMail(t, "Acme Billing")
		po := e.person("pat", authz.RolePrivacyOfficer)
		inc, err := e.incs.Create(e.admin, incident.CreateInput{Title: "Tabletop: export exposed", Severity: incident.Sev2})
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.svc.CreateContact(e.admin, stakeholder.ContactInput{Name: "Dana", Organisation: "Clinic", Email: "dana@mercy.example"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.SubscribeContact(e.admin, inc.Number, c.ID, ""); err != nil {
			t.Fatal(err)
		}
		last := func() string {
			_, kept := mail.snapshot()
			_, body, _ := strings.Cut(kept[len(kept)-1], "\r\n\r\n")
			b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
			if err != nil {
				t.Fatal(err)
			}
			return string(b)
		}
		e.deliverExternal(t)
		if _, err := e.svc.UseExternalLink(ctx, confirmRE.FindStringSubmatch(last())[1]); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.PostUpdate(e.admin, inc.Number, stakeholder.UpdateInput{Body: "Everyone: we are containing it.",
			Audience: stakeholder.AudiencePublic}); err != nil {
			t.Fatal(err)
		}
		e.deliverExternal(t)
		statusLink := confirmRE.FindStringSubmatch(last())[1]
		pp, err := e.svc.SetPublicPage(po, inc.Number, true)
		if err != nil {
			t.Fatal(err)
		}
		token := pp.URL[len("https://ward.test/p/"):]
		if _, err := e.svc.SetOrgPage(po, true); err != nil {
			t.Fatal(err)
		}
		if _, err := d.W.ExecContext(ctx, `UPDATE incidents SET drill = true WHERE id = $1`, inc.ID); err != nil {
			t.Fatal(err)
		}

		if p, err := e.svc.PublicStatusPage(ctx, token); apperr.CodeOf(err) != apperr.NotFound {
			t.Errorf("the drill's public page: %+v %v, want not found", p, err)
		}
		if org, err := e.svc.OrgStatusPage(ctx); err != nil || len(org.Incidents) != 0 {
			t.Errorf("the organisation's page: %+v %v, want no incident", org, err)
		}
		refused := auditCount(t, d, "status_page.refused")
		if p, _, _, ok, err := e.svc.OpenStatusPage(ctx, statusLink, ""); !ok || err == nil {
			t.Errorf("the subscriber's status page of the drill: %v %+v %v, want the link known and refused", ok, p, err)
		}
		if auditCount(t, d, "status_page.refused") != refused+1 {
			t.Error("the refused status page link is not audited")
		}
		_, before := mail.snapshot()
		u, err := e.svc.PostUpdate(e.admin, inc.Number, stakeholder.UpdateInput{Body: "Everyone: it is contained.",
			Audience: stakeholder.AudiencePublic})
		if err != nil || u.Emails.Recipients != 0 {
			t.Fatalf("an update on the drill: %+v %v, want no email", u.Emails, err)
		}
		e.deliverExternal(t)
		if _, after := mail.snapshot(); len(after) != len(before) {
			t.Errorf("the subscriber was emailed about the drill: %q", after[len(before):])
		}
	})
}
