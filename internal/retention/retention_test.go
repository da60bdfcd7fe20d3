package retention_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/retention"
)

var start = time.Date(2026, 5, 4, 15, 0, 0, 0, time.UTC)

func as(role authz.Role, name string) context.Context {
	return authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: "u-" + name, Name: name, Role: role})
}

var (
	admin   = as(authz.RoleAdmin, "ada")
	officer = as(authz.RoleSecurityOfficer, "sam")
	auditor = as(authz.RoleAuditor, "aud")
)

// env is one database with the services the retention tests use.
type env struct {
	d     *db.DB
	clk   *clock.Fake
	incs  *incident.Service
	cases *breach.Service
	ret   *retention.Service
}

func newEnv(t *testing.T, d *db.DB) env {
	t.Helper()
	clk := clock.NewFake(start)
	kr := dbtest.Keyring(t, d, start)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	incs := incident.NewService(d, clk, kr)
	cases, err := breach.New(d, clk, incs, kr, log)
	if err != nil {
		t.Fatal(err)
	}
	return env{d: d, clk: clk, incs: incs, cases: cases, ret: retention.New(d, clk, incs, kr, log)}
}

// closedIncident creates an incident titled title and closes it now.
func (e env) closedIncident(t *testing.T, title string) incident.Incident {
	t.Helper()
	inc, err := e.incs.Create(officer, incident.CreateInput{Title: title, Severity: incident.Sev3})
	if err != nil {
		t.Fatal(err)
	}
	inc, err = e.incs.Transition(officer, inc.Number, incident.Move{To: incident.Closed, Resolution: incident.FalsePositive,
		Note: "a test alarm"})
	if err != nil {
		t.Fatal(err)
	}
	return inc
}

func (e env) count(t *testing.T, query string, args ...any) int {
	t.Helper()
	var n int
	if err := e.d.R.QueryRowContext(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func (e env) exists(t *testing.T, inc incident.Incident) bool {
	return e.count(t, `SELECT count(*) FROM incidents WHERE id = $1`, inc.ID) == 1
}

func (e env) purge(t *testing.T) retention.Report {
	t.Helper()
	rep, err := e.ret.Purge(admin, false)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func (e env) wantChainOK(t *testing.T) {
	t.Helper()
	res, err := audit.Verify(context.Background(), e.d.R)
	if err != nil || !res.OK {
		t.Fatalf("audit chain after purge: %+v %v", res, err)
	}
}

func has(items []retention.Item, typ retention.RecordType, id string) bool {
	for _, it := range items {
		if it.Type == typ && it.ID == id {
			return true
		}
	}
	return false
}

// TestPurgePastRetention: an incident closed more than six years ago is
// purged with everything it owns, leaving a tombstone and its audit
// entries; one closed less than six years ago is kept; the chain verifies.
func TestPurgePastRetention(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		old := e.closedIncident(t, "Old lost laptop for Jane Canary")
		if _, err := e.incs.CreateTask(officer, old.Number, incident.TaskInput{Title: "Wipe it"}); err != nil {
			t.Fatal(err)
		}
		// A playbook applied to it (internal/playbook writes the row).
		if _, err := d.W.Exec(`INSERT INTO incident_playbooks (id, incident_id, playbook, version, body, answers, applied_at, applied_by)
			VALUES ('pb-old', $1, 'lost_device', 1, '{}', '', $2, 'token:officer')`, old.ID, e.clk.Now()); err != nil {
			t.Fatal(err)
		}
		// An external subscriber with a status page link, a one-time code
		// emailed for it and the session it opened (internal/stakeholder
		// writes these rows).
		for _, q := range []string{
			`INSERT INTO external_contacts (id, name, organisation, title, email, created_by, created_at, updated_at, version)
				VALUES ('ct-old', 'x', 'x', '', 'x', 'token:officer', $2, $2, 1)`,
			`INSERT INTO external_subscriptions (id, incident_id, contact_id, status, subscribed_by, subscribed_at)
				VALUES ('sub-old', $1, 'ct-old', 'confirmed', 'token:officer', $2)`,
			`INSERT INTO external_links (token_hash, subscription_id, purpose) VALUES ('link-old', 'sub-old', 'status')`,
			`INSERT INTO status_page_codes (id, subscription_id, link_hash, code_hash, created_at, expires_at)
				VALUES ('code-old', 'sub-old', 'link-old', 'h', $2, $2)`,
			`INSERT INTO status_page_sessions (token_hash, link_hash, expires_at) VALUES ('sess-old', 'link-old', $2)`,
			`INSERT INTO external_mail (id, subscription_id, kind, code_id, status, due_at, message_id, created_at)
				VALUES ('mail-old', 'sub-old', 'code', 'code-old', 'sent', $2, 'ward-mail-old', $2)`,
		} {
			args := []any{old.ID, e.clk.Now()}
			switch {
			case !strings.Contains(q, "$"):
				args = nil
			case !strings.Contains(q, "$1"):
				q, args = strings.ReplaceAll(q, "$2", "$1"), args[1:]
			}
			if _, err := d.W.Exec(q, args...); err != nil {
				t.Fatal(err)
			}
		}
		e.clk.Advance(2 * 365 * 24 * time.Hour)
		recent := e.closedIncident(t, "Recent phishing")
		e.clk.Advance(4*365*24*time.Hour + 5*24*time.Hour) // old: six years and a few days; recent: four years

		preview, err := e.ret.Preview(auditor)
		if err != nil {
			t.Fatal(err)
		}
		if !preview.DryRun || !has(preview.Purged, retention.Incidents, old.ID) || has(preview.Purged, retention.Incidents, recent.ID) {
			t.Fatalf("preview: %+v", preview.Purged)
		}
		if !e.exists(t, old) {
			t.Fatal("the preview purged")
		}
		auditBefore := e.count(t, `SELECT count(*) FROM audit_log WHERE object_id = $1`, old.ID)

		rep := e.purge(t)
		if !has(rep.Purged, retention.Incidents, old.ID) || rep.Counts()[retention.Incidents] != 1 {
			t.Fatalf("purged: %+v", rep.Purged)
		}
		if e.exists(t, old) || !e.exists(t, recent) {
			t.Fatalf("old exists %v, recent exists %v", e.exists(t, old), e.exists(t, recent))
		}
		for _, table := range []string{"incident_events", "incident_tasks", "incident_title_tokens", "incident_playbooks"} {
			if n := e.count(t, `SELECT count(*) FROM `+table+` WHERE incident_id = $1`, old.ID); n != 0 {
				t.Errorf("%s: %d rows of the purged incident left", table, n)
			}
		}
		for _, table := range []string{"status_page_codes", "status_page_sessions", "external_links", "external_mail"} {
			if n := e.count(t, `SELECT count(*) FROM `+table); n != 0 {
				t.Errorf("%s: %d rows of the purged incident left", table, n)
			}
		}
		var label string
		var seq int64
		if err := d.R.QueryRow(`SELECT t.label, a.seq FROM retention_tombstones t JOIN audit_log a
			ON a.action = 'retention.purge' AND a.object_type = t.record_type AND a.object_id = t.record_id
			WHERE t.record_type = 'incident' AND t.record_id = $1`,
			old.ID).Scan(&label, &seq); err != nil || label != old.Number || seq == 0 {
			t.Fatalf("tombstone and its audit entry: %q %d %v", label, seq, err)
		}
		if got := e.count(t, `SELECT count(*) FROM audit_log WHERE object_id = $1`, old.ID); got != auditBefore+1 {
			t.Errorf("audit entries of the purged incident: %d, want its %d and the purge's", got, auditBefore)
		}
		if e.count(t, `SELECT count(*) FROM audit_log WHERE action = 'retention.run' AND object_id = $1`, rep.RunID) != 1 {
			t.Error("no retention.run audit entry")
		}
		e.wantChainOK(t)
		if again := e.purge(t); len(again.Purged) != 0 {
			t.Errorf("a second purge found %+v", again.Purged)
		}
	})
}

// TestLegalHold: a held incident is kept past retention and purged once
// the hold is released; a held breach case keeps its incident too.
func TestLegalHold(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		held := e.closedIncident(t, "Litigated incident")
		h, err := e.ret.PlaceHold(officer, retention.ScopeIncident, held.Number, "Smith v. Clinic, counsel's letter of May 2026")
		if err != nil || !h.Active() {
			t.Fatalf("place: %+v %v", h, err)
		}
		if _, err := e.ret.PlaceHold(officer, retention.ScopeIncident, held.Number, "again"); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("a second hold: %v", err)
		}
		e.clk.Advance(7 * 365 * 24 * time.Hour)

		rep := e.purge(t)
		if !e.exists(t, held) || !has(rep.Held, retention.Incidents, held.ID) || has(rep.Purged, retention.Incidents, held.ID) {
			t.Fatalf("held incident: exists %v, report %+v", e.exists(t, held), rep)
		}
		hs, err := e.ret.Holds(auditor, held.Number)
		if err != nil || len(hs) != 1 || hs[0].Reason != "Smith v. Clinic, counsel's letter of May 2026" {
			t.Fatalf("holds as the auditor: %+v %v", hs, err)
		}
		if hs, err := e.ret.Holds(as(authz.RoleResponder, "rae"), held.Number); err != nil || len(hs) != 1 || hs[0].Reason != "" {
			t.Fatalf("holds as a responder (no reason): %+v %v", hs, err)
		}
		if n := e.count(t, `SELECT count(*) FROM legal_holds WHERE reason LIKE '%Smith%'`); n != 0 {
			t.Error("the reason is stored in clear")
		}
		if _, err := e.ret.ReleaseHold(admin, retention.ScopeIncident, held.Number, "Case settled"); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ret.ReleaseHold(admin, retention.ScopeIncident, held.Number, "Case settled"); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("releasing twice: %v", err)
		}
		rep = e.purge(t)
		if e.exists(t, held) || !has(rep.Purged, retention.Incidents, held.ID) {
			t.Fatalf("released incident not purged: %+v", rep)
		}
		e.wantChainOK(t)

		// A hold on the breach case keeps the case and its incident.
		inc, err := e.incs.Create(officer, incident.CreateInput{Title: "Mis-sent fax", Severity: incident.Sev2})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.ret.PlaceHold(officer, retention.ScopeBreachCase, inc.Number, "OCR inquiry"); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("a hold on a case that does not exist: %v", err)
		}
		c, err := e.cases.Open(officer, inc.Number)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.W.Exec(`UPDATE breach_obligations SET met_at = $1, met_by = 'test' WHERE case_id = $2`, e.clk.Now(), c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.incs.Transition(officer, inc.Number, incident.Move{To: incident.Closed, Resolution: incident.FalsePositive,
			Note: "no PHI left the building"}); err != nil {
			t.Fatal(err)
		}
		if _, err := e.ret.PlaceHold(officer, retention.ScopeBreachCase, inc.Number, "OCR inquiry"); err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(7 * 365 * 24 * time.Hour)
		rep = e.purge(t)
		if !e.exists(t, inc) || e.count(t, `SELECT count(*) FROM breach_cases WHERE id = $1`, c.ID) != 1 ||
			!has(rep.Held, retention.BreachCases, c.ID) {
			t.Fatalf("held case: %+v", rep)
		}
		if _, err := e.ret.ReleaseHold(officer, retention.ScopeBreachCase, inc.Number, "Inquiry closed"); err != nil {
			t.Fatal(err)
		}
		rep = e.purge(t)
		if e.exists(t, inc) || !has(rep.Purged, retention.BreachCases, c.ID) || !has(rep.Purged, retention.Incidents, inc.ID) {
			t.Fatalf("released case: %+v", rep)
		}
		e.wantChainOK(t)
	})
}

// TestPurgeRefusedWhileChainBroken: with the audit chain failing
// verification a purge removes nothing and says why; a dry run reports it.
func TestPurgeRefusedWhileChainBroken(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		old := e.closedIncident(t, "Old incident")
		e.clk.Advance(7 * 365 * 24 * time.Hour)
		if _, err := d.W.Exec(`UPDATE audit_head SET hash = 'forged' WHERE id = 1`); err != nil {
			t.Fatal(err)
		}
		_, err := e.ret.Purge(admin, false)
		if apperr.CodeOf(err) != apperr.Conflict || !strings.Contains(err.Error(), "audit trail") {
			t.Fatalf("purge on a broken chain: %v", err)
		}
		if !e.exists(t, old) || e.count(t, `SELECT count(*) FROM retention_runs`) != 0 {
			t.Fatal("something was purged on a broken chain")
		}
		rep, err := e.ret.Preview(admin)
		if err != nil || rep.ChainOK || rep.ChainProblem == "" {
			t.Fatalf("preview on a broken chain: %+v %v", rep, err)
		}
		// A dry run takes the continuous verification's word when it
		// finds the chain intact, and walks the chain when it does not;
		// a purge walks the chain whatever the watcher says.
		watcherSays := true
		e.ret.WatchChain(func() (bool, string) {
			if watcherSays {
				return true, ""
			}
			return false, "the audit trail was altered"
		})
		if rep, err := e.ret.Preview(admin); err != nil || !rep.ChainOK {
			t.Fatalf("preview with the watcher's intact chain: %+v %v", rep, err)
		}
		watcherSays = false
		if rep, err := e.ret.Preview(admin); err != nil || rep.ChainOK || !strings.Contains(rep.ChainProblem, "fails verification at entry") {
			t.Fatalf("preview with the watcher's broken chain: %+v %v", rep, err)
		}
		watcherSays = true
		if _, err := e.ret.Purge(admin, false); apperr.CodeOf(err) != apperr.Conflict || !e.exists(t, old) {
			t.Fatalf("a purge trusting the watcher over a broken chain: %v", err)
		}
	})
}

// TestIndividualsEarlyPurge: with the early purge on, affected
// individuals' PHI goes N days after the case's incident closed and every
// obligation was met, while the case, its counts and its incident stay;
// before that, or with the policy off, it stays.
func TestIndividualsEarlyPurge(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		inc, err := e.incs.Create(officer, incident.CreateInput{Title: "Stolen backup tape", Severity: incident.Sev1})
		if err != nil {
			t.Fatal(err)
		}
		c, err := e.cases.Open(officer, inc.Number)
		if err != nil {
			t.Fatal(err)
		}
		csv := "Full Name,Address1,City,State,ZIP\r\nJane Canary,1 Main St,Reno,NV,89501\r\nBob Ray,2 Elm St,Phoenix,AZ,85001\r\n"
		if res, err := e.cases.ImportIndividuals(officer, inc.Number, strings.NewReader(csv)); err != nil || res.Created != 2 {
			t.Fatalf("import: %+v %v", res, err)
		}
		if _, err := d.W.Exec(`UPDATE breach_obligations SET met_at = $1, met_by = 'test' WHERE case_id = $2`, e.clk.Now(), c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.incs.Transition(officer, inc.Number, incident.Move{To: incident.Closed, Resolution: incident.FalsePositive,
			Note: "all notified"}); err != nil {
			t.Fatal(err)
		}
		phi := func() int {
			return e.count(t, `SELECT count(*) FROM breach_individuals WHERE case_id = $1 AND record <> ''`, c.ID)
		}

		e.clk.Advance(40 * 24 * time.Hour)
		if rep := e.purge(t); len(rep.Purged) != 0 || phi() != 2 {
			t.Fatalf("with the early purge off: %+v, %d records", rep.Purged, phi())
		}
		p := retention.Default()
		p.IndividualsPHIDays = 60
		if _, err := e.ret.SetPolicy(admin, p); err != nil {
			t.Fatal(err)
		}
		if rep := e.purge(t); len(rep.Purged) != 0 || phi() != 2 {
			t.Fatalf("40 days after close with a 60-day policy: %+v", rep.Purged)
		}
		e.clk.Advance(21 * 24 * time.Hour)
		rep := e.purge(t)
		if !has(rep.Purged, retention.IndividualsPHI, c.ID) || phi() != 0 {
			t.Fatalf("61 days after close: %+v, %d records left", rep.Purged, phi())
		}
		if !e.exists(t, inc) || e.count(t, `SELECT count(*) FROM breach_individuals WHERE case_id = $1`, c.ID) != 2 ||
			e.count(t, `SELECT count(*) FROM breach_cases WHERE id = $1 AND individuals_key = ''`, c.ID) != 1 {
			t.Fatal("the early purge removed more than the individuals' PHI, or kept the dedupe key")
		}
		list, _, err := e.cases.Individuals(officer, inc.Number, "", 10)
		if err != nil || len(list) != 2 || list[0].Person != nil {
			t.Fatalf("individuals after the purge: %+v %v", list, err)
		}
		e.wantChainOK(t)
	})
}

// TestPolicyValidation: a policy below the legal minimum, negative or
// absurd is refused naming the field; the auditor reads but changes
// nothing.
func TestPolicyValidation(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		for _, c := range []struct {
			field string
			edit  func(*retention.Policy)
		}{
			{"incidents_years", func(p *retention.Policy) { p.IncidentsYears = 5 }},
			{"breach_cases_years", func(p *retention.Policy) { p.BreachCasesYears = -1 }},
			{"sessions_years", func(p *retention.Policy) { p.SessionsYears = 1000 }},
			{"individuals_phi_days", func(p *retention.Policy) { p.IndividualsPHIDays = -30 }},
		} {
			p := retention.Default()
			c.edit(&p)
			_, err := e.ret.SetPolicy(admin, p)
			ae, ok := apperr.As(err)
			if !ok || ae.Code != apperr.Invalid || len(ae.Fields) != 1 || ae.Fields[0].Field != c.field {
				t.Errorf("%s: %v", c.field, err)
			}
		}
		set, err := e.ret.Settings(auditor)
		if err != nil || set.Policy != retention.Default() || set.UpdatedAt != nil {
			t.Fatalf("a refused policy was saved: %+v %v", set, err)
		}
		p := retention.Default()
		p.IncidentsYears = 7
		if _, err := e.ret.SetPolicy(auditor, p); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("auditor sets the policy: %v", err)
		}
		if _, err := e.ret.SetPolicy(officer, p); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("officer sets the policy: %v", err)
		}
		if _, err := e.ret.Purge(auditor, false); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("auditor purges: %v", err)
		}
		inc := e.closedIncident(t, "Any")
		if _, err := e.ret.PlaceHold(auditor, retention.ScopeIncident, inc.Number, "because"); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("auditor places a hold: %v", err)
		}
		if _, err := e.ret.PlaceHold(officer, retention.ScopeIncident, inc.Number, "  "); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("a hold without a reason: %v", err)
		}
		set, err = e.ret.SetPolicy(admin, p)
		if err != nil || set.Policy.IncidentsYears != 7 || set.UpdatedBy != "user:ada" {
			t.Fatalf("set: %+v %v", set, err)
		}
		if e.count(t, `SELECT count(*) FROM audit_log WHERE action = 'retention.policy_set'`) != 1 {
			t.Error("the policy change is not audited")
		}
	})
}
