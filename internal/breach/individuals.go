package breach

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
)

// ImportBatchRows is how many rows of a list each transaction imports: a
// long import commits as it goes, and re-running it after a failure
// creates nothing twice (the dedupe key).
const ImportBatchRows = 500

// MaxReportedProblems bounds the rejected rows an import lists; the rest
// are counted only.
const MaxReportedProblems = 10000

// SealWith sets the keys that seal affected individuals' PHI
// (keys.BreachIndividualRecord). Call it before serving: without it the
// individuals cannot be imported or read.
func (s *Service) SealWith(k incident.Sealer) { s.keys = k }

// ImportResult is what an import of affected individuals did. Problems
// name the line, the field and the reason, never a value.
type ImportResult struct {
	ID          string
	Lines       int // data rows read, the header not counted
	Created     int
	Updated     int // already on the case (same name, date of birth and address): replaced
	Rejected    int
	Problems    []RowProblem
	Counts      Counts
	Obligations int // the case's notice obligations after its facts were updated
}

// ImportIndividuals reads a CSV list of affected individuals into the
// case of incident ref (docs/BREACH.md, "Affected individuals"), in
// batches of ImportBatchRows rows, each committed with its audit entry.
// Rows that fail validation are reported, not imported. At the end the
// case's Individuals and ByState facts are set from the individuals on
// it, and its obligations recomputed (45 CFR 164.404-406).
func (s *Service) ImportIndividuals(ctx context.Context, ref string, in io.Reader) (ImportResult, error) {
	actor, err := authz.Check(ctx, authz.BreachWrite)
	if err != nil {
		return ImportResult{}, err
	}
	if s.keys == nil {
		return ImportResult{}, errors.New("breach: no keys to seal individuals with (SealWith)")
	}
	now := s.clock.Now()
	rows, err := newCSVRows(in, now)
	if err != nil {
		return ImportResult{}, apperr.Field("csv", "%s", err.Error())
	}
	res := ImportResult{ID: newID()}
	var c Case
	var hashKey []byte
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if c, err = s.caseOf(ctx, tx, ref); err != nil {
			return err
		}
		if hashKey, err = s.individualsKey(ctx, tx, c.ID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO breach_individual_imports (id, case_id, imported_by, started_at, updated_at,
			lines_read, created, updated, rejected) VALUES ($1, $2, $3, $4, $4, 0, 0, 0, 0)`, res.ID, c.ID, actor.String(), now)
		if err != nil {
			return fmt.Errorf("save import: %w", err)
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, err
	}
	var batch []person
	lines, rejected := 0, 0
	flush := func() error {
		if err := s.importBatch(ctx, c, hashKey, &res, batch, lines, rejected); err != nil {
			return err
		}
		batch, lines, rejected = batch[:0], 0, 0
		return nil
	}
	for {
		p, probs, err := rows.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return ImportResult{}, apperr.Field("csv", "%s", err.Error())
		}
		if p.blank {
			continue
		}
		lines++
		if len(probs) > 0 {
			rejected++
			if room := MaxReportedProblems - len(res.Problems); room > 0 {
				res.Problems = append(res.Problems, probs[:min(room, len(probs))]...)
			}
		} else {
			batch = append(batch, p)
		}
		if lines >= ImportBatchRows {
			if err := flush(); err != nil {
				return ImportResult{}, err
			}
		}
	}
	if err := flush(); err != nil {
		return ImportResult{}, err
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		now := s.clock.Now()
		if c, err = s.caseOf(ctx, tx, c.IncidentID); err != nil {
			return err
		}
		if res.Counts, err = s.counts(ctx, tx, c.ID); err != nil {
			return err
		}
		f := c.Facts
		f.Individuals, f.ByState = res.Counts.Individuals, map[string]int{}
		for _, st := range res.Counts.ByState {
			if st.State != "" {
				f.ByState[st.State] = st.Individuals
			}
		}
		if _, res.Obligations, err = s.saveFactsTx(ctx, tx, c, f, now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE breach_individual_imports SET finished_at = $1, updated_at = $1 WHERE id = $2`,
			now, res.ID); err != nil {
			return fmt.Errorf("save import: %w", err)
		}
		return s.incidents.RecordTx(ctx, tx, c.IncidentID, incident.EventBreach, fmt.Sprintf(
			"Affected individuals imported by %s: %d rows read, %d new, %d updated, %d rejected; the case now counts %d individuals "+
				"in %d States, and %d notice obligations were recomputed.", actor.Name, res.Lines, res.Created, res.Updated, res.Rejected,
			res.Counts.Individuals, len(f.ByState), res.Obligations))
	})
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

// importBatch saves one batch of valid rows, moves the import's counts on
// and audits it (counts only), in one transaction.
func (s *Service) importBatch(ctx context.Context, c Case, hashKey []byte, res *ImportResult, batch []person, lines, rejected int) error {
	if lines == 0 {
		return nil
	}
	now := s.clock.Now()
	created, updated := 0, 0
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		created, updated = 0, 0
		for _, p := range batch {
			key := dedupeKey(hashKey, p.rec)
			var id string
			err := tx.QueryRowContext(ctx, `SELECT id FROM breach_individuals WHERE case_id = $1 AND dedupe_key = $2`, c.ID, key).Scan(&id)
			exists := err == nil
			if errors.Is(err, sql.ErrNoRows) {
				id, err = newID(), nil
			}
			if err != nil {
				return fmt.Errorf("read individual: %w", err)
			}
			plain, err := json.Marshal(p.rec)
			if err != nil {
				return err
			}
			sealed, err := s.keys.Seal(plain, keys.BreachIndividualRecord.Table, keys.BreachIndividualRecord.Name, id)
			if err != nil {
				return fmt.Errorf("seal individual: %w", err)
			}
			hasNOK := p.rec.NextOfKinAddress != ""
			if exists {
				_, err = tx.ExecContext(ctx, `UPDATE breach_individuals SET state = $1, has_address = $2, has_email = $3, deceased = $4,
					has_next_of_kin_address = $5, consent_electronic = $6, customer = $7, record = $8, updated_at = $9 WHERE id = $10`,
					p.rec.State, p.hasAddress(), p.rec.Email != "", p.deceased, hasNOK, p.consent, p.customer, sealed, now, id)
				updated++
			} else {
				_, err = tx.ExecContext(ctx, `INSERT INTO breach_individuals (id, case_id, dedupe_key, state, has_address, has_email,
					deceased, has_next_of_kin_address, consent_electronic, customer, record, created_at, updated_at)
					VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12)`,
					id, c.ID, key, p.rec.State, p.hasAddress(), p.rec.Email != "", p.deceased, hasNOK, p.consent, p.customer, sealed, now)
				created++
			}
			if db.IsUniqueViolation(err) {
				return apperr.New(apperr.Conflict, "another import of this case added the same individual meanwhile; import the list again (re-importing is idempotent)")
			}
			if err != nil {
				return fmt.Errorf("save individual: %w", err)
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE breach_individual_imports SET lines_read = lines_read + $1, created = created + $2,
			updated = updated + $3, rejected = rejected + $4, updated_at = $5 WHERE id = $6`,
			lines, created, updated, rejected, now, res.ID); err != nil {
			return fmt.Errorf("save import: %w", err)
		}
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "breach_case.individuals_import", ObjectType: "incident",
			ObjectID: c.IncidentID, Change: map[string]any{"case_id": c.ID, "import_id": res.ID, "rows": lines,
				"created": created, "updated": updated, "rejected": rejected}})
		return err
	})
	if err != nil {
		return err
	}
	res.Lines += lines
	res.Created += created
	res.Updated += updated
	res.Rejected += rejected
	return nil
}

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
	rows, err := q.QueryContext(ctx, `SELECT state, count(*),
		SUM(CASE WHEN NOT deceased AND NOT has_address AND NOT (has_email AND consent_electronic) THEN 1 ELSE 0 END),
		SUM(CASE WHEN deceased THEN 1 ELSE 0 END),
		SUM(CASE WHEN deceased AND has_next_of_kin_address THEN 1 ELSE 0 END)
		FROM breach_individuals WHERE case_id = $1 GROUP BY state ORDER BY state`, caseID)
	if err != nil {
		return Counts{}, fmt.Errorf("count individuals: %w", err)
	}
	defer rows.Close()
	var out Counts
	for rows.Next() {
		var st StateCount
		if err := rows.Scan(&st.State, &st.Individuals, &st.InsufficientContact, &st.Deceased, &st.DeceasedWithNextOfKinAddress); err != nil {
			return Counts{}, fmt.Errorf("count individuals: %w", err)
		}
		out.ByState = append(out.ByState, st)
		out.Individuals += st.Individuals
		out.InsufficientContact += st.InsufficientContact
		out.Deceased += st.Deceased
		out.DeceasedWithNextOfKinAddress += st.DeceasedWithNextOfKinAddress
	}
	if err := rows.Err(); err != nil {
		return Counts{}, fmt.Errorf("count individuals: %w", err)
	}
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
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, state, has_address, has_email, deceased, has_next_of_kin_address,
		consent_electronic, customer, record, created_at, updated_at FROM breach_individuals
		WHERE case_id = $1 AND id > $2 ORDER BY id LIMIT $3`, c.ID, after, limit+1)
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
	if s.keys == nil {
		return nil, "", errors.New("breach: no keys to open individuals with (SealWith)")
	}
	ids := make([]string, len(list))
	for i := range list {
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
