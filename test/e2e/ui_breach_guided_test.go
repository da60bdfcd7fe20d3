package e2e

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/wardhq/ward/internal/authz"
)

// TestUIBreachGuidedWorkflow: on both databases, in headless Chromium, a
// Privacy Officer records the facts of a new breach case and signs its
// determination through the wizard, one question at a time in the order
// of 45 CFR 164.402: the stepper advances (facts, then the
// determination, done) and the next action changes with it; a question
// left unanswered shows its error beside its field; Back keeps the
// answers, which are drafts kept by the server between steps (each step
// a Post/Redirect/Get); the summary shows what signing decides.
func TestUIBreachGuidedWorkflow(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Stolen laptop", "category": "theft"}, &inc)
		ctx, b := browserAs(t, w, authz.RolePrivacyOfficer, "guided-privacy")
		casePath := "/incidents/" + inc.Number + "/breach"
		if code, _ := b.send("POST", casePath+"/open", nil); code != http.StatusSeeOther {
			t.Fatalf("open: %d", code)
		}
		var next, factsStep, detStep string
		state := func(what string) {
			t.Helper()
			run(t, ctx, what, chromedp.WaitVisible("#next-action", chromedp.ByQuery),
				chromedp.Text("#next-action .next-text", &next, chromedp.ByQuery),
				chromedp.Text("#step-facts .step-state", &factsStep, chromedp.ByQuery),
				chromedp.Text("#step-determination .step-state", &detStep, chromedp.ByQuery))
		}
		run(t, ctx, "open the case", chromedp.Navigate(w.url+casePath))
		state("read the stepper of a new case")
		if !strings.Contains(next, "Record the facts") || !strings.HasPrefix(factsStep, "To do") || !strings.HasPrefix(detStep, "To do") {
			t.Fatalf("a new case: next action %q, facts %q, determination %q", next, factsStep, detStep)
		}

		run(t, ctx, "record the facts", chromedp.SetValue("#role", "covered_entity", chromedp.ByQuery),
			chromedp.SetValue("#individuals", "1200", chromedp.ByQuery), chromedp.SetValue("#by_state", "CA=700, OR=500", chromedp.ByQuery),
			chromedp.Click(`#facts button[type=submit]`, chromedp.ByQuery), chromedp.WaitVisible(".flash", chromedp.ByQuery))
		state("read the stepper after the facts")
		if !strings.HasPrefix(factsStep, "✔ Done") || !strings.Contains(next, "Sign the determination") {
			t.Fatalf("after the facts: next action %q, facts %q", next, factsStep)
		}
		var signers string
		run(t, ctx, "who may sign", chromedp.Text("#signers", &signers, chromedp.ByQuery))
		if !strings.Contains(signers, "guided-privacy") {
			t.Errorf("who may sign: %q, want the Privacy Officer named", signers)
		}

		run(t, ctx, "start the wizard", chromedp.Click(`#next-action a.button`, chromedp.ByQuery),
			chromedp.WaitVisible(`#exception-none`, chromedp.ByQuery))
		question := func(what, want, cite string) {
			t.Helper()
			var q, c, loc string
			var fields int
			run(t, ctx, what, chromedp.Text("#question-h", &q, chromedp.ByQuery), chromedp.Text("#question .citation", &c, chromedp.ByQuery),
				chromedp.Location(&loc), chromedp.Evaluate(`document.querySelectorAll("#question textarea[name$=_answer]").length`, &fields))
			if !strings.Contains(q, want) || !strings.Contains(c, cite) || !strings.Contains(c, "eCFR") {
				t.Fatalf("%s: question %q cited %q, want %q cited %s", what, q, c, want, cite)
			}
			if fields > 1 {
				t.Errorf("%s: %d answers asked at once, want one question at a time", what, fields)
			}
			if !strings.Contains(loc, "/breach/determine") {
				t.Errorf("%s: at %s, want the wizard's page (Post/Redirect/Get)", what, loc)
			}
		}
		question("the exceptions", "exceptions", "164.402(1)")
		run(t, ctx, "no exception", chromedp.Click("#next", chromedp.ByQuery), chromedp.WaitVisible("#secured_claim", chromedp.ByQuery))
		question("the safe harbor", "secured", "164.402")
		run(t, ctx, "not secured", chromedp.Click("#next", chromedp.ByQuery), chromedp.WaitVisible("#path-assess", chromedp.ByQuery))
		question("the presumption", "assess the risk", "164.402(2)")
		run(t, ctx, "go on without choosing", chromedp.Click("#next", chromedp.ByQuery), chromedp.WaitVisible("#path-error", chromedp.ByQuery))
		run(t, ctx, "assess", chromedp.Click("#path-assess", chromedp.ByQuery), chromedp.Click("#next", chromedp.ByQuery),
			chromedp.WaitVisible("#factor0_answer", chromedp.ByQuery))
		question("factor (i)", "nature and extent", "164.402(2)(i)")

		// Unanswered: the error stands beside its field, not at the top.
		run(t, ctx, "go on without an answer", chromedp.Click("#next", chromedp.ByQuery), chromedp.WaitVisible("#factor0_answer-error", chromedp.ByQuery))
		var beside bool
		run(t, ctx, "where the error is", chromedp.Evaluate(`(() => { const f = document.querySelector("#factor0_answer");
			return f.getAttribute("aria-invalid") === "true" && f.nextElementSibling.id === "factor0_answer-error" &&
				f.getAttribute("aria-describedby") === "factor0_answer-error"; })()`, &beside))
		if !beside {
			t.Error("the unanswered factor's error is not beside its field")
		}
		answer := func(i, text string) chromedp.Tasks {
			return chromedp.Tasks{chromedp.SendKeys("#factor"+i+"_answer", text+" found", chromedp.ByQuery),
				chromedp.SendKeys("#factor"+i+"_rationale", text+" reasoned", chromedp.ByQuery)}
		}
		run(t, ctx, "answer factor (i)", answer("0", "names and diagnoses"), chromedp.Click("#next", chromedp.ByQuery),
			chromedp.WaitVisible("#factor1_answer", chromedp.ByQuery))
		question("factor (ii)", "unauthorised person", "164.402(2)(ii)")
		var kept string
		run(t, ctx, "back to factor (i)", chromedp.Click(`button[value=back]`, chromedp.ByQuery), chromedp.WaitVisible("#factor0_answer", chromedp.ByQuery),
			chromedp.Value("#factor0_answer", &kept, chromedp.ByQuery))
		if kept != "names and diagnoses found" {
			t.Fatalf("Back lost the answer: %q", kept)
		}
		run(t, ctx, "on to factor (ii)", chromedp.Click("#next", chromedp.ByQuery), chromedp.WaitVisible("#factor1_answer", chromedp.ByQuery),
			answer("1", "a thief"), chromedp.Click("#next", chromedp.ByQuery), chromedp.WaitVisible("#factor2_answer", chromedp.ByQuery))
		question("factor (iii)", "acquired or viewed", "164.402(2)(iii)")
		run(t, ctx, "factor (iii)", answer("2", "unknown"), chromedp.Click("#next", chromedp.ByQuery), chromedp.WaitVisible("#factor3_answer", chromedp.ByQuery))
		question("factor (iv)", "mitigated", "164.402(2)(iv)")
		run(t, ctx, "factor (iv)", answer("3", "not recovered"), chromedp.Click("#next", chromedp.ByQuery),
			chromedp.WaitVisible("#assessment_outcome", chromedp.ByQuery))
		question("the conclusion", "what does the assessment show", "164.402(2)")
		run(t, ctx, "conclude", chromedp.SetValue("#assessment_outcome", "notification_required", chromedp.ByQuery),
			chromedp.SendKeys("#assessment_rationale", "the laptop was not encrypted", chromedp.ByQuery),
			chromedp.Click("#next", chromedp.ByQuery), chromedp.WaitVisible("#sign", chromedp.ByQuery))
		var summary string
		run(t, ctx, "read the summary", chromedp.Text("#question", &summary, chromedp.ByQuery))
		for _, want := range []string{"names and diagnoses found", "a thief reasoned", "not recovered found", "the laptop was not encrypted",
			"Signing these answers decides: Breach: notification required"} {
			if !strings.Contains(summary, want) {
				t.Errorf("the summary lacks %q: %.2000s", want, summary)
			}
		}
		run(t, ctx, "sign", chromedp.Click("#sign", chromedp.ByQuery), chromedp.WaitVisible("#determination-1", chromedp.ByQuery))
		state("read the stepper after signing")
		if !strings.HasPrefix(detStep, "✔ Done") || strings.Contains(next, "Sign") || !strings.Contains(next, "Import the list of affected individuals") {
			t.Errorf("after signing: next action %q, determination %q", next, detStep)
		}
		var dets []struct {
			Version int `json:"version"`
		}
		w.must(http.StatusOK, "GET", "/api/v1/incidents/"+inc.ID+"/breach-case/determinations", nil, &dets)
		if len(dets) != 1 {
			t.Errorf("%d determinations signed, want 1", len(dets))
		}
		// Signed, the draft is gone: the wizard starts afresh.
		_, page := b.send("GET", casePath+"/determine?step=factor1", nil)
		if strings.Contains(page, "names and diagnoses found") {
			t.Error("the draft outlived the signature")
		}
	})
}

// TestUIBreachAskSigner: a responder, who may not sign, sees on the case
// page that only the Privacy Officer can, who that is, and a button that
// asks them; asking writes it on the incident's timeline, and says so
// when no Privacy Officer can be reached. Pressed again within 15 minutes
// it asks nobody and says when it may be pressed again.
func TestUIBreachAskSigner(t *testing.T) {
	t.Parallel()
	eachDB(t, func(t *testing.T, w *ward) {
		var inc incidentJSON
		w.must(http.StatusCreated, "POST", "/api/v1/incidents", map[string]any{"title": "Misdirected fax", "category": "unauthorized_access_disclosure"}, &inc)
		w.must(http.StatusCreated, "POST", "/api/v1/incidents/"+inc.ID+"/breach-case", nil, nil)
		signInAs(t, w, authz.RolePrivacyOfficer, "ask-privacy")
		ctx, _ := browserAs(t, w, authz.RoleResponder, "ask-responder")
		casePath := "/incidents/" + inc.Number + "/breach"
		var next, signers string
		run(t, ctx, "open the case", chromedp.Navigate(w.url+casePath), chromedp.WaitVisible("#next-action", chromedp.ByQuery))
		// The facts are not recorded yet: the next action is theirs.
		w.must(http.StatusOK, "PATCH", "/api/v1/incidents/"+inc.ID+"/breach-case/facts", map[string]any{"role": "covered_entity",
			"individuals": 3}, nil)
		run(t, ctx, "reload", chromedp.Reload(), chromedp.WaitVisible("#ask-signer", chromedp.ByQuery),
			chromedp.Text("#next-action .next-text", &next, chromedp.ByQuery), chromedp.Text("#signers", &signers, chromedp.ByQuery))
		if !strings.Contains(next, "only the Privacy Officer can sign") || !strings.Contains(signers, "ask-privacy") {
			t.Fatalf("the responder's next action %q, signers %q", next, signers)
		}
		var flash string
		run(t, ctx, "ask", chromedp.Click("#ask-signer", chromedp.ByQuery), chromedp.WaitVisible(".flash", chromedp.ByQuery),
			chromedp.Text(".flash", &flash, chromedp.ByQuery))
		if !strings.Contains(flash, "nobody was reached") {
			t.Errorf("asking an officer without a contact method: %q", flash)
		}
		// Pressed again at once: refused, saying when it may be, nothing sent.
		run(t, ctx, "ask again", chromedp.Navigate(w.url+casePath), chromedp.WaitVisible("#ask-signer", chromedp.ByQuery),
			chromedp.Click("#ask-signer", chromedp.ByQuery), chromedp.WaitVisible(".flash", chromedp.ByQuery),
			chromedp.Text(".flash", &flash, chromedp.ByQuery))
		if !strings.Contains(flash, "were not asked again") || !strings.Contains(flash, "ask again in 15 min") {
			t.Errorf("asking again at once: %q", flash)
		}
		var timeline string
		run(t, ctx, "the timeline", chromedp.Navigate(w.url+"/incidents/"+inc.Number), chromedp.WaitVisible("h1", chromedp.ByQuery),
			chromedp.Text("body", &timeline, chromedp.ByQuery))
		if n := strings.Count(timeline, "ask-responder asked the Privacy Officers to sign the breach determination"); n != 1 {
			t.Errorf("%d requests on the timeline, want 1: %.3000s", n, timeline)
		}
	})
}
