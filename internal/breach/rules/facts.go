package rules

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
)

// Role is the part the entity running Ward played in the breach.
type Role string

// The roles of 45 CFR 160.103, and one outside HIPAA.
const (
	CoveredEntity     Role = "covered_entity"
	BusinessAssociate Role = "business_associate"
	// Both: a covered entity that is also a business associate of the
	// customers listed in Facts.Customers.
	Both Role = "both"
	// PHRVendor: a vendor of personal health records (a health app)
	// outside HIPAA, bound by the FTC Health Breach Notification Rule
	// (16 CFR 318) instead.
	PHRVendor Role = "phr_vendor"
)

// Customer is a covered entity whose PHI we held as its business associate,
// with the notice term of its business associate agreement.
type Customer struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// Notice is the agreement's notice term from our discovery; nil means
	// the agreement sets none and 164.410(b) alone applies.
	Notice *Term `json:"notice,omitempty"`
}

// Facts are what the obligations of a breach depend on.
type Facts struct {
	Role Role `json:"role"`
	// DiscoveredAt and ShouldHaveKnownAt: the clock starts at the earlier
	// (see Discovery; 164.404(a)(2), 164.410(a)(2)).
	DiscoveredAt      time.Time `json:"discovered_at"`
	ShouldHaveKnownAt time.Time `json:"should_have_known_at"`
	// NotificationRequired is the determination's result (Result); without
	// it there are no obligations.
	NotificationRequired bool `json:"notification_required"`
	// Individuals is the number affected in total (an estimate is allowed).
	Individuals int `json:"individuals"`
	// ByState counts affected individuals per State or jurisdiction of
	// residence, keyed by its two-letter code ("CA", "PR"; one of
	// JurisdictionCodes); residents whose State is unknown count only in
	// Individuals.
	ByState map[string]int `json:"by_state,omitempty"`
	// Customers are the covered entities to notify when Role is
	// BusinessAssociate or Both (164.410).
	Customers []Customer `json:"customers,omitempty"`
	// Delay is the law-enforcement delay, if any (164.412).
	Delay *LawEnforcementDelay `json:"law_enforcement_delay,omitempty"`
	// Tags select State rules that apply only to some entities, e.g.
	// "ca_licensed_health_facility" (StateRule.AppliesTo); each is one of
	// Tags.
	Tags []string `json:"tags,omitempty"`
	// Made holds when each notice obligation was made (met), by key, as
	// the case's records show it; State rules counted from a notice use it,
	// and the notice's deadline until it is made. The breach case sets it
	// from its obligations, never from input.
	Made map[string]time.Time `json:"-"`
	// Location is where calendar and business days are reckoned; nil means
	// UTC.
	Location *time.Location `json:"-"`
}

// ClockStart returns when the notice clocks start (Discovery).
func (f Facts) ClockStart() (time.Time, error) {
	return Discovery(f.DiscoveredAt, f.ShouldHaveKnownAt)
}

// Validate reports every problem with the facts as one apperr Invalid error
// naming each field. Compute expects facts that pass.
func (f Facts) Validate() error {
	var fs []apperr.FieldError
	add := func(field, format string, args ...any) {
		fs = append(fs, apperr.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	addErr := func(err error) {
		if e, ok := apperr.As(err); ok {
			fs = append(fs, e.Fields...)
		}
	}
	switch f.Role {
	case CoveredEntity, BusinessAssociate, Both, PHRVendor:
	default:
		add("role", "must be %q, %q, %q or %q, got %q", CoveredEntity, BusinessAssociate, Both, PHRVendor, f.Role)
	}
	if _, err := f.ClockStart(); err != nil {
		addErr(err)
	}
	if f.Individuals < 0 {
		add("individuals", "must not be negative, got %d", f.Individuals)
	}
	sum := 0
	for _, st := range slices.Sorted(maps.Keys(f.ByState)) {
		n := f.ByState[st]
		if _, ok := JurisdictionName(st); !ok {
			add("by_state."+st, "%q is not a State or territory code Ward knows (the 50 States, DC, PR, GU, VI, AS, MP)", st)
		}
		if n < 0 {
			add("by_state."+st, "must not be negative, got %d", n)
		}
		sum += n
	}
	if sum > f.Individuals {
		add("by_state", "counts %d residents, more than the %d individuals affected", sum, f.Individuals)
	}
	if f.Role == BusinessAssociate && f.NotificationRequired && len(f.Customers) == 0 {
		add("customers", "a business associate must name the covered entities to notify (164.410)")
	}
	if (f.Role == CoveredEntity || f.Role == PHRVendor) && len(f.Customers) > 0 {
		add("customers", "only a business associate notifies covered-entity customers (164.410); set role to %q or %q", BusinessAssociate, Both)
	}
	seen := map[string]bool{}
	for i, c := range f.Customers {
		field := fmt.Sprintf("customers[%d]", i)
		if strings.TrimSpace(c.ID) == "" {
			add(field+".id", "is required")
		} else if seen[c.ID] {
			add(field+".id", "%q is listed twice", c.ID)
		}
		seen[c.ID] = true
		if c.Notice != nil {
			addErr(c.Notice.Validate(field + ".notice"))
		}
	}
	if f.Delay != nil {
		addErr(f.Delay.Validate())
	}
	for i, t := range f.Tags {
		if _, ok := TagLabel(t); !ok {
			add(fmt.Sprintf("tags[%d]", i), "%q is not a case tag Ward knows (GET /api/v1/breach/case-tags lists them)", t)
		} else if slices.Index(f.Tags, t) < i {
			add(fmt.Sprintf("tags[%d]", i), "%q is listed twice", t)
		}
	}
	if len(fs) == 0 {
		return nil
	}
	return &apperr.Error{Code: apperr.Invalid, Message: "the breach facts are incomplete", Fields: fs}
}

// ruleEffective is when the Breach Notification Rule took effect, 23
// September 2009 (interim final rule, 74 Fed. Reg. 42740, 42756 (Aug. 24,
// 2009); the FTC's Health Breach Notification Rule on 24 September 2009,
// 74 Fed. Reg. 42962). A breach discovered before it owes no notice under
// either, so a discovery date before it is taken for a typing error.
func ruleEffective() time.Time { return time.Date(2009, time.September, 23, 0, 0, 0, 0, time.UTC) }

// ValidateAt is Validate, and also refuses a discovery date after now (a
// breach is not discovered in the future; now is the service clock's) or
// before the Breach Notification Rule took effect (2009-09-23).
func (f Facts) ValidateAt(now time.Time) error {
	var fs []apperr.FieldError
	if e, ok := apperr.As(f.Validate()); ok {
		fs = e.Fields
	}
	for _, d := range []struct {
		field string
		t     time.Time
	}{{"discovered_at", f.DiscoveredAt}, {"should_have_known_at", f.ShouldHaveKnownAt}} {
		if e := NotFuture(d.field, d.t, now); e != nil {
			fs = append(fs, *e)
		} else if !d.t.IsZero() && d.t.Before(ruleEffective()) {
			fs = append(fs, apperr.FieldError{Field: d.field, Message: fmt.Sprintf(
				"%s is before the Breach Notification Rule took effect on 2009-09-23 (74 Fed. Reg. 42740)", d.t.UTC().Format(time.RFC3339))})
		}
	}
	if len(fs) == 0 {
		return nil
	}
	return &apperr.Error{Code: apperr.Invalid, Message: "the breach facts are incomplete", Fields: fs}
}

// NotFuture reports date field t if it is after now; a zero t (not set)
// passes.
func NotFuture(field string, t, now time.Time) *apperr.FieldError {
	if t.IsZero() || !t.After(now) {
		return nil
	}
	return &apperr.FieldError{Field: field, Message: fmt.Sprintf("%s is in the future (it is now %s)",
		t.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))}
}
