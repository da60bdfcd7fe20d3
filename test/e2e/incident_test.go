package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

type incidentJSON struct {
	ID            string   `json:"id"`
	Number        string   `json:"number"`
	Title         string   `json:"title"`
	Status        string   `json:"status"`
	Resolution    string   `json:"resolution"`
	ClosedAt      *string  `json:"closed_at"`
	NotApplicable []string `json:"not_applicable"`
	NextStatuses  []string `json:"next_statuses"`
	Version       int64    `json:"version"`
	CreatedBy     string   `json:"created_by"`
}

type eventJSON struct {
	Seq        int64  `json:"seq"`
	Kind       string `json:"kind"`
	Actor      string `json:"actor"`
	FromStatus string `json:"from_status"`
	ToStatus   string `json:"to_status"`
	Note       string `json:"note"`
	Changes    []struct {
		Field    string `json:"field"`
		Old      any    `json:"old"`
		New      any    `json:"new"`
		Redacted bool   `json:"redacted"`
	} `json:"changes"`
}

type problemJSON struct {
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Errors []struct {
		Location string `json:"location"`
		Message  string `json:"message"`
	} `json:"errors"`
}

func decodeProblem(t *testing.T, raw []byte) problemJSON {
	t.Helper()
	var p problemJSON
	if err := json.Unmarshal(raw, &p); err != nil {
		t.Fatalf("not a problem document: %s", raw)
	}
	return p
}

// TestIncidentLifecycle drives an incident from detection to closure and a
// reopening through the API, and checks that the timeline and the audit
// trail record every step.
func TestIncidentLifecycle(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		w.addUser("alice", "responder")
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{
			"title": "Ransomware on file server", "description": "Encrypted shares on FS01", "severity": "sev1",
			"category": "hacking_it_incident", "phi_suspected": true, "occurred_at": "2026-11-20T08:00:00Z",
			"detected_at": "2026-11-21T09:30:00Z", "commander": "alice", "customers": []string{"Acme Health"},
		}, &inc)
		if inc.Status != "detected" || !strings.HasPrefix(inc.Number, "INC-") || inc.Version != 1 || !strings.HasPrefix(inc.CreatedBy, "token:e2e-") {
			t.Fatalf("created %+v", inc)
		}

		path := "/api/v1/incidents/" + inc.ID
		steps := []map[string]any{
			{"to": "analysis"},
			{"to": "containment", "note": "isolated FS01"},
			{"to": "analysis", "note": "second host found encrypted"},
			{"to": "containment"},
			{"to": "eradication"},
			{"to": "recovery"},
			{"to": "post_incident"},
			{"to": "closed", "resolution": "resolved"},
		}
		for _, s := range steps {
			if s["resolution"] == "resolved" {
				// Closing as resolved waits for the post-incident review
				// (TestReviewE2E covers it).
				if code, raw := w.do("POST", path+"/transitions", s, nil); code != http.StatusConflict ||
					!strings.Contains(string(raw), "post-incident review") {
					t.Fatalf("close before the review: %d %s", code, raw)
				}
				w.must(http.StatusOK, "PATCH", path+"/review", map[string]any{"root_cause": "an unpatched file server",
					"lessons": "patch within a week"}, nil)
				w.must(http.StatusOK, "POST", path+"/review/complete", nil, nil)
			}
			w.must(http.StatusOK, "POST", path+"/transitions", s, &inc)
			if inc.Status != s["to"] {
				t.Fatalf("after %v: status %s", s, inc.Status)
			}
		}
		if inc.Resolution != "resolved" || inc.ClosedAt == nil {
			t.Fatalf("closed incident: %+v", inc)
		}

		// Illegal moves change nothing.
		before := inc.Version
		code, raw := w.do("POST", path+"/transitions", map[string]any{"to": "containment"}, nil)
		if code != http.StatusConflict {
			t.Fatalf("closed → containment: %d %s", code, raw)
		}
		code, raw = w.do("POST", path+"/transitions", map[string]any{"to": "analysis"}, nil)
		if p := decodeProblem(t, raw); code != http.StatusUnprocessableEntity || p.Errors[0].Location != "body.note" {
			t.Fatalf("reopen without note: %d %s", code, raw)
		}
		w.must(http.StatusOK, "GET", path, nil, &inc)
		if inc.Version != before || inc.Status != "closed" {
			t.Fatalf("illegal move changed the incident: %+v", inc)
		}

		// Reopen, then close as a false positive straight from analysis.
		w.must(http.StatusOK, "POST", path+"/transitions", map[string]any{"to": "analysis", "note": "new evidence"}, &inc)
		if inc.Resolution != "" || inc.ClosedAt != nil {
			t.Fatalf("reopened incident keeps its closure: %+v", inc)
		}
		w.must(http.StatusOK, "POST", "/api/v1/incidents/"+inc.Number+"/transitions",
			map[string]any{"to": "closed", "resolution": "false_positive", "note": "test restore, not an attack"}, &inc)
		if inc.Status != "closed" || inc.Resolution != "false_positive" {
			t.Fatalf("false positive close: %+v", inc)
		}

		// Skipping phases needs them listed as not applicable, with a note.
		var lost incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Unencrypted USB stick lost", "category": "loss"}, &lost)
		lpath := "/api/v1/incidents/" + lost.ID + "/transitions"
		code, raw = w.do("POST", lpath, map[string]any{"to": "recovery"}, nil)
		if p := decodeProblem(t, raw); code != http.StatusUnprocessableEntity || p.Errors[0].Location != "body.not_applicable" {
			t.Fatalf("skip without not_applicable: %d %s", code, raw)
		}
		w.must(http.StatusOK, "POST", lpath, map[string]any{"to": "analysis"}, nil)
		w.must(http.StatusOK, "POST", lpath, map[string]any{"to": "recovery", "note": "nothing to contain: device is gone",
			"not_applicable": []string{"containment", "eradication"}}, &lost)
		if strings.Join(lost.NotApplicable, ",") != "containment,eradication" {
			t.Fatalf("not_applicable %v", lost.NotApplicable)
		}

		// The timeline has every transition, old → new, in order.
		// The incident was created phi_suspected, so its breach case
		// opened by itself (--breach-auto-open): one entry of kind breach,
		// by Ward, right after the creation.
		var tl struct{ Items []eventJSON }
		w.must(http.StatusOK, "GET", path+"/timeline", nil, &tl)
		var own []eventJSON
		for _, e := range tl.Items {
			if e.Kind == "breach" {
				if e.Seq != 2 || !strings.Contains(e.Actor, "Ward (PHI suspected)") {
					t.Fatalf("the breach case's entry: %+v", e)
				}
				continue
			}
			own = append(own, e)
		}
		// 1: created; 2: the review written and marked complete; 2: reopened, closed again.
		if len(tl.Items) != len(own)+1 || len(own) != 1+len(steps)+2+2 {
			t.Fatalf("timeline has %d entries (%d of the incident's own), want %d and one of the breach case", len(tl.Items), len(own),
				1+len(steps)+2+2)
		}
		for i, e := range own {
			if e.Actor != inc.CreatedBy || (i > 0 && e.Seq <= own[i-1].Seq) {
				t.Fatalf("entry %d: %+v", i, e)
			}
		}
		second := own[2]
		if second.Kind != "transition" || second.FromStatus != "analysis" || second.ToStatus != "containment" ||
			second.Note != "isolated FS01" || second.Changes[0].Old != "analysis" || second.Changes[0].New != "containment" {
			t.Fatalf("transition entry %+v", second)
		}

		code, out, _ := w.run("audit", "verify")
		if code != 0 || !strings.Contains(out, "intact") {
			t.Fatalf("audit verify: %d %s", code, out)
		}
	})
}

// TestEditsNotesAndTasks covers PATCH, notes and tasks, each on the timeline.
func TestEditsNotesAndTasks(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		w.addUser("bob", "responder")
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Misdirected fax", "description": "Fax with MRN 12345"}, &inc)
		path := "/api/v1/incidents/" + inc.ID
		w.must(http.StatusOK, "PATCH", path, map[string]any{"severity": "sev2", "description": "Fax with MRN 67890", "title": "Misdirected fax to pharmacy"}, &inc)
		if inc.Title != "Misdirected fax to pharmacy" || inc.Version != 2 {
			t.Fatalf("patched %+v", inc)
		}

		var note eventJSON
		w.must(http.StatusCreated, "POST", path+"/notes", map[string]any{"body": "Pharmacy confirmed shredding"}, &note)
		if note.Kind != "note" || note.Note != "Pharmacy confirmed shredding" || note.Seq != 3 {
			t.Fatalf("note %+v", note)
		}
		var notes struct{ Items []eventJSON }
		w.must(http.StatusOK, "GET", path+"/notes", nil, &notes)
		if len(notes.Items) != 1 || notes.Items[0].Note != note.Note {
			t.Fatalf("notes %+v", notes)
		}

		var task struct {
			ID     string  `json:"id"`
			Title  string  `json:"title"`
			Done   bool    `json:"done"`
			DoneAt *string `json:"done_at"`
		}
		w.must(http.StatusCreated, "POST", path+"/tasks", map[string]any{"title": "Get attestation of destruction", "owner": "bob", "due_at": "2026-12-01T17:00:00Z"}, &task)
		w.must(http.StatusOK, "PATCH", path+"/tasks/"+task.ID, map[string]any{"done": true}, &task)
		if !task.Done || task.DoneAt == nil {
			t.Fatalf("task %+v", task)
		}
		var tasks struct{ Items []json.RawMessage }
		w.must(http.StatusOK, "GET", path+"/tasks", nil, &tasks)
		if len(tasks.Items) != 1 {
			t.Fatalf("tasks %d", len(tasks.Items))
		}
		code, raw := w.do("PATCH", path+"/tasks/nope", map[string]any{"done": true}, nil)
		if code != http.StatusNotFound {
			t.Fatalf("unknown task: %d %s", code, raw)
		}

		var tl struct{ Items []eventJSON }
		w.must(http.StatusOK, "GET", path+"/timeline", nil, &tl)
		kinds := []string{}
		for _, e := range tl.Items {
			kinds = append(kinds, e.Kind)
		}
		if got := strings.Join(kinds, ","); got != "created,edit,note,task_created,task_updated" {
			t.Fatalf("timeline kinds %s", got)
		}
		// The edit records old → new, but only that the description changed.
		for _, c := range tl.Items[1].Changes {
			if c.Field == "description" && (!c.Redacted || c.Old != nil || c.New != nil) {
				t.Fatalf("description change not redacted: %+v", c)
			}
			if c.Field == "severity" && (c.Old != "sev3" || c.New != "sev2") {
				t.Fatalf("severity change %+v", c)
			}
		}
		raw = w.must(http.StatusOK, "GET", path+"/timeline", nil, nil)
		if strings.Contains(string(raw), "MRN") {
			t.Fatalf("timeline copies the description: %s", raw)
		}
	})
}
