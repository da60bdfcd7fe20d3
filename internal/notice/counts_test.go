package notice

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/incident"
)

// TestNoticeCountsExact checks, on both databases, that a case's notice
// counts as the notices page shows them (Summarize) equal a count of the
// case's notices after every kind of change: notices created, generated,
// recorded as sent, returned, re-sent, failed and deleted (the retention
// purge's statement), before and after a fold, with writers at work
// during folds (issue #14: the counts are kept by triggers, migration
// 0065, and are proof shown to the Privacy Officer). So is the substitute
// notice's count of individuals whose notice came back and none was sent
// since (migration 0069), against the notices read one by one: through a
// re-send that is sent and then comes back too, a returned notice moved
// to another individual, and concurrent writers changing the same
// individuals' notices.
func TestNoticeCountsExact(t *testing.T) {
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
		ctx := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: "u-pat", Name: "pat",
			Role: authz.RolePrivacyOfficer})
		var refs, ids []string
		for _, title := range []string{"Laptop stolen", "Mail misdirected"} {
			inc, err := incs.Create(ctx, incident.CreateInput{Title: title, Severity: incident.Sev2})
			if err != nil {
				t.Fatal(err)
			}
			c, err := cases.Open(ctx, inc.Number)
			if err != nil {
				t.Fatal(err)
			}
			refs, ids = append(refs, inc.Number), append(ids, c.ID)
		}
		insert := func(q db.Querier, caseID, id, run string, kind Kind, channel, individual, status string) error {
			_, err := q.ExecContext(ctx, `INSERT INTO notices (id, case_id, run_id, kind, channel, individual_id, recipient,
				status, batch, page, pages, attempts, error, sent_at, sent_by, receipt, returned_at, return_reason, resent_of,
				created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, '', $7, 0, 0, 0, 0, '', NULL, '', '', NULL, '', '', $8, $8)`,
				id, caseID, run, kind, channel, individual, status, now)
			return err
		}
		check := func(step string) {
			t.Helper()
			for i, ref := range refs {
				want := map[string]int{}
				rows, err := d.R.QueryContext(ctx, `SELECT kind, channel, status, count(*) FROM notices WHERE case_id = $1
					GROUP BY kind, channel, status`, ids[i])
				counted, err := db.Collect(rows, err, "count", func(r *sql.Rows) (Tally, error) {
					var x Tally
					return x, r.Scan(&x.Kind, &x.Channel, &x.Status, &x.Count)
				})
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range counted {
					want[string(x.Kind)+" "+x.Channel+" "+x.Status] = x.Count
				}
				sum, err := svc.Summarize(ctx, ref)
				if err != nil {
					t.Fatal(err)
				}
				got := map[string]int{}
				for _, x := range sum.Tallies {
					if x.Count <= 0 {
						t.Errorf("%s, %s: a count of %d shown: %+v", step, ref, x.Count, x)
					}
					got[string(x.Kind)+" "+x.Channel+" "+x.Status] = x.Count
				}
				if !maps.Equal(got, want) {
					t.Fatalf("%s, %s: the page counts %v, the notices say %v", step, ref, got, want)
				}
				// The substitute notice's count of individuals whose
				// notice came back and none was sent since, against the
				// notices read one by one.
				rows, err = d.R.QueryContext(ctx, `SELECT individual_id, status FROM notices WHERE case_id = $1 AND individual_id <> ''`, ids[i])
				statuses, err := db.Collect(rows, err, "read", func(r *sql.Rows) ([2]string, error) {
					var x [2]string
					return x, r.Scan(&x[0], &x[1])
				})
				if err != nil {
					t.Fatal(err)
				}
				returned, sent := map[string]bool{}, map[string]bool{}
				for _, x := range statuses {
					returned[x[0]] = returned[x[0]] || x[1] == StatusReturned
					sent[x[0]] = sent[x[0]] || x[1] == StatusSent
				}
				wantReturned := 0
				for ind, r := range returned {
					if r && !sent[ind] {
						wantReturned++
					}
				}
				sub, err := svc.Substitute(ctx, ref)
				if err != nil {
					t.Fatal(err)
				}
				if sub.Returned != wantReturned {
					t.Fatalf("%s, %s: the substitute notice counts %d returned and not sent since, the notices say %d",
						step, ref, sub.Returned, wantReturned)
				}
			}
		}
		fold := func(step string) {
			t.Helper()
			if err := svc.FoldCounts(ctx); err != nil {
				t.Fatal(err)
			}
			var rows, groups int
			if err := d.R.QueryRowContext(ctx, `SELECT count(*),
				count(DISTINCT case_id || ' ' || kind || ' ' || channel || ' ' || status) FROM notice_counts`).
				Scan(&rows, &groups); err != nil || rows != groups {
				t.Fatalf("%s: %d rows for %d groups after the fold, %v", step, rows, groups, err)
			}
			if err := d.R.QueryRowContext(ctx, `SELECT count(*), count(DISTINCT case_id) FROM notice_returned_counts`).
				Scan(&rows, &groups); err != nil || rows != groups {
				t.Fatalf("%s: %d rows of the returned for %d cases after the fold, %v", step, rows, groups, err)
			}
			check(step)
		}
		check("no notices")
		// Created as generation creates them: pending letters and emails,
		// and documents, in both cases.
		for i := range 12 {
			for c := range ids {
				id := fmt.Sprintf("n-%d-%02d", c, i)
				var err error
				switch i % 3 {
				case 0, 1:
					err = insert(d.W, ids[c], id, "", KindIndividualLetter, "mail", fmt.Sprintf("i-%d-%02d", c, i), StatusPending)
				default:
					err = insert(d.W, ids[c], id, "", KindIndividualEmail, "email", fmt.Sprintf("i-%d-%02d", c, i), StatusPending)
				}
				if err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := insert(d.W, ids[0], "n-doc-1", "run-doc", KindMediaRelease, "document", "", StatusGenerated); err != nil {
			t.Fatal(err)
		}
		check("created")
		// Generated into a run, as the letters' batches are.
		if _, err := d.W.ExecContext(ctx, `UPDATE notices SET status = $1, run_id = 'run-1' WHERE case_id = $2 AND channel = 'mail'`,
			StatusGenerated, ids[0]); err != nil {
			t.Fatal(err)
		}
		check("generated")
		if n, err := svc.MarkSent(ctx, refs[0], "run-1", "", now, "job 77", nil); err != nil || n != 8 {
			t.Fatalf("mark sent: %d, %v", n, err)
		}
		if _, err := svc.MarkSent(ctx, refs[0], "", "n-doc-1", now, "", nil); err != nil {
			t.Fatal(err)
		}
		check("sent")
		fold("folded")
		ret, err := svc.RecordReturns(ctx, refs[0], strings.NewReader("row_key,reason\nn-0-00,moved\nn-0-03,moved\n"))
		if err != nil || ret.Recorded != 2 {
			t.Fatalf("returns: %+v, %v", ret, err)
		}
		check("returned")
		again, err := svc.Resend(ctx, refs[0], "n-0-00")
		if err != nil {
			t.Fatal(err)
		}
		check("re-sent")
		if _, err := d.W.ExecContext(ctx, `UPDATE notices SET status = $1 WHERE resent_of = 'n-0-00'`, StatusSent); err != nil {
			t.Fatal(err)
		}
		check("re-sent and sent")
		// The re-send comes back too: two returned notices, one
		// individual counted once.
		if ret, err := svc.RecordReturns(ctx, refs[0], strings.NewReader("row_key,reason\n"+again.ID+",moved again\n")); err != nil ||
			ret.Recorded != 1 {
			t.Fatalf("returns: %+v, %v", ret, err)
		}
		check("re-sent and returned again")
		// A returned notice put on another individual, who has a sent
		// letter: the first is no longer counted, nor is the second.
		if _, err := d.W.ExecContext(ctx, `UPDATE notices SET individual_id = 'i-0-04' WHERE id = 'n-0-03'`); err != nil {
			t.Fatal(err)
		}
		check("moved to another individual")
		if _, err := d.W.ExecContext(ctx, `UPDATE notices SET status = $1, attempts = attempts + 1 WHERE case_id = $2 AND channel = 'email'`,
			StatusFailed, ids[1]); err != nil {
			t.Fatal(err)
		}
		check("failed")
		fold("folded again")
		if _, err := d.W.ExecContext(ctx, `DELETE FROM notices WHERE id = 'n-0-01'`); err != nil {
			t.Fatal(err)
		}
		if _, err := d.W.ExecContext(ctx, `DELETE FROM notices WHERE case_id = $1`, ids[1]); err != nil {
			t.Fatal(err)
		}
		check("deleted")
		fold("folded after the deletes")

		// Concurrent writers: each creates its notices and moves them
		// through their statuses, one transaction a change, while folds
		// run beside them; the writers of a case send and return notices
		// to the same four individuals.
		var wg sync.WaitGroup
		errs := make(chan error, 16)
		for w := range 6 {
			wg.Go(func() {
				for i := range 15 {
					id := fmt.Sprintf("w-%d-%02d", w, i)
					if err := insert(d.W, ids[w%2], id, "", KindIndividualLetter, "mail", fmt.Sprintf("i-shared-%d", (i+w)%4), StatusPending); err != nil {
						errs <- err
						return
					}
					for _, st := range []string{StatusGenerated, StatusSent, StatusReturned}[:i%4] {
						if _, err := d.W.ExecContext(ctx, `UPDATE notices SET status = $1 WHERE id = $2`, st, id); err != nil {
							errs <- err
							return
						}
					}
					if i%5 == 4 {
						if _, err := d.W.ExecContext(ctx, `DELETE FROM notices WHERE id = $1`, id); err != nil {
							errs <- err
							return
						}
					}
				}
			})
		}
		for range 2 {
			wg.Go(func() {
				for range 10 {
					if err := svc.FoldCounts(ctx); err != nil {
						errs <- err
						return
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		check("concurrent writers")
		fold("folded after the concurrent writers")
		if d.Dialect != db.Postgres {
			return
		}
		// A change not yet committed while the fold runs is neither lost
		// nor counted twice.
		tx, err := d.W.BeginTx(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback()
		if _, err := tx.ExecContext(ctx, `UPDATE notices SET status = $1 WHERE id = 'w-0-00'`, StatusGenerated); err != nil {
			t.Fatal(err)
		}
		if err := insert(tx, ids[0], "n-late", "", KindStateAG, "document", "", StatusPending); err != nil {
			t.Fatal(err)
		}
		if err := insert(d.W, ids[0], "n-meanwhile", "", KindStateAG, "document", "", StatusPending); err != nil {
			t.Fatal(err)
		}
		if err := svc.FoldCounts(ctx); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		check("folded beside a transaction")
		fold("folded after the transaction")
	})
}
