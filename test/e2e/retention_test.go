package e2e

import (
	"net/http"
	"strings"
	"testing"
)

// TestRetentionAPIAndCLI: the policy is read and set through the API and
// the CLI, a period below the legal minimum or negative is refused naming
// the field, and a legal hold is placed, listed with its reason, refused
// twice and released through the API.
func TestRetentionAPIAndCLI(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var pol struct {
			Policy            map[string]int `json:"policy"`
			LegalMinimumYears int            `json:"legal_minimum_years"`
			Default           bool           `json:"default"`
		}
		w.must(http.StatusOK, "GET", "/api/v1/retention", nil, &pol)
		if !pol.Default || pol.Policy["incidents_years"] != 6 || pol.LegalMinimumYears != 6 {
			t.Fatalf("default policy: %+v", pol)
		}
		bad := map[string]int{"incidents_years": 6, "breach_cases_years": 6, "alerts_years": 6, "messages_years": 6, "sessions_years": 6,
			"individuals_phi_days": 0}
		for field, v := range map[string]int{"incidents_years": 5, "sessions_years": -2, "individuals_phi_days": -1} {
			body := map[string]int{}
			for k, x := range bad {
				body[k] = x
			}
			body[field] = v
			raw := w.must(http.StatusUnprocessableEntity, "PUT", "/api/v1/retention", body, nil)
			if !strings.Contains(string(raw), "body."+field) {
				t.Errorf("%s=%d: %s", field, v, raw)
			}
		}
		body := map[string]int{}
		for k, x := range bad {
			body[k] = x
		}
		body["individuals_phi_days"] = 90
		w.must(http.StatusOK, "PUT", "/api/v1/retention", body, &pol)
		if pol.Default || pol.Policy["individuals_phi_days"] != 90 {
			t.Fatalf("saved policy: %+v", pol)
		}
		if code, out, errs := w.run("retention", "set", "--breach-cases-years", "8"); code != 0 || !strings.Contains(out, "8 years") {
			t.Fatalf("retention set: %d %s %s", code, out, errs)
		}
		if code, out, errs := w.run("retention", "set", "--incidents-years", "2"); code == 0 || !strings.Contains(errs, "incidents_years") {
			t.Fatalf("retention set below the minimum: %d %s %s", code, out, errs)
		}
		if code, out, errs := w.run("retention", "show"); code != 0 || !strings.Contains(out, "90 days") {
			t.Fatalf("retention show: %d %s %s", code, out, errs)
		}
		if code, out, errs := w.run("retention", "purge", "--dry-run"); code != 0 || !strings.Contains(out, "Would purge") {
			t.Fatalf("retention purge --dry-run: %d %s %s", code, out, errs)
		}

		var inc struct {
			Number string `json:"number"`
		}
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Subpoenaed incident", "severity": "sev3"}, &inc)
		hold := "/api/v1/incidents/" + inc.Number + "/legal-hold"
		w.must(http.StatusUnprocessableEntity, "POST", hold, map[string]string{"reason": ""}, nil)
		w.must(http.StatusCreated, "POST", hold, map[string]string{"reason": "Doe v. Clinic"}, nil)
		w.must(http.StatusConflict, "POST", hold, map[string]string{"reason": "again"}, nil)
		w.must(http.StatusNotFound, "POST", "/api/v1/incidents/"+inc.Number+"/breach-case/legal-hold", map[string]string{"reason": "no case"}, nil)
		var holds struct {
			Items []struct {
				Active bool   `json:"active"`
				Reason string `json:"reason"`
			} `json:"items"`
		}
		w.must(http.StatusOK, "GET", "/api/v1/incidents/"+inc.Number+"/legal-holds", nil, &holds)
		if len(holds.Items) != 1 || !holds.Items[0].Active || holds.Items[0].Reason != "Doe v. Clinic" {
			t.Fatalf("holds: %+v", holds)
		}
		w.must(http.StatusOK, "POST", hold+"/release", map[string]string{"reason": "settled"}, nil)
		w.must(http.StatusNotFound, "POST", hold+"/release", map[string]string{"reason": "settled"}, nil)
		var prev struct {
			ChainOK bool `json:"chain_ok"`
		}
		w.must(http.StatusOK, "GET", "/api/v1/retention/preview", nil, &prev)
		if !prev.ChainOK {
			t.Fatal("preview: chain not ok")
		}
	})
}
