package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestBreachParties: the organisation is a business associate; a
// customer with a 5-business-day BAA term is in the registry; a new case
// starts as a business associate, names the customer by its id and gets
// its own obligation on the contract's clock; an import's customer column
// maps to the registry by name, and an unknown customer is rejected.
// Every change is audited; the registry is readable, not writable, by a
// responder.
func TestBreachParties(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		code, out, errs := w.run("token", "create", "--name", "resp", "--role", "responder")
		if code != 0 {
			t.Fatalf("token: %s", errs)
		}
		responder := strings.TrimSpace(out)

		var org struct{ Role string }
		w.must(200, "GET", "/api/v1/breach/organisation", nil, &org)
		if org.Role != "" {
			t.Fatalf("organisation before it is set: %+v", org)
		}
		if code, raw := w.do("PUT", "/api/v1/breach/organisation", map[string]any{"role": "phr_vendor"}, nil); code != 422 {
			t.Fatalf("a bad role: %d %s", code, raw)
		}
		w.must(200, "PUT", "/api/v1/breach/organisation", map[string]any{"role": "business_associate"}, &org)

		acme := map[string]any{"kind": "customer", "name": "Acme Health", "agreement": "BAA 2024-03 section 4.2",
			"notice":  map[string]any{"amount": 5, "unit": "days", "business": true},
			"contact": map[string]any{"name": "Pat Privacy", "email": "privacy@acme.example", "address": "1 Acme Way, Reno NV"},
			"channel": "email", "contents": "Nature of the incident, PHI involved, mitigation.",
			"checklist": []string{"nature of the incident", "PHI involved", "mitigation"}}
		if code, _ := w.doAs(responder, "POST", "/api/v1/breach/parties", acme, nil); code != http.StatusForbidden {
			t.Fatalf("a responder adding a party: %d", code)
		}
		bad := map[string]any{"kind": "customer", "name": "Bad Terms", "notice": map[string]any{"amount": 0, "unit": "weeks"},
			"channel": "mail"}
		if code, raw := w.do("POST", "/api/v1/breach/parties", bad, nil); code != 422 || !strings.Contains(string(raw), "notice.amount") ||
			!strings.Contains(string(raw), "contact.address") {
			t.Fatalf("bad terms: %d %s", code, raw)
		}
		var party struct {
			ID        string   `json:"id"`
			Name      string   `json:"name"`
			Checklist []string `json:"checklist"`
		}
		w.must(201, "POST", "/api/v1/breach/parties", acme, &party)
		if code, raw := w.do("POST", "/api/v1/breach/parties", acme, nil); code != 422 || !strings.Contains(string(raw), "already") {
			t.Fatalf("the same name twice: %d %s", code, raw)
		}
		w.must(201, "POST", "/api/v1/breach/parties", map[string]any{"kind": "business_associate", "name": "Shred Co",
			"notice": map[string]any{"amount": 10, "unit": "days"}}, nil)
		var list []struct{ Kind, Name string }
		if code, _ := w.doAs(responder, "GET", "/api/v1/breach/parties?kind=customer", nil, &list); code != 200 || len(list) != 1 || list[0].Name != "Acme Health" {
			t.Fatalf("customers for a responder: %d %+v", code, list)
		}

		var inc incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Claims export exposed"}, &inc)
		base := "/api/v1/incidents/" + inc.ID + "/breach-case"
		var c struct {
			Facts struct {
				Role string `json:"role"`
			} `json:"facts"`
		}
		w.must(201, "POST", base, nil, &c)
		if c.Facts.Role != "business_associate" {
			t.Fatalf("a new case's role: %q", c.Facts.Role)
		}
		discovered := time.Date(2026, 5, 8, 15, 0, 0, 0, time.UTC) // a Friday
		var withCustomer struct {
			Facts struct {
				Customers []struct {
					ID     string `json:"id"`
					Name   string `json:"name"`
					Notice *struct {
						Amount   int  `json:"amount"`
						Business bool `json:"business"`
					} `json:"notice"`
				} `json:"customers"`
			} `json:"facts"`
		}
		w.must(200, "PUT", base+"/facts", map[string]any{"role": "business_associate", "discovered_at": discovered,
			"should_have_known_at": discovered, "customers": []map[string]any{{"id": party.ID}}}, &withCustomer)
		if cs := withCustomer.Facts.Customers; len(cs) != 1 || cs[0].Name != "Acme Health" || cs[0].Notice == nil ||
			cs[0].Notice.Amount != 5 || !cs[0].Notice.Business {
			t.Fatalf("the registry's terms did not fill the facts: %+v", withCustomer.Facts)
		}
		var obs []struct {
			Key string    `json:"key"`
			Due time.Time `json:"due"`
		}
		w.must(200, "GET", base+"/obligations", nil, &obs)
		var due time.Time
		for _, o := range obs {
			if o.Key == "covered_entity:"+party.ID {
				due = o.Due
			}
		}
		// Five business days from a Friday end the next Friday, not 60
		// days on (164.410(b) and the BAA's shorter term).
		if due.Before(discovered.AddDate(0, 0, 5)) || due.After(discovered.AddDate(0, 0, 8)) {
			t.Fatalf("the customer's obligation is due %s: %+v", due, obs)
		}

		list2 := "name,state,customer\r\nAnn Lee,CA,acme health\r\nBo Ray,OR,Nobody Inc\r\n"
		var imp struct {
			Created  int `json:"created"`
			Problems []struct {
				Line  int    `json:"line"`
				Field string `json:"field"`
			} `json:"problems"`
		}
		code, raw := w.postCSV(w.token, base+"/individuals/import", list2)
		if code != 200 {
			t.Fatalf("import: %d %s", code, raw)
		}
		if err := json.Unmarshal(raw, &imp); err != nil {
			t.Fatal(err)
		}
		if imp.Created != 1 || len(imp.Problems) != 1 || imp.Problems[0].Line != 3 || imp.Problems[0].Field != "customer" {
			t.Fatalf("import with customers: %s", raw)
		}
		var people struct {
			Individuals []struct {
				Customer string `json:"customer"`
			} `json:"individuals"`
		}
		w.must(200, "GET", base+"/individuals", nil, &people)
		if len(people.Individuals) != 1 || people.Individuals[0].Customer != party.ID {
			t.Fatalf("the customer column should hold the registry id: %+v", people)
		}

		w.must(200, "DELETE", "/api/v1/breach/parties/"+party.ID, nil, nil)
		w.must(200, "GET", "/api/v1/breach/parties?kind=customer", nil, &list)
		if len(list) != 0 {
			t.Fatalf("an archived party listed: %+v", list)
		}
		code, out, errs = w.run("audit", "verify")
		if code != 0 {
			t.Fatalf("audit verify: %s %s", out, errs)
		}
	})
}
