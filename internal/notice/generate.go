package notice

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/labels"
	"github.com/wardhq/ward/internal/notify"
)

// The channels of a notice.
const (
	ChannelMail     = "mail"     // first-class mail, 164.404(d)(1)(i)
	ChannelEmail    = "email"    // electronic mail, if agreed, 164.404(d)(1)(i)
	ChannelDocument = "document" // a notice file handed to media, a customer or a State
)

// The statuses of a notice.
const (
	StatusPending   = "pending"   // owed, not yet generated (a letter) or sent (an email)
	StatusGenerated = "generated" // in a generated file, not yet recorded as sent
	StatusSent      = "sent"
	StatusFailed    = "failed"   // the provider refused it
	StatusReturned  = "returned" // returned mail or a bounce
)

// Eligibility, in SQL over breach_individuals (breach.MailEligible).
const (
	emailEligible = breach.EmailEligible
	mailEligible  = breach.MailEligible
)

// Run is one generation of notices.
type Run struct {
	ID          string
	Kind        Kind
	TemplateRef string // the template version used
	Notices     int
	Sent        int // emails sent
	Failed      int // emails refused
	Deferred    int // emails not delivered for now (the server unreachable, a 4xx): still pending
	Files       []File
	GeneratedBy string
	GeneratedAt time.Time
}

// File is a generated file, without its content.
type File struct {
	ID          string
	RunID       string
	Name        string
	ContentType string
	Size        int
	SHA256      string
	CreatedAt   time.Time
	// NameRedacted says Name was withheld from a reader whose role may
	// not see PHI (Summarize).
	NameRedacted bool
}

// notifyTimeline adds a line to the incident's timeline.
func (s *Service) notifyTimeline(ctx context.Context, tx *sql.Tx, c breach.Case, text string) error {
	return s.incidents.RecordTx(ctx, tx, c.IncidentID, incident.EventBreach, text)
}

// createPending adds a pending notice on channel for every individual of
// case c eligible for it (where) who has none on that channel yet.
func (s *Service) createPending(ctx context.Context, tx *sql.Tx, c breach.Case, kind Kind, channel, where string, now time.Time) (int, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM breach_individuals b WHERE case_id = $1 AND `+where+` AND NOT EXISTS
		(SELECT 1 FROM notices n WHERE n.case_id = b.case_id AND n.individual_id = b.id AND n.channel = $2) ORDER BY id`, c.ID, channel)
	ids, err := db.Collect(rows, err, "read individuals", func(r *sql.Rows) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
	if err != nil {
		return 0, err
	}
	for _, id := range ids {
		if err := s.insertNotice(ctx, tx, c.ID, "", kind, channel, id, "individual", StatusPending, "", now); err != nil {
			return 0, err
		}
	}
	return len(ids), nil
}

// insertNotice saves a new notice, its recipient sealed.
func (s *Service) insertNotice(ctx context.Context, tx *sql.Tx, caseID, runID string, kind Kind, channel, individual, recipient, status,
	resentOf string, now time.Time) error {
	id := newID()
	recipient, err := keys.NoticeRecipient.SealText(s.keys, recipient, id)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO notices (id, case_id, run_id, kind, channel, individual_id, recipient, status, batch, page,
		pages, attempts, error, sent_at, sent_by, receipt, returned_at, return_reason, resent_of, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0, 0, 0, 0, '', NULL, '', '', NULL, '', $9, $10, $10)`,
		id, caseID, runID, string(kind), channel, individual, recipient, status, resentOf, now)
	if err != nil {
		return fmt.Errorf("save notice: %w", err)
	}
	return nil
}

type pendingNotice struct{ id, individual string }

func (s *Service) pending(ctx context.Context, q db.Querier, caseID, channel string) ([]pendingNotice, error) {
	rows, err := q.QueryContext(ctx, `SELECT id, individual_id FROM notices WHERE case_id = $1 AND channel = $2 AND status = $3
		ORDER BY individual_id, id`, caseID, channel, StatusPending)
	return db.Collect(rows, err, "read notices", func(r *sql.Rows) (pendingNotice, error) {
		var p pendingNotice
		return p, r.Scan(&p.id, &p.individual)
	})
}

// individualData is the merge data addressed to recipient r.
func individualData(base Data, r breach.Recipient) Data {
	d := base
	p := r.Person
	d.Individual = Individual{Name: p.Name, Address1: p.Address1, Address2: p.Address2, City: p.City, State: p.State,
		PostalCode: p.PostalCode, Email: p.Email}
	if r.Deceased {
		// 164.404(d)(1)(ii): to the next of kin or personal representative.
		d.Individual = Individual{Name: p.NextOfKin, Regarding: p.Name, Address1: p.NextOfKinAddress}
		if d.Individual.Name == "" {
			d.Individual.Name = "The family or personal representative of " + p.Name
		}
	}
	return d
}

// prepare reads what a generation needs: the case, its settings, counts
// and the approved template, checked to be fillable.
func (s *Service) prepare(ctx context.Context, q db.Querier, ref string, kind Kind, templateID string) (breach.Case, Template, Data, Settings, error) {
	c, err := s.cases.CaseOf(ctx, q, ref)
	if err != nil {
		return breach.Case{}, Template{}, Data{}, Settings{}, err
	}
	t, err := s.approved(ctx, q, kind, templateID)
	if err != nil {
		return breach.Case{}, Template{}, Data{}, Settings{}, err
	}
	st, err := s.settings(ctx, q, c.ID)
	if err != nil {
		return breach.Case{}, Template{}, Data{}, Settings{}, err
	}
	counts, err := s.cases.CountsOf(ctx, q, c.ID)
	if err != nil {
		return breach.Case{}, Template{}, Data{}, Settings{}, err
	}
	zone, err := s.cases.ZoneOf(ctx, q)
	if err != nil {
		return breach.Case{}, Template{}, Data{}, Settings{}, err
	}
	base := baseData(c, st, counts.Individuals, s.clock.Now(), zone)
	if err := checkFilled(t, base); err != nil {
		return breach.Case{}, Template{}, Data{}, Settings{}, err
	}
	return c, t, base, st, nil
}

// storedFile is a file to save with a run.
type storedFile struct {
	File
	content []byte
}

func newFile(runID, name, contentType string, content []byte, now time.Time) storedFile {
	// The name goes into a Content-Disposition header: keep it plain.
	name = strings.Map(func(r rune) rune {
		if r == '.' || r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
			return r
		}
		return '-'
	}, name)
	sum := sha256.Sum256(content)
	return storedFile{File: File{ID: newID(), RunID: runID, Name: name, ContentType: contentType, Size: len(content),
		SHA256: hex.EncodeToString(sum[:]), CreatedAt: now}, content: content}
}

// saveRun saves run and its files, sealed, in tx.
func (s *Service) saveRun(ctx context.Context, tx *sql.Tx, c breach.Case, run Run, st Settings, files []storedFile) error {
	plain, err := json.Marshal(st)
	if err != nil {
		return err
	}
	settings, err := keys.NoticeRunSettings.SealText(s.keys, string(plain), run.ID)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO notice_runs (id, case_id, kind, template_ref, settings, generated_by, generated_at, notices)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, run.ID, c.ID, string(run.Kind), run.TemplateRef, settings, run.GeneratedBy,
		run.GeneratedAt, run.Notices); err != nil {
		return fmt.Errorf("save notice run: %w", err)
	}
	return s.saveFiles(ctx, tx, c, run.ID, files)
}

// saveFiles saves files of run runID, sealed, in tx.
func (s *Service) saveFiles(ctx context.Context, tx *sql.Tx, c breach.Case, runID string, files []storedFile) error {
	for _, f := range files {
		sealed, err := s.keys.Seal(f.content, keys.NoticeFileContent.Table, keys.NoticeFileContent.Name, f.ID)
		if err != nil {
			return fmt.Errorf("seal notice file: %w", err)
		}
		name, err := keys.NoticeFileName.SealText(s.keys, f.Name, f.ID)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO notice_files (id, run_id, case_id, name, content_type, size, sha256, content, created_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, f.ID, runID, c.ID, name, f.ContentType, f.Size, f.SHA256, sealed,
			f.CreatedAt); err != nil {
			return fmt.Errorf("save notice file: %w", err)
		}
	}
	return nil
}

// GenerateLetters generates the letters of incident ref's case: a pending
// letter is added for every individual owed one by mail who has none, and
// every pending letter (those and re-sends) is rendered with the approved
// individual_letter template (templateID, or the latest approved), into
// PDF files of BatchSize letters each for a print-and-mail vendor, with
// the mailing list as CSV (name, address lines, batch, page). The letters
// become "generated"; record the mailing with MarkSent. During a
// law-enforcement hold it is refused unless hold carries the official's
// leave (breach.Service.CheckHoldTx).
func (s *Service) GenerateLetters(ctx context.Context, ref, templateID string, hold *breach.HoldOverride) (Run, error) {
	actor, err := authz.Check(ctx, authz.BreachWrite)
	if err != nil {
		return Run{}, err
	}
	c, t, base, st, err := s.prepare(ctx, s.db.R, ref, KindIndividualLetter, templateID)
	if err != nil {
		return Run{}, err
	}
	now := s.clock.Now()
	if err := s.db.Write(ctx, func(tx *sql.Tx) error {
		if err := s.cases.CheckHoldTx(ctx, tx, c, "Generating letters to individuals", time.Time{}, hold); err != nil {
			return err
		}
		_, err := s.createPending(ctx, tx, c, KindIndividualLetter, ChannelMail, mailEligible, now)
		return err
	}); err != nil {
		return Run{}, err
	}
	pend, err := s.pending(ctx, s.db.R, c.ID, ChannelMail)
	if err != nil {
		return Run{}, err
	}
	if len(pend) == 0 {
		return Run{}, apperr.New(apperr.Conflict, "no letters are owed: every individual with a postal address has one already")
	}
	run := Run{ID: newID(), Kind: KindIndividualLetter, TemplateRef: t.ID, GeneratedBy: actor.String(), GeneratedAt: now}
	if err := s.db.Write(ctx, func(tx *sql.Tx) error { return s.saveRun(ctx, tx, c, run, st, nil) }); err != nil {
		return Run{}, err
	}
	// Batch by batch, each in its own write: the PDF, its mailing list
	// and its letters' placement. Memory stays at one batch however many
	// letters are owed, and an interrupted run keeps the batches it
	// finished: generating again takes up the letters still pending.
	size := max(s.BatchSize, 1)
	for b := 0; b*size < len(pend); b++ {
		part := pend[b*size : min((b+1)*size, len(pend))]
		files, err := s.letterBatch(ctx, c, t, base, run, part, b+1, now)
		if err != nil {
			return run, err
		}
		run.Notices += len(part)
		for _, f := range files {
			run.Files = append(run.Files, f.File)
		}
	}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "notice.generate", ObjectType: "incident", ObjectID: c.IncidentID,
			Change: map[string]any{"case_id": c.ID, "run_id": run.ID, "kind": run.Kind, "template": t.ID, "letters": run.Notices,
				"files": len(run.Files)}}); err != nil {
			return err
		}
		return s.notifyTimeline(ctx, tx, c, fmt.Sprintf("%d letters to individuals generated by %s in %d PDF files, each with its mailing list.",
			run.Notices, actor.Name, len(run.Files)/2))
	})
	if err != nil {
		return run, err
	}
	return run, nil
}

// letterBatch renders batch number batch of run's letters (part) into a
// PDF and its mailing list (name, address lines, page), and saves both
// with the letters' placement in one write.
func (s *Service) letterBatch(ctx context.Context, c breach.Case, t Template, base Data, run Run, part []pendingNotice, batch int,
	now time.Time) ([]storedFile, error) {
	ids := make([]string, len(part))
	for i, p := range part {
		ids[i] = p.individual
	}
	people, err := s.cases.RecipientsByID(ctx, s.db.R, c.ID, ids)
	if err != nil {
		return nil, err
	}
	letters := make([]Letter, len(part))
	for i, p := range part {
		d := individualData(base, people[p.individual])
		merged, err := Merge("body", t.Body, d)
		if err != nil {
			return nil, apperr.Field("template_id", "the template does not merge: %s", cleanTemplateError(err))
		}
		letters[i] = Letter{Data: d, Markdown: merged}
	}
	var pdf bytes.Buffer
	placed, err := WriteLetters(&pdf, letters, now)
	if err != nil {
		return nil, err
	}
	name := fmt.Sprintf("letters-%s-batch-%03d.pdf", c.IncidentNumber, batch)
	var list bytes.Buffer
	cw := csv.NewWriter(&list)
	_ = cw.Write([]string{"row_key", "individual_id", "batch", "file", "first_page", "pages", "name", "address1", "address2", "city",
		"state", "postal_code"})
	for i, p := range part {
		in := letters[i].Data.Individual
		_ = cw.Write([]string{p.id, p.individual, strconv.Itoa(batch), name, strconv.Itoa(placed[i].FirstPage),
			strconv.Itoa(placed[i].Pages), csvSafe(in.Name), csvSafe(in.Address1), csvSafe(in.Address2), csvSafe(in.City),
			in.State, csvSafe(in.PostalCode)})
	}
	cw.Flush()
	files := []storedFile{newFile(run.ID, name, "application/pdf", pdf.Bytes(), now),
		newFile(run.ID, fmt.Sprintf("mailing-list-%s-batch-%03d.csv", c.IncidentNumber, batch), "text/csv", list.Bytes(), now)}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		for i, p := range part {
			r, err := tx.ExecContext(ctx, `UPDATE notices SET status = $1, run_id = $2, batch = $3, page = $4, pages = $5, updated_at = $6
				WHERE id = $7 AND status = $8`, StatusGenerated, run.ID, batch, placed[i].FirstPage, placed[i].Pages, now, p.id, StatusPending)
			if err != nil {
				return fmt.Errorf("save notice: %w", err)
			}
			if n, _ := r.RowsAffected(); n != 1 {
				return apperr.New(apperr.Conflict, "the letters were generated by someone else meanwhile; look at the case's notices")
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE notice_runs SET notices = notices + $1 WHERE id = $2`, len(part), run.ID); err != nil {
			return fmt.Errorf("save notice run: %w", err)
		}
		return s.saveFiles(ctx, tx, c, run.ID, files)
	})
	return files, err
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// SendEmails emails the individuals of incident ref's case who agreed to
// electronic notice (164.404(d)(1)(i)) and have none yet, and re-sends
// those pending, with the approved individual_email template, through the
// SMTP server (TLS required), several sessions at once. Each notice
// records the server's answer; a refused address is "failed". During a
// law-enforcement hold it is refused unless hold carries the official's
// leave.
func (s *Service) SendEmails(ctx context.Context, ref, templateID string, hold *breach.HoldOverride) (Run, error) {
	actor, err := authz.Check(ctx, authz.BreachWrite)
	if err != nil {
		return Run{}, err
	}
	if s.email == nil {
		return Run{}, apperr.New(apperr.Conflict, "no SMTP server is configured (--smtp-server): emails cannot be sent")
	}
	c, t, base, st, err := s.prepare(ctx, s.db.R, ref, KindIndividualEmail, templateID)
	if err != nil {
		return Run{}, err
	}
	now := s.clock.Now()
	run := Run{ID: newID(), Kind: KindIndividualEmail, TemplateRef: t.ID, GeneratedBy: actor.String(), GeneratedAt: now}
	if err := s.db.Write(ctx, func(tx *sql.Tx) error {
		if err := s.cases.CheckHoldTx(ctx, tx, c, "Sending email notices to individuals", time.Time{}, hold); err != nil {
			return err
		}
		if _, err := s.createPending(ctx, tx, c, KindIndividualEmail, ChannelEmail, emailEligible, now); err != nil {
			return err
		}
		pend, err := s.pending(ctx, tx, c.ID, ChannelEmail)
		if err != nil {
			return err
		}
		if len(pend) == 0 {
			return apperr.New(apperr.Conflict, "no emails are owed: every individual who agreed to electronic notice has one already")
		}
		return s.saveRun(ctx, tx, c, run, st, nil)
	}); err != nil {
		return Run{}, err
	}
	pend, err := s.pending(ctx, s.db.R, c.ID, ChannelEmail)
	if err != nil {
		return Run{}, err
	}
	const chunk = 1000
	for start := 0; start < len(pend); start += chunk {
		part := pend[start:min(start+chunk, len(pend))]
		ids := make([]string, len(part))
		for i, p := range part {
			ids[i] = p.individual
		}
		people, err := s.cases.RecipientsByID(ctx, s.db.R, c.ID, ids)
		if err != nil {
			return run, err
		}
		msgs := make([]Email, len(part))
		for i, p := range part {
			d := individualData(base, people[p.individual])
			if msgs[i], err = RenderEmail(t, d); err != nil {
				return run, apperr.Field("template_id", "the template does not merge: %s", cleanTemplateError(err))
			}
		}
		results := SendAll(ctx, s.email, msgs, s.Senders)
		sentAt := s.clock.Now()
		sent, failed, deferred := 0, 0, 0
		err = s.db.Write(ctx, func(tx *sql.Tx) error {
			sent, failed, deferred = 0, 0, 0
			tally, err := s.cases.TallyTx(ctx, tx, c.ID)
			if err != nil {
				return err
			}
			if err := tally.Before(ctx, tx, ids...); err != nil {
				return err
			}
			for i, p := range part {
				r := results[i]
				if r.Err != nil {
					// A refusal is final (re-send it after fixing the
					// address); a connection failure or 4xx leaves the
					// notice pending for the next send.
					status := StatusFailed
					if notify.IsTransient(r.Err) {
						status = StatusPending
						deferred++
					} else {
						failed++
					}
					var msg string
					if msg, err = keys.NoticeError.SealText(s.keys, safeError(r.Err), p.id); err != nil {
						return err
					}
					_, err = tx.ExecContext(ctx, `UPDATE notices SET status = $1, run_id = $2, attempts = attempts + 1, error = $3,
						updated_at = $4 WHERE id = $5`, status, run.ID, msg, sentAt, p.id)
				} else {
					sent++
					var rcpt string
					if rcpt, err = keys.NoticeReceipt.SealText(s.keys, receipt(r.Receipt), p.id); err != nil {
						return err
					}
					_, err = tx.ExecContext(ctx, `UPDATE notices SET status = $1, run_id = $2, attempts = attempts + 1, error = '',
						sent_at = $3, sent_by = $4, receipt = $5, updated_at = $3 WHERE id = $6`, StatusSent, run.ID, sentAt,
						actor.String(), rcpt, p.id)
				}
				if err != nil {
					return fmt.Errorf("save notice: %w", err)
				}
			}
			if err := tally.Done(ctx, tx); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `UPDATE notice_runs SET notices = notices + $1 WHERE id = $2`, len(part), run.ID); err != nil {
				return fmt.Errorf("save notice run: %w", err)
			}
			if _, err := audit.Append(ctx, tx, sentAt, audit.Event{Action: "notice.send", ObjectType: "incident", ObjectID: c.IncidentID,
				Change: map[string]any{"case_id": c.ID, "run_id": run.ID, "kind": run.Kind, "template": t.ID, "sent": sent,
					"failed": failed, "deferred": deferred}}); err != nil {
				return err
			}
			return s.notifyTimeline(ctx, tx, c, fmt.Sprintf(
				"%d email notices to individuals sent by %s; %d refused by the mail server; %d not delivered for now (sent again next time).",
				sent, actor.Name, failed, deferred))
		})
		if err != nil {
			return run, err
		}
		run.Notices += len(part)
		run.Sent += sent
		run.Failed += failed
		run.Deferred += deferred
	}
	if run.Sent > 0 {
		// Once, after every chunk's sends are recorded, rather than a
		// count over the whole list per chunk.
		if err := s.db.Write(ctx, func(tx *sql.Tx) error { return s.meetIndividualsTx(ctx, tx, c) }); err != nil {
			return run, err
		}
	}
	return run, nil
}

// receipt is what a notice records of the provider's answer.
func receipt(r notify.Receipt) string {
	out := r.ID
	if r.Status != "" {
		out += " " + r.Status
	}
	return out
}

// safeError is an error as stored: the server's words, never the message.
func safeError(err error) string {
	s := err.Error()
	if len(s) > 500 {
		s = s[:500]
	}
	return s
}

// Email is one rendered email.
type Email struct {
	To, Subject, Text string
}

// RenderEmail merges template t for d.
func RenderEmail(t Template, d Data) (Email, error) {
	merged, err := Merge("body", t.Body, d)
	if err != nil {
		return Email{}, err
	}
	subject, err := Merge("subject", t.Subject, d)
	if err != nil {
		return Email{}, err
	}
	return Email{To: d.Individual.Email, Subject: strings.Join(strings.Fields(subject), " "), Text: PlainText(merged)}, nil
}

// Result is what became of one email.
type Result struct {
	Receipt notify.Receipt
	Err     error
}

// SendAll sends msgs through workers SMTP sessions at once, each session
// delivering many messages in turn (one TLS handshake per session); a
// broken session is replaced. Results are in the order of msgs.
func SendAll(ctx context.Context, e *notify.Email, msgs []Email, workers int) []Result {
	out := make([]Result, len(msgs))
	next := make(chan int)
	// After maxOpenFails sessions in a row fail to open, the rest are not
	// tried.
	const maxOpenFails = 3
	var openFails atomic.Int32
	var lastOpen atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < max(workers, 1); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var sess *notify.EmailSession
			defer func() {
				if sess != nil {
					_ = sess.Close()
				}
			}()
			for i := range next {
				for attempt := 0; ; attempt++ {
					if sess == nil || sess.Broken() {
						if sess != nil {
							_ = sess.Close()
						}
						if openFails.Load() >= maxOpenFails {
							// The server is down: fail the rest at once
							// (transient, so they stay pending).
							out[i] = Result{Err: fmt.Errorf("smtp: not tried: %w", lastOpen.Load().(error))}
							break
						}
						var err error
						if sess, err = e.OpenSession(ctx); err != nil {
							sess = nil
							lastOpen.Store(err)
							openFails.Add(1)
							out[i] = Result{Err: err}
							break
						}
						openFails.Store(0)
					}
					r, err := sess.SendText(msgs[i].To, msgs[i].Subject, msgs[i].Text)
					out[i] = Result{Receipt: r, Err: err}
					// A connection that broke mid-message is retried once
					// on a new session; a refusal is final.
					if err == nil || !sess.Broken() || attempt > 0 {
						break
					}
				}
			}
		}()
	}
	for i := range msgs {
		if ctx.Err() != nil {
			out[i] = Result{Err: ctx.Err()}
			continue
		}
		next <- i
	}
	close(next)
	wg.Wait()
	return out
}

// GenerateDocuments generates the notices of kind (media_release,
// customer_notice, state_ag, substitute_web) that incident ref's case owes,
// one PDF per recipient, each a notice to track:
//
//   - media_release: one per State with more than 500 affected residents
//     (164.406(a));
//   - customer_notice: one per covered-entity customer of the case's facts
//     (164.410), each with the list of its individuals as CSV
//     (164.410(c)(1));
//   - state_ag: one per State regulator obligation of the case (its key,
//     e.g. state_regulator:NY-regulators, is the notice's recipient);
//   - substitute_web: the web posting (164.404(d)(2)(ii)(A)).
//
// During a law-enforcement hold it is refused unless hold carries the
// official's leave.
func (s *Service) GenerateDocuments(ctx context.Context, ref string, kind Kind, templateID string, hold *breach.HoldOverride) (Run, error) {
	actor, err := authz.Check(ctx, authz.BreachWrite)
	if err != nil {
		return Run{}, err
	}
	switch kind {
	case KindMediaRelease, KindCustomerNotice, KindStateAG, KindSubstituteWeb:
	default:
		return Run{}, apperr.Field("kind", "documents are generated for media_release, customer_notice, state_ag or substitute_web, not %q", kind)
	}
	c, t, base, st, err := s.prepare(ctx, s.db.R, ref, kind, templateID)
	if err != nil {
		return Run{}, err
	}
	now := s.clock.Now()
	run := Run{ID: newID(), Kind: kind, TemplateRef: t.ID, GeneratedBy: actor.String(), GeneratedAt: now}
	type doc struct {
		key  string
		data Data
	}
	var docs []doc
	counts, err := s.cases.CountsOf(ctx, s.db.R, c.ID)
	if err != nil {
		return Run{}, err
	}
	var phiFiles []storedFile
	switch kind {
	case KindMediaRelease:
		for _, sc := range counts.ByState {
			if sc.State != "" && sc.Individuals > MediaMoreThan {
				d := base
				d.Recipient = Recipient{Name: "Prominent media outlets serving " + sc.State, State: sc.State, Residents: sc.Individuals}
				docs = append(docs, doc{"media:" + sc.State, d})
			}
		}
	case KindStateAG:
		obs, err := s.cases.Obligations(ctx, ref)
		if err != nil {
			return Run{}, err
		}
		for _, o := range obs {
			if !strings.HasPrefix(o.Key, "state_regulator:") {
				continue
			}
			d := base
			d.Recipient = Recipient{Name: o.Authority, State: o.Jurisdiction, Residents: c.Facts.ByState[o.Jurisdiction]}
			docs = append(docs, doc{o.Key, d})
		}
	case KindCustomerNotice:
		for _, cu := range c.Facts.Customers {
			list, n, err := s.customerList(ctx, c.ID, cu.ID, cu.Name)
			if err != nil {
				return Run{}, err
			}
			d := base
			d.Recipient = Recipient{Name: cu.Name, Individuals: n}
			docs = append(docs, doc{"covered_entity:" + cu.ID, d})
			phiFiles = append(phiFiles, newFile(run.ID, "individuals-"+cu.ID+".csv", "text/csv", list, now))
		}
	case KindSubstituteWeb:
		docs = append(docs, doc{"substitute:web", base})
	}
	if len(docs) == 0 {
		return Run{}, apperr.New(apperr.Conflict, "the case owes no %s notice", kind)
	}
	files := phiFiles
	for _, d := range docs {
		merged, err := Merge("body", t.Body, d.data)
		if err != nil {
			return Run{}, apperr.Field("template_id", "the template does not merge: %s", cleanTemplateError(err))
		}
		var pdf bytes.Buffer
		if err := WriteDocument(&pdf, Letter{Data: d.data, Markdown: merged}, now); err != nil {
			return Run{}, err
		}
		// A file's name is read by people: hyphens, not a code's underscores.
		name := strings.ReplaceAll(string(kind)+"-"+d.key, "_", "-") + ".pdf"
		files = append(files, newFile(run.ID, name, "application/pdf", pdf.Bytes(), now))
		if kind == KindSubstituteWeb {
			files = append(files, newFile(run.ID, "substitute-web-notice.html", "text/html; charset=utf-8", []byte(HTML(merged)), now))
		}
	}
	run.Notices = len(docs)
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		if err := s.cases.CheckHoldTx(ctx, tx, c, "Generating the "+kindName(kind), time.Time{}, hold); err != nil {
			return err
		}
		if err := s.saveRun(ctx, tx, c, run, st, files); err != nil {
			return err
		}
		for _, d := range docs {
			if err := s.insertNotice(ctx, tx, c.ID, run.ID, kind, ChannelDocument, "", d.key, StatusGenerated, "", now); err != nil {
				return err
			}
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "notice.generate", ObjectType: "incident", ObjectID: c.IncidentID,
			Change: map[string]any{"case_id": c.ID, "run_id": run.ID, "kind": kind, "template": t.ID, "notices": len(docs),
				"files": len(files)}}); err != nil {
			return err
		}
		return s.notifyTimeline(ctx, tx, c, fmt.Sprintf("%s: %s generated by %s.", labels.Of(string(kind)),
			labels.Count(len(docs), "notice", "notices"), actor.Name))
	})
	if err != nil {
		return Run{}, err
	}
	for _, f := range files {
		run.Files = append(run.Files, f.File)
	}
	return run, nil
}

// MediaMoreThan: media notice is owed in a State with more than 500
// affected residents (45 CFR 164.406(a)).
const MediaMoreThan = 500

// customerList is the CSV list of the individuals of customer (by id or
// name) on case caseID: what 164.410(c)(1) asks a business associate to
// identify. It holds PHI and is stored sealed.
func (s *Service) customerList(ctx context.Context, caseID, id, name string) ([]byte, int, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT id FROM breach_individuals WHERE case_id = $1 AND (customer = $2 OR customer = $3) ORDER BY id`,
		caseID, id, name)
	ids, err := db.Collect(rows, err, "read individuals", func(r *sql.Rows) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
	if err != nil {
		return nil, 0, err
	}
	people, err := s.cases.RecipientsByID(ctx, s.db.R, caseID, ids)
	if err != nil {
		return nil, 0, err
	}
	sort.Strings(ids)
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"individual_id", "name", "address1", "address2", "city", "state", "postal_code", "email", "phone", "date_of_birth", "deceased"})
	for _, id := range ids {
		p := people[id]
		_ = w.Write([]string{id, csvSafe(p.Person.Name), csvSafe(p.Person.Address1), csvSafe(p.Person.Address2), csvSafe(p.Person.City),
			p.State, csvSafe(p.Person.PostalCode), csvSafe(p.Person.Email), csvSafe(p.Person.Phone), p.Person.DateOfBirth,
			strconv.FormatBool(p.Deceased)})
	}
	w.Flush()
	return b.Bytes(), len(ids), nil
}
