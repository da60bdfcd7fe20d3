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
