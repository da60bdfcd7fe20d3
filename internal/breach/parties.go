package breach

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/db"
)

// The kinds of party in the registry.
const (
	// PartyCustomer is a covered entity whose PHI we hold as its business
	// associate: we owe it notice of a breach (45 CFR 164.410).
	PartyCustomer = "customer"
	// PartyBusinessAssociate is our vendor holding PHI for us: it owes us
	// notice (164.410), and its discovery may start our clock
	// (164.404(a)(2), when it acts as our agent).
	PartyBusinessAssociate = "business_associate"
)

// Party is a customer or business associate with the notice terms of its
// business associate agreement (BAA) or master services agreement (MSA).
type Party struct {
	ID        string
	Kind      string
	Name      string
	Agreement string      // the BAA / MSA, e.g. "BAA 2024-03, section 4.2"
	Notice    *rules.Term // the agreement's notice deadline from discovery; nil: none, 164.410(b)'s 60 days alone
	Contact   PartyContact
	// Channel is how the notice must be given: email, mail, phone or
	// portal.
	Channel string
	// Contents is what the agreement says the notice must contain;
	// Checklist its elements, to tick off when the notice is written.
	Contents   string
	Checklist  []string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ArchivedAt *time.Time
}

// PartyContact is who to notify and where.
type PartyContact struct {
	Name    string `json:"name"`
	Email   string `json:"email"`
	Address string `json:"address"`
}

// PartyInput is a party as created or replaced.
type PartyInput struct {
	Kind      string
	Name      string
	Agreement string
	Notice    *rules.Term
	Contact   PartyContact
	Channel   string
	Contents  string
	Checklist []string
}

var partyChannels = []string{"email", "mail", "phone", "portal"}

// Validate names each field that is wrong.
func (in *PartyInput) Validate() error {
	var fs []apperr.FieldError
	add := func(field, format string, args ...any) {
		fs = append(fs, apperr.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
	}
	in.Name = strings.TrimSpace(in.Name)
	if in.Kind != PartyCustomer && in.Kind != PartyBusinessAssociate {
		add("kind", "must be %q or %q, got %q", PartyCustomer, PartyBusinessAssociate, in.Kind)
	}
	if in.Name == "" || len(in.Name) > 200 {
		add("name", "must be 1 to 200 characters, got %d", len(in.Name))
	}
	if in.Notice != nil {
		if err := in.Notice.Validate("notice"); err != nil {
			var ae *apperr.Error
			if errors.As(err, &ae) {
				fs = append(fs, ae.Fields...)
			}
		}
	}
	if e := strings.TrimSpace(in.Contact.Email); e != "" {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e {
			add("contact.email", "is not an email address")
		}
	}
	if in.Channel != "" && !contains(partyChannels, in.Channel) {
		add("channel", "must be one of %s, got %q", strings.Join(partyChannels, ", "), in.Channel)
	}
	if in.Channel == "email" && in.Contact.Email == "" {
		add("contact.email", "is required when the channel is email")
	}
	if in.Channel == "mail" && in.Contact.Address == "" {
		add("contact.address", "is required when the channel is mail")
	}
	for i, c := range in.Checklist {
		if strings.TrimSpace(c) == "" {
			add(fmt.Sprintf("checklist[%d]", i), "is empty")
		}
	}
	if len(fs) == 0 {
		return nil
	}
	return &apperr.Error{Code: apperr.Invalid, Message: "the party is incomplete", Fields: fs}
}

const partyColumns = `id, kind, name, agreement, notice_amount, notice_unit, notice_business, contact_name, contact_email,
	contact_address, notice_channel, notice_contents, notice_checklist, created_at, updated_at, archived_at`

func scanParty(r interface{ Scan(...any) error }) (Party, error) {
	var p Party
	var amount int
	var unit, checklist string
	var business bool
	var archived sql.NullTime
	if err := r.Scan(&p.ID, &p.Kind, &p.Name, &p.Agreement, &amount, &unit, &business, &p.Contact.Name, &p.Contact.Email,
		&p.Contact.Address, &p.Channel, &p.Contents, &checklist, &p.CreatedAt, &p.UpdatedAt, &archived); err != nil {
		return Party{}, err
	}
	if amount > 0 {
		p.Notice = &rules.Term{Amount: amount, Unit: rules.Unit(unit), Business: business}
	}
	if err := json.Unmarshal([]byte(checklist), &p.Checklist); err != nil {
		return Party{}, fmt.Errorf("party %s checklist: %w", p.ID, err)
	}
	p.CreatedAt, p.UpdatedAt = p.CreatedAt.UTC(), p.UpdatedAt.UTC()
	if archived.Valid {
		t := archived.Time.UTC()
		p.ArchivedAt = &t
	}
	return p, nil
}

// Parties lists the registry's parties of kind ("" for both), by name;
// archived ones only when asked.
func (s *Service) Parties(ctx context.Context, kind string, archived bool) ([]Party, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+partyColumns+` FROM breach_parties
		WHERE ($1 = '' OR kind = $1) AND ($2 OR archived_at IS NULL) ORDER BY kind, name`, kind, archived)
	return db.Collect(rows, err, "read parties", func(r *sql.Rows) (Party, error) { return scanParty(r) })
}

// Party returns one party of the registry.
func (s *Service) Party(ctx context.Context, id string) (Party, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return Party{}, err
	}
	return s.partyTx(ctx, s.db.R, id)
}

func (s *Service) partyTx(ctx context.Context, q db.Querier, id string) (Party, error) {
	p, err := scanParty(q.QueryRowContext(ctx, `SELECT `+partyColumns+` FROM breach_parties WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Party{}, apperr.New(apperr.NotFound, "no party %q", id)
	}
	if err != nil {
		return Party{}, fmt.Errorf("read party: %w", err)
	}
	return p, nil
}

// CreateParty adds a customer or business associate to the registry.
func (s *Service) CreateParty(ctx context.Context, in PartyInput) (Party, error) {
	return s.saveParty(ctx, "", in)
}

// UpdateParty replaces a party's name and terms. Cases that name it take
// the new terms the next time their facts are saved.
func (s *Service) UpdateParty(ctx context.Context, id string, in PartyInput) (Party, error) {
	return s.saveParty(ctx, id, in)
}

func (s *Service) saveParty(ctx context.Context, id string, in PartyInput) (Party, error) {
	if _, err := authz.Check(ctx, authz.BreachWrite); err != nil {
		return Party{}, err
	}
	if err := in.Validate(); err != nil {
		return Party{}, err
	}
	if in.Checklist == nil {
		in.Checklist = []string{}
	}
	checklist, err := json.Marshal(in.Checklist)
	if err != nil {
		return Party{}, err
	}
	var amount int
	var unit string
	var business bool
	if in.Notice != nil {
		amount, unit, business = in.Notice.Amount, string(in.Notice.Unit), in.Notice.Business
	}
	now := s.clock.Now()
	var out Party
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		var old *Party
		if id != "" {
			p, err := s.partyTx(ctx, tx, id)
			if err != nil {
				return err
			}
			if p.Kind != in.Kind {
				return apperr.Field("kind", "a %s cannot become a %s; add a new party", p.Kind, in.Kind)
			}
			old = &p
		}
		// Checked before writing: on PostgreSQL a failed statement ends
		// the transaction.
		var clash int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM breach_parties WHERE kind = $1 AND name = $2 AND id != $3`,
			in.Kind, in.Name, id).Scan(&clash); err != nil {
			return fmt.Errorf("read parties: %w", err)
		}
		if clash > 0 {
			return apperr.Field("name", "a %s named %q is in the registry already", in.Kind, in.Name)
		}
		action := "breach_party.update"
		if old == nil {
			id, action = newID(), "breach_party.create"
			_, err = tx.ExecContext(ctx, `INSERT INTO breach_parties (`+partyColumns+`)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $14, NULL)`,
				id, in.Kind, in.Name, in.Agreement, amount, unit, business, in.Contact.Name, in.Contact.Email, in.Contact.Address,
				in.Channel, in.Contents, string(checklist), now)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE breach_parties SET name = $1, agreement = $2, notice_amount = $3, notice_unit = $4,
				notice_business = $5, contact_name = $6, contact_email = $7, contact_address = $8, notice_channel = $9,
				notice_contents = $10, notice_checklist = $11, updated_at = $12 WHERE id = $13`,
				in.Name, in.Agreement, amount, unit, business, in.Contact.Name, in.Contact.Email, in.Contact.Address, in.Channel,
				in.Contents, string(checklist), now, id)
		}
		if err != nil {
			return fmt.Errorf("save party: %w", err)
		}
		if out, err = s.partyTx(ctx, tx, id); err != nil {
			return err
		}
		change := map[string]any{"new": out}
		if old != nil {
			change["old"] = old
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: action, ObjectType: "breach_party", ObjectID: id, Change: change})
		return err
	})
	if err != nil {
		return Party{}, err
	}
	return out, nil
}

// ArchiveParty takes a party out of the registry's lists; cases that name
// it keep it.
func (s *Service) ArchiveParty(ctx context.Context, id string) (Party, error) {
	if _, err := authz.Check(ctx, authz.BreachWrite); err != nil {
		return Party{}, err
	}
	now := s.clock.Now()
	var out Party
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := s.partyTx(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE breach_parties SET archived_at = $1, updated_at = $1 WHERE id = $2 AND archived_at IS NULL`,
			now, id); err != nil {
			return fmt.Errorf("archive party: %w", err)
		}
		var err error
		if out, err = s.partyTx(ctx, tx, id); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "breach_party.archive", ObjectType: "breach_party", ObjectID: id})
		return err
	})
	return out, err
}

// Organisation is what the organisation running Ward is under HIPAA
// (45 CFR 160.103), "" until set, and the time zone its deadlines are
// counted in.
type Organisation struct {
	Role rules.Role
	// TimeZone is the organisation's IANA zone; "" follows the server's
	// --time-zone. Zone is the zone in use: TimeZone's, else the server's
	// (as the server last applied it: ReconcileZone).
	TimeZone  string
	Zone      *time.Location
	UpdatedBy string
	UpdatedAt time.Time
	// zoneApplied is the zone the stored obligations were computed in.
	zoneApplied string
}

// OrganisationInput is the organisation's settings as set.
type OrganisationInput struct {
	Role     rules.Role
	TimeZone string // "" follows the server's --time-zone
}

// Organisation returns the organisation's settings.
func (s *Service) Organisation(ctx context.Context) (Organisation, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return Organisation{}, err
	}
	return s.organisation(ctx, s.db.R)
}

func (s *Service) organisation(ctx context.Context, q db.Querier) (Organisation, error) {
	o := Organisation{zoneApplied: "UTC"} // obligations were counted in UTC before the setting
	err := q.QueryRowContext(ctx, `SELECT role, time_zone, zone_applied, updated_by, updated_at FROM breach_organisation WHERE id = 1`).
		Scan(&o.Role, &o.TimeZone, &o.zoneApplied, &o.UpdatedBy, &o.UpdatedAt)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return Organisation{}, fmt.Errorf("read organisation: %w", err)
	}
	zone := o.TimeZone
	if zone == "" {
		zone = o.zoneApplied
	}
	if o.Zone, err = LoadZone("time_zone", zone); err != nil {
		return Organisation{}, fmt.Errorf("organisation's time zone: %w", err)
	}
	o.UpdatedAt = o.UpdatedAt.UTC()
	return o, nil
}

// SetOrganisation sets the organisation's role (a covered entity, a
// business associate, or both: new breach cases start with it) and its
// time zone. When the zone in use changes, every case's obligations are
// recomputed in it, in the same transaction, with a timeline entry on each
// incident.
func (s *Service) SetOrganisation(ctx context.Context, in OrganisationInput) (Organisation, error) {
	actor, err := authz.Check(ctx, authz.BreachWrite)
	if err != nil {
		return Organisation{}, err
	}
	var fs []apperr.FieldError
	switch in.Role {
	case rules.CoveredEntity, rules.BusinessAssociate, rules.Both:
	default:
		fs = append(fs, apperr.FieldError{Field: "role", Message: fmt.Sprintf("must be %q, %q or %q, got %q", rules.CoveredEntity,
			rules.BusinessAssociate, rules.Both, in.Role)})
	}
	zone := s.defaultZone
	if in.TimeZone != "" {
		loc, err := LoadZone("time_zone", in.TimeZone)
		if e, ok := apperr.As(err); ok {
			fs = append(fs, e.Fields...)
		}
		zone = loc
	}
	if len(fs) > 0 {
		return Organisation{}, &apperr.Error{Code: apperr.Invalid, Message: "the organisation's settings are invalid", Fields: fs}
	}
	now := s.clock.Now()
	var out Organisation
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		old, err := s.organisation(ctx, tx)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO breach_organisation (id, role, time_zone, zone_applied, updated_by, updated_at)
			VALUES (1, $1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET role = excluded.role, time_zone = excluded.time_zone,
			updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
			string(in.Role), in.TimeZone, old.zoneApplied, actor.String(), now); err != nil {
			return fmt.Errorf("save organisation: %w", err)
		}
		out = Organisation{Role: in.Role, TimeZone: in.TimeZone, Zone: zone, UpdatedBy: actor.String(), UpdatedAt: now,
			zoneApplied: zone.String()}
		if old.Role != in.Role {
			if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "breach_organisation.role", ObjectType: "breach_organisation",
				ObjectID: "1", Change: map[string]any{"old": old.Role, "new": in.Role}}); err != nil {
				return err
			}
		}
		if old.TimeZone != in.TimeZone {
			if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "breach_organisation.time_zone", ObjectType: "breach_organisation",
				ObjectID: "1", Change: map[string]any{"old": old.TimeZone, "new": in.TimeZone, "zone": zone.String()}}); err != nil {
				return err
			}
		}
		if old.zoneApplied == zone.String() {
			return nil
		}
		ok, err := s.setZoneApplied(ctx, tx, old.zoneApplied, zone.String(), now)
		if err != nil {
			return err
		}
		if !ok {
			return apperr.New(apperr.Conflict, "the organisation's time zone changed meanwhile; try again")
		}
		_, err = s.recomputeAll(ctx, tx, now, func(obs int) string {
			return fmt.Sprintf("The organisation's time zone was changed to %s by %s (was %s): %d notice obligations recomputed, their days counted in it.",
				zone, actor.Name, old.zoneApplied, obs)
		})
		return err
	})
	return out, err
}

// fillCustomers completes the facts' customers from the registry: a
// customer whose id is a registry customer takes its name, and its
// agreement's notice term unless the facts set one for this case
// (164.410(b): the agreement may shorten the 60 days).
func (s *Service) fillCustomers(ctx context.Context, q db.Querier, f *rules.Facts) error {
	for i := range f.Customers {
		c := &f.Customers[i]
		p, err := s.partyTx(ctx, q, c.ID)
		if apperr.CodeOf(err) == apperr.NotFound {
			continue
		}
		if err != nil {
			return err
		}
		if p.Kind != PartyCustomer {
			return apperr.Field(fmt.Sprintf("customers[%d].id", i), "%q is a business associate, not a customer", c.ID)
		}
		if c.Name == "" {
			c.Name = p.Name
		}
		if c.Notice == nil {
			c.Notice = p.Notice
		}
	}
	return nil
}

// customerRegistry maps the registry's customers' ids and lower-cased
// names to their ids, for the customer column of an import.
func (s *Service) customerRegistry(ctx context.Context, q db.Querier) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, name FROM breach_parties WHERE kind = $1 AND archived_at IS NULL`, PartyCustomer)
	if err != nil {
		return nil, fmt.Errorf("read parties: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var id, name string
		if err := rows.Scan(&id, &name); err != nil {
			return nil, fmt.Errorf("read parties: %w", err)
		}
		out[id], out[strings.ToLower(name)] = id, id
	}
	return out, rows.Err()
}

// initialFacts are a new case's role and customers: the organisation's
// role (a covered entity until it is set). A business associate's case
// starts naming every customer of the registry: breach is presumed until
// a determination is signed (164.402(2)), so no customer's clock is
// hidden until the facts say which were affected. With no customer in
// the registry such a case could name none (164.410), so it starts as a
// covered entity's, as before the setting.
func (s *Service) initialFacts(ctx context.Context, q db.Querier) (rules.Facts, error) {
	org, err := s.organisation(ctx, q)
	if err != nil || org.Role == "" {
		return rules.Facts{Role: rules.CoveredEntity}, err
	}
	f := rules.Facts{Role: org.Role}
	if org.Role == rules.CoveredEntity {
		return f, nil
	}
	rows, err := q.QueryContext(ctx, `SELECT `+partyColumns+` FROM breach_parties WHERE kind = $1 AND archived_at IS NULL ORDER BY name`,
		PartyCustomer)
	customers, err := db.Collect(rows, err, "read parties", func(r *sql.Rows) (Party, error) { return scanParty(r) })
	if err != nil {
		return rules.Facts{}, err
	}
	for _, p := range customers {
		f.Customers = append(f.Customers, rules.Customer{ID: p.ID, Name: p.Name, Notice: p.Notice})
	}
	if len(f.Customers) == 0 && org.Role == rules.BusinessAssociate {
		f.Role = rules.CoveredEntity
	}
	return f, nil
}
