package api

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/notice"
)

// BreachCase is a breach case as the API shows it.
type BreachCase struct {
	ID             string      `json:"id"`
	IncidentID     string      `json:"incident_id"`
	IncidentNumber string      `json:"incident_number"`
	Facts          BreachFacts `json:"facts" doc:"What the obligations depend on (docs/BREACH.md)."`
	// ByStateEstimates are the figures of Facts.ByState typed by hand.
	ByStateEstimates map[string]int `json:"by_state_estimates" doc:"The figures of facts.by_state typed by hand (PUT, PATCH, the form); every other State's is counted from the imported individuals, which stay authoritative."`
	Outcome          string         `json:"outcome" enum:"pending,not_breach_secured,not_breach_exception,notification_required,low_probability_of_compromise" doc:"The latest signed determination's; pending: breach is presumed (164.402(2))."`
	OpenedBy         string         `json:"opened_by"`
	CreatedAt        time.Time      `json:"created_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
	Version          int64          `json:"version"`
	Redacted         bool           `json:"phi_redacted,omitempty" doc:"The facts' free text (the law-enforcement official and agency, the customers' names and references) was withheld: the caller's role may not read PHI."`
}

// BreachFacts are a case's facts as the API shows them: a date not set is
// null.
type BreachFacts struct {
	Role                 rules.Role                 `json:"role" enum:"covered_entity,business_associate,both,phr_vendor"`
	DiscoveredAt         *time.Time                 `json:"discovered_at" doc:"When the breach was known to the workforce (164.404(a)(2)); null if not recorded."`
	ShouldHaveKnownAt    *time.Time                 `json:"should_have_known_at" doc:"When it would have been known with reasonable diligence; null if not recorded."`
	NotificationRequired bool                       `json:"notification_required" doc:"The determination's result; true while it is pending (164.402(2))."`
	Individuals          int                        `json:"individuals" doc:"Affected in total."`
	ByState              map[string]int             `json:"by_state,omitempty" doc:"Residents per jurisdiction, by two-letter code (GET /breach/jurisdictions)."`
	Customers            []rules.Customer           `json:"customers,omitempty"`
	Delay                *rules.LawEnforcementDelay `json:"law_enforcement_delay,omitempty"`
	Tags                 []string                   `json:"tags,omitempty" doc:"Case tags (GET /breach/case-tags)."`
}

// timeOrNull is t, or nil when t is not set.
func timeOrNull(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func factsOut(f rules.Facts) BreachFacts {
	return BreachFacts{Role: f.Role, DiscoveredAt: timeOrNull(f.DiscoveredAt), ShouldHaveKnownAt: timeOrNull(f.ShouldHaveKnownAt),
		NotificationRequired: f.NotificationRequired, Individuals: f.Individuals, ByState: f.ByState, Customers: f.Customers, Delay: f.Delay,
		Tags: f.Tags}
}

func caseOut(c breach.Case) BreachCase {
	est := c.Estimates
	if est == nil {
		est = map[string]int{}
	}
	return BreachCase{ID: c.ID, IncidentID: c.IncidentID, IncidentNumber: c.IncidentNumber, Facts: factsOut(c.Facts), ByStateEstimates: est,
		Outcome: c.Outcome, OpenedBy: c.OpenedBy, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, Version: c.Version, Redacted: c.Redacted}
}

// BreachDetermination is one signed version of a determination.
type BreachDetermination struct {
	Version  int                 `json:"version"`
	Body     rules.Determination `json:"determination"`
	Outcome  string              `json:"outcome"`
	Citation string              `json:"citation"`
	Why      string              `json:"why"`
	Reason   string              `json:"reason,omitempty"`
	SignedBy string              `json:"signed_by"`
	SignedAt time.Time           `json:"signed_at"`
	Redacted bool                `json:"phi_redacted,omitempty" doc:"determination (the officer's findings and rationale), why (which quotes the rationale) and reason were withheld: the caller's role may not read PHI. outcome and citation stay."`
}

func determinationOut(d breach.Determination) BreachDetermination {
	return BreachDetermination{Version: d.Version, Body: d.Body, Outcome: string(d.Result.Outcome), Citation: d.Result.Citation,
		Why: d.Result.Why, Reason: d.Reason, SignedBy: d.SignedBy, SignedAt: d.SignedAt, Redacted: d.Redacted}
}

// BreachObligation is one notice a case owes.
type BreachObligation struct {
	rules.Obligation
	IncidentNumber string     `json:"incident_number"`
	State          string     `json:"state" enum:"open,held,overdue,met"`
	MetAt          *time.Time `json:"met_at,omitempty"`
	MetBy          string     `json:"met_by,omitempty"`
	MetReason      string     `json:"met_reason,omitempty" doc:"Why it was marked met: the reason given by hand, or the record that met it (the HHS filing, the last notice sent)."`
	// MetReasonRedacted: MetReason was withheld.
	MetReasonRedacted bool   `json:"met_reason_redacted,omitempty" doc:"met_reason was withheld: the caller's role may not read PHI."`
	TimeZone          string `json:"time_zone" example:"America/Los_Angeles" doc:"The organisation's IANA time zone, in which the deadline's calendar days, business days and end of day were counted (GET /breach/organisation)."`
	DueLocal          string `json:"due_local" example:"2026-05-02T23:59:59.999999-07:00" doc:"due, the same instant, as a wall-clock time with its offset in time_zone (RFC 3339)."`
	// Owed and Notified, on an individual notice to a group listed on the
	// case: how many individuals of the group are owed a notice and how
	// many are recorded as notified.
	Owed     *int `json:"owed,omitempty" doc:"Individual notice: the group's individuals on the case's list who are owed a notice."`
	Notified *int `json:"notified,omitempty" doc:"Individual notice: of those, how many are recorded as notified (a notice sent, or covered by a substitute notice that started)."`
}

// DeterminationDraft is an officer's draft of a case's determination.
type DeterminationDraft struct {
	Answers map[string]string `json:"answers" doc:"By question, as the determination wizard names them: exception_claim, exception_kind, exception_no_further_impermissible_use, exception_rationale, secured_claim, secured_method, secured_standard, secured_key_compromised, secured_accessible_decrypted, secured_rationale, path, factor0_answer to factor3_answer, factor0_rationale to factor3_rationale, assessment_outcome, assessment_rationale, ransomware, assessment_ransomware_variant, assessment_ransomware_exfiltration, assessment_ransomware_spread, reason. Each at most 20,000 characters."`
}

// SignatureRequest is a request to the Privacy Officers to sign a case's
// determination.
type SignatureRequest struct {
	Messages     int       `json:"messages" doc:"The reminders queued: 0 when no Privacy Officer has a verified contact method, and nobody was reached."`
	AskAgainFrom time.Time `json:"ask_again_from" doc:"When the caller may ask again for this case."`
}

func obligationsOut(obs []breach.Obligation, progress map[string]notice.Progress) []BreachObligation {
	out := make([]BreachObligation, len(obs))
	for i, o := range obs {
		zone := o.Zone
		if zone == nil {
			zone = time.UTC
		}
		out[i] = BreachObligation{Obligation: o.Obligation, IncidentNumber: o.IncidentNumber, State: o.State, MetAt: o.MetAt, MetBy: o.MetBy,
			MetReason: o.MetReason, MetReasonRedacted: o.MetReasonRedacted, TimeZone: zone.String(),
			DueLocal: o.Due.In(zone).Format(time.RFC3339Nano)}
		if p, ok := progress[o.Key]; ok && o.Recipient == rules.ToIndividuals {
			out[i].Owed, out[i].Notified = &p.Owed, &p.Notified
		}
	}
	return out
}

// HoldOverride is a law-enforcement official's leave to make or record a
// notice during their hold (45 CFR 164.412).
type HoldOverride struct {
	Official string `json:"official" maxLength:"200" doc:"The law-enforcement official who allowed the notice despite the hold."`
	Reason   string `json:"reason" maxLength:"1000" doc:"Why the notice goes out during the hold, at least 10 characters."`
}

// override is o for the services; nil stays nil.
func (o *HoldOverride) override() *breach.HoldOverride {
	if o == nil {
		return nil
	}
	return &breach.HoldOverride{Official: o.Official, Reason: o.Reason}
}

// factsBody is the case's facts as a client sends them; the
// determination's result is not among them.
type factsBody struct {
	Role              rules.Role                 `json:"role" enum:"covered_entity,business_associate,both,phr_vendor"`
	DiscoveredAt      time.Time                  `json:"discovered_at" doc:"When the breach was known to the workforce (164.404(a)(2))."`
	ShouldHaveKnownAt time.Time                  `json:"should_have_known_at" doc:"When it would have been known with reasonable diligence; the clock starts at the earlier."`
	Individuals       int                        `json:"individuals,omitempty" doc:"Affected in total (an estimate until counted)."`
	ByState           map[string]int             `json:"by_state,omitempty" doc:"Residents per State or jurisdiction, by two-letter code."`
	Customers         []BreachFactsCustomer      `json:"customers,omitempty" doc:"Covered-entity customers to notify as their business associate, with each agreement's notice term."`
	Delay             *rules.LawEnforcementDelay `json:"law_enforcement_delay,omitempty" doc:"164.412: written (until a date) or oral (documented, at most 30 days)."`
	Tags              []caseTag                  `json:"tags,omitempty" doc:"Case tags that select State rules (GET /breach/case-tags)."`
}

// caseTag is a case tag's id: its schema enumerates the tags Ward knows
// (rules.Tags).
type caseTag string

// Schema makes the tag an enumeration in the OpenAPI document.
func (caseTag) Schema(huma.Registry) *huma.Schema {
	s := &huma.Schema{Type: huma.TypeString, Description: "A case tag (GET /breach/case-tags)."}
	for _, t := range rules.Tags() {
		s.Enum = append(s.Enum, t.Tag)
	}
	return s
}

func tagsIn(ts []caseTag) []string {
	if ts == nil {
		return nil
	}
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = string(t)
	}
	return out
}

// factsPatchBody is a partial change of the case's facts (PATCH): a fact
// absent stays as it is, null clears it; by_state changes per State (a
// State set to null is removed; by_state null removes every figure typed by
// hand). The dates notices were made are not facts (Ward reads them from
// the notices and the HHS filing it records), so individual_notice_at and
// hhs_notice_at are refused like any property the schema does not name
// (422), rather than taken as a fact to patch.
type factsPatchBody struct {
	Role              *rules.Role           `json:"role,omitempty" enum:"covered_entity,business_associate,both,phr_vendor"`
	DiscoveredAt      *time.Time            `json:"discovered_at,omitempty" nullable:"true" doc:"When the breach was known to the workforce (164.404(a)(2)); not in the future."`
	ShouldHaveKnownAt *time.Time            `json:"should_have_known_at,omitempty" nullable:"true" doc:"When it would have been known with reasonable diligence; not in the future."`
	Individuals       *int                  `json:"individuals,omitempty" nullable:"true" doc:"Affected in total: at least the imported individuals plus the figures typed for States not on the list."`
	ByState           map[string]*int       `json:"by_state,omitempty" nullable:"true" doc:"Residents per jurisdiction typed by hand, by two-letter code: each State given is set (null removes it), others stay. A State of the imported individuals keeps the list's count."`
	Customers         []BreachFactsCustomer `json:"customers,omitempty" doc:"Replaces the customers to notify."`
	Delay             *delayInput           `json:"law_enforcement_delay,omitempty" nullable:"true" doc:"Replaces the law-enforcement delay (164.412); null: none."`
	Tags              []caseTag             `json:"tags,omitempty" doc:"Replaces the case tags."`
	// sent are the names of the facts the body holds, null or not.
	sent map[string]json.RawMessage
}

// UnmarshalJSON reads the body and which facts it names: a fact sent as
// null reads like one absent, and only sent tells them apart.
func (b *factsPatchBody) UnmarshalJSON(data []byte) error {
	type plain factsPatchBody
	if err := json.Unmarshal(data, (*plain)(b)); err != nil {
		return err
	}
	return json.Unmarshal(data, &b.sent)
}

// delayInput is a law-enforcement delay that may be sent as null.
type delayInput rules.LawEnforcementDelay

// Schema is rules.LawEnforcementDelay's, nullable.
func (delayInput) Schema(r huma.Registry) *huma.Schema {
	s := *r.SchemaFromRef(r.Schema(reflect.TypeFor[rules.LawEnforcementDelay](), true, "").Ref)
	s.Nullable = true
	return &s
}

// patch turns the body into a breach.FactsPatch.
func (b factsPatchBody) patch() breach.FactsPatch {
	var p breach.FactsPatch
	for name := range b.sent {
		if name != "by_state" {
			p.Set = append(p.Set, name)
		}
	}
	if b.Role != nil {
		p.To.Role = *b.Role
	}
	if b.DiscoveredAt != nil {
		p.To.DiscoveredAt = *b.DiscoveredAt
	}
	if b.ShouldHaveKnownAt != nil {
		p.To.ShouldHaveKnownAt = *b.ShouldHaveKnownAt
	}
	if b.Individuals != nil {
		p.To.Individuals = *b.Individuals
	}
	for _, c := range b.Customers {
		p.To.Customers = append(p.To.Customers, rules.Customer(c))
	}
	if b.Delay != nil {
		d := rules.LawEnforcementDelay(*b.Delay)
		p.To.Delay = &d
	}
	p.To.Tags = tagsIn(b.Tags)
	if v, ok := b.sent["by_state"]; ok && string(v) == "null" {
		p.ClearByState = true
	}
	p.ByState = b.ByState
	return p
}

// BreachFactsCustomer is a covered-entity customer named in a case's
// facts: a registry customer's id fills its name and the notice term of
// its agreement, unless given here for this case.
type BreachFactsCustomer struct {
	ID     string      `json:"id" minLength:"1" maxLength:"100" doc:"A registry customer's id (GET /breach/parties), or any other reference."`
	Name   string      `json:"name,omitempty" maxLength:"200"`
	Notice *rules.Term `json:"notice,omitempty" doc:"The agreement's notice term; absent, the registry's, else 164.410(b)'s 60 days."`
}

func (b factsBody) facts() rules.Facts {
	var customers []rules.Customer
	for _, c := range b.Customers {
		customers = append(customers, rules.Customer(c))
	}
	f := rules.Facts{Role: b.Role, DiscoveredAt: b.DiscoveredAt, ShouldHaveKnownAt: b.ShouldHaveKnownAt, Individuals: b.Individuals,
		ByState: b.ByState, Customers: customers, Delay: b.Delay, Tags: tagsIn(b.Tags)}
	return f
}

// determinationBody is a determination as the officer sends it; the
// signature is theirs, added by Ward.
type determinationBody struct {
	Secured                 *rules.Secured    `json:"secured,omitempty" doc:"The safe-harbor claim: encrypted (per HHS guidance, key not compromised) or destroyed."`
	Exception               *rules.Exception  `json:"exception,omitempty" doc:"A 164.402(1)(i)-(iii) exception claimed."`
	NotifyWithoutAssessment bool              `json:"notify_without_assessment,omitempty" doc:"Notify without a risk assessment: a valid, recorded choice."`
	Assessment              *rules.Assessment `json:"assessment,omitempty" doc:"The four-factor risk assessment of 164.402(2), a finding and rationale per factor."`
}

func (b determinationBody) determination() rules.Determination {
	return rules.Determination{Secured: b.Secured, Exception: b.Exception, NotifyWithoutAssessment: b.NotifyWithoutAssessment,
		Assessment: b.Assessment}
}

// IndividualsUploadTime is how long one import request may take to send
// its list and be answered: a list of a million individuals takes about a
// minute to import, longer than the server's usual read and write
// timeouts.
const IndividualsUploadTime = 30 * time.Minute

// individualsUpload is an import request: the CSV list is not read into
// memory but streamed from the request body into the import.
type individualsUpload struct {
	ID     string `path:"id" maxLength:"100"`
	SHA256 string `query:"sha256" maxLength:"64" doc:"The SHA-256 of the whole file, in hex: an unfinished import of the same file into this case resumes after its last committed line."`
	body   io.Reader
}

// Resolve takes the body as a stream and lifts the server's deadlines
// for this request.
func (u *individualsUpload) Resolve(ctx huma.Context) []error {
	u.body = ctx.BodyReader()
	_, w := humago.Unwrap(ctx)
	rc := http.NewResponseController(w)
	until := time.Now().Add(IndividualsUploadTime)
	_ = rc.SetReadDeadline(until)
	_ = rc.SetWriteDeadline(until)
	return nil
}

// IndividualsImport is what an import of affected individuals did. The
// problems name lines and fields, never the values.
type IndividualsImport struct {
	ID          string              `json:"id"`
	Resumed     bool                `json:"resumed,omitempty" doc:"An unfinished import of the same file (sha256) went on after its last committed line."`
	Rows        int                 `json:"rows" doc:"Data rows read, the header not counted."`
	Created     int                 `json:"created"`
	Updated     int                 `json:"updated" doc:"Rows already on the case (same name, date of birth and address), replaced."`
	Rejected    int                 `json:"rejected"`
	Problems    []breach.RowProblem `json:"problems" doc:"Each rejected row's line, field and reason."`
	Counts      IndividualCounts    `json:"counts"`
	Obligations int                 `json:"obligations" doc:"The case's notice obligations after its facts were updated."`
}

// IndividualsImportStatus is one import of a list and how far it got.
type IndividualsImportStatus struct {
	ID         string     `json:"id"`
	ImportedBy string     `json:"imported_by"`
	StartedAt  time.Time  `json:"started_at"`
	UpdatedAt  time.Time  `json:"updated_at" doc:"When its last batch committed."`
	FinishedAt *time.Time `json:"finished_at,omitempty" doc:"Absent: under way, or interrupted (import the same file with its sha256 to resume)."`
	Lines      int        `json:"rows" doc:"Data rows committed."`
	Created    int        `json:"created"`
	Updated    int        `json:"updated"`
	Rejected   int        `json:"rejected"`
	SHA256     string     `json:"sha256,omitempty"`
}

// IndividualStateCount counts the affected individuals of one State.
type IndividualStateCount struct {
	State                        string `json:"state" doc:"Two-letter code; empty for records with no State."`
	Individuals                  int    `json:"individuals"`
	InsufficientContact          int    `json:"insufficient_contact" doc:"Living, with no postal address and no email consented to (164.404(d)(2))."`
	Deceased                     int    `json:"deceased"`
	DeceasedWithNextOfKinAddress int    `json:"deceased_with_next_of_kin_address"`
}

// IndividualCounts counts a case's affected individuals; it holds no PHI.
type IndividualCounts struct {
	Individuals                     int                    `json:"individuals"`
	InsufficientContact             int                    `json:"insufficient_contact"`
	Deceased                        int                    `json:"deceased"`
	DeceasedWithNextOfKinAddress    int                    `json:"deceased_with_next_of_kin_address"`
	DeceasedWithoutNextOfKinAddress int                    `json:"deceased_without_next_of_kin_address" doc:"No substitute notice is owed them (164.404(d)(2))."`
	ByState                         []IndividualStateCount `json:"by_state"`
	Substitute                      rules.Substitute       `json:"substitute" doc:"The substitute notice insufficient_contact obliges: fewer than 10, alternative; 10 or more, conspicuous (164.404(d)(2))."`
}

func countsOut(c breach.Counts) IndividualCounts {
	out := IndividualCounts{Individuals: c.Individuals, InsufficientContact: c.InsufficientContact, Deceased: c.Deceased,
		DeceasedWithNextOfKinAddress: c.DeceasedWithNextOfKinAddress, DeceasedWithoutNextOfKinAddress: c.DeceasedWithoutNextOfKinAddress,
		ByState: make([]IndividualStateCount, len(c.ByState)), Substitute: c.Substitute}
	for i, st := range c.ByState {
		out.ByState[i] = IndividualStateCount(st)
	}
	return out
}

// AffectedIndividual is one affected individual; person is absent, and
// phi_redacted set, for a caller whose role may not see PHI.
type AffectedIndividual struct {
	ID                  string         `json:"id"`
	State               string         `json:"state"`
	HasAddress          bool           `json:"has_address"`
	HasEmail            bool           `json:"has_email"`
	Deceased            bool           `json:"deceased"`
	HasNextOfKinAddress bool           `json:"has_next_of_kin_address"`
	ConsentElectronic   bool           `json:"consent_electronic"`
	Customer            string         `json:"customer,omitempty"`
	Person              *breach.Person `json:"person,omitempty"`
	PHIRedacted         bool           `json:"phi_redacted,omitempty"`
	CreatedAt           time.Time      `json:"created_at"`
	UpdatedAt           time.Time      `json:"updated_at"`
}

func (h handler) registerIndividuals(api huma.API, tag string) {
	imp := tagged(op("import-breach-individuals", http.MethodPost, "/incidents/{id}/breach-case/individuals/import",
		"Import affected individuals from a CSV list; bad rows are reported, the case's counts and obligations updated",
		http.StatusOK, authz.BreachWrite), tag)
	imp.MaxBodyBytes = -1 // streamed: never read into memory whole
	imp.RequestBody = &huma.RequestBody{Required: true, Description: "The list, as CSV (UTF-8 or Windows-1252), of any length: it is streamed.",
		Content: map[string]*huma.MediaType{"text/csv": {Schema: &huma.Schema{Type: huma.TypeString}}}}
	huma.Register(api, imp, func(ctx context.Context, in *individualsUpload) (*struct{ Body IndividualsImport }, error) {
		res, err := h.Breach.ImportIndividualsWith(ctx, in.ID, in.body, breach.ImportOptions{SHA256: in.SHA256})
		if err != nil {
			return nil, h.fail(ctx, "body", err)
		}
		probs := res.Problems
		if probs == nil {
			probs = []breach.RowProblem{}
		}
		return &struct{ Body IndividualsImport }{IndividualsImport{ID: res.ID, Resumed: res.Resumed, Rows: res.Lines, Created: res.Created,
			Updated: res.Updated, Rejected: res.Rejected, Problems: probs, Counts: countsOut(res.Counts), Obligations: res.Obligations}}, nil
	})
	huma.Register(api, tagged(op("recount-breach-individuals", http.MethodPost, "/incidents/{id}/breach-case/individuals/recount",
		"Count the case's individuals again, set its individuals and by_state facts from them and recompute its obligations",
		http.StatusOK, authz.BreachWrite), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body IndividualCounts }, error) {
			cnt, _, err := h.Breach.Recount(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body IndividualCounts }{countsOut(cnt)}, nil
		})
	huma.Register(api, tagged(op("list-breach-individual-imports", http.MethodGet, "/incidents/{id}/breach-case/individuals/imports",
		"The case's latest imports of affected individuals and how far each got (no PHI)", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body []IndividualsImportStatus }, error) {
			list, err := h.Breach.Imports(ctx, in.ID, 20)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &struct{ Body []IndividualsImportStatus }{Body: make([]IndividualsImportStatus, len(list))}
			for i, st := range list {
				out.Body[i] = IndividualsImportStatus{ID: st.ID, ImportedBy: st.ImportedBy, StartedAt: st.StartedAt, UpdatedAt: st.UpdatedAt,
					FinishedAt: st.FinishedAt, Lines: st.Lines, Created: st.Created, Updated: st.Updated, Rejected: st.Rejected, SHA256: st.SHA256}
			}
			return out, nil
		})
	huma.Register(api, tagged(op("breach-individual-counts", http.MethodGet, "/incidents/{id}/breach-case/individuals/counts",
		"The case's affected individuals counted per State, with contact and substitute-notice counts (no PHI)", http.StatusOK,
		authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body IndividualCounts }, error) {
			c, err := h.Breach.IndividualCounts(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body IndividualCounts }{countsOut(c)}, nil
		})
	huma.Register(api, tagged(op("list-breach-individuals", http.MethodGet, "/incidents/{id}/breach-case/individuals",
		"A page of the case's affected individuals; their PHI only for roles that may read it, and that read is audited",
		http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *struct {
			ID    string `path:"id" maxLength:"100"`
			After string `query:"after" maxLength:"100" doc:"The next cursor of the previous page."`
			Limit int    `query:"limit" minimum:"0" maximum:"500" doc:"At most this many; default 500."`
		}) (*struct {
			Body struct {
				Individuals []AffectedIndividual `json:"individuals"`
				Next        string               `json:"next,omitempty" doc:"Pass as after for the next page; absent on the last."`
			}
		}, error) {
			list, next, err := h.Breach.Individuals(ctx, in.ID, in.After, in.Limit)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			out := &struct {
				Body struct {
					Individuals []AffectedIndividual `json:"individuals"`
					Next        string               `json:"next,omitempty" doc:"Pass as after for the next page; absent on the last."`
				}
			}{}
			out.Body.Next = next
			out.Body.Individuals = make([]AffectedIndividual, len(list))
			for i, x := range list {
				out.Body.Individuals[i] = AffectedIndividual{ID: x.ID, State: x.State, HasAddress: x.HasAddress, HasEmail: x.HasEmail,
					Deceased: x.Deceased, HasNextOfKinAddress: x.HasNextOfKinAddress, ConsentElectronic: x.ConsentElectronic,
					Customer: x.Customer, Person: x.Person, PHIRedacted: x.Redacted, CreatedAt: x.CreatedAt, UpdatedAt: x.UpdatedAt}
			}
			return out, nil
		})
}

func (h handler) registerBreach(api huma.API) {
	const tag = "breach"
	type caseOutput struct{ Body BreachCase }
	huma.Register(api, tagged(op("open-breach-case", http.MethodPost, "/incidents/{id}/breach-case",
		"Open the incident's breach case; breach is presumed until a determination is signed", http.StatusCreated, authz.BreachWrite), tag),
		func(ctx context.Context, in *idPath) (*caseOutput, error) {
			c, err := h.Breach.Open(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &caseOutput{caseOut(c)}, nil
		})
	huma.Register(api, tagged(op("get-breach-case", http.MethodGet, "/incidents/{id}/breach-case", "The incident's breach case",
		http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*caseOutput, error) {
			c, err := h.Breach.Get(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &caseOutput{caseOut(c)}, nil
		})
	huma.Register(api, tagged(op("set-breach-facts", http.MethodPut, "/incidents/{id}/breach-case/facts",
		"Replace the case's facts; its obligations are recomputed", http.StatusOK, authz.BreachWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body factsBody
		}) (*caseOutput, error) {
			c, err := h.Breach.SetFacts(ctx, in.ID, in.Body.facts())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &caseOutput{caseOut(c)}, nil
		})
	huma.Register(api, tagged(op("patch-breach-facts", http.MethodPatch, "/incidents/{id}/breach-case/facts",
		"Change some of the case's facts: absent is unchanged, null clears; its obligations are recomputed", http.StatusOK,
		authz.BreachWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body factsPatchBody
		}) (*caseOutput, error) {
			c, err := h.Breach.PatchFacts(ctx, in.ID, in.Body.patch())
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &caseOutput{caseOut(c)}, nil
		})
	huma.Register(api, tagged(op("list-breach-determinations", http.MethodGet, "/incidents/{id}/breach-case/determinations",
		"Every signed version of the case's determination", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body []BreachDetermination }, error) {
			ds, err := h.Breach.Determinations(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			out := &struct{ Body []BreachDetermination }{Body: make([]BreachDetermination, len(ds))}
			for i, d := range ds {
				out.Body[i] = determinationOut(d)
			}
			return out, nil
		})
	huma.Register(api, tagged(op("sign-breach-determination", http.MethodPost, "/incidents/{id}/breach-case/determinations",
		"Sign a new version of the determination (the Privacy Officer); a signed version never changes", http.StatusCreated,
		authz.BreachSign), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body struct {
				Determination determinationBody `json:"determination" doc:"In the rule's order: secured, exception, or the four-factor assessment, or notify_without_assessment. The signature is the caller's."`
				Reason        string            `json:"reason,omitempty" maxLength:"2000" doc:"Why a new version: required after the first."`
			}
		}) (*struct{ Body BreachDetermination }, error) {
			d, err := h.Breach.Determine(ctx, in.ID, in.Body.Determination.determination(), in.Body.Reason)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body BreachDetermination }{determinationOut(d)}, nil
		})
	huma.Register(api, tagged(op("get-breach-determination-draft", http.MethodGet, "/incidents/{id}/breach-case/determination-draft",
		"The caller's own draft of the case's determination, as the wizard keeps it: answers by question (empty when none). "+
			"Sealed at rest; reading it is audited", http.StatusOK, authz.BreachSign), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body DeterminationDraft }, error) {
			answers, err := h.Breach.Draft(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body DeterminationDraft }{DeterminationDraft{Answers: answers}}, nil
		})
	huma.Register(api, tagged(op("save-breach-determination-draft", http.MethodPatch, "/incidents/{id}/breach-case/determination-draft",
		"Save answers to the caller's draft of the case's determination, over what it held: an answer replaces its question's, "+
			"an empty one clears it. Nothing is signed or decided; signing deletes the draft. Audited with the questions changed, never their text",
		http.StatusOK, authz.BreachSign), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body DeterminationDraft
		}) (*struct{ Body DeterminationDraft }, error) {
			answers, err := h.Breach.SaveDraft(ctx, in.ID, in.Body.Answers)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body DeterminationDraft }{DeterminationDraft{Answers: answers}}, nil
		})
	huma.Register(api, tagged(op("discard-breach-determination-draft", http.MethodDelete, "/incidents/{id}/breach-case/determination-draft",
		"Discard the caller's draft of the case's determination; audited. 404 when there is none", http.StatusNoContent, authz.BreachSign), tag),
		func(ctx context.Context, in *idPath) (*struct{}, error) {
			found, err := h.Breach.DiscardDraft(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			if !found {
				return nil, huma.Error404NotFound("you have no draft of this determination")
			}
			return nil, nil
		})
	huma.Register(api, tagged(op("ask-breach-signers", http.MethodPost, "/incidents/{id}/breach-case/signature-requests",
		"Ask the Privacy Officers, who alone may sign, to sign the case's determination: a reminder on each one's verified contact methods "+
			"(the incident number, nothing else), on the timeline and audited. Once per case and caller every 15 minutes; sooner is 429",
		http.StatusCreated, authz.IncidentWrite), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body SignatureRequest }, error) {
			asked, err := h.Reports.AskToSign(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body SignatureRequest }{SignatureRequest{Messages: asked.Messages, AskAgainFrom: asked.Again}}, nil
		})
	huma.Register(api, tagged(op("list-breach-obligations", http.MethodGet, "/incidents/{id}/breach-case/obligations",
		"The case's notice obligations, earliest due first, each with its citation and why it applies", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, in *idPath) (*struct{ Body []BreachObligation }, error) {
			obs, err := h.Breach.Obligations(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			progress, err := h.Notices.IndividualProgress(ctx, in.ID)
			if err != nil {
				return nil, h.fail(ctx, "path", err)
			}
			return &struct{ Body []BreachObligation }{obligationsOut(obs, progress)}, nil
		})
	huma.Register(api, tagged(op("meet-breach-obligation", http.MethodPost, "/incidents/{id}/breach-case/obligations/met",
		"Record by hand, with the evidence, that a notice obligation was met (the notice was made); audited and on the timeline",
		http.StatusOK, authz.BreachWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body struct {
				Obligation   string        `json:"obligation" minLength:"1" maxLength:"200" doc:"Its key, such as individuals:CA, hhs, media:CA."`
				MetAt        time.Time     `json:"met_at,omitempty" doc:"When the notice was made; default now."`
				Reason       string        `json:"reason" maxLength:"1000" doc:"What shows the notice was made, at least 10 characters."`
				HoldOverride *HoldOverride `json:"hold_override,omitempty" doc:"Required when a law-enforcement hold is in force now or at met_at (45 CFR 164.412)."`
			}
		}) (*struct{ Body BreachObligation }, error) {
			o, err := h.Breach.MarkMet(ctx, in.ID, breach.Met{Key: in.Body.Obligation, At: in.Body.MetAt, Reason: in.Body.Reason,
				Hold: in.Body.HoldOverride.override()})
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body BreachObligation }{obligationsOut([]breach.Obligation{o}, nil)[0]}, nil
		})
	huma.Register(api, tagged(op("reopen-breach-obligation", http.MethodPost, "/incidents/{id}/breach-case/obligations/reopen",
		"Undo the marking of a notice obligation as met, with the reason: it is owed again; audited and on the timeline",
		http.StatusOK, authz.BreachWrite), tag),
		func(ctx context.Context, in *struct {
			ID   string `path:"id" maxLength:"100"`
			Body struct {
				Obligation string `json:"obligation" minLength:"1" maxLength:"200" doc:"Its key, such as individuals:CA, hhs, media:CA."`
				Reason     string `json:"reason" maxLength:"1000" doc:"Why it is owed again, at least 10 characters."`
			}
		}) (*struct{ Body BreachObligation }, error) {
			o, err := h.Breach.Reopen(ctx, in.ID, in.Body.Obligation, in.Body.Reason)
			if err != nil {
				return nil, h.fail(ctx, "body", err)
			}
			return &struct{ Body BreachObligation }{obligationsOut([]breach.Obligation{o}, nil)[0]}, nil
		})
	huma.Register(api, tagged(op("breach-deadline-board", http.MethodGet, "/breach-deadlines",
		"Every unmet notice obligation of every case, earliest due first", http.StatusOK, authz.IncidentRead), tag),
		func(ctx context.Context, _ *struct{}) (*struct{ Body []BreachObligation }, error) {
			obs, err := h.Breach.Board(ctx)
			if err != nil {
				return nil, h.fail(ctx, "query", err)
			}
			return &struct{ Body []BreachObligation }{obligationsOut(obs, nil)}, nil
		})
	h.registerIndividuals(api, tag)
	h.registerParties(api, tag)
	h.registerStateTable(api, tag)
}
