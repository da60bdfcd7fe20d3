package rules

import "slices"

// jurisdictions are the 56 jurisdictions whose breach-notification laws
// Ward covers, by USPS two-letter code: the 50 States, the District of
// Columbia and the five inhabited territories (Puerto Rico, Guam, the
// U.S. Virgin Islands, American Samoa and the Northern Mariana Islands).
// The codes are the USPS state and territory abbreviations (USPS
// Publication 28, Appendix B).
var jurisdictions = map[string]string{
	"AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
	"CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "FL": "Florida", "GA": "Georgia",
	"HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana", "IA": "Iowa",
	"KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine", "MD": "Maryland",
	"MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi", "MO": "Missouri",
	"MT": "Montana", "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire", "NJ": "New Jersey",
	"NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio",
	"OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina",
	"SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont",
	"VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
	"DC": "District of Columbia",
	"PR": "Puerto Rico", "GU": "Guam", "VI": "U.S. Virgin Islands", "AS": "American Samoa",
	"MP": "Northern Mariana Islands",
}

// JurisdictionName returns the name of the jurisdiction with two-letter
// code ("CA" is California); ok is false for a code Ward does not cover.
// Codes are upper case: "ca" is not one.
func JurisdictionName(code string) (name string, ok bool) {
	name, ok = jurisdictions[code]
	return name, ok
}

// JurisdictionCodes returns the codes of every jurisdiction Ward covers,
// sorted.
func JurisdictionCodes() []string {
	codes := make([]string, 0, len(jurisdictions))
	for c := range jurisdictions {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	return codes
}
