package rules_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/rules"
)

// TestWebhookURLSealedAndWithheld: a call_webhook address, which may embed
// a token, is sealed at rest (in the rule and in its queued calls) and shown
// only to those who may manage rules; others see its host. A rule saved
// before addresses were sealed has its address sealed at start.
func TestWebhookURLSealedAndWithheld(t *testing.T) {
	t.Parallel()
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		withPlaybooksAndHooks(t, e)
		rc := newReceiver(t, 0)
		const token = "tok-9f8e7d6c5b4a"
		hook := rc.srv.URL + "/ward?token=" + token
		r, err := e.eng.Create(e.ctx, rules.Input{Name: "tell the ticketing tool", Enabled: true, Expression: `incident.severity == "sev1"`,
			Actions: []rules.Action{{Type: "add_task", Title: "look"}, {Type: "call_webhook", URL: hook}}})
		if err != nil {
			t.Fatal(err)
		}
		host := strings.TrimPrefix(rc.srv.URL, "http://")
		if r.Actions[1].URL != hook || r.Actions[1].Host != host {
			t.Fatalf("the saver sees %+v", r.Actions[1])
		}
		raw := func(q string, args ...any) string {
			t.Helper()
			var s string
			if err := d.R.QueryRowContext(context.Background(), q, args...).Scan(&s); err != nil {
				t.Fatal(err)
			}
			return s
		}
		if a := raw(`SELECT actions FROM rules WHERE id = $1`, r.ID); strings.Contains(a, token) || !strings.Contains(a, host) {
			t.Fatalf("rules.actions holds %s", a)
		}
		if u := raw(`SELECT webhook_urls FROM rules WHERE id = $1`, r.ID); u == "" || strings.Contains(u, token) {
			t.Fatalf("rules.webhook_urls holds %q", u)
		}
		stakeholder := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: "s", Name: "sam", Role: authz.RoleStakeholder})
		got, err := e.eng.Get(stakeholder, r.ID)
		if err != nil || got.Actions[1].URL != "" || got.Actions[1].Host != host {
			t.Fatalf("a stakeholder sees %+v (%v)", got.Actions, err)
		}
		list, err := e.eng.List(stakeholder)
		if err != nil || len(list) != 1 || list[0].Actions[1].URL != "" {
			t.Fatalf("a stakeholder lists %+v (%v)", list, err)
		}
		if got, err := e.eng.Get(e.ctx, r.ID); err != nil || got.Actions[1].URL != hook {
			t.Fatalf("an administrator sees %+v (%v)", got.Actions, err)
		}

		// The rule fires: the queued call's address is sealed, and the
		// call reaches the address with its token.
		if _, err := e.incs.Create(e.ctx, incident.CreateInput{Title: "Outage", Severity: incident.Sev1}); err != nil {
			t.Fatal(err)
		}
		if u := raw(`SELECT url FROM rule_webhook_deliveries`); strings.Contains(u, token) {
			t.Fatalf("the queued call's address is in clear: %s", u)
		}
		if err := e.eng.DeliverWebhooks(context.Background()); err != nil {
			t.Fatal(err)
		}
		if bodies, _ := rc.got(); len(bodies) != 1 {
			t.Fatalf("%d calls", len(bodies))
		}

		// A rule as an older Ward stored it: its address in rules.actions.
		if _, err := d.W.ExecContext(context.Background(), `UPDATE rules SET actions = $1, webhook_urls = '' WHERE id = $2`,
			`[{"type":"call_webhook","url":"`+hook+`"}]`, r.ID); err != nil {
			t.Fatal(err)
		}
		if n, err := e.eng.SealWebhookURLs(context.Background()); err != nil || n != 1 {
			t.Fatalf("sealed %d rules: %v", n, err)
		}
		if a := raw(`SELECT actions FROM rules WHERE id = $1`, r.ID); strings.Contains(a, token) {
			t.Fatalf("rules.actions still holds %s", a)
		}
		if got, err := e.eng.Get(e.ctx, r.ID); err != nil || got.Actions[0].URL != hook {
			t.Fatalf("after sealing, an administrator sees %+v (%v)", got.Actions, err)
		}
		if n, err := e.eng.SealWebhookURLs(context.Background()); err != nil || n != 0 {
			t.Fatalf("sealed %d rules again: %v", n, err)
		}
	})
}
