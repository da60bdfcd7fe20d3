package breach

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/keys"
)

// draftID names the officer userID's draft of case caseID, which binds
// its sealed body to it (keys.DraftRowID).
func draftID(caseID, userID string) string { return caseID + "/" + userID }

// DraftControls are the determination wizard's controls, the names a
// draft keeps answers under (package ui's wizard asks them in the order
// of 164.402).
var DraftControls = []string{
	"exception_claim", "exception_kind", "exception_no_further_impermissible_use", "exception_rationale",
	"secured_claim", "secured_method", "secured_standard", "secured_key_compromised", "secured_accessible_decrypted", "secured_rationale",
	"path", "factor0_answer", "factor0_rationale", "factor1_answer", "factor1_rationale", "factor2_answer", "factor2_rationale",
	"factor3_answer", "factor3_rationale", "assessment_outcome", "assessment_rationale", "ransomware", "assessment_ransomware_variant",
	"assessment_ransomware_exfiltration", "assessment_ransomware_spread", "reason",
}

// MaxDraftAnswer caps one answer of a draft, in characters.
const MaxDraftAnswer = 20000

// Draft returns the determination wizard's answers the acting officer
// saved so far on the case of incident ref, by the wizard's control names
// (empty when none). The answers are the officer's own, sealed at rest;
// reading them is recorded in the audit trail like any read of the case's
// free text.
func (s *Service) Draft(ctx context.Context, ref string) (map[string]string, error) {
	actor, err := authz.Check(ctx, authz.BreachSign)
	if err != nil {
		return nil, err
	}
	c, err := s.caseOf(ctx, s.db.R, ref)
	if err != nil {
		return nil, err
	}
	var body string
	err = s.db.R.QueryRowContext(ctx, `SELECT body FROM breach_determination_drafts WHERE case_id = $1 AND user_id = $2`,
		c.ID, actor.ID).Scan(&body)
	if errors.Is(err, sql.ErrNoRows) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read draft: %w", err)
	}
	plain, err := s.open(body, keys.BreachDeterminationDraft, draftID(c.ID, actor.ID))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	if err := json.Unmarshal([]byte(plain), &out); err != nil {
		return nil, fmt.Errorf("draft: %w", err)
	}
	return out, s.auditRead(ctx, c, "determination_draft")
}

// SaveDraft keeps answers (by the wizard's control names) as the acting
// officer's draft determination of the case of incident ref, over what
// the draft held: a control in answers replaces its value, an empty value
// clears it. Nothing is signed or decided; Determine deletes the draft.
// The change is audited (breach_case.determination_draft) with the names
// of the controls it changed, never their text.
func (s *Service) SaveDraft(ctx context.Context, ref string, answers map[string]string) (map[string]string, error) {
	actor, err := authz.Check(ctx, authz.BreachSign)
	if err != nil {
		return nil, err
	}
	for _, k := range slices.Sorted(maps.Keys(answers)) {
		if !slices.Contains(DraftControls, k) {
			return nil, apperr.Field("answers."+k, "is not a question of the determination")
		}
		if n := utf8.RuneCountInString(answers[k]); n > MaxDraftAnswer {
			return nil, apperr.Field("answers."+k, "is at most %d characters, got %d", MaxDraftAnswer, n)
		}
	}
	now := s.clock.Now()
	var out map[string]string
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		c, err := s.caseOf(ctx, tx, ref)
		if err != nil {
			return err
		}
		id := draftID(c.ID, actor.ID)
		out = map[string]string{}
		var body string
		switch err := tx.QueryRowContext(ctx, `SELECT body FROM breach_determination_drafts WHERE case_id = $1 AND user_id = $2`,
			c.ID, actor.ID).Scan(&body); {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return fmt.Errorf("read draft: %w", err)
		default:
			plain, err := s.open(body, keys.BreachDeterminationDraft, id)
			if err != nil {
				return err
			}
			if err := json.Unmarshal([]byte(plain), &out); err != nil {
				return fmt.Errorf("draft: %w", err)
			}
		}
		for k, v := range answers {
			if v == "" {
				delete(out, k)
				continue
			}
			out[k] = v
		}
		plain, err := json.Marshal(out)
		if err != nil {
			return err
		}
		sealed, err := keys.BreachDeterminationDraft.SealText(s.keys, string(plain), id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO breach_determination_drafts (case_id, user_id, body, updated_at) VALUES ($1, $2, $3, $4)
			ON CONFLICT (case_id, user_id) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at`,
			c.ID, actor.ID, sealed, now); err != nil {
			return fmt.Errorf("save draft: %w", err)
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "breach_case.determination_draft", ObjectType: "incident",
			ObjectID: c.IncidentID, Change: map[string]any{"case_id": c.ID, "controls": slices.Sorted(maps.Keys(answers))}})
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DiscardDraft deletes the acting officer's draft determination of the
// case of incident ref, if there is one (nothing is signed or decided),
// audited (breach_case.determination_draft_discarded). It reports whether
// there was a draft.
func (s *Service) DiscardDraft(ctx context.Context, ref string) (bool, error) {
	actor, err := authz.Check(ctx, authz.BreachSign)
	if err != nil {
		return false, err
	}
	now := s.clock.Now()
	var found bool
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		c, err := s.caseOf(ctx, tx, ref)
		if err != nil {
			return err
		}
		r, err := tx.ExecContext(ctx, `DELETE FROM breach_determination_drafts WHERE case_id = $1 AND user_id = $2`, c.ID, actor.ID)
		if err != nil {
			return fmt.Errorf("discard draft: %w", err)
		}
		n, err := r.RowsAffected()
		if err != nil || n == 0 {
			return err
		}
		found = true
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "breach_case.determination_draft_discarded", ObjectType: "incident",
			ObjectID: c.IncidentID, Change: map[string]any{"case_id": c.ID}})
		return err
	})
	return found, err
}

// Signers are the display names of the active users who may sign a
// determination (the Privacy Officers, 164.530(a)), by name.
func (s *Service) Signers(ctx context.Context) ([]string, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT CASE WHEN display_name = '' THEN username ELSE display_name END AS name FROM users
		WHERE role = $1 AND NOT disabled ORDER BY name`,
		authz.RolePrivacyOfficer)
	if err != nil {
		return nil, fmt.Errorf("read signers: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
