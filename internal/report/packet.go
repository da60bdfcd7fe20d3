package report

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/labels"
)

// The sizes of a breach the HHS portal distinguishes (45 CFR 164.408(b),
// (c)).
const (
	SizeLarge = "500_or_more"
	SizeSmall = "fewer_than_500"
)

// The kinds of HHS report.
const (
	KindInitial  = "initial"
	KindAddendum = "addendum" // corrects an earlier report, naming its tracking number
)

// Attestation is the statement the filer makes on the HHS portal.
const Attestation = "Under 45 CFR 164.408, the covered entity reports this breach to the Secretary; the person filing attests " +
	"that the information is accurate to the best of their knowledge, and that false statements may be punishable under 18 U.S.C. 1001."

// Missing is a field of the HHS report still to fill before filing.
type Missing struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Packet is the HHS breach report as the OCR breach portal asks for it
// (REGULATIONS.md section 6), filled from the case; Missing lists what
// to fill before filing.
type Packet struct {
	IncidentNumber string    `json:"incident_number"`
	CaseID         string    `json:"case_id"`
	GeneratedAt    time.Time `json:"generated_at"`
	Ready          bool      `json:"ready" doc:"Nothing is missing."`
	Missing        []Missing `json:"missing" doc:"Each field to fill before filing, and how."`
	// BreachSize: 500 or more go to HHS at once, fewer in the annual log
	// (164.408(b), (c)).
	BreachSize          string     `json:"breach_size" enum:"500_or_more,fewer_than_500"`
	HHSMode             string     `json:"hhs_mode,omitempty" enum:"immediate,annual_log,"`
	HHSDue              *time.Time `json:"hhs_due,omitempty"`
	TimeZone            string     `json:"time_zone,omitempty" example:"America/Los_Angeles" doc:"The organisation's IANA time zone, in which hhs_due's days were counted."`
	ReportKind          string     `json:"report_kind" enum:"initial,addendum"`
	PriorTrackingNumber string     `json:"prior_tracking_number,omitempty"`
	CoveredEntity       OrgProfile `json:"covered_entity"`
	// BusinessAssociateInvolved: the breach occurred at or by a business
	// associate, named in BusinessAssociate.
	BusinessAssociateInvolved bool         `json:"business_associate_involved"`
	BusinessAssociate         *ReportParty `json:"business_associate,omitempty"`
	BreachStart               *time.Time   `json:"breach_start,omitempty"`
	BreachEnd                 *time.Time   `json:"breach_end,omitempty"`
	DiscoveryStart            time.Time    `json:"discovery_start" doc:"The earlier of discovered_at and should_have_known_at (164.404(a)(2))."`
	DiscoveryEnd              time.Time    `json:"discovery_end"`
	Individuals               int          `json:"individuals" doc:"Approximate number of individuals affected."`
	BreachTypes               []string     `json:"breach_types"`
	BreachTypeOther           string       `json:"breach_type_other,omitempty"`
	Locations                 []string     `json:"locations"`
	LocationOther             string       `json:"location_other,omitempty"`
	PHITypes                  []string     `json:"phi_types"`
	PHIOther                  string       `json:"phi_other,omitempty"`
	Description               string       `json:"description"`
	Safeguards                []string     `json:"safeguards"`
	IndividualNoticeStart     *time.Time   `json:"individual_notice_start,omitempty"`
	IndividualNoticeEnd       *time.Time   `json:"individual_notice_end,omitempty"`
	SubstituteNoticeRequired  bool         `json:"substitute_notice_required" doc:"From the individuals' counts (164.404(d)(2))."`
	MediaNoticeRequired       bool         `json:"media_notice_required" doc:"Whether any State has a media obligation (164.406)."`
	ActionsTaken              []string     `json:"actions_taken"`
	ActionsOther              string       `json:"actions_other,omitempty"`
	Attestation               string       `json:"attestation"`
}

// Packet builds the HHS report packet of incident ref's case.
func (s *Service) Packet(ctx context.Context, ref string) (Packet, error) {
	if _, err := authz.Check(ctx, authz.ReportRead); err != nil {
		return Packet{}, err
	}
	c, err := s.cases.CaseOf(ctx, s.db.R, ref)
	if err != nil {
		return Packet{}, err
	}
	obs, err := s.cases.Obligations(ctx, ref)
	if err != nil {
		return Packet{}, err
	}
	counts, err := s.cases.IndividualCounts(ctx, ref)
	if err != nil {
		return Packet{}, err
	}
	org, err := s.org(ctx, s.db.R)
	if err != nil {
		return Packet{}, err
	}
	d, err := s.details(ctx, s.db.R, c.ID)
	if err != nil {
		return Packet{}, err
	}
	filings, err := s.filings(ctx, c.ID)
	if err != nil {
		return Packet{}, err
	}
	return buildPacket(c, obs, counts, org, d, filings, s.clock.Now()), nil
}

// Zone is the organisation's time zone the packet's deadline was counted
// in, to show it in; UTC when the packet names none.
func (p Packet) Zone() *time.Location {
	if loc, err := time.LoadLocation(p.TimeZone); err == nil && p.TimeZone != "" {
		return loc
	}
	return time.UTC
}

// buildPacket fills the packet from what the case holds; it is pure.
func buildPacket(c breach.Case, obs []breach.Obligation, counts breach.Counts, org OrgProfile, d ReportDetails, filings []Filing,
	now time.Time) Packet {
	p := Packet{IncidentNumber: c.IncidentNumber, CaseID: c.ID, GeneratedAt: now, ReportKind: KindInitial, Individuals: c.Facts.Individuals,
		CoveredEntity: org, BusinessAssociate: d.BusinessAssociate, BusinessAssociateInvolved: d.BusinessAssociate != nil,
		BreachStart: d.BreachStart, BreachEnd: d.BreachEnd, DiscoveryEnd: c.Facts.DiscoveredAt,
		BreachTypes: nonNil(d.BreachTypes), BreachTypeOther: d.BreachTypeOther, Locations: nonNil(d.Locations), LocationOther: d.LocationOther,
		PHITypes: nonNil(d.PHITypes), PHIOther: d.PHIOther, Description: d.Description, Safeguards: nonNil(d.Safeguards),
		ActionsTaken: nonNil(d.ActionsTaken), ActionsOther: d.ActionsOther, Attestation: Attestation, Missing: []Missing{},
		SubstituteNoticeRequired: counts.Substitute.Kind != "" && counts.Substitute.Kind != rules.SubstituteNone}
	p.CoveredEntity.UpdatedAt, p.CoveredEntity.UpdatedBy = nil, ""
	// 164.408(b): 500 or more individuals go to HHS at once; (c) fewer in
	// the annual log.
	p.BreachSize = SizeSmall
	if c.Facts.Individuals >= rules.HIPAA().HHSImmediateAtLeast {
		p.BreachSize = SizeLarge
	}
	p.DiscoveryStart, _ = c.Facts.ClockStart()
	if d.DiscoveryEnd != nil {
		p.DiscoveryEnd = *d.DiscoveryEnd
	}
	if n := len(filings); n > 0 {
		p.ReportKind, p.PriorTrackingNumber = KindAddendum, filings[n-1].TrackingNumber
	}
	miss := func(field, format string, args ...any) {
		p.Missing = append(p.Missing, Missing{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	var hhs *breach.Obligation
	for i, o := range obs {
		switch {
		case o.Recipient == rules.ToHHS:
			hhs = &obs[i]
		case o.Recipient == rules.ToMedia:
			p.MediaNoticeRequired = true
		case o.Recipient == rules.ToIndividuals && o.MetAt != nil:
			// The notice to individuals, made group by group (State by
			// State): it started with the first group met and ended with
			// the last.
			t := *o.MetAt
			if p.IndividualNoticeStart == nil || t.Before(*p.IndividualNoticeStart) {
				p.IndividualNoticeStart = &t
			}
			if p.IndividualNoticeEnd == nil || t.After(*p.IndividualNoticeEnd) {
				p.IndividualNoticeEnd = &t
			}
		}
	}
	if d.IndividualNoticeEnd != nil {
		p.IndividualNoticeEnd = d.IndividualNoticeEnd
	}
	if hhs == nil {
		miss("hhs", "the case owes no notice to HHS (%s; %s): there is nothing to file", labels.Of(string(c.Outcome)),
			strings.ToLower(labels.Of(string(c.Facts.Role))))
	} else {
		p.HHSMode = string(hhs.HHSMode)
		due := hhs.Due
		p.HHSDue = &due
		if hhs.Zone != nil {
			p.TimeZone = hhs.Zone.String()
		}
	}
	fill := func(field, value, how string) {
		if strings.TrimSpace(value) == "" {
			miss(field, "fill %s before filing (%s)", labels.ReportField(field), how)
		}
	}
	const orgHow = "in the organisation profile, which an administrator edits"
	fill("covered_entity.name", org.Name, orgHow)
	fill("covered_entity.entity_type", org.EntityType, orgHow)
	fill("covered_entity.address.street", org.Address.Street, orgHow)
	fill("covered_entity.address.city", org.Address.City, orgHow)
	fill("covered_entity.address.state", org.Address.State, orgHow)
	fill("covered_entity.address.zip", org.Address.ZIP, orgHow)
	fill("covered_entity.contact.name", org.Contact.Name, orgHow)
	fill("covered_entity.contact.phone", org.Contact.Phone, orgHow)
	fill("covered_entity.contact.email", org.Contact.Email, orgHow)
	const detailsHow = "in the HHS report details of the case"
	if d.BusinessAssociate != nil {
		fill("business_associate.name", d.BusinessAssociate.Name, detailsHow)
	}
	if d.BreachStart == nil {
		miss("breach_start", "fill %s before filing (%s)", labels.ReportField("breach_start"), detailsHow)
	}
	if d.BreachEnd == nil {
		miss("breach_end", "fill %s before filing (%s)", labels.ReportField("breach_end"), detailsHow)
	}
	if c.Facts.Individuals <= 0 {
		miss("individuals", "fill the number of individuals affected in the case's facts (an estimate is allowed) before filing")
	}
	list := func(field string, got []string, other, otherField string) {
		if len(got) == 0 {
			miss(field, "choose %s before filing (%s)", labels.ReportField(field), detailsHow)
		}
		if otherField != "" && slices.Contains(got, "other") && strings.TrimSpace(other) == "" {
			miss(otherField, "fill %s, as \"other\" is chosen for %s, before filing (%s)", labels.ReportField(otherField),
				labels.ReportField(field), detailsHow)
		}
	}
	list("breach_types", d.BreachTypes, d.BreachTypeOther, "breach_type_other")
	list("locations", d.Locations, d.LocationOther, "location_other")
	list("phi_types", d.PHITypes, d.PHIOther, "phi_other")
	list("safeguards", d.Safeguards, "", "")
	list("actions_taken", d.ActionsTaken, d.ActionsOther, "actions_other")
	fill("description", d.Description, detailsHow)
	if p.IndividualNoticeStart == nil {
		miss("individual_notice_start", "record that the individuals were notified (their letters or emails sent, or the notice marked made with its evidence) before filing")
	}
	p.Ready = len(p.Missing) == 0
	return p
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Filing is one report filed on the HHS portal.
type Filing struct {
	ID                  string    `json:"id"`
	Kind                string    `json:"kind" enum:"initial,addendum"`
	TrackingNumber      string    `json:"tracking_number"`
	PriorTrackingNumber string    `json:"prior_tracking_number,omitempty"`
	Individuals         int       `json:"individuals"`
	Packet              Packet    `json:"packet" doc:"The packet as it was when the filing was recorded."`
	FiledAt             time.Time `json:"filed_at"`
	FiledBy             string    `json:"filed_by"`
	RecordedAt          time.Time `json:"recorded_at"`
}

func (s *Service) filings(ctx context.Context, caseID string) ([]Filing, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, kind, tracking_number, prior_tracking_number, individuals, packet, filed_at, filed_by,
		recorded_at FROM report_hhs_filings WHERE case_id = $1 ORDER BY recorded_at, id`, caseID)
	if err != nil {
		return nil, fmt.Errorf("list HHS filings: %w", err)
	}
	defer rows.Close()
	out := []Filing{}
	for rows.Next() {
		var f Filing
		var packet string
		if err := rows.Scan(&f.ID, &f.Kind, &f.TrackingNumber, &f.PriorTrackingNumber, &f.Individuals, &packet, &f.FiledAt, &f.FiledBy,
			&f.RecordedAt); err != nil {
			return nil, err
		}
		plain, err := s.keys.Open(packet, keys.ReportHHSPacket.Table, keys.ReportHHSPacket.Name, f.ID)
		if err != nil {
			return nil, fmt.Errorf("open HHS filing %s: %w", f.ID, err)
		}
		if err := json.Unmarshal(plain, &f.Packet); err != nil {
			return nil, fmt.Errorf("filing %s: %w", f.ID, err)
		}
		f.FiledAt, f.RecordedAt = f.FiledAt.UTC(), f.RecordedAt.UTC()
		out = append(out, f)
	}
	return out, rows.Err()
}

// Filings lists every HHS filing of incident ref's case, oldest first.
func (s *Service) Filings(ctx context.Context, ref string) ([]Filing, error) {
	if _, err := authz.Check(ctx, authz.ReportRead); err != nil {
		return nil, err
	}
	c, err := s.cases.CaseOf(ctx, s.db.R, ref)
	if err != nil {
		return nil, err
	}
	out, err := s.filings(ctx, c.ID)
	if err != nil || len(out) == 0 {
		return out, err
	}
	// The packets hold the report details' free text: the read is
	// audited before it returns (45 CFR 164.312(b)).
	return out, s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, s.clock.Now(), audit.Event{Action: "report.hhs_filings_phi_read", ObjectType: "incident",
			ObjectID: c.IncidentID, Change: map[string]any{"case_id": c.ID, "filings": len(out)}})
		return err
	})
}

// RecordFiling records that the packet was filed on the HHS portal at
// filedAt (now when zero) under trackingNumber, the filer attesting. The
// first filing marks the case's hhs obligation met; a later one is an
// addendum naming the prior tracking number. Every filing is kept. During
// a law-enforcement hold (now, or at filedAt) it is refused unless hold
// carries the official's leave (breach.Service.CheckHoldTx).
func (s *Service) RecordFiling(ctx context.Context, ref, trackingNumber string, filedAt time.Time, attest bool,
	hold *breach.HoldOverride) (Filing, error) {
	actor, err := authz.Check(ctx, authz.ReportWrite)
	if err != nil {
		return Filing{}, err
	}
	trackingNumber = strings.TrimSpace(trackingNumber)
	if trackingNumber == "" || len(trackingNumber) > 100 {
		return Filing{}, apperr.Field("tracking_number", "is required: the number the HHS portal gave, at most 100 characters")
	}
	if !attest {
		return Filing{}, apperr.Field("attest", "the filer must attest to the report as filed (%s)", Attestation)
	}
	now := s.clock.Now()
	if filedAt.IsZero() {
		filedAt = now
	}
	if filedAt.After(now) {
		return Filing{}, apperr.Field("filed_at", "is in the future")
	}
	p, err := s.Packet(ctx, ref)
	if err != nil {
		return Filing{}, err
	}
	if !p.Ready {
		fs := make([]apperr.FieldError, len(p.Missing))
		for i, m := range p.Missing {
			fs[i] = apperr.FieldError{Field: "packet." + m.Field, Message: m.Message}
		}
		return Filing{}, &apperr.Error{Code: apperr.Invalid, Message: "the HHS report is incomplete: fill what is missing before filing", Fields: fs}
	}
	c, err := s.cases.CaseOf(ctx, s.db.R, ref)
	if err != nil {
		return Filing{}, err
	}
	f := Filing{ID: uuid.Must(uuid.NewV7()).String(), Kind: p.ReportKind, TrackingNumber: trackingNumber,
		PriorTrackingNumber: p.PriorTrackingNumber, Individuals: p.Individuals, Packet: p, FiledAt: filedAt.UTC(), FiledBy: actor.String(),
		RecordedAt: now}
	packet, err := json.Marshal(p)
	if err != nil {
		return Filing{}, err
	}
	sealed, err := s.keys.Seal(packet, keys.ReportHHSPacket.Table, keys.ReportHHSPacket.Name, f.ID)
	if err != nil {
		return Filing{}, err
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		var dup, prior int
		if err := tx.QueryRowContext(ctx, `SELECT count(*), COALESCE(sum(CASE WHEN tracking_number = $2 THEN 1 ELSE 0 END), 0)
			FROM report_hhs_filings WHERE case_id = $1`, c.ID, trackingNumber).Scan(&prior, &dup); err != nil {
			return fmt.Errorf("read HHS filings: %w", err)
		}
		if dup > 0 {
			return apperr.New(apperr.Conflict, "tracking number %s is recorded already on this case", trackingNumber)
		}
		if (prior == 0) != (f.Kind == KindInitial) {
			return apperr.New(apperr.Conflict, "another filing of this case was recorded meanwhile: read the packet again")
		}
		if err := s.cases.CheckHoldTx(ctx, tx, c, "Recording the HHS filing", f.FiledAt, hold); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO report_hhs_filings (id, case_id, kind, tracking_number, prior_tracking_number, individuals,
			packet, filed_at, filed_by, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, f.ID, c.ID, f.Kind, f.TrackingNumber,
			f.PriorTrackingNumber, f.Individuals, sealed, f.FiledAt, f.FiledBy, now); err != nil {
			return fmt.Errorf("save HHS filing: %w", err)
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "report.hhs_filing", ObjectType: "incident", ObjectID: c.IncidentID,
			Change: map[string]any{"case_id": c.ID, "filing_id": f.ID, "kind": f.Kind, "tracking_number": f.TrackingNumber,
				"prior_tracking_number": f.PriorTrackingNumber, "individuals": f.Individuals}}); err != nil {
			return err
		}
		note := fmt.Sprintf("HHS breach report (%s) filed, tracking number %s, recorded by %s.", f.Kind, f.TrackingNumber, actor.Name)
		if f.Kind == KindAddendum {
			note = fmt.Sprintf("HHS breach report addendum to %s filed, tracking number %s, recorded by %s.", f.PriorTrackingNumber,
				f.TrackingNumber, actor.Name)
		}
		if err := s.incidents.RecordTx(ctx, tx, c.IncidentID, incident.EventBreach, note); err != nil {
			return err
		}
		// The notice to the Secretary was made (164.408): the hhs
		// obligation is met, once, in the same transaction as the filing.
		if p.HHSMode != "" && f.Kind == KindInitial {
			_, err := s.cases.MarkMetTx(ctx, tx, ref, breach.Met{Key: string(rules.ToHHS), At: f.FiledAt, HoldChecked: true,
				Reason: fmt.Sprintf("the HHS breach portal filing recorded by %s, tracking number %s", actor.Name, f.TrackingNumber)})
			if e, ok := apperr.As(err); ok && (e.Code == apperr.Conflict || e.Code == apperr.NotFound) {
				return nil // met already by hand, or not owed
			}
			return err
		}
		return nil
	})
	if err != nil {
		return Filing{}, err
	}
	return f, nil
}
