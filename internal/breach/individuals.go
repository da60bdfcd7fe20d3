package breach

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/keys"
)

// individualsKey returns the case's dedupe hash key, making it (random,
// sealed) on the first import.
func (s *Service) individualsKey(ctx context.Context, tx *sql.Tx, caseID string) ([]byte, error) {
	col := keys.BreachIndividualsKey
	var stored string
	if err := tx.QueryRowContext(ctx, `SELECT individuals_key FROM breach_cases WHERE id = $1`, caseID).Scan(&stored); err != nil {
		return nil, fmt.Errorf("read individuals key: %w", err)
	}
	if stored != "" {
		k, err := s.keys.Open(stored, col.Table, col.Name, caseID)
		if err != nil {
			return nil, fmt.Errorf("open individuals key: %w", err)
		}
		return k, nil
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	sealed, err := s.keys.Seal(k, col.Table, col.Name, caseID)
	if err != nil {
		return nil, fmt.Errorf("seal individuals key: %w", err)
	}
	// Only if no concurrent first import saved one meanwhile: a case has
	// one key for good, or its re-imports would not match.
	r, err := tx.ExecContext(ctx, `UPDATE breach_cases SET individuals_key = $1 WHERE id = $2 AND individuals_key = ''`, sealed, caseID)
	if err != nil {
		return nil, fmt.Errorf("save individuals key: %w", err)
	}
	if n, err := r.RowsAffected(); err != nil || n == 1 {
		return k, err
	}
	return s.individualsKey(ctx, tx, caseID)
}

// dedupeKey is an HMAC-SHA256, under the case's key, of the person's
// normalised name, date of birth and postal address: the same person
// imported twice has the same key, and the key reveals nothing without
// the case's key.
func dedupeKey(key []byte, p Person) string {
	norm := func(parts ...string) string {
		s := strings.ToLower(strings.Join(parts, " "))
		s = strings.Map(func(r rune) rune {
			if strings.ContainsRune(".,#'\"", r) {
				return ' '
			}
			return r
		}, s)
		return strings.Join(strings.Fields(s), " ")
	}
	zip := p.PostalCode
	if len(zip) > 5 && p.State != "" {
		zip = zip[:5]
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(norm(p.Name) + "\x1f" + p.DateOfBirth + "\x1f" + norm(p.Address1, p.Address2, p.City, p.State, zip)))
	return hex.EncodeToString(m.Sum(nil))
}

// StateCount is the affected individuals of one State ("" for those with
// no State on their record).
type StateCount struct {
	State       string
	Individuals int
	// InsufficientContact counts living individuals with no postal
	// address and no email they consented to be notified at
	// (164.404(d)(1)-(2)).
	InsufficientContact int
	Deceased            int
	// DeceasedWithNextOfKinAddress are notified by first-class mail to
	// the next of kin or personal representative (164.404(d)(1)(ii)).
	DeceasedWithNextOfKinAddress int
}

// Counts are a case's affected individuals, counted: no PHI.
type Counts struct {
	Individuals                     int
	InsufficientContact             int
	Deceased                        int
	DeceasedWithNextOfKinAddress    int
	DeceasedWithoutNextOfKinAddress int // no notice is owed them (164.404(d)(2))
	ByState                         []StateCount
	// Customers are the customer column's values on the case's
	// individuals: registry customer ids where the registry knows them.
	Customers []string
	// Substitute is the substitute notice the InsufficientContact
	// individuals oblige (164.404(d)(2)).
	Substitute rules.Substitute
}

// IndividualCounts counts the affected individuals of incident ref's case.
func (s *Service) IndividualCounts(ctx context.Context, ref string) (Counts, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return Counts{}, err
	}
	c, err := s.caseOf(ctx, s.db.R, ref)
	if err != nil {
		return Counts{}, err
	}
	return s.counts(ctx, s.db.R, c.ID)
}

func (s *Service) counts(ctx context.Context, q db.Querier, caseID string) (Counts, error) {
	// Deceased individuals are left out of InsufficientContact: with a
	// next of kin's address they are reached by mail, without one no
	// substitute notice is owed (164.404(d)(2)).
	// The counts kept per State and customer as individuals are imported
	// (Tally, tallyOf): one row per group, however many individuals.
	rows, err := q.QueryContext(ctx, `SELECT state, customer, individuals, insufficient, deceased, deceased_kin
		FROM breach_notice_tallies WHERE case_id = $1 AND individuals > 0 ORDER BY state, customer`, caseID)
	if err != nil {
		return Counts{}, fmt.Errorf("count individuals: %w", err)
	}
	defer rows.Close()
	var out Counts
	customers := map[string]bool{}
	for rows.Next() {
		var st StateCount
		var customer string
		if err := rows.Scan(&st.State, &customer, &st.Individuals, &st.InsufficientContact, &st.Deceased, &st.DeceasedWithNextOfKinAddress); err != nil {
			return Counts{}, fmt.Errorf("count individuals: %w", err)
		}
		if customer != "" && !customers[customer] {
			customers[customer] = true
			out.Customers = append(out.Customers, customer)
		}
		if n := len(out.ByState); n > 0 && out.ByState[n-1].State == st.State {
			last := &out.ByState[n-1]
			last.Individuals += st.Individuals
			last.InsufficientContact += st.InsufficientContact
			last.Deceased += st.Deceased
			last.DeceasedWithNextOfKinAddress += st.DeceasedWithNextOfKinAddress
		} else {
			out.ByState = append(out.ByState, st)
		}
		out.Individuals += st.Individuals
		out.InsufficientContact += st.InsufficientContact
		out.Deceased += st.Deceased
		out.DeceasedWithNextOfKinAddress += st.DeceasedWithNextOfKinAddress
	}
	if err := rows.Err(); err != nil {
		return Counts{}, fmt.Errorf("count individuals: %w", err)
	}
	sort.Strings(out.Customers)
	out.DeceasedWithoutNextOfKinAddress = out.Deceased - out.DeceasedWithNextOfKinAddress
	out.Substitute = rules.SubstituteFor(out.InsufficientContact)
	return out, nil
}

// Individual is one affected individual. Person is nil, and Redacted set,
// for a reader whose role may not see PHI.
type Individual struct {
	ID                  string
	State               string
	HasAddress          bool
	HasEmail            bool
	Deceased            bool
	HasNextOfKinAddress bool
	ConsentElectronic   bool
	Customer            string
	Person              *Person
	Redacted            bool
	CreatedAt           time.Time
	UpdatedAt           time.Time
}

// MaxIndividualsPage is the most individuals one page lists.
const MaxIndividualsPage = 500

// individualsPageSQL reads a page of a case's individuals after an id, in
// id order, through breach_individuals_case_id: it stops at the page's
// end however many the case has (issue #14).
const individualsPageSQL = `SELECT id, state, has_address, has_email, deceased, has_next_of_kin_address,
	consent_electronic, customer, record, created_at, updated_at FROM breach_individuals
	WHERE case_id = $1 AND id > $2 ORDER BY id LIMIT $3`

// Individuals lists a page of the affected individuals of incident ref's
// case, after the individual with id after ("" for the first page), at
// most limit of them; next is the cursor of the following page, "" at the
// end. A reader whose role may see PHI gets each person's record, and the
// read is audited first (45 CFR 164.312(b)); any other reader gets the
// records redacted.
func (s *Service) Individuals(ctx context.Context, ref, after string, limit int) (list []Individual, next string, err error) {
	actor, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return nil, "", err
	}
	if limit <= 0 || limit > MaxIndividualsPage {
		limit = MaxIndividualsPage
	}
	c, err := s.caseOf(ctx, s.db.R, ref)
	if err != nil {
		return nil, "", err
	}
	rows, err := s.db.R.QueryContext(ctx, individualsPageSQL, c.ID, after, limit+1)
	if err != nil {
		return nil, "", fmt.Errorf("read individuals: %w", err)
	}
	defer rows.Close()
	sealed := map[string]string{}
	for rows.Next() {
		var in Individual
		var rec string
		if err := rows.Scan(&in.ID, &in.State, &in.HasAddress, &in.HasEmail, &in.Deceased, &in.HasNextOfKinAddress,
			&in.ConsentElectronic, &in.Customer, &rec, &in.CreatedAt, &in.UpdatedAt); err != nil {
			return nil, "", fmt.Errorf("read individuals: %w", err)
		}
		in.CreatedAt, in.UpdatedAt = in.CreatedAt.UTC(), in.UpdatedAt.UTC()
		sealed[in.ID] = rec
		list = append(list, in)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("read individuals: %w", err)
	}
	rows.Close()
	if len(list) > limit {
		list = list[:limit]
		next = list[limit-1].ID
	}
	if !authz.Has(actor.Role, authz.IncidentReadPHI) {
		for i := range list {
			list[i].Redacted = true
		}
		return list, next, nil
	}
	if len(list) == 0 {
		return list, next, nil
	}
	ids := make([]string, len(list))
	for i := range list {
		if sealed[list[i].ID] == "" { // purged under the retention policy (package retention)
			continue
		}
		plain, err := s.keys.Open(sealed[list[i].ID], keys.BreachIndividualRecord.Table, keys.BreachIndividualRecord.Name, list[i].ID)
		if err != nil {
			return nil, "", fmt.Errorf("open individual %s: %w", list[i].ID, err)
		}
		var p Person
		if err := json.Unmarshal(plain, &p); err != nil {
			return nil, "", fmt.Errorf("individual %s: %w", list[i].ID, err)
		}
		list[i].Person, ids[i] = &p, list[i].ID
	}
	sort.Strings(ids)
	now := s.clock.Now()
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "breach_case.individuals_phi_read", ObjectType: "incident",
			ObjectID: c.IncidentID, Change: map[string]any{"case_id": c.ID, "individuals": ids}})
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return list, next, nil
}
