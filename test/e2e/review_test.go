package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
)

type reviewJSON struct {
	Summary      string     `json:"summary"`
	RootCause    string     `json:"root_cause"`
	Lessons      string     `json:"lessons"`
	CompletedAt  *time.Time `json:"completed_at"`
	CompletedBy  string     `json:"completed_by"`
	WaivedAt     *time.Time `json:"waived_at"`
	WaivedBy     string     `json:"waived_by"`
	WaiveReason  string     `json:"waive_reason"`
	TextRedacted bool       `json:"text_redacted"`
}

type actionItemJSON struct {
	ID             string `json:"id"`
	IncidentNumber string `json:"incident_number"`
	Title          string `json:"title"`
	Owner          string `json:"owner"`
	Status         string `json:"status"`
	Overdue        bool   `json:"overdue"`
	TicketURL      string `json:"ticket_url"`
	DoneBy         string `json:"done_by"`
	TextRedacted   bool   `json:"text_redacted"`
}

// TestReviewE2E: over HTTPS, an incident in post-incident cannot close as
// resolved until a responder writes its review on the incident page (root
// cause and lessons, each refusal beside its field, nothing saved) and
// marks it complete; an action item with an unknown owner is refused
// beside the field; the item stays open on the Action items page after the
// incident closes and is marked done there; a stakeholder's token gets
// the review and the item without their text; a responder may not waive a
// review, a Security Officer does so with a reason and the incident
// closes. On both databases.
func TestReviewE2E(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Phishing of the billing mailbox"}, &inc)
		api := "/api/v1/incidents/" + inc.Number
		w.must(http.StatusOK, "POST", api+"/transitions", map[string]any{"to": "post_incident", "note": "contained the same hour",
			"not_applicable": []string{"analysis", "containment", "eradication", "recovery"}}, nil)
		closeBody := map[string]any{"to": "closed", "resolution": "resolved"}
		if code, raw := w.do("POST", api+"/transitions", closeBody, nil); code != http.StatusConflict ||
			!strings.Contains(string(raw), "post-incident review") {
			t.Fatalf("close before the review: %d %s", code, raw)
		}

		rita := signInAs(t, w, authz.RoleResponder, "rev-rita")
		page := "/incidents/" + inc.Number
		if code, body := rita.send("GET", page, nil); code != http.StatusOK || !strings.Contains(body, "Post-incident review") ||
			!strings.Contains(body, "Save and mark complete") || strings.Contains(body, "Waive the review") {
			t.Fatalf("incident page: %d", code)
		}
		summary := "Mail for patient Zebulon Quarry sent to the attacker"
		code, body := rita.send("POST", page+"/review", url.Values{"summary": {summary}, "complete": {"1"}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="root_cause-error"`) ||
			!strings.Contains(body, "is required to complete the review") || !strings.Contains(body, summary) {
			t.Fatalf("complete without a root cause: %d %.300s", code, body)
		}
		var rv reviewJSON
		w.must(http.StatusOK, "GET", api+"/review", nil, &rv)
		if rv.Summary != "" || rv.CompletedAt != nil {
			t.Fatalf("a refused completion saved the review: %+v", rv)
		}
		rita.send("GET", page, nil)
		code, loc := rita.send("POST", page+"/review", url.Values{"summary": {summary}, "root_cause": {"no MFA on webmail"},
			"lessons": {"turn on MFA for every mailbox"}, "updates_made": {"MFA policy updated; phishing training"}, "complete": {"1"}})
		if code != http.StatusSeeOther || !strings.HasPrefix(loc, page+"?msg=review_complete") {
			t.Fatalf("complete: %d %.300s", code, loc)
		}
		w.must(http.StatusOK, "GET", api+"/review", nil, &rv)
		if rv.Summary != summary || rv.CompletedAt == nil || rv.CompletedBy != "user:rev-rita" {
			t.Fatalf("completed review: %+v", rv)
		}

		rita.send("GET", page, nil)
		due := time.Now().Add(-time.Hour).UTC().Format("2006-01-02T15:04") // already overdue
		item := url.Values{"action_title": {"Enforce MFA for Zebulon Quarry's team"}, "action_owner": {"nobody"}, "action_due": {due},
			"action_ticket": {"https://tickets.example/SEC-42"}}
		code, body = rita.send("POST", page+"/action-items", item)
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="action_owner-error"`) ||
			!strings.Contains(body, "active Ward user") {
			t.Fatalf("unknown owner: %d %.300s", code, body)
		}
		item.Set("action_owner", "rev-rita")
		if code, loc := rita.send("POST", page+"/action-items", item); code != http.StatusSeeOther || !strings.Contains(loc, "msg=action_item") {
			t.Fatalf("add action item: %d %.300s", code, loc)
		}

		w.must(http.StatusOK, "POST", api+"/transitions", closeBody, nil)

		var items struct{ Items []actionItemJSON }
		w.must(http.StatusOK, "GET", "/api/v1/action-items?status=open&owner=rev-rita", nil, &items)
		if len(items.Items) != 1 || items.Items[0].IncidentNumber != inc.Number || !items.Items[0].Overdue ||
			items.Items[0].TicketURL != "https://tickets.example/SEC-42" {
			t.Fatalf("open items of rev-rita after the close: %+v", items.Items)
		}
		if code, raw := w.do("GET", "/api/v1/action-items?status=later", nil, nil); code != http.StatusUnprocessableEntity {
			t.Fatalf("bad status filter: %d %s", code, raw)
		}
		stake := w.tokenWithRole("rev-stake", "stakeholder")
		var srv reviewJSON
		if code, raw := w.doAs(stake, "GET", api+"/review", nil, &srv); code != http.StatusOK || !srv.TextRedacted || srv.Summary != "" ||
			strings.Contains(string(raw), "Zebulon") {
			t.Fatalf("stakeholder's review: %d %s", code, raw)
		}
		if code, raw := w.doAs(stake, "GET", "/api/v1/action-items", nil, nil); code != http.StatusOK || strings.Contains(string(raw), "Zebulon") ||
			!strings.Contains(string(raw), `"text_redacted":true`) {
			t.Fatalf("stakeholder's action items: %d %s", code, raw)
		}
		if code, raw := w.doAs(stake, "PATCH", api+"/action-items/"+items.Items[0].ID, map[string]any{"status": "done"}, nil); code != http.StatusForbidden {
			t.Fatalf("stakeholder marks done: %d %s", code, raw)
		}

		code, body = rita.send("GET", "/action-items", nil)
		if code != http.StatusOK || !strings.Contains(body, "Enforce MFA for Zebulon Quarry") || !strings.Contains(body, "overdue since") {
			t.Fatalf("action items page: %d", code)
		}
		code, loc = rita.send("POST", page+"/action-items/"+items.Items[0].ID, url.Values{"status": {"done"}, "back": {"list"}})
		if code != http.StatusSeeOther || !strings.HasPrefix(loc, "/action-items?msg=action_item") {
			t.Fatalf("mark done: %d %.300s", code, loc)
		}
		w.must(http.StatusOK, "GET", api+"/action-items", nil, &items)
		if len(items.Items) != 1 || items.Items[0].Status != "done" || items.Items[0].DoneBy != "user:rev-rita" {
			t.Fatalf("done item: %+v", items.Items)
		}
		var tl struct{ Items []eventJSON }
		w.must(http.StatusOK, "GET", api+"/timeline", nil, &tl)
		kinds := map[string]int{}
		for _, e := range tl.Items {
			kinds[e.Kind]++
		}
		if kinds["review"] != 2 || kinds["action_item"] != 2 {
			t.Fatalf("timeline kinds %v, want 2 review and 2 action item entries", kinds)
		}

		// Waiving: not for a responder; a Security Officer, with a reason.
		var lost incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Encrypted laptop lost"}, &lost)
		lpage := "/incidents/" + lost.Number
		w.must(http.StatusOK, "POST", "/api/v1/incidents/"+lost.Number+"/transitions", map[string]any{"to": "post_incident",
			"note": "encrypted", "not_applicable": []string{"analysis", "containment", "eradication", "recovery"}}, nil)
		rita.send("GET", lpage, nil)
		if code, _ := rita.send("POST", lpage+"/review/waive", url.Values{"waive_reason": {"encrypted"}}); code != http.StatusForbidden {
			t.Fatalf("responder waives: %d", code)
		}
		sam := signInAs(t, w, authz.RoleSecurityOfficer, "rev-sam")
		if code, body := sam.send("GET", lpage, nil); code != http.StatusOK || !strings.Contains(body, "Waive the review") {
			t.Fatalf("officer's incident page: %d", code)
		}
		code, body = sam.send("POST", lpage+"/review/waive", url.Values{"waive_reason": {" "}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="waive_reason-error"`) {
			t.Fatalf("waive without a reason: %d %.300s", code, body)
		}
		code, loc = sam.send("POST", lpage+"/review/waive", url.Values{"waive_reason": {"full-disk encryption verified"}})
		if code != http.StatusSeeOther || !strings.Contains(loc, "msg=review_waived") {
			t.Fatalf("waive: %d %.300s", code, loc)
		}
		w.must(http.StatusOK, "POST", "/api/v1/incidents/"+lost.Number+"/transitions", closeBody, nil)
		var lrv reviewJSON
		w.must(http.StatusOK, "GET", "/api/v1/incidents/"+lost.Number+"/review", nil, &lrv)
		if lrv.WaivedAt == nil || lrv.WaivedBy != "user:rev-sam" || lrv.WaiveReason != "full-disk encryption verified" {
			t.Fatalf("waived review: %+v", lrv)
		}
		if code, out, _ := w.run("audit", "verify"); code != 0 || !strings.Contains(out, "intact") {
			t.Fatalf("audit verify: %d %s", code, out)
		}
	})
}
