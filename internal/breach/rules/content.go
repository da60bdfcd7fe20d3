package rules

import (
	"fmt"
	"slices"

	"github.com/wardhq/ward/internal/apperr"
)

// Element is one element a notice to individuals must contain, in plain
// language (45 CFR 164.404(c)(1)).
type Element string

// The five required elements of 164.404(c)(1)(A)-(E).
const (
	ElementWhatHappened Element = "what_happened"         // 164.404(c)(1)(A)
	ElementPHITypes     Element = "phi_types"             // 164.404(c)(1)(B)
	ElementSelfProtect  Element = "self_protection_steps" // 164.404(c)(1)(C)
	ElementEntityAction Element = "entity_actions"        // 164.404(c)(1)(D)
	ElementContact      Element = "contact_procedures"    // 164.404(c)(1)(E)
)

// ElementSpec describes a required element and cites it.
type ElementSpec struct {
	Element     Element `json:"element"`
	Citation    string  `json:"citation"`
	Description string  `json:"description"`
}

// RequiredElements lists the content every notice to individuals must have.
func RequiredElements() []ElementSpec {
	return []ElementSpec{
		{ElementWhatHappened, "45 CFR 164.404(c)(1)(A)", "a brief description of what happened, including the date of the breach and the date of discovery, if known"},
		{ElementPHITypes, "45 CFR 164.404(c)(1)(B)", "the types of unsecured PHI involved (such as full name, Social Security number, date of birth, home address, account number, diagnosis, disability code)"},
		{ElementSelfProtect, "45 CFR 164.404(c)(1)(C)", "any steps individuals should take to protect themselves from potential harm resulting from the breach"},
		{ElementEntityAction, "45 CFR 164.404(c)(1)(D)", "what the entity is doing to investigate the breach, to mitigate harm to individuals, and to protect against further breaches"},
		{ElementContact, "45 CFR 164.404(c)(1)(E)", "contact procedures for individuals to ask questions or learn additional information, which shall include a toll-free telephone number, an e-mail address, Web site, or postal address"},
	}
}

// ContactMethod is a way to reach the entity that 164.404(c)(1)(E) accepts.
type ContactMethod string

// The contact methods of 164.404(c)(1)(E); a notice offers at least one.
const (
	ContactTollFree ContactMethod = "toll_free_number"
	ContactEmail    ContactMethod = "email"
	ContactWebsite  ContactMethod = "website"
	ContactPostal   ContactMethod = "postal_address"
)

// Template is what a notice template declares it contains.
type Template struct {
	Elements       []Element       `json:"elements"`
	ContactMethods []ContactMethod `json:"contact_methods"`
}

// MissingElements returns the required elements template does not declare,
// in the order of 164.404(c)(1).
func MissingElements(t Template) []ElementSpec {
	var missing []ElementSpec
	for _, e := range RequiredElements() {
		if !slices.Contains(t.Elements, e.Element) {
			missing = append(missing, e)
		}
	}
	return missing
}

// CheckTemplate refuses a template that lacks any of the elements of
// 164.404(c)(1)(A)-(E), or whose contact procedures offer none of the
// methods (E) lists, naming each missing element. A template that fails
// must not be approved (REGULATIONS.md section 5).
func CheckTemplate(t Template) error {
	var fs []apperr.FieldError
	for _, e := range MissingElements(t) {
		fs = append(fs, apperr.FieldError{Field: "elements." + string(e.Element),
			Message: fmt.Sprintf("missing: %s (%s)", e.Description, e.Citation)})
	}
	ok := false
	for _, m := range t.ContactMethods {
		switch m {
		case ContactTollFree, ContactEmail, ContactWebsite, ContactPostal:
			ok = true
		default:
			fs = append(fs, apperr.FieldError{Field: "contact_methods", Message: fmt.Sprintf("%q is not a contact method of 45 CFR 164.404(c)(1)(E)", m)})
		}
	}
	if !ok {
		fs = append(fs, apperr.FieldError{Field: "contact_methods",
			Message: "contact procedures must include a toll-free telephone number, an e-mail address, a web site or a postal address (45 CFR 164.404(c)(1)(E))"})
	}
	if len(fs) == 0 {
		return nil
	}
	return &apperr.Error{Code: apperr.Invalid, Message: "the notice template lacks required content", Fields: fs}
}
