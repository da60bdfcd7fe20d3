package rules

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
)

// Outcome is the result of the breach determination of 45 CFR 164.402.
type Outcome string

// The outcomes of a determination.
const (
	// NotBreachSecured: the PHI was secured per HHS guidance (encrypted
	// with an uncompromised key, or destroyed), so there is no breach of
	// unsecured PHI to notify (164.402, definition of "unsecured PHI";
	// HHS guidance under 164.402 and HITECH 13402(h)).
	NotBreachSecured Outcome = "not_breach_secured"
	// NotBreachException: one of the three exclusions of 164.402(1) holds.
	NotBreachException Outcome = "not_breach_exception"
	// NotificationRequired: a breach, presumed (164.402(2)) or assessed.
	NotificationRequired Outcome = "notification_required"
	// LowProbability: a documented four-factor risk assessment shows a
	// low probability that the PHI has been compromised (164.402(2)).
	LowProbability Outcome = "low_probability_of_compromise"
)

// Determination is the documented, signed decision whether an incident is a
// breach of unsecured PHI, taken in the order 164.402 sets: secured PHI,
// then the exceptions, then the presumption of breach unless a risk
// assessment shows a low probability of compromise. It is a reasoned
// judgement, never a score: each step carries its own written rationale.
type Determination struct {
	// Secured is the safe-harbor claim, when one is made.
	Secured *Secured `json:"secured,omitempty"`
	// Exception is the 164.402(1) exception claimed, when one is.
	Exception *Exception `json:"exception,omitempty"`
	// NotifyWithoutAssessment records the choice to skip the risk
	// assessment and notify; 164.402(2) only requires the assessment to
	// rebut the presumption of breach.
	NotifyWithoutAssessment bool `json:"notify_without_assessment,omitempty"`
	// Assessment is the four-factor risk assessment of 164.402(2).
	Assessment *Assessment `json:"assessment,omitempty"`
	// Signature is the officer's signature; REGULATIONS.md section 2 has
	// the Privacy Officer sign the outcome.
	Signature Signature `json:"signature"`
}

// Signature identifies the officer who signed a determination, and when.
type Signature struct {
	Officer  string    `json:"officer"`
	SignedAt time.Time `json:"signed_at"`
}

// SecureMethod is how PHI was secured per the HHS guidance on rendering PHI
// unusable, unreadable or indecipherable (164.402, "unsecured PHI").
type SecureMethod string

// The two methods the HHS guidance recognises.
const (
	Encrypted SecureMethod = "encryption"
	Destroyed SecureMethod = "destruction"
)

// Standard is one way of securing PHI that the HHS guidance names.
type Standard struct {
	ID     string       `json:"id"`
	Method SecureMethod `json:"method"`
	Scope  string       `json:"scope"`
}

// Standards lists the ways of securing PHI that the HHS guidance under
// 164.402 accepts (REGULATIONS.md section 2). Redaction is not one of them.
func Standards() []Standard {
	return []Standard{
		{ID: "nist_sp_800_111", Method: Encrypted, Scope: "data at rest (NIST SP 800-111)"},
		{ID: "nist_sp_800_52", Method: Encrypted, Scope: "data in motion, TLS (NIST SP 800-52)"},
		{ID: "nist_sp_800_77", Method: Encrypted, Scope: "data in motion, IPsec VPN (NIST SP 800-77)"},
		{ID: "nist_sp_800_113", Method: Encrypted, Scope: "data in motion, SSL VPN (NIST SP 800-113)"},
		{ID: "fips_140_validated", Method: Encrypted, Scope: "data in motion, FIPS 140-validated module"},
		{ID: "paper_destroyed", Method: Destroyed, Scope: "paper, film or other hard copy shredded or destroyed so it cannot be read or reconstructed"},
		{ID: "nist_sp_800_88", Method: Destroyed, Scope: "electronic media cleared, purged or destroyed per NIST SP 800-88"},
	}
}

// Secured is a claim that the PHI involved was secured (the safe harbor of
// 164.402). Encryption protects only while the key is not compromised and
// the data was not reachable decrypted, e.g. on a powered-on, logged-in
// device.
type Secured struct {
	Method SecureMethod `json:"method"`
	// Standard is the ID of one of Standards, of the same Method.
	Standard string `json:"standard"`
	// KeyCompromised: the decryption key or process was also exposed.
	KeyCompromised bool `json:"key_compromised,omitempty"`
	// AccessibleDecrypted: the data was reachable in decrypted form, e.g.
	// a device lost while powered on and logged in.
	AccessibleDecrypted bool   `json:"accessible_decrypted,omitempty"`
	Rationale           string `json:"rationale"`
}

// holds reports whether the safe harbor applies and, if not, why.
func (s Secured) holds() (bool, string) {
	std := Standards()
	i := slices.IndexFunc(std, func(st Standard) bool { return st.ID == s.Standard })
	switch {
	case i < 0 || std[i].Method != s.Method:
		return false, fmt.Sprintf("%q is not a %s standard in the HHS guidance", s.Standard, s.Method)
	case s.Method == Encrypted && s.KeyCompromised:
		return false, "the key was compromised, so the encrypted PHI is unsecured"
	case s.Method == Encrypted && s.AccessibleDecrypted:
		return false, "the PHI was reachable decrypted, so encryption did not protect it"
	}
	return true, ""
}

// ExceptionKind names one of the exclusions of 164.402(1).
type ExceptionKind string

// The three exclusions from the definition of breach.
const (
	// ExceptionGoodFaithWorkforce: unintentional acquisition, access or use
	// in good faith by a workforce member or person acting under the
	// authority of the entity or BA, within scope of authority, with no
	// further impermissible use or disclosure. 164.402(1)(i).
	ExceptionGoodFaithWorkforce ExceptionKind = "164.402(1)(i)"
	// ExceptionInadvertentInternal: inadvertent disclosure between persons
	// authorized to access PHI at the same entity, BA or organized health
	// care arrangement, with no further impermissible use or disclosure.
	// 164.402(1)(ii).
	ExceptionInadvertentInternal ExceptionKind = "164.402(1)(ii)"
	// ExceptionCouldNotRetain: a good-faith belief that the unauthorized
	// recipient could not reasonably have retained the PHI. 164.402(1)(iii).
	ExceptionCouldNotRetain ExceptionKind = "164.402(1)(iii)"
)

// Exception is a claim that an exclusion of 164.402(1) applies.
type Exception struct {
	Kind ExceptionKind `json:"kind"`
	// NoFurtherImpermissibleUse must be true for (i) and (ii), which
	// exclude only cases with no further impermissible use or disclosure.
	NoFurtherImpermissibleUse bool   `json:"no_further_impermissible_use,omitempty"`
	Rationale                 string `json:"rationale"`
}

// Factor is one of the four factors a risk assessment must consider at
// least (164.402(2)(i)-(iv)).
type Factor string

// The four factors of 164.402(2).
const (
	FactorNatureExtent Factor = "164.402(2)(i)"   // nature and extent of the PHI: identifiers, likelihood of re-identification
	FactorRecipient    Factor = "164.402(2)(ii)"  // the unauthorized person who used the PHI or to whom it was disclosed
	FactorAcquired     Factor = "164.402(2)(iii)" // whether the PHI was actually acquired or viewed
	FactorMitigation   Factor = "164.402(2)(iv)"  // the extent to which the risk to the PHI has been mitigated
)

// Named is the factor as a person reads it in an error: its number and
// what it weighs, then its paragraph of 45 CFR 164.402(2).
func (f Factor) Named() string {
	what := map[Factor]string{
		FactorNatureExtent: "factor 1, the nature and extent of the PHI involved",
		FactorRecipient:    "factor 2, who used the PHI or received it",
		FactorAcquired:     "factor 3, whether the PHI was actually acquired or viewed",
		FactorMitigation:   "factor 4, how far the risk has been mitigated",
	}[f]
	if what == "" {
		return "factor " + string(f)
	}
	return what + " (" + string(f) + ")"
}

// Factors lists the four factors in the order of 164.402(2).
func Factors() []Factor {
	return []Factor{FactorNatureExtent, FactorRecipient, FactorAcquired, FactorMitigation}
}

// Finding is the answer to one factor and the reasoning behind it.
type Finding struct {
	Factor    Factor `json:"factor"`
	Answer    string `json:"answer"`
	Rationale string `json:"rationale"`
}

// Assessment is the four-factor risk assessment of 164.402(2). Its outcome
// is chosen by the officer and justified in writing; nothing averages the
// findings.
type Assessment struct {
	Findings  []Finding `json:"findings"`
	Outcome   Outcome   `json:"outcome"`
	Rationale string    `json:"rationale"`
	// Ransomware, when malware encrypted the PHI, records the evidence
	// the HHS ransomware fact sheet asks for.
	Ransomware *Ransomware `json:"ransomware,omitempty"`
}

// Ransomware is the evidence about a ransomware attack that the HHS Fact
// Sheet: Ransomware and HIPAA (July 2016) weighs in the risk assessment.
// Encryption of ePHI by ransomware is an acquisition, hence a breach
// presumed under 164.402(2), unless the assessment demonstrates a low
// probability of compromise; that needs evidence on each of these (or the
// PHI was already encrypted to the HHS standard: the safe harbor).
type Ransomware struct {
	// Variant: which ransomware, and what it is known to do beyond
	// encrypting (does it exfiltrate? call home?).
	Variant string `json:"variant"`
	// Exfiltration: the evidence whether PHI left the systems (egress
	// logs, the variant's behaviour, forensic findings).
	Exfiltration string `json:"exfiltration"`
	// Spread: whether the malware propagated to other systems, and which.
	Spread string `json:"spread"`
}

// Result is the outcome a determination leads to, with the rule that
// decided it.
type Result struct {
	Outcome  Outcome `json:"outcome"`
	Citation string  `json:"citation"`
	Why      string  `json:"why"`
}

// NotificationRequired reports whether the result obliges notices.
func (r Result) NotificationRequired() bool { return r.Outcome == NotificationRequired }

// Decide validates d (see Validate) and walks the order of 164.402: a safe
// harbor that holds ends it (not a breach); then an exception that holds
// (not a breach); then notification without assessment, or the
// assessment's outcome. A safe-harbor or exception claim that does not hold
// falls through to the next step, and Why says why it did not hold.
func Decide(d Determination) (Result, error) {
	if err := Validate(d); err != nil {
		return Result{}, err
	}
	var notes []string
	if d.Secured != nil {
		ok, why := d.Secured.holds()
		if ok {
			return Result{Outcome: NotBreachSecured, Citation: "45 CFR 164.402 (unsecured PHI); HHS guidance",
				Why: "the PHI was secured (" + d.Secured.Standard + "): " + d.Secured.Rationale}, nil
		}
		notes = append(notes, "safe harbor does not apply: "+why)
	}
	if e := d.Exception; e != nil {
		if e.Kind == ExceptionCouldNotRetain || e.NoFurtherImpermissibleUse {
			return Result{Outcome: NotBreachException, Citation: "45 CFR " + string(e.Kind),
				Why: "exception " + string(e.Kind) + " applies: " + e.Rationale}, nil
		}
		notes = append(notes, "exception "+string(e.Kind)+" does not apply: it requires no further impermissible use or disclosure")
	}
	prefix := strings.Join(append(notes, ""), "; ")
	if d.NotifyWithoutAssessment {
		return Result{Outcome: NotificationRequired, Citation: "45 CFR 164.402(2)",
			Why: prefix + "breach presumed; the entity chose to notify without a risk assessment"}, nil
	}
	a := d.Assessment
	if a.Ransomware != nil {
		prefix += "ransomware encrypted the PHI, an acquisition presumed a breach (HHS ransomware fact sheet, 2016); "
	}
	if a.Outcome == LowProbability {
		return Result{Outcome: LowProbability, Citation: "45 CFR 164.402(2)",
			Why: prefix + "the four-factor risk assessment shows a low probability of compromise: " + a.Rationale}, nil
	}
	return Result{Outcome: NotificationRequired, Citation: "45 CFR 164.402(2)",
		Why: prefix + "the four-factor risk assessment does not show a low probability of compromise: " + a.Rationale}, nil
}

// Validate reports every way d is incomplete, as one apperr Invalid error
// naming each field: a signature (officer and time); a rationale for any
// safe-harbor or exception claim; and, unless a claim that holds ends the
// determination, either NotifyWithoutAssessment or a complete assessment —
// each of the four factors of 164.402(2) answered once with its rationale,
// an outcome, and an overall rationale. A low probability of compromise is
// refused unless every factor has its rationale (164.402(2): the
// presumption of breach stands unless the assessment demonstrates it).
func Validate(d Determination) error {
	var fs []apperr.FieldError
	add := func(field, format string, args ...any) {
		fs = append(fs, apperr.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if strings.TrimSpace(d.Signature.Officer) == "" {
		add("signature.officer", "the signing officer is required")
	}
	if d.Signature.SignedAt.IsZero() {
		add("signature.signed_at", "the time of signature is required")
	}
	settled := false
	if s := d.Secured; s != nil {
		if s.Method != Encrypted && s.Method != Destroyed {
			add("secured.method", "must be %q or %q, got %q", Encrypted, Destroyed, s.Method)
		}
		if strings.TrimSpace(s.Rationale) == "" {
			add("secured.rationale", "a safe-harbor claim needs its evidence written down")
		}
		ok, _ := s.holds()
		settled = ok
	}
	if e := d.Exception; e != nil {
		switch e.Kind {
		case ExceptionGoodFaithWorkforce, ExceptionInadvertentInternal, ExceptionCouldNotRetain:
		default:
			add("exception.kind", "must be one of 164.402(1)(i), (ii) or (iii), got %q", e.Kind)
		}
		if strings.TrimSpace(e.Rationale) == "" {
			add("exception.rationale", "an exception claim needs its rationale written down")
		}
		settled = settled || e.Kind == ExceptionCouldNotRetain || (e.NoFurtherImpermissibleUse &&
			(e.Kind == ExceptionGoodFaithWorkforce || e.Kind == ExceptionInadvertentInternal))
	}
	switch {
	case d.NotifyWithoutAssessment && d.Assessment != nil:
		add("assessment", "must be absent when notifying without assessment")
	case settled, d.NotifyWithoutAssessment:
	case d.Assessment == nil:
		add("assessment", "a four-factor risk assessment is required unless the entity notifies without one (164.402(2))")
	default:
		fs = append(fs, validateAssessment(*d.Assessment)...)
	}
	if len(fs) == 0 {
		return nil
	}
	return &apperr.Error{Code: apperr.Invalid, Message: "the breach determination is incomplete", Fields: fs}
}

func validateAssessment(a Assessment) []apperr.FieldError {
	var fs []apperr.FieldError
	add := func(field, format string, args ...any) {
		fs = append(fs, apperr.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	if a.Outcome != NotificationRequired && a.Outcome != LowProbability {
		add("assessment.outcome", "must be %q or %q, got %q", NotificationRequired, LowProbability, a.Outcome)
	}
	for i, f := range a.Findings {
		if !slices.Contains(Factors(), f.Factor) {
			add(fmt.Sprintf("assessment.findings[%d].factor", i), "%q is not a factor of 164.402(2)", f.Factor)
		}
	}
	for _, factor := range Factors() {
		var found []Finding
		for _, f := range a.Findings {
			if f.Factor == factor {
				found = append(found, f)
			}
		}
		field := "assessment.findings[" + string(factor) + "]"
		switch {
		case len(found) == 0:
			add(field, "%s is not answered", factor.Named())
		case len(found) > 1:
			add(field, "%s is answered %d times", factor.Named(), len(found))
		default:
			if strings.TrimSpace(found[0].Answer) == "" {
				add(field+".answer", "%s has no answer", factor.Named())
			}
			if strings.TrimSpace(found[0].Rationale) == "" {
				msg := "%s has no rationale"
				if a.Outcome == LowProbability {
					msg = "a low probability of compromise is refused: %s has no rationale"
				}
				add(field+".rationale", msg, factor.Named())
			}
		}
	}
	if strings.TrimSpace(a.Rationale) == "" {
		add("assessment.rationale", "the outcome needs its written rationale")
	}
	if r := a.Ransomware; r != nil && a.Outcome == LowProbability {
		// HHS ransomware fact sheet (2016): a low probability of
		// compromise must rest on the variant, exfiltration and spread.
		for _, e := range []struct{ field, text, what string }{{"variant", r.Variant, "the ransomware variant and what it does"},
			{"exfiltration", r.Exfiltration, "the evidence whether PHI was exfiltrated"},
			{"spread", r.Spread, "whether the malware spread to other systems"}} {
			if strings.TrimSpace(e.text) == "" {
				add("assessment.ransomware."+e.field, "a low probability of compromise after ransomware needs %s (HHS ransomware fact sheet, 2016)", e.what)
			}
		}
	}
	return fs
}
