package rules

// Tag is a fact about the entity that selects State rules meant only for
// some entities (StateRule.AppliesTo, Facts.Tags).
type Tag struct {
	Tag      string `json:"tag"`
	Label    string `json:"label"`
	Citation string `json:"citation"`
}

// Tags lists every case tag Ward knows.
func Tags() []Tag {
	return []Tag{
		{Tag: "ca_licensed_health_facility", Label: "a California licensed clinic, health facility, home health agency or hospice",
			Citation: "Cal. Health & Safety Code 1280.15"},
		{Tag: "ny_dfs_covered_entity", Label: "an entity the New York Department of Financial Services regulates, such as a licensed health insurer or HMO",
			Citation: "N.Y. Gen. Bus. Law 899-aa(8)(a); 23 NYCRR 500.1"},
		{Tag: "public_agency", Label: "a State, county or city agency, such as a county hospital",
			Citation: "Idaho Code 28-51-105(1)"},
		{Tag: "ga_information_broker_or_data_collector", Label: "a Georgia information broker, or a Georgia State or local agency (data collector)",
			Citation: "O.C.G.A. 10-1-911(2), (3), 10-1-912(a)"},
	}
}

// TagLabel returns the label of tag, and whether Ward knows it.
func TagLabel(tag string) (string, bool) {
	for _, t := range Tags() {
		if t.Tag == tag {
			return t.Label, true
		}
	}
	return "", false
}
