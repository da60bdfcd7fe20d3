package incident_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// addUser inserts a user row (members must be users) and returns the
// actor that user acts as.
func (e *env) addUser(name string, role authz.Role) authz.Actor {
	e.t.Helper()
	id := "u-" + name
	_, err := e.d.W.ExecContext(context.Background(), `INSERT INTO users (id, username, display_name, email, role,
		password_hash, disabled, created_at, updated_at) VALUES ($1, $2, $3, '', $4, 'x', false, $5, $5)`,
		id, name, strings.ToUpper(name), role, start)
	if err != nil {
		e.t.Fatalf("add user %s: %v", name, err)
	}
	return authz.Actor{Kind: authz.KindUser, ID: id, Name: name, Role: role}
}

func as(a authz.Actor) context.Context { return authz.WithActor(context.Background(), a) }

// grant inserts a break-glass grant for holder that expires at exp.
func (e *env) grant(incID, holder string, exp time.Time, revoked bool) {
	e.t.Helper()
	var rev any
	if revoked {
		rev = start
	}
	_, err := e.d.W.ExecContext(context.Background(), `INSERT INTO break_glass_grants
		(id, incident_id, user_id, actor, reason, granted_at, expires_at, revoked_at) VALUES ($1, $2, $3, 'x', '', $4, $5, $6)`,
		fmt.Sprintf("g-%s-%s", incID, holder), incID, holder, start, exp, rev)
	if err != nil {
		e.t.Fatalf("grant: %v", err)
	}
}

// sees reports whether ctx's actor finds inc through every read, failing
// the test when the reads disagree.
func (e *env) sees(ctx context.Context, inc incident.Incident) bool {
	e.t.Helper()
	_, getErr := e.svc.Get(ctx, inc.Number)
	_, tlErr := e.svc.Timeline(ctx, inc.ID, "", 0, 0)
	_, taskErr := e.svc.Tasks(ctx, inc.ID)
	_, memErr := e.svc.Members(ctx, inc.ID)
	page, err := e.svc.List(ctx, incident.Filter{Limit: incident.MaxLimit})
	if err != nil {
		e.t.Fatalf("list: %v", err)
	}
	listed := slices.Contains(ids(page.Items), inc.ID)
	open, err := e.svc.Open(ctx, incident.MaxLimit)
	if err != nil {
		e.t.Fatalf("open incidents: %v", err)
	}
	if home := slices.Contains(ids(open.Urgent), inc.ID); home != listed {
		e.t.Fatalf("the home page's list (%v) and the incident list (%v) disagree", home, listed)
	}
	var hidden int
	for _, err := range []error{getErr, tlErr, taskErr, memErr} {
		switch {
		case err == nil:
		case apperr.CodeOf(err) == apperr.NotFound:
			hidden++
		default:
			e.t.Fatalf("read: %v", err)
		}
	}
	switch {
	case hidden == 0 && listed:
		return true
	case hidden == 4 && !listed:
		return false
	}
	e.t.Fatalf("reads disagree: get %v, timeline %v, tasks %v, members %v, listed %v", getErr, tlErr, taskErr, memErr, listed)
	return false
}

// TestRestrictedVisibility walks every role × relation to the incident ×
// grant state, for users and API tokens.
func TestRestrictedVisibility(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		officer := as(e.addUser("officer", authz.RoleSecurityOfficer))
		open, err := e.svc.Create(officer, incident.CreateInput{Title: "not restricted"})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, role := range authz.Roles {
			for _, rel := range []string{"none", "member", "commander"} {
				for _, gr := range []string{"none", "active", "expired", "revoked"} {
					n++
					u := e.addUser(fmt.Sprintf("u%d", n), role)
					in := incident.CreateInput{Title: "case", Restricted: true}
					if rel == "commander" {
						in.Commander = u.Name
					}
					inc, err := e.svc.Create(officer, in)
					if err != nil {
						t.Fatal(err)
					}
					if rel == "member" {
						if _, err := e.svc.AddMember(officer, inc.ID, u.Name); err != nil {
							t.Fatal(err)
						}
					}
					switch gr {
					case "active":
						e.grant(inc.ID, u.ID, e.clk.Now().Add(time.Minute), false)
					case "expired":
						e.grant(inc.ID, u.ID, e.clk.Now(), false)
					case "revoked":
						e.grant(inc.ID, u.ID, e.clk.Now().Add(time.Minute), true)
					}
					want := authz.Has(role, authz.IncidentRestricted) || rel != "none" || gr == "active"
					if got := e.sees(as(u), inc); got != want {
						t.Errorf("user %s, %s, grant %s: sees %v, want %v", role, rel, gr, got, want)
					}
					if !e.sees(as(u), open) {
						t.Errorf("user %s does not see an incident that is not restricted", role)
					}
					if authz.Has(role, authz.IncidentWrite) {
						_, err := e.svc.AddNote(as(u), inc.ID, "update")
						if want != (err == nil) || (err != nil && apperr.CodeOf(err) != apperr.NotFound) {
							t.Errorf("user %s, %s, grant %s: note: %v, want visible %v", role, rel, gr, err, want)
						}
					}
					// A token acts with its role: no membership, no commander.
					tok := authz.Actor{Kind: authz.KindToken, ID: "tok-" + u.ID, Name: u.Name, Role: role}
					if gr == "active" {
						e.grant(inc.ID, tok.ID, e.clk.Now().Add(time.Minute), false)
					}
					wantTok := authz.Has(role, authz.IncidentRestricted) || gr == "active"
					if got := e.sees(as(tok), inc); got != wantTok {
						t.Errorf("token %s, %s, grant %s: sees %v, want %v", role, rel, gr, got, wantTok)
					}
				}
			}
		}
		cli := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindCLI, ID: "op", Name: "op", Role: authz.RoleAdmin})
		restricted, err := e.svc.Create(officer, incident.CreateInput{Title: "hidden from the command line", Restricted: true})
		if err != nil {
			t.Fatal(err)
		}
		if e.sees(cli, restricted) {
			t.Error("a command-line admin sees a restricted incident")
		}
		e.verifyAudit()
	})
}

// countingSealer counts the rows whose PHI was decrypted.
type countingSealer struct {
	incident.Sealer
	mu     sync.Mutex
	opened map[string]int
}

func (c *countingSealer) Open(ciphertext, table, column, rowID string) ([]byte, error) {
	c.mu.Lock()
	c.opened[rowID]++
	c.mu.Unlock()
	return c.Sealer.Open(ciphertext, table, column, rowID)
}

func TestListHidesRestricted(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		sealer := &countingSealer{opened: map[string]int{}}
		sealer.Sealer = e.keys
		e.svc = incident.NewService(d, e.clk, sealer)
		officer := as(e.addUser("officer", authz.RoleSecurityOfficer))
		responder := as(e.addUser("resp", authz.RoleResponder))
		hidden, err := e.svc.Create(officer, incident.CreateInput{Title: "insider", Description: "patient J. Doe", Restricted: true})
		if err != nil {
			t.Fatal(err)
		}
		shown, err := e.svc.Create(officer, incident.CreateInput{Title: "phish", Description: "patient R. Roe"})
		if err != nil {
			t.Fatal(err)
		}
		if hidden.Number != "INC-2026-0001" || shown.Number != "INC-2026-0002" {
			t.Fatalf("numbers %s, %s: a restricted incident still takes its number", hidden.Number, shown.Number)
		}
		page, err := e.svc.List(responder, incident.Filter{Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if got := numbers(page.Items); !slices.Equal(got, []string{"INC-2026-0002"}) || page.Next != nil {
			t.Fatalf("responder lists %v (next %v), want only INC-2026-0002 and no next page", got, page.Next)
		}
		if page.Items[0].Description != "patient R. Roe" {
			t.Fatalf("responder reads description %q", page.Items[0].Description)
		}
		for _, q := range []string{"insider", "INC-2026-0001"} {
			if page, err = e.svc.List(responder, incident.Filter{Text: q}); err != nil || len(page.Items) != 0 {
				t.Fatalf("search %q finds %v (%v)", q, numbers(page.Items), err)
			}
		}
		if n := sealer.opened[hidden.ID]; n != 0 {
			t.Errorf("the hidden incident's description was decrypted %d times", n)
		}
		var reads int
		if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'incident.phi_read' AND object_id = $1`,
			hidden.ID).Scan(&reads); err != nil {
			t.Fatal(err)
		}
		if reads != 0 {
			t.Errorf("%d PHI reads recorded for the hidden incident", reads)
		}
		if _, err := e.svc.Get(responder, hidden.Number); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("responder get: %v, want not found", err)
		}

		// A stakeholder's list decrypts nothing at all: the PHI is withheld.
		stake := as(e.addUser("stake", authz.RoleStakeholder))
		before := sealer.opened[shown.ID]
		if page, err = e.svc.List(stake, incident.Filter{}); err != nil || !page.Items[0].PHIRedacted {
			t.Fatalf("stakeholder list %+v (%v)", page.Items, err)
		}
		if sealer.opened[shown.ID] != before {
			t.Error("a stakeholder's list decrypted a description it withholds")
		}
		page, err = e.svc.List(officer, incident.Filter{})
		if err != nil || len(page.Items) != 2 {
			t.Fatalf("officer lists %v (%v), want both", numbers(page.Items), err)
		}
	})
}

func TestRestrictFlag(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		officer := as(e.addUser("officer", authz.RoleSecurityOfficer))
		creatorActor := e.addUser("creator", authz.RoleResponder)
		creator, other := as(creatorActor), as(e.addUser("other", authz.RoleResponder))

		// A responder restricting their own incident becomes its member.
		inc, err := e.svc.Create(creator, incident.CreateInput{Title: "lost laptop", Restricted: true})
		if err != nil || !inc.Restricted {
			t.Fatalf("create restricted: %+v %v", inc, err)
		}
		if !e.sees(creator, inc) {
			t.Fatal("the creator lost sight of the incident they restricted")
		}
		ms, err := e.svc.Members(creator, inc.ID)
		if err != nil || len(ms) != 1 || ms[0].Username != "creator" || ms[0].AddedBy != "user:creator" {
			t.Fatalf("members %+v (%v)", ms, err)
		}
		if _, err := e.svc.AddMember(creator, inc.ID, "other"); err != nil {
			t.Fatal(err)
		}
		// A member who is not the creator may not lift the restriction.
		_, err = e.svc.Update(other, inc.ID, incident.UpdateInput{Restricted: ptr(false)})
		wantCode(t, err, apperr.Forbidden)
		// The creator may.
		got, err := e.svc.Update(creator, inc.ID, incident.UpdateInput{Restricted: ptr(false)})
		if err != nil || got.Restricted {
			t.Fatalf("creator unrestricts: %+v %v", got, err)
		}
		e.lastAction(t, "incident.unrestrict", "user:creator")
		// Someone else's incident: only an officer may restrict it.
		plain, err := e.svc.Create(other, incident.CreateInput{Title: "phish"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Update(creator, plain.ID, incident.UpdateInput{Restricted: ptr(true)})
		wantCode(t, err, apperr.Forbidden)
		if got, err = e.svc.Update(officer, plain.ID, incident.UpdateInput{Restricted: ptr(true)}); err != nil || !got.Restricted {
			t.Fatalf("officer restricts: %+v %v", got, err)
		}
		e.lastAction(t, "incident.restrict", "user:officer")
		tl, err := e.svc.Timeline(officer, plain.ID, incident.EventEdit, 0, 0)
		if err != nil || len(tl) != 1 {
			t.Fatalf("timeline %+v %v", tl, err)
		}
		if c := changeOf(t, tl[0], "restricted"); c.Old != false || c.New != true {
			t.Errorf("restricted change %+v", c)
		}
		if len(tl[0].Changes) != 1 {
			t.Errorf("an officer restricting is not made a member: %+v", tl[0].Changes)
		}
		if e.sees(other, plain) {
			t.Error("the creator who is not a member still sees the incident an officer restricted")
		}
		e.verifyAudit()
	})
}

func (e *env) lastAction(t *testing.T, action, actor string) {
	t.Helper()
	var a, who string
	if err := e.d.R.QueryRow("SELECT action, actor FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&a, &who); err != nil {
		t.Fatal(err)
	}
	if a != action || who != actor {
		t.Errorf("last audit entry %s by %s, want %s by %s", a, who, action, actor)
	}
}

func TestMembers(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		officer := as(e.addUser("officer", authz.RoleSecurityOfficer))
		resp := e.addUser("resp", authz.RoleResponder)
		stake := as(e.addUser("stake", authz.RoleStakeholder))
		inc, err := e.svc.Create(officer, incident.CreateInput{Title: "snooping", Restricted: true})
		if err != nil {
			t.Fatal(err)
		}
		// A stakeholder may not change members; a responder who cannot see
		// the incident is told it does not exist.
		_, err = e.svc.AddMember(stake, inc.ID, "resp")
		wantCode(t, err, apperr.Forbidden)
		_, err = e.svc.AddMember(as(resp), inc.ID, "resp")
		wantCode(t, err, apperr.NotFound)
		_, err = e.svc.AddMember(officer, inc.ID, "nobody")
		wantField(t, err, "user")

		before := e.counts()
		m, err := e.svc.AddMember(officer, inc.Number, resp.ID)
		if err != nil || m.Username != "resp" || m.AddedBy != "user:officer" {
			t.Fatalf("add member: %+v %v", m, err)
		}
		e.expectWrites(before, counts{"incident_events": 1, "audit_log": 1})
		e.lastAction(t, "incident.member.add", "user:officer")
		_, err = e.svc.AddMember(officer, inc.ID, "resp")
		wantCode(t, err, apperr.Conflict)
		if !e.sees(as(resp), inc) {
			t.Fatal("a member does not see the incident")
		}
		tl, err := e.svc.Timeline(officer, inc.ID, incident.EventMemberAdded, 0, 0)
		if err != nil || len(tl) != 1 || tl[0].Changes[0] != (incident.Change{Field: "member", New: "resp"}) {
			t.Fatalf("timeline %+v %v", tl, err)
		}

		// A member may take themselves off, and then no longer sees it.
		if err := e.svc.RemoveMember(as(resp), inc.ID, "resp"); err != nil {
			t.Fatal(err)
		}
		e.lastAction(t, "incident.member.remove", "user:resp")
		if e.sees(as(resp), inc) {
			t.Fatal("a removed member still sees the incident")
		}
		err = e.svc.RemoveMember(officer, inc.ID, "resp")
		wantCode(t, err, apperr.NotFound)
		tl, err = e.svc.Timeline(officer, inc.ID, incident.EventMemberRemoved, 0, 0)
		if err != nil || len(tl) != 1 || tl[0].Changes[0] != (incident.Change{Field: "member", Old: "resp"}) {
			t.Fatalf("timeline %+v %v", tl, err)
		}
		e.verifyAudit()
	})
}

func TestBreakGlass(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		var logs bytes.Buffer
		e.svc = incident.NewService(d, e.clk, e.keys, incident.WithBreakGlassDuration(30*time.Minute),
			incident.WithLogger(slog.New(slog.NewJSONHandler(&logs, nil))))
		officer := as(e.addUser("officer", authz.RoleSecurityOfficer))
		resp := as(e.addUser("resp", authz.RoleResponder))
		inc, err := e.svc.Create(officer, incident.CreateInput{Title: "records snooping", Description: "patient J. Doe",
			Restricted: true})
		if err != nil {
			t.Fatal(err)
		}
		plain, err := e.svc.Create(officer, incident.CreateInput{Title: "phish"})
		if err != nil {
			t.Fatal(err)
		}
		reason := "On-call: ransomware spreading, need the host list now"

		_, err = e.svc.BreakGlass(resp, inc.Number, "too short")
		wantField(t, err, "reason")
		_, err = e.svc.BreakGlass(resp, inc.Number, strings.Repeat(" ", 30)+"short")
		wantField(t, err, "reason")
		_, err = e.svc.BreakGlass(resp, "INC-2026-0099", reason)
		wantCode(t, err, apperr.NotFound)
		_, err = e.svc.BreakGlass(resp, plain.Number, reason)
		wantCode(t, err, apperr.Conflict)
		_, err = e.svc.BreakGlass(officer, inc.Number, reason)
		wantCode(t, err, apperr.Conflict)
		cli := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindCLI, ID: "op", Name: "op", Role: authz.RoleAdmin})
		_, err = e.svc.BreakGlass(cli, inc.Number, reason)
		wantCode(t, err, apperr.Forbidden)

		before := e.counts()
		g, err := e.svc.BreakGlass(resp, inc.Number, reason)
		if err != nil {
			t.Fatal(err)
		}
		if g.IncidentID != inc.ID || g.UserID != "u-resp" || g.Actor != "user:resp" || !g.GrantedAt.Equal(start) ||
			!g.ExpiresAt.Equal(start.Add(30*time.Minute)) {
			t.Fatalf("grant %+v", g)
		}
		e.expectWrites(before, counts{"incident_events": 1, "audit_log": 1})
		e.lastAction(t, "incident.break_glass", "user:resp")
		if !e.sees(resp, inc) {
			t.Fatal("the grant holder does not see the incident")
		}
		got, err := e.svc.Get(resp, inc.ID)
		if err != nil || got.Description != "patient J. Doe" {
			t.Fatalf("holder reads %+v %v", got, err)
		}
		_, err = e.svc.BreakGlass(resp, inc.Number, reason)
		wantCode(t, err, apperr.Conflict)

		tl, err := e.svc.Timeline(officer, inc.ID, incident.EventBreakGlass, 0, 0)
		if err != nil || len(tl) != 1 || tl[0].Note != reason || tl[0].Actor != "user:resp" {
			t.Fatalf("timeline %+v %v", tl, err)
		}

		// The Security Officer is told at once.
		alerts, err := e.svc.OfficerAlerts(officer, true)
		if err != nil || len(alerts) != 1 {
			t.Fatalf("officer alerts %+v %v", alerts, err)
		}
		a := alerts[0]
		if a.Kind != incident.OfficerAlertBreakGlass || a.IncidentNumber != inc.Number || a.Actor != "user:resp" ||
			a.Reason != reason || a.AcknowledgedAt != nil {
			t.Fatalf("officer alert %+v", a)
		}
		line := logs.String()
		if !strings.Contains(line, `"level":"WARN"`) || !strings.Contains(line, `"msg":"break_glass_access"`) ||
			!strings.Contains(line, inc.Number) || !strings.Contains(line, `"actor":"user:resp"`) {
			t.Errorf("log %s", line)
		}
		for _, secret := range []string{"ransomware", "J. Doe", "snooping"} {
			if strings.Contains(line, secret) {
				t.Errorf("the log holds %q: %s", secret, line)
			}
		}
		_, err = e.svc.OfficerAlerts(resp, true)
		wantCode(t, err, apperr.Forbidden)
		_, err = e.svc.AcknowledgeOfficerAlert(resp, a.ID)
		wantCode(t, err, apperr.Forbidden)
		_, err = e.svc.AcknowledgeOfficerAlert(officer, "missing")
		wantCode(t, err, apperr.NotFound)
		ack, err := e.svc.AcknowledgeOfficerAlert(officer, a.ID)
		if err != nil || ack.AcknowledgedAt == nil || ack.AcknowledgedBy != "user:officer" {
			t.Fatalf("acknowledge %+v %v", ack, err)
		}
		e.lastAction(t, "officer_alert.acknowledge", "user:officer")
		before = e.counts()
		if _, err := e.svc.AcknowledgeOfficerAlert(officer, a.ID); err != nil {
			t.Fatal(err)
		}
		e.expectWrites(before, counts{})
		if open, err := e.svc.OfficerAlerts(officer, true); err != nil || len(open) != 0 {
			t.Fatalf("open officer alerts after acknowledging: %+v %v", open, err)
		}
		if all, err := e.svc.OfficerAlerts(officer, false); err != nil || len(all) != 1 {
			t.Fatalf("all officer alerts: %+v %v", all, err)
		}

		// The grant lapses at its expiry.
		e.clk.Advance(30*time.Minute - time.Microsecond)
		if !e.sees(resp, inc) {
			t.Fatal("the grant lapsed early")
		}
		e.clk.Advance(time.Microsecond)
		if e.sees(resp, inc) {
			t.Fatal("the grant outlived its expiry")
		}
		e.verifyAudit()
	})
}

func TestRevokeGrant(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		officer := as(e.addUser("officer", authz.RoleSecurityOfficer))
		resp := as(e.addUser("resp", authz.RoleResponder))
		inc, err := e.svc.Create(officer, incident.CreateInput{Title: "snooping", Restricted: true})
		if err != nil {
			t.Fatal(err)
		}
		g, err := e.svc.BreakGlass(resp, inc.Number, "checking whether the export touched our systems")
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.svc.Grants(resp, inc.ID)
		wantCode(t, err, apperr.Forbidden)
		_, err = e.svc.RevokeGrant(resp, inc.ID, g.ID)
		wantCode(t, err, apperr.Forbidden)
		gs, err := e.svc.Grants(officer, inc.ID)
		if err != nil || len(gs) != 1 || gs[0].ID != g.ID || gs[0].RevokedAt != nil || gs[0].Actor != "user:resp" {
			t.Fatalf("grants %+v %v", gs, err)
		}
		_, err = e.svc.RevokeGrant(officer, inc.ID, "missing")
		wantCode(t, err, apperr.NotFound)

		e.clk.Advance(time.Minute)
		before := e.counts()
		got, err := e.svc.RevokeGrant(officer, inc.Number, g.ID)
		if err != nil || got.RevokedAt == nil || !got.RevokedAt.Equal(e.clk.Now()) {
			t.Fatalf("revoke %+v %v", got, err)
		}
		e.expectWrites(before, counts{"incident_events": 1, "audit_log": 1})
		e.lastAction(t, "incident.break_glass.revoke", "user:officer")
		if e.sees(resp, inc) {
			t.Fatal("a revoked grant still shows the incident")
		}
		_, err = e.svc.RevokeGrant(officer, inc.ID, g.ID)
		wantCode(t, err, apperr.Conflict)
		tl, err := e.svc.Timeline(officer, inc.ID, incident.EventBreakGlassRevoked, 0, 0)
		if err != nil || len(tl) != 1 || tl[0].Changes[0] != (incident.Change{Field: "grant", Old: g.ID}) {
			t.Fatalf("timeline %+v %v", tl, err)
		}
		// An expired grant cannot be revoked: it has already ended.
		g2, err := e.svc.BreakGlass(resp, inc.Number, "checking whether the export touched our systems")
		if err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(incident.DefaultBreakGlassDuration)
		_, err = e.svc.RevokeGrant(officer, inc.ID, g2.ID)
		wantCode(t, err, apperr.Conflict)
		e.verifyAudit()
	})
}
