package ui

import (
	"errors"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/labels"
	"github.com/wardhq/ward/internal/report"
)

// ---- the breach case as a guided workflow ----

// ecfr402 is the public text of 45 CFR 164.402 (eCFR).
const ecfr402 = "https://www.ecfr.gov/current/title-45/subtitle-A/subchapter-C/part-164/subpart-D/section-164.402"

// nextView is the case page's next action: the step to act on and what
// to do, in a sentence.
type nextView struct {
	Step breach.Step
	Text string
	// Link and LinkText lead to where it is done; Ask offers to ask the
	// Privacy Officers to sign.
	Link, LinkText string
	Ask            bool
}

// caseStep is one step of the stepper, with where it leads and how far
// its notices have got ("N of M notified").
type caseStep struct {
	breach.Step
	Href     string
	Progress string
}

// workflow fills the stepper and the next action of case page p: notices
// are the individual notice groups' progress, by obligation key; canSign
// and canAsk say whether the viewer may sign, or ask the signers.
func (p *breachPage) workflow(imported int, now time.Time, canSign, canAsk, canReport bool) {
	steps := breach.Steps(breach.CaseState{Facts: p.Case.Facts, Outcome: p.Case.Outcome, Obligations: p.Obligations,
		Imported: imported, Now: now})
	base := "/incidents/" + p.Case.IncidentNumber
	for _, s := range steps {
		v := caseStep{Step: s, Href: stepHref(base, s.Key, canReport)}
		switch s.Key {
		case breach.StepNotices:
			owed, notified := 0, 0
			for _, pr := range p.Progress {
				owed += pr.Owed
				notified += pr.Notified
			}
			if owed > 0 {
				v.Progress = notifiedOf(notified, owed, "individual", "individuals")
			}
		case breach.StepRegulators, breach.StepHHS:
			if s.Owed > 0 {
				v.Progress = notifiedOf(s.Met, s.Owed, "recipient", "recipients")
			}
		}
		p.Steps = append(p.Steps, v)
	}
	next, ok := breach.NextAction(steps)
	if !ok {
		return
	}
	n := &nextView{Step: next}
	switch next.Key {
	case breach.StepFacts:
		n.Text, n.Link, n.LinkText = "Record the facts: your role, when the breach was discovered and how many individuals are affected.", "#facts", "Go to the facts"
	case breach.StepDetermination:
		if canSign {
			n.Text = "Sign the determination: the wizard asks the questions of 45 CFR 164.402 one at a time, then you sign."
			n.Link, n.LinkText = base+"/breach/determine", "Start the determination wizard"
		} else {
			n.Text, n.Ask = "Sign the risk assessment — only the Privacy Officer can sign. Ask them.", canAsk
		}
	case breach.StepIndividuals:
		n.Text, n.Link, n.LinkText = "Import the list of affected individuals, so that their letters can be made.", base+"/breach/individuals", "Go to the affected individuals"
	case breach.StepNotices:
		n.Text, n.Link, n.LinkText = "Send the notices to individuals.", base+"/notices", "Go to the notices"
	case breach.StepRegulators:
		n.Text, n.Link, n.LinkText = "Notify the regulators and the media the obligations name, and record each notice as made.", "#obligations", "Go to the obligations"
	case breach.StepHHS:
		n.Text, n.Link, n.LinkText = "Notify HHS (the Secretary) and record the notice as made.", stepHref(base, breach.StepHHS, canReport), "Go to the HHS report"
	case breach.StepProof:
		n.Text = "Every step is done: keep the proof bundle with the case's records."
		n.Link, n.LinkText = stepHref(base, breach.StepProof, canReport), "Go to the proof"
	}
	p.Next = n
}

// stepHref is where step key of the case at base is worked.
func stepHref(base, key string, canReport bool) string {
	switch key {
	case breach.StepIndividuals:
		return base + "/breach/individuals"
	case breach.StepNotices:
		return base + "/notices"
	case breach.StepHHS:
		if canReport {
			return base + "/breach/hhs-report"
		}
		return "#obligations"
	case breach.StepRegulators:
		return "#obligations"
	case breach.StepProof:
		if canReport {
			return base + "/breach/proof-bundle"
		}
		return "#determinations"
	case breach.StepDetermination:
		return "#determinations"
	}
	return "#" + key
}

// notifiedOf says "N of M notified", M counted in one and many.
func notifiedOf(n, of int, one, many string) string {
	return strconv.Itoa(n) + " of " + labels.Count(of, one, many) + " notified"
}

// breachAsk asks the Privacy Officers to sign the case's determination.
func (u *UI) breachAsk(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	asked, err := u.Reports.AskToSign(r.Context(), ref)
	var soon report.AskedRecently
	if errors.As(err, &soon) {
		minutes := int(math.Ceil(soon.Again.Sub(u.Clock.Now()).Minutes()))
		redirect(w, r, withMsg("/incidents/"+url.PathEscape(ref)+"/breach", "breach_ask_wait")+"&minutes="+strconv.Itoa(max(minutes, 1)))
		return
	}
	if err != nil {
		u.fail(w, r, err)
		return
	}
	msg := "breach_asked"
	if asked.Messages == 0 {
		msg = "breach_asked_nobody"
	}
	redirect(w, r, withMsg("/incidents/"+url.PathEscape(ref)+"/breach", msg))
}

// wizardStep is one question of the determination wizard, in the order
// of 45 CFR 164.402.
type wizardStep struct {
	Key      string
	Title    string
	Question string
	// Cite is the paragraph of 164.402 the question asks about.
	Cite string
	// Explain says what the rule asks, in plain words.
	Explain string
	// Fields are the wizard's controls this step sets.
	Fields []string
	// Factor is the factor's index (0-3) on a factor's step, else -1.
	Factor int
}

// wizardSteps are the wizard's questions: the exceptions of 164.402(1),
// the safe harbor of secured PHI, the presumption of breach, the four
// factors of 164.402(2)(i)-(iv), the conclusion, and the summary signed.
var wizardSteps = []wizardStep{
	{Key: "exception", Title: "Exceptions", Question: "Does one of the three exceptions to the definition of breach apply?",
		Cite: "45 CFR 164.402(1)(i)-(iii)",
		Explain: "Some uses or disclosures are not a breach at all: a workforce member's unintentional, good-faith access within their authority; " +
			"an inadvertent disclosure between two people both allowed to see the PHI at the same organisation; or a recipient who could not " +
			"reasonably have kept the information. The first two count only if the PHI was not used or disclosed further.",
		Fields: []string{"exception_claim", "exception_kind", "exception_no_further_impermissible_use", "exception_rationale"}, Factor: -1},
	{Key: "secured", Title: "Secured information", Question: "Was the information secured, so that nobody could read it?",
		Cite: "45 CFR 164.402 (unsecured protected health information)",
		Explain: "Only unsecured information must be notified. Information counts as secured when it was encrypted to an HHS-recognised standard " +
			"and the key was not exposed, or when it was destroyed so it cannot be read or rebuilt.",
		Fields: []string{"secured_claim", "secured_method", "secured_standard", "secured_key_compromised", "secured_accessible_decrypted",
			"secured_rationale"}, Factor: -1},
	{Key: "presumption", Title: "Presumption of breach", Question: "Will you assess the risk, or notify without an assessment?",
		Cite: "45 CFR 164.402(2)",
		Explain: "Unless an exception or the safe harbor applies, the incident is presumed to be a breach. The presumption stands unless a " +
			"risk assessment of four factors shows a low probability that the information was compromised. You may also choose to notify without one.",
		Fields: []string{"path"}, Factor: -1},
	{Key: "factor1", Title: "Factor 1: the information", Question: factorQuestions[0], Cite: "45 CFR 164.402(2)(i)",
		Explain: "Which kinds of information were involved (names, diagnoses, Social Security numbers, account numbers), how sensitive they are, " +
			"and how easily someone could tell who the individuals are.",
		Fields: []string{"factor0_answer", "factor0_rationale"}, Factor: 0},
	{Key: "factor2", Title: "Factor 2: the recipient", Question: factorQuestions[1], Cite: "45 CFR 164.402(2)(ii)",
		Explain: "Who used the information or received it: another organisation bound by HIPAA, a person you know and can reach, or someone " +
			"unknown who may misuse it.",
		Fields: []string{"factor1_answer", "factor1_rationale"}, Factor: 1},
	{Key: "factor3", Title: "Factor 3: acquired or viewed", Question: factorQuestions[2], Cite: "45 CFR 164.402(2)(iii)",
		Explain: "Whether anyone actually took or looked at the information, or only had the chance to: a forensic report or access logs can show it.",
		Fields:  []string{"factor2_answer", "factor2_rationale"}, Factor: 2},
	{Key: "factor4", Title: "Factor 4: mitigation", Question: factorQuestions[3], Cite: "45 CFR 164.402(2)(iv)",
		Explain: "What was done to reduce the risk: the information returned or destroyed with a written assurance, a device wiped remotely, " +
			"access cut off.",
		Fields: []string{"factor3_answer", "factor3_rationale"}, Factor: 3},
	{Key: "conclusion", Title: "Conclusion", Question: "Taking the four factors together, what does the assessment show?",
		Cite: "45 CFR 164.402(2)",
		Explain: "You choose the outcome and justify it in writing: nothing adds up the factors for you. A low probability of compromise must be " +
			"demonstrated, with every factor's rationale written; otherwise notification is required.",
		Fields: []string{"assessment_outcome", "assessment_rationale", "ransomware", "assessment_ransomware_variant",
			"assessment_ransomware_exfiltration", "assessment_ransomware_spread"}, Factor: -1},
	{Key: "sign", Title: "Summary and signature", Question: "Check your answers, then sign.", Cite: "45 CFR 164.402; 164.530(j)",
		Explain: "A signed determination can no longer be changed; a new version needs the reason for it. The signed record is kept six years " +
			"(164.530(j)).",
		Fields: []string{"reason"}, Factor: -1},
}

// wizardIndex is the index of step key in wizardSteps, 0 when unknown.
func wizardIndex(key string) int {
	return max(slices.IndexFunc(wizardSteps, func(s wizardStep) bool { return s.Key == key }), 0)
}

// skipped says whether step i is left out for the answers form: the
// factors and conclusion when the officer notifies without assessment.
func skipped(i int, form map[string]string) bool {
	s := wizardSteps[i]
	return form["path"] == "notify" && (s.Factor >= 0 || s.Key == "conclusion")
}

// wizardMove is the step after (by 1) or before (by -1) step i.
func wizardMove(i, by int, form map[string]string) int {
	for j := i + by; j >= 0 && j < len(wizardSteps); j += by {
		if !skipped(j, form) {
			return j
		}
	}
	return i
}

// wizardPage is the determination wizard's page.
type wizardPage struct {
	// FromPlaybooks are the answers recorded on the incident's playbooks
	// that feed the determination's questions.
	FromPlaybooks []playbookFact
	Case          breach.Case
	Step          wizardStep
	Index         int // 1-based
	Count         int
	Steps         []wizardStep
	Form          map[string]string
	Errors        map[string]string
	Source        string
	// Summary is the answers, step by step, on the last step; Outcome
	// what signing them now would decide, or Incomplete.
	Summary    []summaryRow
	Outcome    *rules.Result
	Incomplete bool
	Signed     bool // a determination was signed before: a reason is needed
	Hacking    bool
	Exceptions []choice
	Methods    []choice
	Standards  []choice
	Outcomes   []choice
}

// summaryRow is one answer on the summary.
type summaryRow struct {
	Step, Label, Value string
}

func (u *UI) wizardData(r *http.Request, ref string, form map[string]string, step int, errs map[string]string) (wizardPage, error) {
	c, err := u.Breach.Get(r.Context(), ref)
	if err != nil {
		return wizardPage{}, err
	}
	dets, err := u.Breach.Determinations(r.Context(), ref)
	if err != nil {
		return wizardPage{}, err
	}
	inc, err := u.Incidents.Meta(r.Context(), ref)
	if err != nil {
		return wizardPage{}, err
	}
	p := wizardPage{Case: c, Step: wizardSteps[step], Index: step + 1, Count: len(wizardSteps), Steps: wizardSteps, Form: form,
		Errors: errs, Source: ecfr402, Signed: len(dets) > 0, Hacking: inc.Category == "hacking_it_incident",
		Exceptions: exceptionChoices, Methods: methodChoices, Outcomes: assessmentChoices}
	p.Standards = standardChoices()
	if k := wizardSteps[step].Key; k == "secured" || k == "exception" || k == "probability" {
		if p.FromPlaybooks, err = u.playbookFacts(r, c.IncidentID); err != nil {
			return wizardPage{}, err
		}
	}
	if wizardSteps[step].Key == "sign" {
		p.Summary = summarize(form)
		d := readDetermination(form)
		d.Signature = rules.Signature{Officer: "preview", SignedAt: u.Clock.Now()}
		if res, err := rules.Decide(d); err == nil {
			p.Outcome = &res
		} else {
			p.Incomplete = true
		}
	}
	return p, nil
}

// summarize lists the answers of form in the order of the questions.
func summarize(form map[string]string) []summaryRow {
	var out []summaryRow
	add := func(step, label, value string) {
		if value == "" {
			value = "not answered"
		}
		out = append(out, summaryRow{Step: step, Label: label, Value: value})
	}
	kind := choiceLabel(exceptionChoices, form["exception_kind"])
	if form["exception_claim"] != "on" {
		kind = "None applies"
	}
	add("exception", "Exception", kind)
	if form["exception_claim"] == "on" {
		add("exception", "Why the exception applies", form["exception_rationale"])
	}
	if form["secured_claim"] == "on" {
		add("secured", "Secured", choiceLabel(methodChoices, form["secured_method"])+": "+choiceLabel(standardChoices(), form["secured_standard"]))
		add("secured", "Evidence that it was secured", form["secured_rationale"])
	} else {
		add("secured", "Secured", "No safe harbor claimed")
	}
	switch form["path"] {
	case "notify":
		add("presumption", "Risk assessment", "Notify without an assessment")
		return out
	case "assess":
		add("presumption", "Risk assessment", "Assess the four factors")
	default:
		add("presumption", "Risk assessment", "")
	}
	for i := range factorQuestions {
		key := wizardSteps[3+i].Key
		add(key, "Factor "+strconv.Itoa(i+1)+": answer", form["factor"+strconv.Itoa(i)+"_answer"])
		add(key, "Factor "+strconv.Itoa(i+1)+": written rationale", form["factor"+strconv.Itoa(i)+"_rationale"])
	}
	add("conclusion", "Outcome of the assessment", choiceLabel(assessmentChoices, form["assessment_outcome"]))
	add("conclusion", "Overall rationale", form["assessment_rationale"])
	return out
}

// choiceLabel is the label of value among cs, or "" when none.
func choiceLabel(cs []choice, value string) string {
	for _, c := range cs {
		if c.Value == value {
			return c.Label
		}
	}
	return ""
}

func (u *UI) wizardShow(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	form, err := u.Breach.Draft(r.Context(), ref)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.renderWizard(w, r, http.StatusOK, ref, form, wizardIndex(r.URL.Query().Get("step")), nil)
}

func (u *UI) renderWizard(w http.ResponseWriter, r *http.Request, status int, ref string, form map[string]string, step int, errs map[string]string) {
	p, err := u.wizardData(r, ref, form, step, errs)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	u.render(w, r, status, "breach_determine", p.Step.Title+" — determination of "+p.Case.IncidentNumber, "breach", p)
}

// wizardSave keeps the step's answers as the officer's draft, then goes
// back or on (Post/Redirect/Get); going on is refused, with the errors
// beside their fields, while the step's answers are incomplete by the
// same rules that signing applies (rules.Validate).
func (u *UI) wizardSave(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	step := wizardIndex(r.PostFormValue("step"))
	s := wizardSteps[step]
	answers := formValues(r, s.Fields...)
	switch s.Key {
	case "exception":
		answers["exception_claim"] = onIf(answers["exception_kind"] != "")
	case "secured":
		answers["secured_claim"] = onIf(r.PostFormValue("secured_claim") == "on")
	}
	form, err := u.Breach.SaveDraft(r.Context(), ref, answers)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	to := wizardMove(step, 1, form)
	if r.PostFormValue("go") == "back" {
		to = wizardMove(step, -1, form)
	} else if errs := stepErrors(form, s, u.Clock.Now()); len(errs) > 0 {
		u.renderWizard(w, r, http.StatusUnprocessableEntity, ref, form, step, errs)
		return
	}
	redirect(w, r, wizardURL(ref, wizardSteps[to].Key))
}

// wizardSign signs the drafted determination (Service.Determine, which
// validates, audits and deletes the draft); an incomplete one shows the
// first question with an error, the errors beside their fields.
func (u *UI) wizardSign(w http.ResponseWriter, r *http.Request) {
	ref := r.PathValue("id")
	form, err := u.Breach.SaveDraft(r.Context(), ref, map[string]string{"reason": r.PostFormValue("reason")})
	if err != nil {
		u.fail(w, r, err)
		return
	}
	if _, err := u.Breach.Determine(r.Context(), ref, readDetermination(form), form["reason"]); err != nil {
		errs, ok := controlErrors(err)
		if !ok {
			u.fail(w, r, err)
			return
		}
		step := len(wizardSteps) - 1
		for i, s := range wizardSteps {
			if !skipped(i, form) && slices.ContainsFunc(s.Fields, func(f string) bool { return errs[f] != "" }) {
				step = i
				break
			}
		}
		u.renderWizard(w, r, http.StatusUnprocessableEntity, ref, form, step, errs)
		return
	}
	c, err := u.Breach.Get(r.Context(), ref)
	if err != nil {
		u.fail(w, r, err)
		return
	}
	redirect(w, r, withMsg("/incidents/"+c.IncidentNumber+"/breach", "breach_signed"))
}

// stepErrors are the errors rules.Validate finds in the answers of form
// that step s asks for.
func stepErrors(form map[string]string, s wizardStep, now time.Time) map[string]string {
	d := readDetermination(form)
	d.Signature = rules.Signature{Officer: "draft", SignedAt: now}
	all, ok := controlErrors(rules.Validate(d))
	if !ok {
		return nil
	}
	out := map[string]string{}
	for _, f := range s.Fields {
		if e := all[f]; e != "" {
			out[f] = e
		}
	}
	return out
}

func wizardURL(ref, step string) string {
	return "/incidents/" + url.PathEscape(ref) + "/breach/determine?step=" + url.QueryEscape(step)
}

func onIf(b bool) string {
	if b {
		return "on"
	}
	return ""
}

// standardChoices are the HHS guidance's ways of securing PHI, as choices.
func standardChoices() []choice {
	var out []choice
	for _, s := range rules.Standards() {
		out = append(out, choice{s.ID, string(s.Method) + ": " + s.Scope})
	}
	return out
}
