package rules

// Federal holds the thresholds and deadlines of the HIPAA Breach
// Notification Rule (45 CFR 164.400-414) as data; HIPAA returns the values
// the regulation sets, each cited where it is set.
type Federal struct {
	// IndividualDays: notice to each individual without unreasonable delay
	// and no later than this many calendar days after discovery.
	IndividualDays int
	// MediaMoreThan: media notice in a State or jurisdiction whose
	// residents affected number more than this.
	MediaMoreThan int
	// MediaDays: the media notice's outer limit, in calendar days.
	MediaDays int
	// HHSImmediateAtLeast: notice to the Secretary contemporaneously with
	// individual notice when this many or more individuals are affected.
	HHSImmediateAtLeast int
	// HHSAnnualDays: for fewer, the breach is logged and reported no later
	// than this many days after the end of the calendar year of discovery.
	HHSAnnualDays int
	// BusinessAssociateDays: a business associate notifies the covered
	// entity no later than this many calendar days after discovery.
	BusinessAssociateDays int
}

// HIPAA returns the federal rule set.
func HIPAA() Federal {
	return Federal{
		IndividualDays:        60,  // 45 CFR 164.404(b)
		MediaMoreThan:         500, // 45 CFR 164.406(a): "more than 500 residents of a State or jurisdiction"
		MediaDays:             60,  // 45 CFR 164.406(b)
		HHSImmediateAtLeast:   500, // 45 CFR 164.408(b): "500 or more individuals"
		HHSAnnualDays:         60,  // 45 CFR 164.408(c): "not later than 60 days after the end of each calendar year"
		BusinessAssociateDays: 60,  // 45 CFR 164.410(b)
	}
}
