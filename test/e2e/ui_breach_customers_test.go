package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/authz"
)

// TestUIBreachRegistryCustomers picks a case's affected customers from the
// registry on the facts form, on both databases: with the registry empty
// the form says so and links to it; with two customers in it, checking
// one gives that customer's obligation on its agreement's 72-hour term
// (not a typed one), the page shows it checked beside a customer typed by
// hand, errors of a typed row show beside that row with the pick kept, and
// unchecking it removes the obligation.
func TestUIBreachRegistryCustomers(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Claims export exposed"}, &inc)
		admin := signInAs(t, w, authz.RoleAdmin, "bc-admin")
		casePath := "/incidents/" + inc.Number + "/breach"
		if code, where := admin.send("POST", casePath+"/open", nil); code != http.StatusSeeOther {
			t.Fatalf("open: %d %.300s", code, where)
		}
		code, page := admin.send("GET", casePath, nil)
		if code != http.StatusOK || !strings.Contains(page, `id="registry-empty"`) || !strings.Contains(page, `href="/breach/parties"`) {
			t.Fatalf("the facts form with an empty registry: %d %.3000s", code, page)
		}

		var acme, beta struct {
			ID string `json:"id"`
		}
		w.must(http.StatusCreated, "POST", "/api/v1/breach/parties", map[string]any{"kind": "customer", "name": "Acme Health",
			"agreement": "BAA 2024-03 §4.2", "notice": map[string]any{"amount": 72, "unit": "hours"}}, &acme)
		w.must(http.StatusCreated, "POST", "/api/v1/breach/parties", map[string]any{"kind": "customer", "name": "Beta Clinic",
			"agreement": "MSA 2023", "notice": map[string]any{"amount": 10, "unit": "days"}}, &beta)
		box := func(id string) string {
			return `id="registry-customer-` + id + `" name="registry_customers" value="` + id + `"`
		}
		_, page = admin.send("GET", casePath, nil)
		if strings.Contains(page, `id="registry-empty"`) || !strings.Contains(page, box(acme.ID)+">") || !strings.Contains(page, box(beta.ID)+">") ||
			!strings.Contains(page, "Acme Health — BAA 2024-03 §4.2 — 72 hours") || !strings.Contains(page, "Beta Clinic — MSA 2023 — 10 calendar days") {
			t.Fatalf("the registry's customers on the facts form: %.4000s", page)
		}

		discovered := time.Date(2026, 5, 8, 15, 0, 0, 0, time.UTC)
		facts := func(role string, picked ...string) url.Values {
			v := url.Values{"role": {role}, "discovered_at": {discovered.Format("2006-01-02T15:04")},
				"should_have_known_at": {discovered.Format("2006-01-02T15:04")}, "individuals": {"40"},
				"customers[0]_id": {""}, "customers[0]_name": {""}, "customers[0]_amount": {""}, "customers[0]_unit": {"days"}}
			for _, id := range picked {
				v.Add("registry_customers", id)
			}
			return v
		}
		// A typed row naming the picked customer again: the error shows
		// beside that row, and the pick stays checked.
		twice := facts("business_associate", acme.ID)
		twice.Set("customers[0]_id", acme.ID)
		code, page = admin.send("POST", casePath+"/facts", twice)
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="customers[0]_id-error">&#34;`+acme.ID+`&#34; is listed twice`) ||
			!strings.Contains(page, box(acme.ID)+" checked") || strings.Contains(page, box(beta.ID)+" checked") {
			t.Fatalf("a picked customer typed again: %d %.4000s", code, page)
		}
		// A typed term the form cannot read: beside its row.
		bad := facts("both", acme.ID)
		bad.Set("customers[0]_id", "walk-in")
		bad.Set("customers[0]_amount", "soon")
		code, page = admin.send("POST", casePath+"/facts", bad)
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, `id="customers[0]_amount-error">&#34;soon&#34; is not a whole number`) ||
			!strings.Contains(page, box(acme.ID)+" checked") {
			t.Fatalf("an unreadable typed term: %d %.4000s", code, page)
		}

		good := facts("both", acme.ID)
		good.Set("customers[0]_id", "walk-in")
		good.Set("customers[0]_name", "Walk-in Clinic")
		good.Set("customers[0]_amount", "30")
		if code, where := admin.send("POST", casePath+"/facts", good); code != http.StatusSeeOther {
			t.Fatalf("facts with a registry customer: %d %.3000s", code, where)
		}
		type obligation struct {
			Key string    `json:"key"`
			Due time.Time `json:"due"`
		}
		dues := func() map[string]time.Time {
			var obs []obligation
			w.must(http.StatusOK, "GET", "/api/v1/incidents/"+inc.ID+"/breach-case/obligations", nil, &obs)
			out := map[string]time.Time{}
			for _, o := range obs {
				out[o.Key] = o.Due
			}
			return out
		}
		got := dues()
		// The BAA's 72 hours, not 164.410(b)'s 60 days.
		if due, ok := got["covered_entity:"+acme.ID]; !ok || !due.Equal(discovered.Add(72*time.Hour)) {
			t.Fatalf("the picked customer's obligation: %v", got)
		}
		if _, ok := got["covered_entity:"+beta.ID]; ok {
			t.Fatalf("an unchecked customer has an obligation: %v", got)
		}
		// 30 days typed by hand: the end of the 30th day after discovery.
		if due, ok := got["covered_entity:walk-in"]; !ok || due.Before(discovered.AddDate(0, 0, 30)) || due.After(discovered.AddDate(0, 0, 31)) {
			t.Fatalf("the typed customer's obligation: %v", got)
		}
		var c struct {
			Facts struct {
				Customers []struct {
					ID, Name string
				} `json:"customers"`
			} `json:"facts"`
		}
		w.must(http.StatusOK, "GET", "/api/v1/incidents/"+inc.ID+"/breach-case", nil, &c)
		if cs := c.Facts.Customers; len(cs) != 2 || cs[0].ID != acme.ID || cs[0].Name != "Acme Health" {
			t.Fatalf("the case's customers: %+v", cs)
		}
		_, page = admin.send("GET", casePath, nil)
		if !strings.Contains(page, box(acme.ID)+" checked") || strings.Contains(page, box(beta.ID)+" checked") ||
			!strings.Contains(page, `name="customers[0]_id" type="text" value="walk-in"`) || strings.Contains(page, `value="`+acme.ID+`" autocomplete`) {
			t.Fatalf("the saved facts on the form: %.4000s", page)
		}

		// The registry's term changes: the form says the case holds the
		// old one until the facts are saved again.
		w.must(http.StatusOK, "PUT", "/api/v1/breach/parties/"+acme.ID, map[string]any{"kind": "customer", "name": "Acme Health",
			"agreement": "BAA 2024-03 §4.2", "notice": map[string]any{"amount": 48, "unit": "hours"}}, nil)
		if _, page = admin.send("GET", casePath, nil); !strings.Contains(page, "Acme Health — BAA 2024-03 §4.2 — 48 hours") ||
			!strings.Contains(page, box(acme.ID)+` checked aria-describedby="registry-customer-`+acme.ID+`-hint"`) ||
			!strings.Contains(page, "this case now holds 72 hours; saving takes the registry's") {
			t.Fatalf("a registry term changed since the facts were saved: %.4000s", page)
		}

		// A business associate must name a customer (164.410).
		code, page = admin.send("POST", casePath+"/facts", facts("business_associate"))
		if code != http.StatusUnprocessableEntity || !strings.Contains(page, "a business associate must name the covered entities") {
			t.Fatalf("a business associate naming no customer: %d %.4000s", code, page)
		}
		if code, where := admin.send("POST", casePath+"/facts", facts("both")); code != http.StatusSeeOther {
			t.Fatalf("facts with no customer: %d %.3000s", code, where)
		}
		if got := dues(); len(got) == 0 {
			t.Fatal("no obligations left")
		} else {
			for key := range got {
				if strings.HasPrefix(key, "covered_entity:") {
					t.Errorf("unchecked, %s is still owed notice: %v", key, got)
				}
			}
		}
		if _, page = admin.send("GET", casePath, nil); strings.Contains(page, box(acme.ID)+" checked") {
			t.Error("an unchecked customer shown checked")
		}
	})
}
