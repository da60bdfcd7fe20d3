package stakeholder

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/input"
	"github.com/wardhq/ward/internal/keys"
)

// Contact is an external stakeholder: a person outside Ward (a customer's
// security contact, outside counsel, the insurer) who must hear about
// incidents without an account. Every field but the id is sealed at rest;
// only roles that may see PHI read contacts, and each read is audited.
type Contact struct {
	ID           string
	Name         string
	Organisation string
	Title        string
	Email        string
	// PartyID is the party of the breach registry the contact speaks for
	// ("" for none); PartyName its name.
	PartyID   string
	PartyName string
	// ByRule, when true, subscribes the contact to every incident Rule
	// matches (SubscribeByRule); when false, only by hand.
	ByRule    bool
	Rule      Rule
	CreatedBy string
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64
}

// ContactInput is a new contact or the whole of an edited one.
type ContactInput struct {
	Name         string
	Organisation string
	Title        string
	Email        string
	// PartyID optionally links the contact to a party of the breach
	// registry that is not archived.
	PartyID string
	// ByRule and Rule subscribe the contact by rule, as a group's do.
	ByRule bool
	Rule   Rule
}

// Limits of a contact's fields.
const (
	MaxContactEmail = 254
	// MaxContacts bounds the list one read returns.
	MaxContacts = 1000
)

// normalise trims in and returns the first field refused, naming it.
func (in *ContactInput) normalise() error {
	in.Name, in.Organisation = strings.TrimSpace(in.Name), strings.TrimSpace(in.Organisation)
	in.Title, in.Email, in.PartyID = strings.TrimSpace(in.Title), strings.TrimSpace(in.Email), strings.TrimSpace(in.PartyID)
	for _, f := range []struct {
		name, value string
		required    bool
	}{{"name", in.Name, true}, {"organisation", in.Organisation, true}, {"title", in.Title, false}} {
		switch {
		case f.value == "" && f.required:
			return apperr.Field(f.name, "is required")
		case len([]rune(f.value)) > MaxName:
			return apperr.Field(f.name, "is %d characters long; the limit is %d", len([]rune(f.value)), MaxName)
		}
		if f.value != "" {
			if reason := input.Title(f.value); reason != "" {
				return apperr.Field(f.name, "%s", reason)
			}
		}
	}
	switch {
	case in.Email == "":
		return apperr.Field("email", "is required")
	case len(in.Email) > MaxContactEmail:
		return apperr.Field("email", "is %d characters long; the limit is %d", len(in.Email), MaxContactEmail)
	}
	if len(in.PartyID) > MaxName {
		return apperr.Field("party_id", "is no party of the breach registry (or the party is archived)")
	}
	a, err := mail.ParseAddress(in.Email)
	if err != nil || a.Address != in.Email || !strings.Contains(a.Address[strings.LastIndex(a.Address, "@")+1:], ".") {
		return apperr.Field("email", "is not an email address such as name@example.org")
	}
	return nil
}

var contactSealed = []keys.Column{keys.ExternalContactName, keys.ExternalContactOrganisation, keys.ExternalContactTitle, keys.ExternalContactEmail}

// scanContact reads a row of contactColumns and opens its sealed fields.
func (s *Service) scanContact(r interface{ Scan(...any) error }) (Contact, error) {
	var c Contact
	var party, partyName sql.NullString
	var rule string
	sealed := make([]string, len(contactSealed))
	if err := r.Scan(&c.ID, &sealed[0], &sealed[1], &sealed[2], &sealed[3], &c.CreatedBy, &c.CreatedAt, &c.UpdatedAt, &c.Version,
		&party, &rule, &partyName); err != nil {
		return Contact{}, err
	}
	c.PartyID, c.PartyName = party.String, partyName.String
	if rule != "null" {
		c.ByRule = true
		if err := json.Unmarshal([]byte(rule), &c.Rule); err != nil {
			return Contact{}, fmt.Errorf("contact %s: rule: %w", c.ID, err)
		}
	}
	plain := make([]string, len(contactSealed))
	for i, col := range contactSealed {
		v, err := s.keys.Open(sealed[i], col.Table, col.Name, c.ID)
		if err != nil {
			return Contact{}, err
		}
		plain[i] = string(v)
	}
	c.Name, c.Organisation, c.Title, c.Email = plain[0], plain[1], plain[2], plain[3]
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	return c, nil
}

const contactColumns = "id, name, organisation, title, email, created_by, created_at, updated_at, version, party_id, rule"

// contactSelect reads contactColumns with the linked party's name.
const contactSelect = `SELECT x.id, x.name, x.organisation, x.title, x.email, x.created_by, x.created_at, x.updated_at, x.version,
	x.party_id, x.rule, p.name FROM external_contacts x LEFT JOIN breach_parties p ON p.id = x.party_id`

// Contacts lists the external contacts, by organisation then name. The
// read is audited.
func (s *Service) Contacts(ctx context.Context) ([]Contact, error) {
	if _, err := authz.Check(ctx, authz.IncidentReadPHI); err != nil {
		return nil, err
	}
	var out []Contact
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		out = nil
		rows, err := tx.QueryContext(ctx, contactSelect+` ORDER BY x.created_at, x.id LIMIT $1`, MaxContacts)
		if err != nil {
			return fmt.Errorf("list external contacts: %w", err)
		}
		defer rows.Close()
		for rows.Next() {
			c, err := s.scanContact(rows)
			if err != nil {
				return err
			}
			out = append(out, c)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, s.clock.Now(), audit.Event{Action: "external_contact.list", ObjectType: "external_contact",
			Change: map[string]any{"contacts": len(out)}})
		return err
	})
	if err != nil {
		return nil, err
	}
	// By organisation then name, which only the opened values allow.
	key := func(c Contact) string { return strings.ToLower(c.Organisation + "\x00" + c.Name) }
	slices.SortFunc(out, func(a, b Contact) int { return strings.Compare(key(a), key(b)) })
	return out, nil
}

// Contact reads external contact id; the read is audited.
func (s *Service) Contact(ctx context.Context, id string) (Contact, error) {
	if _, err := authz.Check(ctx, authz.IncidentReadPHI); err != nil {
		return Contact{}, err
	}
	var c Contact
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		var err error
		if c, err = s.contactTx(ctx, tx, id); err != nil {
			return err
		}
		_, err = audit.Append(ctx, tx, s.clock.Now(), audit.Event{Action: "external_contact.read", ObjectType: "external_contact", ObjectID: c.ID})
		return err
	})
	return c, err
}

func (s *Service) contactTx(ctx context.Context, tx *sql.Tx, id string) (Contact, error) {
	c, err := s.scanContact(tx.QueryRowContext(ctx, contactSelect+` WHERE x.id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Contact{}, apperr.New(apperr.NotFound, "no such external contact")
	}
	return c, err
}

// CreateContact records a new external contact.
func (s *Service) CreateContact(ctx context.Context, in ContactInput) (Contact, error) {
	return s.saveContact(ctx, "", in)
}

// UpdateContact replaces external contact id.
func (s *Service) UpdateContact(ctx context.Context, id string, in ContactInput) (Contact, error) {
	return s.saveContact(ctx, id, in)
}

func (s *Service) saveContact(ctx context.Context, id string, in ContactInput) (Contact, error) {
	actor, err := authz.Check(ctx, authz.StakeholderWrite)
	if err != nil {
		return Contact{}, err
	}
	if err := in.normalise(); err != nil {
		return Contact{}, err
	}
	now := s.clock.Now()
	var c Contact
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		action := "external_contact.create"
		if id == "" {
			c = Contact{ID: newID(), CreatedBy: actor.String(), CreatedAt: now, Version: 1}
		} else {
			prev, err := s.contactTx(ctx, tx, id)
			if err != nil {
				return err
			}
			c, action = prev, "external_contact.update"
			c.Version++
		}
		c.Name, c.Organisation, c.Title, c.Email, c.PartyID, c.PartyName, c.UpdatedAt = in.Name, in.Organisation, in.Title, in.Email, in.PartyID, "", now
		c.ByRule, c.Rule = in.ByRule, Rule{}
		if in.ByRule {
			c.Rule = in.Rule
			if err := c.Rule.validate(ctx, tx, "rule"); err != nil {
				return err
			}
		}
		rule := "null"
		if c.ByRule {
			b, err := json.Marshal(c.Rule)
			if err != nil {
				return err
			}
			rule = string(b)
		}
		if err := s.emailFree(ctx, tx, c.ID, c.Email); err != nil {
			return err
		}
		if c.PartyID != "" {
			err := tx.QueryRowContext(ctx, `SELECT name FROM breach_parties WHERE id = $1 AND archived_at IS NULL`, c.PartyID).Scan(&c.PartyName)
			if errors.Is(err, sql.ErrNoRows) {
				return apperr.Field("party_id", "is no party of the breach registry (or the party is archived)")
			} else if err != nil {
				return fmt.Errorf("read party: %w", err)
			}
		}
		sealed := make([]string, len(contactSealed))
		for i, v := range []string{c.Name, c.Organisation, c.Title, c.Email} {
			var err error
			if sealed[i], err = s.keys.Seal([]byte(v), contactSealed[i].Table, contactSealed[i].Name, c.ID); err != nil {
				return err
			}
		}
		var err error
		if id == "" {
			_, err = tx.ExecContext(ctx, `INSERT INTO external_contacts (`+contactColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
				c.ID, sealed[0], sealed[1], sealed[2], sealed[3], c.CreatedBy, c.CreatedAt, c.UpdatedAt, c.Version, nullString(c.PartyID), rule)
		} else {
			_, err = tx.ExecContext(ctx, `UPDATE external_contacts SET name = $1, organisation = $2, title = $3, email = $4,
				updated_at = $5, version = $6, party_id = $7, rule = $8 WHERE id = $9`, sealed[0], sealed[1], sealed[2], sealed[3], c.UpdatedAt,
				c.Version, nullString(c.PartyID), rule, c.ID)
		}
		if err != nil {
			return fmt.Errorf("save external contact: %w", err)
		}
		// The change's digest binds the entry to the values; the trail
		// itself keeps none of them.
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: action, ObjectType: "external_contact", ObjectID: c.ID,
			Change: map[string]any{"name": c.Name, "organisation": c.Organisation, "title": c.Title, "email": c.Email, "party_id": c.PartyID, "rule": rule, "version": c.Version}})
		return err
	})
	if err != nil {
		return Contact{}, err
	}
	return c, nil
}

// emailFree refuses email when another external contact than id has it,
// whatever its case: two contacts for one address would each be
// subscribed and mailed. The addresses are sealed, so it opens each; an
// organisation's external contacts number in the hundreds at most.
func (s *Service) emailFree(ctx context.Context, tx *sql.Tx, id, email string) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, email FROM external_contacts WHERE id <> $1`, id)
	if err != nil {
		return fmt.Errorf("read contact emails: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var other, sealed string
		if err := rows.Scan(&other, &sealed); err != nil {
			return err
		}
		plain, err := s.keys.Open(sealed, keys.ExternalContactEmail.Table, keys.ExternalContactEmail.Name, other)
		if err != nil {
			return err
		}
		if strings.EqualFold(string(plain), email) {
			return apperr.Field("email", "belongs to another external contact already; edit that one instead")
		}
	}
	return rows.Err()
}

// DeleteContact removes external contact id, unless it was ever
// subscribed to an incident (its emails are the proof of who was told).
func (s *Service) DeleteContact(ctx context.Context, id string) error {
	if _, err := authz.Check(ctx, authz.StakeholderWrite); err != nil {
		return err
	}
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		var subscribed bool
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM external_subscriptions WHERE contact_id = $1)`, id).Scan(&subscribed); err != nil {
			return fmt.Errorf("read subscriptions: %w", err)
		}
		if subscribed {
			return apperr.New(apperr.Conflict, "the contact has been subscribed to incidents, and what they were sent is kept as proof: it cannot be removed")
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM external_contacts WHERE id = $1`, id)
		if err != nil {
			return fmt.Errorf("delete external contact: %w", err)
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return apperr.New(apperr.NotFound, "no such external contact")
		}
		_, err = audit.Append(ctx, tx, s.clock.Now(), audit.Event{Action: "external_contact.delete", ObjectType: "external_contact", ObjectID: id})
		return err
	})
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
