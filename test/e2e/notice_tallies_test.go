package e2e

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/db"
)

// TestNoticeTalliesExact: "N of M notified" per State, and the
// individuals counted per State and customer, are read from counts kept
// as the case changes (breach.Tally), not from every individual at each
// view. After each kind of change (an import, notices
// recorded as sent one by one and by run, emails sent, returned mail, a
// re-import that marks someone deceased or gives them an email, a re-sent
// letter, the substitute notice started) the kept counts, and what the
// obligations API shows, equal a count made the long way in Go from every
// individual and notice on record, on both databases. A path that moved
// a notice or an individual without moving the counts fails here.
func TestNoticeTalliesExact(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, url string) {
		mail := startMailbox(t)
		w := startWardAt(t, t.TempDir(), url, func(e *app.Env) {
			e.Args = append(e.Args, "--smtp-server", mail.addr, "--smtp-from", "privacy@example.org", "--smtp-ca-file", mail.caFile)
		})
		code, out, errs := w.run("token", "create", "--name", "tally-po", "--role", "privacy_officer")
		if code != 0 {
			t.Fatalf("token: %s", errs)
		}
		po := strings.TrimSpace(out)
		var inc incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Mailroom theft", "category": "theft"}, &inc)
		base := "/api/v1/incidents/" + inc.ID + "/breach-case"
		w.must(201, "POST", base, nil, nil)
		d := openStore(t, w)
		var caseID string
		if err := d.R.QueryRowContext(t.Context(), `SELECT id FROM breach_cases WHERE incident_id = $1`, inc.ID).Scan(&caseID); err != nil {
			t.Fatal(err)
		}
		substitute := false
		check := func(step string) {
			t.Helper()
			want := longCount(t, d, caseID)
			got, err := breach.NoticeTallies(t.Context(), d.R, caseID)
			if err != nil {
				t.Fatal(err)
			}
			kept := map[string]breach.NoticeTally{}
			for _, x := range got {
				kept[x.State] = x
			}
			if !maps.Equal(kept, want) {
				t.Fatalf("after %s: kept %v, counted %v", step, kept, want)
			}
			if keptGroups, counted := groupCounts(t, d, caseID, false), groupCounts(t, d, caseID, true); !maps.Equal(keptGroups, counted) {
				t.Fatalf("after %s: kept individual counts %v, counted %v", step, keptGroups, counted)
			}
			var obs []struct {
				Key      string `json:"key"`
				Owed     *int   `json:"owed"`
				Notified *int   `json:"notified"`
			}
			w.must(200, "GET", base+"/obligations", nil, &obs)
			for _, o := range obs {
				if o.Owed == nil {
					continue
				}
				state, _ := strings.CutPrefix(o.Key, "individuals:")
				c := want[state]
				if o.Key == "individuals" {
					c = want[""]
				}
				notified := c.Sent
				if substitute {
					notified += c.Substitutable
				}
				if *o.Owed != c.Owed || *o.Notified != notified {
					t.Fatalf("after %s: %s shows %d of %d notified, counted %d of %d", step, o.Key, *o.Notified, *o.Owed, notified, c.Owed)
				}
			}
		}

		const header = "name,address1,city,state,zip,email,consent_electronic,deceased,next_of_kin,next_of_kin_address,customer\n"
		people := []string{
			"Ca Mail 1,1 Oak St,Fresno,CA,93701,,,,,,",
			"Ca Mail 2,2 Oak St,Fresno,CA,93701,,,,,,acme",
			"Ca Mail 3,3 Oak St,Fresno,CA,93701,,,,,,acme",
			"Ca Mail 4,4 Oak St,Fresno,CA,93701,,,,,,",
			"Ny Mail 1,1 Bway,New York,NY,10001,,,,,,",
			"Ny Mail 2,2 Bway,New York,NY,10001,,,,,,",
			"Or Nothing,,,OR,,,,,,,",
			"Nowhere Noconsent,,,,,nowhere@example.com,no,,,,",
			"Ca Email 1,,,CA,,ca1@example.com,yes,,,,acme",
			"Ca Email 2,,,CA,,ca2@example.com,yes,,,,",
			"Ca Late Kin,,,CA,,,,yes,Kin One,\"9 Pine Rd, Fresno, CA 93702\",",
			"Ca Late Alone,,,CA,,,,yes,,,",
			"Tx Noconsent,5 Main St,Austin,TX,73301,tx@example.com,no,,,,",
		}
		importList := func(lines ...string) {
			t.Helper()
			if code, raw := w.postCSV(w.token, base+"/individuals/import", header+strings.Join(lines, "\n")+"\n"); code != 200 {
				t.Fatalf("import: %d %s", code, raw)
			}
		}
		check("nothing imported")
		importList(people...)
		check("the import")

		var templates []struct{ ID, Kind string }
		w.must(200, "GET", "/api/v1/notice-templates", nil, &templates)
		for _, tp := range templates {
			if tp.Kind == "individual_letter" || tp.Kind == "individual_email" {
				if code, raw := w.doAs(po, "POST", "/api/v1/notice-templates/"+tp.ID+"/approve", nil, nil); code != 200 {
					t.Fatalf("approve %s: %d %s", tp.Kind, code, raw)
				}
			}
		}
		w.must(200, "PUT", base+"/notice-settings", map[string]any{"entity_name": "Example Health", "entity_address": "100 Main St",
			"signer_name": "Pat Morgan", "signer_title": "Privacy Officer", "toll_free": "1-800-555-0100", "email": "privacy@example.org",
			"website": "https://example.org/notice", "postal_address": "100 Main St, Springfield, IL", "occurred_on": "April 2, 2026",
			"what_happened": "Mail was stolen.", "phi_involved": "your name and address", "steps_to_take": "Watch your statements.",
			"what_we_are_doing": "We lock the mailroom now."}, nil)
		var run struct {
			ID      string `json:"id"`
			Notices int    `json:"notices"`
		}
		w.must(201, "POST", base+"/notices/letters", map[string]any{}, &run)
		check("letters generated")

		var generated struct {
			Notices []struct{ ID string } `json:"notices"`
		}
		w.must(200, "GET", base+"/notices?status=generated", nil, &generated)
		if len(generated.Notices) != run.Notices || run.Notices < 2 {
			t.Fatalf("generated %d, listed %d", run.Notices, len(generated.Notices))
		}
		w.must(200, "POST", base+"/notices/sent", map[string]any{"notice_id": generated.Notices[0].ID}, nil)
		check("one letter recorded as sent")
		w.must(200, "POST", base+"/notices/sent", map[string]any{"run_id": run.ID}, nil)
		check("the letters recorded as sent")
		w.must(201, "POST", base+"/notices/emails", map[string]any{}, &run)
		check("the emails sent")

		sent := sentNotices(t, d, caseID)
		if len(sent) < 4 {
			t.Fatalf("sent notices: %v", sent)
		}
		ret := fmt.Sprintf("individual_id,row_key,reason\n%s,,moved\n%s,,moved\n,%s,bounced\n", sent[0][1], sent[1][1], sent[len(sent)-1][0])
		if code, raw := w.postCSV(w.token, base+"/notices/returns", ret); code != 200 || !strings.Contains(string(raw), `"recorded":3`) {
			t.Fatalf("returns: %d %s", code, raw)
		}
		check("returned mail")

		importList("Ca Mail 1,1 Oak St,Fresno,CA,93701,,,yes,,,",
			"Ny Mail 2,2 Bway,New York,NY,10001,ny2@example.com,yes,,,,",
			"Ca Mail 2,2 Oak St,Fresno,CA,93701,,,,,,",
			"Or Nothing,,,OR,,or@example.com,yes,,,,",
			"Ca Late Alone,,,CA,,,,yes,Kin Two,\"8 Pine Rd, Fresno, CA 93702\",")
		check("a re-import")

		var returned struct {
			Notices []struct{ ID string } `json:"notices"`
		}
		w.must(200, "GET", base+"/notices?status=returned", nil, &returned)
		if len(returned.Notices) == 0 {
			t.Fatal("no returned notice listed")
		}
		w.must(201, "POST", base+"/notices/"+returned.Notices[0].ID+"/resend", nil, nil)
		check("a notice queued again")
		if code, raw := w.do("POST", base+"/notices/letters", map[string]any{}, &run); code == 201 {
			w.must(200, "POST", base+"/notices/sent", map[string]any{"run_id": run.ID}, nil)
		} else if code != 409 {
			t.Fatalf("letters again: %d %s", code, raw)
		}
		if code, raw := w.do("POST", base+"/notices/emails", map[string]any{}, nil); code != 201 && code != 409 {
			t.Fatalf("emails again: %d %s", code, raw)
		}
		check("the re-sends")

		start := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
		w.must(200, "POST", base+"/notices/substitute", map[string]any{"posting_started_at": start,
			"posting_url": "https://example.org/notice"}, nil)
		substitute = true
		check("the substitute notice started")
		importList("Ca Mail 5,5 Oak St,Fresno,CA,93701,,,,,,acme", "Wa Nothing,,,WA,,,,,,,")
		check("an import after the substitute notice")
	})
}

// longCount counts case caseID's individual notice progress by State the
// long way, in Go from every individual and notice on record, as the law
// reads (package notice, Progress): only the groups that are owed notice.
func longCount(t *testing.T, d *db.DB, caseID string) map[string]breach.NoticeTally {
	t.Helper()
	ctx := context.Background()
	type person struct {
		state                                         string
		address, email, deceased, kinAddress, consent bool
		sent, returned                                bool
	}
	people := map[string]*person{}
	rows, err := d.R.QueryContext(ctx, `SELECT id, state, has_address, has_email, deceased, has_next_of_kin_address, consent_electronic
		FROM breach_individuals WHERE case_id = $1`, caseID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		p := &person{}
		if err := rows.Scan(&id, &p.state, &p.address, &p.email, &p.deceased, &p.kinAddress, &p.consent); err != nil {
			t.Fatal(err)
		}
		people[id] = p
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	rows, err = d.R.QueryContext(ctx, `SELECT individual_id, status FROM notices WHERE case_id = $1 AND individual_id <> ''`, caseID)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, status string
		if err := rows.Scan(&id, &status); err != nil {
			t.Fatal(err)
		}
		p := people[id]
		if p == nil {
			t.Fatalf("a notice to individual %s, not on the case", id)
		}
		p.sent = p.sent || status == "sent"
		p.returned = p.returned || status == "returned"
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	out := map[string]breach.NoticeTally{}
	for _, p := range people {
		if p.deceased && !p.kinAddress {
			continue // no notice is owed (164.404(d)(2))
		}
		byEmail := !p.deceased && p.email && p.consent
		byMail := (!p.deceased && p.address && !byEmail) || (p.deceased && p.kinAddress)
		x := out[p.state]
		x.State = p.state
		x.Owed++
		switch {
		case p.sent:
			x.Sent++
		case !(byEmail || byMail) || p.returned:
			x.Substitutable++
		}
		out[p.state] = x
	}
	return out
}

// sentNotices returns the id and individual of each notice of case caseID
// to an individual recorded as sent, by id.
func sentNotices(t *testing.T, d *db.DB, caseID string) [][2]string {
	t.Helper()
	rows, err := d.R.QueryContext(context.Background(), `SELECT id, individual_id FROM notices WHERE case_id = $1 AND status = 'sent'
		AND individual_id <> '' ORDER BY id`, caseID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][2]string
	for rows.Next() {
		var x [2]string
		if err := rows.Scan(&x[0], &x[1]); err != nil {
			t.Fatal(err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// groupCounts returns case caseID's individuals counted per State and
// customer as breach.Counts counts them (all, with insufficient contact,
// deceased, deceased with a next of kin's address): kept (the tallies
// read) or counted from every individual, in Go.
func groupCounts(t *testing.T, d *db.DB, caseID string, long bool) map[string][4]int {
	t.Helper()
	out := map[string][4]int{}
	if !long {
		rows, err := d.R.QueryContext(context.Background(), `SELECT state, customer, individuals, insufficient, deceased, deceased_kin
			FROM breach_notice_tallies WHERE case_id = $1 AND individuals > 0`, caseID)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var st, cu string
			var c [4]int
			if err := rows.Scan(&st, &cu, &c[0], &c[1], &c[2], &c[3]); err != nil {
				t.Fatal(err)
			}
			out[st+"/"+cu] = c
		}
		return out
	}
	rows, err := d.R.QueryContext(context.Background(), `SELECT state, customer, has_address, has_email, deceased, has_next_of_kin_address,
		consent_electronic FROM breach_individuals WHERE case_id = $1`, caseID)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var st, cu string
		var address, email, deceased, kin, consent bool
		if err := rows.Scan(&st, &cu, &address, &email, &deceased, &kin, &consent); err != nil {
			t.Fatal(err)
		}
		c := out[st+"/"+cu]
		c[0]++
		if !deceased && !address && !(email && consent) {
			c[1]++
		}
		if deceased {
			c[2]++
			if kin {
				c[3]++
			}
		}
		out[st+"/"+cu] = c
	}
	return out
}
