package notice

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
)

// Settings are what a case's notices say and who gives them: the merge
// values of the Entity, Contact and Breach fields. They hold no
// individual's PHI.
type Settings struct {
	EntityName     string `json:"entity_name"`
	EntityAddress  string `json:"entity_address,omitempty"`
	SignerName     string `json:"signer_name,omitempty"`
	SignerTitle    string `json:"signer_title,omitempty"`
	TollFree       string `json:"toll_free,omitempty"`
	Email          string `json:"email,omitempty"`
	Website        string `json:"website,omitempty"`
	PostalAddress  string `json:"postal_address,omitempty"`
	OccurredOn     string `json:"occurred_on,omitempty"`
	WhatHappened   string `json:"what_happened,omitempty"`
	PHIInvolved    string `json:"phi_involved,omitempty"`
	StepsToTake    string `json:"steps_to_take,omitempty"`
	WhatWeAreDoing string `json:"what_we_are_doing,omitempty"`
	// Redacted says the settings were withheld from a reader whose role
	// may not see PHI (GetSettings); never stored.
	Redacted bool `json:"-"`
}

// settingsField maps a merge field to the setting that fills it, for
// messages.
var settingsField = map[string]string{
	"Entity.Name": "entity_name", "Entity.Address": "entity_address", "Entity.SignerName": "signer_name",
	"Entity.SignerTitle": "signer_title", "Contact.TollFree": "toll_free", "Contact.Email": "email", "Contact.Website": "website",
	"Contact.PostalAddress": "postal_address", "Breach.OccurredOn": "occurred_on", "Breach.WhatHappened": "what_happened",
	"Breach.PHIInvolved": "phi_involved", "Breach.StepsToTake": "steps_to_take", "Breach.WhatWeAreDoing": "what_we_are_doing",
}

// SaveSettings replaces the notice settings of incident ref's case.
func (s *Service) SaveSettings(ctx context.Context, ref string, in Settings) (Settings, error) {
	actor, err := authz.Check(ctx, authz.BreachWrite)
	if err != nil {
		return Settings{}, err
	}
	if strings.TrimSpace(in.EntityName) == "" {
		return Settings{}, apperr.Field("entity_name", "is required: who gives the notice")
	}
	v := reflect.ValueOf(in)
	for i := 0; i < v.NumField(); i++ {
		if len(v.Field(i).String()) > 5000 {
			return Settings{}, apperr.Field(strings.Split(v.Type().Field(i).Tag.Get("json"), ",")[0], "is at most 5,000 characters")
		}
	}
	plain, err := json.Marshal(in)
	if err != nil {
		return Settings{}, err
	}
	now := s.clock.Now()
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		c, err := s.cases.CaseOf(ctx, tx, ref)
		if err != nil {
			return err
		}
		body, err := keys.NoticeSettings.SealText(s.keys, string(plain), c.ID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO notice_settings (case_id, body, updated_by, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (case_id) DO UPDATE SET body = excluded.body, updated_by = excluded.updated_by, updated_at = excluded.updated_at`,
			c.ID, body, actor.String(), now); err != nil {
			return fmt.Errorf("save notice settings: %w", err)
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "notice_settings.update", ObjectType: "incident", ObjectID: c.IncidentID,
			Change: map[string]any{"case_id": c.ID, "settings": in}})
		return err
	})
	if err != nil {
		return Settings{}, err
	}
	return in, nil
}

// GetSettings returns the notice settings of incident ref's case (empty
// until saved). They say what happened and what PHI was involved, so a
// reader whose role may not see PHI gets them withheld (empty, with
// Redacted set); for any other, the read is audited
// (notice_settings.phi_read) before it returns.
func (s *Service) GetSettings(ctx context.Context, ref string) (Settings, error) {
	actor, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return Settings{}, err
	}
	c, err := s.cases.CaseOf(ctx, s.db.R, ref)
	if err != nil {
		return Settings{}, err
	}
	if !authz.Has(actor.Role, authz.IncidentReadPHI) {
		return Settings{Redacted: true}, nil
	}
	out, err := s.settings(ctx, s.db.R, c.ID)
	if err != nil {
		return Settings{}, err
	}
	return out, s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, s.clock.Now(), audit.Event{Action: "notice_settings.phi_read", ObjectType: "incident",
			ObjectID: c.IncidentID, Change: map[string]any{"case_id": c.ID}})
		return err
	})
}

func (s *Service) settings(ctx context.Context, q db.Querier, caseID string) (Settings, error) {
	var body string
	err := q.QueryRowContext(ctx, `SELECT body FROM notice_settings WHERE case_id = $1`, caseID).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return Settings{}, nil
	}
	if err != nil {
		return Settings{}, fmt.Errorf("read notice settings: %w", err)
	}
	if body, err = s.open(body, keys.NoticeSettings, caseID); err != nil {
		return Settings{}, err
	}
	var out Settings
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		return Settings{}, fmt.Errorf("notice settings: %w", err)
	}
	return out, nil
}

// dateFormat is how dates read in a notice.
const dateFormat = "January 2, 2006"

// baseData is the merge data of case c's notices before an addressee is
// added, its dates the organisation's calendar days in zone.
func baseData(c breach.Case, st Settings, total int, now time.Time, zone *time.Location) Data {
	discovered := ""
	if start, err := c.Facts.ClockStart(); err == nil && !start.IsZero() {
		discovered = start.In(zone).Format(dateFormat)
	}
	return Data{
		Entity:  Entity{Name: st.EntityName, Address: st.EntityAddress, SignerName: st.SignerName, SignerTitle: st.SignerTitle},
		Contact: Contact{TollFree: st.TollFree, Email: st.Email, Website: st.Website, PostalAddress: st.PostalAddress},
		Breach: Breach{IncidentNumber: c.IncidentNumber, OccurredOn: st.OccurredOn, DiscoveredOn: discovered,
			WhatHappened: st.WhatHappened, PHIInvolved: st.PHIInvolved, StepsToTake: st.StepsToTake, WhatWeAreDoing: st.WhatWeAreDoing,
			Individuals: total},
		Date: now.In(zone).Format(dateFormat),
	}
}

// checkFilled refuses to generate from template t while a setting it
// merges is empty: a notice must not go out with a blank where its
// content belongs.
func checkFilled(t Template, d Data) error {
	var fs []apperr.FieldError
	seen := map[string]bool{}
	v := reflect.ValueOf(d)
	for _, f := range usedFields(t.Subject + "\n" + t.Body) {
		name, ok := settingsField[f]
		if !ok || seen[f] {
			continue
		}
		seen[f] = true
		group, field, _ := strings.Cut(f, ".")
		if fv := v.FieldByName(group).FieldByName(field); fv.IsValid() && strings.TrimSpace(fv.String()) == "" {
			fs = append(fs, apperr.FieldError{Field: name, Message: fmt.Sprintf("is empty, but the approved template merges {{.%s}}: fill in the case's notice settings", f)})
		}
	}
	if len(fs) == 0 {
		return nil
	}
	return &apperr.Error{Code: apperr.Invalid, Message: "the case's notice settings lack what the template needs", Fields: fs}
}
