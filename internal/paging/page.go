package paging

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/alert"
	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
)

// PageStatus is where a page stands.
type PageStatus string

// The page statuses.
const (
	PageTriggered    PageStatus = "triggered"    // escalating until someone acknowledges
	PageAcknowledged PageStatus = "acknowledged" // someone is on it; re-paged after the policy's ack timeout
	PageResolved     PageStatus = "resolved"     // nothing more is sent
)

// Page is an incident's paging: which step of its policy has run and when
// the next is due.
type Page struct {
	ID             string
	IncidentID     string
	ServiceID      string
	PolicyID       string
	Status         PageStatus
	Step           int // the step notified last, from 0
	Round          int // the repeat it belongs to, from 0
	NextAt         *time.Time
	CreatedAt      time.Time
	AcknowledgedAt *time.Time
	AcknowledgedBy string
	ResolvedAt     *time.Time
	ResolvedBy     string
	Version        int64
	// Alarm is AlarmUnacknowledged or AlarmUnreachable while the page
	// needs a person's hand, else empty; AlarmReason says why in Ward's
	// own words (no PHI) and AlarmAt since when.
	Alarm       string
	AlarmReason string
	AlarmAt     *time.Time
	// StepAt is when the current step ran: its messages are those
	// created since.
	StepAt *time.Time
}

// The alarms a page raises.
const (
	// AlarmUnacknowledged: the escalation policy ran every step and
	// repeat and nobody acknowledged.
	AlarmUnacknowledged = "unacknowledged"
	// AlarmUnreachable: no message of the current step reached anyone
	// (nobody to page with a verified contact method, or every message
	// failed for good).
	AlarmUnreachable = "unreachable"
)

// The kinds of message in the outbox.
const (
	kindPage    = "page"
	kindVerify  = "verify"
	kindOfficer = "emergency_access"
	// kindBackupFailed tells the Security Officers a scheduled backup failed.
	kindBackupFailed = "backup_failed"
	// kindAuditChainBroken tells the Security Officers the audit trail
	// was found altered.
	kindAuditChainBroken = "audit_chain_broken"
	// kindEvidenceAltered tells the Security Officers an evidence item
	// failed its integrity check.
	kindEvidenceAltered = "evidence_altered"
	// KindStatusUpdate and KindReminder are the messages NotifyTx sends.
	KindStatusUpdate = "status_update"
	KindReminder     = "reminder"
)

// The statuses of a message in the outbox.
const (
	statusScheduled   = "scheduled"
	statusQueued      = "queued"
	statusSending     = "sending"
	statusSent        = "sent"
	statusFailed      = "failed"
	statusCancelled   = "cancelled"
	statusRateLimited = "rate_limited"
)

const pageColumns = `id, incident_id, service_id, policy_id, status, step, round, next_at, created_at,
	acknowledged_at, acknowledged_by, resolved_at, resolved_by, version, alarm, alarm_reason, alarm_at, step_at`

func scanPage(r scanner) (Page, error) {
	var pg Page
	var next, acked, resolved, alarmAt, stepAt sql.NullTime
	err := r.Scan(&pg.ID, &pg.IncidentID, &pg.ServiceID, &pg.PolicyID, &pg.Status, &pg.Step, &pg.Round, &next, &pg.CreatedAt,
		&acked, &pg.AcknowledgedBy, &resolved, &pg.ResolvedBy, &pg.Version, &pg.Alarm, &pg.AlarmReason, &alarmAt, &stepAt)
	pg.CreatedAt = pg.CreatedAt.UTC()
	pg.NextAt, pg.AcknowledgedAt, pg.ResolvedAt = timePtr(next), timePtr(acked), timePtr(resolved)
	pg.AlarmAt, pg.StepAt = timePtr(alarmAt), timePtr(stepAt)
	return pg, err
}

func timePtr(t sql.NullTime) *time.Time {
	if !t.Valid {
		return nil
	}
	u := t.Time.UTC()
	return &u
}

func nullTime(t *time.Time) sql.NullTime {
	if t == nil {
		return sql.NullTime{}
	}
	return sql.NullTime{Time: *t, Valid: true}
}

// lockedPage reads the page whose column where is arg for change inside
// tx; on PostgreSQL the row stays locked until tx ends. The lock is FOR NO
// KEY UPDATE: a change never alters the page's id, so rows that refer to
// the page (a delivery round's action links) may still be written, their
// foreign key's share lock not waiting on it. FOR UPDATE made that round,
// which holds its messages, and a resolve, which cancels them, deadlock.
func lockedPage(ctx context.Context, d *db.DB, tx *sql.Tx, where string, arg string) (Page, error) {
	q := `SELECT ` + pageColumns + ` FROM pages WHERE ` + where + ` = $1`
	if d.Dialect == db.Postgres {
		q += ` FOR NO KEY UPDATE`
	}
	return scanPage(tx.QueryRowContext(ctx, q, arg))
}

func savePage(ctx context.Context, q db.Querier, pg *Page) error {
	pg.Version++
	return db.Exec(ctx, q, "save page", `UPDATE pages SET status = $1, step = $2, round = $3, next_at = $4, acknowledged_at = $5,
		acknowledged_by = $6, resolved_at = $7, resolved_by = $8, version = $9, alarm = $10, alarm_reason = $11, alarm_at = $12,
		step_at = $13 WHERE id = $14`,
		pg.Status, pg.Step, pg.Round, nullTime(pg.NextAt), nullTime(pg.AcknowledgedAt), pg.AcknowledgedBy,
		nullTime(pg.ResolvedAt), pg.ResolvedBy, pg.Version, pg.Alarm, pg.AlarmReason, nullTime(pg.AlarmAt), nullTime(pg.StepAt), pg.ID)
}

// AlertOpenedTx starts paging for incidentID if its service has an
// escalation policy and the incident has no page under way; a resolved
// page starts again from the first step. It implements alert.Pager.
func (p *Pager) AlertOpenedTx(ctx context.Context, tx *sql.Tx, svc alert.Service, incidentID string) error {
	if svc.EscalationPolicyID == "" {
		return nil
	}
	_, err := p.startTx(ctx, tx, svc.ID, svc.EscalationPolicyID, incidentID, "",
		"A new alert arrived after the page was resolved: paging again. ")
	return err
}

// PagePolicyTx pages escalation policy policyID for incidentID, as a
// workflow rule's page_policy action, through the same path as an alert:
// nothing happens if the incident has a page under way (one page per
// incident), and a resolved page starts again from the first step of the
// policy. The page is recorded under the service of the incident's first
// alert or, for an incident no alert opened, the first service (by name)
// that the policy pages for; with neither there is nothing to page under.
// It returns what it did, in words for the timeline.
func (p *Pager) PagePolicyTx(ctx context.Context, tx *sql.Tx, incidentID, policyID, why string) (string, error) {
	pol, err := getPolicy(ctx, tx, policyID)
	if err != nil {
		return "", err
	}
	var svc string
	err = tx.QueryRowContext(ctx, `SELECT service_id FROM alerts WHERE incident_id = $1 ORDER BY first_at, id LIMIT 1`,
		incidentID).Scan(&svc)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRowContext(ctx, `SELECT id FROM services WHERE escalation_policy_id = $1 ORDER BY name LIMIT 1`,
			pol.ID).Scan(&svc)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return "could not page " + pol.Name + ": the incident has no alert and no service uses that policy", nil
	}
	if err != nil {
		return "", fmt.Errorf("read the incident's service: %w", err)
	}
	started, err := p.startTx(ctx, tx, svc, pol.ID, incidentID, why+" ", why+" Paging again. ")
	if err != nil || !started {
		return "found a page under way already", err
	}
	return "paged " + pol.Name, nil
}

// startTx starts paging incidentID under policyID for service svc unless
// a page is under way, prefixing the timeline note with why, or with again
// when a resolved page starts over. started says whether it paged.
func (p *Pager) startTx(ctx context.Context, tx *sql.Tx, svc, policyID, incidentID, why, again string) (started bool, err error) {
	now := p.clock.Now()
	// An incident this transaction created has no page unless this
	// transaction made one: a read spared on each alert that opens an
	// incident (one round trip on PostgreSQL).
	pg, err := Page{}, sql.ErrNoRows
	if _, made := db.Recall(tx, pageMemo{incidentID}); made || !incident.CreatedTx(tx, incidentID) {
		pg, err = lockedPage(ctx, p.db, tx, "incident_id", incidentID)
	}
	switch {
	case errors.Is(err, sql.ErrNoRows):
		pg = Page{ID: newID(), IncidentID: incidentID, ServiceID: svc, PolicyID: policyID,
			Status: PageTriggered, CreatedAt: now}
		if err := p.db.In(tx).Defer(ctx, "insert page", `INSERT INTO pages (`+pageColumns+`, triggered_at)
			VALUES ($1, $2, $3, $4, $5, 0, 0, NULL, $6, NULL, '', NULL, '', 0, '', '', NULL, NULL, $6)`,
			pg.ID, pg.IncidentID, pg.ServiceID, pg.PolicyID, pg.Status, pg.CreatedAt); err != nil {
			return false, err
		}
		db.Remember(tx, pageMemo{incidentID}, true)
		p.countPage(tx, eventTriggered)
		return true, p.runStep(ctx, tx, &pg, now, why)
	case err != nil:
		return false, fmt.Errorf("read page: %w", err)
	case pg.Status != PageResolved:
		return false, nil
	}
	pg.Status, pg.Step, pg.Round, pg.AcknowledgedAt, pg.AcknowledgedBy, pg.ResolvedAt, pg.ResolvedBy =
		PageTriggered, 0, 0, nil, "", nil, ""
	clearAlarm(&pg)
	pg.ServiceID, pg.PolicyID = svc, policyID
	if err := p.retriggerTx(ctx, tx, &pg, now); err != nil {
		return false, err
	}
	return true, p.runStep(ctx, tx, &pg, now, again)
}

// pageMemo marks, in a transaction, an incident it made a page for
// (db.Remember).
type pageMemo struct{ incidentID string }

// AlertsResolvedTx ends the page of an incident whose alerts are all
// resolved. It implements alert.Pager.
func (p *Pager) AlertsResolvedTx(ctx context.Context, tx *sql.Tx, incidentID string) error {
	pg, err := lockedPage(ctx, p.db, tx, "incident_id", incidentID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read page: %w", err)
	}
	if pg.Status == PageResolved {
		return nil
	}
	return p.resolveTx(ctx, tx, &pg, p.clock.Now(), "alerts", "Every alert of the incident resolved: paging ended.")
}

// AlertsAcknowledgedTx acknowledges the page of an incident whose open
// alerts are all acknowledged (an Events v2 acknowledge from the
// monitoring tool), as the actor in ctx. It implements alert.Pager.
func (p *Pager) AlertsAcknowledgedTx(ctx context.Context, tx *sql.Tx, incidentID string) error {
	pg, err := lockedPage(ctx, p.db, tx, "incident_id", incidentID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read page: %w", err)
	}
	if pg.Status != PageTriggered {
		return nil
	}
	actor, ok := authz.ActorFrom(ctx)
	if !ok {
		actor = authz.System
	}
	return p.acknowledgeTx(ctx, tx, &pg, p.clock.Now(), actor.String(),
		"Page acknowledged by the monitoring tool ("+actor.Name+"): every alert of the incident is acknowledged.")
}

// retriggerTx records that pg starts again at now, for the first-page
// latency, and counts it as triggered once tx commits.
func (p *Pager) retriggerTx(ctx context.Context, tx *sql.Tx, pg *Page, now time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE pages SET triggered_at = $1, first_sent_at = NULL WHERE id = $2`, now, pg.ID); err != nil {
		return fmt.Errorf("record the page's trigger: %w", err)
	}
	p.countPage(tx, eventTriggered)
	return nil
}

// runStep notifies the targets of the page's current step, sets when the
// next is due and records it all on the incident's timeline, prefixed by
// why.
func (p *Pager) runStep(ctx context.Context, tx *sql.Tx, pg *Page, now time.Time, why string) error {
	pol, err := policyTx(ctx, tx, pg.PolicyID)
	if err != nil {
		return err
	}
	if pg.Step >= len(pol.Steps) { // the policy lost steps since
		pg.Step = 0
	}
	st := pol.Steps[pg.Step]
	users, missing, err := p.expand(ctx, tx, st.Targets, now)
	if err != nil {
		return err
	}
	var paged []string
	for _, u := range users {
		n, name, err := p.notifyUser(ctx, tx, pg, u, now)
		if err != nil {
			return err
		}
		if n == 0 {
			missing = append(missing, name+" has no verified contact method")
		} else {
			paged = append(paged, name)
		}
	}
	next := now.Add(time.Duration(st.DelayMinutes) * time.Minute)
	pg.NextAt, pg.StepAt = &next, &now
	if len(paged) == 0 {
		why := "has nobody to page"
		if len(users) > 0 {
			why = "paged no one: nobody on it has a verified contact method"
		}
		if err := p.raiseTx(ctx, tx, pg, AlarmUnreachable, unreachableReason(pol, pg.Step, why), now); err != nil {
			return err
		}
	}
	if err := savePage(ctx, p.db.In(tx), pg); err != nil {
		return err
	}
	note := fmt.Sprintf("%sStep %d of %d", why, pg.Step+1, len(pol.Steps))
	if pg.Round > 0 {
		note += fmt.Sprintf(", repeat %d of %d", pg.Round, pol.Repeat)
	}
	if len(paged) > 0 {
		note += ": paged " + strings.Join(paged, ", ")
	} else {
		note += ": NOBODY WAS PAGED"
	}
	if len(missing) > 0 {
		note += ". Not reached: " + strings.Join(missing, "; ")
	}
	note += fmt.Sprintf(". Escalates in %d minutes unless acknowledged.", st.DelayMinutes)
	if len(paged) == 0 {
		p.log.WarnContext(ctx, "page_reached_nobody", "page_id", pg.ID, "incident_id", pg.IncidentID, "step", pg.Step+1)
	}
	return p.incidents.RecordPagingTx(ctx, tx, pg.IncidentID, note)
}

// expand turns targets into user ids, each once, with the names of
// schedules that had nobody on call.
func (p *Pager) expand(ctx context.Context, tx *sql.Tx, targets []Target, now time.Time) ([]string, []string, error) {
	seen := map[string]bool{}
	var users, missing []string
	add := func(id string) {
		if !seen[id] {
			seen[id] = true
			users = append(users, id)
		}
	}
	for _, t := range targets {
		switch t.Type {
		case TargetUser:
			add(t.ID)
		case TargetSchedule:
			ids, err := onCall(ctx, tx, t.ID, now)
			if apperr.CodeOf(err) == apperr.NotFound {
				missing = append(missing, "schedule "+t.ID+" no longer exists")
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			if len(ids) == 0 {
				missing = append(missing, "nobody is on call in schedule "+t.ID)
			}
			for _, id := range ids {
				add(id)
			}
		}
	}
	return users, missing, nil
}

// notifyUser queues a page to user u by their notification rules (all
// their verified contact methods at once when they have none) and returns
// how many were queued and the user's name.
func (p *Pager) notifyUser(ctx context.Context, tx *sql.Tx, pg *Page, u string, now time.Time) (int, string, error) {
	// The user and their verified contact methods in one read, sent with
	// the statements deferred before it (one round trip on PostgreSQL): a
	// row per method and rule, or one row with no method.
	type target struct {
		id    string
		kind  ContactKind
		delay int
		rule  bool
	}
	var all []target
	var name string
	var disabled, found bool
	err := p.db.In(tx).Pipeline(ctx, []db.Query{{SQL: `SELECT u.username, u.disabled, c.id, c.kind, COALESCE(r.delay_minutes, 0), r.id IS NOT NULL
		FROM users u LEFT JOIN contact_methods c ON c.user_id = u.id AND c.disabled_at IS NULL AND c.verified_at IS NOT NULL
		LEFT JOIN notification_rules r ON r.contact_method_id = c.id
		WHERE u.id = $1
		ORDER BY COALESCE(r.delay_minutes, 0), c.created_at`, Args: []any{u},
		Row: func(scan func(...any) error) error {
			var t target
			var id, kind sql.NullString
			if err := scan(&name, &disabled, &id, &kind, &t.delay, &t.rule); err != nil {
				return err
			}
			found = true
			if id.Valid {
				t.id, t.kind = id.String, ContactKind(kind.String)
				all = append(all, t)
			}
			return nil
		}}})
	if err != nil {
		return 0, u, fmt.Errorf("read user %s and contact methods: %w", u, err)
	}
	if !found {
		return 0, u, fmt.Errorf("read user %s: %w", u, sql.ErrNoRows)
	}
	if disabled {
		return 0, name + " (disabled)", nil
	}
	hasRules := false
	for _, t := range all {
		hasRules = hasRules || t.rule
	}
	n := 0
	for _, t := range all {
		if hasRules && !t.rule {
			continue // with rules, only what the rules name
		}
		q := queued{kind: kindPage, pageID: pg.ID, incidentID: pg.IncidentID, userID: u, contactID: t.id, channel: t.kind,
			due: now.Add(time.Duration(t.delay) * time.Minute)}
		if err := p.queueTx(ctx, tx, q, now); err != nil {
			return 0, name, err
		}
		n++
	}
	return n, name, nil
}

// queued is a message to put in the outbox.
type queued struct {
	line       string // the message's status line, for status updates and reminders
	kind       string
	pageID     string
	incidentID string
	// statusUpdateID is the status update a KindStatusUpdate message
	// announces, when known.
	statusUpdateID string
	userID         string
	contactID      string
	channel        ContactKind
	due            time.Time // zero: now
}

// queueTx puts a message in the outbox: queued when due now, scheduled
// when due later.
func (p *Pager) queueTx(ctx context.Context, tx *sql.Tx, q queued, now time.Time) error {
	status, due := statusQueued, now
	if q.due.After(now) {
		status, due = statusScheduled, q.due
	}
	id := newID()
	line, err := keys.NotificationStatusLine.SealText(p.keys, q.line, id)
	if err != nil {
		return err
	}
	return p.db.In(tx).Defer(ctx, "queue notification", `INSERT INTO notifications (id, page_id, incident_id, user_id, contact_method_id, kind, channel,
		status, due_at, attempts, last_error, provider_id, created_at, status_line, status_update_id)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 0, '', '', $10, $11, $12)`,
		id, nullString(q.pageID), nullString(q.incidentID), q.userID, q.contactID, q.kind, q.channel, status, due, now, line,
		nullString(q.statusUpdateID))
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// cancelPending cancels the page's page messages not sent yet; its
// status notifications still go.
func cancelPending(ctx context.Context, tx *sql.Tx, pageID string) error {
	_, err := tx.ExecContext(ctx, `UPDATE notifications SET status = $1 WHERE page_id = $2 AND kind = $3 AND status IN ($4, $5)`,
		statusCancelled, pageID, kindPage, statusScheduled, statusQueued)
	if err != nil {
		return fmt.Errorf("cancel notifications: %w", err)
	}
	return nil
}

// incidentID resolves an incident id or number that the actor in ctx may
// see (incident.VisibleRef).
func incidentID(ctx context.Context, q db.Querier, ref string, now time.Time) (string, error) {
	id, _, err := incident.VisibleRef(ctx, q, ref, now)
	return id, err
}

// Acknowledge stops the escalation of incident ref's page: someone is on
// it. If the policy has an acknowledgement timeout, the page starts again
// when it passes without the page being resolved.
func (p *Pager) Acknowledge(ctx context.Context, ref string) (Page, error) {
	return p.act(ctx, ref, actAcknowledge)
}

// Resolve ends incident ref's page: nothing more is sent.
func (p *Pager) Resolve(ctx context.Context, ref string) (Page, error) {
	return p.act(ctx, ref, actResolve)
}

// The actions act takes on a page.
const (
	actAcknowledge = "acknowledge"
	actResolve     = "resolve"
	actEscalate    = "escalate"
	actRepage      = "repage"
)

func (p *Pager) act(ctx context.Context, ref, action string) (Page, error) {
	actor, err := authz.Check(ctx, authz.IncidentWrite)
	if err != nil {
		return Page{}, err
	}
	var out Page
	err = p.db.Write(ctx, func(tx *sql.Tx) error {
		id, err := incidentID(ctx, tx, ref, p.clock.Now())
		if err != nil {
			return err
		}
		pg, err := lockedPage(ctx, p.db, tx, "incident_id", id)
		if errors.Is(err, sql.ErrNoRows) {
			return apperr.New(apperr.NotFound, "incident %s has no page", ref)
		}
		if err != nil {
			return fmt.Errorf("read page: %w", err)
		}
		if err := p.actTx(ctx, tx, &pg, action, actor); err != nil {
			return err
		}
		out = pg
		return nil
	})
	if err != nil {
		return Page{}, err
	}
	return out, nil
}

// actTx acknowledges, resolves, escalates or pages again pg inside tx.
func (p *Pager) actTx(ctx context.Context, tx *sql.Tx, pg *Page, action string, actor authz.Actor) error {
	now := p.clock.Now()
	switch {
	case pg.Status == PageResolved && action == actEscalate:
		return apperr.New(apperr.Conflict, "The page is resolved: there is nothing to escalate. A new alert on the incident starts paging again.")
	case pg.Status == PageResolved && action == actRepage:
		return apperr.New(apperr.Conflict, "The page is resolved: it cannot be paged again. A new alert on the incident starts paging again.")
	case pg.Status == PageResolved:
		return apperr.New(apperr.Conflict, "the page is resolved already")
	case action == actEscalate:
		return p.escalateTx(ctx, tx, pg, now, actor)
	case action == actRepage:
		return p.repageTx(ctx, tx, pg, now, actor)
	case action == actResolve:
		return p.resolveTx(ctx, tx, pg, now, actor.String(), "Page resolved by "+actor.Name+".")
	case pg.Status == PageAcknowledged:
		return apperr.New(apperr.Conflict, "the page is acknowledged already, by %s", pg.AcknowledgedBy)
	}
	return p.acknowledgeTx(ctx, tx, pg, now, actor.String(), "Page acknowledged by "+actor.Name+".")
}

// acknowledgeTx acknowledges pg and every triggered alert of its incident
// inside tx, by actor by (as the audit trail names actors), with note on
// the timeline.
func (p *Pager) acknowledgeTx(ctx context.Context, tx *sql.Tx, pg *Page, now time.Time, by, note string) error {
	pol, err := getPolicy(ctx, tx, pg.PolicyID)
	if err != nil {
		return err
	}
	pg.Status, pg.AcknowledgedAt, pg.AcknowledgedBy, pg.NextAt = PageAcknowledged, &now, by, nil
	clearAlarm(pg)
	if _, err := tx.ExecContext(ctx, `UPDATE pages SET first_acknowledged_at = $1 WHERE id = $2 AND first_acknowledged_at IS NULL`,
		now, pg.ID); err != nil {
		return fmt.Errorf("record first acknowledgement: %w", err)
	}
	if pol.AckTimeoutMinutes > 0 {
		next := now.Add(time.Duration(pol.AckTimeoutMinutes) * time.Minute)
		pg.NextAt = &next
		note += " Paging starts again in " + strconv.Itoa(pol.AckTimeoutMinutes) + " minutes unless resolved."
	}
	if err := cancelPending(ctx, tx, pg.ID); err != nil {
		return err
	}
	if err := savePage(ctx, p.db.In(tx), pg); err != nil {
		return err
	}
	alerts, err := setAlerts(ctx, tx, pg.IncidentID, alert.StatusAcknowledged, now)
	if err != nil {
		return err
	}
	if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "page.acknowledge", ObjectType: "incident", ObjectID: pg.IncidentID,
		Change: map[string]any{"page_id": pg.ID, "by": by, "alerts_acknowledged": alerts}}); err != nil {
		return err
	}
	if err := p.pageStatusTx(ctx, tx, pg, eventAcknowledged, statusLine(eventAcknowledged, "by "+actedBy(by))); err != nil {
		return err
	}
	return p.incidents.RecordPagingTx(ctx, tx, pg.IncidentID, note)
}

// setAlerts moves the open alerts of incident incidentID to status st:
// acknowledged (those triggered), triggered again (those acknowledged) or
// resolved (all), so that the alerts and the page stand together and a
// later trigger with a resolved alert's dedup key is a new alert that
// pages. It returns how many alerts changed.
func setAlerts(ctx context.Context, tx *sql.Tx, incidentID string, st alert.Status, now time.Time) (int64, error) {
	var res sql.Result
	var err error
	switch st {
	case alert.StatusAcknowledged:
		res, err = tx.ExecContext(ctx, `UPDATE alerts SET status = $1, acknowledged_at = $2
			WHERE incident_id = $3 AND resolved_at IS NULL AND status = $4`, st, now, incidentID, alert.StatusTriggered)
	case alert.StatusTriggered:
		res, err = tx.ExecContext(ctx, `UPDATE alerts SET status = $1, acknowledged_at = NULL
			WHERE incident_id = $2 AND resolved_at IS NULL AND status = $3`, st, incidentID, alert.StatusAcknowledged)
	default:
		res, err = tx.ExecContext(ctx, `UPDATE alerts SET status = $1, resolved_at = $2
			WHERE incident_id = $3 AND resolved_at IS NULL`, st, now, incidentID)
	}
	if err != nil {
		return 0, fmt.Errorf("update the incident's alerts: %w", err)
	}
	return res.RowsAffected()
}

func (p *Pager) resolveTx(ctx context.Context, tx *sql.Tx, pg *Page, now time.Time, by, note string) error {
	pg.Status, pg.ResolvedAt, pg.ResolvedBy, pg.NextAt = PageResolved, &now, by, nil
	clearAlarm(pg)
	if err := cancelPending(ctx, tx, pg.ID); err != nil {
		return err
	}
	if err := savePage(ctx, p.db.In(tx), pg); err != nil {
		return err
	}
	alerts, err := setAlerts(ctx, tx, pg.IncidentID, alert.StatusResolved, now)
	if err != nil {
		return err
	}
	if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "page.resolve", ObjectType: "incident", ObjectID: pg.IncidentID,
		Change: map[string]any{"page_id": pg.ID, "by": by, "alerts_resolved": alerts}}); err != nil {
		return err
	}
	if err := p.pageStatusTx(ctx, tx, pg, eventResolved, statusLine(eventResolved, "by "+actedBy(by))); err != nil {
		return err
	}
	return p.incidents.RecordPagingTx(ctx, tx, pg.IncidentID, note)
}

// PageOf returns incident ref's page.
func (p *Pager) PageOf(ctx context.Context, ref string) (Page, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return Page{}, err
	}
	id, err := incidentID(ctx, p.db.R, ref, p.clock.Now())
	if err != nil {
		return Page{}, err
	}
	pg, err := scanPage(p.db.R.QueryRowContext(ctx, `SELECT `+pageColumns+` FROM pages WHERE incident_id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Page{}, apperr.New(apperr.NotFound, "incident %s has no page", ref)
	}
	if err != nil {
		return Page{}, fmt.Errorf("read page: %w", err)
	}
	return pg, nil
}

// Notification is one message of an incident's delivery history.
type Notification struct {
	ID          string
	UserID      string
	Username    string
	ContactHint string
	Channel     ContactKind
	Status      string
	DueAt       time.Time
	Attempts    int
	// LastError is why the last attempt failed, in the provider's words,
	// which may quote PHI: withheld (empty, LastErrorRedacted) from a
	// reader whose role may not see PHI.
	LastError         string
	LastErrorRedacted bool
	ProviderID        string
	SentAt            *time.Time
}

// Notifications lists the messages sent, or to be sent, for incident ref,
// oldest first. Delivery errors may quote PHI: a reader whose role may see
// PHI gets them, the read recorded in the audit trail before they are
// returned (45 CFR 164.312(b)); anyone else gets them withheld.
func (p *Pager) Notifications(ctx context.Context, ref string) ([]Notification, error) {
	actor, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return nil, err
	}
	id, err := incidentID(ctx, p.db.R, ref, p.clock.Now())
	if err != nil {
		return nil, err
	}
	rows, err := p.db.R.QueryContext(ctx, `SELECT n.id, n.user_id, u.username, c.hint, n.channel, n.status, n.due_at, n.attempts,
		n.last_error, n.provider_id, n.sent_at FROM notifications n JOIN users u ON u.id = n.user_id
		JOIN contact_methods c ON c.id = n.contact_method_id WHERE n.incident_id = $1 ORDER BY n.created_at, n.id LIMIT 1000`, id)
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	defer rows.Close()
	var out []Notification
	for rows.Next() {
		var n Notification
		var sent sql.NullTime
		if err := rows.Scan(&n.ID, &n.UserID, &n.Username, &n.ContactHint, &n.Channel, &n.Status, &n.DueAt, &n.Attempts,
			&n.LastError, &n.ProviderID, &sent); err != nil {
			return nil, err
		}
		n.DueAt, n.SentAt = n.DueAt.UTC(), timePtr(sent)
		out = append(out, n)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	return out, p.revealErrors(ctx, authz.Has(actor.Role, authz.IncidentReadPHI), id, out)
}

// revealErrors opens the delivery errors of ns, incident incidentID's
// messages, when phi (the reader may see PHI), after recording the read in
// the audit trail; otherwise it withholds them.
func (p *Pager) revealErrors(ctx context.Context, phi bool, incidentID string, ns []Notification) error {
	var read []string
	for i := range ns {
		if ns[i].LastError == "" {
			continue
		}
		if !phi {
			ns[i].LastError, ns[i].LastErrorRedacted = "", true
			continue
		}
		plain, err := keys.NotificationLastError.OpenText(p.keys, ns[i].LastError, ns[i].ID)
		if err != nil {
			return err
		}
		ns[i].LastError = plain
		read = append(read, ns[i].ID)
	}
	if len(read) == 0 {
		return nil
	}
	return p.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, p.clock.Now(), audit.Event{Action: "notification.phi_read", ObjectType: "incident",
			ObjectID: incidentID, Change: map[string]any{"notifications": read, "fields": []string{"last_error"}}})
		return err
	})
}
