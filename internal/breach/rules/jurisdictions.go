package rules

import (
	"maps"
	"slices"
)

// jurisdictions are the 56 places whose residents Ward counts a breach
// for, by USPS code: the 50 States, the District of Columbia, and the
// territories of Puerto Rico, Guam, the U.S. Virgin Islands, American
// Samoa and the Northern Mariana Islands. The shipped State table has a row
// for each, saying what its breach law (or the absence of one) requires.
var jurisdictions = map[string]string{
	"AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
	"CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "District of Columbia", "FL": "Florida",
	"GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois", "IN": "Indiana",
	"IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana", "ME": "Maine",
	"MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota", "MS": "Mississippi",
	"MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada", "NH": "New Hampshire",
	"NJ": "New Jersey", "NM": "New Mexico", "NY": "New York", "NC": "North Carolina", "ND": "North Dakota",
	"OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon", "PA": "Pennsylvania", "RI": "Rhode Island",
	"SC": "South Carolina", "SD": "South Dakota", "TN": "Tennessee", "TX": "Texas", "UT": "Utah",
	"VT": "Vermont", "VA": "Virginia", "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin",
	"WY": "Wyoming", "PR": "Puerto Rico", "GU": "Guam", "VI": "U.S. Virgin Islands", "AS": "American Samoa",
	"MP": "Northern Mariana Islands",
}

// JurisdictionName returns the name of the jurisdiction with USPS code
// code, and whether Ward knows it.
func JurisdictionName(code string) (string, bool) {
	n, ok := jurisdictions[code]
	return n, ok
}

// JurisdictionCodes returns the codes of every jurisdiction Ward knows,
// sorted.
func JurisdictionCodes() []string {
	return slices.Sorted(maps.Keys(jurisdictions))
}
