package breach_test

import (
	"context"
	"io"
	"log/slog"
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
	"github.com/wardhq/ward/internal/keys"
)

var start = time.Date(2026, 5, 4, 15, 0, 0, 0, time.UTC)

func as(role authz.Role, name string) context.Context {
	return authz.WithActor(context.Background(), authz.Actor{Kind: authz.KindUser, ID: "u-" + name, Name: name, Role: role})
}

// openCase opens a breach case, at start, on a fresh incident titled
// title, as the security officer sam.
func openCase(t *testing.T, d *db.DB, title string) (*breach.Service, *incident.Service, *clock.Fake, incident.Incident, breach.Case) {
	t.Helper()
	clk := clock.NewFake(start)
	incs := incident.NewService(d, clk, dbtest.Keyring(t, d, start))
	svc, err := breach.New(d, clk, incs, dbtest.Keyring(t, d, start), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	sec := as(authz.RoleSecurityOfficer, "sam")
	inc, err := incs.Create(sec, incident.CreateInput{Title: title, Severity: incident.Sev2})
	if err != nil {
		t.Fatal(err)
	}
	c, err := svc.Open(sec, inc.Number)
	if err != nil {
		t.Fatal(err)
	}
	return svc, incs, clk, inc, c
}

// factsOf returns case caseID's facts as stored, opened.
func factsOf(t *testing.T, d *db.DB, caseID string) string {
	t.Helper()
	var sealed string
	if err := d.R.QueryRow(`SELECT facts FROM breach_cases WHERE id = $1`, caseID).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	plain, err := dbtest.Keyring(t, d, start).Open(sealed, keys.BreachFacts.Table, keys.BreachFacts.Name, caseID)
	if err != nil {
		t.Fatal(err)
	}
	return string(plain)
}

// storeFacts stores body as case caseID's facts, sealed as Ward seals
// them: a row as an older Ward wrote it.
func storeFacts(t *testing.T, d *db.DB, caseID, body string) {
	t.Helper()
	sealed, err := dbtest.Keyring(t, d, start).Seal([]byte(body), keys.BreachFacts.Table, keys.BreachFacts.Name, caseID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.W.Exec(`UPDATE breach_cases SET facts = $1 WHERE id = $2`, sealed, caseID); err != nil {
		t.Fatal(err)
	}
}

func keysOf(obs []breach.Obligation) string {
	var ks []string
	for _, o := range obs {
		ks = append(ks, o.Key)
	}
	return strings.Join(ks, " ")
}

// TestBreachCase: a case opens under the presumption of breach, its facts
// drive the obligations (each with its citation), a signed determination
// is versioned with a reason, a low probability of compromise clears what
// is not yet met, and meeting a notice is recorded on time or late.
func TestBreachCase(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		clk := clock.NewFake(start)
		incs := incident.NewService(d, clk, dbtest.Keyring(t, d, start))
		svc, err := breach.New(d, clk, incs, dbtest.Keyring(t, d, start), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		sec, priv := as(authz.RoleSecurityOfficer, "sam"), as(authz.RolePrivacyOfficer, "pia")
		inc, err := incs.Create(sec, incident.CreateInput{Title: "Misconfigured bucket", Severity: incident.Sev2})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Open(as(authz.RoleResponder, "rae"), inc.Number); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("a responder opening a case: %v", err)
		}
		c, err := svc.Open(sec, inc.Number)
		if err != nil || c.Outcome != breach.OutcomePending {
			t.Fatalf("open: %+v %v", c, err)
		}
		if _, err := svc.Open(sec, inc.Number); apperr.CodeOf(err) != apperr.Conflict {
			t.Fatalf("a second case: %v", err)
		}
		if got, _ := incs.Get(sec, inc.Number); !got.PHISuspected {
			t.Fatal("opening a case marks the incident phi_suspected")
		}

		// The discovery clock starts at the earlier of known and should
		// have known (164.404(a)(2)).
		f := c.Facts
		f.DiscoveredAt = start
		f.ShouldHaveKnownAt = start.Add(-48 * time.Hour)
		f.Individuals = 600
		f.ByState = map[string]int{"NV": 550, "AZ": 50}
		if _, err := svc.SetFacts(sec, inc.Number, f); err != nil {
			t.Fatal(err)
		}
		obs, err := svc.Obligations(sec, inc.Number)
		if err != nil {
			t.Fatal(err)
		}
		if keys := keysOf(obs); !strings.Contains(keys, "individuals:NV") || !strings.Contains(keys, "individuals:AZ") || !strings.Contains(keys, "media:NV") ||
			strings.Contains(keys, "media:AZ") || !strings.Contains(keys, "hhs") {
			t.Fatalf("obligations for 600 (550 in NV): %s", keys)
		}
		for _, o := range obs {
			if o.Citation == "" || o.Why == "" || o.State != breach.StateOpen {
				t.Errorf("obligation without citation or reason: %+v", o)
			}
			if o.Recipient == rules.ToIndividuals && o.Due.After(start.AddDate(0, 0, 59)) {
				t.Errorf("individual notice due %s, after 60 days from the earlier date (164.404(b))", o.Due)
			}
		}
		bad := f
		bad.Individuals = -1
		if _, err := svc.SetFacts(sec, inc.Number, bad); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("negative individuals: %v", err)
		}

		// Only the Privacy Officer signs; a low probability needs every factor's rationale.
		notify := rules.Determination{NotifyWithoutAssessment: true}
		if _, err := svc.Determine(sec, inc.Number, notify, ""); apperr.CodeOf(err) != apperr.Forbidden {
			t.Fatalf("the security officer signing: %v", err)
		}
		d1, err := svc.Determine(priv, inc.Number, notify, "")
		if err != nil || d1.Version != 1 || d1.Result.Outcome != rules.NotificationRequired || d1.SignedBy != "user:pia" {
			t.Fatalf("first determination: %+v %v", d1, err)
		}
		low := rules.Determination{Assessment: &rules.Assessment{Outcome: rules.LowProbability, Rationale: "encrypted at rest; logs show no reads",
			Findings: []rules.Finding{{Factor: rules.FactorNatureExtent, Answer: "names only"}}}}
		if _, err := svc.Determine(priv, inc.Number, low, "access logs arrived"); apperr.CodeOf(err) != apperr.Invalid {
			t.Fatalf("low probability without every factor: %v", err)
		}
		low.Assessment.Findings = nil
		for _, fa := range rules.Factors() {
			low.Assessment.Findings = append(low.Assessment.Findings, rules.Finding{Factor: fa, Answer: "low", Rationale: "see access logs"})
		}
		if _, err := svc.Determine(priv, inc.Number, low, ""); !strings.Contains(errText(err), "reason") {
			t.Fatalf("a new version without a reason: %v", err)
		}
		// Meet one notice first: met obligations stay when others go.
		clk.Advance(24 * time.Hour)
		if _, err := svc.MarkMet(sec, inc.Number, breach.Met{Key: "individuals:NV", Reason: "letters mailed by the vendor, receipt 42"}); err != nil {
			t.Fatal(err)
		}
		d2, err := svc.Determine(priv, inc.Number, low, "access logs show the objects were never read")
		if err != nil || d2.Version != 2 || d2.Result.Outcome != rules.LowProbability {
			t.Fatalf("second determination: %+v %v", d2, err)
		}
		obs, _ = svc.Obligations(sec, inc.Number)
		if len(obs) != 1 || obs[0].Key != "individuals:NV" || obs[0].State != breach.StateMet {
			t.Fatalf("after low probability: %+v", obs)
		}
		ds, err := svc.Determinations(as(authz.RoleAuditor, "aud"), inc.Number)
		if err != nil || len(ds) != 2 || ds[0].Result.Outcome != rules.NotificationRequired || ds[1].Reason == "" {
			t.Fatalf("versions: %+v %v", ds, err)
		}
		tl, _ := incs.Timeline(sec, inc.Number, incident.EventBreach, 0, 20)
		if len(tl) != 5 || !strings.Contains(tl[3].Note, "met by sam, on time") {
			t.Fatalf("breach timeline: %d %+v", len(tl), tl)
		}
	})
}

// TestDeadlineBoard lists unmet obligations across cases, overdue ones
// marked, restricted incidents only for those who may see them.
func TestDeadlineBoard(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		clk := clock.NewFake(start)
		incs := incident.NewService(d, clk, dbtest.Keyring(t, d, start))
		svc, err := breach.New(d, clk, incs, dbtest.Keyring(t, d, start), slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			t.Fatal(err)
		}
		sec := as(authz.RoleSecurityOfficer, "sam")
		a, _ := incs.Create(sec, incident.CreateInput{Title: "a"})
		b, _ := incs.Create(sec, incident.CreateInput{Title: "b", Restricted: true})
		for _, n := range []string{a.Number, b.Number} {
			if _, err := svc.Open(sec, n); err != nil {
				t.Fatal(err)
			}
		}
		board, err := svc.Board(sec)
		if err != nil || len(board) < 2 {
			t.Fatalf("board: %+v %v", board, err)
		}
		responder := as(authz.RoleResponder, "rae")
		board, _ = svc.Board(responder)
		for _, o := range board {
			if o.IncidentNumber == b.Number {
				t.Fatal("a restricted incident's obligations on the board of someone who may not see it")
			}
		}
		clk.Advance(61 * 24 * time.Hour)
		board, _ = svc.Board(sec)
		overdue := 0
		for _, o := range board {
			if o.Key == "individuals" && o.State == breach.StateOverdue {
				overdue++
			}
		}
		if overdue != 2 {
			t.Fatalf("overdue after 61 days: %d of %+v", overdue, board)
		}
	})
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestLegacyNoticeDatesStillCount: a case saved before notices made came
// from the records held the dates typed into its facts
// (individual_notice_at, hhs_notice_at); after the upgrade a deadline
// counted from them still counts from them, and saving the facts keeps
// them, rather than counting from the notice's later deadline.
func TestLegacyNoticeDatesStillCount(t *testing.T) {
	dbtest.ForEachDialect(t, func(t *testing.T, d *db.DB) {
		svc, _, _, inc, c := openCase(t, d, "Lost backup tape")
		sec := as(authz.RoleSecurityOfficer, "sam")
		f := c.Facts
		f.DiscoveredAt, f.ShouldHaveKnownAt, f.Individuals, f.ByState = start.Add(-72*time.Hour), time.Time{}, 600, map[string]int{"CA": 600}
		if _, err := svc.SetFacts(sec, inc.Number, f); err != nil {
			t.Fatal(err)
		}
		agDue := func() time.Time {
			obs, err := svc.Obligations(sec, inc.Number)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range obs {
				if o.Key == "state_regulator:CA-ag" {
					return o.Due
				}
			}
			t.Fatalf("no California AG notice: %s", keysOf(obs))
			return time.Time{}
		}
		before := agDue()
		// The row as an older Ward wrote it: the notice to individuals
		// typed into the facts on the day of discovery.
		notified := start.Add(-72 * time.Hour)
		body := strings.Replace(factsOf(t, d, c.ID), "{", `{"individual_notice_at":"`+notified.Format(time.RFC3339)+`",`, 1)
		storeFacts(t, d, c.ID, body)
		f.Individuals = 601
		if _, err := svc.SetFacts(sec, inc.Number, f); err != nil {
			t.Fatal(err)
		}
		if got, want := agDue(), rules.EndOfDay(notified.AddDate(0, 0, 15), time.UTC); !got.Equal(want) || !got.Before(before) {
			t.Fatalf("California AG due %s after the upgrade, want %s: 15 days from the notice typed in the facts (was %s)", got, want, before)
		}
		if body = factsOf(t, d, c.ID); !strings.Contains(body, "individual_notice_at") {
			t.Fatalf("saving the facts dropped the typed notice date: %s", body)
		}
	})
}
