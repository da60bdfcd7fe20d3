package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
)

// TestSLAReport measures the SLA targets of a period's incidents per
// severity, on both databases: a status update posted in time meets the
// first-update target, an incident closed from analysis meets its resolve
// target and gives a mean time to resolve, one still open is open, and a
// restricted incident counts only for those who may see it (an
// administrator is not one). The page shows the same.
func TestSLAReport(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		tokens := map[string]string{}
		for _, role := range []string{"responder", "security_officer"} {
			code, out, errs := w.run("token", "create", "--name", "sla-"+role, "--role", role)
			if code != 0 {
				t.Fatalf("token: %s", errs)
			}
			tokens[role] = strings.TrimSpace(out)
		}
		var a, b, hidden incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Ransom note", "severity": "sev1", "category": "hacking_it_incident"}, &a)
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Odd logins", "severity": "sev1", "category": "other"}, &b)
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Chart viewed", "severity": "sev1", "category": "other",
			"restricted": true}, &hidden)
		w.must(201, "POST", "/api/v1/incidents/"+a.ID+"/status-updates", map[string]any{"body": "Servers isolated."}, nil)
		w.must(http.StatusOK, "POST", "/api/v1/incidents/"+a.ID+"/transitions", map[string]any{"to": "analysis"}, nil)
		w.must(http.StatusOK, "POST", "/api/v1/incidents/"+a.ID+"/transitions",
			map[string]any{"to": "closed", "resolution": "false_positive", "note": "a drill"}, nil)

		type report struct {
			Severities []struct {
				Severity    string   `json:"severity"`
				Incidents   int      `json:"incidents"`
				MTTRMinutes *float64 `json:"mttr_minutes"`
				Targets     []struct {
					Name       string   `json:"name"`
					Applicable int      `json:"applicable"`
					Met        int      `json:"met"`
					Open       int      `json:"open"`
					MetPercent *float64 `json:"met_percent"`
				} `json:"targets"`
			} `json:"severities"`
		}
		sev1 := func(token string) (int, map[string][3]int, *float64) {
			var r report
			if code, raw := w.doAs(token, "GET", "/api/v1/reports/sla", nil, &r); code != 200 {
				t.Fatalf("SLA report: %d %s", code, raw)
			}
			for _, s := range r.Severities {
				if s.Severity != "sev1" {
					continue
				}
				targets := map[string][3]int{}
				for _, tg := range s.Targets {
					targets[tg.Name] = [3]int{tg.Applicable, tg.Met, tg.Open}
				}
				return s.Incidents, targets, s.MTTRMinutes
			}
			t.Fatalf("no sev1 row: %+v", r)
			return 0, nil, nil
		}
		n, targets, mttr := sev1(tokens["security_officer"])
		if n != 3 || targets["first_update"] != [3]int{3, 1, 2} || targets["resolve"] != [3]int{3, 1, 2} || mttr == nil {
			t.Fatalf("sev1 for a security officer: %d incidents, targets %v, MTTR %v", n, targets, mttr)
		}
		if targets["acknowledge"][0] != 0 {
			t.Fatalf("acknowledgement applied with nobody paged: %v", targets["acknowledge"])
		}
		if n, targets, _ := sev1(tokens["responder"]); n != 2 || targets["first_update"] != [3]int{2, 1, 1} {
			t.Fatalf("sev1 for a responder, who may not see the restricted incident: %d, %v", n, targets)
		}
		if code, raw := w.do("GET", "/api/v1/reports/sla?from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z", nil, nil); code != 422 ||
			!strings.Contains(string(raw), "must be after from") {
			t.Fatalf("a period that ends before it starts: %d %s", code, raw)
		}

		admin := signInAs(t, w, authz.RoleAdmin, "sla-admin")
		code, page := admin.send("GET", "/reports/sla", nil)
		if code != 200 || !strings.Contains(page, "sev1: 2 incidents") || !strings.Contains(page, "Mean time to acknowledge: <span class=\"muted\">none acknowledged") {
			t.Fatalf("SLA report page: %d %.3000s", code, page)
		}
		if code, page := admin.send("GET", "/reports/sla?from=someday", nil); code != 422 || !strings.Contains(page, `id="from-error"`) {
			t.Fatalf("a bad date: %d %.2000s", code, page)
		}
	})
}
