package breach_test

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/keys"
)

// TestBreachTextSealedAfterUpgrade: a case's facts, a determination's body,
// why and reason and an obligation's met reason as an older Ward stored
// them, in clear, are sealed by Keyring.SealPlaintext (what Ward runs at
// start), each bound to its row (a determination and an obligation by
// their two-column keys), re-encrypted by key rotation, and read back as
// they were; a second run finds nothing to do, and a stakeholder reads
// none of them.
func TestBreachTextSealedAfterUpgrade(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		svc, _, _, inc, c := openCase(t, d, "Lost backup tape")
		sec, priv := as(authz.RoleSecurityOfficer, "sam"), as(authz.RolePrivacyOfficer, "pia")
		const secret = "Zebediah Quillfeather"
		f := c.Facts
		f.Delay = &rules.LawEnforcementDelay{Oral: &rules.OralStatement{At: start, Official: secret, Agency: "Metro PD"}}
		if _, err := svc.SetFacts(sec, inc.Number, f); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Determine(priv, inc.Number, rules.Determination{NotifyWithoutAssessment: true}, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Determine(priv, inc.Number, rules.Determination{NotifyWithoutAssessment: true}, "new facts about "+secret); err != nil {
			t.Fatal(err)
		}
		hold := &breach.HoldOverride{Official: "Det. Example", Reason: "the official allowed it in writing"}
		if _, err := svc.MarkMet(sec, inc.Number, breach.Met{Key: "hhs", Reason: "filed for " + secret, Hold: hold}); err != nil {
			t.Fatal(err)
		}

		// Undo the sealing, as the rows were before it.
		kr := dbtest.Keyring(t, d, start)
		cols := []keys.Column{keys.BreachFacts, keys.BreachDeterminationBody, keys.BreachDeterminationWhy, keys.BreachDeterminationReason,
			keys.BreachObligationMetReason}
		for _, col := range cols {
			rows, err := d.R.Query(`SELECT ` + col.RowID + `, ` + col.Name + ` FROM ` + col.Table + ` WHERE ` + col.Name + ` <> ''`)
			type row struct{ id, v string }
			list, err := db.Collect(rows, err, "read", func(r *sql.Rows) (row, error) {
				var x row
				return x, r.Scan(&x.id, &x.v)
			})
			if err != nil || len(list) == 0 {
				t.Fatalf("%s: %d rows, %v", col, len(list), err)
			}
			for _, x := range list {
				plain, err := kr.Open(x.v, col.Table, col.Name, x.id)
				if err != nil {
					t.Fatalf("%s row %s: %v", col, x.id, err)
				}
				if _, err := d.W.Exec(`UPDATE `+col.Table+` SET `+col.Name+` = $1 WHERE `+col.RowID+` = $2`, string(plain), x.id); err != nil {
					t.Fatal(err)
				}
			}
		}
		for _, col := range cols {
			n, err := kr.SealPlaintext(context.Background(), col, 1, nil)
			if err != nil || n == 0 {
				t.Fatalf("seal %s: %d, %v", col, n, err)
			}
			if n, err := kr.SealPlaintext(context.Background(), col, 1, nil); err != nil || n != 0 {
				t.Fatalf("seal %s again: %d, %v", col, n, err)
			}
		}
		var raw strings.Builder
		for _, q := range []string{`SELECT facts FROM breach_cases`, `SELECT body || why || reason FROM breach_determinations`,
			`SELECT met_reason FROM breach_obligations`} {
			rows, err := d.R.Query(q)
			vs, err := db.Collect(rows, err, "read", func(r *sql.Rows) (string, error) {
				var v string
				return v, r.Scan(&v)
			})
			if err != nil {
				t.Fatal(err)
			}
			raw.WriteString(strings.Join(vs, "\n"))
		}
		if strings.Contains(raw.String(), "Quillfeather") {
			t.Fatalf("plaintext left after sealing: %s", raw.String())
		}

		// Key rotation re-encrypts them, each found by its row's key.
		res, err := kr.Rotate(context.Background(), keys.RotateOptions{BatchSize: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, col := range cols {
			if res.Reencrypted[col.String()] == 0 {
				t.Errorf("rotation re-encrypted no %s: %v", col, res.Reencrypted)
			}
		}
		got, err := svc.Get(sec, inc.Number)
		if err != nil || got.Facts.Delay == nil || got.Facts.Delay.Oral.Official != secret {
			t.Fatalf("facts after sealing: %+v %v", got.Facts.Delay, err)
		}
		dets, err := svc.Determinations(sec, inc.Number)
		if err != nil || len(dets) != 2 || dets[1].Reason != "new facts about "+secret || dets[1].Result.Why == "" {
			t.Fatalf("determinations after sealing: %+v %v", dets, err)
		}
		obs, err := svc.Obligations(sec, inc.Number)
		if err != nil || !strings.Contains(metReasons(obs), "filed for "+secret) {
			t.Fatalf("obligations after sealing: %v %v", metReasons(obs), err)
		}

		// A stakeholder reads none of it, and is told so.
		stake := as(authz.RoleStakeholder, "stan")
		got, err = svc.Get(stake, inc.Number)
		if err != nil || !got.Redacted || got.Facts.Delay.Oral.Official != "" || got.Facts.Delay.Oral.At.IsZero() {
			t.Fatalf("facts for a stakeholder: %+v %v", got.Facts.Delay, err)
		}
		if dets, err = svc.Determinations(stake, inc.Number); err != nil || !dets[1].Redacted || dets[1].Reason != "" || dets[1].Result.Why != "" {
			t.Fatalf("determinations for a stakeholder: %+v %v", dets, err)
		}
		if obs, err = svc.Obligations(stake, inc.Number); err != nil || strings.Contains(metReasons(obs), secret) ||
			!slices.ContainsFunc(obs, func(o breach.Obligation) bool { return o.MetReasonRedacted }) {
			t.Fatalf("obligations for a stakeholder: %v %v", metReasons(obs), err)
		}
	})
}

func metReasons(obs []breach.Obligation) string {
	var out []string
	for _, o := range obs {
		out = append(out, o.MetReason)
	}
	return strings.Join(out, "; ")
}
