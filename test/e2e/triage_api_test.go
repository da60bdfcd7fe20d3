package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
)

// TestTriageAPI: the classification Ward asks of an incident that an
// alert of a PHI service opened is read and answered through the API as
// on the incident page: both answers required and named when missing,
// answered once, by a role that may change incidents, audited, and
// "PHI involved" opens the breach case.
func TestTriageAPI(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var typed struct{ Number string }
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Lost badge"}, &typed)
		if code, raw := w.do("GET", "/api/v1/incidents/"+typed.Number+"/triage", nil, nil); code != http.StatusNotFound {
			t.Fatalf("the triage of an incident a person recorded: %d %s", code, raw)
		}

		_, ig := w.service("patient-portal", true, "alert", "events_v2", "")
		ev := `{"routing_key":"` + ig.Key + `","event_action":"trigger","dedup_key":"5xx",
			"payload":{"summary":"5xx rate above 5%","source":"portal","severity":"error"}}`
		if code, body := w.post("/v2/enqueue", ev, nil); code != http.StatusAccepted {
			t.Fatalf("alert: %d %s", code, body)
		}
		number := w.alerts("")[0].IncidentNumber
		path := "/api/v1/incidents/" + number + "/triage"

		var q struct {
			AskedAt          time.Time `json:"asked_at"`
			Reason           string
			Open             bool
			AnsweredBy       string `json:"answered_by"`
			SecurityIncident *bool  `json:"security_incident"`
			PHIInvolved      *bool  `json:"phi_involved"`
		}
		w.must(http.StatusOK, "GET", path, nil, &q)
		if !q.Open || q.AskedAt.IsZero() || !strings.Contains(q.Reason, "patient-portal") || q.PHIInvolved != nil {
			t.Fatalf("the open question: %+v", q)
		}

		if code, raw := w.do("POST", path, map[string]any{"security_incident": true}, nil); code != http.StatusUnprocessableEntity ||
			!strings.Contains(string(raw), "phi_involved") {
			t.Fatalf("an answer without phi_involved: %d %s", code, raw)
		}
		auditor := w.tokenWithRole("triage-auditor", string(authz.RoleAuditor))
		if code, raw := w.doAs(auditor, "POST", path, map[string]any{"security_incident": true, "phi_involved": true}, nil); code != http.StatusForbidden {
			t.Fatalf("an auditor's answer: %d %s", code, raw)
		}
		if code, raw := w.do("GET", "/api/v1/incidents/"+number+"/breach-case", nil, nil); code != http.StatusNotFound {
			t.Fatalf("a breach case before the answer: %d %s", code, raw)
		}

		w.must(http.StatusOK, "POST", path, map[string]any{"security_incident": true, "phi_involved": true}, &q)
		if q.Open || q.AnsweredBy == "" || q.SecurityIncident == nil || !*q.SecurityIncident || q.PHIInvolved == nil || !*q.PHIInvolved {
			t.Fatalf("the answered question: %+v", q)
		}
		var inc struct {
			PHISuspected bool `json:"phi_suspected"`
		}
		w.must(http.StatusOK, "GET", "/api/v1/incidents/"+number, nil, &inc)
		if !inc.PHISuspected {
			t.Fatal("PHI involved did not mark the incident phi_suspected")
		}
		var bc struct {
			Facts struct {
				DiscoveredAt time.Time `json:"discovered_at"`
			} `json:"facts"`
		}
		w.must(http.StatusOK, "GET", "/api/v1/incidents/"+number+"/breach-case", nil, &bc)
		if !bc.Facts.DiscoveredAt.Equal(q.AskedAt) {
			t.Fatalf("the case's discovery date %v, want the time of the question %v", bc.Facts.DiscoveredAt, q.AskedAt)
		}
		if code, raw := w.do("POST", path, map[string]any{"security_incident": false, "phi_involved": false}, nil); code != http.StatusConflict {
			t.Fatalf("a second answer: %d %s", code, raw)
		}
		d := chainDB(t, w)
		eventually(t, "the answer's audit entry chained", func() bool {
			var n int
			if err := d.R.QueryRow(`SELECT count(*) FROM audit_log WHERE action = 'incident.triage_answer'`).Scan(&n); err != nil || n > 1 {
				t.Fatalf("audit entries of the answer: %d %v", n, err)
			}
			return n == 1
		})
	})
}
