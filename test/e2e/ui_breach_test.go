package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
)

var discoveredRe = regexp.MustCompile(`name="discovered_at" type="datetime-local" value="([^"]+)"`)

// TestUIBreachCase works a breach case through the web pages on both
// databases: an administrator opens it and records the facts (an invalid
// count first), the Privacy Officer signs "notify without assessment", a
// notice is recorded as made and the deadline board shows the rest.
func TestUIBreachCase(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Stolen laptop", "category": "theft"}, &inc)
		admin := signInAs(t, w, authz.RoleAdmin, "b-admin")
		casePath := "/incidents/" + inc.Number + "/breach"

		if code, page := admin.send("GET", "/incidents/"+inc.Number, nil); code != http.StatusOK || !strings.Contains(page, "Open breach case") {
			t.Fatalf("incident page without a case: %d %.300s", code, page)
		}
		if code, where := admin.send("POST", casePath+"/open", nil); code != http.StatusSeeOther || !strings.HasPrefix(where, casePath) {
			t.Fatalf("open: %d %.300s", code, where)
		}
		code, page := admin.send("GET", casePath, nil)
		if code != http.StatusOK || !strings.Contains(page, "Pending: breach presumed") || !strings.Contains(page, `class="clock`) {
			t.Fatalf("case page: %d %.500s", code, page)
		}
		if strings.Contains(page, "Sign a determination") {
			t.Error("an administrator is offered signing")
		}
		m := discoveredRe.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no discovery date on the facts form")
		}
		facts := func(individuals string) url.Values {
			return url.Values{"role": {"covered_entity"}, "discovered_at": {m[1]}, "should_have_known_at": {m[1]},
				"individuals": {individuals}, "by_state": {"CA=700, OR=500"}, "customers[0]_id": {""}}
		}
		code, page = admin.send("POST", casePath+"/facts", facts("-3"))
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="individuals-error">must not be negative`) {
			t.Fatalf("negative individuals: %d %.2000s", code, page)
		}
		if !strings.Contains(page, `value="CA=700, OR=500"`) {
			t.Error("the rejected form lost the residents per State")
		}
		bad := facts("1200")
		bad.Set("by_state", "CA=lots")
		code, page = admin.send("POST", casePath+"/facts", bad)
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="by_state-error">&#34;CA=lots&#34; is not a State and a count`) {
			t.Fatalf("unreadable residents per State: %d %.2000s", code, page)
		}
		bad.Set("by_state", "CA=-700")
		if code, page = admin.send("POST", casePath+"/facts", bad); !strings.Contains(page, `id="by_state-error">CA: must not be negative`) {
			t.Fatalf("negative residents of a State: %d %.2000s", code, page)
		}
		if !strings.Contains(page, `value="CA=-700"`) {
			t.Error("the rejected form lost the residents per State")
		}
		if code, where := admin.send("POST", casePath+"/facts", facts("1200")); code != http.StatusSeeOther {
			t.Fatalf("facts: %d %.2000s", code, where)
		}
		_, page = admin.send("GET", casePath, nil)
		for _, key := range []string{"individuals:CA", "individuals:OR", "media:CA", "hhs"} {
			if !strings.Contains(page, `id="obligation-`+key+`"`) {
				t.Errorf("no %s obligation for 1200 individuals, 700 in CA", key)
			}
		}
		if strings.Contains(page, `id="obligation-media:OR"`) {
			t.Error("media notice for exactly 500 residents of OR (164.406 needs more than 500)")
		}
		if code, _ := admin.send("POST", casePath+"/determinations", url.Values{"path": {"notify"}}); code != http.StatusForbidden {
			t.Errorf("an administrator signing: %d, want 403", code)
		}

		privacy := signInAs(t, w, authz.RolePrivacyOfficer, "b-privacy")
		if _, page := privacy.send("GET", casePath, nil); !strings.Contains(page, "Sign a determination") {
			t.Fatal("the Privacy Officer is not offered signing")
		}
		code, page = privacy.send("POST", casePath+"/determinations", url.Values{"path": {"assess"}, "factor0_answer": {"names and diagnoses"},
			"assessment_outcome": {"low_probability_of_compromise"}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="factor0_rationale-error">a low probability of compromise is refused`) ||
			!strings.Contains(page, `id="factor3_answer-error"`) || !strings.Contains(page, `id="assessment_rationale-error"`) ||
			!strings.Contains(page, ">names and diagnoses</textarea>") {
			t.Fatalf("an incomplete risk assessment: %d %.3000s", code, page)
		}
		// Ransomware questions: closed for a theft, open for a hacking/IT
		// incident; a low probability needs all three answers.
		if _, page := privacy.send("GET", casePath, nil); !strings.Contains(page, `<details class="repeat" id="ransomware">`) {
			t.Fatalf("the ransomware questions of a theft: %.3000s", page)
		}
		w.must(http.StatusOK, "PATCH", "/api/v1/incidents/"+inc.ID, map[string]any{"category": "hacking_it_incident"}, nil)
		if _, page := privacy.send("GET", casePath, nil); !strings.Contains(page, `<details class="repeat" id="ransomware" open>`) {
			t.Fatalf("the ransomware questions of a hacking incident are not open: %.3000s", page)
		}
		full := url.Values{"path": {"assess"}, "assessment_outcome": {"low_probability_of_compromise"}, "assessment_rationale": {"contained"},
			"ransomware": {"on"}, "assessment_ransomware_variant": {"an encrypt-only strain"}}
		for i := range 4 {
			full.Set(fmt.Sprintf("factor%d_answer", i), "answered")
			full.Set(fmt.Sprintf("factor%d_rationale", i), "reasoned")
		}
		code, page = privacy.send("POST", casePath+"/determinations", full)
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="assessment_ransomware_exfiltration-error">a low probability of compromise after ransomware`) ||
			!strings.Contains(page, `id="assessment_ransomware_spread-error"`) || !strings.Contains(page, ">an encrypt-only strain</textarea>") {
			t.Fatalf("a ransomware assessment without exfiltration and spread: %d %.3000s", code, page)
		}
		if code, where := privacy.send("POST", casePath+"/determinations", url.Values{"path": {"notify"}}); code != http.StatusSeeOther {
			t.Fatalf("sign: %d %.2000s", code, where)
		}
		code, page = privacy.send("POST", casePath+"/determinations", url.Values{"path": {"notify"}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="reason-error"`) {
			t.Fatalf("a second version without a reason: %d %.500s", code, page)
		}
		_, page = admin.send("GET", casePath, nil)
		if !strings.Contains(page, `id="determination-1"`) || !strings.Contains(page, "notify without a risk assessment") ||
			strings.Contains(page, `id="determination-2"`) {
			t.Fatalf("signed versions: %.3000s", page)
		}

		// "Mark met" needs the evidence; "Undo" needs a reason.
		code, page = admin.send("POST", casePath+"/met", url.Values{"obligation": {"individuals:CA"}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="met-individuals:CA-error"`) ||
			!strings.Contains(page, "say what shows the notice was made") || strings.Contains(page, `class="ob-met"`) {
			t.Fatalf("mark met without a reason: %d %.3000s", code, page)
		}
		if code, where := admin.send("POST", casePath+"/met", url.Values{"obligation": {"individuals:CA"},
			"reason": {"23 of 30 letters mailed by the vendor"}}); code != http.StatusSeeOther {
			t.Fatalf("mark met: %d %.500s", code, where)
		}
		_, page = admin.send("GET", casePath, nil)
		if !strings.Contains(page, `id="obligation-individuals:CA" class="ob-met"`) || !strings.Contains(page, ": 23 of 30 letters mailed by the vendor</span>") ||
			!strings.Contains(page, `id="reopen-individuals:CA-reason"`) {
			t.Errorf("the notice to California residents is not shown met with its evidence and an Undo: %.5000s", page)
		}
		if code, where := admin.send("POST", casePath+"/reopen", url.Values{"obligation": {"individuals:CA"},
			"reason": {"7 of 30 were never notified"}}); code != http.StatusSeeOther {
			t.Fatalf("undo: %d %.500s", code, where)
		}
		if _, page = admin.send("GET", casePath, nil); !strings.Contains(page, `id="obligation-individuals:CA" class="ob-open"`) {
			t.Errorf("the notice to California residents is not open after Undo: %.5000s", page)
		}
		if code, where := admin.send("POST", casePath+"/met", url.Values{"obligation": {"individuals:CA"},
			"reason": {"the last 7 letters mailed by the vendor"}}); code != http.StatusSeeOther {
			t.Fatalf("mark met again: %d %.500s", code, where)
		}
		_, page = admin.send("GET", "/incidents/"+inc.Number, nil)
		if !strings.Contains(page, `href="`+casePath+`"`) || !strings.Contains(page, "Breach: notification required") {
			t.Errorf("incident page's breach section: %.300s", page)
		}
		_, board := admin.send("GET", "/breach/deadlines", nil)
		if !strings.Contains(board, `id="board-`+inc.Number+`-media:CA"`) || !strings.Contains(board, `id="board-`+inc.Number+`-hhs"`) {
			t.Errorf("the board lacks unmet obligations: %.3000s", board)
		}
		if strings.Contains(board, `id="board-`+inc.Number+`-individuals"`) {
			t.Error("a met obligation on the board")
		}

		// Discovered 100 days ago: every unmet deadline has passed.
		long := facts("1200")
		long.Set("discovered_at", time.Now().UTC().AddDate(0, 0, -100).Format("2006-01-02T15:04"))
		long.Set("should_have_known_at", long.Get("discovered_at"))
		if code, where := admin.send("POST", casePath+"/facts", long); code != http.StatusSeeOther {
			t.Fatalf("facts of an old breach: %d %.2000s", code, where)
		}
		if _, page := admin.send("GET", casePath, nil); !strings.Contains(page, `class="clock overdue"`) || !strings.Contains(page, "OVERDUE") {
			t.Errorf("the clock of an old breach is not overdue: %.2000s", page)
		}
		_, board = admin.send("GET", "/breach/deadlines", nil)
		if !strings.Contains(board, `id="board-`+inc.Number+`-media:CA" class="ob-overdue"`) || !strings.Contains(board, "OVERDUE") {
			t.Errorf("overdue obligations not shown overdue on the board: %.3000s", board)
		}
	})
}
