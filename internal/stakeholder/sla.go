package stakeholder

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/paging"
)

// Policy is the SLA of one severity: minutes from the incident's creation
// to each target, and between status updates; 0 means no target. Ward
// treats an incident's severity as its priority (sev1 is P1).
type Policy struct {
	Severity              string
	AckMinutes            int // the page acknowledged
	FirstUpdateMinutes    int // the first status update to stakeholders
	UpdateIntervalMinutes int // then one at least this often until the incident closes
	ContainMinutes        int // the incident moved past containment
	ResolveMinutes        int // the incident closed
	UpdatedAt             time.Time
	Version               int64
}

// MaxSLAMinutes bounds every SLA target (a year).
const MaxSLAMinutes = 366 * 24 * 60

// AtRisk is the share of a target's time after which it is at risk and
// the commander is warned.
const AtRisk = 0.8

const policyColumns = "severity, ack_minutes, first_update_minutes, update_interval_minutes, contain_minutes, resolve_minutes, updated_at, version"

func scanPolicy(r interface{ Scan(...any) error }) (Policy, error) {
	var p Policy
	err := r.Scan(&p.Severity, &p.AckMinutes, &p.FirstUpdateMinutes, &p.UpdateIntervalMinutes, &p.ContainMinutes, &p.ResolveMinutes,
		&p.UpdatedAt, &p.Version)
	p.UpdatedAt = p.UpdatedAt.UTC()
	return p, err
}

func getPolicy(ctx context.Context, q db.Querier, severity string) (Policy, error) {
	p, err := scanPolicy(q.QueryRowContext(ctx, `SELECT `+policyColumns+` FROM sla_policies WHERE severity = $1`, severity))
	if errors.Is(err, sql.ErrNoRows) {
		return Policy{}, apperr.New(apperr.NotFound, "no SLA policy for %q", severity)
	}
	if err != nil {
		return Policy{}, fmt.Errorf("read SLA policy: %w", err)
	}
	return p, nil
}

// SLAPolicies lists the SLA policy of every severity.
func (s *Service) SLAPolicies(ctx context.Context) ([]Policy, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return nil, err
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+policyColumns+` FROM sla_policies ORDER BY severity`)
	return db.Collect(rows, err, "list SLA policies", func(r *sql.Rows) (Policy, error) { return scanPolicy(r) })
}

// SetSLAPolicy replaces the SLA policy of p.Severity.
func (s *Service) SetSLAPolicy(ctx context.Context, p Policy) (Policy, error) {
	var out Policy
	err := s.db.Write(ctx, func(tx *sql.Tx) (err error) {
		out, err = SetSLAPolicyTx(ctx, tx, s.clock.Now(), p)
		return err
	})
	return out, err
}

// SetSLAPolicyTx replaces the SLA policy of p.Severity in tx, with the
// same checks and audit entry as SetSLAPolicy; configuration as code
// applies many changes in one transaction through it.
func SetSLAPolicyTx(ctx context.Context, tx *sql.Tx, now time.Time, p Policy) (Policy, error) {
	if _, err := authz.Check(ctx, authz.OnCallWrite); err != nil {
		return Policy{}, err
	}
	if !slices.Contains(incident.Severities, incident.Severity(p.Severity)) {
		return Policy{}, apperr.Field("severity", "%q is not one of sev1, sev2, sev3, sev4", p.Severity)
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"ack_minutes", p.AckMinutes}, {"first_update_minutes", p.FirstUpdateMinutes}, {"update_interval_minutes", p.UpdateIntervalMinutes},
		{"contain_minutes", p.ContainMinutes}, {"resolve_minutes", p.ResolveMinutes}} {
		if f.v < 0 || f.v > MaxSLAMinutes {
			return Policy{}, apperr.Field(f.name, "must be 0 (no target) to %d minutes, not %d", MaxSLAMinutes, f.v)
		}
	}
	old, err := getPolicy(ctx, tx, p.Severity)
	if err != nil {
		return Policy{}, err
	}
	p.UpdatedAt, p.Version = now, old.Version+1
	if _, err := tx.ExecContext(ctx, `UPDATE sla_policies SET ack_minutes = $1, first_update_minutes = $2, update_interval_minutes = $3,
		contain_minutes = $4, resolve_minutes = $5, updated_at = $6, version = $7 WHERE severity = $8`,
		p.AckMinutes, p.FirstUpdateMinutes, p.UpdateIntervalMinutes, p.ContainMinutes, p.ResolveMinutes, p.UpdatedAt, p.Version,
		p.Severity); err != nil {
		return Policy{}, fmt.Errorf("save SLA policy: %w", err)
	}
	// The incidents of this severity that the checker may chase look
	// again under the new targets.
	if _, err := tx.ExecContext(ctx, `UPDATE incidents SET sla_check_at = $1 WHERE severity = $2 AND (status <> $3
		OR EXISTS (SELECT 1 FROM breach_cases c JOIN breach_obligations o ON o.case_id = c.id
			WHERE c.incident_id = incidents.id AND o.met_at IS NULL))`, now, p.Severity, incident.Closed); err != nil {
		return Policy{}, fmt.Errorf("schedule SLA checks: %w", err)
	}
	_, err = audit.Append(ctx, tx, now, audit.Event{Action: "sla_policy.update", ObjectType: "sla_policy", ObjectID: p.Severity,
		Change: map[string]any{"old": old, "new": p}})
	return p, err
}

// The SLA targets.
const (
	TargetAcknowledge = "acknowledge"
	TargetFirstUpdate = "first_update"
	TargetContain     = "contain"
	TargetResolve     = "resolve"
)

// The states of a target.
const (
	StateNone    = "none"     // no target for this severity, or it does not apply (no page to acknowledge)
	StatePending = "pending"  // not met, time left
	StateAtRisk  = "at_risk"  // not met, most of the time gone
	StateMissed  = "missed"   // not met, due time passed
	StateMet     = "met"      // met in time
	StateMetLate = "met_late" // met after the due time
)

// Target is one SLA target of an incident.
type Target struct {
	Name  string
	DueAt *time.Time
	MetAt *time.Time
	State string
}

// Status is an incident's SLA: its targets and its update cadence. The
// cadence fields are the internal audience's; Audiences gives each
// audience's.
type Status struct {
	Severity        string
	Targets         []Target
	LastUpdateAt    *time.Time
	NextUpdateDueAt *time.Time // nil when no update is due (closed, or no cadence)
	UpdateOverdue   bool
	// Audiences is the cadence of each audience the incident has: the
	// internal one always, then each other audience of a subscribed group
	// or a confirmed external subscriber.
	Audiences []Cadence
}

// Cadence is the update cadence of one audience of an incident.
type Cadence struct {
	Audience        string
	AudienceLabel   string
	LastUpdateAt    *time.Time
	NextUpdateDueAt *time.Time
	UpdateOverdue   bool
}

// SLA returns incident ref's SLA status.
func (s *Service) SLA(ctx context.Context, ref string) (Status, error) {
	if _, err := authz.Check(ctx, authz.IncidentRead); err != nil {
		return Status{}, err
	}
	now := s.clock.Now()
	f, err := visible(ctx, s.db.R, ref, now)
	if err != nil {
		return Status{}, err
	}
	pol, err := getPolicy(ctx, s.db.R, f.Severity)
	if err != nil {
		return Status{}, err
	}
	return compute(ctx, s.db.R, f, pol, now)
}

// firstTime runs a query for at most one time. (Not min() or max(): on
// SQLite an aggregate loses the column's type and answers text.)
func firstTime(ctx context.Context, q db.Querier, query string, args ...any) (*time.Time, error) {
	var t sql.NullTime
	if err := q.QueryRowContext(ctx, query, args...).Scan(&t); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read SLA time: %w", err)
	}
	if !t.Valid {
		return nil, nil
	}
	u := t.Time.UTC()
	return &u, nil
}

// compute works out incident f's SLA at now under pol.
func compute(ctx context.Context, q db.Querier, f incidentFacts, pol Policy, now time.Time) (Status, error) {
	st := Status{Severity: f.Severity}
	var paged int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM pages WHERE incident_id = $1`, f.ID).Scan(&paged); err != nil {
		return Status{}, fmt.Errorf("read page: %w", err)
	}
	acked, err := firstTime(ctx, q, `SELECT first_acknowledged_at FROM pages WHERE incident_id = $1`, f.ID)
	if err != nil {
		return Status{}, err
	}
	first, err := firstTime(ctx, q, `SELECT posted_at FROM status_updates WHERE incident_id = $1 ORDER BY posted_at LIMIT 1`, f.ID)
	if err != nil {
		return Status{}, err
	}
	contained, err := firstTime(ctx, q, `SELECT at FROM incident_events WHERE incident_id = $1 AND kind = 'transition'
		AND to_status IN ('eradication', 'recovery', 'post_incident', 'closed') ORDER BY seq LIMIT 1`, f.ID)
	if err != nil {
		return Status{}, err
	}
	ackMinutes := pol.AckMinutes
	if paged == 0 {
		ackMinutes = 0 // nobody was paged: there is nothing to acknowledge
	}
	for _, t := range []struct {
		name    string
		minutes int
		met     *time.Time
	}{{TargetAcknowledge, ackMinutes, acked}, {TargetFirstUpdate, pol.FirstUpdateMinutes, first},
		{TargetContain, pol.ContainMinutes, contained}, {TargetResolve, pol.ResolveMinutes, f.ClosedAt}} {
		st.Targets = append(st.Targets, target(t.name, f.CreatedAt, t.minutes, t.met, now))
	}
	unmet, err := unmetNotices(ctx, q, f.ID)
	if err != nil {
		return Status{}, err
	}
	audiences, err := incidentAudiences(ctx, q, f)
	if err != nil {
		return Status{}, err
	}
	keys := make([]string, len(audiences))
	for i, a := range audiences {
		keys[i] = a.key
	}
	labels, err := audienceLabels(ctx, q, keys)
	if err != nil {
		return Status{}, err
	}
	for _, a := range audiences {
		c := Cadence{Audience: a.key, AudienceLabel: labels[a.key]}
		if c.LastUpdateAt, err = firstTime(ctx, q, `SELECT posted_at FROM status_updates WHERE incident_id = $1 AND audience = $2
			ORDER BY posted_at DESC LIMIT 1`, f.ID, a.key); err != nil {
			return Status{}, err
		}
		if pol.UpdateIntervalMinutes > 0 && (f.Status != string(incident.Closed) || a.owed(unmet)) {
			var next time.Time
			switch {
			case c.LastUpdateAt != nil:
				next = c.LastUpdateAt.Add(time.Duration(pol.UpdateIntervalMinutes) * time.Minute)
			case pol.FirstUpdateMinutes > 0:
				next = a.since.Add(time.Duration(pol.FirstUpdateMinutes) * time.Minute)
			default:
				next = a.since.Add(time.Duration(pol.UpdateIntervalMinutes) * time.Minute)
			}
			c.NextUpdateDueAt = &next
			c.UpdateOverdue = !now.Before(next)
		}
		st.Audiences = append(st.Audiences, c)
	}
	st.LastUpdateAt, st.NextUpdateDueAt, st.UpdateOverdue = st.Audiences[0].LastUpdateAt, st.Audiences[0].NextUpdateDueAt, st.Audiences[0].UpdateOverdue
	return st, nil
}

// audienceSince is an audience of an incident and when its cadence
// starts: the incident's creation for the internal audience and a
// subscribed group's, the first confirmation for external subscribers'.
// group says the internal audience or a subscribed group hears it;
// parties are the registry parties the contacts of its confirmed
// external subscribers speak for.
type audienceSince struct {
	key     string
	since   time.Time
	group   bool
	parties []string
}

// owed reports whether a notice obligation still owed (unmet, by key)
// keeps audience a's cadence going after the incident closes. A
// customer's audience hears until the notice owed to that customer is
// met (45 CFR 164.410, and its business associate agreement); any other
// audience until every notice owed to the parties its external
// subscribers speak for is met, and, when Ward users hear it too (the
// internal audience, a group's), until every notice of the breach is.
func (a audienceSince) owed(unmet map[string]bool) bool {
	if party, ok := strings.CutPrefix(a.key, AudienceCustomer); ok {
		return unmet[coveredEntityObligation+party]
	}
	if a.group && len(unmet) > 0 {
		return true
	}
	for _, p := range a.parties {
		if unmet[coveredEntityObligation+p] {
			return true
		}
	}
	return false
}

// coveredEntityObligation prefixes the key of the notice a business
// associate owes one covered-entity customer, followed by the customer's
// id in the registry (45 CFR 164.410).
const coveredEntityObligation = string(rules.ToCoveredEntity) + ":"

// incidentAudiences lists incident f's audiences, the internal one first.
func incidentAudiences(ctx context.Context, q db.Querier, f incidentFacts) ([]audienceSince, error) {
	out := []audienceSince{{key: AudienceInternal, since: f.CreatedAt, group: true}}
	add := func(a audienceSince) {
		for i := range out {
			if out[i].key == a.key {
				if a.since.Before(out[i].since) {
					out[i].since = a.since
				}
				out[i].group = out[i].group || a.group
				out[i].parties = append(out[i].parties, a.parties...)
				return
			}
		}
		out = append(out, a)
	}
	groups, err := subscribed(ctx, q, f)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		add(audienceSince{key: g.Audience, since: f.CreatedAt, group: true})
	}
	rows, err := q.QueryContext(ctx, `SELECT s.audience, s.confirmed_at, c.party_id FROM external_subscriptions s
		JOIN external_contacts c ON c.id = s.contact_id WHERE s.incident_id = $1 AND s.status = $2
		ORDER BY s.audience, s.confirmed_at`, f.ID, SubscriptionConfirmed)
	subs, err := db.Collect(rows, err, "read external subscribers", func(r *sql.Rows) (audienceSince, error) {
		var a audienceSince
		var party sql.NullString
		err := r.Scan(&a.key, &a.since, &party)
		a.since = a.since.UTC()
		if party.Valid && party.String != "" {
			a.parties = []string{party.String}
		}
		return a, err
	})
	if err != nil {
		return nil, err
	}
	for _, a := range subs {
		add(a)
	}
	return out, nil
}

// unmetNotices returns the keys of incident id's breach case's notice
// obligations not yet met: until those owed to an audience are
// (audienceSince.owed), it keeps hearing at the incident's cadence even
// after the incident closes.
func unmetNotices(ctx context.Context, q db.Querier, id string) (map[string]bool, error) {
	rows, err := q.QueryContext(ctx, `SELECT o.obligation FROM breach_cases c JOIN breach_obligations o ON o.case_id = c.id
		WHERE c.incident_id = $1 AND o.met_at IS NULL`, id)
	keys, err := db.Collect(rows, err, "read notice obligations", func(r *sql.Rows) (string, error) {
		var k string
		return k, r.Scan(&k)
	})
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		out[k] = true
	}
	return out, nil
}

func target(name string, start time.Time, minutes int, met *time.Time, now time.Time) Target {
	t := Target{Name: name, MetAt: met, State: StateNone}
	if minutes == 0 {
		return t
	}
	span := time.Duration(minutes) * time.Minute
	due := start.Add(span)
	t.DueAt = &due
	switch {
	case met != nil && !met.After(due):
		t.State = StateMet
	case met != nil:
		t.State = StateMetLate
	case !now.Before(due):
		t.State = StateMissed
	case !now.Before(start.Add(time.Duration(float64(span) * AtRisk))):
		t.State = StateAtRisk
	default:
		t.State = StatePending
	}
	return t
}

// dueForSLACheckSQL lists the incidents whose SLA check time has come
// (incidents_sla_check), oldest first; $2 caps the round.
const dueForSLACheckSQL = `SELECT ` + factColumns + `, i.sla_check_at FROM incidents i
	WHERE i.sla_check_at IS NOT NULL AND i.sla_check_at <= $1 ORDER BY i.sla_check_at LIMIT $2`

// maxSLAChecks caps the incidents one round of CheckSLAs looks at; the
// rest wait for the next round.
const maxSLAChecks = 1000

// CheckSLAs looks at each incident whose SLA check time (sla_check_at) has
// come: a target at risk warns the incident commander, a missed one tells
// the commander and the Security Officers, and an overdue status update
// reminds the commander, again every update interval while it stays
// overdue. Each is said once, on the timeline and through contact methods.
// The incident's next check time is then the next moment anything can
// fall due (nextCheck), or none. What may bring that moment closer brings
// the check forward to now: a change of the incident's severity or status
// (package incident), of its severity's SLA policy, or of its breach
// case's obligations (incident.RecheckSLATx). So the checker reads only
// what is due, whatever the number of open incidents, and writes nothing
// when nothing is. It returns how many things it said. A round looks at up to
// maxSLAChecks incidents; rounds follow at once while they come full.
func (s *Service) CheckSLAs(ctx context.Context) (int, error) {
	ctx = authz.WithActor(ctx, authz.System)
	now := s.clock.Now()
	said := 0
	for {
		n, full, err := s.checkSLARound(ctx, now)
		said += n
		if err != nil || !full || ctx.Err() != nil {
			return said, err
		}
	}
}

// checkSLARound is one round of CheckSLAs; full says it met the cap.
func (s *Service) checkSLARound(ctx context.Context, now time.Time) (int, bool, error) {
	type check struct {
		f  incidentFacts
		at time.Time
	}
	rows, err := s.db.R.QueryContext(ctx, dueForSLACheckSQL, now, maxSLAChecks)
	checks, err := db.Collect(rows, err, "list incidents due for an SLA check", func(r *sql.Rows) (check, error) {
		var c check
		var err error
		c.f, err = scanFacts(scanAlso{r, &c.at})
		return c, err
	})
	if err != nil {
		return 0, false, err
	}
	said := 0
	// The policies are read once a round, and the incidents with nothing
	// to say are rescheduled together in one transaction: in an alert
	// storm every new incident comes due at once, and a commit each
	// competed with intake for the database.
	policies := map[string]Policy{}
	type reschedule struct {
		f    incidentFacts
		next *time.Time
		at   time.Time
	}
	var quiet []reschedule
	ask := false
	if len(checks) > 0 {
		if ask, err = s.byRuleWanted(ctx); err != nil {
			return said, false, err
		}
	}
	for _, c := range checks {
		// The contacts subscribed by rule are asked to confirm whenever
		// the checker looks at an incident: when it is created, its
		// severity or status changes, its breach case's obligations
		// change, or an SLA moment comes.
		if ask {
			if err := s.subscribeByRule(ctx, c.f, now); err != nil {
				return said, false, fmt.Errorf("incident %s: %w", c.f.Number, err)
			}
		}
		pol, ok := policies[c.f.Severity]
		if !ok {
			if pol, err = getPolicy(ctx, s.db.R, c.f.Severity); err != nil {
				return said, false, fmt.Errorf("incident %s: %w", c.f.Number, err)
			}
			policies[c.f.Severity] = pol
		}
		due, next, err := s.due(ctx, c.f, pol, now)
		if err != nil {
			return said, false, fmt.Errorf("incident %s: %w", c.f.Number, err)
		}
		if len(due) == 0 {
			quiet = append(quiet, reschedule{c.f, next, c.at})
			continue
		}
		err = s.db.Write(ctx, func(tx *sql.Tx) error {
			n, err := s.say(ctx, tx, c.f, due, now)
			said += n
			if err != nil {
				return err
			}
			return scheduleSLACheck(ctx, tx, c.f.ID, next, c.at)
		})
		if err != nil {
			return said, false, fmt.Errorf("incident %s: %w", c.f.Number, err)
		}
	}
	if len(quiet) > 0 {
		err := s.db.Write(ctx, func(tx *sql.Tx) error {
			for _, q := range quiet {
				if err := scheduleSLACheck(ctx, tx, q.f.ID, q.next, q.at); err != nil {
					return fmt.Errorf("incident %s: %w", q.f.Number, err)
				}
			}
			return nil
		})
		if err != nil {
			return said, false, err
		}
	}
	return said, len(checks) == maxSLAChecks, nil
}

// scheduleSLACheck sets incident id's next SLA check to next (nil: none),
// unless a change has brought it forward since the round read at.
func scheduleSLACheck(ctx context.Context, tx *sql.Tx, id string, next *time.Time, at time.Time) error {
	if _, err := tx.ExecContext(ctx, `UPDATE incidents SET sla_check_at = $1 WHERE id = $2 AND sla_check_at = $3`,
		next, id, at); err != nil {
		return fmt.Errorf("schedule SLA check: %w", err)
	}
	return nil
}

// scanAlso scans a row into the destinations it is given and then into
// more: a fact row followed by other columns.
type scanAlso struct {
	r    interface{ Scan(...any) error }
	more any
}

func (s scanAlso) Scan(dest ...any) error { return s.r.Scan(append(dest, s.more)...) }

// nextCheck is the first moment after now at which something about
// incident f may fall due under pol, given its status st: a target turning
// at risk or missed, or a status update falling due (then again every
// interval while it stays overdue); nil when nothing can. The acknowledge
// target counts even before a page exists, so a page that starts later is
// chased in time.
func nextCheck(f incidentFacts, pol Policy, st Status, now time.Time) *time.Time {
	var next *time.Time
	consider := func(t time.Time) {
		if t.After(now) && (next == nil || t.Before(*next)) {
			next = &t
		}
	}
	if f.Status != string(incident.Closed) {
		for i, minutes := range []int{pol.AckMinutes, pol.FirstUpdateMinutes, pol.ContainMinutes, pol.ResolveMinutes} {
			if minutes == 0 || st.Targets[i].MetAt != nil {
				continue
			}
			span := time.Duration(minutes) * time.Minute
			consider(f.CreatedAt.Add(time.Duration(float64(span) * AtRisk)))
			consider(f.CreatedAt.Add(span))
		}
	}
	for _, c := range st.Audiences {
		if c.NextUpdateDueAt == nil {
			continue
		}
		interval := time.Duration(pol.UpdateIntervalMinutes) * time.Minute
		due := *c.NextUpdateDueAt
		if !now.Before(due) {
			due = due.Add((now.Sub(due)/interval + 1) * interval)
		}
		consider(due)
	}
	return next
}

// notice is one thing the SLA checker must say about an incident.
type notice struct {
	event    string // its sla_events key, so it is said once
	line     string // the message's status line
	note     string // the timeline entry
	officers bool   // tell the Security Officers too, not only the commander
}

// due lists what must be said about incident f now and has not been said,
// and when to look at it next (nextCheck), reading only.
func (s *Service) due(ctx context.Context, f incidentFacts, pol Policy, now time.Time) ([]notice, *time.Time, error) {
	st, err := compute(ctx, s.db.R, f, pol, now)
	if err != nil {
		return nil, nil, err
	}
	next := nextCheck(f, pol, st, now)
	var all []notice
	for _, t := range st.Targets {
		if f.Status == string(incident.Closed) {
			break // a closed incident is chased only for its updates, while it owes notices
		}
		switch t.State {
		case StateAtRisk:
			all = append(all, notice{event: "at_risk:" + t.Name, line: "SLA at risk: " + t.Name,
				note: fmt.Sprintf("SLA at risk: %s is due at %s UTC.", t.Name, t.DueAt.Format("2006-01-02 15:04"))})
		case StateMissed:
			all = append(all, notice{event: "missed:" + t.Name, line: "SLA missed: " + t.Name, officers: true,
				note: fmt.Sprintf("SLA MISSED: %s was due at %s UTC.", t.Name, t.DueAt.Format("2006-01-02 15:04"))})
		}
	}
	for _, c := range st.Audiences {
		if !c.UpdateOverdue {
			continue
		}
		// One reminder per interval of lateness. The internal audience's
		// keeps the event and words of before audiences.
		late := int(now.Sub(*c.NextUpdateDueAt) / (time.Duration(pol.UpdateIntervalMinutes) * time.Minute))
		key := strconv.FormatInt(c.NextUpdateDueAt.Unix(), 10) + ":" + strconv.Itoa(late)
		n := notice{event: "update_overdue:" + key, line: "status update overdue",
			note: fmt.Sprintf("Status update overdue since %s UTC: the commander was reminded.", c.NextUpdateDueAt.Format("2006-01-02 15:04"))}
		if c.Audience != AudienceInternal {
			n = notice{event: "update_overdue:" + c.Audience + ":" + key, line: "status update overdue for " + c.AudienceLabel,
				note: fmt.Sprintf("Status update for %s overdue since %s UTC: the commander was reminded.", c.AudienceLabel,
					c.NextUpdateDueAt.Format("2006-01-02 15:04"))}
		}
		all = append(all, n)
	}
	if len(all) == 0 {
		return nil, next, nil
	}
	rows, err := s.db.R.QueryContext(ctx, `SELECT event FROM sla_events WHERE incident_id = $1`, f.ID)
	events, err := db.Collect(rows, err, "read SLA events", func(r *sql.Rows) (string, error) {
		var e string
		return e, r.Scan(&e)
	})
	if err != nil {
		return nil, nil, err
	}
	return slices.DeleteFunc(all, func(n notice) bool { return slices.Contains(events, n.event) }), next, nil
}

// say records and sends each notice inside tx, unless another node has
// just said it; it returns how many it said.
func (s *Service) say(ctx context.Context, tx *sql.Tx, f incidentFacts, due []notice, now time.Time) (int, error) {
	commander, err := s.commander(ctx, tx, f)
	if err != nil {
		return 0, err
	}
	officers, err := s.officers(ctx, tx)
	if err != nil {
		return 0, err
	}
	said := 0
	for _, n := range due {
		res, err := tx.ExecContext(ctx, `INSERT INTO sla_events (incident_id, event, at) VALUES ($1, $2, $3)
			ON CONFLICT (incident_id, event) DO NOTHING`, f.ID, n.event, now)
		if err != nil {
			return said, fmt.Errorf("record SLA event: %w", err)
		}
		if k, _ := res.RowsAffected(); k == 0 {
			continue
		}
		to := commander
		if n.officers {
			to = union(commander, officers)
		}
		if _, err := s.pager.NotifyTx(ctx, tx, paging.KindReminder, f.ID, n.line, to); err != nil {
			return said, err
		}
		if err := s.incidents.RecordTx(ctx, tx, f.ID, incident.EventSLA, n.note); err != nil {
			return said, err
		}
		said++
	}
	return said, nil
}

// commander is who is reminded about incident f: its commander when that
// names an active user, else the Security Officers.
func (s *Service) commander(ctx context.Context, tx *sql.Tx, f incidentFacts) ([]string, error) {
	if f.Commander != "" {
		var id string
		err := tx.QueryRowContext(ctx, `SELECT id FROM users WHERE username = $1 AND NOT disabled`, f.Commander).Scan(&id)
		if err == nil {
			return []string{id}, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("read commander: %w", err)
		}
	}
	return s.officers(ctx, tx)
}

func (s *Service) officers(ctx context.Context, tx *sql.Tx) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT id FROM users WHERE role = $1 AND NOT disabled ORDER BY username`, authz.RoleSecurityOfficer)
	return db.Collect(rows, err, "read security officers", func(r *sql.Rows) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
}

func union(a, b []string) []string {
	out := slices.Clone(a)
	for _, x := range b {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}
