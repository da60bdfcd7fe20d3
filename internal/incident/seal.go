package incident

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"slices"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
)

// Sealer encrypts a value bound to its table, column and row (package keys
// implements it). Incident descriptions and timeline notes may hold PHI, so
// they reach the database only sealed (45 CFR 164.312(a)(2)(iv)).
type Sealer interface {
	Seal(plaintext []byte, table, column, rowID string) (string, error)
	Open(ciphertext string, table, column, rowID string) ([]byte, error)
}

// seal encrypts v for column c of row rowID; an empty value stays empty.
// The sealed columns are listed in package keys (keys.Columns), which
// re-encrypts them when the keys are rotated.
func (s *Service) seal(v string, c keys.Column, rowID string) (string, error) {
	if v == "" {
		return "", nil
	}
	return s.keys.Seal([]byte(v), c.Table, c.Name, rowID)
}

// open decrypts a value sealed for column c of row rowID.
func (s *Service) open(v string, c keys.Column, rowID string) (string, error) {
	if v == "" {
		return "", nil
	}
	b, err := s.keys.Open(v, c.Table, c.Name, rowID)
	if err != nil {
		return "", fmt.Errorf("incident: %w", err)
	}
	return string(b), nil
}

// stored returns inc as it is written: its description sealed.
func (s *Service) stored(inc *Incident) (*Incident, error) {
	c := *inc
	var err error
	c.Description, err = s.seal(inc.Description, keys.IncidentDescription, inc.ID)
	return &c, err
}

// get reads an incident, whoever may see it, and opens its description:
// for changes, which rewrite the row.
func (s *Service) get(ctx context.Context, q db.Querier, ref string) (Incident, error) {
	inc, err := getIncident(ctx, q, ref, nil)
	if err != nil {
		return Incident{}, err
	}
	inc.Description, err = s.open(inc.Description, keys.IncidentDescription, inc.ID)
	return inc, err
}

// storedEvent returns e as it is written: its note sealed.
func (s *Service) storedEvent(e *Event) (*Event, error) {
	c := *e
	var err error
	c.Note, err = s.seal(e.Note, keys.IncidentEventNote, e.ID)
	return &c, err
}

// reveal shows or withholds the PHI in what a read returns, which holds it
// still sealed as stored. A reader whose role may see PHI gets it opened,
// and the read is recorded in the audit trail (45 CFR 164.312(b)) before it
// is returned, naming the incidents whose PHI was shown; if that record
// cannot be written the read fails. Any other reader gets the fields
// blanked and marked redacted, and nothing is decrypted.
func (s *Service) reveal(ctx context.Context, incs []*Incident, events []*Event) error {
	actor, _ := authz.ActorFrom(ctx)
	if !authz.Has(actor.Role, authz.IncidentReadPHI) {
		for _, inc := range incs {
			if inc.Description != "" {
				inc.Description, inc.PHIRedacted = "", true
			}
		}
		for _, e := range events {
			if e.Note != "" {
				e.Note, e.NoteRedacted = "", true
			}
		}
		return nil
	}
	shown := map[string][]string{} // incident id → fields shown
	var err error
	for _, inc := range incs {
		if inc.Description != "" {
			if inc.Description, err = s.open(inc.Description, keys.IncidentDescription, inc.ID); err != nil {
				return err
			}
			shown[inc.ID] = append(shown[inc.ID], "description")
		}
	}
	for _, e := range events {
		if e.Note != "" {
			if e.Note, err = s.open(e.Note, keys.IncidentEventNote, e.ID); err != nil {
				return err
			}
			shown[e.IncidentID] = append(shown[e.IncidentID], "note:"+e.ID)
		}
	}
	if len(shown) == 0 {
		return nil
	}
	ids := slices.Sorted(maps.Keys(shown))
	now := s.clock.Now()
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		for _, id := range ids {
			if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "incident.phi_read", ObjectType: "incident",
				ObjectID: id, Change: shown[id]}); err != nil {
				return err
			}
		}
		return nil
	})
}
