package report_test

import (
	"context"
	"database/sql"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/report"
)

var start = time.Date(2026, 5, 4, 15, 0, 0, 0, time.UTC)

func as(role authz.Role, name string) context.Context {
	return authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: "u-" + name, Name: name, Role: role})
}

// notified records what the reminder check asked to send.
type notified struct{ lines, users []string }

func (n *notified) NotifyTx(_ context.Context, _ *sql.Tx, kind, _, line string, users []string) (int, error) {
	if kind != "reminder" {
		return 0, apperr.New(apperr.Invalid, "kind %s", kind)
	}
	n.lines = append(n.lines, line)
	n.users = users
	return len(users), nil
}

// TestRemindersAndLogs, on both databases: reminders go to the Privacy
// and Security Officers once per mark, and afresh when a due date moves;
// the breach log filters by size and status, and the annual log lists a
// breach of fewer than 500 under its year with the rules' due date.
func TestRemindersAndLogs(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		clk := clock.NewFake(start)
		kr := dbtest.Keyring(t, d, start)
		incs := incident.NewService(d, clk, kr)
		cases, err := breach.New(d, clk, incs, kr, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		n := &notified{}
		svc, err := report.New(d, clk, cases, incs, kr, n, slog.New(slog.NewTextHandler(io.Discard, nil)), []int{7, 3})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range []struct {
			name string
			role authz.Role
		}{{"pia", authz.RolePrivacyOfficer}, {"sam", authz.RoleSecurityOfficer}, {"rae", authz.RoleResponder}} {
			if _, err := d.W.ExecContext(context.Background(), `INSERT INTO users (id, username, display_name, email, role, password_hash,
				disabled, created_at, updated_at) VALUES ($1, $2, $2, $3, $4, 'x', false, $5, $5)`, "u-"+u.name, u.name, u.name+"@example.org",
				u.role, start); err != nil {
				t.Fatal(err)
			}
		}
		sec := as(authz.RoleSecurityOfficer, "sam")
		inc, err := incs.Create(sec, incident.CreateInput{Title: "Lost USB stick", Severity: incident.Sev3})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cases.Open(sec, inc.Number); err != nil {
			t.Fatal(err)
		}
		disc := start.Add(-55 * 24 * time.Hour) // individuals due in five days (164.404(b))
		facts := rules.Facts{Role: rules.CoveredEntity, DiscoveredAt: disc, ShouldHaveKnownAt: disc, Individuals: 40}
		if _, err := cases.SetFacts(sec, inc.Number, facts); err != nil {
			t.Fatal(err)
		}
		check := func(want int) {
			t.Helper()
			got, err := svc.CheckReminders(context.Background())
			if err != nil || got != want {
				t.Fatalf("reminders sent %d (%v), want %d", got, err, want)
			}
		}
		check(1)
		if !slices.Equal(n.users, []string{"u-pia", "u-sam"}) || !strings.HasPrefix(n.lines[0], inc.Number+": notify individuals") {
			t.Fatalf("told %v: %q", n.users, n.lines)
		}
		check(0)
		// A later discovery moves the due date: reminded afresh.
		facts.DiscoveredAt, facts.ShouldHaveKnownAt = disc.Add(24*time.Hour), disc.Add(24*time.Hour)
		if _, err := cases.SetFacts(sec, inc.Number, facts); err != nil {
			t.Fatal(err)
		}
		check(1)
		clk.Advance(4 * 24 * time.Hour)
		check(1)
		rs, err := svc.Reminders(as(authz.RoleAuditor, "ava"), inc.Number)
		if err != nil || len(rs) != 3 || rs[0].Mark != "3" || rs[0].Recipients != 2 {
			t.Fatalf("reminders: %+v %v", rs, err)
		}

		aud := as(authz.RoleAuditor, "ava")
		for _, c := range []struct {
			f    report.LogFilter
			want int
		}{{report.LogFilter{}, 1}, {report.LogFilter{Size: report.SizeLarge}, 0}, {report.LogFilter{Status: "open"}, 1},
			{report.LogFilter{Year: 2025}, 0}, {report.LogFilter{Year: 2026, Outcome: "pending"}, 1}} {
			l, err := svc.Log(aud, c.f)
			if err != nil || len(l) != c.want {
				t.Errorf("log %+v: %d entries, want %d (%v)", c.f, len(l), c.want, err)
			}
		}
		if _, err := svc.Log(aud, report.LogFilter{Status: "late"}); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("a bad status: %v", err)
		}
		annual, err := svc.AnnualLogs(aud, 0)
		if err != nil || len(annual) != 1 || annual[0].Year != 2026 || annual[0].Unfiled != 1 ||
			!annual[0].Due.Equal(report.AnnualDue(2026, nil)) || annual[0].Cases[0].HHSDue == nil || !annual[0].Cases[0].HHSDue.Equal(annual[0].Due) {
			t.Fatalf("annual log: %+v %v", annual, err)
		}
		if _, err := svc.Log(as(authz.RoleResponder, "rae"), report.LogFilter{}); apperr.CodeOf(err) != apperr.Forbidden {
			t.Errorf("a responder reading the breach log: %v", err)
		}
	})
}
