package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wardhq/ward/internal/authz"
)

// uploadTestEvidence adds a small evidence file to incident number through
// the API and returns the item's API path.
func uploadTestEvidence(t *testing.T, w *ward, number, description, content string) string {
	t.Helper()
	base := "/api/v1/incidents/" + number + "/evidence"
	ct, body := evidenceForm(t, [][2]string{{"description", description}}, "item.txt", []byte(content))
	code, _, raw := w.raw(w.token, "POST", base, ct, body)
	if code != http.StatusCreated {
		t.Fatalf("upload: %d %s", code, raw)
	}
	return base + "/" + jsonID(t, raw)
}

type itemHoldJSON struct {
	LegalHold *struct {
		Since    string `json:"since"`
		PlacedBy string `json:"placed_by"`
		Reason   string `json:"reason"`
	} `json:"legal_hold"`
	Status  string `json:"status"`
	Custody []struct {
		Action string `json:"action"`
		Reason string `json:"reason"`
	} `json:"custody"`
}

// TestEvidenceHoldAPI: over HTTPS a Security Officer puts one evidence
// item on legal hold; the item shows it; destroying it is refused (409)
// naming the hold; a responder may neither place nor release one; the
// release with its reason lets the item be destroyed. Hold and release are
// custody entries and audited. On both databases.
func TestEvidenceHoldAPI(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Stolen laptop", "severity": "sev2"}, &inc)
		item := uploadTestEvidence(t, w, inc.Number, "Disk image", "image bytes")
		so := w.tokenWithRole("hold-so", "security_officer")
		responder := w.tokenWithRole("hold-responder", "responder")

		if code, raw := w.doAs(responder, "POST", item+"/legal-hold", map[string]string{"reason": "x"}, nil); code != http.StatusForbidden {
			t.Fatalf("responder places a hold: %d %s", code, raw)
		}
		if code, raw := w.doAs(so, "POST", item+"/legal-hold", map[string]string{"reason": "   "}, nil); code != http.StatusUnprocessableEntity ||
			!strings.Contains(string(raw), "reason") {
			t.Fatalf("hold without a reason: %d %s", code, raw)
		}
		var held itemHoldJSON
		if code, raw := w.doAs(so, "POST", item+"/legal-hold", map[string]string{"reason": "Subpoena 26-114"}, &held); code != http.StatusCreated ||
			held.LegalHold == nil || held.LegalHold.Reason != "Subpoena 26-114" || held.LegalHold.PlacedBy != "token:hold-so" {
			t.Fatalf("place: %d %s", code, raw)
		}
		if code, _ := w.doAs(so, "POST", item+"/legal-hold", map[string]string{"reason": "again"}, nil); code != http.StatusConflict {
			t.Fatalf("second hold: %d", code)
		}
		code, raw := w.do("POST", item+"/custody", map[string]string{"action": "destroyed", "reason": "no longer needed"}, nil)
		if code != http.StatusConflict || !strings.Contains(string(raw), "on legal hold since") {
			t.Fatalf("destroy while held: %d %s", code, raw)
		}
		if code, _ := w.doAs(responder, "POST", item+"/legal-hold/release", map[string]string{"reason": "x"}, nil); code != http.StatusForbidden {
			t.Fatalf("responder releases: %d", code)
		}
		var got itemHoldJSON
		if code, raw := w.doAs(so, "POST", item+"/legal-hold/release", map[string]string{"reason": "Matter closed"}, &got); code != http.StatusOK ||
			got.LegalHold != nil {
			t.Fatalf("release: %d %s", code, raw)
		}
		w.must(http.StatusCreated, "POST", item+"/custody", map[string]string{"action": "destroyed", "reason": "no longer needed"}, nil)
		w.must(http.StatusOK, "GET", item, nil, &got)
		var actions []string
		for _, e := range got.Custody {
			actions = append(actions, e.Action)
		}
		if got.Status != "destroyed" || strings.Join(actions, " ") != "collected legal_hold_placed legal_hold_released destroyed" ||
			got.Custody[1].Reason != "Subpoena 26-114" || got.Custody[2].Reason != "Matter closed" {
			t.Fatalf("after release and destruction: %+v", got)
		}
		d := openWardDB(t, w)
		for _, a := range []string{"evidence.legal_hold", "evidence.legal_hold_release"} {
			if n := count(t, d, `SELECT count(*) FROM audit_log WHERE action = $1`, a); n != 1 {
				t.Errorf("%d audit entries %s, want 1", n, a)
			}
		}
	})
}

// TestUIEvidenceHold: in headless Chromium a Security Officer places a
// legal hold from an evidence item's page (a missing reason is named
// beside the field), sees "On legal hold since … by …: reason" there and
// on the incident page, is refused the destruction naming the hold, and
// releases it; a responder's item page offers no hold and its POST is
// refused. On both databases.
func TestUIEvidenceHold(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Misdirected fax"}, &inc)
		apiItem := uploadTestEvidence(t, w, inc.Number, "Fax confirmation", "fax log")
		page := w.url + "/incidents/" + inc.Number + "/evidence/" + apiItem[strings.LastIndex(apiItem, "/")+1:]
		ctx, _ := browserAs(t, w, authz.RoleSecurityOfficer, "uh-sam")

		var errText, flash, hold string
		run(t, ctx, "a hold without a reason", chromedp.Navigate(page), chromedp.WaitVisible("#hold_reason", chromedp.ByQuery),
			chromedp.RemoveAttribute("#hold_reason", "required", chromedp.ByQuery),
			chromedp.SendKeys("#hold_reason", "  ", chromedp.ByQuery), chromedp.Submit("#hold_reason", chromedp.ByQuery),
			chromedp.WaitVisible("#legal-hold .field-error", chromedp.ByQuery), chromedp.Text("#legal-hold .field-error", &errText, chromedp.ByQuery))
		if !strings.Contains(errText, "is required") {
			t.Fatalf("the missing reason: %q", errText)
		}
		run(t, ctx, "place the hold", chromedp.Navigate(page), chromedp.WaitVisible("#hold_reason", chromedp.ByQuery),
			chromedp.SendKeys("#hold_reason", "Counsel's preservation letter", chromedp.ByQuery), chromedp.Submit("#hold_reason", chromedp.ByQuery),
			chromedp.WaitVisible(".flash", chromedp.ByQuery), chromedp.Text(".flash", &flash, chromedp.ByQuery),
			chromedp.Text("#legal-hold", &hold, chromedp.ByQuery))
		if !strings.HasPrefix(flash, "Legal hold placed") || !strings.Contains(hold, "On legal hold since") ||
			!strings.Contains(hold, "by uh-sam: Counsel's preservation letter") || !strings.Contains(hold, "Release the legal hold") {
			t.Fatalf("after placing: flash %q, hold section %q", flash, hold)
		}
		var list string
		run(t, ctx, "the incident page", chromedp.Navigate(w.url+"/incidents/"+inc.Number), chromedp.WaitVisible("#evidence", chromedp.ByQuery),
			chromedp.Text("#evidence", &list, chromedp.ByQuery))
		if !strings.Contains(list, "On legal hold since") {
			t.Fatalf("the incident page's evidence: %q", list)
		}
		var top string
		run(t, ctx, "destroy while held", chromedp.Navigate(page), chromedp.WaitVisible("#action", chromedp.ByQuery),
			chromedp.SetValue("#action", "destroyed", chromedp.ByQuery), chromedp.SendKeys("#reason", "no longer needed", chromedp.ByQuery),
			// The refusal's message, not the custody list, which the page
			// showed before the form was sent as well.
			chromedp.Submit("#reason", chromedp.ByQuery), chromedp.WaitVisible("p.field-error", chromedp.ByQuery),
			chromedp.Text("main", &top, chromedp.ByQuery))
		if !strings.Contains(top, "is on legal hold since") || !strings.Contains(top, "placed by uh-sam") {
			t.Fatalf("destroy while held: %.2000s", top)
		}
		run(t, ctx, "release", chromedp.Navigate(page), chromedp.WaitVisible("#hold_reason", chromedp.ByQuery),
			chromedp.SendKeys("#hold_reason", "Matter settled", chromedp.ByQuery), chromedp.Submit("#hold_reason", chromedp.ByQuery),
			chromedp.WaitVisible(".flash", chromedp.ByQuery), chromedp.Text(".flash", &flash, chromedp.ByQuery),
			chromedp.Text("#legal-hold", &hold, chromedp.ByQuery), chromedp.Text("#custody", &list, chromedp.ByQuery))
		if !strings.HasPrefix(flash, "Legal hold released") || !strings.Contains(hold, "Not on legal hold") ||
			!strings.Contains(list, "Legal hold placed") || !strings.Contains(list, "Legal hold released") || !strings.Contains(list, "Matter settled") {
			t.Fatalf("after release: flash %q, hold %q, custody %q", flash, hold, list)
		}

		r := signInAs(t, w, authz.RoleResponder, "uh-rita")
		path := strings.TrimPrefix(page, w.url)
		if code, body := r.send("GET", path, nil); code != http.StatusOK || strings.Contains(body, `id="hold_reason"`) {
			t.Fatalf("responder's item page: %d", code)
		}
		if code, _ := r.send("POST", path+"/legal-hold", nil); code != http.StatusForbidden {
			t.Fatalf("responder's hold: %d", code)
		}
	})
}
