package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/app"
)

// BenchmarkNoticesEndToEnd measures the whole path through the API on
// SQLite: n individuals imported (not timed), half by mail and half by
// email; then letters generated (read and open the sealed records,
// render the PDF batches and the mailing list, seal and store them) and
// emails sent to a local SMTP server over STARTTLS (render, send, record
// each receipt), each timed on its own.
func BenchmarkNoticesEndToEnd(b *testing.B) {
	const n = 4000
	mail := startMailbox(b)
	w := startWardAt(b, b.TempDir(), "", func(e *app.Env) {
		e.Args = append(e.Args, "--smtp-server", mail.addr, "--smtp-from", "privacy@example.org", "--smtp-ca-file", mail.caFile)
	})
	code, out, errs := w.run("token", "create", "--name", "bench-po", "--role", "privacy_officer")
	if code != 0 {
		b.Fatal(errs)
	}
	po := strings.TrimSpace(out)
	var templates []struct{ ID, Kind string }
	w.must(200, "GET", "/api/v1/notice-templates", nil, &templates)
	for _, tp := range templates {
		if tp.Kind == "individual_letter" || tp.Kind == "individual_email" {
			if c, raw := w.doAs(po, "POST", "/api/v1/notice-templates/"+tp.ID+"/approve", nil, nil); c != 200 {
				b.Fatalf("approve: %d %s", c, raw)
			}
		}
	}
	var letters, emails time.Duration
	rounds := 0
	for b.Loop() {
		b.StopTimer()
		var inc incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "bench", "category": "theft"}, &inc)
		base := "/api/v1/incidents/" + inc.ID + "/breach-case"
		w.must(201, "POST", base, nil, nil)
		w.must(200, "PUT", base+"/notice-settings", map[string]any{"entity_name": "Example Health", "signer_name": "Pat",
			"signer_title": "Privacy Officer", "toll_free": "1-800-555-0100", "email": "p@example.org", "website": "https://example.org",
			"postal_address": "1 Main St", "occurred_on": "April 2, 2026", "what_happened": "A laptop was stolen.",
			"phi_involved": "your name", "steps_to_take": "Watch your mail.", "what_we_are_doing": "We encrypt laptops now."}, nil)
		var sb strings.Builder
		sb.WriteString("name,address1,city,state,zip,email,consent_electronic\n")
		for i := range n {
			if i%2 == 0 {
				fmt.Fprintf(&sb, "Mail Person %d,%d Oak St,Fresno,CA,93701,,\n", i, i)
			} else {
				fmt.Fprintf(&sb, "Email Person %d,,,CA,,p%d@example.com,yes\n", i, i)
			}
		}
		if c, raw := w.postCSV(w.token, base+"/individuals/import", sb.String()); c != 200 {
			b.Fatalf("import: %d %.300s", c, raw)
		}
		b.StartTimer()
		start := time.Now()
		w.must(201, "POST", base+"/notices/letters", map[string]any{}, nil)
		letters += time.Since(start)
		start = time.Now()
		var run struct{ Sent int }
		w.must(201, "POST", base+"/notices/emails", map[string]any{}, &run)
		emails += time.Since(start)
		if run.Sent != n/2 {
			b.Fatalf("sent %d", run.Sent)
		}
		rounds++
	}
	b.ReportMetric(float64(rounds*n/2)/letters.Seconds(), "letters/s")
	b.ReportMetric(float64(rounds*n/2)/emails.Seconds(), "emails/s")
}
