package e2e

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/emersion/go-smtp"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/dbtest"
	"github.com/wardhq/ward/internal/keys"
)

// TestCanaryNoticeDeliveryError: a real SMTP server refuses a breach
// notice's recipient with canary PHI in its reply (a mail server quoting
// the patient's name back), which Ward keeps as the notice's delivery error
// (notices.error). A Privacy Officer reads it back; a stakeholder does not,
// and is told it was withheld; it is in neither the debug log nor, in
// plaintext, the SQLite database, WAL and shared-memory files (while the
// server runs and after it stops) or any PostgreSQL row, where it is
// sealed.
func TestCanaryNoticeDeliveryError(t *testing.T) {
	t.Parallel()
	for _, target := range dbtest.Targets(t) {
		t.Run(string(target.Dialect), func(t *testing.T) {
			url := target.URL
			if target.Dialect == db.SQLite {
				url = ""
			}
			mail := startMailbox(t)
			mail.rcptErr = &smtp.SMTPError{Code: 550, EnhancedCode: smtp.EnhancedCode{5, 1, 1},
				Message: "no mailbox here for " + canary}
			data := t.TempDir()
			w := startWardAt(t, data, url, debugLog, func(e *app.Env) {
				e.Args = append(e.Args, "--smtp-server", mail.addr, "--smtp-from", "privacy@example.org", "--smtp-ca-file", mail.caFile)
			})
			privacy := roleToken(t, w, "privacy", "privacy_officer")
			stakeholder := roleToken(t, w, "stake", "stakeholder")

			var inc incidentJSON
			w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Laptop stolen", "category": "theft"}, &inc)
			base := "/api/v1/incidents/" + inc.ID + "/breach-case"
			w.must(201, "POST", base, nil, nil)
			if code, raw := w.postCSV(w.token, base+"/individuals/import",
				"name,address1,city,state,zip,email,consent_electronic\nBo Ray,2 Elm St,Fresno,CA,93650,bo@example.com,yes\n"); code != 200 {
				t.Fatalf("import: %d %s", code, raw)
			}
			var templates []struct {
				ID string `json:"id"`
			}
			w.must(200, "GET", "/api/v1/notice-templates", nil, &templates)
			for _, tp := range templates {
				if code, raw := w.doAs(privacy, "POST", "/api/v1/notice-templates/"+tp.ID+"/approve", nil, nil); code != 200 {
					t.Fatalf("approve: %d %s", code, raw)
				}
			}
			w.must(200, "PUT", base+"/notice-settings", map[string]any{"entity_name": "Example Health", "entity_address": "100 Main St",
				"signer_name": "Pat Morgan", "signer_title": "Privacy Officer", "toll_free": "1-800-555-0100", "email": "privacy@example.org",
				"website": "https://example.org/notice", "postal_address": "100 Main St, Springfield, IL", "occurred_on": "April 2, 2026",
				"what_happened": "A laptop was stolen.", "phi_involved": "names", "steps_to_take": "Watch your statements.",
				"what_we_are_doing": "We encrypt every laptop now."}, nil)
			w.must(201, "POST", base+"/notices/emails", map[string]any{}, nil)

			// The Privacy Officer reads the refusal, quoting the canary.
			var list struct {
				Notices []struct {
					Status   string `json:"status"`
					Error    string `json:"error"`
					Redacted bool   `json:"phi_redacted"`
				} `json:"notices"`
			}
			if code, raw := w.doAs(privacy, "GET", base+"/notices", nil, &list); code != 200 || len(list.Notices) != 1 ||
				list.Notices[0].Status != "failed" || !strings.Contains(list.Notices[0].Error, canary) {
				t.Fatalf("the refused notice, read by the Privacy Officer: %d %s", code, raw)
			}
			if len(mail.all()) != 0 {
				t.Fatalf("the refusing server took %d messages", len(mail.all()))
			}
			// A stakeholder does not, and is told it was withheld.
			code, raw := w.doAs(stakeholder, "GET", base+"/notices", nil, &list)
			if code != http.StatusOK || leaks(raw) || len(list.Notices) != 1 || !list.Notices[0].Redacted || list.Notices[0].Error != "" {
				t.Errorf("the refused notice, read by a stakeholder: %d %s", code, raw)
			}

			var live map[string][]byte
			if target.Dialect == db.SQLite {
				live = readDir(t, data)
				if len(live["ward.db-wal"]) == 0 {
					t.Error("no WAL to search while the server ran")
				}
			}
			w.stop()
			if leaks([]byte(w.logs.String())) {
				t.Error("canary PHI from the delivery error in the server log")
			}
			if !bytes.Contains([]byte(w.logs.String()), []byte(`"level":"DEBUG"`)) {
				t.Error("the log searched is not at debug level")
			}
			if target.Dialect == db.Postgres {
				assertNoCanaryInPostgres(t, target.URL, keys.NoticeError)
				return
			}
			for name, b := range live {
				if leaks(b) {
					t.Errorf("canary PHI in plaintext in %s, copied while the server ran", name)
				}
			}
			for name, b := range readDir(t, data) {
				if leaks(b) {
					t.Errorf("canary PHI in plaintext in %s", name)
				}
			}
		})
	}
}
