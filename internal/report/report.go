// Package report turns breach cases into what regulators and auditors
// ask for: the HHS breach report packet (REGULATIONS.md section 6; 45 CFR
// 164.408) with every filing and its tracking number, the annual log of
// breaches affecting fewer than 500 (164.408(c)), the breach log of every
// case, reminders as each notice deadline approaches, and signed proof
// bundles (164.414(b): the burden of proof is the entity's).
package report

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
)

// Notifier queues Ward's own messages (no PHI) to users; *paging.Pager is
// one.
type Notifier interface {
	NotifyTx(ctx context.Context, tx *sql.Tx, kind, incidentID, line string, users []string) (int, error)
}

// Service builds and keeps breach reports.
type Service struct {
	db        *db.DB
	clock     clock.Clock
	cases     *breach.Service
	incidents *incident.Service
	keys      incident.Sealer
	notifier  Notifier
	log       *slog.Logger
	reminders []int      // days before a deadline to remind at, descending
	producers []Producer // added by AddProducer, after this package's own
}

// DefaultReminderDays are the days before a notice deadline at which the
// officers are reminded (issue #5: "at 30, 14, 7, 3, 1 days").
var DefaultReminderDays = []int{30, 14, 7, 3, 1}

// New returns a Service. keys seals the proof-bundle signing key; n sends
// the deadline reminders; reminderDays are the days before a deadline to
// remind at (DefaultReminderDays when empty).
func New(d *db.DB, c clock.Clock, cases *breach.Service, incidents *incident.Service, keys incident.Sealer, n Notifier,
	log *slog.Logger, reminderDays []int) (*Service, error) {
	days, err := ReminderDays(reminderDays)
	if err != nil {
		return nil, err
	}
	return &Service{db: d, clock: c, cases: cases, incidents: incidents, keys: keys, notifier: n, log: log, reminders: days}, nil
}

// ReminderDays checks and sorts the reminder days: each from 1 to 365,
// none twice; empty means DefaultReminderDays.
func ReminderDays(days []int) ([]int, error) {
	if len(days) == 0 {
		return slices.Clone(DefaultReminderDays), nil
	}
	out := slices.Clone(days)
	slices.Sort(out)
	slices.Reverse(out)
	for i, d := range out {
		if d < 1 || d > 365 {
			return nil, apperr.Field("breach-reminder-days", "each day must be from 1 to 365, got %d", d)
		}
		if i > 0 && out[i-1] == d {
			return nil, apperr.Field("breach-reminder-days", "%d is listed twice", d)
		}
	}
	return out, nil
}

// The HHS breach portal's vocabularies (REGULATIONS.md section 6): each
// code Ward stores, with the portal's words.
var (
	// EntityTypes: the covered entity's type.
	EntityTypes = []VocabTerm{{"health_plan", "Health Plan"}, {"healthcare_clearinghouse", "Healthcare Clearinghouse"},
		{"healthcare_provider", "Healthcare Provider"}}
	// BreachTypes: the type of breach.
	BreachTypes = []VocabTerm{{"hacking_it_incident", "Hacking/IT Incident"}, {"improper_disposal", "Improper Disposal"},
		{"loss", "Loss"}, {"theft", "Theft"}, {"unauthorized_access_disclosure", "Unauthorized Access/Disclosure"}, {"other", "Other"}}
	// Locations: the location of the breached information.
	Locations = []VocabTerm{{"desktop_computer", "Desktop Computer"}, {"electronic_medical_record", "Electronic Medical Record"},
		{"email", "Email"}, {"laptop", "Laptop"}, {"network_server", "Network Server"},
		{"other_portable_electronic_device", "Other Portable Electronic Device"}, {"paper_films", "Paper/Films"}, {"other", "Other"}}
	// PHITypes: the type of protected health information involved.
	PHITypes = []VocabTerm{{"demographic", "Demographic"}, {"financial", "Financial"}, {"clinical", "Clinical"}, {"other", "Other"}}
	// Safeguards: the safeguards in place before the breach.
	Safeguards = []VocabTerm{{"none", "None"}, {"privacy_rule", "Privacy Rule Safeguards (Training, Policies and Procedures, etc.)"},
		{"security_rule_administrative", "Security Rule Administrative Safeguards (Risk Analysis, Risk Management, etc.)"},
		{"security_rule_physical", "Security Rule Physical Safeguards (Facility Access Controls, Workstation Security, etc.)"},
		{"security_rule_technical", "Security Rule Technical Safeguards (Access Controls, Transmission Security, etc.)"}}
	// Actions: the actions taken in response to the breach, as the
	// portal's multi-select listed them when this was written, plus free
	// text for "other". REGULATIONS.md section 6 says only "multi-select
	// plus free text": confirm the list against the live portal.
	Actions = []VocabTerm{{"adopted_encryption", "Adopted encryption technologies"},
		{"changed_passwords", "Changed password/strengthened password requirements"},
		{"updated_risk_management_plan", "Created a new/updated Security Rule Risk Management Plan"},
		{"new_technical_safeguards", "Implemented new technical safeguards"},
		{"periodic_evaluations", "Implemented periodic technical and nontechnical evaluations"},
		{"improved_physical_security", "Improved physical security"},
		{"updated_risk_analysis", "Performed a new/updated Security Rule Risk Analysis"},
		{"trained_business_associate", "Provided business associate with additional training on HIPAA requirements"},
		{"credit_monitoring", "Provided individuals with free credit monitoring"},
		{"revised_ba_contracts", "Revised business associate contracts"},
		{"revised_policies", "Revised policies and procedures"},
		{"sanctioned_workforce", "Sanctioned workforce members involved (including termination)"},
		{"mitigated_harm", "Took steps to mitigate harm"},
		{"trained_workforce", "Trained or retrained workforce members"},
		{"other", "Other"}}
)

// VocabTerm is one code of a vocabulary and the portal's words for it.
type VocabTerm struct {
	Code  string `json:"code"`
	Label string `json:"label"`
}

// label returns code's words in vocab, or code.
func label(vocab []VocabTerm, code string) string {
	for _, t := range vocab {
		if t.Code == code {
			return t.Label
		}
	}
	return code
}

func codes(vocab []VocabTerm) []string {
	out := make([]string, len(vocab))
	for i, t := range vocab {
		out[i] = t.Code
	}
	return out
}

// checkCodes adds a field error for each of got that is not in vocab, or
// listed twice.
func checkCodes(fs *[]apperr.FieldError, field string, vocab []VocabTerm, got []string) {
	seen := map[string]bool{}
	for i, c := range got {
		f := fmt.Sprintf("%s[%d]", field, i)
		if !slices.ContainsFunc(vocab, func(t VocabTerm) bool { return t.Code == c }) {
			*fs = append(*fs, apperr.FieldError{Field: f, Message: fmt.Sprintf("%q is not one of %s", c, strings.Join(codes(vocab), ", "))})
		} else if seen[c] {
			*fs = append(*fs, apperr.FieldError{Field: f, Message: fmt.Sprintf("%q is listed twice", c)})
		}
		seen[c] = true
	}
}

// ReportAddress is a postal address.
type ReportAddress struct {
	Street string `json:"street,omitempty"`
	City   string `json:"city,omitempty"`
	State  string `json:"state,omitempty" doc:"Two-letter code."`
	ZIP    string `json:"zip,omitempty"`
}

// ReportContact is the person HHS may contact.
type ReportContact struct {
	Name  string `json:"name,omitempty"`
	Title string `json:"title,omitempty"`
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// OrgProfile is the organisation running Ward as the HHS report names
// it: the covered entity.
type OrgProfile struct {
	Name       string        `json:"name,omitempty"`
	EntityType string        `json:"entity_type,omitempty" enum:"health_plan,healthcare_clearinghouse,healthcare_provider,"`
	Address    ReportAddress `json:"address"`
	Contact    ReportContact `json:"contact"`
	UpdatedBy  string        `json:"updated_by,omitempty" readOnly:"true"`
	UpdatedAt  *time.Time    `json:"updated_at,omitempty" readOnly:"true"`
}

func (p OrgProfile) validate() error {
	var fs []apperr.FieldError
	if p.EntityType != "" {
		checkCodes(&fs, "entity_type", EntityTypes, []string{p.EntityType})
		if len(fs) > 0 {
			fs[0].Field = "entity_type"
		}
	}
	fs = append(fs, checkParty("", p.Address, p.Contact)...)
	if len(fs) > 0 {
		return &apperr.Error{Code: apperr.Invalid, Message: "the organisation profile is invalid", Fields: fs}
	}
	return nil
}

func checkParty(prefix string, a ReportAddress, c ReportContact) []apperr.FieldError {
	var fs []apperr.FieldError
	if a.State != "" && (len(a.State) != 2 || strings.ToUpper(a.State) != a.State) {
		fs = append(fs, apperr.FieldError{Field: prefix + "address.state", Message: fmt.Sprintf("%q is not a two-letter upper-case State code", a.State)})
	}
	if c.Email != "" && !strings.Contains(c.Email, "@") {
		fs = append(fs, apperr.FieldError{Field: prefix + "contact.email", Message: "is not an email address"})
	}
	return fs
}

const orgID = "org"

// Org returns the organisation's profile; empty until an admin fills it.
func (s *Service) Org(ctx context.Context) (OrgProfile, error) {
	if _, err := authz.Check(ctx, authz.ReportRead); err != nil {
		return OrgProfile{}, err
	}
	return s.org(ctx, s.db.R)
}

// OrgName returns the organisation's name from its profile ("" until an
// admin fills it), for Ward's own messages; it needs no permission.
func (s *Service) OrgName(ctx context.Context) (string, error) {
	p, err := s.org(ctx, s.db.R)
	return p.Name, err
}

func (s *Service) org(ctx context.Context, q db.Querier) (OrgProfile, error) {
	var body, by string
	var at time.Time
	err := q.QueryRowContext(ctx, `SELECT body, updated_by, updated_at FROM report_org_profile WHERE id = $1`, orgID).Scan(&body, &by, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return OrgProfile{}, nil
	}
	if err != nil {
		return OrgProfile{}, fmt.Errorf("read organisation profile: %w", err)
	}
	var p OrgProfile
	if err := json.Unmarshal([]byte(body), &p); err != nil {
		return OrgProfile{}, fmt.Errorf("organisation profile: %w", err)
	}
	at = at.UTC()
	p.UpdatedBy, p.UpdatedAt = by, &at
	return p, nil
}

// SetOrg replaces the organisation's profile (admins: org:write).
func (s *Service) SetOrg(ctx context.Context, p OrgProfile) (OrgProfile, error) {
	actor, err := authz.Check(ctx, authz.OrgWrite)
	if err != nil {
		return OrgProfile{}, err
	}
	if err := p.validate(); err != nil {
		return OrgProfile{}, err
	}
	now := s.clock.Now()
	p.UpdatedBy, p.UpdatedAt = "", nil
	body, err := json.Marshal(p)
	if err != nil {
		return OrgProfile{}, err
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO report_org_profile (id, body, updated_by, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (id) DO UPDATE SET body = excluded.body, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
			orgID, string(body), actor.String(), now); err != nil {
			return fmt.Errorf("save organisation profile: %w", err)
		}
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "report.org_profile", ObjectType: "org", ObjectID: orgID, Change: p})
		return err
	})
	if err != nil {
		return OrgProfile{}, err
	}
	p.UpdatedBy, p.UpdatedAt = actor.String(), &now
	return p, nil
}

// ReportParty is a business associate as the HHS report names it.
type ReportParty struct {
	Name    string        `json:"name,omitempty"`
	Address ReportAddress `json:"address"`
	Contact ReportContact `json:"contact"`
}

// ReportDetails is what the HHS report asks of a case beyond the facts
// the obligations depend on. It should hold no PHI (it goes to HHS, which
// publishes breaches of 500 or more); since people type its text, it is
// stored sealed all the same.
type ReportDetails struct {
	BreachStart  *time.Time `json:"breach_start,omitempty" doc:"When the breach began."`
	BreachEnd    *time.Time `json:"breach_end,omitempty" doc:"When it ended."`
	DiscoveryEnd *time.Time `json:"discovery_end,omitempty" doc:"The end of the discovery period; the case's discovered_at when absent."`
	// BusinessAssociate is set when the breach occurred at or by a
	// business associate.
	BusinessAssociate   *ReportParty `json:"business_associate,omitempty"`
	BreachTypes         []string     `json:"breach_types,omitempty" doc:"hacking_it_incident, improper_disposal, loss, theft, unauthorized_access_disclosure, other."`
	BreachTypeOther     string       `json:"breach_type_other,omitempty"`
	Locations           []string     `json:"locations,omitempty" doc:"desktop_computer, electronic_medical_record, email, laptop, network_server, other_portable_electronic_device, paper_films, other."`
	LocationOther       string       `json:"location_other,omitempty"`
	PHITypes            []string     `json:"phi_types,omitempty" doc:"demographic, financial, clinical, other."`
	PHIOther            string       `json:"phi_other,omitempty"`
	Description         string       `json:"description,omitempty" maxLength:"4000" doc:"A brief description of the breach, without PHI."`
	Safeguards          []string     `json:"safeguards,omitempty" doc:"none, privacy_rule, security_rule_administrative, security_rule_physical, security_rule_technical."`
	ActionsTaken        []string     `json:"actions_taken,omitempty" doc:"The portal's actions (GET /api/v1/breach-reports/vocabularies)."`
	ActionsOther        string       `json:"actions_other,omitempty"`
	IndividualNoticeEnd *time.Time   `json:"individual_notice_end,omitempty" doc:"When the last individual notice went; the individuals obligation's met_at when absent."`
	UpdatedBy           string       `json:"updated_by,omitempty" readOnly:"true"`
	UpdatedAt           *time.Time   `json:"updated_at,omitempty" readOnly:"true"`
}

// Validate reports every code outside its vocabulary, dates out of order
// and breach or discovery dates after now (the service clock's), naming
// each field.
func (d ReportDetails) Validate(now time.Time) error {
	var fs []apperr.FieldError
	checkCodes(&fs, "breach_types", BreachTypes, d.BreachTypes)
	checkCodes(&fs, "locations", Locations, d.Locations)
	checkCodes(&fs, "phi_types", PHITypes, d.PHITypes)
	checkCodes(&fs, "safeguards", Safeguards, d.Safeguards)
	checkCodes(&fs, "actions_taken", Actions, d.ActionsTaken)
	if slices.Contains(d.Safeguards, "none") && len(d.Safeguards) > 1 {
		fs = append(fs, apperr.FieldError{Field: "safeguards", Message: `"none" cannot be listed with other safeguards`})
	}
	if d.BreachStart != nil && d.BreachEnd != nil && d.BreachEnd.Before(*d.BreachStart) {
		fs = append(fs, apperr.FieldError{Field: "breach_end", Message: "is before breach_start"})
	}
	for _, dt := range []struct {
		field string
		t     *time.Time
	}{{"breach_start", d.BreachStart}, {"breach_end", d.BreachEnd}, {"discovery_end", d.DiscoveryEnd}} {
		if dt.t != nil {
			if e := rules.NotFuture(dt.field, *dt.t, now); e != nil {
				fs = append(fs, *e)
			}
		}
	}
	if len([]rune(d.Description)) > 4000 {
		fs = append(fs, apperr.FieldError{Field: "description", Message: "is longer than 4000 characters"})
	}
	if d.BusinessAssociate != nil {
		fs = append(fs, checkParty("business_associate.", d.BusinessAssociate.Address, d.BusinessAssociate.Contact)...)
	}
	if len(fs) > 0 {
		return &apperr.Error{Code: apperr.Invalid, Message: "the report details are invalid", Fields: fs}
	}
	return nil
}

// Details returns the HHS report details of incident ref's case.
func (s *Service) Details(ctx context.Context, ref string) (ReportDetails, error) {
	if _, err := authz.Check(ctx, authz.ReportRead); err != nil {
		return ReportDetails{}, err
	}
	c, err := s.cases.CaseOf(ctx, s.db.R, ref)
	if err != nil {
		return ReportDetails{}, err
	}
	return s.details(ctx, s.db.R, c.ID)
}

func (s *Service) details(ctx context.Context, q db.Querier, caseID string) (ReportDetails, error) {
	var body, by string
	var at time.Time
	err := q.QueryRowContext(ctx, `SELECT body, updated_by, updated_at FROM report_case_details WHERE case_id = $1`, caseID).Scan(&body, &by, &at)
	if errors.Is(err, sql.ErrNoRows) {
		return ReportDetails{}, nil
	}
	if err != nil {
		return ReportDetails{}, fmt.Errorf("read report details: %w", err)
	}
	if s.keys == nil {
		return ReportDetails{}, errors.New("report: no keyring to open report details with")
	}
	plain, err := s.keys.Open(body, keys.ReportCaseDetails.Table, keys.ReportCaseDetails.Name, caseID)
	if err != nil {
		return ReportDetails{}, fmt.Errorf("open report details: %w", err)
	}
	var d ReportDetails
	if err := json.Unmarshal(plain, &d); err != nil {
		return ReportDetails{}, fmt.Errorf("report details: %w", err)
	}
	at = at.UTC()
	d.UpdatedBy, d.UpdatedAt = by, &at
	return d, nil
}

// SetDetails replaces the HHS report details of incident ref's case; the
// change is audited and on the timeline.
func (s *Service) SetDetails(ctx context.Context, ref string, d ReportDetails) (ReportDetails, error) {
	actor, err := authz.Check(ctx, authz.ReportWrite)
	if err != nil {
		return ReportDetails{}, err
	}
	now := s.clock.Now()
	if err := d.Validate(now); err != nil {
		return ReportDetails{}, err
	}
	c, err := s.cases.CaseOf(ctx, s.db.R, ref)
	if err != nil {
		return ReportDetails{}, err
	}
	d.UpdatedBy, d.UpdatedAt = "", nil
	body, err := json.Marshal(d)
	if err != nil {
		return ReportDetails{}, err
	}
	if s.keys == nil {
		return ReportDetails{}, errors.New("report: no keyring to seal report details with")
	}
	sealed, err := s.keys.Seal(body, keys.ReportCaseDetails.Table, keys.ReportCaseDetails.Name, c.ID)
	if err != nil {
		return ReportDetails{}, fmt.Errorf("seal report details: %w", err)
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO report_case_details (case_id, body, updated_by, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (case_id) DO UPDATE SET body = excluded.body, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
			c.ID, sealed, actor.String(), now); err != nil {
			return fmt.Errorf("save report details: %w", err)
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "report.details", ObjectType: "incident", ObjectID: c.IncidentID,
			Change: map[string]any{"case_id": c.ID, "details": d}}); err != nil {
			return err
		}
		return s.incidents.RecordTx(ctx, tx, c.IncidentID, incident.EventBreach, "HHS report details changed by "+actor.Name+".")
	})
	if err != nil {
		return ReportDetails{}, err
	}
	d.UpdatedBy, d.UpdatedAt = actor.String(), &now
	return d, nil
}
