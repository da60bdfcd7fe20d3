package e2e

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/keys"
)

// TestUpgradeSealsNoticeText: notice templates and a case's notice
// settings an older Ward left in plaintext are sealed when Ward next
// starts, before it serves, and read as before.
func TestUpgradeSealsNoticeText(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		data := t.TempDir()
		w := startWardAt(t, data, dbURL)
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Laptop stolen"}, &inc)
		base := "/api/v1/incidents/" + inc.ID + "/breach-case"
		w.must(http.StatusCreated, "POST", base, nil, nil)
		w.must(http.StatusOK, "PUT", base+"/notice-settings", map[string]any{"entity_name": "Example Health"}, nil)
		w.stop()

		// The rows as Ward left them before issue #15.
		d := openStore(t, w)
		for _, q := range []string{
			forgetSealedColumns,
			"UPDATE notice_templates SET subject = 'About " + canary + "', body = 'Dear " + canary + "'",
			`UPDATE notice_settings SET body = '{"entity_name":"Example Health","what_happened":"` + canary + `"}'`,
		} {
			if _, err := d.W.Exec(q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		d.Close()

		w = startWardAt(t, data, dbURL, debugLog)
		d = openStore(t, w)
		for _, c := range []keys.Column{keys.NoticeTemplateSubject, keys.NoticeTemplateBody, keys.NoticeSettings} {
			rows, err := d.R.Query("SELECT " + c.Name + " FROM " + c.Table)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for rows.Next() {
				var v string
				if err := rows.Scan(&v); err != nil {
					t.Fatal(err)
				}
				if n++; !keys.Sealed(v) || strings.Contains(v, "Quillfeather") {
					t.Errorf("%s holds %q after the start", c, v)
				}
			}
			rows.Close()
			if n == 0 {
				t.Errorf("%s: no rows", c)
			}
		}
		for _, p := range []string{"/api/v1/notice-templates", base + "/notice-settings"} {
			if raw := w.must(http.StatusOK, "GET", p, nil, nil); !bytes.Contains(raw, []byte(canary)) {
				t.Errorf("GET %s after the upgrade: %s", p, raw)
			}
		}
		if !strings.Contains(w.logs.String(), "plaintext_sealed") {
			t.Errorf("the start did not say it sealed plaintext: %s", w.logs.String())
		}
	})
}
