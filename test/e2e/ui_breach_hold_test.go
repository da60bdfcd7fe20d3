package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
)

// TestUIBreachHold: during a law-enforcement hold (164.412) the case page,
// the deadline board and the notices page say so, with the original
// deadline beside the held one; "Mark met" is refused naming the hold
// until the official's name and reason are given.
func TestUIBreachHold(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Stolen laptop", "category": "theft"}, &inc)
		base := "/api/v1/incidents/" + inc.ID + "/breach-case"
		w.must(http.StatusCreated, "POST", base, nil, nil)
		now := time.Now().UTC()
		disc := now.Add(-50 * 24 * time.Hour).Format(time.RFC3339)
		w.must(http.StatusOK, "PUT", base+"/facts", map[string]any{"role": "covered_entity", "discovered_at": disc, "should_have_known_at": disc,
			"individuals": 600, "law_enforcement_delay": map[string]any{"written": map[string]any{"at": now.Add(-5 * 24 * time.Hour).Format(time.RFC3339),
				"until": now.Add(20 * 24 * time.Hour).Format(time.RFC3339), "official": "Special Agent Dana Reyes", "agency": "FBI"}}}, nil)
		admin := signInAs(t, w, authz.RoleAdmin, "h-admin")
		casePath := "/incidents/" + inc.Number + "/breach"

		_, page := admin.send("GET", casePath, nil)
		if !strings.Contains(page, `id="hold-banner"`) || !strings.Contains(page, "Special Agent Dana Reyes (FBI), in writing on") ||
			!strings.Contains(page, `class="hint due-without-hold">without the hold: due`) || !strings.Contains(page, `id="met-individuals-hold-official"`) {
			t.Fatalf("the case page does not show the hold, the original deadline and the override: %.6000s", page)
		}
		met := url.Values{"obligation": {"individuals"}, "reason": {"30 letters mailed by the vendor"}}
		code, page := admin.send("POST", casePath+"/met", met)
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="met-individuals-error"`) ||
			!strings.Contains(page, "a law-enforcement hold is in force") || strings.Contains(page, `class="ob-met"`) {
			t.Fatalf("mark met during the hold: %d %.6000s", code, page)
		}
		met.Set("hold_official", "Special Agent Dana Reyes")
		met.Set("hold_reason", "the agent allowed the letters by phone")
		if code, where := admin.send("POST", casePath+"/met", met); code != http.StatusSeeOther {
			t.Fatalf("mark met with the override: %d %.500s", code, where)
		}
		if _, page = admin.send("GET", casePath, nil); !strings.Contains(page, `id="obligation-individuals" class="ob-met"`) {
			t.Fatalf("individuals not met after the override: %.6000s", page)
		}

		_, board := admin.send("GET", "/breach/deadlines", nil)
		if !strings.Contains(board, `id="board-`+inc.Number+`-hhs"`) || !strings.Contains(board, "without the hold: due") {
			t.Errorf("the board does not show the original deadline: %.4000s", board)
		}
		_, notices := admin.send("GET", "/incidents/"+inc.Number+"/notices", nil)
		if !strings.Contains(notices, `id="hold-banner"`) || !strings.Contains(notices, `id="generate-hold-official"`) {
			t.Errorf("the notices page does not offer the override: %.4000s", notices)
		}
	})
}
