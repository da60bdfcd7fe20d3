package rules

import (
	"slices"
	"strings"
	"testing"

	"github.com/wardhq/ward/internal/apperr"
)

func signed(t *testing.T) Signature {
	return Signature{Officer: "privacy.officer", SignedAt: at(t, "2026-03-10T12:00")}
}

func fullAssessment(outcome Outcome) *Assessment {
	return &Assessment{Outcome: outcome, Rationale: "reasoned judgement of the four factors",
		Findings: []Finding{
			{Factor: FactorNatureExtent, Answer: "names and appointment dates only", Rationale: "no SSN, no clinical detail"},
			{Factor: FactorRecipient, Answer: "another covered entity", Rationale: "bound by HIPAA itself"},
			{Factor: FactorAcquired, Answer: "not opened", Rationale: "mail returned sealed"},
			{Factor: FactorMitigation, Answer: "recipient attested destruction", Rationale: "signed attestation on file"},
		}}
}

func TestDecide(t *testing.T) {
	cases := []struct {
		name     string
		d        func(t *testing.T) Determination
		outcome  Outcome
		citation string
		why      string
	}{
		{"164.402 secured PHI: encrypted per NIST SP 800-111 with the key safe is not a breach", func(t *testing.T) Determination {
			return Determination{Secured: &Secured{Method: Encrypted, Standard: "nist_sp_800_111", Rationale: "FDE, powered off"}, Signature: signed(t)}
		}, NotBreachSecured, "45 CFR 164.402 (unsecured PHI); HHS guidance", "secured"},
		{"164.402 secured PHI: media sanitized per NIST SP 800-88 is not a breach", func(t *testing.T) Determination {
			return Determination{Secured: &Secured{Method: Destroyed, Standard: "nist_sp_800_88", Rationale: "certificate of sanitization"}, Signature: signed(t)}
		}, NotBreachSecured, "45 CFR 164.402 (unsecured PHI); HHS guidance", "secured"},
		{"164.402 compromised key: safe harbor lost, breach presumed and notified", func(t *testing.T) Determination {
			return Determination{Secured: &Secured{Method: Encrypted, Standard: "nist_sp_800_111", KeyCompromised: true, Rationale: "key on a sticky note"},
				NotifyWithoutAssessment: true, Signature: signed(t)}
		}, NotificationRequired, "45 CFR 164.402(2)", "key was compromised"},
		{"164.402 powered-on logged-in device: safe harbor lost", func(t *testing.T) Determination {
			return Determination{Secured: &Secured{Method: Encrypted, Standard: "nist_sp_800_111", AccessibleDecrypted: true, Rationale: "laptop stolen unlocked"},
				Assessment: fullAssessment(NotificationRequired), Signature: signed(t)}
		}, NotificationRequired, "45 CFR 164.402(2)", "reachable decrypted"},
		{"164.402 redaction is not a destruction standard", func(t *testing.T) Determination {
			return Determination{Secured: &Secured{Method: Destroyed, Standard: "redacted", Rationale: "black marker"},
				NotifyWithoutAssessment: true, Signature: signed(t)}
		}, NotificationRequired, "45 CFR 164.402(2)", "not a destruction standard"},
		{"164.402(1)(i) good-faith workforce access with no further use is not a breach", func(t *testing.T) Determination {
			return Determination{Exception: &Exception{Kind: ExceptionGoodFaithWorkforce, NoFurtherImpermissibleUse: true, Rationale: "nurse opened the wrong chart, closed it"}, Signature: signed(t)}
		}, NotBreachException, "45 CFR 164.402(1)(i)", "164.402(1)(i)"},
		{"164.402(1)(ii) inadvertent internal disclosure with further use falls through to the assessment", func(t *testing.T) Determination {
			return Determination{Exception: &Exception{Kind: ExceptionInadvertentInternal, Rationale: "forwarded onwards"},
				Assessment: fullAssessment(NotificationRequired), Signature: signed(t)}
		}, NotificationRequired, "45 CFR 164.402(2)", "requires no further impermissible use"},
		{"164.402(1)(iii) recipient could not reasonably retain it is not a breach", func(t *testing.T) Determination {
			return Determination{Exception: &Exception{Kind: ExceptionCouldNotRetain, Rationale: "letter returned unopened by the post office"}, Signature: signed(t)}
		}, NotBreachException, "45 CFR 164.402(1)(iii)", "164.402(1)(iii)"},
		{"164.402(2) notify without assessment is a valid choice", func(t *testing.T) Determination {
			return Determination{NotifyWithoutAssessment: true, Signature: signed(t)}
		}, NotificationRequired, "45 CFR 164.402(2)", "without a risk assessment"},
		{"164.402(2) complete four-factor assessment showing low probability", func(t *testing.T) Determination {
			return Determination{Assessment: fullAssessment(LowProbability), Signature: signed(t)}
		}, LowProbability, "45 CFR 164.402(2)", "low probability"},
		{"164.402(2) complete assessment concluding notification", func(t *testing.T) Determination {
			return Determination{Assessment: fullAssessment(NotificationRequired), Signature: signed(t)}
		}, NotificationRequired, "45 CFR 164.402(2)", "does not show a low probability"},
		{"HHS ransomware fact sheet: ransomware is an acquisition, breach presumed and notified", func(t *testing.T) Determination {
			a := fullAssessment(NotificationRequired)
			a.Ransomware = &Ransomware{Variant: "LockBit 3.0"}
			return Determination{Assessment: a, Signature: signed(t)}
		}, NotificationRequired, "45 CFR 164.402(2)", "ransomware encrypted the PHI, an acquisition presumed a breach"},
		{"HHS ransomware fact sheet: low probability with evidence on variant, exfiltration and spread", func(t *testing.T) Determination {
			a := fullAssessment(LowProbability)
			a.Ransomware = &Ransomware{Variant: "a strain that only encrypts", Exfiltration: "egress logs show no outbound transfer",
				Spread: "contained to one isolated backup host"}
			return Determination{Assessment: a, Signature: signed(t)}
		}, LowProbability, "45 CFR 164.402(2)", "low probability"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Decide(tc.d(t))
			if err != nil {
				t.Fatalf("Decide: %v", err)
			}
			if r.Outcome != tc.outcome || r.Citation != tc.citation || !strings.Contains(r.Why, tc.why) {
				t.Errorf("got %+v, want %s (%s) mentioning %q", r, tc.outcome, tc.citation, tc.why)
			}
			if r.NotificationRequired() != (tc.outcome == NotificationRequired) {
				t.Errorf("NotificationRequired() = %v", r.NotificationRequired())
			}
		})
	}
}

func TestValidateRefuses(t *testing.T) {
	noRationale := func(outcome Outcome, factor Factor) *Assessment {
		a := fullAssessment(outcome)
		for i := range a.Findings {
			if a.Findings[i].Factor == factor {
				a.Findings[i].Rationale = " "
			}
		}
		return a
	}
	missing := fullAssessment(LowProbability)
	missing.Findings = missing.Findings[:3]
	twice := fullAssessment(NotificationRequired)
	twice.Findings = append(twice.Findings, twice.Findings[0])
	averaged := fullAssessment("score_2.5")
	noOverall := fullAssessment(LowProbability)
	noOverall.Rationale = ""
	cases := []struct {
		name   string
		d      func(t *testing.T) Determination
		fields []string
		msg    string
	}{
		{"164.402(2) low probability refused without rationale for factor (iii)", func(t *testing.T) Determination {
			return Determination{Assessment: noRationale(LowProbability, FactorAcquired), Signature: signed(t)}
		}, []string{"assessment.findings[164.402(2)(iii)].rationale"}, "a low probability of compromise is refused"},
		{"164.402(2) low probability refused without rationale for factor (i)", func(t *testing.T) Determination {
			return Determination{Assessment: noRationale(LowProbability, FactorNatureExtent), Signature: signed(t)}
		}, []string{"assessment.findings[164.402(2)(i)].rationale"}, "a low probability of compromise is refused"},
		{"164.402(2) low probability refused with factor (iv) unanswered", func(t *testing.T) Determination {
			return Determination{Assessment: missing, Signature: signed(t)}
		}, []string{"assessment.findings[164.402(2)(iv)]"}, "not answered"},
		{"164.402(2) low probability refused without the overall rationale", func(t *testing.T) Determination {
			return Determination{Assessment: noOverall, Signature: signed(t)}
		}, []string{"assessment.rationale"}, "rationale"},
		{"164.402(2) assessment concluding notification still needs each factor's rationale", func(t *testing.T) Determination {
			return Determination{Assessment: noRationale(NotificationRequired, FactorRecipient), Signature: signed(t)}
		}, []string{"assessment.findings[164.402(2)(ii)].rationale"}, "factor 2, who used the PHI or received it (164.402(2)(ii)) has no rationale"},
		{"164.402(2) a factor answered twice is refused", func(t *testing.T) Determination {
			return Determination{Assessment: twice, Signature: signed(t)}
		}, []string{"assessment.findings[164.402(2)(i)]"}, "answered 2 times"},
		{"164.402(2) an outcome is a judgement, never a score", func(t *testing.T) Determination {
			return Determination{Assessment: averaged, Signature: signed(t)}
		}, []string{"assessment.outcome"}, "must be"},
		{"HHS ransomware fact sheet: low probability refused without evidence of exfiltration and spread", func(t *testing.T) Determination {
			a := fullAssessment(LowProbability)
			a.Ransomware = &Ransomware{Variant: "LockBit 3.0"}
			return Determination{Assessment: a, Signature: signed(t)}
		}, []string{"assessment.ransomware.exfiltration", "assessment.ransomware.spread"}, "HHS ransomware fact sheet"},
		{"164.402(2) no assessment and no choice to notify", func(t *testing.T) Determination {
			return Determination{Signature: signed(t)}
		}, []string{"assessment"}, "required"},
		{"164.402(2) officer signature required", func(t *testing.T) Determination {
			return Determination{NotifyWithoutAssessment: true}
		}, []string{"signature.officer", "signature.signed_at"}, "required"},
		{"164.402 safe-harbor claim needs its evidence", func(t *testing.T) Determination {
			return Determination{Secured: &Secured{Method: Encrypted, Standard: "nist_sp_800_111"}, Signature: signed(t)}
		}, []string{"secured.rationale"}, "evidence"},
		{"164.402(1) exception claim needs its rationale and a known kind", func(t *testing.T) Determination {
			return Determination{Exception: &Exception{Kind: "164.402(1)(iv)"}, NotifyWithoutAssessment: true, Signature: signed(t)}
		}, []string{"exception.kind", "exception.rationale"}, "must be one of"},
		{"164.402(2) notify without assessment excludes an assessment", func(t *testing.T) Determination {
			return Determination{NotifyWithoutAssessment: true, Assessment: fullAssessment(LowProbability), Signature: signed(t)}
		}, []string{"assessment"}, "must be absent"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := tc.d(t)
			err := Validate(d)
			e, ok := apperr.As(err)
			if !ok || e.Code != apperr.Invalid {
				t.Fatalf("Validate = %v, want an Invalid error", err)
			}
			var got []string
			var msgs []string
			for _, f := range e.Fields {
				got = append(got, f.Field)
				msgs = append(msgs, f.Message)
			}
			if !slices.Equal(got, tc.fields) {
				t.Errorf("fields = %v, want %v", got, tc.fields)
			}
			if !strings.Contains(strings.Join(msgs, "; "), tc.msg) {
				t.Errorf("messages %q lack %q", msgs, tc.msg)
			}
			if _, err := Decide(d); err == nil {
				t.Error("Decide accepted an incomplete determination")
			}
		})
	}
}

func TestStandardsExcludeRedaction(t *testing.T) {
	for _, s := range Standards() {
		if strings.Contains(s.ID, "redact") || s.Scope == "" {
			t.Errorf("164.402 HHS guidance standard %+v", s)
		}
	}
	if got := len(Factors()); got != 4 {
		t.Errorf("164.402(2) has 4 factors, got %d", got)
	}
}
