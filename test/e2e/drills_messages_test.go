package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/clock"
)

// hookMessage is a notification as the webhook receiver gets it.
type hookMessage struct {
	Path                     string
	Kind, Incident, Severity string
	Status                   string
}

// hookMessages decodes what h received, in order.
func hookMessages(t *testing.T, h *hookReceiver) []hookMessage {
	t.Helper()
	var out []hookMessage
	for _, r := range h.all() {
		m := hookMessage{Path: r.path}
		if err := json.Unmarshal(r.body, &m); err != nil {
			t.Fatalf("webhook body %s: %v", r.body, err)
		}
		out = append(out, m)
	}
	return out
}

// TestDrillMessagesReachParticipantsOnly: on both databases, through a real
// webhook receiver and SMTP server, every message about a drill goes to its
// participants only and says DRILL, while the same messages about a real
// incident reach their usual recipients. Carol commands the drill; Exec is
// in the stakeholder group its severity subscribes; Sam is a Security
// Officer who takes no part. A status update about the drill reaches Carol
// ("DRILL new status update") and not Exec; the update falling overdue and
// the SLA targets missed remind Carol, marked DRILL, and tell neither Exec
// nor Sam. No external contact can be subscribed to the drill (409) and the
// mail server receives nothing about it, while a contact subscribed to the
// real incident gets its confirmation. The webhook bodies never carry the
// update's text.
func TestDrillMessagesReachParticipantsOnly(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, url string) {
		clk := clock.NewFake(time.Now())
		mail, hook := startMailbox(t), startHook(t)
		data := t.TempDir()
		w := startWardAt(t, data, url, func(e *app.Env) {
			e.Clock = clk
			e.Args = append(e.Args, "--smtp-server", mail.addr, "--smtp-from", "ward@example.org", "--smtp-ca-file", mail.caFile,
				"--paging-poll", "20ms")
		}, allowLoopback)
		for _, u := range []struct{ name, role string }{{"carol", "responder"}, {"exec", "stakeholder"}, {"sam", "security_officer"}} {
			if code, _, errs := runWardIn(t, data, url, "orange lantern over quiet harbour\n", "user", "create", "--username", u.name,
				"--name", u.name, "--email", u.name+"@example.org", "--role", u.role, "--password-stdin"); code != 0 {
				t.Fatalf("user create: %s", errs)
			}
			w.must(http.StatusCreated, "POST", "/api/v1/users/"+u.name+"/contact-methods", map[string]any{"kind": "webhook",
				"address": hook.URL + "/" + u.name}, nil)
		}
		eventually(t, "three verified webhooks", func() bool { return len(hook.all()) == 3 })
		w.must(http.StatusOK, "PUT", "/api/v1/org-profile", map[string]any{"name": "Acme Clinic", "address": map[string]any{},
			"contact": map[string]any{}}, nil)
		w.must(http.StatusCreated, "POST", "/api/v1/stakeholder-groups", map[string]any{"name": "execs", "members": []string{"exec"},
			"rule": map[string]any{"severities": []string{"sev1"}}}, nil)
		var dana struct{ ID string }
		w.must(http.StatusCreated, "POST", "/api/v1/stakeholder-contacts", map[string]any{"name": "Dana Reyes", "organisation": "Mercy Clinic",
			"email": "dana@mercy.example"}, &dana)

		officer := w.tokenWithRole("drill-msg-officer", "security_officer")
		var realInc, drill incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Ransomware on file server", "severity": "sev1",
			"commander": "carol"}, &realInc)
		if code, raw := w.doAs(officer, "POST", "/api/v1/drills", map[string]any{"playbook": "ransomware",
			"scenario": "The file server's shares are encrypted overnight."}, &drill); code != http.StatusCreated {
			t.Fatalf("start a drill: %d %s", code, raw)
		}
		w.must(http.StatusOK, "PATCH", "/api/v1/incidents/"+drill.ID, map[string]any{"severity": "sev1", "commander": "carol"}, nil)

		text := "Servers isolated; restoring from backup."
		for _, inc := range []incidentJSON{realInc, drill} {
			w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+inc.ID+"/status-updates", map[string]any{"body": text}, nil)
		}
		// The real incident's update reaches Exec; the drill's reaches Carol.
		about := func(number string) []hookMessage {
			var out []hookMessage
			for _, m := range hookMessages(t, hook) {
				if m.Incident == number {
					out = append(out, m)
				}
			}
			return out
		}
		eventually(t, "the real incident's update to Exec and the drill's to Carol", func() bool {
			return len(about(realInc.Number)) >= 1 && len(about(drill.Number)) >= 1
		})

		// The external contact: a confirmation for the real incident, nothing for the drill.
		subs := func(inc incidentJSON) string { return "/api/v1/incidents/" + inc.ID + "/external-subscribers" }
		w.must(http.StatusCreated, "POST", subs(realInc), map[string]any{"contact_id": dana.ID}, nil)
		if code, raw := w.do("POST", subs(drill), map[string]any{"contact_id": dana.ID}, nil); code != http.StatusConflict ||
			!strings.Contains(string(raw), drill.Number+" is a drill") {
			t.Errorf("subscribing an external contact to the drill: %d %s, want 409 naming the drill", code, raw)
		}
		eventually(t, "the real incident's confirmation email", func() bool { return len(mailTo(mail, "dana@mercy.example")) >= 1 })

		// sev1: an update every 60 minutes, containment within 240 minutes
		// (missed: the commander and the Security Officers are told).
		clk.Advance(241 * time.Minute)
		eventually(t, "the drill's overdue update reminding Carol", func() bool {
			for _, m := range about(drill.Number) {
				if m.Status == "DRILL status update overdue" {
					return true
				}
			}
			return false
		})
		eventually(t, "the real incident's overdue update reminding Carol and its missed containment told to Sam", func() bool {
			var carol, sam bool
			for _, m := range about(realInc.Number) {
				carol = carol || m.Status == "status update overdue" && m.Path == "/carol"
				sam = sam || m.Status == "SLA missed: contain" && m.Path == "/sam"
			}
			return carol && sam
		})
		awaitRounds(t, w, "ward_paging_rounds_total")

		var exec bool
		for _, m := range about(realInc.Number) {
			exec = exec || m.Path == "/exec" && m.Status == "new status update"
		}
		if !exec {
			t.Errorf("the real incident's update did not reach Exec: %+v", about(realInc.Number))
		}
		said := map[string]bool{}
		for _, m := range about(drill.Number) {
			if m.Path != "/carol" || !strings.HasPrefix(m.Status, "DRILL ") {
				t.Errorf("a message about the drill to %s: %+v, want Carol's only, marked DRILL", m.Path, m)
			}
			said[m.Status] = true
		}
		for _, want := range []string{"DRILL new status update", "DRILL status update overdue", "DRILL SLA missed: contain"} {
			if !said[want] {
				t.Errorf("Carol was not told %q about the drill: %+v", want, about(drill.Number))
			}
		}
		for _, r := range hook.all() {
			if strings.Contains(string(r.body), "backup") {
				t.Errorf("a webhook carries the update's text: %s", r.body)
			}
		}
		for _, msg := range mail.all() {
			if strings.Contains(msg, drill.Number) || strings.Contains(msg, drill.ID) {
				t.Errorf("the mail server received a message about the drill:\n%s", msg)
			}
		}
	})
}

// TestDrillNeverOnStatusPages: on both databases, a drill's public status
// page cannot be turned on (409 naming the drill), and the organisation's
// public status page lists the real incident whose page is on, never the
// drill.
func TestDrillNeverOnStatusPages(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		officer := w.tokenWithRole("drill-page-officer", "security_officer")
		w.must(http.StatusOK, "PUT", "/api/v1/org-profile", map[string]any{"name": "Acme Clinic", "address": map[string]any{},
			"contact": map[string]any{}}, nil)
		var realInc, drill incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Misdirected fax", "severity": "sev2"}, &realInc)
		if code, raw := w.doAs(officer, "POST", "/api/v1/drills", map[string]any{"playbook": "lost_device"}, &drill); code != http.StatusCreated {
			t.Fatalf("start a drill: %d %s", code, raw)
		}
		w.must(http.StatusOK, "PUT", "/api/v1/incidents/"+realInc.ID+"/public-status-page", map[string]any{"enabled": true}, nil)
		if code, raw := w.doAs(officer, "PUT", "/api/v1/incidents/"+drill.ID+"/public-status-page", map[string]any{"enabled": true}, nil); code != http.StatusConflict ||
			!strings.Contains(string(raw), drill.Number+" is a drill") {
			t.Fatalf("turning the drill's public status page on: %d %s, want 409 naming the drill", code, raw)
		}
		var pp struct{ Enabled bool }
		w.must(http.StatusOK, "GET", "/api/v1/incidents/"+drill.ID+"/public-status-page", nil, &pp)
		if pp.Enabled {
			t.Fatal("the drill's public status page is on")
		}
		w.must(http.StatusOK, "PUT", "/api/v1/public-status-page", map[string]any{"enabled": true}, nil)
		resp, err := w.client.Get(w.url + "/status")
		if err != nil {
			t.Fatal(err)
		}
		page, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || !strings.Contains(string(page), "Incident "+realInc.Number) ||
			strings.Contains(string(page), drill.Number) {
			t.Fatalf("the organisation's status page: %d %v %s, want the real incident and not the drill", resp.StatusCode, err, page)
		}
	})
}
