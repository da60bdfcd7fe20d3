package notice

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// TestNoticesPages pages through a case's notices, all and of one
// status, on both databases: each page follows the last, the last page
// has no next, a status no notice has and a cursor past the end give an
// empty page (issue #14 split the statement in two, one per index).
func TestNoticesPages(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		now := time.Date(2026, 5, 4, 15, 0, 0, 0, time.UTC)
		clk := clock.NewFake(now)
		kr := dbtest.Keyring(t, d, now)
		incs := incident.NewService(d, clk, kr)
		cases, err := breach.New(d, clk, incs, kr, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		svc := New(d, clk, cases, incs, kr, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
		ctx := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: "u-sam", Name: "sam",
			Role: authz.RoleSecurityOfficer})
		inc, err := incs.Create(ctx, incident.CreateInput{Title: "Letters returned", Severity: incident.Sev2})
		if err != nil {
			t.Fatal(err)
		}
		c, err := cases.Open(ctx, inc.Number)
		if err != nil {
			t.Fatal(err)
		}
		// n-01 .. n-07: returned are 2, 5 and 6, the rest sent.
		statuses := []string{StatusSent, StatusReturned, StatusSent, StatusSent, StatusReturned, StatusReturned, StatusSent}
		for i, st := range statuses {
			if _, err := d.W.ExecContext(ctx, `INSERT INTO notices (id, case_id, run_id, kind, channel, individual_id, recipient,
				status, batch, page, pages, attempts, error, sent_at, sent_by, receipt, returned_at, return_reason, resent_of,
				created_at, updated_at) VALUES ($1, $2, 'run', 'individual_letter', 'mail', '', '', $3, 1, $4, 1, 0, '', NULL, '',
				'', NULL, '', '', $5, $5)`, fmt.Sprintf("n-%02d", i+1), c.ID, st, i+1, now); err != nil {
				t.Fatal(err)
			}
		}
		walk := func(status string, limit int) [][]string {
			t.Helper()
			var pages [][]string
			after := ""
			for {
				list, next, err := svc.Notices(ctx, inc.Number, status, after, limit)
				if err != nil {
					t.Fatal(err)
				}
				var ids []string
				for _, n := range list {
					if status != "" && n.Status != status {
						t.Errorf("status %q: %s is %s", status, n.ID, n.Status)
					}
					ids = append(ids, n.ID)
				}
				pages = append(pages, ids)
				if next == "" {
					return pages
				}
				if next != ids[len(ids)-1] {
					t.Fatalf("status %q: next is %q after page %v", status, next, ids)
				}
				after = next
			}
		}
		for _, tc := range []struct {
			status string
			limit  int
			want   [][]string
		}{
			{"", 3, [][]string{{"n-01", "n-02", "n-03"}, {"n-04", "n-05", "n-06"}, {"n-07"}}},
			{"", 7, [][]string{{"n-01", "n-02", "n-03", "n-04", "n-05", "n-06", "n-07"}}},
			{StatusReturned, 2, [][]string{{"n-02", "n-05"}, {"n-06"}}},
			{StatusReturned, 3, [][]string{{"n-02", "n-05", "n-06"}}},
			{StatusSent, 3, [][]string{{"n-01", "n-03", "n-04"}, {"n-07"}}},
			{StatusPending, 3, [][]string{nil}},
		} {
			if got := walk(tc.status, tc.limit); !slices.EqualFunc(got, tc.want, slices.Equal) {
				t.Errorf("status %q, %d a page: %v, want %v", tc.status, tc.limit, got, tc.want)
			}
		}
		for _, status := range []string{"", StatusReturned} {
			list, next, err := svc.Notices(ctx, inc.Number, status, "n-07", 3)
			if err != nil || len(list) != 0 || next != "" {
				t.Errorf("status %q after the last: %v, next %q, %v", status, list, next, err)
			}
		}
	})
}
