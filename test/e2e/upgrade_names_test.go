package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// addUser creates a Ward user with role through the command line.
func (w *ward) addUser(name, role string) {
	w.t.Helper()
	if code, _, errs := runWardIn(w.t, w.data, w.dbURL, "orange lantern over quiet harbour\n", "user", "create",
		"--username", name, "--name", name, "--email", name+"@example.org", "--role", role, "--password-stdin"); code != 0 {
		w.t.Fatalf("user create %s: %s", name, errs)
	}
}

// TestCommanderAndOwnerNameUsers: an incident's commander and a task's
// owner, stored in clear, are the username of a Ward user (issue #15).
// The API refuses anything else with 422 naming the field without
// repeating the value; and the free text an older Ward let through is
// moved, when Ward next starts, out of the columns and out of the
// timeline's changes into a sealed timeline note that readers of PHI see,
// audited.
func TestCommanderAndOwnerNameUsers(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		data := t.TempDir()
		w := startWardAt(t, data, dbURL)
		w.addUser("bob", "responder")
		var inc, kept incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Misdirected fax"}, &inc)
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Phishing", "commander": "bob"}, &kept)
		path := "/api/v1/incidents/" + inc.ID
		var task struct {
			ID string `json:"id"`
		}
		w.must(http.StatusCreated, "POST", path+"/tasks", map[string]any{"title": "Call the pharmacy"}, &task)

		// Text that names no user is refused, on every write path.
		for _, c := range []struct {
			method, path, field string
			body                map[string]any
		}{
			{"POST", "/api/v1/incidents", "commander", map[string]any{"title": "Lost laptop", "commander": canary}},
			{"PATCH", path, "commander", map[string]any{"commander": canary}},
			{"POST", path + "/tasks", "owner", map[string]any{"title": "Call", "owner": canary}},
			{"PATCH", path + "/tasks/" + task.ID, "owner", map[string]any{"owner": canary}},
			{"PATCH", path, "commander", map[string]any{"commander": "Bob"}},
		} {
			code, raw := w.do(c.method, c.path, c.body, nil)
			if code != http.StatusUnprocessableEntity {
				t.Errorf("%s %s with %s %v: %d %s, want 422", c.method, c.path, c.field, c.body[c.field], code, raw)
				continue
			}
			p := decodeProblem(t, raw)
			named := false
			for _, e := range p.Errors {
				named = named || strings.HasSuffix(e.Location, c.field) && strings.Contains(e.Message, "username of a Ward user")
			}
			if !named || strings.Contains(string(raw), "Quillfeather") {
				t.Errorf("%s %s: %s, want the field %s named and the value not repeated", c.method, c.path, raw, c.field)
			}
		}
		w.must(http.StatusOK, "PATCH", path, map[string]any{"commander": "bob"}, nil)
		w.must(http.StatusOK, "PATCH", path, map[string]any{"commander": ""}, nil)
		w.must(http.StatusOK, "PATCH", path+"/tasks/"+task.ID, map[string]any{"owner": "bob"}, nil)
		w.must(http.StatusOK, "PATCH", path+"/tasks/"+task.ID, map[string]any{"owner": ""}, nil)
		w.stop()

		// The rows as Ward left them before issue #15: free text in the
		// commander, a task's owner, and the timeline's record of a change
		// of the commander.
		d := openStore(t, w)
		for _, q := range []string{
			"UPDATE incidents SET commander = 'Dr " + canary + "' WHERE id = '" + inc.ID + "'",
			"UPDATE incident_tasks SET owner = 'Nurse " + canary + "' WHERE id = '" + task.ID + "'",
			`UPDATE incident_events SET changes = '[{"field":"commander","old":"bob","new":"Ward clerk ` + canary +
				`"}]' WHERE incident_id = '` + inc.ID + `' AND changes LIKE '%"field":"commander"%'`,
			"DELETE FROM counters WHERE name = 'names_are_users'",
		} {
			if _, err := d.W.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		d.Close()

		w = startWardAt(t, data, dbURL, debugLog)
		d = openStore(t, w)
		for _, q := range []string{"SELECT commander FROM incidents", "SELECT owner FROM incident_tasks",
			"SELECT changes FROM incident_events", "SELECT note FROM incident_events"} {
			rows, err := d.R.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			for rows.Next() {
				var v string
				if err := rows.Scan(&v); err != nil {
					t.Fatal(err)
				}
				if strings.Contains(v, "Quillfeather") {
					t.Errorf("%s: %q after the start", q, v)
				}
			}
			rows.Close()
		}
		if raw := w.must(http.StatusOK, "GET", path, nil, nil); strings.Contains(string(raw), `"commander":"D`) {
			t.Errorf("the commander is still set: %s", raw)
		}
		if raw := w.must(http.StatusOK, "GET", "/api/v1/incidents/"+kept.ID, nil, nil); !strings.Contains(string(raw), `"commander":"bob"`) {
			t.Errorf("a commander who is a user was changed: %s", raw)
		}
		var tl struct{ Items []eventJSON }
		w.must(http.StatusOK, "GET", path+"/timeline", nil, &tl)
		var note string
		for _, e := range tl.Items {
			if strings.Contains(e.Note, "Ward required") {
				note = e.Note
			}
		}
		for _, want := range []string{"Dr " + canary, "Nurse " + canary, "Ward clerk " + canary, "Call the pharmacy"} {
			if !strings.Contains(note, want) {
				t.Errorf("the timeline note %q does not say %q", note, want)
			}
		}
		awaitRetentionRun(t, d)
		var audit auditListOut
		if code, raw := w.doAs(w.tokenWithRole("names-auditor", "auditor"), "GET", "/api/v1/audit?action=incident.names_moved", nil,
			&audit); code != http.StatusOK {
			t.Fatalf("audit: %d %s", code, raw)
		}
		if len(audit.Items) != 1 {
			t.Errorf("audit entries of the move: %+v, want one", audit.Items)
		}
		if !strings.Contains(w.logs.String(), "unknown_names_moved") {
			t.Errorf("the start did not say it moved names: %s", w.logs.String())
		}
	})
}
