package incident_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

var (
	start  = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	tester = authz.Actor{Kind: authz.KindToken, ID: "t1", Name: "tester", Role: authz.RoleAdmin}
)

// env is one test's service on one database.
type env struct {
	t   *testing.T
	d   *db.DB
	clk *clock.Fake
	svc *incident.Service
	ctx context.Context
	// keys is what svc seals with, for tests that build their own service.
	keys incident.Sealer
}

func newEnv(t *testing.T, d *db.DB) *env {
	clk := clock.NewFake(start)
	kr := dbtest.Keyring(t, d, start)
	return &env{t: t, d: d, clk: clk, svc: incident.NewService(d, clk, kr),
		ctx: authz.WithActor(context.Background(), tester), keys: kr}
}

// count counts a table's rows; for audit_log it counts the entries of
// changes, leaving out the records of PHI reads (TestPHIReads covers those).
func (e *env) count(table string) int {
	e.t.Helper()
	var n int
	q := "SELECT count(*) FROM " + table
	if table == "audit_log" {
		q += " WHERE action <> 'incident.phi_read'"
	}
	if err := e.d.R.QueryRowContext(context.Background(), q).Scan(&n); err != nil {
		e.t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// counts is how many rows each table the service writes holds.
type counts map[string]int

var tables = []string{"incidents", "incident_events", "incident_tasks", "audit_log", "counters"}

func (e *env) counts() counts {
	e.t.Helper()
	c := counts{}
	for _, tb := range tables {
		c[tb] = e.count(tb)
	}
	var head int
	if err := e.d.R.QueryRowContext(context.Background(), "SELECT seq FROM audit_head").Scan(&head); err != nil {
		e.t.Fatal(err)
	}
	var reads int
	if err := e.d.R.QueryRowContext(context.Background(),
		"SELECT count(*) FROM audit_log WHERE action = 'incident.phi_read'").Scan(&reads); err != nil {
		e.t.Fatal(err)
	}
	c["audit_head"] = head - reads
	return c
}

// expectWrites fails unless the row counts grew by exactly delta since
// before (tables not named in delta must not have changed).
func (e *env) expectWrites(before counts, delta counts) {
	e.t.Helper()
	after := e.counts()
	for k, v := range before {
		d := delta[k]
		if k == "audit_head" {
			d = delta["audit_log"]
		}
		if after[k] != v+d {
			e.t.Errorf("%s: %d rows, want %d (+%d)", k, after[k], v+d, d)
		}
	}
}

func (e *env) create(title string) incident.Incident {
	e.t.Helper()
	inc, err := e.svc.Create(e.ctx, incident.CreateInput{Title: title})
	if err != nil {
		e.t.Fatalf("create %q: %v", title, err)
	}
	return inc
}

func (e *env) get(ref string) incident.Incident {
	e.t.Helper()
	inc, err := e.svc.Get(e.ctx, ref)
	if err != nil {
		e.t.Fatalf("get %s: %v", ref, err)
	}
	return inc
}

func (e *env) timeline(ref string) []incident.Event {
	e.t.Helper()
	evs, err := e.svc.Timeline(e.ctx, ref, "", 0, 0)
	if err != nil {
		e.t.Fatalf("timeline %s: %v", ref, err)
	}
	return evs
}

// expectLastAudit checks the newest audit entry: what was done, to which
// incident, by whom, and when (the clock's now, the time of the change).
func (e *env) expectLastAudit(action, objectID string) {
	e.t.Helper()
	var a, o, actor string
	var at time.Time
	err := e.d.R.QueryRowContext(context.Background(),
		"SELECT action, object_id, actor, at FROM audit_log ORDER BY seq DESC LIMIT 1").Scan(&a, &o, &actor, &at)
	if err != nil {
		e.t.Fatalf("last audit entry: %v", err)
	}
	if a != action || o != objectID || actor != "token:tester" || !at.Equal(e.clk.Now()) {
		e.t.Errorf("last audit entry = %s %s by %s at %v, want %s %s by token:tester at %v", a, o, actor, at,
			action, objectID, e.clk.Now())
	}
}

func (e *env) verifyAudit() {
	e.t.Helper()
	res, err := audit.Verify(context.Background(), e.d.R)
	if err != nil {
		e.t.Fatalf("audit verify: %v", err)
	}
	if !res.OK {
		e.t.Fatalf("audit chain broken at %d: %s", res.BadSeq, res.Reason)
	}
	var n int64
	if err := e.d.R.QueryRowContext(context.Background(), "SELECT count(*) FROM audit_log").Scan(&n); err != nil {
		e.t.Fatal(err)
	}
	if res.Entries != n {
		e.t.Errorf("verify checked %d entries, the log has %d", res.Entries, n)
	}
}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %s", code)
	}
	if got := apperr.CodeOf(err); got != code {
		t.Fatalf("error code = %s (%v), want %s", got, err, code)
	}
}

func wantField(t *testing.T, err error, field string) {
	t.Helper()
	wantCode(t, err, apperr.Invalid)
	e, _ := apperr.As(err)
	if len(e.Fields) != 1 || e.Fields[0].Field != field {
		t.Fatalf("error fields = %v (%v), want %q", e.Fields, err, field)
	}
}

func ptr[T any](v T) *T { return &v }

func TestCreate(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		before := e.counts()
		first := e.create("Phishing reported by front desk")
		e.expectWrites(before, counts{"incidents": 1, "incident_events": 1, "audit_log": 1, "counters": 1})
		e.expectLastAudit("incident.create", first.ID)

		if first.Number != "INC-2026-0001" {
			t.Errorf("first number = %q, want INC-2026-0001", first.Number)
		}
		if first.Severity != incident.Sev3 || first.Category != incident.NotYetKnown || first.Status != incident.Detected {
			t.Errorf("defaults = %s/%s/%s, want sev3/not_yet_known/detected", first.Severity, first.Category, first.Status)
		}
		if first.Version != 1 || !first.DetectedAt.Equal(start) || !first.CreatedAt.Equal(start) || !first.UpdatedAt.Equal(start) {
			t.Errorf("version/detected/created/updated = %d/%v/%v/%v, want 1 and %v", first.Version, first.DetectedAt,
				first.CreatedAt, first.UpdatedAt, start)
		}
		if first.CreatedBy != "token:tester" || first.PHISuspected || first.OccurredAt != nil || first.ClosedAt != nil ||
			first.Resolution != "" || len(first.Customers) != 0 || len(first.NotApplicable) != 0 {
			t.Errorf("unexpected fields on a minimal incident: %+v", first)
		}
		if first.ID == "" {
			t.Error("no id")
		}

		// What Create returns is what Get reads back, by id and by number.
		for _, ref := range []string{first.ID, first.Number} {
			if got := e.get(ref); !reflect.DeepEqual(got, first) {
				t.Errorf("Get(%s) =\n%+v\nwant\n%+v", ref, got, first)
			}
		}

		// The timeline starts with the created event.
		evs := e.timeline(first.ID)
		if len(evs) != 1 || evs[0].Kind != incident.EventCreated || evs[0].Seq != 1 || evs[0].ToStatus != incident.Detected ||
			evs[0].Actor != "token:tester" || !evs[0].At.Equal(start) || evs[0].IncidentID != first.ID {
			t.Errorf("timeline after create = %+v", evs)
		}

		e.clk.Advance(time.Minute)
		e.addUser("alice", authz.RoleResponder)
		ny := time.FixedZone("EST", -5*3600)
		occurred := time.Date(2026, 3, 9, 22, 0, 0, 123456789, ny)
		detected := time.Date(2026, 3, 10, 6, 30, 0, 0, ny)
		second, err := e.svc.Create(e.ctx, incident.CreateInput{
			Title: "Laptop stolen", Description: "contains patient list", Severity: incident.Sev1,
			Category: incident.Theft, PHISuspected: true, OccurredAt: &occurred, DetectedAt: &detected,
			Commander: "alice", Customers: []string{"Acme Clinic", "Beta Hospital"},
		})
		if err != nil {
			t.Fatal(err)
		}
		if second.Number != "INC-2026-0002" {
			t.Errorf("second number = %q, want INC-2026-0002", second.Number)
		}
		got := e.get(second.Number)
		if !reflect.DeepEqual(got, second) {
			t.Errorf("Get =\n%+v\nwant\n%+v", got, second)
		}
		if got.Severity != incident.Sev1 || got.Category != incident.Theft || !got.PHISuspected || got.Commander != "alice" ||
			got.Description != "contains patient list" || !slices.Equal(got.Customers, []string{"Acme Clinic", "Beta Hospital"}) {
			t.Errorf("stored fields = %+v", got)
		}
		// Times are stored in UTC, truncated to microseconds.
		if got.OccurredAt == nil || *got.OccurredAt != clock.Normalize(occurred) || got.OccurredAt.Location() != time.UTC {
			t.Errorf("occurred_at = %v, want %v", got.OccurredAt, clock.Normalize(occurred))
		}
		if got.DetectedAt != clock.Normalize(detected) {
			t.Errorf("detected_at = %v, want %v", got.DetectedAt, clock.Normalize(detected))
		}

		// Numbers count per year.
		e.clk.Set(time.Date(2027, 1, 1, 0, 0, 1, 0, time.UTC))
		if n := e.create("New year").Number; n != "INC-2027-0001" {
			t.Errorf("first number of 2027 = %q, want INC-2027-0001", n)
		}
		e.clk.Advance(time.Second)
		if n := e.create("Second of the year").Number; n != "INC-2027-0002" {
			t.Errorf("second number of 2027 = %q, want INC-2027-0002", n)
		}
		e.verifyAudit()
	})
}

func TestCreateValidation(t *testing.T) {
	now := start
	future := now.Add(10 * time.Minute)
	nearFuture := now.Add(time.Minute) // within the allowed clock skew
	early := now.Add(-48 * time.Hour)
	late := now.Add(-time.Hour)
	many := make([]string, incident.MaxCustomers+1)
	for i := range many {
		many[i] = fmt.Sprintf("customer %d", i)
	}
	cases := []struct {
		name  string
		in    incident.CreateInput
		field string // "" means valid
	}{
		{"empty title", incident.CreateInput{}, "title"},
		{"blank title", incident.CreateInput{Title: " \t "}, "title"},
		{"title too long", incident.CreateInput{Title: strings.Repeat("x", incident.MaxTitle+1)}, "title"},
		{"title of multibyte characters at the limit", incident.CreateInput{Title: strings.Repeat("é", incident.MaxTitle)}, ""},
		{"title too long in characters", incident.CreateInput{Title: strings.Repeat("é", incident.MaxTitle+1)}, "title"},
		{"title not UTF-8", incident.CreateInput{Title: "bad \xff byte"}, "title"},
		{"description too long", incident.CreateInput{Title: "t", Description: strings.Repeat("d", incident.MaxDescription+1)}, "description"},
		{"bad severity", incident.CreateInput{Title: "t", Severity: "sev0"}, "severity"},
		{"severity in the wrong case", incident.CreateInput{Title: "t", Severity: "SEV1"}, "severity"},
		{"bad category", incident.CreateInput{Title: "t", Category: "aliens"}, "category"},
		{"commander too long", incident.CreateInput{Title: "t", Commander: strings.Repeat("c", incident.MaxName+1)}, "commander"},
		{"too many customers", incident.CreateInput{Title: "t", Customers: many}, "customers"},
		{"empty customer", incident.CreateInput{Title: "t", Customers: []string{"Acme", ""}}, "customers"},
		{"occurred after detected", incident.CreateInput{Title: "t", OccurredAt: &late, DetectedAt: &early}, "occurred_at"},
		{"occurred after now by default detection", incident.CreateInput{Title: "t", OccurredAt: &nearFuture}, "occurred_at"},
		{"occurred in the future", incident.CreateInput{Title: "t", OccurredAt: &future}, "occurred_at"},
		{"detected and occurred in the future", incident.CreateInput{Title: "t", OccurredAt: &future, DetectedAt: &future}, "detected_at"},
		{"detected in the future", incident.CreateInput{Title: "t", DetectedAt: &future}, "detected_at"},
		{"detected within clock skew", incident.CreateInput{Title: "t", DetectedAt: &nearFuture}, ""},
		{"occurred before detected", incident.CreateInput{Title: "t", OccurredAt: &early, DetectedAt: &late}, ""},
		{"occurred equals detected", incident.CreateInput{Title: "t", OccurredAt: &late, DetectedAt: &late}, ""},
	}
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		valid := 0
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				e.t = t
				before := e.counts()
				inc, err := e.svc.Create(e.ctx, tc.in)
				if tc.field == "" {
					if err != nil {
						t.Fatalf("Create = %v, want it to succeed", err)
					}
					valid++
					if want := fmt.Sprintf("INC-2026-%04d", valid); inc.Number != want {
						t.Errorf("number = %s, want %s (a refused create must not use up a number)", inc.Number, want)
					}
					return
				}
				wantField(t, err, tc.field)
				if inc.ID != "" {
					t.Errorf("Create returned %+v with an error", inc)
				}
				e.expectWrites(before, nil)
			})
		}
		e.t = t
		e.verifyAudit()
	})
}

func TestGetNotFoundAndAuth(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		inc := e.create("Exists")
		for _, ref := range []string{"", "nope", "INC-2026-0002", "inc-2026-0001", inc.ID + "x", "' OR 1=1 --"} {
			_, err := e.svc.Get(e.ctx, ref)
			wantCode(t, err, apperr.NotFound)
		}

		before := e.counts()
		missing := "INC-2026-9999"
		_, err := e.svc.Update(e.ctx, missing, incident.UpdateInput{Title: ptr("x")})
		wantCode(t, err, apperr.NotFound)
		_, err = e.svc.Transition(e.ctx, missing, incident.Move{To: incident.Analysis})
		wantCode(t, err, apperr.NotFound)
		_, err = e.svc.AddNote(e.ctx, missing, "hello")
		wantCode(t, err, apperr.NotFound)
		_, err = e.svc.Timeline(e.ctx, missing, "", 0, 0)
		wantCode(t, err, apperr.NotFound)
		_, err = e.svc.CreateTask(e.ctx, missing, incident.TaskInput{Title: "x"})
		wantCode(t, err, apperr.NotFound)
		_, err = e.svc.Tasks(e.ctx, missing)
		wantCode(t, err, apperr.NotFound)
		_, err = e.svc.UpdateTask(e.ctx, inc.ID, "no-such-task", incident.TaskUpdate{Done: ptr(true)})
		wantCode(t, err, apperr.NotFound)
		e.expectWrites(before, nil)

		// No actor: every method refuses before touching anything.
		for name, ctx := range map[string]context.Context{
			"no actor":     context.Background(),
			"unknown role": authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, Name: "x", Role: "viewer"}),
		} {
			code := apperr.Unauthorized
			if name == "unknown role" {
				code = apperr.Forbidden
			}
			t.Run(name, func(t *testing.T) {
				_, err := e.svc.Create(ctx, incident.CreateInput{Title: "x"})
				wantCode(t, err, code)
				_, err = e.svc.Get(ctx, inc.ID)
				wantCode(t, err, code)
				_, err = e.svc.List(ctx, incident.Filter{})
				wantCode(t, err, code)
				_, err = e.svc.Update(ctx, inc.ID, incident.UpdateInput{Title: ptr("x")})
				wantCode(t, err, code)
				_, err = e.svc.Transition(ctx, inc.ID, incident.Move{To: incident.Analysis})
				wantCode(t, err, code)
				_, err = e.svc.AddNote(ctx, inc.ID, "hello")
				wantCode(t, err, code)
				_, err = e.svc.Timeline(ctx, inc.ID, "", 0, 0)
				wantCode(t, err, code)
				_, err = e.svc.CreateTask(ctx, inc.ID, incident.TaskInput{Title: "x"})
				wantCode(t, err, code)
				_, err = e.svc.UpdateTask(ctx, inc.ID, "t", incident.TaskUpdate{Done: ptr(true)})
				wantCode(t, err, code)
				_, err = e.svc.Tasks(ctx, inc.ID)
				wantCode(t, err, code)
			})
		}
		e.expectWrites(before, nil)
		e.verifyAudit()
	})
}

// ids returns the incidents' ids.
func ids(incs []incident.Incident) []string {
	out := make([]string, len(incs))
	for i, inc := range incs {
		out[i] = inc.ID
	}
	return out
}

// numbers returns the incidents' numbers.
func numbers(incs []incident.Incident) []string {
	out := make([]string, len(incs))
	for i, inc := range incs {
		out[i] = inc.Number
	}
	return out
}

func TestListFilters(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		type spec struct {
			title    string
			sev      incident.Severity
			cat      incident.Category
			phi      bool
			analysis bool
		}
		specs := []spec{
			{"Ransomware on FILE server", incident.Sev1, incident.HackingIT, true, true},  // 0001
			{"100% CPU on web tier", incident.Sev3, incident.OtherCategory, false, false}, // 0002
			{"1000 failed logins", incident.Sev2, incident.HackingIT, false, true},        // 0003
			{"db_backup bucket public", incident.Sev1, incident.UnauthorizedAccess, true, false},
			{"dbXbackup restore test", incident.Sev4, incident.OtherCategory, false, false}, // 0005
			{`Share C:\temp exposed`, incident.Sev2, incident.UnauthorizedAccess, true, true},
			{"Stolen laptop", incident.Sev2, incident.Theft, true, false}, // 0007
		}
		var times []time.Time
		for _, s := range specs {
			_, err := e.svc.Create(e.ctx, incident.CreateInput{Title: s.title, Severity: s.sev, Category: s.cat, PHISuspected: s.phi})
			if err != nil {
				t.Fatal(err)
			}
			if s.analysis {
				e.clk.Advance(time.Second)
				if _, err := e.svc.Transition(e.ctx, fmt.Sprintf("INC-2026-%04d", len(times)+1),
					incident.Move{To: incident.Analysis}); err != nil {
					t.Fatal(err)
				}
			}
			times = append(times, e.clk.Now())
			e.clk.Advance(time.Hour)
		}
		n := func(is ...int) []string {
			out := make([]string, len(is))
			for i, x := range is {
				out[i] = fmt.Sprintf("INC-2026-%04d", x)
			}
			return out
		}
		// created_at of incident i (1-based) is times[i-1] minus one second
		// when it moved to analysis; use instants between incidents.
		between := func(i int) *time.Time { v := times[i-1].Add(30 * time.Minute); return &v }
		est := time.FixedZone("EST", -5*3600)
		inEST := func(t *time.Time) *time.Time { v := t.In(est); return &v }
		tru, fls := true, false
		cases := []struct {
			name string
			f    incident.Filter
			want []string
		}{
			{"all, newest first", incident.Filter{}, n(7, 6, 5, 4, 3, 2, 1)},
			{"status analysis", incident.Filter{Status: incident.Analysis}, n(6, 3, 1)},
			{"status detected", incident.Filter{Status: incident.Detected}, n(7, 5, 4, 2)},
			{"status closed", incident.Filter{Status: incident.Closed}, n()},
			{"severity sev1", incident.Filter{Severity: incident.Sev1}, n(4, 1)},
			{"severity sev2", incident.Filter{Severity: incident.Sev2}, n(7, 6, 3)},
			{"category hacking", incident.Filter{Category: incident.HackingIT}, n(3, 1)},
			{"category theft", incident.Filter{Category: incident.Theft}, n(7)},
			{"phi suspected", incident.Filter{PHISuspected: &tru}, n(7, 6, 4, 1)},
			{"phi not suspected", incident.Filter{PHISuspected: &fls}, n(5, 3, 2)},
			{"text ignores case", incident.Filter{Text: "file SERVER"}, n(1)},
			{"text needs every word", incident.Filter{Text: "server laptop"}, n()},
			{"text words in any order", incident.Filter{Text: "server ransomware"}, n(1)},
			{"text matches whole words only", incident.Filter{Text: "LOG"}, n()},
			{"text whole word", incident.Filter{Text: "logins"}, n(3)},
			{"text punctuation splits words", incident.Filter{Text: "100%"}, n(2)},
			{"text underscore splits words", incident.Filter{Text: "db_backup"}, n(4)},
			{"text backslash splits words", incident.Filter{Text: `c:\temp`}, n(6)},
			{"text matches number", incident.Filter{Text: "inc-2026-0005"}, n(5)},
			{"text no match", incident.Filter{Text: "zzz"}, n()},
			{"text lone percent", incident.Filter{Text: "%"}, n()},
			{"text lone underscore", incident.Filter{Text: "_"}, n()},
			{"created after (inclusive)", incident.Filter{CreatedAfter: between(4)}, n(7, 6, 5)},
			{"created before (exclusive)", incident.Filter{CreatedBefore: between(2)}, n(2, 1)},
			{"created range", incident.Filter{CreatedAfter: between(2), CreatedBefore: between(5)}, n(5, 4, 3)},
			{"created range given in another time zone",
				incident.Filter{CreatedAfter: inEST(between(2)), CreatedBefore: inEST(between(5))}, n(5, 4, 3)},
			{"filters combine", incident.Filter{Severity: incident.Sev2, PHISuspected: &tru, Status: incident.Detected}, n(7)},
			{"filters combine with text", incident.Filter{Category: incident.UnauthorizedAccess, Text: "public"}, n(4)},
		}
		// The created-at boundaries are exact: an incident created at the
		// CreatedAfter instant is included, at the CreatedBefore instant excluded.
		third := e.get("INC-2026-0003").CreatedAt
		cases = append(cases,
			struct {
				name string
				f    incident.Filter
				want []string
			}{"created after an exact created_at", incident.Filter{CreatedAfter: &third, CreatedBefore: between(4)}, n(4, 3)},
			struct {
				name string
				f    incident.Filter
				want []string
			}{"created before an exact created_at", incident.Filter{CreatedAfter: between(1), CreatedBefore: &third}, n(2)},
		)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				p, err := e.svc.List(e.ctx, tc.f)
				if err != nil {
					t.Fatal(err)
				}
				if got := numbers(p.Items); !slices.Equal(got, tc.want) {
					t.Errorf("List = %v, want %v", got, tc.want)
				}
				if p.Next != nil {
					t.Errorf("Next = %+v on a single page", p.Next)
				}
			})
		}

		for _, tc := range []struct {
			f     incident.Filter
			field string
		}{
			{incident.Filter{Status: "open"}, "status"},
			{incident.Filter{Severity: "sev9"}, "severity"},
			{incident.Filter{Category: "aliens"}, "category"},
			{incident.Filter{Text: strings.Repeat("q", incident.MaxTitle+1)}, "q"},
			{incident.Filter{Limit: -1}, "limit"},
			{incident.Filter{Limit: incident.MaxLimit + 1}, "limit"},
		} {
			_, err := e.svc.List(e.ctx, tc.f)
			wantField(t, err, tc.field)
		}
		if p, err := e.svc.List(e.ctx, incident.Filter{Limit: incident.MaxLimit}); err != nil || len(p.Items) != len(specs) {
			t.Errorf("List with the largest limit = %d items, %v", len(p.Items), err)
		}
	})
}

func TestListPagination(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		var all []incident.Incident
		for i := range 24 {
			title := fmt.Sprintf("incident %02d", i)
			if i >= 10 && i < 20 {
				title += " teen"
			}
			all = append(all, e.create(title))
			// Incidents 8 to 13 share one created_at: the id breaks the tie.
			if i < 8 || i >= 13 {
				e.clk.Advance(time.Duration(i+1) * time.Second)
			}
		}
		slices.SortFunc(all, func(a, b incident.Incident) int {
			if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
				return c
			}
			return strings.Compare(b.ID, a.ID)
		})
		want := make([]string, len(all))
		for i, inc := range all {
			want[i] = inc.ID
		}
		tied := 0
		for _, inc := range all {
			if inc.CreatedAt.Equal(all[10].CreatedAt) {
				tied++
			}
		}
		if tied != 6 {
			t.Fatalf("%d incidents share a created_at, want 6", tied)
		}

		for _, limit := range []int{1, 4, 5, 6, 7, 23, 24, 25} {
			t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
				var got []string
				f := incident.Filter{Limit: limit}
				pages := 0
				for {
					p, err := e.svc.List(e.ctx, f)
					if err != nil {
						t.Fatal(err)
					}
					pages++
					if len(p.Items) > limit {
						t.Fatalf("page of %d items, limit %d", len(p.Items), limit)
					}
					for _, inc := range p.Items {
						got = append(got, inc.ID)
					}
					if p.Next == nil {
						break
					}
					if len(p.Items) != limit {
						t.Errorf("a page with a next cursor has %d items, want %d", len(p.Items), limit)
					}
					last := p.Items[len(p.Items)-1]
					if !p.Next.CreatedAt.Equal(last.CreatedAt) || p.Next.ID != last.ID {
						t.Errorf("cursor %+v does not point at the last item %s/%v", p.Next, last.ID, last.CreatedAt)
					}
					if pages > len(all)+1 {
						t.Fatal("pagination does not end")
					}
					f.After = p.Next
				}
				if !slices.Equal(got, want) {
					t.Errorf("paged ids =\n%v\nwant\n%v", got, want)
				}
				if wantPages := (len(all) + limit - 1) / limit; pages != wantPages {
					t.Errorf("%d pages, want %d (no empty last page)", pages, wantPages)
				}
			})
		}

		// A cursor given in another time zone means the same instant.
		p, err := e.svc.List(e.ctx, incident.Filter{Limit: 12})
		if err != nil || p.Next == nil {
			t.Fatalf("first page: %v", err)
		}
		after := *p.Next
		after.CreatedAt = after.CreatedAt.In(time.FixedZone("X", 3*3600+1800))
		p2, err := e.svc.List(e.ctx, incident.Filter{Limit: 12, After: &after})
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(p2.Items); !slices.Equal(got, want[12:]) {
			t.Errorf("page after a cursor in +03:30 = %v, want %v", got, want[12:])
		}

		// Pagination combines with a filter.
		var got []string
		f := incident.Filter{Text: "teen", Limit: 3}
		for {
			p, err := e.svc.List(e.ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, inc := range p.Items {
				got = append(got, inc.Title)
			}
			if p.Next == nil {
				break
			}
			f.After = p.Next
		}
		slices.Sort(got)
		if wantTitles := []string{"incident 10 teen", "incident 11 teen", "incident 12 teen", "incident 13 teen",
			"incident 14 teen", "incident 15 teen", "incident 16 teen", "incident 17 teen", "incident 18 teen",
			"incident 19 teen"}; !slices.Equal(got, wantTitles) {
			t.Errorf("filtered pages = %v, want %v", got, wantTitles)
		}
	})
}

// changeOf returns the change to field in ev, failing if there is none.
func changeOf(t *testing.T, ev incident.Event, field string) incident.Change {
	t.Helper()
	for _, c := range ev.Changes {
		if c.Field == field {
			return c
		}
	}
	t.Fatalf("event %d has no change to %s: %+v", ev.Seq, field, ev.Changes)
	return incident.Change{}
}

func TestUpdate(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.addUser("alice", authz.RoleResponder)
		inc, err := e.svc.Create(e.ctx, incident.CreateInput{Title: "Old title", Description: "first " + canary})
		if err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(time.Hour)
		now := e.clk.Now()
		occurred := start.Add(-time.Hour)
		detected := start.Add(-30 * time.Minute)
		before := e.counts()
		got, err := e.svc.Update(e.ctx, inc.Number, incident.UpdateInput{
			Title: ptr("New title"), Description: ptr("second " + canary), Severity: ptr(incident.Sev1),
			Category: ptr(incident.Loss), PHISuspected: ptr(true), OccurredAt: &occurred, DetectedAt: &detected,
			Commander: ptr("alice"), Customers: ptr([]string{"Acme"}),
		})
		if err != nil {
			t.Fatal(err)
		}
		e.expectWrites(before, counts{"incident_events": 1, "audit_log": 1})
		e.expectLastAudit("incident.update", inc.ID)
		if got.Version != 2 || !got.UpdatedAt.Equal(now) || !got.CreatedAt.Equal(start) {
			t.Errorf("version %d updated %v created %v, want 2, %v, %v", got.Version, got.UpdatedAt, got.CreatedAt, now, start)
		}
		if stored := e.get(inc.ID); !reflect.DeepEqual(stored, got) {
			t.Errorf("stored =\n%+v\nreturned\n%+v", stored, got)
		}
		if got.Title != "New title" || got.Description != "second "+canary || got.Severity != incident.Sev1 ||
			got.Category != incident.Loss || !got.PHISuspected || got.OccurredAt == nil || !got.OccurredAt.Equal(occurred) ||
			!got.DetectedAt.Equal(detected) || got.Commander != "alice" || !slices.Equal(got.Customers, []string{"Acme"}) {
			t.Errorf("updated incident = %+v", got)
		}

		evs := e.timeline(inc.ID)
		if len(evs) != 2 {
			t.Fatalf("timeline has %d events, want 2", len(evs))
		}
		ev := evs[1]
		if ev.Kind != incident.EventEdit || ev.Seq != 2 || !ev.At.Equal(now) || ev.Actor != "token:tester" {
			t.Errorf("edit event = %+v", ev)
		}
		if len(ev.Changes) != 9 {
			t.Errorf("edit event has %d changes, want 9: %+v", len(ev.Changes), ev.Changes)
		}
		for _, c := range []struct {
			field    string
			old, new any
		}{
			{"severity", "sev3", "sev1"},
			{"category", "not_yet_known", "loss"},
			{"phi_suspected", false, true},
			{"occurred_at", nil, occurred.Format(time.RFC3339Nano)},
			{"detected_at", start.Format(time.RFC3339Nano), detected.Format(time.RFC3339Nano)},
			{"commander", "", "alice"},
			{"customers", []any{}, []any{"Acme"}},
		} {
			ch := changeOf(t, ev, c.field)
			if !reflect.DeepEqual(ch.Old, c.old) || !reflect.DeepEqual(ch.New, c.new) || ch.Redacted {
				t.Errorf("change to %s = %#v -> %#v (redacted %v), want %#v -> %#v", c.field, ch.Old, ch.New, ch.Redacted, c.old, c.new)
			}
		}
		for _, f := range []string{"title", "description"} {
			if ch := changeOf(t, ev, f); !ch.Redacted || ch.Old != nil || ch.New != nil {
				t.Errorf("%s change = %+v, want redacted with no values", f, ch)
			}
		}
		// The description's text reaches neither the timeline nor the audit trail.
		for _, q := range []string{"SELECT changes FROM incident_events", "SELECT note FROM incident_events",
			"SELECT actor || action || object_id || digest FROM audit_log"} {
			rows, err := d.R.QueryContext(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var s string
				if err := rows.Scan(&s); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(s, "CANARY") {
					t.Errorf("%s holds the description: %s", q, s)
				}
			}
			rows.Close()
		}

		// Setting fields to the values they hold writes nothing.
		e.clk.Advance(time.Minute)
		before = e.counts()
		same, err := e.svc.Update(e.ctx, inc.ID, incident.UpdateInput{
			Title: ptr("New title"), Description: ptr("second " + canary), Severity: ptr(incident.Sev1),
			PHISuspected: ptr(true), OccurredAt: &occurred, DetectedAt: ptr(detected.In(time.FixedZone("X", 7200))),
			Commander: ptr("alice"), Customers: ptr([]string{"Acme"}),
		})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(same, got) {
			t.Errorf("no-op update returned\n%+v\nwant\n%+v", same, got)
		}
		if none, err := e.svc.Update(e.ctx, inc.ID, incident.UpdateInput{}); err != nil || none.Version != 2 {
			t.Errorf("empty update = version %d, %v", none.Version, err)
		}
		e.expectWrites(before, nil)
		if v := e.get(inc.ID); v.Version != 2 || !v.UpdatedAt.Equal(now) {
			t.Errorf("after no-op updates version %d updated %v, want 2, %v", v.Version, v.UpdatedAt, now)
		}

		// Invalid updates write nothing and name the field.
		for _, c := range []struct {
			in    incident.UpdateInput
			field string
		}{
			{incident.UpdateInput{Title: ptr("")}, "title"},
			{incident.UpdateInput{Title: ptr(strings.Repeat("t", incident.MaxTitle+1))}, "title"},
			{incident.UpdateInput{Severity: ptr(incident.Severity("urgent"))}, "severity"},
			{incident.UpdateInput{Category: ptr(incident.Category("x"))}, "category"},
			{incident.UpdateInput{OccurredAt: ptr(detected.Add(time.Minute))}, "occurred_at"},
			{incident.UpdateInput{DetectedAt: ptr(occurred.Add(-time.Minute))}, "occurred_at"},
			{incident.UpdateInput{DetectedAt: ptr(e.clk.Now().Add(time.Hour))}, "detected_at"},
			{incident.UpdateInput{Customers: ptr([]string{" "})}, "customers"},
			{incident.UpdateInput{Title: ptr("fine"), Commander: ptr(strings.Repeat("c", incident.MaxName+1))}, "commander"},
		} {
			_, err := e.svc.Update(e.ctx, inc.ID, c.in)
			wantField(t, err, c.field)
		}
		e.expectWrites(before, nil)
		if v := e.get(inc.ID); !reflect.DeepEqual(v, got) {
			t.Errorf("after refused updates =\n%+v\nwant\n%+v", v, got)
		}

		// Clearing the customer list is a change; nil and empty are the same list.
		cleared, err := e.svc.Update(e.ctx, inc.ID, incident.UpdateInput{Customers: ptr([]string(nil))})
		if err != nil {
			t.Fatal(err)
		}
		if cleared.Customers == nil || len(cleared.Customers) != 0 || cleared.Version != 3 {
			t.Errorf("cleared customers = %#v version %d", cleared.Customers, cleared.Version)
		}
		before = e.counts()
		if _, err := e.svc.Update(e.ctx, inc.ID, incident.UpdateInput{Customers: ptr([]string{})}); err != nil {
			t.Fatal(err)
		}
		e.expectWrites(before, nil)
		e.verifyAudit()
	})
}

func TestTransitionLifecycle(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		inc := e.create("Ransomware")
		steps := []struct {
			in   incident.Move
			from incident.Status
		}{
			{incident.Move{To: incident.Analysis, Note: "triaged"}, incident.Detected},
			{incident.Move{To: incident.Containment}, incident.Analysis},
			{incident.Move{To: incident.Eradication}, incident.Containment},
			{incident.Move{To: incident.Analysis, Note: "second host found"}, incident.Eradication},
			{incident.Move{To: incident.Containment}, incident.Analysis},
			{incident.Move{To: incident.Recovery, Note: "reimaged, nothing to eradicate",
				NotApplicable: []incident.Status{incident.Eradication}}, incident.Containment},
			{incident.Move{To: incident.PostIncident}, incident.Recovery},
			{incident.Move{To: incident.Closed, Resolution: incident.Resolved}, incident.PostIncident},
		}
		version := int64(1)
		for _, s := range steps {
			e.clk.Advance(time.Minute)
			if s.in.Resolution == incident.Resolved {
				// Closing as resolved needs the review complete (TestCloseNeedsReview).
				e.completeReview(inc.Number)
				version += 2
			}
			before := e.counts()
			got, err := e.svc.Transition(e.ctx, inc.Number, s.in)
			if err != nil {
				t.Fatalf("%s -> %s: %v", s.from, s.in.To, err)
			}
			version++
			e.expectWrites(before, counts{"incident_events": 1, "audit_log": 1})
			e.expectLastAudit("incident.transition", inc.ID)
			if got.Status != s.in.To || got.Version != version || !got.UpdatedAt.Equal(e.clk.Now()) {
				t.Errorf("after -> %s: status %s version %d updated %v", s.in.To, got.Status, got.Version, got.UpdatedAt)
			}
			if stored := e.get(inc.ID); !reflect.DeepEqual(stored, got) {
				t.Errorf("stored =\n%+v\nreturned\n%+v", stored, got)
			}
			evs := e.timeline(inc.ID)
			ev := evs[len(evs)-1]
			if ev.Kind != incident.EventTransition || ev.FromStatus != s.from || ev.ToStatus != s.in.To || ev.Seq != version ||
				ev.Note != s.in.Note || !ev.At.Equal(e.clk.Now()) {
				t.Errorf("transition event = %+v, want %s -> %s at seq %d", ev, s.from, s.in.To, version)
			}
			if c := changeOf(t, ev, "status"); c.Old != string(s.from) || c.New != string(s.in.To) {
				t.Errorf("status change = %v -> %v", c.Old, c.New)
			}
			if s.in.To == incident.Recovery {
				if !slices.Equal(got.NotApplicable, []incident.Status{incident.Eradication}) {
					t.Errorf("not applicable after skipping = %v", got.NotApplicable)
				}
				if c := changeOf(t, ev, "not_applicable"); !reflect.DeepEqual(c.New, []any{"eradication"}) {
					t.Errorf("not_applicable change = %#v -> %#v", c.Old, c.New)
				}
			}
			if got.Status != incident.Closed && got.ClosedAt != nil {
				t.Errorf("closed_at = %v while %s", got.ClosedAt, got.Status)
			}
		}
		closedAt := e.clk.Now()
		closed := e.get(inc.ID)
		if closed.ClosedAt == nil || !closed.ClosedAt.Equal(closedAt) || closed.Resolution != incident.Resolved {
			t.Errorf("closed: closed_at %v resolution %q, want %v resolved", closed.ClosedAt, closed.Resolution, closedAt)
		}

		// Illegal moves change nothing.
		for _, c := range []struct {
			in   incident.Move
			code apperr.Code
		}{
			{incident.Move{To: incident.Containment, Note: "x"}, apperr.Conflict},
			{incident.Move{To: incident.Closed, Resolution: incident.Resolved}, apperr.Conflict},
			{incident.Move{To: incident.Analysis}, apperr.Invalid},
			{incident.Move{To: "open", Note: "x"}, apperr.Invalid},
			{incident.Move{To: incident.Analysis, Note: strings.Repeat("n", incident.MaxNote+1)}, apperr.Invalid},
		} {
			e.clk.Advance(time.Minute)
			before := e.counts()
			_, err := e.svc.Transition(e.ctx, inc.ID, c.in)
			wantCode(t, err, c.code)
			e.expectWrites(before, nil)
			if v := e.get(inc.ID); !reflect.DeepEqual(v, closed) {
				t.Errorf("refused %s changed the incident:\n%+v\nwas\n%+v", c.in.To, v, closed)
			}
		}

		// Reopening clears the resolution and closed_at.
		e.clk.Advance(time.Hour)
		reopened, err := e.svc.Transition(e.ctx, inc.ID, incident.Move{To: incident.Analysis, Note: "data found on the dark web"})
		if err != nil {
			t.Fatal(err)
		}
		if reopened.Status != incident.Analysis || reopened.ClosedAt != nil || reopened.Resolution != "" ||
			len(reopened.NotApplicable) != 0 || reopened.NotApplicable == nil {
			t.Errorf("reopened = %+v", reopened)
		}
		if stored := e.get(inc.ID); !reflect.DeepEqual(stored, reopened) {
			t.Errorf("stored =\n%+v\nreturned\n%+v", stored, reopened)
		}
		evs := e.timeline(inc.ID)
		last := evs[len(evs)-1]
		if c := changeOf(t, last, "resolution"); c.Old != "resolved" || c.New != "" {
			t.Errorf("resolution change on reopen = %#v -> %#v", c.Old, c.New)
		}
		if c := changeOf(t, last, "not_applicable"); !reflect.DeepEqual(c.Old, []any{"eradication"}) || !reflect.DeepEqual(c.New, []any{}) {
			t.Errorf("not_applicable change on reopen = %#v -> %#v", c.Old, c.New)
		}

		// A disposition closes straight from analysis.
		e.clk.Advance(time.Minute)
		fp, err := e.svc.Transition(e.ctx, inc.ID, incident.Move{To: incident.Closed,
			Resolution: incident.FalsePositive, Note: "it was the red team"})
		if err != nil {
			t.Fatal(err)
		}
		if fp.Status != incident.Closed || fp.Resolution != incident.FalsePositive || fp.ClosedAt == nil ||
			!fp.ClosedAt.Equal(e.clk.Now()) {
			t.Errorf("false positive close = %+v", fp)
		}

		transitions, err := e.svc.Timeline(e.ctx, inc.ID, incident.EventTransition, 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(transitions) != len(steps)+2 {
			t.Errorf("%d transition events, want %d", len(transitions), len(steps)+2)
		}
		for i := 1; i < len(transitions); i++ {
			if transitions[i].FromStatus != transitions[i-1].ToStatus {
				t.Errorf("transition %d starts at %s, the previous ended at %s", i, transitions[i].FromStatus, transitions[i-1].ToStatus)
			}
		}
		// 1: the keyset's creation; 2: the review written and marked complete.
		if n := e.count("audit_log"); n != 1+2+len(steps)+3 {
			t.Errorf("%d audit entries, want %d", n, 1+2+len(steps)+3)
		}
		e.verifyAudit()

		// Skipping straight to containment records analysis as not applicable.
		other := e.create("Lost USB stick")
		skipped, err := e.svc.Transition(e.ctx, other.ID, incident.Move{To: incident.Containment,
			Note: "obvious from the report", NotApplicable: []incident.Status{incident.Analysis}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(e.get(other.ID).NotApplicable, []incident.Status{incident.Analysis}) {
			t.Errorf("not applicable = %v", skipped.NotApplicable)
		}
		before := e.counts()
		_, err = e.svc.Transition(e.ctx, other.ID, incident.Move{To: incident.Recovery, Note: "x"})
		wantField(t, err, "not_applicable")
		e.expectWrites(before, nil)
		e.verifyAudit()
	})
}

func TestAddNote(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		inc := e.create("Suspicious login")
		before := e.counts()
		for _, body := range []string{"", "  \n", strings.Repeat("n", incident.MaxNote+1), "\xff"} {
			_, err := e.svc.AddNote(e.ctx, inc.ID, body)
			wantField(t, err, "body")
		}
		e.expectWrites(before, nil)

		e.clk.Advance(time.Minute)
		ev, err := e.svc.AddNote(e.ctx, inc.Number, "Called the user; they were travelling.")
		if err != nil {
			t.Fatal(err)
		}
		e.expectWrites(before, counts{"incident_events": 1, "audit_log": 1})
		e.expectLastAudit("incident.note", inc.ID)
		if ev.Kind != incident.EventNote || ev.Seq != 2 || ev.Note != "Called the user; they were travelling." ||
			ev.Actor != "token:tester" || !ev.At.Equal(e.clk.Now()) || ev.IncidentID != inc.ID ||
			ev.FromStatus != incident.Detected || ev.ToStatus != incident.Detected || ev.ID == "" {
			t.Errorf("note event = %+v", ev)
		}
		evs := e.timeline(inc.ID)
		if len(evs) != 2 || !reflect.DeepEqual(evs[1], ev) {
			t.Errorf("timeline = %+v, want the note %+v last", evs, ev)
		}
		got := e.get(inc.ID)
		if got.Version != 2 || got.Status != incident.Detected || !got.UpdatedAt.Equal(e.clk.Now()) {
			t.Errorf("after a note: %+v", got)
		}
		e.verifyAudit()
	})
}

func TestTasks(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		e.addUser("bob", authz.RoleResponder)
		e.addUser("carol", authz.RoleResponder)
		inc := e.create("Misdirected fax")
		other := e.create("Another")
		before := e.counts()
		for _, c := range []struct {
			in    incident.TaskInput
			field string
		}{
			{incident.TaskInput{}, "title"},
			{incident.TaskInput{Title: strings.Repeat("t", incident.MaxTitle+1)}, "title"},
			{incident.TaskInput{Title: "ok", Owner: strings.Repeat("o", incident.MaxName+1)}, "owner"},
		} {
			_, err := e.svc.CreateTask(e.ctx, inc.ID, c.in)
			wantField(t, err, c.field)
		}
		e.expectWrites(before, nil)

		e.clk.Advance(time.Minute)
		created := e.clk.Now()
		due := time.Date(2026, 3, 12, 9, 0, 0, 999, time.FixedZone("CET", 3600))
		task, err := e.svc.CreateTask(e.ctx, inc.Number, incident.TaskInput{Title: "Call the recipient", Owner: "bob", DueAt: &due})
		if err != nil {
			t.Fatal(err)
		}
		e.expectWrites(before, counts{"incident_tasks": 1, "incident_events": 1, "audit_log": 1})
		e.expectLastAudit("incident.task.create", inc.ID)
		if task.ID == "" || task.IncidentID != inc.ID || task.Title != "Call the recipient" || task.Owner != "bob" ||
			task.DueAt == nil || *task.DueAt != clock.Normalize(due) || task.Done || task.DoneAt != nil ||
			!task.CreatedAt.Equal(created) || !task.UpdatedAt.Equal(created) {
			t.Errorf("created task = %+v", task)
		}
		evs := e.timeline(inc.ID)
		ev := evs[len(evs)-1]
		if ev.Kind != incident.EventTaskCreated || ev.Seq != 2 {
			t.Errorf("task event = %+v", ev)
		}
		if c := changeOf(t, ev, "task"); c.New != task.ID {
			t.Errorf("task change = %+v", c)
		}
		if c := changeOf(t, ev, "owner"); c.New != "bob" {
			t.Errorf("owner change = %+v", c)
		}

		e.clk.Advance(time.Minute)
		second, err := e.svc.CreateTask(e.ctx, inc.ID, incident.TaskInput{Title: "Notify privacy officer"})
		if err != nil {
			t.Fatal(err)
		}
		if c := changeOf(t, e.timeline(inc.ID)[2], "title"); !c.Redacted || c.New != nil {
			t.Errorf("second task event's title change = %+v, want redacted with no value", c)
		}

		// Mark done: done_at is the clock's now.
		e.clk.Advance(time.Minute)
		doneAt := e.clk.Now()
		before = e.counts()
		done, err := e.svc.UpdateTask(e.ctx, inc.ID, task.ID, incident.TaskUpdate{Done: ptr(true)})
		if err != nil {
			t.Fatal(err)
		}
		e.expectWrites(before, counts{"incident_events": 1, "audit_log": 1})
		e.expectLastAudit("incident.task.update", inc.ID)
		if !done.Done || done.DoneAt == nil || !done.DoneAt.Equal(doneAt) || !done.UpdatedAt.Equal(doneAt) ||
			!done.CreatedAt.Equal(created) || done.Title != task.Title {
			t.Errorf("done task = %+v", done)
		}
		ev = e.timeline(inc.ID)[3]
		if ev.Kind != incident.EventTaskUpdated {
			t.Errorf("event = %+v", ev)
		}
		if c := changeOf(t, ev, "done"); c.Old != false || c.New != true {
			t.Errorf("done change = %+v", c)
		}

		// No change writes nothing.
		e.clk.Advance(time.Minute)
		before = e.counts()
		same, err := e.svc.UpdateTask(e.ctx, inc.ID, task.ID, incident.TaskUpdate{Done: ptr(true), Title: ptr(task.Title),
			Owner: ptr("bob"), DueAt: ptr(due.UTC())})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(same, done) {
			t.Errorf("no-op update returned\n%+v\nwant\n%+v", same, done)
		}
		// Invalid and unknown tasks write nothing.
		_, err = e.svc.UpdateTask(e.ctx, inc.ID, task.ID, incident.TaskUpdate{Title: ptr(" ")})
		wantField(t, err, "title")
		_, err = e.svc.UpdateTask(e.ctx, other.ID, task.ID, incident.TaskUpdate{Done: ptr(false)})
		wantCode(t, err, apperr.NotFound)
		e.expectWrites(before, nil)

		// Reopen the task and change its other fields.
		newDue := due.Add(24 * time.Hour)
		reopened, err := e.svc.UpdateTask(e.ctx, inc.ID, task.ID, incident.TaskUpdate{Done: ptr(false), Owner: ptr("carol"),
			Title: ptr("Call the recipient again"), DueAt: &newDue})
		if err != nil {
			t.Fatal(err)
		}
		if reopened.Done || reopened.DoneAt != nil || reopened.Owner != "carol" || reopened.Title != "Call the recipient again" ||
			*reopened.DueAt != clock.Normalize(newDue) {
			t.Errorf("reopened task = %+v", reopened)
		}
		ev = e.timeline(inc.ID)[4]
		for _, f := range []string{"done", "owner", "title", "due_at"} {
			changeOf(t, ev, f)
		}

		tasks, err := e.svc.Tasks(e.ctx, inc.Number)
		if err != nil {
			t.Fatal(err)
		}
		if len(tasks) != 2 || !reflect.DeepEqual(tasks[0], reopened) || !reflect.DeepEqual(tasks[1], second) {
			t.Errorf("tasks =\n%+v\nwant\n%+v\n%+v", tasks, reopened, second)
		}
		if ts, err := e.svc.Tasks(e.ctx, other.ID); err != nil || len(ts) != 0 {
			t.Errorf("other incident's tasks = %v, %v", ts, err)
		}
		if v := e.get(inc.ID).Version; v != 5 {
			t.Errorf("version = %d after 4 task changes, want 5", v)
		}
		e.verifyAudit()
	})
}

func TestTimeline(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		inc := e.create("Timeline")
		other := e.create("Other")
		step := func(err error) {
			t.Helper()
			e.clk.Advance(time.Second)
			if err != nil {
				t.Fatal(err)
			}
		}
		_, err := e.svc.AddNote(e.ctx, inc.ID, "one") // 2
		step(err)
		_, err = e.svc.Transition(e.ctx, inc.ID, incident.Move{To: incident.Analysis}) // 3
		step(err)
		_, err = e.svc.AddNote(e.ctx, inc.ID, "two") // 4
		step(err)
		_, err = e.svc.CreateTask(e.ctx, inc.ID, incident.TaskInput{Title: "task"}) // 5
		step(err)
		_, err = e.svc.Update(e.ctx, inc.ID, incident.UpdateInput{Severity: ptr(incident.Sev2)}) // 6
		step(err)
		_, err = e.svc.AddNote(e.ctx, other.ID, "other's note")
		step(err)

		seqs := func(evs []incident.Event) []int64 {
			out := []int64{}
			for _, ev := range evs {
				out = append(out, ev.Seq)
			}
			return out
		}
		for _, c := range []struct {
			kind  incident.EventKind
			after int64
			limit int
			want  []int64
		}{
			{"", 0, 0, []int64{1, 2, 3, 4, 5, 6}},
			{incident.EventNote, 0, 0, []int64{2, 4}},
			{incident.EventCreated, 0, 0, []int64{1}},
			{incident.EventTransition, 0, 0, []int64{3}},
			{incident.EventTaskCreated, 0, 0, []int64{5}},
			{incident.EventEdit, 0, 0, []int64{6}},
			{incident.EventTaskUpdated, 0, 0, []int64{}},
			{"", 2, 0, []int64{3, 4, 5, 6}},
			{"", 6, 0, []int64{}},
			{incident.EventNote, 2, 0, []int64{4}},
			{incident.EventNote, 4, 0, []int64{}},
			{"", 0, 2, []int64{1, 2}},
			{"", 3, 2, []int64{4, 5}},
			{incident.EventNote, 0, 1, []int64{2}},
			{incident.EventNote, 1, 1, []int64{2}},
			{"", 0, incident.MaxTimeline, []int64{1, 2, 3, 4, 5, 6}},
		} {
			evs, err := e.svc.Timeline(e.ctx, inc.Number, c.kind, c.after, c.limit)
			if err != nil {
				t.Fatalf("Timeline(%q, %d, %d): %v", c.kind, c.after, c.limit, err)
			}
			if got := seqs(evs); !slices.Equal(got, c.want) {
				t.Errorf("Timeline(%q, after %d, limit %d) = %v, want %v", c.kind, c.after, c.limit, got, c.want)
			}
			for _, ev := range evs {
				if ev.IncidentID != inc.ID || (c.kind != "" && ev.Kind != c.kind) {
					t.Errorf("event %+v does not match", ev)
				}
			}
		}
		for _, limit := range []int{-1, incident.MaxTimeline + 1} {
			_, err := e.svc.Timeline(e.ctx, inc.ID, "", 0, limit)
			wantField(t, err, "limit")
		}
		if evs := e.timeline(other.ID); len(evs) != 2 || evs[1].Note != "other's note" {
			t.Errorf("other timeline = %+v", evs)
		}
		e.verifyAudit()
	})
}

// TestConcurrentNotes adds notes to one incident from many goroutines: each
// must succeed (changes to one incident queue, they do not conflict), and
// the timeline and audit chain must hold every one of them, in order.
func TestConcurrentNotes(t *testing.T) {
	const workers, perWorker = 8, 10
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		inc := e.create("Busy incident")
		bystander := e.create("Bystander")
		var wg sync.WaitGroup
		errs := make(chan error, workers*perWorker+workers)
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					if _, err := e.svc.AddNote(e.ctx, inc.ID, fmt.Sprintf("worker %d note %d", w, i)); err != nil {
						errs <- fmt.Errorf("worker %d note %d: %w", w, i, err)
					}
				}
				// Meanwhile other incidents change too.
				if _, err := e.svc.AddNote(e.ctx, bystander.ID, fmt.Sprintf("worker %d", w)); err != nil {
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}

		evs := e.timeline(inc.ID)
		if len(evs) != 1+workers*perWorker {
			t.Fatalf("timeline has %d events, want %d", len(evs), 1+workers*perWorker)
		}
		seen := map[string]bool{}
		for i, ev := range evs {
			if ev.Seq != int64(i+1) {
				t.Fatalf("event %d has seq %d", i, ev.Seq)
			}
			if i > 0 {
				seen[ev.Note] = true
			}
		}
		if len(seen) != workers*perWorker {
			t.Errorf("%d distinct notes, want %d", len(seen), workers*perWorker)
		}
		// Each worker's notes appear in the order it added them.
		next := make([]int, workers)
		for _, ev := range evs[1:] {
			var w, i int
			if _, err := fmt.Sscanf(ev.Note, "worker %d note %d", &w, &i); err != nil {
				t.Fatal(err)
			}
			if i != next[w] {
				t.Errorf("worker %d: note %d came before note %d", w, i, next[w])
			}
			next[w] = i + 1
		}
		if v := e.get(inc.ID).Version; v != 1+workers*perWorker {
			t.Errorf("version = %d, want %d", v, 1+workers*perWorker)
		}
		if n := len(e.timeline(bystander.ID)); n != 1+workers {
			t.Errorf("bystander timeline has %d events, want %d", n, 1+workers)
		}
		if n := e.count("audit_log"); n != 1+2+workers*perWorker+workers { // 1: the keyset's creation
			t.Errorf("%d audit entries, want %d", n, 1+2+workers*perWorker+workers)
		}
		e.verifyAudit()
	})
}

// TestConcurrentCreate creates incidents from many goroutines at once, the
// first of a new year among them: every create succeeds with a distinct,
// gapless number.
func TestConcurrentCreate(t *testing.T) {
	const workers, perWorker = 8, 3
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		var wg sync.WaitGroup
		var mu sync.Mutex
		var got []string
		for w := range workers {
			wg.Go(func() {
				for i := range perWorker {
					inc, err := e.svc.Create(e.ctx, incident.CreateInput{Title: fmt.Sprintf("w%d i%d", w, i)})
					if err != nil {
						t.Errorf("worker %d create %d: %v", w, i, err)
						continue
					}
					mu.Lock()
					got = append(got, inc.Number)
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		slices.Sort(got)
		var want []string
		for i := range workers * perWorker {
			want = append(want, fmt.Sprintf("INC-2026-%04d", i+1))
		}
		if !slices.Equal(got, want) {
			t.Errorf("numbers = %v, want %v", got, want)
		}
		e.verifyAudit()
	})
}

// TestPHIReads: a role that may see PHI gets descriptions and notes, and
// each read is in the audit trail; a role that may not gets them withheld
// and marked redacted, and nothing is recorded as read.
func TestPHIReads(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		inc, err := e.svc.Create(e.ctx, incident.CreateInput{Title: "fax", Description: "patient J. Doe"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.svc.AddNote(e.ctx, inc.ID, "called J. Doe"); err != nil {
			t.Fatal(err)
		}
		reads := func() int {
			var n int
			if err := d.R.QueryRow("SELECT count(*) FROM audit_log WHERE action = 'incident.phi_read' AND object_id = $1",
				inc.ID).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		stake := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, ID: "s", Name: "viewer", Role: authz.RoleStakeholder})
		got, err := e.svc.Get(stake, inc.ID)
		if err != nil || got.Description != "" || !got.PHIRedacted || got.Title != "INC-2026-0001: sev3 incident" {
			t.Fatalf("stakeholder sees %+v (%v)", got, err)
		}
		tl, err := e.svc.Timeline(stake, inc.ID, incident.EventNote, 0, 0)
		if err != nil || len(tl) != 1 || tl[0].Note != "" || !tl[0].NoteRedacted {
			t.Fatalf("stakeholder timeline %+v (%v)", tl, err)
		}
		page, err := e.svc.List(stake, incident.Filter{})
		if err != nil || page.Items[0].Description != "" || !page.Items[0].PHIRedacted {
			t.Fatalf("stakeholder list %+v (%v)", page.Items, err)
		}
		if n := reads(); n != 0 {
			t.Fatalf("withheld reads recorded as PHI reads: %d", n)
		}
		if got, err = e.svc.Get(e.ctx, inc.ID); err != nil || got.Description != "patient J. Doe" || got.PHIRedacted {
			t.Fatalf("responder sees %+v (%v)", got, err)
		}
		if tl, err = e.svc.Timeline(e.ctx, inc.ID, incident.EventNote, 0, 0); err != nil || tl[0].Note != "called J. Doe" {
			t.Fatalf("responder timeline %+v (%v)", tl, err)
		}
		if _, err = e.svc.List(e.ctx, incident.Filter{OmitPHI: true}); err != nil {
			t.Fatal(err)
		}
		if n := reads(); n != 3 {
			t.Fatalf("%d PHI reads recorded, want 3 (the get, the timeline, and the title in the OmitPHI list)", n)
		}
		e.verifyAudit()
	})
}
