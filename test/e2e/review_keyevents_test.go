package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
)

type keyEventJSON struct {
	ID           string `json:"id"`
	EventID      string `json:"event_id"`
	Kind         string `json:"kind"`
	Label        string `json:"label"`
	Text         string `json:"text"`
	Annotation   string `json:"annotation"`
	TextRedacted bool   `json:"text_redacted"`
}

// TestReviewKeyEventsE2E: over HTTPS, a responder imports every milestone
// of an incident's timeline into its review from the incident page, then a
// note picked from the timeline, annotates one (a too-long annotation is
// refused beside its field) and takes one out; a stakeholder's token gets
// the key events without their text; a bad pick answers 422 naming
// event_ids; a complete review refuses further imports (409) and its page
// offers none. On both databases.
func TestReviewKeyEventsE2E(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Stolen laptop"}, &inc)
		api := "/api/v1/incidents/" + inc.Number
		var note struct {
			ID string `json:"id"`
		}
		w.must(http.StatusCreated, "POST", api+"/notes", map[string]any{"body": "Police report for Zebulon Quarry's laptop"}, &note)
		w.must(http.StatusOK, "POST", api+"/transitions", map[string]any{"to": "containment", "note": "wiped remotely",
			"not_applicable": []string{"analysis"}}, nil)
		w.must(http.StatusOK, "POST", api+"/transitions", map[string]any{"to": "post_incident", "note": "done",
			"not_applicable": []string{"eradication", "recovery"}}, nil)

		rita := signInAs(t, w, authz.RoleResponder, "key-rita")
		page := "/incidents/" + inc.Number
		if code, body := rita.send("GET", page, nil); code != http.StatusOK || !strings.Contains(body, "Key events") ||
			!strings.Contains(body, "Import all milestones") || !strings.Contains(body, `value="`+note.ID+`"`) {
			t.Fatalf("incident page: %d", code)
		}
		if code, loc := rita.send("POST", page+"/review/key-events", url.Values{"milestones": {"1"}}); code != http.StatusSeeOther ||
			!strings.Contains(loc, "msg=key_events") {
			t.Fatalf("import milestones: %d %.300s", code, loc)
		}
		var out struct {
			KeyEvents []keyEventJSON `json:"key_events"`
		}
		w.must(http.StatusOK, "GET", api+"/review/key-events", nil, &out)
		var labels []string
		for _, k := range out.KeyEvents {
			labels = append(labels, k.Label)
		}
		want := "Incident recorded (detection)|Containment began (phase changed: Detected → Containment)|" +
			"Phase changed: Containment → Post incident"
		if strings.Join(labels, "|") != want {
			t.Fatalf("milestones imported: %q", labels)
		}

		code, body := rita.send("GET", page, nil)
		if code != http.StatusOK || !strings.Contains(body, "Containment began") {
			t.Fatalf("incident page after the import: %d", code)
		}
		if code, loc := rita.send("POST", page+"/review/key-events", url.Values{"event": {note.ID}}); code != http.StatusSeeOther {
			t.Fatalf("import the note: %d %.300s", code, loc)
		}
		w.must(http.StatusOK, "GET", api+"/review/key-events", nil, &out)
		if len(out.KeyEvents) != 4 || out.KeyEvents[1].EventID != note.ID || out.KeyEvents[1].Label != "Note" ||
			out.KeyEvents[1].Text != "Police report for Zebulon Quarry's laptop" {
			t.Fatalf("key events with the note: %+v", out.KeyEvents)
		}

		k := out.KeyEvents[1].ID
		rita.send("GET", page, nil)
		code, body = rita.send("POST", page+"/review/key-events/"+k, url.Values{"annotation": {strings.Repeat("x", 20001)}})
		if code != http.StatusUnprocessableEntity || !strings.Contains(body, `id="annotation-`+k+`-error"`) {
			t.Fatalf("too long an annotation: %d %.300s", code, body)
		}
		if code, loc := rita.send("POST", page+"/review/key-events/"+k, url.Values{"annotation": {"Zebulon Quarry called at 09:00"}}); code != http.StatusSeeOther ||
			!strings.Contains(loc, "msg=key_event") {
			t.Fatalf("annotate: %d %.300s", code, loc)
		}
		rita.send("GET", page, nil)
		if code, loc := rita.send("POST", page+"/review/key-events/"+out.KeyEvents[3].ID+"/remove", url.Values{}); code != http.StatusSeeOther ||
			!strings.Contains(loc, "msg=key_event_removed") {
			t.Fatalf("remove: %d %.300s", code, loc)
		}
		w.must(http.StatusOK, "GET", api+"/review/key-events", nil, &out)
		if len(out.KeyEvents) != 3 || out.KeyEvents[1].Annotation != "Zebulon Quarry called at 09:00" {
			t.Fatalf("key events after annotating and removing: %+v", out.KeyEvents)
		}

		stake := w.tokenWithRole("key-stake", "stakeholder")
		if code, raw := w.doAs(stake, "GET", api+"/review/key-events", nil, nil); code != http.StatusOK ||
			strings.Contains(string(raw), "Zebulon") || !strings.Contains(string(raw), `"text_redacted":true`) {
			t.Fatalf("stakeholder's key events: %d %s", code, raw)
		}
		if code, raw := w.do("POST", api+"/review/key-events", map[string]any{"event_ids": []string{"nope"}}, nil); code != http.StatusUnprocessableEntity ||
			!strings.Contains(string(raw), "event_ids") {
			t.Fatalf("a bad pick: %d %s", code, raw)
		}

		w.must(http.StatusOK, "PATCH", api+"/review", map[string]any{"root_cause": "laptop left in a car", "lessons": "lock it"}, nil)
		w.must(http.StatusOK, "POST", api+"/review/complete", nil, nil)
		if code, raw := w.do("POST", api+"/review/key-events", map[string]any{"milestones": true}, nil); code != http.StatusConflict {
			t.Fatalf("import into a complete review: %d %s", code, raw)
		}
		if code, body := rita.send("GET", page, nil); code != http.StatusOK || strings.Contains(body, "Import all milestones") ||
			!strings.Contains(body, "Zebulon Quarry called at 09:00") {
			t.Fatalf("incident page of a complete review: %d", code)
		}
	})
}
