package playbook_test

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/playbook"
)

var (
	start      = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	officer    = authz.Actor{Kind: authz.KindToken, ID: "so", Name: "officer", Role: authz.RoleSecurityOfficer}
	stakeOnly  = authz.Actor{Kind: authz.KindToken, ID: "st", Name: "stake", Role: authz.RoleStakeholder}
	responderA = authz.Actor{Kind: authz.KindUser, ID: "u-rita", Name: "rita", Role: authz.RoleResponder}
	adminA     = authz.Actor{Kind: authz.KindToken, ID: "ad", Name: "admin", Role: authz.RoleAdmin}
)

func as(a authz.Actor) context.Context { return authz.WithActor(context.Background(), a) }

type env struct {
	t      *testing.T
	d      *db.DB
	clk    *clock.Fake
	incs   *incident.Service
	pb     *playbook.Service
	opened []string
}

func newEnv(t *testing.T, d *db.DB) *env {
	clk := clock.NewFake(start)
	kr := dbtest.Keyring(t, d, start)
	incs := incident.NewService(d, clk, kr)
	pb, err := playbook.New(d, clk, kr, incs)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, d: d, clk: clk, incs: incs, pb: pb}
	pb.OpenCasesWith(func(_ context.Context, _ *sql.Tx, id string) error {
		e.opened = append(e.opened, id)
		return nil
	})
	pb.AutoOpenCases() // Ward's default, --breach-auto-open
	incs.WatchWith(incident.Watchers{pb})
	return e
}

func (e *env) count(q string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.d.R.QueryRowContext(context.Background(), q, args...).Scan(&n); err != nil {
		e.t.Fatalf("%s: %v", q, err)
	}
	return n
}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if got := apperr.CodeOf(err); err == nil || got != code {
		t.Fatalf("error = %v (%s), want %s", err, got, code)
	}
}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	e, ok := apperr.As(err)
	if !ok || e.Code != apperr.Invalid || len(e.Fields) == 0 || e.Fields[0].Field != field {
		t.Fatalf("error = %v, want 422 naming %s", err, field)
	}
}

// TestShippedPlaybooks: the eight playbooks the issue names ship, each
// valid, each task, evidence prompt and question citing a public https
// source; the lost-device playbook asks the formal investigation's
// questions; no category is claimed by two playbooks.
func TestShippedPlaybooks(t *testing.T) {
	all, err := playbook.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"business_associate", "improper_disposal", "lost_device", "misdirected", "phishing_bec", "ransomware",
		"unauthorized_disclosure", "workforce_snooping"}
	var got []string
	for k := range all {
		got = append(got, k)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("shipped %v, want %v", got, want)
	}
	claimed := map[incident.Category]string{}
	for _, p := range all {
		if p.Version < 1 {
			t.Errorf("%s: version %d", p.Key, p.Version)
		}
		for _, c := range p.Categories {
			if other, ok := claimed[c]; ok {
				t.Errorf("category %s is claimed by %s and %s", c, other, p.Key)
			}
			claimed[c] = p.Key
		}
		tasks := 0
		for _, ph := range p.Phases {
			for _, tk := range ph.Tasks {
				tasks++
				if s := p.Source(tk.Cite); !strings.HasPrefix(s.URL, "https://") {
					t.Errorf("%s: task %q cites %q, which has no public address", p.Key, tk.Title, tk.Cite)
				}
			}
		}
		if tasks == 0 {
			t.Errorf("%s has no tasks", p.Key)
		}
	}
	if claimed[incident.Loss] != "lost_device" || claimed[incident.Theft] != "lost_device" {
		t.Errorf("loss and theft apply %q and %q, want lost_device", claimed[incident.Loss], claimed[incident.Theft])
	}
	lost := all["lost_device"]
	for _, k := range []string{"asset", "serial", "encryption", "power_state", "last_location", "police_report", "remote_wipe"} {
		if _, ok := lost.Question(k); !ok {
			t.Errorf("the lost-device playbook does not ask %s", k)
		}
	}
	for _, k := range []string{"encryption", "power_state"} {
		if q, _ := lost.Question(k); q.Feeds != "secured" {
			t.Errorf("lost-device question %s feeds %q, want secured", k, q.Feeds)
		}
	}
	if rw := all["ransomware"]; !strings.Contains(rw.Source("hhs-ransomware-2016").URL, "hhs.gov") {
		t.Errorf("the ransomware playbook does not cite the HHS fact sheet")
	}
}

// TestCheckRefuses: a playbook with a task that cites nothing, a role that
// changes nothing, or an unknown phase is refused naming the field.
func TestCheckRefuses(t *testing.T) {
	all, err := playbook.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		field string
		edit  func(p *playbook.Playbook)
	}{
		{"phases[0].tasks[0].cite", func(p *playbook.Playbook) { p.Phases[0].Tasks[0].Cite = "nowhere" }},
		{"phases[0].tasks[0].owner_role", func(p *playbook.Playbook) { p.Phases[0].Tasks[0].OwnerRole = authz.RoleAuditor }},
		{"phases[0].phase", func(p *playbook.Playbook) { p.Phases[0].Phase = incident.Closed }},
		{"sources[0].url", func(p *playbook.Playbook) { p.Sources[0].URL = "http://example.org" }},
		{"questions[2].choices", func(p *playbook.Playbook) { p.Questions[2].Choices = p.Questions[2].Choices[:1] }},
	} {
		p := all["lost_device"]
		p.Phases = slices.Clone(p.Phases)
		p.Phases[0].Tasks = slices.Clone(p.Phases[0].Tasks)
		p.Sources = slices.Clone(p.Sources)
		p.Questions = slices.Clone(p.Questions)
		c.edit(&p)
		wantField(t, playbook.Check(&p), c.field)
	}
}

// TestApplyByCategory: recording a lost laptop applies the lost-device
// playbook in the same transaction: its tasks are made with their owner
// roles, due from the detection, or, for a phase not yet started, once it
// starts; the timeline and the audit trail say so; the breach case is
// opened, the incident being marked PHI-suspected (one that is not gets
// no case by itself). Applying it again by hand is refused and writes
// nothing.
func TestApplyByCategory(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		detected := start.Add(-2 * time.Hour)
		inc, err := e.incs.Create(as(officer), incident.CreateInput{Title: "Laptop left on a train", Category: incident.Loss,
			DetectedAt: &detected, PHISuspected: true})
		if err != nil {
			t.Fatal(err)
		}
		tasks, err := e.incs.Tasks(as(officer), inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		lost, _ := e.pb.Get(as(officer), "lost_device")
		n := 0
		for _, ph := range lost.Phases {
			n += len(ph.Tasks)
		}
		if len(tasks) != n {
			t.Fatalf("%d tasks, want %d", len(tasks), n)
		}
		first := tasks[0]
		if first.OwnerRole != authz.RoleResponder || first.Phase != incident.Detected || first.PlaybookID == "" ||
			first.DueAt == nil || !first.DueAt.Equal(detected.Add(4*time.Hour)) {
			t.Fatalf("first task = %+v, want the responder's, due 4 hours after detection", first)
		}
		var pending incident.Task
		for _, tk := range tasks {
			if tk.Phase == incident.Analysis {
				pending = tk
				break
			}
		}
		if pending.DueAt != nil || pending.DueAfterPhaseStart == nil || *pending.DueAfterPhaseStart != 48*time.Hour {
			t.Fatalf("analysis task = %+v, want due 48 hours after analysis starts", pending)
		}
		if got := e.count(`SELECT count(*) FROM incident_events WHERE incident_id = $1 AND kind = 'playbook'`, inc.ID); got != 1 {
			t.Fatalf("%d playbook timeline entries, want 1", got)
		}
		if got := e.count(`SELECT count(*) FROM audit_log WHERE object_id = $1 AND action = 'incident.playbook'`, inc.ID); got != 1 {
			t.Fatalf("%d playbook audit entries, want 1", got)
		}
		if !slices.Equal(e.opened, []string{inc.ID}) {
			t.Fatalf("breach cases opened for %v, want the incident's", e.opened)
		}

		e.clk.Advance(time.Hour)
		if _, err := e.incs.Transition(as(officer), inc.ID, incident.Move{To: incident.Analysis}); err != nil {
			t.Fatal(err)
		}
		tasks, _ = e.incs.Tasks(as(officer), inc.ID)
		for _, tk := range tasks {
			if tk.ID == pending.ID && (tk.DueAt == nil || !tk.DueAt.Equal(e.clk.Now().Add(48*time.Hour)) || tk.DueAfterPhaseStart != nil) {
				t.Fatalf("after analysis started the task is %+v, want due 48 hours from now", tk)
			}
		}

		before := e.count(`SELECT count(*) FROM incident_tasks`)
		_, err = e.pb.Apply(as(officer), inc.Number, "lost_device")
		wantCode(t, err, apperr.Conflict)
		if after := e.count(`SELECT count(*) FROM incident_tasks`); after != before {
			t.Fatalf("a refused apply wrote %d tasks", after-before)
		}

		unmarked, err := e.incs.Create(as(officer), incident.CreateInput{Title: "Phone lost", Category: incident.Theft})
		if err != nil {
			t.Fatal(err)
		}
		if e.count(`SELECT count(*) FROM incident_playbooks WHERE incident_id = $1`, unmarked.ID) != 1 || len(e.opened) != 1 {
			t.Fatalf("an unmarked theft: playbook not applied, or its case opened (%v)", e.opened)
		}

		// An incident of a category no playbook claims gets none; one can
		// be applied by hand, its phase-start tasks due from the phase
		// already under way.
		other, err := e.incs.Create(as(officer), incident.CreateInput{Title: "Odd sign-ins", Category: incident.HackingIT})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.count(`SELECT count(*) FROM incident_playbooks WHERE incident_id = $1`, other.ID); got != 0 {
			t.Fatalf("%d playbooks applied to a hacking incident, want none", got)
		}
		_, err = e.pb.Apply(as(stakeOnly), other.ID, "phishing_bec")
		wantCode(t, err, apperr.Forbidden)
		_, err = e.pb.Apply(as(officer), other.ID, "no_such")
		wantField(t, err, "playbook")
		a, err := e.pb.Apply(as(officer), other.ID, "phishing_bec")
		if err != nil {
			t.Fatal(err)
		}
		if a.Playbook.Key != "phishing_bec" || len(e.opened) != 1 {
			t.Fatalf("applied %s, cases opened %d: phishing does not open the case", a.Playbook.Key, len(e.opened))
		}
		// Applied by hand, a playbook that opens the case opens it.
		if _, err := e.pb.Apply(as(officer), other.ID, "ransomware"); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(e.opened, []string{inc.ID, other.ID}) {
			t.Fatalf("cases opened for %v, want the lost laptop's and the hacking incident's", e.opened)
		}
	})
}

// TestAnswers: the answers are sealed at rest, shown to roles that may see
// PHI (the read audited) and withheld from others; a bad answer is
// refused naming it and writes nothing; the timeline names the questions,
// never the answers.
func TestAnswers(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		inc, err := e.incs.Create(as(officer), incident.CreateInput{Title: "Stolen phone", Category: incident.Theft})
		if err != nil {
			t.Fatal(err)
		}
		const where = "Quillfeather Lane car park"
		_, err = e.pb.Answer(as(officer), inc.ID, "lost_device", map[string]string{"encryption": "full_disk", "power_state": "off",
			"last_location": where, "serial": "C02XK1"})
		if err != nil {
			t.Fatal(err)
		}
		var raw string
		if err := d.R.QueryRow(`SELECT answers FROM incident_playbooks WHERE incident_id = $1`, inc.ID).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if raw == "" || strings.Contains(raw, "Quillfeather") {
			t.Fatalf("answers stored as %q, want sealed", raw)
		}
		var notes string
		if err := d.R.QueryRow(`SELECT count(*) FROM incident_events WHERE incident_id = $1 AND note LIKE '%Quillfeather%'`,
			inc.ID).Scan(&notes); err != nil || notes != "0" {
			t.Fatalf("timeline notes quoting the answer: %s %v", notes, err)
		}
		reads := e.count(`SELECT count(*) FROM audit_log WHERE object_id = $1 AND action = 'incident.phi_read'`, inc.ID)
		as1, err := e.pb.Applications(as(officer), inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(as1) != 1 || as1[0].Answers["last_location"] != where || as1[0].Answers["encryption"] != "full_disk" {
			t.Fatalf("applications = %+v", as1)
		}
		if got := e.count(`SELECT count(*) FROM audit_log WHERE object_id = $1 AND action = 'incident.phi_read'`, inc.ID); got != reads+1 {
			t.Fatalf("reading the answers audited %d times, want once", got-reads)
		}
		hidden, err := e.pb.Applications(as(stakeOnly), inc.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !hidden[0].AnswersRedacted || hidden[0].Answers != nil {
			t.Fatalf("a stakeholder got %+v", hidden[0])
		}

		events := e.count(`SELECT count(*) FROM incident_events WHERE incident_id = $1`, inc.ID)
		_, err = e.pb.Answer(as(officer), inc.ID, "lost_device", map[string]string{"serial": "X", "encryption": "maybe"})
		wantField(t, err, "answers.encryption")
		_, err = e.pb.Answer(as(officer), inc.ID, "lost_device", map[string]string{"colour": "blue"})
		wantField(t, err, "answers.colour")
		_, err = e.pb.Answer(as(officer), inc.ID, "lost_device", map[string]string{"serial": strings.Repeat("x", playbook.MaxAnswer+1)})
		wantField(t, err, "answers.serial")
		_, err = e.pb.Answer(as(officer), inc.ID, "ransomware", map[string]string{"variant": "x"})
		wantCode(t, err, apperr.NotFound)
		_, err = e.pb.Answer(as(stakeOnly), inc.ID, "lost_device", map[string]string{"serial": "X"})
		wantCode(t, err, apperr.Forbidden)
		if got := e.count(`SELECT count(*) FROM incident_events WHERE incident_id = $1`, inc.ID); got != events {
			t.Fatalf("refused answers wrote %d timeline entries", got-events)
		}
		again, _ := e.pb.Applications(as(officer), inc.ID)
		if again[0].Answers["serial"] != "C02XK1" {
			t.Fatalf("a refused answer changed the serial to %q", again[0].Answers["serial"])
		}

		// An empty answer clears it; the others stay.
		if _, err := e.pb.Answer(as(officer), inc.ID, "lost_device", map[string]string{"serial": ""}); err != nil {
			t.Fatal(err)
		}
		again, _ = e.pb.Applications(as(officer), inc.ID)
		if _, ok := again[0].Answers["serial"]; ok || again[0].Answers["power_state"] != "off" {
			t.Fatalf("after clearing the serial: %v", again[0].Answers)
		}
	})
}

// TestEdit: an edit is the next version, audited; the incident it was
// applied to before keeps the version it got; a bad edit or an edit by a
// role without oncall:write is refused and writes nothing.
func TestEdit(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		before, err := e.incs.Create(as(officer), incident.CreateInput{Title: "Shredder bin left open", Category: incident.ImproperDisposal})
		if err != nil {
			t.Fatal(err)
		}
		p, err := e.pb.Get(as(officer), "improper_disposal")
		if err != nil {
			t.Fatal(err)
		}
		p.Phases[0].Tasks[0].Title = "Lock the bin and call the shredding vendor"
		p.Phases[0].Tasks[0].DueHours = 1
		_, err = e.pb.Edit(as(responderA), "improper_disposal", p)
		wantCode(t, err, apperr.Forbidden)
		bad := p
		bad.Name = ""
		_, err = e.pb.Edit(as(adminA), "improper_disposal", bad)
		wantField(t, err, "name")
		_, err = e.pb.Edit(as(adminA), "no_such", p)
		wantCode(t, err, apperr.NotFound)
		if got := e.count(`SELECT count(*) FROM playbook_versions`); got != 0 {
			t.Fatalf("refused edits stored %d versions", got)
		}
		saved, err := e.pb.Edit(as(adminA), "improper_disposal", p)
		if err != nil {
			t.Fatal(err)
		}
		if saved.Version != 2 {
			t.Fatalf("version %d, want 2", saved.Version)
		}
		if got := e.count(`SELECT count(*) FROM audit_log WHERE action = 'playbook.edit' AND object_id = 'improper_disposal'`); got != 1 {
			t.Fatalf("%d audit entries of the edit, want 1", got)
		}
		if cur, _ := e.pb.Get(as(officer), "improper_disposal"); cur.Version != 2 || cur.Phases[0].Tasks[0].DueHours != 1 {
			t.Fatalf("newest = %+v", cur)
		}
		old, _ := e.pb.Applications(as(officer), before.ID)
		if old[0].Playbook.Version != 1 || old[0].Playbook.Phases[0].Tasks[0].DueHours == 1 {
			t.Fatalf("the earlier incident's playbook changed: %+v", old[0].Playbook)
		}
		after, err := e.incs.Create(as(officer), incident.CreateInput{Title: "Drive in a skip", Category: incident.ImproperDisposal})
		if err != nil {
			t.Fatal(err)
		}
		now, _ := e.pb.Applications(as(officer), after.ID)
		if now[0].Playbook.Version != 2 {
			t.Fatalf("a new incident got version %d, want 2", now[0].Playbook.Version)
		}
	})
}

// TestMyTasksAndReminders: a responder's list holds the open tasks given to
// the responder role that nobody took on, soonest due first; once a task
// is overdue each active responder is reminded, once per due time.
func TestMyTasksAndReminders(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		if _, err := d.W.Exec(`INSERT INTO users (id, username, display_name, email, role, password_hash, disabled, created_at,
			updated_at) VALUES ('u-rita', 'rita', 'Rita', '', 'responder', 'x', false, $1, $1)`, start); err != nil {
			t.Fatal(err)
		}
		inc, err := e.incs.Create(as(officer), incident.CreateInput{Title: "Fax to the wrong clinic"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.pb.Apply(as(officer), inc.ID, "misdirected"); err != nil {
			t.Fatal(err)
		}
		// The same playbook on a restricted incident rita is not a member
		// of: its responder tasks are neither on her list nor reminded to her.
		hidden, err := e.incs.Create(as(officer), incident.CreateInput{Title: "Fax about a staff member", Restricted: true})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.pb.Apply(as(officer), hidden.ID, "misdirected"); err != nil {
			t.Fatal(err)
		}
		mine, err := e.incs.MyTasks(as(responderA))
		if err != nil {
			t.Fatal(err)
		}
		if len(mine) != 2 || mine[0].IncidentNumber != inc.Number || mine[0].Title == "" {
			t.Fatalf("rita's tasks = %+v, want the two responder tasks", mine)
		}
		for _, m := range mine {
			if m.OwnerRole != authz.RoleResponder {
				t.Fatalf("rita got a task of %s", m.OwnerRole)
			}
		}
		if none, _ := e.incs.MyTasks(as(stakeOnly)); len(none) != 0 {
			t.Fatalf("a stakeholder got %d tasks", len(none))
		}

		var told [][]string
		notify := func(_ context.Context, _ *sql.Tx, _, line string, users []string) (int, error) {
			if line != incident.TaskOverdueLine {
				t.Fatalf("line %q", line)
			}
			told = append(told, users)
			return len(users), nil
		}
		if n, err := e.incs.RemindOverdueTasks(context.Background(), notify); err != nil || n != 0 {
			t.Fatalf("before anything is due: %d, %v", n, err)
		}
		e.clk.Advance(25 * time.Hour)
		n, err := e.incs.RemindOverdueTasks(context.Background(), notify)
		if err != nil || n != 4 {
			t.Fatalf("reminded of %d (%v), want the 4 responder tasks due after 24 hours", n, err)
		}
		if len(told) != 2 || !slices.Equal(told[0], []string{"u-rita"}) || !slices.Equal(told[1], []string{"u-rita"}) {
			t.Fatalf("told %v, want rita twice, for the incident she may see only", told)
		}
		if n, _ := e.incs.RemindOverdueTasks(context.Background(), notify); n != 0 {
			t.Fatalf("reminded again of %d", n)
		}
		if _, err := e.incs.UpdateTask(as(officer), inc.ID, mine[0].ID, incident.TaskUpdate{Done: ptr(true)}); err != nil {
			t.Fatal(err)
		}
		if left, _ := e.incs.MyTasks(as(responderA)); len(left) != 1 {
			t.Fatalf("after one is done rita has %d", len(left))
		}
	})
}

func ptr[T any](v T) *T { return &v }
