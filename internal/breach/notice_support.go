package breach

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
)

// CaseOf returns the breach case of incident ref as the actor in ctx may
// see it, read through q (a transaction or the read pool). Package notice
// builds on it; it checks no permission of its own.
func (s *Service) CaseOf(ctx context.Context, q db.Querier, ref string) (Case, error) {
	return s.caseOf(ctx, q, ref)
}

// ZoneOf returns the organisation's time zone, read through q, for the
// dates a notice gives. It checks no permission: the zone is no secret.
func (s *Service) ZoneOf(ctx context.Context, q db.Querier) (*time.Location, error) {
	return s.zone(ctx, q)
}

// CountsOf counts the affected individuals of case caseID, through q.
func (s *Service) CountsOf(ctx context.Context, q db.Querier, caseID string) (Counts, error) {
	return s.counts(ctx, q, caseID)
}

// Recipient is an affected individual with their PHI opened, for
// addressing a notice. Callers audit the read.
type Recipient struct {
	Individual
	Person Person
}

// recipientsSQL reads individuals of a case by id: the list of ids and
// ")" follow. Each is found by both columns (breach_individuals_case_id);
// SQLite searched the case by another index, reading it whole (issue #14).
const recipientsSQL = `SELECT id, state, has_address, has_email, deceased, has_next_of_kin_address,
	consent_electronic, customer, record FROM breach_individuals WHERE case_id = $1 AND id IN (`

// RecipientsByID opens the records of the individuals ids of case caseID,
// through q; an id not on the case is missing from the answer. It checks no
// permission: the caller does, and audits the PHI read.
func (s *Service) RecipientsByID(ctx context.Context, q db.Querier, caseID string, ids []string) (map[string]Recipient, error) {
	out := make(map[string]Recipient, len(ids))
	const chunk = 500
	for start := 0; start < len(ids); start += chunk {
		part := ids[start:min(start+chunk, len(ids))]
		args := []any{caseID}
		in := ""
		for i, id := range part {
			if i > 0 {
				in += ","
			}
			args = append(args, id)
			in += fmt.Sprintf("$%d", len(args))
		}
		rows, err := q.QueryContext(ctx, recipientsSQL+in+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read individuals: %w", err)
		}
		for rows.Next() {
			var r Recipient
			var rec string
			if err := rows.Scan(&r.ID, &r.State, &r.HasAddress, &r.HasEmail, &r.Deceased, &r.HasNextOfKinAddress,
				&r.ConsentElectronic, &r.Customer, &rec); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read individuals: %w", err)
			}
			if rec == "" {
				rows.Close()
				return nil, apperr.New(apperr.Conflict, "the affected individuals' details were purged under the retention policy")
			}
			plain, err := s.keys.Open(rec, keys.BreachIndividualRecord.Table, keys.BreachIndividualRecord.Name, r.ID)
			if err != nil {
				rows.Close()
				return nil, fmt.Errorf("open individual %s: %w", r.ID, err)
			}
			if err := json.Unmarshal(plain, &r.Person); err != nil {
				rows.Close()
				return nil, fmt.Errorf("individual %s: %w", r.ID, err)
			}
			out[r.ID] = r
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read individuals: %w", err)
		}
	}
	return out, nil
}
