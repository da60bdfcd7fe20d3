package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// TestReviewBreak: a break the watcher recorded is unreviewed until a
// Security or Privacy Officer reviews it, naming the incident that
// investigates it; the review is stored and audited, is refused to other
// roles, for an unknown incident or segment, and a second time.
func TestReviewBreak(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		exec(t, d, `INSERT INTO users (id, username, display_name, email, role, password_hash, disabled, created_at, updated_at)
			VALUES ('u1', 'ann', 'Ann', '', 'security_officer', 'x', false, $1, $1)`, start)
		exec(t, d, `INSERT INTO incidents (id, number, title, description, severity, category, phi_suspected,
			detected_at, created_at, updated_at, status, resolution, commander, customers, not_applicable, created_by,
			version, restricted) VALUES ('i1', 'INC-2026-0042', 't', '', 'sev1', 'other', false, $1, $1, $1, 'detected',
			'', '', '[]', '[]', 'x', 1, false)`, start)
		var a alerts
		w := newWatcher(d, &a)
		appendN(t, d, 8)
		watchTick(t, w)
		watchTick(t, w)
		replaceTail(t, d, 7, nil)
		watchTick(t, w)
		open, err := audit.Unreviewed(context.Background(), d.R)
		if err != nil || len(open) != 1 || open[0].Number != 2 || open[0].BrokenAt != 7 {
			t.Fatalf("unreviewed breaks: %+v %v", open, err)
		}

		r := audit.NewReader(d, clock.NewFake(start.Add(2*time.Hour)))
		officer := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: "u1", Name: "ann",
			Role: authz.RoleSecurityOfficer})
		responder := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: "u2", Name: "bob",
			Role: authz.RoleResponder})
		auditor := authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: "u3", Name: "cy",
			Role: authz.RoleAuditor})
		for name, tc := range map[string]struct {
			ctx     context.Context
			segment int64
			ref     string
			want    apperr.Code
		}{
			"a responder":          {responder, 2, "INC-2026-0042", apperr.Forbidden},
			"an auditor":           {auditor, 2, "INC-2026-0042", apperr.Forbidden},
			"no incident named":    {officer, 2, " ", apperr.Invalid},
			"an unknown incident":  {officer, 2, "INC-2026-9999", apperr.Invalid},
			"the first segment":    {officer, 1, "INC-2026-0042", apperr.NotFound},
			"a segment not exists": {officer, 3, "INC-2026-0042", apperr.NotFound},
		} {
			if _, err := r.ReviewBreak(tc.ctx, tc.segment, tc.ref); apperr.CodeOf(err) != tc.want {
				t.Errorf("%s: %v, want %s", name, err, tc.want)
			}
		}
		got, err := r.ReviewBreak(officer, 2, "inc-2026-0042")
		if err != nil || got.Review == nil || got.Review.IncidentNumber != "INC-2026-0042" || got.Review.ReviewedBy != "user:ann" {
			t.Fatalf("review: %+v %v", got, err)
		}
		if _, err := r.ReviewBreak(officer, 2, "INC-2026-0042"); apperr.CodeOf(err) != apperr.Conflict {
			t.Errorf("a second review: %v, want a conflict", err)
		}
		if open, err := audit.Unreviewed(context.Background(), d.R); err != nil || len(open) != 0 {
			t.Errorf("unreviewed after the review: %+v %v", open, err)
		}
		segs, err := r.SegmentsReviewed(auditor)
		if err != nil || len(segs) != 1 || segs[0].Review == nil || !segs[0].Review.ReviewedAt.Equal(start.Add(2*time.Hour)) {
			t.Fatalf("segments as the auditor reads them: %+v %v", segs, err)
		}
		var n int
		if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = $1 AND object_type = $2 AND object_id = '2'
			AND actor = 'user:ann'`, audit.ActionBreakReview, audit.ObjectBreak).Scan(&n); err != nil || n != 1 {
			t.Errorf("%d review entries in the trail (%v)", n, err)
		}
		if res := verify(t, d); !res.OK || len(res.RecordedBreaks()) != 1 {
			t.Errorf("the trail after the review: %+v", res)
		}
	})
}
