package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// tokenAs makes an API token of role and returns it.
func tokenAs(t *testing.T, w *ward, role, name string) string {
	t.Helper()
	code, out, errs := w.run("token", "create", "--name", name, "--role", role)
	if code != 0 {
		t.Fatalf("token %s: %s", role, errs)
	}
	return strings.TrimSpace(out)
}

// auditActions returns the actions of the trail's entries whose action
// starts with prefix, as role auditor reads them.
func auditActions(t *testing.T, w *ward, auditor, prefix string) []string {
	t.Helper()
	var out auditListOut
	w.doAs(auditor, "GET", "/api/v1/audit?action="+prefix+"&limit=100", nil, &out)
	var acts []string
	for _, e := range out.Items {
		acts = append(acts, e.Action+" "+e.Actor)
	}
	return acts
}

// TestBreachDraftAPI: the determination wizard's draft through the API,
// on both databases: a Privacy Officer reads their own draft (empty at
// first), saves answers over it (an empty answer clears one), and
// discards it; each save and discard is audited, and each read as a read
// of the case's free text. A question the wizard does not ask, or an
// answer over the limit, is 422 naming it, with nothing saved; a
// responder, who may not sign, is 403; another officer does not see it.
func TestBreachDraftAPI(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		po := tokenAs(t, w, "privacy_officer", "draft-po")
		other := tokenAs(t, w, "privacy_officer", "draft-po2")
		responder := tokenAs(t, w, "responder", "draft-responder")
		auditor := tokenAs(t, w, "auditor", "draft-auditor")
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Misdirected fax", "category": "unauthorized_access_disclosure"}, &inc)
		w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+inc.ID+"/breach-case", nil, nil)
		path := "/api/v1/incidents/" + inc.ID + "/breach-case/determination-draft"
		type draft struct {
			Answers map[string]string `json:"answers"`
		}
		var d draft
		if code, raw := w.doAs(po, "GET", path, nil, &d); code != 200 || len(d.Answers) != 0 {
			t.Fatalf("no draft yet: %d %s", code, raw)
		}
		if code, raw := w.doAs(po, "PATCH", path, map[string]any{"answers": map[string]string{"path": "assess",
			"factor0_answer": "high", "factor0_rationale": "names and diagnoses of 12 patients"}}, &d); code != 200 ||
			d.Answers["factor0_rationale"] != "names and diagnoses of 12 patients" || len(d.Answers) != 3 {
			t.Fatalf("save: %d %s", code, raw)
		}
		if code, raw := w.doAs(po, "PATCH", path, map[string]any{"answers": map[string]string{"factor0_answer": "",
			"factor1_answer": "low"}}, &d); code != 200 || len(d.Answers) != 3 || d.Answers["factor0_answer"] != "" || d.Answers["factor1_answer"] != "low" {
			t.Fatalf("save over it: %d %s", code, raw)
		}
		code, raw := w.doAs(po, "PATCH", path, map[string]any{"answers": map[string]string{"factor2_answer": "low", "nickname": "x"}}, nil)
		if code != 422 || !strings.Contains(string(raw), "answers.nickname") {
			t.Fatalf("an unknown question: %d %s", code, raw)
		}
		code, raw = w.doAs(po, "PATCH", path, map[string]any{"answers": map[string]string{"factor2_rationale": strings.Repeat("é", 20001)}}, nil)
		if code != 422 || !strings.Contains(string(raw), "answers.factor2_rationale") {
			t.Fatalf("an answer too long: %d %.300s", code, raw)
		}
		if code, _ := w.doAs(responder, "PATCH", path, map[string]any{"answers": map[string]string{"path": "notify"}}, nil); code != 403 {
			t.Fatalf("a responder saving a draft: %d", code)
		}
		if code, _ := w.doAs(responder, "GET", path, nil, nil); code != 403 {
			t.Fatalf("a responder reading a draft: %d", code)
		}
		if code, raw := w.doAs(other, "GET", path, nil, &d); code != 200 || len(d.Answers) != 0 {
			t.Fatalf("another officer reads: %d %s", code, raw)
		}
		if code, raw := w.doAs(po, "GET", path, nil, &d); code != 200 || len(d.Answers) != 3 || d.Answers["factor2_answer"] != "" {
			t.Fatalf("the draft after refusals: %d %s", code, raw)
		}
		if code, raw := w.doAs(po, "DELETE", path, nil, nil); code != 204 {
			t.Fatalf("discard: %d %s", code, raw)
		}
		if code, _ := w.doAs(po, "DELETE", path, nil, nil); code != 404 {
			t.Fatalf("discard again: %d", code)
		}
		if code, raw := w.doAs(po, "GET", path, nil, &d); code != 200 || len(d.Answers) != 0 {
			t.Fatalf("after discarding: %d %s", code, raw)
		}
		awaitRetentionRun(t, openStore(t, w))
		var saves, discards, reads int
		for _, a := range auditActions(t, w, auditor, "breach_case.") {
			switch a {
			case "breach_case.determination_draft token:draft-po":
				saves++
			case "breach_case.determination_draft_discarded token:draft-po":
				discards++
			case "breach_case.phi_read token:draft-po":
				reads++
			}
		}
		// One read of a saved draft; reading none opens nothing sealed.
		if saves != 2 || discards != 1 || reads != 1 {
			t.Fatalf("audited %d saves, %d discards, %d reads of the draft; want 2, 1, 1", saves, discards, reads)
		}
	})
}

// TestBreachAskSignersAPI: asking the Privacy Officers to sign through
// the API, on both databases: once per case and caller every 15 minutes,
// sooner is 429 saying from when, nothing sent and nothing on the
// timeline; another caller may ask; a stakeholder may not.
func TestBreachAskSignersAPI(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		responder := tokenAs(t, w, "responder", "ask-responder")
		stakeholder := tokenAs(t, w, "stakeholder", "ask-stakeholder")
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Misdirected fax", "category": "unauthorized_access_disclosure"}, &inc)
		w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+inc.ID+"/breach-case", nil, nil)
		path := "/api/v1/incidents/" + inc.ID + "/breach-case/signature-requests"
		var asked struct {
			Messages     int       `json:"messages"`
			AskAgainFrom time.Time `json:"ask_again_from"`
		}
		before := time.Now()
		if code, raw := w.doAs(responder, "POST", path, nil, &asked); code != 201 || asked.Messages != 0 ||
			asked.AskAgainFrom.Before(before.Add(14*time.Minute)) {
			t.Fatalf("ask: %d %s", code, raw)
		}
		code, raw := w.doAs(responder, "POST", path, nil, nil)
		if code != 429 || !strings.Contains(string(raw), "you may ask again from") || !strings.Contains(string(raw), inc.Number) {
			t.Fatalf("asking again at once: %d %s", code, raw)
		}
		if code, raw := w.doAs(w.token, "POST", path, nil, nil); code != 201 {
			t.Fatalf("another caller asking: %d %s", code, raw)
		}
		if code, _ := w.doAs(stakeholder, "POST", path, nil, nil); code != 403 {
			t.Fatalf("a stakeholder asking: %d", code)
		}
		var timeline struct {
			Items []struct {
				Note string `json:"note"`
			} `json:"items"`
		}
		w.must(200, "GET", "/api/v1/incidents/"+inc.ID+"/timeline", nil, &timeline)
		n := 0
		for _, e := range timeline.Items {
			if strings.Contains(e.Note, "asked the Privacy Officers to sign") {
				n++
			}
		}
		if n != 2 {
			t.Fatalf("%d requests on the timeline, want 2: %+v", n, timeline.Items)
		}
	})
}
