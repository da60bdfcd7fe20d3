package alert

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
)

// Result is what Ingest did with a batch.
type Result struct {
	// DedupKeys holds each event's dedup key, generated for a trigger
	// that came without one.
	DedupKeys    []string
	New          int // alerts opened
	Deduplicated int // triggers that repeated an open alert
	Acknowledged int // alerts acknowledged
	Resolved     int // alerts resolved
	Ignored      int // acknowledges and resolves of no open alert
	Suppressed   int // alerts opened during a maintenance window
	// SuppressedByRules counts the alerts opened that alert rules
	// suppressed (recorded, no incident, no page).
	SuppressedByRules int
	// Routed counts the triggers alert rules sent to another service.
	Routed int
	Opened []string // numbers of the incidents opened
}

// groupTarget is the open incident an alert group feeds.
type groupTarget struct {
	id, number string
	// phi: the incident is marked phi_suspected, or a responder was
	// asked to classify it; another PHI service's alert asks nothing more.
	phi     bool
	paged   bool // the pager has been told of this batch's alerts
	watched bool // the watcher has been told of this batch's alerts
	// ahead: read with the batch's first statements (readGroups) and not
	// yet used by an alert; id is empty if the group had no open
	// incident.
	ahead bool
}

// Pager pages people for the incidents alerts open. Intake calls it inside
// the transaction that records the alerts, so a page starts if and only if
// its alert is recorded.
type Pager interface {
	// AlertOpenedTx tells of a new alert on svc, not suppressed by a
	// maintenance window, that opened or joined incident incidentID.
	AlertOpenedTx(ctx context.Context, tx *sql.Tx, svc Service, incidentID string) error
	// AlertsAcknowledgedTx tells that every open alert of incident
	// incidentID is acknowledged.
	AlertsAcknowledgedTx(ctx context.Context, tx *sql.Tx, incidentID string) error
	// AlertsResolvedTx tells that incident incidentID has no open alert
	// left.
	AlertsResolvedTx(ctx context.Context, tx *sql.Tx, incidentID string) error
	// Wake tells that a transaction that may have paged has committed.
	Wake()
}

// SetPager makes p page for the alerts recorded from now on. Call it
// before serving.
func (s *Intake) SetPager(p Pager) { s.pager = p }

// Watcher hears, inside the transaction, that new alerts joined an
// incident (workflow rules on services and alert counts).
type Watcher interface {
	AlertsJoinedTx(ctx context.Context, tx *sql.Tx, incidentID string) error
}

// SetWatcher makes w hear of alerts joining incidents. Call it before
// serving.
func (s *Intake) SetWatcher(w Watcher) { s.watcher = w }

// joined tells the watcher, once per incident and batch, that alerts
// joined incident groups[key].
func (s *Intake) joined(ctx context.Context, tx *sql.Tx, key string, groups map[string]groupTarget) error {
	g := groups[key]
	if s.watcher == nil || g.watched || g.id == "" {
		return nil
	}
	if err := s.watcher.AlertsJoinedTx(ctx, tx, g.id); err != nil {
		return err
	}
	g.watched = true
	groups[key] = g
	return nil
}

// Ingest records a batch of events from integration ig and answers only
// after they are committed, so an accepted event is never lost. A trigger
// repeats an open alert with its dedup key (its count goes up) or opens a
// new one, which joins the open incident of its group or opens an
// incident. Acknowledge and resolve change the open alert with the key, if
// any.
//
// Batches that arrive while another is being written are written together
// in the next transaction, one audit entry per integration: a tool that
// sends one event per request (the Events API v2) then costs little more
// per event than one that sends a hundred. If that transaction fails, every
// batch in it fails and is not recorded.
func (s *Intake) Ingest(ctx context.Context, ig Integration, evs []Event) (Result, error) {
	if len(evs) > MaxBatch {
		return Result{}, apperr.Field("alerts", "has %d events; the limit is %d", len(evs), MaxBatch)
	}
	res := Result{DedupKeys: make([]string, len(evs))}
	for i := range evs {
		prefix := ""
		if len(evs) > 1 {
			prefix = "alerts[" + strconv.Itoa(i) + "]."
		}
		if err := evs[i].Validate(prefix); err != nil {
			return Result{}, err
		}
		if evs[i].DedupKey == "" {
			evs[i].DedupKey = randomKey()
		}
		res.DedupKeys[i] = evs[i].DedupKey
	}
	req := &ingestReq{ctx: context.WithoutCancel(authz.WithActor(ctx, ig.Actor())), ig: ig, evs: evs, res: res, done: make(chan error, 1)}
	s.queue.mu.Lock()
	s.queue.pending = append(s.queue.pending, req)
	if !s.queue.running {
		s.queue.running = true
		go s.drain()
	}
	s.queue.mu.Unlock()
	// Once queued the batch may be written, so wait for the outcome even if
	// ctx ends: the caller must not guess whether it was recorded.
	if err := <-req.done; err != nil {
		return Result{}, err
	}
	return req.res, nil
}

// ingestReq is one Ingest call waiting to be written.
type ingestReq struct {
	ctx  context.Context // the integration's actor and the request's id
	ig   Integration
	evs  []Event
	res  Result
	err  error // set when the batch was refused inside the write
	done chan error
	// parent is the request whose triggers alert rules routed here, for
	// a request made of them (writeIntegration); verdicts are what the
	// rules do with each of evs.
	parent   *ingestReq
	verdicts []Verdict
}

// ingestQueue holds the batches waiting for the writer. One drain
// goroutine runs while it is not empty.
type ingestQueue struct {
	mu      sync.Mutex
	pending []*ingestReq
	running bool
}

// The hot statements of intake, each answered from an index under any
// plan, a generic one made on empty tables included (plans_test.go).
const (
	// openAlertSQL finds the open alert with a dedup key, by its keyed
	// hash (alerts_open): the key itself is stored sealed.
	openAlertSQL = `SELECT a.dedup_hash, a.id, i.status FROM alerts a LEFT JOIN incidents i ON i.id = a.incident_id
		WHERE a.service_id = $1 AND a.dedup_hash = $2 AND a.resolved_at IS NULL`
	ackAlertSQL = `UPDATE alerts SET status = $1, acknowledged_at = $2
		WHERE service_id = $3 AND dedup_hash = $4 AND resolved_at IS NULL AND status = $5 RETURNING incident_id`
	resolveAlertSQL = `UPDATE alerts SET status = $1, resolved_at = $2
		WHERE service_id = $3 AND dedup_hash = $4 AND resolved_at IS NULL RETURNING incident_id`
	// openAlertsOfIncidentSQL counts an incident's open alerts through
	// alerts_incident. (With "resolved_at IS NULL" in the condition, a
	// plan made on an empty table read every open alert of every incident
	// through alerts_open, whose predicate it matches: 34,000 index entries
	// a call in issue #18.)
	openAlertsOfIncidentSQL = `SELECT count(*) - count(resolved_at) FROM alerts WHERE incident_id = $1`
	// maintenanceSQL counts the service's maintenance windows open now.
	maintenanceSQL = `SELECT count(*) FROM maintenance_windows WHERE service_id = $1 AND starts_at <= $2 AND ends_at > $2`
	// groupIncidentSQL finds the open incident an alert group feeds (by
	// the keyed hash of the group's key), and whether it is PHI-suspected
	// or asked to be classified.
	groupIncidentSQL = `SELECT i.id, i.number, i.phi_suspected OR EXISTS (SELECT 1 FROM incident_triage t WHERE t.incident_id = i.id)
		FROM alert_groups g
		JOIN incidents i ON i.id = g.incident_id
		WHERE g.service_id = $1 AND g.group_hash = $2 AND i.status <> $3`
)

// openAlert is an open alert as intake sees it: its id, whether it feeds
// an incident (not when recorded during a maintenance window) and whether
// that incident is closed.
type openAlert struct {
	id               string
	incident, closed bool
}

// openAlerts returns the reads of the open alerts of service svcID that
// the triggers of reqs repeat, by dedup key hash, sent in one round trip
// with the batch's first statements (writeIntegration); they fill open.
// Intake keeps the map up to date as it writes (apply): no other intake
// opens or resolves the service's alerts meanwhile, since it holds the
// service's row lock (PostgreSQL) or the writer (SQLite), and no write
// intake makes closes an incident. On PostgreSQL a person may resolve an
// incident's page, and with it its alerts, while the transaction runs: a
// trigger of such an alert then counts on the resolved alert, as if it had
// come just before the resolve. That could happen before too, between the
// per-event read and the repeat; the window is now the transaction's.
func (s *Intake) openAlerts(svcID string, reqs []*ingestReq, open map[string]openAlert) []db.Query {
	row := func(scan func(...any) error) error {
		var h, id string
		var status sql.NullString
		if err := scan(&h, &id, &status); err != nil {
			return err
		}
		open[h] = openAlert{id: id, incident: status.Valid, closed: status.String == string(incident.Closed)}
		return nil
	}
	var qs []db.Query
	seen := map[string]bool{}
	for _, req := range reqs {
		for i := range req.evs {
			if ev := &req.evs[i]; ev.Action == Trigger {
				h := s.keys.LookupHash(keys.LookupDedupKey, svcID, ev.DedupKey)
				if !seen[h] {
					seen[h] = true
					qs = append(qs, db.Query{SQL: openAlertSQL, Args: []any{svcID, h}, Row: row})
				}
			}
		}
	}
	return qs
}

// readGroups returns the reads of the open incidents that the groups of
// the triggers of reqs feed, under grouping by, for groupIncident: they
// fill groups with entries marked ahead. The same lock as openAlerts'
// keeps them true for the transaction: only intake opens an incident for
// a group, and no write of intake closes one.
func (s *Intake) readGroups(svcID string, by GroupBy, reqs []*ingestReq, groups map[string]groupTarget) []db.Query {
	var qs []db.Query
	for _, req := range reqs {
		for i := range req.evs {
			ev := &req.evs[i]
			key := groupKey(by, ev)
			if _, seen := groups[key]; seen || ev.Action != Trigger {
				continue
			}
			groups[key] = groupTarget{ahead: true}
			qs = append(qs, db.Query{SQL: groupIncidentSQL, Args: []any{svcID, s.keys.LookupHash(keys.LookupGroupKey, svcID, key), incident.Closed},
				Row: func(scan func(...any) error) error {
					g := groupTarget{ahead: true}
					if err := scan(&g.id, &g.number, &g.phi); err != nil {
						return err
					}
					groups[key] = g
					return nil
				}})
		}
	}
	return qs
}

// opening counts the incidents the triggers of reqs will open: one per
// group that has no open incident (read ahead in groups) and that an
// alert joins, that is a trigger that does not repeat an open alert of
// an open incident and that alert rules (vs) neither route nor suppress. It is what apply does, counted before it runs, so
// that the numbers can be taken in one round trip.
func (s *Intake) opening(svcID string, by GroupBy, reqs []*ingestReq, open map[string]openAlert, groups map[string]groupTarget,
	vs verdicts) int {
	counted := map[string]bool{}
	for _, req := range reqs {
		for i := range req.evs {
			ev := &req.evs[i]
			if v := verdictOf(req, i, vs); ev.Action != Trigger || v.Route != "" || v.SuppressedBy != "" {
				continue
			}
			key := groupKey(by, ev)
			g, read := groups[key]
			if !read || g.id != "" || counted[key] {
				continue
			}
			if a, ok := open[s.keys.LookupHash(keys.LookupDedupKey, svcID, ev.DedupKey)]; ok && a.incident && !a.closed {
				continue
			}
			counted[key] = true
		}
	}
	return len(counted)
}

// maxWrite caps the events written in one transaction.
const maxWrite = 2000

// drain writes the queued batches until none is left.
func (s *Intake) drain() {
	for {
		s.queue.mu.Lock()
		n, events := 0, 0
		for n < len(s.queue.pending) && (n == 0 || events+len(s.queue.pending[n].evs) <= maxWrite) {
			events += len(s.queue.pending[n].evs)
			n++
		}
		if n == 0 {
			s.queue.running = false
			s.queue.mu.Unlock()
			return
		}
		batch := slices.Clone(s.queue.pending[:n])
		s.queue.pending = slices.Delete(s.queue.pending, 0, n)
		s.queue.mu.Unlock()
		err := s.write(batch)
		if err == nil && s.pager != nil {
			s.pager.Wake()
		}
		for _, r := range batch {
			if err == nil {
				r.done <- r.err
			} else {
				r.done <- err
			}
		}
	}
}

// write records the batches of reqs in one transaction.
//
// Each integration's service row is locked as its batches are written
// (writeIntegration), so the integrations go in the order of their
// services' ids: two writes naming the same services lock them in the same
// order. Alert rules that route one service's alerts to another, and the
// other's back, can still make two writes on PostgreSQL wait for each
// other; PostgreSQL then ends one of them, which is run again, whole, up
// to deadlockRetries times.
func (s *Intake) write(reqs []*ingestReq) error {
	now := s.clock.Now()
	byIntegration := map[string][]*ingestReq{}
	var order []Integration
	for _, r := range reqs {
		if _, ok := byIntegration[r.ig.ID]; !ok {
			order = append(order, r.ig)
		}
		byIntegration[r.ig.ID] = append(byIntegration[r.ig.ID], r)
	}
	slices.SortFunc(order, func(a, b Integration) int {
		return cmp.Or(strings.Compare(a.ServiceID, b.ServiceID), strings.Compare(a.ID, b.ID))
	})
	for attempt := 0; ; attempt++ {
		err := s.db.Write(reqs[0].ctx, func(tx *sql.Tx) error {
			for _, ig := range order {
				if err := s.writeIntegration(tx, byIntegration[ig.ID], now, ""); err != nil {
					return err
				}
			}
			return nil
		})
		if attempt < deadlockRetries && db.IsDeadlock(err) {
			continue
		}
		return err
	}
}

// deadlockRetries is how many times write runs a batch again after
// PostgreSQL ended it to break a deadlock.
const deadlockRetries = 3

// writeIntegration records the batches of one integration, with one audit
// entry for them. The alert rules in force run on its triggers first
// (unless from, the service they were routed from, is set: a trigger is
// routed once), and those they route to another service are recorded
// there, in the same transaction, with an audit entry of their own.
func (s *Intake) writeIntegration(tx *sql.Tx, reqs []*ingestReq, now time.Time, from string) error {
	ctx, ig := reqs[0].ctx, reqs[0].ig
	// The service row's lock serialises intake per service on PostgreSQL,
	// so two nodes never open the same alert or group twice; SQLite's
	// writer already does. The lock, the reads after it and the open
	// alerts and groups the batch's events name go in one round trip
	// (db.InTx.Pipeline): the groups under the service's grouping as this
	// process last saw it, read again below if it changed.
	var (
		svc                Service
		svcFound, keyFound bool
		revoked            sql.NullTime
		windows            int
	)
	qs := []db.Query{
		{SQL: `UPDATE services SET version = version WHERE id = $1 RETURNING ` + serviceColumns, Args: []any{ig.ServiceID},
			Row: func(scan func(...any) error) (err error) {
				svcFound = true
				svc, err = scanService(scanFunc(scan))
				return err
			}},
		{SQL: `SELECT revoked_at FROM integration_keys WHERE id = $1`, Args: []any{ig.ID},
			Row: func(scan func(...any) error) error {
				keyFound = true
				return scan(&revoked)
			}},
		{SQL: maintenanceSQL, Args: []any{ig.ServiceID, now}, Row: func(scan func(...any) error) error { return scan(&windows) }},
	}
	open := map[string]openAlert{}
	qs = append(qs, s.openAlerts(ig.ServiceID, reqs, open)...)
	groups := map[string]groupTarget{}
	guess, guessed := s.groupings.Load(ig.ServiceID)
	if guessed {
		qs = append(qs, s.readGroups(ig.ServiceID, guess.(GroupBy), reqs, groups)...)
	}
	// The alert rules' generation, in the same round trip.
	var inForce func() (Matcher, error)
	if s.orchestrator != nil && from == "" {
		var q *db.Query
		q, inForce = s.orchestrator.AlertRulesTx(ctx, tx)
		if q != nil {
			qs = append(qs, *q)
		}
	}
	if err := s.db.In(tx).Pipeline(ctx, qs); err != nil {
		return fmt.Errorf("read service and alerts: %w", err)
	}
	switch {
	case !svcFound:
		return apperr.New(apperr.NotFound, "no service %q", ig.ServiceID)
	case !keyFound:
		return fmt.Errorf("check integration key: %w", sql.ErrNoRows)
	case revoked.Valid:
		// Revoked since Authenticate looked it up: record nothing.
		for _, r := range reqs {
			r.err = &apperr.Error{Code: apperr.Unauthorized, Message: "Invalid routing key", Err: ErrUnknownKey}
		}
		return nil
	}
	quiet := windows > 0
	if !guessed || guess.(GroupBy) != svc.GroupBy {
		s.groupings.Store(svc.ID, svc.GroupBy)
		clear(groups)
		if err := s.db.In(tx).Pipeline(ctx, s.readGroups(svc.ID, svc.GroupBy, reqs, groups)); err != nil {
			return fmt.Errorf("read alert groups: %w", err)
		}
	}
	var vs verdicts
	if inForce != nil {
		m, err := inForce()
		if err != nil {
			return err
		}
		if m != nil {
			vs = judge(ctx, m, svc, ig, reqs)
		}
	}
	if !quiet {
		if err := s.incidents.ReserveNumbers(ctx, tx, s.opening(svc.ID, svc.GroupBy, reqs, open, groups, vs)); err != nil {
			return err
		}
	}
	var sum Result
	routes := map[string][]*ingestReq{} // by service routed to
	var targets []string
	matched := map[string]bool{}
	for _, req := range reqs {
		r := Result{DedupKeys: req.res.DedupKeys}
		var away map[string]*ingestReq
		for i := range req.evs {
			ev := &req.evs[i]
			v := verdictOf(req, i, vs)
			for _, id := range v.Rules {
				matched[id] = true
			}
			if v.Route != "" {
				if away == nil {
					away = map[string]*ingestReq{}
				}
				child := away[v.Route]
				if child == nil {
					to := ig
					to.ServiceID = v.Route
					child = &ingestReq{ctx: req.ctx, ig: to, parent: req}
					away[v.Route] = child
					if routes[v.Route] == nil {
						targets = append(targets, v.Route)
					}
					routes[v.Route] = append(routes[v.Route], child)
				}
				child.evs = append(child.evs, *ev)
				child.verdicts = append(child.verdicts, v)
				child.res.DedupKeys = append(child.res.DedupKeys, ev.DedupKey)
				r.Routed++
				continue
			}
			if err := s.apply(ctx, tx, svc, ig, ev, v, now, quiet, open, groups, &r); err != nil {
				return err
			}
		}
		req.res = r
		sum.New += r.New
		sum.Deduplicated += r.Deduplicated
		sum.Acknowledged += r.Acknowledged
		sum.Resolved += r.Resolved
		sum.Ignored += r.Ignored
		sum.Suppressed += r.Suppressed
		sum.SuppressedByRules += r.SuppressedByRules
		sum.Routed += r.Routed
		sum.Opened = append(sum.Opened, r.Opened...)
		sum.DedupKeys = append(sum.DedupKeys, r.DedupKeys...)
	}
	if sum.Opened == nil {
		sum.Opened = []string{}
	}
	change := map[string]any{"service_id": svc.ID, "requests": len(reqs), "events": len(sum.DedupKeys), "new": sum.New,
		"deduplicated": sum.Deduplicated, "acknowledged": sum.Acknowledged, "resolved": sum.Resolved,
		"ignored": sum.Ignored, "suppressed": sum.Suppressed, "incidents_opened": sum.Opened}
	if from != "" {
		change["routed_from"] = from
	}
	if len(matched) > 0 {
		ids := slices.Sorted(maps.Keys(matched))
		change["alert_rules"], change["suppressed_by_rules"], change["routed"] = ids, sum.SuppressedByRules, sum.Routed
	}
	if _, err := audit.Append(ctx, s.db.In(tx), now, audit.Event{Action: "alert.ingest", ObjectType: "integration", ObjectID: ig.ID,
		Change: change}); err != nil {
		return err
	}
	slices.Sort(targets) // in the order of service ids, as write's
	for _, to := range targets {
		if err := s.writeIntegration(tx, routes[to], now, svc.ID); err != nil {
			return err
		}
		for _, child := range routes[to] {
			p, c := &child.parent.res, child.res
			p.New += c.New
			p.Deduplicated += c.Deduplicated
			p.Suppressed += c.Suppressed
			p.SuppressedByRules += c.SuppressedByRules
			p.Opened = append(p.Opened, c.Opened...)
		}
	}
	return nil
}

// verdictOf is what the alert rules do with event i of req: as judged
// for it on the service it was routed from, if it was, else vs's.
func verdictOf(req *ingestReq, i int, vs verdicts) Verdict {
	if req.verdicts != nil {
		v := req.verdicts[i]
		v.Route = ""
		return v
	}
	return vs[&req.evs[i]]
}

func randomKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// apply records one event; open holds the service's open alerts that
// triggers may repeat (openAlerts), and apply keeps it up to date.
func (s *Intake) apply(ctx context.Context, tx *sql.Tx, svc Service, ig Integration, ev *Event, v Verdict, now time.Time,
	quiet bool, open map[string]openAlert, groups map[string]groupTarget, r *Result) error {
	dedup := s.keys.LookupHash(keys.LookupDedupKey, svc.ID, ev.DedupKey)
	if v.Severity != "" {
		changed := *ev
		changed.Severity = v.Severity
		ev = &changed
	}
	switch ev.Action {
	case Acknowledge:
		return s.acknowledge(ctx, tx, svc, dedup, now, r)
	case Resolve:
		delete(open, dedup)
		return s.resolve(ctx, tx, svc, dedup, now, r)
	}
	a, found := open[dedup]
	id := a.id
	switch {
	case !found:
	case a.closed:
		// The incident it fed was closed while the tool kept firing: the
		// old alert ends and this trigger starts a new one.
		if _, err := exec(ctx, s.db.In(tx), `UPDATE alerts SET status = $1, resolved_at = $2 WHERE id = $3`, StatusResolved, now, id); err != nil {
			return err
		}
	case !a.incident && !quiet && v.SuppressedBy == "":
		// Recorded during a maintenance window that has ended, and still
		// firing: now it opens or joins its incident, and pages.
		g, err := s.groupIncident(ctx, tx, svc, groupKey(svc.GroupBy, ev), ev, groups, r)
		if err != nil {
			return err
		}
		if _, err := exec(ctx, s.db.In(tx), `UPDATE alerts SET incident_id = $1 WHERE id = $2`, g.id, id); err != nil {
			return err
		}
		open[dedup] = openAlert{id: id, incident: true}
		if err := s.page(ctx, tx, svc, groupKey(svc.GroupBy, ev), g, groups); err != nil {
			return err
		}
		if err := s.repeat(ctx, tx, ev, id, now, r); err != nil {
			return err
		}
		return s.joined(ctx, tx, groupKey(svc.GroupBy, ev), groups)
	default:
		return s.repeat(ctx, tx, ev, id, now, r)
	}
	return s.open(ctx, tx, svc, ig, ev, v, dedup, now, quiet, open, groups, r)
}

// repeat counts a trigger of open alert id; its summary and severity
// become the latest, and its details too unless the trigger has none.
func (s *Intake) repeat(ctx context.Context, tx *sql.Tx, ev *Event, id string, now time.Time, r *Result) error {
	r.Deduplicated++
	summary, err := s.sealSummary(ev, id)
	if err != nil {
		return err
	}
	if len(ev.Details) == 0 {
		_, err := exec(ctx, s.db.In(tx), `UPDATE alerts SET count = count + 1, last_at = $1, summary = $2, severity = $3 WHERE id = $4`,
			now, summary, ev.Severity, id)
		return err
	}
	details, err := s.sealDetails(ev, id)
	if err != nil {
		return err
	}
	_, err = exec(ctx, s.db.In(tx), `UPDATE alerts SET count = count + 1, last_at = $1, summary = $2, severity = $3,
		details = $4 WHERE id = $5`, now, summary, ev.Severity, details, id)
	return err
}

// page tells the pager, once per incident and batch, that an alert joined
// incident g (a storm of alerts pages once).
func (s *Intake) page(ctx context.Context, tx *sql.Tx, svc Service, key string, g groupTarget, groups map[string]groupTarget) error {
	if s.pager == nil || g.paged {
		return nil
	}
	if err := s.pager.AlertOpenedTx(ctx, tx, svc, g.id); err != nil {
		return err
	}
	g.paged = true
	groups[key] = g
	return nil
}

// acknowledge acknowledges the triggered alert whose dedup key hashes to
// dedup, if any; when no open alert of its incident is still triggered, the
// incident's page is acknowledged too, so escalation stops (as an
// acknowledge event acknowledges a PagerDuty incident).
func (s *Intake) acknowledge(ctx context.Context, tx *sql.Tx, svc Service, dedup string, now time.Time, r *Result) error {
	var incidentID sql.NullString
	err := s.db.In(tx).QueryRowContext(ctx, ackAlertSQL,
		StatusAcknowledged, now, svc.ID, dedup, StatusTriggered).Scan(&incidentID)
	if errors.Is(err, sql.ErrNoRows) {
		r.Ignored++
		return nil
	}
	if err != nil {
		return fmt.Errorf("acknowledge alert: %w", err)
	}
	r.Acknowledged++
	if !incidentID.Valid || s.pager == nil {
		return nil
	}
	var triggered int
	if err := s.db.In(tx).QueryRowContext(ctx, `SELECT count(*) FROM alerts WHERE incident_id = $1 AND resolved_at IS NULL
		AND status = $2`, incidentID.String, StatusTriggered).Scan(&triggered); err != nil {
		return fmt.Errorf("count triggered alerts: %w", err)
	}
	if triggered > 0 {
		return nil
	}
	return s.pager.AlertsAcknowledgedTx(ctx, tx, incidentID.String)
}

// resolve resolves the open alert whose dedup key hashes to dedup, if
// any; when it was its incident's last open alert, the incident's page
// ends.
func (s *Intake) resolve(ctx context.Context, tx *sql.Tx, svc Service, dedup string, now time.Time, r *Result) error {
	var incidentID sql.NullString
	err := s.db.In(tx).QueryRowContext(ctx, resolveAlertSQL,
		StatusResolved, now, svc.ID, dedup).Scan(&incidentID)
	if errors.Is(err, sql.ErrNoRows) {
		r.Ignored++
		return nil
	}
	if err != nil {
		return fmt.Errorf("resolve alert: %w", err)
	}
	r.Resolved++
	if !incidentID.Valid || s.pager == nil {
		return nil
	}
	var open int
	if err := s.db.In(tx).QueryRowContext(ctx, openAlertsOfIncidentSQL,
		incidentID.String).Scan(&open); err != nil {
		return fmt.Errorf("count open alerts: %w", err)
	}
	if open > 0 {
		return nil
	}
	return s.pager.AlertsResolvedTx(ctx, tx, incidentID.String)
}

// open records a new alert, whose dedup key hashes to dedup, and, unless a
// maintenance window is on, joins it to its group's open incident or opens
// one. What the tool sent is sealed (keys.Columns).
func (s *Intake) open(ctx context.Context, tx *sql.Tx, svc Service, ig Integration, ev *Event, v Verdict, dedup string, now time.Time,
	quiet bool, open map[string]openAlert, groups map[string]groupTarget, r *Result) error {
	a := Alert{ID: newID(), DedupKey: ev.DedupKey}
	key := groupKey(svc.GroupBy, ev)
	var incidentID, suppressedBy sql.NullString
	switch {
	case quiet:
		r.Suppressed++
	case v.SuppressedBy != "":
		suppressedBy = sql.NullString{String: v.SuppressedBy, Valid: true}
		r.SuppressedByRules++
	default:
		g, err := s.groupIncident(ctx, tx, svc, key, ev, groups, r)
		if err != nil {
			return err
		}
		incidentID = sql.NullString{String: g.id, Valid: true}
		if err := s.page(ctx, tx, svc, key, g, groups); err != nil {
			return err
		}
	}
	details, err := s.sealDetails(ev, a.ID)
	if err != nil {
		return err
	}
	summary, err := s.sealSummary(ev, a.ID)
	if err != nil {
		return err
	}
	var sealed [5]string
	for i, f := range []struct {
		c keys.Column
		v string
	}{{keys.AlertDedupKey, a.DedupKey}, {keys.AlertSource, ev.Source},
		{keys.AlertComponent, ev.Component}, {keys.AlertGroup, ev.Group}, {keys.AlertClass, ev.Class}} {
		if sealed[i], err = f.c.SealText(s.keys, f.v, a.ID); err != nil {
			return err
		}
	}
	if err := s.db.In(tx).Defer(ctx, "insert alert", `INSERT INTO alerts (id, service_id, integration_id, dedup_key, dedup_hash, incident_id,
		status, suppressed, summary, source, severity, component, grp, class, details, count, first_at, last_at, suppressed_by, tags)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, 1, $16, $16, $17, $18)`,
		a.ID, svc.ID, ig.ID, sealed[0], dedup, incidentID, StatusTriggered, quiet || suppressedBy.Valid, summary, sealed[1],
		ev.Severity, sealed[2], sealed[3], sealed[4], details, now, suppressedBy, tagsJSON(v.Tags)); err != nil {
		return err
	}
	open[dedup] = openAlert{id: a.ID, incident: incidentID.Valid}
	r.New++
	if !incidentID.Valid {
		return nil
	}
	return s.joined(ctx, tx, key, groups)
}

// groupKey is the key of the group an alert joins under grouping g.
func groupKey(g GroupBy, ev *Event) string {
	switch {
	case g == GroupByService:
		return "*"
	case g == GroupBySource && ev.GroupKey != "":
		return "group:" + ev.GroupKey
	default:
		return "alert:" + ev.DedupKey
	}
}

// groupIncident returns the open incident that the group feeds, opening
// one if it has none. When the service handles PHI it asks a responder to
// classify the incident (incident.Triage): an alert is most often an
// outage, and marking it phi_suspected would presume a breach (45 CFR
// 164.402(2)) with its notice deadlines.
func (s *Intake) groupIncident(ctx context.Context, tx *sql.Tx, svc Service, key string, ev *Event,
	groups map[string]groupTarget, r *Result) (groupTarget, error) {
	g, ok := groups[key]
	if ok && !g.ahead {
		return g, nil
	}
	hash := s.keys.LookupHash(keys.LookupGroupKey, svc.ID, key)
	var err error
	switch {
	case !ok:
		err = s.db.In(tx).QueryRowContext(ctx, groupIncidentSQL, svc.ID, hash, incident.Closed).Scan(&g.id, &g.number, &g.phi)
	case g.id == "":
		err = sql.ErrNoRows
	}
	g.ahead = false
	switch {
	case errors.Is(err, sql.ErrNoRows):
		inc, err := s.incidents.CreateTx(ctx, tx, incident.CreateInput{
			Title: title(ev.Summary), Severity: ev.Severity.IncidentSeverity(),
		})
		if err != nil {
			return groupTarget{}, fmt.Errorf("open incident for alert: %w", err)
		}
		g = groupTarget{id: inc.ID, number: inc.Number}
		if svc.HandlesPHI {
			if err := s.incidents.AskTriageTx(ctx, tx, g.id, "An alert from "+svc.Name+", a service that handles PHI, opened this incident."); err != nil {
				return groupTarget{}, err
			}
			g.phi = true
		}
		if err := s.db.In(tx).Defer(ctx, "record alert group", `INSERT INTO alert_groups (service_id, group_hash, incident_id) VALUES ($1, $2, $3)
			ON CONFLICT (service_id, group_hash) DO UPDATE SET incident_id = excluded.incident_id`, svc.ID, hash, g.id); err != nil {
			return groupTarget{}, err
		}
		r.Opened = append(r.Opened, g.number)
	case err != nil:
		return groupTarget{}, fmt.Errorf("read alert group: %w", err)
	case svc.HandlesPHI && !g.phi:
		if err := s.incidents.AskTriageTx(ctx, tx, g.id, "An alert from "+svc.Name+", a service that handles PHI, joined this incident."); err != nil {
			return groupTarget{}, err
		}
		g.phi = true
	}
	groups[key] = g
	return g, nil
}

// title is an incident title made from an alert summary.
func title(summary string) string {
	summary = oneLine(summary)
	rs := []rune(summary)
	if len(rs) <= incident.MaxTitle {
		return summary
	}
	return string(rs[:incident.MaxTitle-1]) + "…"
}

// sealSummary seals the summary a tool sent, which may quote PHI
// (keys.AlertSummary).
func (s *Intake) sealSummary(ev *Event, alertID string) (string, error) {
	return keys.AlertSummary.SealText(s.keys, ev.Summary, alertID)
}

func (s *Intake) sealDetails(ev *Event, alertID string) (string, error) {
	if len(ev.Details) == 0 {
		return "", nil
	}
	return s.keys.Seal(ev.Details, keys.AlertDetails.Table, keys.AlertDetails.Name, alertID)
}

func exec(ctx context.Context, tx db.Querier, q string, args ...any) (int64, error) {
	res, err := tx.ExecContext(ctx, q, args...)
	if err != nil {
		return 0, fmt.Errorf("update alert: %w", err)
	}
	return res.RowsAffected()
}
