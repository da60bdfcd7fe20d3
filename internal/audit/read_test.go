package audit_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

func roleCtx(role authz.Role) context.Context {
	ctx := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindToken, ID: string(role), Name: string(role), Role: role})
	return authz.WithRequest(ctx, authz.Request{ID: "req-read", SourceIP: "192.0.2.9"})
}

// seedMixed appends entries by two actors, on two object types, one a
// minute from start: alice creates incidents, bob edits users.
func seedMixed(t *testing.T, d *db.DB, n int) {
	t.Helper()
	for i := range n {
		actor := authz.Actor{Kind: authz.KindUser, ID: "a", Name: "alice", Role: authz.RoleResponder}
		ev := audit.Event{Action: "incident.create", ObjectType: "incident", ObjectID: "inc-a"}
		if i%2 == 1 {
			actor.Name = "bob"
			ev = audit.Event{Action: "user.role_changed", ObjectType: "user", ObjectID: "user-b"}
		}
		appendOne(t, authz.WithActor(context.Background(), actor), d, start.Add(time.Duration(i)*time.Minute), ev)
	}
}

func seqs(es []audit.Entry) []int64 {
	out := make([]int64, len(es))
	for i, e := range es {
		out[i] = e.Seq
	}
	return out
}

func TestReaderFilters(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		seedMixed(t, d, 10) // seq 1..10: odd alice, even bob
		r := audit.NewReader(d, clock.NewFake(start.Add(time.Hour)))
		ctx := roleCtx(authz.RoleAuditor)
		from, to := start.Add(2*time.Minute), start.Add(6*time.Minute)
		for _, tc := range []struct {
			name string
			q    audit.Query
			want []int64
		}{
			{"actor", audit.Query{Actor: "user:alice"}, []int64{9, 7, 5, 3, 1}},
			{"action", audit.Query{Action: "user.role_changed"}, []int64{10, 8, 6, 4, 2}},
			{"action prefix", audit.Query{Action: "incident.", Limit: 2}, []int64{9, 7}},
			{"object", audit.Query{ObjectType: "user", ObjectID: "user-b", From: &from, To: &to}, []int64{6, 4}},
			{"time range", audit.Query{From: &from, To: &to}, []int64{6, 5, 4, 3}},
			{"nothing", audit.Query{Actor: "user:carol"}, []int64{}},
		} {
			p, err := r.Page(ctx, tc.q)
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			// Entries past 10 are the reads' own audit.read entries.
			var got []int64
			for _, s := range seqs(p.Entries) {
				if s <= 10 {
					got = append(got, s)
				}
			}
			if !slices.Equal(got, tc.want) && !(len(got) == 0 && len(tc.want) == 0) {
				t.Errorf("%s: seqs %v, want %v", tc.name, got, tc.want)
			}
		}
		// Each page read is itself in the trail, as the reader.
		reads, err := audit.List(context.Background(), d.R, audit.Filter{Action: "audit.read"})
		if err != nil {
			t.Fatal(err)
		}
		if len(reads) != 6 || reads[0].Actor != "token:auditor" || reads[0].ObjectType != "audit_trail" {
			t.Errorf("audit.read entries: %d, first %+v", len(reads), reads)
		}
		wantOK(t, d, 16)
	})
}

func TestReaderRefusesBadFiltersNamingThem(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		r := audit.NewReader(d, clock.NewFake(start))
		ctx := roleCtx(authz.RoleSecurityOfficer)
		later := start.Add(time.Hour)
		for _, tc := range []struct {
			q     audit.Query
			field string
		}{
			{audit.Query{Actor: "alice"}, "actor"},
			{audit.Query{Actor: "robot:x"}, "actor"},
			{audit.Query{Action: "Incident Create"}, "action"},
			{audit.Query{ObjectType: "incident;drop"}, "object_type"},
			{audit.Query{ObjectID: "x"}, "object_id"},
			{audit.Query{ObjectType: "incident", ObjectID: "a\x00b"}, "object_id"},
			{audit.Query{Incident: "INC-2099-0001"}, "incident"},
			{audit.Query{Incident: "INC-1", ObjectType: "user"}, "incident"},
			{audit.Query{From: &later, To: &start}, "to"},
			{audit.Query{Limit: audit.MaxList + 1}, "limit"},
			{audit.Query{Cursor: "not-a-cursor"}, "cursor"},
		} {
			_, err := r.Page(ctx, tc.q)
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Invalid || len(e.Fields) != 1 || e.Fields[0].Field != tc.field {
				t.Errorf("%+v: %v, want invalid %s", tc.q, err, tc.field)
			}
		}
		if _, err := r.Export(ctx, audit.Query{}, "xml"); apperr.CodeOf(err) != apperr.Invalid {
			t.Errorf("export as xml: %v", err)
		}
		// Nothing was read, so nothing was recorded.
		wantOK(t, d, 0)
	})
}

func TestReaderRoles(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		seedMixed(t, d, 2)
		r := audit.NewReader(d, clock.NewFake(start))
		for _, role := range authz.Roles {
			_, err := r.Page(roleCtx(role), audit.Query{})
			_, xerr := r.Export(roleCtx(role), audit.Query{}, audit.FormatJSONL)
			allowed := role == authz.RoleAuditor || role == authz.RoleSecurityOfficer || role == authz.RolePrivacyOfficer
			if allowed != (err == nil) || allowed != (xerr == nil) {
				t.Errorf("%s: page %v, export %v; allowed %v", role, err, xerr, allowed)
			}
			if !allowed && (apperr.CodeOf(err) != apperr.Forbidden || apperr.CodeOf(xerr) != apperr.Forbidden) {
				t.Errorf("%s: %v / %v, want forbidden", role, err, xerr)
			}
		}
		if _, err := r.Page(context.Background(), audit.Query{}); apperr.CodeOf(err) != apperr.Unauthorized {
			t.Errorf("no actor: %v", err)
		}
	})
}

// TestReaderPagesWhileAppending pages through the trail with the cursor
// while entries keep arriving: every entry that was there at the first
// page is seen exactly once, in order.
func TestReaderPagesWhileAppending(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		appendN(t, d, 23)
		r := audit.NewReader(d, clock.NewFake(start))
		ctx := roleCtx(authz.RoleAuditor)
		q := audit.Query{Action: "incident.update", Limit: 5}
		var got []int64
		pages := 0
		for {
			p, err := r.Page(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			got = append(got, seqs(p.Entries)...)
			// New entries arrive between pages.
			appendOne(t, actorCtx(), d, start.Add(time.Hour), audit.Event{Action: "incident.update", ObjectType: "incident", ObjectID: "new"})
			if p.Next == "" {
				break
			}
			q.Cursor = p.Next
			if pages > 10 {
				t.Fatal("paging does not end")
			}
		}
		want := []int64{}
		for s := int64(23); s >= 1; s-- {
			want = append(want, s)
		}
		if !slices.Equal(got, want) || pages != 5 {
			t.Errorf("%d pages, seqs %v, want %v", pages, got, want)
		}
	})
}
