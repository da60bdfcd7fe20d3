package e2e

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
)

// TestUIEvidenceTransferFromPanel: on both databases, a responder hands
// an evidence item to someone else from the incident page's evidence
// panel: an empty new holder and an empty reason are refused beside their
// fields, with what was typed kept and nothing recorded; then the
// hand-over is recorded, the panel shows the new holder, and the chain of
// custody (API) has the transfer with its reason.
func TestUIEvidenceTransferFromPanel(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Laptop left on a train"}, &inc)
		page := "/incidents/" + inc.Number
		b := signInAs(t, w, authz.RoleResponder, "tr-rita")
		b.send(http.MethodGet, page, nil)
		if code, body := b.uploadEvidence(page+"/evidence", [][2]string{{"description", "Badge reader export"}}, "badges.csv",
			"door,time\n"); code != http.StatusSeeOther {
			t.Fatalf("upload: %d %s", code, body)
		}
		code, body := b.send(http.MethodGet, page, nil)
		m := regexp.MustCompile(`action="/incidents/` + inc.Number + `/evidence/([0-9a-f-]+)/custody"`).FindStringSubmatch(body)
		if code != http.StatusOK || m == nil || !strings.Contains(body, "Hand to someone else") {
			t.Fatalf("the evidence panel has no hand-over form: %d", code)
		}
		item := m[1]
		custody := page + "/evidence/" + item + "/custody"

		code, body = b.send(http.MethodPost, custody, url.Values{"action": {"transferred"}, "back": {"incident"}, "custodian": {""},
			"reason": {"to the forensic firm"}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="transfer_custodian_`+item+`-error"`) ||
			!strings.Contains(body, `value="to the forensic firm"`) {
			t.Fatalf("a hand-over to nobody: %d %s", code, body)
		}
		code, body = b.send(http.MethodPost, custody, url.Values{"action": {"transferred"}, "back": {"incident"},
			"custodian": {"Acme Forensics"}, "reason": {""}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="transfer_reason_`+item+`-error"`) {
			t.Fatalf("a hand-over with no reason: %d %s", code, body)
		}
		var got struct {
			Custodian string `json:"custodian"`
			Custody   []struct {
				Action    string `json:"action"`
				Custodian string `json:"custodian"`
				Reason    string `json:"reason"`
			} `json:"custody"`
		}
		w.must(http.StatusOK, "GET", "/api/v1/incidents/"+inc.ID+"/evidence/"+item, nil, &got)
		if len(got.Custody) != 1 {
			t.Fatalf("refused hand-overs recorded: %+v", got.Custody)
		}

		code, body = b.send(http.MethodPost, custody, url.Values{"action": {"transferred"}, "back": {"incident"},
			"custodian": {"Acme Forensics"}, "reason": {"imaging for counsel"}})
		if code != http.StatusSeeOther || !strings.HasPrefix(body, page+"?msg=custody_recorded#evidence") {
			t.Fatalf("the hand-over: %d %s", code, body)
		}
		if code, body := b.send(http.MethodGet, page+"?msg=custody_recorded", nil); code != http.StatusOK ||
			!strings.Contains(body, "Acme Forensics") || !strings.Contains(body, "Custody event recorded.") {
			t.Fatalf("the panel after the hand-over: %d", code)
		}
		w.must(http.StatusOK, "GET", "/api/v1/incidents/"+inc.ID+"/evidence/"+item, nil, &got)
		last := got.Custody[len(got.Custody)-1]
		if got.Custodian != "Acme Forensics" || last.Action != "transferred" || last.Custodian != "Acme Forensics" ||
			last.Reason != "imaging for counsel" {
			t.Fatalf("the item after the hand-over: %+v", got)
		}
	})
}
