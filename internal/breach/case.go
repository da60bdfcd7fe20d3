// Package breach keeps breach cases: from "we think PHI was exposed" to
// "every notice was made on time, and here is the proof" (45 CFR
// 164.400-414). A case belongs to an incident and holds the facts its
// notice obligations depend on, the versions of its signed determination,
// and the obligations that package breach/rules computes from them, each
// recomputed whenever the facts or the determination change.
package breach

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/wardhq/ward/internal/apperr"
	"github.com/wardhq/ward/internal/audit"
	"github.com/wardhq/ward/internal/authz"
	"github.com/wardhq/ward/internal/breach/rules"
	"github.com/wardhq/ward/internal/clock"
	"github.com/wardhq/ward/internal/db"
	"github.com/wardhq/ward/internal/incident"
	"github.com/wardhq/ward/internal/keys"
	"github.com/wardhq/ward/internal/labels"
)

// Service manages breach cases.
type Service struct {
	db        *db.DB
	clock     clock.Clock
	incidents *incident.Service
	rules     rules.RuleSets
	log       *slog.Logger
	// keys seal the case's free text (facts, determinations, why an
	// obligation was met) and affected individuals' PHI (keys.Columns).
	keys incident.Sealer
	// defaultZone is the server's --time-zone, for an organisation that
	// has set none (WithTimeZone).
	defaultZone *time.Location
}

// New returns a Service that computes obligations with the shipped
// federal and FTC rule sets and the State table in use: the shipped one
// until an administrator saves another (SetStateTable). Deadlines are
// counted in the organisation's time zone, else the one WithTimeZone
// gives, else UTC. k seals what the cases hold that people typed.
func New(d *db.DB, c clock.Clock, incidents *incident.Service, k incident.Sealer, log *slog.Logger, opts ...Option) (*Service, error) {
	rs, err := rules.DefaultRuleSets()
	if err != nil {
		return nil, fmt.Errorf("breach: rule sets: %w", err)
	}
	s := &Service{db: d, clock: c, incidents: incidents, keys: k, rules: rs, log: log, defaultZone: time.UTC}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// Outcome of a case before any determination is signed.
const OutcomePending = "pending"

// Case is a breach case.
type Case struct {
	ID             string
	IncidentID     string
	IncidentNumber string
	Facts          rules.Facts // NotificationRequired is the latest determination's
	// Estimates are the per-State figures of Facts.ByState typed by hand
	// (PUT or PATCH of the facts, the facts form); every other State's
	// figure is counted from the case's imported individuals
	// (docs/BREACH.md, "Facts").
	Estimates map[string]int
	// Legacy are the hand-typed notice dates of a case saved before
	// notices made came from its records.
	Legacy    Legacy
	Outcome   string // the latest signed determination's outcome, or pending
	OpenedBy  string
	CreatedAt time.Time
	UpdatedAt time.Time
	Version   int64
	// Redacted says the facts' free text (the law-enforcement official
	// and agency, the customers' names and references) was withheld from
	// a reader whose role may not see PHI.
	Redacted bool
}

// visibleIncident resolves incident ref as the actor in ctx may see it.
func (s *Service) visibleIncident(ctx context.Context, q db.Querier, ref string) (id, number string, err error) {
	return incident.VisibleRef(ctx, q, ref, s.clock.Now())
}

const caseColumns = "c.id, c.incident_id, i.number, c.facts, c.outcome, c.opened_by, c.created_at, c.updated_at, c.version"

// scanCase reads a case, its facts opened (keys.BreachFacts).
func (s *Service) scanCase(r interface{ Scan(...any) error }) (Case, error) {
	var c Case
	var facts string
	if err := r.Scan(&c.ID, &c.IncidentID, &c.IncidentNumber, &facts, &c.Outcome, &c.OpenedBy, &c.CreatedAt, &c.UpdatedAt, &c.Version); err != nil {
		return Case{}, err
	}
	c.CreatedAt, c.UpdatedAt = c.CreatedAt.UTC(), c.UpdatedAt.UTC()
	facts, err := s.open(facts, keys.BreachFacts, c.ID)
	if err != nil {
		return Case{}, err
	}
	var sf storedFacts
	if err := json.Unmarshal([]byte(facts), &sf); err != nil {
		return Case{}, fmt.Errorf("case %s: facts: %w", c.ID, err)
	}
	c.Facts, c.Estimates, c.Legacy = sf.Facts, sf.Estimates, sf.Legacy
	c.Facts.NotificationRequired = notifies(c.Outcome)
	return c, nil
}

// storedFacts are a case's facts as its facts column holds them: the
// facts (which other readers of the column decode alone) and which
// per-State figures were typed by hand. Estimates is nil on a case saved
// before they were recorded.
type storedFacts struct {
	rules.Facts
	Estimates map[string]int `json:"by_state_estimates"`
	Legacy
}

// storedFacts returns sf as case caseID's facts column holds it: JSON,
// sealed.
func (s *Service) storedFacts(caseID string, sf storedFacts) (string, error) {
	b, err := json.Marshal(sf)
	if err != nil {
		return "", err
	}
	return keys.BreachFacts.SealText(s.keys, string(b), caseID)
}

// Legacy are the notice dates a case's facts held before notices made
// were read from its records (the facts individual_notice_at and
// hhs_notice_at, typed by hand). They are kept as stored, and count as the
// date a notice was made for any notice the records do not show made yet,
// so a deadline counted from them does not move later on upgrade.
type Legacy struct {
	IndividualNoticeAt *time.Time `json:"individual_notice_at,omitempty"`
	HHSNoticeAt        *time.Time `json:"hhs_notice_at,omitempty"`
}

// made fills in made, for every notice the records do not show made, the
// date the legacy facts give for it: the notice to individuals for each
// group of f, the notice to HHS.
func (l Legacy) made(f rules.Facts, made map[string]time.Time) {
	set := func(key string, at *time.Time) {
		if _, ok := made[key]; !ok && at != nil && !at.IsZero() {
			made[key] = at.UTC()
		}
	}
	set(rules.IndividualsKey(""), l.IndividualNoticeAt)
	for st := range f.ByState {
		set(rules.IndividualsKey(st), l.IndividualNoticeAt)
	}
	set(string(rules.ToHHS), l.HHSNoticeAt)
}

// estimatesOf returns the per-State figures of case c typed by hand: those
// recorded, or on a case saved before they were, its States that no
// imported individual lives in.
func estimatesOf(c Case, cnt Counts) map[string]int {
	if c.Estimates != nil {
		return maps.Clone(c.Estimates)
	}
	out := maps.Clone(c.Facts.ByState)
	if out == nil {
		out = map[string]int{}
	}
	for _, st := range cnt.ByState {
		delete(out, st.State)
	}
	return out
}

// notifies reports whether an outcome obliges notices: a signed
// determination that notification is required, or notifying without an
// assessment. Until one is signed, the presumption of 164.402(2) holds and
// the obligations are computed as if notification were required, so no
// deadline is hidden while the assessment is under way.
func notifies(outcome string) bool {
	return outcome == OutcomePending || outcome == string(rules.NotificationRequired)
}

// caseOf reads the case of visible incident ref, with its Estimates (on a
// case saved before they were recorded, its States no imported individual
// lives in).
func (s *Service) caseOf(ctx context.Context, q db.Querier, ref string) (Case, error) {
	id, _, err := s.visibleIncident(ctx, q, ref)
	if err != nil {
		return Case{}, err
	}
	c, err := s.scanCase(q.QueryRowContext(ctx, `SELECT `+caseColumns+` FROM breach_cases c JOIN incidents i ON i.id = c.incident_id
		WHERE c.incident_id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return Case{}, apperr.New(apperr.NotFound, "incident %s has no breach case", ref)
	}
	if err != nil {
		return Case{}, fmt.Errorf("read breach case: %w", err)
	}
	if c.Estimates == nil {
		cnt, err := s.counts(ctx, q, c.ID)
		if err != nil {
			return Case{}, err
		}
		c.Estimates = estimatesOf(c, cnt)
	}
	return c, nil
}

// Open opens the breach case of incident ref, with the discovery date set
// to when the incident was detected (change it with SetFacts), and marks
// the incident phi_suspected.
func (s *Service) Open(ctx context.Context, ref string) (Case, error) {
	if _, err := authz.Check(ctx, authz.BreachWrite); err != nil {
		return Case{}, err
	}
	var out Case
	err := s.db.Write(ctx, func(tx *sql.Tx) error {
		id, _, err := s.visibleIncident(ctx, tx, ref)
		if err != nil {
			return err
		}
		out, err = s.OpenTx(ctx, tx, id)
		return err
	})
	if err != nil {
		return Case{}, err
	}
	return out, nil
}

// OpenTx is Open inside the caller's transaction for incident id, which
// the caller has found (a workflow rule's action). It answers Conflict if
// the incident has a case already or is a drill.
func (s *Service) OpenTx(ctx context.Context, tx *sql.Tx, id string) (Case, error) {
	actor, _ := authz.ActorFrom(ctx)
	now := s.clock.Now()
	var number string
	var detected time.Time
	var drill bool
	if err := tx.QueryRowContext(ctx, `SELECT number, detected_at, drill FROM incidents WHERE id = $1`, id).Scan(&number, &detected,
		&drill); err != nil {
		return Case{}, fmt.Errorf("read incident: %w", err)
	}
	// A drill exercises the response plan; it never presumes a breach, so
	// nothing of it reaches the breach log, the HHS reports or any notice
	// (docs/DRILLS.md). Every automatic opener takes Conflict as "no case".
	if drill {
		return Case{}, apperr.New(apperr.Conflict, "%s is a drill: a drill has no breach case", number)
	}
	// Checked before the insert: on PostgreSQL a failed insert would end
	// the caller's transaction.
	var open int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM breach_cases WHERE incident_id = $1`, id).Scan(&open); err != nil {
		return Case{}, fmt.Errorf("read breach cases: %w", err)
	}
	if open > 0 {
		return Case{}, apperr.New(apperr.Conflict, "incident %s has a breach case already", number)
	}
	facts0, err := s.initialFacts(ctx, tx)
	if err != nil {
		return Case{}, err
	}
	facts0.DiscoveredAt, facts0.ShouldHaveKnownAt = detected.UTC(), detected.UTC()
	// An incident an alert of a PHI service opened was not presumed a
	// breach: the time Ward asked whether PHI is involved is the
	// candidate discovery date (164.404(a)(2)); detection stays the date
	// it should have been known by.
	var asked sql.NullTime
	if err := tx.QueryRowContext(ctx, `SELECT asked_at FROM incident_triage WHERE incident_id = $1`, id).Scan(&asked); err != nil &&
		!errors.Is(err, sql.ErrNoRows) {
		return Case{}, fmt.Errorf("read incident triage: %w", err)
	}
	if asked.Valid {
		facts0.DiscoveredAt = asked.Time.UTC()
	}
	out := Case{ID: newID(), IncidentID: id, IncidentNumber: number, Outcome: OutcomePending, OpenedBy: actor.String(),
		CreatedAt: now, UpdatedAt: now, Version: 1, Facts: facts0, Estimates: map[string]int{}}
	facts, err := s.storedFacts(out.ID, storedFacts{Facts: out.Facts, Estimates: out.Estimates, Legacy: out.Legacy})
	if err != nil {
		return Case{}, err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO breach_cases (id, incident_id, facts, outcome, opened_by, created_at, updated_at, version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, out.ID, out.IncidentID, facts, out.Outcome, out.OpenedBy, now, now, out.Version)
	if db.IsUniqueViolation(err) {
		return Case{}, apperr.New(apperr.Conflict, "incident %s has a breach case already", number)
	}
	if err != nil {
		return Case{}, fmt.Errorf("insert breach case: %w", err)
	}
	if err := s.incidents.MarkPHISuspectedTx(ctx, tx, id, "A breach case was opened."); err != nil {
		return Case{}, err
	}
	out.Facts.NotificationRequired = true
	n, err := s.recompute(ctx, tx, out, now)
	if err != nil {
		return Case{}, err
	}
	if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "breach_case.open", ObjectType: "incident", ObjectID: id,
		Change: map[string]any{"case_id": out.ID}}); err != nil {
		return Case{}, err
	}
	return out, s.incidents.RecordTx(ctx, tx, id, incident.EventBreach, fmt.Sprintf(
		"Breach case opened by %s; until a determination is signed, breach is presumed (164.402(2)): %d notice obligations.", actor.Name, n))
}

// Get returns the breach case of incident ref. A reader whose role may
// see PHI gets its facts whole, and the read is recorded in the audit
// trail (45 CFR 164.312(b)) before it is returned; if that record cannot
// be written the read fails. Any other reader gets the facts' free text
// withheld (Redacted) and nothing recorded.
func (s *Service) Get(ctx context.Context, ref string) (Case, error) {
	actor, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return Case{}, err
	}
	c, err := s.caseOf(ctx, s.db.R, ref)
	if err != nil {
		return Case{}, err
	}
	if !authz.Has(actor.Role, authz.IncidentReadPHI) {
		return redactFacts(c), nil
	}
	return c, s.auditRead(ctx, c, "facts")
}

// redactFacts returns c with the free text of its facts withheld.
func redactFacts(c Case) Case {
	if d := c.Facts.Delay; d != nil {
		cp := *d
		if cp.Oral != nil {
			o := *cp.Oral
			o.Official, o.Agency = "", ""
			cp.Oral = &o
		}
		if cp.Written != nil {
			w := *cp.Written
			w.Official, w.Agency = "", ""
			cp.Written = &w
		}
		c.Facts.Delay = &cp
	}
	if c.Facts.Customers != nil {
		cs := make([]rules.Customer, len(c.Facts.Customers))
		for i, cu := range c.Facts.Customers {
			cs[i] = rules.Customer{Notice: cu.Notice}
		}
		c.Facts.Customers = cs
	}
	c.Redacted = true
	return c
}

// auditRead records that the actor read fields of case c's free text
// (breach_case.phi_read), in its own transaction, before the read returns.
func (s *Service) auditRead(ctx context.Context, c Case, fields ...string) error {
	return s.db.Write(ctx, func(tx *sql.Tx) error {
		_, err := audit.Append(ctx, tx, s.clock.Now(), audit.Event{Action: "breach_case.phi_read", ObjectType: "incident",
			ObjectID: c.IncidentID, Change: map[string]any{"case_id": c.ID, "fields": fields}})
		return err
	})
}

// SetFacts replaces the case's facts (all but the determination's result)
// and recomputes its obligations (PUT): it is PatchFacts naming every fact,
// with f.ByState replacing the figures typed by hand. The per-State counts
// of the imported individuals stay as they are (docs/BREACH.md, "Facts").
func (s *Service) SetFacts(ctx context.Context, ref string, f rules.Facts) (Case, error) {
	p := FactsPatch{Set: factNames(), To: f, ClearByState: true, ByState: map[string]*int{}}
	for st, n := range f.ByState {
		p.ByState[st] = &n
	}
	return s.PatchFacts(ctx, ref, p)
}

// saveFactsTx saves f as case c's facts, with the per-State figures typed
// by hand (estimates) over the counts of its imported individuals (cnt;
// mergeCounts), recomputes its obligations and audits the change; it
// returns the case as saved and how many obligations it now has. The
// caller says so on the timeline.
func (s *Service) saveFactsTx(ctx context.Context, tx *sql.Tx, c Case, f rules.Facts, estimates map[string]int, cnt Counts,
	now time.Time) (Case, int, error) {
	f.NotificationRequired = notifies(c.Outcome)
	estimates = mergeCounts(&f, estimates, cnt)
	if err := s.fillCustomers(ctx, tx, &f); err != nil {
		return Case{}, 0, err
	}
	if err := f.ValidateAt(now); err != nil {
		return Case{}, 0, err
	}
	old := c.Facts
	c.Facts, c.Estimates, c.UpdatedAt = f, estimates, now
	c.Version++
	stored := f
	stored.NotificationRequired = false
	facts, err := s.storedFacts(c.ID, storedFacts{Facts: stored, Estimates: estimates, Legacy: c.Legacy})
	if err != nil {
		return Case{}, 0, err
	}
	if _, err := tx.ExecContext(ctx, `UPDATE breach_cases SET facts = $1, updated_at = $2, version = $3 WHERE id = $4`,
		facts, now, c.Version, c.ID); err != nil {
		return Case{}, 0, fmt.Errorf("save facts: %w", err)
	}
	n, err := s.recompute(ctx, tx, c, now)
	if err != nil {
		return Case{}, 0, err
	}
	if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "breach_case.facts", ObjectType: "incident", ObjectID: c.IncidentID,
		Change: map[string]any{"case_id": c.ID, "old": old, "new": stored, "by_state_estimates": estimates}}); err != nil {
		return Case{}, 0, err
	}
	return c, n, nil
}

// recompute replaces the case's obligations with those its facts oblige
// now, under the State table in use, their days counted in the
// organisation's time zone; obligations already met are kept as they are.
func (s *Service) recompute(ctx context.Context, tx *sql.Tx, c Case, now time.Time) (int, error) {
	rs, err := s.ruleSets(ctx, tx)
	if err != nil {
		return 0, err
	}
	if c.Facts.Location, err = s.zone(ctx, tx); err != nil {
		return 0, err
	}
	// The notices made so far set the dates the rules counted from them
	// count from.
	rows, err := tx.QueryContext(ctx, `SELECT obligation, met_at FROM breach_obligations WHERE case_id = $1 AND met_at IS NOT NULL`, c.ID)
	made, err := db.Collect(rows, err, "read met obligations", func(r *sql.Rows) (metAt, error) {
		var m metAt
		err := r.Scan(&m.key, &m.at)
		return m, err
	})
	if err != nil {
		return 0, err
	}
	c.Facts.Made = make(map[string]time.Time, len(made))
	for _, m := range made {
		c.Facts.Made[m.key] = m.at.UTC()
	}
	c.Legacy.made(c.Facts, c.Facts.Made)
	obs, err := rules.Obligations(c.Facts, rs, now)
	if err != nil {
		return 0, err
	}
	owed := make([]string, 0, len(obs))
	for _, o := range obs {
		body, err := json.Marshal(o)
		if err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO breach_obligations (case_id, obligation, body, due_at, met_by, computed_at)
			VALUES ($1, $2, $3, $4, '', $5) ON CONFLICT (case_id, obligation) DO UPDATE SET body = excluded.body,
			due_at = excluded.due_at, computed_at = excluded.computed_at`, c.ID, o.Key, string(body), o.Due, now); err != nil {
			return 0, fmt.Errorf("save obligation: %w", err)
		}
		owed = append(owed, o.Key)
	}
	rows, err = tx.QueryContext(ctx, `SELECT obligation FROM breach_obligations WHERE case_id = $1 AND met_at IS NULL`, c.ID)
	if err != nil {
		return 0, fmt.Errorf("read obligations: %w", err)
	}
	var stale []string
	for rows.Next() {
		var k string
		if err := rows.Scan(&k); err != nil {
			rows.Close()
			return 0, err
		}
		if !contains(owed, k) {
			stale = append(stale, k)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	for _, k := range stale {
		if _, err := tx.ExecContext(ctx, `DELETE FROM breach_obligations WHERE case_id = $1 AND obligation = $2`, c.ID, k); err != nil {
			return 0, fmt.Errorf("drop obligation: %w", err)
		}
	}
	if len(obs) > 0 {
		// A closed incident whose case owes notices is chased for status
		// updates until they are met.
		if err := incident.RecheckSLATx(ctx, tx, c.IncidentID, now); err != nil {
			return 0, err
		}
	}
	return len(obs), nil
}

type metAt struct {
	key string
	at  time.Time
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// Determination is one signed version of a case's determination.
type Determination struct {
	Version  int
	Body     rules.Determination
	Result   rules.Result
	Reason   string
	SignedBy string
	SignedAt time.Time
	// Redacted says Body (the officer's findings and rationale), Reason
	// and the Why of Result (which quotes the rationale) were withheld
	// from a reader whose role may not see PHI; the outcome and citation
	// stay.
	Redacted bool
}

// Determine signs a new version of the case's determination as the
// Privacy Officer acting (164.530(a)); a signed version is never changed,
// and every version after the first needs the reason for it. The outcome
// decides the obligations, which are recomputed; the officer's wizard
// draft (SaveDraft) is deleted.
func (s *Service) Determine(ctx context.Context, ref string, d rules.Determination, reason string) (Determination, error) {
	actor, err := authz.Check(ctx, authz.BreachSign)
	if err != nil {
		return Determination{}, err
	}
	now := s.clock.Now()
	d.Signature = rules.Signature{Officer: actor.String(), SignedAt: now}
	res, err := rules.Decide(d)
	if err != nil {
		return Determination{}, err
	}
	reason = strings.TrimSpace(reason)
	out := Determination{Body: d, Result: res, Reason: reason, SignedBy: actor.String(), SignedAt: now}
	err = s.db.Write(ctx, func(tx *sql.Tx) error {
		c, err := s.caseOf(ctx, tx, ref)
		if err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COALESCE(max(version), 0) + 1 FROM breach_determinations WHERE case_id = $1`,
			c.ID).Scan(&out.Version); err != nil {
			return fmt.Errorf("read determinations: %w", err)
		}
		if out.Version > 1 && len([]rune(reason)) < 10 {
			return apperr.Field("reason", "say why the determination changes (new facts?) in at least 10 characters")
		}
		plain, err := json.Marshal(d)
		if err != nil {
			return err
		}
		id := determinationID(c.ID, out.Version)
		body, err := keys.BreachDeterminationBody.SealText(s.keys, string(plain), id)
		if err != nil {
			return err
		}
		sealedReason, err := keys.BreachDeterminationReason.SealText(s.keys, reason, id)
		if err != nil {
			return err
		}
		why, err := keys.BreachDeterminationWhy.SealText(s.keys, res.Why, id)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO breach_determinations (case_id, version, body, outcome, citation, why, reason,
			signed_by, signed_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, c.ID, out.Version, body, res.Outcome, res.Citation,
			why, sealedReason, out.SignedBy, now); err != nil {
			return fmt.Errorf("save determination: %w", err)
		}
		c.Outcome, c.UpdatedAt = string(res.Outcome), now
		c.Version++
		if _, err := tx.ExecContext(ctx, `UPDATE breach_cases SET outcome = $1, updated_at = $2, version = $3 WHERE id = $4`,
			c.Outcome, now, c.Version, c.ID); err != nil {
			return fmt.Errorf("save outcome: %w", err)
		}
		// The wizard's draft of the officer who signs is done with.
		if _, err := tx.ExecContext(ctx, `DELETE FROM breach_determination_drafts WHERE case_id = $1 AND user_id = $2`,
			c.ID, actor.ID); err != nil {
			return fmt.Errorf("delete draft: %w", err)
		}
		c.Facts.NotificationRequired = notifies(c.Outcome)
		n, err := s.recompute(ctx, tx, c, now)
		if err != nil {
			return err
		}
		if _, err := audit.Append(ctx, tx, now, audit.Event{Action: "breach_case.determination", ObjectType: "incident", ObjectID: c.IncidentID,
			Change: map[string]any{"case_id": c.ID, "version": out.Version, "outcome": res.Outcome, "citation": res.Citation}}); err != nil {
			return err
		}
		return s.incidents.RecordTx(ctx, tx, c.IncidentID, incident.EventBreach, fmt.Sprintf(
			"Determination version %d signed by %s: %s (%s). %s.", out.Version, actor.Name, labels.Of(string(res.Outcome)), res.Citation,
			labels.Count(n, "notice obligation", "notice obligations")))
	})
	if err != nil {
		return Determination{}, err
	}
	return out, nil
}

// Determinations lists every version of the case's determination, oldest
// first. A reader whose role may not see PHI gets each one's body and
// reason withheld (Redacted); for any other, the read is audited before it
// returns (Get).
func (s *Service) Determinations(ctx context.Context, ref string) ([]Determination, error) {
	actor, err := authz.Check(ctx, authz.IncidentRead)
	if err != nil {
		return nil, err
	}
	c, err := s.caseOf(ctx, s.db.R, ref)
	if err != nil {
		return nil, err
	}
	out, err := s.determinations(ctx, c, authz.Has(actor.Role, authz.IncidentReadPHI))
	if err != nil || len(out) == 0 || out[0].Redacted {
		return out, err
	}
	return out, s.auditRead(ctx, c, "determinations")
}

// determinations reads case c's determinations, oldest first, with their
// body and reason opened if phi, else withheld.
func (s *Service) determinations(ctx context.Context, c Case, phi bool) ([]Determination, error) {
	rows, err := s.db.R.QueryContext(ctx, `SELECT `+keys.DeterminationRowID+`, version, body, outcome, citation, why, reason, signed_by,
		signed_at FROM breach_determinations WHERE case_id = $1 ORDER BY version`, c.ID)
	if err != nil {
		return nil, fmt.Errorf("list determinations: %w", err)
	}
	defer rows.Close()
	var out []Determination
	for rows.Next() {
		var d Determination
		var id, body, why, reason string
		if err := rows.Scan(&id, &d.Version, &body, &d.Result.Outcome, &d.Result.Citation, &why, &reason, &d.SignedBy,
			&d.SignedAt); err != nil {
			return nil, err
		}
		d.SignedAt = d.SignedAt.UTC()
		if !phi {
			d.Redacted = true
			out = append(out, d)
			continue
		}
		if body, err = s.open(body, keys.BreachDeterminationBody, id); err != nil {
			return nil, err
		}
		if d.Reason, err = s.open(reason, keys.BreachDeterminationReason, id); err != nil {
			return nil, err
		}
		if d.Result.Why, err = s.open(why, keys.BreachDeterminationWhy, id); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(body), &d.Body); err != nil {
			return nil, fmt.Errorf("determination %d: %w", d.Version, err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
