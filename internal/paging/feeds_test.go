package paging_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/paging"
)

// TestCalendarFeeds: a calendar address serves its owner's shifts, or a
// schedule's with names, without a sign-in; it keeps only a hash and a
// sealed copy of its token; and it stops working when revoked, when its
// owner is disabled, or for anyone but its owner to revoke.
func TestCalendarFeeds(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d)
		amy := e.user("amy", authz.RoleResponder)
		bob := e.user("bob", authz.RoleResponder)
		if _, err := e.pager.CreateSchedule(e.ctx, paging.ScheduleInput{Name: "Clinical systems", TimeZone: "America/New_York",
			Rotations: []paging.RotationSpec{{Name: "daily", Kind: "daily", ShiftLength: 1, Start: start,
				Participants: []string{"amy", "bob"}}}}); err != nil {
			t.Fatal(err)
		}
		as := func(id, name string, k authz.Kind) context.Context {
			return authz.WithActor(context.Background(), authz.Actor{Kind: k, ID: id, Name: name, Role: authz.RoleResponder})
		}
		amyCtx := as(amy, "amy", authz.KindUser)

		own, err := e.pager.CreateCalendarFeed(amyCtx, "")
		if err != nil {
			t.Fatal(err)
		}
		sched, err := e.pager.CreateCalendarFeed(amyCtx, "Clinical systems")
		if err != nil || sched.Schedule != "Clinical systems" {
			t.Fatalf("schedule feed: %+v %v", sched, err)
		}
		if _, err := e.pager.CreateCalendarFeed(amyCtx, "No such schedule"); !strings.Contains(fmtErr(err), "schedule") {
			t.Fatalf("an unknown schedule: %v, want an error naming the schedule field", err)
		}
		auditor := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: e.user("aud", authz.RoleAuditor),
			Name: "aud", Role: authz.RoleAuditor})
		if _, err := e.pager.CreateCalendarFeed(auditor, ""); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("the auditor, who changes nothing, making a feed: %v, want forbidden", err)
		}
		if _, err := e.pager.CreateCalendarFeed(as("t9", "ci", authz.KindToken), ""); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("an API token making a feed: %v, want forbidden", err)
		}
		token := func(f paging.CalendarFeed) string {
			t.Helper()
			tok, ok := strings.CutPrefix(f.URL, "https://ward.test/cal/")
			if !ok || len(tok) != 43 {
				t.Fatalf("feed address %q", f.URL)
			}
			return tok
		}
		for _, f := range []paging.CalendarFeed{own, sched} {
			var n int
			if err := d.R.QueryRow(`SELECT count(*) FROM calendar_feeds WHERE token = $1 OR token_hash = $1`, token(f)).Scan(&n); err != nil || n != 0 {
				t.Fatalf("the token is stored in clear: %d rows, %v", n, err)
			}
		}

		cal, err := e.pager.FeedCalendar(context.Background(), token(own), "ward")
		if err != nil {
			t.Fatal(err)
		}
		if s := string(cal); !strings.Contains(s, "SUMMARY:On call: Clinical systems / daily") || strings.Contains(s, "bob") {
			t.Fatalf("amy's own feed:\n%s", s)
		}
		cal, err = e.pager.FeedCalendar(context.Background(), token(sched), "ward")
		if err != nil {
			t.Fatal(err)
		}
		if s := string(cal); !strings.Contains(s, "SUMMARY:amy on call: daily") || !strings.Contains(s, "SUMMARY:bob on call: daily") {
			t.Fatalf("the schedule's feed:\n%s", s)
		}

		feeds, err := e.pager.CalendarFeeds(amyCtx)
		if err != nil || len(feeds) != 2 || feeds[0].URL != sched.URL || feeds[1].URL != own.URL {
			t.Fatalf("amy's feeds, newest first: %+v %v", feeds, err)
		}
		if feeds, err := e.pager.CalendarFeeds(as(bob, "bob", authz.KindUser)); err != nil || len(feeds) != 0 {
			t.Fatalf("bob sees amy's feeds: %+v %v", feeds, err)
		}
		if err := e.pager.RevokeCalendarFeed(as(bob, "bob", authz.KindUser), own.ID); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("bob revoking amy's feed: %v, want not found", err)
		}
		if err := e.pager.RevokeCalendarFeed(amyCtx, own.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := e.pager.FeedCalendar(context.Background(), token(own), "ward"); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("a revoked feed: %v, want not found", err)
		}
		if _, err := e.pager.FeedCalendar(context.Background(), strings.Repeat("A", 43), "ward"); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("a made-up address: %v, want not found", err)
		}
		if _, err := d.W.Exec(`UPDATE users SET disabled = true WHERE id = $1`, amy); err != nil {
			t.Fatal(err)
		}
		if _, err := e.pager.FeedCalendar(context.Background(), token(sched), "ward"); apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("the feed of a disabled person: %v, want not found", err)
		}
		var audited int
		if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action IN ('calendar_feed.create', 'calendar_feed.revoke')
			AND object_id = $1`, amy).Scan(&audited); err != nil || audited != 3 {
			t.Fatalf("audit entries for amy's feeds: %d %v, want 3", audited, err)
		}
	})
}
