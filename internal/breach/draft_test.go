package breach_test

import (
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
)

// TestDeterminationDraft: on both databases, the wizard's draft is the
// officer's own, kept sealed, merged step by step (an empty answer
// clears one), audited on every save, refused to anyone who may not
// sign, and deleted when the officer signs.
func TestDeterminationDraft(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		svc, _, _, inc, c := openCase(t, d, "Lost laptop")
		pat, other := as(authz.RolePrivacyOfficer, "pat"), as(authz.RolePrivacyOfficer, "kim")
		const canary = "Quillfeather diagnosis list"
		if _, err := svc.SaveDraft(pat, inc.Number, map[string]string{"path": "assess", "factor0_answer": canary}); err != nil {
			t.Fatal(err)
		}
		got, err := svc.SaveDraft(pat, inc.Number, map[string]string{"factor0_rationale": "forensics", "path": ""})
		if err != nil || got["factor0_answer"] != canary || got["factor0_rationale"] != "forensics" || got["path"] != "" {
			t.Fatalf("merged draft: %v %v", got, err)
		}
		if got, err := svc.Draft(pat, inc.Number); err != nil || got["factor0_answer"] != canary || len(got) != 2 {
			t.Fatalf("the officer's draft: %v %v", got, err)
		}
		if got, err := svc.Draft(other, inc.Number); err != nil || len(got) != 0 {
			t.Fatalf("another officer sees %v %v, want an empty draft of their own", got, err)
		}
		var raw string
		if err := d.R.QueryRow(`SELECT body FROM breach_determination_drafts WHERE case_id = $1`, c.ID).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(raw, "Quillfeather") {
			t.Error("the draft is stored in the clear")
		}
		var saves int
		if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'breach_case.determination_draft'`).Scan(&saves); err != nil {
			t.Fatal(err)
		}
		if saves != 2 {
			t.Errorf("%d draft saves audited, want 2", saves)
		}
		for _, role := range []authz.Role{authz.RoleSecurityOfficer, authz.RoleResponder} {
			if _, err := svc.SaveDraft(as(role, "x"), inc.Number, map[string]string{"path": "notify"}); apperr.CodeOf(err) != apperr.Forbidden {
				t.Errorf("%s saving a draft: %v, want forbidden", role, err)
			}
		}
		if _, err := svc.Determine(pat, inc.Number, rules.Determination{NotifyWithoutAssessment: true}, ""); err != nil {
			t.Fatal(err)
		}
		var left int
		if err := d.R.QueryRow(`SELECT count(*) FROM breach_determination_drafts WHERE case_id = $1`, c.ID).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left != 0 {
			t.Errorf("%d drafts left after signing, want 0", left)
		}
	})
}
