package e2e

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wardhq/ward/internal/app"
	"github.com/wardhq/ward/internal/clock"
)

// TestActionItemReminders: the owner of an open action item is told once
// when it is overdue, on their verified contact method, with Ward's own
// words and never the item's title; moving the due time later arms the
// reminder again, and a done item is not reminded of. The timeline says
// who was reminded.
func TestActionItemReminders(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		w, clk, reminders := reminderWard(t, dbURL)
		const rounds = `ward_check_rounds_total{check="action_item_reminders"}`

		var inc incidentJSON
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Laptop left on a train"}, &inc)
		items := "/api/v1/incidents/" + inc.ID + "/action-items"
		var item, done struct{ ID string }
		w.must(201, "POST", items, map[string]any{"title": "Re-image Quillfeather's laptop", "owner": "olga",
			"due_at": clk.Now().Add(24 * time.Hour).Format(time.RFC3339)}, &item)
		w.must(201, "POST", items, map[string]any{"title": "Train the desk", "owner": "olga",
			"due_at": clk.Now().Add(24 * time.Hour).Format(time.RFC3339)}, &done)
		w.must(200, "PATCH", items+"/"+done.ID, map[string]any{"status": "done"}, nil)

		awaitRounds(t, w, rounds)
		if got := reminders(); len(got) != 0 {
			t.Fatalf("reminded before the due time: %v", got)
		}
		clk.Advance(25 * time.Hour)
		want := inc.Number + ": action item overdue"
		eventually(t, "the overdue reminder", func() bool { return len(reminders()) == 1 })
		awaitRounds(t, w, rounds)
		if got := reminders(); len(got) != 1 || got[0] != want {
			t.Fatalf("reminders after the due time: %v, want one %q", got, want)
		}

		// A later due time arms it again.
		w.must(200, "PATCH", items+"/"+item.ID, map[string]any{"due_at": clk.Now().Add(48 * time.Hour).Format(time.RFC3339)}, nil)
		awaitRounds(t, w, rounds)
		if got := reminders(); len(got) != 1 {
			t.Fatalf("reminded before the new due time: %v", got)
		}
		clk.Advance(49 * time.Hour)
		eventually(t, "the reminder of the new due time", func() bool { return len(reminders()) == 2 })

		var timeline struct{ Items []struct{ Kind, Note string } }
		w.must(200, "GET", "/api/v1/incidents/"+inc.ID+"/timeline?limit=100", nil, &timeline)
		var notes []string
		for _, e := range timeline.Items {
			if e.Kind == "action_item" && strings.Contains(e.Note, "olga was reminded") {
				notes = append(notes, e.Note)
			}
		}
		if len(notes) != 2 {
			t.Fatalf("timeline reminders: %v", notes)
		}
	})
}

// reminderWard starts Ward on a fake clock with the user olga reached by
// webhook, and returns it with the clock and a reader of the reminders
// olga was sent ("INC-…: status line"), which fails the test if one
// holds the canary or goes elsewhere.
func reminderWard(t *testing.T, dbURL string) (*ward, *clock.Fake, func() []string) {
	t.Helper()
	clk := clock.NewFake(time.Now())
	w := startWardAt(t, t.TempDir(), dbURL, func(e *app.Env) {
		e.Clock = clk
		e.Args = append(e.Args, "--paging-poll", "20ms")
	}, allowLoopback)
	hook := startHook(t)
	if code, _, errs := runWardIn(t, w.data, dbURL, "orange lantern over quiet harbour\n", "user", "create", "--username", "olga",
		"--name", "Olga", "--email", "olga@example.org", "--role", "responder", "--password-stdin"); code != 0 {
		t.Fatalf("user create: %s", errs)
	}
	w.must(201, "POST", "/api/v1/users/olga/contact-methods", map[string]any{"kind": "webhook", "address": hook.URL + "/olga"}, nil)
	eventually(t, "a verified webhook", func() bool { return len(hook.all()) == 1 })
	reminders := func() []string {
		var out []string
		for _, r := range hook.all() {
			var msg struct{ Kind, Incident, Status string }
			if err := json.Unmarshal(r.body, &msg); err == nil && msg.Kind == "reminder" {
				if r.path != "/olga" || strings.Contains(string(r.body), "Quillfeather") {
					t.Errorf("reminder: %s %s", r.path, r.body)
				}
				out = append(out, msg.Incident+": "+msg.Status)
			}
		}
		return out
	}
	return w, clk, reminders
}

// TestActionItemRemindersRestricted: an overdue action item of a
// restricted incident is reminded of like any other, and does not stop
// the round from reaching the next item (the check ran as a role that
// may not see restricted incidents, failed on the first one and retried
// it forever).
func TestActionItemRemindersRestricted(t *testing.T) {
	t.Parallel()
	eachDBURL(t, func(t *testing.T, dbURL string) {
		w, clk, reminders := reminderWard(t, dbURL)
		officer := w.tokenWithRole("rem-officer", "security_officer")
		var secret, open incidentJSON
		if code, raw := w.doAs(officer, "POST", "/api/v1/incidents", map[string]any{"title": "Records snooping", "restricted": true},
			&secret); code != 201 {
			t.Fatalf("restricted incident: %d %s", code, raw)
		}
		w.must(201, "POST", "/api/v1/incidents", map[string]any{"title": "Lost badge"}, &open)
		for i, inc := range []incidentJSON{secret, open} {
			if code, raw := w.doAs(officer, "POST", "/api/v1/incidents/"+inc.ID+"/action-items", map[string]any{"title": "Follow up",
				"owner": "olga", "due_at": clk.Now().Add(time.Duration(23+i) * time.Hour).Format(time.RFC3339)}, nil); code != 201 {
				t.Fatalf("action item: %d %s", code, raw)
			}
		}
		clk.Advance(25 * time.Hour)
		eventually(t, "a reminder for each incident", func() bool { return len(reminders()) == 2 })
		got := reminders()
		slices.Sort(got)
		if want := []string{secret.Number + ": action item overdue", open.Number + ": action item overdue"}; !slices.Equal(got, want) {
			t.Fatalf("reminders %v, want %v", got, want)
		}
	})
}
