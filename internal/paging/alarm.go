package paging

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/authz"
)

// kindPagingFailed tells the Security Officers that a page raised an
// alarm: it reached nobody, or nobody acknowledged it.
const kindPagingFailed = "paging_failed"

// raiseTx sets pg's alarm to kind, saying why in reason (Ward's own words,
// no PHI); the caller saves pg. The first alarm of an episode (from when
// it is raised until clearAlarm) is an officer alert, told to every
// active Security Officer on each verified contact method; a change of
// kind or reason within the episode only updates what the page shows.
func (p *Pager) raiseTx(ctx context.Context, tx *sql.Tx, pg *Page, kind, reason string, now time.Time) error {
	first := pg.Alarm == ""
	pg.Alarm, pg.AlarmReason = kind, reason
	if !first {
		return nil
	}
	pg.AlarmAt = &now
	p.log.WarnContext(ctx, "page_alarm", "page_id", pg.ID, "incident_id", pg.IncidentID, "alarm", kind)
	if err := p.incidents.RaiseOfficerAlertTx(ctx, tx, pg.IncidentID, reason); err != nil {
		return err
	}
	line := "the page reached nobody"
	if kind == AlarmUnacknowledged {
		line = "nobody acknowledged the page"
	}
	qs, err := officerContacts(ctx, tx, queued{kind: kindPagingFailed, pageID: pg.ID, incidentID: pg.IncidentID, line: line})
	if err != nil {
		return err
	}
	if len(qs) == 0 {
		p.log.WarnContext(ctx, "page_alarm_no_officer_reachable", "incident_id", pg.IncidentID)
	}
	return p.queueAll(ctx, tx, qs)
}

// clearAlarm ends pg's alarm: someone acknowledged or resolved the page,
// a page message of it got through, or it started again.
func clearAlarm(pg *Page) {
	pg.Alarm, pg.AlarmReason, pg.AlarmAt = "", "", nil
}

// unacknowledgedReason is the alarm's sentence when policy pol ran out.
func unacknowledgedReason(pol Policy) string {
	return "Nobody has acknowledged this page: the escalation policy " + pol.Name + " ran every step " + times(pol.Repeat+1) + "."
}

// unreachableReason is the alarm's sentence when step (from 0) of policy
// pol reached nobody, because of why.
func unreachableReason(pol Policy, step int, why string) string {
	return fmt.Sprintf("The page reached nobody: step %d of %d of the escalation policy %s %s.", step+1, len(pol.Steps), pol.Name, why)
}

func times(n int) string {
	switch n {
	case 1:
		return "once"
	case 2:
		return "twice"
	}
	return strconv.Itoa(n) + " times"
}

// failedForGood reports whether d is a message that will not be tried
// again because it failed.
func (p *Pager) failedForGood(d *delivery) bool {
	return d.skip == "" && !d.handBack && d.err != nil && p.outcome(d) == statusFailed
}

// roundAlarmsTx starts the record of a round ds, before anything else of
// it is written, as a resolve locks its page before its messages and its
// incident: it ends the AlarmUnreachable of each page a page message got
// through for, and locks and returns, for failedForGoodTx, the pages a
// page message failed for good for.
func (p *Pager) roundAlarmsTx(ctx context.Context, tx *sql.Tx, ds []*delivery) ([]Page, error) {
	var sent, failed []string
	for _, d := range ds {
		switch {
		case d.kind != kindPage || d.pageID == "":
		case d.skip == "" && !d.handBack && d.err == nil:
			sent = append(sent, d.pageID)
		case p.failedForGood(d):
			failed = append(failed, d.pageID)
		}
	}
	sent = slices.Compact(slices.Sorted(slices.Values(sent)))
	for len(sent) > 0 {
		chunk := sent[:min(len(sent), sentPerUpdate)]
		sent = sent[len(chunk):]
		marks := make([]string, len(chunk))
		args := []any{AlarmUnreachable}
		for i, id := range chunk {
			marks[i] = "$" + strconv.Itoa(i+2)
			args = append(args, id)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE pages SET alarm = '', alarm_reason = '', alarm_at = NULL, version = version + 1
			WHERE alarm = $1 AND id IN (`+strings.Join(marks, ", ")+`)`, args...); err != nil {
			return nil, fmt.Errorf("end the alarms of pages that got through: %w", err)
		}
	}
	var pages []Page
	for _, id := range slices.Compact(slices.Sorted(slices.Values(failed))) {
		pg, err := lockedPage(ctx, p.db, tx, "id", id)
		if err != nil {
			return nil, fmt.Errorf("read page: %w", err)
		}
		pages = append(pages, pg)
	}
	return pages, nil
}

// failedForGoodTx, at the end of a round's record, raises AlarmUnreachable
// on each of pages (from roundAlarmsTx) that is still escalating when no
// page message of its current step was sent or is on its way or due:
// every one failed for good.
func (p *Pager) failedForGoodTx(ctx context.Context, tx *sql.Tx, pages []Page, now time.Time) error {
	for i := range pages {
		pg := &pages[i]
		if pg.Status != PageTriggered || pg.StepAt == nil || pg.Alarm != "" {
			continue
		}
		var alive int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM notifications WHERE page_id = $1 AND kind = $2 AND created_at >= $3
			AND status NOT IN ($4, $5)`, pg.ID, kindPage, *pg.StepAt, statusFailed, statusCancelled).Scan(&alive); err != nil {
			return fmt.Errorf("count the step's messages: %w", err)
		}
		if alive > 0 {
			continue
		}
		pol, err := getPolicy(ctx, tx, pg.PolicyID)
		if err != nil {
			return err
		}
		if err := p.raiseTx(ctx, tx, pg, AlarmUnreachable, unreachableReason(pol, pg.Step, "paged no one: every message failed"), now); err != nil {
			return err
		}
		if err := savePage(ctx, p.db.In(tx), pg); err != nil {
			return err
		}
	}
	return nil
}

// Alarm is a page's alarm as people see it.
type Alarm struct {
	Kind   string // AlarmUnacknowledged or AlarmUnreachable
	Reason string
	Since  time.Time
}

// Alarms returns the alarms of the pages of the incidents ids (ids the
// caller may see), by incident id; incidents whose page raised none are
// absent.
func (p *Pager) Alarms(ctx context.Context, ids []string) (map[string]Alarm, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	out := map[string]Alarm{}
	for len(ids) > 0 {
		chunk := ids[:min(len(ids), pagesPerRead)]
		ids = ids[len(chunk):]
		marks := make([]string, len(chunk))
		args := make([]any, len(chunk))
		for i, id := range chunk {
			marks[i], args[i] = "$"+strconv.Itoa(i+1), id
		}
		rows, err := p.db.R.QueryContext(ctx, `SELECT incident_id, alarm, alarm_reason, alarm_at FROM pages
			WHERE alarm <> '' AND incident_id IN (`+strings.Join(marks, ", ")+`)`, args...)
		if err != nil {
			return nil, fmt.Errorf("read page alarms: %w", err)
		}
		for rows.Next() {
			var id string
			var a Alarm
			var at sql.NullTime
			if err := rows.Scan(&id, &a.Kind, &a.Reason, &at); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read page alarms: %w", err)
			}
			a.Since = at.Time.UTC()
			out[id] = a
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read page alarms: %w", err)
		}
	}
	return out, nil
}
