package notice

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/input"
	"github.com/wardhq/ward/internal/keys"
)

// Notice is one notice as tracked: no PHI, individuals are named by id.
type Notice struct {
	ID           string
	RunID        string
	Kind         Kind
	Channel      string
	IndividualID string
	Recipient    string
	Status       string
	Batch        int
	Page         int
	Pages        int
	Attempts     int
	Error        string
	SentAt       *time.Time
	SentBy       string
	Receipt      string
	ReturnedAt   *time.Time
	ReturnReason string
	ResentOf     string
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// Individual names the affected individual a notice to one is
	// addressed to, with their State ("Patient Name, CA"); empty when
	// Redacted.
	Individual string
	// Redacted says Recipient, Individual, Error, Receipt and ReturnReason
	// were withheld from a reader whose role may not see PHI.
	Redacted bool
}

const noticeColumns = `id, run_id, kind, channel, individual_id, recipient, status, batch, page, pages, attempts, error, sent_at, sent_by,
	receipt, returned_at, return_reason, resent_of, created_at, updated_at`

// scanNotice reads a notice, its recipient, error, receipt and return
// reason opened.
func (s *Service) scanNotice(r interface{ Scan(...any) error }) (Notice, error) {
	var n Notice
	var sent, returned sql.NullTime
	if err := r.Scan(&n.ID, &n.RunID, &n.Kind, &n.Channel, &n.IndividualID, &n.Recipient, &n.Status, &n.Batch, &n.Page, &n.Pages,
		&n.Attempts, &n.Error, &sent, &n.SentBy, &n.Receipt, &returned, &n.ReturnReason, &n.ResentOf, &n.CreatedAt, &n.UpdatedAt); err != nil {
		return Notice{}, err
	}
	if err := s.openAll(n.ID, map[keys.Column]*string{keys.NoticeRecipient: &n.Recipient, keys.NoticeError: &n.Error,
		keys.NoticeReceipt: &n.Receipt, keys.NoticeReturnReason: &n.ReturnReason}); err != nil {
		return Notice{}, err
	}
	if sent.Valid {
		t := sent.Time.UTC()
		n.SentAt = &t
	}
	if returned.Valid {
		t := returned.Time.UTC()
		n.ReturnedAt = &t
	}
	n.CreatedAt, n.UpdatedAt = n.CreatedAt.UTC(), n.UpdatedAt.UTC()
	return n, nil
}

// MaxNoticesPage is the most notices one page lists.
const MaxNoticesPage = 500

// noticesPageSQL and noticesOfStatusPageSQL read a page of a case's
// notices, all or of one status, after an id in id order, each from its
// own index (notices_case_id, notices_case_status_id): one statement for
// both, its status test true for any status when none was asked, read and
// sorted every notice of the case (issue #14).
const (
	noticesPageSQL = `SELECT ` + noticeColumns + ` FROM notices WHERE case_id = $1 AND id > $2
		ORDER BY id LIMIT $3`
	noticesOfStatusPageSQL = `SELECT ` + noticeColumns + ` FROM notices WHERE case_id = $1 AND status = $2 AND id > $3
		ORDER BY id LIMIT $4`
)

// Notices lists a page of the notices of incident ref's case after the
// notice with id after, optionally of one status; next is the cursor of
// the following page. A reader whose role may not see PHI gets each
// notice's recipient, error, receipt and return reason withheld
// (Redacted); for any other, the read is audited (notice.phi_read) before
// it returns.
func (s *Service) Notices(ctx context.Context, ref, status, after string, limit int) (list []Notice, next string, err error) {
	return s.notices(ctx, ref, status, after, limit, false)
}

// NoticesNamed is Notices with, for a reader who may see PHI, each
// individual's name and State (Notice.Individual), read from their
// sealed record within the same audited read: for the pages, where a
// person is named, never an id.
func (s *Service) NoticesNamed(ctx context.Context, ref, status, after string, limit int) (list []Notice, next string, err error) {
	return s.notices(ctx, ref, status, after, limit, true)
}

func (s *Service) notices(ctx context.Context, ref, status, after string, limit int, named bool) (list []Notice, next string, err error) {
	actor, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return nil, "", err
	}
	if limit <= 0 || limit > MaxNoticesPage {
		limit = MaxNoticesPage
	}
	c, err := s.cases.CaseOf(ctx, s.db.R, ref)
	if err != nil {
		return nil, "", err
	}
	var rows *sql.Rows
	if status == "" {
		rows, err = s.db.R.QueryContext(ctx, noticesPageSQL, c.ID, after, limit+1)
	} else {
		rows, err = s.db.R.QueryContext(ctx, noticesOfStatusPageSQL, c.ID, status, after, limit+1)
	}
	list, err = db.Collect(rows, err, "list notices", func(r *sql.Rows) (Notice, error) { return s.scanNotice(r) })
	if err != nil {
		return nil, "", err
	}
	if len(list) > limit {
		list = list[:limit]
		next = list[limit-1].ID
	}
	if !authz.Has(actor.Role, authz.IncidentReadPHI) {
		for i := range list {
			n := &list[i]
			n.Recipient, n.Error, n.Receipt, n.ReturnReason, n.Redacted = "", "", "", "", true
		}
		return list, next, nil
	}
	if len(list) == 0 {
		return list, next, nil
	}
	var ids []string
	for _, n := range list {
		if named && n.IndividualID != "" {
			ids = append(ids, n.IndividualID)
		}
	}
	people, err := s.cases.RecipientsByID(ctx, s.db.R, c.ID, ids)
	if err != nil {
		return nil, "", err
	}
	for i := range list {
		if p, ok := people[list[i].IndividualID]; ok {
			list[i].Individual = p.Person.Name
			if p.State != "" {
				list[i].Individual += ", " + p.State
			}
		}
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, s.clock.Now(), audit.Event{Action: "notice.phi_read", ObjectType: "incident", ObjectID: c.IncidentID,
			Change: map[string]any{"case_id": c.ID, "notices": len(list), "individuals_named": len(people)}})
		return err
	})
	if err != nil {
		return nil, "", err
	}
	return list, next, nil
}

// Tally counts a case's notices by kind, channel and status.
type Tally struct {
	Kind    Kind
	Channel string
	Status  string
	Count   int
}

// Summary is the state of a case's notices: counts, runs with their
// files, and the substitute notice.
type Summary struct {
	Tallies    []Tally
	Runs       []Run
	Substitute SubstituteStatus
}

// Summarize returns the state of the notices of incident ref's case.
//
// The generated files' names name their addressees, so a reader whose
// role may not see PHI gets them withheld (NameRedacted); for any other,
// the read is audited (notice_file.names_read) before it returns.
func (s *Service) Summarize(ctx context.Context, ref string) (Summary, error) {
	actor, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return Summary{}, err
	}
	c, err := s.cases.CaseOf(ctx, s.db.R, ref)
	if err != nil {
		return Summary{}, err
	}
	out, err := s.summarize(ctx, c.ID)
	if err != nil {
		return Summary{}, err
	}
	files := 0
	for i := range out.Runs {
		files += len(out.Runs[i].Files)
		if !authz.Has(actor.Role, authz.IncidentReadPHI) {
			for j := range out.Runs[i].Files {
				out.Runs[i].Files[j].Name, out.Runs[i].Files[j].NameRedacted = "", true
			}
		}
	}
	if files == 0 || !authz.Has(actor.Role, authz.IncidentReadPHI) {
		return out, nil
	}
	return out, s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, s.clock.Now(), audit.Event{Action: "notice_file.names_read", ObjectType: "incident",
			ObjectID: c.IncidentID, Change: map[string]any{"case_id": c.ID, "files": files}})
		return err
	})
}

// summarize returns the state of the notices of case caseID.
func (s *Service) summarize(ctx context.Context, caseID string) (Summary, error) {
	var out Summary
	rows, err := s.db.R.QueryContext(ctx, countsSQL, caseID)
	if out.Tallies, err = db.Collect(rows, err, "count notices", func(r *sql.Rows) (Tally, error) {
		var t Tally
		return t, r.Scan(&t.Kind, &t.Channel, &t.Status, &t.Count)
	}); err != nil {
		return Summary{}, err
	}
	rows, err = s.db.R.QueryContext(ctx, `SELECT id, kind, template_ref, notices, generated_by, generated_at FROM notice_runs
		WHERE case_id = $1 ORDER BY generated_at, id`, caseID)
	if out.Runs, err = db.Collect(rows, err, "list notice runs", func(r *sql.Rows) (Run, error) {
		var run Run
		err := r.Scan(&run.ID, &run.Kind, &run.TemplateRef, &run.Notices, &run.GeneratedBy, &run.GeneratedAt)
		run.GeneratedAt = run.GeneratedAt.UTC()
		return run, err
	}); err != nil {
		return Summary{}, err
	}
	rows, err = s.db.R.QueryContext(ctx, `SELECT id, run_id, name, content_type, size, sha256, created_at FROM notice_files
		WHERE case_id = $1 ORDER BY created_at, id`, caseID)
	files, err := db.Collect(rows, err, "list notice files", func(r *sql.Rows) (File, error) {
		var f File
		if err := r.Scan(&f.ID, &f.RunID, &f.Name, &f.ContentType, &f.Size, &f.SHA256, &f.CreatedAt); err != nil {
			return File{}, err
		}
		f.CreatedAt = f.CreatedAt.UTC()
		var err error
		f.Name, err = s.open(f.Name, keys.NoticeFileName, f.ID)
		return f, err
	})
	if err != nil {
		return Summary{}, err
	}
	// Names are sealed, so they are put in order here.
	slices.SortStableFunc(files, func(a, b File) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.Name, b.Name)
	})
	for i := range out.Runs {
		for _, f := range files {
			if f.RunID == out.Runs[i].ID {
				out.Runs[i].Files = append(out.Runs[i].Files, f)
			}
		}
	}
	if out.Substitute, err = s.substitute(ctx, s.db.R, caseID); err != nil {
		return Summary{}, err
	}
	return out, nil
}

// ReadFile returns a generated file of incident ref's case with its
// content, opened. The files hold PHI: the caller's role must see PHI,
// and the read is audited first (45 CFR 164.312(b)).
func (s *Service) ReadFile(ctx context.Context, ref, fileID string) (File, []byte, error) {
	if _, err := authz.Check(ctx, authz.IncidentReadPHI); err != nil {
		return File{}, nil, err
	}
	c, err := s.cases.CaseOf(ctx, s.db.R, ref)
	if err != nil {
		return File{}, nil, err
	}
	var f File
	var sealed string
	err = s.db.R.QueryRowContext(ctx, `SELECT id, run_id, name, content_type, size, sha256, created_at, content FROM notice_files
		WHERE id = $1 AND case_id = $2`, fileID, c.ID).Scan(&f.ID, &f.RunID, &f.Name, &f.ContentType, &f.Size, &f.SHA256, &f.CreatedAt, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return File{}, nil, apperr.New(apperr.NotFound, "the case of %s has no notice file %s", c.IncidentNumber, fileID)
	}
	if err != nil {
		return File{}, nil, fmt.Errorf("read notice file: %w", err)
	}
	f.CreatedAt = f.CreatedAt.UTC()
	if f.Name, err = s.open(f.Name, keys.NoticeFileName, f.ID); err != nil {
		return File{}, nil, err
	}
	now := s.clock.Now()
	if err := s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, now, audit.Event{Action: "notice_file.phi_read", ObjectType: "incident", ObjectID: c.IncidentID,
			Change: map[string]any{"case_id": c.ID, "file_id": f.ID, "name": f.Name, "sha256": f.SHA256}})
		return err
	}); err != nil {
		return File{}, nil, err
	}
	if sealed == "" {
		return File{}, nil, apperr.New(apperr.Conflict, "this file's content was purged under the retention policy")
	}
	content, err := s.keys.Open(sealed, keys.NoticeFileContent.Table, keys.NoticeFileContent.Name, f.ID)
	if err != nil {
		return File{}, nil, fmt.Errorf("open notice file %s: %w", f.ID, err)
	}
	return f, content, nil
}

// MarkSent records that generated notices were sent at at (the vendor
// mailed the letters of a run, or a document went to its recipient):
// every generated notice of run runID, or the one notice noticeID. Each
// recipient group (the residents of a State) whose every owed individual
// is now notified has its individual notice obligation met, in the same
// transaction. During a law-enforcement hold (now, or at at) it is
// refused unless hold carries the official's leave.
func (s *Service) MarkSent(ctx context.Context, ref, runID, noticeID string, at time.Time, rcpt string, hold *breach.HoldOverride) (int, error) {
	actor, err := authz.Check(ctx, authz.BreachWrite)
	if err != nil {
		return 0, err
	}
	now := s.clock.Now()
	if at.IsZero() {
		at = now
	}
	if at.After(now) {
		return 0, apperr.Field("sent_at", "is in the future")
	}
	if (runID == "") == (noticeID == "") {
		return 0, apperr.Field("run_id", "name a run (all its generated notices) or a notice_id, not both")
	}
	if len(rcpt) > 500 {
		return 0, apperr.Field("receipt", "is at most 500 characters")
	}
	var n int64
	var c breach.Case
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if c, err = s.cases.CaseOf(ctx, tx, ref); err != nil {
			return err
		}
		if err := s.cases.CheckHoldTx(ctx, tx, c, "Recording notices as sent", at, hold); err != nil {
			return err
		}
		// Each notice keeps its own copy of the receipt, sealed to it.
		tally, err := s.cases.TallyTx(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT id, individual_id FROM notices WHERE case_id = $1 AND status = $2
			AND ((run_id = $3 AND $3 <> '') OR (id = $4 AND $4 <> '')) ORDER BY id`, c.ID, StatusGenerated, runID, noticeID)
		marked, err := db.Collect(rows, err, "read notices", func(r *sql.Rows) (pendingNotice, error) {
			var p pendingNotice
			return p, r.Scan(&p.id, &p.individual)
		})
		if err != nil {
			return err
		}
		individuals := make([]string, len(marked))
		for i, p := range marked {
			individuals[i] = p.individual
		}
		if err := tally.Before(ctx, tx, individuals...); err != nil {
			return err
		}
		for _, p := range marked {
			id := p.id
			sealed, err := keys.NoticeReceipt.SealText(s.keys, rcpt, id)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE notices SET status = $1, sent_at = $2, sent_by = $3, receipt = $4, updated_at = $5
				WHERE id = $6`, StatusSent, at, actor.String(), sealed, now, id); err != nil {
				return fmt.Errorf("mark notices sent: %w", err)
			}
		}
		if err := tally.Done(ctx, tx); err != nil {
			return err
		}
		n = int64(len(marked))
		if n == 0 {
			return apperr.New(apperr.NotFound, "no generated notice of that run or id on the case of %s", c.IncidentNumber)
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "notice.sent", ObjectType: "incident", ObjectID: c.IncidentID,
			Change: map[string]any{"case_id": c.ID, "run_id": runID, "notice_id": noticeID, "sent_at": at, "notices": n}}); err != nil {
			return err
		}
		if err := s.notifyTimeline(ctx, tx, c, fmt.Sprintf("%d notices recorded as sent on %s by %s.", n, at.UTC().Format("2006-01-02"), actor.Name)); err != nil {
			return err
		}
		return s.meetIndividualsTx(ctx, tx, c)
	})
	if err != nil {
		return 0, err
	}
	return int(n), nil
}

// ReturnProblem is why one row of a returns upload was not recorded.
type ReturnProblem struct {
	Line   int    `json:"line"`
	Reason string `json:"reason"`
}

// Returns is what a returns upload did.
type Returns struct {
	Rows       int
	Recorded   int
	Problems   []ReturnProblem
	Substitute SubstituteStatus
}

// RecordReturns reads a CSV of returned mail and bounced email for
// incident ref's case: a header naming individual_id or row_key (a
// notice id, as in the mailing list), and optionally reason and
// returned_at (YYYY-MM-DD). Each row marks the individual's latest sent
// notice returned. The answer says what substitute notice the returns
// now oblige (164.404(d)(2)).
func (s *Service) RecordReturns(ctx context.Context, ref string, in io.Reader) (Returns, error) {
	actor, err := authz.Check(ctx, authz.BreachWrite)
	if err != nil {
		return Returns{}, err
	}
	now := s.clock.Now()
	out, rets, err := readReturns(in, now)
	if err != nil {
		return Returns{}, err
	}
	var c breach.Case
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if c, err = s.cases.CaseOf(ctx, tx, ref); err != nil {
			return err
		}
		tally, err := s.cases.TallyTx(ctx, tx, c.ID)
		if err != nil {
			return err
		}
		recorded := 0
		for _, x := range rets {
			var id, individual string
			var err error
			if x.key != "" {
				err = tx.QueryRowContext(ctx, `SELECT id, individual_id FROM notices WHERE case_id = $1 AND id = $2 AND individual_id <> ''
					AND status = $3`, c.ID, x.key, StatusSent).Scan(&id, &individual)
			} else {
				err = tx.QueryRowContext(ctx, `SELECT id, individual_id FROM notices WHERE case_id = $1 AND individual_id = $2 AND status = $3
					ORDER BY sent_at DESC, id DESC LIMIT 1`, c.ID, x.individual, StatusSent).Scan(&id, &individual)
			}
			if errors.Is(err, sql.ErrNoRows) {
				out.Problems = append(out.Problems, ReturnProblem{x.line, "no sent notice to an individual matches"})
				continue
			}
			if err != nil {
				return fmt.Errorf("read notice: %w", err)
			}
			reason, err := keys.NoticeReturnReason.SealText(s.keys, x.reason, id)
			if err != nil {
				return err
			}
			if err := tally.Before(ctx, tx, individual); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE notices SET status = $1, returned_at = $2, return_reason = $3, updated_at = $4
				WHERE id = $5`, StatusReturned, x.at, reason, now, id); err != nil {
				return fmt.Errorf("save notice: %w", err)
			}
			recorded++
		}
		if err := tally.Done(ctx, tx); err != nil {
			return err
		}
		out.Recorded = recorded
		if out.Substitute, err = s.substitute(ctx, tx, c.ID); err != nil {
			return err
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "notice.returns", ObjectType: "incident", ObjectID: c.IncidentID,
			Change: map[string]any{"case_id": c.ID, "rows": out.Rows, "recorded": recorded, "problems": len(out.Problems),
				"substitute": out.Substitute.Substitute.Kind}}); err != nil {
			return err
		}
		return s.notifyTimeline(ctx, tx, c, fmt.Sprintf("%d returned or undeliverable notices recorded by %s; substitute notice owed: %s.",
			recorded, actor.Name, out.Substitute.Substitute.Kind))
	})
	if err != nil {
		return Returns{}, err
	}
	return out, nil
}

// returnRow is a row of a returns CSV that names a notice.
type returnRow struct {
	line                    int
	individual, key, reason string
	at                      time.Time
}

// readReturns reads a returns CSV (RecordReturns): the rows that name a
// notice, and in out the rows read and the problems of the others.
func readReturns(in io.Reader, now time.Time) (out Returns, rets []returnRow, err error) {
	r, err := input.NewCSV(in, input.CSVOptions{})
	if err != nil {
		return Returns{}, nil, apperr.Field("csv", "%s", err.Error())
	}
	header, err := r.Read()
	if errors.Is(err, io.EOF) {
		return Returns{}, nil, apperr.Field("csv", "the file is empty; the first line must name the columns")
	}
	if err != nil {
		return Returns{}, nil, err
	}
	if header.Problem != "" {
		return Returns{}, nil, apperr.Field("csv", "the header line: %s", header.Problem)
	}
	col := map[string]int{}
	for i, h := range header.Fields {
		col[strings.ToLower(strings.TrimSpace(h))] = i
	}
	_, hasInd := col["individual_id"]
	_, hasKey := col["row_key"]
	if !hasInd && !hasKey {
		return Returns{}, nil, apperr.Field("csv", "the header must name individual_id or row_key")
	}
	get := func(rec []string, name string) string {
		if i, ok := col[name]; ok && i < len(rec) {
			return strings.TrimSpace(rec[i])
		}
		return ""
	}
rows:
	for {
		rr, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Returns{}, nil, err
		}
		out.Rows++
		line, rec := rr.Line, rr.Fields
		if rr.Problem != "" {
			out.Problems = append(out.Problems, ReturnProblem{line, "malformed CSV: " + rr.Problem})
			continue
		}
		for _, name := range []string{"individual_id", "row_key", "reason", "returned_at"} {
			if reason := input.Text(get(rec, name)); reason != "" {
				out.Problems = append(out.Problems, ReturnProblem{line, name + " " + reason})
				continue rows
			}
		}
		x := returnRow{line: line, individual: get(rec, "individual_id"), key: get(rec, "row_key"), reason: get(rec, "reason"), at: now}
		if d := get(rec, "returned_at"); d != "" {
			t, err := time.Parse("2006-01-02", d)
			if err != nil || t.After(now) {
				out.Problems = append(out.Problems, ReturnProblem{line, "returned_at is not a date YYYY-MM-DD in the past"})
				continue
			}
			x.at = t
		}
		if len(x.reason) > 200 { // at most 200 bytes, cut between characters
			cut := 200
			for cut > 0 && !utf8.RuneStart(x.reason[cut]) {
				cut--
			}
			x.reason = x.reason[:cut]
		}
		if x.individual == "" && x.key == "" {
			out.Problems = append(out.Problems, ReturnProblem{line, "names no individual_id or row_key"})
			continue
		}
		rets = append(rets, x)
	}
	return out, rets, nil
}

// Resend queues notice id again, a returned or failed notice to an
// individual, on the same channel: an email goes with the next SendEmails,
// a letter into the next GenerateLetters (after the address was fixed by
// re-importing the individual).
func (s *Service) Resend(ctx context.Context, ref, id string) (Notice, error) {
	actor, err := authz.Check(ctx, authz.BreachWrite)
	if err != nil {
		return Notice{}, err
	}
	now := s.clock.Now()
	var out Notice
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		c, err := s.cases.CaseOf(ctx, tx, ref)
		if err != nil {
			return err
		}
		old, err := s.scanNotice(tx.QueryRowContext(ctx, `SELECT `+noticeColumns+` FROM notices WHERE case_id = $1 AND id = $2`, c.ID, id))
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.NotFound, "the case of %s has no notice %s", c.IncidentNumber, id)
		}
		if err != nil {
			return fmt.Errorf("read notice: %w", err)
		}
		if old.IndividualID == "" || (old.Status != StatusReturned && old.Status != StatusFailed) {
			return apperr.New(apperr.Conflict, "only a returned or failed notice to an individual is re-sent; notice %s is %s", id, old.Status)
		}
		var pending int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM notices WHERE case_id = $1 AND individual_id = $2 AND channel = $3 AND status = $4`,
			c.ID, old.IndividualID, old.Channel, StatusPending).Scan(&pending); err != nil {
			return fmt.Errorf("read notices: %w", err)
		}
		if pending > 0 {
			return apperr.New(apperr.Conflict, "a re-send of this notice is queued already")
		}
		if err := s.insertNotice(ctx, tx, c.ID, "", old.Kind, old.Channel, old.IndividualID, old.Recipient, StatusPending, old.ID, now); err != nil {
			return err
		}
		out, err = s.scanNotice(tx.QueryRowContext(ctx, `SELECT `+noticeColumns+` FROM notices WHERE resent_of = $1 AND status = $2`, old.ID, StatusPending))
		if err != nil {
			return fmt.Errorf("read notice: %w", err)
		}
		_, err = audit.Append(ctx, tx, now, audit.Event{Action: "notice.resend", ObjectType: "incident", ObjectID: c.IncidentID,
			Change: map[string]any{"case_id": c.ID, "notice_id": out.ID, "resent_of": old.ID, "channel": old.Channel, "by": actor.String()}})
		return err
	})
	return out, err
}

// SubstituteStatus is the substitute notice a case owes (164.404(d)(2)):
// individuals whose contact information is insufficient (from the import)
// plus those whose notice came back undeliverable and was not since sent
// again, and the periods of the posting and toll-free number.
type SubstituteStatus struct {
	InsufficientContact int
	Returned            int
	Substitute          rules.Substitute
	PostingStartedAt    *time.Time
	PostingEndsAt       *time.Time
	TollFreeStartedAt   *time.Time
	TollFreeEndsAt      *time.Time
	TollFreeNumber      string
	PostingURL          string
}

// returnedNotSentSQL counts the individuals of a case with a returned
// notice and no sent one from notice_returned_counts, which triggers keep
// (migration 0069): the case's rows since the last fold (FoldCounts),
// read from the index notice_returned_counts_case, however many notices
// the case has. The rows not yet folded are summed here, so the count is
// exact as of the read.
const returnedNotSentSQL = `SELECT CAST(COALESCE(sum(n), 0) AS BIGINT) FROM notice_returned_counts WHERE case_id = $1`

func (s *Service) substitute(ctx context.Context, q db.Querier, caseID string) (SubstituteStatus, error) {
	counts, err := s.cases.CountsOf(ctx, q, caseID)
	if err != nil {
		return SubstituteStatus{}, err
	}
	out := SubstituteStatus{InsufficientContact: counts.InsufficientContact}
	if err := q.QueryRowContext(ctx, returnedNotSentSQL, caseID).Scan(&out.Returned); err != nil {
		return SubstituteStatus{}, fmt.Errorf("count returned notices: %w", err)
	}
	out.Substitute = rules.SubstituteFor(out.InsufficientContact + out.Returned)
	var ps, pe, ts, te sql.NullTime
	err = q.QueryRowContext(ctx, `SELECT posting_started_at, posting_ends_at, toll_free_started_at, toll_free_ends_at, toll_free_number,
		posting_url FROM notice_substitutes WHERE case_id = $1`, caseID).Scan(&ps, &pe, &ts, &te, &out.TollFreeNumber, &out.PostingURL)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return SubstituteStatus{}, fmt.Errorf("read substitute notice: %w", err)
	}
	for _, p := range []struct {
		v   sql.NullTime
		dst **time.Time
	}{{ps, &out.PostingStartedAt}, {pe, &out.PostingEndsAt}, {ts, &out.TollFreeStartedAt}, {te, &out.TollFreeEndsAt}} {
		if p.v.Valid {
			t := p.v.Time.UTC()
			*p.dst = &t
		}
	}
	return out, nil
}

// Substitute returns the substitute notice status of incident ref's case.
func (s *Service) Substitute(ctx context.Context, ref string) (SubstituteStatus, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return SubstituteStatus{}, err
	}
	c, err := s.cases.CaseOf(ctx, s.db.R, ref)
	if err != nil {
		return SubstituteStatus{}, err
	}
	return s.substitute(ctx, s.db.R, c.ID)
}

// SubstituteInput records when a conspicuous substitute notice started.
type SubstituteInput struct {
	PostingStartedAt  *time.Time
	TollFreeStartedAt *time.Time
	TollFreeNumber    string
	PostingURL        string
	// Hold is the official's leave to give the notice during a
	// law-enforcement hold (164.412).
	Hold *breach.HoldOverride
}

// StartSubstitute records the start of the web posting (or media notice)
// and of the toll-free number of a conspicuous substitute notice; each
// must last 90 days (164.404(d)(2)(ii)(A)-(B)), so each end is its start
// plus 90 days. During a law-enforcement hold (now, or when the notice
// started) it is refused unless in.Hold carries the official's leave.
func (s *Service) StartSubstitute(ctx context.Context, ref string, in SubstituteInput) (SubstituteStatus, error) {
	actor, err := authz.Check(ctx, authz.BreachWrite)
	if err != nil {
		return SubstituteStatus{}, err
	}
	now := s.clock.Now()
	ends := func(t *time.Time, days int) *time.Time {
		if t == nil {
			return nil
		}
		e := t.UTC().AddDate(0, 0, days)
		return &e
	}
	if in.PostingStartedAt == nil && in.TollFreeStartedAt == nil {
		return SubstituteStatus{}, apperr.Field("posting_started_at", "give the start of the web posting, of the toll-free number, or both")
	}
	if len(in.TollFreeNumber) > 40 || len(in.PostingURL) > 500 {
		return SubstituteStatus{}, apperr.Field("toll_free_number", "is at most 40 characters, and posting_url at most 500")
	}
	var out SubstituteStatus
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		c, err := s.cases.CaseOf(ctx, tx, ref)
		if err != nil {
			return err
		}
		started := in.PostingStartedAt
		if started == nil || (in.TollFreeStartedAt != nil && in.TollFreeStartedAt.Before(*started)) {
			started = in.TollFreeStartedAt
		}
		if err := s.cases.CheckHoldTx(ctx, tx, c, "Recording the substitute notice", *started, in.Hold); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO notice_substitutes (case_id, posting_started_at, posting_ends_at, toll_free_started_at,
			toll_free_ends_at, toll_free_number, posting_url, updated_by, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (case_id) DO UPDATE SET posting_started_at = COALESCE(excluded.posting_started_at, notice_substitutes.posting_started_at),
			posting_ends_at = COALESCE(excluded.posting_ends_at, notice_substitutes.posting_ends_at),
			toll_free_started_at = COALESCE(excluded.toll_free_started_at, notice_substitutes.toll_free_started_at),
			toll_free_ends_at = COALESCE(excluded.toll_free_ends_at, notice_substitutes.toll_free_ends_at),
			toll_free_number = excluded.toll_free_number, posting_url = excluded.posting_url, updated_by = excluded.updated_by,
			updated_at = excluded.updated_at`, c.ID, in.PostingStartedAt, ends(in.PostingStartedAt, rules.SubstitutePostingDays),
			in.TollFreeStartedAt, ends(in.TollFreeStartedAt, rules.SubstituteTollFreeDays), in.TollFreeNumber, in.PostingURL,
			actor.String(), now); err != nil {
			return fmt.Errorf("save substitute notice: %w", err)
		}
		if out, err = s.substitute(ctx, tx, c.ID); err != nil {
			return err
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "notice.substitute", ObjectType: "incident", ObjectID: c.IncidentID,
			Change: map[string]any{"case_id": c.ID, "posting_started_at": in.PostingStartedAt, "toll_free_started_at": in.TollFreeStartedAt,
				"toll_free_number": in.TollFreeNumber, "posting_url": in.PostingURL}}); err != nil {
			return err
		}
		if err := s.notifyTimeline(ctx, tx, c, fmt.Sprintf("Substitute notice (164.404(d)(2)(ii)) recorded by %s: the web posting and the toll-free number each run 90 days.",
			actor.Name)); err != nil {
			return err
		}
		return s.meetIndividualsTx(ctx, tx, c)
	})
	return out, err
}
