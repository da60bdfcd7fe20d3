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

// FTC holds the thresholds and deadlines of the FTC Health Breach
// Notification Rule (16 CFR 318, as amended 2024), the second rule set, for
// vendors of personal health records outside HIPAA (REGULATIONS.md section
// 4); FTCHBNR returns its values.
type FTC struct {
	// IndividualDays: notice to each individual no later than this many
	// calendar days after discovery.
	IndividualDays int
	// NotifyFTCAtLeast: notice to the FTC when this many or more
	// individuals are affected, no later than FTCDays after discovery.
	NotifyFTCAtLeast int
	FTCDays          int
}

// FTCHBNR returns the FTC rule set.
func FTCHBNR() FTC {
	return FTC{
		IndividualDays:   60,  // 16 CFR 318: individuals within 60 calendar days of discovery
		NotifyFTCAtLeast: 500, // 16 CFR 318: the FTC at 500 or more individuals
		FTCDays:          60,  // 16 CFR 318: the FTC within 60 calendar days of discovery
	}
}
