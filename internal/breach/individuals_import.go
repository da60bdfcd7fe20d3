package breach

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
)

// ImportBatchRows is how many lines of a list each transaction imports: a
// long import commits as it goes, and re-running it after a failure
// creates nothing twice (the dedupe key) or, with the file's hash, resumes
// after the last committed line.
const ImportBatchRows = 10000

// insertRows is how many rows one INSERT statement saves: 11 parameters a
// row stays under SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const insertRows = 25

// MaxReportedProblems bounds the rejected rows an import lists; the rest
// are counted only.
const MaxReportedProblems = 10000

// ImportResult is what an import of affected individuals did. Problems
// name the line, the field and the reason, never a value. The counts of a
// resumed import include the lines its interrupted run committed; its
// Problems list only the lines read after the resumption.
type ImportResult struct {
	ID          string
	Resumed     bool // an interrupted import of the same file went on
	Lines       int  // data rows read, the header not counted
	Created     int
	Updated     int // already on the case (same name, date of birth and address): replaced
	Rejected    int
	Problems    []RowProblem
	Counts      Counts
	Obligations int // the case's notice obligations after its facts were updated
}

// ImportOptions tune an import.
type ImportOptions struct {
	// SHA256 is the hex SHA-256 of the whole file. With it, an unfinished
	// import of the same file into the same case resumes after its last
	// committed line instead of starting over.
	SHA256 string
	// Progress, if set, is called after each committed batch with the
	// data rows committed so far (a resumed import counts from where its
	// interrupted run stopped).
	Progress func(lines int)
}

// sqliteImportPragmas tune SQLite's writer connection for an import. The
// cache keeps up to 96 MiB of pages: each new dedupe key lands on a
// random page of its index, and with SQLite's default 2 MiB nearly every
// insert read a page back from the file (a 200,000-row import took 15.7 s
// with it, 8.8 s with 64 MiB); a batch's changed pages must also fit, or
// they spill to the log before the commit. The statement journal of each
// write's savepoint (group commit, package db) is kept in memory instead
// of a temporary file (8.8 s to 5.7 s; the writer now always does so). The write-ahead log is copied back
// into the database every 16,384 pages (64 MiB) instead of every 1,000:
// an index page that many batches change is copied once, not at every
// checkpoint. sqliteAfterImport gives all three back. Figures in
// docs/BENCHMARKS.md.
var sqliteImportPragmas = []string{"PRAGMA cache_size = -98304", "PRAGMA temp_store = MEMORY", "PRAGMA wal_autocheckpoint = 16384"}

// sqliteAfterImport are the writer's own settings: SQLite's default cache
// of 2 MiB and checkpoint every 1,000 pages, and statement journals in
// memory (package db opens it so).
var sqliteAfterImport = []string{"PRAGMA cache_size = -2000", "PRAGMA temp_store = MEMORY", "PRAGMA wal_autocheckpoint = 1000"}

func (s *Service) sqlitePragmas(ctx context.Context, pragmas []string) error {
	for _, p := range pragmas {
		if _, err := s.db.W.ExecContext(ctx, p); err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
	}
	return nil
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

// ImportIndividuals reads a CSV list of affected individuals into the
// case of incident ref; see ImportIndividualsWith.
func (s *Service) ImportIndividuals(ctx context.Context, ref string, in io.Reader) (ImportResult, error) {
	return s.ImportIndividualsWith(ctx, ref, in, ImportOptions{})
}

// ImportIndividualsWith reads a CSV list of affected individuals into the
// case of incident ref (docs/BREACH.md, "Affected individuals"), in
// batches of ImportBatchRows lines, each committed with its audit entry
// and the import's progress. Rows that fail validation are reported, not
// imported. While one batch is written the next is parsed, hashed and
// sealed on every core. At the end the case's Individuals and ByState
// facts are set from the individuals on it, and its obligations
// recomputed (45 CFR 164.404-406).
func (s *Service) ImportIndividualsWith(ctx context.Context, ref string, in io.Reader, opt ImportOptions) (ImportResult, error) {
	actor, err := authz.Check(ctx, authz.BreachWrite)
	if err != nil {
		return ImportResult{}, err
	}
	opt.SHA256 = strings.ToLower(strings.TrimSpace(opt.SHA256))
	if opt.SHA256 != "" && !sha256Hex.MatchString(opt.SHA256) {
		return ImportResult{}, apperr.Field("sha256", "must be 64 hexadecimal digits, got %d characters", len(opt.SHA256))
	}
	now := s.clock.Now()
	rows, err := newCSVRows(in, now)
	if err != nil {
		return ImportResult{}, apperr.Field("csv", "%s", err.Error())
	}
	if s.db.Dialect == db.SQLite {
		// On the writer's one connection, between transactions (SQLite
		// changes no temp_store within one); undone when the import ends,
		// however it ends.
		if err := s.sqlitePragmas(ctx, sqliteImportPragmas); err != nil {
			return ImportResult{}, err
		}
		defer func() { _ = s.sqlitePragmas(context.WithoutCancel(ctx), sqliteAfterImport) }()
	}
	res := ImportResult{ID: newID()}
	var c Case
	var hashKey []byte
	var registry map[string]string // the registry's customers, by id and by lower-cased name
	var skipTo int                 // lines up to this one were committed by the run resumed
	var empty bool                 // the case had no individuals: nothing to look up
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if c, err = s.caseOf(ctx, tx, ref); err != nil {
			return err
		}
		if hashKey, err = s.individualsKey(ctx, tx, c.ID); err != nil {
			return err
		}
		if registry, err = s.customerRegistry(ctx, tx); err != nil {
			return err
		}
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM breach_individuals WHERE case_id = $1 LIMIT 1`, c.ID).Scan(&one)
		if empty = errors.Is(err, sql.ErrNoRows); !empty && err != nil {
			return fmt.Errorf("read individuals: %w", err)
		}
		if opt.SHA256 != "" {
			err := tx.QueryRowContext(ctx, `SELECT id, last_line, lines_read, created, updated, rejected FROM breach_individual_imports
				WHERE case_id = $1 AND file_sha256 = $2 AND finished_at IS NULL ORDER BY started_at DESC LIMIT 1`, c.ID, opt.SHA256).
				Scan(&res.ID, &skipTo, &res.Lines, &res.Created, &res.Updated, &res.Rejected)
			if err == nil {
				res.Resumed = true
				_, err = audit.Append(ctx, tx, now, audit.Event{Action: "breach_case.individuals_import_resume", ObjectType: "incident",
					ObjectID: c.IncidentID, Change: map[string]any{"case_id": c.ID, "import_id": res.ID, "after_line": skipTo}})
				return err
			}
			if !errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("read import: %w", err)
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO breach_individual_imports (id, case_id, imported_by, started_at, updated_at,
			lines_read, created, updated, rejected, file_sha256, last_line) VALUES ($1, $2, $3, $4, $4, 0, 0, 0, 0, $5, 0)`,
			res.ID, c.ID, actor.String(), now, opt.SHA256)
		if err != nil {
			return fmt.Errorf("save import: %w", err)
		}
		return nil
	})
	if err != nil {
		return ImportResult{}, err
	}
	if opt.Progress != nil && res.Resumed {
		opt.Progress(res.Lines)
	}

	// The reader parses and prepares batches while the writer saves the
	// one before: at most two batches wait, so memory stays flat however
	// long the list. A batch read whole is saved even if ctx ends (the
	// client went away, or the operator pressed Ctrl-C): the import then
	// resumes after it. The reader stops at the next batch; stop ends it
	// at once when the writer fails.
	wctx := context.WithoutCancel(ctx)
	stop, cancel := context.WithCancel(wctx)
	defer cancel()
	batches := make(chan *importBatch, 1)
	var readErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(batches)
		readErr = s.readBatches(ctx, stop, rows, c, hashKey, empty, skipTo, registry, &res, batches)
	}()
	var writeErr error
	for b := range batches {
		if writeErr != nil {
			continue
		}
		if writeErr = s.writeBatch(wctx, c, res.ID, b); writeErr != nil {
			cancel()
			continue
		}
		res.Lines += b.lines
		res.Created += b.created
		res.Updated += b.updated
		res.Rejected += b.rejected
		if opt.Progress != nil {
			opt.Progress(res.Lines)
		}
	}
	wg.Wait()
	if writeErr != nil {
		return ImportResult{}, writeErr
	}
	if readErr != nil {
		return ImportResult{}, readErr
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		now := s.clock.Now()
		if c, err = s.caseOf(ctx, tx, c.IncidentID); err != nil {
			return err
		}
		if res.Counts, res.Obligations, err = s.recountTx(ctx, tx, c, now); err != nil {
			return err
		}
		probs, err := json.Marshal(res.Problems[:min(len(res.Problems), StoredProblems)])
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE breach_individual_imports SET finished_at = $1, updated_at = $1, problems = $2 WHERE id = $3`,
			now, string(probs), res.ID); err != nil {
			return fmt.Errorf("save import: %w", err)
		}
		return s.incidents.RecordTx(ctx, tx, c.IncidentID, incident.EventBreach, fmt.Sprintf(
			"Affected individuals imported by %s: %d rows read, %d new, %d updated, %d rejected; the case now counts %d individuals "+
				"in %d States, and %d notice obligations were recomputed.", actor.Name, res.Lines, res.Created, res.Updated, res.Rejected,
			res.Counts.Individuals, len(res.Counts.ByState), res.Obligations))
	})
	if err != nil {
		return ImportResult{}, err
	}
	return res, nil
}

// recountTx counts case c's individuals (the counts kept
// per State and customer, Tally), sets its Individuals
// and ByState facts from them (mergeCounts: each State with imported
// individuals counts them; Individuals is raised to cover them and the
// estimates of other States, never lowered) and recomputes its
// obligations.
func (s *Service) recountTx(ctx context.Context, tx *sql.Tx, c Case, now time.Time) (Counts, int, error) {
	cnt, err := s.counts(ctx, tx, c.ID)
	if err != nil {
		return Counts{}, 0, err
	}
	// The imported counts stand for their States; the figures typed for
	// States not on the list stay (mergeCounts, in saveFactsTx), and the
	// total is raised to cover both, never lowered.
	f := c.Facts
	estimates := estimatesOf(c, cnt)
	listed, estimated := leastIndividuals(estimates, cnt)
	f.Individuals = max(f.Individuals, listed+estimated)
	// A business associate owes each customer whose individuals are
	// affected its own notice (164.410): a registry customer named on
	// the individuals joins the facts' customers, with its terms.
	if f.Role == rules.BusinessAssociate || f.Role == rules.Both {
		listed := map[string]bool{}
		for _, cu := range f.Customers {
			listed[cu.ID] = true
		}
		registry, err := s.customerRegistry(ctx, tx)
		if err != nil {
			return Counts{}, 0, err
		}
		for _, id := range cnt.Customers {
			if registry[id] == id && !listed[id] {
				f.Customers = append(f.Customers, rules.Customer{ID: id})
			}
		}
	}
	_, n, err := s.saveFactsTx(ctx, tx, c, f, estimates, cnt, now)
	return cnt, n, err
}

// importBatch is one batch of lines, parsed and prepared.
type importBatch struct {
	rows     []importRow // valid rows, one per person (the last of a duplicate wins)
	dups     int         // valid rows that repeated a person earlier in the batch
	lines    int
	rejected int
	lastLine int // the file line of the batch's last row

	created, updated int // set by writeBatch
}

// importRow is a valid row ready to save: its dedupe key, its row id (the
// existing row's when the person is on the case already) and its record
// sealed under that id.
type importRow struct {
	p      person
	key    string
	id     string
	exists bool
	sealed string
}

// readBatches parses the list into batches, skipping lines up to skipTo,
// maps the customer column to the registry's customers, prepares each
// batch (prepareBatch) and hands it to out. It stops after a batch once
// ctx ends, at once when stop does.
func (s *Service) readBatches(ctx, stop context.Context, rows *csvRows, c Case, hashKey []byte, empty bool, skipTo int,
	registry map[string]string, res *ImportResult, out chan<- *importBatch) error {
	b := &importBatch{}
	send := func() error {
		if b.lines == 0 {
			return nil
		}
		if err := s.prepareBatch(stop, c, hashKey, empty, b); err != nil {
			return err
		}
		select {
		case out <- b:
		case <-stop.Done():
			return stop.Err()
		}
		b = &importBatch{rows: make([]importRow, 0, ImportBatchRows)}
		return ctx.Err()
	}
	for {
		p, probs, err := rows.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return apperr.Field("csv", "%s", err.Error())
		}
		line := p.line
		if len(probs) > 0 {
			line = probs[0].Line
		}
		if p.blank || line <= skipTo {
			continue
		}
		if len(probs) == 0 && p.customer != "" && len(registry) > 0 {
			// With a registry, the customer column names a registry
			// customer by id or name, and is kept as its id (164.410).
			id, ok := registry[p.customer]
			if !ok {
				id, ok = registry[strings.ToLower(p.customer)]
			}
			if !ok {
				probs = []RowProblem{{Line: line, Field: "customer", Reason: "not a customer in the registry (by id or name)"}}
			}
			p.customer = id
		}
		b.lines++
		b.lastLine = line
		if len(probs) > 0 {
			b.rejected++
			if room := MaxReportedProblems - len(res.Problems); room > 0 {
				res.Problems = append(res.Problems, probs[:min(room, len(probs))]...)
			}
		} else {
			b.rows = append(b.rows, importRow{p: p})
		}
		if b.lines >= ImportBatchRows {
			if err := send(); err != nil {
				return err
			}
		}
	}
	return send()
}

// prepareBatch hashes the batch's rows, keeps the last row of each person,
// finds those already on the case (unless it had none) and seals each
// record under its row id, on every core.
func (s *Service) prepareBatch(ctx context.Context, c Case, hashKey []byte, empty bool, b *importBatch) error {
	parallel(len(b.rows), func(i int) error {
		b.rows[i].key = dedupeKey(hashKey, b.rows[i].p.rec)
		return nil
	})
	at := make(map[string]int, len(b.rows))
	uniq := b.rows[:0]
	for _, r := range b.rows {
		if j, ok := at[r.key]; ok {
			uniq[j] = r
			b.dups++
			continue
		}
		at[r.key] = len(uniq)
		uniq = append(uniq, r)
	}
	clear(b.rows[len(uniq):])
	b.rows = uniq
	if !empty {
		for lo := 0; lo < len(b.rows); lo += insertRows {
			chunk := b.rows[lo:min(lo+insertRows, len(b.rows))]
			keys := make([]string, len(chunk))
			for i := range chunk {
				keys[i] = chunk[i].key
			}
			found, err := s.existingIDs(ctx, s.db.R, c.ID, keys)
			if err != nil {
				return err
			}
			for i := range chunk {
				chunk[i].id, chunk[i].exists = found[chunk[i].key], found[chunk[i].key] != ""
			}
		}
	}
	return parallel(len(b.rows), func(i int) error {
		r := &b.rows[i]
		if r.id == "" {
			r.id = newID()
		}
		return s.sealRow(r)
	})
}

func (s *Service) sealRow(r *importRow) error {
	plain, err := json.Marshal(r.p.rec)
	if err != nil {
		return err
	}
	if r.sealed, err = s.keys.Seal(plain, keys.BreachIndividualRecord.Table, keys.BreachIndividualRecord.Name, r.id); err != nil {
		return fmt.Errorf("seal individual: %w", err)
	}
	return nil
}

// existingIDs maps those of dedupe keys that are on case caseID to their
// row ids.
func (s *Service) existingIDs(ctx context.Context, q db.Querier, caseID string, dedupeKeys []string) (map[string]string, error) {
	args := make([]any, 0, len(dedupeKeys)+1)
	args = append(args, caseID)
	var in strings.Builder
	for i, k := range dedupeKeys {
		if i > 0 {
			in.WriteString(", ")
		}
		fmt.Fprintf(&in, "$%d", i+2)
		args = append(args, k)
	}
	rows, err := q.QueryContext(ctx, `SELECT dedupe_key, id FROM breach_individuals WHERE case_id = $1 AND dedupe_key IN (`+
		in.String()+`)`, args...)
	if err != nil {
		return nil, fmt.Errorf("read individuals: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var k, id string
		if err := rows.Scan(&k, &id); err != nil {
			return nil, fmt.Errorf("read individuals: %w", err)
		}
		out[k] = id
	}
	return out, rows.Err()
}

// parallel runs fn for 0..n-1 on every core and returns the first error.
func parallel(n int, fn func(i int) error) error {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := range n {
			if err := fn(i); err != nil {
				return err
			}
		}
		return nil
	}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += workers {
				if err := fn(i); err != nil {
					errs[w] = err
					return
				}
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// insertSQL is the INSERT of n rows; the rows that were not on the case
// come back, so a person a concurrent import or an earlier batch added
// meanwhile is updated instead.
func insertSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO breach_individuals (id, case_id, dedupe_key, state, has_address, has_email, deceased,
		has_next_of_kin_address, consent_electronic, customer, record, created_at, updated_at) VALUES `)
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		p := i*11 + 2
		fmt.Fprintf(&b, "($%d, $1, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d, $%d)",
			p, p+1, p+2, p+3, p+4, p+5, p+6, p+7, p+8, p+9, p+10, p+10)
	}
	b.WriteString(" ON CONFLICT (case_id, dedupe_key) DO NOTHING RETURNING dedupe_key")
	return b.String()
}

var fullInsertSQL = insertSQL(insertRows)

// writeBatch saves one prepared batch, moves the import's progress on and
// audits it (counts only), in one transaction.
func (s *Service) writeBatch(ctx context.Context, c Case, importID string, b *importBatch) error {
	now := s.clock.Now()
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		q := s.db.In(tx)
		tally, err := s.TallyTx(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		b.created, b.updated = 0, b.dups
		var fresh, known []*importRow
		for i := range b.rows {
			if b.rows[i].exists {
				known = append(known, &b.rows[i])
			} else {
				fresh = append(fresh, &b.rows[i])
			}
		}
		var raced []*importRow
		for lo := 0; lo < len(fresh); lo += insertRows {
			chunk := fresh[lo:min(lo+insertRows, len(fresh))]
			args := make([]any, 0, 1+11*len(chunk))
			args = append(args, c.ID)
			for _, r := range chunk {
				args = append(args, r.id, r.key, r.p.rec.State, r.p.hasAddress(), r.p.rec.Email != "", r.p.deceased,
					r.p.rec.NextOfKinAddress != "", r.p.consent, r.p.customer, r.sealed, now)
			}
			var rows *sql.Rows
			var err error
			if len(chunk) == insertRows {
				rows, err = q.QueryContext(ctx, fullInsertSQL, args...)
			} else {
				rows, err = tx.QueryContext(ctx, insertSQL(len(chunk)), args...)
			}
			if err != nil {
				return fmt.Errorf("save individuals: %w", err)
			}
			inserted := make(map[string]bool, len(chunk))
			for rows.Next() {
				var k string
				if err := rows.Scan(&k); err != nil {
					rows.Close()
					return fmt.Errorf("save individuals: %w", err)
				}
				inserted[k] = true
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return fmt.Errorf("save individuals: %w", err)
			}
			b.created += len(inserted)
			for _, r := range chunk {
				if !inserted[r.key] {
					raced = append(raced, r)
				} else {
					tally.New(r.id)
				}
			}
		}
		if len(raced) > 0 {
			// On the case since the batch was prepared: update them,
			// sealed under the row's id.
			keys := make([]string, len(raced))
			for i, r := range raced {
				keys[i] = r.key
			}
			for lo := 0; lo < len(raced); lo += insertRows {
				found, err := s.existingIDs(ctx, tx, c.ID, keys[lo:min(lo+insertRows, len(keys))])
				if err != nil {
					return err
				}
				for _, r := range raced[lo:min(lo+insertRows, len(raced))] {
					if r.id = found[r.key]; r.id == "" {
						return apperr.New(apperr.Conflict, "another import of this case changed the same individual meanwhile; import the list again (re-importing is idempotent)")
					}
					if err := s.sealRow(r); err != nil {
						return err
					}
					r.exists = true
					known = append(known, r)
				}
			}
		}
		ids := make([]string, len(known))
		for i, r := range known {
			ids[i] = r.id
		}
		if err := tally.Before(ctx, tx, ids...); err != nil {
			return err
		}
		for _, r := range known {
			res, err := q.ExecContext(ctx, `UPDATE breach_individuals SET state = $1, has_address = $2, has_email = $3, deceased = $4,
				has_next_of_kin_address = $5, consent_electronic = $6, customer = $7, record = $8, updated_at = $9
				WHERE id = $10 AND case_id = $11`,
				r.p.rec.State, r.p.hasAddress(), r.p.rec.Email != "", r.p.deceased, r.p.rec.NextOfKinAddress != "", r.p.consent,
				r.p.customer, r.sealed, now, r.id, c.ID)
			if err != nil {
				return fmt.Errorf("save individual: %w", err)
			}
			if n, err := res.RowsAffected(); err != nil || n != 1 {
				return apperr.New(apperr.Conflict, "an individual of this case was removed during the import; import the list again (re-importing is idempotent)")
			}
			b.updated++
		}
		if err := tally.Done(ctx, tx); err != nil {
			return err
		}
		if _, err := q.ExecContext(ctx, `UPDATE breach_individual_imports SET lines_read = lines_read + $1, created = created + $2,
			updated = updated + $3, rejected = rejected + $4, last_line = $5, updated_at = $6 WHERE id = $7`,
			b.lines, b.created, b.updated, b.rejected, b.lastLine, now, importID); err != nil {
			return fmt.Errorf("save import: %w", err)
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "breach_case.individuals_import", ObjectType: "incident",
			ObjectID: c.IncidentID, Change: map[string]any{"case_id": c.ID, "import_id": importID, "rows": b.lines,
				"created": b.created, "updated": b.updated, "rejected": b.rejected, "last_line": b.lastLine}})
		return err
	})
}

// Recount counts the affected individuals of incident ref's case again,
// sets its Individuals and ByState facts from them and recomputes its
// obligations (45 CFR 164.404-408); the timeline says so.
func (s *Service) Recount(ctx context.Context, ref string) (Counts, int, error) {
	actor, err := authz.Check(ctx, authz.BreachWrite)
	if err != nil {
		return Counts{}, 0, err
	}
	var cnt Counts
	var n int
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		c, err := s.caseOf(ctx, tx, ref)
		if err != nil {
			return err
		}
		if cnt, n, err = s.recountTx(ctx, tx, c, s.clock.Now()); err != nil {
			return err
		}
		return s.incidents.RecordTx(ctx, tx, c.IncidentID, incident.EventBreach, fmt.Sprintf(
			"Affected individuals recounted by %s: %d individuals in %d States; %d notice obligations recomputed.",
			actor.Name, cnt.Individuals, len(cnt.ByState), n))
	})
	if err != nil {
		return Counts{}, 0, err
	}
	return cnt, n, nil
}

// ImportStatus is one import of a list and how far it got.
type ImportStatus struct {
	ID         string
	ImportedBy string
	StartedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt *time.Time // nil: under way, or interrupted (import the same file again to resume)
	Lines      int        // data rows committed
	Created    int
	Updated    int
	Rejected   int
	SHA256     string
	// Problems are the first StoredProblems rejected rows of a finished
	// import (line, field and Ward's reason, never a value from the file).
	Problems []RowProblem
}

// StoredProblems is how many rejected rows an import keeps for the page
// an upload leads to; the API's answer to an upload lists up to
// MaxReportedProblems.
const StoredProblems = 200

// Imports lists the latest imports into incident ref's case, newest
// first, at most limit: their progress, no PHI.
func (s *Service) Imports(ctx context.Context, ref string, limit int) ([]ImportStatus, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	c, err := s.caseOf(ctx, s.db.R, ref)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT id, imported_by, started_at, updated_at, finished_at, lines_read, created, updated,
		rejected, file_sha256, problems FROM breach_individual_imports WHERE case_id = $1 ORDER BY started_at DESC LIMIT $2`, c.ID, limit)
	return db.Collect(rows, err, "read imports", func(r *sql.Rows) (ImportStatus, error) {
		var st ImportStatus
		var fin sql.NullTime
		var probs string
		if err := r.Scan(&st.ID, &st.ImportedBy, &st.StartedAt, &st.UpdatedAt, &fin, &st.Lines, &st.Created, &st.Updated,
			&st.Rejected, &st.SHA256, &probs); err != nil {
			return ImportStatus{}, err
		}
		if err := json.Unmarshal([]byte(probs), &st.Problems); err != nil {
			return ImportStatus{}, fmt.Errorf("read an import's problems: %w", err)
		}
		st.StartedAt, st.UpdatedAt = st.StartedAt.UTC(), st.UpdatedAt.UTC()
		if fin.Valid {
			t := fin.Time.UTC()
			st.FinishedAt = &t
		}
		return st, nil
	})
}
