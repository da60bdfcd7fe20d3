package e2e

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/authz"
)

// TestLostLaptopInvestigation is issue #12's whole-app walk of a formal
// investigation of lost equipment, over HTTPS: the incident recorded as a
// loss gets the lost-device playbook and its tasks by itself; the
// investigation's questions are answered; the encryption report is kept
// as evidence and handed to a forensics lab (chain of custody); counsel
// marks a note privileged; the tasks are done, the review written and
// completed, the incident closed; and the investigation report (PDF)
// holds its sections, the answers' evidence hash and custody, while the
// privileged note reaches counsel's copy only. On both databases.
func TestLostLaptopInvestigation(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		const secret = "Counsel: the chart of Jane Canary was on the laptop"
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Laptop lost on the train",
			"category": "loss", "severity": "sev2"}, &inc)
		api := "/api/v1/incidents/" + inc.ID

		var applied struct {
			Items []struct {
				Playbook struct{ Key string }
				Answers  map[string]string
			}
		}
		w.must(http.StatusOK, "GET", api+"/playbooks", nil, &applied)
		if len(applied.Items) != 1 || applied.Items[0].Playbook.Key != "lost_device" {
			t.Fatalf("the loss did not get the lost-device playbook: %+v", applied.Items)
		}
		var tasks struct {
			Items []struct {
				ID        string `json:"id"`
				Title     string `json:"title"`
				OwnerRole string `json:"owner_role"`
			}
		}
		w.must(http.StatusOK, "GET", api+"/tasks", nil, &tasks)
		if len(tasks.Items) == 0 {
			t.Fatal("the playbook made no tasks")
		}
		answers := map[string]string{"asset": "LT-0042", "serial": "C02XK1", "encryption": "full_disk", "power_state": "off",
			"last_location": "the 08:12 train to Leeds", "police_report": "PR-2026-17", "remote_wipe": "confirmed"}
		w.must(http.StatusOK, "PUT", api+"/playbooks/lost_device/answers", map[string]any{"answers": answers}, nil)
		w.must(http.StatusOK, "GET", api+"/playbooks", nil, &applied)
		for k, v := range answers {
			if applied.Items[0].Answers[k] != v {
				t.Fatalf("answer %s: %q, want %q", k, applied.Items[0].Answers[k], v)
			}
		}

		content := []byte("FileVault status: On, recovery key escrowed")
		item := uploadTestEvidence(t, w, inc.Number, "encryption status report of LT-0042", string(content))
		w.must(http.StatusCreated, "POST", item+"/custody", map[string]string{"action": "transferred",
			"custodian": "Acme Forensics", "reason": "confirm the encryption"}, nil)
		var detail struct {
			SHA256 string `json:"sha256"`
		}
		w.must(http.StatusOK, "GET", item, nil, &detail)

		var note struct {
			ID string `json:"id"`
		}
		w.must(http.StatusCreated, "POST", api+"/notes", map[string]any{"body": secret}, &note)
		counsel := signInAs(t, w, authz.RoleCounsel, "ll-carol")
		if code, loc := counsel.send("POST", "/incidents/"+inc.Number+"/privileged", url.Values{"kind": {"note"},
			"object_id": {note.ID}, "privileged": {"yes"}}); code != http.StatusSeeOther {
			t.Fatalf("counsel marks the note: %d %.300s", code, loc)
		}

		for _, task := range tasks.Items {
			w.must(http.StatusOK, "PATCH", api+"/tasks/"+task.ID, map[string]any{"done": true}, nil)
		}
		w.must(http.StatusOK, "POST", api+"/transitions", map[string]any{"to": "post_incident", "note": "wiped and encrypted",
			"not_applicable": []string{"analysis", "containment", "eradication", "recovery"}}, nil)
		w.must(http.StatusOK, "PATCH", api+"/review", map[string]any{"root_cause": "laptop left on a luggage rack",
			"lessons": "keep laptops in hand luggage"}, nil)
		w.must(http.StatusOK, "POST", api+"/review/complete", nil, nil)
		w.must(http.StatusOK, "POST", api+"/transitions", map[string]any{"to": "closed", "resolution": "resolved",
			"note": "encrypted device, wiped: no breach"}, nil)
		var closed struct {
			Status string `json:"status"`
		}
		w.must(http.StatusOK, "GET", api, nil, &closed)
		if closed.Status != "closed" {
			t.Fatalf("the incident is %s, not closed", closed.Status)
		}

		officer := signInAs(t, w, authz.RoleSecurityOfficer, "ll-sam")
		code, pdf := officer.send("GET", "/incidents/"+inc.Number+"/investigation-report.pdf", nil)
		if code != http.StatusOK {
			t.Fatalf("the report: %d", code)
		}
		text, err := pdfText([]byte(pdf))
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []string{"Investigation report: " + inc.Number, "Facts", "Timeline", "Evidence and chain of custody",
			"Post-incident review", detail.SHA256, "Acme Forensics", "laptop left on a luggage rack", "1 note marked privileged"} {
			if !strings.Contains(text, want) {
				t.Errorf("the officer's report lacks %q:\n%s", want, text)
			}
		}
		if strings.Contains(text, "Jane Canary") {
			t.Errorf("the officer's report holds the privileged note:\n%s", text)
		}
		code, md := counsel.send("GET", "/incidents/"+inc.Number+"/investigation-report.md?privileged=include", nil)
		if code != http.StatusOK || !strings.Contains(md, secret) || !strings.Contains(md, detail.SHA256) {
			t.Fatalf("counsel's report: %d %s", code, md)
		}
		if code, _, raw := w.raw(w.tokenWithRole("ll-rita", "responder"), "GET", api+"/notes", "", nil); code != http.StatusOK ||
			bytes.Contains(raw, []byte("Jane Canary")) {
			t.Fatalf("a responder's notes: %d %s", code, raw)
		}
	})
}
