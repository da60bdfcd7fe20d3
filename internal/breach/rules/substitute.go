package rules

// SubstituteKind is the form substitute notice must take.
type SubstituteKind string

// The forms of substitute notice of 45 CFR 164.404(d)(2).
const (
	// SubstituteNone: every individual's contact information suffices.
	SubstituteNone SubstituteKind = "none"
	// SubstituteAlternative: fewer than 10 individuals lack sufficient or
	// current contact information; an alternative form of written notice,
	// telephone or other means. 164.404(d)(2)(i).
	SubstituteAlternative SubstituteKind = "alternative"
	// SubstituteConspicuous: 10 or more; a conspicuous posting on the home
	// page of the entity's web site, or conspicuous notice in major print
	// or broadcast media where they likely reside, for 90 days, and a
	// toll-free number active for at least 90 days. 164.404(d)(2)(ii).
	SubstituteConspicuous SubstituteKind = "conspicuous"
)

// Substitute notice thresholds and periods of 45 CFR 164.404(d)(2).
const (
	SubstituteConspicuousAtLeast = 10 // 164.404(d)(2)(i)-(ii): "fewer than 10" vs "10 or more"
	SubstitutePostingDays        = 90 // 164.404(d)(2)(ii)(A): web posting or media notice for 90 days
	SubstituteTollFreeDays       = 90 // 164.404(d)(2)(ii)(B): toll-free number active at least 90 days
)

// Substitute is the substitute notice a breach needs.
type Substitute struct {
	Kind SubstituteKind `json:"kind"`
	// Means lists the acceptable ways; for SubstituteConspicuous one of
	// the first two, and always the toll-free number.
	Means []string `json:"means,omitempty"`
	// PostingDays and TollFreeDays are the minimum periods, for
	// SubstituteConspicuous.
	PostingDays  int    `json:"posting_days,omitempty"`
	TollFreeDays int    `json:"toll_free_days,omitempty"`
	Citation     string `json:"citation,omitempty"`
}

// SubstituteFor returns the substitute notice owed when insufficient
// individuals have insufficient or out-of-date contact information. Count
// only living individuals and deceased ones whose next of kin or personal
// representative has a known address: substitute notice is not required
// for a deceased individual without one (164.404(d)(2)).
func SubstituteFor(insufficient int) Substitute {
	switch {
	case insufficient <= 0:
		return Substitute{Kind: SubstituteNone}
	case insufficient < SubstituteConspicuousAtLeast:
		return Substitute{Kind: SubstituteAlternative, Citation: "45 CFR 164.404(d)(2)(i)",
			Means: []string{"alternative form of written notice", "telephone", "other means"}}
	}
	return Substitute{Kind: SubstituteConspicuous, Citation: "45 CFR 164.404(d)(2)(ii)",
		Means: []string{
			"conspicuous posting on the home page of the web site for 90 days",
			"conspicuous notice in major print or broadcast media where the individuals likely reside",
			"toll-free number active for at least 90 days where individuals can learn whether their PHI may be included",
		},
		PostingDays: SubstitutePostingDays, TollFreeDays: SubstituteTollFreeDays}
}
