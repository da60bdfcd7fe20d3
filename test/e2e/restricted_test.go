package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestRestrictedIncidentsAPI: a restricted incident does not exist to a
// token without need to know until it breaks the glass; the grant is on the
// timeline and raised to the Security Officer, who acknowledges it.
func TestRestrictedIncidentsAPI(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		token := func(name, role string) string {
			code, out, errs := w.run("token", "create", "--name", name, "--role", role)
			if code != 0 {
				t.Fatalf("token %s: %s", name, errs)
			}
			return strings.TrimSpace(out)
		}
		officer, responder, stakeholder := token("so", "security_officer"), token("resp", "responder"), token("view", "stakeholder")
		if code, _, errs := runWardIn(t, w.data, w.dbURL, uiPassword+"\n", "user", "create", "--username", "alice",
			"--role", "responder", "--password-stdin"); code != 0 {
			t.Fatalf("create alice: %s", errs)
		}
		as := func(tok string, want int, method, path string, body, out any) string {
			t.Helper()
			code, raw := w.doAs(tok, method, path, body, out)
			if code != want {
				t.Fatalf("%s %s: %d, want %d: %s", method, path, code, want, raw)
			}
			return string(raw)
		}

		var inc struct {
			incidentJSON
			Restricted bool `json:"restricted"`
		}
		as(officer, http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "records snooping",
			"description": "patient R. Roe", "restricted": true}, &inc)
		if !inc.Restricted {
			t.Fatalf("created %+v, want restricted", inc)
		}
		var open incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "phish"}, &open)
		if open.Number[len(open.Number)-4:] != "0002" {
			t.Fatalf("second incident is %s: the restricted one must still take a number", open.Number)
		}

		for _, tok := range []string{responder, stakeholder, w.token} {
			as(tok, http.StatusNotFound, "GET", "/api/v1/incidents/"+inc.Number, nil, nil)
			as(tok, http.StatusNotFound, "GET", "/api/v1/incidents/"+inc.ID+"/timeline", nil, nil)
			if list := as(tok, http.StatusOK, "GET", "/api/v1/incidents", nil, nil); strings.Contains(list, inc.ID) ||
				!strings.Contains(list, open.ID) {
				t.Fatalf("list shows the restricted incident or hides the open one: %s", list)
			}
		}
		as(responder, http.StatusNotFound, "POST", "/api/v1/incidents/"+inc.ID+"/notes", map[string]any{"body": "x"}, nil)
		as(responder, http.StatusNotFound, "PATCH", "/api/v1/incidents/"+inc.ID, map[string]any{"restricted": false}, nil)

		// Members.
		as(officer, http.StatusCreated, "POST", "/api/v1/incidents/"+inc.ID+"/members", map[string]any{"user": "alice"}, nil)
		as(officer, http.StatusConflict, "POST", "/api/v1/incidents/"+inc.ID+"/members", map[string]any{"user": "alice"}, nil)
		as(officer, http.StatusUnprocessableEntity, "POST", "/api/v1/incidents/"+inc.ID+"/members", map[string]any{"user": "bob"}, nil)
		var members struct {
			Items []struct {
				Username string `json:"username"`
				AddedBy  string `json:"added_by"`
			} `json:"items"`
		}
		as(officer, http.StatusOK, "GET", "/api/v1/incidents/"+inc.ID+"/members", nil, &members)
		if len(members.Items) != 1 || members.Items[0].Username != "alice" || members.Items[0].AddedBy != "token:so" {
			t.Fatalf("members %+v", members)
		}

		// Break-glass.
		reason := "paged for ransomware on the EHR host, need scope now"
		as(responder, http.StatusUnprocessableEntity, "POST", "/api/v1/incidents/"+inc.Number+"/break-glass",
			map[string]any{"reason": "because"}, nil)
		as(responder, http.StatusNotFound, "POST", "/api/v1/incidents/INC-1999-0001/break-glass", map[string]any{"reason": reason}, nil)
		as(officer, http.StatusConflict, "POST", "/api/v1/incidents/"+inc.Number+"/break-glass", map[string]any{"reason": reason}, nil)
		var g struct {
			IncidentID string    `json:"incident_id"`
			Holder     string    `json:"holder"`
			GrantedAt  time.Time `json:"granted_at"`
			ExpiresAt  time.Time `json:"expires_at"`
		}
		as(responder, http.StatusCreated, "POST", "/api/v1/incidents/"+inc.Number+"/break-glass", map[string]any{"reason": reason}, &g)
		if g.IncidentID != inc.ID || g.Holder != "token:resp" || g.ExpiresAt.Sub(g.GrantedAt) != time.Hour {
			t.Fatalf("grant %+v", g)
		}
		if got := as(responder, http.StatusOK, "GET", "/api/v1/incidents/"+inc.Number, nil, nil); !strings.Contains(got, "R. Roe") {
			t.Fatalf("grant holder reads %s", got)
		}
		var tl struct{ Items []eventJSON }
		as(officer, http.StatusOK, "GET", "/api/v1/incidents/"+inc.ID+"/timeline", nil, &tl)
		last := tl.Items[len(tl.Items)-1]
		if last.Kind != "break_glass" || last.Note != reason {
			t.Fatalf("last timeline entry %+v", last)
		}
		as(stakeholder, http.StatusNotFound, "GET", "/api/v1/incidents/"+inc.Number, nil, nil)

		// The Security Officer is told.
		var alerts struct {
			Items []struct {
				ID, Kind, Actor, Reason string
				Number                  string `json:"incident_number"`
			} `json:"items"`
		}
		as(stakeholder, http.StatusForbidden, "GET", "/api/v1/officer-alerts", nil, nil)
		as(officer, http.StatusOK, "GET", "/api/v1/officer-alerts", nil, &alerts)
		if len(alerts.Items) != 1 || alerts.Items[0].Kind != "break_glass" || alerts.Items[0].Number != inc.Number || alerts.Items[0].Actor != "token:resp" ||
			alerts.Items[0].Reason != reason {
			t.Fatalf("officer alerts %+v", alerts)
		}
		as(responder, http.StatusForbidden, "POST", "/api/v1/officer-alerts/"+alerts.Items[0].ID+"/acknowledge", nil, nil)
		as(officer, http.StatusOK, "POST", "/api/v1/officer-alerts/"+alerts.Items[0].ID+"/acknowledge", nil, nil)
		if as(officer, http.StatusOK, "GET", "/api/v1/officer-alerts", nil, &alerts); len(alerts.Items) != 0 {
			t.Fatalf("open officer alerts after acknowledging: %+v", alerts)
		}
		if as(officer, http.StatusOK, "GET", "/api/v1/officer-alerts?all=true", nil, &alerts); len(alerts.Items) != 1 {
			t.Fatalf("all officer alerts: %+v", alerts)
		}
		if logs := w.logs.String(); !strings.Contains(logs, "break_glass_access") || strings.Contains(logs, "ransomware") ||
			strings.Contains(logs, "R. Roe") {
			t.Fatalf("server log: %s", logs)
		}

		// An officer ends the grant early.
		var grants struct {
			Items []struct {
				ID     string `json:"id"`
				Holder string `json:"holder"`
				Reason string `json:"reason"`
			} `json:"items"`
		}
		as(responder, http.StatusForbidden, "GET", "/api/v1/incidents/"+inc.ID+"/grants", nil, nil)
		as(officer, http.StatusOK, "GET", "/api/v1/incidents/"+inc.ID+"/grants", nil, &grants)
		if len(grants.Items) != 1 || grants.Items[0].Holder != "token:resp" || grants.Items[0].Reason != reason {
			t.Fatalf("grants %+v", grants)
		}
		as(officer, http.StatusOK, "POST", "/api/v1/incidents/"+inc.ID+"/grants/"+grants.Items[0].ID+"/revoke", nil, nil)
		as(officer, http.StatusConflict, "POST", "/api/v1/incidents/"+inc.ID+"/grants/"+grants.Items[0].ID+"/revoke", nil, nil)
		as(responder, http.StatusNotFound, "GET", "/api/v1/incidents/"+inc.Number, nil, nil)

		// Lifting the restriction shows it to everyone; members leave.
		as(officer, http.StatusOK, "PATCH", "/api/v1/incidents/"+inc.ID, map[string]any{"restricted": false}, nil)
		as(stakeholder, http.StatusOK, "GET", "/api/v1/incidents/"+inc.Number, nil, nil)
		as(officer, http.StatusNoContent, "DELETE", "/api/v1/incidents/"+inc.ID+"/members/alice", nil, nil)
		as(officer, http.StatusNotFound, "DELETE", "/api/v1/incidents/"+inc.ID+"/members/alice", nil, nil)
	})
}
