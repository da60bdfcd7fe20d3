package report

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/labels"
)

// Overdue is the reminder mark of a deadline that has passed.
const Overdue = "overdue"

const day = 24 * time.Hour

// Reminder is one deadline reminder sent.
type Reminder struct {
	IncidentNumber string    `json:"incident_number"`
	Obligation     string    `json:"obligation"`
	DueAt          time.Time `json:"due_at"`
	Mark           string    `json:"mark" doc:"Days before the deadline (\"7\"), or overdue."`
	SentAt         time.Time `json:"sent_at"`
	Recipients     int       `json:"recipients" doc:"Officers it was sent to."`
}

// mark is the reminder due for a deadline at due seen at now: the
// smallest of days (descending) whose reminder time has come, "overdue"
// once it has passed, "" before the first.
func mark(days []int, due, now time.Time) string {
	if now.After(due) {
		return Overdue
	}
	m := ""
	for _, d := range days {
		if !now.Before(due.Add(-time.Duration(d) * day)) {
			m = strconv.Itoa(d)
		}
	}
	return m
}

// reminderLine is the message's status line, a sentence in Ward's own
// words: the incident's number, whom the notice is owed to (the
// obligation's label, breach.Label, shortened to its recipient group and
// State code when the sentence would not fit) and the due day in the
// organisation's zone loc. Never PHI: a customer's name is left out. At
// most 64 bytes (notify.Message.Status).
func reminderLine(number string, o rules.Obligation, m string, due time.Time, loc *time.Location) string {
	day := breach.FormatDueDay(due, loc)
	var lines []string
	for _, who := range []string{reminderWho(o), reminderWhoShort(o)} {
		if m == Overdue {
			lines = append(lines, "OVERDUE "+number+": notify "+who+"; it was due "+day+".",
				"OVERDUE "+number+": notify "+who+", due "+day+".")
			continue
		}
		days, _ := strconv.Atoi(m)
		lines = append(lines, number+": notify "+who+" by "+day+" ("+labels.Count(days, "day", "days")+" left).",
			number+": notify "+who+" by "+day+".")
	}
	for _, l := range lines {
		if len(l) <= 64 {
			return l
		}
	}
	if m == Overdue {
		return "OVERDUE " + number + ": a breach notice was due " + day + "."
	}
	return number + ": a breach notice is due " + day + "."
}

// reminderWho names whom a notice is owed to, inside a sentence.
func reminderWho(o rules.Obligation) string {
	switch o.Recipient {
	case rules.ToCoveredEntity:
		return "the covered entity (your customer)"
	case rules.ToFTC:
		return "the " + breach.Label(o)
	case rules.ToIndividuals, rules.ToMedia, rules.ToCRA:
		l := breach.Label(o)
		return strings.ToLower(l[:1]) + l[1:]
	}
	if l := breach.Label(o); l != "" {
		return l
	}
	return reminderWhoShort(o)
}

// reminderWhoShort is reminderWho with the State's code for its name.
func reminderWhoShort(o rules.Obligation) string {
	in := ""
	if o.Jurisdiction != "" {
		in = " in " + o.Jurisdiction
	}
	switch o.Recipient {
	case rules.ToIndividuals:
		return "individuals" + in
	case rules.ToMedia:
		return "media" + in
	case rules.ToCRA:
		return "credit bureaus" + in
	case rules.ToRegulator:
		return "the State regulator" + in
	case rules.ToCoveredEntity:
		return "your customer"
	case rules.ToHHS:
		return "HHS"
	case rules.ToFTC:
		return "the FTC"
	}
	return "the recipient" + in
}

// CheckReminders reminds the Privacy and Security Officers of each unmet
// notice obligation as its deadline approaches (at each of the reminder
// days) and once it is overdue. A law-enforcement delay (164.412) moves
// the due date the rules compute, and reminders count from it, so the
// officers are ready when the delay ends. Each reminder is sent once,
// recorded in report_reminders and on the incident's timeline. It returns
// how many it sent. The server runs it beside the SLA checks.
func (s *Service) CheckReminders(ctx context.Context) (int, error) {
	ctx = authz.WithActor(ctx, authz.System)
	now := s.clock.Now()
	org, err := s.cases.Organisation(ctx)
	if err != nil {
		return 0, err
	}
	// The first reminder is due this long before a deadline.
	horizon := now.Add(time.Duration(s.reminders[0]) * day)
	// One read: the unmet obligations whose first reminder time has come
	// (breach_obligations_due), each with the reminders already sent for
	// its due time, one row per reminder; an obligation whose reminder of
	// the moment was sent costs nothing more.
	rows, err := s.db.R.QueryContext(ctx, `SELECT o.case_id, c.incident_id, i.number, o.obligation, o.body, o.due_at, COALESCE(r.mark, '')
		FROM breach_obligations o JOIN breach_cases c ON c.id = o.case_id JOIN incidents i ON i.id = c.incident_id
		LEFT JOIN report_reminders r ON r.case_id = o.case_id AND r.obligation = o.obligation AND r.due_at = o.due_at
		WHERE o.met_at IS NULL AND o.due_at <= $1
		AND NOT EXISTS (SELECT 1 FROM report_reminders x WHERE x.case_id = o.case_id AND x.obligation = o.obligation
			AND x.due_at = o.due_at AND x.mark = $2)
		ORDER BY o.due_at, o.case_id, o.obligation LIMIT 4000`, horizon, Overdue)
	if err != nil {
		return 0, fmt.Errorf("list obligations due: %w", err)
	}
	type due struct {
		caseID, incidentID, number, key, mark string
		ob                                    rules.Obligation
		at                                    time.Time
		sent                                  []string
	}
	var all []*due
	for rows.Next() {
		var d due
		var body, sentMark string
		if err := rows.Scan(&d.caseID, &d.incidentID, &d.number, &d.key, &body, &d.at, &sentMark); err != nil {
			rows.Close()
			return 0, err
		}
		if n := len(all); n > 0 && all[n-1].caseID == d.caseID && all[n-1].key == d.key {
			all[n-1].sent = append(all[n-1].sent, sentMark)
			continue
		}
		if err := json.Unmarshal([]byte(body), &d.ob); err != nil {
			rows.Close()
			return 0, err
		}
		d.at = d.at.UTC()
		d.mark = mark(s.reminders, d.at, now)
		d.sent = []string{sentMark}
		all = append(all, &d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	all = slices.DeleteFunc(all, func(d *due) bool { return d.mark == "" || slices.Contains(d.sent, d.mark) })
	sent := 0
	for _, d := range all {
		err := s.db.Write(ctx, func(tx *sql.Tx) error {
			var done int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM report_reminders WHERE case_id = $1 AND obligation = $2 AND due_at = $3
				AND mark = $4`, d.caseID, d.key, d.at, d.mark).Scan(&done); err != nil {
				return fmt.Errorf("read reminders: %w", err)
			}
			if done > 0 {
				return nil
			}
			officers, err := officers(ctx, tx)
			if err != nil {
				return err
			}
			n, err := s.notifier.NotifyTx(ctx, tx, "reminder", d.incidentID, reminderLine(d.number, d.ob, d.mark, d.at, org.Zone), officers)
			if err != nil {
				return err
			}
			if n == 0 {
				// Still recorded and on the timeline, where the deadline
				// board shows it too; the operator must see it in the logs.
				s.log.WarnContext(ctx, "breach_reminder_no_officer_reachable", "incident_id", d.incidentID, "obligation", d.key, "mark", d.mark)
			}
			res, err := tx.ExecContext(ctx, `INSERT INTO report_reminders (case_id, obligation, due_at, mark, sent_at, recipients)
				VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (case_id, obligation, due_at, mark) DO NOTHING`, d.caseID, d.key, d.at, d.mark, now, n)
			if err != nil {
				return fmt.Errorf("record reminder: %w", err)
			}
			if k, _ := res.RowsAffected(); k == 0 {
				return nil
			}
			days, _ := strconv.Atoi(d.mark)
			note := fmt.Sprintf("Reminder: the notice to %s is due %s (%s left); the Privacy and Security Officers were reminded (%s).",
				breach.Label(d.ob), breach.FormatDue(d.at, org.Zone), labels.Count(days, "day", "days"), labels.Count(n, "message", "messages"))
			if d.mark == Overdue {
				note = fmt.Sprintf("OVERDUE: the notice to %s was due %s (%s); the Privacy and Security Officers were told (%s).",
					breach.Label(d.ob), breach.FormatDue(d.at, org.Zone), d.ob.Citation, labels.Count(n, "message", "messages"))
			}
			if err := s.incidents.RecordTx(ctx, tx, d.incidentID, incident.EventBreach, note); err != nil {
				return err
			}
			sent++
			return nil
		})
		if err != nil {
			return sent, fmt.Errorf("remind %s: %w", d.key, err)
		}
	}
	return sent, nil
}

// officers are the active Privacy and Security Officers' user ids.
func officers(ctx context.Context, tx *sql.Tx) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM users WHERE role IN ($1, $2) AND NOT disabled ORDER BY username`,
		authz.RolePrivacyOfficer, authz.RoleSecurityOfficer)
	return db.Collect(rows, err, "read officers", func(r *sql.Rows) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
}

func (s *Service) remindersOf(ctx context.Context, caseID string) ([]Reminder, error) {
	return s.listReminders(ctx, `WHERE r.case_id = $1`, caseID)
}

func (s *Service) listReminders(ctx context.Context, where string, args ...any) ([]Reminder, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT i.number, r.obligation, r.due_at, r.mark, r.sent_at, r.recipients FROM report_reminders r
		JOIN breach_cases c ON c.id = r.case_id JOIN incidents i ON i.id = c.incident_id `+where+` ORDER BY r.sent_at DESC, r.obligation LIMIT 1000`,
		args...)
	if err != nil {
		return nil, fmt.Errorf("list reminders: %w", err)
	}
	defer rows.Close()
	out := []Reminder{}
	for rows.Next() {
		var r Reminder
		if err := rows.Scan(&r.IncidentNumber, &r.Obligation, &r.DueAt, &r.Mark, &r.SentAt, &r.Recipients); err != nil {
			return nil, err
		}
		r.DueAt, r.SentAt = r.DueAt.UTC(), r.SentAt.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

// Reminders lists the reminders sent for incident ref's case, newest
// first.
func (s *Service) Reminders(ctx context.Context, ref string) ([]Reminder, error) {
	if _, err := authz.Check(ctx, authz.ReportRead); err != nil {
		return nil, err
	}
	c, err := s.cases.CaseOf(ctx, s.db.R, ref)
	if err != nil {
		return nil, err
	}
	return s.remindersOf(ctx, c.ID)
}
