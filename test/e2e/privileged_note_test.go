package e2e

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
)

// TestCounselPrivilegedNoteE2E: on both databases, over HTTPS, counsel,
// who may not write a plain note (403), adds a privileged note through the
// API and another on the incident page; a responder's timeline shows that
// each exists and who holds it, never its text; counsel's shows the text;
// an empty note from the page is refused beside its field; a responder
// may not add one (403); each note and its mark are audited.
func TestCounselPrivilegedNoteE2E(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Chart opened without need"}, &inc)
		counsel := signInAs(t, w, authz.RoleCounsel, "carol")
		responder := w.tokenWithRole("pn-responder", "responder")
		counselToken := w.tokenWithRole("pn-counsel", "counsel")

		if code, raw := w.doAs(counselToken, "POST", "/api/v1/incidents/"+inc.ID+"/notes", map[string]any{"body": "plain"}, nil); code != http.StatusForbidden {
			t.Fatalf("counsel's plain note: %d %s, want 403", code, raw)
		}
		if code, raw := w.doAs(responder, "POST", "/api/v1/incidents/"+inc.ID+"/privileged-notes", map[string]any{"body": "x"}, nil); code != http.StatusForbidden {
			t.Fatalf("a responder's privileged note: %d %s, want 403", code, raw)
		}
		var ev struct {
			ID         string `json:"id"`
			Note       string `json:"note"`
			Privileged *struct {
				HeldBy string `json:"held_by"`
			} `json:"privileged"`
		}
		code, raw := w.doAs(counselToken, "POST", "/api/v1/incidents/"+inc.ID+"/privileged-notes",
			map[string]any{"body": "Advice: the letter to Jane Roe goes out first", "held_by": "carol"}, &ev)
		if code != http.StatusCreated || ev.Privileged == nil || ev.Privileged.HeldBy != "carol" {
			t.Fatalf("counsel's privileged note over the API: %d %s", code, raw)
		}

		if code, body := counsel.send(http.MethodGet, "/incidents/"+inc.Number, nil); code != http.StatusOK ||
			!strings.Contains(body, `action="/incidents/`+inc.Number+`/privileged-notes"`) ||
			strings.Contains(body, `action="/incidents/`+inc.Number+`/notes"`) {
			t.Fatalf("counsel's incident page should offer the privileged note only: %d", code)
		}
		if code, body := counsel.send(http.MethodPost, "/incidents/"+inc.Number+"/privileged-notes", url.Values{"privileged_body": {""}}); code != http.StatusUnprocessableEntity ||
			!strings.Contains(body, `id="privileged_body-error"`) {
			t.Fatalf("an empty privileged note from the page: %d %s", code, body)
		}
		if code, body := counsel.send(http.MethodPost, "/incidents/"+inc.Number+"/privileged-notes",
			url.Values{"privileged_body": {"Advice: keep the access log under hold"}}); code != http.StatusSeeOther {
			t.Fatalf("a privileged note from the page: %d %s", code, body)
		}

		var tl struct {
			Items []struct {
				Note         string `json:"note"`
				NoteRedacted bool   `json:"note_redacted"`
				Privileged   *struct {
					HeldBy string `json:"held_by"`
				} `json:"privileged"`
			}
		}
		for _, c := range []struct {
			token string
			sees  bool
		}{{responder, false}, {counselToken, true}} {
			if code, raw := w.doAs(c.token, "GET", "/api/v1/incidents/"+inc.ID+"/notes", nil, &tl); code != http.StatusOK || len(tl.Items) != 2 {
				t.Fatalf("notes: %d %s", code, raw)
			}
			for _, n := range tl.Items {
				if n.Privileged == nil || n.Privileged.HeldBy != "carol" || (n.Note != "") != c.sees || n.NoteRedacted == c.sees {
					t.Fatalf("a note as seen by a reader who sees privileged content (%v): %+v", c.sees, n)
				}
			}
		}
		var entries struct {
			Items []struct {
				Action string `json:"action"`
			}
		}
		officer := w.tokenWithRole("pn-officer", "security_officer")
		if code, raw := w.doAs(officer, "GET", "/api/v1/audit?incident="+inc.Number+"&limit=500", nil, &entries); code != http.StatusOK {
			t.Fatalf("audit: %d %s", code, raw)
		}
		counts := map[string]int{}
		for _, e := range entries.Items {
			counts[e.Action]++
		}
		if counts["incident.note"] != 2 || counts["incident.privilege.mark"] != 2 {
			t.Fatalf("audited: %v, want 2 notes and 2 marks", counts)
		}
	})
}
