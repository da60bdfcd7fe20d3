package stakeholder_test

import (
	"context"
	"fmt"
	"io"
	"mime/quotedprintable"
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

func auditCount(t *testing.T, d *db.DB, action string) int {
	t.Helper()
	var n int
	if err := d.R.QueryRowContext(context.Background(), `SELECT COUNT(*) FROM audit_log WHERE action = $1`, action).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestUpdateTemplates: templates are saved per audience by those who
// manage stakeholders, refused naming the field for PHI, an unknown
// placeholder or audience, a taken name; their bodies are sealed; offered
// for an incident with the placeholders filled in; every change audited.
func TestUpdateTemplates(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.person("exec", authz.RoleStakeholder)
		if _, err := e.svc.CreateGroup(e.admin, stakeholder.GroupInput{Name: "Board", Members: []string{"exec"}, ByRule: true,
			Audience: stakeholder.AudienceExecutives}); err != nil {
			t.Fatal(err)
		}
		inc, err := e.incs.Create(e.admin, incident.CreateInput{Title: "Lost laptop", Severity: incident.Sev2})
		if err != nil {
			t.Fatal(err)
		}
		carol := e.person("carol", authz.RoleResponder)
		in := stakeholder.TemplateInput{Name: "Initial notice", Audience: stakeholder.AudienceExecutives,
			Body: "Incident {incident}: {status}. Next update by {next update}. ({organisation})"}
		if _, err := e.svc.CreateTemplate(carol, in); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("a responder saved a template: %v", err)
		}
		for field, bad := range map[string]stakeholder.TemplateInput{
			"body":     {Name: "x", Audience: "executives", Body: "Patient DOB 03/14/1961 affected"},
			"body ":    {Name: "x", Audience: "executives", Body: "Dear {patient_name}"},
			"audience": {Name: "x", Audience: "board", Body: "ok"},
			"name":     {Name: "", Audience: "executives", Body: "ok"},
		} {
			if _, err := e.svc.CreateTemplate(e.admin, bad); !isField(err, strings.TrimSpace(field)) {
				t.Fatalf("%+v: %v", bad, err)
			}
		}
		tp, err := e.svc.CreateTemplate(e.admin, in)
		if err != nil || tp.AudienceLabel != "Executives" {
			t.Fatalf("create: %+v %v", tp, err)
		}
		if _, err := e.svc.CreateTemplate(e.admin, in); !isField(err, "name") {
			t.Fatalf("a second template of the same name: %v", err)
		}
		var plain int
		if err := d.R.QueryRowContext(ctx, `SELECT COUNT(*) FROM status_update_templates WHERE body LIKE '%next update%'`).Scan(&plain); err != nil || plain != 0 {
			t.Fatalf("the body is stored in plaintext (%d) %v", plain, err)
		}
		if _, err := e.svc.CreateTemplate(e.admin, stakeholder.TemplateInput{Name: "Public notice", Audience: "public", Body: "We are on it."}); err != nil {
			t.Fatal(err)
		}
		offered, err := e.svc.IncidentTemplates(carol, inc.Number, stakeholder.AudienceExecutives)
		if err != nil || len(offered) != 1 {
			t.Fatalf("offered: %+v %v", offered, err)
		}
		if want := "Incident " + inc.Number + ": we are looking into it. Next update by " + start.Add(time.Hour).Format("2 January 2006 15:04 MST") + ". (our organisation)"; offered[0].Filled != want {
			t.Fatalf("filled:\n%s\nwant\n%s", offered[0].Filled, want)
		}
		if all, err := e.svc.IncidentTemplates(carol, inc.Number, ""); err != nil || len(all) != 2 {
			t.Fatalf("every audience's: %+v %v", all, err)
		}
		in.Body = "MRN: 12345678"
		if _, err := e.svc.UpdateTemplate(e.admin, tp.ID, in); !isField(err, "body") {
			t.Fatalf("an update with PHI: %v", err)
		}
		in.Body, in.PHIOverride = "MRN: 12345678", true
		if _, err := e.svc.UpdateTemplate(e.admin, tp.ID, in); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("an administrator overrides the PHI check: %v", err)
		}
		if got, err := e.svc.UpdateTemplate(e.person("pat", authz.RolePrivacyOfficer), tp.ID, in); err != nil || got.Body != in.Body {
			t.Fatalf("the Privacy Officer overrides the PHI check: %+v %v", got, err)
		}
		in.Body, in.PHIOverride = "New text for {incident}.", false
		if got, err := e.svc.UpdateTemplate(e.admin, tp.ID, in); err != nil || got.Version != 3 || got.Body != in.Body {
			t.Fatalf("update: %+v %v", got, err)
		}
		if err := e.svc.DeleteTemplate(e.admin, tp.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.GetTemplate(carol, tp.ID); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("after delete: %v", err)
		}
		for _, a := range []string{"status_update_template.create", "status_update_template.update", "status_update_template.delete"} {
			if auditCount(t, d, a) == 0 {
				t.Fatalf("no %s in the audit trail", a)
			}
		}
	})
}

// TestStatusPages: each update email carries the subscriber's own status
// page link, which shows the updates of their audience (a customer's and
// the public ones, PHI-checked) and no other; every view is audited; the
// link stops when they unsubscribe, for good (subscribing again does not
// bring it back), and when it expires (the attempt audited); a forged token is no status page link. The public page is off
// until an officer turns it on, shows only public updates, and is gone
// when turned off.
func TestStatusPages(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		mail := e.withMail(t, "Acme Billing")
		for _, p := range []string{"p-north", "p-south"} {
			if _, err := d.W.ExecContext(ctx, `INSERT INTO breach_parties (id, kind, name, agreement, notice_amount, notice_unit,
				notice_business, contact_name, contact_email, contact_address, notice_channel, notice_contents, notice_checklist,
				created_at, updated_at) VALUES ($1, 'customer', $1, 'BAA', 0, '', false, '', '', '', 'email', '', '[]', $2, $2)`, p, start); err != nil {
				t.Fatal(err)
			}
		}
		inc, err := e.incs.Create(e.admin, incident.CreateInput{Title: "Export exposed", Severity: incident.Sev2})
		if err != nil {
			t.Fatal(err)
		}
		texts := func() []string {
			_, kept := mail.snapshot()
			var out []string
			for _, m := range kept {
				_, body, _ := strings.Cut(m, "\r\n\r\n")
				b, err := io.ReadAll(quotedprintable.NewReader(strings.NewReader(body)))
				if err != nil {
					t.Fatal(err)
				}
				out = append(out, string(b))
			}
			return out
		}
		deliver := func() { e.deliverExternal(t) }
		// openPage opens the status page of link token as its subscriber
		// does: asks for a code, reads it in the email and enters it.
		openPage := func(token string) (stakeholder.StatusPage, bool, error) {
			t.Helper()
			p, _, open, ok, err := e.svc.OpenStatusPage(ctx, token, "")
			if !ok || err != nil {
				return p, ok, err
			}
			if open || len(p.Updates) != 0 {
				t.Fatalf("the page opened without a code: %+v", p)
			}
			if _, err := e.svc.SendStatusCode(ctx, token); err != nil {
				t.Fatal(err)
			}
			deliver()
			ts := texts()
			session, _, err := e.svc.CheckStatusCode(ctx, token, codeRE.FindStringSubmatch(ts[len(ts)-1])[1])
			if err != nil {
				t.Fatal(err)
			}
			p, _, open, ok, err = e.svc.OpenStatusPage(ctx, token, session)
			if err == nil && !open {
				t.Fatal("the right code did not open the page")
			}
			return p, ok, err
		}
		contacts := map[string]string{}
		for i, p := range []string{"p-north", "p-south"} {
			c, err := e.svc.CreateContact(e.admin, stakeholder.ContactInput{Name: "Contact " + p, Organisation: p,
				Email: p + "@example.org", PartyID: p})
			if err != nil {
				t.Fatal(err)
			}
			contacts[p] = c.ID
			if _, err := e.svc.SubscribeContact(e.admin, inc.Number, c.ID, ""); err != nil {
				t.Fatal(err)
			}
			deliver()
			ts := texts()
			if _, err := e.svc.UseExternalLink(ctx, confirmRE.FindStringSubmatch(ts[i])[1]); err != nil {
				t.Fatal(err)
			}
		}
		po := e.person("pat", authz.RolePrivacyOfficer)
		for _, u := range []stakeholder.UpdateInput{
			{Body: "North: your export was exposed.", Audience: "customer:p-north"},
			{Body: "South: your export was exposed.", Audience: "customer:p-south"},
			{Body: "Everyone: we are containing an incident.", Audience: stakeholder.AudiencePublic},
			{Body: "Internal: the S3 bucket was public.", Audience: stakeholder.AudienceInternal},
			{Body: "Board: costs are rising.", Audience: stakeholder.AudienceExecutives},
		} {
			e.clk.Advance(time.Minute)
			if _, err := e.svc.PostUpdate(e.admin, inc.Number, u); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := e.svc.PostUpdate(po, inc.Number, stakeholder.UpdateInput{Body: "Public: MRN 1234567 fixed.",
			Audience: stakeholder.AudiencePublic, PHIOverride: true}); err != nil {
			t.Fatal(err)
		}
		deliver()
		// The north contact's last email is the public update; its first
		// link is their status page.
		var northPage string
		for _, text := range texts() {
			if strings.Contains(text, "North: your export") {
				northPage = confirmRE.FindStringSubmatch(text)[1]
			}
		}
		if northPage == "" {
			t.Fatal("no update email to the north customer with a status page link")
		}
		p, ok, err := openPage(northPage)
		if err != nil || !ok {
			t.Fatalf("the status page: %v", err)
		}
		var bodies []string
		for _, u := range p.Updates {
			bodies = append(bodies, u.Body)
		}
		if got := strings.Join(bodies, " | "); got != "Everyone: we are containing an incident. | North: your export was exposed." ||
			p.Incident != inc.Number || p.Organisation != "Acme Billing" || p.AudienceLabel != "Customer p-north" {
			t.Fatalf("the north customer's page: %+v", p)
		}
		if auditCount(t, d, "status_page.view") != 1 {
			t.Fatal("the view is not audited")
		}
		if _, _, _, ok, err := e.svc.OpenStatusPage(ctx, strings.Repeat("A", 43), ""); ok || err != nil {
			t.Fatalf("a forged token: %v %v", ok, err)
		}
		// The link expires.
		e.clk.Advance(stakeholder.StatusLinkTTL)
		if _, ok, err := openPage(northPage); !ok || apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("an expired link: %v %v", ok, err)
		}
		// A new update brings a new link, which unsubscribing revokes.
		if _, err := e.svc.PostUpdate(e.admin, inc.Number, stakeholder.UpdateInput{Body: "North: contained.", Audience: "customer:p-north"}); err != nil {
			t.Fatal(err)
		}
		deliver()
		ts := texts()
		links := confirmRE.FindAllStringSubmatch(ts[len(ts)-1], -1)
		if len(links) != 2 {
			t.Fatalf("the last email's links: %q", ts[len(ts)-1])
		}
		if _, _, err := openPage(links[0][1]); err != nil {
			t.Fatalf("the new link: %v", err)
		}
		if _, err := e.svc.UseExternalLink(ctx, links[0][1]); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("POSTing a status page link: %v", err)
		}
		if _, err := e.svc.UseExternalLink(ctx, links[1][1]); err != nil {
			t.Fatal(err)
		}
		if _, ok, err := openPage(links[0][1]); !ok || apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("after unsubscribing: %v %v", ok, err)
		}
		// Subscribed and confirmed again, the revoked link stays revoked.
		if _, err := e.svc.SubscribeContact(e.admin, inc.Number, contacts["p-north"], ""); err != nil {
			t.Fatal(err)
		}
		deliver()
		ts = texts()
		if _, err := e.svc.UseExternalLink(ctx, confirmRE.FindStringSubmatch(ts[len(ts)-1])[1]); err != nil {
			t.Fatalf("confirm again: %v", err)
		}
		if _, ok, err := openPage(links[0][1]); !ok || apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("a revoked link after subscribing again: %v %v", ok, err)
		}
		if auditCount(t, d, "status_page.refused") != 3 {
			t.Fatal("the refused attempts are not audited")
		}

		// The public page.
		if _, err := e.svc.SetPublicPage(e.person("carol", authz.RoleResponder), inc.Number, true); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("a responder turned the public page on: %v", err)
		}
		if pp, err := e.svc.PublicPageOf(e.admin, inc.Number); err != nil || pp.Enabled {
			t.Fatalf("the public page is on by default: %+v %v", pp, err)
		}
		pp, err := e.svc.SetPublicPage(po, inc.Number, true)
		if err != nil || !pp.Enabled || !strings.HasPrefix(pp.URL, "https://ward.test/p/") {
			t.Fatalf("turn on: %+v %v", pp, err)
		}
		token := strings.TrimPrefix(pp.URL, "https://ward.test/p/")
		pub, err := e.svc.PublicStatusPage(ctx, token)
		if err != nil || len(pub.Updates) != 1 || pub.Updates[0].Body != "Everyone: we are containing an incident." {
			t.Fatalf("the public page: %+v %v", pub, err)
		}
		if again, err := e.svc.PublicPageOf(e.admin, inc.Number); err != nil || again.URL != pp.URL {
			t.Fatalf("the address read again: %+v %v", again, err)
		}
		if _, err := e.svc.SetPublicPage(po, inc.Number, false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.PublicStatusPage(ctx, token); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("the public page turned off: %v", err)
		}
		if auditCount(t, d, "public_status_page.enable") != 1 || auditCount(t, d, "public_status_page.disable") != 1 {
			t.Fatal("turning the public page on and off is not audited")
		}
	})
}

// TestOrgStatusPage: the organisation's public status page is off by
// default and not found; only officers and administrators turn it on or
// off, audited; on, it lists the incidents whose own public page is on,
// each with only its PHI-checked public updates, and no other incident.
func TestOrgStatusPage(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		ctx := context.Background()
		e.svc.SetMail(stakeholder.MailOptions{BaseURL: "https://ward.test",
			Organisation: func(context.Context) (string, error) { return "Acme Billing", nil }})
		po, carol := e.person("pat", authz.RolePrivacyOfficer), e.person("carol", authz.RoleResponder)
		shown, hidden := "", ""
		for i, title := range []string{"Export exposed", "Laptop lost"} {
			inc, err := e.incs.Create(e.admin, incident.CreateInput{Title: title, Severity: incident.Sev2})
			if err != nil {
				t.Fatal(err)
			}
			for _, u := range []stakeholder.UpdateInput{
				{Body: fmt.Sprintf("Public %d: we are containing it.", i), Audience: stakeholder.AudiencePublic},
				{Body: fmt.Sprintf("Internal %d: the bucket was open.", i), Audience: stakeholder.AudienceInternal},
			} {
				e.clk.Advance(time.Minute)
				if _, err := e.svc.PostUpdate(e.admin, inc.Number, u); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := e.svc.PostUpdate(po, inc.Number, stakeholder.UpdateInput{Body: "Public: MRN 1234567 fixed.",
				Audience: stakeholder.AudiencePublic, PHIOverride: true}); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				shown = inc.Number
				if _, err := e.svc.SetPublicPage(po, inc.Number, true); err != nil {
					t.Fatal(err)
				}
			} else {
				hidden = inc.Number
			}
		}
		if p, err := e.svc.OrgPageOf(carol); err != nil || p.Enabled || p.URL != "https://ward.test/status" {
			t.Fatalf("the organisation's page by default: %+v %v", p, err)
		}
		if _, err := e.svc.OrgStatusPage(ctx); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("the organisation's page while off: %v", err)
		}
		if _, err := e.svc.SetOrgPage(carol, true); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("a responder turned the organisation's page on: %v", err)
		}
		if p, err := e.svc.SetOrgPage(po, true); err != nil || !p.Enabled || p.EnabledBy == "" {
			t.Fatalf("turn on: %+v %v", p, err)
		}
		if _, err := e.svc.SetOrgPage(po, true); err != nil {
			t.Fatalf("turn on again: %v", err)
		}
		page, err := e.svc.OrgStatusPage(ctx)
		if err != nil || page.Organisation != "Acme Billing" || len(page.Incidents) != 1 || page.Incidents[0].Incident != shown ||
			len(page.Incidents[0].Updates) != 1 || page.Incidents[0].Updates[0].Body != "Public 0: we are containing it." {
			t.Fatalf("the organisation's page (%s shown, %s not): %+v %v", shown, hidden, page, err)
		}
		if _, err := e.svc.SetOrgPage(e.admin, false); err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.OrgStatusPage(ctx); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("the organisation's page turned off: %v", err)
		}
		if auditCount(t, d, "org_status_page.enable") != 1 || auditCount(t, d, "org_status_page.disable") != 1 {
			t.Fatal("turning the organisation's page on and off is not audited once each")
		}
	})
}
